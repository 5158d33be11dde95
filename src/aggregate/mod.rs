//! Counters: events in, bounded label sets and exact integer counts out.
//!
//! Plain synchronous code with no I/O, so the same aggregator serves `replay`, the live
//! exporter and the tests. Keys are small `Copy` structs of enums and ids; label strings are
//! only built at exposition time.

mod clock;
pub mod counters;
pub mod domain;
pub mod history;
pub mod mask;
pub mod metrics;
mod parts;
pub mod recent;
pub mod snapshot;
mod sources;
mod tally;

use std::collections::BTreeMap;
use std::sync::Arc;

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::codes::providers::{ProviderId, Providers, Verdict};
use crate::codes::reasons::{ReasonId, Reasons};
use crate::parse::{BasicCode, Direction, EnhancedCode, Event, Outcome, Parsed, Reply, Stage};
pub use clock::{LogClock, LogTime};
pub use counters::Counters;
use domain::{DomainId, DomainTable};
pub use history::{History, HistoryConfig};
pub use recent::{Failure, Recent, RecentConfig};
pub use sources::{Position, Reading, SourceState, SourceStats};
pub use tally::{Exemplar, FailureTally, QueueId, Tally};

/// A configured source (one `source` label), as the plan numbered it: the index of its
/// [`SourceStats`] in [`Aggregator::sources`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct SourceId(pub usize);

impl SourceId {
    pub fn index(self) -> usize {
        self.0
    }
}

impl Aggregator {
    /// The source `id`.
    pub fn source(&self, id: SourceId) -> Option<&SourceStats> {
        self.sources.get(id.0)
    }

    pub fn source_mut(&mut self, id: SourceId) -> Option<&mut SourceStats> {
        self.sources.get_mut(id.0)
    }

    /// Every source with its id.
    pub fn sources_by_id(&self) -> impl Iterator<Item = (SourceId, &SourceStats)> {
        self.sources
            .iter()
            .enumerate()
            .map(|(i, s)| (SourceId(i), s))
    }
}

/// One value of `smtp_status_exporter_lines_total{result}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineResult {
    Counted,
    Ignored,
    Unrecognised,
}

impl LineResult {
    pub const ALL: [LineResult; 3] = [
        LineResult::Counted,
        LineResult::Ignored,
        LineResult::Unrecognised,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            LineResult::Counted => "counted",
            LineResult::Ignored => "ignored",
            LineResult::Unrecognised => "unrecognised",
        }
    }
}

/// Rotation kinds of `smtp_status_exporter_file_rotations_total{kind}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RotationKind {
    Rename,
    Truncate,
}

/// The label set of one `smtp_replies_total` series, as ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReplyKey {
    pub source: SourceId,
    pub direction: Direction,
    pub outcome: Outcome,
    pub code: Option<BasicCode>,
    pub enhanced: Option<EnhancedCode>,
    pub domain: DomainId,
    pub provider: ProviderId,
}

/// The label set of one `smtp_failures_total` series, as ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FailureKey {
    pub source: SourceId,
    pub direction: Direction,
    /// The class digit: 4 or 5.
    pub class: u8,
    pub reason: ReasonId,
    pub stage: Stage,
    pub domain: DomainId,
    pub provider: ProviderId,
}

/// A cumulative histogram with fixed buckets ([`metrics::DELAY_BUCKETS`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Histogram {
    /// Non-cumulative counts per bucket; the last slot is `+Inf`.
    pub buckets: Vec<u64>,
    pub sum: f64,
    pub count: u64,
}

impl Histogram {
    fn observe(&mut self, v: f64) {
        if self.buckets.is_empty() {
            self.buckets = vec![0; metrics::DELAY_BUCKETS.len() + 1];
        }
        let i = metrics::DELAY_BUCKETS
            .iter()
            .position(|&b| v <= b)
            .unwrap_or(metrics::DELAY_BUCKETS.len());
        if let Some(slot) = self.buckets.get_mut(i) {
            *slot += 1;
        }
        self.sum += v;
        self.count += 1;
    }

