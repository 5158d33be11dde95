//! `replay --format html`: the report of `replay` as one self-contained page — charts by hour
//! of the replies by class and of the deferral and bounce rates, by the log lines' own time,
//! then the top tables with the codes' meanings. The same charts and tables as the status page
//! ([`super::page`]); no script, no style sheet, image or font loaded from elsewhere, so the
//! file can be mailed or opened from disk.

use std::fmt::Write;

use super::page::{self, Digest, Links};
use super::svg::escape;
use crate::aggregate::Aggregator;

/// The whole page.
pub fn encode(agg: &Aggregator) -> String {
    let mut h = String::with_capacity(64 * 1024);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>SMTP report</title><style>{}</style></head><body><h1>SMTP report</h1>",
        page::STYLE
    );
    totals(&mut h, agg);
    let hours = agg.history.hours.span();
    let zone = agg.log_zone();
    let label = |t: i64| page::clock_label(t, zone, true);
    if hours.is_empty() {
        h.push_str("<p id=\"no-chart\">No reply counted: nothing to chart.</p>");
    } else {
        let _ = write!(
            h,
            "<h2>By hour</h2><p>By the log lines' own time ({}), from {} to {}.</p><div class=\"charts\">",
            escape(&zone_name(zone)),
            escape(&label(hours.first().map_or(0, |b| b.0))),
            escape(&label(hours.last().map_or(0, |b| b.0 + 3600))),
        );
        h.push_str(&page::class_chart(
            "per-hour",
            "Replies per hour by class",
            &hours,
            &label,
        ));
        h.push_str(&page::rate_chart(
            "rates",
            "Outbound deferred and bounced, % per hour",
            &hours,
            &label,
        ));
        h.push_str("</div>");
    }
    Digest::of(agg).tables(&mut h, Links::None);
    h.push_str(
        "<p>What to do about a code: <code>smtp-status-exporter explain CODE</code> \
         (e.g. <code>explain 4.7.28</code>).</p></body></html>\n",
    );
    h
}

fn zone_name(zone: &jiff::tz::TimeZone) -> String {
    zone.iana_name().unwrap_or("the configured zone").to_owned()
}

/// Lines read by result, replies, expired messages, and what was read.
fn totals(h: &mut String, agg: &Aggregator) {
    let [counted, ignored, unrecognised] = agg.total_lines();
    let expired: u64 = agg.sources.iter().map(|s| s.expired).sum();
    let replies: u64 = agg.replies.values().map(|t| t.n).sum();
    let read: Vec<String> = (agg.sources.iter())
        .map(|s| format!("{} ({})", s.location, s.mta()))
        .collect();
    let _ = write!(
        h,
        "<p id=\"totals\">Read: {}.<br>Lines: {} ({counted} counted, {ignored} ignored, \
         {unrecognised} not recognised). Replies: <span id=\"replies\">{replies}</span>. \
         Expired messages: {expired}.</p>",
        escape(&read.join(", ")),
        counted + ignored + unrecognised,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::{Bounds, HistoryConfig, SourceId};
    use crate::parse::Format;

    #[test]
    fn charts_by_log_hour_and_loads_nothing() {
        let bounds = Bounds {
            history: HistoryConfig::replay(),
            ..Bounds::default()
        };
        let mut agg = Aggregator::new(vec![("postfix".into(), "postfix".into())], &bounds);
        let empty = encode(&agg);
        assert!(empty.contains("nothing to chart"), "{empty}");
        for (time, status, dsn) in [
            ("Dec  7 10:10:00", "sent", "2.0.0"),
            ("Dec  7 10:50:00", "deferred", "4.7.1"),
            ("Dec  7 13:00:00", "bounced", "5.1.1"),
        ] {
            let line = format!(
                "{time} mx postfix/smtp[1]: 3F2A81C0B2A: to=<a@example.org>, relay=mx.example.org[192.0.2.1]:25, delay=1, delays=0/0/0/1, dsn={dsn}, status={status} (host mx said: {}{} x (in reply to RCPT TO command))",
                &dsn[..1],
                if dsn.starts_with('2') { "50" } else { "51" },
            );
            agg.record(SourceId(0), &Format::Postfix.parse(line.as_bytes()));
        }
        let html = encode(&agg);
        // Four hours, 10:00 to 13:00 (UTC here), the log's own.
        assert!(html.contains("data-points=\"4\""), "{html}");
        assert!(
            html.contains("data-bucket=\"12-07 10:00\" data-v-2xx=\"1\" data-v-4xx=\"1\""),
            "{html}"
        );
        assert!(
            html.contains(
                "data-bucket=\"12-07 13:00\" data-v-deferred=\"0\" data-v-bounced=\"100\""
            ),
            "{html}"
        );
        assert!(html.contains("<table id=\"codes\">"));
        assert!(!html.contains("href"), "no link in a file: {html}");
        assert!(!html.contains("src="));
        assert!(!html.contains("<script"));
    }
}
