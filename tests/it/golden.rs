//! Golden files: each `tests/fixtures/<format>/<case>.log` that has a `<case>.expected` beside
//! it is replayed through the whole pipeline (split → parse → aggregate) and every series of
//! `smtp_replies_total` and `smtp_expired_total` must match, with nothing extra. The expected
//! files come from what the real-MTA test harness recorded, not from the exporter.

// A test crate: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use smtp_status_exporter::aggregate::SourceId;
use smtp_status_exporter::aggregate::{Aggregator, Bounds};
use smtp_status_exporter::parse::{Format, Parser};
use smtp_status_exporter::source::replay::replay_file;

use crate::harness::series;

fn cases() -> Vec<(Format, PathBuf)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut out = Vec::new();
    for format in Format::ALL {
        let dir = root.join(format.name());
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "log") && p.with_extension("expected").exists() {
                out.push((format, p));
            }
        }
    }
    out.sort_by(|a, b| a.1.cmp(&b.1));
    out
}

#[test]
fn every_golden_file_matches() {
    let cases = cases();
    assert!(
        !cases.is_empty(),
        "no golden files found under tests/fixtures"
    );
    let mut failures = String::new();
    for (format, log) in cases {
        let mut agg = Aggregator::new(
            vec![(format.name().to_owned(), format.name().to_owned())],
            &Bounds {
                domains_max: 100,
                ..Bounds::default()
            },
        );
        replay_file(&log, SourceId(0), &Parser::from(format).into(), &mut agg).unwrap();
        let got = series::render(&agg, &[]);
        let want = series::parse_expected(
            &std::fs::read_to_string(log.with_extension("expected")).unwrap(),
        );
        for key in want
            .keys()
            .chain(got.keys())
            .collect::<std::collections::BTreeSet<_>>()
        {
            let (w, g) = (want.get(key), got.get(key));
            if w != g {
                failures += &format!(
                    "{}: want {w:?} got {g:?} {key}\n",
                    log.file_name().unwrap().to_string_lossy()
                );
            }
        }
        let [_, _, unrecognised] = agg.total_lines();
        if unrecognised != 0 {
            failures += &format!("{}: {unrecognised} unrecognised lines\n", log.display());
        }
    }
    assert!(failures.is_empty(), "golden files differ:\n{failures}");
}
