//! gvengel/exim_exporter against us on the same lines: its own metrics after reading its test
//! `mainlog` and `rejectlog` (`peers/gvengel-exim_exporter/golden/tail.metrics`, as it ships
//! them) beside ours after replaying the same two files. Each quantity both define is compared;
//! every difference must be in [`DIFFERENCES`] with its reason, and every entry there must
//! still differ so. The same list is in docs/counting.md ("Compared with peers").

use std::collections::BTreeMap;

use smtp_status_exporter::aggregate::{Aggregator, SourceId};
use smtp_status_exporter::parse::{Format, Parser};
use smtp_status_exporter::source::replay::replay_file;

/// `(quantity, theirs, ours, why)` for each quantity on which the two differ.
const DIFFERENCES: &[(&str, u64, u64, &str)] = &[
    (
        "delivered",
        3,
        4,
        "per recipient here: the `->` line (a further recipient of the same delivery) is a \
         reply too; theirs counts `=>` lines only (`->` is their flag=\"additional\")",
    ),
    (
        "failed/bounced",
        7,
        5,
        "theirs counts every `**` line; the two `** …: retry timeout exceeded` lines are \
         expiries here (smtp_expired_total), never replies",
    ),
    (
        "rejected",
        4,
        0,
        "theirs counts the reject log's lines; here a refusal counts from the main log only (a \
         reject log repeats it), and this main log holds none. Two of their four are SMTP \
         protocol synchronization errors, which log no reply",
    ),
];

/// Their metrics: `name{labels}` → value.
fn theirs(text: &str) -> BTreeMap<String, u64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let (k, v) = l.rsplit_once(' ')?;
            Some((k.trim().to_owned(), v.trim().parse().ok()?))
        })
        .collect()
}

/// Ours, after replaying their two files as one source (`--log.format exim`).
fn ours(dir: &std::path::Path) -> Aggregator {
    let mut agg = super::aggregator(Format::Exim);
    for f in ["mainlog", "rejectlog"] {
        let path = dir.join(f);
        let parser = Parser::from(Format::Exim).for_path(&path);
        replay_file(&path, SourceId(0), &parser.into(), &mut agg).unwrap();
    }
    agg
}

/// Our replies by `(direction, outcome, code, enhanced)`.
fn our_replies(agg: &Aggregator) -> BTreeMap<[String; 4], u64> {
    let mut out = BTreeMap::new();
    for (k, v) in agg.sorted_replies() {
        let l: BTreeMap<_, _> = agg.reply_labels(&k).into_iter().collect();
        let key = ["direction", "outcome", "code", "enhanced"].map(|n| l[n].clone());
        *out.entry(key).or_default() += v;
    }
    out
}

/// `(quantity, theirs, ours)` for every quantity both define.
fn quantities(theirs: &BTreeMap<String, u64>, agg: &Aggregator) -> Vec<(String, u64, u64)> {
    let replies = our_replies(agg);
    let sum = |pred: &dyn Fn(&[String; 4]) -> bool| -> u64 {
        replies
            .iter()
            .filter(|(k, _)| pred(k))
            .map(|(_, v)| v)
            .sum()
    };
    let get = |name: &str| theirs.get(name).copied().unwrap_or(0);
    let mut out = vec![
        (
            "delivered".to_owned(),
            get(r#"exim_messages_total{flag="delivered"}"#),
            sum(&|k| k[0] == "outbound" && k[1] == "delivered"),
        ),
        (
            "deferred".to_owned(),
            get(r#"exim_messages_total{flag="deferred"}"#),
            sum(&|k| k[0] == "outbound" && k[1] == "deferred"),
        ),
        (
            "failed/bounced".to_owned(),
            get(r#"exim_messages_total{flag="failed"}"#),
            sum(&|k| k[0] == "outbound" && k[1] == "bounced"),
        ),
        (
            "rejected".to_owned(),
            get("exim_reject_total"),
            sum(&|k| k[0] == "inbound" && k[1] == "rejected"),
        ),
    ];
    // Their errors by code, against our failed deliveries (deferred or bounced) with a code.
    let mut codes: BTreeMap<(String, String), (u64, u64)> = BTreeMap::new();
    let re =
        regex::Regex::new(r#"^exim_message_errors_total\{enhanced="([^"]*)",status="([^"]*)"\}$"#)
            .unwrap();
    for (k, v) in theirs {
        if let Some(c) = re.captures(k) {
            codes
                .entry((c[2].to_owned(), c[1].to_owned()))
                .or_default()
                .0 += v;
        }
    }
    for (k, v) in &replies {
        if k[0] == "outbound" && matches!(k[1].as_str(), "deferred" | "bounced") && !k[2].is_empty()
        {
            codes.entry((k[2].clone(), k[3].clone())).or_default().1 += v;
        }
    }
    for ((code, enhanced), (t, o)) in codes {
        out.push((format!("errors {code} {enhanced}"), t, o));
    }
    out
}

#[test]
fn exim_exporter_differs_from_us_only_as_listed() {
    let dir = super::corpora().join("peers/gvengel-exim_exporter");
    let text = std::fs::read_to_string(dir.join("golden/tail.metrics")).unwrap();
    let theirs = theirs(&text);
    assert!(theirs.len() > 10, "their metrics: {}", theirs.len());
    let agg = ours(&dir);
    let mut failures = Vec::new();
    for (q, t, o) in quantities(&theirs, &agg) {
        let listed = DIFFERENCES.iter().find(|d| d.0 == q);
        match listed {
            Some(&(_, lt, lo, _)) if (lt, lo) == (t, o) && t != o => {}
            Some(&(_, lt, lo, _)) => failures.push(format!(
                "{q}: theirs {t}, ours {o}; listed as theirs {lt}, ours {lo}"
            )),
            None if t != o => failures.push(format!("{q}: theirs {t}, ours {o}; not listed")),
            None => {}
        }
    }
    for d in DIFFERENCES {
        if !quantities(&theirs, &agg).iter().any(|(q, _, _)| q == d.0) {
            failures.push(format!("{}: listed, but no longer a quantity", d.0));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
