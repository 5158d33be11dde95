//! The recent past in buckets, for the charts: replies by class, and the outbound deferrals and
//! bounces, per minute over the last hour and per hour over the last day (the status page), or
//! per hour over the span of a log (`replay --format html`).
//!
//! Two fixed rings of counts, filled on the same path as the counters: each reply costs a
//! division and a few array increments, nothing allocated. Which clock keys the buckets
//! ([`By`]): the time the line was read while serving — so the chart shows what
//! `rate(smtp_replies_total[1m])` on `/metrics` shows, and a log writer's clock skew or a
//! year-less stamp cannot put counts outside the window — and the log line's own time for
//! `replay`, which reads old logs. Not state: a restart starts both rings empty (the counters
//! themselves continue from the state file).

use crate::parse::{BasicCode, Direction, EnhancedCode, Outcome};

/// The columns of a bucket.
pub const C2: usize = 0;
pub const C4: usize = 1;
pub const C5: usize = 2;
/// Replies with no code, or a 1xx/3xx one.
pub const OTHER: usize = 3;
/// Outbound replies, the base of the deferral and bounce rates.
pub const OUTBOUND: usize = 4;
pub const DEFERRED: usize = 5;
pub const BOUNCED: usize = 6;
pub const COLUMNS: usize = 7;

/// The counts of one bucket, by column.
pub type Counts = [u64; COLUMNS];

/// Which time decides a reply's bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum By {
    /// When the exporter read the line (serving).
    Read,
    /// The log line's own time, resolved as `/failures` shows it (replay).
    Log,
}

/// How much history to keep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryConfig {
    pub by: By,
    /// Minutes in the minute ring.
    pub minutes: usize,
    /// Hours in the hour ring.
    pub hours: usize,
}

impl Default for HistoryConfig {
    /// Serving: the last hour by minute and the last day by hour, by read time.
    fn default() -> Self {
        HistoryConfig {
            by: By::Read,
            minutes: 60,
            hours: 24,
        }
    }
}

impl HistoryConfig {
    /// `replay`: by log time, hours only, up to 31 days of the log's newest.
    pub fn replay() -> Self {
        HistoryConfig {
            by: By::Log,
            minutes: 0,
            hours: 31 * 24,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Slot {
    /// The bucket held: its start divided by the ring's width.
    at: i64,
    n: Counts,
}

/// A ring of `len` buckets of `width` seconds; a bucket's slot is reused by the bucket `len`
/// later, so the newer of two wins and counts older than the ring are dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ring {
    width: i64,
    slots: Vec<Slot>,
    /// The newest bucket counted; `None` before the first.
    newest: Option<i64>,
}

impl Ring {
    fn new(width: i64, len: usize) -> Self {
        Ring {
            width,
            slots: vec![Slot::default(); len],
            newest: None,
        }
    }

    /// The seconds a bucket spans.
    pub fn width(&self) -> i64 {
        self.width
    }

    fn add(&mut self, bucket: i64, cols: [usize; 3], n: u64) {
        let len = self.slots.len() as i64;
        if len == 0 {
            return;
        }
        let Some(slot) = self.slots.get_mut(bucket.rem_euclid(len) as usize) else {
            return;
        };
        if slot.at != bucket {
            if slot.at > bucket && slot.n != Counts::default() {
                return;
            }
            *slot = Slot {
                at: bucket,
                n: Counts::default(),
            };
        }
        for c in cols {
            if let Some(v) = slot.n.get_mut(c) {
                *v += n;
            }
        }
        self.newest = Some(self.newest.map_or(bucket, |b| b.max(bucket)));
    }

    /// The buckets ending with the one that holds `end` (seconds since the epoch), oldest
    /// first, as `(start in seconds since the epoch, counts)`: as many as the ring holds,
    /// zero where nothing was counted.
    pub fn window(&self, end: f64) -> Vec<(i64, Counts)> {
        let last = (end / self.width as f64).floor() as i64;
        let len = self.slots.len() as i64;
        (last - len + 1..=last)
            .map(|b| (b * self.width, self.counts(b)))
            .collect()
    }

    /// From the oldest bucket still held that has counts to the newest counted (replay: the
    /// span of the log, at most the ring's length); empty before any count.
    pub fn span(&self) -> Vec<(i64, Counts)> {
        let Some(newest) = self.newest else {
            return Vec::new();
        };
        let len = self.slots.len() as i64;
        let oldest = (self.slots.iter())
            .filter(|s| s.n != Counts::default() && s.at > newest - len)
            .map(|s| s.at)
            .min()
            .unwrap_or(newest);
        (oldest..=newest)
            .map(|b| (b * self.width, self.counts(b)))
            .collect()
    }

    fn counts(&self, bucket: i64) -> Counts {
        let len = self.slots.len() as i64;
        match self.slots.get(bucket.rem_euclid(len.max(1)) as usize) {
            Some(s) if s.at == bucket => s.n,
            _ => Counts::default(),
        }
    }

    fn merge(&mut self, other: &Ring) {
        for s in &other.slots {
            for (c, n) in s.n.iter().enumerate() {
                if *n > 0 {
                    self.add(s.at, [c, usize::MAX, usize::MAX], *n);
                }
            }
        }
    }
}

/// The two rings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct History {
    pub by: By,
    pub minutes: Ring,
    pub hours: Ring,
}

impl History {
    pub fn new(config: &HistoryConfig) -> Self {
        History {
            by: config.by,
            minutes: Ring::new(60, config.minutes),
            hours: Ring::new(3600, config.hours),
        }
    }

