//! OpenSMTPD: reads one syslog line of OpenSMTPD 6.x/7.x (`smtpd[pid]:`) into a [`Parsed`].
//!
//! OpenSMTPD logs through syslog(3) (in the foreground too, with `-F`); any syslog prefix
//! [`syslog::split`] knows is accepted. Its lines start with the 16-hex-digit id of the session
//! they belong to (`965e751d1f4eb33a mta delivery …`), except those of the queue process
//! (`relay: Expire for …`) and the `info:`/`warn:` diagnostics. Lines of other programs are
//! [`Parsed::Ignored`] (Postfix's tag is `postfix/smtpd`, never bare `smtpd`); lines without a
//! syslog header are [`Parsed::Unrecognised`], and so is a countable OpenSMTPD line that cannot
//! be read (cut before its closing quote, an unknown `result=`, a refusal without a code).
//!
//! Kinds of lines understood (every example is a real line, written by OpenSMTPD 6.8.0p2 from
//! Debian 12's `opensmtpd` through syslog; the remote servers were the scripted test sink):
//!
//! **Outbound delivery status** (`mta delivery`, and `delivery` for local deliveries), one reply
//! for the recipient `to=<…>` (the address the remote server answered for; `rcpt=<…>` is the
//! original recipient where an alias changed it, `<->` otherwise); `result=` gives the outcome
//! (`Ok` delivered, `TempFail` deferred, `PermFail` bounced, `Loop` bounced), the codes come
//! from `stat=` (the remote reply as received, or OpenSMTPD's own words), `delay=` is the delay:
//! ```text
//! Nov 23 05:03:54 mx smtpd[17488]: 965e751d1f4eb33a mta delivery evpid=a2b68e0e2f5364d0 from=<r250-sender@d1.test> to=<r250-d@d1.test> rcpt=<-> source="127.0.0.1" relay="127.0.0.2 (127.0.0.2)" delay=1s result="Ok" stat="250 2.0.0 Ok: queued as ABC123"
//! Nov 23 05:03:53 mx smtpd[17488]: 965e751d1f4eb33a mta delivery evpid=a2b68e0e23eb0375 from=<r250-sender@d1.test> to=<r451-4.7.1-c@d1.test> rcpt=<-> source="127.0.0.1" relay="127.0.0.2 (127.0.0.2)" delay=0s result="TempFail" stat="451 4.7.1 Reply for <r451-4.7.1-c@d1.test> (sink)"
//! Nov 23 05:03:53 mx smtpd[17488]: 965e751d1f4eb33a mta delivery evpid=a2b68e0ee00c3125 from=<r250-sender@d1.test> to=<r550-5.1.1-b@d1.test> rcpt=<-> source="127.0.0.1" relay="127.0.0.2 (127.0.0.2)" delay=0s result="PermFail" stat="550 5.1.1 Reply for <r550-5.1.1-b@d1.test> (sink)"
//! Nov 23 05:03:53 mx smtpd[17488]: 965e751d1f4eb33a mta delivery evpid=a2b68e0e831929eb from=<r250-sender@d1.test> to=<r550-e@d1.test> rcpt=<-> source="127.0.0.1" relay="127.0.0.2 (127.0.0.2)" delay=0s result="PermFail" stat="550 Reply for <r550-e@d1.test> (sink)"
//! ```
//!
//! **Expiry** (`queue ttl` ran out), one per envelope, i.e. per recipient (never a reply):
//! ```text
//! Nov 23 05:04:13 mx smtpd[17489]: relay: Expire for a2b68e0e845620dc: from=<r250-sender@d1.test>, to=<x@down.test>, rcpt=<->, delay=20s, stat=Envelope expired
//! ```
//! A destination whose port refuses connections gets no reply (`mta error reason=IO Error:
//! Connection refused`, `smtp-out: Disabling route …`): its envelopes are held until they
//! expire, and, depending on timing, flushed first with OpenSMTPD's own words (a deferral
//! without a code):
//! ```text
//! Nov 23 05:10:59 mx smtpd[13212]: 0000000000000000 mta delivery evpid=0a528a1ac02d4699 from=<r250-sender-m0005@snd.test> to=<r250-m0005r1@down.test> rcpt=<-> source="-" relay="127.0.0.1" delay=11s result="TempFail" stat="Network error on destination MXs"
//! ```
//!
//! **Inbound refusals** (`smtp failed-command`): the reply is `result=`, the recipient is the
//! address of a refused `RCPT TO` (none for other commands):
//! ```text
//! Nov 23 05:03:54 mx smtpd[17488]: 965e751f58c08f79 smtp failed-command command="rcpt TO:<nouser@in.test>" result="550 5.1.1 Mailbox does not exist"
//! Nov 23 05:03:54 mx smtpd[17488]: 965e751f58c08f79 smtp failed-command command="rcpt TO:<later@in.test>" result="450 4.2.0 Mailbox busy"
//! Nov 23 05:03:54 mx smtpd[17488]: 965e751f58c08f79 smtp failed-command command="rcpt TO:<relay@elsewhere.test>" result="550 Invalid recipient: <relay@elsewhere.test>"
//! Nov 23 05:35:40 mx smtpd[24232]: f082a5a9ab7338b1 smtp failed-command command="MAIL FROM:<blocked-0@snd.test>" result="553 5.7.1 Sender refused by the e2e test"
//! ```
//!
//! **Older spellings** that carry a reply are read the same way. OpenSMTPD 6.0 (Debian 10's
//! 6.0.3p1) names the event with `event=` and logs the client's address before the command
//! (lines of other projects: an install guide, sshguard's tests):
//! ```text
//! Mar 22 17:56:37 mercury smtpd[45037]: 8f4864084ecc48f4 mta event=delivery evpid=7077717e797a776e from=<puffy@example.com> to=<bill@hotmail.com> rcpt=<-> source="203.0.113.1" relay="104.47.38.33 (104.47.38.33)" delay=1s result="PermFail" stat="550 5.7.1 Unfortunately, messages from [203.0.113.1] weren't sent. …"
//! Jan  1 00:00:00 peerhost smtpd[1]: 38dd06274cde1fd7 smtp event=failed-command address=185.236.202.133 host=no-mans-land.m247.com command="AUTH LOGIN" result="503 5.5.1 Invalid command: Command not supported"
//! ```
//! OpenSMTPD 5.x logs a refused command as `smtp-in: Failed command on session …` with the
//! reply after `=>` (wazuh's tests); its other `smtp-in:` lines are ignored:
//! ```text
//! Aug 14 10:15:25 junction.example.com smtpd[28882]: smtp-in: Failed command on session 1f55bdcdf16e28a3: "MAIL FROM:<root@junction.example.com>  " => 421 4.3.0: Temporary Error
//! ```
//! and its delivery statuses as `relay: <result> for <evpid>: from=<…>, to=<…>, … stat=<text>`
//! (remote) or `delivery: <result> for …` (local), `<result>` as `result=` above (5.x's
//! `mta_log` and `mda_log`).
//!
//! Everything else is ignored: `smtp connected`/`disconnected`, `smtp message`, `smtp
//! envelope`, `mta connecting`/`connected`/`error`, `smtp-out:` route notes, `info:`/`warn:`
//! diagnostics (`warn: PermFail injecting failure report …`: the bounce notice, whose
//! recipients were counted on their `PermFail` or `Expire` lines), `Remove for` (removed by the
//! administrator, not expired).
//!
//! The host that answered and the SMTP command answered, where a line says them (the
//! `provider` and `stage` labels): `opensmtpd/dialogue.rs`.
//!
//! Each reply carries the time stamp of the syslog header and, for a delivery, the id of its
//! message: the first 8 of the 16 hex digits of `evpid=` (5.x: of `for <evpid>:`), which is
//! the `msgid=` of the `smtp message` line and the start of every envelope id of the message.
//! A refused command has none: its line names only the session.
//!
//! Formats of 6.8 checked against OpenSMTPD's `smtpd/mta.c` (`mta_log`), `smtpd/mda.c`,
//! `smtpd/smtp_session.c` (`failed-command`) and `smtpd/queue.c` (`queue_log`, `Expire`).

