//! Postfix's outbound delivery results: the delivery-status lines of the delivery agents and
//! qmgr's expiry lines (every example is a real line, written by Postfix 3.7.11 from Debian 12
//! to its `maillog_file`; the remote servers were scripted test servers).
//!
//! **Outbound delivery status** (smtp, lmtp, local, virtual, pipe, error/retry, discard, and any
//! other Postfix program logging this shape), one reply for the recipient in `to=<…>`; `dsn=` is
//! the enhanced code, the basic code is read from the reason text where Postfix quotes the
//! remote reply; `delay=` is the delay:
//! ```text
//! Nov 23 02:12:58 mx postfix/smtp[10732]: 1CA9A98C0C2: to=<Info@EXAMPLE.NET>, relay=127.0.0.1[127.0.0.1]:12600, delay=0.03, delays=0.01/0.02/0/0, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 4XyZ12AbCd)
//! Nov 23 02:12:58 mx postfix-out/smtp[10748]: 3519A98C16D: to=<nouser2@out.example>, relay=127.0.0.1[127.0.0.1]:12600, delay=0.04, delays=0.01/0.03/0/0, dsn=5.1.1, status=bounced (host 127.0.0.1[127.0.0.1] said: 550 5.1.1 <nouser2>: Recipient address rejected: User unknown in virtual mailbox table (in reply to RCPT TO command))
//! Nov 23 02:12:58 mx postfix/smtp[10731]: 1B0E698C15E: to=<multi1@remote.example>, relay=127.0.0.1[127.0.0.1]:12600, delay=0.05, delays=0.01/0.01/0/0.03, dsn=5.1.1, status=bounced (host 127.0.0.1[127.0.0.1] said: 550-5.1.1 The email account that you tried to reach does not exist. Please try 550-5.1.1 double-checking the recipient's email address for typos or 550-5.1.1 unnecessary spaces. For more information, go to 550 5.1.1  https://support.example.com/mail/?p=NoSuchUser x1si123 - gsmtp (in reply to RCPT TO command))
//! Nov 23 02:12:58 mx postfix/smtp[10732]: 2104498C161: to=<someone@refuse554.example>, relay=127.0.0.1[127.0.0.1]:12601, delay=0.02, delays=0/0.02/0/0, dsn=4.7.1, status=deferred (host 127.0.0.1[127.0.0.1] refused to talk to me: 554 5.7.1 mx.remote.example ESMTP not accepting messages from your IP)
//! Nov 23 02:19:35 mx postfix/error[26783]: ECC5298C06D: to=<u4@busy421.example>, relay=none, delay=0.06, delays=0.01/0.05/0/0, dsn=4.7.0, status=deferred (delivery temporarily suspended: host 127.0.0.1[127.0.0.1] refused to talk to me: 421 4.7.0 mx.remote.example Too many concurrent SMTP connections; please try again later)
//! Nov 23 02:12:58 mx postfix/smtp[10731]: 22EBD98C042: to=<someone@closed.example>, relay=none, delay=0.02, delays=0.02/0.01/0/0, dsn=4.4.1, status=deferred (connect to 127.0.0.1[127.0.0.1]:12603: Connection refused)
//! Nov 23 02:12:58 mx postfix/lmtp[10741]: 2D5D098C16B: to=<u1@lmtp.example>, relay=127.0.0.1[127.0.0.1]:12606, delay=0.02, delays=0/0.01/0/0, dsn=2.0.0, status=sent (250 2.0.0 <u1@lmtp.example> 4dNQdD2VZmZf7Oo1AB Saved)
//! Nov 23 02:12:58 mx postfix/local[10740]: 3818198C179: to=<sseuser@sse-test.example>, orig_to=<root@sse-test.example>, relay=local, delay=0.03, delays=0.01/0/0/0.01, dsn=2.0.0, status=sent (delivered to mailbox)
//! Nov 23 02:12:58 mx postfix/virtual[10753]: 3818198C179: to=<alice@virt.sse-test.example>, relay=virtual, delay=0.04, delays=0.01/0.02/0/0, dsn=2.0.0, status=sent (delivered to maildir)
//! Nov 23 02:12:58 mx postfix/pipe[10744]: 31BCB98C170: to=<x@pipefail.example>, relay=pipefail, delay=0.03, delays=0/0.02/0/0.01, dsn=5.1.1, status=bounced (user unknown. Command output: no such user here )
//! Nov 23 02:18:11 mx postfix/error[23773]: 2B16B98C341: to=<gone@retired.example>, relay=none, delay=0.04, delays=0.01/0.01/0/0.01, dsn=5.1.2, status=bounced (Mailbox domain retired)
//! Nov 23 02:12:58 mx postfix/discard[10742]: 3009C98C16D: to=<x@discard.example>, relay=none, delay=0.01, delays=0/0.01/0/0, dsn=2.0.0, status=sent (silently dropped by policy)
//! Nov 23 02:18:58 mx postfix/smtp[25668]: B5A3998C028: to=<nouser5@remote.example>, relay=127.0.0.1[127.0.0.1]:12600, delay=0.02, delays=0.01/0.01/0/0.01, dsn=4.1.1, status=SOFTBOUNCE (host 127.0.0.1[127.0.0.1] said: 550 5.1.1 <nouser5>: Recipient address rejected: User unknown in virtual mailbox table (in reply to RCPT TO command))
//! Nov 23 02:18:14 mx postfix/smtp[23828]: 688D198C349: to=<ok9@remote.example>, relay=127.0.0.1[127.0.0.1]:12600, delay=0.01, delays=0/0/0/0, dsn=2.1.5, status=deliverable (250 2.1.5 Ok)
//! ```
//! `status=` words: `sent` → delivered, `deferred` and `SOFTBOUNCE` (soft_bounce=yes) →
//! deferred, `bounced`; the address verification probes' own words are outcomes of their own:
//! `deliverable`, `undeliverable` (the probe bounced or was deferred) and
//! `undeliverable-but-not-cached` (the same, with `address_verify_negative_cache = no`), e.g.
//! (a line from the whyscream/postfix-grok-patterns tests):
//! ```text
//! Jan  1 00:00:00 peerhost postfix/error[1]: 3E29030F8637E: to=<user@yahoo.com>, relay=none, delay=0.01, delays=0.01/0/0/0, dsn=5.1.1, status=undeliverable-but-not-cached (User unknown in virtual alias table)
//! ```
//!
//! **Expiry** (never a reply), one per message: the queue lifetime ran out, or an
//! administrator expired the message (`postsuper -e`, `force-expired`):
//! ```text
//! Nov 23 02:18:58 mx postfix/qmgr[25619]: B5A3998C028: from=<sender@sse-test.example>, status=expired, returned to sender
//! Nov 23 02:18:51 mx postfix/qmgr[23757]: 3348098C175: from=<sender@sse-test.example>, status=force-expired, returned to sender
//! ```
//!
//! Formats checked against Postfix's source: `global/log_adhoc.c` (delivery status),
//! `global/sent.c`, `bounce.c`, `defer.c` and `verify.c` (the probes' words),
//! `qmgr/qmgr_active.c` (expiry), `smtp/smtp_proto.c` and `smtp/smtp_sasl_glue.c` (how remote
//! replies are quoted).

