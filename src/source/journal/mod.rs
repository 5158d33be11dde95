//! The systemd journal as a source (`--journal`).
//!
//! Read through `journalctl -o json --follow` as a child process, keeping the cursor ourselves.
//! Why not a library: the `systemd` crate (LGPL) and `sd-journal` (AGPL) link libsystemd under
//! licences this Apache-2.0 project would rather not carry; the pure-Rust readers on crates.io
//! (`sdjournal`, `systemd-journal-sdk`) are young, and the journal's file format keeps growing
//! (compact mode, new compressions, keyed hashes). `journalctl` is the reader systemd ships and
//! keeps in step with its own files, including rotation, vacuuming and access rights; Vector's
//! journald source works the same way, while readers linked against libsystemd in Go exporters
//! broke across systemd versions. The cost is a process and a JSON line per entry, small beside
//! the rate at which an MTA logs.
//!
//! Each entry becomes one syslog-shaped line, `<RFC 3339 time> <_HOSTNAME>
//! <SYSLOG_IDENTIFIER>[<_PID>]: <MESSAGE>`, rebuilt in a reused buffer and handed to the same
//! parser as a line of a file (`parse/syslog.rs` reads that shape). `MESSAGE` arrives as a string,
//! as an array of bytes (not UTF-8), or as `null` (over journalctl's 4096-byte field limit: never
//! a Postfix line, which Postfix cuts at 2000 bytes); missing, `null` or multi-valued, the entry
//! is counted `unrecognised`.
//!
//! Exactness: the cursor of an entry is stored in [`Reading::cursor`] under the same lock as
//! the entry's counts, so a state snapshot holds both or neither. A restart (or a journalctl that
//! exited) continues with `--cursor=C` and drops the first entry when it *is* `C`: unlike
//! `--after-cursor`, that loses nothing when `C` no longer matches the filter or was vacuumed
//! (journalctl's `--after-cursor` skips one entry after seeking, whichever entry that is). On a
//! first start the cursor of the last matching entry is looked up (`-n 1`) before the source
//! says it is ready, so everything logged after readiness is counted.
//!
//! [`Reading::cursor`]: crate::aggregate::Reading::cursor

mod entry;
use entry::*;

use std::borrow::Cow;
use std::ffi::OsString;
use std::fmt;
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStderr, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, UNIX_EPOCH};

use anyhow::Context;
use serde::de::{self, Deserializer, IgnoredAny, SeqAccess, Visitor};
use serde::Deserialize;

use super::lines::{Line, LineSplitter, MAX_LINE};
use super::{ingest, Running, Source, CHUNK};
use crate::aggregate::{Aggregator, Counters, LineResult, SourceId, SourceState};
use crate::parse::Parser;

/// The filter without `--journal.unit`/`--journal.match`: the syslog facility `mail`, i.e. what
/// rsyslog writes to `/var/log/mail.log`. It catches every Postfix program and instance
/// (`postfix/smtp`, `postfix/submission/smtpd`, `postfix-out/smtp`) whatever its unit is called,
/// and units that start later: `-u 'postfix*'` is a glob journalctl expands once, when it starts,
/// against the units already in the journal (and fails when none matches yet).
pub const DEFAULT_MATCH: &str = "SYSLOG_FACILITY=2";

/// Only the fields a line is rebuilt from (journalctl adds `__CURSOR`, `__REALTIME_TIMESTAMP`,
/// `__MONOTONIC_TIMESTAMP` and `_BOOT_ID` to every entry), not the two dozen journald adds to a
/// syslog message (`_CMDLINE`, `_SYSTEMD_CGROUP`, `_CAP_EFFECTIVE`, …): less JSON to print and
/// to parse.
const OUTPUT_FIELDS: &str =
    "--output-fields=MESSAGE,SYSLOG_IDENTIFIER,_COMM,_PID,SYSLOG_PID,_HOSTNAME";

/// A JSON line longer than this is counted `unrecognised` and skipped. journalctl prints a field
/// over 4096 bytes as `null`, and a byte array takes at most 4 characters a byte, so the fields
/// asked for stay far below it; the cap only bounds memory against the unforeseen.
pub const MAX_JSON_LINE: usize = 4 * MAX_LINE;

/// First wait before journalctl is started again; it doubles up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// A journalctl that ran this long was fine: the next failure waits [`MIN_BACKOFF`] again.
const HEALTHY_RUN: Duration = Duration::from_secs(10);

