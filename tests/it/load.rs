//! Load on loopback: many concurrent scrapes while lines stream into the log. Every scrape is
//! answered with a complete exposition, the exporter's memory stays flat (RSS at the end against
//! RSS once warmed up), and the final counts are exact. Meanwhile the status page `/` is read
//! every 50 ms (far more often than its 30 s refresh): its cost is printed beside the scrapes'.
//! All from one address, within its share of the connection bounds: none is refused. Bounded:
//! a fixed number of clients and scrapes, a fixed number of lines, generous time limits.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::harness;

use std::fs;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use harness::exporter::Exporter;
use harness::metrics::{http_get, parse_exposition, scrape, series};
use harness::util::{wait_for, TestDir};

const CLIENTS: usize = 50;
const SCRAPES_PER_CLIENT: usize = 20;
const BATCHES: usize = 200;
const LINES_PER_BATCH: usize = 1000;

/// A real Postfix 3.7 delivery line (tests/fixtures/postfix/parser-capture.log), recipient
/// domain varied over 20 values.
fn sent(i: usize) -> String {
    format!(
        "Nov 23 02:12:58 mx postfix/smtp[10732]: 1CA9A98C0C2: to=<user{i}@d{}.example>, \
         relay=127.0.0.1[127.0.0.1]:12600, delay=0.03, delays=0.01/0.02/0/0, dsn=2.0.0, \
         status=sent (250 2.0.0 Ok: queued as 4XyZ12AbCd)\n",
        i % 20
    )
}

fn rss_kib(pid: u32) -> u64 {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap()
}

