//! `--journal`: the systemd journal as a source, through the real binary and the real
//! `journalctl`, scraped over HTTP.
//!
//! This machine kind (a container) runs no journald, so the tests do not read the system journal:
//! they write a journal FILE of their own with `systemd-journal-remote` (fed with the journal
//! export format, each entry with `SYSLOG_IDENTIFIER`, `_PID`, `MESSAGE`, as Postfix's syslog(3)
//! lines arrive in the journal) and point the exporter at it with `--journal.file`, which
//! journalctl reads through the very code path of the system journal (`--file` instead of the
//! default). The lines are real Postfix lines from `tests/fixtures/postfix/e2e-run.log`; the
//! expected counts are those of `replay --format json` over the same lines in a plain file.
//!
//! The tests that need `systemd-journal-remote` (Debian package of that name) are ignored by
//! plain `cargo test` and run by `sudo scripts/test`, which installs it; without it they fail,
//! they never skip. The others need no package: a missing journalctl, and a stand-in journalctl
//! (a shell script) that exits after each entry.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::harness;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use harness::exporter::{replay_json, Exporter};
use harness::metrics::{series, Labels, Samples};
use harness::util::{process_alive, TestDir};

use crate::harness::exporter::binary;
const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/postfix/e2e-run.log"
);

// ---------------------------------------------------------------------------------------------
// The exporter.

/// Starts `smtp-status-exporter --journal --state.file STATE --web.listen-address 127.0.0.1:0
/// ARGS…` (its stderr in the state file's directory) and learns its address from its `listening
/// on` line.
fn start(state: &Path, args: &[&str]) -> Exporter {
    Exporter::builder(state.parent().unwrap())
        .arg("--journal")
        .state(state)
        .args(args)
        .wait_listening()
        .timeout(Duration::from_secs(30), Duration::from_millis(20))
        .start()
        .unwrap_or_else(|e| panic!("{e}"))
}

/// What the journal tests ask of a running exporter beyond the harness's.
pub(crate) trait JournalExporter {
    fn wait_ready(&self);
    /// Polls `done` every 20 ms for up to 30 s; fails with the exporter's log.
    fn poll(&self, what: &str, done: impl FnMut(&Exporter) -> bool);
    /// `smtp_status_exporter_lines_total` by result.
    fn all_lines(&self) -> BTreeMap<String, f64>;
    /// Waits until `n` lines in all have been read.
    fn wait_all_lines(&self, n: f64);
    /// The pid of the journalctl this exporter runs (found through /proc: ppid and name).
    fn journalctl_pid(&self) -> Option<u32>;
    /// SIGTERM, the graceful stop; returns once it has exited, which it must do with 0.
    fn stop(self);
}

impl JournalExporter for Exporter {
    fn wait_ready(&self) {
        self.poll("GET /-/ready to answer 200", |e| e.get("/-/ready").0 == 200);
    }

