//! Rotation with the REAL `logrotate` (Debian's package) while a writer appends real Postfix
//! lines at a steady rate, and rotations, deletions and restarts while the exporter is down.
//! Each test runs the exporter binary on a log of its own, waits until its counters have
//! settled, and asserts EXACT counts over HTTP: every line written is read once
//! (`smtp_status_exporter_lines_total`), every reply line is one reply (`smtp_replies_total`),
//! every rotation is counted once by its kind, nothing is `unrecognised`.
//!
//! How the writer behaves (tests/it/harness/maillog.rs): like syslog, it holds the log open; after
//! a rename it goes on appending to the renamed file until the postrotate script of the
//! logrotate config tells it to reopen the path (as `systemctl kill -s HUP rsyslog` does), and
//! logrotate compresses only after that script. So every line written is in some file, and the
//! exact count is what was written (checked too: the lines the files hold are counted).
//!
//! The tests that run logrotate are `#[ignore]`d and run by `sudo scripts/test`, which installs
//! it (scripts/install-test-deps); without logrotate they FAIL saying so, they never skip.

// A test crate: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::harness;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use harness::exporter::{replay_json, Exporter};
use harness::maillog::{self, Counters, Logrotate, Writer, Written};
use harness::util::{wait_for, TestDir};

/// Lines a second the writer appends.
const RATE: u64 = 4000;
/// Rotations in each test that rotates while the exporter is up.
const ROTATIONS: u64 = 3;
/// Time between two rotations.
const SPACING: Duration = Duration::from_millis(600);
/// Time between two rotations with `dateext`: more than a second, as the names carry the second.
const DATEEXT_SPACING: Duration = Duration::from_millis(1100);
/// How long the exporter may take to catch up at the end.
const SETTLE: Duration = Duration::from_secs(30);

/// One test's directory: the log, the state file, the writer's reopen flag, the exporter's
/// stderr (all runs appended), logrotate's config and state.
struct Scene {
    dir: TestDir,
    log: PathBuf,
    state: PathBuf,
    flag: PathBuf,
    stderr: PathBuf,
}

impl Scene {
    /// An empty `mail.log`: the exporter follows a file from its end on a first start, so it
    /// starts before anything is written.
    fn new(name: &str) -> Scene {
        let dir = TestDir::new(&format!("rot-{name}-"));
        let log = dir.path().join("mail.log");
        fs::write(&log, "").unwrap();
        Scene {
            log,
            state: dir.path().join("state.json"),
            flag: dir.path().join("writer.reopen"),
            stderr: dir.path().join("exporter.stderr"),
            dir,
        }
    }

    fn start(&self) -> Exporter {
        Exporter::start_any_port(&[&self.log], &self.state, &self.stderr, &[])
            .unwrap_or_else(|e| panic!("{e}"))
    }

    fn writer(&self) -> Writer {
        Writer::start(&self.log, &self.flag, RATE)
    }

