//! The state file: a [`Snapshot`] of counters and positions, written atomically (temporary
//! file, fsync, rename, fsync of the directory) so that a crash leaves either the old or the new
//! state, never half of one.

use std::fs::{self, File};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::Context;

use crate::aggregate::snapshot::{Snapshot, MAGIC, VERSION};

/// What was found at start.
#[derive(Debug)]
pub enum Loaded {
    /// No state file: a first start.
    Fresh,
    Restored(Snapshot),
    /// A file that is not usable state (corrupt, foreign, another version) was renamed out of
    /// the way, never overwritten.
    SetAside {
        moved_to: PathBuf,
        reason: String,
    },
}

/// Reads the state file.
pub fn load(path: &Path) -> anyhow::Result<Loaded> {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Loaded::Fresh),
        Err(e) => {
            return Err(e).with_context(|| format!("cannot read state file {}", path.display()))
        }
    };
    match parse(&bytes) {
        Ok(s) => Ok(Loaded::Restored(s)),
        Err(reason) => {
            let moved_to = set_aside(path)?;
            Ok(Loaded::SetAside { moved_to, reason })
        }
    }
}

/// Parses state file bytes (public for the fuzz target of the state loader).
pub fn parse(bytes: &[u8]) -> Result<Snapshot, String> {
    #[derive(serde::Deserialize)]
    struct Header {
        magic: Option<String>,
        version: Option<u32>,
    }
    let header: Header =
        serde_json::from_slice(bytes).map_err(|e| format!("not valid JSON: {e}"))?;
    if header.magic.as_deref() != Some(MAGIC) {
        return Err("not a state file of this exporter".into());
    }
    if header.version != Some(VERSION) {
        return Err(format!(
            "state version {:?}, this exporter reads version {VERSION}",
            header.version
        ));
    }
    serde_json::from_slice(bytes).map_err(|e| format!("damaged state: {e}"))
}

/// Renames an unusable state file to `<name>.bad-<unix time>` and returns the new path.
pub fn set_aside(path: &Path) -> anyhow::Result<PathBuf> {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".bad-{stamp}"));
    let to = path.with_file_name(name);
    fs::rename(path, &to).with_context(|| {
        format!(
            "cannot set the unusable state file {} aside",
            path.display()
        )
    })?;
    Ok(to)
}

/// Writes state; one writer at a time, so snapshots reach the disk in the order they were
/// taken.
#[derive(Debug)]
pub struct StateFile {
    path: PathBuf,
    /// The writer lock, over the mark of the snapshot last written.
    lock: Mutex<u64>,
}

impl StateFile {
    /// Checks that the directory exists or can be made.
    pub fn new(path: PathBuf) -> anyhow::Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir)
                .with_context(|| format!("cannot create the state directory {}", dir.display()))?;
        }
        Ok(StateFile {
            path,
            lock: Mutex::new(0),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Takes a snapshot with `take` (`Aggregator::marked_snapshot`, under the aggregator's
    /// lock) and writes it, holding the writer lock throughout, so snapshots reach the disk in
    /// the order they were taken.
    pub fn save_with(&self, take: impl FnOnce() -> (u64, Snapshot)) -> anyhow::Result<()> {
        let mut written = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        self.write(&mut written, take)
    }

    /// Makes sure the counters a scrape showed are on disk before it is answered (DESIGN §6):
    /// `seen` is `Aggregator::marks()` read with them. When a snapshot taken after them was
    /// written while this scrape waited for the writer, it is done; else it saves as
    /// [`StateFile::save_with`]. So scrapes at once share one write instead of queueing for one
    /// fsync each.
    pub fn save_covering(
        &self,
        seen: u64,
        take: impl FnOnce() -> (u64, Snapshot),
    ) -> anyhow::Result<()> {
        let mut written = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        if *written > seen {
            return Ok(());
        }
        self.write(&mut written, take)
    }

    fn write(
        &self,
        written: &mut u64,
        take: impl FnOnce() -> (u64, Snapshot),
    ) -> anyhow::Result<()> {
        let (mark, snap) = take();
        write_atomically(&self.path, &serde_json::to_vec(&snap)?)
            .with_context(|| format!("cannot write state file {}", self.path.display()))?;
        *written = mark;
        Ok(())
    }
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(".tmp");
    let tmp = path.with_file_name(tmp_name);
    {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    fs::rename(&tmp, path)?;
    // The rename itself is only durable once the directory is.
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::{Aggregator, Bounds};

    #[test]
    fn missing_file_is_a_first_start() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            load(&dir.path().join("state.json")).unwrap(),
            Loaded::Fresh
        ));
    }

    /// A scrape whose view a later write already holds does not write again; one whose view
    /// is newer than the last write does.
    #[test]
    fn scrapes_at_once_share_a_write() {
        let dir = tempfile::tempdir().unwrap();
        let sf = StateFile::new(dir.path().join("state.json")).unwrap();
        let mut agg = Aggregator::new(vec![("postfix".into(), String::new())], &Bounds::default());
        let (a, b) = (agg.marks(), agg.marks());
        let mut writes = 0;
        sf.save_covering(a, || {
            writes += 1;
            agg.marked_snapshot()
        })
        .unwrap();
        // `b` was read before the snapshot just written: covered.
        sf.save_covering(b, || {
            writes += 1;
            agg.marked_snapshot()
        })
        .unwrap();
        assert_eq!(writes, 1);
        // A view read after that write may show more: written again.
        let c = agg.marks();
        sf.save_covering(c, || {
            writes += 1;
            agg.marked_snapshot()
        })
        .unwrap();
        assert_eq!(writes, 2);
    }

    #[test]
    fn saved_state_loads_back() {
        let dir = tempfile::tempdir().unwrap();
        let sf = StateFile::new(dir.path().join("sub/state.json")).unwrap();
        let mut agg = Aggregator::new(vec![("postfix".into(), String::new())], &Bounds::default());
        sf.save_with(|| agg.marked_snapshot()).unwrap();
        match load(sf.path()).unwrap() {
            Loaded::Restored(mut s) => {
                // Saved with the time it was taken: the state's age tells what was written since.
                assert!(
                    s.saved_unix.is_some_and(|t| t > 1.7e9),
                    "{:?}",
                    s.saved_unix
                );
                s.saved_unix = None;
                assert_eq!(s, agg.snapshot());
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn corrupt_empty_and_foreign_files_are_set_aside() {
        for (content, why) in [
            (
                &b"{\"magic\": \"smtp-status-exporter state\", \"version\": 1, \"sour"[..],
                "not valid JSON",
            ),
            (b"", "not valid JSON"),
            (b"{\"hello\": 1}", "not a state file"),
            (
                b"{\"magic\": \"smtp-status-exporter state\", \"version\": 99}",
                "version",
            ),
        ] {
            let dir = tempfile::tempdir().unwrap();
            let p = dir.path().join("state.json");
            fs::write(&p, content).unwrap();
            match load(&p).unwrap() {
                Loaded::SetAside { moved_to, reason } => {
                    assert!(reason.contains(why), "{reason}");
                    assert_eq!(fs::read(&moved_to).unwrap(), content);
                    assert!(!p.exists());
                }
                other => panic!("{other:?}"),
            }
        }
    }
}
