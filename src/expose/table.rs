//! `replay --format table` (the default): a report for a person, in the spirit of pflogsumm,
//! with what each code means.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::aggregate::Aggregator;
use crate::codes;
use crate::parse::{BasicCode, Direction, EnhancedCode, Outcome};

/// How many domains the "failures by domain" section lists.
const TOP_DOMAINS: usize = 20;

pub fn encode(agg: &Aggregator) -> String {
    let mut out = String::new();
    let [counted, ignored, unrecognised] = agg.total_lines();
    let total = counted + ignored + unrecognised;
    let _ = writeln!(
        out,
        "Lines read: {total} ({counted} counted, {ignored} ignored, {unrecognised} unrecognised)"
    );
    let expired: u64 = agg.sources.iter().map(|s| s.expired).sum();
    let replies: u64 = agg.replies.values().sum();
    let _ = writeln!(out, "Replies: {replies}    Expired messages: {expired}");

    let mut by_outcome: BTreeMap<(Direction, Outcome), u64> = BTreeMap::new();
    let mut by_code: BTreeMap<(Option<BasicCode>, Option<EnhancedCode>), u64> = BTreeMap::new();
    let mut by_domain: BTreeMap<String, [u64; 2]> = BTreeMap::new();
    for (k, v) in &agg.replies {
        *by_outcome.entry((k.direction, k.outcome)).or_default() += v;
        *by_code.entry((k.code, k.enhanced)).or_default() += v;
        let class = codes::class_label(k.code, k.enhanced);
        let slot = match class {
            "4xx" => Some(0),
            "5xx" => Some(1),
            _ => None,
        };
        if let Some(i) = slot {
            by_domain
                .entry(agg.domains.name(k.domain).to_owned())
                .or_default()[i] += v;
        }
    }

    let rows: Vec<Vec<String>> = by_outcome
        .iter()
        .map(|((d, o), n)| vec![d.as_str().into(), o.as_str().into(), n.to_string()])
        .collect();
    section(
        &mut out,
        "Replies by direction and outcome",
        &["direction", "outcome", "replies"],
        rows,
    );

    let mut codes_sorted: Vec<_> = by_code.into_iter().collect();
    codes_sorted.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let rows = codes_sorted
        .iter()
        .map(|((code, enh), n)| {
            let meaning = match (enh, code) {
                (Some(e), _) => codes::enhanced_meaning(*e),
                (None, Some(c)) => codes::basic_meaning(*c),
                (None, None) => "no code logged (timeout, local delivery, ...)".to_owned(),
            };
            vec![
                codes::class_label(*code, *enh).to_owned(),
                code.map(|c| c.to_string()).unwrap_or_else(|| "-".into()),
                enh.map(|c| c.to_string()).unwrap_or_else(|| "-".into()),
                n.to_string(),
                meaning,
            ]
        })
        .collect();
    section(
        &mut out,
        "Replies by code",
        &["class", "code", "enhanced", "replies", "meaning"],
        rows,
    );

    let mut domains: Vec<_> = by_domain.into_iter().collect();
    domains.sort_by(|a, b| {
        (b.1[0] + b.1[1])
            .cmp(&(a.1[0] + a.1[1]))
            .then(a.0.cmp(&b.0))
    });
    let rows = domains
        .iter()
        .take(TOP_DOMAINS)
        .map(|(d, [t, p])| {
            let name = if d.is_empty() { "(none)" } else { d };
            vec![name.to_owned(), t.to_string(), p.to_string()]
        })
        .collect();
    section(
        &mut out,
        "Failures by recipient domain (top 20)",
        &["domain", "4xx", "5xx"],
        rows,
    );
    out
}

fn section(out: &mut String, title: &str, header: &[&str], rows: Vec<Vec<String>>) {
    let _ = writeln!(out, "\n{title}");
    if rows.is_empty() {
        let _ = writeln!(out, "  (none)");
        return;
    }
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |out: &mut String, cells: &mut dyn Iterator<Item = &str>| {
        let mut s = String::from(" ");
        for (c, w) in cells.zip(&widths) {
            let _ = write!(s, " {c:<w$}");
        }
        let _ = writeln!(out, "{}", s.trim_end());
    };
    line(out, &mut header.iter().copied());
    for r in &rows {
        line(out, &mut r.iter().map(String::as_str));
    }
}
