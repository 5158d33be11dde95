//! What an Exim line says of the host that answered and the command its reply answered: the
//! `H=` field of deliveries, the host of a callout, and the command Exim names in its
//! messages (`SMTP error from remote mail server after RCPT TO:<…>`) or in the verb of a
//! refusal (`rejected RCPT <…>`).
//!
//! The wordings are Exim's own (4.9x, `src/transports/smtp.c` and `src/smtp_in.c`): the
//! transport's `smtp_command` is the last command written (`EHLO name`, `MAIL FROM:<…>`,
//! `RCPT TO:<…>`, `DATA`, `STARTTLS`, `AUTH …`) or one of `initial connection`, `sending data
//! block` and `end of data`, with `pipelined ` before it while pipelining; a refusal's verb
//! is an ACL's place: `RCPT <…>`, `MAIL <…>`, `DATA` (the predata ACL), `after DATA` (the data
//! ACL, after the message), `connection in "connect" ACL`, `EHLO or HELO …`, `AUTH …`, …

use super::finder;
use crate::parse::{Relay, Stage};

finder!(host_field_name, b" H=");
finder!(transport_field_name, b" T=");
finder!(remote_error_after, b"error from remote mail server after ");
finder!(lmtp_error_after, b"LMTP error after ");
finder!(timeout_after, b"SMTP timeout after ");
finder!(in_response_to, b"in response to ");
finder!(prdr_error_after, b"PRDR error after ");
finder!(connection_refused, b"Connection refused");
finder!(connection_timed_out, b"Connection timed out");

/// Exim's default and Debian's local transports (`configure.default`, Debian's
/// `exim4-config`), and Dovecot's usual LMTP and LDA transports: a failure of one of these
/// was no SMTP delivery to another host. Another transport without `H=` may be an SMTP one
/// that reached no host (`defer (111): Connection refused`), so other names are not guessed.
const LOCAL_TRANSPORTS: &[&[u8]] = &[
    b"local_delivery",
    b"mail_spool",
    b"maildir_home",
    b"maildrop_pipe",
    b"procmail_pipe",
    b"address_pipe",
    b"address_file",
    b"address_directory",
    b"address_reply",
    b"dovecot_lmtp",
    b"dovecot_delivery",
    b"dovecot_virtual_delivery",
];

/// The host of a delivery line's `H=` field: `name [address]`, with `:port`
/// (`log_selector +outgoing_port`) when logged. Exim writes ` DS` between name and address
/// for a DNSSEC-secured lookup (`+dnssec`); then the name alone, which still names the host.
pub(super) fn host_field(after: &[u8]) -> Option<&[u8]> {
    let at = host_field_name().find(after)? + 3;
    let v = &after[at..];
    let name_end = memchr::memchr(b' ', v).unwrap_or(v.len());
    let rest = &v[name_end..];
    let Some(addr) = rest.strip_prefix(b" [") else {
        return Some(&v[..name_end]);
    };
    let Some(close) = memchr::memchr(b']', addr) else {
        return Some(&v[..name_end]);
    };
    let mut end = name_end + 2 + close + 1;
    if v.get(end) == Some(&b':') {
        let digits = v[end + 1..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
        if digits > 0 {
            end += 1 + digits;
        }
    }
    Some(&v[..end])
}

/// The relay of a delivery line (`=>`, `->`, `>>`, `==`, `**`): its `H=` host; else, for a
/// delivery made (only a local transport delivers without a host), a pipe or file address, a
/// known local transport, or an LMTP error without a host (Exim's `lmtp` transport, over a
/// socket or a command: a local one), [`Relay::Local`]; else unknown.
pub(super) fn delivery_relay<'a>(delivered: bool, first: &[u8], after: &'a [u8]) -> Relay<'a> {
    if let Some(host) = host_field(after) {
        return Relay::Host(host);
    }
    let transport = transport_field_name().find(after).map(|at| {
        let v = &after[at + 3..];
        &v[..memchr::memchr(b' ', v).unwrap_or(v.len())]
    });
    let local = match transport {
        Some(_) if delivered => true,
        Some(t) => LOCAL_TRANSPORTS.contains(&t),
        None => false,
    } || matches!(first.first(), Some(b'|' | b'/'))
        || lmtp_error_after().find(after).is_some();
    if local {
        Relay::Local
    } else {
        Relay::Unknown
    }
}

/// The stage of a deferral's or bounce's words: the command Exim names after `after ` or
/// `in response to ` (a reply, a timeout, a malformed reply, a closed connection), or the
/// connection (`Connection refused`, a bare `Connection timed out`: a command that timed out
/// says which after it). Unknown otherwise (retry times, TLS failures, routing).
pub(super) fn failure_stage(words: &[u8]) -> Stage {
    let marks = [
        remote_error_after(),
        lmtp_error_after(),
        timeout_after(),
        in_response_to(),
    ];
    for mark in marks {
        if let Some(at) = mark.find(words) {
            return command_stage(&words[at + mark.needle().len()..]);
        }
    }
    // One recipient's refusal in the reply to the message (RFC draft PRDR).
    if prdr_error_after().find(words).is_some() {
        return Stage::EndOfData;
    }
    if connection_refused().find(words).is_some() || connection_timed_out().find(words).is_some() {
        return Stage::Connect;
    }
    Stage::Unknown
}

/// The stage of a transport's `smtp_command` as Exim logs it (after `after `).
pub(crate) fn command_stage(cmd: &[u8]) -> Stage {
    // With pipelining Exim says which command's reply it read: the reply answers that one.
    let cmd = cmd.strip_prefix(b"pipelined ").unwrap_or(cmd);
    if cmd.starts_with(b"initial connection") {
        return Stage::Connect;
    }
    // Exim's name for writing the message: a reply read then (to a BDAT chunk, or an early
    // reply while the body was still being sent) answers the message, as the final dot's does.
    if cmd.starts_with(b"sending data block") {
        return Stage::EndOfData;
    }
    Stage::of_command(cmd).unwrap_or_default()
}

/// The stage of an inbound refusal from its verb's object (`RCPT <…>`, `after DATA`, …).
pub(super) fn refusal_stage(what: &[u8]) -> Stage {
    // The data, MIME and DKIM ACLs run once the message is in: they answer its final dot.
    const AFTER_MESSAGE: &[&[u8]] = &[b"after DATA", b"during MIME", b"DKIM "];
    if AFTER_MESSAGE.iter().any(|w| what.starts_with(w)) {
        return Stage::EndOfData;
    }
    if what.starts_with(b"connection") {
        return Stage::Connect;
    }
    // The ACL of MAIL's `AUTH=` parameter.
    if what.starts_with(b"MAILAUTH") {
        return Stage::Mail;
    }
    // A command quoted as the client sent it (`rejected "mail from:<…>"`).
    let what = what.strip_prefix(b"\"").unwrap_or(what);
    Stage::of_command(what).unwrap_or_default()
}

/// The host a verification callout asked, written before the first ` : ` (the server's
/// reply follows it): `…: HOST [IP] : SMTP error from remote mail server after …`.
pub(super) fn callout_host(s: &[u8]) -> Relay<'_> {
    let Some(end) = memchr::memmem::find(s, b" : ") else {
        return Relay::Unknown;
    };
    let start = memchr::memmem::rfind(&s[..end], b": ").map_or(0, |k| k + 2);
    let host = s[start..end].trim_ascii();
    if host.is_empty() || memchr::memchr(b'[', host).is_none() {
        return Relay::Unknown;
    }
    Relay::Host(host)
}
