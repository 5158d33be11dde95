//! The syslog listener source: `--syslog.listen-address udp://127.0.0.1:5514`, `tcp://…`
//! (RFC 6587: octet-counted and newline-framed, told apart per frame) or `unix:///run/…` (a
//! datagram socket, as `/dev/log` is), so rsyslog, syslog-ng or `logger` can forward mail logs
//! to the exporter. Messages in RFC 3164 and RFC 5424 ([`super::framing`] rewrites the
//! latter for the parsers).
//!
//! Bounded everywhere: a message over `max_message` bytes is dropped (reason `too_large`), at
//! most `max_connections` TCP connections are served at once (more are closed at once, with a
//! warning), and between the sockets and the parser sits a queue of `queue` messages. When the
//! parser cannot keep up, new messages are dropped (reason `queue_full`) rather than the queue
//! growing: `smtp_status_exporter_dropped_messages_total{source, reason}`. Every message
//! received is either read (one `smtp_status_exporter_lines_total` result) or dropped, so
//! `lines + dropped` is what arrived. Losses before the exporter sees a message (a UDP socket
//! buffer that overflowed in the kernel) cannot be counted here: use TCP where that matters.
//!
//! Sockets are read with blocking calls on threads of their own (one per socket and per TCP
//! connection, bounded); one parser thread per listener takes the messages off the queue and
//! counts them under the aggregator's lock, many per lock.

use std::fmt;
use std::io::{ErrorKind, Read};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;

use super::framing::{self, Frame, Framer};
use super::lines::Line;
use super::{ingest, Running, Source};
use crate::aggregate::{Aggregator, Counters, SourceId, SourceState};
use crate::parse::Parser;

/// Where a listener listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    Udp(SocketAddr),
    Tcp(SocketAddr),
    /// A datagram socket at this path.
    Unix(PathBuf),
}

impl Endpoint {
    /// Reads `udp://HOST:PORT`, `tcp://HOST:PORT` (an IP address; `[::1]` for IPv6) or
    /// `unix:///PATH`.
    pub fn parse(s: &str) -> Result<Endpoint, String> {
        let hint = "use udp://127.0.0.1:5514, tcp://127.0.0.1:5514 or unix:///run/smtp-status-exporter/syslog.sock";
        let (scheme, rest) = s
            .split_once("://")
            .ok_or_else(|| format!("{s:?} has no scheme: {hint}"))?;
        let addr = || {
            rest.parse::<SocketAddr>()
                .map_err(|_| format!("{s:?}: {rest:?} is not IP:PORT: {hint}"))
        };
        match scheme {
            "udp" => addr().map(Endpoint::Udp),
            "tcp" => addr().map(Endpoint::Tcp),
            "unix" if rest.starts_with('/') && rest.len() > 1 => {
                Ok(Endpoint::Unix(PathBuf::from(rest)))
            }
            "unix" => Err(format!("{s:?}: the socket path must be absolute: {hint}")),
            other => Err(format!("{s:?}: unknown scheme {other:?}: {hint}")),
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Udp(a) => write!(f, "udp://{a}"),
            Endpoint::Tcp(a) => write!(f, "tcp://{a}"),
            Endpoint::Unix(p) => write!(f, "unix://{}", p.display()),
        }
    }
}

/// The bounds of one listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Messages waiting for the parser, at most.
    pub queue: usize,
    /// Bytes of one message, at most (larger ones are dropped as `too_large`).
    pub max_message: usize,
    /// TCP connections served at once, at most.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            queue: 10_000,
            max_message: super::lines::MAX_LINE,
            max_connections: 64,
        }
    }
}

/// One configured listener.
#[derive(Debug, Clone)]
pub struct ListenerSpec {
    /// The `source` label.
    pub name: String,
    pub endpoint: Endpoint,
    pub parser: Parser,
    pub limits: Limits,
}

impl ListenerSpec {
    /// What `/` shows and the state file keys the counters by.
    pub fn location(&self) -> String {
        format!("syslog {}", self.endpoint)
    }
}

