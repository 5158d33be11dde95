//! `--log.path -`: the exporter reads its standard input (a pipe from `docker logs -f`,
//! `journalctl -f -o short-iso`, …), with the same parsers and counters as a file; when the
//! input ends it says so on `/-/ready` and `/`, and keeps serving the final counts. `replay -`
//! reads standard input to its end.
//!
//! The input is `tests/fixtures/postfix/e2e-run.log` (real Postfix 3.7.11 lines), whose
//! `.expected` file says what must be counted.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::harness;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use harness::exporter::binary;
use harness::exporter::Exporter;
use harness::feed::{expected, lines_of_file, postfix_fixture, rendered};
use harness::metrics::parse_exposition;
use harness::util::{wait_for, TestDir};

#[test]
fn a_piped_log_is_counted_exactly_and_the_endpoint_outlives_the_input() {
    let dir = TestDir::new("sse-stdin-");
    let (log, want) = postfix_fixture();
    let text = std::fs::read(&log).unwrap();
    let mut fed = Exporter::fed(dir.path(), &["--log.path", "-"]).unwrap();

    // In pieces that cut lines in two, as a pipe delivers them.
    let mut pipe = fed.stdin.take().unwrap();
    for piece in text.chunks(7_919) {
        pipe.write_all(piece).unwrap();
    }
    pipe.flush().unwrap();
    // Still reading: ready (the input is open), and nothing said of an end.
    let open = wait_for(Duration::from_secs(30), Duration::from_millis(50), || {
        let (status, body) = fed.get("/-/ready");
        (status == 200).then_some(body)
    });
    let body = open.expect("/-/ready answers 200 while the input is open");
    assert!(!body.contains("end of input"), "{body}");
    drop(pipe);

    let ended = wait_for(Duration::from_secs(30), Duration::from_millis(50), || {
        let (_, body) = fed.get("/-/ready");
        body.contains("end of input").then_some(body)
    });
    let ready = ended.unwrap_or_else(|| {
        panic!(
            "/-/ready never said the input ended; stderr:\n{}",
            fed.stderr_text()
        )
    });
    assert!(ready.starts_with("OK\n"), "{ready}");
    assert!(ready.contains("postfix (standard input)"), "{ready}");

    // After the end: still serving, with every line counted once.
    std::thread::sleep(Duration::from_millis(300));
    assert!(fed.running(), "the exporter exited at the end of its input");
    let samples = fed.samples();
    assert_eq!(rendered(&samples, "postfix", "postfix"), expected(&want));
    assert_eq!(fed.lines("postfix"), lines_of_file(&log));
    let bytes = harness::metrics::series(&samples, "smtp_status_exporter_bytes_read_total");
    assert_eq!(
        bytes.values().copied().collect::<Vec<_>>(),
        vec![text.len() as f64]
    );
    let (status, page) = fed.get("/");
    assert_eq!(status, 200);
    assert!(page.contains("standard input"), "{page}");
    assert!(page.contains("end of input"), "{page}");
}

