//! The bounded `domain` label: normalise a recipient's domain (lower case, ASCII/punycode, no
//! trailing dot) and fold it into `other` once `domains.max` distinct values are in use.

use rustc_hash::FxHashMap;

/// Index of a domain label value. Small and `Copy`, so counter keys stay cheap to hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DomainId(u32);

impl DomainId {
    /// No domain (`domain=""`).
    pub const NONE: DomainId = DomainId(0);
    /// Folded by the bound, or not a usable domain (`domain="other"`).
    pub const OTHER: DomainId = DomainId(1);

    /// The id as an index into per-label tables.
    /// A label id made up for tests that need many distinct ones.
    #[cfg(test)]
    pub(crate) fn from_index(i: usize) -> DomainId {
        DomainId(i as u32)
    }

    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// The longest domain name DNS allows; anything longer is not a domain.
const MAX_DOMAIN_LEN: usize = 253;

/// Result of a lookup: the label, and whether the cardinality bound folded it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lookup {
    pub id: DomainId,
    pub overflowed: bool,
}

/// Interns domain label values up to a bound.
#[derive(Debug)]
pub struct DomainTable {
    max: usize,
    /// Normalised domain → label id. Configured domains and group members are in here from the
    /// start; others are added on first sight until `max` of them are in use.
    ids: FxHashMap<Box<[u8]>, DomainId>,
    /// id → label value.
    names: Vec<String>,
    /// id → whether the label is one domain's (a kept or dynamic one), not `""`, `other` or
    /// a group's name that several domains share.
    single: Vec<bool>,
    /// How many ids were handed out on first sight (configured ones do not count to `max`).
    dynamic: usize,
    scratch: Vec<u8>,
}

impl DomainTable {
    /// `keep`: domains that always keep their own label. `groups`: label → member domains.
    pub fn new(max: usize, keep: &[String], groups: &[(String, Vec<String>)]) -> Self {
        let mut t = DomainTable {
            max,
            ids: FxHashMap::default(),
            names: vec![String::new(), "other".to_owned()],
            single: vec![false, false],
            dynamic: 0,
            scratch: Vec::new(),
        };
        for d in keep {
            if let Some(n) = normalise(d.as_bytes(), &mut Vec::new()) {
                let id = t.push_name(String::from_utf8_lossy(&n).into_owned());
                t.ids.insert(n.into(), id);
            }
        }
        for (label, members) in groups {
            let id = t.push_name(label.clone());
            if let Some(s) = t.single.get_mut(id.0 as usize) {
                *s = false;
            }
            for d in members {
                if let Some(n) = normalise(d.as_bytes(), &mut Vec::new()) {
                    t.ids.insert(n.into(), id);
                }
            }
        }
        t
    }

    fn push_name(&mut self, name: String) -> DomainId {
        if let Some(i) = self.names.iter().position(|n| *n == name) {
            return DomainId(i as u32);
        }
        self.names.push(name);
        self.single.push(true);
        DomainId((self.names.len() - 1) as u32)
    }

    /// Whether `id` labels exactly one domain, so that what depends on the domain alone (its
    /// provider) may be remembered per label.
    pub fn is_single(&self, id: DomainId) -> bool {
        self.single.get(id.0 as usize).copied().unwrap_or(false)
    }

    /// The label for a raw domain taken from a log line.
    pub fn lookup(&mut self, raw: &[u8]) -> Lookup {
        if raw.is_empty() {
            return Lookup {
                id: DomainId::NONE,
                overflowed: false,
            };
        }
        // Fast path: most domains are already in normal form and already known.
        if let Some(&id) = self.ids.get(raw) {
            return Lookup {
                id,
                overflowed: false,
            };
        }
        let mut scratch = std::mem::take(&mut self.scratch);
        let result = self.lookup_slow(raw, &mut scratch);
        self.scratch = scratch;
        result
    }

    fn lookup_slow(&mut self, raw: &[u8], scratch: &mut Vec<u8>) -> Lookup {
        let Some(norm) = normalise_into(raw, scratch) else {
            // Not a usable domain (bad bytes, too long): never a label value of its own.
            return Lookup {
                id: DomainId::OTHER,
                overflowed: false,
            };
        };
        if let Some(&id) = self.ids.get(norm) {
            return Lookup {
                id,
                overflowed: false,
            };
        }
        if self.dynamic >= self.max {
            return Lookup {
                id: DomainId::OTHER,
                overflowed: true,
            };
        }
        self.dynamic += 1;
        // The normalised form is ASCII by construction.
        let id = self.push_name(String::from_utf8_lossy(norm).into_owned());
        self.ids.insert(norm.into(), id);
        Lookup {
            id,
            overflowed: false,
        }
    }

