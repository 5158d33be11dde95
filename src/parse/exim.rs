//! Exim 4: reads one line of Exim's main log (`mainlog`) into a [`Parsed`], in Exim's own file
//! layout or as Exim sends it to syslog (`log_file_path = syslog`).
//!
//! The line's prefix, each part optional where marked:
//! - syslog form only: any syslog header [`syslog::split`] knows whose program is `exim` or
//!   `exim4` (Exim's `syslog_processname`); lines of other programs are [`Parsed::Ignored`];
//! - Exim's timestamp `2026-11-23 04:41:53` (optional in syslog, `syslog_timestamp = false`),
//!   with `.123` (`log_selector = +millisec`) and ` +0100` (`log_timezone = true`) optional;
//! - `[pid]` (`+pid`, part of Debian's default `log_selector`);
//! - the message id: `1xVLsH-0006CA-1x` (Exim ≤ 4.96) or `1rmN3F-00000000Yu9-2BmZ` (4.97+).
//!
//! Kinds of lines understood. Every example is a real line written by Exim 4.96 from Debian 12
//! (`exim4-daemon-light 4.96-15+deb12u10`) in the end-to-end test, relaying to a scripted SMTP
//! sink and refusing scripted clients (see tests/fixtures/README.md):
//!
//! **Delivered** — `=>` the first address of a delivery, `->` each further address of the
//! same delivery, `>>` a cutthrough delivery. One reply for the address; the basic and
//! enhanced code come from the remote confirmation `C="…"` (`log_selector +smtp_confirmation`,
//! Debian's default); a local delivery carries none. The domain is the first address's; for a
//! pipe, file or `:blackhole:` delivery, the original address in `<…>`. `QT=` is the delay:
//! ```text
//! 2026-11-23 04:43:51 [27568] 1xVLuB-0007Ad-2b => r250-m1@d1.test R=to_sink T=sink_smtp H=127.0.0.2 [127.0.0.2] C="250 2.0.0 Ok: queued as S1"
//! 2026-11-23 04:43:51 [27568] 1xVLuB-0007Ad-2b -> r250-m2@d1.test R=to_sink T=sink_smtp H=127.0.0.2 [127.0.0.2] C="250 2.0.0 Ok: queued as S1"
//! 2026-11-23 04:41:54 [23939] 1xVLsI-0006E6-2u => :blackhole: <ok@in.test> R=inbound
//! ```
//!
//! **Deferred** — `==`. The reply is the remote server's, quoted after `SMTP error from remote
//! mail server after <command>: ` (also `LMTP error after …`, `PRDR error after DATA: `);
//! otherwise Exim's own words, with no code: after `defer (errno): `, or after the host field
//! that follows it (`H=name [ip]: `, `[ip]:port: `, `[ip]*: `); a bare `defer (errno)` counts
//! without words. Exim's "retry time not reached" (the address or host is
//! waiting for its next retry time; nothing was sent) counts as the deferral it says
//! (docs/counting.md):
//! ```text
//! 2026-11-23 04:41:53 [23819] 1xVLsH-0006CA-1x == r451-4.7.1-a2@d1.test R=to_sink T=sink_smtp defer (-44) H=127.0.0.2 [127.0.0.2]: SMTP error from remote mail server after RCPT TO:<r451-4.7.1-a2@d1.test>: 451 4.7.1 reply for <r451-4.7.1-a2@d1.test> (e2e sink)
//! 2026-11-23 04:41:53 [23819] 1xVLsH-0006CA-1x == x1@down.test R=to_down T=down_smtp defer (111): Connection refused
//! 2026-11-23 04:41:54 [23887] 1xVLsI-0006DG-1Q == x2@down.test R=to_down T=down_smtp defer (-54): retry time not reached for any host for 'down.test'
//! 2026-11-23 04:41:58 [24169] 1xVLsH-0006CA-1x == r451-4.7.1-a2@d1.test routing defer (-52): retry time not reached
//! ```
//! From Exim's own test suite (its `mainlog`, hosts and ids as the suite writes them):
//! ```text
//! 2017-07-30 18:51:05.712 10HmbB-000000005vi-0000 == dataloss@test.ex R=client T=send_to_server defer (-18) H=127.0.0.1 [127.0.0.1]: Remote host closed connection in response to pipelined end of data
//! 1999-03-02 09:44:33 10HmbE-000000005vi-0000 == revoked@test.ex R=client T=send_to_server3 defer (-37) H=127.0.0.1 [127.0.0.1]: TLS session: (SSL_connect) Server certificate revoked
//! 1999-03-02 09:44:33 10HmaZ-000000005vi-0000 == userz@test.ex R=r0 T=t1 defer (0) H=127.0.0.1 [127.0.0.1]: PRDR error after DATA: 450 cannot handle second rcpt right now
//! 1999-03-02 09:44:33 10HmaX-000000005vi-0000 == CALLER@test.ex R=caller T=local_delivery defer (-1)
//! ```
//!
//! **Bounced** — `**`, the reply read as for deferrals, or Exim's own words after `: ` (or
//! right after the address: `** file@x.y routing yielded a local delivery`):
//! ```text
//! 2026-11-23 04:41:54 [23887] 1xVLsI-0006DG-1Q ** r250-d554-5.7.1-b1@d1.test R=to_sink T=sink_smtp H=127.0.0.2 [127.0.0.2]: SMTP error from remote mail server after end of data: 554 5.7.1 content refused
//! ```
//!
//! **Expiry** — `**` ending in `retry timeout exceeded`: the address's retry rule gave up on it
//! (docs/counting.md: counted in `smtp_expired_total`, never as a reply; the failed attempt
//! before it, if any, has its own `==` line):
//! ```text
//! 2026-11-23 04:41:59 [24169] 1xVLsH-0006CA-1x ** r451-4.7.1-e1@exp.test: retry timeout exceeded
//! ```
//!
//! **Inbound refusals** — an ACL (or Exim itself) refused a command: `rejected RCPT <addr>`,
//! `temporarily rejected RCPT <addr>` (a `defer` verb), `rejected MAIL <addr>`, `rejected
//! EHLO or HELO name`, `rejected connection in "connect" ACL`, `rejected after DATA`, and the
//! other `rejected …:` forms. The reply is the text after `: `; Exim logs the code only when
//! the ACL's `message` starts with one (`relay not permitted` carries none). The domain is
//! the refused recipient's (RCPT only):
//! ```text
//! 2026-11-23 04:41:54 [23938] H=(client.e2e.test) [127.0.0.1] F=<r250-s3@snd.test> rejected RCPT <nouser@in.test>: 550 5.7.1 Refused by the e2e ACL
//! 2026-11-23 04:41:54 [23938] H=(client.e2e.test) [127.0.0.1] F=<r250-s3@snd.test> temporarily rejected RCPT <later@in.test>: 450 4.2.0 Mailbox busy, try later
//! 2026-11-23 04:43:56 [27896] H=(client.e2e.test) [127.0.0.1] F=<r250-s@snd.test> rejected RCPT <relay@elsewhere.test>: relay not permitted
//! 2026-11-23 04:41:55 [23997] 1xVLsJ-0006F3-1F H=(client.e2e.test) [127.0.0.1] F=<r250-s4@snd.test> rejected after DATA: 550 5.7.1 Content refused
//! 2026-11-23 04:43:52 [27668] H=(client.e2e.test) [127.0.0.1] rejected MAIL <x@blocked.test>: 553 5.7.1 Sender refused by the e2e ACL
//! 2026-11-23 04:43:54 [27767] H=(client.e2e.test) [127.0.0.9] rejected EHLO or HELO client.e2e.test: 550 5.7.1 HELO refused by the e2e ACL
//! 2026-11-23 04:43:54 [27767] rejected MAIL from [127.0.0.9]: no HELO/EHLO given
//! 2026-11-23 04:43:55 [27840] H=[127.0.0.11] rejected connection in "connect" ACL: 554 5.7.1 Connection refused by the e2e ACL
//! ```
//!
//! A refused AUTH, `NAME authenticator failed for HOST: `, counts as a refusal when a code
//! follows (crowdsec hub's test lines; Exim's test suite writes `H=(helo) [ip] U=ident`):
//! ```text
//! 2023-05-30 06:10:14 login authenticator failed for no-port.example.org [192.0.2.13]: 535 Incorrect authentication data (set_id=user)
//! ```
//!
//! **Syslog form** (Exim 4.96, `log_file_path = syslog`, through rsyslog 8.2302): the same
//! lines after the syslog header. With `syslog_duplication` (the default), a refusal Exim
//! writes to both its main and its reject log reaches syslog twice, one line right after the
//! other from the same process; the second copy is [`Parsed::Ignored`] (see [`Dedup`]):
//! ```text
//! 2026-11-23T04:44:13.989928+00:00 vm exim[28618]: 2026-11-23 04:44:13 H=(client.e2e.test) [127.0.0.1] F=<r250-s1@snd.test> rejected RCPT <nouser@in.test>: 550 5.7.1 Refused by the e2e ACL
//! 2026-11-23T04:44:14.172094+00:00 vm exim[28619]: 2026-11-23 04:44:14 1xVLuX-0007Ra-3C => r250-y1@d1.test R=to_sink T=sink_smtp H=127.0.0.2 [127.0.0.2] C="250 2.0.0 Ok: queued as S1"
//! ```
//!
//! **The reject log** (`rejectlog`) repeats the main log's refusals (with header dumps): a file
//! whose name starts with `rejectlog` is read with [`Parser::for_path`](super::Parser::for_path)
//! as a reject log, every line [`Parsed::Ignored`], so a refusal counts once, from the main
//! log (docs/counting.md).
//!
//! Everything else is [`Parsed::Ignored`]: arrivals `<=`, `Completed`, queue runs, connections,
//! warnings, the host-level `H=… Connection refused` lines (each address gets its own `==`),
//! the `SMTP protocol synchronization error … rejected connection` lines (no reply logged), and
//! continuation lines of multi-line entries (leading white space). A line without Exim's
//! prefix, or a delivery or refusal line cut before its address or reply, is
//! [`Parsed::Unrecognised`].

