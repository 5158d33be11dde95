//! Where replay's time goes, per line: the syslog header split, the Postfix parser on each kind
//! of line, the aggregator, the line splitter, and the whole pipeline (split → parse →
//! aggregate, i.e. `source::ingest` into an `Aggregator`) over a realistic mix.
//!
//! The lines are real: taken from `tests/fixtures/postfix/*.log` (written by Postfix 3.7.11).
//! The only invented line is the one of another program (an `opendkim` line with the header of
//! a real one), since those fixtures hold Postfix's own `maillog_file`, where no other program
//! writes; a real `/var/log/mail.log` has them.
//!
//! Run: `cargo bench --bench parse` (add `-- --quick` for a shorter run). Not part of the tests.
//! Each benchmark reports its throughput in lines (elements) per second; the time per
//! iteration of a one-line benchmark is the time per line.

use std::hint::black_box;
use std::path::Path;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use smtp_status_exporter::aggregate::{Aggregator, Bounds, SourceId};
use smtp_status_exporter::parse::{postfix, syslog, Parsed, Parser};
use smtp_status_exporter::source::ingest;
use smtp_status_exporter::source::lines::{Line, LineSplitter};

fn fixture_lines() -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/postfix");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|x| x == "log"));
    files.sort();
    let mut lines = Vec::new();
    for f in files {
        let Ok(text) = std::fs::read(&f) else {
            continue;
        };
        lines.extend(
            text.split(|&b| b == b'\n')
                .filter(|l| !l.is_empty())
                .map(<[u8]>::to_vec),
        );
    }
    assert!(!lines.is_empty(), "no lines in {}", dir.display());
    lines
}

/// The first fixture line holding every one of `needles`.
fn pick<'a>(lines: &'a [Vec<u8>], needles: &[&str]) -> &'a [u8] {
    lines
        .iter()
        .find(|l| {
            needles
                .iter()
                .all(|n| memchr::memmem::find(l, n.as_bytes()).is_some())
        })
        .unwrap_or_else(|| panic!("no fixture line with {needles:?}"))
}

/// The fixture lines repeated `rounds` times, each recipient domain rewritten to one of 3 000
/// domains with a long-tailed popularity (as `scripts/gen-postfix-log.py` does for the large
/// log), so that the domain bound (100) folds the tail into `other` as in real traffic.
fn mixed_block(lines: &[Vec<u8>], rounds: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut seed: u64 = 42;
    for _ in 0..rounds {
        for l in lines {
            let Some(at) = memchr::memmem::find(l, b"@") else {
                out.extend_from_slice(l);
                out.push(b'\n');
                continue;
            };
            let end = l[at..]
                .iter()
                .position(|&c| c == b'>' || c == b',' || c == b' ')
                .map_or(l.len(), |i| at + i);
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let r = (seed >> 33) as f64 / f64::from(1u32 << 31);
            // Half of the mail goes to six big providers, the rest spreads over a long tail.
            let domain = if r < 0.5 {
                [
                    "gmail.com",
                    "outlook.com",
                    "yahoo.com",
                    "gmx.de",
                    "web.de",
                    "orange.fr",
                ][(r * 12.0) as usize]
                    .to_owned()
            } else {
                format!("d{}.example", (((r - 0.5) * 2.0).powi(3) * 3000.0) as u32)
            };
            out.extend_from_slice(&l[..=at]);
            out.extend_from_slice(domain.as_bytes());
            out.extend_from_slice(&l[end..]);
            out.push(b'\n');
        }
    }
    out
}

fn new_aggregator() -> Aggregator {
    Aggregator::new(
        vec![("postfix".to_owned(), "postfix".to_owned())],
        &Bounds {
            domains_max: 100,
            ..Bounds::default()
        },
    )
}

