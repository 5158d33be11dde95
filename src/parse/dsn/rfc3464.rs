//! RFC 3464 `message/delivery-status` parts (layout 1 of the list in [`super`]).

use mail_parser::MessageParser;

use super::{address_of, unfold, DsnReply};
use crate::parse::{leading_reply_codes, BasicCode, EnhancedCode, Outcome};

/// The per-recipient blocks of a `message/delivery-status` body: field groups separated by
/// empty lines, each read as a header block by mail-parser (folded lines unfolded).
pub(super) fn delivery_status(body: &[u8]) -> Vec<DsnReply> {
    let parser = MessageParser::default();
    let mut out = Vec::new();
    let mut block = Vec::new();
    for group in field_groups(body) {
        // A header block ends with an empty line: without it the last field's folded lines
        // are not read as part of it.
        block.clear();
        block.extend_from_slice(group);
        block.extend_from_slice(b"\r\n");
        let Some(fields) = parser.parse_headers(&block) else {
            continue;
        };
        let field = |name: &str| -> Option<String> {
            fields
                .headers()
                .iter()
                .find(|h| h.name().eq_ignore_ascii_case(name))
                .and_then(|h| h.value().as_text())
                .map(unfold)
        };
        let Some(action) = field("Action") else {
            // The per-message block (Reporting-MTA, Arrival-Date, …).
            continue;
        };
        // Not an action RFC 3464 defines: not a block that can be read.
        let Some(outcome) = action_outcome(&action) else {
            continue;
        };
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
        out.push(DsnReply {
            outcome,
            code,
            enhanced: status.or(diag_enhanced),
            recipient,
            text,
        });
    }
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

/// A block's `Diagnostic-Code: TYPE; TEXT`: the codes at the start of the text when the type
/// is `smtp`, and the text.
fn diagnostic(d: Option<String>) -> (Option<BasicCode>, Option<EnhancedCode>, String) {
    let Some(d) = d else {
        return (None, None, String::new());
    };
    let (kind, text) = d.split_once(';').unwrap_or(("", d.as_str()));
    let text = text.trim().to_owned();
    if kind.trim().eq_ignore_ascii_case("smtp") {
        let (c, e) = leading_reply_codes(text.as_bytes());
        (c, e, text)
    } else {
        (None, None, text)
    }
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
