//! `--log.format auto` (the default): the format of each file decided by its first claimed line
//! (see `src/parse/auto.rs`), counted exactly — in `replay`, in `replay`'s parallel split, and
//! live with a restart in between — and said on `/` and in the log.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::harness;

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use harness::exporter::{self, Exporter};
use harness::metrics::{self, Labels};
use harness::util::wait_for;
use smtp_status_exporter::aggregate::SourceId;
use smtp_status_exporter::aggregate::{Aggregator, Bounds};
use smtp_status_exporter::parse::auto::Auto;
use smtp_status_exporter::parse::Parser;
use smtp_status_exporter::source::replay::{replay_file_split, Split};

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

/// A golden `.expected` file: labels → count, and `expired`.
fn expected(rel: &str) -> (BTreeMap<Labels, f64>, f64) {
    let text = fs::read_to_string(fixture(rel)).unwrap();
    let mut replies = BTreeMap::new();
    let mut expired = 0.0;
    for l in text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
    {
        let (n, rest) = l.split_once(' ').unwrap();
        if n == "expired" {
            expired = rest.trim().parse().unwrap();
            continue;
        }
        let body = rest.trim().trim_start_matches('{').trim_end_matches('}');
        let labels: Labels = body
            .split("\",")
            .map(|kv| {
                let (k, v) = kv.split_once("=\"").unwrap();
                (k.to_owned(), v.trim_end_matches('"').to_owned())
            })
            .collect();
        replies.insert(labels, n.parse().unwrap());
    }
    (replies, expired)
}

fn series(v: &serde_json::Value, key: &str) -> BTreeMap<Labels, f64> {
    v[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let labels = e["labels"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
                .collect();
            (labels, e["value"].as_f64().unwrap())
        })
        .filter(|(_, v)| *v != 0.0)
        .collect()
}

fn lines(v: &serde_json::Value) -> [u64; 3] {
    ["counted", "ignored", "unrecognised"].map(|k| v["lines"][k].as_u64().unwrap())
}

/// A Debian `mail.log`: the real Postfix capture with Dovecot, opendkim, postgrey, amavis,
/// spamd, policyd-spf and rspamd lines between its lines (and before the first). `auto`
/// detects Postfix and counts exactly what `--log.format postfix` counts on the Postfix lines
/// alone; the other programs' lines are `ignored`.
#[test]
fn a_mixed_debian_mail_log_is_postfix_and_the_others_are_ignored() {
    let mixed = fixture("auto/debian-mail.log");
    let auto = exporter::replay_json(&[&mixed]).unwrap();
    let (want, want_expired) = expected("auto/debian-mail.expected");
    assert_eq!(series(&auto, "replies"), want);
    let expired: f64 = series(&auto, "expired").values().sum();
    assert_eq!(expired, want_expired);

    let alone = exporter::replay_json_args(
        &["--log.format", "postfix"],
        &[&fixture("postfix/parser-capture.log")],
    )
    .unwrap();
    let others = fs::read_to_string(&mixed)
        .unwrap()
        .lines()
        .filter(|l| !l.contains(" postfix"))
        .count() as u64;
    let [c, i, u] = lines(&alone);
    assert_eq!(
        lines(&auto),
        [c, i + others, u],
        "{others} other programs' lines"
    );
}

/// Exim's main log is detected as Exim (the report is named by it) and counted as the
/// e2e test recorded.
#[test]
fn an_exim_main_log_is_exim() {
    let auto = exporter::replay_json(&[&fixture("exim/e2e-run.log")]).unwrap();
    let (want, want_expired) = expected("exim/e2e-run.expected");
    assert_eq!(series(&auto, "replies"), want);
    assert_eq!(series(&auto, "expired").values().sum::<f64>(), want_expired);
    assert_eq!(lines(&auto)[2], 0);
}

/// No line any format claims: nothing counted, syslog lines ignored, the rest unrecognised.
#[test]
fn a_file_no_format_claims_stays_undecided() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("other.log");
    fs::write(
        &f,
        "Nov 23 02:12:30 mx dovecot: lmtp(1): Connect from local\n\
         Nov 23 02:12:31 mx opendkim[2]: ABC: DKIM-Signature field added (s=mail, d=x.example)\n\
         something else entirely\n\
         2026-11-23 04:41:53 a line with a date and no MTA\n",
    )
    .unwrap();
    let v = exporter::replay_json(&[&f]).unwrap();
    assert!(series(&v, "replies").is_empty());
    assert_eq!(lines(&v), [0, 2, 2]);
}

