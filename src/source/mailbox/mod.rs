//! The bounce mailbox as a source (`--mailbox.path`, `mailboxes:` in the config file): delivery
//! status notifications read from a Maildir or an mbox file, each message parsed by
//! [`parse::dsn`](crate::parse::dsn) and counted under `mta="dsn"`.
//!
//! Read-only: messages are never moved, flagged or deleted; the exporter only needs to read.
//!
//! - Maildir (a directory with `new/`, `cur/` and `tmp/`): `new/` then `cur/` are listed at
//!   every poll (in that order, so a message an MUA moves from `new/` to `cur/` meanwhile is
//!   seen in one of them). A message is known by its unique name, the part of the file name
//!   before `:2,…` (the flags an MUA changes), so it is counted once wherever it moves. The
//!   names read are kept in the state file with the counters ([`Reading::messages`]), in
//!   the same lock section as the message's counts: a restart never counts a message twice.
//!   A name is forgotten once its file has been missing from three listings in a row (a rename
//!   while the directory is listed can hide a file from one listing), so the state holds no
//!   more names than the Maildir holds messages.
//! - mbox (any other file): messages start at lines beginning with `From `. The position saved
//!   is the byte offset of the first message not yet counted, with the file's device, inode and
//!   first-bytes fingerprint, as the log follower saves it. The last message of the file is
//!   complete once the file has not grown for [`MBOX_QUIET`] (in `replay`: at the end of the
//!   file). A mail client that deletes or flags messages rewrites the mbox (in place, or as a
//!   new file renamed over it), so offsets say nothing after that: each message is also known
//!   by a key (its `Message-ID`, else a CRC of its bytes) kept in the state like Maildir names,
//!   and a rewritten mbox is read again from its start, counting only messages with a new key;
//!   at the end of that pass the keys of messages no longer in the file are dropped. (Two
//!   messages with the same `Message-ID` count once; reporting MTAs give each notice its own.)
//!
//! On a first start (no saved state for the source) a mailbox that exists is followed from
//! "its end", as log files are: the messages already there are remembered, not counted
//! (`replay` counts them). One message is one record of `smtp_status_exporter_lines_total`:
//! `counted` (a notice, however many recipients it reports; an expiry notice's recipients
//! count under `smtp_expired_total`, not as replies), `ignored` (not a notice),
//! `unrecognised` (unreadable).
//!
//! [`Reading::messages`]: crate::aggregate::Reading::messages

mod follow;
use follow::*;

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{ErrorKind, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;

use super::identity::Fingerprint;
use super::{Running, Source};
use crate::aggregate::{
    Aggregator, Counters, LineResult, Position, RotationKind, SourceId, SourceState,
};
use crate::parse::dsn::{self, Report};

/// One configured mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxSpec {
    /// The `source` label.
    pub name: String,
    pub path: PathBuf,
}

impl MailboxSpec {
    /// What the source reads, as shown on `/` and kept in the state file.
    pub fn location(&self) -> String {
        self.path.display().to_string()
    }
}

/// The mailboxes of `--mailbox.path`: source `dsn`, or `dsn-1`, `dsn-2`, … for several.
pub fn from_flags(paths: &[PathBuf]) -> Vec<MailboxSpec> {
    let n = paths.len();
    paths
        .iter()
        .enumerate()
        .map(|(i, p)| MailboxSpec {
            name: if n == 1 {
                dsn::MTA.to_owned()
            } else {
                format!("{}-{}", dsn::MTA, i + 1)
            },
            path: p.clone(),
        })
        .collect()
}

/// How often a mailbox is looked at.
pub const POLL_INTERVAL: Duration = Duration::from_secs(1);
/// An mbox's last message is complete once the file has not grown for this long.
pub const MBOX_QUIET: Duration = Duration::from_secs(2);
/// A message larger than this is counted `unrecognised` and not parsed (memory bound).
pub const MAX_MESSAGE: usize = 64 * 1024 * 1024;
/// Listings a Maildir file must be missing from before its name is forgotten.
const FORGET_AFTER: u8 = 3;

/// Whether `path` is a Maildir: a directory with `new/`, `cur/` and `tmp/`.
pub fn is_maildir(path: &Path) -> bool {
    ["new", "cur", "tmp"].iter().all(|d| path.join(d).is_dir())
}

/// A Maildir file name's unique part: before the `:2,` info (and any other `:` suffix).
pub fn unique_name(file_name: &str) -> &str {
    file_name.split_once(':').map_or(file_name, |(u, _)| u)
}

