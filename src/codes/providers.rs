//! Who hosts the destination: the `provider` label (docs/providers.md).
//!
//! A reply's relay host is matched by name suffix against the providers' MX hosts (a custom
//! domain hosted at Google counts under `google`); where the relay is no destination (a local
//! delivery, a loopback content filter, one of our own relays, a bare address) or the line
//! names none, the recipient domain's well-known names decide. The label takes only the
//! table's names, `other` and the empty value, so it is bounded by construction.
//!
//! The lookup allocates nothing: names are lower-cased into a buffer on the stack and each
//! suffix at a label boundary is one hash lookup, longest first.

mod builtin;

use std::collections::BTreeMap;
use std::net::IpAddr;

use rustc_hash::FxHashMap;
use serde::Deserialize;

pub use builtin::{Builtin, BUILTIN};

use crate::parse::Relay;

/// A value of the `provider` label, as an index into [`Providers`]' names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct ProviderId(u16);

impl ProviderId {
    /// The empty label: inbound, or a local delivery to no well-known domain.
    pub const NONE: ProviderId = ProviderId(0);
    /// No provider of the table matched.
    pub const OTHER: ProviderId = ProviderId(1);
}

/// What a relay says of the provider ([`Providers::of_relay`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The relay is that provider's host, or a host of no provider (`other`).
    Is(ProviderId),
    /// The relay is no destination (a hop of ours, a local delivery) or unknown: the
    /// recipient domain's well-known names decide, else `otherwise`.
    ByDomain { otherwise: ProviderId },
}

/// One provider of the configuration file's `providers:` (name → this).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserProvider {
    /// Suffixes of its MX host names.
    #[serde(default)]
    pub mx: Vec<String>,
    /// Its mailbox domains (`name.*` for every country suffix).
    #[serde(default)]
    pub domains: Vec<String>,
}

/// The most providers the configuration may add.
pub const MAX_USER_PROVIDERS: usize = 1000;
/// Host names are at most 253 bytes (RFC 1035); longer text is no host name.
const MAX_NAME: usize = 253;

/// The provider table: built-in entries, the user's, and our own relays.
#[derive(Debug, Clone)]
pub struct Providers {
    /// Label values by id: `""`, `other`, then the providers.
    names: Vec<String>,
    mx: FxHashMap<Box<[u8]>, ProviderId>,
    domains: FxHashMap<Box<[u8]>, ProviderId>,
    /// `hotmail.*`: the first label of the domain.
    domain_stems: FxHashMap<Box<[u8]>, ProviderId>,
    /// Our own relays by host-name suffix, and by address.
    own_names: FxHashMap<Box<[u8]>, ()>,
    own_addrs: Vec<IpAddr>,
}

impl Default for Providers {
    fn default() -> Self {
        Providers::new(&BTreeMap::new(), &[]).unwrap_or_else(|_| Providers::empty())
    }
}

impl Providers {
    fn empty() -> Self {
        Providers {
            names: vec![String::new(), "other".to_owned()],
            mx: FxHashMap::default(),
            domains: FxHashMap::default(),
            domain_stems: FxHashMap::default(),
            own_names: FxHashMap::default(),
            own_addrs: Vec::new(),
        }
    }

    /// The built-in table with the user's providers and own relays. A user provider of a
    /// built-in name replaces that entry; a user suffix or domain takes precedence over a
    /// built-in one. Errors name the YAML path of the mistake and how to fix it.
    pub fn new(
        user: &BTreeMap<String, UserProvider>,
        own_relays: &[String],
    ) -> Result<Self, String> {
        if user.len() > MAX_USER_PROVIDERS {
            return Err(format!(
                "providers: {} providers; at most {MAX_USER_PROVIDERS} are allowed (the label \
                 must stay bounded): group hosts under fewer names",
                user.len()
            ));
        }
        let mut t = Providers::empty();
        for b in BUILTIN.iter().filter(|b| !user.contains_key(b.name)) {
            let id = t.add_name(b.name);
            for s in b.mx {
                t.mx.insert(s.as_bytes().into(), id);
            }
            for d in b.domains {
                t.add_domain(d, id);
            }
        }
        t.add_user(user)?;
        for (i, r) in own_relays.iter().enumerate() {
            t.add_own_relay(r)
                .map_err(|e| format!("own_relays[{i}] ({r:?}): {e}"))?;
        }
        Ok(t)
    }

