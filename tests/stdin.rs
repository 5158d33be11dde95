//! `--log.path -`: the exporter reads its standard input (a pipe from `docker logs -f`,
//! `journalctl -f -o short-iso`, …), with the same parsers and counters as a file; when the
//! input ends it says so on `/-/ready` and `/`, and keeps serving the final counts. `replay -`
//! reads standard input to its end.
//!
//! The input is `tests/fixtures/postfix/e2e-run.log` (real Postfix 3.7.11 lines), whose
//! `.expected` file says what must be counted.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod harness;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use harness::exporter::binary;
use harness::feed::{expected, lines_of_file, postfix_fixture, rendered, Fed};
use harness::metrics::parse_exposition;
use harness::util::{wait_for, TestDir};

#[test]
fn a_piped_log_is_counted_exactly_and_the_endpoint_outlives_the_input() {
    let dir = TestDir::new("sse-stdin-");
    let (log, want) = postfix_fixture();
    let text = std::fs::read(&log).unwrap();
    let mut fed = Fed::start(dir.path(), &["--log.path", "-"]).unwrap();

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
    let mut fed = Fed::start(dir.path(), &["--log.path", "-"]).unwrap();
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