    fn poll(&self, what: &str, mut done: impl FnMut(&Exporter) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !done(self) {
            assert!(
                Instant::now() < deadline,
                "waited 30 s for {what}; /-/ready says {:?}; the exporter's log:\n{}",
                self.get("/-/ready"),
                self.stderr_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn all_lines(&self) -> BTreeMap<String, f64> {
        by_label(
            &self.samples(),
            "smtp_status_exporter_lines_total",
            "result",
        )
    }

    fn wait_all_lines(&self, n: f64) {
        self.poll(&format!("{n} lines read"), |e| {
            e.all_lines().values().sum::<f64>() == n
        });
    }

    fn journalctl_pid(&self) -> Option<u32> {
        let me = self.pid();
        std::fs::read_dir("/proc").ok()?.find_map(|d| {
            let pid: u32 = d.ok()?.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let (head, rest) = stat.rsplit_once(')')?;
            let comm = head.split_once('(')?.1;
            let ppid: u32 = rest.split_whitespace().nth(1)?.parse().ok()?;
            (ppid == me && comm == "journalctl").then_some(pid)
        })
    }

    fn stop(mut self) {
        let status = self.terminate().unwrap_or_else(|e| panic!("{e}"));
        assert!(
            status.success(),
            "exit {status} after SIGTERM:\n{}",
            self.stderr_text()
        );
    }
}

fn signal(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -{sig} {pid}");
}

/// The values of one metric by one of its labels.
fn by_label(s: &Samples, metric: &str, label: &str) -> BTreeMap<String, f64> {
    series(s, metric)
        .into_iter()
        .map(|(l, v)| (l.get(label).cloned().unwrap_or_default(), v))
        .collect()
}

fn one(s: &Samples, metric: &str) -> f64 {
    series(s, metric).into_values().sum()
}

// ---------------------------------------------------------------------------------------------
// The journal file.

/// One journal entry as Postfix's syslog(3) call leaves it in the journal.
#[derive(Debug, Clone)]
pub(crate) struct Rec {
    identifier: String,
    pid: String,
    /// `None`: an entry without `MESSAGE`.
    message: Option<Vec<u8>>,
    /// 2 is `mail`: what the default filter reads.
    facility: u8,
}

/// Reads a syslog line `Mon DD HH:MM:SS host tag[pid]: message` into an entry.
pub(crate) fn rec_of(line: &[u8]) -> Rec {
    let text = String::from_utf8_lossy(line);
    // After the 15-character time and the host.
    let rest = &line[16..];
    let rest = &rest[rest.iter().position(|&c| c == b' ').unwrap() + 1..];
    let open = rest.iter().position(|&c| c == b'[').expect(&text);
    let close = rest.iter().position(|&c| c == b']').expect(&text);
    assert_eq!(&rest[close + 1..close + 3], b": ", "{text}");
    Rec {
        identifier: String::from_utf8(rest[..open].to_vec()).unwrap(),
        pid: String::from_utf8(rest[open + 1..close].to_vec()).unwrap(),
        message: Some(rest[close + 3..].to_vec()),
        facility: 2,
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// The fixture's lines.
pub(crate) fn fixture_lines() -> Vec<Vec<u8>> {
    let text = std::fs::read(FIXTURE).unwrap();
    text.split(|&c| c == b'\n')
        .filter(|l| !l.is_empty())
        .map(<[u8]>::to_vec)
        .collect()
}

/// Finds `systemd-journal-remote`, or fails the test saying how to install it.
fn journal_remote() -> PathBuf {
    [
        "/usr/lib/systemd/systemd-journal-remote",
        "/lib/systemd/systemd-journal-remote",
    ]
    .into_iter()
    .map(PathBuf::from)
    .find(|p| p.is_file())
    .unwrap_or_else(|| {
        panic!(
            "systemd-journal-remote is not installed (looked in /usr/lib/systemd and \
                 /lib/systemd): run `sudo scripts/install-test-deps` (Debian package \
                 systemd-journal-remote), or the whole suite with `sudo scripts/test`"
        )
    })
}

/// Appends entries to a journal file with `systemd-journal-remote`, one clock for all.
pub(crate) struct JournalFile {
    tool: PathBuf,
    path: PathBuf,
    /// Microseconds of the next entry; entries are a millisecond apart.
    clock: u64,
}

impl JournalFile {
    pub(crate) fn new(path: PathBuf) -> JournalFile {
        JournalFile {
            tool: journal_remote(),
            path,
            clock: 1_700_000_000_000_000,
        }
    }

    pub(crate) fn append(&mut self, recs: &[Rec]) {
        let mut export = Vec::new();
        for r in recs {
            self.clock += 1000;
            let (realtime, monotonic) = (self.clock.to_string(), (self.clock / 1000).to_string());
            let facility = r.facility.to_string();
            let fields: [(&str, &[u8]); 7] = [
                ("__REALTIME_TIMESTAMP", realtime.as_bytes()),
                ("__MONOTONIC_TIMESTAMP", monotonic.as_bytes()),
                ("_BOOT_ID", b"0123456789abcdef0123456789abcdef"),
                ("_HOSTNAME", b"mta"),
                ("SYSLOG_FACILITY", facility.as_bytes()),
                ("SYSLOG_IDENTIFIER", r.identifier.as_bytes()),
                ("_PID", r.pid.as_bytes()),
            ];
            for (name, value) in fields {
                export_field(&mut export, name, value);
            }
            if let Some(m) = &r.message {
                export_field(&mut export, "MESSAGE", m);
            }
            export.push(b'\n');
        }
        let mut child = Command::new(&self.tool)
            .arg(format!("--output={}", self.path.display()))
            .arg("-")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", self.tool.display()));
        child.stdin.take().unwrap().write_all(&export).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{} exited with {}: {}",
            self.tool.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// One field in the journal export format: `NAME=value`, or the binary form (name, 64-bit
/// little-endian length, bytes) for a value that is not UTF-8 or holds a newline.
fn export_field(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    out.extend_from_slice(name.as_bytes());
    if std::str::from_utf8(value).is_ok() && !value.contains(&b'\n') {
        out.push(b'=');
    } else {
        out.push(b'\n');
        out.extend_from_slice(&(value.len() as u64).to_le_bytes());
    }
    out.extend_from_slice(value);
    out.push(b'\n');
}

/// Entries of another facility (`daemon`): the default filter must not even read them.
fn noise(n: usize) -> Vec<Rec> {
    (0..n)
        .map(|i| Rec {
            identifier: "cron".into(),
            pid: (4000 + i).to_string(),
            message: Some(format!("(root) CMD (job {i})").into_bytes()),
            facility: 3,
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// What replay says of the same lines.

/// `replay --format json` of `lines` written to a plain file: reply series, expired total,
/// line results.
fn replay(dir: &Path, lines: &[Vec<u8>]) -> (BTreeMap<Labels, f64>, f64, BTreeMap<String, f64>) {
    let path = dir.join("replay.log");
    let mut text = Vec::new();
    for l in lines {
        text.extend_from_slice(l);
        text.push(b'\n');
    }
    std::fs::write(&path, text).unwrap();
    let v = replay_json(&[&path]).unwrap();
    let labelled = |key: &str| -> BTreeMap<Labels, f64> {
        v[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                let labels = s["labels"]
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
                    .collect();
                (labels, s["value"].as_f64().unwrap())
            })
            .collect()
    };
    let expired = labelled("expired").into_values().sum();
    let results = v["lines"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, n)| (k.clone(), n.as_f64().unwrap()))
        .collect();
    (labelled("replies"), expired, results)
}

/// Asserts that the exporter counted exactly what replay counts for `lines`, plus
/// `extra_unrecognised` entries that have no line.
pub(crate) fn assert_counts(e: &Exporter, dir: &Path, lines: &[Vec<u8>], extra_unrecognised: f64) {
    let (replies, expired, mut results) = replay(dir, lines);
    *results.entry("unrecognised".into()).or_default() += extra_unrecognised;
    let s = e.samples();
    let got: BTreeMap<Labels, f64> = series(&s, "smtp_replies_total")
        .into_iter()
        .filter(|(_, v)| *v != 0.0)
        .collect();
    assert!(!replies.is_empty());
    assert_eq!(got, replies, "smtp_replies_total differs from replay");
    assert_eq!(one(&s, "smtp_expired_total"), expired, "smtp_expired_total");
    assert_eq!(
        by_label(&s, "smtp_status_exporter_lines_total", "result"),
        results,
        "lines_total"
    );
}

// ---------------------------------------------------------------------------------------------
// Tests.

/// The whole life of a journal source: a first start begins at the end; entries are counted as
/// replay counts their lines; entries written while the exporter is down are counted once after
/// a restart, none twice; a journalctl that dies is restarted from the last cursor; a non-UTF-8
/// MESSAGE counts by its bytes; a missing or null MESSAGE is unrecognised; SIGTERM stops
/// journalctl.
#[test]
#[ignore = "needs systemd-journal-remote (Debian package): run by scripts/test"]
fn journal_entries_are_counted_once_across_restarts() {
    let _heavy = harness::heavy();
    let dir = TestDir::new("sse-journal-");
    let state = dir.path().join("state.json");
    let mut journal = JournalFile::new(dir.path().join("mail.journal"));
    let lines = fixture_lines();
    let (before, rest) = lines.split_at(200);
    let (a, rest) = rest.split_at(1400);
    let (b, c) = rest.split_at(1000);
    let recs = |ls: &[Vec<u8>]| ls.iter().map(|l| rec_of(l)).collect::<Vec<_>>();

    // Already in the journal at the first start: not counted.
    journal.append(&recs(before));
    journal.append(&noise(5));
    let file = journal.path.to_str().unwrap().to_owned();
    let args = ["--journal.file", &file];
    let e = start(&state, &args);
    e.wait_ready();
    journal.append(&recs(a));
    journal.append(&noise(7));
    e.wait_all_lines(a.len() as f64);
    assert_counts(&e, dir.path(), a, 0.0);
    let s = e.samples();
    assert!(one(&s, "smtp_status_exporter_bytes_read_total") > 0.0);
    assert!(one(&s, "smtp_status_exporter_last_line_timestamp_seconds") > 1.7e9);
    assert_eq!(one(&s, "smtp_status_exporter_read_errors_total"), 0.0);

    // Written while the exporter is down: counted after the restart, once.
    let pid = e
        .journalctl_pid()
        .expect("journalctl runs under the exporter");
    e.stop();
    assert!(!process_alive(pid), "journalctl {pid} outlived SIGTERM");
    journal.append(&recs(b));
    let e = start(&state, &args);
    e.wait_ready();
    let ab: Vec<Vec<u8>> = [a, b].concat();
    e.wait_all_lines(ab.len() as f64);
    assert_counts(&e, dir.path(), &ab, 0.0);

    // journalctl dies: a read error, then a new one continues from the cursor.
    let pid = e
        .journalctl_pid()
        .expect("journalctl runs under the exporter");
    signal(pid, "KILL");
    e.poll("the read error of the killed journalctl", |e| {
        one(&e.samples(), "smtp_status_exporter_read_errors_total") == 1.0
    });
    e.poll("a new journalctl", |e| {
        e.journalctl_pid().is_some_and(|p| p != pid) && e.get("/-/ready").0 == 200
    });
    // Odd entries: MESSAGE not UTF-8 (a real reject line with a Latin-1 HELO), missing, null
    // (over journalctl's 4096-byte field limit).
    let mut latin1 = c.iter().find(|l| contains(l, b"helo=<")).unwrap().clone();
    let at = latin1.windows(6).position(|w| w == b"helo=<").unwrap() + 6;
    latin1.splice(at..at, *b"k\xe4se-");
    assert!(std::str::from_utf8(&latin1).is_err());
    let mut odd = vec![rec_of(&latin1)];
    let mut missing = rec_of(&latin1);
    missing.message = None;
    odd.push(missing);
    let mut null = rec_of(&latin1);
    null.message = Some(vec![b'x'; 5000]);
    odd.push(null);
    journal.append(&recs(c));
    journal.append(&odd);
    let mut all: Vec<Vec<u8>> = [a, b, c].concat();
    all.push(latin1);
    e.wait_all_lines(all.len() as f64 + 2.0);
    assert_counts(&e, dir.path(), &all, 2.0);
    let pid = e
        .journalctl_pid()
        .expect("journalctl runs under the exporter");
    e.stop();
    assert!(!process_alive(pid), "journalctl {pid} outlived SIGTERM");

    // And once more from the state file, with nothing new: nothing counted twice.
    let e = start(&state, &args);
    e.wait_ready();
    assert_counts(&e, dir.path(), &all, 2.0);
    e.stop();
}

/// `--journal.directory` reads the journal files of a directory, and `--journal.match` replaces
/// the default filter. No entry matches at the first start: everything after is new.
#[test]
#[ignore = "needs systemd-journal-remote (Debian package): run by scripts/test"]
fn a_journal_directory_filtered_by_identifier() {
    let _heavy = harness::heavy();
    let dir = TestDir::new("sse-journal-dir-");
    let jdir = dir.subdir("journal");
    let state = dir.path().join("state.json");
    let mut journal = JournalFile::new(jdir.join("remote.journal"));
    let lines = fixture_lines();
    journal.append(&[rec_of(&lines[0])]);
    let d = jdir.to_str().unwrap().to_owned();
    let e = start(
        &state,
        &[
            "--journal.directory",
            &d,
            "--journal.match",
            "SYSLOG_IDENTIFIER=postfix/smtpd",
        ],
    );
    e.wait_ready();
    let smtpd: Vec<Vec<u8>> = lines
        .iter()
        .filter(|l| contains(l, b" postfix/smtpd["))
        .cloned()
        .collect();
    assert!(smtpd.len() > 50);
    journal.append(&lines[1..].iter().map(|l| rec_of(l)).collect::<Vec<_>>());
    e.wait_all_lines(smtpd.len() as f64);
    assert_counts(&e, dir.path(), &smtpd, 0.0);
    e.stop();
}

/// No journalctl: the exporter runs, says what is wrong on `/-/ready` and `/`, and counts the
/// failures as read errors.
#[test]
fn a_missing_journalctl_is_a_read_error_and_not_ready() {
    let dir = tempfile::tempdir().unwrap();
    let e = start(
        &dir.path().join("state.json"),
        &["--journal.journalctl", "/nonexistent/journalctl"],
    );
    e.poll("a read error", |e| {
        one(&e.samples(), "smtp_status_exporter_read_errors_total") >= 1.0
    });
    let (status, body) = e.get("/-/ready");
    assert_eq!(status, 503, "{body}");
    assert!(
        body.contains("cannot run /nonexistent/journalctl")
            && body.contains("--journal.journalctl"),
        "{body}"
    );
    let (_, page) = e.get("/");
    assert!(page.contains("failing"), "{page}");
    e.stop();
}

/// Flags that make no sense together, or a match journalctl would not take: exit 2, naming it.
#[test]
fn bad_journal_flags_exit_2() {
    for (args, want) in [
        (
            vec!["--journal", "--log.path", "/var/log/mail.log"],
            "--log.path",
        ),
        (vec!["--journal.unit", "postfix*"], "--journal"),
        (
            vec!["--journal", "--journal.match", "postfix"],
            "--journal.match",
        ),
        (
            vec![
                "--journal",
                "--journal.file",
                "a",
                "--journal.directory",
                "b",
            ],
            "--journal.directory",
        ),
    ] {
        let o = Command::new(binary())
            .args(&args)
            .args(["--web.listen-address", "127.0.0.1:0"])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
    }
}

/// A journalctl that exits after each entry (a stand-in script): every exit is a read error,
/// each new run starts at the cursor of the last counted entry, and the entry at that cursor,
/// which journalctl prints again first, is not counted twice.
#[test]
fn a_journalctl_that_exits_is_restarted_at_the_cursor() {
    let dir = tempfile::tempdir().unwrap();
    let calls = dir.path().join("calls");
    let script = dir.path().join("journalctl");
    // Run k of `--follow` prints the entry at its start cursor c(k-1), then entry c(k), then
    // exits 1. The first-start lookup (`--lines=1`) prints c0.
    std::fs::write(
        &script,
        format!(
            r#"#!/bin/sh
entry() {{
    printf '{{"__CURSOR":"c%s","__REALTIME_TIMESTAMP":"1700000000000000","_HOSTNAME":"mta","SYSLOG_IDENTIFIER":"postfix/smtp","_PID":"7","MESSAGE":"connect to 127.0.0.1[127.0.0.1]:25: Connection refused"}}\n' "$1"
}}
case "$*" in *--lines=1*) entry 0; exit 0 ;; esac
echo "$*" >> {calls}
k=$(wc -l < {calls})
entry $((k - 1))
entry $k
echo "stand-in journalctl: bye" >&2
exit 1
"#,
            calls = calls.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let state = dir.path().join("state.json");
    let e = start(&state, &["--journal.journalctl", script.to_str().unwrap()]);
    e.poll("two runs of the stand-in counted", |e| {
        e.all_lines().get("ignored").copied().unwrap_or(0.0) >= 2.0
    });
    let (status, body) = e.get("/-/ready");
    assert!(
        status == 200 || body.contains("stand-in journalctl: bye"),
        "{status} {body}"
    );
    assert!(one(&e.samples(), "smtp_status_exporter_read_errors_total") >= 1.0);
    e.stop();

    // Each run started at the previous run's last entry; each entry was counted once.
    let calls = std::fs::read_to_string(&calls).unwrap();
    for (k, call) in calls.lines().enumerate() {
        assert!(call.contains("--follow"), "{call}");
        assert!(
            call.contains(&format!("--cursor=c{k}")),
            "run {}: {call}",
            k + 1
        );
    }
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    let source = &saved["sources"][0];
    let cursor = source["cursor"].as_str().unwrap();
    let last: u64 = cursor.trim_start_matches('c').parse().unwrap();
    assert_eq!(
        source["lines"],
        serde_json::json!([0, last, 0]),
        "entries c1..c{last}, each once"
    );
}
