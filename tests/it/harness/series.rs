//! Counts as the golden files write them: `COUNT {label="value",…}` per series of
//! `smtp_replies_total` (labels sorted by name) and `expired N` (tests/it/golden.rs,
//! tests/it/formats.rs, tests/it/corpus/).

// Test code: a malformed expected file is a failed test.
#![allow(clippy::expect_used)]

use std::collections::BTreeMap;

use smtp_status_exporter::aggregate::Aggregator;

/// Every series of `smtp_replies_total`, without the labels in `leave_out`, and `expired`.
pub fn render(agg: &Aggregator, leave_out: &[&str]) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for (k, v) in agg.sorted_replies() {
        let mut labels: Vec<_> = agg
            .reply_labels(&k)
            .into_iter()
            .filter(|(l, _)| !leave_out.contains(l))
            .collect();
        labels.sort();
        let body: Vec<String> = labels.iter().map(|(l, v)| format!("{l}=\"{v}\"")).collect();
        *out.entry(format!("{{{}}}", body.join(","))).or_default() += v;
    }
    out.insert(
        "expired".into(),
        agg.sources.iter().map(|s| s.expired).sum(),
    );
    out
}

/// The `COUNT {labels}` and `expired N` lines of an expected file (`#` comments and empty lines
/// skipped).
pub fn parse_expected(text: &str) -> BTreeMap<String, u64> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (a, b) = l.split_once(' ').expect("COUNT LABELS or expired N");
            if a == "expired" {
                ("expired".to_owned(), b.trim().parse().expect("expired N"))
            } else {
                (b.trim().to_owned(), a.parse().expect("COUNT LABELS"))
            }
        })
        .collect()
}