    fn add_user(&mut self, user: &BTreeMap<String, UserProvider>) -> Result<(), String> {
        // Which user provider claimed a suffix or domain first, to report a clash.
        let mut claimed: BTreeMap<String, &str> = BTreeMap::new();
        for (name, p) in user {
            let at = format!("providers.{name}");
            check_name(name).map_err(|e| format!("{at}: {e}"))?;
            if p.mx.is_empty() && p.domains.is_empty() {
                return Err(format!(
                    "{at}: lists no `mx` host suffixes and no `domains`: give at least one"
                ));
            }
            let id = self.add_name(name);
            for (i, s) in p.mx.iter().enumerate() {
                let s = host_suffix(s, false).map_err(|e| format!("{at}.mx[{i}] ({s:?}): {e}"))?;
                claim(
                    &mut claimed,
                    format!("mx {s}"),
                    name,
                    &format!("{at}.mx[{i}]"),
                )?;
                self.mx.insert(s.into_bytes().into(), id);
            }
            for (i, d) in p.domains.iter().enumerate() {
                let d =
                    host_suffix(d, true).map_err(|e| format!("{at}.domains[{i}] ({d:?}): {e}"))?;
                claim(
                    &mut claimed,
                    format!("domain {d}"),
                    name,
                    &format!("{at}.domains[{i}]"),
                )?;
                self.add_domain(&d, id);
            }
        }
        Ok(())
    }

    fn add_own_relay(&mut self, r: &str) -> Result<(), String> {
        let bare = r.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = bare.parse::<IpAddr>() {
            self.own_addrs.push(ip);
            return Ok(());
        }
        let s = host_suffix(r, false)?;
        self.own_names.insert(s.into_bytes().into(), ());
        Ok(())
    }

    fn add_name(&mut self, name: &str) -> ProviderId {
        self.names.push(name.to_owned());
        ProviderId(u16::try_from(self.names.len() - 1).unwrap_or(u16::MAX))
    }

    fn add_domain(&mut self, d: &str, id: ProviderId) {
        match d.strip_suffix(".*") {
            Some(stem) => self.domain_stems.insert(stem.as_bytes().into(), id),
            None => self.domains.insert(d.as_bytes().into(), id),
        };
    }

    /// The label value of `id` (`other` for an id of another table).
    pub fn name(&self, id: ProviderId) -> &str {
        self.names
            .get(usize::from(id.0))
            .map_or("other", String::as_str)
    }

    /// The id of a label value (state files store labels); `None` for a name the table no
    /// longer has.
    pub fn id(&self, name: &str) -> Option<ProviderId> {
        let i = self.names.iter().position(|n| n == name)?;
        u16::try_from(i).ok().map(ProviderId)
    }

