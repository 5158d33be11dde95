//! Knowing a file again: by device and inode, and by a fingerprint of its first bytes.
//!
//! The inode alone is not enough: a deleted file's inode is reused by the next file created,
//! `copytruncate` keeps the inode while the content starts over, and compressing a rotated file
//! (`mail.log.1` → `mail.log.1.gz`, `.zst`, `.xz`, `.bz2`) gives it a new inode. The CRC of the
//! first bytes tells these apart, and finds a file again after it was compressed.

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::compressed::{self, is_compressed_name};
use crate::aggregate::Position;

/// How many leading bytes the fingerprint covers, once the file has that many.
pub const FP_MAX: u32 = 1024;

/// CRC-32 of a file's first `len` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint {
    pub len: u32,
    pub crc: u32,
}

impl Fingerprint {
    pub fn of(pos: &Position) -> Fingerprint {
        Fingerprint {
            len: pos.fp_len,
            crc: pos.fp_crc,
        }
    }

    /// The fingerprint of the first `min(size, FP_MAX)` bytes of an open file.
    pub fn read(file: &File, size: u64) -> io::Result<Fingerprint> {
        let len = u32::try_from(size.min(u64::from(FP_MAX))).unwrap_or(FP_MAX);
        Self::read_len(file, len)
    }

    /// The fingerprint of exactly the first `len` bytes; an error if the file is shorter.
    pub fn read_len(file: &File, len: u32) -> io::Result<Fingerprint> {
        let mut buf = vec![0u8; len as usize];
        file.read_exact_at(&mut buf, 0)?;
        Ok(Fingerprint {
            len,
            crc: crc32fast::hash(&buf),
        })
    }

    /// Whether an open plain file starts with the bytes this fingerprint was taken of.
    pub fn matches_file(self, file: &File) -> bool {
        Self::read_len(file, self.len).is_ok_and(|f| f == self)
    }

    /// The fingerprint of the first `FP_MAX` decompressed bytes of a compressed file (fewer if
    /// it holds fewer).
    pub fn of_compressed(path: &Path) -> io::Result<Fingerprint> {
        let mut buf = Vec::with_capacity(FP_MAX as usize);
        compressed::open(path)?
            .reader
            .take(u64::from(FP_MAX))
            .read_to_end(&mut buf)?;
        Ok(Fingerprint {
            len: u32::try_from(buf.len()).unwrap_or(FP_MAX),
            crc: crc32fast::hash(&buf),
        })
    }

    /// Whether the decompressed content of a compressed file starts with those bytes.
    fn matches_compressed(self, path: &Path) -> bool {
        let Ok(mut d) = compressed::open(path) else {
            return false;
        };
        let mut buf = vec![0u8; self.len as usize];
        d.reader.read_exact(&mut buf).is_ok() && crc32fast::hash(&buf) == self.crc
    }
}

/// Where a file known by a saved position is now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// The same file (same inode and fingerprint), at this path.
    Plain(PathBuf),
    /// Compressed since (gzip, zstd, xz or bzip2): the decompressed content starts with the
    /// fingerprinted bytes.
    Compressed(PathBuf),
}

/// Looks for the file of `pos` at `path` and among its rotated names in the same directory
/// (`mail.log.1`, `mail.log.2.gz`, `mail.log-20261122`, `mail.log-20261122.zst`, …).
pub fn locate(path: &Path, pos: &Position) -> Option<Found> {
    if is_same_file(path, pos) {
        return Some(Found::Plain(path.to_path_buf()));
    }
    locate_elsewhere(path, pos)
}

/// Like [`locate`], but only among the rotated names: the file renamed away, or the copy
/// `copytruncate` made of it before emptying it (another inode, the same first bytes, at least
/// as long as what was read), compressed or not.
pub fn locate_elsewhere(path: &Path, pos: &Position) -> Option<Found> {
    let fp = Fingerprint::of(pos);
    let candidates = rotated_names(path);
    if let Some(p) = candidates.iter().find(|p| is_same_file(p, pos)) {
        return Some(Found::Plain(p.clone()));
    }
    // Without fingerprinted bytes a copy cannot be told from another file.
    if fp.len == 0 {
        return None;
    }
    let is_copy = |p: &Path| {
        File::open(p)
            .is_ok_and(|f| f.metadata().is_ok_and(|m| m.len() >= pos.offset) && fp.matches_file(&f))
    };
    // By name: a compressor's ending. What it is compressed with, the magic bytes tell.
    let (packed, plain): (Vec<PathBuf>, Vec<PathBuf>) =
        candidates.into_iter().partition(|p| is_compressed_name(p));
    if let Some(p) = plain.into_iter().find(|p| is_copy(p)) {
        return Some(Found::Plain(p));
    }
    packed
        .into_iter()
        .find(|p| fp.matches_compressed(p))
        .map(Found::Compressed)
}

