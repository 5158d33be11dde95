//! Inbound refusals: `rejected …`, `temporarily rejected …`, a refused AUTH.

use super::delivery::coded_text;
use super::{finder, leading_reply_codes, Direction, Event, Outcome, Parsed, Recipients, Reply};

finder!(rejected_verb, b" rejected ");

/// A refused AUTH: `NAME authenticator failed for HOST: 535 …`, the tail after `for `. Counts
/// only with the code Exim logs (the client's host may hold `: `; the reply is the text after
/// the first `: ` that a code follows); without one it is no reply.
pub(super) fn auth_refusal(tail: &[u8]) -> Option<Parsed<'_>> {
    Some(reject(Recipients::None, coded_text(tail)?))
}

/// An inbound refusal line: `[fields] [temporarily ]rejected WHAT: TEXT`.
pub(super) fn refusal(rest: &[u8]) -> Option<Parsed<'_>> {
    let at = if rest.starts_with(b"rejected ") {
        0
    } else {
        rejected_verb().find(rest)? + 1
    };
    // Fields only before the verb (`H=… F=<…>`): a `: ` there is another kind of line
    // (`SMTP protocol synchronization error (…): rejected connection from …`).
    if memchr::memmem::find(&rest[..at], b": ").is_some() {
        return None;
    }
    let what = &rest[at + b"rejected ".len()..];
    if let Some(r) = what.strip_prefix(b"RCPT ") {
        let (addr, after) = match r.strip_prefix(b"<") {
            Some(inner) => {
                let close = memchr::memchr(b'>', inner)?;
                (&inner[..close], &inner[close + 1..])
            }
            None => {
                let end = memchr::memchr(b':', r)?;
                (&r[..end], &r[end..])
            }
        };
        let text = after.strip_prefix(b": ")?;
        return Some(reject(Recipients::One(addr), text));
    }
    let text = &what[memchr::memmem::find(what, b": ")? + 2..];
    Some(reject(Recipients::None, text))
}

fn reject<'a>(recipients: Recipients<'a>, text: &'a [u8]) -> Parsed<'a> {
    let (code, enhanced) = leading_reply_codes(text);
    Parsed::Event(Event::Reply(Reply {
        direction: Direction::Inbound,
        outcome: Outcome::Rejected,
        code,
        enhanced,
        recipients,
        delay: None,
        text,
    }))
}