    /// `(upper bound, cumulative count)` pairs, ending with `+Inf`.
    pub fn cumulative(&self) -> impl Iterator<Item = (f64, u64)> + '_ {
        let bounds = metrics::DELAY_BUCKETS
            .iter()
            .copied()
            .chain(std::iter::once(f64::INFINITY));
        let mut acc = 0;
        bounds.enumerate().map(move |(i, b)| {
            acc += self.buckets.get(i).copied().unwrap_or(0);
            (b, acc)
        })
    }
}

/// Settings of the bounded labels.
#[derive(Debug, Clone)]
pub struct Bounds {
    pub domains_max: usize,
    pub domains_keep: Vec<String>,
    pub domain_groups: Vec<(String, Vec<String>)>,
    /// The reason rules of `smtp_failures_total` (built-in, plus the user's).
    pub reasons: Arc<Reasons>,
    /// The provider table of the `provider` label (built-in, plus the user's).
    pub providers: Arc<Providers>,
    /// The zone of log stamps that give none (`time_zone:`).
    pub zone: jiff::tz::TimeZone,
    /// The bounds of `/failures` (`failures:`).
    pub recent: RecentConfig,
    /// What the charts keep.
    pub history: HistoryConfig,
}

impl Default for Bounds {
    /// No domain bound set, the built-in tables, stamps without a zone read as UTC.
    fn default() -> Self {
        Bounds {
            domains_max: 0,
            domains_keep: Vec::new(),
            domain_groups: Vec::new(),
            reasons: Arc::default(),
            providers: Arc::default(),
            zone: jiff::tz::TimeZone::UTC,
            recent: RecentConfig::default(),
            history: HistoryConfig::default(),
        }
    }
}

/// All counters of the exporter.
#[derive(Debug)]
pub struct Aggregator {
    pub sources: Vec<SourceStats>,
    pub replies: FxHashMap<ReplyKey, Tally>,
    /// `smtp_failures_total`: the 4xx/5xx replies by reason class.
    pub failures: FxHashMap<FailureKey, FailureTally>,
    /// The latest failures, for `/failures` (not state).
    pub recent: Recent,
    /// Replies by class per minute and per hour, for the charts (not state).
    pub history: History,
    /// Turns each line's stamp into a time.
    clock: LogClock,
    pub delays: FxHashMap<(SourceId, Outcome), Histogram>,
    pub domains: DomainTable,
    /// Recent reason classifications (not state: rebuilt as lines come).
    reason_memo: crate::codes::reasons::Memo,
    /// The provider of each domain label that is one domain's, by `DomainId`, once looked up
    /// (not state: rebuilt as lines come). Bounded as the domain label is.
    domain_providers: Vec<Option<Option<ProviderId>>>,
    /// `smtp_status_exporter_label_overflow_total`, by label name.
    pub label_overflow: BTreeMap<String, u64>,
    bounds: Bounds,
    /// How many snapshots were taken for the state file: a view of the counters read with
    /// [`Aggregator::marks`] is on disk once a snapshot with a later mark is (see
    /// `StateFile::save_covering`).
    marks: u64,
}

impl Aggregator {
    /// `sources`: each source's name (the `source` label) and its `mta` label.
    pub fn new(sources: Vec<(String, String)>, bounds: &Bounds) -> Self {
        Aggregator {
            sources: sources
                .into_iter()
                .map(|(name, mta)| SourceStats::new(name, mta))
                .collect(),
            replies: FxHashMap::default(),
            failures: FxHashMap::default(),
            recent: Recent::new(bounds.recent.clone()),
            history: History::new(&bounds.history),
            clock: LogClock::new(bounds.zone.clone()),
            delays: FxHashMap::default(),
            domains: DomainTable::new(
                bounds.domains_max,
                &bounds.domains_keep,
                &bounds.domain_groups,
            ),
            reason_memo: Default::default(),
            domain_providers: Vec::new(),
            label_overflow: BTreeMap::new(),
            bounds: bounds.clone(),
            marks: 0,
        }
    }