#[test]
#[ignore = "slow (1000 scrapes while 200,000 lines stream in): run by scripts/test"]
fn concurrent_scrapes_while_lines_stream_in() {
    let _heavy = harness::heavy();
    let t = TestDir::new("load-");
    let log = t.path().join("mail.log");
    fs::write(&log, "").unwrap();
    let mut exp = Exporter::start_any_port(
        &[&log],
        &t.path().join("state.json"),
        &t.path().join("exporter.stderr"),
        &[],
    )
    .unwrap();
    let (addr, pid) = (exp.addr, exp.pid());
    // Warm up: a first batch counted and scraped, so the start figure includes the series.
    let mut f = fs::OpenOptions::new().append(true).open(&log).unwrap();
    let warm: String = (0..LINES_PER_BATCH).map(sent).collect();
    f.write_all(warm.as_bytes()).unwrap();
    let warmed = wait_for(Duration::from_secs(60), Duration::from_millis(50), || {
        let s = parse_exposition(&scrape(addr).ok()?).ok()?;
        let n: f64 = series(&s, "smtp_replies_total").values().sum();
        (n as usize == LINES_PER_BATCH).then_some(())
    });
    assert!(warmed.is_some(), "{}", exp.stderr_tail(20));
    let rss_start = rss_kib(pid);
    // Reference in the same run: the same clients asking /-/healthy (no exposition, no state
    // save), so the scrape figures read as a ratio on this machine's load.
    let started = Instant::now();
    let reference: Vec<Duration> = (0..CLIENTS)
        .map(|_| {
            std::thread::spawn(move || {
                (0..4)
                    .map(|_| {
                        let t0 = Instant::now();
                        assert_eq!(http_get(addr, "/-/healthy").unwrap().status, 200);
                        t0.elapsed()
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .flat_map(|c| c.join().unwrap())
        .collect();
    let reference_rate = reference.len() as f64 / started.elapsed().as_secs_f64();
    let mut reference = reference;
    reference.sort();
    let reference_p50 = reference[reference.len() / 2];

    let done = Arc::new(AtomicBool::new(false));
    let writer = {
        let done = Arc::clone(&done);
        std::thread::spawn(move || {
            for b in 1..BATCHES {
                let batch: String = (b * LINES_PER_BATCH..(b + 1) * LINES_PER_BATCH)
                    .map(sent)
                    .collect();
                f.write_all(batch.as_bytes()).unwrap();
                std::thread::sleep(Duration::from_millis(10));
            }
            done.store(true, Ordering::Relaxed);
        })
    };
    // The status page, read all along the scrapes: built under the same lock.
    let scraping = Arc::new(AtomicBool::new(true));
    let page_reader = {
        let scraping = Arc::clone(&scraping);
        std::thread::spawn(move || {
            let mut took = Vec::new();
            while scraping.load(Ordering::Relaxed) {
                let t0 = Instant::now();
                let r = http_get(addr, "/").unwrap();
                took.push(t0.elapsed());
                assert_eq!(r.status, 200);
                assert!(String::from_utf8_lossy(&r.body).contains("<svg id=\"per-minute\""));
                std::thread::sleep(Duration::from_millis(50));
            }
            took
        })
    };
    let started = Instant::now();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            std::thread::spawn(move || {
                let mut latencies = Vec::new();
                let mut last = 0.0;
                for _ in 0..SCRAPES_PER_CLIENT {
                    let t0 = Instant::now();
                    let r = http_get(addr, "/metrics").unwrap();
                    latencies.push(t0.elapsed());
                    assert_eq!(r.status, 200);
                    let text = String::from_utf8(r.body).unwrap();
                    let s = parse_exposition(&text).unwrap();
                    assert!(!series(&s, "smtp_status_exporter_build_info").is_empty());
                    // Counters never go backwards, scrape after scrape.
                    let n: f64 = series(&s, "smtp_replies_total").values().sum();
                    assert!(n >= last, "{n} after {last}");
                    last = n;
                }
                latencies
            })
        })
        .collect();
    let mut latencies: Vec<Duration> = clients
        .into_iter()
        .flat_map(|c| c.join().expect("a client failed"))
        .collect();
    let took = started.elapsed();
    scraping.store(false, Ordering::Relaxed);
    let mut pages = page_reader.join().expect("the status page reader failed");
    pages.sort();
    writer.join().unwrap();
    assert!(done.load(Ordering::Relaxed));

    let total = BATCHES * LINES_PER_BATCH;
    let exact = wait_for(Duration::from_secs(120), Duration::from_millis(100), || {
        let s = parse_exposition(&scrape(addr).ok()?).ok()?;
        let n: f64 = series(&s, "smtp_replies_total").values().sum();
        (n as usize == total).then_some(s)
    });
    let s = exact.unwrap_or_else(|| panic!("counts not exact; {}", exp.stderr_tail(20)));
    let lines: f64 = series(&s, "smtp_status_exporter_lines_total")
        .values()
        .sum();
    assert_eq!(lines as usize, total, "every line read once");
    // The connection bounds (SECURITY.md) are generous enough for real use: 50 concurrent
    // scrapers and the page reader from one address were never refused.
    let refused = series(&s, "smtp_status_exporter_http_connections_refused_total");
    assert_eq!(refused.len(), 2, "{refused:?}");
    assert!(refused.values().all(|&n| n == 0.0), "{refused:?}");
    let rss_end = rss_kib(pid);

    latencies.sort();
    let n = latencies.len();
    let rate = n as f64 / took.as_secs_f64();
    eprintln!(
        "load: {n} scrapes by {CLIENTS} clients in {took:?} ({rate:.0}/s) while {total} lines \
         streamed in; latency p50 {:?}, p99 {:?}, max {:?}; reference /-/healthy by the same \
         clients: {reference_rate:.0}/s, p50 {reference_p50:?} (scrape p50 {:.1}x the \
         reference's); RSS warmed up {rss_start} KiB, at the end {rss_end} KiB ({:.2}x); \
         the status page meanwhile: {} reads, p50 {:?}, max {:?}",
        latencies[n / 2],
        latencies[n * 99 / 100],
        latencies[n - 1],
        latencies[n / 2].as_secs_f64() / reference_p50.as_secs_f64(),
        rss_end as f64 / rss_start as f64,
        pages.len(),
        pages[pages.len() / 2],
        pages[pages.len() - 1],
    );
    assert_eq!(n, CLIENTS * SCRAPES_PER_CLIENT);
    // Flat: allocator slack and thread stacks of the busy moment, not growth with load.
    assert!(
        rss_end < rss_start * 2 + 16 * 1024,
        "RSS grew from {rss_start} KiB to {rss_end} KiB"
    );
    exp.terminate().unwrap();
}
