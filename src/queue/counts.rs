//! What a read of a queue counts: messages, the oldest age, and histograms of ages and sizes
//! per queue.

use super::{postfix, AGE_BUCKETS, SIZE_BUCKETS};

/// A histogram with fixed buckets (non-cumulative counts; the last slot is `+Inf`).
#[derive(Debug, Clone, PartialEq)]
pub struct Buckets {
    pub bounds: &'static [f64],
    pub counts: Vec<u64>,
    pub sum: f64,
    pub count: u64,
}

impl Buckets {
    fn new(bounds: &'static [f64]) -> Self {
        Buckets {
            bounds,
            counts: vec![0; bounds.len() + 1],
            sum: 0.0,
            count: 0,
        }
    }

    fn observe(&mut self, v: f64) {
        let i = self
            .bounds
            .iter()
            .position(|b| v <= *b)
            .unwrap_or(self.bounds.len());
        if let Some(c) = self.counts.get_mut(i) {
            *c += 1;
        }
        self.sum += v;
        self.count += 1;
    }

    /// `(upper bound, cumulative count)` of the finite buckets.
    pub fn cumulative(&self) -> impl Iterator<Item = (f64, u64)> + '_ {
        let mut acc = 0;
        self.bounds.iter().zip(&self.counts).map(move |(b, c)| {
            acc += c;
            (*b, acc)
        })
    }
}

/// What one queue held at the time of a read.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueCount {
    pub queue: &'static str,
    pub messages: u64,
    /// Age of the oldest message in seconds; 0 for an empty queue.
    pub oldest_age: f64,
    pub ages: Buckets,
    pub sizes: Buckets,
}

/// The result of one successful read.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    pub queues: Vec<QueueCount>,
}

impl Reading {
    pub(super) fn empty(names: &'static [&'static str]) -> Reading {
        Reading {
            queues: names
                .iter()
                .map(|q| QueueCount {
                    queue: q,
                    messages: 0,
                    oldest_age: 0.0,
                    ages: Buckets::new(&AGE_BUCKETS),
                    sizes: Buckets::new(&SIZE_BUCKETS),
                })
                .collect(),
        }
    }

    pub(super) fn add(&mut self, m: postfix::Message, now: i64) {
        let Some(q) = self.queues.get_mut(m.queue) else {
            return;
        };
        q.messages += 1;
        if let Some(t) = m.arrival {
            // A clock step may put an arrival in the future: age 0, never negative.
            let age = (now - t).max(0) as f64;
            q.oldest_age = q.oldest_age.max(age);
            q.ages.observe(age);
        }
        if let Some(s) = m.size {
            q.sizes.observe(s as f64);
        }
    }

    /// Messages in all queues.
    pub fn total(&self) -> u64 {
        self.queues.iter().map(|q| q.messages).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readings_count_ages_and_sizes() {
        let mut r = Reading::empty(postfix::QUEUES);
        for (q, t, s) in [(3, 1000, 500), (3, 400, 5000), (4, 990, 10)] {
            r.add(
                postfix::Message {
                    queue: q,
                    arrival: Some(t),
                    size: Some(s),
                },
                1000,
            );
        }
        let deferred = &r.queues[3];
        assert_eq!((deferred.queue, deferred.messages), ("deferred", 2));
        assert_eq!(deferred.oldest_age, 600.0);
        assert_eq!(deferred.ages.count, 2);
        assert_eq!(deferred.sizes.cumulative().nth(1), Some((4096.0, 1)));
        assert_eq!(r.queues[0].messages, 0);
        assert_eq!(r.total(), 3);
    }
}
