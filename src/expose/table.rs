//! `replay --format table` (the default): the report a postmaster reads instead of
//! pflogsumm's — totals by outcome, the top deferral, bounce and rejection codes with what they
//! mean, the domains with the most deferrals and bounces, and the lines not recognised.
//!
//! Plain aligned columns, no colour (the output is as readable in a pager or a mail as on a
//! terminal).

use std::collections::BTreeMap;
use std::fmt::Write;

use super::summary;
use crate::aggregate::{Aggregator, LineResult};
use crate::codes;
use crate::parse::{Direction, Outcome};

/// How many codes each "top codes" section lists.
const TOP_CODES: usize = 10;
/// How many domains the domain section lists.
const TOP_DOMAINS: usize = 20;

use summary::CodePair;

/// The whole report, section by section.
pub fn encode(agg: &Aggregator) -> String {
    let mut out = String::new();
    totals(&mut out, agg);
    let tally = Tally::of(agg);
    outcome_section(&mut out, &tally.by_outcome);
    for (title, counts) in [
        ("Top deferral codes (outbound, deferred)", tally.deferred),
        ("Top bounce codes (outbound, bounced)", tally.bounced),
        ("Top rejection codes (inbound, rejected)", tally.rejected),
    ] {
        code_section(&mut out, title, counts);
    }
    domain_section(&mut out, tally.by_domain);
    provider_section(&mut out, agg);
    reason_section(&mut out, agg);
    stage_section(&mut out, agg);
    unrecognised_section(&mut out, agg);
    let _ = writeln!(
        out,
        "\nWhat to do about a code: smtp-status-exporter explain CODE (e.g. explain 4.7.28)"
    );
    out
}

/// The two header lines: lines read by result, replies and expired messages.
fn totals(out: &mut String, agg: &Aggregator) {
    let [counted, ignored, unrecognised] = agg.total_lines();
    let total = counted + ignored + unrecognised;
    let _ = writeln!(
        out,
        "Lines read: {total} ({counted} counted, {ignored} ignored, {unrecognised} not recognised)"
    );
    let expired: u64 = agg.sources.iter().map(|s| s.expired).sum();
    let replies: u64 = agg.replies.values().map(|t| t.n).sum();
    let _ = writeln!(out, "Replies: {replies}    Expired messages: {expired}");
}

/// The replies summed the ways the report shows them.
struct Tally<'a> {
    by_outcome: BTreeMap<(Direction, Outcome), u64>,
    deferred: BTreeMap<CodePair, u64>,
    bounced: BTreeMap<CodePair, u64>,
    rejected: BTreeMap<CodePair, u64>,
    /// Per domain: `[deferred, bounced]`.
    by_domain: BTreeMap<&'a str, [u64; 2]>,
}