use super::{leading_reply_codes, syslog, Direction, Event, Outcome, Parsed, Recipients, Reply};

/// Reads one Exim main-log line (without its newline). Pure, allocation-free, never panics.
pub fn parse(line: &[u8]) -> Parsed<'_> {
    match split(line) {
        Split::Exim(body) => parse_body(body).unwrap_or(Parsed::Unrecognised),
        Split::Other => Parsed::Ignored,
        Split::Continuation => Parsed::Ignored,
        Split::None => Parsed::Unrecognised,
    }
}

/// Whether Exim wrote this line: its own main-log prefix (a timestamp, then a `[pid]`, a message
/// id or one of Exim's own messages), or a syslog line of program `exim`/`exim4`. Countable or
/// not. A bare timestamp and other text (an ACL's `logwrite` without `+pid`) is not claimed.
pub fn claims(line: &[u8]) -> bool {
    match split(line) {
        Split::Exim(body) => {
            // A bare timestamp is common to many logs: ask for something Exim-shaped after it.
            body.syslog || body.pid || body.id || exim_shaped(body.rest)
        }
        _ => false,
    }
}

/// Words that open Exim's own lines without a message id or pid (a main log without `+pid`).
fn exim_shaped(rest: &[u8]) -> bool {
    const STARTS: &[&[u8]] = &[
        b"exim ",
        b"H=",
        b"U=",
        b"F=<",
        b"SMTP connection from ",
        b"Start queue run",
        b"End queue run",
        b"rejected ",
        b"no host name found",
        b"no IP address found for host ",
        b"TLS error ",
        b"SMTP protocol ",
        b"SMTP command timeout",
        b"SMTP syntax error",
        b"SMTP call from ",
        b"SMTP data timeout",
        b"SMTP connection ",
        b"SMTP incomplete transaction",
        b"unexpected disconnection",
        b"Start ODMR queue run",
        b"Start '",
        b"End '",
        b"Ci=",
        b"DKIM: ",
        b"no MAIL in SMTP connection from ",
        b"ignoring AUTH=",
        b"VRFY failed for ",
        b"EXPN ",
        b"ETRN ",
        b"ATRN ",
        b"recipient verify ",
        b"sender verify ",
        b"Connection from ",
        b"Warning: No server certificate defined",
    ];
    STARTS.iter().any(|s| rest.starts_with(s)) || auth_failure(rest).is_some()
}

