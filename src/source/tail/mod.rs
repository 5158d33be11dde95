//! Following a live log file across rotation, truncation and restarts.
//!
//! A file is known by (device, inode) plus a fingerprint of its first bytes
//! ([`super::identity`]), not by its path. At each poll the open file is read to its
//! end, then the path is looked at again:
//! - another inode at the path: rotated by rename (or deleted and re-created). The old file
//!   stays open and is read until it has been quiet for [`DRAIN_GRACE`], since writers append
//!   to it until they reopen; the new file is read from its first byte.
//! - the same inode, shorter than what was read or with other first bytes: `copytruncate`.
//!   Read again from byte 0.
//! - no file at the path: keep reading the open file; a file that appears later is new.
//!
//! Positions of the current file and of the files still being drained are published to the
//! aggregator under the same lock as the counts of the lines before them, so a state snapshot
//! holds both or neither. After a restart, each saved file is found again — at the path, or
//! among its rotated names, compressed or not — and read on from its saved offset before the
//! file now at the path.
//!
//! Reads use plain blocking `std::fs` calls on a thread of their own: no async file I/O in the
//! hot loop, and no line crosses to another thread.

mod open;
use open::OpenFile;

use std::fs::File;
use std::io::{ErrorKind, Read, Seek, SeekFrom};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use super::identity::{self, Fingerprint, Found, FP_MAX};
use super::lines::{Line, LineSplitter};

use super::{FileParser, Routes, Running, Source, CHUNK};
use crate::aggregate::{
    Aggregator, Counters, LineResult, Position, RotationKind, SourceId, SourceState,
};

/// How often an idle source looks for new data.
pub const POLL_INTERVAL: Duration = Duration::from_millis(250);
/// How long a rotated-away file is kept open after its last new byte.
pub const DRAIN_GRACE: Duration = Duration::from_secs(5);
/// How much earlier than the saved state a rotated file's last write may be and still be taken
/// for one written since, when the file the state was in is gone: the kernel stamps files from
/// a clock a tick behind, and a rotation a poll before the save may not have been seen yet.
/// Far below [`DRAIN_GRACE`]: every file that left the state had been quiet that long, so none
/// counted already is taken again.
const SAVED_SLACK: Duration = Duration::from_secs(1);

#[derive(Debug)]
struct Draining {
    open: OpenFile,
    quiet_since: Instant,
}

/// Where an earlier run left off.
#[derive(Debug, Clone, Default)]
pub struct Resume {
    pub position: Option<Position>,
    pub draining: Vec<Position>,
    /// When that was saved (`None`: a state file that does not say).
    pub saved_at: Option<SystemTime>,
}

/// Which of the tailer's files a read belongs to, for publishing its position.
#[derive(Debug, Clone, Copy)]
enum Slot {
    Current,
    Draining(usize),
}

/// Follows one file.
#[derive(Debug)]
pub struct Tailer {
    source: SourceId,
    path: PathBuf,
    /// The parser each newly opened file gets a fresh copy of.
    parser: FileParser,
    current: Option<OpenFile>,
    draining: Vec<Draining>,
    /// Until the first poll: where the last run left off (`None`: a first start).
    resume: Option<Resume>,
    first_poll: bool,
    routes: Routes,
    buf: Vec<u8>,
}

impl Tailer {
    /// `resume`: what an earlier run saved, or `None` on a first start (the file, if it
    /// exists, is followed from its end).
    pub fn new(
        source: SourceId,
        path: PathBuf,
        parser: impl Into<FileParser>,
        resume: Option<Resume>,
    ) -> Self {
        let parser = parser.into().for_path(&path);
        Tailer {
            source,
            path,
            parser,
            current: None,
            draining: Vec::new(),
            resume,
            first_poll: true,
            routes: Routes::new(source, Vec::new()),
            buf: vec![0; CHUNK],
        }
    }

    /// Sends the lines of configured MTA instances to their own sources.
    pub fn with_routes(mut self, routes: Routes) -> Self {
        self.routes = routes;
        self
    }

