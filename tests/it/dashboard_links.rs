//! The dashboards' ways from a number to the failures behind it:
//!
//! - every time series panel of `smtp_failures_total` asks for exemplars (`{queue_id="…"}`),
//!   so a point on it leads to one failed message;
//! - every table of failures or replies links each row to the exporter's `/failures` page,
//!   filtered by the row's labels: `${exporter:raw}/failures?` (the `exporter` variable, from
//!   build_info's `external_url`, else its scheme and the scraped address), then only
//!   parameters the page knows, each a label the panel's query returns (a field of the row),
//!   a matcher the query holds to (`direction="outbound"`, `domain="$domain"`), and `since`
//!   the dashboard's start.
//!
//! [`data_links`] and [`fill`] give every link and the URL it opens for given label values,
//! for a test that asks a real exporter.

// A test crate: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::alert_links::{parameters, LABEL_FILTERS};
use crate::dashboards::{dashboards, panels, targets, variable_query, variables};
use crate::harness::prometheus::{url_encode, Prometheus};

/// How every link starts: the `exporter` variable unencoded (Grafana 10 percent-encodes data
/// link variables unless told otherwise).
pub const HEAD: &str = "${exporter:raw}/failures?";
/// The `since` of every link: the dashboard's time range start, RFC 3339.
pub const SINCE: &str = "${__from:date:iso}";

/// One data link of a dashboard panel.
#[derive(Debug, Clone)]
pub struct DataLink {
    pub dashboard: String,
    pub panel: String,
    pub url: String,
}

/// Every data link of every panel: the panel's defaults and its field overrides.
pub fn data_links() -> Vec<DataLink> {
    let mut out = Vec::new();
    for (name, d) in dashboards() {
        for p in panels(&d) {
            for url in panel_links(&p) {
                out.push(DataLink {
                    dashboard: name.clone(),
                    panel: p["title"].as_str().unwrap_or_default().to_owned(),
                    url,
                });
            }
        }
    }
    out
}

