//! Queue gauges: what the MTA's queue holds, read at scrape time.
//!
//! `smtp_queue_messages{source, mta, queue}`, `smtp_queue_oldest_message_age_seconds{…}` and
//! histograms of the ages and sizes of the messages (`smtp_queue_message_age_seconds`,
//! `smtp_queue_message_size_bytes`, with a `queue` label) are not counted from the log: each
//! scrape asks the MTA (Postfix: `postqueue -j`, see [`postfix`] for why a child process).
//!
//! A slow or broken queue never blocks or fails `/metrics`: a read runs in a blocking thread
//! and is given up (the child killed) after `--queue.timeout`; a failed read leaves the gauges
//! of that source out of the scrape (a stale count would mislead), counts
//! `smtp_status_exporter_queue_read_errors_total{source}` and shows the error on the landing
//! page. A result is reused for `--queue.cache`, so that several scrapers at once cost one
//! read; scrapes that arrive during a read wait for that read.
//!
//! Every queue of the MTA has a series, zero when empty (an empty queue's oldest age is 0), so
//! that `postsuper -d ALL` shows as zeros, not as vanished series.
//!
//! Other MTAs plug in as another [`Kind`]: a command whose output gives, per message, its
//! queue, arrival time and size (Exim: `exim -bp`, OpenSMTPD: `smtpctl show queue`), and the
//! list of the MTA's queue names.

pub mod exim;
pub mod opensmtpd;
pub mod postfix;

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Deserialize;

/// Default of `--queue.timeout`: well under Prometheus' default scrape timeout (10 s).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default of `--queue.cache`.
pub const DEFAULT_CACHE: Duration = Duration::from_secs(5);

/// Upper bounds of the age histogram: a minute to a week (Postfix's default
/// `maximal_queue_lifetime` is 5 days).
pub const AGE_BUCKETS: [f64; 12] = [
    60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0, 28800.0, 86400.0, 172800.0, 432000.0,
    604800.0,
];
/// Upper bounds of the size histogram: 1 KiB to 64 MiB.
pub const SIZE_BUCKETS: [f64; 9] = [
    1024.0, 4096.0, 16384.0, 65536.0, 262144.0, 1048576.0, 4194304.0, 16777216.0, 67108864.0,
];

/// A source's `queue:` in the configuration file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueConfig {
    /// The Postfix instance's configuration directory (`postqueue -c DIR`); without it, the
    /// default instance.
    #[serde(default)]
    pub postfix_config_dir: Option<PathBuf>,
    /// Do not read this source's queue (not even by default).
    #[serde(default)]
    pub disabled: bool,
    /// An Exim source: the instance's configuration file (`exim -C FILE`); without it, the
    /// binary's compiled-in one.
    #[serde(default)]
    pub exim_config: Option<PathBuf>,
    /// OpenSMTPD: the `smtpctl` program (`smtpctl show queue`).
    #[serde(default)]
    pub smtpctl: Option<PathBuf>,
}

/// How a queue is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// `postqueue [-c config_dir] -j`.
    Postfix {
        postqueue: PathBuf,
        config_dir: Option<PathBuf>,
    },
    /// `exim [-C config] -bpr` (see [`exim`]).
    Exim {
        exim: PathBuf,
        config: Option<PathBuf>,
    },
    /// `smtpctl show queue`.
    OpenSmtpd { smtpctl: PathBuf },
}

