//! cleanup's own refusals (header/body checks, milters, MIME errors) in the cleanup format
//! (every example is a real line, written by Postfix 3.7.11 from Debian 12 to its
//! `maillog_file`; the remote servers were scripted test servers).
//!
//! **Inbound refusals by cleanup** (header/body checks, milters, MIME errors): `reject:`
//! (rejected; only the enhanced code is logged), `hold:` (held) and `discard:` (discarded) only
//! when they carry a code, `milter-reject:`:
//! ```text
//! Nov 23 02:13:27 mx postfix/cleanup[10739]: 0C0BD98C24A: reject: body BODY-REJECT-MARKER here from localhost[127.0.0.1]; from=<someone@outside.example> to=<sseuser@sse-test.example> proto=ESMTP helo=<client.example>: 5.7.1 Body contains forbidden content
//! Nov 23 02:18:11 mx postfix/cleanup[23767]: 2E58C98C340: reject: header Subject: local submission HDR-REJECT-TEXT from local; from=<root@sse-test.example> to=<sseuser@sse-test.example>: 5.7.1 Spam is not welcome here
//! Nov 23 02:13:27 mx postfix/cleanup[10730]: 0972A98C248: hold: header Subject: HDR-HOLD-CODE x from localhost[127.0.0.1]; from=<someone@outside.example> to=<sseuser@sse-test.example> proto=ESMTP helo=<client.example>: 4.7.1 held for review
//! Nov 23 02:17:32 mx postfix/cleanup[23281]: 8430598C640: milter-reject: END-OF-MESSAGE from localhost[127.0.0.1]: 5.7.1 Message content rejected by test milter; from=<someone@outside.example> to=<sseuser@sse-test.example> proto=ESMTP helo=<client.example>
//! Nov 23 02:23:45 mx postfix/cleanup[27544]: B2FD898C198: reject: mime-error improper use of 8-bit data in message body: käse from localhost[127.0.0.1]; from=<someone@outside.example> to=<sseuser@sse-test.example>
//! ```
//!
//! Formats checked against Postfix's source: `cleanup/cleanup_message.c` (`cleanup_act_log`,
//! MIME errors), `cleanup/cleanup_milter.c`.

use super::smtpd::trailing_recipient;
use super::{
    finder_angle_colon, finder_colon_space, finder_from, finder_rev_helo, finder_rev_proto,
    finder_semi_from, inbound,
};
use crate::parse::{
    leading_reply_codes, BasicCode, EnhancedCode, Outcome, Parsed, Recipients, Stage,
};

/// cleanup's own actions:
/// `header Subject: x from client[ip]; from=<s> to=<r> proto=ESMTP helo=<h>: 5.7.1 text`,
/// `body … from local; from=<s> to=<r>: 5.7.1 text`,
/// `mime-error invalid 8-bit data: … from client[ip]; from=<s> to=<r>`.
///
/// The content (up to 200 bytes of a header or body line) is client-controlled, so the fields
/// are found from the right: the last ` helo=<` (no spaces in helo names, the text after it is
/// the administrator's), else the last ` proto=`, else the first `; from=<` (local
/// submissions, no proto/helo). The text follows the first `: ` (`>: `) after them.
pub(super) fn action(rest: &[u8], outcome: Outcome, needs_code: bool) -> Option<Parsed<'_>> {
    let mime_error = rest.starts_with(b"mime-error ");
    let helo = finder_rev_helo().rfind(rest);
    let proto = finder_rev_proto().rfind(rest.get(..helo.unwrap_or(rest.len()))?);
    let (fields_end, text) = if let Some(h) = helo {
        let after = rest.get(h..)?;
        let text = finder_angle_colon()
            .find(after)
            .and_then(|q| after.get(q + 3..));
        (proto.unwrap_or(h), text)
    } else if let Some(p) = proto {
        let after = rest.get(p + 7..)?;
        let text = finder_colon_space()
            .find(after)
            .and_then(|q| after.get(q + 2..));
        (p, text)
    } else {
        let start = finder_semi_from().find(rest)?;
        let after = rest.get(start..)?;
        match finder_angle_colon().find(after) {
            Some(q) => (start + q + 1, after.get(q + 3..)),
            None => (rest.len(), None),
        }
    };
    let recipients = trailing_recipient(rest.get(..fields_end)?);
    // Header, body and MIME checks answer the end of the message; a local submission
    // (`from local`, no `proto=`) had no SMTP dialogue.
    let local = helo.is_none()
        && proto.is_none()
        && finder_semi_from()
            .find(rest)
            .is_some_and(|p| rest[..p].ends_with(b" from local"));
    let stage = if local {
        Stage::Unknown
    } else {
        Stage::EndOfData
    };
    let Some(text) = text else {
        // reject always carries a text (`5.7.1 …`), except for mime errors, which end with
        // ` to=<r>` (the recipient or `unknown`); hold/discard without a text do not count.
        return if mime_error && fields_end == rest.len() && recipients != Recipients::None {
            // The MTA's own words: `mime-error improper use of 8-bit data …`.
            let own = finder_from().find(rest).map_or(rest, |p| &rest[..p]);
            Some(inbound(outcome, (None, None), recipients, own, stage))
        } else if needs_code {
            Some(Parsed::Ignored)
        } else {
            None
        };
    };
    let (codes, complete) = codes_at_end(text);
    if !complete {
        // Cut inside the code (or a reject text without one, which cleanup never writes).
        return if needs_code {
            Some(Parsed::Ignored)
        } else {
            None
        };
    }
    Some(inbound(
        outcome,
        codes,
        recipients,
        text.trim_ascii(),
        stage,
    ))
}

/// Codes at the start of a text that may run to the end of a cut line: `complete` only when a
/// code was found and at least one byte follows it (so `5.7.1` cut from `5.7.10` is refused).
fn codes_at_end(text: &[u8]) -> ((Option<BasicCode>, Option<EnhancedCode>), bool) {
    let t = text.trim_ascii_start();
    let codes = leading_reply_codes(t);
    let mut end = 0;
    if codes.0.is_some() {
        end = 4;
    }
    if codes.1.is_some() {
        let word = t.get(end..).unwrap_or_default();
        end += word
            .iter()
            .take_while(|c| c.is_ascii_digit() || **c == b'.')
            .count();
    }
    let complete = (codes.0.is_some() || codes.1.is_some()) && t.len() > end;
    (codes, complete)
}