mod dialogue;

use super::{
    leading_reply_codes, syslog, Direction, Event, Outcome, Parsed, Recipients, Relay, Reply,
};

/// Whether `line` was written by OpenSMTPD (its syslog program tag), countable or not.
pub fn claims(line: &[u8]) -> bool {
    syslog::split(line).is_some_and(|h| h.tag == b"smtpd")
}

/// Reads one OpenSMTPD log line (without its newline). Pure, allocation-free, never panics.
pub fn parse(line: &[u8]) -> Parsed<'_> {
    let Some(header) = syslog::split(line) else {
        return Parsed::Unrecognised;
    };
    if header.tag != b"smtpd" {
        return Parsed::Ignored;
    }
    parse_message(header.message).map_or(Parsed::Unrecognised, |p| p.with_time(header.stamp))
}

/// The message id of an envelope id: its first 8 hex digits (OpenSMTPD makes an envelope id
/// from the id of its message and 32 random bits, `smtpd/queue_backend.c`). The message id is
/// the `msgid=` of the `smtp message` line, the start of every envelope id of the message, and
/// what `smtpctl schedule`/`remove` take for all of them.
fn message_id(evpid: &[u8]) -> &[u8] {
    match evpid.split_at_checked(8) {
        Some((msgid, _)) if evpid.len() == 16 => msgid,
        _ => evpid,
    }
}

