//! Queue gauges against a REAL Postfix (Debian's package, a private instance on loopback): mail
//! to a closed port fills the deferred queue, mail held by a header_checks rule fills the hold
//! queue, and the exporter's `smtp_queue_messages` must equal what `postqueue -p` itself
//! reports, queue by queue; `postsuper -d ALL` brings every gauge back to zero. A queue that
//! cannot be read (a configuration directory that does not exist) shows as
//! `smtp_status_exporter_queue_read_errors_total` and on the landing page, while `/metrics`
//! still answers.
//!
//! Run with `sudo scripts/test` (installs Postfix and promtool, then runs the ignored tests).

// A test crate: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::harness;

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use harness::client::SmtpClient;
use harness::exporter::Exporter;
use harness::metrics;
use harness::postfix::{PostfixConfig, PostfixInstance};
use harness::queue;
use harness::util::{self, require_tool, wait_for, TestDir};

/// Routed to a closed port: every message to it is deferred and stays in the deferred queue.
const DOWN_DOMAIN: &str = "down.test";
const DEFERRED: usize = 5;
/// Messages with this subject are put on hold by header_checks on arrival.
const HOLD_SUBJECT: &str = "QUEUE-E2E-HOLD";
const HELD: usize = 2;
const QUEUES: [&str; 5] = ["maildrop", "incoming", "active", "deferred", "hold"];

fn config(closed_port: u16) -> PostfixConfig {
    let keep = |k: &str, v: &str| (k.to_owned(), v.to_owned());
    PostfixConfig {
        transports: vec![(
            DOWN_DOMAIN.into(),
            format!("smtp:[127.0.0.1]:{closed_port}"),
        )],
        // The restricted smtpd accepts mail for the down domain (and applies header_checks).
        relay_domains: vec![DOWN_DOMAIN.into()],
        header_checks: vec![(
            format!("/^Subject:.*{HOLD_SUBJECT}/"),
            "HOLD held by the queue test".into(),
        )],
        // Deferred mail stays: no expiry, and no retry within the test (so nothing moves
        // between the deferred and active queues while the counts are compared).
        main_cf: vec![
            keep("maximal_queue_lifetime", "1d"),
            keep("bounce_queue_lifetime", "1d"),
            keep("queue_run_delay", "1h"),
            keep("minimal_backoff_time", "1h"),
            keep("maximal_backoff_time", "1h"),
        ],
        ..PostfixConfig::default()
    }
}

fn send(pf: &PostfixInstance, to_inbound: bool, n: usize, subject: &str) {
    let server = if to_inbound {
        pf.inbound
    } else {
        pf.submission
    };
    let mut c = SmtpClient::connect(server, None).unwrap();
    c.ehlo("client.queue.test").unwrap();
    for i in 0..n {
        let sender = format!("sender{i}@queue.test");
        let sub = c
            .send(
                &sender,
                &[format!("rcpt{i}@{DOWN_DOMAIN}")],
                &[
                    ("From", format!("<{sender}>")),
                    ("Subject", format!("{subject} {i}")),
                ],
                "Queue test message.\n",
            )
            .unwrap();
        assert!(sub.queued(), "{sub:?}");
    }
    let _ = c.quit();
}

