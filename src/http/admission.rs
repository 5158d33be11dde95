//! Fair admission of connections: a bound per client address beside the global bound, so that
//! one client (a scanner, a broken health checker, a browser left open on a short refresh)
//! cannot hold the slots Prometheus needs.
//!
//! Decided right after `accept`, so nothing waits in the kernel's backlog behind a hostile
//! client: a connection is either served or closed at once. When every slot is taken, a
//! newcomer whose address holds clearly fewer connections than the biggest holder takes the
//! place of one of that holder's *unserved* connections (one that has not sent a whole request
//! head, or idles between requests); a connection being answered is never cut. The rules and
//! their limits are in SECURITY.md ("Limits on the HTTP side").

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use ipnet::IpNet;
use tokio::sync::Notify;

/// Connections an exempt address may open beyond the global bound when no unserved connection
/// can make room: the Prometheus servers are served even when every slot is busy answering.
pub const EXEMPT_RESERVE: usize = 16;
/// Refusals are logged at most this often (the counter is exact; the log points at it).
const LOG_EVERY: Duration = Duration::from_secs(60);

/// The bounds in force (`connection_limits` of the web config).
#[derive(Clone, Debug, PartialEq)]
pub struct Limits {
    max: usize,
    per_client: usize,
    exempt: Vec<IpNet>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max: super::limits::MAX_CONNECTIONS,
            per_client: super::limits::MAX_PER_CLIENT,
            exempt: Vec::new(),
        }
    }
}

impl Limits {
    /// Checked: `1 <= per_client <= max <= 4096`. The error says which field and why.
    pub fn new(max: usize, per_client: usize, exempt: Vec<IpNet>) -> Result<Limits, String> {
        if !(1..=4096).contains(&max) {
            return Err(format!(
                "connection_limits.max_connections: {max} is out of range: give 1 to 4096"
            ));
        }
        if !(1..=max).contains(&per_client) {
            return Err(format!(
                "connection_limits.per_client: {per_client} is out of range: give 1 to \
                 max_connections ({max})"
            ));
        }
        Ok(Limits {
            max,
            per_client,
            exempt,
        })
    }

    pub fn max(&self) -> usize {
        self.max
    }

    pub fn per_client(&self) -> usize {
        self.per_client
    }

    pub fn exempt(&self) -> &[IpNet] {
        &self.exempt
    }

    fn is_exempt(&self, ip: IpAddr) -> bool {
        self.exempt.iter().any(|n| n.contains(&ip))
    }
}

/// `connection_limits` as written in the web config file.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsFile {
    pub max_connections: Option<usize>,
    pub per_client: Option<usize>,
    /// Addresses (`192.0.2.10`, `2001:db8::5`) or nets (`10.0.0.0/8`).
    pub exempt: Option<Vec<String>>,
}

impl LimitsFile {
    /// The limits, or an error naming the field.
    pub fn check(&self) -> Result<Limits, String> {
        let d = Limits::default();
        let exempt = self
            .exempt
            .iter()
            .flatten()
            .enumerate()
            .map(|(i, s)| net(s).map_err(|e| format!("connection_limits.exempt[{i}]: {e}")))
            .collect::<Result<_, _>>()?;
        Limits::new(
            self.max_connections.unwrap_or(d.max),
            self.per_client.unwrap_or(d.per_client),
            exempt,
        )
    }
}

/// An address (a net of one) or a net in CIDR notation.
fn net(s: &str) -> Result<IpNet, String> {
    let s = s.trim();
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Ok(IpNet::from(ip));
    }
    s.parse::<IpNet>().map(|n| n.trunc()).map_err(|_| {
        format!(
            "{s:?} is neither an address nor a net: write 192.0.2.10, 10.0.0.0/8 or 2001:db8::/48"
        )
    })
}

/// Whose share a connection counts in: an IPv4 address, or an IPv6 /64 (one host or one LAN
/// gets many addresses of its /64, so counting addresses would bound nothing).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Client {
    V4(Ipv4Addr),
    V6(u64),
}