    /// Every label value but the empty one, in table order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.names.iter().skip(1).map(String::as_str)
    }

    /// The provider of an outbound reply from `relay` for a recipient of `domain` (raw, as
    /// the line has it). Inbound replies have none: the caller does not ask.
    pub fn of_reply(&self, relay: Relay<'_>, domain: &[u8]) -> ProviderId {
        match self.of_relay(relay) {
            Verdict::Is(p) => p,
            Verdict::ByDomain { otherwise } => self.of_domain(domain).unwrap_or(otherwise),
        }
    }

    /// What the relay alone says: a provider, or that the recipient's domain decides (once
    /// per line; the domain's part, per recipient, may be remembered by the caller).
    pub fn of_relay(&self, relay: Relay<'_>) -> Verdict {
        let raw = match relay {
            Relay::Host(raw) => raw,
            Relay::Local => {
                return Verdict::ByDomain {
                    otherwise: ProviderId::NONE,
                }
            }
            Relay::Unknown => {
                return Verdict::ByDomain {
                    otherwise: ProviderId::OTHER,
                }
            }
        };
        let by_domain = Verdict::ByDomain {
            otherwise: ProviderId::OTHER,
        };
        let (name, addr) = split_host(raw);
        let mut buf = None;
        let name = lower(name, &mut buf);
        if self.is_own(name, addr) {
            return by_domain;
        }
        // A bare address or a loopback host is a hop of ours (a content filter on
        // 127.0.0.1:10024, a smarthost given by address), not the destination. Told from the
        // bytes, before any lookup: most relays of a busy log are one or the other kind.
        if name.is_empty() || looks_like_address(name) || name == b"localhost" {
            return by_domain;
        }
        if let Some(p) = longest_suffix(&self.mx, name) {
            return Verdict::Is(p);
        }
        if is_loopback(addr) {
            return by_domain;
        }
        Verdict::Is(ProviderId::OTHER)
    }

    fn is_own(&self, name: &[u8], addr: &[u8]) -> bool {
        if !self.own_names.is_empty() && longest_suffix(&self.own_names, name).is_some() {
            return true;
        }
        if self.own_addrs.is_empty() {
            return false;
        }
        [addr, name]
            .iter()
            .filter_map(|a| parse_ip(a))
            .any(|ip| self.own_addrs.contains(&ip))
    }

    /// The provider of a recipient domain's well-known names, if any.
    pub fn of_domain(&self, domain: &[u8]) -> Option<ProviderId> {
        let mut buf = None;
        let d = lower(domain, &mut buf);
        let d = d.strip_suffix(b".").unwrap_or(d);
        if d.is_empty() {
            return None;
        }
        if let Some(p) = self.domains.get(d) {
            return Some(*p);
        }
        let dot = memchr::memchr(b'.', d)?;
        let (stem, rest) = (&d[..dot], &d[dot + 1..]);
        if !country_suffix(rest) {
            return None;
        }
        self.domain_stems.get(stem).copied()
    }
}

/// The longest suffix of `name`, at a label boundary, that `map` holds.
fn longest_suffix<V: Copy>(map: &FxHashMap<Box<[u8]>, V>, name: &[u8]) -> Option<V> {
    if name.is_empty() {
        return None;
    }
    let mut from = 0;
    loop {
        if let Some(v) = map.get(&name[from..]) {
            return Some(*v);
        }
        from += memchr::memchr(b'.', &name[from..])? + 1;
    }
}

/// What may follow `hotmail.` in a `hotmail.*` domain: `com`, a country's top-level domain
/// (`fr`) or its second level (`co.uk`, `com.br`, `co.jp`) — not any domain, so that
/// `hotmail.example.org` and `live.net` stay no Microsoft domains.
fn country_suffix(rest: &[u8]) -> bool {
    let mut labels = rest.split(|c| *c == b'.');
    match (labels.next(), labels.next(), labels.next()) {
        (Some(tld), None, _) => tld.len() == 2 || tld == b"com",
        (Some(sld), Some(cc), None) => (2..=3).contains(&sld.len()) && cc.len() == 2,
        _ => false,
    }
}

/// `name[address]:port`, `name [address]`, `[address]`, `name`, `name:port` or a bare
/// address → (name without a trailing dot, address).
pub fn split_host(raw: &[u8]) -> (&[u8], &[u8]) {
    let raw = raw.trim_ascii();
    if let Some(open) = memchr::memchr(b'[', raw) {
        let name = raw[..open].trim_ascii_end();
        let rest = &raw[open + 1..];
        let addr = memchr::memchr(b']', rest).map_or(rest, |c| &rest[..c]);
        return (name.strip_suffix(b".").unwrap_or(name), addr);
    }
    if parse_ip(raw).is_some() {
        return (&[], raw);
    }
    let end = raw
        .iter()
        .position(|c| c.is_ascii_whitespace() || *c == b':' || *c == b',' || *c == b';')
        .unwrap_or(raw.len());
    let name = &raw[..end];
    (name.strip_suffix(b".").unwrap_or(name), &[])
}

