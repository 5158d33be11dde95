//! Clients good and bad for the admission tests (tests/it/clients.rs), all on loopback, each
//! from a source address of its own in 127.0.0.0/8 (bound with `socket2`, so that one address
//! is one client to the exporter and each address has its own ephemeral ports):
//! - [`Flood`]: attackers holding half-open connections (half a request head, then silence),
//!   re-opening at a bounded rate each one the exporter closes;
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

use super::scraper::connect_from;

/// What a half-open attacker sends on each connection before it falls silent.
pub const HALF_HEAD: &[u8] = b"GET /metrics HTTP/1.1\r\nHost: x\r\n";

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

impl FloodStats {
    fn add(&mut self, s: &FloodStats) {
        self.opened += s.opened;
        self.closed += s.closed;
        self.answered += s.answered;
        self.connect_failed += s.connect_failed;
        self.stale += s.stale;
        self.held += s.held;
    }
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
                all.entry(a).or_default().add(&s);
            }
        }
        all
    }

    /// The sum over the sources.
    pub fn total(stats: &BTreeMap<Ipv4Addr, FloodStats>) -> FloodStats {
        stats.values().fold(FloodStats::default(), |mut t, s| {
            t.add(s);
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
