//! What every layout reads: addresses, and where a notice quotes the remote reply with the
//! codes that start it.

use crate::parse::{leading_reply_codes, BasicCode, EnhancedCode};

/// The codes at the start of a reply: `550 5.1.1 …`, `550-5.1.1 …`, `550 …`, `5.1.1 …`, and
/// the spellings notices add: the basic code twice (`554 554 5.7.0 …`), a colon after it
/// (`550: 5.2.2 …`), a `#` before the enhanced code (`550 #5.1.0 …`).
pub(super) fn reply_codes(text: &str) -> (Option<BasicCode>, Option<EnhancedCode>) {
    let t = text.trim_start();
    let colon = t
        .get(..3)
        .and_then(|c| BasicCode::parse(c.as_bytes()))
        .filter(|_| t.get(3..4) == Some(":"));
    let (basic, enhanced) = match colon {
        Some(c) => (Some(c), None),
        None => leading_reply_codes(t.as_bytes()),
    };
    let (Some(code), None) = (basic, enhanced) else {
        return (basic, enhanced);
    };
    let rest = t.get(4..).unwrap_or_default().trim_start();
    let code_text = code.to_string();
    let rest = rest
        .strip_prefix(code_text.as_str())
        .map_or(rest, str::trim_start);
    let rest = rest.strip_prefix('#').unwrap_or(rest);
    let word = rest.split_whitespace().next().unwrap_or_default();
    let word = word.trim_end_matches([',', ';', ':']);
    (basic, EnhancedCode::parse(word.as_bytes()))
}

/// Whether a text starts with a reply's codes.
pub(super) fn starts_reply(t: &str) -> bool {
    reply_codes(t) != (None, None)
}

/// The remote reply in a text that quotes one: the text itself when it starts with a reply's
/// codes, else what follows `said:` or a `: ` (`host mx.example.com [192.0.2.1]: 550 …`) when
/// a basic code starts it. Codes are only ever read where a reply starts.
pub(super) fn quoted_reply(text: &str) -> Option<&str> {
    let t = text.trim_start();
    if starts_reply(t) {
        return Some(t);
    }
    let basic = |t: &str| reply_codes(t).0.is_some();
    ["said:", ": "].iter().find_map(|m| {
        t.match_indices(m)
            .map(|(i, _)| t.get(i + m.len()..).unwrap_or_default().trim_start())
            .find(|after| basic(after))
    })
}

/// The codes of the reply a text quotes, if it quotes one.
pub(super) fn quoted_codes(text: &str) -> (Option<BasicCode>, Option<EnhancedCode>) {
    quoted_reply(text).map_or((None, None), reply_codes)
}

/// Whether a line is one e-mail address and nothing else (`user@example.com`,
/// `<user@example.com>`, `mailto:user@example.com`).
pub(super) fn lone_address(line: &str) -> Option<&str> {
    let l = line.trim();
    let l = l.strip_prefix("mailto:").unwrap_or(l);
    let l = l.strip_prefix('<').unwrap_or(l);
    let l = l.strip_suffix('>').unwrap_or(l);
    let (local, domain) = l.rsplit_once('@')?;
    let ok = !local.is_empty()
        && domain.contains('.')
        && !l.contains(char::is_whitespace)
        && !l.contains(['<', '>', '\'', '"', '(', ')']);
    ok.then_some(l)
}

/// The address right after one of `markers` in `text`.
pub(super) fn address_after<'t>(text: &'t str, markers: &[&str]) -> Option<&'t str> {
    markers.iter().find_map(|m| {
        let (_, after) = text.split_once(m)?;
        let word = after.split_whitespace().next()?;
        lone_address(word.trim_end_matches(['.', ',', ':', ';']))
    })
}

/// A field's value on one line: mail-parser keeps the line breaks of fields it does not know.
pub(super) fn unfold(value: &str) -> String {
    value
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// `rfc822; user@example.com` → `user@example.com`.
pub(super) fn address_of(field: &str) -> String {
    let addr = field.split_once(';').map_or(field, |(_, a)| a).trim();
    let addr = addr.strip_prefix('<').unwrap_or(addr);
    addr.strip_suffix('>').unwrap_or(addr).to_owned()
}

/// Words of a notice that gave up because the message was too long in the queue.
const EXPIRY_WORDS: &[&str] = &[
    "retry timeout exceeded",
    "retry time not reached for any host after a long failure period",
    "has been in the queue too long",
    "Message could not be delivered for",
    "Cannot send message for",
    "too long in the queue",
    "all hosts have been failing for a long time",
    "Could not deliver for the last",
    "was not delivered within",
    "was aborted after",
    "Envelope expired",
    "Message expired",
    "QUEUE.Expired",
];

/// Whether a notice's words say it gave up on time (an expiry), as its MTA writes it.
pub(super) fn says_expired(text: &str) -> bool {
    EXPIRY_WORDS.iter().any(|w| text.contains(w))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(t: &str) -> String {
        let (c, e) = quoted_codes(t);
        format!(
            "{} {}",
            c.map_or("-".into(), |c| c.to_string()),
            e.map_or("-".into(), |e| e.to_string())
        )
    }

    #[test]
    fn spellings_of_a_reply() {
        for (t, want) in [
            ("550 5.1.1 User unknown", "550 5.1.1"),
            ("550-5.7.26 Unauthenticated", "550 5.7.26"),
            ("554 554 5.7.0 Header error", "554 5.7.0"),
            ("550 #5.1.0 Address rejected.", "550 5.1.0"),
            ("550: 5.2.2 <a@b.example>... Mailbox Full", "550 5.2.2"),
            ("5.2.2 Mailbox full", "- 5.2.2"),
            (
                "host mx.example.jp [192.0.2.1]: 550 5.1.1 <a@b.example>",
                "550 5.1.1",
            ),
            ("remote host 192.0.2.32 said: 550 Unknown user", "550 -"),
            (
                "connect to x.example[192.0.2.1]:25: Connection refused",
                "- -",
            ),
            ("Could not deliver for the last 432000 seconds.", "- -"),
        ] {
            assert_eq!(codes(t), want, "{t}");
        }
    }
}
