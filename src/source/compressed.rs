//! Opening a file that may be compressed: gzip, zstd, xz or bzip2, told by the magic bytes at
//! its start (whatever its name), for `replay` and for the rotated files the tailer reads.
//!
//! logrotate compresses with gzip unless told otherwise (`compresscmd /usr/bin/zstd` with
//! `compressext .zst`, `xz` with `.xz`, `bzip2` with `.bz2`); KumoMTA writes zstd segments.
//! Every decoder reads concatenated streams (`cat a.gz b.gz`, zstd frames) to the end.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::os::unix::fs::FileExt;
use std::path::Path;

/// A compression format, known by its magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    Gzip,
    Zstd,
    Xz,
    Bzip2,
}

/// The file name endings compressors give (logrotate's `compressext`).
pub const EXTENSIONS: [&str; 4] = ["gz", "zst", "xz", "bz2"];

/// How many leading bytes [`Codec::of_magic`] looks at.
const MAGIC_MAX: usize = 6;

impl Codec {
    /// The format whose magic bytes `head` starts with, if any.
    pub fn of_magic(head: &[u8]) -> Option<Codec> {
        if head.starts_with(&[0x1f, 0x8b]) {
            Some(Codec::Gzip)
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Some(Codec::Zstd)
        } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
            Some(Codec::Xz)
        } else if head.starts_with(b"BZh") && head.get(3).is_some_and(|b| (b'1'..=b'9').contains(b))
        {
            // "BZh" and the block size digit: three letters alone would match plain text.
            Some(Codec::Bzip2)
        } else {
            None
        }
    }

    /// The format of an open file, by its first bytes (`None`: plain, or too short to tell).
    pub fn of_file(file: &File) -> io::Result<Option<Codec>> {
        let mut head = [0u8; MAGIC_MAX];
        let mut n = 0;
        while n < head.len() {
            match file.read_at(&mut head[n..], n as u64) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(Codec::of_magic(&head[..n]))
    }

    /// A reader of the decompressed bytes of `input`.
    pub fn decoder<'a, R: BufRead + Send + 'a>(
        self,
        input: R,
    ) -> io::Result<Box<dyn Read + Send + 'a>> {
        Ok(match self {
            Codec::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(input)),
            Codec::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(input)?),
            Codec::Xz => Box::new(liblzma::bufread::XzDecoder::new_multi_decoder(input)),
            Codec::Bzip2 => Box::new(bzip2::bufread::MultiBzDecoder::new(input)),
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Codec::Gzip => "gzip",
            Codec::Zstd => "zstd",
            Codec::Xz => "xz",
            Codec::Bzip2 => "bzip2",
        }
    }
}

/// Whether `p`'s name ends as a compressor names its output (`.gz`, `.zst`, `.xz`, `.bz2`).
pub fn is_compressed_name(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| EXTENSIONS.contains(&e))
}

/// `name` without a compressor's ending.
pub fn strip_compressed_ext(name: &str) -> &str {
    EXTENSIONS
        .iter()
        .find_map(|e| name.strip_suffix(e)?.strip_suffix('.'))
        .unwrap_or(name)
}

/// An open file's content, decompressed where its magic bytes say it is compressed.
pub struct Decoded {
    /// `None`: a plain file, read as it is.
    pub codec: Option<Codec>,
    pub reader: Box<dyn Read + Send>,
}

impl std::fmt::Debug for Decoded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decoded")
            .field("codec", &self.codec)
            .finish_non_exhaustive()
    }
}

/// Opens `path` for reading from its first byte, decompressing it if it is compressed.
pub fn open(path: &Path) -> io::Result<Decoded> {
    open_file(File::open(path)?, 64 * 1024)
}

/// [`open`] for a file already open, read through a buffer of `buf` bytes.
pub fn open_file(file: File, buf: usize) -> io::Result<Decoded> {
    let codec = Codec::of_file(&file)?;
    let input = BufReader::with_capacity(buf, file);
    let reader = match codec {
        Some(c) => c.decoder(input)?,
        None => Box::new(input),
    };
    Ok(Decoded { codec, reader })
}

/// The first `limit` bytes of the file at `path`, decompressed where it is compressed; empty
/// when it cannot be read.
pub fn head(path: &Path, limit: u64) -> Vec<u8> {
    let mut head = Vec::new();
    if let Ok(f) = open(path) {
        if f.reader.take(limit).read_to_end(&mut head).is_err() {
            head.clear();
        }
    }
    head
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::io::Write;

    const TEXT: &[u8] = b"Nov 22 first line\nNov 22 second line\n";

    /// `TEXT` compressed by `codec`, twice over (two concatenated streams).
    pub(crate) fn compress(codec: Codec, text: &[u8]) -> Vec<u8> {
        let one = |t: &[u8]| -> Vec<u8> {
            match codec {
                Codec::Gzip => {
                    let mut e =
                        flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                    e.write_all(t).unwrap();
                    e.finish().unwrap()
                }
                Codec::Zstd => zstd::encode_all(t, 1).unwrap(),
                Codec::Xz => {
                    let mut e = liblzma::write::XzEncoder::new(Vec::new(), 1);
                    e.write_all(t).unwrap();
                    e.finish().unwrap()
                }
                Codec::Bzip2 => {
                    let mut e =
                        bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
                    e.write_all(t).unwrap();
                    e.finish().unwrap()
                }
            }
        };
        let half = text.len() / 2;
        [one(&text[..half]), one(&text[half..])].concat()
    }

    #[test]
    fn every_codec_is_known_by_its_magic_and_read_to_the_end_of_its_last_stream() {
        let dir = tempfile::tempdir().unwrap();
        for codec in [Codec::Gzip, Codec::Zstd, Codec::Xz, Codec::Bzip2] {
            let p = dir.path().join(format!("mail.log.1.{}", codec.name()));
            std::fs::write(&p, compress(codec, TEXT)).unwrap();
            let mut d = open(&p).unwrap();
            assert_eq!(d.codec, Some(codec));
            let mut out = Vec::new();
            d.reader.read_to_end(&mut out).unwrap();
            assert_eq!(out, TEXT, "{codec:?}");
        }
    }

    #[test]
    fn plain_text_is_read_as_it_is() {
        let dir = tempfile::tempdir().unwrap();
        // Starts like a bzip2 magic, but no block size digit follows.
        for text in [&b"BZh, a plain line\n"[..], b"", b"x"] {
            let p = dir.path().join("mail.log");
            std::fs::write(&p, text).unwrap();
            let mut d = open(&p).unwrap();
            assert_eq!(d.codec, None);
            let mut out = Vec::new();
            d.reader.read_to_end(&mut out).unwrap();
            assert_eq!(out, text);
        }
    }

    #[test]
    fn compressed_names() {
        for (name, stem, compressed) in [
            ("mail.log.1.gz", "mail.log.1", true),
            ("mail.log.2.zst", "mail.log.2", true),
            ("mail.log-20261205.xz", "mail.log-20261205", true),
            ("mail.log.3.bz2", "mail.log.3", true),
            ("mail.log.1", "mail.log.1", false),
            ("mail.log.gzip", "mail.log.gzip", false),
        ] {
            assert_eq!(is_compressed_name(Path::new(name)), compressed, "{name}");
            assert_eq!(strip_compressed_ext(name), stem);
        }
    }
}