/// Which journal to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The system journal (journalctl's default).
    System,
    /// One journal file (`journalctl --file`).
    File(PathBuf),
    /// A directory of journal files (`journalctl --directory`).
    Directory(PathBuf),
}

/// A journal source, from `--journal` and its flags.
#[derive(Debug, Clone)]
pub struct JournalSpec {
    pub name: String,
    /// The parser of the rebuilt syslog lines.
    pub parser: Parser,
    pub journalctl: PathBuf,
    pub origin: Origin,
    /// `journalctl -u` values (globs allowed).
    pub units: Vec<String>,
    /// `FIELD=VALUE` matches and `+`, as journalctl takes them.
    pub matches: Vec<String>,
}

impl JournalSpec {
    /// What the source reads, as shown on `/` and kept in the state file: a saved cursor is
    /// only used for the same journal. (The filter is not part of it: changing the filter
    /// keeps counters and cursor.)
    pub fn location(&self) -> String {
        match &self.origin {
            Origin::System => "journal".to_owned(),
            Origin::File(p) => format!("journal file {}", p.display()),
            Origin::Directory(p) => format!("journal directory {}", p.display()),
        }
    }

    /// The filter, as the user would write it for journalctl.
    pub fn filter(&self) -> String {
        let units = self.units.iter().map(|u| format!("-u {u}"));
        let all: Vec<String> = units.chain(self.matches.iter().cloned()).collect();
        all.join(" ")
    }

    /// Arguments common to every journalctl run: which journal, which entries, which output.
    fn args(&self) -> Vec<OsString> {
        let mut a: Vec<OsString> = Vec::new();
        match &self.origin {
            Origin::System => {}
            Origin::File(p) => a.extend(["--file".into(), p.into()]),
            Origin::Directory(p) => a.extend(["--directory".into(), p.into()]),
        }
        for u in &self.units {
            a.push(format!("--unit={u}").into());
        }
        a.extend(
            ["--output=json", OUTPUT_FIELDS, "--no-pager"]
                .into_iter()
                .map(OsString::from),
        );
        // Matches last, after the options, as journalctl's synopsis has them.
        a.extend(self.matches.iter().map(OsString::from));
        a
    }
}

/// Checks one `--journal.match` value: `+` or `FIELD=VALUE` with a journal field name
/// (upper-case letters, digits and `_`, not starting with a digit).
pub fn check_match(m: &str) -> Result<(), String> {
    if m == "+" {
        return Ok(());
    }
    let Some((field, _)) = m.split_once('=') else {
        return Err(format!(
            "{m:?} is not FIELD=VALUE (e.g. SYSLOG_IDENTIFIER=postfix/smtp) nor +"
        ));
    };
    let ok = !field.is_empty()
        && !field.starts_with(|c: char| c.is_ascii_digit())
        && field
            .bytes()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == b'_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{field:?} in {m:?} is not a journal field name (upper-case letters, digits and _)"
        ))
    }
}

// ---------------------------------------------------------------------------------------------
// The journalctl process.

/// A running journal source; [`Journal::stop`] ends it and its journalctl.
#[derive(Debug)]
pub struct Journal {
    stop: Arc<AtomicBool>,
    child: Arc<Mutex<Option<Child>>>,
    thread: JoinHandle<()>,
}

/// Starts reading the journal on a thread of its own. `restored`: counters and cursor came from
/// the state file; without it (a first start) reading begins at the end of the journal.
pub fn start(
    spec: JournalSpec,
    source: SourceId,
    restored: bool,
    agg: Counters,
) -> anyhow::Result<Journal> {
    let stop = Arc::new(AtomicBool::new(false));
    let child = Arc::new(Mutex::new(None));
    let worker = Worker {
        counter: EntryCounter::new(source, spec.parser.clone()),
        spec,
        source,
        from_end: !restored,
        agg,
        stop: Arc::clone(&stop),
        child: Arc::clone(&child),
        buf: vec![0; CHUNK],
    };
    let thread = std::thread::Builder::new()
        .name("journal".into())
        .spawn(move || worker.run())
        .context("cannot start the journal reader thread")?;
    Ok(Journal {
        stop,
        child,
        thread,
    })
}

/// The journal source of the plan (its [`Source`]).
#[derive(Debug)]
pub struct JournalSource {
    id: SourceId,
    spec: JournalSpec,
}