    pub fn name(&self, id: DomainId) -> &str {
        self.names
            .get(id.0 as usize)
            .map_or("other", String::as_str)
    }

    /// Every label value with its id (for restoring and reporting).
    pub fn names(&self) -> impl Iterator<Item = (DomainId, &str)> {
        self.names
            .iter()
            .enumerate()
            .map(|(i, n)| (DomainId(i as u32), n.as_str()))
    }

    /// Re-interns a label value (read back from saved state, or counted by another table with
    /// the same settings): an existing label keeps its id — `""`, `other`, a group's name, a
    /// domain already seen — and any other value is looked up as a domain, counting towards the
    /// bound like a first sighting.
    pub fn restore(&mut self, name: &str) -> Lookup {
        match self.names.iter().position(|n| n == name) {
            Some(i) => Lookup {
                id: DomainId(i as u32),
                overflowed: false,
            },
            None => self.lookup(name.as_bytes()),
        }
    }
}

fn normalise(raw: &[u8], buf: &mut Vec<u8>) -> Option<Vec<u8>> {
    normalise_into(raw, buf).map(<[u8]>::to_vec)
}

/// Lower case, trailing dot removed, internationalised names in their punycode (A-label) form.
/// Returns `None` for anything that is not a plausible domain or address literal, so remote
/// bytes such as quotes or control characters never reach a label.
fn normalise_into<'b>(raw: &[u8], buf: &'b mut Vec<u8>) -> Option<&'b [u8]> {
    let raw = raw.strip_suffix(b".").unwrap_or(raw);
    buf.clear();
    if raw.is_ascii() {
        buf.extend(raw.iter().map(u8::to_ascii_lowercase));
    } else {
        let s = std::str::from_utf8(raw).ok()?;
        let ascii = idna::domain_to_ascii(s).ok()?;
        buf.extend_from_slice(ascii.as_bytes());
    }
    let ok = !buf.is_empty()
        && buf.len() <= MAX_DOMAIN_LEN
        && (is_hostname(buf) || is_address_literal(buf));
    ok.then_some(&buf[..])
}

fn is_hostname(b: &[u8]) -> bool {
    b.iter()
        .all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'-' | b'.' | b'_'))
        && !b.starts_with(b".")
        && !b.windows(2).any(|w| w == b"..")
}

/// `[192.0.2.1]` or `[IPv6:2001:db8::1]`, as RFC 5321 allows in place of a domain.
fn is_address_literal(b: &[u8]) -> bool {
    b.len() > 2
        && b.starts_with(b"[")
        && b.ends_with(b"]")
        && b[1..b.len() - 1]
            .iter()
            .all(|&c| c.is_ascii_hexdigit() || matches!(c, b'.' | b':' | b'i' | b'p' | b'v'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn label(t: &mut DomainTable, raw: &str) -> String {
        let id = t.lookup(raw.as_bytes()).id;
        t.name(id).to_owned()
    }

    #[test]
    fn normalises_case_dots_and_idn() {
        let mut t = DomainTable::new(100, &[], &[]);
        for (raw, want) in [
            ("Example.COM", "example.com"),
            ("example.com.", "example.com"),
            ("bücher.example", "xn--bcher-kva.example"),
            ("XN--BCHER-KVA.example", "xn--bcher-kva.example"),
            ("[192.0.2.1]", "[192.0.2.1]"),
            ("", ""),
            ("evil\"} 1\n", "other"),
            ("a..b", "other"),
        ] {
            assert_eq!(label(&mut t, raw), want, "{raw:?}");
        }
        // Non-UTF-8 bytes are not a domain.
        let id = t.lookup(b"ex\xffample.com").id;
        assert_eq!(t.name(id), "other");
    }

    #[test]
    fn bound_folds_into_other_and_says_so() {
        let mut t = DomainTable::new(2, &["kept.example".into()], &[]);
        assert!(!t.lookup(b"a.example").overflowed);
        assert!(!t.lookup(b"b.example").overflowed);
        let third = t.lookup(b"c.example");
        assert_eq!((third.id, third.overflowed), (DomainId::OTHER, true));
        // Known values keep their label after the bound is reached; configured ones never count.
        assert_eq!(label(&mut t, "A.example"), "a.example");
        assert_eq!(label(&mut t, "kept.example"), "kept.example");
    }

    #[test]
    fn groups_share_one_label() {
        let groups = vec![(
            "microsoft".to_owned(),
            vec!["outlook.com".to_owned(), "Hotmail.com".to_owned()],
        )];
        let mut t = DomainTable::new(0, &[], &groups);
        assert_eq!(label(&mut t, "hotmail.com"), "microsoft");
        assert_eq!(label(&mut t, "OUTLOOK.com"), "microsoft");
        assert_eq!(label(&mut t, "gmail.com"), "other");
    }
}
