//! Verification callouts: Exim, checking a sender or recipient address, asked the address's
//! mail server (`verify = sender/callout`), and the server answered with a failure.

use super::delivery::coded_text;
use super::{finder, leading_reply_codes, Direction, Event, Outcome, Parsed, Recipients, Reply};

finder!(verify_word, b"erify ");

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
