//! A live mail log for the tailing tests (tests/it/rotation.rs, tests/it/chaos.rs): real Postfix
//! lines as templates, a writer thread that appends them at a steady rate the way syslog does
//! (the file held open, reopened only when told), the real `logrotate` driven with a config of
//! the test's own, and the exporter's counters read back over HTTP until they settle.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::metrics::{parse_exposition, scrape, series};
use super::util::require_tool;

/// Real lines of a Postfix 3.7 run (tests/fixtures/postfix/e2e-run.log), with `{Q}` for the
/// queue id and `{N}` for a sequence number, so every line written is different. `true`: the
/// line reports exactly one reply (one recipient, or one refused command); `false`: the
/// exporter reads it as `ignored`.
const TEMPLATES: [(&str, bool); 8] = [
    (
        "Nov 23 02:16:57 mta postfix/qmgr[21711]: {Q}: from=<r250-sender-m{N}@snd.test>, \
         size=411, nrcpt=1 (queue active)",
        false,
    ),
    (
        "Nov 23 02:16:57 mta postfix/smtp[21723]: {Q}: to=<r250-m{N}r1@d2.test>, \
         relay=127.0.0.3[127.0.0.3]:43289, delay=0.03, delays=0/0.01/0/0.01, dsn=2.0.0, \
         status=sent (250 2.0.0 Ok: queued as S{N})",
        true,
    ),
    (
        "Nov 23 02:16:57 mta postfix/smtp[21722]: {Q}: to=<r451-4.3.0-m{N}r2@d1.test>, \
         relay=127.0.0.2[127.0.0.2]:43289, delay=0.04, delays=0/0.02/0.01/0, dsn=4.3.0, \
         status=deferred (host 127.0.0.2[127.0.0.2] said: 451 4.3.0 Local error in processing, \
         try again later <r451-4.3.0-m{N}r2@d1.test> (e2e sink) (in reply to RCPT TO command))",
        true,
    ),
    (
        "Nov 23 02:16:57 mta postfix/cleanup[21721]: {Q}: message-id=<m{N}@client.e2e.test>",
        false,
    ),
    (
        "Nov 23 02:16:57 mta postfix/smtp[21723]: {Q}: to=<r552-5.2.2-m{N}r2@D2.test>, \
         relay=127.0.0.3[127.0.0.3]:43289, delay=0.03, delays=0/0.01/0/0.01, dsn=5.2.2, \
         status=bounced (host 127.0.0.3[127.0.0.3] said: 552 5.2.2 Mailbox full \
         <r552-5.2.2-m{N}r2@D2.test> (e2e sink) (in reply to RCPT TO command))",
        true,
    ),
    (
        "Nov 23 02:16:58 mta postfix/smtpd[21713]: NOQUEUE: reject: RCPT from \
         unknown[127.0.0.9]: 554 5.7.1 <unknown[127.0.0.9]>: Client host rejected: Client \
         blocked by the e2e test; from=<r250-in-b{N}@snd.test> to=<ok-b{N}@in.test> \
         proto=ESMTP helo=<client.e2e.test>",
        true,
    ),
    (
        "Nov 23 02:16:57 mta postfix/smtp[21722]: {Q}: to=<r250-m{N}r0@down.test>, \
         relay=none, delay=0.01, delays=0.01/0.01/0/0, dsn=4.4.1, status=deferred (connect to \
         127.0.0.1[127.0.0.1]:45609: Connection refused)",
        true,
    ),
    (
        "Nov 23 02:16:57 mta postfix/qmgr[21711]: {Q}: removed",
        false,
    ),
];

/// Line `n` of the generated log (without its newline), and whether it reports one reply.
pub fn line(n: u64) -> (String, bool) {
    let (template, reply) = TEMPLATES[(n % TEMPLATES.len() as u64) as usize];
    let text = template
        .replace("{Q}", &format!("{:010X}", n + 0x1000))
        .replace("{N}", &format!("{n:07}"));
    (text, reply)
}

/// Appends lines `from..to` (each with its newline) to `buf` and returns what they hold.
pub fn render(from: u64, to: u64, buf: &mut Vec<u8>) -> Written {
    let mut w = Written::default();
    for n in from..to {
        let (text, reply) = line(n);
        buf.extend_from_slice(text.as_bytes());
        buf.push(b'\n');
        w.lines += 1;
        w.replies += u64::from(reply);
    }
    w
}