/// Why a message was dropped: the values of the `reason` label, in the order of
/// [`SourceStats::dropped`](crate::aggregate::SourceStats::dropped).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// The queue to the parser was full.
    QueueFull,
    /// Over the size cap.
    TooLarge,
    /// An octet-counted message cut short by the end of its connection.
    Truncated,
}

impl DropReason {
    pub const ALL: [DropReason; 3] = [
        DropReason::QueueFull,
        DropReason::TooLarge,
        DropReason::Truncated,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::QueueFull => "queue_full",
            DropReason::TooLarge => "too_large",
            DropReason::Truncated => "truncated",
        }
    }
}

/// A bound socket, not yet read.
#[derive(Debug)]
enum Socket {
    Udp(UdpSocket),
    Tcp(TcpListener),
    Unix(UnixDatagram, PathBuf),
}

/// A listener whose socket is bound (so a busy port fails at start), ready to start (it is the listener's [`Source`]).
#[derive(Debug)]
pub struct Bound {
    spec: ListenerSpec,
    socket: Socket,
    /// The source its messages count into.
    id: SourceId,
}

impl Bound {
    pub fn spec(&self) -> &ListenerSpec {
        &self.spec
    }

    /// The address bound (the port the system chose for port 0).
    pub fn local(&self) -> String {
        match &self.socket {
            Socket::Udp(s) => s
                .local_addr()
                .map_or_else(|_| self.spec.endpoint.to_string(), |a| format!("udp://{a}")),
            Socket::Tcp(s) => s
                .local_addr()
                .map_or_else(|_| self.spec.endpoint.to_string(), |a| format!("tcp://{a}")),
            Socket::Unix(_, p) => format!("unix://{}", p.display()),
        }
    }
}

/// Binds the socket of `spec`. A stale socket file at a unix path (nobody receiving on it) is
/// replaced; a live one, or another kind of file, is an error.
pub fn bind(spec: ListenerSpec, id: SourceId) -> anyhow::Result<Bound> {
    let socket = match &spec.endpoint {
        Endpoint::Udp(a) => Socket::Udp(
            UdpSocket::bind(a).with_context(|| format!("cannot listen on {}", spec.endpoint))?,
        ),
        Endpoint::Tcp(a) => Socket::Tcp(
            TcpListener::bind(a).with_context(|| format!("cannot listen on {}", spec.endpoint))?,
        ),
        Endpoint::Unix(p) => {
            if let Ok(meta) = std::fs::symlink_metadata(p) {
                use std::os::unix::fs::FileTypeExt;
                if !meta.file_type().is_socket() {
                    anyhow::bail!(
                        "cannot listen on {}: {} exists and is not a socket; remove it or choose another path",
                        spec.endpoint,
                        p.display()
                    );
                }
                let probe = UnixDatagram::unbound()?;
                if probe.connect(p).is_ok() {
                    anyhow::bail!(
                        "cannot listen on {}: another process receives on {} (another exporter, a syslog daemon?)",
                        spec.endpoint,
                        p.display()
                    );
                }
                std::fs::remove_file(p)
                    .with_context(|| format!("cannot replace the stale socket {}", p.display()))?;
            }
            let s = UnixDatagram::bind(p)
                .with_context(|| format!("cannot listen on {}", spec.endpoint))?;
            Socket::Unix(s, p.clone())
        }
    };
    Ok(Bound { spec, socket, id })
}

impl Source for Bound {
    /// Starts the threads of the listener; stopping it removes its unix socket file.
    fn start(self: Box<Self>, counters: &Counters) -> anyhow::Result<Running> {
        tracing::info!(
            "syslog source {} listening on {}",
            self.spec.name,
            self.local()
        );
        let unix_path = start(*self, counters.clone())?;
        Ok(Running::new(move || {
            if let Some(p) = unix_path {
                let _ = std::fs::remove_file(p);
            }
        }))
    }
}

/// What the socket threads share with the parser thread.
#[derive(Debug)]
struct Intake {
    tx: SyncSender<Vec<u8>>,
    /// Message buffers the parser thread is done with, reused so a steady stream allocates
    /// nothing per message.
    spare: Mutex<Receiver<Vec<u8>>>,
    /// Drops not yet added to the aggregator (the parser thread moves them under its lock).
    dropped: [AtomicU64; 3],
    max_message: usize,
}