    /// Reads whatever is new. Returns the number of bytes read.
    pub fn poll(&mut self, agg: &Counters) -> u64 {
        let mut total = 0;
        if std::mem::replace(&mut self.first_poll, false) {
            total += self.recover(agg);
        }
        total += self.drain(agg);
        if self.current.is_none() && !self.open_new(agg, false) {
            return total;
        }
        // The path is looked at before reading: after a truncation the old offset points into
        // new content, and reading there first would count a fragment of it. At most twice:
        // once more right after a rotation, to start on the new file at once.
        for _ in 0..2 {
            let state = self.check_path();
            if matches!(state, PathState::Truncated) {
                self.restart_truncated(agg);
            }
            let Some(mut cur) = self.current.take() else {
                break;
            };
            total += self.read_to_end(&mut cur, Slot::Current, agg);
            self.current = Some(cur);
            if !matches!(state, PathState::Replaced) || !self.rotate(agg) {
                break;
            }
        }
        total
    }

    /// First poll after a restart: finish the files saved as draining and the file that was
    /// current, wherever they are now, then open the file at the path where it fits.
    fn recover(&mut self, agg: &Counters) -> u64 {
        let Some(resume) = self.resume.take() else {
            // A first start: follow the file from its end.
            self.open_new(agg, true);
            return 0;
        };
        for pos in &resume.draining {
            if let Some(open) = self.find_saved(pos, agg) {
                self.push_draining(open);
            }
        }
        if let Some(pos) = resume.position {
            self.resume_current(pos, resume.saved_at, agg);
        } else {
            self.open_new(agg, false);
        }
        // Whatever could be opened, the saved positions now say what this run reads.
        self.publish(&mut agg.lock(), None);
        0
    }

    /// Continues the file that was current when the last run saved its state.
    fn resume_current(&mut self, pos: Position, saved_at: Option<SystemTime>, agg: &Counters) {
        match identity::locate(&self.path, &pos) {
            Some(Found::Plain(p)) if p == self.path => {
                match OpenFile::plain(&p, pos.offset, false, &self.parser) {
                    Ok(open) => {
                        tracing::info!(path = %p.display(), offset = pos.offset, "following log file from the saved position");
                        self.current = Some(open);
                        self.publish(&mut agg.lock(), Some(SourceState::Following));
                    }
                    Err(e) => self.fail(agg, &e),
                }
                return;
            }
            Some(found) => {
                // Rotated while the exporter was down (renamed, or copied and truncated):
                // finish it, then the file at the path.
                let kind = match &found {
                    // Renamed away: the saved inode is there; a copy has another one.
                    Found::Plain(p) if same_inode(p, &pos) => RotationKind::Rename,
                    Found::Plain(_) => RotationKind::Truncate,
                    Found::Compressed(_) => self.kind_at_path(&pos),
                };
                agg.lock().add_rotation(self.source, kind);
                let opened = match &found {
                    Found::Plain(p) => OpenFile::plain(p, pos.offset, false, &self.parser),
                    Found::Compressed(p) => OpenFile::compressed(p, &pos, &self.parser),
                };
                match opened {
                    Ok(open) => {
                        tracing::info!(path = %open.path.display(), offset = pos.offset, "log file was rotated while the exporter was down: finishing it from the saved position");
                        self.push_draining(open);
                    }
                    Err(e) => self.fail(agg, &e),
                }
                let (Found::Plain(at) | Found::Compressed(at)) = &found;
                self.open_rotated_after(at, kind, agg);
            }
            None => self.lost_current(&pos, saved_at, agg),
        }
        self.open_new(agg, false);
    }

    /// The file the last run was in is not found anywhere: rewritten in place, or gone (deleted
    /// by `rotate N`, moved away). Its unread end is lost, said once and counted; the rotated
    /// files written since the state was saved are read whole, then the file at the path.
    fn lost_current(&mut self, pos: &Position, saved_at: Option<SystemTime>, agg: &Counters) {
        // The inode alone cannot tell a truncated file from a new file that reused it, but
        // either way the file at the path is read from its start.
        let kind = self.kind_at_path(pos);
        let mut g = agg.lock();
        g.add_rotation(self.source, kind);
        g.add_rotated_missed(self.source);
        drop(g);
        tracing::warn!(
            path = %self.path.display(),
            "the log file read before the restart was truncated, or rotated and deleted or moved away, while the exporter was down: lines written to it after byte {} are not counted; the rotated files written since the state was saved are read from their start, then the file at the path",
            pos.offset
        );
        let Some(saved_at) = saved_at else {
            tracing::warn!(path = %self.path.display(), "the state file does not say when it was saved (an earlier version wrote it): rotated files written since are not looked for");
            return;
        };
        let since = saved_at.checked_sub(SAVED_SLACK).unwrap_or(saved_at);
        // Those found from the state's draining positions are read on from there already.
        let open: Vec<PathBuf> = self.draining.iter().map(|d| d.open.path.clone()).collect();
        let newer = identity::rotated_since(&self.path, since)
            .into_iter()
            .filter(|p| !open.contains(p));
        self.open_whole(newer, kind, agg);
    }

