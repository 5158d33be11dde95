//! Following a mailbox while serving: a Maildir listed every second, an mbox read from its saved
//! offset, each message counted once.

use super::*;

// ---------------------------------------------------------------------------------------------
// serve

/// Follows one mailbox.
#[derive(Debug)]
pub struct Follower {
    source: SourceId,
    path: PathBuf,
    /// Saved state came back for this source.
    restored: bool,
    first_poll: bool,
    kind: Option<Kind>,
}

#[derive(Debug)]
pub(super) enum Kind {
    Maildir(MaildirFollow),
    Mbox(MboxFollow),
}

#[derive(Debug, Default)]
pub(super) struct MaildirFollow {
    /// Names read before whose files were missing from the last listings, and how often.
    missing: HashMap<String, u8>,
    /// The modification times of `new/` and `cur/` at the last listing, and when it started.
    listed: Option<(SystemTime, SystemTime, SystemTime)>,
}

impl MaildirFollow {
    /// The modification times of `new/` and `cur/`.
    fn mtimes(dir: &Path) -> Option<(SystemTime, SystemTime)> {
        let m = |d: &str| fs::metadata(dir.join(d)).and_then(|m| m.modified()).ok();
        Some((m("new")?, m("cur")?))
    }

    /// Whether the directories are unchanged since a listing that started well after their
    /// last change (a change during that listing would have a later time), with no name
    /// waiting to be forgotten: then listing again would find nothing new.
    fn unchanged(&self, now: Option<(SystemTime, SystemTime)>) -> bool {
        let (Some((n, c, at)), Some(now)) = (self.listed, now) else {
            return false;
        };
        let settled = n.max(c) + Duration::from_secs(1) <= at;
        now == (n, c) && settled && self.missing.is_empty()
    }
}

#[derive(Debug)]
pub(super) struct MboxFollow {
    file: File,
    id: (u64, u64),
    fp: Fingerprint,
    /// Bytes of the file read into `reader` so far.
    read_to: u64,
    reader: MboxReader,
    /// Offset of `reader`'s first byte in the file (the position to save).
    base: u64,
    last_growth: Instant,
    /// Messages that start below this offset were there at a first start: their keys are
    /// remembered, they are not counted.
    learn_below: u64,
    /// While the file is read from its start again (after a rewrite): the keys of the messages
    /// seen in this pass; at its end, the keys of messages no longer in the file are dropped.
    pass: Option<std::collections::HashSet<String>>,
}

impl MboxFollow {
    fn open(path: &Path, offset: u64) -> std::io::Result<MboxFollow> {
        let mut file = File::open(path)?;
        let meta = file.metadata()?;
        let fp = Fingerprint::read(&file, meta.len())?;
        file.seek(SeekFrom::Start(offset))?;
        Ok(MboxFollow {
            file,
            id: (meta.dev(), meta.ino()),
            fp,
            read_to: offset,
            reader: MboxReader::default(),
            base: offset,
            last_growth: Instant::now(),
            learn_below: 0,
            pass: None,
        })
    }

    /// Opened at its first byte, for a pass over the whole file.
    fn open_pass(path: &Path) -> std::io::Result<MboxFollow> {
        let mut f = MboxFollow::open(path, 0)?;
        f.pass = Some(Default::default());
        Ok(f)
    }

    fn position(&self) -> Position {
        Position {
            dev: self.id.0,
            ino: self.id.1,
            offset: self.base + self.reader.consumed,
            fp_len: self.fp.len,
            fp_crc: self.fp.crc,
        }
    }
}

impl Follower {
    pub fn new(source: SourceId, path: PathBuf, restored: bool) -> Follower {
        Follower {
            source,
            path,
            restored,
            first_poll: true,
            kind: None,
        }
    }

    /// Reads whatever is new; returns the number of messages read.
    pub fn poll(&mut self, agg: &Counters) -> usize {
        let first = std::mem::replace(&mut self.first_poll, false);
        if self.kind.is_none() {
            match fs::metadata(&self.path) {
                Ok(m) if m.is_dir() => {
                    if !is_maildir(&self.path) {
                        self.fail(
                            agg,
                            "a directory, but not a Maildir (no new/, cur/ or tmp/)",
                        );
                        return 0;
                    }
                    self.kind = Some(Kind::Maildir(MaildirFollow::default()));
                }
                Ok(_) => match self.start_mbox(agg, first) {
                    Some(f) => self.kind = Some(Kind::Mbox(f)),
                    None => return 0,
                },
                Err(e) if e.kind() == ErrorKind::NotFound => {
                    let mut g = agg.lock();
                    if let Some(s) = g.source_mut(self.source) {
                        if s.state != SourceState::Waiting {
                            tracing::warn!(path = %self.path.display(), "mailbox does not exist (yet): waiting for it to appear");
                            s.state = SourceState::Waiting;
                        }
                    }
                    return 0;
                }
                Err(e) => {
                    self.fail(agg, &e.to_string());
                    return 0;
                }
            }
        }
        // A mailbox that already existed at a first start is followed from its end.
        let from_end = first && !self.restored;
        match self.kind.take() {
            Some(Kind::Maildir(mut m)) => {
                let n = self.poll_maildir(agg, &mut m, from_end);
                self.kind = Some(Kind::Maildir(m));
                n
            }
            Some(Kind::Mbox(mut f)) => {
                let n = self.poll_mbox(agg, &mut f);
                self.kind = Some(Kind::Mbox(f));
                n
            }
            None => 0,
        }
    }