impl JournalSource {
    pub fn new(id: SourceId, spec: JournalSpec) -> Self {
        JournalSource { id, spec }
    }
}

impl Source for JournalSource {
    fn start(self: Box<Self>, counters: &Counters) -> anyhow::Result<Running> {
        let restored = counters.lock().source(self.id).is_some_and(|s| s.restored);
        let journal = start(self.spec, self.id, restored, counters.clone())?;
        // Kills journalctl too.
        Ok(Running::new(move || journal.stop()))
    }
}

impl Journal {
    /// Stops the reader: kills journalctl (which unblocks the read) and waits for the thread.
    pub fn stop(self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(c) = lock(&self.child).as_mut() {
            let _ = c.kill();
        }
        let _ = self.thread.join();
    }
}

/// A journalctl's output, and the thread that logs what it says on stderr.
type Spawned = (ChildStdout, Option<JoinHandle<String>>);

struct Worker {
    spec: JournalSpec,
    source: SourceId,
    /// No cursor is known and this is a first start: find the end of the journal first.
    from_end: bool,
    agg: Counters,
    stop: Arc<AtomicBool>,
    /// The journalctl following the journal, where [`Journal::stop`] can kill it. A new one is
    /// only started while holding this lock and after checking `stop` under it.
    child: Arc<Mutex<Option<Child>>>,
    counter: EntryCounter,
    buf: Vec<u8>,
}

impl Worker {
    fn run(mut self) {
        let mut backoff = MIN_BACKOFF;
        while !self.stopped() {
            let started = Instant::now();
            if let Err(e) = self.follow() {
                if self.stopped() {
                    break;
                }
                self.fail(&e);
            }
            if started.elapsed() >= HEALTHY_RUN {
                backoff = MIN_BACKOFF;
            }
            self.sleep(backoff);
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Waits `d`, or less when stopped.
    fn sleep(&self, d: Duration) {
        let until = Instant::now() + d;
        while !self.stopped() {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            std::thread::sleep(left.min(Duration::from_millis(50)));
        }
    }

    /// Runs one journalctl until it ends. Always an error unless stopping: journalctl
    /// `--follow` does not end by itself.
    fn follow(&mut self) -> Result<(), String> {
        let mut cursor = self
            .agg
            .lock()
            .source(self.source)
            .and_then(|s| s.reading.cursor.clone());
        if cursor.is_none() && self.from_end {
            cursor = self.end_cursor()?;
            if let (Some(c), Some(s)) = (&cursor, self.agg.lock().source_mut(self.source)) {
                // Saved at once: a restart before the next entry still starts here.
                s.reading.cursor = Some(c.clone());
            }
            self.from_end = false;
        }
        let Some((stdout, stderr)) = self.spawn(cursor.as_deref())? else {
            return Ok(());
        };
        self.following(cursor.as_deref());
        self.counter.restart(cursor);
        let read = self.pump(stdout);
        let status = lock(&self.child).take().map(|mut c| {
            if read.is_err() {
                // Still running, perhaps: waiting for it would wait for ever.
                let _ = c.kill();
            }
            c.wait()
        });
        let said = stderr.and_then(|t| t.join().ok()).unwrap_or_default();
        if self.stopped() {
            return Ok(());
        }
        read.map_err(|e| format!("reading journalctl's output: {e}"))?;
        let status = match status {
            Some(Ok(s)) => s.to_string(),
            Some(Err(e)) => format!("status unknown: {e}"),
            None => "status unknown".to_owned(),
        };
        Err(if said.is_empty() {
            format!("journalctl ended ({status})")
        } else {
            format!("journalctl ended ({status}): {said}")
        })
    }

    /// The cursor of the last entry the filter matches now (`None`: the journal has none yet).
    fn end_cursor(&self) -> Result<Option<String>, String> {
        let out = Command::new(&self.spec.journalctl)
            .args(self.spec.args())
            .arg("--lines=1")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| self.cannot_run(&e))?;
        if !out.status.success() {
            return Err(format!(
                "journalctl ended ({}): {}",
                out.status,
                last_line(&out.stderr)
            ));
        }
        let Some(json) = out
            .stdout
            .split(|&c| c == b'\n')
            .rfind(|l| !l.trim_ascii().is_empty())
        else {
            return Ok(None);
        };
        let entry: Entry<'_> = serde_json::from_slice(json)
            .map_err(|e| format!("journalctl printed an entry that is not JSON: {e}"))?;
        match entry.cursor {
            Some(c) => Ok(Some(c.into_owned())),
            None => Err("journalctl printed an entry without __CURSOR".to_owned()),
        }
    }

    fn cannot_run(&self, e: &std::io::Error) -> String {
        let hint = if e.kind() == ErrorKind::NotFound {
            " (install systemd's journalctl, or name it with --journal.journalctl)"
        } else {
            ""
        };
        format!("cannot run {}: {e}{hint}", self.spec.journalctl.display())
    }

    /// Starts `journalctl --follow` at `cursor` (or at the journal's first matching entry).
    /// `None` when stopping.
    fn spawn(&self, cursor: Option<&str>) -> Result<Option<Spawned>, String> {
        let mut slot = lock(&self.child);
        if self.stopped() {
            return Ok(None);
        }
        let mut cmd = Command::new(&self.spec.journalctl);
        cmd.args(self.spec.args()).arg("--follow");
        match cursor {
            Some(c) => cmd.arg(format!("--cursor={c}")),
            // Everything: without it `--follow` starts with the last 10 entries.
            None => cmd.arg("--no-tail"),
        };
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| self.cannot_run(&e))?;
        let stderr = child.stderr.take().and_then(watch_stderr);
        let Some(stdout) = child.stdout.take() else {
            let _ = child.kill();
            let _ = child.wait();
            return Err("journalctl started without its output pipe".to_owned());
        };
        *slot = Some(child);
        Ok(Some((stdout, stderr)))
    }

