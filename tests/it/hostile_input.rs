//! Hostile log input cannot grow memory or corrupt counts: a live log with a million distinct
//! recipient domains, lines far over the line cap, binary garbage, invalid UTF-8, NUL bytes and
//! fake reply codes (`999`, `9.99.999`), mixed with valid Postfix lines. The counts of the valid
//! lines are exact, the domain label stays bounded with the rest counted in
//! `smtp_status_exporter_label_overflow_total`, no fake code becomes a label value, and the
//! exporter's peak RSS (VmHWM in /proc) stays under a stated bound.
//!
//! The line templates are real Postfix 3.7 lines from tests/fixtures/postfix/parser-capture.log
//! with the recipient, code and text changed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::harness;

use std::fs;
use std::io::{BufWriter, Write};
use std::time::{Duration, Instant};

use harness::exporter::Exporter;
use harness::metrics::{parse_exposition, scrape, series};
use harness::util::{wait_for, TestDir};

/// Distinct recipient domains of the delivered lines.
const DOMAINS: usize = 1_000_000;
/// Peak resident memory allowed for the exporter (a debug build) through the whole flood
/// (measured: about 15 MiB, 1.2x its RSS before the flood).
const RSS_BOUND_KIB: u64 = 64 * 1024;

fn sent(domain: &str) -> String {
    format!(
        "Nov 23 02:12:58 mx postfix/smtp[10732]: 1CA9A98C0C2: to=<user@{domain}>, \
         relay=127.0.0.1[127.0.0.1]:12600, delay=0.03, delays=0.01/0.02/0/0, dsn=2.0.0, \
         status=sent (250 2.0.0 Ok: queued as 4XyZ12AbCd)\n"
    )
}

const BOUNCE: &str = "Nov 23 02:12:58 mx postfix/smtp[10731]: 1B0E698C15E: \
    to=<nodsn1@remote.example>, relay=127.0.0.1[127.0.0.1]:12600, delay=0.05, \
    delays=0.01/0.01/0/0.03, dsn=5.1.1, status=bounced (host 127.0.0.1[127.0.0.1] said: 550 \
    5.1.1 mailbox unavailable (in reply to RCPT TO command))\n";

/// A deferral whose remote text is invalid UTF-8 and carries NUL bytes: still one 450 4.2.0.
fn deferred_hostile_text(i: usize) -> Vec<u8> {
    let mut l = b"Nov 23 02:12:58 mx postfix/smtp[10731]: 1B0E698C15E: to=<x@remote.example>, \
        relay=127.0.0.1[127.0.0.1]:12600, delay=0.05, delays=0.01/0.01/0/0.03, dsn=4.2.0, \
        status=deferred (host 127.0.0.1[127.0.0.1] said: 450 4.2.0 \xff\xfe\xc3\x28 "
        .to_vec();
    l.extend_from_slice(b"\0\0\0");
    l.extend_from_slice(format!("{i} ").as_bytes());
    l.extend_from_slice(b"\xe2\x82 full (in reply to RCPT TO command))\n");
    l
}

/// A bounce whose codes are not reply codes: counted (a bounce), never as `999`/`9.99.999`.
const FAKE_CODES: &str = "Nov 23 02:12:58 mx postfix/smtp[10731]: 1B0E698C15E: \
    to=<fake@remote.example>, relay=127.0.0.1[127.0.0.1]:12600, delay=0.05, \
    delays=0.01/0.01/0/0.03, dsn=9.99.999, status=bounced (host 127.0.0.1[127.0.0.1] said: 999 \
    9.99.999 not a code (in reply to RCPT TO command))\n";

/// Deterministic junk (xorshift), never a newline.
struct Junk(u64);
impl Junk {
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n)
            .map(|_| {
                self.0 ^= self.0 << 13;
                self.0 ^= self.0 >> 7;
                self.0 ^= self.0 << 17;
                match (self.0 >> 24) as u8 {
                    b'\n' => 0,
                    b => b,
                }
            })
            .collect()
    }
}