/// The text after `NAME authenticator failed for `, if the line is one.
fn auth_failure(rest: &[u8]) -> Option<&[u8]> {
    const FAILED: &[u8] = b" authenticator failed for ";
    let name = memchr::memchr(b' ', rest)?;
    rest[name..].strip_prefix(FAILED)
}

/// The part of a line after Exim's prefix, and which optional parts the prefix had.
#[derive(Debug, Clone, Copy)]
struct Body<'a> {
    rest: &'a [u8],
    syslog: bool,
    pid: bool,
    id: bool,
}

enum Split<'a> {
    Exim(Body<'a>),
    /// A syslog line of another program.
    Other,
    /// A line starting with white space: the continuation of a multi-line entry.
    Continuation,
    /// No Exim prefix.
    None,
}

fn split(line: &[u8]) -> Split<'_> {
    if let Some(rest) = strip_timestamp(line) {
        return Split::Exim(after_stamp(rest, false));
    }
    if line.first().is_some_and(|c| matches!(c, b' ' | b'\t')) {
        return Split::Continuation;
    }
    let Some(h) = syslog::split(line) else {
        return Split::None;
    };
    if !matches!(h.tag, b"exim" | b"exim4") {
        return Split::Other;
    }
    let msg = strip_timestamp(h.message).unwrap_or(h.message);
    Split::Exim(after_stamp(msg, true))
}

