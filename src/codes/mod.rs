//! What reply codes mean and what to do about them: the knowledge base.
//!
//! The table in `codes/data.rs` holds one entry per code, in the project's own words: the basic
//! codes of RFC 5321 and its extensions, the non-standard ones met in the wild, every enhanced
//! code of the IANA "Enumerated Status Codes" registry (RFC 3463, 5248 and later RFCs), and
//! well-known provider-specific enhanced codes (Gmail, Microsoft 365). A code the table does not
//! know is described by its digits alone (RFC 5321 §4.2 for basic codes, RFC 3463 §3 for the
//! class and subject of enhanced codes).
//!
//! Lookups go through an index built once ([`LazyLock`]); they are made per scrape per code seen
//! and by `explain`, never per log line.

mod data;
pub mod explain;
pub mod providers;
pub mod reasons;

use std::borrow::Cow;
use std::sync::LazyLock;

use rustc_hash::FxHashMap;

use crate::parse::{BasicCode, EnhancedCode};

/// Whether a code is defined by a standard, by one provider, or only by common use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// An RFC or the IANA registry defines it.
    Standard,
    /// One provider defines it (its documentation is the authority).
    Vendor,
    /// No definition: servers use it with a meaning that is widely understood.
    DeFacto,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Standard => "standard",
            Origin::Vendor => "vendor",
            Origin::DeFacto => "de facto",
        }
    }
}

/// One code of the knowledge base (`codes/data.rs` describes the conventions of each field).
#[derive(Debug)]
pub struct Entry {
    pub code: &'static str,
    pub class: &'static str,
    pub subject: &'static str,
    pub origin: Origin,
    pub source: &'static str,
    pub meaning: &'static str,
    pub action: &'static str,
}

/// Everything known about one code: from the table, or from its digits when `known` is false.
#[derive(Debug, Clone, PartialEq)]
pub struct Description {
    pub known: bool,
    /// One line, short: fit for a label value.
    pub meaning: Cow<'static, str>,
    pub action: Cow<'static, str>,
    pub source: Cow<'static, str>,
    pub origin: Option<Origin>,
}

/// The `class` label: from the basic code, else from the enhanced code's first digit.
pub fn class_label(code: Option<BasicCode>, enhanced: Option<EnhancedCode>) -> &'static str {
    let digit = code
        .map(BasicCode::class_digit)
        .or(enhanced.map(EnhancedCode::class_digit));
    match digit {
        Some(2) => "2xx",
        Some(3) => "3xx",
        Some(4) => "4xx",
        Some(5) => "5xx",
        _ => "",
    }
}

/// The class of any three-digit number that starts like a reply code (`101` gives `1xx`),
/// for `explain`, which also describes numbers that are no valid reply code.
pub fn number_class(n: u16) -> &'static str {
    match n / 100 {
        1 => "1xx",
        2 => "2xx",
        3 => "3xx",
        4 => "4xx",
        5 => "5xx",
        _ => "",
    }
}

/// The `subject` label from the enhanced code's middle number (RFC 3463 §3.1–3.8).
pub fn subject_label(enhanced: Option<EnhancedCode>) -> &'static str {
    enhanced.map_or("", |e| subject_name(e.subject()))
}

fn subject_name(subject: u8) -> &'static str {
    match subject {
        0 => "other",
        1 => "addressing",
        2 => "mailbox",
        3 => "mail_system",
        4 => "network",
        5 => "protocol",
        6 => "content",
        7 => "policy",
        _ => "",
    }
}

/// What the class digit alone says.
pub fn class_meaning(digit: u8) -> &'static str {
    match digit {
        1 => "not an SMTP reply: SMTP uses no 1xx codes, so probably a client-side error number",
        2 => "success",
        3 => "intermediate: more input expected",
        4 => "transient failure: the sender should retry later",
        5 => "permanent failure: retrying the same message will not help",
        _ => "not a reply class",
    }
}