/// How much was written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Written {
    pub lines: u64,
    /// Lines that report one reply each: what `smtp_replies_total` must sum to.
    pub replies: u64,
}

impl Written {
    /// Lines the exporter reads as `ignored`.
    pub fn others(&self) -> u64 {
        self.lines - self.replies
    }
}

#[derive(Debug)]
struct Shared {
    path: PathBuf,
    reopen_flag: PathBuf,
    lines: AtomicU64,
    replies: AtomicU64,
    pause: AtomicBool,
    paused: AtomicBool,
    stop: AtomicBool,
}

/// Appends generated lines to a log at a steady rate, on a thread of its own, like syslog: the
/// file is held open, so after a rename the writer keeps appending to the renamed file until it
/// is told to reopen the path (the file `reopen_flag` appears: it closes the old file, opens the
/// path, creating it if needed, and removes the flag). A `copytruncate` needs no reopen: the
/// file is opened with `O_APPEND`.
pub struct Writer {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<Result<(), String>>>,
}

/// Lines are written in one `write` per batch, a batch every this often.
const BATCH_EVERY: Duration = Duration::from_millis(5);

impl Writer {
    pub fn start(path: &Path, reopen_flag: &Path, per_second: u64) -> Writer {
        let shared = Arc::new(Shared {
            path: path.to_path_buf(),
            reopen_flag: reopen_flag.to_path_buf(),
            lines: AtomicU64::new(0),
            replies: AtomicU64::new(0),
            pause: AtomicBool::new(false),
            paused: AtomicBool::new(false),
            stop: AtomicBool::new(false),
        });
        let s = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("log-writer".into())
            .spawn(move || write_loop(&s, per_second))
            .unwrap_or_else(|e| panic!("cannot start the writer thread: {e}"));
        Writer {
            shared,
            thread: Some(thread),
        }
    }

    pub fn written(&self) -> Written {
        Written {
            lines: self.shared.lines.load(Ordering::SeqCst),
            replies: self.shared.replies.load(Ordering::SeqCst),
        }
    }

    /// Stops writing; returns once no write is under way, with what was written.
    pub fn pause(&self) -> Written {
        self.shared.pause.store(true, Ordering::SeqCst);
        self.wait("pause", || self.shared.paused.load(Ordering::SeqCst));
        self.written()
    }

    pub fn resume(&self) {
        self.shared.pause.store(false, Ordering::SeqCst);
    }

    /// Tells the writer to reopen the path (as syslog on SIGHUP) and waits until it has.
    pub fn reopen(&self) {
        touch(&self.shared.reopen_flag);
        self.wait("reopen", || !self.shared.reopen_flag.exists());
    }

    /// Waits until at least `lines` lines have been written in all.
    pub fn wait_for_lines(&self, lines: u64) {
        self.wait(&format!("{lines} lines written"), || {
            self.written().lines >= lines
        });
    }

    /// Waits until `more` lines more than now have been written.
    pub fn write_more(&self, more: u64) {
        let want = self.written().lines + more;
        self.wait_for_lines(want);
    }

