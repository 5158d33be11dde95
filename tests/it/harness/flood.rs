//! Clients good and bad for the admission tests (tests/it/clients.rs), all on loopback, each
//! from a source address of its own in 127.0.0.0/8 (bound with `socket2`, so that one address
//! is one client to the exporter and each address has its own ephemeral ports):
//! - [`Flood`]: attackers holding half-open connections (half a request head, then silence),
//!   re-opening at a bounded rate each one the exporter closes;
//! - [`get_within`] and [`prometheus`]: scrapes as Prometheus makes them, each bounded by its
//!   scrape timeout, counted as failed past it (not through [`super::metrics::request`], the
//!   tests' HTTP client: these need a source address, one deadline for the whole exchange, and
//!   to tell a connection closed unanswered from one that timed out);
//! - [`churn`]: connection attempts at a fixed rate, each closed at once with an RST;
//! - the exporter seen from /proc: [`sockets_of`], [`rss_kib`], and [`FdSampler`].
//!
//! [`raise_nofile`] is the one change to the test process this module makes: its soft limit
//! on open files raised to the hard one (which no test lowers).

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};

use super::metrics::{parse_exposition, series};

/// What a half-open attacker sends on each connection before it falls silent.
pub const HALF_HEAD: &[u8] = b"GET /metrics HTTP/1.1\r\nHost: x\r\n";

/// The `Accept` header of Prometheus 3's scrapes (OpenMetrics first, so the answer ends with
/// `# EOF`: a complete exposition is easy to tell from a cut one).
pub const PROMETHEUS_ACCEPT: &str = "application/openmetrics-text;version=1.0.0;\
    escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,\
    text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";

/// Raises the soft limit on open files of the test process to the hard one; returns the limit
/// now in force.
pub fn raise_nofile() -> u64 {
    let (soft, hard) = rlimit::Resource::NOFILE
        .get()
        .unwrap_or_else(|e| panic!("getrlimit(NOFILE): {e}"));
    if soft < hard {
        rlimit::Resource::NOFILE
            .set(hard, hard)
            .unwrap_or_else(|e| panic!("setrlimit(NOFILE, {hard}): {e}"));
    }
    hard
}

/// `127.0.A.B` for the `n`-th address of a block starting at `127.0.0.2` and up (n from 0):
/// 127.0.0.2 … 127.0.0.255, then 127.0.1.0 …
pub fn attacker(n: u32) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(Ipv4Addr::new(127, 0, 0, 2)) + n)
}

/// A TCP connection from `src` (port chosen by the kernel) to `dst`, within `timeout`.
pub fn connect_from(src: Ipv4Addr, dst: SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
    let s = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP))?;
    s.bind(&SocketAddrV4::new(src, 0).into())?;
    s.connect_timeout(&dst.into(), timeout)?;
    Ok(s.into())
}

/// An HTTP answer read by [`get_within`].
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    /// The status line and headers, as sent.
    pub head: String,
    pub body: Vec<u8>,
    pub took: Duration,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.split("\r\n").skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// Why [`get_within`] got no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoAnswer {
    /// The connection could not be made.
    Connect(String),
    /// The exporter closed (or reset) the connection before a whole answer.
    Closed { took: Duration, got: usize },
    /// Nothing whole within the deadline: a scraper would have given up.
    TimedOut,
    /// An answer that cannot be read (no end of head, no `Content-Length`, …).
    Bad(String),
}