impl Kind {
    fn queues(&self) -> &'static [&'static str] {
        match self {
            Kind::Postfix { .. } => postfix::QUEUES,
            Kind::Exim { .. } => exim::QUEUES,
            Kind::OpenSmtpd { .. } => opensmtpd::QUEUES,
        }
    }

    fn command(&self) -> std::process::Command {
        match self {
            Kind::Postfix {
                postqueue,
                config_dir,
            } => postfix::command(postqueue, config_dir.as_deref()),
            Kind::Exim { exim, config } => exim::command(exim, config.as_deref()),
            Kind::OpenSmtpd { smtpctl } => opensmtpd::command(smtpctl),
        }
    }

    /// What is run, for messages.
    pub fn describe(&self) -> String {
        match self {
            Kind::Postfix {
                postqueue,
                config_dir,
            } => match config_dir {
                Some(d) => format!("{} -c {} -j", postqueue.display(), d.display()),
                None => format!("{} -j", postqueue.display()),
            },
            Kind::Exim { exim, config } => match config {
                Some(c) => format!("{} -C {} -bpr", exim.display(), c.display()),
                None => format!("{} -bpr", exim.display()),
            },
            Kind::OpenSmtpd { smtpctl } => format!("{} show queue", smtpctl.display()),
        }
    }

    /// What the counts count, for the landing page: OpenSMTPD lists envelopes (recipients).
    pub fn unit(&self) -> &'static str {
        if matches!(self, Kind::OpenSmtpd { .. }) {
            "envelope(s)"
        } else {
            "message(s)"
        }
    }

    /// Whether the MTA reports message sizes (OpenSMTPD's smtpctl does not: no size histogram).
    pub fn has_sizes(&self) -> bool {
        !matches!(self, Kind::OpenSmtpd { .. })
    }

    /// `now`: Unix seconds at the read, for listings that give ages rather than arrivals.
    fn parse_line(&self, line: &str, now: i64) -> Result<Option<postfix::Message>, String> {
        match self {
            Kind::Postfix { .. } => postfix::parse_line(line),
            Kind::OpenSmtpd { .. } => opensmtpd::parse_line(line),
            Kind::Exim { .. } => Ok(exim::parse_line(line)?.map(|m| postfix::Message {
                queue: m.queue,
                arrival: m.age.map(|a| now - a),
                size: m.size,
            })),
        }
    }
}

/// One queue to read, for one source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSpec {
    /// The `source` label (the log source the queue belongs to).
    pub source: String,
    pub mta: String,
    pub kind: Kind,
}

/// Flags of the queue reader.
#[derive(Debug, Clone, Default)]
pub struct QueueFlags {
    pub postfix_config_dir: Option<PathBuf>,
    pub postqueue: Option<PathBuf>,
    pub disable: bool,
    /// `--queue.exim`: the exim binary.
    pub exim: Option<PathBuf>,
    /// `--queue.exim-config`: its configuration file (`-C`), for a private instance.
    pub exim_config: Option<PathBuf>,
    /// `--queue.smtpctl`: read the OpenSMTPD queue with this program.
    pub smtpctl: Option<PathBuf>,
}

/// One log source as the queue planner sees it.
#[derive(Debug, Clone)]
pub struct SourceQueue {
    pub name: String,
    pub mta: String,
    /// Its `queue:` in the configuration file; `what` says where, for messages.
    pub config: Option<QueueConfig>,
    pub what: String,
}

/// The mistakes a source's `queue:` can hold for a source of `mta` (the `mta` label): an MTA
/// whose queue cannot be read, or a key of another MTA's. The message starts at the key
/// (`queue.smtpctl: …`); `check-config` and [`plan`] put the source in front.
pub fn check_config(c: &QueueConfig, mta: &str) -> Result<(), String> {
    let shown = if mta.is_empty() {
        "of no known MTA"
    } else {
        mta
    };
    if !matches!(mta, "postfix" | "exim" | "opensmtpd") {
        return Err(format!(
            "queue: only Postfix, Exim and OpenSMTPD queues can be read so far (this source is {shown})"
        ));
    }
    // Each key belongs to one MTA: the wrong one is a mistake to name, not to ignore.
    for (key, given, owner) in [
        (
            "postfix_config_dir",
            c.postfix_config_dir.is_some(),
            "postfix",
        ),
        ("exim_config", c.exim_config.is_some(), "exim"),
        ("smtpctl", c.smtpctl.is_some(), "opensmtpd"),
    ] {
        if given && owner != mta {
            return Err(format!(
                "queue.{key}: only for a source of {owner} (this source is {shown})"
            ));
        }
    }
    Ok(())
}