impl Intake {
    /// Queues one message, or counts it dropped.
    fn offer(&self, msg: &[u8]) {
        if msg.len() > self.max_message {
            self.drop_one(DropReason::TooLarge);
            return;
        }
        if msg.is_empty() {
            return;
        }
        let mut buf = self
            .spare
            .lock()
            .ok()
            .and_then(|r| r.try_recv().ok())
            .unwrap_or_default();
        buf.clear();
        buf.extend_from_slice(msg);
        match self.tx.try_send(buf) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => self.drop_one(DropReason::QueueFull),
            // The parser thread is gone: only at shutdown.
            Err(TrySendError::Disconnected(_)) => {}
        }
    }

    fn drop_one(&self, r: DropReason) {
        if let Some(c) = self.dropped.get(r as usize) {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Starts the threads of a bound listener; the path of its unix socket, if it has one.
fn start(bound: Bound, agg: Counters) -> anyhow::Result<Option<PathBuf>> {
    let Bound {
        spec,
        socket,
        id: source,
    } = bound;
    let (tx, rx) = sync_channel(spec.limits.queue.max(1));
    let (spare_tx, spare_rx) = sync_channel(SPARE);
    let intake = Arc::new(Intake {
        tx,
        spare: Mutex::new(spare_rx),
        dropped: Default::default(),
        max_message: spec.limits.max_message,
    });
    {
        let mut g = agg.lock();
        if let Some(s) = g.source_mut(source) {
            s.dropped.get_or_insert([0; 3]);
            s.state = SourceState::Following;
        }
    }
    let parser_intake = Arc::clone(&intake);
    let parser = spec.parser.clone();
    thread(&format!("syslog-parse-{}", spec.name), move || {
        parse_loop(&rx, &spare_tx, &parser_intake, source, parser, &agg);
    })?;
    let name = spec.name.clone();
    let max = spec.limits.max_message;
    let mut unix_path = None;
    match socket {
        Socket::Udp(s) => thread(&format!("syslog-udp-{name}"), move || {
            datagrams(|b| s.recv(b), &intake, max, &name);
        })?,
        Socket::Unix(s, p) => {
            unix_path = Some(p);
            thread(&format!("syslog-unix-{name}"), move || {
                datagrams(|b| s.recv(b), &intake, max, &name);
            })?;
        }
        Socket::Tcp(l) => {
            let limit = spec.limits.max_connections.max(1);
            thread(&format!("syslog-tcp-{name}"), move || {
                accept_loop(&l, &intake, limit, &name);
            })?;
        }
    }
    Ok(unix_path)
}

fn thread(name: &str, f: impl FnOnce() + Send + 'static) -> anyhow::Result<()> {
    std::thread::Builder::new()
        .name(name.chars().take(15).collect())
        .spawn(f)
        .map(|_| ())
        .with_context(|| format!("cannot start the {name} thread"))
}

/// Reads datagrams, one message each. A datagram longer than the cap arrives cut at
/// `max + 1` bytes and is dropped as too large.
fn datagrams(
    mut recv: impl FnMut(&mut [u8]) -> std::io::Result<usize>,
    intake: &Intake,
    max: usize,
    name: &str,
) {
    let mut buf = vec![0u8; max + 1];
    loop {
        match recv(&mut buf) {
            Ok(n) => intake.offer(framing::trim_eol(buf.get(..n).unwrap_or_default())),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => {
                tracing::error!("syslog source {name}: cannot receive: {e}");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

/// Accepts TCP connections, each on a thread of its own, at most `limit` at once.
fn accept_loop(l: &TcpListener, intake: &Arc<Intake>, limit: usize, name: &str) {
    let open = Arc::new(AtomicUsize::new(0));
    loop {
        let (stream, peer) = match l.accept() {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!("syslog source {name}: cannot accept a connection: {e}");
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
        };
        if open.load(Ordering::SeqCst) >= limit {
            tracing::warn!(
                "syslog source {name}: {peer} refused: already {limit} connections (the limit)"
            );
            drop(stream);
            continue;
        }
        open.fetch_add(1, Ordering::SeqCst);
        let (intake, open2, name2) = (Arc::clone(intake), Arc::clone(&open), name.to_owned());
        let started = thread(&format!("syslog-conn-{name}"), move || {
            connection(stream, &intake, &name2);
            open2.fetch_sub(1, Ordering::SeqCst);
        });
        if let Err(e) = started {
            open.fetch_sub(1, Ordering::SeqCst);
            tracing::warn!("syslog source {name}: {e:#}");
        }
    }
}

/// Reads one TCP connection to its end.
fn connection(mut stream: TcpStream, intake: &Intake, name: &str) {
    let mut framer = Framer::new(intake.max_message);
    let mut buf = vec![0u8; 64 * 1024];
    let offer = |f: Frame<'_>| match f {
        Frame::Message(m) => intake.offer(m),
        Frame::TooLarge => intake.drop_one(DropReason::TooLarge),
    };
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => framer.feed(buf.get(..n).unwrap_or_default(), offer),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => {
                tracing::debug!("syslog source {name}: connection ended: {e}");
                break;
            }
        }
    }
    if framer.finish(offer) {
        intake.drop_one(DropReason::Truncated);
    }
}

/// How many messages are counted under one lock at most, so a scrape never waits long.
const BATCH: usize = 1024;

/// Message buffers kept for reuse, at most.
const SPARE: usize = 256;

/// Takes messages off the queue and counts them; moves the socket threads' drop counts into
/// the aggregator.
fn parse_loop(
    rx: &Receiver<Vec<u8>>,
    spare: &SyncSender<Vec<u8>>,
    intake: &Intake,
    source: SourceId,
    mut parser: Parser,
    agg: &Counters,
) {
    let mut line = Vec::with_capacity(1024);
    loop {
        let first = match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(m) => Some(m),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => return,
        };
        let mut g = agg.lock();
        move_drops(intake, &mut g, source);
        let Some(first) = first else { continue };
        count(&mut g, source, &mut parser, &mut line, &first);
        // Buffers over the usual message size are not worth keeping.
        let give_back = |m: Vec<u8>| {
            if m.capacity() <= 4096 {
                let _ = spare.try_send(m);
            }
        };
        give_back(first);
        for _ in 1..BATCH {
            match rx.try_recv() {
                Ok(m) => {
                    count(&mut g, source, &mut parser, &mut line, &m);
                    give_back(m);
                }
                Err(_) => break,
            }
        }
        g.set_last_line(source, Counters::now());
    }
}

fn count(g: &mut Aggregator, source: SourceId, parser: &mut Parser, buf: &mut Vec<u8>, m: &[u8]) {
    g.add_bytes(source, m.len() as u64);
    let line = framing::normalise(m, buf);
    ingest(g, source, parser, Line::Complete(line));
}

fn move_drops(intake: &Intake, g: &mut Aggregator, source: SourceId) {
    let Some(s) = g.source_mut(source) else {
        return;
    };
    let counts = s.dropped.get_or_insert([0; 3]);
    for (total, pending) in counts.iter_mut().zip(&intake.dropped) {
        *total += pending.swap(0, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        assert_eq!(
            Endpoint::parse("udp://127.0.0.1:5514"),
            Ok(Endpoint::Udp("127.0.0.1:5514".parse().unwrap()))
        );
        assert_eq!(
            Endpoint::parse("tcp://[::1]:514").map(|e| e.to_string()),
            Ok("tcp://[::1]:514".to_owned())
        );
        assert_eq!(
            Endpoint::parse("unix:///run/x.sock"),
            Ok(Endpoint::Unix("/run/x.sock".into()))
        );
        for bad in [
            "127.0.0.1:5514",
            "udp://localhost:5514",
            "tcp://1.2.3.4",
            "unix://run/x",
            "http://1.2.3.4:1",
        ] {
            assert!(Endpoint::parse(bad).is_err(), "{bad}");
        }
    }
}
