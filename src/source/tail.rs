//! Following a live log file across rotation.
//!
//! A file is known by (device, inode), not by its path. At each poll the open file is read to
//! its end, then the path is looked at again:
//! - another inode at the path: the file was rotated by rename (or deleted and re-created).
//!   The old file stays open and is read until it has been quiet for [`DRAIN_GRACE`], since
//!   writers may append to it until they reopen; the new file is read from its first byte.
//! - the same inode, now shorter than what was read: `copytruncate`. Read again from byte 0.
//! - no file at the path: keep reading the open file; a file that appears later is new.
//!
//! Reads use plain blocking `std::fs` calls on a thread of their own: no async file I/O in the
//! hot loop, and no line crosses to another thread.

use std::fs::File;
use std::io::{ErrorKind, Read, Seek, SeekFrom};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::lines::{Line, LineSplitter};
use super::{ingest, CHUNK};
use crate::aggregate::{Aggregator, Position, RotationKind, SourceId, SourceState};
use crate::parse::Format;

/// How often an idle source looks for new data.
pub const POLL_INTERVAL: Duration = Duration::from_millis(250);
/// How long a rotated-away file is kept open after its last new byte.
pub const DRAIN_GRACE: Duration = Duration::from_secs(5);

#[derive(Debug)]
struct OpenFile {
    file: File,
    id: (u64, u64),
    offset: u64,
    splitter: LineSplitter,
}

#[derive(Debug)]
struct Draining {
    open: OpenFile,
    quiet_since: Instant,
}

/// Follows one file.
#[derive(Debug)]
pub struct Tailer {
    source: SourceId,
    path: PathBuf,
    format: Format,
    current: Option<OpenFile>,
    draining: Vec<Draining>,
    /// Before the first poll: a file already there is followed from its end, or from the
    /// saved position.
    first_poll: bool,
    resume: Option<Position>,
    buf: Vec<u8>,
}

/// Where to start in a file opened at the first poll.
enum Start {
    Beginning,
    End,
    At(u64),
}

impl Tailer {
    /// `resume`: the position saved by an earlier run, if any.
    pub fn new(source: SourceId, path: PathBuf, format: Format, resume: Option<Position>) -> Self {
        Tailer {
            source,
            path,
            format,
            current: None,
            draining: Vec::new(),
            first_poll: true,
            resume,
            buf: vec![0; CHUNK],
        }
    }

    /// Reads whatever is new. Returns the number of bytes read.
    pub fn poll(&mut self, agg: &Mutex<Aggregator>) -> u64 {
        let mut total = 0;
        let now = Instant::now();
        let mut draining = std::mem::take(&mut self.draining);
        for d in &mut draining {
            let n = self.read_to_end(&mut d.open, agg, false);
            if n > 0 {
                d.quiet_since = now;
            }
            total += n;
        }
        for mut d in draining {
            if now.duration_since(d.quiet_since) < DRAIN_GRACE {
                self.draining.push(d);
            } else {
                // The rotated file is finished: a last line without a newline is still a line.
                let mut g = lock(agg);
                d.open
                    .splitter
                    .finish(|l| ingest(&mut g, self.source, self.format, l));
            }
        }

        let first = std::mem::replace(&mut self.first_poll, false);
        if self.current.is_none() && !self.open(agg, first) {
            return total;
        }
        // At most twice: once more right after a rotation, to start on the new file at once.
        for _ in 0..2 {
            let Some(mut cur) = self.current.take() else {
                break;
            };
            total += self.read_to_end(&mut cur, agg, true);
            match std::fs::metadata(&self.path) {
                Ok(m) if (m.dev(), m.ino()) != cur.id => {
                    lock(agg).add_rotation(self.source, RotationKind::Rename);
                    tracing::info!(path = %self.path.display(), "log file rotated: finishing the old file, reading the new one from its start");
                    self.draining.push(Draining {
                        open: cur,
                        quiet_since: now,
                    });
                    if !self.open(agg, false) {
                        break;
                    }
                }
                Ok(m) if m.len() < cur.offset => {
                    let mut g = lock(agg);
                    g.add_rotation(self.source, RotationKind::Truncate);
                    if cur.splitter.reset() {
                        g.count_line(self.source, crate::aggregate::LineResult::Unrecognised);
                    }
                    drop(g);
                    tracing::info!(path = %self.path.display(), "log file truncated: reading again from its start");
                    cur.offset = 0;
                    if let Err(e) = cur.file.seek(SeekFrom::Start(0)) {
                        self.fail(agg, &e);
                    }
                    set_position(&mut lock(agg), self.source, &cur);
                    self.current = Some(cur);
                }
                _ => {
                    // Same file, or the path is gone: keep reading what is open.
                    self.current = Some(cur);
                    break;
                }
            }
        }
        total
    }

