//! Scrapes as Prometheus makes them, for the admission tests (tests/it/clients.rs): from a
//! source address of their own in 127.0.0.0/8, each bounded by its scrape timeout and counted
//! as failed past it. Not through [`super::metrics::request`], the tests' HTTP client: these
//! need a source address, one deadline for the whole exchange, and to tell a connection closed
//! unanswered from one that timed out. The attackers are in [`super::flood`].

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpStream};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};

use super::metrics::{parse_exposition, series};

/// The `Accept` header of Prometheus 3's scrapes (OpenMetrics first, so the answer ends with
/// `# EOF`: a complete exposition is easy to tell from a cut one).
pub const PROMETHEUS_ACCEPT: &str = "application/openmetrics-text;version=1.0.0;\
    escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,\
    text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";

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