    fn wait(&self, what: &str, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !done() {
            if self.thread.as_ref().is_some_and(JoinHandle::is_finished) {
                panic!("the log writer stopped while waiting for {what}");
            }
            assert!(
                Instant::now() < deadline,
                "the log writer did not get to {what} within 20 s"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Stops the writer and returns what it wrote in all.
    pub fn stop(mut self) -> Written {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            match t.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => panic!("the log writer failed: {e}"),
                Err(_) => panic!("the log writer panicked"),
            }
        }
        self.written()
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn open_append(path: &Path) -> Result<File, String> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| format!("cannot open {} to append: {e}", path.display()))
}

fn write_loop(s: &Shared, per_second: u64) -> Result<(), String> {
    let mut file = Some(open_append(&s.path)?);
    let mut next: u64 = 0;
    // The rate is kept from here; a pause starts it afresh.
    let mut since = (Instant::now(), 0u64);
    let mut buf = Vec::new();
    while !s.stop.load(Ordering::SeqCst) {
        if s.reopen_flag.exists() {
            // Close first, so the old inode is free before the path is opened (a deleted
            // file's inode may then be reused, as on a real system).
            drop(file.take());
            file = Some(open_append(&s.path)?);
            fs::remove_file(&s.reopen_flag)
                .map_err(|e| format!("cannot remove {}: {e}", s.reopen_flag.display()))?;
        }
        if s.pause.load(Ordering::SeqCst) {
            s.paused.store(true, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(1));
            since = (Instant::now(), next);
            continue;
        }
        s.paused.store(false, Ordering::SeqCst);
        let due = since.1 + (since.0.elapsed().as_secs_f64() * per_second as f64) as u64;
        let n = due.saturating_sub(next).min(per_second.max(1000));
        if n > 0 {
            buf.clear();
            let w = render(next, next + n, &mut buf);
            if let Some(f) = file.as_mut() {
                f.write_all(&buf)
                    .map_err(|e| format!("cannot append to {}: {e}", s.path.display()))?;
            }
            next += n;
            s.replies.fetch_add(w.replies, Ordering::SeqCst);
            s.lines.fetch_add(w.lines, Ordering::SeqCst);
        }
        std::thread::sleep(BATCH_EVERY);
    }
    Ok(())
}

pub fn touch(p: &Path) {
    File::create(p).unwrap_or_else(|e| panic!("cannot create {}: {e}", p.display()));
}

/// The real `logrotate` with a config and a state file of the test's own.
pub struct Logrotate {
    bin: PathBuf,
    conf: PathBuf,
    state: PathBuf,
}

impl Logrotate {
    /// Writes `dir/logrotate.conf` for `log` with `directives` (one a line: `create`,
    /// `copytruncate`, `compress`, `delaycompress`, `dateext`, …) besides `missingok` and,
    /// unless they say `rotate N`, `rotate 50` (nothing is deleted, so the test can count the
    /// lines in every file). With
    /// `reopen_flag`, a postrotate script tells the [`Writer`] to reopen the log and waits (at
    /// most 5 s) until it has: what `systemctl kill -s HUP rsyslog` does on Debian. logrotate
    /// runs it before it compresses anything, as it does for syslog.
    pub fn new(dir: &Path, log: &Path, directives: &[&str], reopen_flag: Option<&Path>) -> Self {
        let bin = require_tool("logrotate");
        let conf = dir.join("logrotate.conf");
        let mut text = format!("{} {{\n    missingok\n", log.display());
        if !directives.iter().any(|d| d.starts_with("rotate ")) {
            text.push_str("    rotate 50\n");
        }
        for d in directives {
            text.push_str(&format!("    {d}\n"));
        }
        if let Some(flag) = reopen_flag {
            let f = flag.display();
            text.push_str(&format!(
                "    postrotate\n        touch {f}; i=0; while [ -e {f} ] && [ $i -lt 500 ]; do \
                 sleep 0.01; i=$((i+1)); done\n    endscript\n"
            ));
        }
        text.push_str("}\n");
        fs::write(&conf, text).unwrap_or_else(|e| panic!("{}: {e}", conf.display()));
        Logrotate {
            bin,
            state: dir.join("logrotate.status"),
            conf,
        }
    }

    /// `logrotate -f -s STATE CONF`; fails the test if logrotate fails or complains.
    pub fn rotate(&self) {
        let out = Command::new(&self.bin)
            .arg("-f")
            .arg("-s")
            .arg(&self.state)
            .arg(&self.conf)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", self.bin.display()));
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.status.success() && said.trim().is_empty(),
            "`logrotate -f -s {} {}` exited with {} and said:\n{said}",
            self.state.display(),
            self.conf.display(),
            out.status
        );
    }
}

/// The files of `dir` whose names start with `base` (the log and its rotated copies:
/// `mail.log.1`, `mail.log.2.gz`, `mail.log-20261122`, …), sorted.
pub fn log_files(dir: &Path, base: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with(base))
        .map(|e| e.path())
        .collect();
    v.sort();
    v
}