    /// logrotate for `mail.log`; with `reopen`, its postrotate tells the writer to reopen.
    fn logrotate(&self, directives: &[&str], reopen: bool) -> Logrotate {
        let flag = reopen.then_some(self.flag.as_path());
        Logrotate::new(self.dir.path(), &self.log, directives, flag)
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn log_len(&self) -> u64 {
        fs::metadata(&self.log).map_or(0, |m| m.len())
    }

    /// The test's premise, not the exporter's job: the files hold exactly `lines` lines, so
    /// the rotation itself lost or doubled nothing.
    fn assert_files_hold(&self, lines: u64, scenario: &str) {
        let held = maillog::lines_in_files(self.path(), "mail.log");
        assert_eq!(
            held,
            lines,
            "{scenario}: TEST PREMISE broken, not the exporter: the log files hold {held} lines, \
             {lines} were written:\n{}",
            maillog::describe_files(self.path(), "mail.log")
        );
    }

    /// Waits until the exporter has caught up and asserts exact counts.
    fn check(&self, scenario: &str, exp: &Exporter, w: Written, renames: u64, truncations: u64) {
        self.check_rotations(
            scenario,
            exp,
            w,
            Rotations::Exactly {
                renames,
                truncations,
            },
        );
    }

    fn check_rotations(&self, scenario: &str, exp: &Exporter, w: Written, rotations: Rotations) {
        let started = Instant::now();
        let c = maillog::settle(exp.addr, w.lines, SETTLE)
            .unwrap_or_else(|e| panic!("{scenario}: cannot scrape the exporter: {e}"));
        let wrong = match rotations {
            Rotations::Exactly {
                renames,
                truncations,
            } => c.mismatches(w, renames, truncations),
            Rotations::EitherKind(n) => c.mismatches_either_kind(w, n),
        };
        assert!(
            wrong.is_empty(),
            "{scenario}: counts are not exact (waited {:.1} s for the exporter to settle):\n  \
             {}\nwritten: {w:?}\nscraped: {c:?}\nfiles:\n{}\nexporter stderr (last lines):\n{}",
            started.elapsed().as_secs_f64(),
            wrong.join("\n  "),
            maillog::describe_files(self.path(), "mail.log"),
            exp.stderr_tail(40),
        );
    }

    /// Starts the exporter and the writer, lets half a second of lines be read, and stops the
    /// exporter with SIGTERM (a clean stop saves the state); the writer goes on.
    fn written_then_stopped(&self, scenario: &str) -> Writer {
        let mut exp = self.start();
        let w = self.writer();
        w.write_more(RATE / 2);
        let status = exp
            .terminate()
            .unwrap_or_else(|e| panic!("{scenario}: {e}"));
        assert!(status.success(), "{scenario}: SIGTERM exit {status}");
        w
    }

    /// Like [`Scene::written_then_stopped`], but the writer is paused and the exporter has
    /// counted every line written before it is stopped: what its state holds is exactly what
    /// was written then (returned). The writer stays paused.
    fn caught_up_then_stopped(&self, scenario: &str) -> (Writer, Written) {
        let mut exp = self.start();
        let w = self.writer();
        w.write_more(RATE / 2);
        let at = w.pause();
        maillog::wait_lines(exp.addr, at.lines, SETTLE)
            .unwrap_or_else(|e| panic!("{scenario}: {e}"));
        let status = exp
            .terminate()
            .unwrap_or_else(|e| panic!("{scenario}: {e}"));
        assert!(status.success(), "{scenario}: SIGTERM exit {status}");
        (w, at)
    }

    /// The names of the rotated files, for a test that checks what logrotate produced.
    fn rotated_names(&self) -> Vec<String> {
        maillog::log_files(self.path(), "mail.log")
            .iter()
            .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .filter(|n| n != "mail.log")
            .collect()
    }
}

/// The file the exporter was in is gone: said once in `rotated_files_missed_total`.
fn assert_missed_once(scenario: &str, exp: &Exporter) {
    let missed = harness::metrics::series(
        &exp.samples(),
        "smtp_status_exporter_rotated_files_missed_total",
    );
    assert_eq!(
        missed.values().sum::<f64>(),
        1.0,
        "{scenario}: rotated_files_missed_total: {missed:?}"
    );
}

/// The rotations a test expects.
#[derive(Clone, Copy)]
enum Rotations {
    Exactly {
        renames: u64,
        truncations: u64,
    },
    /// This many, of either kind: where the exporter cannot tell the kinds apart.
    EitherKind(u64),
}

/// Lets the writer write for about `spacing` (at least 80 % of what that is at its rate).
/// A pacing sleep between rotations, not a synchronisation: what the test waits FOR is always
/// polled with a deadline.
fn pace(w: &Writer, spacing: Duration) {
    let start = Instant::now();
    w.write_more((RATE as f64 * spacing.as_secs_f64() * 0.8) as u64);
    std::thread::sleep(spacing.saturating_sub(start.elapsed()));
}

fn spacing(directives: &[&str]) -> Duration {
    if directives.contains(&"dateext") {
        DATEEXT_SPACING
    } else {
        SPACING
    }
}

fn with<'a>(first: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec![first];
    v.extend_from_slice(extra);
    v
}

// ---------------------------------------------------------------------------------------------
// The premise: the generated lines count as the harness says.

