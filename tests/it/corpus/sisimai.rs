//! The bounce reader and the reason classes measured on Sisimai's corpus: the 629 real bounce
//! mails of Sisimai's `set-of-emails` with Sisimai's expected values per recipient
//! (`shared/corpora/sisimai/`, read in place). Sisimai is the reference bounce classifier, not
//! the truth: where it is wrong, the row is listed with why in `tests/sisimai/disagreements.tsv`
//! (and in docs/reasons.md), and the figures are given with and without those rows.
//!
//! Figures, each message read on its own:
//! - **read**: a basic or enhanced code found, over the mails that state one (a row whose
//!   status or reply code is in the mail), and over all mails;
//! - **enhanced**: our enhanced code equals Sisimai's where Sisimai's is a real RFC 3463 code
//!   found in the mail;
//! - **reason**: our reason class against Sisimai's, through `tests/sisimai/reasons.tsv`
//!   (strict: its one class; lenient: any class it lists), over the rows where we answer;
//! - **expired**: Sisimai's `expired` rows for which an expiry is counted, delay warnings left
//!   out (Sisimai calls them `expired`; here they are the deferral they report);
//! - **not bounces**: feedback reports and auto-replies that count no reply.
//!
//! Rows are matched by their order in the mail. The test fails when a figure falls under its
//! floor ([`FLOORS`]): the floors rise with each improvement. A reason floor is lowered only
//! when the reader answers rows it did not answer before (more rows scored), never for the same
//! rows; the commit says so.

// A test crate: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use smtp_status_exporter::codes::reasons::Reasons;
use smtp_status_exporter::parse::dsn::{self, DsnReply, Report};
use smtp_status_exporter::parse::Outcome;

use super::corpora;

/// The lowest value each figure may take (percent), as measured when it was last raised.
const FLOORS: &[(&str, f64)] = &[
    ("read (mails stating a code)", 97.8),
    ("read (all mails)", 80.4),
    ("enhanced", 94.6),
    ("reason strict", 76.1),
    ("reason lenient", 90.1),
    ("expired", 89.1),
    ("not bounces", 100.0),
];

/// Sisimai's reasons that are not reason classes here.
const NOT_SCORED: [&str; 4] = ["expired", "feedback", "vacation", "delivered"];

/// A share: how many of how many.
#[derive(Default, Clone, Copy)]
struct Share(u32, u32);

impl Share {
    fn add(&mut self, hit: bool) {
        self.0 += u32::from(hit);
        self.1 += 1;
    }
    fn percent(self) -> f64 {
        if self.1 == 0 {
            100.0
        } else {
            100.0 * f64::from(self.0) / f64::from(self.1)
        }
    }
}

/// `sisimai → (strict, lenient)`, from `tests/sisimai/reasons.tsv`.
fn mapping() -> BTreeMap<String, (String, BTreeSet<String>)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sisimai/reasons.tsv");
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            let lenient = cols[2].split(',').map(str::to_owned).collect();
            (cols[0].to_owned(), (cols[1].to_owned(), lenient))
        })
        .collect()
}

/// `(file, row)` of the rows where Sisimai is wrong, from `tests/sisimai/disagreements.tsv`.
fn disagreements() -> BTreeSet<(String, usize)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sisimai/disagreements.tsv");
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            assert!(
                cols.len() == 3 && !cols[2].trim().is_empty(),
                "{l:?}: file, row, why"
            );
            (cols[0].to_owned(), cols[1].parse().unwrap())
        })
        .collect()
}

#[derive(Default)]
struct Figures {
    read_stating: Share,
    read_all: Share,
    enhanced: Share,
    strict: Share,
    lenient: Share,
    strict_with_listed: Share,
    lenient_with_listed: Share,
    expired: Share,
    not_bounces: Share,
    /// Sisimai's `expired` rows that are delay warnings, deferrals here.
    delay_warnings: u32,
    crashes: u32,
    /// Rows scored as reasons that we miss, strictly: `file#row sisimai → ours`.
    misses: Vec<String>,
}

/// Our reason class of a failure, or `None` for a success, an expiry (counted as one, not as
/// a reply) or no code at all.
fn reason_of(reasons: &Reasons, r: &DsnReply) -> Option<String> {
    if r.expired {
        return None;
    }
    let class = r
        .code
        .map(|c| c.class_digit())
        .or(r.enhanced.map(|e| e.class_digit()))?;
    (class >= 4).then(|| {
        // As the aggregator counts it: the stage may turn the class.
        let id = reasons.at_stage(
            reasons.classify(r.code, r.enhanced, r.text.as_bytes()),
            r.stage,
        );
        reasons.name(id).to_owned()
    })
}