/// `GET path` from `src` with `Connection: close`, `Accept: accept`: the whole answer (its
/// body as long as `Content-Length` says: the exporter always sends one) within `deadline` from
/// the first SYN, or why not.
pub fn get_within(
    src: Ipv4Addr,
    dst: SocketAddr,
    path: &str,
    accept: &str,
    deadline: Duration,
) -> Result<Answer, NoAnswer> {
    let start = Instant::now();
    let mut s = connect_from(src, dst, deadline).map_err(|e| match e.kind() {
        io::ErrorKind::TimedOut => NoAnswer::TimedOut,
        // Accepted and reset before the connect call returned: closed at once.
        io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted => NoAnswer::Closed {
            took: start.elapsed(),
            got: 0,
        },
        _ => NoAnswer::Connect(e.to_string()),
    })?;
    let head = format!(
        "GET {path} HTTP/1.1\r\nHost: {dst}\r\nUser-Agent: Prometheus/3.0.0 (clients test)\r\n\
         Accept: {accept}\r\nX-Prometheus-Scrape-Timeout-Seconds: {}\r\nConnection: close\r\n\r\n",
        deadline.as_secs()
    );
    let closed = |got: usize| NoAnswer::Closed {
        took: start.elapsed(),
        got,
    };
    s.write_all(head.as_bytes()).map_err(|_| closed(0))?;
    let mut raw = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        let left = deadline.saturating_sub(start.elapsed());
        if left.is_zero() {
            return Err(NoAnswer::TimedOut);
        }
        s.set_read_timeout(Some(left))
            .map_err(|e| NoAnswer::Bad(e.to_string()))?;
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Err(NoAnswer::TimedOut)
            }
            Err(_) => return Err(closed(raw.len())),
        }
        if whole(&raw) == Some(true) {
            break;
        }
    }
    let took = start.elapsed();
    let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Err(closed(raw.len()));
    };
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| NoAnswer::Bad(format!("status line of {head:?}")))?;
    let a = Answer {
        status,
        head,
        body: raw[end + 4..].to_vec(),
        took,
    };
    let len: usize = a
        .header("content-length")
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| NoAnswer::Bad(format!("no Content-Length in {:?}", a.head)))?;
    if a.body.len() < len {
        return Err(closed(raw.len()));
    }
    Ok(a)
}

/// Whether `raw` holds a whole answer (head and `Content-Length` bytes of body); `None`
/// while its head is not whole.
fn whole(raw: &[u8]) -> Option<bool> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
    let len: usize = head
        .split("\r\n")
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|n| n.trim().parse().ok())?;
    Some(raw.len() >= end + 4 + len)
}

/// One scrape as Prometheus makes it (OpenMetrics, `timeout` the scrape timeout), from `src`;
/// the answer must be 200 and a complete exposition (it ends with `# EOF`, it reads, and
/// `smtp_status_exporter_build_info` is in it). Returns how long it took, or what was wrong.
pub fn scrape_from(src: Ipv4Addr, dst: SocketAddr, timeout: Duration) -> Result<Duration, String> {
    let a = get_within(src, dst, "/metrics", PROMETHEUS_ACCEPT, timeout)
        .map_err(|e| format!("no answer: {e:?}"))?;
    if a.status != 200 {
        return Err(format!(
            "answered {}: {}",
            a.status,
            String::from_utf8_lossy(&a.body)
        ));
    }
    let text = String::from_utf8(a.body).map_err(|e| format!("not UTF-8: {e}"))?;
    if !text.ends_with("# EOF\n") {
        return Err(format!("no `# EOF` at the end ({} bytes)", text.len()));
    }
    let samples = parse_exposition(&text)?;
    if series(&samples, "smtp_status_exporter_build_info").is_empty() {
        return Err("no smtp_status_exporter_build_info".into());
    }
    Ok(a.took)
}

/// What [`prometheus`] saw: one entry per scrape, in order.
#[derive(Debug, Default)]
pub struct Scrapes {
    pub results: Vec<Result<Duration, String>>,
}

impl Scrapes {
    pub fn answered(&self) -> Vec<Duration> {
        self.results.iter().filter_map(|r| r.clone().ok()).collect()
    }

    pub fn failed(&self) -> Vec<String> {
        self.results
            .iter()
            .enumerate()
            .filter_map(|(i, r)| r.as_ref().err().map(|e| format!("scrape {i}: {e}")))
            .collect()
    }

