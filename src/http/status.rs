//! `/`: the status page for a person without Grafana — the version, the sources and their
//! health, charts of the replies per minute over the last hour and per hour over the last day
//! by class, the deferral and bounce rates, the top failing providers, domains and reasons
//! (linked to `/failures`), the codes seen with what they mean and what to do. No script,
//! nothing loaded from elsewhere; it reloads itself every [`REFRESH`] seconds.
//!
//! Built in two steps so the counters' lock is held only to copy: [`Snapshot::of`] takes the
//! counts (a few thousand numbers and names), [`render`] writes the HTML after the lock is gone.

use std::fmt::Write;

use super::{html_escape, Shared};
use crate::aggregate::history::Counts;
use crate::aggregate::{Aggregator, Counters, LineResult, SourceState, SourceStats};
use crate::expose::page::{self, Digest, Links};

/// Seconds between the page's reloads.
pub const REFRESH: u32 = 30;

/// One row of the sources table.
#[derive(Debug, Clone)]
struct SourceRow {
    name: String,
    mta: String,
    location: String,
    state: String,
    lines: [u64; 3],
}

/// What the page shows, copied out of the counters.
#[derive(Debug, Clone)]
pub struct Snapshot {
    sources: Vec<SourceRow>,
    minutes: Vec<(i64, Counts)>,
    hours: Vec<(i64, Counts)>,
    zone: jiff::tz::TimeZone,
    digest: Digest,
}

impl Snapshot {
    /// Copies what the page needs; `now`: the end of the charts' windows.
    pub fn of(agg: &Aggregator, now: f64) -> Snapshot {
        let sources = (agg.sources_by_id())
            .map(|(i, s)| SourceRow {
                name: s.name.clone(),
                mta: mta_cell(s),
                location: s.location.clone(),
                state: agg
                    .state_of(i)
                    .map(SourceState::describe)
                    .unwrap_or_default(),
                lines: LineResult::ALL.map(|r| s.lines(r)),
            })
            .collect();
        Snapshot {
            sources,
            minutes: agg.history.minutes.window(now),
            hours: agg.history.hours.window(now),
            zone: agg.log_zone().clone(),
            digest: Digest::of(agg),
        }
    }
}

/// The page, its counts taken under the lock and rendered outside it.
pub fn page(shared: &Shared) -> String {
    let now = Counters::now();
    let snapshot = Snapshot::of(&shared.agg.lock(), now);
    render(&snapshot, shared)
}

/// The page's HTML.
pub fn render(s: &Snapshot, shared: &Shared) -> String {
    let b = &shared.build;
    let mut h = String::with_capacity(64 * 1024);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta http-equiv=\"refresh\" content=\"{REFRESH}\">\
         <title>SMTP status exporter</title><style>{}</style></head><body>\
         <h1>SMTP status exporter</h1><p>Version {} (revision {}, rustc {}); \
         this page reloads every {REFRESH} s.</p>\
         <ul><li><a href=\"{}\">Metrics</a></li><li><a href=\"/-/healthy\">Health</a></li>\
         <li><a href=\"/-/ready\">Readiness</a></li>\
         <li><a id=\"failures\" href=\"failures\">Recent failures</a>: which messages, and why</li></ul>",
        page::STYLE,
        html_escape(b.version),
        html_escape(b.revision),
        html_escape(b.rustc),
        html_escape(&shared.telemetry_path),
    );
    charts(&mut h, s);
    sources_table(&mut h, s);
    queues_section(&mut h, &shared.queues);
    connections_section(&mut h, shared);
    s.digest.tables(&mut h, Links::Failures);
    h.push_str("</body></html>\n");
    h
}

/// The HTTP connections held and refused: whether a client is crowding the scrapes out.
fn connections_section(h: &mut String, shared: &Shared) {
    let a = &shared.admission;
    let refused = a
        .refused()
        .map(|(r, n)| format!("{n} {}", r.label()))
        .join(", ");
    let _ = write!(
        h,
        "<p id=\"connections\">HTTP connections held now: {}; refused since the start: {refused} \
         (the bounds per client address and in all: SECURITY.md).</p>",
        a.held()
    );
}

/// The replies by class per minute and per hour, and the deferral and bounce rates per hour.
fn charts(h: &mut String, s: &Snapshot) {
    let zone = &s.zone;
    let label = |t: i64| page::clock_label(t, zone, false);
    h.push_str(
        "<h2>Replies</h2><p>Counted as the lines were read (since the exporter started: \
         a restart starts the charts empty).</p><div class=\"charts\">",
    );
    h.push_str(&page::class_chart(
        "per-minute",
        "Replies per minute by class, last hour",
        &s.minutes,
        &label,
    ));
    h.push_str(&page::class_chart(
        "per-hour",
        "Replies per hour by class, last day",
        &s.hours,
        &label,
    ));
    h.push_str(&page::rate_chart(
        "rates",
        "Outbound deferred and bounced, % per hour, last day",
        &s.hours,
        &label,
    ));
    h.push_str("</div>");
}

fn sources_table(h: &mut String, s: &Snapshot) {
    h.push_str(
        "<h2>Sources</h2><div class=\"wide\"><table id=\"sources\"><tr><th>source</th><th>mta</th>\
         <th>reads</th><th>state</th><th>lines counted</th><th>ignored</th><th>unrecognised</th></tr>",
    );
    for r in &s.sources {
        let [counted, ignored, unrecognised] = r.lines;
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{counted}</td><td>{ignored}</td>\
             <td>{unrecognised}</td></tr>",
            html_escape(&r.name),
            html_escape(&r.mta),
            html_escape(&r.location),
            html_escape(&r.state),
        );
    }
    h.push_str("</table></div>");
}