fn per_line(c: &mut Criterion) {
    let lines = fixture_lines();
    let outbound_sent = pick(&lines, &["postfix/smtp[", "status=sent (250"]);
    let outbound_bounce = pick(&lines, &["status=bounced", "said: 550-5.1.1"]);
    let inbound_reject = pick(&lines, &["postfix/smtpd[", "NOQUEUE: reject: RCPT"]);
    let ignored_qmgr = pick(&lines, &["postfix/qmgr[", "(queue active)"]);
    let ignored_connect = pick(&lines, &["postfix/smtpd[", "]: connect from "]);
    let ignored_cleanup = pick(&lines, &["postfix/cleanup[", ": message-id=<"]);
    let ignored_bounce = pick(&lines, &["postfix/bounce[", "non-delivery notification"]);
    // Another program in the same file: a real header, an opendkim message.
    let header_end = memchr::memmem::find(outbound_sent, b"postfix/").unwrap_or(0);
    let mut other_program = outbound_sent[..header_end].to_vec();
    other_program.extend_from_slice(
        b"opendkim[812]: 462FF98C182: DKIM-Signature field added (s=mail, d=example.com)",
    );

    let cases: [(&str, &[u8]); 8] = [
        ("outbound_status_sent", outbound_sent),
        ("outbound_status_bounced_multiline", outbound_bounce),
        ("inbound_smtpd_reject", inbound_reject),
        ("ignored_postfix_qmgr", ignored_qmgr),
        ("ignored_postfix_cleanup", ignored_cleanup),
        ("ignored_postfix_bounce", ignored_bounce),
        ("ignored_postfix_connect", ignored_connect),
        ("other_program", &other_program),
    ];

    let mut g = c.benchmark_group("line");
    g.throughput(Throughput::Elements(1));
    for (name, line) in cases {
        // Sanity: the line is what its name says.
        let parsed = postfix::parse(line);
        match name {
            n if n.starts_with("outbound") || n.starts_with("inbound") => {
                assert!(matches!(parsed, Parsed::Event(_)), "{name}: {parsed:?}");
            }
            _ => assert_eq!(parsed, Parsed::Ignored, "{name}"),
        }
        g.bench_function(format!("syslog_split/{name}"), |b| {
            b.iter(|| syslog::split(black_box(line)));
        });
        g.bench_function(format!("postfix_parse/{name}"), |b| {
            b.iter(|| postfix::parse(black_box(line)));
        });
        let mut agg = new_aggregator();
        g.bench_function(format!("ingest/{name}"), |b| {
            b.iter(|| {
                ingest(
                    &mut agg,
                    SourceId(0),
                    &mut Parser::Postfix,
                    Line::Complete(black_box(line)),
                )
            });
        });
    }
    g.finish();
}

/// The realistic mix, stage by stage: split only, split + parse, parse + aggregate of
/// pre-split lines, aggregate of pre-parsed lines, and everything together.
fn pipeline(c: &mut Criterion) {
    let lines = fixture_lines();
    let block = mixed_block(&lines, 8);
    let split: Vec<&[u8]> = block
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    let n = split.len() as u64;
    let parsed: Vec<Parsed<'_>> = split.iter().map(|l| postfix::parse(l)).collect();

    let mut g = c.benchmark_group("mix");
    g.throughput(Throughput::Elements(n));
    g.bench_function("split", |b| {
        let mut s = LineSplitter::default();
        b.iter(|| {
            let mut count = 0usize;
            s.feed(black_box(&block), |l| {
                count += usize::from(matches!(l, Line::Complete(_)));
            });
            count
        });
    });
    g.bench_function("split+syslog_split", |b| {
        let mut s = LineSplitter::default();
        b.iter(|| {
            let mut count = 0usize;
            s.feed(black_box(&block), |l| {
                if let Line::Complete(l) = l {
                    count += usize::from(syslog::split(l).is_some());
                }
            });
            count
        });
    });
    g.bench_function("split+parse", |b| {
        let mut s = LineSplitter::default();
        b.iter(|| {
            let mut count = 0usize;
            s.feed(black_box(&block), |l| {
                if let Line::Complete(l) = l {
                    count += usize::from(matches!(postfix::parse(l), Parsed::Event(_)));
                }
            });
            count
        });
    });
    g.bench_function("parse", |b| {
        b.iter(|| {
            split
                .iter()
                .filter(|l| matches!(postfix::parse(black_box(l)), Parsed::Event(_)))
                .count()
        });
    });
    g.bench_function("aggregate", |b| {
        let mut agg = new_aggregator();
        b.iter(|| {
            for p in &parsed {
                agg.record(SourceId(0), black_box(p));
            }
        });
    });
    g.bench_function("split+parse+aggregate (ingest)", |b| {
        let mut s = LineSplitter::default();
        let mut agg = new_aggregator();
        b.iter(|| {
            s.feed(black_box(&block), |l| {
                ingest(&mut agg, SourceId(0), &mut Parser::Postfix, l)
            });
        });
    });
    // A fresh aggregator each time: the cost of first sightings (domain interning, new series).
    g.bench_function("split+parse+aggregate, fresh aggregator", |b| {
        b.iter_batched(
            new_aggregator,
            |mut agg| {
                let mut s = LineSplitter::default();
                s.feed(black_box(&block), |l| {
                    ingest(&mut agg, SourceId(0), &mut Parser::Postfix, l)
                });
                agg
            },
            BatchSize::LargeInput,
        );
    });
    g.finish();
}

