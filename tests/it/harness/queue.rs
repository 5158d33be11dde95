//! The queue-gauge tests of every MTA (tests/queue_e2e.rs, exim_queue.rs, opensmtpd_queue.rs):
//! reading one source's gauges back from a scrape, and the broken-reader case they share.

use std::collections::BTreeMap;

use super::exporter::Exporter;
use super::metrics::{self, Labels};
use super::util::TestDir;

/// `metric`'s series of `source`, by their `queue` label.
pub fn gauges(text: &str, source: &str, metric: &str) -> BTreeMap<String, f64> {
    let samples = metrics::parse_exposition(text).unwrap_or_else(|e| panic!("{e}"));
    metrics::series(&samples, metric)
        .into_iter()
        .filter(|(l, _)| l.get("source").map(String::as_str) == Some(source))
        .map(|(l, v)| (l.get("queue").cloned().unwrap_or_default(), v))
        .collect()
}

/// `smtp_status_exporter_queue_read_errors_total` of `source`; -1 when it has no series.
pub fn read_errors(text: &str, source: &str) -> f64 {
    let samples = metrics::parse_exposition(text).unwrap_or_else(|e| panic!("{e}"));
    let l: Labels = metrics::labels(&[("source", source)]);
    metrics::series(&samples, "smtp_status_exporter_queue_read_errors_total")
        .get(&l)
        .copied()
        .unwrap_or(-1.0)
}

/// Starts the exporter on an empty log with `args` naming a queue reader that cannot work:
/// each scrape counts a read error for `source`, leaves its gauges out and serves the rest,
/// and the landing page says the queue cannot be read, naming `shown` (the command).
/// Returns the second scrape's text.
pub fn broken_reader_is_a_self_metric(source: &str, args: &[&str], shown: &str) -> String {
    let dir = TestDir::new("sse-queue-broken-");
    let log = dir.path().join("mail.log");
    std::fs::write(&log, "").unwrap_or_else(|e| panic!("{e}"));
    let mut all = args.to_vec();
    all.extend(["--queue.cache", "0s"]);
    let exporter = Exporter::start(&[&log], &dir.path().join("state.json"), dir.path(), &all)
        .unwrap_or_else(|e| panic!("{e}"));
    let first = exporter.scrape().unwrap_or_else(|e| panic!("{e}"));
    assert!(read_errors(&first, source) >= 1.0, "{first}");
    assert!(
        gauges(&first, source, "smtp_queue_messages").is_empty(),
        "{first}"
    );
    // Counted again at the next scrape; the rest of the exposition is served.
    let second = exporter.scrape().unwrap_or_else(|e| panic!("{e}"));
    assert!(
        read_errors(&second, source) > read_errors(&first, source),
        "{second}"
    );
    assert!(second.contains("smtp_status_exporter_lines_total"));
    let page = String::from_utf8_lossy(
        &metrics::http_get(exporter.addr, "/")
            .unwrap_or_else(|e| panic!("{e}"))
            .body,
    )
    .into_owned();
    assert!(
        page.contains("cannot be read") && page.contains(shown),
        "landing page: {page}"
    );
    second
}