/// The same inode, at least as long as what was read, with the same first bytes.
fn is_same_file(p: &Path, pos: &Position) -> bool {
    File::open(p).is_ok_and(|f| {
        f.metadata()
            .is_ok_and(|m| (m.dev(), m.ino()) == (pos.dev, pos.ino) && m.len() >= pos.offset)
            && Fingerprint::of(pos).matches_file(&f)
    })
}

/// Files in the directory of `path` whose names are `path`'s name followed by `.`, `-` or `_`
/// and more: the names logrotate and newsyslog give rotated files. Newest first where the
/// names tell (`.1` before `.2`; dates sort as text). A compressed file whose plain original is
/// still there (`mail.log.1.gz` beside `mail.log.1`) is left out: it is being written, and
/// the original is the whole file.
pub fn rotated_names(path: &Path) -> Vec<PathBuf> {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return Vec::new();
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let name = name.as_encoded_bytes();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let found: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|e| {
            let n = e.file_name();
            let n = n.as_encoded_bytes();
            n.len() > name.len() + 1
                && n.starts_with(name)
                && matches!(n.get(name.len()), Some(b'.' | b'-' | b'_'))
        })
        .map(|e| e.path())
        .collect();
    let being_compressed = |p: &PathBuf| {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let stem = compressed::strip_compressed_ext(name);
        stem != name && found.iter().any(|q| q.file_name() == Some(stem.as_ref()))
    };
    let mut found: Vec<PathBuf> = found
        .iter()
        .filter(|p| !being_compressed(p))
        .cloned()
        .collect();
    found.sort_by_key(|p| rotation_order(p));
    found
}

/// The rotations of `path` newer than `at` (one of them): the files rotated after it, oldest
/// first. Only names of the same scheme as `at` count — numbered (`.1`, `.2.gz`) or dated
/// (`-20261205`, `-20261205.zst`), compressed or not — so a stale file of another scheme is
/// never taken for one.
pub fn rotated_after(path: &Path, at: &Path) -> Vec<PathBuf> {
    let Some(scheme) = scheme_of(path, at) else {
        return Vec::new();
    };
    let names = rotated_names(path);
    let Some(i) = names.iter().position(|p| p == at) else {
        return Vec::new();
    };
    let mut newer: Vec<PathBuf> = names
        .into_iter()
        .take(i)
        .filter(|p| scheme_of(path, p) == Some(scheme))
        .collect();
    newer.reverse();
    newer
}

/// The rotations of `path` (numbered or dated names, compressed or not) last written at or
/// after `since`, oldest first: by modification time, which compressing keeps (logrotate,
/// gzip, zstd, xz and bzip2 copy it), then by name where the times are the same.
pub fn rotated_since(path: &Path, since: SystemTime) -> Vec<PathBuf> {
    let mut found: Vec<(SystemTime, PathBuf)> = rotated_names(path)
        .into_iter()
        .rev()
        .filter(|p| scheme_of(path, p).is_some())
        .filter_map(|p| {
            let mtime = std::fs::metadata(&p).and_then(|m| m.modified()).ok()?;
            (mtime >= since).then_some((mtime, p))
        })
        .collect();
    // Stable: the same time keeps the names' order, oldest first.
    found.sort_by_key(|(t, _)| *t);
    found.into_iter().map(|(_, p)| p).collect()
}

/// How logrotate named a rotation of `path`: numbered, or dated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scheme {
    Numbered,
    Dated,
}