/// The parser over the lines of each program in the realistic mix: which kinds of line the
/// time goes to (ns per line of that program × its share of the lines).
fn by_program(c: &mut Criterion) {
    let lines = fixture_lines();
    let block = mixed_block(&lines, 8);
    let mut groups: Vec<(String, Vec<&[u8]>)> = Vec::new();
    for l in block.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let tag = syslog::split(l).map_or_else(
            || "(no header)".to_owned(),
            |h| String::from_utf8_lossy(h.tag).into_owned(),
        );
        match groups.iter_mut().find(|(t, _)| *t == tag) {
            Some((_, v)) => v.push(l),
            None => groups.push((tag, vec![l])),
        }
    }
    let total: usize = groups.iter().map(|(_, v)| v.len()).sum();
    groups.sort_by_key(|(_, v)| std::cmp::Reverse(v.len()));
    let mut g = c.benchmark_group("program");
    for (tag, group) in groups.iter().filter(|(_, v)| v.len() * 100 >= total) {
        g.throughput(Throughput::Elements(group.len() as u64));
        let share = group.len() * 100 / total;
        g.bench_function(format!("postfix_parse/{tag} ({share}% of lines)"), |b| {
            b.iter(|| {
                group
                    .iter()
                    .filter(|l| matches!(postfix::parse(black_box(l)), Parsed::Event(_)))
                    .count()
            });
        });
    }
    g.finish();
}

/// The reason classes of `smtp_failures_total`: one classification per 4xx/5xx reply, against
/// the parse of the same line (the reference in the same run).
fn reasons(c: &mut Criterion) {
    use smtp_status_exporter::codes::reasons::Reasons;
    use smtp_status_exporter::parse::Event;
    let lines = fixture_lines();
    let bounce = pick(&lines, &["status=bounced", "said: 550-5.1.1"]);
    let refused = pick(&lines, &["status=deferred", "Connection refused"]);
    let reject = pick(&lines, &["postfix/smtpd[", "NOQUEUE: reject: RCPT"]);
    let spamhaus: &[u8] = b"554 5.7.1 Service unavailable; Client host [192.0.2.10] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/192.0.2.10";
    let table = Reasons::default();
    let mut g = c.benchmark_group("reason");
    g.throughput(Throughput::Elements(1));
    for (name, line) in [
        ("outbound_bounced_multiline", bounce),
        ("outbound_deferred_connection_refused", refused),
        ("inbound_smtpd_reject", reject),
    ] {
        let Parsed::Event(Event::Reply(r)) = postfix::parse(line) else {
            panic!("{name}: not a reply");
        };
        g.bench_function(format!("postfix_parse/{name}"), |b| {
            b.iter(|| postfix::parse(black_box(line)));
        });
        g.bench_function(format!("classify/{name}"), |b| {
            b.iter(|| table.classify(r.code, r.enhanced, black_box(r.text)));
        });
    }
    let (code, enhanced) = smtp_status_exporter::parse::leading_reply_codes(spamhaus);
    g.bench_function("classify/spamhaus_reply", |b| {
        b.iter(|| table.classify(code, enhanced, black_box(spamhaus)));
    });
    g.finish();

    // The realistic mix: the classification of its failures against the whole pipeline over
    // it (which includes them), so the share of the time the reasons cost.
    let block = mixed_block(&lines, 8);
    let split: Vec<&[u8]> = block
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    let failures: Vec<_> = split
        .iter()
        .filter_map(|l| match postfix::parse(l) {
            Parsed::Event(Event::Reply(r))
                if matches!(
                    r.code
                        .map(|c| c.class_digit())
                        .or(r.enhanced.map(|e| e.class_digit())),
                    Some(4 | 5)
                ) =>
            {
                Some(r)
            }
            _ => None,
        })
        .collect();
    let mut g = c.benchmark_group("reason-mix");
    g.throughput(Throughput::Elements(split.len() as u64));
    g.bench_function(
        format!("classify the {} failures of the mix", failures.len()),
        |b| {
            b.iter(|| {
                failures
                    .iter()
                    .map(|r| table.classify(r.code, r.enhanced, black_box(r.text)).0 as usize)
                    .sum::<usize>()
            });
        },
    );
    // As the aggregator does it: through the memo of recent replies (the mix repeats its
    // fixture lines, so this is the best case; a storm of one reply comes close to it).
    g.bench_function(
        format!(
            "classify the {} failures of the mix, with the memo",
            failures.len()
        ),
        |b| {
            let mut memo = smtp_status_exporter::codes::reasons::Memo::default();
            b.iter(|| {
                failures
                    .iter()
                    .map(|r| {
                        memo.classify(&table, r.code, r.enhanced, black_box(r.text))
                            .0 as usize
                    })
                    .sum::<usize>()
            });
        },
    );
    g.bench_function(
        format!(
            "split+parse+aggregate (ingest) of the {} lines",
            split.len()
        ),
        |b| {
            let mut s = LineSplitter::default();
            let mut agg = new_aggregator();
            b.iter(|| {
                s.feed(black_box(&block), |l| {
                    ingest(&mut agg, SourceId(0), &mut Parser::Postfix, l)
                });
            });
        },
    );
    g.finish();
}

