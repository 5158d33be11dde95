//! Delivery lines: `=>`, `->`, `>>` delivered, `==` deferred, `**` bounced or expired.

use super::dialogue::{delivery_relay, failure_stage};
use super::{finder, leading_reply_codes, Direction, Event, Outcome, Parsed, Recipients, Reply};
use crate::parse::{Relay, Stage};

finder!(confirmation_field, b" C=\"");
finder!(queue_time_field, b" QT=");

/// `ADDR [<ORIG>] [fields] …` of a `=>`, `->`, `>>`, `==` or `**` line.
pub(super) fn delivery(outcome: Outcome, rest: &[u8]) -> Option<Parsed<'_>> {
    let (recipient, after) = recipient(rest)?;
    if outcome == Outcome::Bounced && after.trim_ascii_end().ends_with(b"retry timeout exceeded") {
        return Some(Parsed::Event(Event::Expired));
    }
    let (text, stage) = match outcome {
        // `C="…"` is the reply to the message's end (Exim's spec: "the SMTP confirmation
        // response from the remote host after the message has been accepted").
        Outcome::Delivered => match confirmation(after) {
            Some(c) => (c, Stage::EndOfData),
            None => (&[][..], Stage::Unknown),
        },
        _ => (failure_text(after)?, failure_stage(after)),
    };
    let first = &rest[..memchr::memchr(b' ', rest).unwrap_or(rest.len())];
    let (code, enhanced) = leading_reply_codes(text);
    Some(Parsed::Event(Event::Reply(Reply {
        direction: Direction::Outbound,
        outcome,
        code,
        enhanced,
        recipients: Recipients::One(recipient),
        delay: field(after, queue_time_field()).and_then(exim_seconds),
        text,
        relay: delivery_relay(outcome == Outcome::Delivered, first, after),
        stage,
        queue_id: &[],
        time: crate::parse::Stamp::None,
    })))
}

/// The address a delivery line is about, and the rest of the line after it. A pipe, file or
/// `:blackhole:` "address" gives way to the original address in `<…>` after it.
fn recipient(rest: &[u8]) -> Option<(&[u8], &[u8])> {
    let end = rest
        .iter()
        .position(|&c| c == b' ' || c == b':')
        .unwrap_or(rest.len());
    // `** addr: reason` puts a colon straight after the address; a `:blackhole:` starts with one.
    let end = if end == 0 {
        memchr::memchr(b' ', rest).unwrap_or(rest.len())
    } else {
        end
    };
    let first = &rest[..end];
    let after = &rest[end..];
    if first.is_empty() {
        return None;
    }
    if memchr::memchr(b'@', first).is_some() && !matches!(first[0], b'|' | b'/') {
        return Some((first, after));
    }
    // The original address: the first `<…>` before the fields start.
    let fields = memchr::memmem::find(after, b" R=").unwrap_or(after.len());
    let zone = &after[..fields];
    if let Some(open) = memchr::memchr(b'<', zone) {
        if let Some(close) = memchr::memchr(b'>', &zone[open..]) {
            return Some((&zone[open + 1..open + close], &after[open + close + 1..]));
        }
    }
    Some((first, after))
}

/// The remote confirmation `C="…"` of a delivery.
fn confirmation(after: &[u8]) -> Option<&[u8]> {
    let at = confirmation_field().find(after)? + 4;
    let val = &after[at..];
    Some(match memchr::memchr(b'"', val) {
        Some(end) => &val[..end],
        None => val,
    })
}

