//! RFC 3464 `message/delivery-status` parts (layout 1 of the list in [`super`]).

use mail_parser::MessageParser;

use super::text::{address_of, quoted_codes, says_expired, unfold};
use super::DsnReply;
use crate::parse::{BasicCode, EnhancedCode, Outcome};

/// The per-recipient blocks of a `message/delivery-status` body: field groups separated by
/// empty lines, each read as a header block by mail-parser (folded lines unfolded). A group
/// that names several recipients without the empty line between them (AOL) is cut before
/// each recipient's first field.
pub(super) fn delivery_status(body: &[u8]) -> Vec<DsnReply> {
    let parser = MessageParser::default();
    let mut block = Vec::new();
    field_groups(body)
        .flat_map(recipient_blocks)
        .filter_map(|group| {
            // A header block ends with an empty line: without it the last field's folded
            // lines are not read as part of it.
            block.clear();
            block.extend_from_slice(group);
            block.extend_from_slice(b"\r\n");
            let fields = parser.parse_headers(&block)?;
            let field = |name: &str| -> Option<String> {
                fields
                    .headers()
                    .iter()
                    .find(|h| h.name().eq_ignore_ascii_case(name))
                    .and_then(|h| h.value().as_text())
                    .map(unfold)
            };
            block_reply(field)
        })
        .collect()
}

/// Report fields inside a text part (Amazon WorkMail's "Technical report:") or left in the
/// text when the MIME structure is broken: read from the first field of a report on.
pub(super) fn embedded(text: &str) -> Option<Vec<DsnReply>> {
    let mut pos = 0;
    let mut start = None;
    for line in text.split_inclusive('\n') {
        let starts = |name: &str| {
            line.get(..name.len())
                .is_some_and(|l| l.eq_ignore_ascii_case(name))
        };
        if start.is_none()
            && ["Reporting-MTA:", "Final-Recipient:", "Original-Recipient:"]
                .iter()
                .any(|f| starts(f))
        {
            start = Some(pos);
        }
        if start.is_some() && starts("Action:") {
            let replies = delivery_status(text.get(start?..)?.as_bytes());
            return (!replies.is_empty()).then_some(replies);
        }
        pos += line.len();
    }
    None
}

/// One recipient's block; `None` for the per-message block (no `Action`) or an action
/// RFC 3464 does not define.
fn block_reply(field: impl Fn(&str) -> Option<String>) -> Option<DsnReply> {
    let outcome = action_outcome(&field("Action")?)?;
    let status = field("Status").and_then(|s| {
        s.split_whitespace()
            .next()
            .and_then(|w| EnhancedCode::parse(w.as_bytes()))
    });
    let (code, diag_enhanced, text) = diagnostic(field("Diagnostic-Code"));
    let recipient = field("Final-Recipient")
        .or_else(|| field("Original-Recipient"))
        .map(|r| address_of(&r))
        .unwrap_or_default();
    let expired = outcome == Outcome::Bounced
        && (is_expiry(status, code, diag_enhanced) || says_expired(&text));
    // The server's own enhanced code wins over the reporting MTA's `Status` (often generic:
    // `Status: 5.1.1` for any 550). An expiry's `Status` is the reporting MTA's (4.4.7):
    // beside a remote's basic code it would make a pair no server sent.
    let enhanced = match (expired, code) {
        (true, Some(_)) => diag_enhanced,
        _ => diag_enhanced.or(status),
    };
    Some(DsnReply {
        outcome,
        code,
        enhanced,
        recipient,
        text,
        relay: field("Remote-MTA")
            .map(|m| super::dialogue::remote_mta(&m))
            .unwrap_or_default(),
        stage: crate::parse::Stage::Unknown,
        expired,
        queue_id: String::new(),
        // When the reply was given: the attempt that drew it (RFC 3464 section 2.3.7).
        time: field("Last-Attempt-Date")
            .and_then(|d| mail_parser::DateTime::parse_rfc822(&d))
            .filter(mail_parser::DateTime::is_valid)
            .map(|d| d.to_timestamp()),
    })
}

