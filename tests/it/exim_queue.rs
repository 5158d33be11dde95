//! Exim queue gauges against a REAL Exim 4.96 (Debian's package, unpacked by
//! `scripts/install-test-deps`, a private instance on loopback started with `-C CONF`): mail
//! to a domain routed to a closed port is deferred and stays on the queue, one message is
//! frozen with `exim -Mf`, and the exporter's `smtp_queue_messages` (`input` + `frozen`) must
//! equal `exim -bpc`'s own count, and `frozen` the number of `*** frozen ***` in Exim's own
//! listing; `exim -Mrm` of every message brings the gauges back to zero. An exim binary that
//! does not exist shows as `smtp_status_exporter_queue_read_errors_total` and on the landing
//! page, while `/metrics` still answers.
//!
//! Run with `sudo scripts/test` (installs the unpacked Exim and promtool, then runs the
//! ignored tests).

// A test crate: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::harness;

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use harness::client::SmtpClient;
use harness::exim::{self, EximConfig, EximInstance};
use harness::exporter::Exporter;
use harness::metrics;
use harness::queue;
use harness::util::{self, wait_for, TestDir};

/// Routed to a port where nothing listens: every message to it is deferred, retried in an hour.
const DOWN_DOMAIN: (&str, Ipv4Addr) = ("down.test", Ipv4Addr::new(127, 0, 0, 10));
const MESSAGES: usize = 5;
const QUEUES: [&str; 2] = ["input", "frozen"];

fn config(down_port: u16) -> EximConfig {
    EximConfig {
        routes: vec![(DOWN_DOMAIN.0.to_owned(), DOWN_DOMAIN.1, down_port)],
        retry: vec!["* * F,1h,1h".to_owned()],
        acl_settings: vec![("acl_smtp_rcpt".into(), "acl_check_rcpt".into())],
        acls: "acl_check_rcpt:\n  accept domains = +relay_to_domains\n  deny\n".into(),
        ..EximConfig::default()
    }
}

fn send(exim: &EximInstance, n: usize) {
    let mut c = SmtpClient::connect(exim.addr, None).unwrap();
    c.ehlo("client.queue.test").unwrap();
    for i in 0..n {
        let sender = format!("sender{i}@queue.test");
        let sub = c
            .send(
                &sender,
                &[format!("rcpt{i}@{}", DOWN_DOMAIN.0)],
                &[
                    ("From", format!("<{sender}>")),
                    ("Subject", format!("exim queue test {i}")),
                ],
                // Sizes apart, so the size histogram has more than one bucket in use.
                &"Queue test message.\n".repeat(1 + i * 200),
            )
            .unwrap();
        assert!(sub.queued(), "{sub:?}");
    }
    let _ = c.quit();
}

/// The IDs of the messages received, from the main log's `<=` lines (`DATE TIME [PID] ID <=`).
fn received_ids(exim: &EximInstance) -> Vec<String> {
    exim.mainlog()
        .lines()
        .filter_map(|l| {
            let t: Vec<&str> = l.split_whitespace().collect();
            let at = t.iter().position(|w| *w == "<=")?;
            Some(t.get(at.checked_sub(1)?)?.to_string())
        })
        .collect()
}

/// Exim's own view: (`exim -bpc`, the number of `*** frozen ***` in `exim -bp`).
fn exim_view(exim: &EximInstance) -> (usize, usize) {
    let count = exim.queue_len().unwrap_or_else(|e| panic!("{e}"));
    let listing = exim.admin(&["-bp"]).unwrap_or_else(|e| panic!("{e}"));
    (count, listing.matches("*** frozen ***").count())
}

/// A metric by queue, for the `exim` source, from one scrape.
fn gauges(text: &str, metric: &str) -> BTreeMap<String, f64> {
    queue::gauges(text, "exim", metric)
}

fn errors(text: &str) -> f64 {
    queue::read_errors(text, "exim")
}