/// The reply text of a `==`/`**` line: the remote reply Exim quotes, or Exim's own words.
/// `None` for a line cut before any text.
fn failure_text(after: &[u8]) -> Option<&[u8]> {
    for marker in [
        &b"error from remote mail server after "[..],
        b"LMTP error after ",
        // A PRDR refusal of one recipient after the message (`PRDR error after DATA: 550 …`).
        b"PRDR error after ",
    ] {
        if let Some(at) = memchr::memmem::find(after, marker) {
            let cmd = &after[at + marker.len()..];
            // The command may hold `: ` itself (`RCPT TO:<a@b>: 451 …`).
            if let Some(text) = coded_text(cmd) {
                return Some(text);
            }
            return cmd.get(memchr::memmem::find(cmd, b": ")? + 2..);
        }
    }
    if let Some(at) = memchr::memmem::find(after, b"defer (") {
        // `defer (errno)`, then the host field if a host was tried (`H=name [ip]`, with
        // `:port` or `*` after `]`), then `: ` and Exim's words, if any: the words follow the
        // first `: ` after the errno; `defer (-1)` alone counts without them.
        let tail = &after[at + b"defer (".len()..];
        let tail = &tail[memchr::memchr(b')', tail)? + 1..];
        return Some(match memchr::memmem::find(tail, b": ") {
            Some(k) => &tail[k + 2..],
            None => &[],
        });
    }
    if let Some(at) = memchr::memmem::find(after, b": ") {
        return Some(&after[at + 2..]);
    }
    // `** file@x.y routing yielded a local delivery`: Exim's words right after the address.
    let words = after.trim_ascii();
    (!words.is_empty()).then_some(words)
}

/// The text from the first `: ` followed by a reply code.
pub(super) fn coded_text(s: &[u8]) -> Option<&[u8]> {
    let mut from = 0;
    while let Some(k) = memchr::memmem::find(&s[from..], b": ") {
        let text = &s[from + k + 2..];
        if leading_reply_codes(text) != (None, None) {
            return Some(text);
        }
        from += k + 2;
    }
    None
}

/// The value of ` NAME=value` up to the next space (`name` finds ` NAME=`).
fn field<'a>(after: &'a [u8], name: &memchr::memmem::Finder<'_>) -> Option<&'a [u8]> {
    let at = name.find(after)? + name.needle().len();
    let val = &after[at..];
    Some(&val[..memchr::memchr(b' ', val).unwrap_or(val.len())])
}

/// Exim's time spans: `0s`, `1.234s`, `1m2s`, `2h3m`, `1d2h`, `1w`.
fn exim_seconds(b: &[u8]) -> Option<f64> {
    let mut total = 0.0;
    let mut rest = b;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let n = rest
            .iter()
            .take_while(|c| c.is_ascii_digit() || **c == b'.')
            .count();
        let num: f64 = std::str::from_utf8(rest.get(..n)?).ok()?.parse().ok()?;
        let unit = match rest.get(n)? {
            b's' => 1.0,
            b'm' => 60.0,
            b'h' => 3600.0,
            b'd' => 86400.0,
            b'w' => 604_800.0,
            _ => return None,
        };
        total += num * unit;
        rest = &rest[n + 1..];
    }
    Some(total)
}

/// A cutthrough delivery's target deferred the message after its data (Exim's
/// `cutthrough_finaldot`): `[U=…|H=…] ADDR F=<…> … tmp-reject from cutthrough after DATA: R=…
/// T=… H=… C="459 …"`. Exim keeps the message and tries it again from its queue: this attempt's
/// deferral, with the target's codes from `C="…"`.
pub(super) fn cutthrough_deferral(rest: &[u8]) -> Option<Parsed<'_>> {
    const MARK: &[u8] = b" tmp-reject from cutthrough after ";
    finder!(cutthrough_mark, b" tmp-reject from cutthrough after ");
    let at = cutthrough_mark().find(rest)?;
    let head = &rest[..at];
    let f = memchr::memmem::find(head, b" F=<")?;
    let addr = &head[memchr::memrchr(b' ', &head[..f]).map_or(0, |i| i + 1)..f];
    let fields = &rest[at + MARK.len()..];
    let text = confirmation(fields).unwrap_or_default();
    let (code, enhanced) = leading_reply_codes(text);
    Some(Parsed::Event(Event::Reply(Reply {
        direction: Direction::Outbound,
        outcome: Outcome::Deferred,
        code,
        enhanced,
        recipients: Recipients::One(addr),
        delay: None,
        text,
        relay: super::dialogue::host_field(fields).map_or(Relay::Unknown, Relay::Host),
        // The target's reply to the message's final dot (Exim's `cutthrough_finaldot`), which
        // Exim's words name after the DATA they were part of.
        stage: Stage::EndOfData,
        queue_id: &[],
        time: crate::parse::Stamp::None,
    })))
}
