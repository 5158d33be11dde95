//! What two Postfix peers expect of their own corpus files, against what this exporter makes
//! of the same lines, for the quantities both define. Every difference must be listed below with
//! its reason; a difference not listed fails, and so does a listed one that no longer occurs.
//!
//! - sergeymakinen/postfix_exporter ships its exporter's metrics after reading its `mail.log`
//!   (`golden/metrics-without-config.txt`): `postfix_statuses_total{status}` (one per `status=`
//!   line, i.e. per recipient, as ours) and `postfix_qmgr_statuses_total{status="expired"}`.
//! - whyscream/postfix-grok-patterns ships the fields its grok patterns take from each line
//!   (`golden/expected.jsonl`): `postfix_status` of a `status=` line, `postfix_status_code` and
//!   `postfix_status_code_enhanced` of a refusal, `postfix_proxy_status_code` of a proxy's
//!   verdict.

// A test crate: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};

use smtp_status_exporter::parse::{Event, Format, Parsed};

use super::corpora;

/// sergeymakinen's quantities that differ from ours: `(quantity, theirs, ours, why)`.
const SERGEYMAKINEN_DIFFERS: &[(&str, u64, u64, &str)] = &[(
    "deferred",
    2,
    0,
    "lines 50 and 51 name the recipient without `to=<…>`, which Postfix never writes \
     (global/log_adhoc.c): we count them unrecognised, it counts them as statuses",
)];

/// whyscream's fields that differ from ours: `(line, theirs, ours, why)`.
const WHYSCREAM_DIFFERS: &[(usize, &str, &str, &str)] = &[
    (
        33,
        "delivered",
        "unrecognised",
        "`to=user@…` without angle brackets: not what Postfix writes",
    ),
    (
        34,
        "bounced",
        "unrecognised",
        "`to=…@localhost` without angle brackets: not what Postfix writes",
    ),
    (
        152,
        "550 5.12.345",
        "550",
        "subject 12 is none of RFC 3463's subjects (0-7): no enhanced label",
    ),
];

/// Our outcome and codes for one line, as `outcome code enhanced` (`-` where none), or
/// `ignored` / `unrecognised` / `expired`.
fn ours(line: &[u8]) -> String {
    match Format::Postfix.parse(line) {
        Parsed::Event(Event::Reply(r)) => {
            let code = r.code.map_or("-".into(), |c| c.to_string());
            let enhanced = r.enhanced.map_or("-".into(), |c| c.to_string());
            format!("{} {code} {enhanced}", r.outcome.as_str())
        }
        Parsed::Event(Event::Expired | Event::ExpiredPerRecipient(_)) => "expired".into(),
        Parsed::Event(Event::Paired(_)) => "paired".into(),
        Parsed::Ignored => "ignored".into(),
        Parsed::Unrecognised => "unrecognised".into(),
    }
}

#[test]
fn sergeymakinen_statuses_match_ours_but_for_the_listed_differences() {
    let dir = corpora().join("peers/sergeymakinen-postfix_exporter");
    let metrics = std::fs::read_to_string(dir.join("golden/metrics-without-config.txt")).unwrap();
    let mut theirs: BTreeMap<&str, u64> = BTreeMap::new();
    for l in metrics.lines().filter(|l| !l.starts_with('#')) {
        let (series, value) = l.rsplit_once(' ').unwrap();
        let value: u64 = value.trim().parse().unwrap_or(0);
        for (prefix, quantity) in [
            ("postfix_statuses_total{status=\"sent\"", "delivered"),
            ("postfix_statuses_total{status=\"deferred\"", "deferred"),
            ("postfix_statuses_total{status=\"bounced\"", "bounced"),
            ("postfix_qmgr_statuses_total{status=\"expired\"", "expired"),
        ] {
            if series.starts_with(prefix) {
                *theirs.entry(quantity).or_default() += value;
            }
        }
    }
    let text = std::fs::read(dir.join("mail.log")).unwrap();
    let mut mine: BTreeMap<&str, u64> = BTreeMap::new();
    for line in text.split(|&b| b == b'\n') {
        let o = ours(line);
        for quantity in ["delivered", "deferred", "bounced", "expired"] {
            if o.split(' ').next() == Some(quantity) {
                *mine.entry(quantity).or_default() += 1;
            }
        }
    }
    let mut found = BTreeSet::new();
    for q in ["delivered", "deferred", "bounced", "expired"] {
        let (t, o) = (
            theirs.get(q).copied().unwrap_or(0),
            mine.get(q).copied().unwrap_or(0),
        );
        if t != o {
            found.insert((q, t, o));
        }
    }
    let listed: BTreeSet<_> = SERGEYMAKINEN_DIFFERS
        .iter()
        .map(|d| (d.0, d.1, d.2))
        .collect();
    assert_eq!(found, listed, "theirs {theirs:?}, ours {mine:?}");
}

/// whyscream's expectation for one line, in our terms, where it states one we can compare.
fn whyscream_expects(e: &serde_json::Value) -> Option<String> {
    let s = |k: &str| {
        e.get(k)
            .map(|v| v.as_str().map_or(v.to_string(), str::to_owned))
    };
    if let Some(status) = s("postfix_status") {
        return Some(match status.as_str() {
            "sent" => "delivered".into(),
            other => other.into(),
        });
    }
    let code = s("postfix_status_code").or_else(|| s("postfix_proxy_status_code"))?;
    let enhanced = s("postfix_status_code_enhanced")
        .or_else(|| s("postfix_proxy_status_code_enhanced"))
        .unwrap_or_default();
    Some(format!("{code} {enhanced}").trim_end().to_owned())
}

/// Ours in the terms of [`whyscream_expects`]: the outcome for a status, the codes for a
/// refusal.
fn ours_as_theirs(line: &[u8], theirs: &str) -> String {
    let o = ours(line);
    let mut words = o.split(' ');
    let outcome = words.next().unwrap_or_default();
    if theirs.starts_with(|c: char| c.is_ascii_digit()) {
        let codes: Vec<&str> = words.filter(|w| *w != "-").collect();
        return match outcome {
            "rejected" | "warned" => codes.join(" "),
            other => other.to_owned(),
        };
    }
    outcome.to_owned()
}

#[test]
fn whyscream_fields_match_ours_but_for_the_listed_differences() {
    let path = corpora().join("peers/whyscream-postfix-grok-patterns/golden/expected.jsonl");
    let text = std::fs::read_to_string(path).unwrap();
    let mut found = BTreeSet::new();
    let mut compared = 0;
    for (i, l) in text.lines().enumerate() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        let Some(theirs) = whyscream_expects(&v["expected"]) else {
            continue;
        };
        let line = v["line"].as_str().unwrap().as_bytes();
        let mine = ours_as_theirs(line, &theirs);
        compared += 1;
        // A proxy's acceptance (`250`) is no refusal: we do not count it, by the contract.
        if mine != theirs && !(theirs.starts_with('2') && mine == "ignored") {
            found.insert((i + 1, theirs, mine));
        }
    }
    assert!(compared >= 30, "only {compared} lines compared");
    let listed: BTreeSet<_> = WHYSCREAM_DIFFERS
        .iter()
        .map(|d| (d.0, d.1.to_owned(), d.2.to_owned()))
        .collect();
    assert_eq!(found, listed);
}