/// What to do, from the class digit alone.
fn class_action(digit: u8) -> &'static str {
    match digit {
        1 => "Look at the client's connection: host name, port, DNS, firewall.",
        2 => "Nothing to do: success.",
        3 => "Nothing to do: the server waits for more input.",
        4 => "Transient: the MTA retries on its own. Read the reply text, and act if it persists.",
        5 => "Permanent: the message is not retried. Read the reply text for the cause, fix it, then resend.",
        _ => "Not a valid reply code: read the text around it.",
    }
}

/// What the middle digit of a basic code says (RFC 5321 §4.2.1).
fn basic_category(n: u16) -> &'static str {
    match (n / 10) % 10 {
        0 => "syntax",
        1 => "information",
        2 => "connection",
        5 => "mail system",
        _ => "unspecified",
    }
}

/// What the subject number of an enhanced code says (RFC 3463 §3).
fn subject_meaning(subject: u8) -> &'static str {
    match subject {
        0 => "other or undefined status",
        1 => "addressing status",
        2 => "mailbox status",
        3 => "mail system status",
        4 => "network and routing status",
        5 => "mail delivery protocol status",
        6 => "message content or media status",
        7 => "security or policy status",
        _ => "unknown subject",
    }
}

/// An enhanced code pattern of the table: class 0 stands for `X` (every class).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Pattern {
    class: u8,
    subject: u8,
    lo: u16,
    hi: u16,
}

/// Reads `X.1.1`, `5.7.509` or `5.7.606-649` (no leading zeros, as RFC 3463 writes codes).
fn parse_pattern(code: &str) -> Option<Pattern> {
    let mut parts = code.splitn(3, '.');
    let class = match parts.next()? {
        "X" => 0,
        c => {
            let c = number(c, 1)?;
            matches!(c, 2 | 4 | 5).then_some(c as u8)?
        }
    };
    let subject = u8::try_from(number(parts.next()?, 1)?).ok()?;
    let detail = parts.next()?;
    let (lo, hi) = match detail.split_once('-') {
        Some((lo, hi)) => (number(lo, 3)?, number(hi, 3)?),
        None => (number(detail, 3)?, number(detail, 3)?),
    };
    (subject <= 7 && lo <= hi && !(class == 0 && lo != hi)).then_some(Pattern {
        class,
        subject,
        lo,
        hi,
    })
}

/// Digits only, at most `max_len` of them, no leading zero.
fn number(s: &str, max_len: usize) -> Option<u16> {
    let ok = !s.is_empty()
        && s.len() <= max_len
        && s.bytes().all(|b| b.is_ascii_digit())
        && !(s.len() > 1 && s.starts_with('0'));
    ok.then(|| s.parse().ok()).flatten()
}

/// Reads a basic code of the table: three digits, the first 1–5.
fn parse_basic(code: &str) -> Option<u16> {
    let n = number(code, 3)?;
    (code.len() == 3 && (100..600).contains(&n)).then_some(n)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Key {
    Basic(u16),
    /// Class (0 = every class), subject, detail.
    Enhanced(u8, u8, u16),
}

static INDEX: LazyLock<FxHashMap<Key, &'static Entry>> = LazyLock::new(build_index);

fn build_index() -> FxHashMap<Key, &'static Entry> {
    let mut index = FxHashMap::default();
    for e in data::BASIC {
        if let Some(n) = parse_basic(e.code) {
            index.insert(Key::Basic(n), e);
        }
    }
    // Ranges first, so that a single code inside a range overrides it.
    for ranges in [true, false] {
        for e in data::ENHANCED {
            let Some(p) = parse_pattern(e.code) else {
                continue;
            };
            if (p.lo != p.hi) != ranges {
                continue;
            }
            for d in p.lo..=p.hi {
                index.insert(Key::Enhanced(p.class, p.subject, d), e);
            }
        }
    }
    index
}