fn scheme_of(path: &Path, rotated: &Path) -> Option<Scheme> {
    let base = path.file_name()?.to_str()?;
    let name = rotated.file_name()?.to_str()?;
    let rest = name.strip_prefix(base)?;
    let rest = compressed::strip_compressed_ext(rest);
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit() || b == b'-');
    match rest.as_bytes().first()? {
        b'.' if rest[1..].bytes().all(|b| b.is_ascii_digit()) && rest.len() > 1 => {
            Some(Scheme::Numbered)
        }
        b'-' | b'_' if digits(&rest[1..]) => Some(Scheme::Dated),
        _ => None,
    }
}

/// Sort key: numbered rotations by number, dated ones newest first, then the rest by name.
fn rotation_order(p: &Path) -> (u8, u64, std::cmp::Reverse<PathBuf>) {
    let stem = p.to_string_lossy();
    let stem = compressed::strip_compressed_ext(&stem);
    match stem
        .rsplit_once('.')
        .and_then(|(_, n)| n.parse::<u64>().ok())
    {
        Some(n) => (0, n, std::cmp::Reverse(PathBuf::new())),
        None => (1, 0, std::cmp::Reverse(p.to_path_buf())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::compressed::tests::compress;
    use crate::source::compressed::Codec;
    use std::io::Write;

    fn names(v: Vec<PathBuf>) -> Vec<String> {
        v.iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect()
    }

    fn position_of(path: &Path, offset: u64) -> Position {
        let f = File::open(path).unwrap();
        let m = f.metadata().unwrap();
        let fp = Fingerprint::read(&f, m.len()).unwrap();
        Position {
            dev: m.dev(),
            ino: m.ino(),
            offset,
            fp_len: fp.len,
            fp_crc: fp.crc,
        }
    }

    #[test]
    fn finds_a_renamed_file_and_a_compressed_one() {
        for codec in [Codec::Gzip, Codec::Zstd, Codec::Xz, Codec::Bzip2] {
            let dir = tempfile::tempdir().unwrap();
            let log = dir.path().join("mail.log");
            std::fs::write(&log, "first line\nsecond line\n").unwrap();
            let pos = position_of(&log, 11);
            assert_eq!(locate(&log, &pos), Some(Found::Plain(log.clone())));

            let rotated = dir.path().join("mail.log.1");
            std::fs::rename(&log, &rotated).unwrap();
            std::fs::write(&log, "a new file\n").unwrap();
            assert_eq!(locate(&log, &pos), Some(Found::Plain(rotated.clone())));

            // A stale file of another content, compressed, must not be taken for it.
            let other = dir.path().join("mail.log.2.gz");
            std::fs::write(&other, compress(Codec::Gzip, b"first line, another file\n")).unwrap();
            let ext = ["gz", "zst", "xz", "bz2"][codec as usize];
            let packed = dir.path().join(format!("mail.log.1.{ext}"));
            std::fs::write(&packed, compress(codec, &std::fs::read(&rotated).unwrap())).unwrap();
            std::fs::remove_file(&rotated).unwrap();
            assert_eq!(
                locate(&log, &pos),
                Some(Found::Compressed(packed)),
                "{codec:?}"
            );
        }
    }

    #[test]
    fn finds_the_copy_copytruncate_made() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("mail.log");
        std::fs::write(&log, "Nov 22 first\nNov 22 second\n").unwrap();
        let pos = position_of(&log, 13);
        let copy = dir.path().join("mail.log.1");
        std::fs::copy(&log, &copy).unwrap();
        std::fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(&log)
            .unwrap();
        assert_eq!(locate(&log, &pos), Some(Found::Plain(copy)));
    }

    #[test]
    fn a_rewritten_file_with_the_same_inode_is_not_the_same_file() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("mail.log");
        std::fs::write(&log, "Nov 22 old content\n").unwrap();
        let pos = position_of(&log, 5);
        // copytruncate, then regrown past the old offset
        std::fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(&log)
            .unwrap()
            .write_all(b"Nov 23 new content, longer\n")
            .unwrap();
        assert_eq!(locate(&log, &pos), None);
    }

    #[test]
    fn rotated_names_newest_first() {
        let dir = tempfile::tempdir().unwrap();
        for n in [
            "mail.log",
            "mail.log.2.gz",
            "mail.log.1",
            "mail.log.10.gz",
            "mail.logger",
            "mail.log-20261121",
            "mail.log-20261122.gz",
            "other.log.1",
        ] {
            std::fs::write(dir.path().join(n), "x").unwrap();
        }
        let names: Vec<String> = rotated_names(&dir.path().join("mail.log"))
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            [
                "mail.log.1",
                "mail.log.2.gz",
                "mail.log.10.gz",
                "mail.log-20261122.gz",
                "mail.log-20261121"
            ]
        );
    }

    #[test]
    fn files_rotated_after_the_saved_one_oldest_first_same_scheme_only() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("mail.log");
        for n in [
            "mail.log",
            "mail.log.1",
            "mail.log.2.gz",
            "mail.log.3.gz",
            "mail.log.4.gz",
            "mail.log-20250101.gz",
            "mail.log.state",
        ] {
            std::fs::write(dir.path().join(n), "x\n").unwrap();
        }
        let after = rotated_after(&log, &dir.path().join("mail.log.3.gz"));
        assert_eq!(names(after), ["mail.log.2.gz", "mail.log.1"]);
        assert!(rotated_after(&log, &dir.path().join("mail.log.1")).is_empty());
        let dated = dir.path().join("mail.log-20261205-1765000000.gz");
        std::fs::write(&dated, "x\n").unwrap();
        std::fs::write(dir.path().join("mail.log-20261206-1765086400"), "x\n").unwrap();
        assert_eq!(
            names(rotated_after(&log, &dated)),
            ["mail.log-20261206-1765086400"]
        );
    }

    /// gzip (and logrotate's `compress`) writes `NAME.gz` beside `NAME`, then deletes `NAME`:
    /// meanwhile the compressed file is partial and no newer rotation.
    #[test]
    fn a_file_being_compressed_is_its_plain_original() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("mail.log");
        for n in ["mail.log", "mail.log.1", "mail.log.1.gz", "mail.log.2.zst"] {
            std::fs::write(dir.path().join(n), "x\n").unwrap();
        }
        assert_eq!(names(rotated_names(&log)), ["mail.log.1", "mail.log.2.zst"]);
        assert!(rotated_after(&log, &dir.path().join("mail.log.1")).is_empty());
    }

    #[test]
    fn rotated_since_a_time_oldest_first_rotations_only() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("mail.log");
        let t0 = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_765_000_000);
        let at = |s: u64| t0 + std::time::Duration::from_secs(s);
        for (n, t) in [
            ("mail.log", at(50)),
            ("mail.log.3.zst", at(0)),
            ("mail.log.2.zst", at(20)),
            ("mail.log.1", at(30)),
            ("mail.log-20261205", at(30)),
            ("mail.log.lock", at(40)),
        ] {
            let p = dir.path().join(n);
            std::fs::write(&p, "x\n").unwrap();
            File::options()
                .write(true)
                .open(&p)
                .unwrap()
                .set_modified(t)
                .unwrap();
        }
        assert_eq!(
            names(rotated_since(&log, at(10))),
            ["mail.log.2.zst", "mail.log-20261205", "mail.log.1"]
        );
        assert_eq!(names(rotated_since(&log, at(20))).len(), 3);
        assert!(rotated_since(&log, at(31)).is_empty());
    }

    #[test]
    fn every_compressor_ending_keeps_the_scheme_and_the_order() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("mail.log");
        for n in [
            "mail.log",
            "mail.log.1",
            "mail.log.2.zst",
            "mail.log.3.xz",
            "mail.log.4.bz2",
            "mail.log.5.gz",
            "mail.log.6.lz4",
            "mail.log-20261205.zst",
        ] {
            std::fs::write(dir.path().join(n), "x\n").unwrap();
        }
        assert_eq!(
            names(rotated_after(&log, &dir.path().join("mail.log.5.gz"))),
            [
                "mail.log.4.bz2",
                "mail.log.3.xz",
                "mail.log.2.zst",
                "mail.log.1"
            ]
        );
        // An ending no decoder here reads is not a numbered rotation.
        assert!(rotated_after(&log, &dir.path().join("mail.log.6.lz4")).is_empty());
        assert_eq!(
            scheme_of(&log, &dir.path().join("mail.log-20261205.zst")),
            Some(Scheme::Dated)
        );
    }
}
