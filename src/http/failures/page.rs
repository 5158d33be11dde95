//! `/failures` as a page for people: a filter form and a table, self-contained (nothing is
//! loaded from elsewhere); each label value links to the same page filtered by it, and a code
//! shows its meaning on hover.

use std::fmt::Write;

use super::{Query, Row, Selection, FILTERS};
use crate::aggregate::Aggregator;
use crate::http::html_escape as esc;

// Links are relative (`?…`, `./`), so the page works behind a proxy that serves it under a
// path prefix (--web.external-url).

const STYLE: &str = "body{font-family:sans-serif;margin:1.5em}\
table{border-collapse:collapse;font-size:90%}\
td,th{border:1px solid #ccc;padding:0.2em 0.5em;text-align:left;vertical-align:top}\
th{background:#f3f3f3}td{white-space:nowrap}\
td.text{white-space:normal;min-width:24em;overflow-wrap:anywhere}\
tr.c5 td.code{color:#b00}tr.c4 td.code{color:#a60}\
form label{display:inline-block;margin:0 0.8em 0.4em 0}form input{width:9em}\
abbr{text-decoration:underline dotted}";

/// The whole page.
pub fn html(agg: &Aggregator, q: &Query, now: f64) -> String {
    render(&Selection::of(agg, q), q, now)
}

/// The whole page, from what was selected.
pub fn render(sel: &Selection, q: &Query, now: f64) -> String {
    let rows = &sel.rows;
    let mut h = String::with_capacity(4096 + rows.len() * 600);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Recent failures · SMTP status exporter</title>\
         <style>{STYLE}</style></head><body><h1>Recent failures</h1>"
    );
    summary(&mut h, sel, q, now);
    form(&mut h, q);
    if rows.is_empty() {
        h.push_str("<p id=\"empty\">No failure kept matches.</p>");
    } else {
        table(&mut h, q, rows);
    }
    h.push_str("</body></html>\n");
    h
}

fn summary(h: &mut String, sel: &Selection, q: &Query, now: f64) {
    let filters = q.filters_query();
    let _ = write!(
        h,
        "<p><a href=\"./\">Status page</a> · <a id=\"json\" href=\"?{}\">JSON</a></p>\
         <p id=\"summary\">{} of the {} failures kept in memory match{}; showing the newest {}. \
         Kept: the last {} failures and the last {} of each series (a restart starts empty). \
         Times are the log lines' own ({}).</p>",
        esc(&join(&filters, "format=json")),
        sel.matched,
        sel.kept,
        super::describe_since(q, now)
            .map(|d| format!(" in the last {d}"))
            .unwrap_or_default(),
        sel.rows.len(),
        sel.keep,
        sel.per_series,
        esc(&sel.zone),
    );
    if !filters.is_empty() {
        let _ = write!(
            h,
            "<p>Filtered by <code>{}</code> · <a href=\"?\">show all</a></p>",
            esc(&filters)
        );
    }
}

/// The filter form: one field per filter, filled with the current values.
fn form(h: &mut String, q: &Query) {
    h.push_str("<form method=\"get\">");
    for (i, name) in FILTERS.iter().enumerate() {
        let value = q
            .filters
            .iter()
            .find(|(f, _)| *f == i)
            .and_then(|(_, v)| v.first())
            .map(String::as_str)
            .unwrap_or_default();
        let _ = write!(
            h,
            "<label>{name} <input name=\"{name}\" value=\"{}\"></label>",
            esc(value)
        );
    }
    let _ = write!(
        h,
        "<label>since <input name=\"since\" placeholder=\"30m\"></label>\
         <label>limit <input name=\"limit\" value=\"{}\"></label> <button>Filter</button></form>",
        q.limit
    );
}

fn table(h: &mut String, q: &Query, rows: &[Row<'_>]) {
    h.push_str(
        "<table id=\"failures\"><tr><th>time</th><th>source</th><th>provider</th><th>domain</th>\
         <th>code</th><th>enhanced</th><th>reason</th><th>stage</th><th>queue id</th>\
         <th>recipient</th><th>reply</th></tr>",
    );
    let filters = q.filters_query();
    for r in rows {
        let time_note = if r.time_source == "read" {
            " title=\"the line has no time: the time it was read\""
        } else {
            ""
        };
        let _ = write!(
            h,
            "<tr class=\"c{}\"><td class=\"time\"{time_note}>{}</td>",
            &r.class[..1],
            esc(&r.time)
        );
        for (field, value) in [
            ("source", &*r.source),
            ("provider", &r.provider),
            ("domain", &r.domain),
        ] {
            cell(h, &filters, field, value, None);
        }
        cell(h, &filters, "code", &r.code, Some(&r.meaning));
        cell(h, &filters, "enhanced", &r.enhanced, Some(&r.meaning));
        for (field, value) in [
            ("reason", &*r.reason),
            ("stage", r.stage),
            ("queue_id", &r.queue_id),
        ] {
            cell(h, &filters, field, value, None);
        }
        let _ = write!(
            h,
            "<td class=\"recipient\">{}</td><td class=\"text\">{}</td></tr>",
            esc(&r.recipient),
            esc(&r.text),
        );
    }
    h.push_str("</table>");
}

/// A cell whose value links to the page filtered by it as well; `title`: shown on hover.
fn cell(h: &mut String, filters: &str, field: &str, value: &str, title: Option<&str>) {
    let class = if field == "queue_id" {
        "queue_id"
    } else {
        field
    };
    if value.is_empty() {
        let _ = write!(h, "<td class=\"{class}\"></td>");
        return;
    }
    let link = join(
        filters,
        &form_urlencoded::Serializer::new(String::new())
            .append_pair(field, value)
            .finish(),
    );
    let shown = match title {
        Some(t) => format!("<abbr title=\"{}\">{}</abbr>", esc(t), esc(value)),
        None => esc(value),
    };
    let _ = write!(
        h,
        "<td class=\"{class}\"><a href=\"?{}\">{shown}</a></td>",
        esc(&link)
    );
}

fn join(a: &str, b: &str) -> String {
    match (a.is_empty(), b.is_empty()) {
        (true, _) => b.to_owned(),
        (_, true) => a.to_owned(),
        _ => format!("{a}&{b}"),
    }
}