#[test]
fn replay_reads_standard_input_to_its_end() {
    let (log, want) = postfix_fixture();
    let mut child = Command::new(binary())
        .args(["replay", "--format", "prometheus", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let text = std::fs::read(&log).unwrap();
    let mut pipe = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || pipe.write_all(&text));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let samples = parse_exposition(&String::from_utf8(out.stdout).unwrap()).unwrap();
    assert_eq!(rendered(&samples, "postfix", "postfix"), expected(&want));
}

/// `journalctl -o cat` prints messages without the syslog header, so the Postfix program a
/// line comes from is unknown: such lines are `unrecognised`, never guessed at. (The README
/// gives `-o short-iso`, whose lines count.)
#[test]
fn lines_without_a_syslog_header_are_unrecognised_and_with_one_counted() {
    let dir = TestDir::new("sse-stdin-cat-");
    let mut fed = Exporter::fed(dir.path(), &["--log.path", "-"]).unwrap();
    let bare = "1CA9A98C0C2: to=<a@example.net>, relay=127.0.0.1[127.0.0.1]:12600, delay=0.03, delays=0.01/0.02/0/0, dsn=2.0.0, status=sent (250 2.0.0 Ok)";
    // What `journalctl -o short-iso` prints for the same entry.
    let short_iso = format!("2026-11-23T04:35:58+0000 mx postfix/smtp[10732]: {bare}");
    let mut pipe = fed.stdin.take().unwrap();
    writeln!(pipe, "{bare}\n{short_iso}").unwrap();
    drop(pipe);
    fed.wait_lines("postfix", 2.0, Duration::from_secs(30));
    let lines = fed.lines("postfix");
    assert_eq!(lines["unrecognised"], 1.0, "{lines:?}");
    assert_eq!(lines["counted"], 1.0, "{lines:?}");
}

#[test]
fn standard_input_twice_is_a_usage_error() {
    let out = Command::new(binary())
        .args([
            "--log.path",
            "-",
            "--log.path",
            "-",
            "--web.listen-address",
            "127.0.0.1:0",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("standard input"), "{err}");
}

/// Writes the fixture's lines as journal entries (as Postfix's syslog(3) calls leave them:
/// `SYSLOG_IDENTIFIER`, `_PID`, `MESSAGE`) into a journal file with the real
/// `systemd-journal-remote`. (tests/it/journal.rs has a fuller writer for its own cases.)
fn journal_file_of(fixture: &std::path::Path, out: &std::path::Path) {
    let tool = [
        "/usr/lib/systemd/systemd-journal-remote",
        "/lib/systemd/systemd-journal-remote",
    ]
    .into_iter()
    .map(std::path::PathBuf::from)
    .find(|p| p.is_file())
    .unwrap_or_else(|| {
        panic!(
            "systemd-journal-remote is not installed: {}",
            harness::util::INSTALL_HINT
        )
    });
    let text = std::fs::read_to_string(fixture).unwrap();
    let mut export = Vec::new();
    let mut clock: u64 = 1_700_000_000_000_000;
    for line in text.lines().filter(|l| !l.is_empty()) {
        let rest = &line[16..];
        let rest = &rest[rest.find(' ').unwrap() + 1..];
        let colon = rest.find(": ").unwrap();
        let (tag, pid) = rest[..colon].split_once('[').unwrap();
        clock += 1000;
        for (k, v) in [
            ("__REALTIME_TIMESTAMP", clock.to_string()),
            ("__MONOTONIC_TIMESTAMP", (clock / 1000).to_string()),
            ("_BOOT_ID", "0123456789abcdef0123456789abcdef".to_owned()),
            ("_HOSTNAME", "mta".to_owned()),
            ("SYSLOG_FACILITY", "2".to_owned()),
            ("SYSLOG_IDENTIFIER", tag.to_owned()),
            ("_PID", pid.trim_end_matches(']').to_owned()),
            ("MESSAGE", rest[colon + 2..].to_owned()),
        ] {
            export.extend_from_slice(format!("{k}={v}\n").as_bytes());
        }
        export.push(b'\n');
    }
    let mut child = Command::new(&tool)
        .arg(format!("--output={}", out.display()))
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&export).unwrap();
    let done = child.wait_with_output().unwrap();
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
}

/// The README's `journalctl -o short-iso … | smtp-status-exporter --log.path -`, with the real
/// journalctl on a journal file of the fixture's entries: every line counted as from the file;
/// and `-o cat`, which drops the program names: every line unrecognised, nothing counted.
#[test]
#[ignore = "needs systemd-journal-remote and journalctl (Debian packages): run by scripts/test"]
fn journalctl_piped_in_short_iso_counts_and_cat_does_not() {
    let journalctl = harness::util::require_tool("journalctl");
    let dir = TestDir::new("sse-stdin-journal-");
    let (log, want) = postfix_fixture();
    let journal = dir.path().join("mail.journal");
    journal_file_of(&log, &journal);
    for (output, counts) in [("short-iso", true), ("cat", false)] {
        let sub = dir.subdir(output);
        let mut fed = Exporter::fed(&sub, &["--log.path", "-"]).unwrap();
        let mut pipe = fed.stdin.take().unwrap();
        let out = Command::new(&journalctl)
            .arg("--file")
            .arg(&journal)
            .args(["--no-pager", "-o", output])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        pipe.write_all(&out.stdout).unwrap();
        drop(pipe);
        let ended = wait_for(Duration::from_secs(30), Duration::from_millis(50), || {
            fed.get("/-/ready").1.contains("end of input").then_some(())
        });
        assert!(ended.is_some(), "{}", fed.stderr_text());
        let lines = fed.lines("postfix");
        if counts {
            assert_eq!(lines, lines_of_file(&log), "-o {output}");
            assert_eq!(
                rendered(&fed.samples(), "postfix", "postfix"),
                expected(&want),
                "-o {output}"
            );
        } else {
            assert_eq!(
                lines["counted"] + lines["ignored"],
                0.0,
                "-o {output}: {lines:?}"
            );
            assert_eq!(lines["unrecognised"], 3083.0, "-o {output}: {lines:?}");
        }
    }
}