/// The table's entry for a three-digit number (`550`, or a non-standard `101`).
pub fn basic_entry(n: u16) -> Option<&'static Entry> {
    INDEX.get(&Key::Basic(n)).copied()
}

/// The table's entry for an enhanced code: one for its class if there is one (a provider's
/// use of it), else the registry's (`X.` entry).
pub fn enhanced_entry(e: EnhancedCode) -> Option<&'static Entry> {
    let (c, s, d) = (e.class_digit(), e.subject(), e.detail());
    INDEX
        .get(&Key::Enhanced(c, s, d))
        .or_else(|| INDEX.get(&Key::Enhanced(0, s, d)))
        .copied()
}

fn from_entry(e: &'static Entry) -> Description {
    Description {
        known: true,
        meaning: Cow::Borrowed(e.meaning),
        action: Cow::Borrowed(e.action),
        source: Cow::Borrowed(e.source),
        origin: Some(e.origin),
    }
}

/// A three-digit number (`100..=599`): the table's entry, or what its digits tell.
pub fn describe_basic(n: u16) -> Description {
    basic_entry(n).map_or_else(
        || {
            let digit = (n / 100) as u8;
            Description {
                known: false,
                meaning: Cow::Owned(format!("{} ({})", class_meaning(digit), basic_category(n))),
                action: Cow::Borrowed(class_action(digit)),
                source: Cow::Borrowed("RFC 5321 section 4.2 (digits only)"),
                origin: None,
            }
        },
        from_entry,
    )
}

/// An enhanced code: the table's entry, or what its digits tell.
pub fn describe_enhanced(e: EnhancedCode) -> Description {
    enhanced_entry(e).map_or_else(
        || Description {
            known: false,
            meaning: Cow::Owned(format!(
                "{}: {}",
                class_meaning(e.class_digit()),
                subject_meaning(e.subject())
            )),
            action: Cow::Borrowed(class_action(e.class_digit())),
            source: Cow::Borrowed("RFC 3463 section 3 (digits only)"),
            origin: None,
        },
        from_entry,
    )
}

/// The best description of a reply as logged, with its basic and enhanced code: the enhanced
/// code's when the table knows it and it says more than its subject (`X.Y.0`), else the basic
/// code's when the table knows that, else whatever the digits tell.
pub fn describe_reply(code: Option<BasicCode>, enhanced: Option<EnhancedCode>) -> Description {
    let basic = code.map(|c| describe_basic(c.get()));
    let enh = enhanced.map(describe_enhanced);
    let specific = enhanced.is_some_and(|e| e.detail() != 0);
    match (basic, enh) {
        (Some(b), Some(e)) if e.known && (specific || !b.known) => e,
        (Some(b), Some(_)) if b.known => b,
        (_, Some(e)) => e,
        (Some(b), None) => b,
        (None, None) => Description {
            known: false,
            meaning: Cow::Borrowed("no code logged (a timeout, a local delivery, ...)"),
            action: Cow::Borrowed("The log line's own text says what happened: read it."),
            source: Cow::Borrowed(""),
            origin: None,
        },
    }
}

/// A one-line meaning for a basic code: the table's, else from its digits.
pub fn basic_meaning(code: BasicCode) -> Cow<'static, str> {
    describe_basic(code.get()).meaning
}

/// A one-line meaning for an enhanced code: the table's, else from its digits.
pub fn enhanced_meaning(code: EnhancedCode) -> Cow<'static, str> {
    describe_enhanced(code).meaning
}