pub fn panel_links(p: &Value) -> Vec<String> {
    let fc = &p["fieldConfig"];
    let mut links: Vec<Value> = fc["defaults"]["links"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for o in fc["overrides"].as_array().cloned().unwrap_or_default() {
        for prop in o["properties"].as_array().cloned().unwrap_or_default() {
            if prop["id"] == "links" {
                links.extend(prop["value"].as_array().cloned().unwrap_or_default());
            }
        }
    }
    links
        .iter()
        .map(|l| l["url"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// The label a `${__data.fields.X}` or `${__field.labels.X}` value stands for (any format).
fn row_label(value: &str) -> Option<&str> {
    let inner = value.strip_prefix("${")?.strip_suffix('}')?;
    let name = inner.split(':').next()?;
    (name.strip_prefix("__data.fields.")).or(name.strip_prefix("__field.labels."))
}

/// The dashboard variable a `${X}` or `${X:format}` value stands for.
fn dashboard_variable(value: &str) -> Option<&str> {
    let inner = value.strip_prefix("${")?.strip_suffix('}')?;
    let name = inner.split(':').next()?;
    (!name.starts_with("__")).then_some(name)
}

/// The URL a link opens for a row with these label values (dashboard variables by their
/// names too), the exporter at `exporter` and the dashboard starting at `from` (RFC 3339).
/// Panics on a variable it has no value for.
pub fn fill(url: &str, exporter: &str, from: &str, values: &BTreeMap<&str, &str>) -> String {
    let rest = url
        .strip_prefix(HEAD)
        .unwrap_or_else(|| panic!("{url}: not {HEAD}…"));
    let query: Vec<String> = parameters(rest)
        .into_iter()
        .map(|(k, v)| {
            let filled = if v == SINCE {
                url_encode(from)
            } else if let Some(x) = row_label(v).or(dashboard_variable(v)) {
                let value = values
                    .get(x)
                    .unwrap_or_else(|| panic!("{url}: no value for {x}"));
                url_encode(value)
            } else {
                v.to_owned()
            };
            format!("{k}={filled}")
        })
        .collect();
    format!("{exporter}/failures?{}", query.join("&"))
}

/// The labels a target's query returns per row: its first `by (…)`.
fn row_labels(expr: &str) -> BTreeSet<String> {
    let Some((_, after)) = expr.split_once("by (") else {
        return BTreeSet::new();
    };
    let list = after.split_once(')').map(|(l, _)| l).unwrap_or_default();
    list.split(',').map(|l| l.trim().to_owned()).collect()
}

/// What is wrong with one link of a panel whose queries are `exprs`.
fn check_link(url: &str, exprs: &[String]) -> Vec<String> {
    let Some(query) = url.strip_prefix(HEAD) else {
        return vec![format!("does not start with {HEAD}: {url}")];
    };
    let rows: Vec<BTreeSet<String>> = exprs.iter().map(|e| row_labels(e)).collect();
    let holds = |matcher: &str| exprs.iter().all(|e| e.contains(matcher));
    let mut bad = Vec::new();
    let mut seen = BTreeSet::new();
    for (key, value) in parameters(query) {
        if !seen.insert(key) {
            bad.push(format!("{key} twice"));
        }
        if key == "since" {
            if value != SINCE {
                bad.push(format!("since={value}, want {SINCE}"));
            }
            continue;
        }
        if !LABEL_FILTERS.contains(&key) {
            bad.push(format!("{key} is no filter of /failures"));
        } else if let Some(label) = row_label(value) {
            if label != key || !rows.iter().all(|r| r.contains(label)) {
                bad.push(format!("{key}={value}: not the row's {key} ({rows:?})"));
            }
        } else if let Some(var) = dashboard_variable(value) {
            if !holds(&format!("{key}=\"${var}\"")) {
                bad.push(format!(
                    "{key}={value}: the query does not hold {key} to ${var}"
                ));
            }
        } else if !holds(&format!("{key}=\"{value}\"")) {
            bad.push(format!("{key}={value}: not what the query selects"));
        }
    }
    if !seen.contains("since") {
        bad.push("no since".to_owned());
    }
    let first = rows.first().cloned().unwrap_or_default();
    for label in first.iter().filter(|l| LABEL_FILTERS.contains(&l.as_str())) {
        if !seen.contains(label.as_str()) {
            bad.push(format!("rows have {label}, the link does not filter by it"));
        }
    }
    bad
}

fn exprs(p: &Value) -> Vec<String> {
    targets(p)
        .iter()
        .map(|t| t["expr"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn failures_time_series_ask_for_exemplars() {
    let mut bad = Vec::new();
    let mut seen = 0;
    for (name, d) in dashboards() {
        for p in panels(&d).iter().filter(|p| p["type"] == "timeseries") {
            for t in targets(p) {
                if t["expr"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("smtp_failures_total")
                {
                    seen += 1;
                    if t["exemplar"] != true {
                        bad.push(format!("{name}: {} target {}", p["title"], t["refId"]));
                    }
                }
            }
        }
    }
    assert!(
        seen >= 3,
        "only {seen} time series targets of smtp_failures_total"
    );
    assert!(bad.is_empty(), "no \"exemplar\": true:\n{}", bad.join("\n"));
}

#[test]
fn failure_tables_link_each_row_to_its_failures() {
    let mut bad = Vec::new();
    let mut links = 0;
    for (name, d) in dashboards() {
        for p in panels(&d) {
            let (title, exprs, urls) = (&p["title"], exprs(&p), panel_links(&p));
            let of_failures = exprs
                .iter()
                .any(|e| e.contains("smtp_failures_total") || e.contains("smtp_replies_total"));
            if p["type"] == "table" && of_failures && urls.is_empty() {
                bad.push(format!("{name}: table {title} links nowhere"));
            }
            for url in &urls {
                links += 1;
                bad.extend(
                    check_link(url, &exprs)
                        .iter()
                        .map(|e| format!("{name}: {title}: {e}")),
                );
            }
            let linked = urls.iter().any(|u| u.contains("${exporter"));
            let defined = variables(&d).iter().any(|v| v["name"] == "exporter");
            if linked && !defined {
                bad.push(format!(
                    "{name}: {title} links to $exporter, which it does not define"
                ));
            }
        }
    }
    assert!(links >= 6, "only {links} data links");
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

/// The `exporter` variable: build_info's external URL, else its scheme and the scraped
/// address, taken from the `base` label by the variable's regex.
#[test]
fn the_exporter_variable_is_the_external_url_else_the_scraped_address() {
    for (name, d) in dashboards() {
        for v in variables(&d).iter().filter(|v| v["name"] == "exporter") {
            let q = variable_query(v);
            for part in [
                "smtp_status_exporter_build_info{instance=~\"$instance\"}",
                "\"scheme\", \"instance\"",
                "\"external_url\", \"(.+)\"",
            ] {
                assert!(q.contains(part), "{name}: $exporter query {q} lacks {part}");
            }
            assert_eq!(v["regex"], "/base=\"([^\"]+)\"/", "{name}: $exporter regex");
        }
    }
}

/// Runs the `exporter` variable's query_result and looks for `want` among its `base` values.
pub fn exporter_variable_finds(prom: &Prometheus, query: &str, want: &str) -> Result<(), String> {
    let expr = (query.strip_prefix("query_result("))
        .and_then(|q| q.strip_suffix(')'))
        .ok_or(format!("not a query_result: {query}"))?;
    let found: Vec<String> = (prom.query(expr)?.into_iter())
        .filter_map(|s| s.labels.get("base").cloned())
        .collect();
    if found.iter().any(|b| b == want) {
        Ok(())
    } else {
        Err(format!("{expr}: no base {want:?} in {found:?}"))
    }
}

#[test]
fn the_checks_catch_wrong_links_and_fill_fills_them() {
    let exprs = vec![r#"sum by (domain, reason) (increase(smtp_failures_total{direction="outbound", mta="$mta"}[5m]))"#.to_owned()];
    let good = "${exporter:raw}/failures?domain=${__data.fields.domain:percentencode}&reason=${__data.fields.reason}&direction=outbound&since=${__from:date:iso}";
    assert_eq!(check_link(good, &exprs), Vec::<String>::new());
    for (from, to, want) in [
        ("${exporter:raw}", "${exporter}", "does not start"),
        (
            "&reason=${__data.fields.reason}",
            "",
            "rows have reason, the link does not",
        ),
        (
            "reason=${__data.fields.reason}",
            "reason=${__data.fields.stage}",
            "not the row's",
        ),
        (
            "direction=outbound",
            "direction=inbound",
            "not what the query selects",
        ),
        ("direction=outbound", "dir=outbound", "no filter"),
        ("&since=${__from:date:iso}", "&since=1h", "want ${__from"),
        ("&since=${__from:date:iso}", "", "no since"),
        ("direction=outbound", "mta=${mta}", ""),
        (
            "direction=outbound",
            "source=${source}",
            "does not hold source",
        ),
    ] {
        let said = check_link(&good.replacen(from, to, 1), &exprs).join("\n");
        assert!(
            said.contains(want) && (want.is_empty() == said.is_empty()),
            "{to}: {said:?}"
        );
    }
    let values = BTreeMap::from([("domain", "bücher.example"), ("reason", "a&b c")]);
    assert_eq!(
        fill(
            good,
            "https://proxy.example.com/smtp",
            "2026-12-07T12:00:00.000Z",
            &values
        ),
        "https://proxy.example.com/smtp/failures?domain=b%C3%BCcher.example&reason=a%26b%20c\
         &direction=outbound&since=2026-12-07T12%3A00%3A00.000Z"
    );
    let links = data_links();
    assert!(links.len() >= 6, "{links:?}");
    for l in links {
        assert!(
            l.url.starts_with(HEAD),
            "{}: {}: {}",
            l.dashboard,
            l.panel,
            l.url
        );
    }
}

/// The label a link's parameter takes from the row or a dashboard variable; `None` for a
/// fixed value or `since`.
fn templated_label(value: &str) -> Option<&str> {
    if value == SINCE {
        return None;
    }
    row_label(value).or(dashboard_variable(value))
}

/// Every data link, filled with the label values of each distinct row its table can have
/// (taken from the failures a real exporter read from real Postfix lines), is answered by that
/// exporter's `/failures` with exactly the failures those values and the link's fixed filters
/// select; and every link finds some.
#[test]
fn data_links_filled_with_real_rows_open_their_failures() {
    use crate::harness::exporter::Exporter;
    let t = crate::harness::util::TestDir::new("data-links-");
    let (log, config) = (t.path().join("mail.log"), t.path().join("c.yml"));
    std::fs::write(&log, "").unwrap();
    std::fs::write(&config, "time_zone: UTC\n").unwrap();
    let config_arg = format!("--config.file={}", config.display());
    let exp = Exporter::start_any_port(
        &[&log],
        &t.path().join("state.json"),
        &t.path().join("exporter.stderr"),
        &[&config_arg],
    )
    .unwrap();
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/postfix/parser-capture.log"
    );
    std::fs::write(&log, std::fs::read(fixture).unwrap()).unwrap();
    let all: Vec<Value> = crate::harness::util::wait_for(
        std::time::Duration::from_secs(20),
        std::time::Duration::from_millis(100),
        || {
            let (_, body) = exp.get("/failures?format=json&limit=100000");
            let v: Value = serde_json::from_str(&body).ok()?;
            let list = v["failures"].as_array()?.clone();
            (list.len() >= 10 && v["matched"] == v["kept"]).then_some(list)
        },
    )
    .expect("the fixture's failures on /failures");
    let base = format!("http://{}", exp.addr);
    for link in data_links() {
        let params: Vec<(String, String)> = parameters(link.url.strip_prefix(HEAD).unwrap())
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let mut rows = BTreeSet::new();
        for f in &all {
            let values: BTreeMap<&str, &str> = params
                .iter()
                .filter_map(|(k, v)| {
                    let label = templated_label(v)?;
                    Some((label, f[k.as_str()].as_str().unwrap_or_default()))
                })
                .collect();
            rows.insert(
                values
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect::<Vec<_>>(),
            );
        }
        let mut found = 0;
        for row in rows {
            let values: BTreeMap<&str, &str> =
                row.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let url = fill(&link.url, &base, "2000-01-01T00:00:00.000Z", &values);
            let want: Vec<&str> = all
                .iter()
                .filter(|f| {
                    params.iter().all(|(k, v)| match templated_label(v) {
                        _ if k == "since" => true,
                        Some(label) => f[k.as_str()] == values[label],
                        None => f[k.as_str()] == v.as_str(),
                    })
                })
                .map(|f| f["queue_id"].as_str().unwrap_or_default())
                .collect();
            let path = url.strip_prefix(&base).unwrap();
            let (status, body) = exp.get(&format!("{path}&format=json&limit=100000"));
            assert_eq!(
                status, 200,
                "{} / {}: {url}: {body}",
                link.dashboard, link.panel
            );
            let got: Value = serde_json::from_str(&body).unwrap();
            let got: Vec<&str> = got["failures"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["queue_id"].as_str().unwrap_or_default())
                .collect();
            assert_eq!(got, want, "{} / {}: {url}", link.dashboard, link.panel);
            found += got.len();
        }
        assert!(
            found > 0,
            "{} / {}: no row's link finds a failure",
            link.dashboard,
            link.panel
        );
    }
}

/// What is wrong with the links of a table panel whose query returned `rows` (a real
/// Prometheus's answer): each row's link, filled with the row's labels (Prometheus leaves an
/// empty label out: it is filled empty) and `vars`, must be answered by the exporter at
/// `base` with failures that all carry those values; a row of a failure count above zero must
/// find at least one. Returns the mistakes and how many failures the links found.
pub fn rows_open_their_failures(
    exp: &crate::harness::exporter::Exporter,
    url: &str,
    rows: &[crate::harness::prometheus::Sample],
    vars: &BTreeMap<&str, &str>,
    counts_failures: bool,
) -> (Vec<String>, usize) {
    let (mut bad, mut found) = (Vec::new(), 0);
    let base = format!("http://{}", exp.addr);
    let params: Vec<(String, String)> = parameters(url.strip_prefix(HEAD).unwrap_or_default())
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    for row in rows {
        let mut values: BTreeMap<&str, &str> = vars.clone();
        for (_, v) in &params {
            if let Some(label) = row_label(v) {
                values.insert(label, row.labels.get(label).map_or("", String::as_str));
            }
        }
        let filled = fill(url, &base, "2000-01-01T00:00:00.000Z", &values);
        let path = filled.strip_prefix(&base).unwrap_or_default();
        let (status, body) = exp.get(&format!("{path}&format=json&limit=100000"));
        let answer: Value = serde_json::from_str(&body).unwrap_or_default();
        let Some(list) = answer["failures"].as_array().filter(|_| status == 200) else {
            bad.push(format!("{filled}: {status} {body}"));
            continue;
        };
        for (k, v) in &params {
            let want = match templated_label(v) {
                _ if k == "since" => continue,
                Some(label) => values.get(label).copied().unwrap_or_default(),
                None => v.as_str(),
            };
            if let Some(f) = list.iter().find(|f| f[k.as_str()] != want) {
                bad.push(format!(
                    "{filled}: a failure with {k}={} (want {want:?})",
                    f[k.as_str()]
                ));
            }
        }
        if counts_failures && row.value > 0.0 && list.is_empty() {
            bad.push(format!(
                "{filled}: the row counts {} failures, the link finds none",
                row.value
            ));
        }
        found += list.len();
    }
    (bad, found)
}
