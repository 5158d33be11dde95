//! The latest failures, for `/failures`: a bounded ring in memory, not state (a restart
//! starts it empty).
//!
//! Two bounds keep it useful under a flood: the last `keep` failures whatever their series,
//! and a reserve of the last `per_series` of each series of `smtp_failures_total`, so a rare
//! series keeps a sample while a flood of another fills the ring. The reserve holds at most
//! `series_max` series; a new one beyond that takes the place of the series that failed
//! least recently. An entry kept by both is stored once. Entries are overwritten in place,
//! their buffers reused, so once the ring is full recording allocates nothing; texts are
//! capped, so its memory is bounded by `(keep + per_series × series_max)` entries.

use std::collections::VecDeque;

use rustc_hash::FxHashMap;

use super::clock::LogTime;
use super::mask::{mask_addresses, push_capped};
use super::FailureKey;
use crate::parse::{BasicCode, EnhancedCode, Outcome};

/// The most a series keeps in the reserve.
pub const PER_SERIES_MAX: usize = 8;

/// The bounds of the ring (`failures:` in the configuration).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecentConfig {
    /// The last failures kept whatever their series; 0 turns `/failures` off.
    pub keep: usize,
    /// The last failures of each series kept besides (at most [`PER_SERIES_MAX`]).
    pub per_series: usize,
    /// The most series with a reserve.
    pub series_max: usize,
    /// Show whole addresses rather than `j…@example.com`.
    pub whole_addresses: bool,
    /// The most bytes of a reply text kept.
    pub text_max: usize,
}

impl Default for RecentConfig {
    fn default() -> Self {
        RecentConfig {
            keep: 1000,
            per_series: 3,
            series_max: 1000,
            whole_addresses: false,
            text_max: 400,
        }
    }
}

/// The most bytes of a recipient address kept (RFC 5321 allows 256 in a path).
const RECIPIENT_MAX: usize = 256;
/// The most bytes of a queue id kept.
const QUEUE_ID_MAX: usize = 64;

/// One failure as `/failures` shows it.
#[derive(Debug, Clone)]
pub struct Failure {
    /// Order of recording: larger is newer.
    pub seq: u64,
    pub key: FailureKey,
    pub outcome: Outcome,
    pub code: Option<BasicCode>,
    pub enhanced: Option<EnhancedCode>,
    pub time: LogTime,
    /// As logged; empty where none.
    pub queue_id: String,
    /// Masked unless configured otherwise; empty where the line names none.
    pub recipient: String,
    /// The reply as logged, capped, addresses masked likewise.
    pub text: String,
    /// How many of the ring and the reserve hold it; free at 0.
    refs: u8,
}

/// A failure being recorded, borrowed from the line.
#[derive(Debug, Clone, Copy)]
pub struct NewFailure<'a> {
    pub key: FailureKey,
    pub outcome: Outcome,
    pub code: Option<BasicCode>,
    pub enhanced: Option<EnhancedCode>,
    pub time: LogTime,
    pub queue_id: &'a [u8],
    pub recipient: &'a [u8],
    pub text: &'a [u8],
}

/// The reserve of one series: its latest entries, oldest first.
#[derive(Debug, Clone, Copy, Default)]
struct Reserve {
    slots: [u32; PER_SERIES_MAX],
    len: u8,
    /// `seq` of its latest failure.
    touched: u64,
}

/// The ring.
#[derive(Debug, Clone)]
pub struct Recent {
    config: RecentConfig,
    slots: Vec<Failure>,
    free: Vec<u32>,
    ring: VecDeque<u32>,
    reserve: FxHashMap<FailureKey, Reserve>,
    seq: u64,
}

impl Recent {
    pub fn new(mut config: RecentConfig) -> Self {
        config.per_series = config.per_series.min(PER_SERIES_MAX);
        if config.keep == 0 {
            config.per_series = 0;
        }
        Recent {
            config,
            slots: Vec::new(),
            free: Vec::new(),
            ring: VecDeque::new(),
            reserve: FxHashMap::default(),
            seq: 0,
        }
    }

    /// Whether failures are kept at all.
    pub fn enabled(&self) -> bool {
        self.config.keep > 0
    }

    pub fn config(&self) -> &RecentConfig {
        &self.config
    }