#[test]
#[ignore = "needs root and the unpacked Exim: run by scripts/test"]
fn exim_queue_gauges_match_exim_bpc() {
    let _heavy = harness::heavy();
    let t0 = Instant::now();
    util::require_root();
    util::require_tool("promtool");
    let bin = exim::binary();
    eprintln!("{}", exim::version());
    let dir = TestDir::new("sse-exim-queue-");
    let down_port = util::free_port(DOWN_DOMAIN.1);
    let exim = EximInstance::start(&dir.subdir("exim"), &config(down_port))
        .unwrap_or_else(|e| panic!("starting the private Exim: {e}"));

    // The exporter names the configuration by a link of its own: `EximInstance::wait_idle`
    // counts the processes with the configuration's path in their command line as Exim's.
    let conf_link = dir.subdir("exporter").join("exim.conf");
    std::os::unix::fs::symlink(exim.conf(), &conf_link).unwrap();
    let exporter = Exporter::start(
        &[&exim.mainlog_path()],
        &dir.path().join("state.json"),
        &dir.subdir("exporter"),
        &[
            "--log.format",
            "exim",
            "--queue.exim",
            bin.to_str().unwrap(),
            "--queue.exim-config",
            conf_link.to_str().unwrap(),
            "--queue.cache",
            "0s",
        ],
    )
    .unwrap_or_else(|e| panic!("{e}"));

    // An empty queue: both queues have a series, zero.
    let zero: BTreeMap<String, f64> = QUEUES.iter().map(|q| ((*q).to_owned(), 0.0)).collect();
    let text = exporter.scrape().unwrap();
    assert_eq!(gauges(&text, "smtp_queue_messages"), zero, "{text}");
    assert_eq!(errors(&text), 0.0, "{text}");

    // Each message is tried right after reception, deferred, and stays.
    send(&exim, MESSAGES);
    exim.wait_idle(Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("{e}"));
    let ids = received_ids(&exim);
    assert_eq!(ids.len(), MESSAGES, "mainlog:\n{}", exim.mainlog());
    exim.admin(&["-Mf", &ids[0]])
        .unwrap_or_else(|e| panic!("{e}"));

    // Exim's view the same before and after one scrape, with every message there.
    let mut last = None;
    let settled = wait_for(Duration::from_secs(60), Duration::from_millis(200), || {
        let before = exim_view(&exim);
        let text = exporter.scrape().ok()?;
        let after = exim_view(&exim);
        last = Some((after, text.clone()));
        (before == after && after == (MESSAGES, 1)).then_some((after, text))
    });
    let ((count, frozen), text) = settled.unwrap_or_else(|| {
        panic!(
            "the queue did not settle with {MESSAGES} messages, one frozen, within 60 s; \
             last (exim -bpc, frozen) and scrape: {last:?}\nmainlog:\n{}",
            exim.mainlog()
        )
    });
    let got = gauges(&text, "smtp_queue_messages");
    assert_eq!(got.get("frozen"), Some(&(frozen as f64)), "{got:?}");
    assert_eq!(
        got.get("input"),
        Some(&((count - frozen) as f64)),
        "{got:?}"
    );
    assert_eq!(got.values().sum::<f64>(), count as f64, "{got:?}");
    // One observation per message in the histograms; ages within the test's run time (Exim
    // lists whole minutes).
    let ages = gauges(&text, "smtp_queue_message_age_seconds_count");
    let sizes = gauges(&text, "smtp_queue_message_size_bytes_count");
    assert_eq!(ages.values().sum::<f64>(), count as f64, "{ages:?}");
    assert_eq!(sizes.get("input"), Some(&((count - 1) as f64)), "{sizes:?}");
    let size_sum = gauges(&text, "smtp_queue_message_size_bytes_sum");
    assert!(
        size_sum.get("input").is_some_and(|s| *s > 4.0 * 1024.0),
        "{size_sum:?}"
    );
    let oldest = gauges(&text, "smtp_queue_oldest_message_age_seconds");
    let limit = t0.elapsed().as_secs_f64() + 60.0;
    assert!(
        oldest.values().all(|a| (0.0..=limit).contains(a)),
        "{oldest:?}"
    );
    assert_eq!(errors(&text), 0.0);
    metrics::promtool_check(&text).unwrap_or_else(|e| panic!("{e}"));
    let page =
        String::from_utf8_lossy(&metrics::http_get(exporter.addr, "/").unwrap().body).into_owned();
    assert!(
        page.contains(&format!("{MESSAGES} message(s)")),
        "landing page: {page}"
    );

    // exim -Mrm of every message: the gauges back to zero.
    let mut rm = vec!["-Mrm"];
    rm.extend(ids.iter().map(String::as_str));
    exim.admin(&rm).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(exim_view(&exim), (0, 0));
    let text = exporter.scrape().unwrap();
    assert_eq!(gauges(&text, "smtp_queue_messages"), zero, "{text}");
    assert_eq!(gauges(&text, "smtp_queue_oldest_message_age_seconds"), zero);
    assert_eq!(errors(&text), 0.0);
    eprintln!("exim queue test: {:.1} s", t0.elapsed().as_secs_f64());
}

/// An exim binary that does not exist: the error is a self-metric and a line on the landing
/// page, the queue's gauges are left out, and the rest of `/metrics` is served.
#[test]
#[ignore = "needs root and the unpacked Exim: run by scripts/test"]
fn a_broken_exim_is_a_self_metric_not_a_scrape_error() {
    let _heavy = harness::heavy();
    let second = queue::broken_reader_is_a_self_metric(
        "exim",
        &["--log.format", "exim", "--queue.exim", "/nonexistent/exim4"],
        "/nonexistent/exim4",
    );
    metrics::promtool_check(&second).unwrap_or_else(|e| panic!("{e}"));
}