/// One line per queue read: what it holds, or why it cannot be read.
fn queues_section(h: &mut String, queues: &crate::queue::Queues) {
    if queues.is_empty() {
        return;
    }
    h.push_str("<h2>Queues</h2><ul>");
    for r in &queues.readers {
        let s = &r.spec;
        let state = match r.last() {
            None => "not read yet (read at each scrape)".to_owned(),
            Some(Ok(reading)) => {
                let per: Vec<String> = reading
                    .queues
                    .iter()
                    .map(|q| format!("{} {}", q.queue, q.messages))
                    .collect();
                format!("{} {}: {}", reading.total(), s.kind.unit(), per.join(", "))
            }
            Some(Err(e)) => format!("cannot be read: {e}"),
        };
        let _ = write!(
            h,
            "<li>{} ({}): {} &mdash; {} read error(s) so far</li>",
            html_escape(&s.source),
            html_escape(&s.kind.describe()),
            html_escape(&state),
            r.errors()
        );
    }
    h.push_str("</ul>");
}

/// The `mta` column: the format, and under `--log.format auto` whether it was detected.
fn mta_cell(s: &SourceStats) -> String {
    match s.auto {
        None => s.mta().to_owned(),
        Some(true) => format!("{} (auto: detected)", s.mta()),
        Some(false) => "auto: not yet detected (no line any format claims)".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::{Bounds, SourceId};
    use crate::parse::Format;

    const DEFERRED: &str = "Dec  7 12:00:00 mx postfix/smtp[1]: 3F2A81C0B2A: to=<a@example.org>, relay=mx.example.org[192.0.2.1]:25, delay=1, delays=0/0/0/1, dsn=4.7.1, status=deferred (host mx.example.org[192.0.2.1] said: 451 4.7.1 Try again later (in reply to RCPT TO command))";

    fn shared(agg: Aggregator) -> Shared {
        Shared::for_tests(agg)
    }

    /// The `data-v-NAME` values of the points of chart `id`.
    fn values(page: &str, id: &str, name: &str) -> Vec<u64> {
        let start = page.find(&format!("<svg id=\"{id}\"")).expect(id);
        let svg = &page[start..start + page[start..].find("</svg>").expect("end")];
        let attr = format!("data-v-{name}=\"");
        (svg.split("<g class=\"point\"").skip(1))
            .map(|p| {
                let v = &p[p.find(&attr).expect("attr") + attr.len()..];
                // Empty: no value (the share of no reply).
                let v = &v[..v.find('"').expect("quote")];
                match v {
                    "" => 0,
                    v => v.parse().expect("number"),
                }
            })
            .collect()
    }

    #[test]
    fn charts_count_what_was_read_in_the_last_minute_and_hour() {
        let mut agg = Aggregator::new(
            vec![("postfix".into(), "postfix".into())],
            &Bounds::default(),
        );
        for _ in 0..3 {
            agg.record(SourceId(0), &Format::Postfix.parse(DEFERRED.as_bytes()));
        }
        let s = shared(agg);
        let page = page(&s);
        for want in [
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">",
            "<meta http-equiv=\"refresh\" content=\"30\">",
            "<a id=\"failures\" href=\"failures\">",
            "href=\"failures?direction=outbound&amp;reason=",
        ] {
            assert!(page.contains(want), "{want} in {page}");
        }
        let minute = values(&page, "per-minute", "4xx");
        assert_eq!(minute.len(), 60);
        // Read now (the test may cross a minute: the last two hold all three).
        assert_eq!(minute[58] + minute[59], 3, "{minute:?}");
        assert_eq!(values(&page, "per-hour", "4xx").iter().sum::<u64>(), 3);
        assert_eq!(values(&page, "per-hour", "2xx").len(), 24);
        assert_eq!(values(&page, "rates", "deferred").iter().max(), Some(&100));
        assert!(!page.contains("<script"));
    }

    /// A page over thousands of series is whole: its charts and tables, and the end of the
    /// document. (Its cost, under the lock and after: `cargo bench --bench parse status_page`.)
    #[test]
    fn a_page_over_thousands_of_series_is_whole() {
        let bounds = Bounds {
            domains_max: 1000,
            ..Bounds::default()
        };
        let mut agg = Aggregator::new(vec![("postfix".into(), "postfix".into())], &bounds);
        for i in 0..20_000 {
            let (code, status) = [
                ("250 2.0.0", "sent"),
                ("451 4.7.1", "deferred"),
                ("550 5.1.1", "bounced"),
                ("421 4.7.28", "deferred"),
            ][i % 4];
            let line = format!(
                "Dec  7 12:00:00 mx postfix/smtp[1]: 3F2A81C0B2A: to=<u{i}@d{}.example>, relay=mx.d.example[192.0.2.1]:25, delay=1, delays=0/0/0/1, dsn={}, status={status} (host mx said: {code} x (in reply to RCPT TO command))",
                i % 997,
                &code[4..]
            );
            agg.record(SourceId(0), &Format::Postfix.parse(line.as_bytes()));
        }
        let series = agg.replies.len();
        assert!(series > 3000, "{series}");
        let s = shared(agg);
        let page = page(&s);
        for id in ["per-minute", "per-hour", "rates"] {
            assert!(page.contains(&format!("<svg id=\"{id}\"")), "no chart {id}");
        }
        assert!(
            page.contains(".example"),
            "the top failing domains are listed"
        );
        assert!(page.ends_with("</body></html>\n"));
    }
}
