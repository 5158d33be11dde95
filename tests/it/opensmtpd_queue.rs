//! Queue gauges against a REAL OpenSMTPD (Debian 12's 6.8.0p2, unpacked, a private instance on
//! loopback in its own mount namespace): mail to a domain routed to a closed port stays in the
//! queue (`queue ttl` of a day; the first retry is 15 minutes away), and the exporter's
//! `smtp_queue_messages` must equal what `smtpctl show queue` itself lists, state by state (one
//! line per envelope, i.e. per recipient); `smtpctl remove all` brings every gauge back to
//! zero; with the daemon stopped, smtpctl reads the spool itself and the envelopes show as
//! `offline`. The exporter runs smtpctl through a wrapper script that enters the daemon's mount
//! namespace (`nsenter -t PID -m`), where its control socket is — a real user points
//! `--queue.smtpctl` at `/usr/sbin/smtpctl` itself. A smtpctl that cannot be run shows as
//! `smtp_status_exporter_queue_read_errors_total` while `/metrics` still answers.
//!
//! Run with `sudo scripts/test`.

// A test crate: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::harness;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use harness::client::SmtpClient;
use harness::exporter::Exporter;
use harness::metrics;
use harness::opensmtpd::{OpenSmtpdConfig, OpenSmtpdInstance};
use harness::queue;
use harness::util::{self, wait_for, TestDir};

/// Routed to a closed port: every envelope to it fails its first try and waits for the next.
const DOWN_DOMAIN: &str = "down.test";
/// Single-recipient messages, plus one message to [`MULTI`] recipients.
const SINGLE: usize = 4;
const MULTI: usize = 2;
const ENVELOPES: usize = SINGLE + MULTI;
const QUEUES: [&str; 4] = ["pending", "inflight", "held", "offline"];

fn send(sm: &OpenSmtpdInstance) {
    let mut c = SmtpClient::connect(sm.addr, None).unwrap();
    c.ehlo("client.queue.test").unwrap();
    let mut messages: Vec<Vec<String>> = (0..SINGLE)
        .map(|i| vec![format!("rcpt{i}@{DOWN_DOMAIN}")])
        .collect();
    messages.push(
        (0..MULTI)
            .map(|i| format!("multi{i}@{DOWN_DOMAIN}"))
            .collect(),
    );
    for (i, rcpts) in messages.iter().enumerate() {
        let sender = format!("sender{i}@queue.test");
        let sub = c
            .send(
                &sender,
                rcpts,
                &[
                    ("From", format!("<{sender}>")),
                    ("Subject", format!("queue test {i}")),
                ],
                "Queue test message.\n",
            )
            .unwrap();
        assert!(sub.queued(), "{sub:?}");
    }
    let _ = c.quit();
}

/// `smtpctl show queue`'s own view: its raw output, and its lines counted by run state (the
/// 12th `|`-separated field), with the retry counts (11th field).
fn show_queue(sm: &OpenSmtpdInstance) -> (String, BTreeMap<String, usize>, Vec<u64>) {
    show_queue_with(&sm.smtpctl_wrapper())
}

fn show_queue_with(smtpctl: &Path) -> (String, BTreeMap<String, usize>, Vec<u64>) {
    let out = Command::new(smtpctl)
        .args(["show", "queue"])
        .output()
        .unwrap();
    assert!(out.status.success(), "smtpctl show queue: {out:?}");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut per = BTreeMap::new();
    let mut retries = Vec::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        let f: Vec<&str> = line.split('|').collect();
        assert!(f.len() >= 14, "a short smtpctl line: {line:?}");
        *per.entry(f[11].to_owned()).or_default() += 1;
        retries.push(f[10].parse().unwrap());
    }
    (text, per, retries)
}

fn gauges(text: &str, metric: &str) -> BTreeMap<String, f64> {
    queue::gauges(text, "opensmtpd", metric)
}