/// The status page `/` over about 4,000 reply series: what it holds the counters' lock for (the
/// copy) against what it does after (the rendering). A slip to holding the lock while
/// rendering, or to something quadratic, shows here (a timed unit test would be noise).
fn status_page(c: &mut Criterion) {
    use smtp_status_exporter::aggregate::Counters;
    use smtp_status_exporter::http::status::{render, Snapshot};
    use smtp_status_exporter::parse::Format;
    let mut agg = Aggregator::new(
        vec![("postfix".to_owned(), "postfix".to_owned())],
        &Bounds {
            domains_max: 1000,
            ..Bounds::default()
        },
    );
    for i in 0..20_000 {
        let (code, status) = [
            ("250 2.0.0", "sent"),
            ("451 4.7.1", "deferred"),
            ("550 5.1.1", "bounced"),
            ("421 4.7.28", "deferred"),
        ][i % 4];
        let line = format!(
            "Dec  7 12:00:00 mx postfix/smtp[1]: 3F2A81C0B2A: to=<u{i}@d{}.example>, \
             relay=mx.d.example[192.0.2.1]:25, delay=1, delays=0/0/0/1, dsn={}, \
             status={status} (host mx said: {code} x (in reply to RCPT TO command))",
            i % 997,
            &code[4..]
        );
        agg.record(SourceId(0), &Format::Postfix.parse(line.as_bytes()));
    }
    let series = agg.replies.len();
    let shared = smtp_status_exporter::http::Shared {
        agg: Counters::new(agg),
        telemetry_path: "/metrics".to_owned(),
        build: smtp_status_exporter::expose::BuildInfo::CURRENT,
        web: Default::default(),
        state: None,
        queues: Default::default(),
        admission: Default::default(),
    };
    let mut g = c.benchmark_group("status_page");
    g.bench_function(format!("copy under the lock ({series} series)"), |b| {
        b.iter(|| Snapshot::of(&shared.agg.lock(), Counters::now()))
    });
    let snapshot = Snapshot::of(&shared.agg.lock(), Counters::now());
    g.bench_function(format!("render after it ({series} series)"), |b| {
        b.iter(|| render(black_box(&snapshot), &shared).len())
    });
    g.finish();
}

criterion_group!(
    benches,
    per_line,
    pipeline,
    by_program,
    reasons,
    status_page
);
criterion_main!(benches);