/// Every entry of the table, basic codes first.
pub fn entries() -> impl Iterator<Item = &'static Entry> {
    data::BASIC.iter().chain(data::ENHANCED)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn e(s: &str) -> Option<EnhancedCode> {
        EnhancedCode::parse(s.as_bytes())
    }
    fn b(s: &str) -> Option<BasicCode> {
        BasicCode::parse(s.as_bytes())
    }

    /// One line, nothing a label or a terminal would choke on.
    fn check_text(code: &str, what: &str, text: &str, max: usize) {
        assert!(!text.trim().is_empty(), "{code}: empty {what}");
        assert_eq!(text.trim(), text, "{code}: {what} has surrounding blanks");
        assert!(
            text.chars().all(|c| c.is_ascii() && !c.is_ascii_control()),
            "{code}: {what} must be one line of printable ASCII: {text:?}"
        );
        assert!(!text.contains('"'), "{code}: no double quotes in {what}");
        assert!(
            text.len() <= max,
            "{code}: {what} longer than {max}: {text}"
        );
    }

    fn check_source(e: &Entry) {
        let ok = match e.origin {
            Origin::Standard => e.source.starts_with("RFC ") || e.source == "IANA registry",
            Origin::Vendor => e.source.starts_with("vendor: "),
            Origin::DeFacto => e.source.starts_with("de facto: "),
        };
        assert!(
            ok,
            "{}: source {:?} vs origin {:?}",
            e.code, e.source, e.origin
        );
    }

    #[test]
    fn every_basic_entry_has_a_valid_shape() {
        let mut last = 0;
        for e in data::BASIC {
            let n = parse_basic(e.code).unwrap_or_else(|| panic!("{}: not 3 digits 1-5", e.code));
            assert!(
                n > last,
                "{}: BASIC must be sorted, without repeats",
                e.code
            );
            last = n;
            assert_eq!(e.class, number_class(n), "{}: class", e.code);
            assert_eq!(e.subject, "", "{}: basic codes have no subject", e.code);
            check_text(e.code, "meaning", e.meaning, 160);
            check_text(e.code, "action", e.action, 400);
            check_source(e);
            // A valid reply code is exactly what `BasicCode` accepts; the others (101, 471)
            // must never be one.
            if e.origin == Origin::Standard {
                assert!(
                    BasicCode::new(n).is_some(),
                    "{}: standard but invalid",
                    e.code
                );
            }
        }
    }

    #[test]
    fn every_enhanced_entry_has_a_valid_shape() {
        let mut seen = HashSet::new();
        let mut ranges: Vec<Pattern> = Vec::new();
        let mut last = (0, 0);
        for e in data::ENHANCED {
            let p = parse_pattern(e.code)
                .unwrap_or_else(|| panic!("{}: not X.s.d, c.s.d or c.s.lo-hi", e.code));
            assert!(seen.insert(e.code), "{}: listed twice", e.code);
            assert!(
                (p.subject, p.lo) >= last,
                "{}: ENHANCED must be sorted by subject and detail",
                e.code
            );
            last = (p.subject, p.lo);
            if p.class == 0 {
                assert_eq!(e.class, "", "{}: an X entry has no class", e.code);
                assert_eq!(
                    e.origin,
                    Origin::Standard,
                    "{}: X entries are the registry's",
                    e.code
                );
            } else {
                assert_eq!(e.class, format!("{}xx", p.class), "{}: class", e.code);
                assert_ne!(
                    e.origin,
                    Origin::Standard,
                    "{}: a standard code is written X.s.d",
                    e.code
                );
            }
            assert_eq!(e.subject, subject_name(p.subject), "{}: subject", e.code);
            check_text(e.code, "meaning", e.meaning, 160);
            check_text(e.code, "action", e.action, 400);
            check_source(e);
            if p.lo != p.hi {
                for r in &ranges {
                    let overlap = r.class == p.class
                        && r.subject == p.subject
                        && r.lo <= p.hi
                        && p.lo <= r.hi;
                    assert!(!overlap, "{}: overlaps another range", e.code);
                }
                ranges.push(p);
            }
        }
    }

    #[test]
    fn every_entry_is_reachable_by_its_code() {
        for entry in data::BASIC {
            let n = parse_basic(entry.code).unwrap();
            assert!(
                std::ptr::eq(basic_entry(n).unwrap(), entry),
                "{}",
                entry.code
            );
        }
        for entry in data::ENHANCED {
            let p = parse_pattern(entry.code).unwrap();
            let class = if p.class == 0 { 5 } else { p.class };
            let code = EnhancedCode::new(class, p.subject, p.lo).unwrap();
            let got = if p.class == 0 {
                INDEX.get(&Key::Enhanced(0, p.subject, p.lo)).copied()
            } else {
                enhanced_entry(code)
            };
            assert!(std::ptr::eq(got.unwrap(), entry), "{}", entry.code);
        }
    }

    #[test]
    fn lookups() {
        let d = describe_enhanced(e("5.7.509").unwrap());
        assert!(d.known && d.meaning.contains("DMARC"));
        assert_eq!(d.origin, Some(Origin::Vendor));
        // A class-specific entry wins; other classes fall back to the registry's.
        assert!(describe_enhanced(e("5.1.10").unwrap())
            .source
            .contains("Microsoft"));
        assert_eq!(describe_enhanced(e("4.1.10").unwrap()).source, "RFC 7505");
        // A range, and a single code inside it.
        assert!(describe_enhanced(e("5.7.620").unwrap())
            .meaning
            .contains("banned"));
        assert!(describe_enhanced(e("4.7.650").unwrap())
            .meaning
            .contains("reputation"));
        assert!(describe_enhanced(e("4.7.600").unwrap())
            .meaning
            .contains("suspicious"));
        assert!(describe_basic(101).known && describe_basic(471).known);
        assert!(!describe_basic(599).known);
        assert!(!describe_enhanced(e("5.7.999").unwrap()).known);
    }

    #[test]
    fn replies_prefer_the_more_specific_code() {
        let d = describe_reply(b("550"), e("5.1.1"));
        assert_eq!(d.meaning, enhanced_meaning(e("5.1.1").unwrap()));
        // X.Y.0 says little: the basic code's meaning is better.
        let d = describe_reply(b("421"), e("4.4.0"));
        assert_eq!(d.meaning, basic_meaning(b("421").unwrap()));
        // Unknown enhanced detail, known basic code.
        let d = describe_reply(b("550"), e("5.1.77"));
        assert_eq!(d.meaning, basic_meaning(b("550").unwrap()));
        assert!(!describe_reply(None, None).known);
    }

    #[test]
    fn class_prefers_basic_code() {
        assert_eq!(class_label(b("550"), e("4.7.1")), "5xx");
        assert_eq!(class_label(None, e("4.4.1")), "4xx");
        assert_eq!(class_label(b("250"), None), "2xx");
        assert_eq!(class_label(None, None), "");
    }

    #[test]
    fn subjects_follow_rfc3463() {
        let want = [
            "other",
            "addressing",
            "mailbox",
            "mail_system",
            "network",
            "protocol",
            "content",
            "policy",
        ];
        for (i, w) in want.iter().enumerate() {
            assert_eq!(subject_label(e(&format!("5.{i}.0"))), *w);
        }
        assert_eq!(subject_label(None), "");
    }

    #[test]
    fn meanings_from_digits() {
        assert!(describe_basic(429).meaning.starts_with("transient"));
        assert!(describe_enhanced(e("5.7.299").unwrap())
            .meaning
            .contains("policy"));
        assert!(describe_basic(199).meaning.contains("not an SMTP reply"));
    }

    #[test]
    fn patterns() {
        assert!(parse_pattern("X.1.1").is_some());
        assert!(parse_pattern("5.7.606-649").is_some());
        for bad in [
            "X.1.1-2",
            "3.1.1",
            "5.8.1",
            "5.01.1",
            "5.1",
            "5.7.649-606",
            "5.7.1000",
        ] {
            assert!(parse_pattern(bad).is_none(), "{bad}");
        }
    }
}