    fn poll_maildir(
        &mut self,
        agg: &Counters,
        follow: &mut MaildirFollow,
        from_end: bool,
    ) -> usize {
        let mtimes = MaildirFollow::mtimes(&self.path);
        if follow.unchanged(mtimes) {
            return 0;
        }
        let started = SystemTime::now();
        let missing = &mut follow.missing;
        let list = match list_maildir(&self.path) {
            Ok(l) => l,
            Err(e) => {
                follow.listed = None;
                self.fail(agg, &e.to_string());
                return 0;
            }
        };
        let todo: Vec<(String, PathBuf)> = {
            let mut g = agg.lock();
            let Some(s) = g.source_mut(self.source) else {
                return 0;
            };
            if from_end {
                tracing::info!(path = %self.path.display(), messages = list.len(), "first start: the messages already in the Maildir are not counted (replay counts them); following new ones");
                s.reading.messages = list.iter().map(|(n, _)| n.clone()).collect();
            }
            if s.state != SourceState::Following {
                tracing::info!(path = %self.path.display(), "following Maildir");
                s.state = SourceState::Following;
            }
            // Forget the names of messages that are gone.
            let present: std::collections::HashSet<&str> =
                list.iter().map(|(n, _)| n.as_str()).collect();
            missing.retain(|n, _| !present.contains(n.as_str()));
            let mut forget = Vec::new();
            for n in s
                .reading
                .messages
                .iter()
                .filter(|n| !present.contains(n.as_str()))
            {
                let misses = missing.entry(n.clone()).or_insert(0);
                *misses += 1;
                if *misses >= FORGET_AFTER {
                    forget.push(n.clone());
                }
            }
            for n in forget {
                s.reading.messages.remove(&n);
                missing.remove(&n);
            }
            list.into_iter()
                .filter(|(n, _)| !s.reading.messages.contains(n))
                .collect()
        };
        // Set again below only if every new message could be read: one that could not is
        // tried again at the next poll, with a new listing.
        follow.listed = None;
        let mut all_read = true;
        let mut read = 0;
        for (name, file) in todo {
            let bytes = match read_message(&file) {
                Ok(b) => b,
                // Moved (new/ → cur/) or deleted since the listing: the next listing tells.
                Err(e) if e.kind() == ErrorKind::NotFound => {
                    all_read = false;
                    continue;
                }
                Err(e) => {
                    self.fail(agg, &format!("{}: {e}", file.display()));
                    all_read = false;
                    continue;
                }
            };
            let mut g = agg.lock();
            match bytes {
                Some(bytes) => {
                    g.add_bytes(self.source, bytes.len() as u64);
                    count_message(&mut g, self.source, &bytes);
                }
                None => g.count_line(self.source, LineResult::Unrecognised),
            }
            g.set_last_line(self.source, Counters::now());
            if let Some(s) = g.source_mut(self.source) {
                s.reading.messages.insert(name);
            }
            read += 1;
        }
        if all_read {
            follow.listed = mtimes.map(|(n, c)| (n, c, started));
        }
        read
    }

    /// Opens an mbox where this run starts reading it.
    fn start_mbox(&mut self, agg: &Counters, first: bool) -> Option<MboxFollow> {
        let saved = agg
            .lock()
            .source(self.source)
            .and_then(|s| s.reading.position);
        let size = fs::metadata(&self.path).map_or(0, |m| m.len());
        let opened = match saved {
            Some(pos) if self.restored && self.same_file(&pos) => {
                tracing::info!(path = %self.path.display(), offset = pos.offset, "following mbox from the saved position");
                MboxFollow::open(&self.path, pos.offset)
            }
            Some(_) if self.restored => {
                tracing::warn!(path = %self.path.display(), "the mbox was rewritten while the exporter was down (by a mail client?): reading it again, counting only the messages not counted before");
                agg.lock().add_rotation(self.source, RotationKind::Truncate);
                MboxFollow::open_pass(&self.path)
            }
            // A first start with the mbox already there: its messages are remembered, not
            // counted (as a log is followed from its end).
            _ if first && !self.restored => MboxFollow::open_pass(&self.path).map(|mut f| {
                tracing::info!(path = %self.path.display(), "first start: the messages already in the mbox are not counted (replay counts them); following new ones");
                f.learn_below = size;
                f
            }),
            // It appeared after the start: every message in it is new.
            _ => MboxFollow::open_pass(&self.path),
        };
        match opened {
            Ok(f) => {
                let mut g = agg.lock();
                if let Some(s) = g.source_mut(self.source) {
                    s.reading.position = Some(f.position());
                    s.state = SourceState::Following;
                }
                Some(f)
            }
            Err(e) => {
                self.fail(agg, &e.to_string());
                None
            }
        }
    }