/// Counts one message into `agg`: one record, its replies.
pub fn count_message(agg: &mut Aggregator, source: SourceId, message: &[u8]) -> LineResult {
    if message.len() > MAX_MESSAGE {
        agg.count_line(source, LineResult::Unrecognised);
        return LineResult::Unrecognised;
    }
    match dsn::parse(message) {
        Report::Replies(v) => {
            // An expiry notice counts one expiry per recipient it names, not a reply.
            let expired = v.iter().filter(|r| r.expired).count();
            agg.count_expired(source, expired as u64);
            let replies = v.iter().filter(|r| !r.expired);
            agg.record_replies(source, replies.map(dsn::DsnReply::reply));
            LineResult::Counted
        }
        Report::NotABounce => {
            agg.count_line(source, LineResult::Ignored);
            LineResult::Ignored
        }
        Report::Unreadable => {
            agg.count_line(source, LineResult::Unrecognised);
            LineResult::Unrecognised
        }
    }
}

/// A Maildir message's bytes; `None` for one over [`MAX_MESSAGE`] (not read at all).
fn read_message(path: &Path) -> std::io::Result<Option<Vec<u8>>> {
    let mut f = File::open(path)?;
    let len = f.metadata()?.len();
    if len > MAX_MESSAGE as u64 {
        return Ok(None);
    }
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    f.read_to_end(&mut bytes)?;
    Ok(Some(bytes))
}

/// The messages of a Maildir: (unique name, path), `new/` listed before `cur/`, each unique
/// name once, sorted by name (Maildir names start with the delivery time).
fn list_maildir(dir: &Path) -> std::io::Result<Vec<(String, PathBuf)>> {
    let mut seen: HashMap<String, PathBuf> = HashMap::new();
    for sub in ["new", "cur"] {
        for entry in fs::read_dir(dir.join(sub))? {
            let entry = entry?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else {
                continue;
            };
            // Dot files are not messages (Dovecot and others keep their own files there).
            if name.starts_with('.') {
                continue;
            }
            seen.entry(unique_name(name).to_owned())
                .or_insert_with(|| entry.path());
        }
    }
    let mut v: Vec<_> = seen.into_iter().collect();
    v.sort_unstable();
    Ok(v)
}

/// Splits mbox bytes into messages: the length of the first message in `buf` (up to the start
/// of the next `From ` line), if another one follows it.
fn next_boundary(buf: &[u8]) -> Option<usize> {
    // From the second byte: the `From ` line at the very start is this message's own.
    memchr::memmem::find(buf.get(1..)?, b"\nFrom ").map(|i| i + 2)
}

/// What an mbox message is known by across rewrites of the file: its `Message-ID` (a mail
/// client rewriting the mbox adds `Status:` headers, it keeps the id), else a CRC of its bytes.
/// At most 256 bytes of the id are kept.
fn message_key(message: &[u8]) -> String {
    let id = mail_parser::MessageParser::default()
        .parse_headers(message)
        .and_then(|h| h.message_id().map(str::to_owned));
    match id {
        Some(mut id) => {
            let mut cut = id.len().min(256);
            while !id.is_char_boundary(cut) {
                cut -= 1;
            }
            id.truncate(cut);
            format!("id:{id}")
        }
        None => format!("crc:{:08x}:{}", crc32fast::hash(message), message.len()),
    }
}

/// A message of an mbox without its `From ` line.
fn strip_from_line(message: &[u8]) -> &[u8] {
    if message.starts_with(b"From ") {
        match memchr::memchr(b'\n', message) {
            Some(i) => message.get(i + 1..).unwrap_or_default(),
            None => &[],
        }
    } else {
        message
    }
}

// ---------------------------------------------------------------------------------------------
// replay

/// `replay`: counts every message of a Maildir or an mbox file once, from the first.
pub fn replay(path: &Path, source: SourceId, agg: &mut Aggregator) -> anyhow::Result<()> {
    if path.is_dir() {
        if !is_maildir(path) {
            anyhow::bail!(
                "{}: a directory that is not a Maildir (it needs new/, cur/ and tmp/)",
                path.display()
            );
        }
        let list = list_maildir(path).with_context(|| format!("cannot list {}", path.display()))?;
        for (_, file) in list {
            match read_message(&file) {
                Ok(Some(bytes)) => {
                    agg.add_bytes(source, bytes.len() as u64);
                    count_message(agg, source, &bytes);
                }
                Ok(None) => agg.count_line(source, LineResult::Unrecognised),
                // Moved or deleted since the listing: nothing to read.
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => {
                    agg.add_read_error(source);
                    tracing::warn!("cannot read {}: {e}", file.display());
                }
            }
        }
        return Ok(());
    }
    let mut f = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut mbox = MboxReader::default();
    let mut chunk = vec![0; super::CHUNK];
    loop {
        let n = match f.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        agg.add_bytes(source, n as u64);
        mbox.feed(chunk.get(..n).unwrap_or_default());
        while let Some(m) = mbox.next_message() {
            count_message(agg, source, strip_from_line(&m));
        }
    }
    if let Some(m) = mbox.finish() {
        count_message(agg, source, strip_from_line(&m));
    }
    Ok(())
}