/// An IPv4 or IPv6 address literal, told by its bytes alone (host names have a letter
/// label last; an address has none, or has a `:`).
fn looks_like_address(name: &[u8]) -> bool {
    name.contains(&b':') || name.iter().all(|c| c.is_ascii_digit() || *c == b'.')
}

/// `127.0.0.0/8` or `::1`, as logged (`IPv6:::1` too).
fn is_loopback(addr: &[u8]) -> bool {
    let addr = addr.strip_prefix(b"IPv6:").unwrap_or(addr);
    addr.starts_with(b"127.")
        || (addr.contains(&b':') && parse_ip(addr).is_some_and(|a| a.is_loopback()))
}

fn parse_ip(b: &[u8]) -> Option<IpAddr> {
    let s = std::str::from_utf8(b).ok()?;
    let s = s.strip_prefix("IPv6:").unwrap_or(s);
    s.parse().ok()
}

/// `b` lower-cased (into `buf` where it has upper case: logs rarely do); empty when it is
/// longer than a host name can be.
/// The buffer is made only then (`None` costs nothing on the way of every line).
fn lower<'b>(b: &'b [u8], buf: &'b mut Option<[u8; MAX_NAME]>) -> &'b [u8] {
    if b.len() > MAX_NAME {
        return &[];
    }
    if !b.iter().any(u8::is_ascii_uppercase) {
        return b;
    }
    let Some(out) = buf.insert([0; MAX_NAME]).get_mut(..b.len()) else {
        return &[];
    };
    for (o, c) in out.iter_mut().zip(b) {
        *o = c.to_ascii_lowercase();
    }
    out
}

/// A provider name is a label value: lower-case letters, digits and `_`, starting with a
/// letter; `other` is taken.
fn check_name(name: &str) -> Result<(), String> {
    let ok = name.len() <= 40
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !ok {
        return Err(format!(
            "{name:?} is no provider name: use lower-case letters, digits and `_`, starting \
             with a letter, at most 40 characters (it becomes a label value)"
        ));
    }
    if name == "other" {
        return Err(
            "`other` is the label of replies no provider matches: choose another name".to_owned(),
        );
    }
    Ok(())
}

/// A host-name suffix of the configuration, lower-cased; `stem` allows a trailing `.*`.
fn host_suffix(s: &str, stem: bool) -> Result<String, String> {
    let lowered = s.trim().to_ascii_lowercase();
    let body = match lowered.strip_suffix(".*") {
        Some(b) if stem => b,
        _ => &lowered,
    };
    if body.parse::<IpAddr>().is_ok() {
        return Err(
            "an address is no host-name suffix: list relays of ours by address in \
                    `own_relays`"
                .to_owned(),
        );
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            && !l.starts_with('-')
    };
    if body.is_empty() || body.len() > MAX_NAME || !body.split('.').all(label_ok) {
        let hint = if stem {
            "a domain such as `example.com`, or `example.*` for every country suffix"
        } else {
            "a host name or its end, such as `mail.protection.outlook.com` or `outlook.com` \
             (no leading dot, no wildcard, no port)"
        };
        return Err(format!("not a host name: write {hint}"));
    }
    Ok(lowered)
}

fn claim<'n>(
    claimed: &mut BTreeMap<String, &'n str>,
    key: String,
    name: &'n str,
    at: &str,
) -> Result<(), String> {
    match claimed.get(&key) {
        Some(other) if *other != name => Err(format!(
            "{at}: {key} is also listed under providers.{other}: a host or domain can belong \
             to one provider only"
        )),
        _ => {
            claimed.insert(key, name);
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests;