/// Which queues to read.
///
/// - `--queue.disable`: none.
/// - A source with `queue:` in the configuration file: its queue (Postfix, Exim or OpenSMTPD).
/// - `--queue.postfix-config-dir DIR`: the queue of that instance, for the first Postfix source.
/// - Nothing said anywhere: the default Postfix instance's queue for the one Postfix source,
///   when there is exactly one and a default Postfix is installed here (`postqueue` found and
///   `/etc/postfix/main.cf` present). Off otherwise: a guess between several sources, or a
///   machine without Postfix, would only produce read errors.
/// - Exim only when asked for (`queue:` on an Exim source, `--queue.exim` or
///   `--queue.exim-config`, which go to the first Exim source): Exim lists its queue only for
///   an admin user, so a guess would mostly produce read errors.
/// - OpenSMTPD only when asked (`queue:` of its source, or `--queue.smtpctl PATH` for the first
///   OpenSMTPD source): `smtpctl show queue` answers only root, so a default would mostly fail.
pub fn plan(sources: &[SourceQueue], flags: &QueueFlags) -> Result<Vec<QueueSpec>, String> {
    if flags.disable {
        return Ok(Vec::new());
    }
    let postqueue = || {
        flags
            .postqueue
            .clone()
            .or_else(postfix::default_postqueue)
            // Not found: the reads fail and say so (a self-metric), rather than refusing to start.
            .unwrap_or_else(|| PathBuf::from("postqueue"))
    };
    let exim = || {
        flags
            .exim
            .clone()
            .or_else(exim::default_exim)
            .unwrap_or_else(|| PathBuf::from("exim"))
    };
    let mut out = Vec::new();
    for s in sources {
        let Some(c) = &s.config else { continue };
        if c.disabled {
            continue;
        }
        check_config(c, &s.mta).map_err(|e| format!("{}.{e}", s.what))?;
        let kind = match s.mta.as_str() {
            "postfix" => Kind::Postfix {
                postqueue: postqueue(),
                config_dir: c.postfix_config_dir.clone(),
            },
            "exim" => Kind::Exim {
                exim: exim(),
                config: c.exim_config.clone(),
            },
            "opensmtpd" => Kind::OpenSmtpd {
                smtpctl: c
                    .smtpctl
                    .clone()
                    .or_else(|| flags.smtpctl.clone())
                    .unwrap_or_else(opensmtpd::default_smtpctl),
            },
            // Refused by `check_config` above.
            _ => continue,
        };
        out.push(QueueSpec {
            source: s.name.clone(),
            mta: s.mta.clone(),
            kind,
        });
    }
    if flags.exim.is_some() || flags.exim_config.is_some() {
        let Some(first) = sources.iter().find(|s| s.mta == "exim") else {
            return Err(
                "--queue.exim, --queue.exim-config: no Exim log source to read a queue for".into(),
            );
        };
        let planned = out.iter().any(|q| q.source == first.name);
        let disabled = first.config.as_ref().is_some_and(|c| c.disabled);
        // The flag's configuration file replaces the source's; the binary alone only adds a
        // read where the configuration file said nothing.
        if flags.exim_config.is_some() || (!planned && !disabled) {
            out.retain(|q| q.source != first.name);
            out.push(QueueSpec {
                source: first.name.clone(),
                mta: first.mta.clone(),
                kind: Kind::Exim {
                    exim: exim(),
                    config: flags.exim_config.clone(),
                },
            });
        }
    }
    if let Some(smtpctl) = &flags.smtpctl {
        let Some(first) = sources.iter().find(|s| s.mta == "opensmtpd") else {
            return Err("--queue.smtpctl: no OpenSMTPD log source to read a queue for".into());
        };
        let disabled = first.config.as_ref().is_some_and(|c| c.disabled);
        if !disabled && !out.iter().any(|q| q.source == first.name) {
            out.push(QueueSpec {
                source: first.name.clone(),
                mta: first.mta.clone(),
                kind: Kind::OpenSmtpd {
                    smtpctl: smtpctl.clone(),
                },
            });
        }
    }
    let postfix_sources: Vec<&SourceQueue> =
        sources.iter().filter(|s| s.mta == "postfix").collect();
    if let Some(dir) = &flags.postfix_config_dir {
        let Some(first) = postfix_sources.first() else {
            return Err(
                "--queue.postfix-config-dir: no Postfix log source to attach the queue to".into(),
            );
        };
        out.retain(|q| q.source != first.name);
        out.push(QueueSpec {
            source: first.name.clone(),
            mta: first.mta.clone(),
            kind: Kind::Postfix {
                postqueue: postqueue(),
                config_dir: Some(dir.clone()),
            },
        });
        return Ok(out);
    }
    let said = sources.iter().any(|s| s.config.is_some());
    if !said && flags.postqueue.is_some() && postfix_sources.is_empty() {
        return Err("--queue.postqueue: no Postfix log source to read a queue for".into());
    }
    if !said && postfix_sources.len() == 1 {
        let explicit = flags.postqueue.is_some();
        let found = postfix::default_postqueue().is_some() && postfix::default_instance_exists();
        if explicit || found {
            let s = postfix_sources[0];
            out.push(QueueSpec {
                source: s.name.clone(),
                mta: s.mta.clone(),
                kind: Kind::Postfix {
                    postqueue: postqueue(),
                    config_dir: None,
                },
            });
        }
    }
    Ok(out)
}

