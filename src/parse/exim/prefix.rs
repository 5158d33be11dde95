//! Exim's line prefix: its timestamp, `[pid]` and message id, or a syslog header of `exim`;
//! and [`Dedup`], which tells a refusal's second syslog copy by that header.

use super::{parse, syslog, Direction, Event, Parsed};
use crate::parse::Stamp;

/// The part of a line after Exim's prefix, and what the prefix held.
#[derive(Debug, Clone, Copy)]
pub(super) struct Body<'a> {
    pub rest: &'a [u8],
    pub syslog: bool,
    pub pid: bool,
    /// The message id (`1xVLsH-0006CA-1x`), empty where the line has none (a refusal before
    /// a message was received).
    pub id: &'a [u8],
    /// Exim's own timestamp; where it logged none (`syslog_timestamp = false`), the syslog
    /// header's.
    pub stamp: Stamp<'a>,
}

pub(super) enum Split<'a> {
    Exim(Body<'a>),
    /// A syslog line of another program.
    Other,
    /// A line starting with white space: the continuation of a multi-line entry.
    Continuation,
    /// No Exim prefix.
    None,
}

pub(super) fn split(line: &[u8]) -> Split<'_> {
    if let Some((stamp, rest)) = split_timestamp(line) {
        // A syslog daemon's date written as Exim's: `2019-10-22 03:39:17 HOST exim[PID]: …`.
        if let Some((_, msg)) = exim_tag(rest) {
            return Split::Exim(after_header(msg, Stamp::Iso(stamp)));
        }
        return Split::Exim(after_stamp(rest, false, Stamp::Iso(stamp)));
    }
    if line.first().is_some_and(|c| matches!(c, b' ' | b'\t')) {
        return Split::Continuation;
    }
    let Some(h) = syslog::split(line) else {
        return undated(line).map_or(Split::None, |msg| {
            Split::Exim(after_header(msg, Stamp::None))
        });
    };
    if !matches!(h.tag, b"exim" | b"exim4") {
        return Split::Other;
    }
    Split::Exim(after_header(h.message, h.stamp))
}

/// The message of a syslog line of Exim: Exim's own timestamp, if it logged one, wins over
/// the header's (it is the time Exim wrote, with its year and its `log_timezone`).
fn after_header<'a>(msg: &'a [u8], header: Stamp<'a>) -> Body<'a> {
    match split_timestamp(msg) {
        Some((stamp, rest)) => after_stamp(rest, true, Stamp::Iso(stamp)),
        None => after_stamp(msg, true, header),
    }
}

/// `HOST exim[PID]: ` (or `exim4`, the `[PID]` optional): the pid and the message after it.
fn exim_tag(rest: &[u8]) -> Option<(&[u8], &[u8])> {
    let tag = rest.get(memchr::memchr(b' ', rest)? + 1..)?;
    let tag = tag.strip_prefix(b"exim")?;
    let tag = tag.strip_prefix(b"4").unwrap_or(tag);
    let (pid, tag) = match tag.strip_prefix(b"[") {
        Some(t) => {
            let n = t.iter().take_while(|c| c.is_ascii_digit()).count();
            (t.get(..n)?, t.get(n..)?.strip_prefix(b"]")?)
        }
        None => (&[][..], tag),
    };
    Some((pid, tag.strip_prefix(b": ")?))
}

/// A syslog header cut of its date, `HOST exim[PID]: ` and then Exim's own timestamp (fail2ban's
/// test lines): the message after the header.
fn undated(line: &[u8]) -> Option<&[u8]> {
    let (_, msg) = exim_tag(line)?;
    split_timestamp(msg).map(|_| msg)
}

/// The pid and the message of a syslog line of Exim, in any of the headers [`split`] reads;
/// `None` for a line of Exim's own file.
fn syslog_parts(line: &[u8]) -> Option<(&[u8], &[u8])> {
    if let Some(rest) = strip_timestamp(line) {
        return exim_tag(rest);
    }
    if let Some(h) = syslog::split(line) {
        let head = line.get(..line.len().checked_sub(h.message.len())?)?;
        // `… exim[28618]: ` → `28618`
        let open = memchr::memrchr(b'[', head)?;
        let close = memchr::memrchr(b']', head)?;
        return Some((head.get(open + 1..close)?, h.message));
    }
    exim_tag(line)
}

fn after_stamp<'a>(rest: &'a [u8], syslog: bool, stamp: Stamp<'a>) -> Body<'a> {
    let (rest, pid) = match strip_pid(rest) {
        Some(r) => (r, true),
        None => (rest, false),
    };
    let (id, rest) = split_message_id(rest).unwrap_or((&[], rest));
    Body {
        rest,
        syslog,
        pid,
        id,
        stamp,
    }
}

/// Removes `YYYY-MM-DD HH:MM:SS` with optional `.fff` and ` ±HHMM`, and the space after it.
pub(super) fn strip_timestamp(line: &[u8]) -> Option<&[u8]> {
    split_timestamp(line).map(|(_, rest)| rest)
}

/// `YYYY-MM-DD HH:MM:SS` with optional `.fff` and ` ±HHMM` (the stamp), and what follows the
/// space after it.
fn split_timestamp(line: &[u8]) -> Option<(&[u8], &[u8])> {
    const SHAPE: &[u8; 19] = b"0000-00-00 00:00:00";
    let head = line.get(..19)?;
    let ok = head.iter().zip(SHAPE).all(|(c, s)| {
        if *s == b'0' {
            c.is_ascii_digit()
        } else {
            c == s
        }
    });
    if !ok {
        return None;
    }
    let mut rest = &line[19..];
    if let Some(r) = rest.strip_prefix(b".") {
        let n = r.iter().take_while(|c| c.is_ascii_digit()).count();
        rest = r.get(n..)?;
    }
    if let [b' ', b'+' | b'-', a, b, c, d, tail @ ..] = rest {
        if [a, b, c, d].iter().all(|x| x.is_ascii_digit()) {
            rest = tail;
        }
    }
    let stamp = line.get(..line.len() - rest.len())?;
    match rest {
        [b' ', tail @ ..] => Some((stamp, tail)),
        [] => Some((stamp, rest)),
        _ => None,
    }
}

/// Removes `[digits] `.
fn strip_pid(rest: &[u8]) -> Option<&[u8]> {
    let r = rest.strip_prefix(b"[")?;
    let n = r.iter().take_while(|c| c.is_ascii_digit()).count();
    if n == 0 {
        return None;
    }
    r.get(n..)?.strip_prefix(b"] ")
}

/// A message id, base-62 parts of 6-6-2 (Exim ≤ 4.96) or 6-11-4 (Exim 4.97 and later)
/// characters, and what follows the space after it.
fn split_message_id(rest: &[u8]) -> Option<(&[u8], &[u8])> {
    let b62 = |s: &[u8]| s.iter().all(u8::is_ascii_alphanumeric);
    for (a, b, c) in [(6usize, 6usize, 2usize), (6, 11, 4)] {
        let len = a + b + c + 2;
        let Some(id) = rest.get(..len) else { continue };
        if rest.get(len) != Some(&b' ') {
            continue;
        }
        if b62(&id[..a])
            && id[a] == b'-'
            && b62(&id[a + 1..a + 1 + b])
            && id[a + 1 + b] == b'-'
            && b62(&id[a + 2 + b..])
        {
            return Some((id, rest.get(len + 1..)?));
        }
    }
    None
}

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
