//! `replay`: read files to their end once, from the first byte. Compressed rotated logs (gzip,
//! zstd, xz, bzip2) and zstd-compressed files (KumoMTA's log segments) are recognised by their
//! magic bytes, whatever their name ([`super::compressed`]).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::Path;

use anyhow::Context;

use super::compressed::{self, Codec};
use super::lines::LineSplitter;
use super::{FileParser, CHUNK};
use crate::aggregate::{Aggregator, SourceId};

/// Reads `path` (plain or compressed) and counts every line into `agg`, with a fresh copy of
/// `parser` (a file's header is its own).
pub fn replay_file(
    path: &Path,
    source: SourceId,
    parser: &FileParser,
    agg: &mut Aggregator,
) -> anyhow::Result<()> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let split = Split {
        threads,
        min_part: SPLIT_MIN,
        part_domains: PART_DOMAINS,
    };
    replay_file_split(path, source, parser, agg, split)
}

/// How [`replay_file_split`] may cut a file.
#[derive(Debug, Clone, Copy)]
pub struct Split {
    /// At most this many parts, each on a thread of its own.
    pub threads: usize,
    /// No part smaller than this many bytes.
    pub min_part: u64,
    /// How many distinct domains a part keeps before it is counted again in turn.
    pub part_domains: usize,
}

/// A plain file at least this large per thread is read by several threads at once.
pub const SPLIT_MIN: u64 = 16 * 1024 * 1024;

/// [`replay_file`] with the way to cut the file given.
///
/// A plain file read by a parser whose lines stand alone (no header to learn first) is cut at
/// line boundaries into up to `threads` parts of at least `min_part` bytes; each part is
/// counted into an aggregator of its own on its own thread, and the parts are merged in file
/// order, which gives the same counts and the same bounded labels as one pass.
pub fn replay_file_split(
    path: &Path,
    source: SourceId,
    parser: &FileParser,
    agg: &mut Aggregator,
    split: Split,
) -> anyhow::Result<()> {
    // `auto`: decided from the file's head before it may be cut into parts (a header-driven
    // format must not be), which counts every line as one pass would (see parse::auto).
    let parser = &parser.for_path(path).detected_in(path);
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let size = file.metadata().map_or(0, |m| m.len());
    let parts = usize::try_from(size / split.min_part.max(1))
        .unwrap_or(usize::MAX)
        .min(split.threads);
    let codec = Codec::of_file(&file).unwrap_or(None);
    if parts > 1 && codec.is_none() && parser.lines_stand_alone() {
        return replay_parts(
            path,
            &file,
            size,
            (parts, split.part_domains),
            source,
            parser,
            agg,
        )
        .with_context(|| format!("error while reading {}", path.display()));
    }
    let decoded = compressed::open_file(file, CHUNK).with_context(|| {
        let what = codec.map_or(String::new(), |c| format!(" ({})", c.name()));
        format!("cannot read {}{what}", path.display())
    })?;
    let mut input: Box<dyn Read> = if codec == Some(Codec::Zstd) {
        Box::new(EndAtCut {
            inner: decoded.reader,
            path,
        })
    } else {
        decoded.reader
    };
    replay_reader(&mut input, source, &mut parser.clone(), agg)
        .with_context(|| format!("error while reading {}", path.display()))
}

fn replay_parts(
    path: &Path,
    file: &File,
    size: u64,
    (parts, part_domains): (usize, usize),
    source: SourceId,
    parser: &FileParser,
    agg: &mut Aggregator,
) -> std::io::Result<()> {
    let bounds = split_points(file, size, parts)?;
    let ranges: Vec<(u64, u64)> = bounds.windows(2).map(|w| (w[0], w[1])).collect();
    let counted: Vec<std::io::Result<Aggregator>> = std::thread::scope(|scope| {
        let workers: Vec<_> = ranges
            .iter()
            .map(|&(start, end)| {
                let mut part = agg.empty_part(part_domains);
                let mut parser = parser.clone();
                scope.spawn(move || {
                    read_range(path, start, end, source, &mut parser, &mut part)?;
                    Ok(part)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| {
                w.join()
                    .unwrap_or_else(|_| Err(std::io::Error::other("a reader thread panicked")))
            })
            .collect()
    });
    for (part, &(start, end)) in counted.into_iter().zip(&ranges) {
        let part = part?;
        if part.folded_domains() {
            // More distinct domains in this part than it could keep: the names it folded may
            // have labels from earlier parts. Count it again, in turn, after them.
            read_range(path, start, end, source, &mut parser.clone(), agg)?;
        } else {
            agg.merge(part);
        }
    }
    Ok(())
}

/// How many distinct domains a part may keep before it must be counted again in turn: room
/// for the labels of earlier parts and its own, a few MB at most. Real mail logs stay far
/// below; a flood of distinct domains is still counted exactly, only not in parallel.
const PART_DOMAINS: usize = 16 * 1024;

fn read_range(
    path: &Path,
    start: u64,
    end: u64,
    source: SourceId,
    parser: &mut FileParser,
    agg: &mut Aggregator,
) -> std::io::Result<()> {
    let mut f = File::open(path)?;
    f.seek(SeekFrom::Start(start))?;
    replay_reader(&mut f.take(end - start), source, parser, agg)
}

/// `parts + 1` offsets from 0 to `size`, each inner one just after a newline near an even
/// share, so that no line is cut.
fn split_points(file: &File, size: u64, parts: usize) -> std::io::Result<Vec<u64>> {
    let mut points = vec![0u64];
    let mut buf = vec![0u8; 64 * 1024];
    for i in 1..parts {
        let mut at = (size / parts as u64 * i as u64).max(points.last().copied().unwrap_or(0));
        loop {
            let n = file.read_at(&mut buf, at)?;
            if n == 0 {
                at = size;
                break;
            }
            if let Some(k) = memchr::memchr(b'\n', &buf[..n]) {
                at += k as u64 + 1;
                break;
            }
            at += n as u64;
        }
        points.push(at.min(size));
    }
    points.push(size);
    points.dedup();
    Ok(points)
}

/// A zstd stream that ends inside a frame — KumoMTA's segment still being written, or a file
/// cut short — ends there: what could be decompressed is counted (a cut last line as
/// `unrecognised`), and the cut is said.
struct EndAtCut<'p, R> {
    inner: R,
    path: &'p Path,
}

impl<R: Read> Read for EndAtCut<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self.inner.read(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                tracing::warn!(
                    path = %self.path.display(),
                    "compressed file ends inside a frame (still being written?): counted what it holds so far"
                );
                Ok(0)
            }
            r => r,
        }
    }
}

/// Counts every line of a byte stream into `agg`.
pub fn replay_reader(
    input: &mut dyn Read,
    source: SourceId,
    parser: &mut FileParser,
    agg: &mut Aggregator,
) -> std::io::Result<()> {
    let mut buf = vec![0u8; CHUNK];
    let mut splitter = LineSplitter::default();
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        agg.add_bytes(source, n as u64);
        splitter.feed(&buf[..n], |line| parser.ingest(agg, source, line));
    }
    splitter.finish(|line| parser.ingest(agg, source, line));
    Ok(())
}