    /// Counts `n` replies at `unix` (seconds since the epoch).
    pub fn add(
        &mut self,
        unix: f64,
        code: Option<BasicCode>,
        enhanced: Option<EnhancedCode>,
        direction: Direction,
        outcome: Outcome,
        n: u64,
    ) {
        let class = match code
            .map(BasicCode::class_digit)
            .or(enhanced.map(EnhancedCode::class_digit))
        {
            Some(2) => C2,
            Some(4) => C4,
            Some(5) => C5,
            _ => OTHER,
        };
        let (out, fate) = match (direction, outcome) {
            (Direction::Outbound, Outcome::Deferred) => (OUTBOUND, DEFERRED),
            (Direction::Outbound, Outcome::Bounced) => (OUTBOUND, BOUNCED),
            (Direction::Outbound, _) => (OUTBOUND, usize::MAX),
            _ => (usize::MAX, usize::MAX),
        };
        let second = unix.floor() as i64;
        self.minutes
            .add(second.div_euclid(60), [class, out, fate], n);
        self.hours
            .add(second.div_euclid(3600), [class, out, fate], n);
    }

    /// Adds the counts of another part of the same log (replay counts a file in parts).
    pub fn merge(&mut self, other: &History) {
        self.minutes.merge(&other.minutes);
        self.hours.merge(&other.hours);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(n: u16) -> Option<BasicCode> {
        BasicCode::new(n)
    }

    const T: f64 = 1_765_000_800.0; // a whole hour

    #[test]
    fn buckets_by_minute_and_hour_drop_what_is_older_than_the_ring() {
        let mut h = History::new(&HistoryConfig::default());
        let (o, d) = (Direction::Outbound, Outcome::Delivered);
        h.add(T + 5.0, code(250), None, o, d, 2);
        h.add(T + 59.9, code(451), None, o, Outcome::Deferred, 1);
        h.add(T + 60.0, code(550), None, o, Outcome::Bounced, 3);
        h.add(
            T + 61.0,
            None,
            None,
            Direction::Inbound,
            Outcome::Rejected,
            1,
        );
        let w = h.minutes.window(T + 90.0);
        assert_eq!(w.len(), 60);
        assert_eq!(w[59].0, T as i64 + 60);
        assert_eq!(w[58].1, [2, 1, 0, 0, 3, 1, 0]);
        assert_eq!(w[59].1, [0, 0, 3, 1, 3, 0, 3]);
        assert_eq!(w[57].1, Counts::default());
        let hours = h.hours.window(T + 90.0);
        assert_eq!(hours.len(), 24);
        assert_eq!(hours[23].1, [2, 1, 3, 1, 6, 1, 3]);
        // An hour later the minute ring reuses the slot of T; a line of T itself then comes
        // too late and is dropped.
        h.add(T + 3600.0, code(250), None, o, d, 1);
        h.add(T + 1.0, code(250), None, o, d, 1);
        let w = h.minutes.window(T + 3600.0);
        assert_eq!(w[59].1[C2], 1);
        assert_eq!(w.iter().map(|(_, c)| c[C2]).sum::<u64>(), 1);
        // Beyond the window: nothing of the first hour shows a day later.
        let later = h.hours.window(T + 24.0 * 3600.0);
        assert_eq!(later.iter().map(|(_, c)| c[C2]).sum::<u64>(), 1);
    }

    #[test]
    fn replay_spans_the_log_and_parts_merge() {
        let cfg = HistoryConfig::replay();
        let (o, d) = (Direction::Outbound, Outcome::Delivered);
        let mut a = History::new(&cfg);
        assert!(a.hours.span().is_empty());
        a.add(T + 10.0, code(250), None, o, d, 1);
        let mut b = History::new(&cfg);
        b.add(T + 3.0 * 3600.0, code(421), None, o, Outcome::Deferred, 2);
        a.merge(&b);
        let span = a.hours.span();
        assert_eq!(span.len(), 4);
        assert_eq!(span[0], (T as i64, [1, 0, 0, 0, 1, 0, 0]));
        assert_eq!(span[3].1, [0, 2, 0, 0, 2, 2, 0]);
        assert_eq!(a.minutes.window(T).len(), 0);
    }
}
