//! Per-source self-metrics and where each source's reader has got to.

use serde::{Deserialize, Serialize};

use super::{LineResult, RotationKind, SourceId};

/// Where a source stands, for `/`, `/-/ready` and the exporter's own log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum SourceState {
    #[default]
    Starting,
    /// The file does not exist yet; it is polled for.
    Waiting,
    /// Open and being followed.
    Following,
    /// The last attempt to read failed; retried at every poll.
    Failing(String),
    /// Standard input reached its end: the counts are final (the endpoint keeps serving them).
    Ended,
}

impl SourceState {
    pub fn describe(&self) -> String {
        match self {
            SourceState::Starting => "starting".into(),
            SourceState::Waiting => "waiting for the file to appear".into(),
            SourceState::Following => "following".into(),
            SourceState::Failing(e) => format!("failing: {e}"),
            SourceState::Ended => "end of input: every line was counted, no more will come".into(),
        }
    }
}

/// Per-source self-metrics.
#[derive(Debug, Clone, Default)]
pub struct SourceStats {
    pub name: String,
    /// The `mta` label: the format's name, or a user-defined format's (empty: unknown).
    pub mta: String,
    /// What is read: a path, or a description.
    pub location: String,
    pub state: SourceState,
    /// By [`LineResult`], in the order of [`LineResult::ALL`].
    lines: [u64; 3],
    pub bytes: u64,
    /// By [`RotationKind`]: renames, truncations.
    rotations: [u64; 2],
    pub read_errors: u64,
    /// Rotated files with lines not yet counted that were gone at a restart.
    pub rotated_missed: u64,
    pub expired: u64,
    pub last_line_unix: Option<f64>,
    /// Where its reader has got to: every line before it is in the counters above.
    pub reading: Reading,
    /// Whether counters and positions came back from a state file (else: a first start).
    pub restored: bool,
    /// For an MTA instance whose lines are picked out of another source's file: that source,
    /// whose reading state is this one's too.
    pub parent: Option<SourceId>,
    /// For a source that can drop messages (a syslog listener): messages dropped, by
    /// reason (queue full, too large, truncated). `None` for the others.
    pub dropped: Option<[u64; 3]>,
    /// `--log.format auto`: whether the format was detected (`mta` then names it); `None` for
    /// a fixed format.
    pub auto: Option<bool>,
    /// The name was not given by the user (it is the MTA's name): on restart, the name saved
    /// for the same file wins, so that a format detected differently (or not yet) after a
    /// rotation does not start the file's counters again under another name.
    pub default_name: bool,
}

/// Where the reader of one source has got to. Not a counter, but kept beside the counters,
/// under the same lock and in the same snapshot: a restart resumes exactly where the counts
/// end.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reading {
    /// A followed file (or an mbox): every line before it is counted. Updated under the same
    /// lock as the counters, so a snapshot holds both or neither.
    pub position: Option<Position>,
    /// Rotated-away files still being read to their end (a writer may append to a file for a
    /// moment after it was renamed), oldest first.
    pub draining: Vec<Position>,
    /// The journal: the cursor of the last entry counted.
    pub cursor: Option<String>,
    /// A mailbox: the Maildir unique names, or the mbox message keys, of the messages already
    /// read (each is counted once); only those still in the mailbox are kept.
    pub messages: std::collections::BTreeSet<String>,
    /// Restored: when the state file was saved (`None` on a first start, or from a state file
    /// that does not say).
    pub saved_at: Option<std::time::SystemTime>,
}

/// A read position in a file known by device and inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    pub dev: u64,
    pub ino: u64,
    /// Bytes of the file counted: the end of the last complete line read.
    pub offset: u64,
    /// CRC-32 of the file's first `fp_len` bytes: tells a file from another that got the same
    /// inode (deleted and re-created), or the same file rewritten (`copytruncate`), and finds it
    /// again after it was compressed.
    #[serde(default)]
    pub fp_len: u32,
    #[serde(default)]
    pub fp_crc: u32,
}

impl super::Aggregator {
    /// A source's reading state (an instance's is its file's).
    pub fn state_of(&self, id: SourceId) -> Option<&SourceState> {
        let s = self.source(id)?;
        match s.parent {
            Some(p) => self.source(p).map(|p| &p.state),
            None => Some(&s.state),
        }
    }
}

impl SourceStats {
    /// The `mta` label.
    pub fn mta(&self) -> &str {
        &self.mta
    }

    /// A source named `name` (the `source` label) with the `mta` label `mta`, nothing counted.
    pub fn new(name: String, mta: String) -> Self {
        SourceStats {
            name,
            mta,
            ..SourceStats::default()
        }
    }

    /// Lines read with result `r`.
    pub fn lines(&self, r: LineResult) -> u64 {
        self.lines[r as usize]
    }

    /// Lines read, by result in the order of [`LineResult::ALL`].
    pub fn line_counts(&self) -> [u64; 3] {
        self.lines
    }

    /// Rotations of kind `k`.
    pub fn rotations(&self, k: RotationKind) -> u64 {
        self.rotations[k as usize]
    }

    /// Rotations, renames then truncations.
    pub fn rotation_counts(&self) -> [u64; 2] {
        self.rotations
    }

    pub(super) fn count_line(&mut self, r: LineResult) {
        self.lines[r as usize] += 1;
    }

    pub(super) fn count_rotation(&mut self, k: RotationKind) {
        self.rotations[k as usize] += 1;
    }

    /// Counters of a saved source, as the state file holds them.
    pub(super) fn restore_counts(&mut self, lines: [u64; 3], rotations: [u64; 2]) {
        self.lines = lines;
        self.rotations = rotations;
    }

    /// Adds the line and rotation counts of the same source counted elsewhere.
    pub(super) fn add_counts(&mut self, other: &SourceStats) {
        for (a, b) in self.lines.iter_mut().zip(other.lines) {
            *a += b;
        }
        for (a, b) in self.rotations.iter_mut().zip(other.rotations) {
            *a += b;
        }
    }
}