/// The bytes of a file, decompressed where it starts with a compressor's magic: gzip here,
/// zstd, xz and bzip2 by the real tools (`-dc`), so the test's count of what the files hold
/// does not rest on the exporter's own decoders.
pub fn read_maybe_compressed(p: &Path) -> Vec<u8> {
    let raw = fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let tool = if raw.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        "zstd"
    } else if raw.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        "xz"
    } else if raw.starts_with(b"BZh") {
        "bzip2"
    } else if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .unwrap_or_else(|e| panic!("gunzip {}: {e}", p.display()));
        return out;
    } else {
        return raw;
    };
    let out = Command::new(require_tool(tool))
        .arg("-dc")
        .arg(p)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {tool}: {e}"));
    assert!(
        out.status.success(),
        "`{tool} -dc {}`: {}",
        p.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Lines (newlines) held by the log and all its rotated copies, compressed or not.
pub fn lines_in_files(dir: &Path, base: &str) -> u64 {
    log_files(dir, base)
        .iter()
        .map(|p| {
            read_maybe_compressed(p)
                .iter()
                .filter(|&&b| b == b'\n')
                .count() as u64
        })
        .sum()
}

/// What the log and its rotated copies hold, line by line: each line must be one the writer
/// writes ([`line`]), known by its queue id (or, the one without, by its sequence number).
pub fn written_in_files(dir: &Path, base: &str) -> Written {
    let mut w = Written::default();
    for p in log_files(dir, base) {
        let bytes = read_maybe_compressed(&p);
        for text in String::from_utf8_lossy(&bytes).lines() {
            let n = number_of(text)
                .filter(|&n| line(n).0 == text)
                .unwrap_or_else(|| panic!("{}: not a line the writer writes: {text}", p.display()));
            w.lines += 1;
            w.replies += u64::from(line(n).1);
        }
    }
    w
}

/// The sequence number of a generated line: from its queue id, or from `b{N}@` in the one line
/// without a queue id (NOQUEUE).
fn number_of(text: &str) -> Option<u64> {
    let (_, rest) = text.split_once("]: ")?;
    if rest.starts_with("NOQUEUE") {
        let (_, after) = rest.split_once("from=<r250-in-b")?;
        return after.get(..7)?.parse().ok();
    }
    u64::from_str_radix(rest.get(..10)?, 16)
        .ok()?
        .checked_sub(0x1000)
}

/// One line per file: name and lines held, for failure messages.
pub fn describe_files(dir: &Path, base: &str) -> String {
    log_files(dir, base)
        .iter()
        .map(|p| {
            let n = read_maybe_compressed(p)
                .iter()
                .filter(|&&b| b == b'\n')
                .count();
            let name = p.file_name().unwrap_or_default().to_string_lossy();
            format!("  {name}: {n} lines")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The counters the tailing tests check, from one scrape.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// `smtp_replies_total`, summed over all series.
    pub replies: u64,
    /// `smtp_status_exporter_lines_total` by result.
    pub counted: u64,
    pub ignored: u64,
    pub unrecognised: u64,
    /// `smtp_status_exporter_file_rotations_total` by kind.
    pub renames: u64,
    pub truncations: u64,
}

impl Counters {
    /// Every line read, whatever its result.
    pub fn lines(&self) -> u64 {
        self.counted + self.ignored + self.unrecognised
    }

    pub fn rotations(&self) -> u64 {
        self.renames + self.truncations
    }

    pub fn from_exposition(text: &str) -> Result<Counters, String> {
        let samples = parse_exposition(text)?;
        let sum = |metric: &str, label: Option<(&str, &str)>| -> u64 {
            series(&samples, metric)
                .iter()
                .filter(|(l, _)| match label {
                    None => true,
                    Some((k, v)) => l.get(k).is_some_and(|x| x == v),
                })
                .map(|(_, v)| *v)
                .sum::<f64>() as u64
        };
        let lines = "smtp_status_exporter_lines_total";
        let rot = "smtp_status_exporter_file_rotations_total";
        Ok(Counters {
            replies: sum("smtp_replies_total", None),
            counted: sum(lines, Some(("result", "counted"))),
            ignored: sum(lines, Some(("result", "ignored"))),
            unrecognised: sum(lines, Some(("result", "unrecognised"))),
            renames: sum(rot, Some(("kind", "rename"))),
            truncations: sum(rot, Some(("kind", "truncate"))),
        })
    }

    pub fn scrape(addr: SocketAddr) -> Result<Counters, String> {
        Counters::from_exposition(&scrape(addr)?)
    }

    /// What differs from an exact count of `w` with these rotations, one item a mismatch.
    pub fn mismatches(&self, w: Written, renames: u64, truncations: u64) -> Vec<String> {
        let mut v = Vec::new();
        let mut check = |what: &str, want: u64, got: u64| {
            if want != got {
                let diff = got as i128 - want as i128;
                v.push(format!("{what}: expected {want}, got {got} ({diff:+})"));
            }
        };
        check("lines_total (all results)", w.lines, self.lines());
        check("smtp_replies_total (sum)", w.replies, self.replies);
        check("lines_total{result=\"counted\"}", w.replies, self.counted);
        check("lines_total{result=\"ignored\"}", w.others(), self.ignored);
        check("lines_total{result=\"unrecognised\"}", 0, self.unrecognised);
        check(
            "file_rotations_total{kind=\"rename\"}",
            renames,
            self.renames,
        );
        check(
            "file_rotations_total{kind=\"truncate\"}",
            truncations,
            self.truncations,
        );
        v
    }

    /// [`Counters::mismatches`] where each of `rotations` may count as either kind: once a
    /// rotated file was compressed (or deleted) while the exporter was down, its inode may be
    /// reused by the new log, so a rename may count as a truncate; each counts once all the same.
    pub fn mismatches_either_kind(&self, w: Written, rotations: u64) -> Vec<String> {
        let mut v = self.mismatches(w, self.renames, self.truncations);
        if self.rotations() != rotations {
            v.push(format!(
                "file_rotations_total (both kinds): expected {rotations}, got {}",
                self.rotations()
            ));
        }
        v
    }
}

/// How long `lines_total` must stay unchanged before the exporter counts as caught up: several
/// of the follower's 250 ms polls.
pub const QUIET: Duration = Duration::from_millis(1500);

/// How long `lines_total` may stay unchanged BELOW the target before waiting longer is pointless:
/// the follower polls every 250 ms and reads whatever is there, so it is stuck, not slow.
pub const STUCK: Duration = Duration::from_secs(6);

/// Polls `/metrics` until `lines_total` has reached at least `want_lines` and then not changed
/// for [`QUIET`] (so a late double count still shows), or has not changed for [`STUCK`] below
/// it, or until `timeout`; returns the last counters either way, for the caller to compare.
pub fn settle(addr: SocketAddr, want_lines: u64, timeout: Duration) -> Result<Counters, String> {
    let deadline = Instant::now() + timeout;
    let mut last: Option<(Counters, Instant)> = None;
    loop {
        let now = Instant::now();
        match Counters::scrape(addr) {
            Ok(c) => match &last {
                Some((prev, since)) if prev.lines() == c.lines() => {
                    let quiet = now.duration_since(*since);
                    if (c.lines() >= want_lines && quiet >= QUIET) || quiet >= STUCK {
                        return Ok(c);
                    }
                    last = Some((c, *since));
                }
                _ => last = Some((c, now)),
            },
            Err(e) if now >= deadline => return Err(e),
            Err(_) => {}
        }
        if now >= deadline {
            return last
                .map(|(c, _)| c)
                .ok_or_else(|| "no scrape answered".into());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Polls `/metrics` until `lines_total` is at least `want_lines` (no quiet period), within
/// `timeout`; the counters then, or an error saying how far it got.
pub fn wait_lines(
    addr: SocketAddr,
    want_lines: u64,
    timeout: Duration,
) -> Result<Counters, String> {
    let deadline = Instant::now() + timeout;
    let mut last = None;
    loop {
        if let Ok(c) = Counters::scrape(addr) {
            if c.lines() >= want_lines {
                return Ok(c);
            }
            last = Some(c);
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "lines_total did not reach {want_lines} within {timeout:?}: last scrape {last:?}"
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Polls `/metrics` until `pred` holds, within `timeout`.
pub fn wait_counters(
    addr: SocketAddr,
    what: &str,
    timeout: Duration,
    mut pred: impl FnMut(&Counters) -> bool,
) -> Result<Counters, String> {
    let deadline = Instant::now() + timeout;
    let mut last = None;
    loop {
        if let Ok(c) = Counters::scrape(addr) {
            if pred(&c) {
                return Ok(c);
            }
            last = Some(c);
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "{what}: not within {timeout:?}; last scrape {last:?}"
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// (device, inode) of a path.
pub fn file_id(p: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    fs::metadata(p).ok().map(|m| (m.dev(), m.ino()))
}
