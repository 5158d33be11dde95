//! One open file of a tailer: plain, or compressed while the exporter was down (gzip, zstd, xz
//! or bzip2), with how far it has been counted and its own parser.

use super::*;
use crate::source::compressed::{self, Codec, Decoded};

#[derive(Debug)]
pub(super) enum Reader {
    Plain(File),
    /// A rotated file compressed while the exporter was down: read once, to its end.
    Compressed(Decoded),
}

/// An open file and how far it has been counted.
#[derive(Debug)]
pub(super) struct OpenFile {
    pub(super) reader: Reader,
    pub(super) path: PathBuf,
    pub(super) id: (u64, u64),
    pub(super) fp: Fingerprint,
    /// Bytes consumed (of the decompressed content, for a compressed file).
    pub(super) offset: u64,
    pub(super) splitter: LineSplitter,
    /// This file's parser (a header-driven format learns its columns from the file's header).
    pub(super) parser: FileParser,
}

/// How much of a file's start is shown to a header-driven parser that starts inside the file.
pub(super) const HEAD_MAX: u64 = 64 * 1024;

impl OpenFile {
    /// Opens a plain file at `offset` with a fresh copy of `parser`; `skip_partial`: the offset
    /// may be inside a line.
    pub(super) fn plain(
        path: &Path,
        offset: u64,
        skip_partial: bool,
        parser: &FileParser,
    ) -> std::io::Result<OpenFile> {
        let mut file = File::open(path)?;
        let meta = file.metadata()?;
        let fp = Fingerprint::read(&file, meta.len())?;
        let mut parser = parser.clone();
        if offset > 0 && parser.reads_header() {
            // Starting inside the file: the header line at its top was read before.
            let mut head = vec![0u8; offset.min(HEAD_MAX) as usize];
            let n = read_full_at(&file, &mut head)?;
            parser.prime(&head[..n]);
        }
        let mut splitter = LineSplitter::default();
        if skip_partial && offset > 0 {
            // Starting inside a line would count its tail as a line of its own.
            let mut last = [0u8; 1];
            if !matches!(file.read_at(&mut last, offset - 1), Ok(1) if last[0] == b'\n') {
                splitter.skip_to_next_line();
            }
        }
        file.seek(SeekFrom::Start(offset))?;
        Ok(OpenFile {
            reader: Reader::Plain(file),
            path: path.to_path_buf(),
            id: (meta.dev(), meta.ino()),
            fp,
            offset,
            splitter,
            parser,
        })
    }

    /// Opens the compressed form of the file of `pos` and skips what was counted.
    pub(super) fn compressed(
        path: &Path,
        pos: &Position,
        parser: &FileParser,
    ) -> std::io::Result<OpenFile> {
        let mut decoded = compressed::open(path)?;
        let dec = &mut decoded.reader;
        let mut parser = parser.clone();
        let mut skipped = 0;
        if parser.reads_header() {
            let mut head = Vec::new();
            skipped += dec.take(pos.offset.min(HEAD_MAX)).read_to_end(&mut head)? as u64;
            parser.prime(&head);
        }
        skipped += std::io::copy(&mut dec.take(pos.offset - skipped), &mut std::io::sink())?;
        if skipped < pos.offset {
            return Err(std::io::Error::new(
                ErrorKind::UnexpectedEof,
                "compressed file is shorter than the saved position",
            ));
        }
        Ok(OpenFile {
            reader: Reader::Compressed(decoded),
            path: path.to_path_buf(),
            id: (pos.dev, pos.ino),
            fp: Fingerprint::of(pos),
            offset: pos.offset,
            splitter: LineSplitter::default(),
            parser,
        })
    }

    /// Opens a rotated file none of which was read, plain or compressed (by its magic bytes).
    /// A compressed one's fingerprint is that of its decompressed first bytes, so a restart
    /// finds it again as it finds any compressed file.
    pub(super) fn from_start(path: &Path, parser: &FileParser) -> std::io::Result<OpenFile> {
        if Codec::of_file(&File::open(path)?)?.is_none() {
            return Self::plain(path, 0, false, parser);
        }
        let meta = std::fs::metadata(path)?;
        let fp = Fingerprint::of_compressed(path)?;
        let start = Position {
            dev: meta.dev(),
            ino: meta.ino(),
            offset: 0,
            fp_len: fp.len,
            fp_crc: fp.crc,
        };
        Self::compressed(path, &start, parser)
    }

    pub(super) fn file(&self) -> Option<&File> {
        match &self.reader {
            Reader::Plain(f) => Some(f),
            Reader::Compressed(_) => None,
        }
    }

    pub(super) fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match &mut self.reader {
            Reader::Plain(f) => f.read(buf),
            Reader::Compressed(d) => d.reader.read(buf),
        }
    }

    /// The position to save: up to the end of the last complete line.
    pub(super) fn position(&self) -> Position {
        Position {
            dev: self.id.0,
            ino: self.id.1,
            offset: self.offset.saturating_sub(self.splitter.pending() as u64),
            fp_len: self.fp.len,
            fp_crc: self.fp.crc,
        }
    }
}

/// Reads from the start of `file` until `buf` is full or the file ends.
pub(super) fn read_full_at(file: &File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read_at(&mut buf[n..], n as u64) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}