    /// Counts one parsed line of `source`, and returns which result it was.
    pub fn record(&mut self, source: SourceId, parsed: &Parsed<'_>) -> LineResult {
        let result = match parsed {
            Parsed::Event(Event::Reply(r)) => {
                self.record_reply(source, r);
                LineResult::Counted
            }
            Parsed::Event(Event::Expired) => {
                if let Some(s) = self.source_mut(source) {
                    s.expired += 1;
                }
                LineResult::Counted
            }
            Parsed::Event(Event::ExpiredPerRecipient(r)) => {
                if let Some(s) = self.source_mut(source) {
                    s.expired += r.count() as u64;
                }
                LineResult::Counted
            }
            Parsed::Event(Event::Paired(p)) => {
                for r in p.replies() {
                    self.record_reply(source, &r);
                }
                LineResult::Counted
            }
            Parsed::Ignored => LineResult::Ignored,
            Parsed::Unrecognised => LineResult::Unrecognised,
        };
        self.count_line(source, result);
        result
    }

    /// Counts one record that carries several replies, each with codes of its own (a
    /// delivery status notification: one block per recipient), as one counted line.
    pub fn record_replies<'a>(
        &mut self,
        source: SourceId,
        replies: impl IntoIterator<Item = Reply<'a>>,
    ) {
        for r in replies {
            self.record_reply(source, &r);
        }
        self.count_line(source, LineResult::Counted);
    }

    /// Counts `n` expiry records of `source` that are part of a record counted otherwise (the
    /// recipients an expiry notice names, the notice being one counted line).
    pub fn count_expired(&mut self, source: SourceId, n: u64) {
        if let Some(s) = self.source_mut(source) {
            s.expired += n;
        }
    }

    /// Counts a line without parsing it (one that overflowed the line buffer).
    pub fn count_line(&mut self, source: SourceId, result: LineResult) {
        if let Some(s) = self.source_mut(source) {
            s.count_line(result);
        }
    }

    /// The class digit and reason of a failure (4xx/5xx); `None` for any other reply.
    /// Classified once per line, not per recipient.
    fn failure_of(&mut self, r: &Reply<'_>) -> Option<(u8, ReasonId)> {
        let class = r
            .code
            .map(BasicCode::class_digit)
            .or(r.enhanced.map(EnhancedCode::class_digit))
            .filter(|c| matches!(c, 4 | 5))?;
        let reasons = &self.bounds.reasons;
        let reason = self
            .reason_memo
            .classify(reasons, r.code, r.enhanced, r.text);
        Some((class, reasons.at_stage(reason, r.stage)))
    }

    fn record_reply(&mut self, source: SourceId, r: &Reply<'_>) {
        let failure = self.failure_of(r);
        let time = self.clock.resolve(r.time, counters::Counters::now);
        // Inbound refusals answer a client: no destination, no provider.
        let verdict = match r.direction {
            Direction::Inbound => Verdict::Is(ProviderId::NONE),
            Direction::Outbound => self.bounds.providers.of_relay(r.relay),
        };
        let mut n = 0;
        for (address, raw) in r.recipients.each() {
            n += 1;
            let found = self.domains.lookup(raw);
            if found.overflowed {
                self.count_overflow("domain");
            }
            let provider = match verdict {
                Verdict::Is(p) => p,
                Verdict::ByDomain { otherwise } => {
                    self.domain_provider(found.id, raw).unwrap_or(otherwise)
                }
            };
            let key = ReplyKey {
                source,
                direction: r.direction,
                outcome: r.outcome,
                code: r.code,
                enhanced: r.enhanced,
                domain: found.id,
                provider,
            };
            self.replies.entry(key).or_default().add(1, time.unix);
            if let Some((class, reason)) = failure {
                let key = FailureKey {
                    source,
                    direction: r.direction,
                    class,
                    reason,
                    stage: r.stage,
                    domain: found.id,
                    provider,
                };
                self.failures
                    .entry(key)
                    .or_default()
                    .add(r.queue_id, time.unix);
                self.recent.record(&recent::NewFailure {
                    key,
                    outcome: r.outcome,
                    code: r.code,
                    enhanced: r.enhanced,
                    time,
                    queue_id: r.queue_id,
                    recipient: address,
                    text: r.text,
                });
            }
        }
        // Serving charts by read time: a line with a time of its own was not read "then".
        let at = match (self.history.by, time.read) {
            (history::By::Read, false) => counters::Counters::now(),
            _ => time.unix,
        };
        let h = &mut self.history;
        h.add(at, r.code, r.enhanced, r.direction, r.outcome, n);
        if let Some(d) = r.delay.filter(|d| d.is_finite() && *d >= 0.0) {
            self.delays
                .entry((source, r.outcome))
                .or_default()
                .observe(d);
        }
    }

    /// The provider of a recipient domain's well-known names, remembered per domain label
    /// where the label is one domain's.
    fn domain_provider(&mut self, id: DomainId, raw: &[u8]) -> Option<ProviderId> {
        if !self.domains.is_single(id) {
            return self.bounds.providers.of_domain(raw);
        }
        let i = id.index();
        if let Some(Some(known)) = self.domain_providers.get(i) {
            return *known;
        }
        let found = self.bounds.providers.of_domain(raw);
        if self.domain_providers.len() <= i {
            self.domain_providers.resize(i + 1, None);
        }
        if let Some(slot) = self.domain_providers.get_mut(i) {
            *slot = Some(found);
        }
        found
    }

    fn count_overflow(&mut self, label: &str) {
        self.count_overflow_by(label, 1);
    }

    fn count_overflow_by(&mut self, label: &str, n: u64) {
        // No allocation on the hot path once the label has a counter.
        match self.label_overflow.get_mut(label) {
            Some(c) => *c += n,
            None => {
                self.label_overflow.insert(label.to_owned(), n);
            }
        }
    }

    pub fn add_bytes(&mut self, source: SourceId, n: u64) {
        if let Some(s) = self.source_mut(source) {
            s.bytes += n;
        }
    }

    pub fn add_rotation(&mut self, source: SourceId, kind: RotationKind) {
        if let Some(s) = self.source_mut(source) {
            s.count_rotation(kind);
        }
    }

    pub fn add_read_error(&mut self, source: SourceId) {
        if let Some(s) = self.source_mut(source) {
            s.read_errors += 1;
        }
    }

    /// A rotated file that held lines not yet counted was gone at a restart.
    pub fn add_rotated_missed(&mut self, source: SourceId) {
        if let Some(s) = self.source_mut(source) {
            s.rotated_missed += 1;
        }
    }

    pub fn set_last_line(&mut self, source: SourceId, unix: f64) {
        if let Some(s) = self.source_mut(source) {
            s.last_line_unix = Some(unix);
        }
    }

    /// Reply series sorted by their label values, for stable output, with their counts.
    pub fn sorted_replies(&self) -> Vec<(ReplyKey, u64)> {
        let all = self.sorted_reply_tallies().into_iter();
        all.map(|(k, t)| (k, t.n)).collect()
    }

    /// Reply series sorted by their label values, with all they keep.
    pub fn sorted_reply_tallies(&self) -> Vec<(ReplyKey, Tally)> {
        let mut v: Vec<_> = self.replies.iter().map(|(k, v)| (*k, *v)).collect();
        v.sort_unstable_by(|a, b| {
            let (ka, kb) = (&a.0, &b.0);
            (ka.source, ka.direction, ka.outcome, ka.code, ka.enhanced)
                .cmp(&(kb.source, kb.direction, kb.outcome, kb.code, kb.enhanced))
                .then_with(|| {
                    self.domains
                        .name(ka.domain)
                        .cmp(self.domains.name(kb.domain))
                })
                .then_with(|| {
                    self.provider_name(ka.provider)
                        .cmp(self.provider_name(kb.provider))
                })
        });
        v
    }

    /// The label values of one reply series, in the order of [`metrics::REPLIES`].
    pub fn reply_labels(&self, k: &ReplyKey) -> [(&'static str, String); 10] {
        let s = self.source(k.source);
        [
            ("source", s.map(|s| s.name.clone()).unwrap_or_default()),
            (
                "mta",
                s.map(SourceStats::mta).unwrap_or_default().to_owned(),
            ),
            ("direction", k.direction.as_str().to_owned()),
            ("outcome", k.outcome.as_str().to_owned()),
            (
                "class",
                crate::codes::class_label(k.code, k.enhanced).to_owned(),
            ),
            ("code", k.code.map(|c| c.to_string()).unwrap_or_default()),
            (
                "enhanced",
                k.enhanced.map(|c| c.to_string()).unwrap_or_default(),
            ),
            (
                "subject",
                crate::codes::subject_label(k.enhanced).to_owned(),
            ),
            ("domain", self.domains.name(k.domain).to_owned()),
            ("provider", self.provider_name(k.provider).to_owned()),
        ]
    }

    /// The label value of a provider.
    pub fn provider_name(&self, id: ProviderId) -> &str {
        self.bounds.providers.name(id)
    }

    /// The zone log stamps without one are read in (`time_zone:`), which `/failures` shows
    /// times in.
    pub fn log_zone(&self) -> &jiff::tz::TimeZone {
        self.clock.zone()
    }

    /// The provider table.
    pub fn providers(&self) -> &Providers {
        &self.bounds.providers
    }

    /// Failure series sorted by their label values, for stable output, with their counts.
    pub fn sorted_failures(&self) -> Vec<(FailureKey, u64)> {
        let all = self.sorted_failure_tallies().into_iter();
        all.map(|(k, t)| (k, t.n)).collect()
    }

    /// Failure series sorted by their label values, with all they keep.
    pub fn sorted_failure_tallies(&self) -> Vec<(FailureKey, FailureTally)> {
        let mut v: Vec<_> = self.failures.iter().map(|(k, v)| (*k, *v)).collect();
        v.sort_unstable_by(|a, b| {
            let (ka, kb) = (&a.0, &b.0);
            (ka.source, ka.direction, ka.class)
                .cmp(&(kb.source, kb.direction, kb.class))
                .then_with(|| self.reason_name(ka.reason).cmp(self.reason_name(kb.reason)))
                .then_with(|| ka.stage.cmp(&kb.stage))
                .then_with(|| {
                    self.domains
                        .name(ka.domain)
                        .cmp(self.domains.name(kb.domain))
                })
                .then_with(|| {
                    self.provider_name(ka.provider)
                        .cmp(self.provider_name(kb.provider))
                })
        });
        v
    }

    /// The label value of a reason.
    pub fn reason_name(&self, id: ReasonId) -> &str {
        self.bounds.reasons.name(id)
    }

    /// The rule table counting failures.
    pub fn reasons(&self) -> &Reasons {
        &self.bounds.reasons
    }

    /// The label values of one failure series, in the order of [`metrics::FAILURES`].
    pub fn failure_labels(&self, k: &FailureKey) -> [(&'static str, String); 8] {
        let s = self.source(k.source);
        [
            ("source", s.map(|s| s.name.clone()).unwrap_or_default()),
            (
                "mta",
                s.map(SourceStats::mta).unwrap_or_default().to_owned(),
            ),
            ("direction", k.direction.as_str().to_owned()),
            ("class", format!("{}xx", k.class)),
            ("reason", self.reason_name(k.reason).to_owned()),
            ("stage", k.stage.as_str().to_owned()),
            ("domain", self.domains.name(k.domain).to_owned()),
            ("provider", self.provider_name(k.provider).to_owned()),
        ]
    }

    /// Every distinct code seen in any reply (for `smtp_code_info`).
    pub fn codes_seen(&self) -> (Vec<BasicCode>, Vec<EnhancedCode>) {
        let mut basic: Vec<_> = self.replies.keys().filter_map(|k| k.code).collect();
        let mut enhanced: Vec<_> = self.replies.keys().filter_map(|k| k.enhanced).collect();
        basic.sort_unstable();
        basic.dedup();
        enhanced.sort_unstable();
        enhanced.dedup();
        (basic, enhanced)
    }

    /// Lines read by all sources, by result.
    pub fn total_lines(&self) -> [u64; 3] {
        self.sources.iter().fold([0; 3], |mut acc, s| {
            for (a, n) in acc.iter_mut().zip(s.line_counts()) {
                *a += n;
            }
            acc
        })
    }
}

#[cfg(test)]
mod tests;