    /// The files rotated after `at` while the exporter was down (more than one rotation): no
    /// line of theirs was read, so each is read from its first byte, oldest first, before the
    /// file at the path. One rotation of `kind` each.
    fn open_rotated_after(&mut self, at: &Path, kind: RotationKind, agg: &Counters) {
        self.open_whole(identity::rotated_after(&self.path, at), kind, agg);
    }

    /// Opens rotated files none of which was read, to be read from their first byte in this
    /// order; one rotation of `kind` each.
    fn open_whole(
        &mut self,
        paths: impl IntoIterator<Item = PathBuf>,
        kind: RotationKind,
        agg: &Counters,
    ) {
        for p in paths {
            match OpenFile::from_start(&p, &self.parser) {
                Ok(open) => {
                    tracing::info!(path = %p.display(), "log file rotated more than once while the exporter was down: reading it from its start");
                    agg.lock().add_rotation(self.source, kind);
                    self.push_draining(open);
                }
                Err(e) => self.fail(agg, &e),
            }
        }
    }

    /// The kind of rotation that left `pos`'s file elsewhere (compressed since, so its inode
    /// is gone): the same inode still at the path
    /// means it was emptied in place (copytruncate), another one that it was renamed away.
    fn kind_at_path(&self, pos: &Position) -> RotationKind {
        let same_inode =
            std::fs::metadata(&self.path).is_ok_and(|m| (m.dev(), m.ino()) == (pos.dev, pos.ino));
        if same_inode {
            RotationKind::Truncate
        } else {
            RotationKind::Rename
        }
    }

    /// Opens the file a saved position belongs to, wherever it is now.
    fn find_saved(&self, pos: &Position, agg: &Counters) -> Option<OpenFile> {
        let opened = match identity::locate(&self.path, pos) {
            Some(Found::Plain(p)) => OpenFile::plain(&p, pos.offset, false, &self.parser),
            Some(Found::Compressed(p)) => OpenFile::compressed(&p, pos, &self.parser),
            None => {
                agg.lock().add_rotated_missed(self.source);
                tracing::warn!(
                    path = %self.path.display(),
                    "a rotated log file the exporter had not finished was not found among the rotated names (deleted, or compressed by a tool it does not read): lines written to it after byte {} are not counted",
                    pos.offset
                );
                return None;
            }
        };
        match opened {
            Ok(open) => {
                tracing::info!(path = %open.path.display(), offset = pos.offset, "finishing a rotated log file from the saved position");
                Some(open)
            }
            Err(e) => {
                self.fail(agg, &e);
                None
            }
        }
    }

    fn push_draining(&mut self, open: OpenFile) {
        self.draining.push(Draining {
            open,
            quiet_since: Instant::now(),
        });
    }

    /// Reads the rotated-away files; closes those that are finished.
    fn drain(&mut self, agg: &Counters) -> u64 {
        let mut total = 0;
        let now = Instant::now();
        let mut draining = std::mem::take(&mut self.draining);
        for (i, d) in draining.iter_mut().enumerate() {
            let n = self.read_to_end(&mut d.open, Slot::Draining(i), agg);
            if n > 0 {
                d.quiet_since = now;
            }
            total += n;
        }
        self.draining = draining;
        // A compressed file cannot grow, but it stays as long as a plain one: then every file
        // that leaves the saved state was read to its end DRAIN_GRACE before (see SAVED_SLACK).
        let finished = |d: &Draining| now.duration_since(d.quiet_since) >= DRAIN_GRACE;
        if self.draining.iter().any(finished) {
            let mut g = agg.lock();
            let (done, keep): (Vec<_>, Vec<_>) = std::mem::take(&mut self.draining)
                .into_iter()
                .partition(finished);
            for mut d in done {
                // A finished file's last line without a newline is still a line.
                let parser = &mut d.open.parser;
                d.open.splitter.finish(|l| {
                    let src = parser.route(&self.routes, &l);
                    parser.ingest(&mut g, src, l)
                });
            }
            self.draining = keep;
            self.publish(&mut g, Some(SourceState::Following));
        }
        total
    }