    /// `N answered, M failed; p50 …, p99 …, max …` of the answered ones.
    pub fn summary(&self) -> String {
        let ok = self.answered();
        match Latencies::of(&ok) {
            Some(l) => format!(
                "{} answered, {} failed; p50 {:?}, p99 {:?}, max {:?}",
                ok.len(),
                self.failed().len(),
                l.p50,
                l.p99,
                l.max
            ),
            None => format!("0 answered, {} failed", self.failed().len()),
        }
    }
}

/// p50, p99 (nearest rank, rounded up: of fewer than 100, the largest; said where printed)
/// and max of some durations.
#[derive(Debug, Clone, Copy)]
pub struct Latencies {
    pub n: usize,
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
}

impl Latencies {
    pub fn of(d: &[Duration]) -> Option<Latencies> {
        let mut d = d.to_vec();
        d.sort();
        let n = d.len();
        (n > 0).then(|| Latencies {
            n,
            p50: d[(n - 1) / 2],
            p99: d[((n - 1) * 99).div_ceil(100)],
            max: d[n - 1],
        })
    }
}

/// Failures after which [`prometheus`] stops (the test has failed by then; this keeps a
/// failing run short).
pub const GIVE_UP_AFTER: usize = 3;

/// Prometheus at `interval` with a scrape timeout of `timeout`, from 127.0.0.1, `count`
/// scrapes: each starts on its tick (or at once if the previous one overran it). Stops early
/// after [`GIVE_UP_AFTER`] failed scrapes.
pub fn prometheus(dst: SocketAddr, count: usize, interval: Duration, timeout: Duration) -> Scrapes {
    let start = Instant::now();
    let mut out = Scrapes::default();
    for i in 0..count {
        if out.failed().len() >= GIVE_UP_AFTER {
            break;
        }
        let tick = start + interval * i as u32;
        if let Some(wait) = tick.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        out.results
            .push(scrape_from(Ipv4Addr::LOCALHOST, dst, timeout));
    }
    out
}

/// What one source address of a [`Flood`] did.
#[derive(Debug, Default, Clone)]
pub struct FloodStats {
    /// Connections made (and half a head sent).
    pub opened: u64,
    /// Of those, closed or reset by the exporter with no byte of answer.
    pub closed: u64,
    /// Of those, answered (a 408 or 400 before the close, say).
    pub answered: u64,
    /// Connection attempts that failed or timed out (a SYN dropped on a full accept queue).
    pub connect_failed: u64,
    /// Given up after [`STALE`] neither served nor closed: left in the kernel's queues (the
    /// handshake done on our side, the exporter's accept queue full), never reaching the
    /// exporter.
    pub stale: u64,
    /// Open at the end.
    pub held: u64,
}

/// Attackers: connections from each of some source addresses, each sending [`HALF_HEAD`] and
/// then nothing; every one the exporter closes is re-opened, at most `reopen_per_sec` a second
/// in all (the first ones opened at once), and so is every one still open after [`STALE`], as
/// a real attacker's would be. Stopped (and its connections closed) by [`Flood::stop`] or on
/// drop.
pub struct Flood {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<BTreeMap<Ipv4Addr, FloodStats>>>,
    /// Connections open now, all sources.
    pub open: Arc<AtomicUsize>,
    /// Connections made so far, all sources.
    pub made: Arc<AtomicUsize>,
}

/// Threads a [`Flood`] spreads its connections over.
const FLOOD_THREADS: usize = 4;

/// How long a [`Flood`] connection may stay open: past the exporter's 5 s head timeout, one
/// still open was never accepted (it waits in the kernel's queues) and presses on nothing.
pub const STALE: Duration = Duration::from_secs(7);

/// How long a [`Flood`] waits for a connection to be made.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(250);