    /// Reads journalctl's output to its end, counting entries under one lock per read.
    fn pump(&mut self, mut out: ChildStdout) -> std::io::Result<()> {
        loop {
            let n = match out.read(&mut self.buf) {
                Ok(0) => return Ok(()),
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            let chunk = self.buf.get(..n).unwrap_or_default();
            let mut g = self.agg.lock();
            self.counter.consume(&mut g, chunk);
        }
    }

    fn following(&self, cursor: Option<&str>) {
        let mut g = self.agg.lock();
        if let Some(s) = g.source_mut(self.source) {
            if s.state != SourceState::Following {
                let from = match cursor {
                    Some(c) => format!("the entry after cursor {c}"),
                    None => "its first matching entry".to_owned(),
                };
                tracing::info!(
                    "following the {} ({}) from {from}",
                    self.spec.location(),
                    self.spec.filter()
                );
            }
            s.state = SourceState::Following;
        }
    }

    fn fail(&self, msg: &str) {
        let mut g = self.agg.lock();
        g.add_read_error(self.source);
        let msg = format!("{}: {msg}", self.spec.location());
        if let Some(s) = g.source_mut(self.source) {
            if s.state != SourceState::Failing(msg.clone()) {
                tracing::warn!("cannot read the {msg}: retrying");
                s.state = SourceState::Failing(msg);
            }
        }
    }
}

/// Logs what journalctl says on stderr as warnings; the thread returns the last thing said.
fn watch_stderr(stderr: ChildStderr) -> Option<JoinHandle<String>> {
    std::thread::Builder::new()
        .name("journalctl-stderr".into())
        .spawn(move || {
            let mut last = String::new();
            for l in BufReader::new(stderr).split(b'\n') {
                let Ok(l) = l else { break };
                let text = last_line(&l);
                if !text.is_empty() {
                    tracing::warn!("journalctl: {text}");
                    last = text;
                }
            }
            last
        })
        .ok()
}

/// The last non-empty line of a program's output, trimmed and bounded, for a message.
fn last_line(b: &[u8]) -> String {
    let line = b
        .split(|&c| c == b'\n')
        .rfind(|l| !l.trim_ascii().is_empty())
        .unwrap_or_default()
        .trim_ascii();
    let text = String::from_utf8_lossy(line.get(..500).unwrap_or(line));
    text.into_owned()
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::Bounds;

    const SENT: &str = "1CA9A98C0C2: to=<Info@EXAMPLE.NET>, relay=127.0.0.1[127.0.0.1]:12600, delay=0.03, delays=0.01/0.02/0/0, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 4XyZ12AbCd)";

    const IGNORED: &str = "connect to 127.0.0.1[127.0.0.1]:45609: Connection refused";

    fn agg() -> Aggregator {
        Aggregator::new(
            vec![("postfix".into(), "postfix".into())],
            &Bounds {
                domains_max: 10,
                ..Bounds::default()
            },
        )
    }

    fn json_entry(i: u32, message: &str) -> String {
        format!(
            r#"{{"__CURSOR":"s=ab;i={i:x}","__REALTIME_TIMESTAMP":"1700000000123456","_HOSTNAME":"mx","SYSLOG_IDENTIFIER":"postfix/smtp","_PID":"123","MESSAGE":{message},"_BOOT_ID":"0123"}}"#
        )
    }

    fn rebuilt(json: &str) -> Option<String> {
        let e: Entry<'_> = serde_json::from_str(json).ok()?;
        let mut out = Vec::new();
        rebuild(&mut out, &e).then(|| String::from_utf8_lossy(&out).into_owned())
    }

    #[test]
    fn an_entry_becomes_a_syslog_line_the_parser_reads() {
        let line = rebuilt(&json_entry(1, &serde_json::to_string(SENT).unwrap())).unwrap();
        assert_eq!(
            line,
            format!("2023-11-14T22:13:20.123456Z mx postfix/smtp[123]: {SENT}")
        );
        let parsed = crate::parse::Format::Postfix.parse(line.as_bytes());
        assert!(
            matches!(parsed, crate::parse::Parsed::Event(_)),
            "{parsed:?}"
        );
    }

    #[test]
    fn message_as_bytes_null_missing_or_several() {
        let bytes = rebuilt(&json_entry(1, "[104,195,40,255]")).unwrap();
        assert!(bytes.ends_with(": h\u{FFFD}(\u{FFFD}"), "{bytes}");
        let json = json_entry(1, "[104,195,40,255]");
        let e: Entry<'_> = serde_json::from_str(&json).unwrap();
        assert_eq!(e.message, Field::Bytes(vec![104, 195, 40, 255]));
        assert_eq!(rebuilt(&json_entry(1, "null")), None);
        assert_eq!(rebuilt(&json_entry(1, r#"["a","b"]"#)), None);
        assert_eq!(rebuilt(&json_entry(1, "[[1],[2]]")), None);
        assert_eq!(rebuilt(&json_entry(1, "[1,300]")), None);
        assert_eq!(rebuilt(&json_entry(1, "{}")), None);
        assert_eq!(rebuilt(r#"{"__CURSOR":"c","SYSLOG_IDENTIFIER":"x"}"#), None);
        // An empty array is an empty message.
        assert!(rebuilt(&json_entry(1, "[]")).unwrap().ends_with(": "));
    }

    #[test]
    fn strings_borrow_unless_escaped() {
        let json = json_entry(1, r#""a \"quoted\" word""#);
        let e: Entry<'_> = serde_json::from_str(&json).unwrap();
        assert!(matches!(e.identifier, Field::Text(Cow::Borrowed(_))));
        assert_eq!(
            e.message,
            Field::Text(Cow::Owned("a \"quoted\" word".into()))
        );
    }

    #[test]
    fn header_fields_fall_back_or_are_left_out() {
        let j = r#"{"__REALTIME_TIMESTAMP":"0","_HOSTNAME":"a b","_COMM":"smtp","SYSLOG_PID":"77","MESSAGE":"m"}"#;
        assert_eq!(
            rebuilt(j).unwrap(),
            "1970-01-01T00:00:00.000000Z smtp[77]: m"
        );
        let j = r#"{"_PID":"x1","MESSAGE":"m"}"#;
        assert_eq!(
            rebuilt(j).unwrap(),
            "1970-01-01T00:00:00.000000Z unknown: m"
        );
        let j = r#"{"__REALTIME_TIMESTAMP":"99999999999999999999","MESSAGE":"m"}"#;
        assert!(rebuilt(j).unwrap().starts_with("1970-01-01T00:00:00"));
    }

    #[test]
    fn rfc3339_matches_known_dates() {
        for (micros, want) in [
            (0, "1970-01-01T00:00:00.000000Z"),
            (951_782_400_000_001, "2000-02-29T00:00:00.000001Z"),
            (1_709_251_199_999_999, "2024-02-29T23:59:59.999999Z"),
            (4_102_444_800_000_000, "2100-01-01T00:00:00.000000Z"),
        ] {
            let mut out = Vec::new();
            write_rfc3339(&mut out, micros);
            assert_eq!(String::from_utf8_lossy(&out), want);
        }
    }

    #[test]
    fn counts_and_cursor_move_together_whatever_the_chunks() {
        let message = serde_json::to_string(SENT).unwrap();
        // An ignored line (a connection failure, no reply) as bytes.
        let ignored: Vec<u8> = IGNORED.bytes().collect();
        let text = format!(
            "{}\n{}\nnot json\n{}\n",
            json_entry(1, &message),
            json_entry(2, "null"),
            json_entry(3, &serde_json::to_string(&ignored).unwrap())
        );
        let b = text.as_bytes();
        for cut in 0..=b.len() {
            let mut a = agg();
            let mut c = EntryCounter::new(SourceId(0), crate::parse::Format::Postfix);
            c.consume(&mut a, &b[..cut]);
            // Every complete line is counted, with the cursor of the last complete entry.
            let complete = b[..cut].iter().filter(|&&x| x == b'\n').count() as u64;
            assert_eq!(
                a.sources[0].line_counts().iter().sum::<u64>(),
                complete,
                "cut {cut}"
            );
            c.consume(&mut a, &b[cut..]);
            assert_eq!(a.sources[0].line_counts(), [1, 1, 2], "cut {cut}");
            assert_eq!(a.sources[0].reading.cursor.as_deref(), Some("s=ab;i=3"));
            assert_eq!(a.sources[0].bytes, b.len() as u64);
        }
    }

    #[test]
    fn the_entry_at_the_start_cursor_is_not_counted_again() {
        let text = format!("{}\n{}\n", json_entry(1, "\"x\""), json_entry(2, "\"y\""));
        let mut a = agg();
        let mut c = EntryCounter::new(SourceId(0), crate::parse::Format::Postfix);
        c.restart(Some("s=ab;i=1".into()));
        c.consume(&mut a, text.as_bytes());
        assert_eq!(a.sources[0].line_counts().iter().sum::<u64>(), 1);
        // A cursor that is not the first entry (vacuumed, or not matching): nothing is dropped.
        let mut a = agg();
        c.restart(Some("s=ab;i=0".into()));
        c.consume(&mut a, text.as_bytes());
        assert_eq!(a.sources[0].line_counts().iter().sum::<u64>(), 2);
        assert_eq!(a.sources[0].reading.cursor.as_deref(), Some("s=ab;i=2"));
    }

    #[test]
    fn an_overlong_json_line_is_one_unrecognised_line() {
        let mut a = agg();
        let mut c = EntryCounter::new(SourceId(0), crate::parse::Format::Postfix);
        let long = format!("{{\"MESSAGE\":\"{}\"}}\n", "x".repeat(MAX_JSON_LINE));
        c.consume(&mut a, long.as_bytes());
        let ignored = serde_json::to_string(IGNORED).unwrap();
        c.consume(&mut a, format!("{}\n", json_entry(9, &ignored)).as_bytes());
        assert_eq!(a.sources[0].line_counts(), [0, 1, 1]);
        assert_eq!(a.sources[0].reading.cursor.as_deref(), Some("s=ab;i=9"));
    }

    #[test]
    fn matches_are_checked() {
        for ok in [
            "SYSLOG_FACILITY=2",
            "_SYSTEMD_UNIT=postfix@-.service",
            "+",
            "A=",
        ] {
            assert_eq!(check_match(ok), Ok(()), "{ok}");
        }
        for bad in ["postfix", "=x", "syslog_identifier=x", "1A=x", "A B=x"] {
            assert!(check_match(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn journalctl_arguments() {
        let spec = JournalSpec {
            name: "postfix".into(),
            parser: Parser::Postfix,
            journalctl: "journalctl".into(),
            origin: Origin::File("/j/x.journal".into()),
            units: vec!["postfix*".into()],
            matches: vec![DEFAULT_MATCH.into()],
        };
        let args: Vec<String> = spec
            .args()
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            args,
            [
                "--file",
                "/j/x.journal",
                "--unit=postfix*",
                "--output=json",
                OUTPUT_FIELDS,
                "--no-pager",
                "SYSLOG_FACILITY=2"
            ]
        );
        assert_eq!(spec.location(), "journal file /j/x.journal");
        assert_eq!(spec.filter(), "-u postfix* SYSLOG_FACILITY=2");
    }
}
