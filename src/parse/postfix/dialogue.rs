//! Which host answered and which SMTP command a Postfix reply answered, as the line says them
//! (the `provider` and `stage` labels). Nothing is guessed: a line that does not say gives
//! [`Relay::Unknown`] and [`Stage::Unknown`].
//!
//! **Delivery-status lines.** `relay=` names the host (`gmail-smtp-in.l.google.com[…]:25`),
//! a delivery without SMTP to another host (`local`, `virtual`, `dovecot`, a `pipe` service's
//! name, LMTP over a unix socket: `host[private/dovecot-lmtp]`), or `none`; then the host is
//! the one the reason text names, if any. The reason text says the stage in the words of
//! `smtp/smtp_proto.c`, `smtp_trouble.c`, `smtp_connect.c` and `smtp_sasl_glue.c`:
//! ```text
//! host H said: 550 … (in reply to RCPT TO command)       xfer_request[]: the command answered
//! host H refused to talk to me: 554 …                    the greeting (or a refused HELO)
//! connect to H[addr]:25: Connection refused              the connection
//! lost connection with H while sending RCPT TO           xfer_states[] and the handshake's
//! conversation with H timed out while receiving …          "where": the step that failed
//! TLS is required, but host H refused to start TLS: …    STARTTLS
//! SASL authentication failed; server H said: 535 …       AUTH
//! ```
//! each possibly after `delivery temporarily suspended: ` (the error agent repeating a
//! site's failure).
//!
//! **Inbound refusals** name the command before ` from client`: `RCPT`, `MAIL`, `DATA`,
//! `END-OF-MESSAGE`, `CONNECT`, `EHLO`, `VRFY`, … (`smtpd/smtpd.h` `SMTPD_CMD_*`,
//! `SMTPD_AFTER_*`).

use crate::parse::{Relay, Stage};

/// The host and stage of a delivery-status line: `relay` is the value of `relay=`, `reason`
/// the text in parentheses after `status=WORD` (without the closing one where the line has
/// it).
pub(super) fn of_delivery<'a>(relay: &'a [u8], reason: &'a [u8]) -> (Relay<'a>, Stage) {
    let (named, stage) = of_reason(reason);
    let relay = match relay {
        b"none" => named.map_or(Relay::Unknown, |h| host(h).unwrap_or(Relay::Host(h))),
        // `local`, `virtual`, `dovecot`, a pipe service: a transport, not a host.
        r => host(r).unwrap_or(Relay::Local),
    };
    (relay, stage)
}

/// A host as Postfix logs it, `name[address]`; LMTP over a unix socket logs the socket's path
/// in place of an address (`mail.example.com[private/dovecot-lmtp]`): no network host. `None`
/// without a `[`: a transport's name. (memchr, not a byte loop: every delivery line passes.)
fn host(h: &[u8]) -> Option<Relay<'_>> {
    let open = memchr::memchr(b'[', h)?;
    let in_brackets = h.get(open..).unwrap_or_default();
    Some(if memchr::memchr(b'/', in_brackets).is_some() {
        Relay::Local
    } else {
        Relay::Host(h)
    })
}

/// The host a reason text names and the stage it says.
fn of_reason(reason: &[u8]) -> (Option<&[u8]>, Stage) {
    let r = reason
        .strip_prefix(b"delivery temporarily suspended: ")
        .unwrap_or(reason);
    if let Some(rest) = r.strip_prefix(b"connect to ") {
        // `connect to H[addr]:port: error` (or `H[addr]: error` without a port).
        let end = memchr::memmem::find(rest, b": ").unwrap_or(rest.len());
        return (rest.get(..end), Stage::Connect);
    }
    if let Some(rest) = r.strip_prefix(b"lost connection with ") {
        let (h, step) = split_at(rest, b" while ");
        return (Some(h), step.map_or(Stage::Unknown, while_stage));
    }
    if let Some(rest) = r.strip_prefix(b"conversation with ") {
        let (h, step) = split_at(rest, b" timed out while ");
        return (Some(h), step.map_or(Stage::Unknown, while_stage));
    }
    if let Some(rest) = r.strip_prefix(b"host ") {
        let (h, after) = split_at(rest, b" ");
        let after = after.unwrap_or_default();
        let stage = if after.starts_with(b"said: ") {
            in_reply_to(r)
        } else if after.starts_with(b"refused to talk to me: ") {
            // Also the words for a HELO refused, or a 421 to EHLO (`smtp_proto.c`): the
            // server turned the session down before any mail command.
            Stage::Connect
        } else {
            Stage::Unknown
        };
        return (Some(h), stage);
    }
    if let Some(rest) = strip_any(
        r,
        &[
            b"SASL authentication failed; ",
            b"SASL [CACHED] authentication failed; ",
        ],
    ) {
        return (server_named(rest), Stage::Auth);
    }
    if let Some(rest) = strip_any(
        r,
        &[
            b"TLS is required, but ",
            b"Sender requested REQUIRETLS, but ",
        ],
    ) {
        return (tls_host(rest), Stage::Starttls);
    }
    if r.starts_with(b"Cannot start TLS: ") || r.starts_with(b"Server certificate not ") {
        return (None, Stage::Starttls);
    }
    (None, Stage::Unknown)
}