fn after_stamp(rest: &[u8], syslog: bool) -> Body<'_> {
    let (rest, pid) = match strip_pid(rest) {
        Some(r) => (r, true),
        None => (rest, false),
    };
    let (rest, id) = match strip_message_id(rest) {
        Some(r) => (r, true),
        None => (rest, false),
    };
    Body {
        rest,
        syslog,
        pid,
        id,
    }
}

/// Removes `YYYY-MM-DD HH:MM:SS` with optional `.fff` and ` ±HHMM`, and the space after it.
fn strip_timestamp(line: &[u8]) -> Option<&[u8]> {
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
    match rest {
        [b' ', tail @ ..] => Some(tail),
        [] => Some(rest),
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

/// Removes a message id and the space after it: base-62 parts of 6-6-2 (Exim ≤ 4.96) or
/// 6-11-4 (Exim 4.97 and later) characters.
fn strip_message_id(rest: &[u8]) -> Option<&[u8]> {
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
            return rest.get(len + 1..);
        }
    }
    None
}

fn parse_body(body: Body<'_>) -> Option<Parsed<'_>> {
    let rest = body.rest;
    let outcome = match rest.get(..3) {
        Some(b"=> " | b"-> " | b">> ") => Outcome::Delivered,
        Some(b"== ") => Outcome::Deferred,
        Some(b"** ") => Outcome::Bounced,
        Some(b"<= " | b"*> ") => return Some(Parsed::Ignored),
        _ => {
            let refused = match auth_failure(rest) {
                Some(tail) => auth_refusal(tail),
                None => refusal(rest),
            };
            return Some(refused.unwrap_or(Parsed::Ignored));
        }
    };
    delivery(outcome, &rest[3..])
}

/// `ADDR [<ORIG>] [fields] …` of a `=>`, `->`, `>>`, `==` or `**` line.
fn delivery(outcome: Outcome, rest: &[u8]) -> Option<Parsed<'_>> {
    let (recipient, after) = recipient(rest)?;
    if outcome == Outcome::Bounced && after.trim_ascii_end().ends_with(b"retry timeout exceeded") {
        return Some(Parsed::Event(Event::Expired));
    }
    let text = match outcome {
        Outcome::Delivered => confirmation(after).unwrap_or_default(),
        _ => failure_text(after)?,
    };
    let (code, enhanced) = leading_reply_codes(text);
    Some(Parsed::Event(Event::Reply(Reply {
        direction: Direction::Outbound,
        outcome,
        code,
        enhanced,
        recipients: Recipients::One(recipient),
        delay: field(after, b" QT=").and_then(exim_seconds),
        text,
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
    let at = memchr::memmem::find(after, b" C=\"")? + 4;
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
fn coded_text(s: &[u8]) -> Option<&[u8]> {
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

/// A refused AUTH: `NAME authenticator failed for HOST: 535 …`, the tail after `for `. Counts
/// only with the code Exim logs (the client's host may hold `: `; the reply is the text after
/// the first `: ` that a code follows); without one it is no reply.
fn auth_refusal(tail: &[u8]) -> Option<Parsed<'_>> {
    Some(reject(Recipients::None, coded_text(tail)?))
}

/// An inbound refusal line: `[fields] [temporarily ]rejected WHAT: TEXT`.
fn refusal(rest: &[u8]) -> Option<Parsed<'_>> {
    let at = if rest.starts_with(b"rejected ") {
        0
    } else {
        memchr::memmem::find(rest, b" rejected ")? + 1
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

/// The value of ` NAME=value` up to the next space.
fn field<'a>(after: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    let at = memchr::memmem::find(after, name)? + name.len();
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
    strip_timestamp(line).is_none().then_some(())?;
    let h = syslog::split(line)?;
    let head = line.get(..line.len().checked_sub(h.message.len())?)?;
    // `… exim[28618]: ` → `28618`
    let open = memchr::memrchr(b'[', head)?;
    let close = memchr::memrchr(b']', head)?;
    let pid = head.get(open + 1..close)?;
    let mut s = std::collections::hash_map::DefaultHasher::new();
    pid.hash(&mut s);
    h.message.hash(&mut s);
    Some(s.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::render_for_tests as render;

    /// Real lines of Exim 4.96 (Debian 12), and what they count as.
    const CASES: &[(&str, &str)] = &[
        (r#"2026-11-23 04:43:51 [27568] 1xVLuB-0007Ad-2b => r250-m1@d1.test R=to_sink T=sink_smtp H=127.0.0.2 [127.0.0.2] C="250 2.0.0 Ok: queued as S1""#, "outbound delivered 250 2.0.0 d1.test"),
        (r#"2026-11-23 04:43:51 [27568] 1xVLuB-0007Ad-2b -> r250-m2@d1.test R=to_sink T=sink_smtp H=127.0.0.2 [127.0.0.2] C="250 2.0.0 Ok: queued as S1""#, "outbound delivered 250 2.0.0 d1.test"),
        ("2026-11-23 04:41:54 [23939] 1xVLsI-0006E6-2u => :blackhole: <ok@in.test> R=inbound", "outbound delivered - - in.test"),
        ("2026-11-23 04:41:53 [23819] 1xVLsH-0006CA-1x == r451-4.7.1-a2@d1.test R=to_sink T=sink_smtp defer (-44) H=127.0.0.2 [127.0.0.2]: SMTP error from remote mail server after RCPT TO:<r451-4.7.1-a2@d1.test>: 451 4.7.1 reply for <r451-4.7.1-a2@d1.test> (e2e sink)", "outbound deferred 451 4.7.1 d1.test"),
        ("2026-11-23 04:41:53 [23819] 1xVLsH-0006CA-1x == x1@down.test R=to_down T=down_smtp defer (111): Connection refused", "outbound deferred - - down.test"),
        ("2026-11-23 04:41:54 [23887] 1xVLsI-0006DG-1Q == x2@down.test R=to_down T=down_smtp defer (-54): retry time not reached for any host for 'down.test'", "outbound deferred - - down.test"),
        ("2026-11-23 04:41:58 [24169] 1xVLsH-0006CA-1x == r451-4.7.1-a2@d1.test routing defer (-52): retry time not reached", "outbound deferred - - d1.test"),
        ("2026-11-23 04:41:54 [23887] 1xVLsI-0006DG-1Q ** r250-d554-5.7.1-b1@d1.test R=to_sink T=sink_smtp H=127.0.0.2 [127.0.0.2]: SMTP error from remote mail server after end of data: 554 5.7.1 content refused", "outbound bounced 554 5.7.1 d1.test"),
        ("2026-11-23 04:43:51 [27568] 1xVLuB-0007Ad-2b ** r550-5.1.1-ml-m3@d1.test R=to_sink T=sink_smtp H=127.0.0.2 [127.0.0.2]: SMTP error from remote mail server after RCPT TO:<r550-5.1.1-ml-m3@d1.test>: 550 5.1.1 reply for <r550-5.1.1-ml-m3@d1.test> (e2e sink)", "outbound bounced 550 5.1.1 d1.test"),
        ("2026-11-23 04:41:59 [24169] 1xVLsH-0006CA-1x ** r451-4.7.1-e1@exp.test: retry timeout exceeded", "Expired"),
        ("2026-11-23 04:41:54 [23938] H=(client.e2e.test) [127.0.0.1] F=<r250-s3@snd.test> rejected RCPT <nouser@in.test>: 550 5.7.1 Refused by the e2e ACL", "inbound rejected 550 5.7.1 in.test"),
        ("2026-11-23 04:41:54 [23938] H=(client.e2e.test) [127.0.0.1] F=<r250-s3@snd.test> temporarily rejected RCPT <later@in.test>: 450 4.2.0 Mailbox busy, try later", "inbound rejected 450 4.2.0 in.test"),
        ("2026-11-23 04:43:56 [27896] H=(client.e2e.test) [127.0.0.1] F=<r250-s@snd.test> rejected RCPT <relay@elsewhere.test>: relay not permitted", "inbound rejected - - elsewhere.test"),
        ("2026-11-23 04:41:55 [23997] 1xVLsJ-0006F3-1F H=(client.e2e.test) [127.0.0.1] F=<r250-s4@snd.test> rejected after DATA: 550 5.7.1 Content refused", "inbound rejected 550 5.7.1 "),
        ("2026-11-23 04:43:52 [27668] H=(client.e2e.test) [127.0.0.1] rejected MAIL <x@blocked.test>: 553 5.7.1 Sender refused by the e2e ACL", "inbound rejected 553 5.7.1 "),
        ("2026-11-23 04:43:54 [27767] H=(client.e2e.test) [127.0.0.9] rejected EHLO or HELO client.e2e.test: 550 5.7.1 HELO refused by the e2e ACL", "inbound rejected 550 5.7.1 "),
        ("2026-11-23 04:43:54 [27767] rejected MAIL from [127.0.0.9]: no HELO/EHLO given", "inbound rejected - - "),
        (r#"2026-11-23 04:43:55 [27840] H=[127.0.0.11] rejected connection in "connect" ACL: 554 5.7.1 Connection refused by the e2e ACL"#, "inbound rejected 554 5.7.1 "),
        ("2026-11-23T04:44:13.989928+00:00 vm exim[28618]: 2026-11-23 04:44:13 H=(client.e2e.test) [127.0.0.1] F=<r250-s1@snd.test> rejected RCPT <nouser@in.test>: 550 5.7.1 Refused by the e2e ACL", "inbound rejected 550 5.7.1 in.test"),
        (r#"2026-11-23T04:44:14.172094+00:00 vm exim[28619]: 2026-11-23 04:44:14 1xVLuX-0007Ra-3C => r250-y1@d1.test R=to_sink T=sink_smtp H=127.0.0.2 [127.0.0.2] C="250 2.0.0 Ok: queued as S1""#, "outbound delivered 250 2.0.0 d1.test"),
        ("2026-11-23T04:44:14.172137+00:00 vm exim[28619]: 2026-11-23 04:44:14 1xVLuX-0007Ra-3C == r451-4.7.1-y2@d1.test R=to_sink T=sink_smtp defer (-44) H=127.0.0.2 [127.0.0.2]: SMTP error from remote mail server after RCPT TO:<r451-4.7.1-y2@d1.test>: 451 4.7.1 reply for <r451-4.7.1-y2@d1.test> (e2e sink)", "outbound deferred 451 4.7.1 d1.test"),
        // Exim's own words after the host field, a bare `defer (N)`, a PRDR refusal with its code.
        ("2017-07-30 18:51:05.712 10HmbB-000000005vi-0000 == dataloss@test.ex R=client T=send_to_server defer (-18) H=127.0.0.1 [127.0.0.1]: Remote host closed connection in response to pipelined end of data", "outbound deferred - - test.ex"),
        ("1999-03-02 09:44:33 10HmbA-000000005vi-0000 == usery@domain1 R=others T=smtp defer (-44) H=127.0.0.1 [127.0.0.1]*: SMTP error from remote mail server after RCPT TO:<usery@domain1>: 450 Temporary error 3", "outbound deferred 450 - domain1"),
        ("1999-03-02 09:44:33 10HmbH-000000005vi-0000 == x@test.ex R=remote T=smtp defer (-19) H=127.0.0.1 [127.0.0.1]: Malformed SMTP reply (an empty line) in response to DATA", "outbound deferred - - test.ex"),
        ("1999-03-02 09:44:33 10HmbE-000000005vi-0000 == revoked@test.ex R=client T=send_to_server3 defer (-37) H=127.0.0.1 [127.0.0.1]: TLS session: (SSL_connect) Server certificate revoked", "outbound deferred - - test.ex"),
        ("1999-03-02 09:44:33 10HmaY-000000005vi-0000 == userx@test.ex R=client T=send_to_server defer (-38) H=127.0.0.1 [127.0.0.1]:PORT_D: a TLS session is required, but the server did not offer TLS support", "outbound deferred - - test.ex"),
        ("1999-03-02 09:44:33 10HmaX-000000005vi-0000 == CALLER@test.ex R=caller T=local_delivery defer (-1)", "outbound deferred - - test.ex"),
        ("1999-03-02 09:44:33 10HmaZ-000000005vi-0000 == userz@test.ex R=r0 T=t1 defer (0) H=127.0.0.1 [127.0.0.1]: PRDR error after DATA: 450 cannot handle second rcpt right now", "outbound deferred 450 - test.ex"),
        ("1999-03-02 09:44:33 10HmaX-000000005vi-0000 ** baduser@test.ex R=client T=send_to_server H=ip4.ip4.ip4.ip4 [ip4.ip4.ip4.ip4] : PRDR error after DATA: 550 PRDR R=<baduser@test.ex> refusal", "outbound bounced 550 - test.ex"),
        ("1999-03-02 09:44:33 10HmbE-000000005vi-0000 ** file@x.y routing yielded a local delivery", "outbound bounced - - x.y"),
        // A refused AUTH, with the code Exim logs.
        ("2022-06-29 16:04:19 dovecot_login authenticator failed for ([1.2.3.5]) [1.2.3.4]:55379: 535 Incorrect authentication data (set_id=abuse@test.com)", "inbound rejected 535 - "),
        ("2023-05-30 06:10:14 login authenticator failed for no-port.example.org [192.0.2.13]: 535 Incorrect authentication data (set_id=user)", "inbound rejected 535 - "),
        ("1999-03-02 09:44:33 plain authenticator failed for H=(test.host) [10.0.0.1] U=CALLER: 535 Incorrect authentication data", "inbound rejected 535 - "),
        // Not replies.
        ("1999-03-02 09:44:33 SMTP call from CALLER dropped: too many nonmail commands (last was \"rset\")", "Ignored"),
        ("1999-03-02 09:44:33 no MAIL in SMTP connection from CALLER D=qqs C=EXPN,QUIT", "Ignored"),
        ("2017-12-03 08:51:35 no IP address found for host test.example.com (during SMTP connection from [192.0.2.9])", "Ignored"),
        ("1999-03-02 09:44:33 VRFY failed for <b@test.ex> H=(test) [V4NET.0.0.0] U=CALLER", "Ignored"),
        ("1999-03-02 09:44:33 Warning: No server certificate defined; will use a selfsigned one.", "Ignored"),
        ("1999-03-02 09:44:33 recipient verify defer (making callout connection): T=smtp Netwk addr not available", "Ignored"),
        ("2026-11-23 04:41:53 [23818] 1xVLsH-0006CA-1x <= r250-s1@snd.test H=(client.e2e.test) [127.0.0.1] P=esmtp S=226 for r250-a1@d1.test r451-4.7.1-a2@d1.test r451-4.7.1-e1@exp.test x1@down.test", "Ignored"),
        ("2026-11-23 04:41:53 [23821] 1xVLsH-0006CA-1x H=127.0.0.10 [127.0.0.10] Connection refused", "Ignored"),
        ("2026-11-23 04:41:54 [23895] 1xVLsI-0006DN-26 Completed", "Ignored"),
        ("2026-11-23 04:41:51 [23735] exim 4.96 daemon started: pid=23735, no queue runs, listening for SMTP on [127.0.0.1]:30027", "Ignored"),
        ("2026-11-23 04:41:53 [23819] exim user lost privilege for using -C option", "Ignored"),
        ("2026-11-23 04:41:58 [24167] Start queue run: pid=24167", "Ignored"),
        ("2026-11-23T04:44:10.770301+00:00 vm rsyslogd: [origin software=\"rsyslogd\" swVersion=\"8.2302.0\" x-pid=\"28414\" x-info=\"https://www.rsyslog.com\"] start", "Ignored"),
        (" Suggested action: use keep_environment.", "Ignored"),
        ("not a log line", "Unrecognised"),
    ];

    #[test]
    fn cases() {
        for (line, want) in CASES {
            assert_eq!(render(&parse(line.as_bytes())), *want, "{line}");
        }
    }

    #[test]
    fn every_cut_is_unrecognised_or_ignored_or_right() {
        for (line, want) in CASES {
            for cut in 0..line.len() {
                let got = render(&parse(&line.as_bytes()[..cut]));
                // A cut may drop the reply text (a code-less deferral) or the whole reply; an
                // expiry cut inside `retry timeout exceeded` reads as a bounce without code.
                let same_kind = got.split(' ').take(2).eq(want.split(' ').take(2))
                    || (*want == "Expired" && got.starts_with("outbound bounced - - "));
                assert!(
                    got == "Unrecognised" || got == "Ignored" || got == *want || same_kind,
                    "{cut} of {line}: {got}"
                );
            }
        }
    }

    #[test]
    fn reply_text_is_the_remote_reply() {
        let text = |l: &str| match parse(l.as_bytes()) {
            Parsed::Event(Event::Reply(r)) => String::from_utf8_lossy(r.text).into_owned(),
            other => format!("{other:?}"),
        };
        assert_eq!(text(CASES[0].0), "250 2.0.0 Ok: queued as S1");
        assert_eq!(
            text(CASES[3].0),
            "451 4.7.1 reply for <r451-4.7.1-a2@d1.test> (e2e sink)"
        );
        assert_eq!(text(CASES[4].0), "Connection refused");
        assert_eq!(text(CASES[6].0), "retry time not reached");
        assert_eq!(text(CASES[12].0), "relay not permitted");
    }

    /// A deferral whose words follow the host field (`H=name [ip]:`), the most common Exim
    /// deferral, was unrecognised; so were `[ip]:port:`, a bare `defer (N)` and a PRDR refusal.
    #[test]
    fn deferral_words_after_the_host_field_count() {
        for (line, want) in [
            ("1999-03-02 09:44:33 10HmbN-000000005vi-0000 == a@test.ex R=client T=send_to_server defer (-18) H=127.0.0.1 [127.0.0.1]: Remote host closed connection in response to pipelined RCPT TO:<c@test.ex>", "Remote host closed connection in response to pipelined RCPT TO:<c@test.ex>"),
            ("1999-03-02 09:44:33 10HmaX-000000005vi-0000 == userx@domain1 R=others T=smtp defer (-58)", ""),
            ("1999-03-02 09:44:33 10HmaZ-000000005vi-0000 == userz@test.ex R=r0 T=t1 defer (0) H=127.0.0.1 [127.0.0.1]: PRDR error after DATA: 450 cannot handle second rcpt right now", "450 cannot handle second rcpt right now"),
            ("1999-03-02 09:44:33 10HmaX-000000005vi-0000 == userx@domain1 R=others T=smtp defer (-19) H=127.0.0.1 [127.0.0.1]: Malformed SMTP reply in response to RCPT TO:<userx@domain1>: 550 The answer is no", "Malformed SMTP reply in response to RCPT TO:<userx@domain1>: 550 The answer is no"),
        ] {
            match parse(line.as_bytes()) {
                Parsed::Event(Event::Reply(r)) => {
                    assert_eq!(r.outcome, Outcome::Deferred, "{line}");
                    assert_eq!(r.text, want.as_bytes(), "{line}");
                    // A malformed reply's code is not taken.
                    assert_eq!(r.code.is_some(), want.starts_with("450"), "{line}");
                }
                other => panic!("{line}: {other:?}"),
            }
        }
    }

    /// `NAME authenticator failed for HOST: 535 …` was ignored; it is a refusal with a code.
    #[test]
    fn auth_refusal_with_a_code_is_an_inbound_rejection() {
        let line = "2022-06-29 16:04:05 dovecot_plain authenticator failed for (mail.test.com) [192.0.2.181]:47807: 535 Incorrect authentication data (set_id=user)";
        assert_eq!(render(&parse(line.as_bytes())), "inbound rejected 535 - ");
        assert!(claims(line.as_bytes()));
        // Without a code Exim logs no reply.
        let bare = "2022-06-29 16:04:05 dovecot_plain authenticator failed for (mail.test.com) [192.0.2.181]:47807: Incorrect authentication data";
        assert_eq!(render(&parse(bare.as_bytes())), "Ignored");
    }

    #[test]
    fn prefix_variants() {
        for line in [
            "2026-11-23 04:41:53 1xVLsH-0006CA-1x == a@d1.test R=r T=t defer (-53): retry time not reached for any host",
            "2026-11-23 04:41:53.123 +0100 [99] 1xVLsH-0006CA-1x == a@d1.test R=r T=t defer (-53): retry time not reached for any host",
            "2026-11-23 04:41:53 [99] 1rmN3F-00000000Yu9-2BmZ == a@d1.test R=r T=t defer (-53): retry time not reached for any host",
            "Nov 23 04:41:53 mx exim[99]: 1xVLsH-0006CA-1x == a@d1.test R=r T=t defer (-53): retry time not reached for any host",
        ] {
            assert_eq!(
                render(&parse(line.as_bytes())),
                "outbound deferred - - d1.test",
                "{line}"
            );
            assert!(claims(line.as_bytes()), "{line}");
        }
        let qt = parse(
            b"2026-11-23 04:41:53 1xVLsH-0006CA-1x => a@d R=r T=t C=\"250 OK\" QT=1m2.5s DT=0s",
        );
        assert!(
            matches!(qt, Parsed::Event(Event::Reply(Reply { delay: Some(d), .. })) if (d - 62.5).abs() < 1e-9)
        );
    }

    #[test]
    fn claims_exim_lines_only() {
        for (line, _) in CASES {
            let ours =
                !line.contains("rsyslogd") && !line.starts_with(' ') && *line != "not a log line";
            assert_eq!(claims(line.as_bytes()), ours, "{line}");
        }
        assert!(!claims(
            b"Nov 23 02:12:58 mx postfix/smtp[10732]: 1CA9A98C0C2: to=<a@b>, status=sent (250 ok)"
        ));
        assert!(!claims(b"2026-11-23 04:41:53 some other program's line"));
    }

    #[test]
    fn syslog_copies_of_a_refusal_count_once() {
        let a = "2026-11-23T04:44:13.989928+00:00 vm exim[28618]: 2026-11-23 04:44:13 H=(client.e2e.test) [127.0.0.1] F=<r250-s1@snd.test> rejected RCPT <nouser@in.test>: 550 5.7.1 Refused by the e2e ACL";
        let a2 = "2026-11-23T04:44:13.989936+00:00 vm exim[28618]: 2026-11-23 04:44:13 H=(client.e2e.test) [127.0.0.1] F=<r250-s1@snd.test> rejected RCPT <nouser@in.test>: 550 5.7.1 Refused by the e2e ACL";
        let other_pid = a.replace("exim[28618]", "exim[28700]");
        let mut d = Dedup::default();
        let got: Vec<String> = [a, a2, a, a2, other_pid.as_str(), a]
            .iter()
            .map(|l| render(&d.parse(l.as_bytes())))
            .collect();
        assert_eq!(
            got.iter().filter(|g| g.starts_with("inbound")).count(),
            4,
            "{got:?}"
        );
        // Exim's own file has no copies: identical lines are distinct refusals.
        let f = CASES[10].0;
        let mut d = Dedup::default();
        assert!((0..3).all(|_| render(&d.parse(f.as_bytes())).starts_with("inbound")));
        let mut r = Dedup::reject_log();
        assert_eq!(render(&r.parse(f.as_bytes())), "Ignored");
    }
}
