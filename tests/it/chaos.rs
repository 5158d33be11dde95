//! Chaos: a writer appends real Postfix lines at tens of thousands a second and rotates the log
//! now and then (syslog-style rename, logrotate-style rename + create, some rotated files gzipped
//! a little later), while the exporter is killed with SIGKILL at random moments (and sometimes
//! stopped with SIGTERM) and started again. Two scrapers poll `/metrics` whenever the exporter
//! is up, as an HA pair of Prometheus servers would.
//!
//! What is checked:
//! - no value a scraper saw ever decreased: `smtp_replies_total` (summed) and
//!   `smtp_status_exporter_lines_total` (summed), each scraper on its own, across restarts;
//! - at the end (writer stopped, exporter caught up): every line written counted exactly once,
//!   every reply line one reply, nothing `unrecognised`, every rotation counted once (as a
//!   `rename`, each rotation putting another inode at the path; or, when a rotated file was
//!   gzipped while the exporter was down and the new log got its inode back, as a `truncate`).
//!
//! What the exporter guarantees, and so what the schedule keeps to: counters and read positions
//! (of the file at the path and of rotated files still being drained) are saved together before
//! each scrape is answered, every 5 s and at shutdown. On a restart each saved file is found
//! again, at the path or under a rotated name (`mail.log.1`, `mail.log.3.gz`), and read from its
//! saved offset to its end; every file rotated after it (A → .3, B → .2, C → .1, D at the path)
//! is read whole, oldest first; then the file at the path from its start. So any number of
//! rotations while it is down is exact, as long as the files are kept (this writer deletes
//! none). The schedule:
//! - it is stopped (SIGKILL 3 times in 4, else SIGTERM) at random moments: also while the writer
//!   still appends to a file just renamed, or before it has read a line of the newest file;
//! - while it is down, the log is rotated up to THREE times (half the down times: none), each
//!   rotation finished (the writer reopened) before the next, if, when it was stopped, a scrape
//!   (which saves state before it is answered) had shown it reading the newest file —
//!   `lines_total` above the number of lines written before the newest file's first line — and
//!   no rotation was half done. Not for the lines' sake: a file of which the state holds no
//!   byte read has no fingerprint, so once gzipped it is not known again, and its rotation would
//!   be counted twice (as missed, and as a file written since the save);
//! - while it is up, a rotation starts only under that same condition.
//!
//! Random choices come from a seeded xorshift (std only): `CHAOS_SEED=N` replays a schedule
//! (timing still varies), otherwise the clock seeds it; the seed is printed, and named in every
//! failure. `CHAOS_SECS` sets how long the writer writes (default 25). The test stops by itself:
//! writing ends after that time, waiting for the exporter to catch up is bounded.

// A test crate: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::harness;

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use harness::exporter::Exporter;
use harness::maillog::{self, Counters, Written};
use harness::util::{require_tool, TestDir};

/// Lines a second the writer appends.
const RATE: u64 = 20_000;
/// How long the writer writes, unless `CHAOS_SECS` says otherwise.
const DEFAULT_SECS: u64 = 25;
/// Time the exporter has to catch up at the end.
const SETTLE: Duration = Duration::from_secs(30);
/// Pause between two scrapes of one scraper.
const SCRAPE_EVERY: Duration = Duration::from_millis(20);

// ---------------------------------------------------------------------------------------------
// Seeded randomness, std only.

/// xorshift64* (Vigna): small, fast, good enough to pick a schedule.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(if seed == 0 {
            0x9E37_79B9_7F4A_7C15
        } else {
            seed
        })
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn chance(&mut self, p: f64) -> bool {
        ((self.next() >> 11) as f64 / (1u64 << 53) as f64) < p
    }

    fn millis(&mut self, lo: u64, hi: u64) -> Duration {
        Duration::from_millis(lo + self.below(hi - lo + 1))
    }
}

fn seed() -> u64 {
    match std::env::var("CHAOS_SEED") {
        Ok(s) => s
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("CHAOS_SEED={s:?} is not a number")),
        Err(_) => SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64),
    }
}