/// A histogram with fixed buckets (non-cumulative counts; the last slot is `+Inf`).
#[derive(Debug, Clone, PartialEq)]
pub struct Buckets {
    pub bounds: &'static [f64],
    pub counts: Vec<u64>,
    pub sum: f64,
    pub count: u64,
}

impl Buckets {
    fn new(bounds: &'static [f64]) -> Self {
        Buckets {
            bounds,
            counts: vec![0; bounds.len() + 1],
            sum: 0.0,
            count: 0,
        }
    }

    fn observe(&mut self, v: f64) {
        let i = self
            .bounds
            .iter()
            .position(|b| v <= *b)
            .unwrap_or(self.bounds.len());
        if let Some(c) = self.counts.get_mut(i) {
            *c += 1;
        }
        self.sum += v;
        self.count += 1;
    }

    /// `(upper bound, cumulative count)` of the finite buckets.
    pub fn cumulative(&self) -> impl Iterator<Item = (f64, u64)> + '_ {
        let mut acc = 0;
        self.bounds.iter().zip(&self.counts).map(move |(b, c)| {
            acc += c;
            (*b, acc)
        })
    }
}

/// What one queue held at the time of a read.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueCount {
    pub queue: &'static str,
    pub messages: u64,
    /// Age of the oldest message in seconds; 0 for an empty queue.
    pub oldest_age: f64,
    pub ages: Buckets,
    pub sizes: Buckets,
}

/// The result of one successful read.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    pub queues: Vec<QueueCount>,
}

impl Reading {
    fn empty(names: &'static [&'static str]) -> Reading {
        Reading {
            queues: names
                .iter()
                .map(|q| QueueCount {
                    queue: q,
                    messages: 0,
                    oldest_age: 0.0,
                    ages: Buckets::new(&AGE_BUCKETS),
                    sizes: Buckets::new(&SIZE_BUCKETS),
                })
                .collect(),
        }
    }

    fn add(&mut self, m: postfix::Message, now: i64) {
        let Some(q) = self.queues.get_mut(m.queue) else {
            return;
        };
        q.messages += 1;
        if let Some(t) = m.arrival {
            // A clock step may put an arrival in the future: age 0, never negative.
            let age = (now - t).max(0) as f64;
            q.oldest_age = q.oldest_age.max(age);
            q.ages.observe(age);
        }
        if let Some(s) = m.size {
            q.sizes.observe(s as f64);
        }
    }

    /// Messages in all queues.
    pub fn total(&self) -> u64 {
        self.queues.iter().map(|q| q.messages).sum()
    }
}