/// A failure whose last status was temporary (Postfix: `Action: failed`, `Status: 4.4.1`;
/// not when the remote's reply was a 5xx), or one the reporting MTA gives as "delivery time
/// expired" (x.4.7): the message was given up when its time in the queue ran out.
fn is_expiry(
    status: Option<EnhancedCode>,
    code: Option<BasicCode>,
    diag: Option<EnhancedCode>,
) -> bool {
    let timed_out = |e: EnhancedCode| e.subject() == 4 && e.detail() == 7;
    let permanent =
        code.is_some_and(|c| c.class_digit() == 5) || diag.is_some_and(|e| e.class_digit() == 5);
    status.is_some_and(|s| (s.class_digit() == 4 && !permanent) || timed_out(s))
        || diag.is_some_and(timed_out)
}

/// A group's lines cut where a second recipient starts (a `Final-Recipient` or an
/// `Original-Recipient` after one of its kind): each piece one recipient's fields.
fn recipient_blocks(group: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let (mut start, mut pos) = (0, 0);
    let (mut original, mut fin) = (false, false);
    for line in group.split_inclusive(|&b| b == b'\n') {
        let starts = |name: &[u8]| {
            line.get(..name.len())
                .is_some_and(|l| l.eq_ignore_ascii_case(name))
        };
        let (is_original, is_final) = (starts(b"Original-Recipient:"), starts(b"Final-Recipient:"));
        if (is_final && fin) || (is_original && original) {
            out.extend(group.get(start..pos));
            start = pos;
            (original, fin) = (false, false);
        }
        original |= is_original;
        fin |= is_final;
        pos += line.len();
    }
    out.extend(group.get(start..));
    out
}

/// The outcome of a block's `Action:` (`failed`, `delayed`, `delivered`, …; a comment after
/// the word is left out); `None` for a word RFC 3464 does not define.
fn action_outcome(action: &str) -> Option<Outcome> {
    let action = action
        .split(|c: char| c.is_whitespace() || c == '(')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    match action.as_str() {
        "failed" => Some(Outcome::Bounced),
        "delayed" => Some(Outcome::Deferred),
        "delivered" | "relayed" | "expanded" => Some(Outcome::Delivered),
        _ => None,
    }
}

/// A block's `Diagnostic-Code: TYPE; TEXT`: the codes of the reply it quotes, and the text.
/// The reply is at the start of the text (`smtp; 550 5.1.1 …`), or after the words of the
/// reporting MTA (`X-Postfix; host mx.example.com[192.0.2.1] said: 550 …`).
fn diagnostic(d: Option<String>) -> (Option<BasicCode>, Option<EnhancedCode>, String) {
    let Some(d) = d else {
        return (None, None, String::new());
    };
    let (_, text) = d.split_once(';').unwrap_or(("", d.as_str()));
    let text = text.trim().to_owned();
    let (c, e) = quoted_codes(&text);
    (c, e, text)
}

/// Splits a body into groups of lines separated by empty lines (CRLF or LF).
pub(super) fn field_groups(body: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = body;
    std::iter::from_fn(move || {
        // Skip leading empty lines.
        loop {
            if let Some(r) = rest.strip_prefix(b"\r\n") {
                rest = r;
            } else if let Some(r) = rest.strip_prefix(b"\n") {
                rest = r;
            } else {
                break;
            }
        }
        if rest.is_empty() {
            return None;
        }
        let mut end = rest.len();
        let mut from = 0;
        while let Some(i) = memchr::memchr(b'\n', rest.get(from..)?) {
            let next = from + i + 1;
            let line_after = rest.get(next..).unwrap_or_default();
            if line_after.starts_with(b"\n") || line_after.starts_with(b"\r\n") {
                end = next;
                break;
            }
            from = next;
        }
        let group = rest.get(..end)?;
        rest = rest.get(end..).unwrap_or_default();
        Some(group)
    })
}
