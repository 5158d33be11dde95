//! Postfix's inbound refusals in the smtpd format: smtpd's and postscreen's `reject:`, the
//! milters' and `proxy-reject:` (every example is a real line, written by Postfix 3.7.11 from
//! Debian 12 to its `maillog_file`; the remote servers were scripted test servers).
//!
//! **Inbound refusals by smtpd and postscreen** — `reject:` (rejected), `reject_warning:`
//! (warned), `milter-reject:`, `proxy-reject:`; the reply follows `CMD from client[ip]: `, the
//! recipient is the ` to=<…>` of the trailer (none for CONNECT/EHLO/MAIL refusals):
//! ```text
//! Nov 23 02:13:27 mx postfix/smtpd[12391]: NOQUEUE: reject: RCPT from localhost[127.0.0.1]: 554 5.7.1 <victim@elsewhere.example>: Relay access denied; from=<someone@outside.example> to=<victim@elsewhere.example> proto=ESMTP helo=<client.example>
//! Nov 23 02:13:27 mx postfix/smtpd[12398]: NOQUEUE: reject: CONNECT from unknown[127.0.0.5]: 554 5.7.1 <unknown[127.0.0.5]>: Client host rejected: Access denied for this test client; proto=SMTP
//! Nov 23 02:17:29 mx postfix/smtpd[23201]: NOQUEUE: reject_warning: RCPT from localhost[127.0.0.1]: 554 5.7.1 <blocked@sse-test.example>: Recipient address rejected: Mailbox blocked by policy; from=<someone@outside.example> to=<blocked@sse-test.example> proto=ESMTP helo=<client.example>
//! Nov 23 02:18:11 mx postfix/smtpd[23823]: NOQUEUE: milter-reject: RCPT from localhost[127.0.0.1]: 550 5.7.1 Recipient rejected by test milter; from=<someone@outside.example> to=<miltrej@sse-test.example> proto=ESMTP helo=<client.example>
//! Nov 23 02:17:32 mx postfix/smtpd[23283]: proxy-reject: END-OF-MESSAGE: 554 5.7.1 Rejected by content filter: spam score 12.3; from=<someone@outside.example> to=<sseuser@sse-test.example> proto=ESMTP helo=<client.example>
//! Nov 23 02:17:43 mx postfix/postscreen[23445]: NOQUEUE: reject: RCPT from [127.0.0.9]:52643: 550 5.3.2 Service currently unavailable; from=<someone@outside.example>, to=<sseuser@sse-test.example>, proto=ESMTP, helo=<client.example>
//! Nov 23 02:19:33 mx postfix/postscreen[26768]: NOQUEUE: reject: CONNECT from [127.0.0.7]:59857: too many connections
//! ```
//!
//! A refusal cut before its `; from=<…> to=<…>` trailer (syslog daemons cut long lines) counts
//! with the codes read before the cut and no recipient (empty `domain`); one cut inside a code
//! or inside the trailer cannot be read. (A line from the crowdsec hub's tests:)
//! ```text
//! May 11 04:02:37 host1 postfix/smtpd[26897]: NOQUEUE: reject: RCPT from unknown[192.168.1.1]: 554 5.7.1 Service unavailable
//! ```
//!
//! Formats checked against Postfix's source: `smtpd/smtpd_check.c` `log_whatsup` and
//! `smtpd/smtpd.c` (milter, proxy), `postscreen/postscreen_smtpd.c` and `postscreen.c`.

use super::{
    dialogue, finder_colon_space, finder_from, finder_rev_proto, finder_rev_semi_from,
    finder_rev_to, finder_semi_from, inbound, Daemon,
};
use crate::parse::{
    leading_reply_codes, BasicCode, EnhancedCode, Event, Outcome, Parsed, Recipients, Stage,
};

/// `CMD from client[ip]: TEXT; from=<s> to=<r> proto=… helo=<h>` after the action's keyword
/// (smtpd, milters), or postscreen's `CMD from [ip]:port: TEXT` with the trailer for RCPT only.
pub(super) fn action(
    daemon: Daemon,
    rest: &[u8],
    outcome: Outcome,
    needs_code: bool,
) -> Option<Parsed<'_>> {
    let where_end = finder_from().find(rest)?;
    let where_ = rest.get(..where_end)?;
    let after_from = rest.get(where_end + 6..)?;
    // `client[ip]: ` or postscreen's `[ip]:port: `: a word ending in ':'.
    let space = memchr::memchr(b' ', after_from)?;
    if space == 0 || after_from.get(space - 1) != Some(&b':') {
        return None;
    }
    let body = after_from.get(space + 1..)?;
    let trailer = match daemon {
        // postscreen logs a trailer only for RCPT; `CONNECT from [ip]:port: too
        // many connections` has none.
        Daemon::Postscreen => where_ == b"RCPT",
        _ => true,
    };
    // The command answered: `RCPT`, `END-OF-MESSAGE`, postscreen's `CONNECT`, ….
    let stage = dialogue::of_command(where_);
    let parsed = if trailer {
        smtpd_reply(daemon, body, outcome, daemon == Daemon::Cleanup, stage)
    } else {
        Some(inbound(
            outcome,
            leading_reply_codes(body),
            Recipients::None,
            body,
            stage,
        ))
    }?;
    Some(keep_if_coded(parsed, needs_code))
}