use super::{
    dialogue, finder_angle_comma, finder_delay, finder_dsn, finder_refused, finder_relay,
    finder_said,
};
use crate::parse::{
    leading_reply_codes, BasicCode, Direction, EnhancedCode, Event, Outcome, Parsed, Recipients,
    Reply,
};

/// `to=<r>, [orig_to=<o>,] relay=…, [conn_use=N,] delay=D, delays=a/b/c/d, [tls=…,] dsn=X.Y.Z,
/// status=WORD (reason)` — `rest` starts after `to=<`. (`parse_message` adds the queue id,
/// `parse` the time.)
pub(super) fn delivery_status(rest: &[u8]) -> Option<Parsed<'_>> {
    // The recipient ends at the first `>, ` followed by `orig_to=<` or `relay=`.
    let finder = finder_angle_comma();
    let mut from = 0;
    let (rcpt, after_rcpt) = loop {
        let p = from + finder.find(rest.get(from..)?)?;
        let tail = rest.get(p + 3..)?;
        if tail.starts_with(b"relay=") {
            break (rest.get(..p)?, tail);
        }
        if tail.starts_with(b"orig_to=<") {
            let q = finder_relay().find(tail)?;
            break (rest.get(..p)?, tail.get(q + 3..)?);
        }
        from = p + 1;
    };
    // `relay=…, [conn_use=N, ]delay=D, `
    let relay = after_rcpt.get(6..)?;
    let relay = relay.get(..memchr::memchr(b',', relay)?)?;
    let d = finder_delay().find(after_rcpt)?;
    let after_delay = after_rcpt.get(d + 8..)?;
    let comma = memchr::memchr(b',', after_delay)?;
    let delay = parse_seconds(after_delay.get(..comma)?);
    // `delays=…, [tls=…, ]dsn=X.Y.Z, status=WORD (reason)`
    let s = finder_dsn().find(after_delay)?;
    let after_dsn = after_delay.get(s + 6..)?;
    let comma = memchr::memchr(b',', after_dsn)?;
    let enhanced = EnhancedCode::parse(after_dsn.get(..comma)?);
    let status = after_dsn.get(comma..)?.strip_prefix(b", status=")?;
    let space = memchr::memchr(b' ', status)?;
    let outcome = match status.get(..space)? {
        b"sent" => Outcome::Delivered,
        b"deferred" | b"SOFTBOUNCE" => Outcome::Deferred,
        b"bounced" => Outcome::Bounced,
        b"deliverable" => Outcome::Deliverable,
        b"undeliverable" => Outcome::Undeliverable,
        b"undeliverable-but-not-cached" => Outcome::UndeliverableButNotCached,
        _ => return None,
    };
    let reason = status.get(space..)?.strip_prefix(b" (")?;
    let (code, text) = match reason.strip_suffix(b")") {
        Some(reason) => (reason_code(reason, false), reason),
        // Cut inside the reason: good only if a whole code was read before the cut.
        None => (Some(reason_code(reason, true)?), reason),
    };
    let (relay, stage) = dialogue::of_delivery(relay, text);
    Some(Parsed::Event(Event::Reply(Reply {
        direction: Direction::Outbound,
        outcome,
        code,
        enhanced,
        recipients: Recipients::One(rcpt),
        delay,
        text,
        relay,
        stage,
        queue_id: &[],
        time: crate::parse::Stamp::None,
    })))
}