/// Runs the reader's command and reads its output, giving up after `timeout` (the child is
/// killed). Blocking: call it off the async runtime.
pub fn read(kind: &Kind, timeout: Duration) -> Result<Reading, String> {
    let deadline = Instant::now() + timeout;
    let mut child = kind
        .command()
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", kind.describe()))?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let (stdout, stderr) = (child.stdout.take(), child.stderr.take());
    // The output is read on threads of their own, so that a child that stops answering can
    // be killed at the deadline (and a full stderr pipe never stalls it).
    let (tx, rx) = std::sync::mpsc::channel();
    let parser = kind.clone();
    std::thread::spawn(move || {
        let mut reading = Reading::empty(parser.queues());
        let result = (|| {
            let out = stdout.ok_or("no standard output")?;
            for line in BufReader::new(out).lines() {
                let line = line.map_err(|e| format!("reading the output: {e}"))?;
                if let Some(m) = parser.parse_line(&line, now)? {
                    reading.add(m, now);
                }
            }
            Ok::<_, String>(())
        })();
        let _ = tx.send(result.map(|()| reading));
    });
    let (etx, erx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut text = Vec::new();
        if let Some(mut e) = stderr {
            let _ = (&mut e).take(4096).read_to_end(&mut text);
            // Drain the rest so the child never blocks on a full pipe.
            let _ = std::io::copy(&mut e, &mut std::io::sink());
        }
        let _ = etx.send(String::from_utf8_lossy(&text).trim().to_owned());
    });
    let kill = |child: &mut std::process::Child, what: &str| {
        let _ = child.kill();
        let _ = child.wait();
        format!("{} {what} within {timeout:?}: killed", kind.describe())
    };
    let reading = match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        Ok(r) => r,
        Err(_) => return Err(kill(&mut child, "gave no complete answer")),
    };
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            Ok(None) => return Err(kill(&mut child, "did not exit")),
            Err(e) => return Err(format!("{}: {e}", kind.describe())),
        }
    };
    let stderr = erx
        .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        .unwrap_or_default();
    if !status.success() {
        let why = if stderr.is_empty() {
            "no message".to_owned()
        } else {
            stderr.lines().last().unwrap_or_default().to_owned()
        };
        return Err(format!("{} failed ({status}): {why}", kind.describe()));
    }
    reading
}

/// The last read of one queue, and its errors.
#[derive(Debug, Default)]
pub struct Cached {
    /// When the last read ended, and what it gave.
    pub last: Option<(Instant, Result<Reading, String>)>,
    /// `smtp_status_exporter_queue_read_errors_total`.
    pub errors: u64,
}

/// One queue and its cache.
#[derive(Debug)]
pub struct Reader {
    pub spec: QueueSpec,
    pub cache: Mutex<Cached>,
    /// Held during a read, so that concurrent scrapes share it.
    gate: tokio::sync::Mutex<()>,
}

/// Every queue read at scrape time.
#[derive(Debug)]
pub struct Queues {
    pub readers: Vec<Arc<Reader>>,
    pub timeout: Duration,
    pub cache_for: Duration,
}

impl Default for Queues {
    fn default() -> Self {
        Queues::new(Vec::new(), DEFAULT_TIMEOUT, DEFAULT_CACHE)
    }
}

impl Queues {
    pub fn new(specs: Vec<QueueSpec>, timeout: Duration, cache_for: Duration) -> Queues {
        Queues {
            readers: specs
                .into_iter()
                .map(|spec| {
                    Arc::new(Reader {
                        spec,
                        cache: Mutex::new(Cached::default()),
                        gate: tokio::sync::Mutex::new(()),
                    })
                })
                .collect(),
            timeout,
            cache_for,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.readers.is_empty()
    }

    /// Reads every queue whose cached reading is older than `cache_for`, all at once, each
    /// bounded by `timeout`.
    pub async fn refresh(&self) {
        let mut tasks = tokio::task::JoinSet::new();
        for r in &self.readers {
            let (r, timeout, cache_for) = (Arc::clone(r), self.timeout, self.cache_for);
            tasks.spawn(async move {
                let _reading = r.gate.lock().await;
                let fresh = lock(&r.cache)
                    .last
                    .as_ref()
                    .is_some_and(|(at, _)| at.elapsed() < cache_for);
                if fresh {
                    return;
                }
                let kind = r.spec.kind.clone();
                let result = tokio::task::spawn_blocking(move || read(&kind, timeout))
                    .await
                    .unwrap_or_else(|e| Err(format!("queue reader failed: {e}")));
                let mut c = lock(&r.cache);
                if let Err(e) = &result {
                    c.errors += 1;
                    tracing::warn!(source = %r.spec.source, "cannot read the queue: {e}");
                }
                c.last = Some((Instant::now(), result));
            });
        }
        while tasks.join_next().await.is_some() {}
    }
}

fn lock(m: &Mutex<Cached>) -> std::sync::MutexGuard<'_, Cached> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Reader {
    /// The last reading, if it succeeded; `Err` with the reason otherwise; `None` before the
    /// first read.
    pub fn last(&self) -> Option<Result<Reading, String>> {
        lock(&self.cache).last.as_ref().map(|(_, r)| r.clone())
    }