    /// Whether the file at the path is the one `pos` was saved for, and still holds it.
    fn same_file(&self, pos: &Position) -> bool {
        let Ok(f) = File::open(&self.path) else {
            return false;
        };
        let Ok(m) = f.metadata() else {
            return false;
        };
        (m.dev(), m.ino()) == (pos.dev, pos.ino)
            && m.len() >= pos.offset
            && Fingerprint::of(pos).matches_file(&f)
    }

    fn poll_mbox(&mut self, agg: &Counters, f: &mut MboxFollow) -> usize {
        // Rewritten by a mail client (another file at the path, or this one cut short or
        // changed at its start): read it again from its start; messages already counted are
        // known by their keys.
        let rewritten = match fs::metadata(&self.path) {
            Ok(m) => {
                (m.dev(), m.ino()) != f.id || m.len() < f.read_to || !f.fp.matches_file(&f.file)
            }
            Err(_) => false,
        };
        if rewritten {
            tracing::info!(path = %self.path.display(), "the mbox was rewritten (by a mail client?): reading it again, counting only the messages not counted before");
            agg.lock().add_rotation(self.source, RotationKind::Truncate);
            match MboxFollow::open_pass(&self.path) {
                Ok(new) => *f = new,
                Err(e) => {
                    self.fail(agg, &e.to_string());
                    return 0;
                }
            }
        }
        let mut chunk = vec![0; crate::source::CHUNK];
        let mut grew = false;
        loop {
            match f.file.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => {
                    f.read_to += n as u64;
                    f.reader.feed(chunk.get(..n).unwrap_or_default());
                    agg.lock().add_bytes(self.source, n as u64);
                    grew = true;
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    self.fail(agg, &e.to_string());
                    break;
                }
            }
        }
        // The fingerprint grows with the file up to its maximum.
        if f.fp.len < crate::source::identity::FP_MAX && f.read_to > u64::from(f.fp.len) {
            if let Ok(fp) = Fingerprint::read(&f.file, f.read_to) {
                f.fp = fp;
            }
        }
        let now = Instant::now();
        if grew {
            f.last_growth = now;
        }
        let mut messages = Vec::new();
        while let Some(m) = f.reader.next_message_at() {
            messages.push(m);
        }
        if f.reader.too_large() || now.duration_since(f.last_growth) >= MBOX_QUIET {
            messages.extend(f.reader.finish_at());
        }
        let mut g = agg.lock();
        let mut counted = 0;
        for (at, m) in &messages {
            let m = strip_from_line(m);
            let key = message_key(m);
            if let Some(pass) = &mut f.pass {
                pass.insert(key.clone());
            }
            let Some(s) = g.source_mut(self.source) else {
                continue;
            };
            if s.reading.messages.contains(&key) {
                continue;
            }
            let learn = f.base + at < f.learn_below;
            s.reading.messages.insert(key);
            if !learn {
                count_message(&mut g, self.source, m);
                counted += 1;
            }
        }
        if counted > 0 {
            g.set_last_line(self.source, Counters::now());
        }
        // A pass over the whole file is over once all of it is counted: drop the keys of the
        // messages that are gone.
        if f.reader.buf.is_empty() {
            if let (Some(pass), Some(s)) = (f.pass.take(), g.source_mut(self.source)) {
                s.reading.messages.retain(|k| pass.contains(k));
            }
        }
        if let Some(s) = g.source_mut(self.source) {
            s.reading.position = Some(f.position());
        }
        counted
    }

    fn fail(&self, agg: &Counters, e: &str) {
        let mut g = agg.lock();
        g.add_read_error(self.source);
        let msg = format!("{}: {e}", self.path.display());
        if let Some(s) = g.source_mut(self.source) {
            if s.state != SourceState::Failing(msg.clone()) {
                tracing::warn!("cannot read mailbox {msg}: retrying");
                s.state = SourceState::Failing(msg);
            }
        }
    }
}