/// replay's parallel split decides from the file's head first, so every part reads with the
/// same format, and the counts are those of one pass; the format is decided 5000 lines in.
#[test]
fn the_parallel_split_counts_as_one_pass() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mail.log");
    let mut text = String::new();
    for i in 0..5000 {
        text += &format!("Nov 23 02:12:30 mx dovecot: lmtp({i}): Connect from local\n");
    }
    let mixed = fs::read_to_string(fixture("auto/debian-mail.log")).unwrap();
    for _ in 0..20 {
        text += &mixed;
    }
    fs::write(&path, &text).unwrap();
    let count = |threads: usize| {
        let mut agg = Aggregator::new(vec![("s".into(), "postfix".into())], &Bounds::default());
        let split = Split {
            threads,
            min_part: 4096,
            part_domains: 1024,
        };
        replay_file_split(
            &path,
            SourceId(0),
            &Parser::Auto(Auto::default()).into(),
            &mut agg,
            split,
        )
        .unwrap();
        let replies: Vec<_> = agg
            .sorted_replies()
            .into_iter()
            .map(|(k, v)| (agg.reply_labels(&k), v))
            .collect();
        (
            replies,
            agg.sources[0].line_counts(),
            agg.sources[0].expired,
        )
    };
    let one = count(1);
    assert!(!one.0.is_empty());
    for threads in [2, 3, 8] {
        assert_eq!(count(threads), one, "{threads} parts");
    }
}

fn scrape(e: &Exporter) -> metrics::Samples {
    metrics::parse_exposition(&e.scrape().unwrap()).unwrap()
}

fn replies_of(s: &metrics::Samples) -> BTreeMap<Labels, f64> {
    metrics::series(s, "smtp_replies_total")
        .into_iter()
        .filter(|(_, v)| *v != 0.0)
        .collect()
}

/// Live: a file that starts with other programs' lines and then gets Exim's main log lines is
/// detected as Exim (the `mta` label, `/`, the log); across a restart with the state file, with
/// more lines written while the exporter was down, every line counts exactly once.
#[test]
fn live_detection_survives_a_restart_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("mail.log");
    let state = dir.path().join("state.json");
    let stderr = dir.path().join("exporter.stderr");
    fs::write(&log, "").unwrap();
    let exim_lines = fs::read_to_string(fixture("exim/e2e-run.log")).unwrap();
    let exim_lines: Vec<&str> = exim_lines.lines().collect();
    let (half_a, half_b) = exim_lines.split_at(exim_lines.len() / 2);
    let append = |lines: &[&str]| {
        let mut f = fs::OpenOptions::new().append(true).open(&log).unwrap();
        for l in lines {
            writeln!(f, "{l}").unwrap();
        }
    };

    let mut e = Exporter::start_any_port(&[&log], &state, &stderr, &[]).unwrap();
    let page = metrics::http_get(e.addr, "/").unwrap();
    assert!(
        String::from_utf8_lossy(&page.body).contains("auto: not yet detected"),
        "an empty file is not detected yet"
    );
    append(&[
        "Nov 23 02:12:30 mx dovecot: lmtp(1): Connect from local",
        "not a log line",
    ]);
    append(half_a);
    let n_a = 2.0 + half_a.len() as f64;
    let read = |e: &Exporter| -> f64 {
        metrics::series(&scrape(e), "smtp_status_exporter_lines_total")
            .values()
            .sum()
    };
    assert!(
        wait_for(Duration::from_secs(30), Duration::from_millis(100), || {
            (read(&e) >= n_a).then_some(())
        })
        .is_some(),
        "the exporter did not read the first half"
    );
    let s = scrape(&e);
    assert!(replies_of(&s)
        .keys()
        .all(|l| l["mta"] == "exim" && l["source"] == "postfix"));
    let page = metrics::http_get(e.addr, "/").unwrap();
    assert!(String::from_utf8_lossy(&page.body).contains("exim (auto: detected)"));
    assert!(
        e.stderr_text().contains("log format detected: exim"),
        "{}",
        e.stderr_text()
    );
    e.terminate().unwrap();

    // Written while the exporter is down, then counted after the restart.
    append(half_b);
    let e = Exporter::start_any_port(&[&log], &state, &stderr, &[]).unwrap();
    let total = n_a + half_b.len() as f64;
    assert!(
        wait_for(Duration::from_secs(30), Duration::from_millis(100), || {
            (read(&e) >= total).then_some(())
        })
        .is_some(),
        "the exporter did not read the second half"
    );
    let s = scrape(&e);
    let (want, want_expired) = expected("exim/e2e-run.expected");
    let want: BTreeMap<Labels, f64> = want
        .into_iter()
        .map(|(mut l, v)| {
            l.insert("source".into(), "postfix".into());
            (l, v)
        })
        .collect();
    assert_eq!(replies_of(&s), want);
    let expired: f64 = metrics::series(&s, "smtp_expired_total").values().sum();
    assert_eq!(expired, want_expired);
    let lines = metrics::series(&s, "smtp_status_exporter_lines_total");
    let get = |r: &str| lines[&metrics::labels(&[("source", "postfix"), ("result", r)])];
    assert_eq!(get("unrecognised"), 1.0, "`not a log line`");
    assert_eq!(get("counted") + get("ignored") + get("unrecognised"), total);
}