impl Client {
    fn of(ip: IpAddr) -> Client {
        match ip.to_canonical() {
            IpAddr::V4(a) => Client::V4(a),
            IpAddr::V6(a) => Client::V6((u128::from(a) >> 64) as u64),
        }
    }
}

impl std::fmt::Display for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Client::V4(a) => write!(f, "{a}"),
            Client::V6(p) => {
                let net = std::net::Ipv6Addr::from(u128::from(*p) << 64);
                write!(f, "{net}/64")
            }
        }
    }
}

/// Why a connection was closed unserved: the label `reason` of the refused counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    PerClient,
    Global,
}

impl Reason {
    pub const ALL: [Reason; 2] = [Reason::PerClient, Reason::Global];

    pub fn label(self) -> &'static str {
        match self {
            Reason::PerClient => "per_client",
            Reason::Global => "global",
        }
    }
}

/// One admitted connection, as the table sees it.
#[derive(Default)]
struct Conn {
    /// A request is being answered (from its whole head to the last byte of its response).
    busy: AtomicBool,
    /// Told when the connection must close to make room.
    evict: Notify,
    /// Told when the connection has closed (its [`Ticket`] dropped).
    gone: Notify,
}

struct Holder {
    exempt: bool,
    /// Oldest first.
    conns: Vec<Arc<Conn>>,
}

#[derive(Default)]
struct Table {
    holders: HashMap<Client, Holder>,
    total: usize,
}

impl Table {
    fn held(&self, c: Client) -> usize {
        self.holders.get(&c).map_or(0, |h| h.conns.len())
    }

    /// The unserved connection to close for a newcomer from `c` (holding `held`): the oldest
    /// idle one of the non-exempt address holding the most, if that address holds at least two
    /// more than the newcomer would (so equal holders never take turns closing each other);
    /// for an exempt newcomer, of any non-exempt address.
    fn victim(&self, c: Client, held: usize, exempt: bool) -> Option<(Client, Arc<Conn>)> {
        let mut best: Option<(usize, Client, &Arc<Conn>)> = None;
        for (k, h) in &self.holders {
            let n = h.conns.len();
            if *k == c || h.exempt || (!exempt && n <= held + 1) {
                continue;
            }
            if best.as_ref().is_some_and(|(m, _, _)| *m >= n) {
                continue;
            }
            if let Some(idle) = h.conns.iter().find(|x| !x.busy.load(Ordering::Acquire)) {
                best = Some((n, *k, idle));
            }
        }
        best.map(|(_, k, conn)| (k, Arc::clone(conn)))
    }

    fn insert(&mut self, c: Client, exempt: bool, conn: Arc<Conn>) {
        let h = self.holders.entry(c).or_insert_with(|| Holder {
            exempt,
            conns: Vec::new(),
        });
        h.exempt = exempt;
        h.conns.push(conn);
        self.total += 1;
    }

    /// Takes `conn` out of the table, if it is still there (not evicted before).
    fn remove(&mut self, c: Client, conn: &Arc<Conn>) {
        let Some(h) = self.holders.get_mut(&c) else {
            return;
        };
        let Some(i) = h.conns.iter().position(|x| Arc::ptr_eq(x, conn)) else {
            return;
        };
        h.conns.remove(i);
        if h.conns.is_empty() {
            self.holders.remove(&c);
        }
        self.total -= 1;
    }
}

/// What was refused since the last log line.
#[derive(Default)]
struct Unlogged {
    last_logged: Option<Instant>,
    counts: [u64; 2],
}

/// The connections held, by client, and what was refused.
#[derive(Default)]
pub struct Admission {
    table: Mutex<Table>,
    refused: [AtomicU64; 2],
    unlogged: Mutex<Unlogged>,
}

