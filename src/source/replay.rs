//! `replay`: read files to their end once, from the first byte. Gzip-compressed rotated logs
//! and zstd-compressed files (KumoMTA's log segments) are recognised by their magic bytes,
//! whatever their name.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use anyhow::Context;
use flate2::bufread::MultiGzDecoder;

use super::lines::LineSplitter;
use super::{ingest, CHUNK};
use crate::aggregate::{Aggregator, SourceId};
use crate::parse::Parser;

/// Reads `path` (plain, gzip or zstd) and counts every line into `agg`, with a fresh copy of
/// `parser` (a file's header is its own).
pub fn replay_file(
    path: &Path,
    source: SourceId,
    parser: &Parser,
    agg: &mut Aggregator,
) -> anyhow::Result<()> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut reader = BufReader::with_capacity(CHUNK, file);
    let head = reader
        .fill_buf()
        .with_context(|| format!("cannot read {}", path.display()))?;
    let mut input: Box<dyn Read> = if head.starts_with(&[0x1f, 0x8b]) {
        Box::new(MultiGzDecoder::new(reader))
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Box::new(EndAtCut {
            inner: zstd::stream::read::Decoder::with_buffer(reader)
                .with_context(|| format!("cannot read {} (zstd)", path.display()))?,
            path,
        })
    } else {
        Box::new(reader)
    };
    replay_reader(&mut input, source, &mut parser.clone(), agg)
        .with_context(|| format!("error while reading {}", path.display()))
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
    parser: &mut Parser,
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
        splitter.feed(&buf[..n], |line| ingest(agg, source, parser, line));
    }
    splitter.finish(|line| ingest(agg, source, parser, line));
    Ok(())
}