    /// Keeps `f`, making room first.
    pub fn record(&mut self, f: &NewFailure<'_>) {
        if !self.enabled() {
            return;
        }
        if self.ring.len() >= self.config.keep {
            if let Some(old) = self.ring.pop_front() {
                self.release(old);
            }
        }
        let reserved = self.config.per_series > 0 && self.make_reserve_room(f.key);
        let slot = self.take_slot(f);
        self.seq += 1;
        self.fill(slot, f);
        self.ring.push_back(slot);
        if reserved {
            let r = self.reserve.entry(f.key).or_default();
            if let Some(s) = r.slots.get_mut(usize::from(r.len)) {
                *s = slot;
                r.len += 1;
            }
            r.touched = self.seq;
            self.hold(slot);
        }
    }

    /// Frees the series' oldest reserved entry if its reserve is full, or a series' reserve
    /// if `key` has none and the reserve is full. `false` when `key` gets no reserve.
    fn make_reserve_room(&mut self, key: FailureKey) -> bool {
        let per = self.config.per_series;
        if let Some(r) = self.reserve.get_mut(&key) {
            if usize::from(r.len) >= per {
                let oldest = r.slots[0];
                r.slots.copy_within(1..usize::from(r.len), 0);
                r.len -= 1;
                self.release(oldest);
            }
            return true;
        }
        if self.reserve.len() >= self.config.series_max {
            // The series that failed least recently gives up its place.
            let lru = self.reserve.iter().min_by_key(|(_, r)| r.touched);
            let Some(lru) = lru.map(|(k, _)| *k) else {
                return false;
            };
            if let Some(r) = self.reserve.remove(&lru) {
                for s in r.slots.into_iter().take(usize::from(r.len)) {
                    self.release(s);
                }
            }
        }
        true
    }

    fn take_slot(&mut self, f: &NewFailure<'_>) -> u32 {
        if let Some(s) = self.free.pop() {
            return s;
        }
        self.slots.push(Failure {
            seq: 0,
            key: f.key,
            outcome: f.outcome,
            code: None,
            enhanced: None,
            time: f.time,
            queue_id: String::new(),
            recipient: String::new(),
            text: String::new(),
            refs: 0,
        });
        (self.slots.len() - 1) as u32
    }

    fn hold(&mut self, slot: u32) {
        if let Some(f) = self.slots.get_mut(slot as usize) {
            f.refs += 1;
        }
    }

    fn release(&mut self, slot: u32) {
        if let Some(f) = self.slots.get_mut(slot as usize) {
            f.refs = f.refs.saturating_sub(1);
            if f.refs == 0 {
                self.free.push(slot);
            }
        }
    }

    /// Writes `f` into `slot`, reusing its buffers.
    fn fill(&mut self, slot: u32, f: &NewFailure<'_>) {
        let (seq, whole, text_max) = (self.seq, self.config.whole_addresses, self.config.text_max);
        let Some(e) = self.slots.get_mut(slot as usize) else {
            return;
        };
        e.seq = seq;
        e.key = f.key;
        e.outcome = f.outcome;
        e.code = f.code;
        e.enhanced = f.enhanced;
        e.time = f.time;
        e.refs = 1;
        e.queue_id.clear();
        push_capped(&mut e.queue_id, f.queue_id, QUEUE_ID_MAX);
        e.recipient.clear();
        push_capped(&mut e.recipient, trim_angles(f.recipient), RECIPIENT_MAX);
        e.text.clear();
        push_capped(&mut e.text, f.text, text_max);
        if !whole {
            mask_addresses(&mut e.recipient, 0);
            mask_addresses(&mut e.text, 0);
        }
    }

    /// Every failure kept, newest first.
    pub fn newest_first(&self) -> Vec<&Failure> {
        let mut all: Vec<&Failure> = self.slots.iter().filter(|f| f.refs > 0).collect();
        all.sort_unstable_by_key(|f| std::cmp::Reverse(f.seq));
        all
    }

    /// How many entries are held (ring and reserve, each once).
    pub fn len(&self) -> usize {
        self.slots.len() - self.free.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many series have a reserve.
    pub fn reserved_series(&self) -> usize {
        self.reserve.len()
    }
}

fn trim_angles(addr: &[u8]) -> &[u8] {
    let a = addr.trim_ascii();
    let a = a.strip_prefix(b"<").unwrap_or(a);
    a.strip_suffix(b">").unwrap_or(a)
}

#[cfg(test)]
#[path = "recent_tests.rs"]
mod tests;
