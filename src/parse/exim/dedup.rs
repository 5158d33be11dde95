//! [`Dedup`]: the Exim parser of one file.

use super::prefix::syslog_parts;
use super::{parse, Direction, Event, Parsed};

/// The Exim parser of one file: [`parse`], plus the memory that drops the second syslog copy
/// of a refusal, or (a reject log) nothing counted at all.
///
/// With `syslog_duplication` (Exim's default), a line Exim writes to two of its logs reaches
/// syslog twice, one call right after the other from the same process: a refusal, from the
/// main and the reject log. The second copy is the first's bytes again, after the syslog
/// header; it is [`Parsed::Ignored`]. A refusal identical to the one before it from the same
/// process is thus taken for a copy; with `syslog_duplication = false` two identical refusals
/// from one process in one second would count once (Exim's timestamp is part of the line).
#[derive(Debug, Clone, Default)]
pub struct Dedup {
    /// A hash of the syslog pid and message of the last refusal counted, while its copy may
    /// still come.
    last: Option<u64>,
    /// The file is Exim's reject log: every line is in the main log too.
    reject_log: bool,
}

impl Dedup {
    /// The parser of a reject log.
    pub fn reject_log() -> Dedup {
        Dedup {
            last: None,
            reject_log: true,
        }
    }

    pub fn is_reject_log(&self) -> bool {
        self.reject_log
    }

    pub fn parse<'a>(&mut self, line: &'a [u8]) -> Parsed<'a> {
        if self.reject_log {
            return Parsed::Ignored;
        }
        let parsed = parse(line);
        let refusal =
            matches!(&parsed, Parsed::Event(Event::Reply(r)) if r.direction == Direction::Inbound);
        if !refusal {
            return parsed;
        }
        let Some(key) = syslog_key(line) else {
            return parsed;
        };
        if self.last == Some(key) {
            self.last = None;
            return Parsed::Ignored;
        }
        self.last = Some(key);
        parsed
    }
}

/// A hash of what two syslog copies of one Exim line share: the pid and the message (the
/// syslog timestamps differ). `None` for a line of Exim's own log file.
fn syslog_key(line: &[u8]) -> Option<u64> {
    use std::hash::{Hash, Hasher};
    let (pid, message) = syslog_parts(line)?;
    let mut s = std::collections::hash_map::DefaultHasher::new();
    pid.hash(&mut s);
    message.hash(&mut s);
    Some(s.finish())
}