impl Admission {
    fn table(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Admits a connection from `peer` under `limits`, or says why not (and counts it).
    pub fn admit(self: &Arc<Self>, peer: IpAddr, limits: &Limits) -> Result<Admitted, Reason> {
        let peer = peer.to_canonical();
        let client = Client::of(peer);
        let exempt = limits.is_exempt(peer);
        let mut table = self.table();
        let held = table.held(client);
        if !exempt && held >= limits.per_client {
            drop(table);
            self.refuse(Reason::PerClient, || {
                format!("{client} held {held} connections, its share")
            });
            return Err(Reason::PerClient);
        }
        let mut evicted = None;
        if table.total >= limits.max {
            match table.victim(client, held, exempt) {
                Some((k, conn)) => {
                    table.remove(k, &conn);
                    conn.evict.notify_one();
                    evicted = Some(Evicted(conn));
                    // The closed one is the refusal: it was held unserved by the global bound.
                    let held_by_k = table.held(k) + 1;
                    self.refuse(Reason::Global, || {
                        format!(
                            "all slots were taken: an unserved connection of {k} (of its \
                             {held_by_k}) closed to make room for {client}"
                        )
                    });
                }
                None if exempt && table.total < limits.max + EXEMPT_RESERVE => {}
                None => {
                    let total = table.total;
                    drop(table);
                    self.refuse(Reason::Global, || {
                        format!("from {client}: all {total} slots were taken")
                    });
                    return Err(Reason::Global);
                }
            }
        }
        let conn = Arc::new(Conn::default());
        table.insert(client, exempt, Arc::clone(&conn));
        let ticket = Ticket {
            admission: Arc::clone(self),
            client,
            conn,
        };
        Ok(Admitted { ticket, evicted })
    }

    /// Counts a refusal, and logs it if none was logged in the last minute; `latest` says what
    /// happened (only called then).
    fn refuse(&self, reason: Reason, latest: impl FnOnce() -> String) {
        self.refused[reason as usize].fetch_add(1, Ordering::Relaxed);
        let mut u = self.unlogged.lock().unwrap_or_else(PoisonError::into_inner);
        u.counts[reason as usize] += 1;
        if u.last_logged.is_some_and(|t| t.elapsed() < LOG_EVERY) {
            return;
        }
        let [per_client, global] = std::mem::take(&mut u.counts);
        u.last_logged = Some(Instant::now());
        tracing::warn!(
            "refused HTTP connections ({per_client} per_client, {global} global since the last \
             such message; latest: {}); the limits are connection_limits in --web.config.file, \
             see SECURITY.md; counted in smtp_status_exporter_http_connections_refused_total",
            latest()
        );
    }

    /// Connections refused so far, by reason (in [`Reason::ALL`]'s order).
    pub fn refused(&self) -> [(Reason, u64); 2] {
        Reason::ALL.map(|r| (r, self.refused[r as usize].load(Ordering::Relaxed)))
    }

    /// Connections held now.
    pub fn held(&self) -> usize {
        self.table().total
    }
}

/// A connection let in, and the one closed to make room for it, if any.
pub struct Admitted {
    pub ticket: Ticket,
    pub evicted: Option<Evicted>,
}

/// A connection told to close to make room.
pub struct Evicted(Arc<Conn>);

impl Evicted {
    /// Resolves once it has closed: the accept loop waits for that before it serves the
    /// newcomer, so the sockets held never pass the bound while a burst is evicting.
    pub async fn closed(self) {
        self.0.gone.notified().await;
    }
}

/// One admitted connection: its slot is given back when this is dropped.
pub struct Ticket {
    admission: Arc<Admission>,
    client: Client,
    conn: Arc<Conn>,
}

impl Ticket {
    /// Resolves when the connection must close to make room for another client.
    pub async fn evicted(&self) {
        self.conn.evict.notified().await;
    }

    /// Marks the connection as answering a request until the guard is dropped: it is then
    /// never closed to make room.
    pub fn busy(&self) -> Busy {
        self.conn.busy.store(true, Ordering::Release);
        Busy(Arc::clone(&self.conn))
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.admission.table().remove(self.client, &self.conn);
        self.conn.gone.notify_one();
    }
}

/// See [`Ticket::busy`].
pub struct Busy(Arc<Conn>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.busy.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests;
