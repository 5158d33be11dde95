//! What each series keeps beside its count: the log time of its latest reply (for the
//! destination-health gauges) and, for a failure series, its exemplar (the queue id of its
//! latest failure that had one).

use serde::{Deserialize, Serialize};

/// One `smtp_replies_total` series.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Tally {
    pub n: u64,
    /// Log time of the latest reply counted, in seconds since the epoch; 0 where unknown
    /// (counted by a version that kept none).
    pub last: f64,
}

impl Tally {
    /// Counts one more reply, at `at`. The latest time is kept even when lines come out of
    /// order (rotated files read after a restart, several sources).
    pub fn add(&mut self, n: u64, at: f64) {
        self.n += n;
        self.last = self.last.max(at);
    }

    /// Adds another count of the same series.
    pub fn merge(&mut self, other: Tally) {
        self.add(other.n, other.last);
    }
}

/// One `smtp_failures_total` series.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct FailureTally {
    pub n: u64,
    /// The latest failure that had a queue id; none while no failure of the series had one.
    pub exemplar: Option<Exemplar>,
}

/// The queue id of a failure and the log time of its line: an OpenMetrics exemplar
/// `{queue_id="…"} 1 <time>`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Exemplar {
    pub queue_id: QueueId,
    pub at: f64,
}

impl FailureTally {
    /// Counts one failure at `at`; `queue_id` (as logged, maybe empty) becomes the exemplar
    /// when it is a queue id at all and the failure is not older than the current exemplar.
    pub fn add(&mut self, queue_id: &[u8], at: f64) {
        self.n += 1;
        let newer = self.exemplar.is_none_or(|e| at >= e.at);
        if newer {
            if let Some(queue_id) = QueueId::new(queue_id) {
                self.exemplar = Some(Exemplar { queue_id, at });
            }
        }
    }
}

impl FailureTally {
    /// Adds another count of the same series; the newer exemplar stays.
    pub fn merge(&mut self, other: FailureTally) {
        self.n += other.n;
        if let Some(e) = other.exemplar {
            if self.exemplar.is_none_or(|mine| e.at >= mine.at) {
                self.exemplar = Some(e);
            }
        }
    }
}

/// The longest queue id kept (KumoMTA's are 32 characters; OpenMetrics allows 128 for all
/// of an exemplar's labels).
const QUEUE_ID_MAX: usize = 40;

/// A queue id as logged, checked: 1–40 printable ASCII characters without quotes, backslashes
/// or spaces. Kept inline, so recording one allocates nothing.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct QueueId {
    bytes: [u8; QUEUE_ID_MAX],
    len: u8,
}

impl QueueId {
    /// `None` for an empty id, one too long, or one with characters no MTA puts in its ids
    /// (then no exemplar rather than a garbled one).
    pub fn new(raw: &[u8]) -> Option<Self> {
        let ok = !raw.is_empty()
            && raw.len() <= QUEUE_ID_MAX
            && raw
                .iter()
                .all(|c| c.is_ascii_graphic() && !matches!(c, b'"' | b'\\'));
        if !ok {
            return None;
        }
        let mut bytes = [0; QUEUE_ID_MAX];
        bytes.get_mut(..raw.len())?.copy_from_slice(raw);
        Some(QueueId {
            bytes,
            len: raw.len() as u8,
        })
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII is ever stored.
        let b = self.bytes.get(..usize::from(self.len)).unwrap_or_default();
        std::str::from_utf8(b).unwrap_or_default()
    }
}

impl std::fmt::Debug for QueueId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "QueueId({:?})", self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_real_queue_ids_become_exemplars() {
        for ok in [
            "3F2A81C0B2A",
            "1tXyZa-000ABC-12",
            "k856Hah0007735",
            "0f3e2c1a",
        ] {
            assert_eq!(
                QueueId::new(ok.as_bytes()).map(|q| q.as_str().to_owned()),
                Some(ok.into())
            );
        }
        let long = "x".repeat(41);
        for bad in ["", "NO QUEUE", "a\"b", "a\\b", long.as_str(), "é"] {
            assert!(QueueId::new(bad.as_bytes()).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn the_exemplar_is_the_latest_failure_with_a_queue_id() {
        let mut t = FailureTally::default();
        t.add(b"", 10.0);
        assert_eq!((t.n, t.exemplar), (1, None));
        t.add(b"AAA", 20.0);
        t.add(b"", 30.0); // NOQUEUE: counted, the exemplar stays
        t.add(b"OLD", 15.0); // an older line read late does not replace a newer one
        assert_eq!(t.n, 4);
        let e = t.exemplar.map(|e| (e.queue_id.as_str().to_owned(), e.at));
        assert_eq!(e, Some(("AAA".into(), 20.0)));
        t.add(b"BBB", 40.0);
        assert_eq!(
            t.exemplar.map(|e| e.queue_id.as_str().to_owned()),
            Some("BBB".into())
        );
    }

    #[test]
    fn the_last_time_never_goes_back() {
        let mut t = Tally::default();
        t.add(1, 50.0);
        t.add(1, 40.0);
        assert_eq!(t, Tally { n: 2, last: 50.0 });
    }
}