/// `postqueue -p`'s own view: messages per queue, from the marker after each queue ID (`*`
/// active, `!` hold, none deferred), and the total of its last line (`-- N Kbytes in M
/// Requests.`, or `Mail queue is empty`).
fn postqueue_p(pf: &PostfixInstance) -> (BTreeMap<&'static str, usize>, usize) {
    let out = Command::new(require_tool("postqueue"))
        .arg("-c")
        .arg(pf.config_dir())
        .arg("-p")
        .output()
        .unwrap();
    assert!(out.status.success(), "postqueue -p: {out:?}");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut per = BTreeMap::new();
    for line in text.lines() {
        let Some(first) = line.chars().next() else {
            continue;
        };
        if !first.is_ascii_alphanumeric() || line.starts_with("Mail queue is empty") {
            continue;
        }
        let id = line.split_whitespace().next().unwrap_or_default();
        let queue = match id.chars().last() {
            Some('*') => "active",
            Some('!') => "hold",
            _ => "deferred",
        };
        *per.entry(queue).or_default() += 1;
    }
    let total = if text.contains("Mail queue is empty") {
        0
    } else {
        let last = text.lines().last().unwrap_or_default();
        last.split(" in ")
            .nth(1)
            .and_then(|t| t.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no total in postqueue -p's last line: {last:?}"))
    };
    (per, total)
}

/// `smtp_queue_messages` by queue, from one scrape.
fn gauges(text: &str, metric: &str) -> BTreeMap<String, f64> {
    queue::gauges(text, "postfix", metric)
}

fn errors(text: &str) -> f64 {
    queue::read_errors(text, "postfix")
}

#[test]
#[ignore = "needs root and a real Postfix: run by scripts/test"]
fn queue_gauges_match_postqueue() {
    let _heavy = harness::heavy();
    let t0 = Instant::now();
    util::require_root();
    util::require_tool("postfix");
    util::require_tool("postsuper");
    util::require_tool("promtool");
    let dir = TestDir::new("sse-queue-e2e-");
    let closed = util::closed_port();
    let pf = PostfixInstance::start(&dir.subdir("postfix"), &config(closed))
        .unwrap_or_else(|e| panic!("starting the private Postfix: {e}"));

    let conf = pf.config_dir().to_str().unwrap().to_owned();
    let exporter = Exporter::start(
        &[pf.maillog_path()],
        &dir.path().join("state.json"),
        &dir.subdir("exporter"),
        &["--queue.postfix-config-dir", &conf, "--queue.cache", "0s"],
    )
    .unwrap_or_else(|e| panic!("{e}"));

    // An empty queue: every queue has a series, all zero.
    let text = exporter.scrape().unwrap();
    let zero: BTreeMap<String, f64> = QUEUES.iter().map(|q| ((*q).to_owned(), 0.0)).collect();
    assert_eq!(gauges(&text, "smtp_queue_messages"), zero, "{text}");
    assert_eq!(errors(&text), 0.0);

    send(&pf, false, DEFERRED, "queue test");
    send(&pf, true, HELD, HOLD_SUBJECT);

    // Wait until the queue has settled (every message tried once and deferred, or held):
    // postqueue -p the same twice around one scrape, with all messages present.
    let mut last = None;
    let settled = wait_for(Duration::from_secs(60), Duration::from_millis(200), || {
        let before = postqueue_p(&pf);
        let text = exporter.scrape().ok()?;
        let after = postqueue_p(&pf);
        let still = before == after
            && after.1 == DEFERRED + HELD
            && after.0.get("deferred") == Some(&DEFERRED)
            && after.0.get("hold") == Some(&HELD);
        last = Some((after.clone(), text.clone()));
        still.then_some((after, text))
    });
    let ((per, total), text) = settled.unwrap_or_else(|| {
        panic!(
            "the queue did not settle with {DEFERRED} deferred and {HELD} held messages \
             within 60 s; last postqueue -p view and scrape: {last:?}\nmaillog:\n{}",
            pf.maillog_tail(30)
        )
    });

    // The gauges match postqueue -p's own count, queue by queue, and its total.
    let got = gauges(&text, "smtp_queue_messages");
    for q in QUEUES {
        let want = per.get(q).copied().unwrap_or(0) as f64;
        assert_eq!(
            got.get(q),
            Some(&want),
            "queue {q}: {got:?} vs postqueue -p {per:?}"
        );
    }
    assert_eq!(got.values().sum::<f64>(), total as f64);
    // Histograms hold one observation per message; ages are within the test's run time.
    let ages = gauges(&text, "smtp_queue_message_age_seconds_count");
    let sizes = gauges(&text, "smtp_queue_message_size_bytes_count");
    assert_eq!(ages.get("deferred"), Some(&(DEFERRED as f64)), "{ages:?}");
    assert_eq!(sizes.get("hold"), Some(&(HELD as f64)), "{sizes:?}");
    let oldest = gauges(&text, "smtp_queue_oldest_message_age_seconds");
    let limit = t0.elapsed().as_secs_f64() + 2.0;
    assert!(
        oldest
            .get("deferred")
            .is_some_and(|a| (0.0..=limit).contains(a)),
        "{oldest:?}"
    );
    assert_eq!(oldest.get("active"), Some(&0.0));
    metrics::promtool_check(&text).unwrap_or_else(|e| panic!("{e}"));
    let page =
        String::from_utf8_lossy(&metrics::http_get(exporter.addr, "/").unwrap().body).into_owned();
    assert!(
        page.contains(&format!("{} message(s)", DEFERRED + HELD)),
        "landing page: {page}"
    );

    // postsuper -d ALL: every gauge back to zero.
    let (ok, out) = util::run(
        Command::new(require_tool("postsuper"))
            .arg("-c")
            .arg(pf.config_dir())
            .args(["-d", "ALL"]),
    );
    assert!(ok, "postsuper -d ALL: {out}");
    let text = exporter.scrape().unwrap();
    assert_eq!(gauges(&text, "smtp_queue_messages"), zero, "{text}");
    assert_eq!(postqueue_p(&pf).1, 0);
    let oldest: BTreeMap<String, f64> = gauges(&text, "smtp_queue_oldest_message_age_seconds");
    assert_eq!(oldest, zero);
    assert_eq!(errors(&text), 0.0);
}

/// A queue that cannot be read never fails the scrape: the error is a self-metric and a line
/// on the landing page, and the queue's gauges are left out.
#[test]
#[ignore = "needs a real Postfix (postqueue): run by scripts/test"]
fn a_broken_queue_is_a_self_metric_not_a_scrape_error() {
    let _heavy = harness::heavy();
    util::require_tool("postqueue");
    let second = queue::broken_reader_is_a_self_metric(
        "postfix",
        &["--queue.postfix-config-dir", "/nonexistent/postfix-config"],
        "/nonexistent/postfix-config",
    );
    metrics::promtool_check(&second).unwrap_or_else(|e| panic!("{e}"));
}
