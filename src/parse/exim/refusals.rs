//! Refusals: the ones Exim gave its clients (`rejected …`, `temporarily rejected …`, a refused
//! AUTH), and the ones a server gave Exim's verification callouts (Exim, checking a sender or
//! recipient address, asked the address's server: `verify = sender/callout`).

use super::delivery::coded_text;
use super::{finder, leading_reply_codes, Direction, Event, Outcome, Parsed, Recipients, Reply};

finder!(rejected_verb, b" rejected ");
finder!(verify_word, b"erify ");

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
        relay: crate::parse::Relay::Unknown,
        stage: crate::parse::Stage::Unknown,
    }))
}

/// A callout's failure with the remote server's reply, counted as an address-verification
/// probe (Postfix's count so): outbound `undeliverable`, the server's codes, the domain of the
/// address verified. The line's forms:
/// `sender verify fail for <A>: HOST [IP] : SMTP error from remote mail server after RCPT
/// TO:<A>: 550 …`, `… verify defer for <A>: Could not complete sender verify callout: HOST
/// [IP] : … 450 …`, `… : response to "MAIL FROM:<>" was: 550 …`, and an ACL `warn`'s `Warning:
/// Sender verify failed: HOST [IP] : …`. `None` when no server's code is logged (no callout,
/// a timeout, a result reused from the callout cache): no reply.
pub(super) fn callout(rest: &[u8]) -> Option<Parsed<'_>> {
    let at = verify_word().find(rest)?;
    let who = rest.get(..at.checked_sub(1)?)?;
    if !(who.ends_with(b"ender ") || who.ends_with(b"ecipient ")) {
        return None;
    }
    let after = &rest[at + b"erify ".len()..];
    let addr = match after
        .strip_prefix(b"fail for <")
        .or_else(|| after.strip_prefix(b"defer for <"))
    {
        Some(a) => Some(&a[..memchr::memchr(b'>', a)?]),
        None if after.starts_with(b"failed: ") => None,
        None => return None,
    };
    let text = remote_reply(after)?;
    let (code, enhanced) = leading_reply_codes(text);
    code?;
    let recipients = match addr.or_else(|| rcpt_to(after)) {
        Some(a) => Recipients::One(a),
        None => Recipients::None,
    };
    Some(Parsed::Event(Event::Reply(Reply {
        direction: Direction::Outbound,
        outcome: Outcome::Undeliverable,
        code,
        enhanced,
        recipients,
        delay: None,
        text,
        relay: crate::parse::Relay::Unknown,
        stage: crate::parse::Stage::Unknown,
    })))
}

/// The server's reply in a callout's line: after `SMTP error from remote mail server after
/// COMMAND: ` or after `response to "COMMAND" was: `.
fn remote_reply(s: &[u8]) -> Option<&[u8]> {
    if let Some(at) = memchr::memmem::find(s, b"error from remote mail server after ") {
        return coded_text(&s[at..]);
    }
    let at = memchr::memmem::find(s, b"response to \"")?;
    let tail = &s[at..];
    tail.get(memchr::memmem::find(tail, b"\" was: ")? + b"\" was: ".len()..)
}

/// The address of the `RCPT TO:<…>` a callout sent (the `Warning:` form names it only there).
fn rcpt_to(s: &[u8]) -> Option<&[u8]> {
    let at = memchr::memmem::find(s, b"RCPT TO:<")? + b"RCPT TO:<".len();
    let a = &s[at..];
    a.get(..memchr::memchr(b'>', a)?)
}