fn write_secs() -> u64 {
    std::env::var("CHAOS_SECS")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .map_or(DEFAULT_SECS, |s: u64| s.clamp(3, 300))
}

// ---------------------------------------------------------------------------------------------
// The writer: appends at RATE and rotates when told, on one thread, so that renames, reopens
// and compressions never race each other.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RotateKind {
    /// syslog-style: the log is renamed; the writer goes on into the renamed file and creates a
    /// new one when it reopens.
    Rename,
    /// logrotate `create`: renamed, and an empty new file created at once; the writer goes on
    /// into the renamed file until it reopens.
    Create,
}

#[derive(Debug, Clone, Copy)]
struct Rotate {
    kind: RotateKind,
    /// How long the writer goes on into the renamed file.
    reopen_after: Duration,
    /// gzip the rotated file this long after the writer has left it (as `compress` does).
    compress_after: Option<Duration>,
}

/// One rotated file: where it is in the list of generations tells its name.
struct Generation {
    compressed: bool,
    compress_at: Option<Instant>,
    /// Line numbers it holds, for failure messages.
    lines: (u64, u64),
}

#[derive(Default)]
struct WriterShared {
    lines: AtomicU64,
    replies: AtomicU64,
    /// Rotations started.
    rotations: AtomicU64,
    /// Lines written when the writer last switched to a new file: every line after this number
    /// is in the newest file.
    switched_at: AtomicU64,
    /// A rotation is under way: renamed, not yet reopened.
    in_flight: AtomicBool,
    compressed: AtomicU64,
    stop: AtomicBool,
    /// `mail.log.N[.gz]: lines a..b`, filled in when the writer stops.
    layout: Mutex<Vec<String>>,
}

struct ChaosWriter {
    shared: Arc<WriterShared>,
    tx: mpsc::Sender<Rotate>,
    thread: Option<JoinHandle<Result<(), String>>>,
}

impl ChaosWriter {
    fn start(dir: &Path) -> ChaosWriter {
        let shared = Arc::new(WriterShared::default());
        let (tx, rx) = mpsc::channel();
        let (s, dir) = (Arc::clone(&shared), dir.to_path_buf());
        let gzip = require_tool("gzip");
        let thread = std::thread::Builder::new()
            .name("chaos-writer".into())
            .spawn(move || writer_loop(&s, &dir, &rx, &gzip))
            .unwrap();
        ChaosWriter {
            shared,
            tx,
            thread: Some(thread),
        }
    }

    fn written(&self) -> Written {
        Written {
            lines: self.shared.lines.load(Ordering::SeqCst),
            replies: self.shared.replies.load(Ordering::SeqCst),
        }
    }

    fn rotate(&self, r: Rotate) {
        // Marked here, so the director never sees a stale "idle" after asking.
        self.shared.in_flight.store(true, Ordering::SeqCst);
        self.tx.send(r).unwrap();
    }

    fn in_flight(&self) -> bool {
        self.shared.in_flight.load(Ordering::SeqCst)
    }

    fn switched_at(&self) -> u64 {
        self.shared.switched_at.load(Ordering::SeqCst)
    }

    fn alive(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// Lets a rotation under way finish, then stops; what was written in all.
    fn stop(mut self) -> Written {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.in_flight() && self.alive() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(2));
        }
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            match t.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => panic!("the chaos writer failed: {e}"),
                Err(_) => panic!("the chaos writer panicked"),
            }
        }
        self.written()
    }
}

impl Drop for ChaosWriter {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn generation_name(dir: &Path, i: usize, compressed: bool) -> PathBuf {
    dir.join(format!(
        "mail.log.{}{}",
        i + 1,
        if compressed { ".gz" } else { "" }
    ))
}

fn open_append(p: &Path) -> Result<File, String> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(p)
        .map_err(|e| format!("open {}: {e}", p.display()))
}

