//! Refusals: the ones Exim gave its clients (`rejected …`, `temporarily rejected …`, a refused
//! AUTH), and the ones a server gave Exim's verification callouts (Exim, checking a sender or
//! recipient address, asked the address's server: `verify = sender/callout`).

use super::delivery::coded_text;
use super::dialogue::{callout_host, command_stage, refusal_stage};
use super::{finder, leading_reply_codes, Direction, Event, Outcome, Parsed, Recipients, Reply};
use crate::parse::{Relay, Stage};

finder!(rejected_verb, b" rejected ");
finder!(verify_word, b"erify ");

/// A refused AUTH: `NAME authenticator failed for HOST: 535 …`, the tail after `for `. Counts
/// only with the code Exim logs (the client's host may hold `: `; the reply is the text after
/// the first `: ` that a code follows); without one it is no reply.
pub(super) fn auth_refusal(tail: &[u8]) -> Option<Parsed<'_>> {
    Some(reject(Recipients::None, coded_text(tail)?, Stage::Auth))
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
        return Some(reject(Recipients::One(addr), text, Stage::Rcpt));
    }
    let text = &what[memchr::memmem::find(what, b": ")? + 2..];
    Some(reject(Recipients::None, text, refusal_stage(what)))
}

/// An inbound refusal: the client is no destination, so no relay.
fn reject<'a>(recipients: Recipients<'a>, text: &'a [u8], stage: Stage) -> Parsed<'a> {
    let (code, enhanced) = leading_reply_codes(text);
    Parsed::Event(Event::Reply(Reply {
        direction: Direction::Inbound,
        outcome: Outcome::Rejected,
        code,
        enhanced,
        recipients,
        delay: None,
        text,
        relay: Relay::Unknown,
        stage,
        queue_id: &[],
        time: crate::parse::Stamp::None,
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
    let (text, stage) = remote_reply(after)?;
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
        relay: callout_host(after),
        stage,
        queue_id: &[],
        time: crate::parse::Stamp::None,
    })))
}

/// The server's reply in a callout's line, and the command it answered: after `SMTP error
/// from remote mail server after COMMAND: ` or after `response to "COMMAND" was: `.
fn remote_reply(s: &[u8]) -> Option<(&[u8], Stage)> {
    const AFTER: &[u8] = b"error from remote mail server after ";
    if let Some(at) = memchr::memmem::find(s, AFTER) {
        return Some((coded_text(&s[at..])?, command_stage(&s[at + AFTER.len()..])));
    }
    const RESPONSE: &[u8] = b"response to \"";
    let at = memchr::memmem::find(s, RESPONSE)?;
    let tail = &s[at..];
    let text = tail.get(memchr::memmem::find(tail, b"\" was: ")? + b"\" was: ".len()..)?;
    Some((text, command_stage(&tail[RESPONSE.len()..])))
}

/// The address of the `RCPT TO:<…>` a callout sent (the `Warning:` form names it only there).
fn rcpt_to(s: &[u8]) -> Option<&[u8]> {
    let at = memchr::memmem::find(s, b"RCPT TO:<")? + b"RCPT TO:<".len();
    let a = &s[at..];
    a.get(..memchr::memchr(b'>', a)?)
}