impl Flood {
    /// `per_source` connections from each of `sources` to `dst`.
    pub fn half_open(
        dst: SocketAddr,
        sources: &[Ipv4Addr],
        per_source: usize,
        reopen_per_sec: u32,
    ) -> Flood {
        let stop = Arc::new(AtomicBool::new(false));
        let open = Arc::new(AtomicUsize::new(0));
        let made = Arc::new(AtomicUsize::new(0));
        // Slot i of every source, dealt round-robin over the threads.
        let slots: Vec<Ipv4Addr> = (0..per_source)
            .flat_map(|_| sources.iter().copied())
            .collect();
        let threads = (0..FLOOD_THREADS.min(slots.len()))
            .map(|t| {
                let mine: Vec<Ipv4Addr> = slots
                    .iter()
                    .copied()
                    .skip(t)
                    .step_by(FLOOD_THREADS)
                    .collect();
                let rate = f64::from(reopen_per_sec) / FLOOD_THREADS as f64;
                let (stop, open, made) = (Arc::clone(&stop), Arc::clone(&open), Arc::clone(&made));
                std::thread::spawn(move || hold(dst, mine, rate, &stop, &open, &made))
            })
            .collect();
        Flood {
            stop,
            threads,
            open,
            made,
        }
    }

    /// Stops the attackers, closes their connections; what each source did.
    pub fn stop(mut self) -> BTreeMap<Ipv4Addr, FloodStats> {
        self.finish()
    }

    fn finish(&mut self) -> BTreeMap<Ipv4Addr, FloodStats> {
        self.stop.store(true, Ordering::Relaxed);
        let mut all: BTreeMap<Ipv4Addr, FloodStats> = BTreeMap::new();
        for t in self.threads.drain(..) {
            for (a, s) in t.join().unwrap_or_default() {
                let e = all.entry(a).or_default();
                e.opened += s.opened;
                e.closed += s.closed;
                e.answered += s.answered;
                e.connect_failed += s.connect_failed;
                e.stale += s.stale;
                e.held += s.held;
            }
        }
        all
    }

    /// The sum over the sources.
    pub fn total(stats: &BTreeMap<Ipv4Addr, FloodStats>) -> FloodStats {
        stats.values().fold(FloodStats::default(), |mut t, s| {
            t.opened += s.opened;
            t.closed += s.closed;
            t.answered += s.answered;
            t.connect_failed += s.connect_failed;
            t.stale += s.stale;
            t.held += s.held;
            t
        })
    }
}

impl Drop for Flood {
    fn drop(&mut self) {
        self.finish();
    }
}