fn errors(text: &str) -> f64 {
    queue::read_errors(text, "opensmtpd")
}

#[test]
#[ignore = "needs root and the unpacked OpenSMTPD: run by scripts/test"]
fn queue_gauges_match_smtpctl_show_queue() {
    let _heavy = harness::heavy();
    let t0 = Instant::now();
    util::require_root();
    util::require_tool("nsenter");
    let dir = TestDir::new("sse-opensmtpd-queue-");
    let cfg = OpenSmtpdConfig {
        down_domains: vec![DOWN_DOMAIN.into()],
        closed_port: util::closed_port(),
        ttl_secs: 86_400,
        ..OpenSmtpdConfig::default()
    };
    let mut sm = OpenSmtpdInstance::start(&dir.subdir("opensmtpd"), &cfg)
        .unwrap_or_else(|e| panic!("starting the private OpenSMTPD: {e}"));
    let smtpctl = sm.smtpctl_wrapper();
    let exporter = Exporter::start(
        &[sm.log_path()],
        &dir.path().join("state.json"),
        &dir.subdir("exporter"),
        &[
            "--log.format",
            "opensmtpd",
            "--queue.smtpctl",
            smtpctl.to_str().unwrap(),
            "--queue.cache",
            "0s",
        ],
    )
    .unwrap_or_else(|e| panic!("{e}"));

    // An empty queue: every state has a series, all zero.
    let text = exporter.scrape().unwrap();
    let zero: BTreeMap<String, f64> = QUEUES.iter().map(|q| ((*q).to_owned(), 0.0)).collect();
    assert_eq!(
        gauges(&text, "smtp_queue_messages"),
        zero,
        "{text}\nexporter: {}",
        exporter.stderr_tail(5)
    );
    assert_eq!(errors(&text), 0.0, "{text}");
    assert_eq!(show_queue(&sm).1.len(), 0);

    send(&sm);

    // Settled: every envelope tried once and pending its next try, the same per-state counts
    // from smtpctl before and after one scrape.
    let mut last = None;
    let settled = wait_for(Duration::from_secs(90), Duration::from_millis(250), || {
        let (_, before, _) = show_queue(&sm);
        let text = exporter.scrape().ok()?;
        let (raw, after, retries) = show_queue(&sm);
        let still = before == after
            && after.get("pending") == Some(&ENVELOPES)
            && retries.len() == ENVELOPES
            && retries.iter().all(|r| *r >= 1);
        last = Some((raw.clone(), text.clone()));
        still.then_some((raw, after, text))
    });
    let (raw, per, text) = settled.unwrap_or_else(|| {
        panic!(
            "the queue did not settle with {ENVELOPES} pending envelopes within 90 s; last \
             smtpctl view and scrape: {last:?}\nlog:\n{}",
            sm.log()
        )
    });
    eprintln!("smtpctl show queue (OpenSMTPD 6.8.0p2):\n{raw}");

    // The gauges match smtpctl's own count, state by state, and its number of lines.
    let got = gauges(&text, "smtp_queue_messages");
    for q in QUEUES {
        // smtpctl's `invalid` run state (held by the scheduler) is the `held` queue.
        let state = if q == "held" { "invalid" } else { q };
        let want = per.get(state).copied().unwrap_or(0) as f64;
        assert_eq!(
            got.get(q),
            Some(&want),
            "queue {q}: {got:?} vs smtpctl {per:?}"
        );
    }
    assert_eq!(
        got.values().sum::<f64>(),
        raw.lines().filter(|l| !l.is_empty()).count() as f64
    );
    // One age per envelope, within the test's run time; no size histogram (smtpctl gives none).
    let ages = gauges(&text, "smtp_queue_message_age_seconds_count");
    assert_eq!(ages.get("pending"), Some(&(ENVELOPES as f64)), "{ages:?}");
    assert!(
        !text.contains("smtp_queue_message_size_bytes_count{mta=\"opensmtpd\"")
            && gauges(&text, "smtp_queue_message_size_bytes_count").is_empty(),
        "{text}"
    );
    let oldest = gauges(&text, "smtp_queue_oldest_message_age_seconds");
    let limit = t0.elapsed().as_secs_f64() + 2.0;
    assert!(
        oldest
            .get("pending")
            .is_some_and(|a| (0.0..=limit).contains(a)),
        "{oldest:?}"
    );
    assert_eq!(oldest.get("inflight"), Some(&0.0));
    metrics::promtool_check(&text).unwrap_or_else(|e| panic!("{e}"));
    let page =
        String::from_utf8_lossy(&metrics::http_get(exporter.addr, "/").unwrap().body).into_owned();
    assert!(
        page.contains(&format!("{ENVELOPES} envelope(s): pending {ENVELOPES}")),
        "landing page: {page}"
    );

    // smtpctl remove all: every gauge back to zero.
    let (ok, out) = sm.smtpctl(&["remove", "all"]);
    assert!(ok, "smtpctl remove all: {out}");
    let emptied = wait_for(Duration::from_secs(30), Duration::from_millis(250), || {
        show_queue(&sm).1.is_empty().then_some(())
    });
    assert!(
        emptied.is_some(),
        "smtpctl still lists envelopes after remove all"
    );
    let text = exporter.scrape().unwrap();
    assert_eq!(gauges(&text, "smtp_queue_messages"), zero, "{text}");
    assert_eq!(gauges(&text, "smtp_queue_oldest_message_age_seconds"), zero);
    assert_eq!(errors(&text), 0.0);

    // The daemon down: smtpctl (root) reads the spool itself and lists every envelope as
    // `offline`. The exporter's smtpctl wrapper now runs smtpctl with the test's spool mounted
    // over /var/spool/smtpd and an empty /run (no control socket), as on a host whose smtpd is
    // stopped.
    send(&sm);
    let queued = wait_for(Duration::from_secs(90), Duration::from_millis(250), || {
        let (_, per, retries) = show_queue(&sm);
        (per.get("pending") == Some(&ENVELOPES) && retries.iter().all(|r| *r >= 1)).then_some(())
    });
    assert!(queued.is_some(), "the second batch did not queue");
    sm.stop();
    let spool = dir.subdir("opensmtpd").join("spool");
    let offline = format!(
        "#!/bin/sh\nexec {} -m --propagation private /bin/sh -c 'mount --bind {} /var/spool/smtpd && mount -t tmpfs -o mode=755 nstmp /run && exec {}/usr/sbin/smtpctl \"$@\"' sh \"$@\"\n",
        util::require_tool("unshare").display(),
        spool.display(),
        harness::opensmtpd::ROOT
    );
    std::fs::write(&smtpctl, offline).unwrap();
    let (raw, per, _) = show_queue_with(&smtpctl);
    eprintln!("smtpctl show queue, daemon stopped (OpenSMTPD 6.8.0p2):\n{raw}");
    assert_eq!(
        per,
        BTreeMap::from([("offline".to_owned(), ENVELOPES)]),
        "{raw}"
    );
    let text = exporter.scrape().unwrap();
    let mut want = zero.clone();
    want.insert("offline".into(), ENVELOPES as f64);
    assert_eq!(gauges(&text, "smtp_queue_messages"), want, "{text}");
    assert_eq!(errors(&text), 0.0);
}

/// A smtpctl that cannot be run never fails the scrape: the error is a self-metric and a line
/// on the landing page, and the queue's gauges are left out.
#[test]
fn a_broken_smtpctl_is_a_self_metric_not_a_scrape_error() {
    queue::broken_reader_is_a_self_metric(
        "opensmtpd",
        &[
            "--log.format",
            "opensmtpd",
            "--queue.smtpctl",
            "/nonexistent/smtpctl",
        ],
        "/nonexistent/smtpctl show queue",
    );
}