fn vm_kib(pid: u32, field: &str) -> u64 {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

#[test]
#[ignore = "slow (a 230 MiB flood, about 30 s): run by scripts/test"]
fn a_flood_of_hostile_lines_keeps_counts_exact_and_memory_bounded() {
    let _heavy = harness::heavy();
    let t = TestDir::new("hostile-");
    let log = t.path().join("mail.log");
    fs::write(&log, "").unwrap();
    let mut exp = Exporter::start_any_port(
        &[&log],
        &t.path().join("state.json"),
        &t.path().join("exporter.stderr"),
        &[],
    )
    .unwrap();
    let pid = exp.pid();
    let rss_start = vm_kib(pid, "VmRSS:");

    let started = Instant::now();
    let mut w = BufWriter::with_capacity(
        1 << 20,
        fs::OpenOptions::new().append(true).open(&log).unwrap(),
    );
    let mut junk = Junk(0x9e37_79b9_7f4a_7c15);
    let (mut lines, mut bounces, mut deferrals, mut fakes) = (0u64, 0u64, 0u64, 0u64);
    // remote.example first, so it holds one of the 100 domain labels.
    w.write_all(BOUNCE.as_bytes()).unwrap();
    lines += 1;
    bounces += 1;
    for i in 0..DOMAINS {
        w.write_all(sent(&format!("d{i}.example")).as_bytes())
            .unwrap();
        lines += 1;
        if i % 1000 == 0 {
            w.write_all(BOUNCE.as_bytes()).unwrap();
            w.write_all(&deferred_hostile_text(i)).unwrap();
            w.write_all(FAKE_CODES.as_bytes()).unwrap();
            // Binary garbage, a run of NULs, a line of invalid UTF-8 only.
            w.write_all(&junk.bytes(300)).unwrap();
            w.write_all(b"\n\0\0\0\0\0\0\0\0\n\xff\xfe\xfd\xc0\xc1\xf5\n")
                .unwrap();
            lines += 6;
            bounces += 1;
            deferrals += 1;
            fakes += 1;
        }
        if i % 10_000 == 0 {
            // Far over the 64 KiB line cap, once with a valid line's start.
            let mut long = sent("long.example").into_bytes();
            long.pop();
            long.extend_from_slice(&vec![b'A'; 200 * 1024]);
            long.push(b'\n');
            w.write_all(&long).unwrap();
            w.write_all(&junk.bytes(100 * 1024)).unwrap();
            w.write_all(b"\n").unwrap();
            lines += 2;
        }
    }
    w.flush().unwrap();
    drop(w);
    let size = fs::metadata(&log).unwrap().len();
    eprintln!(
        "hostile_input: wrote {lines} lines, {} MiB, in {:?}",
        size >> 20,
        started.elapsed()
    );

    let read = wait_for(Duration::from_secs(300), Duration::from_millis(500), || {
        let text = scrape(exp.addr).ok()?;
        let s = parse_exposition(&text).ok()?;
        let total: f64 = series(&s, "smtp_status_exporter_lines_total")
            .values()
            .sum();
        (total as u64 == lines).then_some(text)
    });
    let took = started.elapsed();
    let text = read.unwrap_or_else(|| {
        panic!(
            "the exporter did not read all {lines} lines in 300 s; stderr:\n{}",
            exp.stderr_tail(20)
        )
    });
    let peak = vm_kib(pid, "VmHWM:");
    let rss_end = vm_kib(pid, "VmRSS:");
    eprintln!(
        "hostile_input: read in {took:?}; RSS at start {rss_start} KiB, peak {peak} KiB \
         ({:.2}x the start), at the end {rss_end} KiB; bound {RSS_BOUND_KIB} KiB",
        peak as f64 / rss_start as f64
    );
    let s = parse_exposition(&text).unwrap();
    let replies = series(&s, "smtp_replies_total");
    let sum_where = |pairs: &[(&str, &str)]| -> u64 {
        replies
            .iter()
            .filter(|(labels, _)| {
                pairs
                    .iter()
                    .all(|(k, v)| labels.get(*k).map(String::as_str) == Some(*v))
            })
            .map(|(_, v)| *v as u64)
            .sum()
    };
    assert_eq!(
        sum_where(&[
            ("code", "250"),
            ("enhanced", "2.0.0"),
            ("outcome", "delivered")
        ]),
        DOMAINS as u64
    );
    assert_eq!(
        sum_where(&[("code", "550"), ("enhanced", "5.1.1")]),
        bounces
    );
    assert_eq!(
        sum_where(&[
            ("code", "450"),
            ("enhanced", "4.2.0"),
            ("outcome", "deferred")
        ]),
        deferrals,
        "invalid UTF-8 and NUL bytes in the reply text must not lose the reply"
    );
    // No fake code is a label value, and no label value is made of remote bytes.
    for labels in replies.keys() {
        for (k, v) in labels.iter() {
            assert!(!v.contains("999"), "{k}={v:?}");
            assert!(
                v.bytes().all(|b| b.is_ascii_graphic() || b == b' '),
                "{k}={v:?}"
            );
        }
    }
    let fake_lines = sum_where(&[("outcome", "bounced"), ("code", ""), ("enhanced", "")]);
    assert_eq!(
        fake_lines, fakes,
        "the fake-code bounces count as bounces without codes"
    );
    // The domain label: 100 values at most, plus `other`; the rest folded and counted.
    let domains: std::collections::BTreeSet<_> =
        replies.keys().filter_map(|l| l.get("domain")).collect();
    assert!(domains.len() <= 101, "{} domain values", domains.len());
    assert!(domains.contains(&"other".to_owned()));
    let overflow = series(&s, "smtp_status_exporter_label_overflow_total");
    let domain_overflow: f64 = overflow
        .iter()
        .filter(|(l, _)| l.get("label").map(String::as_str) == Some("domain"))
        .map(|(_, v)| *v)
        .sum();
    // remote.example took one label, d0…d98 the other 99: every later new domain is folded.
    assert_eq!(domain_overflow as u64, DOMAINS as u64 - 99);
    // Lines over the cap are unrecognised, with the garbage.
    let unrecognised: f64 = series(&s, "smtp_status_exporter_lines_total")
        .iter()
        .filter(|(l, _)| l.get("result").map(String::as_str) == Some("unrecognised"))
        .map(|(_, v)| *v)
        .sum();
    assert!(
        unrecognised as u64 >= 2 * (DOMAINS as u64 / 10_000),
        "{unrecognised}"
    );
    assert!(
        peak < RSS_BOUND_KIB,
        "peak RSS {peak} KiB over the bound {RSS_BOUND_KIB} KiB"
    );
    exp.terminate().unwrap();
}

/// Failures of the flood below: one series (deferred, 4xx, flood.example).
const FLOOD_FAILURES: usize = 1_000_000;
/// The flood's last failures carry a 2 KiB reply, so the ring ends full of them.
const LONG_TAIL: usize = 5_000;
/// Peak resident memory allowed through the failure flood (a debug build; measured: 18 MiB
/// at the start, 26 MiB at the peak, with the ring full of 2 KiB replies).
const FAILURE_RSS_BOUND_KIB: u64 = 48 * 1024;

/// A real Postfix 3.7 deferral line (tests/fixtures/postfix/parser-capture.log) with the
/// queue id, recipient and text changed.
fn flood_line(i: usize, text: &str) -> String {
    format!(
        "Nov 23 02:12:58 mx postfix/smtp[10731]: {i:011X}: to=<user{i}@flood.example>, \
         relay=127.0.0.1[127.0.0.1]:12600, delay=0.04, delays=0.01/0.01/0/0.01, dsn=4.2.0, \
         status=deferred (host 127.0.0.1[127.0.0.1] said: 450 4.2.0 {text} (in reply to RCPT \
         TO command))\n"
    )
}

/// A million failures of one series after one of another: the rare one keeps its sample on
/// `/failures`, the ring holds what its bounds say, and memory stays bounded with the ring
/// full of 2 KiB replies (`failures.text_max: 2048`).
#[test]
#[ignore = "slow (a 250 MiB flood of failures, about 50 s): run by scripts/test"]
fn a_flood_of_one_failure_series_leaves_a_rare_one_its_sample() {
    let _heavy = harness::heavy();
    let t = TestDir::new("hostile-failures-");
    let (log, config) = (t.path().join("mail.log"), t.path().join("config.yml"));
    fs::write(&log, "").unwrap();
    fs::write(&config, "time_zone: UTC\nfailures:\n  text_max: 2048\n").unwrap();
    let config_arg = format!("--config.file={}", config.display());
    let mut exp = Exporter::start_any_port(
        &[&log],
        &t.path().join("state.json"),
        &t.path().join("exporter.stderr"),
        &[&config_arg],
    )
    .unwrap();
    let (pid, rss_start) = (exp.pid(), vm_kib(exp.pid(), "VmRSS:"));
    let mut w = BufWriter::with_capacity(
        1 << 20,
        fs::OpenOptions::new().append(true).open(&log).unwrap(),
    );
    w.write_all(BOUNCE.replace("1B0E698C15E", "5EEDFACE123").as_bytes())
        .unwrap();
    let long = "x".repeat(2048);
    for i in 0..FLOOD_FAILURES {
        let text = if i + LONG_TAIL >= FLOOD_FAILURES {
            long.as_str()
        } else {
            "busy"
        };
        w.write_all(flood_line(i, text).as_bytes()).unwrap();
    }
    w.flush().unwrap();
    drop(w);
    let lines = FLOOD_FAILURES as u64 + 1;
    let read = wait_for(Duration::from_secs(300), Duration::from_millis(500), || {
        let s = parse_exposition(&scrape(exp.addr).ok()?).ok()?;
        let total: f64 = series(&s, "smtp_status_exporter_lines_total")
            .values()
            .sum();
        (total as u64 == lines).then_some(())
    });
    read.unwrap_or_else(|| {
        panic!(
            "not all {lines} lines read in 300 s: {}",
            exp.stderr_tail(20)
        )
    });
    let (peak, rss_end) = (vm_kib(pid, "VmHWM:"), vm_kib(pid, "VmRSS:"));
    eprintln!(
        "hostile_input: ring full of 2 KiB replies: RSS at start {rss_start} KiB, peak {peak} KiB, \
         at the end {rss_end} KiB; bound {FAILURE_RSS_BOUND_KIB} KiB"
    );
    let (status, body) = exp.get("/failures?format=json&limit=100000");
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let list = v["failures"].as_array().unwrap();
    // The last 1,000 of the flood, and the rare bounce kept by its series' reserve.
    assert_eq!(list.len(), 1001, "kept {}", v["kept"]);
    assert_eq!(list[0]["queue_id"], format!("{:011X}", FLOOD_FAILURES - 1));
    assert_eq!(
        list[999]["queue_id"],
        format!("{:011X}", FLOOD_FAILURES - 1000)
    );
    let rare = &list[1000];
    assert_eq!(
        (&rare["queue_id"], &rare["domain"], &rare["class"]),
        (
            &"5EEDFACE123".into(),
            &"remote.example".into(),
            &"5xx".into()
        )
    );
    assert!(list[..1000]
        .iter()
        .all(|f| f["text"].as_str().unwrap().len() > 2048));
    let (_, only) = exp.get("/failures?format=json&domain=remote.example");
    assert!(only.contains("5EEDFACE123"), "{only}");
    assert!(
        peak < FAILURE_RSS_BOUND_KIB,
        "peak RSS {peak} KiB over {FAILURE_RSS_BOUND_KIB} KiB"
    );
    exp.terminate().unwrap();
}
