//! Exim 4: reads one line of Exim's main log (`mainlog`) into a [`Parsed`], in Exim's own file
//! layout or as Exim sends it to syslog (`log_file_path = syslog`).
//!
//! The line's prefix, each part optional where marked:
//! - syslog form only: any syslog header [`syslog::split`] knows whose program is `exim` or
//!   `exim4` (Exim's `syslog_processname`); lines of other programs are [`Parsed::Ignored`];
//!   also `HOST exim[pid]: ` after a date written as Exim's (a syslog daemon's date template)
//!   or with no date before it (fail2ban's test lines);
//! - Exim's timestamp `2026-11-23 04:41:53` (optional in syslog, `syslog_timestamp = false`),
//!   with `.123` (`log_selector = +millisec`) and ` +0100` (`log_timezone = true`) optional;
//! - `[pid]` (`+pid`, part of Debian's default `log_selector`);
//! - the message id: `1xVLsH-0006CA-1x` (Exim ≤ 4.96) or `1rmN3F-00000000Yu9-2BmZ` (4.97+).
//!
//! Every reply carries the message id as its [`Reply::queue_id`] (empty for a refusal made
//! before a message was received: a refused `RCPT`, `MAIL`, `EHLO` or connection; `rejected
//! after DATA` has one) and as its [`Reply::time`] Exim's timestamp, with its milliseconds and
//! zone where logged; in the syslog form without Exim's timestamp, the syslog header's.
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
//! A cutthrough delivery (made while the message is still being received) whose target
//! answers the data with a 4xx is deferred there: Exim keeps the message and tries it again
//! from its queue. The line names the address before `F=<…>` and the target's reply in `C="…"`:
//! ```text
//! 1999-03-02 09:44:33 10HmbA-000000005vi-0000 U=CALLER usere@domain.com F=<CALLER@myhost.test.ex> P=<CALLER@myhost.test.ex> tmp-reject from cutthrough after DATA: R=all T=smtp H=127.0.0.1 [127.0.0.1] C="459 content reject"
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
//! **Verification callouts** — Exim asked an address's server whether it would take the
//! address (`verify = sender/callout`, `verify = recipient/callout`), and the server refused:
//! an address-verification probe, counted as Postfix's are, outbound `undeliverable` with the
//! server's codes and the domain of the address verified (the refusal that may follow has its
//! own `rejected` line). A callout without a server's code (a timeout, a refused connection, a
//! cached result) and a verification without a callout (`Unrouteable address`) are no reply:
//! ```text
//! 1999-03-02 09:44:33 H=(test) [V4NET.0.0.1] U=root sender verify fail for <bad@localhost>: 127.0.0.1 [127.0.0.1] : SMTP error from remote mail server after RCPT TO:<bad@localhost>: 550 Unknown user
//! 1999-03-02 09:44:33 U=CALLER sender verify defer for <r1@domain1>: Could not complete sender verify callout: 127.0.0.1 [127.0.0.1] : SMTP error from remote mail server after RCPT TO:<r1@domain1>: 450 Temporary error
//! 1999-03-02 09:44:33 H=(test) [V4NET.0.0.1] U=root sender verify fail for <uncheckable2@localhost1>: 127.0.0.1 [127.0.0.1] : response to "MAIL FROM:<>" was: 550 Error for <>
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
//! **Relay and stage** (the `provider` and `stage` labels, `dialogue.rs`): a delivery line's
//! `H=name [address]` is its relay, a delivery without a host a local one; the command Exim
//! names after `SMTP error from remote mail server after …` (and its timeouts' and closed
//! connections' words) is the stage of a deferral or bounce, the ACL's place (`rejected RCPT`,
//! `rejected after DATA`, …) that of a refusal. Inbound refusals name no relay.
//!
//! Everything else is [`Parsed::Ignored`]: arrivals `<=`, `Completed`, queue runs, connections,
//! warnings, the host-level `H=… Connection refused` and `H=… [ip]: SMTP error from remote mail
//! server after …: 451 …` lines and our client's refused AUTH (`NAME authenticator failed
//! H=… 535 …`): one host's error, not the address's final status — each address gets its own
//! `=>`, `==` or `**` line, as Postfix's `host … said:` lines are followed by `status=`;
//! `** mua_wrapper is set but …` (`mua_wrapper` mode failing a whole message: no recipient, no
//! server's reply, the calling MUA is told and no bounce sent; `** A mua_wrapper forced failure
//! for deferred delivery` is the bounce of A),
//! the `SMTP protocol synchronization error … rejected connection` lines (no reply logged), and
//! continuation lines of multi-line entries (leading white space). A line without Exim's
//! prefix, or a delivery or refusal line cut before its address or reply, is
//! [`Parsed::Unrecognised`].

mod delivery;
mod dialogue;
#[cfg(test)]
mod dialogue_tests;
mod prefix;
mod refusals;
#[cfg(test)]
mod tests;

/// Exim's names of the command a reply answered, also quoted in its bounce notices.
pub(crate) use dialogue::command_stage;
pub use prefix::Dedup;

/// A `memmem` finder built once: the searches every line of a kind makes (building one per
/// call costs more than the search on a short line).
macro_rules! finder {
    ($name:ident, $pat:literal) => {
        pub(super) fn $name() -> &'static memchr::memmem::Finder<'static> {
            static F: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
                std::sync::LazyLock::new(|| memchr::memmem::Finder::new($pat));
            &F
        }
    };
}
use finder;

use super::{leading_reply_codes, syslog, Direction, Event, Outcome, Parsed, Recipients, Reply};
use delivery::{cutthrough_deferral, delivery};
use prefix::{split, Body, Split};
use refusals::{auth_refusal, callout, refusal};

/// Reads one Exim main-log line (without its newline). Pure, allocation-free, never panics.
pub fn parse(line: &[u8]) -> Parsed<'_> {
    match split(line) {
        Split::Exim(body) => match parse_body(body) {
            // The message id and the time are the prefix's, whatever the line's kind.
            Some(Parsed::Event(Event::Reply(r))) => Parsed::Event(Event::Reply(Reply {
                queue_id: body.id,
                time: body.stamp,
                ..r
            })),
            Some(other) => other,
            None => Parsed::Unrecognised,
        },
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
            body.syslog || body.pid || !body.id.is_empty() || exim_shaped(body.rest)
        }
        _ => false,
    }
}

/// Whether a file already found to be Exim's holds this line as Exim's: what [`claims`] says,
/// and also a line with Exim's timestamp and text of the configuration's own (an ACL's
/// `logwrite`) or a continuation line (leading white space). Exim's own log file holds nothing
/// else; such a line alone cannot tell whose it is, so it does not decide a file's format.
pub fn holds(line: &[u8]) -> bool {
    matches!(split(line), Split::Exim(_) | Split::Continuation)
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
                None => refusal(rest)
                    .or_else(|| callout(rest))
                    .or_else(|| cutthrough_deferral(rest)),
            };
            return Some(refused.unwrap_or(Parsed::Ignored));
        }
    };
    let rest = &rest[3..];
    // In `mua_wrapper` mode Exim fails a whole message it cannot send in one transaction: no
    // recipient, no server's reply; the calling MUA is told, no bounce is sent. No reply.
    if rest.starts_with(b"mua_wrapper ") {
        return Some(Parsed::Ignored);
    }
    delivery(outcome, rest)
}
