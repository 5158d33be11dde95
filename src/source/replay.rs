//! `replay`: read files to their end once, from the first byte. Gzip-compressed rotated logs
//! are recognised by their magic bytes, whatever their name.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use anyhow::Context;
use flate2::bufread::MultiGzDecoder;

use super::lines::LineSplitter;
use super::{ingest, CHUNK};
use crate::aggregate::{Aggregator, SourceId};
use crate::parse::Format;

/// Reads `path` (plain or gzip) and counts every line into `agg`.
pub fn replay_file(
    path: &Path,
    source: SourceId,
    format: Format,
    agg: &mut Aggregator,
) -> anyhow::Result<()> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut reader = BufReader::with_capacity(CHUNK, file);
    let gz = reader
        .fill_buf()
        .with_context(|| format!("cannot read {}", path.display()))?
        .starts_with(&[0x1f, 0x8b]);
    let mut input: Box<dyn Read> = if gz {
        Box::new(MultiGzDecoder::new(reader))
    } else {
        Box::new(reader)
    };
    replay_reader(&mut input, source, format, agg)
        .with_context(|| format!("error while reading {}", path.display()))
}

/// Counts every line of a byte stream into `agg`.
pub fn replay_reader(
    input: &mut dyn Read,
    source: SourceId,
    format: Format,
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
        splitter.feed(&buf[..n], |line| ingest(agg, source, format, line));
    }
    splitter.finish(|line| ingest(agg, source, format, line));
    Ok(())
}