    pub fn errors(&self) -> u64 {
        lock(&self.cache).errors
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(name: &str, mta: &str, config: Option<QueueConfig>) -> SourceQueue {
        SourceQueue {
            name: name.into(),
            mta: mta.into(),
            config,
            what: format!("sources[{name}]"),
        }
    }

    #[test]
    fn planning() {
        let flags = QueueFlags {
            postqueue: Some("/x/postqueue".into()),
            ..QueueFlags::default()
        };
        // One Postfix source and a postqueue given: its default instance.
        let p = plan(&[src("postfix", "postfix", None)], &flags).unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].kind.describe(), "/x/postqueue -j");
        // Disabled.
        let off = QueueFlags {
            disable: true,
            ..flags.clone()
        };
        assert!(plan(&[src("postfix", "postfix", None)], &off)
            .unwrap()
            .is_empty());
        // Per source, from the config file.
        let cfg = QueueConfig {
            postfix_config_dir: Some("/etc/postfix-out".into()),
            ..QueueConfig::default()
        };
        let p = plan(
            &[
                src("in", "postfix", None),
                src("out", "postfix", Some(cfg.clone())),
            ],
            &flags,
        )
        .unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(
            (p[0].source.as_str(), p[0].kind.describe()),
            ("out", "/x/postqueue -c /etc/postfix-out -j".to_owned())
        );
        // Not for another MTA.
        let e = plan(&[src("ex", "exchange", Some(cfg))], &flags).unwrap_err();
        assert!(e.contains("sources[ex].queue"), "{e}");
        // The flag needs a Postfix source.
        let dir = QueueFlags {
            postfix_config_dir: Some("/etc/postfix".into()),
            ..flags
        };
        assert!(plan(&[src("ex", "exchange", None)], &dir).is_err());
    }

    #[test]
    fn planning_exim() {
        let e = |f: &QueueFlags, s: &[SourceQueue]| -> Vec<(String, String)> {
            plan(s, f)
                .unwrap()
                .into_iter()
                .map(|q| (q.source, q.kind.describe()))
                .collect()
        };
        let sources = [src("postfix", "postfix", None), src("exim", "exim", None)];
        // Off unless asked for.
        assert!(e(&QueueFlags::default(), &sources[1..]).is_empty());
        let flags = QueueFlags {
            exim: Some("/x/exim4".into()),
            exim_config: Some("/x/exim.conf".into()),
            ..QueueFlags::default()
        };
        assert_eq!(
            e(&flags, &sources),
            [(
                "exim".to_owned(),
                "/x/exim4 -C /x/exim.conf -bpr".to_owned()
            )]
        );
        // From the configuration file; the binary flag keeps its configuration file.
        let cfg = QueueConfig {
            exim_config: Some("/etc/exim-out.conf".into()),
            ..QueueConfig::default()
        };
        let binary = QueueFlags {
            exim: Some("/x/exim4".into()),
            ..QueueFlags::default()
        };
        assert_eq!(
            e(&binary, &[src("out", "exim", Some(cfg.clone()))]),
            [(
                "out".to_owned(),
                "/x/exim4 -C /etc/exim-out.conf -bpr".to_owned()
            )]
        );
        // Not for a Postfix source, and the flags need an Exim source.
        let err = plan(&[src("p", "postfix", Some(cfg))], &binary).unwrap_err();
        assert!(err.contains("sources[p].queue.exim_config"), "{err}");
        let err = plan(&sources[..1], &binary).unwrap_err();
        assert!(err.contains("no Exim log source"), "{err}");
    }

    #[test]
    fn exim_ages_become_arrivals() {
        let kind = Kind::Exim {
            exim: "exim".into(),
            config: None,
        };
        let m = kind
            .parse_line(
                " 3h  3.1K 1xVNA1-0000oH-2M <b@src.test> *** frozen ***",
                100_000,
            )
            .unwrap()
            .unwrap();
        assert_eq!(
            (exim::QUEUES[m.queue], m.arrival, m.size),
            ("frozen", Some(100_000 - 10_800), Some(3174))
        );
    }

    #[test]
    fn planning_opensmtpd() {
        let none = QueueFlags::default();
        // Not read unless asked (smtpctl show queue answers only root).
        assert!(plan(&[src("opensmtpd", "opensmtpd", None)], &none)
            .unwrap()
            .is_empty());
        // The flag: the first OpenSMTPD source, beside a default Postfix plan.
        let flag = QueueFlags {
            smtpctl: Some("/x/smtpctl".into()),
            ..QueueFlags::default()
        };
        let p = plan(
            &[src("pf", "postfix", None), src("os", "opensmtpd", None)],
            &flag,
        )
        .unwrap();
        let os: Vec<_> = p.iter().filter(|q| q.source == "os").collect();
        assert_eq!(os.len(), 1);
        assert_eq!(os[0].kind.describe(), "/x/smtpctl show queue");
        assert!(!os[0].kind.has_sizes());
        assert!(plan(&[src("pf", "postfix", None)], &flag)
            .unwrap_err()
            .contains("--queue.smtpctl"));
        // The config file's `queue:` with its own smtpctl wins over the flag.
        let cfg = QueueConfig {
            smtpctl: Some("/y/smtpctl".into()),
            ..QueueConfig::default()
        };
        let p = plan(&[src("os", "opensmtpd", Some(cfg.clone()))], &flag).unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].kind.describe(), "/y/smtpctl show queue");
        // Keys of the other MTA are refused, naming the source.
        let e = plan(&[src("pf", "postfix", Some(cfg))], &none).unwrap_err();
        assert!(e.contains("sources[pf].queue.smtpctl"), "{e}");
        let pcfg = QueueConfig {
            postfix_config_dir: Some("/etc/postfix".into()),
            ..QueueConfig::default()
        };
        let e = plan(&[src("os", "opensmtpd", Some(pcfg))], &none).unwrap_err();
        assert!(e.contains("sources[os].queue.postfix_config_dir"), "{e}");
    }

    #[test]
    fn readings_count_ages_and_sizes() {
        let mut r = Reading::empty(postfix::QUEUES);
        for (q, t, s) in [(3, 1000, 500), (3, 400, 5000), (4, 990, 10)] {
            r.add(
                postfix::Message {
                    queue: q,
                    arrival: Some(t),
                    size: Some(s),
                },
                1000,
            );
        }
        let deferred = &r.queues[3];
        assert_eq!((deferred.queue, deferred.messages), ("deferred", 2));
        assert_eq!(deferred.oldest_age, 600.0);
        assert_eq!(deferred.ages.count, 2);
        assert_eq!(deferred.sizes.cumulative().nth(1), Some((4096.0, 1)));
        assert_eq!(r.queues[0].messages, 0);
        assert_eq!(r.total(), 3);
    }

    /// A command that does not answer is killed at the deadline, and the error says so.
    #[test]
    fn a_hanging_reader_is_given_up() {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("postqueue");
        std::fs::write(&script, "#!/bin/sh\nexec sleep 300\n").unwrap();
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let kind = Kind::Postfix {
            postqueue: script,
            config_dir: None,
        };
        let e = read(&kind, Duration::from_millis(300)).unwrap_err();
        assert!(e.contains("killed"), "{e}");
    }

    #[test]
    fn failing_readers_are_named() {
        let kind = Kind::Postfix {
            postqueue: "/bin/sleep".into(),
            config_dir: None,
        };
        // `sleep -j` fails at once: an error, with the command named.
        let e = read(&kind, Duration::from_secs(20)).unwrap_err();
        assert!(e.contains("/bin/sleep -j failed"), "{e}");
        let missing = Kind::Postfix {
            postqueue: "/nonexistent/postqueue".into(),
            config_dir: None,
        };
        let e = read(&missing, Duration::from_secs(20)).unwrap_err();
        assert!(e.contains("cannot run /nonexistent/postqueue"), "{e}");
    }
}