/// Splits an mbox stream into messages; bytes of a message over [`MAX_MESSAGE`] are dropped
/// (the message is still handed out, cut, and then counted `unrecognised`).
#[derive(Debug, Default)]
struct MboxReader {
    buf: Vec<u8>,
    /// Bytes handed out as messages so far (the offset of `buf`'s start in the stream).
    consumed: u64,
}

impl MboxReader {
    fn feed(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete message (one followed by another `From ` line).
    fn next_message(&mut self) -> Option<Vec<u8>> {
        self.next_message_at().map(|(_, m)| m)
    }

    /// The next complete message and where it starts in the stream.
    fn next_message_at(&mut self) -> Option<(u64, Vec<u8>)> {
        loop {
            let end = next_boundary(&self.buf)?;
            let rest = self.buf.split_off(end);
            let at = self.consumed;
            self.consumed += end as u64;
            let m = std::mem::replace(&mut self.buf, rest);
            // Empty lines before the first `From ` line are no message.
            if !m.iter().all(u8::is_ascii_whitespace) {
                return Some((at, m));
            }
        }
    }

    /// What is left, as the last message (at the end of the file, or once it is quiet).
    fn finish(&mut self) -> Option<Vec<u8>> {
        self.finish_at().map(|(_, m)| m)
    }

    fn finish_at(&mut self) -> Option<(u64, Vec<u8>)> {
        let at = self.consumed;
        self.consumed += self.buf.len() as u64;
        if self.buf.iter().all(u8::is_ascii_whitespace) {
            self.buf.clear();
            return None;
        }
        Some((at, std::mem::take(&mut self.buf)))
    }

    fn too_large(&self) -> bool {
        self.buf.len() > MAX_MESSAGE
    }
}

/// Follows the mailboxes on a thread until `stop` is set.
pub fn run(mut followers: Vec<Follower>, agg: Counters, stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::Relaxed) {
        for f in &mut followers {
            f.poll(&agg);
        }
        // Sleep in short steps so a stop is not kept waiting.
        let until = Instant::now() + POLL_INTERVAL;
        while Instant::now() < until && !stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// The bounce mailboxes of the plan, followed on one thread (their [`Source`]).
#[derive(Debug)]
pub struct Mailboxes(Vec<(SourceId, PathBuf)>);

impl Mailboxes {
    pub fn new(boxes: Vec<(SourceId, PathBuf)>) -> Self {
        Mailboxes(boxes)
    }
}

impl Source for Mailboxes {
    fn start(self: Box<Self>, counters: &Counters) -> anyhow::Result<Running> {
        let followers: Vec<Follower> = {
            let g = counters.lock();
            self.0
                .into_iter()
                .map(|(id, path)| {
                    let restored = g.source(id).is_some_and(|s| s.restored);
                    Follower::new(id, path, restored)
                })
                .collect()
        };
        let agg = counters.clone();
        Running::thread("mailbox", move |stop| run(followers, agg, stop))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_names() {
        assert_eq!(
            unique_name("1700000000.M1P2.host:2,S"),
            "1700000000.M1P2.host"
        );
        assert_eq!(unique_name("1700000000.M1P2.host"), "1700000000.M1P2.host");
        assert_eq!(
            unique_name("1700000000.M1P2.host,S=1234:2,RS"),
            "1700000000.M1P2.host,S=1234"
        );
    }

    #[test]
    fn mbox_is_split_on_from_lines() {
        let mut r = MboxReader::default();
        r.feed(
            b"\n\nFrom a@x Mon Nov 23 00:00:00 2026\nSubject: 1\n\n>From quoted\n\nFrom b@x Mon",
        );
        let m = r.next_message().unwrap();
        assert!(m.ends_with(b">From quoted\n\n"));
        assert_eq!(strip_from_line(&m), b"Subject: 1\n\n>From quoted\n\n");
        assert_eq!(r.next_message(), None);
        r.feed(b" Nov 23 00:00:01 2026\nSubject: 2\n\nbody\n");
        assert_eq!(r.next_message(), None);
        let last = r.finish().unwrap();
        assert_eq!(strip_from_line(&last), b"Subject: 2\n\nbody\n");
        assert_eq!(r.consumed, 113);
        assert_eq!(r.finish(), None);
    }
}