/// `END-OF-MESSAGE: 554 5.7.1 text; from=<…> to=<…> proto=ESMTP helo=<…>`
pub(super) fn proxy_reject(rest: &[u8]) -> Option<Parsed<'_>> {
    let colon = finder_colon_space().find(rest)?;
    smtpd_reply(
        Daemon::Smtpd,
        rest.get(colon + 2..)?,
        Outcome::Rejected,
        false,
        dialogue::of_command(rest.get(..colon)?),
    )
}

/// hold/discard lines count only when they carry a code.
fn keep_if_coded(parsed: Parsed<'_>, needs_code: bool) -> Parsed<'_> {
    match &parsed {
        Parsed::Event(Event::Reply(r))
            if needs_code && r.code.is_none() && r.enhanced.is_none() =>
        {
            Parsed::Ignored
        }
        _ => parsed,
    }
}

/// The reply of an smtpd-format refusal without its `; from=<…> to=<…>` trailer (the
/// addresses are the client's, not the reply's words).
fn without_trailer(seg: &[u8]) -> &[u8] {
    match finder_rev_semi_from().rfind(seg) {
        Some(p) => seg.get(..p).unwrap_or(seg),
        None => seg,
    }
}

/// `TEXT; from=<s> to=<r> proto=ESMTP helo=<h>` (smtpd, milter, proxy) or
/// `TEXT; from=<s>, to=<r>, proto=ESMTP, helo=<h>` (postscreen).
///
/// The reply is at the start of TEXT. TEXT holds client-controlled addresses and `;`, so the
/// trailer is found from the right: the last ` proto=` (helo names have no spaces), with
/// ` to=<r>` just before it. smtpd always logs `proto=`; a line without it was cut: it counts
/// without a recipient when cut before `; from=<` (see [`codes_before_cut`]), else it cannot be
/// read. cleanup (milter replies for local submissions) may have no `proto=`; then the line
/// ends with ` to=<r>`.
fn smtpd_reply(
    daemon: Daemon,
    body: &[u8],
    outcome: Outcome,
    cleanup: bool,
    stage: Stage,
) -> Option<Parsed<'_>> {
    let (seg, recipients) = match finder_rev_proto().rfind(body) {
        Some(p) => {
            let seg = body.get(..p)?;
            // postscreen separates the trailer's fields with commas; a line with smtpd's
            // spaces instead (as the hsn723 exporter's test writes it) reads the same.
            let seg = if daemon == Daemon::Postscreen {
                seg.strip_suffix(b",").unwrap_or(seg)
            } else {
                seg
            };
            (seg, trailing_recipient(seg))
        }
        None if cleanup && trailing_recipient(body) != Recipients::None => {
            (body, trailing_recipient(body))
        }
        // No trailer at all: the line was cut before it (syslog daemons cut long lines, e.g.
        // at 1024 bytes). The refusal still counts, without its recipient, when its codes were
        // read whole before the cut. A line cut inside the trailer stays unreadable.
        None if finder_semi_from().find(body).is_none() => {
            let codes = codes_before_cut(body)?;
            return Some(inbound(outcome, codes, Recipients::None, body, stage));
        }
        None => return None,
    };
    Some(inbound(
        outcome,
        leading_reply_codes(seg),
        recipients,
        without_trailer(seg),
        stage,
    ))
}

/// The codes at the start of a reply whose line was cut: `None` unless the reply starts with a
/// code and the cut came after the codes (a code at the very end may be cut short: `554 5.7`
/// of `554 5.7.1`, `55` of `550`).
fn codes_before_cut(text: &[u8]) -> Option<(Option<BasicCode>, Option<EnhancedCode>)> {
    let codes = leading_reply_codes(text);
    let t = text.trim_ascii_start();
    let after_basic = match codes.0 {
        Some(_) if matches!(t.get(3), Some(b' ' | b'-' | b'\t')) => t.get(4..)?,
        Some(_) => return None,
        None => t,
    };
    // The enhanced code (or what may be its start) must be followed by more text.
    let word = after_basic
        .iter()
        .take_while(|c| c.is_ascii_digit() || **c == b'.')
        .count();
    (word < after_basic.len() && codes != (None, None)).then_some(codes)
}

/// The `r` of a ` to=<r>` that ends `seg`, or `Recipients::None`.
///
/// The field is the last ` to=<` in `seg` whose `to=` follows the end of the previous field
/// (`>`, `;` or `,`). Should the recipient itself hold ` to=<`, a suffix of it is returned, which
/// still ends with its domain.
pub(super) fn trailing_recipient(seg: &[u8]) -> Recipients<'_> {
    let Some(inner) = seg.strip_suffix(b">") else {
        return Recipients::None;
    };
    let finder = finder_rev_to();
    let mut end = inner.len();
    while let Some(p) = inner.get(..end).and_then(|h| finder.rfind(h)) {
        let before = p.checked_sub(1).and_then(|i| inner.get(i));
        if matches!(before, Some(b'>' | b';' | b',')) {
            if let Some(addr) = inner.get(p + 5..) {
                return Recipients::One(addr);
            }
        }
        end = p;
    }
    Recipients::None
}