/// The basic code of a delivery-status reason, as logged: at its start (`250 2.0.0 Ok…`), or
/// after `host H said: `, `host H refused to talk to me: `, `host H refused to start TLS: `,
/// `server H said: ` (SASL), each possibly after `delivery temporarily suspended: `.
fn reason_code(reason: &[u8], cut: bool) -> Option<BasicCode> {
    let code_of = |t: &[u8]| {
        if cut {
            basic_followed(t)
        } else {
            leading_reply_codes(t).0
        }
    };
    if let Some(c) = code_of(reason) {
        return Some(c);
    }
    remote_reply(reason).and_then(code_of)
}

/// A basic code at the start of `t` with a space or `-` after it (never at the cut end).
fn basic_followed(t: &[u8]) -> Option<BasicCode> {
    let t = t.trim_ascii_start();
    if !matches!(t.get(3), Some(b' ' | b'-' | b'\t')) {
        return None;
    }
    BasicCode::parse(t.get(..3)?)
}

/// The remote server's words inside a Postfix reason text.
fn remote_reply(reason: &[u8]) -> Option<&[u8]> {
    let (intro_end, text) = if let Some(p) = finder_said().find(reason) {
        (p, reason.get(p + 7..)?)
    } else {
        let p = finder_refused().find(reason)?;
        let tail = reason.get(p + 12..)?;
        let text = tail
            .strip_prefix(b"talk to me: ")
            .or_else(|| tail.strip_prefix(b"start TLS: "))?;
        (p, text)
    };
    // `… host H said` / `… server H said`: H is one word.
    let intro = reason.get(..intro_end)?;
    let word_start = memchr::memrchr(b' ', intro)?;
    let before = intro.get(..word_start)?;
    (before.ends_with(b"host") || before.ends_with(b"server")).then_some(text)
}

/// `delay=` as Postfix writes it (`0.52`, `4`, `361`).
fn parse_seconds(b: &[u8]) -> Option<f64> {
    std::str::from_utf8(b)
        .ok()?
        .parse::<f64>()
        .ok()
        .filter(|d| d.is_finite() && *d >= 0.0)
}

/// `from=<s>, status=expired, returned to sender` or `from=<s>, status=force-expired,
/// returned to sender` (qmgr): one expiry. Mail given up undelivered is an expiry whether its
/// queue lifetime ran out or an administrator expired it (`postsuper -e`).
pub(super) fn expiry(rest: &[u8]) -> Option<Parsed<'static>> {
    const EXPIRED: [&[u8]; 2] = [
        b">, status=expired, returned to sender",
        b">, status=force-expired, returned to sender",
    ];
    if EXPIRED.iter().any(|e| rest.ends_with(e)) {
        return Some(Parsed::Event(Event::Expired));
    }
    let p = finder_angle_comma().find(rest)?;
    let tail = rest.get(p..)?;
    if EXPIRED.iter().any(|e| e.starts_with(tail)) {
        // Cut inside the status.
        return None;
    }
    Some(Parsed::Ignored)
}