/// The message id of the `evpid=…` a 6.x delivery line starts with; empty without one.
fn message_id_field(rest: &[u8]) -> &[u8] {
    let Some(v) = rest.strip_prefix(b"evpid=") else {
        return &[];
    };
    message_id(v.split(|&c| c == b' ').next().unwrap_or_default())
}

/// `None` means Unrecognised.
fn parse_message(msg: &[u8]) -> Option<Parsed<'_>> {
    let id_len = msg.iter().take_while(|c| c.is_ascii_hexdigit()).count();
    if id_len == 16 {
        if let Some(rest) = msg.get(16..).and_then(|r| r.strip_prefix(b" ")) {
            // `mta event=delivery`, `smtp event=failed-command`: OpenSMTPD 6.0's spelling.
            if let Some(r) = rest
                .strip_prefix(b"mta delivery ")
                .or_else(|| rest.strip_prefix(b"mta event=delivery "))
            {
                return Some(delivery(r, false)?.with_queue_id(message_id_field(r)));
            }
            // A local delivery: `mda delivery` (6.x's `mda_log`), `delivery` before it.
            if let Some(r) = rest
                .strip_prefix(b"mda delivery ")
                .or_else(|| rest.strip_prefix(b"delivery "))
            {
                return Some(delivery(r, true)?.with_queue_id(message_id_field(r)));
            }
            if let Some(r) = rest
                .strip_prefix(b"smtp failed-command ")
                .or_else(|| rest.strip_prefix(b"smtp event=failed-command "))
            {
                return failed_command(r);
            }
        }
        return Some(Parsed::Ignored);
    }
    if let Some(r) = msg.strip_prefix(b"smtp-in: Failed command on session ") {
        return failed_command_5(r);
    }
    let (r, local) = match msg.strip_prefix(b"relay: ") {
        Some(r) => (r, false),
        None => match msg.strip_prefix(b"delivery: ") {
            Some(r) => (r, true),
            None => return Some(Parsed::Ignored),
        },
    };
    if r.starts_with(b"Expire for ") {
        return Some(Parsed::Event(Event::Expired));
    }
    Some(delivery_5(r, local).unwrap_or(Parsed::Ignored))
}