impl<'a> Tally<'a> {
    fn of(agg: &'a Aggregator) -> Tally<'a> {
        let mut t = Tally {
            by_outcome: BTreeMap::new(),
            deferred: BTreeMap::new(),
            bounced: BTreeMap::new(),
            rejected: BTreeMap::new(),
            by_domain: BTreeMap::new(),
        };
        for (k, tally) in &agg.replies {
            let v = tally.n;
            *t.by_outcome.entry((k.direction, k.outcome)).or_default() += v;
            let pair = (k.code, k.enhanced);
            match (k.direction, k.outcome) {
                (Direction::Outbound, Outcome::Deferred) => {
                    *t.deferred.entry(pair).or_default() += v;
                    t.by_domain.entry(agg.domains.name(k.domain)).or_default()[0] += v;
                }
                (Direction::Outbound, Outcome::Bounced) => {
                    *t.bounced.entry(pair).or_default() += v;
                    t.by_domain.entry(agg.domains.name(k.domain)).or_default()[1] += v;
                }
                (Direction::Inbound, Outcome::Rejected) => {
                    *t.rejected.entry(pair).or_default() += v
                }
                _ => {}
            }
        }
        t
    }
}

fn outcome_section(out: &mut String, by_outcome: &BTreeMap<(Direction, Outcome), u64>) {
    let rows = by_outcome
        .iter()
        .map(|((d, o), n)| vec![d.as_str().into(), o.as_str().into(), n.to_string()])
        .collect();
    section(
        out,
        "Replies by direction and outcome",
        &[("direction", Left), ("outcome", Left), ("replies", Right)],
        rows,
    );
}

/// The domains with the most deferrals and bounces together.
fn domain_section(out: &mut String, by_domain: BTreeMap<&str, [u64; 2]>) {
    let mut domains: Vec<_> = by_domain.into_iter().collect();
    domains.sort_by(|a, b| (b.1[0] + b.1[1]).cmp(&(a.1[0] + a.1[1])).then(a.0.cmp(b.0)));
    let rows = domains
        .iter()
        .take(TOP_DOMAINS)
        .map(|(d, [deferred, bounced])| {
            let name = if d.is_empty() { "(none)" } else { d };
            vec![name.to_owned(), deferred.to_string(), bounced.to_string()]
        })
        .collect();
    section(
        out,
        &format!("Top domains by deferrals and bounces (top {TOP_DOMAINS})"),
        &[("domain", Left), ("deferred", Right), ("bounced", Right)],
        rows,
    );
}

/// Who refused: outbound replies by the provider hosting the destination, with the share
/// deferred and the most frequent failure code and its meaning.
fn provider_section(out: &mut String, agg: &Aggregator) {
    let rows = summary::by_provider(agg)
        .into_iter()
        .map(|p| {
            let name = if p.name.is_empty() {
                "(local)"
            } else {
                &p.name
            };
            vec![
                name.to_owned(),
                p.delivered.to_string(),
                p.deferred.to_string(),
                p.bounced.to_string(),
                p.deferred_percent()
                    .map_or_else(|| "-".to_owned(), |x| format!("{x:.1} %")),
                p.top_failure
                    .map(summary::code_with_meaning)
                    .unwrap_or_default(),
            ]
        })
        .collect();
    section(
        out,
        "Outbound by provider",
        &[
            ("provider", Left),
            ("delivered", Right),
            ("deferred", Right),
            ("bounced", Right),
            ("deferred %", Right),
            ("top failure code", Left),
        ],
        rows,
    );
}

/// At which step of the SMTP dialogue failures came, where the log says it.
fn stage_section(out: &mut String, agg: &Aggregator) {
    let rows = summary::by_stage(agg)
        .into_iter()
        .map(|(d, st, n)| {
            vec![
                d.as_str().to_owned(),
                summary::stage_name(st).to_owned(),
                n.to_string(),
            ]
        })
        .collect();
    section(
        out,
        "Failures (4xx and 5xx) by stage of the SMTP dialogue",
        &[("direction", Left), ("stage", Left), ("replies", Right)],
        rows,
    );
}

/// Why mail failed: the reason classes of `smtp_failures_total`, most frequent first.
fn reason_section(out: &mut String, agg: &Aggregator) {
    let mut by_reason: BTreeMap<(&str, String), u64> = BTreeMap::new();
    for (k, v) in &agg.failures {
        *by_reason
            .entry((k.direction.as_str(), agg.reason_name(k.reason).to_owned()))
            .or_default() += v.n;
    }
    let mut reasons: Vec<_> = by_reason.into_iter().collect();
    reasons.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let rows = reasons
        .into_iter()
        .map(|((d, r), n)| vec![d.to_owned(), r, n.to_string()])
        .collect();
    section(
        out,
        "Failures (4xx and 5xx) by reason",
        &[("direction", Left), ("reason", Left), ("replies", Right)],
        rows,
    );
}

/// The sources with lines not recognised, beside the lines they read.
fn unrecognised_section(out: &mut String, agg: &Aggregator) {
    let rows = agg
        .sources
        .iter()
        .filter(|s| s.lines(LineResult::Unrecognised) > 0)
        .map(|s| {
            vec![
                s.name.clone(),
                s.lines(LineResult::Unrecognised).to_string(),
                s.line_counts().iter().sum::<u64>().to_string(),
            ]
        })
        .collect();
    section(
        out,
        "Lines not recognised",
        &[
            ("source", Left),
            ("not recognised", Right),
            ("lines read", Right),
        ],
        rows,
    );
}

/// The most frequent codes of one kind of failure, with the knowledge base's meaning.
fn code_section(out: &mut String, title: &str, counts: BTreeMap<CodePair, u64>) {
    let mut sorted: Vec<_> = counts.into_iter().collect();
    sorted.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let title = if sorted.len() > TOP_CODES {
        format!("{title}, top {TOP_CODES} of {}", sorted.len())
    } else {
        title.to_owned()
    };
    let rows = sorted
        .iter()
        .take(TOP_CODES)
        .map(|((code, enh), n)| {
            vec![
                n.to_string(),
                codes::class_label(*code, *enh).to_owned(),
                code.map_or_else(|| "-".into(), |c| c.to_string()),
                enh.map_or_else(|| "-".into(), |c| c.to_string()),
                codes::describe_reply(*code, *enh).meaning.into_owned(),
            ]
        })
        .collect();
    section(
        out,
        &title,
        &[
            ("replies", Right),
            ("class", Left),
            ("code", Left),
            ("enhanced", Left),
            ("meaning", Left),
        ],
        rows,
    );
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Align {
    Left,
    Right,
}
use Align::{Left, Right};

fn section(out: &mut String, title: &str, header: &[(&str, Align)], rows: Vec<Vec<String>>) {
    let _ = writeln!(out, "\n{title}");
    if rows.is_empty() {
        let _ = writeln!(out, "  (none)");
        return;
    }
    let mut widths: Vec<usize> = header.iter().map(|(h, _)| h.chars().count()).collect();
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |out: &mut String, cells: &mut dyn Iterator<Item = &str>| {
        let mut s = String::from(" ");
        for ((c, w), (_, align)) in cells.zip(&widths).zip(header) {
            let _ = match align {
                Left => write!(s, " {c:<w$}"),
                Right => write!(s, " {c:>w$}"),
            };
        }
        let _ = writeln!(out, "{}", s.trim_end());
    };
    line(out, &mut header.iter().map(|(h, _)| *h));
    for r in &rows {
        line(out, &mut r.iter().map(String::as_str));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::Bounds;
    use crate::aggregate::SourceId;
    use crate::parse::{EnhancedCode, Format};

    #[test]
    fn report_sections() {
        let mut agg = Aggregator::new(
            vec![("postfix".into(), "postfix".into())],
            &Bounds {
                domains_max: 10,
                ..Bounds::default()
            },
        );
        let lines = [
            "Nov 23 02:12:58 mx postfix/smtp[1]: 1A: to=<a@example.net>, relay=mx.example.net[192.0.2.1]:25, delay=1, delays=0/0/0/1, dsn=5.1.1, status=bounced (host mx.example.net[192.0.2.1] said: 550 5.1.1 no such user (in reply to RCPT TO command))",
            "Nov 23 02:12:58 mx postfix/smtp[1]: 1B: to=<b@gmail.com>, relay=gmail-smtp-in.l.google.com[192.0.2.2]:25, delay=1, delays=0/0/0/1, dsn=4.7.28, status=deferred (host gmail-smtp-in.l.google.com[192.0.2.2] said: 421 4.7.28 slow down (in reply to end of DATA command))",
            "this is not a postfix line at all",
        ];
        for l in lines {
            let parsed = Format::Postfix.parse(l.as_bytes());
            agg.record(SourceId(0), &parsed);
        }
        let text = encode(&agg);
        assert!(text.contains("Top deferral codes"), "{text}");
        let gmail = codes::enhanced_meaning(EnhancedCode::parse(b"4.7.28").unwrap());
        assert!(text.contains(gmail.as_ref()), "{text}");
        let nouser = codes::enhanced_meaning(EnhancedCode::parse(b"5.1.1").unwrap());
        assert!(text.contains(nouser.as_ref()), "{text}");
        assert!(text.contains("gmail.com"), "{text}");
        assert!(text.contains("Outbound by provider"), "{text}");
        // The provider row (from the relay, once the parser reads it, or from gmail.com).
        let google = text.lines().find(|l| l.trim_start().starts_with("google"));
        let google = google.unwrap_or_else(|| panic!("no google row: {text}"));
        assert!(
            google.contains("100.0 %") && google.contains("4.7.28 (421)"),
            "{google}"
        );
        assert!(text.contains("by stage of the SMTP dialogue"), "{text}");
        assert!(!text.contains('\x1b'), "no colour");
    }
}
