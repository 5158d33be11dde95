//! `replay` cuts a large plain file into parts read on several threads; the merged counts and
//! the bounded labels must be exactly those of one pass, whatever the cut points.

// A test crate: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use smtp_status_exporter::aggregate::SourceId;
use smtp_status_exporter::aggregate::{Aggregator, Bounds};
use smtp_status_exporter::parse::{Format, Parser};
use smtp_status_exporter::source::replay::{replay_file_split, Split};

/// The real Postfix capture, many times over, with recipient domains spread over more distinct
/// values than the bound keeps, overlapping between the start and the end of the file.
fn write_log(path: &Path, distinct: usize) {
    let real = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/postfix/e2e-run.log"),
    )
    .unwrap();
    let mut out = String::new();
    for round in 0..12 {
        for (i, line) in real.lines().enumerate() {
            let d = format!("@r{}.example>", (round * 7 + i) % distinct);
            out += &line.replace(".test>", &d).replace(".TEST>", &d);
            out.push('\n');
        }
    }
    out += "Nov 23 02:16:56 mta postfix/qmgr[1]: ABC: removed"; // no newline at the end
    std::fs::write(path, out).unwrap();
}

fn count(path: &Path, threads: usize, min_part: u64, part_domains: usize) -> Aggregator {
    let bounds = Bounds {
        domains_max: 7,
        domains_keep: vec!["r3.example".into()],
        domain_groups: vec![("grp".into(), vec!["r5.example".into(), "r6.example".into()])],
        ..Bounds::default()
    };
    let mut agg = Aggregator::new(vec![("postfix".into(), "postfix".into())], &bounds);
    let split = Split {
        threads,
        min_part,
        part_domains,
    };
    replay_file_split(
        path,
        SourceId(0),
        &Parser::from(Format::Postfix).into(),
        &mut agg,
        split,
    )
    .unwrap();
    agg
}

/// Everything counted, by label values.
fn summary(a: &Aggregator) -> String {
    let mut s = String::new();
    for (k, v) in a.sorted_replies() {
        s += &format!("{:?} {v}\n", a.reply_labels(&k));
    }
    for (k, v) in a.sorted_failures() {
        s += &format!("{:?} {v}\n", a.failure_labels(&k));
    }
    assert!(!a.failures.is_empty(), "the capture has failures");
    let src = &a.sources[0];
    s += &format!(
        "lines {:?} bytes {} expired {} overflow {:?}\n",
        src.line_counts(),
        src.bytes,
        src.expired,
        a.label_overflow
    );
    let mut delays: Vec<_> = a.delays.iter().collect();
    delays.sort_by_key(|(k, _)| **k);
    for (k, h) in delays {
        s += &format!("{k:?} {:?} {}\n", h.buckets, h.count);
    }
    s
}

#[test]
fn split_replay_counts_exactly_as_one_pass() {
    // 23 domains: every part keeps all of its domains and is merged. 300, more than a part
    // keeps here (30): parts fold some and are counted again in turn. Both must give what one
    // pass gives.
    for distinct in [23, 300] {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("mail.log");
        write_log(&log, distinct);
        let one = summary(&count(&log, 1, u64::MAX, 30));
        assert!(one.contains("\"other\""), "the bound is exercised");
        let size = std::fs::metadata(&log).unwrap().len();
        for threads in [2, 3, 4, 7] {
            let split = summary(&count(&log, threads, size / threads as u64 / 2, 30));
            let differ: Vec<_> = one
                .lines()
                .zip(split.lines())
                .filter(|(a, b)| a != b)
                .take(5)
                .collect();
            assert!(
                split == one,
                "{distinct} domains, {threads} parts: {} lines against {}, first differences \
                 (one pass, split): {differ:#?}",
                split.lines().count(),
                one.lines().count()
            );
        }
    }
}
