//! The last reading of each queue, reused for `--queue.cache`, and the refresh at scrape time
//! that runs the reads off the async runtime.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{read, QueueSpec, Reading, DEFAULT_CACHE, DEFAULT_TIMEOUT};

/// The last read of one queue, and its errors.
#[derive(Debug, Default)]
pub struct Cached {
    /// When the last read ended, and what it gave.
    pub last: Option<(Instant, Result<Reading, String>)>,
    /// `smtp_status_exporter_queue_read_errors_total`.
    pub errors: u64,
}

/// One queue and its cache.
#[derive(Debug)]
pub struct Reader {
    pub spec: QueueSpec,
    pub cache: Mutex<Cached>,
    /// Held during a read, so that concurrent scrapes share it.
    gate: tokio::sync::Mutex<()>,
}

/// Every queue read at scrape time.
#[derive(Debug)]
pub struct Queues {
    pub readers: Vec<Arc<Reader>>,
    pub timeout: Duration,
    pub cache_for: Duration,
}

impl Default for Queues {
    fn default() -> Self {
        Queues::new(Vec::new(), DEFAULT_TIMEOUT, DEFAULT_CACHE)
    }
}

impl Queues {
    pub fn new(specs: Vec<QueueSpec>, timeout: Duration, cache_for: Duration) -> Queues {
        Queues {
            readers: specs
                .into_iter()
                .map(|spec| {
                    Arc::new(Reader {
                        spec,
                        cache: Mutex::new(Cached::default()),
                        gate: tokio::sync::Mutex::new(()),
                    })
                })
                .collect(),
            timeout,
            cache_for,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.readers.is_empty()
    }

    /// Reads every queue whose cached reading is older than `cache_for`, all at once, each
    /// bounded by `timeout`.
    pub async fn refresh(&self) {
        let mut tasks = tokio::task::JoinSet::new();
        for r in &self.readers {
            let (r, timeout, cache_for) = (Arc::clone(r), self.timeout, self.cache_for);
            tasks.spawn(async move {
                let _reading = r.gate.lock().await;
                let fresh = lock(&r.cache)
                    .last
                    .as_ref()
                    .is_some_and(|(at, _)| at.elapsed() < cache_for);
                if fresh {
                    return;
                }
                let kind = r.spec.kind.clone();
                let result = tokio::task::spawn_blocking(move || read(&kind, timeout))
                    .await
                    .unwrap_or_else(|e| Err(format!("queue reader failed: {e}")));
                let mut c = lock(&r.cache);
                if let Err(e) = &result {
                    c.errors += 1;
                    tracing::warn!(source = %r.spec.source, "cannot read the queue: {e}");
                }
                c.last = Some((Instant::now(), result));
            });
        }
        while tasks.join_next().await.is_some() {}
    }
}

fn lock(m: &Mutex<Cached>) -> std::sync::MutexGuard<'_, Cached> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Reader {
    /// The last reading, if it succeeded; `Err` with the reason otherwise; `None` before the
    /// first read.
    pub fn last(&self) -> Option<Result<Reading, String>> {
        lock(&self.cache).last.as_ref().map(|(_, r)| r.clone())
    }

    pub fn errors(&self) -> u64 {
        lock(&self.cache).errors
    }
}
