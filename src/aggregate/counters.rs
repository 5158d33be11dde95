//! [`Counters`]: the one handle on the aggregator that every reader, the state saver and the
//! endpoint share. It owns the lock and the clock, so no module keeps a copy of either.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use super::Aggregator;

/// The counters, shared. Cloning gives another handle on the same counters.
#[derive(Debug, Clone)]
pub struct Counters(Arc<Mutex<Aggregator>>);

impl Counters {
    pub fn new(agg: Aggregator) -> Self {
        Counters(Arc::new(Mutex::new(agg)))
    }

    /// Takes the lock. A reader thread that panicked holding it left whole lines counted (each
    /// line is recorded in one call), so the counters are still good: poisoning is ignored.
    pub fn lock(&self) -> MutexGuard<'_, Aggregator> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Wall-clock time in seconds since the epoch, as `last_line` and the freshness gauges
    /// keep it; 0 on a clock before 1970.
    pub fn now() -> f64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::Bounds;

    #[test]
    fn a_panic_under_the_lock_leaves_the_counters_readable() {
        let c = Counters::new(Aggregator::new(
            vec![("s".into(), "postfix".into())],
            &Bounds::default(),
        ));
        let other = c.clone();
        let _ = std::thread::spawn(move || {
            let _g = other.lock();
            panic!("reader died");
        })
        .join();
        assert_eq!(c.lock().sources.len(), 1);
        assert!(Counters::now() > 1.0e9);
    }
}