/// OpenSMTPD 5.x's delivery status, after `relay: ` (remote) or `delivery: ` (local):
/// `Ok for <evpid>: from=<…>, to=<…>, [rcpt=<…>, ]… delay=…, stat=<text>` (5.x `mta_log`,
/// `mda_log`). `None`: not a status of a delivery (`Remove for`, …), ignored.
fn delivery_5(rest: &[u8], local: bool) -> Option<Parsed<'_>> {
    let for_at = memchr::memmem::find(rest, b" for ")?;
    let outcome = outcome_of(rest.get(..for_at)?)?;
    let evpid = rest.get(for_at + 5..)?.split(|&c| c == b':').next()?;
    let stat_at = memchr::memmem::rfind(rest, b" stat=")?;
    let stat = rest.get(stat_at + 6..)?;
    // `relay=ADDRESS (PTR), delay=…`: the relay runs to ` delay=`.
    let relay = if local {
        Relay::Local
    } else {
        let fields = rest.get(..stat_at)?;
        memchr::memmem::find(fields, b" relay=").map_or(Relay::Unknown, |at| {
            let v = &fields[at + 7..];
            let end = memchr::memmem::find(v, b" delay=").unwrap_or(v.len());
            let v = &v[..end];
            dialogue::relay(v.strip_suffix(b",").unwrap_or(v))
        })
    };
    let parsed = outbound(
        outcome,
        angle_field(rest, b", to=<")?,
        stat,
        field_delay(rest, b','),
        relay,
    )?;
    Some(parsed.with_queue_id(message_id(evpid)))
}

/// The outcome of a delivery's result word (6.x `result="…"`, 5.x's prefix).
fn outcome_of(result: &[u8]) -> Option<Outcome> {
    match result {
        b"Ok" => Some(Outcome::Delivered),
        b"TempFail" => Some(Outcome::Deferred),
        b"PermFail" | b"Loop" => Some(Outcome::Bounced),
        _ => None,
    }
}

/// The address of the first `key` field (`key` ends with `<`), up to its `>`.
fn angle_field<'a>(text: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    let v = text.get(memchr::memmem::find(text, key)? + key.len()..)?;
    v.get(..memchr::memchr(b'>', v)?)
}

/// The `delay=` field, up to `end` (a space in 6.x, a comma in 5.x).
fn field_delay(text: &[u8], end: u8) -> Option<f64> {
    let d = text.get(memchr::memmem::find(text, b" delay=")? + 7..)?;
    parse_duration(d.split(|&c| c == end).next()?)
}

/// One outbound reply for recipient `to`, its codes from the start of `stat`.
fn outbound<'a>(
    outcome: Outcome,
    to: &'a [u8],
    stat: &'a [u8],
    delay: Option<f64>,
    relay: Relay<'a>,
) -> Option<Parsed<'a>> {
    let (code, enhanced) = leading_reply_codes(stat);
    Some(Parsed::Event(Event::Reply(Reply {
        direction: Direction::Outbound,
        outcome,
        code,
        enhanced,
        recipients: Recipients::One(to),
        delay,
        text: stat,
        relay,
        // The remote's reply is logged without the command it answered.
        stage: crate::parse::Stage::Unknown,
        // The caller adds the message id of `evpid=`; `parse` adds the time.
        queue_id: &[],
        time: crate::parse::Stamp::None,
    })))
}

/// The value of `key="…"` in `text`, up to the next `"`.
fn quoted<'a>(text: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    let at = memchr::memmem::find(text, key)? + key.len();
    let v = text.get(at..)?;
    Some(&v[..memchr::memchr(b'"', v)?])
}

/// The value of the last field, `key="…"` ending the line: everything to the final quote.
fn last_quoted<'a>(text: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    let at = memchr::memmem::rfind(text, key)? + key.len();
    text.get(at..)?.strip_suffix(b"\"")
}