/// A source named by the format detected at start keeps that name, and its counters, when a
/// restart finds the file rotated and empty (nothing to detect yet): the saved name wins.
#[test]
fn a_detected_name_survives_a_restart_on_an_empty_rotated_file() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("mail.log");
    let state = dir.path().join("state.json");
    let stderr = dir.path().join("exporter.stderr");
    let exim_lines = fs::read_to_string(fixture("exim/e2e-run.log")).unwrap();
    let exim_lines: Vec<&str> = exim_lines.lines().collect();
    let (half_a, half_b) = exim_lines.split_at(exim_lines.len() / 2);
    let append = |lines: &[&str]| {
        let mut f = fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(&log)
            .unwrap();
        for l in lines {
            writeln!(f, "{l}").unwrap();
        }
    };
    let read = |e: &Exporter| -> f64 {
        metrics::series(&scrape(e), "smtp_status_exporter_lines_total")
            .values()
            .sum()
    };

    // One line before the start, so the head decides and names the source `exim`; the rest is
    // read live (a first start follows from the end).
    append(&half_a[..1]);
    let mut e = Exporter::start_any_port(&[&log], &state, &stderr, &[]).unwrap();
    append(&half_a[1..]);
    let n_a = (half_a.len() - 1) as f64;
    assert!(
        wait_for(Duration::from_secs(30), Duration::from_millis(100), || {
            (read(&e) >= n_a).then_some(())
        })
        .is_some(),
        "the exporter did not read the first half"
    );
    let before = replies_of(&scrape(&e));
    assert!(!before.is_empty());
    assert!(
        before
            .keys()
            .all(|l| l["mta"] == "exim" && l["source"] == "exim"),
        "{before:?}"
    );
    e.terminate().unwrap();

    // Rotated while down: the new file is empty, so no format can be detected at this start.
    fs::rename(&log, dir.path().join("mail.log.1")).unwrap();
    fs::write(&log, "").unwrap();
    let e = Exporter::start_any_port(&[&log], &state, &stderr, &[]).unwrap();
    let page = String::from_utf8_lossy(&metrics::http_get(e.addr, "/").unwrap().body).into_owned();
    assert!(page.contains("exim (auto: detected)"), "{page}");
    assert_eq!(
        replies_of(&scrape(&e)),
        before,
        "the counters go on under the saved name"
    );

    append(half_b);
    let total = n_a + half_b.len() as f64;
    assert!(
        wait_for(Duration::from_secs(30), Duration::from_millis(100), || {
            (read(&e) >= total).then_some(())
        })
        .is_some(),
        "the exporter did not read the second half"
    );
    let after = replies_of(&scrape(&e));
    assert!(
        after
            .keys()
            .all(|l| l["mta"] == "exim" && l["source"] == "exim"),
        "{after:?}"
    );
    let sum = |m: &BTreeMap<Labels, f64>| m.values().sum::<f64>();
    assert!(sum(&after) > sum(&before));
}