/// The host of a TLS failure (`smtp_proto.c`): `host H refused to start TLS: …`, `was not
/// offered by host H`, `… The last attempted server was H`; none for `our TLS engine is
/// unavailable`.
fn tls_host(rest: &[u8]) -> Option<&[u8]> {
    if let Some(h) = rest.strip_prefix(b"host ") {
        return Some(split_at(h, b" ").0);
    }
    [&b" by host "[..], b" server was "].iter().find_map(|key| {
        let at = memchr::memmem::find(rest, key)?;
        rest.get(at + key.len()..)
    })
}

/// The host of a SASL failure: `server H said: …`, `cannot authenticate to server H: …`,
/// `authentication protocol loop with server H`, `non-empty initial M challenge from server
/// H: …`.
fn server_named(rest: &[u8]) -> Option<&[u8]> {
    let at = memchr::memmem::find(rest, b"server ")?;
    let h = rest.get(at + 7..)?;
    let end = h
        .iter()
        .position(|c| *c == b' ' || *c == b':')
        .unwrap_or(h.len());
    h.get(..end)
}

/// `(in reply to X command)` at the very end of the reason: Postfix appends it after the
/// remote's words, which may hold the same words.
fn in_reply_to(reason: &[u8]) -> Stage {
    let Some(inner) = reason.strip_suffix(b")") else {
        return Stage::Unknown;
    };
    // The last `(`: no command name holds one. A byte search, not a searcher built per line.
    let Some(p) = memchr::memrchr(b'(', inner) else {
        return Stage::Unknown;
    };
    let Some(what) = inner
        .get(p.saturating_sub(1)..)
        .and_then(|t| t.strip_prefix(b" (in reply to "))
    else {
        return Stage::Unknown;
    };
    if what.starts_with(b"initial greeting") {
        return Stage::Connect;
    }
    Stage::of_command(what).unwrap_or(Stage::Unknown)
}

/// The step after `while ` in a lost connection or a timeout (`xfer_states[]` and the
/// handshake's steps in `smtp_proto.c`).
fn while_stage(step: &[u8]) -> Stage {
    match step {
        b"receiving the initial server greeting" => Stage::Connect,
        // The message body is answered by the end-of-data reply: no reply comes before it.
        b"sending message body" => Stage::EndOfData,
        b"sending final RSET" => Stage::Other,
        _ => {
            let what = strip_any(step, &[b"sending ", b"receiving the ", b"performing the "]);
            what.and_then(Stage::of_command).unwrap_or(Stage::Unknown)
        }
    }
}

/// The stage an inbound refusal names before ` from client`: `RCPT`, `END-OF-MESSAGE`, ….
/// `DATA content` and `BDAT content` (smtpd while it reads the message) are answered after
/// the message; `UNKNOWN` is a command smtpd does not know.
pub(super) fn of_command(cmd: &[u8]) -> Stage {
    if cmd.ends_with(b" content") {
        return Stage::EndOfData;
    }
    if cmd == b"UNKNOWN" {
        return Stage::Other;
    }
    Stage::of_command(cmd).unwrap_or(Stage::Unknown)
}