/// `evpid=… from=<…> to=<…> rcpt=<…> … relay="…" delay=… result="…" stat="…"` (a local
/// delivery has no `relay=`, and `mda_log` writes `result=Ok stat=Delivered` unquoted).
fn delivery(rest: &[u8], local: bool) -> Option<Parsed<'_>> {
    let to = angle_field(rest, b" to=<")?;
    let (outcome, stat_at, stat) = match quoted(rest, b" result=\"") {
        Some(result) => (
            outcome_of(result)?,
            memchr::memmem::rfind(rest, b" stat=\"")?,
            last_quoted(rest, b" stat=\"")?,
        ),
        // `mda_log`'s unquoted fields (local deliveries only).
        None if local => {
            let v = rest.get(memchr::memmem::find(rest, b" result=")? + 8..)?;
            let at = memchr::memmem::rfind(rest, b" stat=")?;
            (
                outcome_of(v.split(|&c| c == b' ').next()?)?,
                at,
                rest.get(at + 6..)?,
            )
        }
        None => return None,
    };
    let relay = if local {
        Relay::Local
    } else {
        // Before `stat=`, whose text is the remote's.
        quoted(&rest[..stat_at], b" relay=\"").map_or(Relay::Unknown, dialogue::relay)
    };
    outbound(outcome, to, stat, field_delay(rest, b' '), relay)
}

/// OpenSMTPD's durations: `0s`, `1m2s`, `1h2m3s`, `2d1h2m3s`.
fn parse_duration(d: &[u8]) -> Option<f64> {
    if d.is_empty() {
        return None;
    }
    let (mut total, mut n, mut digits) = (0u64, 0u64, 0);
    for &c in d {
        match c {
            b'0'..=b'9' if digits < 12 => {
                n = n * 10 + u64::from(c - b'0');
                digits += 1;
            }
            b'd' | b'h' | b'm' | b's' if digits > 0 => {
                let unit = match c {
                    b'd' => 86_400,
                    b'h' => 3_600,
                    b'm' => 60,
                    _ => 1,
                };
                total += n * unit;
                (n, digits) = (0, 0);
            }
            _ => return None,
        }
    }
    (digits == 0).then_some(total as f64)
}

/// `command="…" result="…"` (the result ends the line).
fn failed_command(rest: &[u8]) -> Option<Parsed<'_>> {
    let reply = last_quoted(rest, b" result=\"")?;
    let command = quoted(rest, b"command=\"")?;
    refusal(command, reply)
}

/// A refused `command` and the `reply` it got: one inbound refusal, for the recipient of a
/// refused `RCPT TO`.
fn refusal<'a>(command: &'a [u8], reply: &'a [u8]) -> Option<Parsed<'a>> {
    let (code, enhanced) = leading_reply_codes(reply);
    code?;
    let rcpt = command
        .get(..8)
        .filter(|k| k.eq_ignore_ascii_case(b"RCPT TO:"))
        .and_then(|_| {
            let arg = command.get(8..)?.trim_ascii_start();
            let arg = arg.strip_prefix(b"<")?;
            Some(&arg[..memchr::memchr(b'>', arg)?])
        });
    Some(Parsed::Event(Event::Reply(Reply {
        direction: Direction::Inbound,
        outcome: Outcome::Rejected,
        code,
        enhanced,
        recipients: rcpt.map_or(Recipients::None, Recipients::One),
        delay: None,
        text: reply,
        relay: Relay::Unknown,
        stage: dialogue::of_command(command),
        // The line names only the session, no message; `parse` adds the time.
        queue_id: &[],
        time: crate::parse::Stamp::None,
    })))
}

/// OpenSMTPD 5.x: `<session>: "<command>" => <reply>` (after `Failed command on session `).
fn failed_command_5(rest: &[u8]) -> Option<Parsed<'_>> {
    let open = memchr::memmem::find(rest, b": \"")? + 3;
    let arrow = memchr::memmem::rfind(rest, b"\" => ")?;
    let command = rest.get(open..arrow)?;
    let reply = rest.get(arrow + 5..)?;
    // The reply runs to the end of the line: a line cut inside its codes (`421 4.3`) is not
    // read as other codes.
    let complete = reply
        .split(|&c| c == b' ')
        .take(3)
        .any(|w| !w.is_empty() && !w.iter().all(|c| c.is_ascii_digit() || *c == b'.'));
    if !complete {
        return None;
    }
    refusal(command, reply)
}

#[cfg(test)]
mod tests;