#[allow(clippy::too_many_arguments)]
fn score_row(
    f: &mut Figures,
    reasons: &Reasons,
    map: &BTreeMap<String, (String, BTreeSet<String>)>,
    listed: bool,
    name: &str,
    i: usize,
    row: &serde_json::Value,
    ours: Option<&DsnReply>,
) {
    let sisimai = row["reason"].as_str().unwrap_or_default();
    let status = row["status"].as_str().unwrap_or_default();
    if row["status_kind"] == "real" && row["status_in_mail"] == true {
        let mine = ours.and_then(|r| r.enhanced).map(|e| e.to_string());
        f.enhanced.add(mine.as_deref() == Some(status));
    }
    // Sisimai calls a delay warning `expired`; here it is the deferral it reports (the
    // message is still queued): such rows are counted apart.
    let delay_warning = ours.is_some_and(|r| r.outcome == Outcome::Deferred && !r.expired);
    if sisimai == "expired" && delay_warning {
        f.delay_warnings += 1;
    } else if sisimai == "expired" {
        let hit = ours.is_some_and(|r| r.expired);
        f.expired.add(hit);
        if !hit {
            let mine = ours.map_or("no reply".into(), |r| {
                format!(
                    "{} {}",
                    r.outcome.as_str(),
                    r.text.chars().take(100).collect::<String>()
                )
            });
            f.misses.push(format!("{name}#{i} expired → {mine}"));
        }
    }
    if NOT_SCORED.contains(&sisimai) {
        return;
    }
    let Some(mine) = ours.and_then(|r| reason_of(reasons, r)) else {
        return;
    };
    let Some((strict, lenient)) = map.get(sisimai) else {
        panic!("tests/sisimai/reasons.tsv has no line for Sisimai's {sisimai:?}");
    };
    let s = mine == *strict;
    let l = s || lenient.contains("*") || lenient.contains(&mine);
    f.strict_with_listed.add(s);
    f.lenient_with_listed.add(l);
    if !listed {
        f.strict.add(s);
        f.lenient.add(l);
    }
    if !s {
        let r = ours.expect("a reason was found");
        let text: String = r.text.chars().take(160).collect();
        let (c, e) = (
            r.code.map(|c| c.to_string()),
            r.enhanced.map(|e| e.to_string()),
        );
        f.misses.push(format!(
            "{name}#{i} {sisimai} → {mine} [{} {}] {text}",
            c.unwrap_or_default(),
            e.unwrap_or_default()
        ));
    }
}

fn score_mail(
    f: &mut Figures,
    reasons: &Reasons,
    map: &BTreeMap<String, (String, BTreeSet<String>)>,
    listed: &BTreeSet<(String, usize)>,
    name: &str,
    sample: &serde_json::Value,
    mail: &[u8],
) {
    let report = match std::panic::catch_unwind(|| dsn::parse(mail)) {
        Ok(r) => r,
        Err(_) => {
            f.crashes += 1;
            Report::Unreadable
        }
    };
    let replies: &[DsnReply] = match &report {
        Report::Replies(r) => r,
        _ => &[],
    };
    let empty = Vec::new();
    let rows = sample["rows"].as_array().unwrap_or(&empty);
    let coded = replies
        .iter()
        .any(|r| r.code.is_some() || r.enhanced.is_some());
    let states = rows
        .iter()
        .any(|r| r["status_in_mail"] == true || r["replycode_in_mail"] == true);
    if states {
        f.read_stating.add(coded);
    }
    f.read_all.add(coded);
    let not_bounce = rows
        .iter()
        .any(|r| matches!(r["reason"].as_str(), Some("feedback" | "vacation")));
    if not_bounce {
        f.not_bounces.add(replies.is_empty());
    }
    for (i, row) in rows.iter().enumerate() {
        let is_listed = listed.contains(&(name.to_owned(), i + 1));
        score_row(f, reasons, map, is_listed, name, i + 1, row, replies.get(i));
    }
}

#[test]
fn bounce_reading_and_reasons_against_sisimai() {
    let root = corpora().join("sisimai");
    let expected: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root.join("expected.json")).unwrap()).unwrap();
    let samples = expected["samples"].as_object().unwrap();
    assert_eq!(samples.len(), 629, "Sisimai's corpus has 629 mails");
    let (map, listed) = (mapping(), disagreements());
    let reasons = Reasons::new(&[]).unwrap();
    let mut f = Figures::default();
    for (name, sample) in samples {
        let mail = std::fs::read(root.join("mail/cur").join(name)).unwrap();
        score_mail(&mut f, &reasons, &map, &listed, name, sample, &mail);
    }
    let figures = [
        ("read (mails stating a code)", f.read_stating),
        ("read (all mails)", f.read_all),
        ("enhanced", f.enhanced),
        ("reason strict", f.strict),
        ("reason lenient", f.lenient),
        ("expired", f.expired),
        ("not bounces", f.not_bounces),
    ];
    let mut report = String::new();
    for (what, s) in figures.iter().chain(&[
        ("reason strict, listed rows counted", f.strict_with_listed),
        ("reason lenient, listed rows counted", f.lenient_with_listed),
    ]) {
        report += &format!("{what}: {:.1} % ({} of {})\n", s.percent(), s.0, s.1);
    }
    report += &format!(
        "expired rows that are delay warnings (deferrals here): {}\n",
        f.delay_warnings
    );
    eprintln!("{report}strict misses:\n  {}", f.misses.join("\n  "));
    assert_eq!(f.crashes, 0, "the bounce reader panicked");
    // The disagreement table is for rows where Sisimai is wrong, few: at most 5 % of the rows
    // scored, each also in the table of docs/reasons.md.
    let scored = f.strict_with_listed.1;
    assert!(
        listed.len() * 20 <= scored as usize,
        "{} rows listed as disagreements, more than 5 % of {scored}",
        listed.len()
    );
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/reasons.md");
    let docs = std::fs::read_to_string(docs).unwrap();
    for (file, row) in &listed {
        assert!(
            docs.contains(&format!("`{file}` #{row}")),
            "docs/reasons.md has no row for `{file}` #{row} of tests/sisimai/disagreements.tsv"
        );
    }
    for ((what, s), (floor_what, floor)) in figures.iter().zip(FLOORS) {
        assert_eq!(what, floor_what);
        assert!(
            s.percent() >= *floor,
            "{what} fell under {floor} %:\n{report}"
        );
    }
}