fn split_at<'a>(s: &'a [u8], sep: &[u8]) -> (&'a [u8], Option<&'a [u8]>) {
    let found = match sep {
        [one] => memchr::memchr(*one, s),
        _ => memchr::memmem::find(s, sep),
    };
    match found {
        Some(p) => (&s[..p], s.get(p + sep.len()..)),
        None => (s, None),
    }
}

fn strip_any<'a>(s: &'a [u8], prefixes: &[&[u8]]) -> Option<&'a [u8]> {
    prefixes.iter().find_map(|p| s.strip_prefix(*p))
}

#[cfg(test)]
mod tests {
    use super::super::parse;
    use super::*;

    use Stage::*;

    use crate::parse::dialogue::{host, UNK};
    const LOCAL: Relay<'static> = Relay::Local;

    /// Real lines, each with the relay and stage it must give. Unmarked: Postfix 3.7.11
    /// (Debian 12) in tests/fixtures/postfix/; `whyscream`, `kumina`, … : the peers' lines in
    /// shared/corpora/peers/<project>/postfix.log.
    const CASES: &[crate::parse::dialogue::Case] = &[
        // ---- outbound: the host of relay= and the command of the reason ----
        ("Nov 23 02:12:58 mx postfix/smtp[10732]: 1CA9A98C0C2: to=<Info@EXAMPLE.NET>, relay=127.0.0.1[127.0.0.1]:12600, delay=0.03, delays=0.01/0.02/0/0, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 4XyZ12AbCd)",
            host("127.0.0.1[127.0.0.1]:12600"), Unknown),
        // whyscream
        ("Jan  1 00:00:00 peerhost postfix/smtp[1]: 4E74613FE76: to=<redacted@gmail.com>, relay=gmail-smtp-in.l.google.com[2607:f8b0:400e:c04::1b]:25, delay=1.9, delays=0.05/0/1.1/0.71, dsn=5.7.1, status=bounced (host gmail-smtp-in.l.google.com[2607:f8b0:400e:c04::1b] said: 550-5.7.1 [2607:4100:3:25:100::2      12] Our system has detected that this 550-5.7.1 message is likely unsolicited mail. To reduce the amount of spam sent 550-5.7.1 to Gmail, this message has been blocked. Please visit 550-5.7.1 http://support.google.com/mail/bin/answer.py?hl=en&answer=188131 for 550 5.7.1 more information. qc12si8475009pab.211 - gsmtp (in reply to end of DATA command))",
            host("gmail-smtp-in.l.google.com[2607:f8b0:400e:c04::1b]:25"), EndOfData),
        // The end-to-end test's run (tests/it/postfix_e2e.rs, 2026-12-07): the sink reached
        // under providers' MX names (its hosts file).
        ("Dec 07 05:30:54 mta postfix/smtp[17107]: 430D499A073: to=<r550-m0009r0@D1.TEST>, relay=gmail-smtp-in.l.google.com[127.0.0.2]:39643, delay=0.06, delays=0/0.05/0.01/0, dsn=5.0.0, status=bounced (host gmail-smtp-in.l.google.com[127.0.0.2] said: 550 No such user here <r550-m0009r0@D1.TEST> (e2e sink) (in reply to RCPT TO command))",
            host("gmail-smtp-in.l.google.com[127.0.0.2]:39643"), Rcpt),
        ("Dec 07 05:30:54 mta postfix/smtp[17108]: 480D499A013: to=<r250-d554-5.7.1-m0013r0@d2.test>, relay=contoso-com.mail.protection.outlook.com[127.0.0.3]:39643, conn_use=3, delay=0.05, delays=0.01/0.03/0/0, dsn=5.7.1, status=bounced (host contoso-com.mail.protection.outlook.com[127.0.0.3] said: 554 5.7.1 Rejected by policy <message> (e2e sink) (in reply to end of DATA command))",
            host("contoso-com.mail.protection.outlook.com[127.0.0.3]:39643"), EndOfData),
        ("Nov 23 02:12:58 mx postfix/smtp[10731]: 1B0E698C15E: to=<nouser1@remote.example>, relay=127.0.0.1[127.0.0.1]:12600, delay=0.06, delays=0.01/0.01/0/0.03, dsn=5.1.1, status=bounced (host 127.0.0.1[127.0.0.1] said: 550 5.1.1 <nouser1>: Recipient address rejected: User unknown in virtual mailbox table (in reply to RCPT TO command))",
            host("127.0.0.1[127.0.0.1]:12600"), Rcpt),
        ("Nov 23 02:12:58 mx postfix/smtp[10732]: 3DBCC98C16B: to=<ok2@remote.example>, relay=127.0.0.1[127.0.0.1]:12600, delay=0.02, delays=0.02/0/0/0, dsn=5.7.1, status=bounced (host 127.0.0.1[127.0.0.1] said: 553 5.7.1 Sender address rejected: not owned by user (in reply to MAIL FROM command))",
            host("127.0.0.1[127.0.0.1]:12600"), Mail),
        ("Nov 23 02:12:58 mx postfix/smtp[10732]: 417FC98C09B: to=<ok4@remote.example>, relay=127.0.0.1[127.0.0.1]:12600, delay=0.01, delays=0/0/0/0, dsn=4.3.0, status=deferred (host 127.0.0.1[127.0.0.1] said: 451 4.3.0 Temporary content scanning failure (in reply to end of DATA command))",
            host("127.0.0.1[127.0.0.1]:12600"), EndOfData),
        ("Nov 23 02:18:58 mx postfix/smtp[25668]: B5A3998C028: to=<nouser5@remote.example>, relay=127.0.0.1[127.0.0.1]:12600, delay=0.02, delays=0.01/0.01/0/0.01, dsn=4.1.1, status=SOFTBOUNCE (host 127.0.0.1[127.0.0.1] said: 550 5.1.1 <nouser5>: Recipient address rejected: User unknown in virtual mailbox table (in reply to RCPT TO command))",
            host("127.0.0.1[127.0.0.1]:12600"), Rcpt),
        // An address verification probe says it too.
        ("Nov 23 02:18:11 mx postfix/smtp[23828]: 660DB98C026: to=<nouser9@remote.example>, relay=127.0.0.1[127.0.0.1]:12600, delay=0.01, delays=0/0.01/0/0, dsn=5.1.1, status=undeliverable (host 127.0.0.1[127.0.0.1] said: 550 5.1.1 <nouser9>: Recipient address rejected: User unknown in virtual mailbox table (in reply to RCPT TO command))",
            host("127.0.0.1[127.0.0.1]:12600"), Rcpt),
        ("Nov 23 02:12:58 mx postfix/smtp[10732]: 2104498C161: to=<someone@refuse554.example>, relay=127.0.0.1[127.0.0.1]:12601, delay=0.02, delays=0/0.02/0/0, dsn=4.7.1, status=deferred (host 127.0.0.1[127.0.0.1] refused to talk to me: 554 5.7.1 mx.remote.example ESMTP not accepting messages from your IP)",
            host("127.0.0.1[127.0.0.1]:12601"), Connect),
        ("Nov 23 02:12:58 mx postfix/smtp[10734]: 2B0F798C169: to=<someone@drop.example>, relay=127.0.0.1[127.0.0.1]:12605, delay=0.01, delays=0/0/0/0, dsn=4.4.2, status=deferred (lost connection with 127.0.0.1[127.0.0.1] while receiving the initial server greeting)",
            host("127.0.0.1[127.0.0.1]:12605"), Connect),
        ("Nov 23 02:12:58 mx postfix/smtp[10732]: 2C4AD98C16A: to=<drop1@remote.example>, relay=127.0.0.1[127.0.0.1]:12600, delay=0.01, delays=0/0/0/0, dsn=4.4.2, status=deferred (lost connection with 127.0.0.1[127.0.0.1] while sending RCPT TO)",
            host("127.0.0.1[127.0.0.1]:12600"), Rcpt),
        ("Nov 23 02:13:02 mx postfix/smtp[10731]: 28EF698C013: to=<someone@slow.example>, relay=127.0.0.1[127.0.0.1]:12604, delay=4, delays=0.01/0/4/0, dsn=4.4.2, status=deferred (conversation with 127.0.0.1[127.0.0.1] timed out while receiving the initial server greeting)",
            host("127.0.0.1[127.0.0.1]:12604"), Connect),
        ("Nov 23 02:12:58 mx postfix/lmtp[10741]: 2D5D098C16B: to=<lmtpfull@lmtp.example>, relay=127.0.0.1[127.0.0.1]:12606, delay=0.02, delays=0/0.01/0/0, dsn=5.2.2, status=bounced (host 127.0.0.1[127.0.0.1] said: 552 5.2.2 <lmtpfull@lmtp.example> Mailbox is full / Blocks limit exceeded / Inode limit exceeded (in reply to end of DATA command))",
            host("127.0.0.1[127.0.0.1]:12606"), EndOfData),
        // ---- relay=none: the host the reason names ----
        ("Nov 23 02:12:58 mx postfix/smtp[10731]: 22EBD98C042: to=<someone@closed.example>, relay=none, delay=0.02, delays=0.02/0.01/0/0, dsn=4.4.1, status=deferred (connect to 127.0.0.1[127.0.0.1]:12603: Connection refused)",
            host("127.0.0.1[127.0.0.1]:12603"), Connect),
        ("Nov 23 02:18:39 mx postfix/error[23774]: 22EBD98C042: to=<someone@closed.example>, relay=none, delay=341, delays=341/0.01/0/0.01, dsn=4.4.1, status=deferred (delivery temporarily suspended: connect to 127.0.0.1[127.0.0.1]:12603: Connection refused)",
            host("127.0.0.1[127.0.0.1]:12603"), Connect),
        ("Nov 23 02:18:43 mx postfix/error[23774]: 28EF698C013: to=<someone@slow.example>, relay=none, delay=345, delays=341/4/0/0, dsn=4.4.2, status=deferred (delivery temporarily suspended: conversation with 127.0.0.1[127.0.0.1] timed out while receiving the initial server greeting)",
            host("127.0.0.1[127.0.0.1]"), Connect),
        ("Nov 23 02:19:35 mx postfix/error[26783]: ECC5298C06D: to=<u4@busy421.example>, relay=none, delay=0.06, delays=0.01/0.05/0/0, dsn=4.7.0, status=deferred (delivery temporarily suspended: host 127.0.0.1[127.0.0.1] refused to talk to me: 421 4.7.0 mx.remote.example Too many concurrent SMTP connections; please try again later)",
            host("127.0.0.1[127.0.0.1]"), Connect),
        // whyscream
        ("Jan  1 00:00:00 peerhost postfix/error[1]: 2DC5552A34: to=<user@yahoo.com>, relay=none, delay=63495, delays=63350/144/0/0, dsn=4.4.2, status=deferred (delivery temporarily suspended: lost connection with mta7.am0.yahoodns.net[98.136.216.22] while sending RCPT TO)",
            host("mta7.am0.yahoodns.net[98.136.216.22]"), Rcpt),
        ("Nov 23 02:12:58 mx postfix/smtp[10734]: 33E9998C16B: to=<x@nxdomain.example>, relay=none, delay=0.01, delays=0/0.01/0/0, dsn=5.4.4, status=bounced (unable to look up host nosuchhost.invalid: Name or service not known)",
            UNK, Unknown),
        ("Nov 23 02:18:11 mx postfix/error[23773]: 2B16B98C341: to=<gone@retired.example>, relay=none, delay=0.04, delays=0.01/0.01/0/0.01, dsn=5.1.2, status=bounced (Mailbox domain retired)",
            UNK, Unknown),
        ("Nov 23 02:12:58 mx postfix/discard[10742]: 3009C98C16D: to=<x@discard.example>, relay=none, delay=0.01, delays=0/0.01/0/0, dsn=2.0.0, status=sent (silently dropped by policy)",
            UNK, Unknown),
        // ---- delivered without SMTP to another host ----
        ("Nov 23 02:12:58 mx postfix/local[10740]: 27CCD98C093: to=<sender@sse-test.example>, relay=local, delay=0.02, delays=0/0.01/0/0, dsn=5.1.1, status=bounced (unknown user: \"sender\")",
            LOCAL, Unknown),
        ("Nov 23 02:12:58 mx postfix/virtual[10753]: 3818198C179: to=<alice@virt.sse-test.example>, relay=virtual, delay=0.04, delays=0.01/0.02/0/0, dsn=2.0.0, status=sent (delivered to maildir)",
            LOCAL, Unknown),
        ("Nov 23 02:12:58 mx postfix/pipe[10744]: 31BCB98C170: to=<x@pipefail.example>, relay=pipefail, delay=0.03, delays=0/0.02/0/0.01, dsn=5.1.1, status=bounced (user unknown. Command output: no such user here )",
            LOCAL, Unknown),
        // whyscream
        ("Jan  1 00:00:00 peerhost postfix/pipe[1]: 2F6C83D: to=<user@example.org>, relay=dovecot, delay=5.1, delays=4.4/0.02/0/0.61, dsn=5.1.1, status=bounced (user unknown)",
            LOCAL, Unknown),
        ("Jan  1 00:00:00 peerhost postfix/smtp[1]: AD6E41CDC05C: to=<admin@example.com>, relay=sub1.example.com[private/dovecot-lmtp], delay=0.15, delays=0.04/0/0.02/0.08, dsn=2.0.0, status=sent (250 2.0.0 <admin@example.com> qYyyBMsl9FRuZQAAA15QOA Saved)",
            LOCAL, Unknown),
        // ---- inbound: the command named; no provider ----
        ("Nov 23 02:13:27 mx postfix/smtpd[12391]: NOQUEUE: reject: RCPT from localhost[127.0.0.1]: 554 5.7.1 <victim@elsewhere.example>: Relay access denied; from=<someone@outside.example> to=<victim@elsewhere.example> proto=ESMTP helo=<client.example>",
            UNK, Rcpt),
        ("Nov 23 02:13:27 mx postfix/smtpd[12398]: NOQUEUE: reject: CONNECT from unknown[127.0.0.5]: 554 5.7.1 <unknown[127.0.0.5]>: Client host rejected: Access denied for this test client; proto=SMTP",
            UNK, Connect),
        ("Nov 23 02:13:27 mx postfix/smtpd[12398]: NOQUEUE: reject: EHLO from localhost[127.0.0.1]: 554 5.7.1 <evil.helo.example>: Helo command rejected: Bad HELO; proto=SMTP helo=<evil.helo.example>",
            UNK, Helo),
        ("Nov 23 02:13:27 mx postfix/smtpd[12398]: NOQUEUE: reject: MAIL from localhost[127.0.0.1]: 554 5.7.1 <spammer@bad.example>: Sender address rejected: Access denied; from=<spammer@bad.example> proto=ESMTP helo=<client.example>",
            UNK, Mail),
        ("Nov 23 02:17:29 mx postfix/smtpd[23201]: NOQUEUE: reject_warning: RCPT from localhost[127.0.0.1]: 554 5.7.1 <blocked@sse-test.example>: Recipient address rejected: Mailbox blocked by policy; from=<someone@outside.example> to=<blocked@sse-test.example> proto=ESMTP helo=<client.example>",
            UNK, Rcpt),
        // whyscream
        ("Jan  1 00:00:00 peerhost postfix/smtpd[1]: NOQUEUE: reject: VRFY from unknown[2001:968:9999:20:88b:9b7d:2a54:2bd2]: 550 5.1.1 <does-not-exist@example.com>: Recipient address rejected: User unknown in virtual mailbox table; to=<does-not-exist@example.com> proto=SMTP helo=<me>",
            UNK, Other),
        // crowdsec hub (a DATA restriction at BDAT: BDAT is end of data, `Stage::of_command`)
        ("Mar 11 23:27:54 server postfix-smo/submission/smtpd[22427]: 44JCRG5tYPzCqt2: reject: BDAT from signing-milter.example.com[192.0.2.109]: 550 5.5.3 <DATA>: Data command rejected: Multi-recipient bounce; from=<> to=<some@example.com> proto=ESMTP helo=<domain.tld>",
            UNK, EndOfData),
        ("Nov 23 02:18:11 mx postfix/smtpd[23823]: NOQUEUE: milter-reject: RCPT from localhost[127.0.0.1]: 550 5.7.1 Recipient rejected by test milter; from=<someone@outside.example> to=<miltrej@sse-test.example> proto=ESMTP helo=<client.example>",
            UNK, Rcpt),
        ("Nov 23 02:17:32 mx postfix/smtpd[23283]: proxy-reject: END-OF-MESSAGE: 554 5.7.1 Rejected by content filter: spam score 12.3; from=<someone@outside.example> to=<sseuser@sse-test.example> proto=ESMTP helo=<client.example>",
            UNK, EndOfData),
        ("Nov 23 02:17:43 mx postfix/postscreen[23445]: NOQUEUE: reject: RCPT from [127.0.0.9]:52643: 550 5.3.2 Service currently unavailable; from=<someone@outside.example>, to=<sseuser@sse-test.example>, proto=ESMTP, helo=<client.example>",
            UNK, Rcpt),
        ("Nov 23 02:19:33 mx postfix/postscreen[26768]: NOQUEUE: reject: CONNECT from [127.0.0.7]:59857: too many connections",
            UNK, Connect),
        // hsn723-postfix_exporter
        ("Feb 24 16:18:40 letterman postfix/postscreen[1234]: NOQUEUE: reject: CONNECT from [1.2.3.4]:5678: all screening ports busy",
            UNK, Connect),
        // ---- inbound: cleanup (content checks answer the end of the message) ----
        ("Nov 23 02:13:27 mx postfix/cleanup[10739]: 0C0BD98C24A: reject: body BODY-REJECT-MARKER here from localhost[127.0.0.1]; from=<someone@outside.example> to=<sseuser@sse-test.example> proto=ESMTP helo=<client.example>: 5.7.1 Body contains forbidden content",
            UNK, EndOfData),
        ("Nov 23 02:13:27 mx postfix/cleanup[10752]: 0738298C246: reject: header Subject: HDR-REJECT-DEFAULT x from localhost[127.0.0.1]; from=<someone@outside.example> to=<sseuser@sse-test.example> proto=ESMTP helo=<client.example>: 5.7.1 message content rejected",
            UNK, EndOfData),
        ("Nov 23 02:23:45 mx postfix/cleanup[27544]: B2FD898C198: reject: mime-error improper use of 8-bit data in message body: k\u{e4}se from localhost[127.0.0.1]; from=<someone@outside.example> to=<sseuser@sse-test.example>",
            UNK, EndOfData),
        ("Nov 23 02:13:27 mx postfix/cleanup[10730]: 0972A98C248: hold: header Subject: HDR-HOLD-CODE x from localhost[127.0.0.1]; from=<someone@outside.example> to=<sseuser@sse-test.example> proto=ESMTP helo=<client.example>: 4.7.1 held for review",
            UNK, EndOfData),
        ("Nov 23 02:17:32 mx postfix/cleanup[23281]: 8430598C640: milter-reject: END-OF-MESSAGE from localhost[127.0.0.1]: 5.7.1 Message content rejected by test milter; from=<someone@outside.example> to=<sseuser@sse-test.example> proto=ESMTP helo=<client.example>",
            UNK, EndOfData),
        // A local submission had no SMTP dialogue.
        ("Nov 23 02:18:11 mx postfix/cleanup[23767]: 2E58C98C340: reject: header Subject: local submission HDR-REJECT-TEXT from local; from=<root@sse-test.example> to=<sseuser@sse-test.example>: 5.7.1 Spam is not welcome here",
            UNK, Unknown),
    ];