fn writer_loop(
    s: &WriterShared,
    dir: &Path,
    rx: &mpsc::Receiver<Rotate>,
    gzip: &Path,
) -> Result<(), String> {
    let log = dir.join("mail.log");
    let mut file = open_append(&log)?;
    let mut gens: VecDeque<Generation> = VecDeque::new();
    // The rotation under way: what it is, when to reopen, the generation it made (index 0).
    let mut pending: Option<(Rotate, Instant)> = None;
    let mut current_from = 0u64;
    let mut next = 0u64;
    let start = Instant::now();
    let mut buf = Vec::new();
    let rename = |from: &Path, to: &Path| {
        fs::rename(from, to).map_err(|e| format!("rename {} {}: {e}", from.display(), to.display()))
    };
    while !s.stop.load(Ordering::SeqCst) {
        let now = Instant::now();
        if pending.is_none() {
            if let Ok(r) = rx.try_recv() {
                // Shift the older generations (.1 → .2, …), then the log becomes .1.
                for i in (0..gens.len()).rev() {
                    let c = gens[i].compressed;
                    rename(&generation_name(dir, i, c), &generation_name(dir, i + 1, c))?;
                }
                rename(&log, &generation_name(dir, 0, false))?;
                if r.kind == RotateKind::Create {
                    File::create(&log).map_err(|e| format!("create {}: {e}", log.display()))?;
                }
                gens.push_front(Generation {
                    compressed: false,
                    compress_at: None,
                    lines: (current_from, current_from),
                });
                s.rotations.fetch_add(1, Ordering::SeqCst);
                pending = Some((r, now + r.reopen_after));
            }
        }
        if let Some((r, at)) = pending {
            if now >= at {
                // syslog reopens: the renamed file gets no more lines.
                file = open_append(&log)?;
                gens[0].lines.1 = next;
                gens[0].compress_at = r.compress_after.map(|d| now + d);
                current_from = next;
                s.switched_at.store(next, Ordering::SeqCst);
                pending = None;
                s.in_flight.store(false, Ordering::SeqCst);
            }
        }
        for (i, g) in gens.iter_mut().enumerate() {
            if !g.compressed && g.compress_at.is_some_and(|t| now >= t) {
                // gzip writes NAME.gz, then unlinks NAME, as logrotate's `compress` does.
                let plain = generation_name(dir, i, false);
                let out = Command::new(gzip)
                    .arg("-1")
                    .arg(&plain)
                    .output()
                    .map_err(|e| format!("gzip {}: {e}", plain.display()))?;
                if !out.status.success() {
                    return Err(format!(
                        "gzip {}: {}",
                        plain.display(),
                        String::from_utf8_lossy(&out.stderr)
                    ));
                }
                g.compressed = true;
                s.compressed.fetch_add(1, Ordering::SeqCst);
            }
        }
        let due = (start.elapsed().as_secs_f64() * RATE as f64) as u64;
        let n = due.saturating_sub(next).min(5_000);
        if n > 0 {
            buf.clear();
            let w = maillog::render(next, next + n, &mut buf);
            file.write_all(&buf)
                .map_err(|e| format!("append to the log: {e}"))?;
            next += n;
            s.replies.fetch_add(w.replies, Ordering::SeqCst);
            s.lines.fetch_add(w.lines, Ordering::SeqCst);
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    if let Some(g) = gens.front_mut() {
        if pending.is_some() {
            g.lines.1 = next;
        }
    }
    let mut layout = vec![format!(
        "  mail.log: lines {}..{next}",
        if pending.is_some() {
            next
        } else {
            current_from
        }
    )];
    for (i, g) in gens.iter().enumerate() {
        let name = generation_name(dir, i, g.compressed);
        let name = name.file_name().unwrap_or_default().to_string_lossy();
        layout.push(format!("  {name}: lines {}..{}", g.lines.0, g.lines.1));
    }
    *s.layout.lock().unwrap() = layout;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The scrapers.

#[derive(Default)]
struct ScrapeShared {
    /// The exporter to scrape: its generation (one per start) and address; `None` while down.
    target: Mutex<Option<(u64, SocketAddr)>>,
    /// The highest `lines_total` any answered scrape of each generation showed.
    best: Mutex<Vec<u64>>,
    violations: Mutex<Vec<String>>,
    answered: AtomicU64,
    failed: AtomicU64,
    stop: AtomicBool,
}

impl ScrapeShared {
    fn best_of(&self, generation: u64) -> Option<u64> {
        self.best
            .lock()
            .unwrap()
            .get(generation as usize)
            .copied()
            .filter(|&v| v != u64::MAX)
    }
}

fn scraper(id: usize, s: &ScrapeShared, t0: Instant) {
    // What this scraper last saw: (generation, replies, lines).
    let mut last: Option<(u64, u64, u64)> = None;
    while !s.stop.load(Ordering::SeqCst) {
        let target = *s.target.lock().unwrap();
        if let Some((generation, addr)) = target {
            match Counters::scrape(addr) {
                Ok(c) => {
                    s.answered.fetch_add(1, Ordering::SeqCst);
                    if let Some((g0, r0, l0)) = last {
                        if c.replies < r0 || c.lines() < l0 {
                            s.violations.lock().unwrap().push(format!(
                                "{:.3} s: scraper {id} saw smtp_replies_total {r0} -> {} and \
                                 lines_total {l0} -> {} (exporter start #{g0} -> #{generation})",
                                t0.elapsed().as_secs_f64(),
                                c.replies,
                                c.lines()
                            ));
                        }
                    }
                    last = Some((generation, c.replies, c.lines()));
                    let mut best = s.best.lock().unwrap();
                    if best.len() <= generation as usize {
                        best.resize(generation as usize + 1, u64::MAX);
                    }
                    let b = &mut best[generation as usize];
                    *b = if *b == u64::MAX {
                        c.lines()
                    } else {
                        (*b).max(c.lines())
                    };
                }
                Err(_) => {
                    // Killed under the request, or not listening yet: not an observation.
                    s.failed.fetch_add(1, Ordering::SeqCst);
                }
            }
        }
        std::thread::sleep(SCRAPE_EVERY);
    }
}

// ---------------------------------------------------------------------------------------------

#[derive(Default, Debug)]
struct Stats {
    sigkills: u64,
    sigterms: u64,
    restarts: u64,
    rotations_up: u64,
    rotations_down: u64,
    renames: u64,
    creates: u64,
    /// Stops while the writer still wrote into the renamed file.
    stops_half_rotated: u64,
    /// Stops before a scrape had shown the exporter reading the newest file.
    stops_before_newest: u64,
    /// Down times with two or three rotations.
    downs_rotated_several: u64,
}

#[test]
#[ignore = "chaos test (~30-40 s of writes, kills, restarts and rotations): run by scripts/test"]
fn chaos_kills_restarts_and_rotations_lose_nothing_count_nothing_twice() {
    let _heavy = harness::heavy();
    let seed = seed();
    let secs = write_secs();
    let mut rng = Rng::new(seed);
    let mut say = std::io::stderr();
    let _ = writeln!(
        say,
        "chaos: CHAOS_SEED={seed} CHAOS_SECS={secs} ({RATE} lines/s)"
    );

    let dir = TestDir::new("chaos-");
    let log = dir.path().join("mail.log");
    let state = dir.path().join("state.json");
    let stderr = dir.path().join("exporter.stderr");
    fs::write(&log, "").unwrap();
    let start_exporter = || {
        Exporter::start_any_port(&[&log], &state, &stderr, &[])
            .unwrap_or_else(|e| panic!("CHAOS_SEED={seed}: {e}"))
    };

    let t0 = Instant::now();
    let mut events: Vec<String> = Vec::new();
    let mut event =
        |what: String| events.push(format!("{:7.3} {what}", t0.elapsed().as_secs_f64()));

    // First start on the empty log (a first start follows from the end), then the writer.
    let mut exp = Some(start_exporter());
    let mut generation = 0u64;
    let scrapes = Arc::new(ScrapeShared::default());
    *scrapes.target.lock().unwrap() = exp.as_ref().map(|e| (generation, e.addr));
    let scrapers: Vec<JoinHandle<()>> = (0..2)
        .map(|id| {
            let s = Arc::clone(&scrapes);
            std::thread::spawn(move || scraper(id, &s, t0))
        })
        .collect();
    let writer = ChaosWriter::start(dir.path());
    event(format!("start #{generation}"));

    let mut stats = Stats::default();
    let write_until = Instant::now() + Duration::from_secs(secs);
    let mut next_rotation = Instant::now() + rng.millis(800, 3000);
    let mut stop_at = Instant::now() + rng.millis(300, 2500);
    let mut restart_at = Instant::now();
    // While down: when to rotate (up to three times), earliest first.
    let mut down_rotations: VecDeque<Instant> = VecDeque::new();

    let pick_rotation = |rng: &mut Rng| Rotate {
        kind: if rng.chance(0.5) {
            RotateKind::Rename
        } else {
            RotateKind::Create
        },
        reopen_after: rng.millis(0, 300),
        compress_after: rng.chance(0.5).then(|| rng.millis(100, 1500)),
    };

    while Instant::now() < write_until {
        assert!(
            writer.alive(),
            "CHAOS_SEED={seed}: the writer stopped early"
        );
        let now = Instant::now();
        // The exporter's saved state knows the newest file: a scrape of this start showed more
        // lines than were written before the newest file's first line.
        let reads_newest = !writer.in_flight()
            && scrapes
                .best_of(generation)
                .is_some_and(|b| b > writer.switched_at());
        if let Some(e) = exp.as_mut() {
            if now >= next_rotation && reads_newest {
                let r = pick_rotation(&mut rng);
                writer.rotate(r);
                stats.rotations_up += 1;
                match r.kind {
                    RotateKind::Rename => stats.renames += 1,
                    RotateKind::Create => stats.creates += 1,
                }
                event(format!("rotate (exporter up) {r:?}"));
                next_rotation = now + rng.millis(1200, 3500);
                // Often stop it while the writer still appends to the renamed file.
                if rng.chance(0.35) {
                    let window = r.reopen_after.as_millis() as u64 + 50;
                    stop_at = stop_at.min(now + rng.millis(0, window));
                }
            } else if now >= stop_at {
                // Stopped at a random moment: maybe with a rotation half done, maybe before it
                // read anything of the newest file. Only then is another rotation while down
                // ruled out (the state may not know the file that would be rotated away).
                *scrapes.target.lock().unwrap() = None;
                let written = writer.written().lines;
                let best = scrapes.best_of(generation);
                let half = writer.in_flight();
                if half {
                    stats.stops_half_rotated += 1;
                }
                if !reads_newest {
                    stats.stops_before_newest += 1;
                }
                let how = if rng.chance(0.75) {
                    e.kill_hard();
                    stats.sigkills += 1;
                    "SIGKILL"
                } else {
                    let st = e
                        .terminate()
                        .unwrap_or_else(|err| panic!("CHAOS_SEED={seed}: {err}"));
                    assert!(
                        st.success(),
                        "CHAOS_SEED={seed}: exit {st} after SIGTERM:\n{}",
                        e.stderr_tail(40)
                    );
                    stats.sigterms += 1;
                    "SIGTERM"
                };
                event(format!(
                    "{how} #{generation} (written {written}, best scrape {best:?}{}{})",
                    if half { ", rotation half done" } else { "" },
                    if reads_newest {
                        ""
                    } else {
                        ", newest file not yet read"
                    },
                ));
                exp = None;
                let down_for = rng.millis(50, 1200);
                restart_at = now + down_for;
                // Up to three rotations while down, somewhere inside the down time.
                let times = if reads_newest && rng.chance(0.5) {
                    1 + rng.below(3)
                } else {
                    0
                };
                let mut at: Vec<Instant> = (0..times)
                    .map(|_| now + down_for * (10 + rng.below(80) as u32) / 100)
                    .collect();
                at.sort();
                if times > 1 {
                    stats.downs_rotated_several += 1;
                }
                down_rotations = at.into();
            }
        } else {
            if let Some(&at) = down_rotations.front() {
                // Each one finished (the writer reopened) before the next.
                if now >= at && !writer.in_flight() {
                    let r = pick_rotation(&mut rng);
                    writer.rotate(r);
                    stats.rotations_down += 1;
                    match r.kind {
                        RotateKind::Rename => stats.renames += 1,
                        RotateKind::Create => stats.creates += 1,
                    }
                    event(format!("rotate (exporter DOWN) {r:?}"));
                    down_rotations.pop_front();
                }
            }
            if now >= restart_at && down_rotations.is_empty() {
                generation += 1;
                let e = start_exporter();
                *scrapes.target.lock().unwrap() = Some((generation, e.addr));
                exp = Some(e);
                stats.restarts += 1;
                event(format!("start #{generation}"));
                stop_at = Instant::now() + rng.millis(300, 2500);
                // Not straight into another rotation: let it read first.
                next_rotation = next_rotation.max(Instant::now() + rng.millis(200, 1500));
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }

    let rotations = writer.shared.rotations.load(Ordering::SeqCst);
    let compressed = writer.shared.compressed.load(Ordering::SeqCst);
    let writer_shared = Arc::clone(&writer.shared);
    let written = writer.stop();
    event(format!("writer stopped: {written:?}"));
    let exp = match exp {
        Some(e) => e,
        None => {
            generation += 1;
            let e = start_exporter();
            *scrapes.target.lock().unwrap() = Some((generation, e.addr));
            stats.restarts += 1;
            event(format!("start #{generation} (final)"));
            e
        }
    };
    let settle_start = Instant::now();
    let c = maillog::settle(exp.addr, written.lines, SETTLE)
        .unwrap_or_else(|e| panic!("CHAOS_SEED={seed}: cannot scrape at the end: {e}"));
    let settled_in = settle_start.elapsed();
    // One last round for the scrapers at the settled value, then stop them.
    std::thread::sleep(SCRAPE_EVERY * 3);
    scrapes.stop.store(true, Ordering::SeqCst);
    for s in scrapers {
        let _ = s.join();
    }

    let summary = format!(
        "chaos summary: CHAOS_SEED={seed}, {secs} s of writing, {:.1} s in all\n  \
         written: {} lines ({} replies), {:.0} lines/s\n  \
         exporter: {} SIGKILL, {} SIGTERM, {} restarts; {} stops with a rotation half done, \
         {} before the newest file was read\n  \
         rotations: {rotations} ({} syslog-style rename, {} logrotate-style create; {} while up, \
         {} while down, {} down times with several), {compressed} rotated files gzipped\n  \
         scrapes: {} answered, {} refused or cut (exporter down or killed)\n  \
         caught up {:.1} s after the writer stopped; scraped at the end: {c:?}",
        t0.elapsed().as_secs_f64(),
        written.lines,
        written.replies,
        written.lines as f64 / secs as f64,
        stats.sigkills,
        stats.sigterms,
        stats.restarts,
        stats.stops_half_rotated,
        stats.stops_before_newest,
        stats.renames,
        stats.creates,
        stats.rotations_up,
        stats.rotations_down,
        stats.downs_rotated_several,
        scrapes.answered.load(Ordering::SeqCst),
        scrapes.failed.load(Ordering::SeqCst),
        settled_in.as_secs_f64(),
    );
    let _ = writeln!(say, "{summary}");

    let violations = scrapes.violations.lock().unwrap().clone();
    let mut wrong = c.mismatches_either_kind(written, rotations);
    if !violations.is_empty() {
        wrong.push(format!(
            "{} scraped value(s) went DOWN:\n    {}",
            violations.len(),
            violations.join("\n    ")
        ));
    }
    let layout = writer_shared.layout.lock().unwrap().join("\n");
    assert!(
        wrong.is_empty(),
        "CHAOS_SEED={seed}: not exact:\n  {}\n{summary}\nfiles (line numbers they hold):\n\
         {layout}\nevents:\n{}\nexporter stderr (last lines):\n{}",
        wrong.join("\n  "),
        events.join("\n"),
        exp.stderr_tail(60)
    );
}
