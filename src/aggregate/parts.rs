//! Counting one file in parts, on several threads (`replay`): an empty aggregator per part,
//! merged back in file order.

use rustc_hash::FxHashMap;

use super::domain::DomainId;
use super::{Aggregator, Bounds, FailureKey, ReplyKey};

impl Aggregator {
    /// An aggregator with the same sources and nothing counted, for one part of a file counted
    /// on another thread and [`merge`](Self::merge)d back. It keeps up to `room` distinct
    /// domains (at least four times the configured bound): a part may see domains an earlier
    /// part already labelled, and the merge is exact only if the part folded none.
    pub fn empty_part(&self, room: usize) -> Aggregator {
        let bounds = Bounds {
            domains_max: room.max(self.bounds.domains_max.saturating_mul(4)),
            ..self.bounds.clone()
        };
        let mut a = Aggregator::new(
            self.sources
                .iter()
                .map(|s| (s.name.clone(), s.mta.clone()))
                .collect(),
            &bounds,
        );
        for (mine, theirs) in a.sources.iter_mut().zip(&self.sources) {
            mine.location.clone_from(&theirs.location);
        }
        a
    }

    /// Whether counting folded any domain into `other` for lack of room.
    pub fn folded_domains(&self) -> bool {
        self.label_overflow.get("domain").is_some_and(|n| *n > 0)
    }

    /// Adds the counts of `later`, which counted what comes after everything counted here (the
    /// next part of a file) and folded no domain ([`folded_domains`](Self::folded_domains) is
    /// false; else its domain names are partly lost and the part must be counted again in
    /// turn). Its domains are taken in the order it first saw them, so the bounded `domain`
    /// label ends up exactly as if one reader had read both parts in turn.
    pub fn merge(&mut self, later: Aggregator) {
        let mut folded = rustc_hash::FxHashSet::default();
        let mut ids = FxHashMap::default();
        for (id, name) in later.domains.names() {
            let found = self.domains.restore(name);
            ids.insert(id, found.id);
            if found.overflowed {
                folded.insert(id);
            }
        }
        for (k, v) in later.replies {
            if folded.contains(&k.domain) {
                self.count_overflow_by("domain", v.n);
            }
            let key = ReplyKey {
                domain: ids.get(&k.domain).copied().unwrap_or(DomainId::OTHER),
                ..k
            };
            self.replies.entry(key).or_default().merge(v);
        }
        for (k, v) in later.failures {
            // Its overflow was counted once, with the reply series above.
            let key = FailureKey {
                domain: ids.get(&k.domain).copied().unwrap_or(DomainId::OTHER),
                ..k
            };
            self.failures.entry(key).or_default().merge(v);
        }
        for (k, h) in later.delays {
            let mine = self.delays.entry(k).or_default();
            if mine.buckets.len() < h.buckets.len() {
                mine.buckets.resize(h.buckets.len(), 0);
            }
            for (a, b) in mine.buckets.iter_mut().zip(&h.buckets) {
                *a += b;
            }
            mine.sum += h.sum;
            mine.count += h.count;
        }
        for (mine, theirs) in self.sources.iter_mut().zip(later.sources) {
            mine.add_counts(&theirs);
            mine.bytes += theirs.bytes;
            mine.expired += theirs.expired;
            mine.read_errors += theirs.read_errors;
            mine.rotated_missed += theirs.rotated_missed;
        }
        self.history.merge(&later.history);
        for (label, n) in later.label_overflow {
            self.count_overflow_by(&label, n);
        }
    }
}