    /// What is at the path now, compared with the current file.
    fn check_path(&self) -> PathState {
        let Some(cur) = &self.current else {
            return PathState::Same;
        };
        let Some(file) = cur.file() else {
            return PathState::Same;
        };
        match std::fs::metadata(&self.path) {
            Ok(m) if (m.dev(), m.ino()) != cur.id => PathState::Replaced,
            Ok(m) if m.len() < cur.offset || !cur.fp.matches_file(file) => PathState::Truncated,
            // Same file, or the path is gone: keep reading what is open.
            _ => PathState::Same,
        }
    }

    fn restart_truncated(&mut self, agg: &Counters) {
        let Some(cur) = self.current.take() else {
            return;
        };
        tracing::info!(path = %self.path.display(), "log file truncated: reading again from its start");
        // copytruncate copies the file before emptying it: what was not read yet is in the
        // copy, at the same offsets. Finish it there first.
        let pos = cur.position();
        let copy = identity::locate_elsewhere(&self.path, &pos).and_then(|found| {
            let opened = match &found {
                Found::Plain(p) => OpenFile::plain(p, pos.offset, false, &self.parser),
                Found::Compressed(p) => OpenFile::compressed(p, &pos, &self.parser),
            };
            opened.ok()
        });
        let mut g = agg.lock();
        g.add_rotation(self.source, RotationKind::Truncate);
        match copy {
            Some(open) => {
                tracing::info!(path = %open.path.display(), offset = pos.offset, "finishing the copy of the truncated log file");
                self.draining.push(Draining {
                    open,
                    quiet_since: Instant::now(),
                });
            }
            // Half a line that will never be completed.
            None if cur.splitter.pending() > 0 => {
                g.count_line(self.source, LineResult::Unrecognised);
            }
            None => {}
        }
        drop(g);
        match OpenFile::plain(&self.path, 0, false, &self.parser) {
            Ok(open) => {
                self.current = Some(open);
                self.publish(&mut agg.lock(), Some(SourceState::Following));
            }
            Err(e) => self.fail(agg, &e),
        }
    }

    /// Moves the current file to the draining list and opens the new one, as one step for the
    /// saved state. Returns whether a new file is open.
    fn rotate(&mut self, agg: &Counters) -> bool {
        tracing::info!(path = %self.path.display(), "log file rotated: finishing the old file, reading the new one from its start");
        let new = OpenFile::plain(&self.path, 0, false, &self.parser);
        let mut g = agg.lock();
        g.add_rotation(self.source, RotationKind::Rename);
        if let Some(old) = self.current.take() {
            self.draining.push(Draining {
                open: old,
                quiet_since: Instant::now(),
            });
        }
        match new {
            Ok(open) => {
                self.current = Some(open);
                self.publish(&mut g, Some(SourceState::Following));
                true
            }
            Err(e) => {
                // Gone again between the look and the open: the next poll waits for it.
                self.publish(&mut g, Some(SourceState::Following));
                drop(g);
                if e.kind() != ErrorKind::NotFound {
                    self.fail(agg, &e);
                }
                false
            }
        }
    }

    /// Opens the file at the path. `at_end`: a first start, follow from the end.
    fn open_new(&mut self, agg: &Counters, at_end: bool) -> bool {
        let offset = if at_end {
            match std::fs::metadata(&self.path) {
                Ok(m) => m.len(),
                Err(_) => 0,
            }
        } else {
            0
        };
        match OpenFile::plain(&self.path, offset, at_end, &self.parser) {
            Ok(open) => {
                let from = if at_end { "its end" } else { "its start" };
                tracing::info!(path = %self.path.display(), "following log file from {from}");
                self.current = Some(open);
                self.publish(&mut agg.lock(), Some(SourceState::Following));
                true
            }
            Err(e) if e.kind() == ErrorKind::NotFound => {
                let mut g = agg.lock();
                let waiting = g
                    .source(self.source)
                    .is_some_and(|s| s.state == SourceState::Waiting);
                if !waiting {
                    tracing::warn!(path = %self.path.display(), "log file does not exist (yet): waiting for it to appear");
                }
                self.publish(&mut g, Some(SourceState::Waiting));
                false
            }
            Err(e) => {
                self.fail(agg, &e);
                false
            }
        }
    }