    /// Opens the path. `first`: this is the first poll since start, so a file already there is
    /// followed from the saved position, or from its end on a first start.
    fn open(&mut self, agg: &Mutex<Aggregator>, first: bool) -> bool {
        let opened = File::open(&self.path).and_then(|f| {
            let meta = f.metadata()?;
            Ok((f, meta))
        });
        let (mut file, meta) = match opened {
            Ok(x) => x,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                let mut g = lock(agg);
                if let Some(s) = g.sources.get_mut(self.source) {
                    if s.state != SourceState::Waiting {
                        tracing::warn!(path = %self.path.display(), "log file does not exist (yet): waiting for it to appear");
                        s.state = SourceState::Waiting;
                    }
                }
                return false;
            }
            Err(e) => {
                self.fail(agg, &e);
                return false;
            }
        };
        let id = (meta.dev(), meta.ino());
        let start = match (first, self.resume.take()) {
            (false, _) => Start::Beginning,
            (true, None) => Start::End,
            (true, Some(p)) if (p.dev, p.ino) == id && p.offset <= meta.len() => {
                Start::At(p.offset)
            }
            (true, Some(p)) => {
                // The file changed while the exporter was down.
                let kind = if (p.dev, p.ino) == id {
                    RotationKind::Truncate
                } else {
                    RotationKind::Rename
                };
                lock(agg).add_rotation(self.source, kind);
                tracing::warn!(path = %self.path.display(), "log file was rotated or truncated while the exporter was down: reading it from its start");
                Start::Beginning
            }
        };
        let mut splitter = LineSplitter::default();
        let offset = match start {
            Start::Beginning => 0,
            Start::At(o) => o,
            Start::End => {
                // Starting inside a line would count its tail as a line of its own.
                let len = meta.len();
                let mut last = [0u8; 1];
                if len > 0 && !matches!(file.read_at(&mut last, len - 1), Ok(1) if last[0] == b'\n')
                {
                    splitter.skip_to_next_line();
                }
                len
            }
        };
        if offset > 0 {
            if let Err(e) = file.seek(SeekFrom::Start(offset)) {
                self.fail(agg, &e);
                return false;
            }
        }
        let open = OpenFile {
            file,
            id,
            offset,
            splitter,
        };
        let mut g = lock(agg);
        set_position(&mut g, self.source, &open);
        if let Some(s) = g.sources.get_mut(self.source) {
            if s.state != SourceState::Following {
                let from = match start {
                    Start::Beginning => "its start".to_owned(),
                    Start::End => "its end".to_owned(),
                    Start::At(o) => format!("the saved position {o}"),
                };
                tracing::info!(path = %self.path.display(), "following log file from {from}");
            }
            s.state = SourceState::Following;
        }
        drop(g);
        self.current = Some(open);
        true
    }

    /// Reads an open file to its end. `current`: the file at the path, whose position is saved.
    fn read_to_end(&mut self, open: &mut OpenFile, agg: &Mutex<Aggregator>, current: bool) -> u64 {
        let mut total = 0u64;
        loop {
            let n = match open.file.read(&mut self.buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.fail(agg, &e);
                    break;
                }
            };
            open.offset += n as u64;
            total += n as u64;
            let mut g = lock(agg);
            g.add_bytes(self.source, n as u64);
            let mut lines = 0u64;
            open.splitter.feed(&self.buf[..n], |l: Line<'_>| {
                lines += 1;
                ingest(&mut g, self.source, self.format, l)
            });
            if lines > 0 {
                g.set_last_line(self.source, unix_now());
            }
            if current {
                set_position(&mut g, self.source, open);
            }
        }
        total
    }

    fn fail(&self, agg: &Mutex<Aggregator>, e: &std::io::Error) {
        let mut g = lock(agg);
        g.add_read_error(self.source);
        let msg = format!("{}: {e}", self.path.display());
        if let Some(s) = g.sources.get_mut(self.source) {
            if s.state != SourceState::Failing(msg.clone()) {
                tracing::warn!("cannot read log file {msg}: retrying");
                s.state = SourceState::Failing(msg);
            }
        }
    }
}

/// Records how far `open` has been counted: up to the end of its last complete line.
fn set_position(agg: &mut Aggregator, source: SourceId, open: &OpenFile) {
    if let Some(s) = agg.sources.get_mut(source) {
        s.position = Some(Position {
            dev: open.id.0,
            ino: open.id.1,
            offset: open.offset.saturating_sub(open.splitter.pending() as u64),
        });
    }
}

fn lock(agg: &Mutex<Aggregator>) -> std::sync::MutexGuard<'_, Aggregator> {
    // A panic while holding the lock cannot leave counters half-updated in a way that matters
    // more than stopping the exporter would; keep serving.
    agg.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Runs tailers on a thread until `stop` is set.
pub fn run(mut tailers: Vec<Tailer>, agg: Arc<Mutex<Aggregator>>, stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::Relaxed) {
        let read: u64 = tailers.iter_mut().map(|t| t.poll(&agg)).sum();
        if read == 0 {
            std::thread::sleep(POLL_INTERVAL);
        }
    }
}
