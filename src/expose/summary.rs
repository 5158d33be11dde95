//! The summaries both reports show, the `replay` table and the landing page: outbound replies
//! by provider and failures by stage. One computation, so both pages tell the same numbers.

use std::collections::BTreeMap;

use crate::aggregate::Aggregator;
use crate::codes;
use crate::parse::{BasicCode, Direction, EnhancedCode, Outcome, Stage};

/// A basic and an enhanced code, as one reply carries them.
pub type CodePair = (Option<BasicCode>, Option<EnhancedCode>);

/// One provider's outbound replies.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ProviderRow {
    /// The `provider` label; empty for local deliveries.
    pub name: String,
    pub delivered: u64,
    pub deferred: u64,
    pub bounced: u64,
    /// Its most frequent 4xx/5xx code pair.
    pub top_failure: Option<CodePair>,
}

impl ProviderRow {
    /// The share of its replies deferred, in percent; `None` without replies.
    pub fn deferred_percent(&self) -> Option<f64> {
        let all = self.delivered + self.deferred + self.bounced;
        (all > 0).then(|| 100.0 * self.deferred as f64 / all as f64)
    }
}

/// Outbound replies by provider, most deferrals and bounces first.
pub fn by_provider(agg: &Aggregator) -> Vec<ProviderRow> {
    let mut rows: BTreeMap<&str, (ProviderRow, BTreeMap<CodePair, u64>)> = BTreeMap::new();
    for (k, t) in &agg.replies {
        let v = t.n;
        if k.direction != Direction::Outbound {
            continue;
        }
        let (row, failed) = rows.entry(agg.provider_name(k.provider)).or_default();
        match k.outcome {
            Outcome::Delivered => row.delivered += v,
            Outcome::Deferred => row.deferred += v,
            Outcome::Bounced => row.bounced += v,
            _ => {}
        }
        if matches!(codes::class_label(k.code, k.enhanced), "4xx" | "5xx") {
            *failed.entry((k.code, k.enhanced)).or_default() += v;
        }
    }
    let mut out: Vec<ProviderRow> = rows
        .into_iter()
        .map(|(name, (mut row, failed))| {
            row.name = name.to_owned();
            row.top_failure = failed
                .into_iter()
                .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
                .map(|(pair, _)| pair);
            row
        })
        .collect();
    let failed = |r: &ProviderRow| r.deferred + r.bounced;
    out.sort_by(|a, b| failed(b).cmp(&failed(a)).then(a.name.cmp(&b.name)));
    out
}

/// `4.7.28 (421): meaning`, the most specific code first.
pub fn code_with_meaning((code, enh): CodePair) -> String {
    let meaning = codes::describe_reply(code, enh).meaning;
    match (code, enh) {
        (Some(c), Some(e)) => format!("{e} ({c}): {meaning}"),
        (Some(c), None) => format!("{c}: {meaning}"),
        (None, Some(e)) => format!("{e}: {meaning}"),
        (None, None) => String::new(),
    }
}

/// Failures (4xx and 5xx) by direction and stage, in that order.
pub fn by_stage(agg: &Aggregator) -> Vec<(Direction, Stage, u64)> {
    let mut by: BTreeMap<(Direction, Stage), u64> = BTreeMap::new();
    for (k, v) in &agg.failures {
        *by.entry((k.direction, k.stage)).or_default() += v.n;
    }
    by.into_iter().map(|((d, s), n)| (d, s, n)).collect()
}

/// A stage as a person reads it: the label, or that the log did not say.
pub fn stage_name(s: Stage) -> &'static str {
    match s {
        Stage::Unknown => "(not logged)",
        s => s.as_str(),
    }
}