    /// Sets the saved positions (current and draining) and the state, under the caller's lock.
    fn publish(&self, g: &mut Aggregator, state: Option<SourceState>) {
        if let Some(s) = g.source_mut(self.source) {
            s.reading.position = self.current.as_ref().map(OpenFile::position);
            s.reading.draining = self.draining.iter().map(|d| d.open.position()).collect();
            if let Some(state) = state {
                s.state = state;
            }
        }
    }

    /// Reads an open file to its end, counting lines and moving its saved position in the
    /// same lock section.
    fn read_to_end(&mut self, open: &mut OpenFile, slot: Slot, agg: &Counters) -> u64 {
        let mut total = 0u64;
        loop {
            let n = match open.read(&mut self.buf) {
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
            let mut g = agg.lock();
            g.add_bytes(self.source, n as u64);
            let mut lines = 0u64;
            let routes = &self.routes;
            let parser = &mut open.parser;
            open.splitter.feed(&self.buf[..n], |l: Line<'_>| {
                lines += 1;
                parser.ingest(&mut g, parser.route(routes, &l), l)
            });
            if lines > 0 {
                g.set_last_line(self.source, Counters::now());
            }
            // The fingerprint grows with the file until it covers FP_MAX bytes, as long as the
            // bytes it covered are still there (else the file was rewritten: the next look at
            // the path must see that, not a fingerprint of the new content).
            if open.fp.len < FP_MAX && open.offset > u64::from(open.fp.len) {
                let grown = open.file().and_then(|f| {
                    open.fp
                        .matches_file(f)
                        .then(|| Fingerprint::read(f, open.offset).ok())
                        .flatten()
                });
                if let Some(fp) = grown {
                    open.fp = fp;
                }
            }
            if let Some(s) = g.source_mut(self.source) {
                match slot {
                    Slot::Current => s.reading.position = Some(open.position()),
                    Slot::Draining(i) => {
                        if let Some(p) = s.reading.draining.get_mut(i) {
                            *p = open.position();
                        }
                    }
                }
            }
        }
        total
    }

    fn fail(&self, agg: &Counters, e: &std::io::Error) {
        let mut g = agg.lock();
        g.add_read_error(self.source);
        let msg = format!("{}: {e}", self.path.display());
        if let Some(s) = g.source_mut(self.source) {
            if s.state != SourceState::Failing(msg.clone()) {
                tracing::warn!("cannot read log file {msg}: retrying");
                s.state = SourceState::Failing(msg);
            }
        }
    }
}

enum PathState {
    Same,
    Truncated,
    Replaced,
}

/// Runs tailers on a thread until `stop` is set.
pub fn run(mut tailers: Vec<Tailer>, agg: Counters, stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::Relaxed) {
        let read: u64 = tailers.iter_mut().map(|t| t.poll(&agg)).sum();
        if read == 0 {
            std::thread::sleep(POLL_INTERVAL);
        }
    }
}

/// Whether the file at `p` has the device and inode of `pos`.
fn same_inode(p: &Path, pos: &Position) -> bool {
    std::fs::metadata(p).is_ok_and(|m| (m.dev(), m.ino()) == (pos.dev, pos.ino))
}

impl Resume {
    /// What the state file gave back for `source`; `None` on a first start.
    pub fn saved(agg: &Aggregator, source: SourceId) -> Option<Resume> {
        agg.source(source).filter(|s| s.restored).map(|s| Resume {
            position: s.reading.position,
            draining: s.reading.draining.clone(),
            saved_at: s.reading.saved_at,
        })
    }
}

/// The log files of the plan, followed on one thread (the [`Source`] of files).
#[derive(Debug)]
pub struct Files(Vec<(Routes, PathBuf, FileParser)>);

impl Files {
    pub fn new(files: Vec<(Routes, PathBuf, FileParser)>) -> Self {
        Files(files)
    }
}

impl Source for Files {
    fn start(self: Box<Self>, counters: &Counters) -> anyhow::Result<Running> {
        let tailers: Vec<Tailer> = {
            let g = counters.lock();
            self.0
                .into_iter()
                .map(|(routes, path, parser)| {
                    let resume = Resume::saved(&g, routes.primary());
                    Tailer::new(routes.primary(), path, parser, resume).with_routes(routes)
                })
                .collect()
        };
        let agg = counters.clone();
        Running::thread("tail", move |stop| run(tailers, agg, stop))
    }
}