/// One flood thread: keeps a connection open in every slot, sweeping them every 50 ms.
fn hold(
    dst: SocketAddr,
    slots: Vec<Ipv4Addr>,
    rate: f64,
    stop: &AtomicBool,
    open: &AtomicUsize,
    made: &AtomicUsize,
) -> BTreeMap<Ipv4Addr, FloodStats> {
    let mut stats: BTreeMap<Ipv4Addr, FloodStats> = BTreeMap::new();
    let mut conns: Vec<Option<(TcpStream, Instant)>> = slots.iter().map(|_| None).collect();
    // A token bucket: the first round at once, re-opens at `rate` a second.
    let mut tokens = slots.len() as f64;
    let mut last = Instant::now();
    let mut buf = [0u8; 512];
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        tokens = (tokens + rate * (now - last).as_secs_f64()).min(slots.len().max(1) as f64);
        last = now;
        for (src, conn) in slots.iter().zip(conns.iter_mut()) {
            if stop.load(Ordering::Relaxed) {
                break;
            }
            let st = stats.entry(*src).or_default();
            if let Some((c, since)) = conn {
                match c.read(&mut buf) {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        if since.elapsed() < STALE {
                            continue;
                        }
                        st.stale += 1;
                    }
                    Ok(n) if n > 0 => st.answered += 1,
                    _ => st.closed += 1,
                }
                *conn = None;
                open.fetch_sub(1, Ordering::Relaxed);
            }
            if tokens < 1.0 {
                continue;
            }
            tokens -= 1.0;
            // Short: a SYN dropped on a full accept queue is retried after 1 s by the kernel;
            // the sweep goes on instead (and the slot is tried again on a later one).
            let attempt = connect_from(*src, dst, CONNECT_TIMEOUT).and_then(|mut c| {
                c.write_all(HALF_HEAD)?;
                c.set_nonblocking(true)?;
                Ok(c)
            });
            match attempt {
                Ok(c) => {
                    st.opened += 1;
                    *conn = Some((c, Instant::now()));
                    open.fetch_add(1, Ordering::Relaxed);
                    made.fetch_add(1, Ordering::Relaxed);
                }
                Err(_) => st.connect_failed += 1,
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    for (src, conn) in slots.iter().zip(conns) {
        if conn.is_some() {
            stats.entry(*src).or_default().held += 1;
            open.fetch_sub(1, Ordering::Relaxed);
        }
    }
    stats
}

/// Connection attempts from `sources` (in turn) to `dst` at `per_sec` a second for `for_`,
/// each closed at once with an RST (`SO_LINGER` 0: no TIME_WAIT left behind), over `threads`
/// threads. Returns (attempts made, of which failed, time taken).
pub fn churn(
    dst: SocketAddr,
    sources: &[Ipv4Addr],
    per_sec: u32,
    for_: Duration,
    threads: usize,
) -> (u64, u64, Duration) {
    let start = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let sources = sources.to_vec();
            let per_thread = f64::from(per_sec) / threads as f64;
            std::thread::spawn(move || {
                let (mut made, mut failed) = (0u64, 0u64);
                let mut i = t;
                while start.elapsed() < for_ {
                    // Paced: the attempts due by now, no more.
                    let due = (start.elapsed().as_secs_f64() * per_thread) as u64;
                    if made >= due {
                        std::thread::sleep(Duration::from_micros(500));
                        continue;
                    }
                    made += 1;
                    let src = sources[i % sources.len()];
                    i += threads;
                    let ok = (|| -> io::Result<()> {
                        let s = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP))?;
                        s.set_linger(Some(Duration::ZERO))?;
                        s.bind(&SocketAddrV4::new(src, 0).into())?;
                        s.connect_timeout(&dst.into(), Duration::from_secs(1))
                    })();
                    if ok.is_err() {
                        failed += 1;
                    }
                }
                (made, failed)
            })
        })
        .collect();
    let (mut made, mut failed) = (0, 0);
    for h in handles {
        let (m, f) = h.join().unwrap_or_default();
        made += m;
        failed += f;
    }
    (made, failed, start.elapsed())
}

/// The sockets process `pid` holds open (its descriptors that are sockets: the listener and
/// every connection).
pub fn sockets_of(pid: u32) -> usize {
    fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| {
            d.filter_map(Result::ok)
                .filter_map(|e| fs::read_link(e.path()).ok())
                .filter(|t| t.to_string_lossy().starts_with("socket:"))
                .count()
        })
        .unwrap_or(0)
}

/// VmRSS of process `pid`, KiB.
pub fn rss_kib(pid: u32) -> u64 {
    fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or_else(|| panic!("no VmRSS in /proc/{pid}/status"))
}

/// Samples [`sockets_of`] a process every 100 ms until stopped: the most it saw, and the
/// samples.
pub struct FdSampler {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Vec<usize>>>,
}

impl FdSampler {
    pub fn start(pid: u32) -> FdSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let s = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut samples = Vec::new();
            while !s.load(Ordering::Relaxed) {
                samples.push(sockets_of(pid));
                std::thread::sleep(Duration::from_millis(100));
            }
            samples
        });
        FdSampler {
            stop,
            thread: Some(thread),
        }
    }

    /// Stops it; the samples taken.
    pub fn stop(mut self) -> Vec<usize> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or_default()
    }
}

impl Drop for FdSampler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