    /// Each line gives its relay and stage; cut short, the same or none.
    #[test]
    fn table() {
        crate::parse::dialogue::check_cases(parse, CASES);
    }
    /// Reasons no real line here holds, written as Postfix's format strings write them
    /// (`smtp/smtp_proto.c` `xfer_states[]`, `xfer_request[]` and the STARTTLS steps,
    /// `smtp_sasl_glue.c`), except the first, the reason of whyscream's real
    /// `SASL authentication failed; …` line.
    #[test]
    fn reasons_by_format_string() {
        let table: &[(&str, Option<&str>, Stage)] = &[
            ("SASL authentication failed; server xyz.example.com[1.2.3.4] said: 535 5.7.8 Error: authentication failed: authentication failure",
                Some("xyz.example.com[1.2.3.4]"), Auth),
            ("SASL authentication failed; cannot authenticate to server mx.example.net[192.0.2.1]: no mechanism available",
                Some("mx.example.net[192.0.2.1]"), Auth),
            ("TLS is required, but host mx.example.net[192.0.2.1] refused to start TLS: 454 4.7.0 TLS not available",
                Some("mx.example.net[192.0.2.1]"), Starttls),
            ("TLS is required, but was not offered by host mx.example.net[192.0.2.1]",
                Some("mx.example.net[192.0.2.1]"), Starttls),
            ("Sender requested REQUIRETLS, but TLS service was not offered by host mx.example.net[192.0.2.1]",
                Some("mx.example.net[192.0.2.1]"), Starttls),
            ("Sender requested REQUIRETLS, but no matching server certificate was found. The last attempted server was mx.example.net[192.0.2.1]",
                Some("mx.example.net[192.0.2.1]"), Starttls),
            ("TLS is required, but our TLS engine is unavailable", None, Starttls),
            ("Server certificate not verified", None, Starttls),
            ("Cannot start TLS: handshake failure", None, Starttls),
            ("lost connection with mx.example.net[192.0.2.1] while receiving the STARTTLS response",
                Some("mx.example.net[192.0.2.1]"), Starttls),
            ("lost connection with mx.example.net[192.0.2.1] while performing the EHLO handshake",
                Some("mx.example.net[192.0.2.1]"), Helo),
            ("conversation with mx.example.net[192.0.2.1] timed out while performing the LHLO handshake",
                Some("mx.example.net[192.0.2.1]"), Helo),
            ("lost connection with mx.example.net[192.0.2.1] while sending MAIL FROM",
                Some("mx.example.net[192.0.2.1]"), Mail),
            ("conversation with mx.example.net[192.0.2.1] timed out while sending DATA command",
                Some("mx.example.net[192.0.2.1]"), Data),
            ("lost connection with mx.example.net[192.0.2.1] while sending message body",
                Some("mx.example.net[192.0.2.1]"), EndOfData),
            ("conversation with mx.example.net[192.0.2.1] timed out while sending end of data -- message may be sent more than once",
                Some("mx.example.net[192.0.2.1]"), EndOfData),
            ("lost connection with mx.example.net[192.0.2.1] while sending XFORWARD name/address",
                Some("mx.example.net[192.0.2.1]"), Other),
            ("host mx.example.net[192.0.2.1] said: 501 5.5.4 Syntax error (in reply to XFORWARD name/address command)",
                Some("mx.example.net[192.0.2.1]"), Other),
            ("host mx.example.net[192.0.2.1] said: 554 5.5.1 Error: no valid recipients (in reply to DATA command)",
                Some("mx.example.net[192.0.2.1]"), Data),
            // The remote's own words cannot fake the stage: Postfix's comes last.
            ("host mx.example.net[192.0.2.1] said: 550 see (in reply to DATA command) here (in reply to RCPT TO command)",
                Some("mx.example.net[192.0.2.1]"), Rcpt),
            ("host mx.example.net[192.0.2.1] said: 550 see (in reply to DATA command)",
                Some("mx.example.net[192.0.2.1]"), Data),
            ("host mx.example.net[192.0.2.1] said: 550 see (in reply to DATA command) here",
                Some("mx.example.net[192.0.2.1]"), Unknown),
            ("connect to mail.example.com[private/dovecot-lmtp]: No such file or directory",
                Some("mail.example.com[private/dovecot-lmtp]"), Connect),
            ("mail for example.com loops back to myself", None, Unknown),
        ];
        for (reason, h, stage) in table {
            let got = of_reason(reason.as_bytes());
            assert_eq!(got, (h.map(str::as_bytes), *stage), "{reason}");
        }
        // LMTP over a unix socket names no host.
        let lmtp = b"connect to mail.example.com[private/dovecot-lmtp]: No such file or directory";
        assert_eq!(of_delivery(b"none", lmtp), (LOCAL, Connect));
    }

    /// smtpd's words for where it was (`smtpd/smtpd.h`).
    #[test]
    fn smtpd_commands() {
        let table: &[(&str, Stage)] = &[
            ("CONNECT", Connect),
            ("connect", Connect),
            ("HELO", Helo),
            ("STARTTLS", Starttls),
            ("AUTH", Auth),
            ("DATA", Data),
            ("DATA content", EndOfData),
            ("BDAT content", EndOfData),
            ("END-OF-MESSAGE", EndOfData),
            ("ETRN", Other),
            ("UNKNOWN", Other),
            ("XCLIENT", Other),
            ("NONSENSE", Unknown),
        ];
        for (cmd, stage) in table {
            assert_eq!(of_command(cmd.as_bytes()), *stage, "{cmd}");
        }
    }
}