#[test]
fn the_generated_lines_count_as_the_harness_says() {
    let dir = TestDir::new("rot-lines-");
    let f = dir.path().join("mail.log");
    let mut buf = Vec::new();
    let w = maillog::render(0, 800, &mut buf);
    fs::write(&f, &buf).unwrap();
    let json = replay_json(&[&f]).unwrap_or_else(|e| panic!("{e}"));
    let lines = &json["lines"];
    assert_eq!(lines["counted"].as_u64(), Some(w.replies), "{json}");
    assert_eq!(lines["ignored"].as_u64(), Some(w.others()), "{json}");
    assert_eq!(lines["unrecognised"].as_u64(), Some(0), "{json}");
    let replies: u64 = json["replies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["value"].as_u64().unwrap())
        .sum();
    assert_eq!(replies, w.replies, "{json}");
}

/// `replay` reads a rotated file compressed by each real compressor as it reads it plain.
#[test]
#[ignore = "needs zstd, xz and bzip2: run by scripts/test"]
fn replay_reads_files_compressed_by_each_compressor() {
    let dir = TestDir::new("rot-replay-");
    let plain = dir.path().join("mail.log.1");
    let mut buf = Vec::new();
    maillog::render(0, 500, &mut buf);
    fs::write(&plain, &buf).unwrap();
    let want = replay_json(&[&plain]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(want["lines"]["unrecognised"].as_u64(), Some(0), "{want}");
    for (tool, ext) in [
        ("zstd", "zst"),
        ("xz", "xz"),
        ("bzip2", "bz2"),
        ("gzip", "gz"),
    ] {
        let packed = dir.path().join(format!("mail.log.1.{ext}"));
        let out = std::process::Command::new(harness::util::require_tool(tool))
            .arg("-c")
            .arg(&plain)
            .output()
            .unwrap();
        assert!(out.status.success(), "{tool}: {out:?}");
        fs::write(&packed, &out.stdout).unwrap();
        let got = replay_json(&[&packed]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(got["lines"], want["lines"], "{tool}");
        assert_eq!(got["replies"], want["replies"], "{tool}");
    }
}

// ---------------------------------------------------------------------------------------------
// `create` rotation while writing, exporter up: the old file is finished, the new one read from
// its first byte. Rotations count as `rename`.

fn create_while_writing(name: &str, extra: &[&str]) {
    let directives = with("create", extra);
    let scenario = format!(
        "logrotate `{}` x{ROTATIONS} while writing {RATE} lines/s, exporter up",
        directives.join(" ")
    );
    let s = Scene::new(name);
    let lr = s.logrotate(&directives, true);
    let exp = s.start();
    let w = s.writer();
    let every = spacing(&directives);
    for _ in 0..ROTATIONS {
        pace(&w, every);
        lr.rotate();
    }
    pace(&w, every);
    let written = w.stop();
    s.assert_files_hold(written.lines, &scenario);
    s.check(&scenario, &exp, written, ROTATIONS, 0);
}

#[test]
#[ignore = "needs logrotate: run by scripts/test"]
fn logrotate_create_while_writing() {
    let _heavy = harness::heavy();
    create_while_writing("create", &[]);
}

#[test]
#[ignore = "needs logrotate: run by scripts/test"]
fn logrotate_create_compress_delaycompress_while_writing() {
    let _heavy = harness::heavy();
    create_while_writing("create-dc", &["compress", "delaycompress"]);
}

/// The renamed file is gzipped (and so unlinked) at once, while the exporter may still be
/// reading it through the descriptor it holds.
#[test]
#[ignore = "needs logrotate: run by scripts/test"]
fn logrotate_create_compress_at_once_while_writing() {
    let _heavy = harness::heavy();
    create_while_writing("create-c", &["compress"]);
}

/// `dateext` names (`mail.log-20261122-1763850000`: the second is in the format so that several
/// rotations a day get distinct names, as they would with `hourly`).
#[test]
#[ignore = "needs logrotate: run by scripts/test"]
fn logrotate_create_dateext_while_writing() {
    let _heavy = harness::heavy();
    create_while_writing("create-de", &["dateext", "dateformat -%Y%m%d-%s"]);
}

// ---------------------------------------------------------------------------------------------
// `copytruncate` while writing, exporter up. Rotations count as `truncate`.
//
// copytruncate loses whatever is written between its copy and its truncate: that is
// logrotate's own race (its man page says so), not the exporter's, and with the writer going
// no count could be exact (the exporter may even have read, before the truncate, lines that end
// up in neither file). So THE WRITER PAUSES AROUND EACH ROTATION: every line written is then in
// exactly one file, and the exact count is what was written.

#[derive(Clone, Copy, PartialEq, Eq)]
enum Before {
    /// The exporter has read every line before logrotate runs: checks that the truncation is
    /// seen and the file read again from byte 0.
    CaughtUp,
    /// logrotate runs at once, so the last lines of the old file (up to one poll's worth) are
    /// likely unread when it is truncated; they survive only in the copy (`mail.log.1`, or
    /// `.1.gz`), where the follower must find them.
    Lagging,
}

fn copytruncate_while_writing(name: &str, extra: &[&str], before: Before) {
    let directives = with("copytruncate", extra);
    let scenario = format!(
        "logrotate `{}` x{ROTATIONS} while writing {RATE} lines/s (writer paused around it{}), \
         exporter up",
        directives.join(" "),
        match before {
            Before::CaughtUp => ", exporter caught up before it",
            Before::Lagging => ", exporter NOT waited for: unread tail",
        }
    );
    let s = Scene::new(name);
    let lr = s.logrotate(&directives, false);
    let exp = s.start();
    let w = s.writer();
    let every = spacing(&directives);
    for _ in 0..ROTATIONS {
        pace(&w, every);
        let at = w.pause();
        if before == Before::CaughtUp {
            maillog::wait_lines(exp.addr, at.lines, SETTLE)
                .unwrap_or_else(|e| panic!("{scenario}: before rotating: {e}"));
        }
        lr.rotate();
        w.resume();
    }
    pace(&w, every);
    let written = w.stop();
    s.assert_files_hold(written.lines, &scenario);
    s.check(&scenario, &exp, written, 0, ROTATIONS);
}

#[test]
#[ignore = "needs logrotate: run by scripts/test"]
fn logrotate_copytruncate_while_writing() {
    let _heavy = harness::heavy();
    copytruncate_while_writing("ct", &[], Before::CaughtUp);
}

#[test]
#[ignore = "needs logrotate: run by scripts/test"]
fn logrotate_copytruncate_compress_delaycompress_while_writing() {
    let _heavy = harness::heavy();
    copytruncate_while_writing("ct-dc", &["compress", "delaycompress"], Before::CaughtUp);
}

#[test]
#[ignore = "needs logrotate: run by scripts/test"]
fn logrotate_copytruncate_compress_at_once_while_writing() {
    let _heavy = harness::heavy();
    copytruncate_while_writing("ct-c", &["compress"], Before::CaughtUp);
}

#[test]
#[ignore = "needs logrotate: run by scripts/test"]
fn logrotate_copytruncate_dateext_while_writing() {
    let _heavy = harness::heavy();
    copytruncate_while_writing(
        "ct-de",
        &["dateext", "dateformat -%Y%m%d-%s"],
        Before::CaughtUp,
    );
}

#[test]
#[ignore = "needs logrotate: run by scripts/test"]
fn logrotate_copytruncate_with_an_unread_tail() {
    let _heavy = harness::heavy();
    copytruncate_while_writing("ct-lag", &[], Before::Lagging);
}

#[test]
#[ignore = "needs logrotate: run by scripts/test"]
fn logrotate_copytruncate_compress_at_once_with_an_unread_tail() {
    let _heavy = harness::heavy();
    copytruncate_while_writing("ct-c-lag", &["compress"], Before::Lagging);
}

// ---------------------------------------------------------------------------------------------
// Rotation while the exporter is down (stopped with SIGTERM), the writer going on throughout:
// lines written before the stop, after it into the file that gets rotated, and into the new
// file, all counted once after the restart. The file the exporter was in is found under its
// rotated name (plain, `.gz`, dateext). One rotation, counted as `rename`.

fn create_while_down(name: &str, extra: &[&str], rotated_as: fn(&str) -> bool, wanted: &str) {
    let once = Rotations::Exactly {
        renames: 1,
        truncations: 0,
    };
    let names = create_times_while_down(name, extra, 1, once);
    assert!(
        names.iter().any(|n| rotated_as(n)),
        "logrotate `create {}`: made {names:?}, the test wants {wanted}",
        extra.join(" ")
    );
}

/// `times` rotations while the exporter is down, the writer going on into each file: every
/// file rotated after the one the exporter was in holds only unread lines, and all are read
/// once, oldest first, then the new file. One rotation each, counted as `rotations` says.
/// Returns the names logrotate gave the rotated files.
fn create_times_while_down(
    name: &str,
    extra: &[&str],
    times: u64,
    rotations: Rotations,
) -> Vec<String> {
    let directives = with("create", extra);
    let scenario = format!(
        "logrotate `{}` {times} times while the exporter was down (SIGTERM), writer going on",
        directives.join(" ")
    );
    let s = Scene::new(name);
    let lr = s.logrotate(&directives, true);
    let w = s.written_then_stopped(&scenario);
    for _ in 0..times {
        w.write_more(RATE / 4);
        lr.rotate();
        // Dated names carry the second: the next rotation must not reuse this one's name.
        std::thread::sleep(spacing(&directives));
    }
    let rotated = s.rotated_names();
    assert_eq!(
        rotated.len() as u64,
        times,
        "{scenario}: TEST PREMISE: logrotate made {rotated:?}"
    );
    w.write_more(RATE / 4); // into the newest file, still down
    let exp = s.start();
    w.write_more(RATE / 2);
    let written = w.stop();
    s.assert_files_hold(written.lines, &scenario);
    s.check_rotations(&scenario, &exp, written, rotations);
    rotated
}

/// Several rotations while down, of either kind: the exporter cannot always tell them apart
/// here, as once the file it was in is compressed (and deleted) the new log may get its inode,
/// as if it had been emptied in place.
fn create_several_while_down(name: &str, extra: &[&str], times: u64) {
    create_times_while_down(name, extra, times, Rotations::EitherKind(times));
}

#[test]
#[ignore = "needs logrotate: run by scripts/test"]
fn logrotate_create_delaycompress_twice_while_down() {
    let _heavy = harness::heavy();
    create_several_while_down("down2-dc", &["compress", "delaycompress"], 2);
}

#[test]
#[ignore = "needs logrotate: run by scripts/test"]
fn logrotate_create_compress_five_times_while_down() {
    let _heavy = harness::heavy();
    create_several_while_down("down5-c", &["compress"], 5);
}

/// `copytruncate` `times` times while the exporter is down, the writer paused around each
/// (see above): the copy the saved position is in is finished, every newer copy is read whole,
/// oldest first, then the file at the path from its start. One `truncate` per rotation (the
/// inode at the path never changes).
fn copytruncate_times_while_down(name: &str, extra: &[&str], times: u64) {
    let directives = with("copytruncate", extra);
    let scenario = format!(
        "logrotate `{}` {times} times while the exporter was down (SIGTERM)",
        directives.join(" ")
    );
    let s = Scene::new(name);
    let lr = s.logrotate(&directives, false);
    let w = s.written_then_stopped(&scenario);
    for _ in 0..times {
        w.write_more(RATE / 4);
        w.pause();
        lr.rotate();
        w.resume();
    }
    w.write_more(RATE / 10);
    let exp = s.start();
    w.write_more(RATE / 4);
    let written = w.stop();
    s.assert_files_hold(written.lines, &scenario);
    s.check(&scenario, &exp, written, 0, times);
}

#[test]
#[ignore = "needs logrotate: run by scripts/test"]
fn logrotate_copytruncate_delaycompress_three_times_while_down() {
    let _heavy = harness::heavy();
    copytruncate_times_while_down("down3-ct", &["compress", "delaycompress"], 3);
}

#[test]
#[ignore = "needs logrotate: run by scripts/test"]
fn logrotate_create_dateext_compress_twice_while_down() {
    let _heavy = harness::heavy();
    create_several_while_down(
        "down2-de-c",
        &["dateext", "dateformat -%Y%m%d-%s", "compress"],
        2,
    );
}

/// logrotate's `compresscmd` with another compressor than gzip, and its `compressext`: the file
/// the exporter was in is found again decompressed, and the newer one read whole.
fn compressed_with_twice_while_down(name: &str, tool: &str, ext: &str) {
    let cmd = format!(
        "compresscmd {}",
        harness::util::require_tool(tool).display()
    );
    let compressext = format!("compressext .{ext}");
    let twice = Rotations::EitherKind(2);
    let names = create_times_while_down(name, &["compress", &cmd, &compressext], 2, twice);
    assert!(
        names.iter().all(|n| n.ends_with(&format!(".{ext}"))),
        "logrotate with {tool}: made {names:?}, the test wants every rotated file in .{ext}"
    );
}

#[test]
#[ignore = "needs logrotate and zstd: run by scripts/test"]
fn logrotate_create_compress_with_zstd_twice_while_down() {
    let _heavy = harness::heavy();
    compressed_with_twice_while_down("down2-zst", "zstd", "zst");
}

#[test]
#[ignore = "needs logrotate and xz: run by scripts/test"]
fn logrotate_create_compress_with_xz_twice_while_down() {
    let _heavy = harness::heavy();
    compressed_with_twice_while_down("down2-xz", "xz", "xz");
}

#[test]
#[ignore = "needs logrotate and bzip2: run by scripts/test"]
fn logrotate_create_compress_with_bzip2_twice_while_down() {
    let _heavy = harness::heavy();
    compressed_with_twice_while_down("down2-bz2", "bzip2", "bz2");
}

fn is_dateext(n: &str, suffix: &str) -> bool {
    n.strip_prefix("mail.log-")
        .and_then(|d| d.strip_suffix(suffix).or(suffix.is_empty().then_some(d)))
        .is_some_and(|d| d.len() == 8 && d.bytes().all(|b| b.is_ascii_digit()))
}

#[test]
#[ignore = "needs logrotate: run by scripts/test"]
fn logrotate_create_while_down() {
    let _heavy = harness::heavy();
    create_while_down("down", &[], |n| n == "mail.log.1", "mail.log.1");
}

#[test]
#[ignore = "needs logrotate: run by scripts/test"]
fn logrotate_create_compress_while_down() {
    let _heavy = harness::heavy();
    create_while_down(
        "down-c",
        &["compress"],
        |n| n == "mail.log.1.gz",
        "mail.log.1.gz",
    );
}

#[test]
#[ignore = "needs logrotate: run by scripts/test"]
fn logrotate_create_dateext_while_down() {
    let _heavy = harness::heavy();
    create_while_down(
        "down-de",
        &["dateext"],
        |n| is_dateext(n, ""),
        "mail.log-YYYYMMDD",
    );
}

#[test]
#[ignore = "needs logrotate: run by scripts/test"]
fn logrotate_create_dateext_compress_while_down() {
    let _heavy = harness::heavy();
    create_while_down(
        "down-de-c",
        &["dateext", "compress"],
        |n| is_dateext(n, ".gz"),
        "mail.log-YYYYMMDD.gz",
    );
}

/// copytruncate while down. Lines written after the saved position and before the truncate are
/// in the copy only. With `regrow`, the live file outgrows the saved offset before the restart:
/// device and inode are the same and the size is no smaller, so only the first bytes tell that
/// the file was truncated. The writer pauses around logrotate (see above). One `truncate`.
fn copytruncate_while_down(name: &str, extra: &[&str], regrow: bool) {
    let directives = with("copytruncate", extra);
    let scenario = format!(
        "logrotate `{}` once while the exporter was down (SIGTERM), new file {} the saved offset",
        directives.join(" "),
        if regrow {
            "regrown PAST"
        } else {
            "shorter than"
        }
    );
    let s = Scene::new(name);
    let lr = s.logrotate(&directives, false);
    let w = s.written_then_stopped(&scenario);
    w.write_more(RATE / 4); // after the saved position: will be in the copy only
    w.pause();
    let old_len = s.log_len();
    lr.rotate();
    w.resume();
    if regrow {
        let grown = wait_for(Duration::from_secs(20), Duration::from_millis(5), || {
            (s.log_len() > old_len + 4096).then_some(())
        });
        assert!(
            grown.is_some(),
            "{scenario}: the new file never outgrew {old_len} bytes"
        );
    } else {
        w.write_more(RATE / 10);
        assert!(
            s.log_len() < old_len,
            "{scenario}: the new file is not shorter"
        );
    }
    let exp = s.start();
    w.write_more(RATE / 4);
    let written = w.stop();
    s.assert_files_hold(written.lines, &scenario);
    s.check(&scenario, &exp, written, 0, 1);
}

#[test]
#[ignore = "needs logrotate: run by scripts/test"]
fn logrotate_copytruncate_while_down() {
    let _heavy = harness::heavy();
    copytruncate_while_down("down-ct", &[], false);
}

#[test]
#[ignore = "needs logrotate: run by scripts/test"]
fn logrotate_copytruncate_while_down_regrown_past_the_saved_offset() {
    let _heavy = harness::heavy();
    copytruncate_while_down("down-ct-big", &[], true);
}

#[test]
#[ignore = "needs logrotate: run by scripts/test"]
fn logrotate_copytruncate_compress_while_down_regrown_past_the_saved_offset() {
    let _heavy = harness::heavy();
    copytruncate_while_down("down-ct-c-big", &["compress"], true);
}

/// `rotate 1`, three rotations while down: the file the exporter was in is deleted (and so is
/// the next one, which it never saw). What was counted before the stop stays, the lost file is
/// said in `rotated_files_missed_total` (once), and every line of the files still there — the
/// rotated one, written after the save, and the live one — is counted once. The exporter was
/// caught up before the stop, so what it had counted is known exactly. Two rotations seen (the
/// lost file's, the kept one's), of either kind (the new log may reuse a deleted inode).
#[test]
#[ignore = "needs logrotate: run by scripts/test"]
fn logrotate_rotate_1_three_times_while_down_deletes_the_saved_file() {
    let _heavy = harness::heavy();
    let directives = ["create", "rotate 1"];
    let scenario = "logrotate `create rotate 1` 3 times while the exporter was down: the file \
                    it was in deleted";
    let s = Scene::new("down3-r1");
    let lr = s.logrotate(&directives, true);
    let (w, at) = s.caught_up_then_stopped(scenario);
    w.resume();
    for _ in 0..3 {
        w.write_more(RATE / 4);
        lr.rotate();
    }
    assert_eq!(
        s.rotated_names(),
        ["mail.log.1"],
        "{scenario}: TEST PREMISE"
    );
    w.write_more(RATE / 4);
    let exp = s.start();
    w.write_more(RATE / 2);
    let written = w.stop();
    let held = maillog::written_in_files(s.path(), "mail.log");
    assert!(
        at.lines + held.lines < written.lines,
        "{scenario}: TEST PREMISE: the deleted files held no line ({at:?} counted, {held:?} \
         held, {written:?} written)"
    );
    let want = Written {
        lines: at.lines + held.lines,
        replies: at.replies + held.replies,
    };
    s.check_rotations(scenario, &exp, want, Rotations::EitherKind(2));
    assert_missed_once(scenario, &exp);
}

// ---------------------------------------------------------------------------------------------
// Deleted and re-created (no logrotate needed).

/// While up: the writer goes on appending to the deleted file (it holds it open, and so does
/// the exporter), then reopens the path, which creates a new file. Every line is counted,
/// those of the deleted file too; one `rename`. (No file holds the deleted file's lines any
/// more, so the files are not counted here.)
#[test]
fn a_file_deleted_and_recreated_while_up() {
    let scenario = "mail.log deleted while written, then re-created, exporter up";
    let s = Scene::new("del");
    let exp = s.start();
    let w = s.writer();
    w.write_more(RATE / 2);
    fs::remove_file(&s.log).unwrap();
    w.write_more(RATE / 10); // into the deleted file
    w.reopen(); // creates mail.log anew
    w.write_more(RATE / 2);
    let written = w.stop();
    s.check(scenario, &exp, written, 1, 0);
}

/// While down: the exporter has read everything (lines nobody read in a deleted file are gone
/// for anyone), is stopped, the file is deleted and a new one created at once after the writer
/// closed the old one (ext4 then often hands out the same inode number again), and the new
/// file outgrows the saved offset before the restart: only the first bytes tell that it is
/// another file. Every line of the new file is counted. One rotation: a `rename` where the
/// inode number differs; where it was reused, the exporter cannot tell this from a
/// copytruncate rewritten past the old offset (same inode, other first bytes), so either kind.
/// The file it was reading is gone: one rotated file missed, said in the self-metric.
#[test]
fn a_file_deleted_and_recreated_while_down_and_grown_past_the_saved_offset() {
    let s = Scene::new("del-down");
    let (w, at) = s.caught_up_then_stopped("mail.log deleted and re-created while down");
    let old_id = maillog::file_id(&s.log);
    let old_len = s.log_len();
    fs::remove_file(&s.log).unwrap();
    w.reopen(); // closes the deleted file, then creates mail.log
    let reused = maillog::file_id(&s.log) == old_id;
    let scenario = format!(
        "mail.log deleted and re-created while the exporter was down (inode number {}), new \
         file grown past the saved offset",
        if reused { "REUSED" } else { "not reused" }
    );
    eprintln!("{scenario}");
    w.resume();
    let grown = wait_for(Duration::from_secs(20), Duration::from_millis(5), || {
        (s.log_len() > old_len + 4096).then_some(())
    });
    assert!(grown.is_some(), "{scenario}: never outgrew {old_len} bytes");
    let exp = s.start();
    w.write_more(RATE / 4);
    let written = w.stop();
    s.assert_files_hold(written.lines - at.lines, &scenario);
    let rotations = if reused {
        Rotations::EitherKind(1)
    } else {
        Rotations::Exactly {
            renames: 1,
            truncations: 0,
        }
    };
    s.check_rotations(&scenario, &exp, written, rotations);
    assert_missed_once(&scenario, &exp);
}

// ---------------------------------------------------------------------------------------------
// A renamed file still being written when the exporter stops (no logrotate needed).
//
// logrotate `create` renames the log and creates a new one; syslog appends to the renamed file
// until it is told to reopen. The exporter sees the new file (a `rename`), follows it, and
// drains the renamed one. If it stops at that moment (crash or SIGTERM), the lines appended to
// the renamed file afterwards are only found if the position in the renamed file was saved
// too (the state's `draining` positions), not just the position in the file at the path.

fn renamed_file_written_after_the_stop(name: &str, kill: bool) {
    let scenario = format!(
        "renamed mail.log.1 still written by syslog when the exporter was stopped by {}",
        if kill { "SIGKILL" } else { "SIGTERM" }
    );
    let s = Scene::new(name);
    let mut exp = s.start();
    let w = s.writer();
    w.write_more(RATE / 2);
    fs::rename(&s.log, s.path().join("mail.log.1")).unwrap();
    maillog::touch(&s.log); // logrotate's `create`
    w.write_more(RATE / 10); // still into mail.log.1
    let seen = maillog::wait_counters(exp.addr, "the rename seen", SETTLE, |c: &Counters| {
        c.renames >= 1
    });
    seen.unwrap_or_else(|e| panic!("{scenario}: {e}"));
    w.write_more(RATE / 10);
    if kill {
        exp.kill_hard();
    } else {
        let status = exp
            .terminate()
            .unwrap_or_else(|e| panic!("{scenario}: {e}"));
        assert!(status.success(), "{scenario}: SIGTERM exit {status}");
    }
    w.write_more(RATE / 4); // down: still into mail.log.1
    w.reopen(); // syslog reopens: into the new mail.log
    w.write_more(RATE / 4);
    let exp = s.start();
    w.write_more(RATE / 4);
    let written = w.stop();
    s.assert_files_hold(written.lines, &scenario);
    s.check(&scenario, &exp, written, 1, 0);
}

#[test]
fn a_renamed_file_written_after_a_sigkill_is_finished_after_the_restart() {
    renamed_file_written_after_the_stop("drain-kill", true);
}

#[test]
fn a_renamed_file_written_after_a_sigterm_is_finished_after_the_restart() {
    renamed_file_written_after_the_stop("drain-term", false);
}
