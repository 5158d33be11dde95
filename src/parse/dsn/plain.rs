//! Plain-text notices (layout 4 of the list in [`super`]): the notices MTAs write without a
//! `message/delivery-status` part, or beside a broken one. Each names its recipients one
//! after the other, each followed by the reply (or the MTA's own words) that made it fail:
//!
//! ```text
//! Exim:                                      qmail, Yahoo, Postfix, OpenSMTPD:
//!   kijitora@example.jp                      <kijitora@example.jp>:
//!     SMTP error from remote mail server     remote host 192.0.2.1 said: 550 Unknown user
//!     after RCPT TO:<kijitora@example.jp>:   . (#5.5.0)
//!     host mx.example.jp [192.0.2.1]: 550
//!     5.1.1 <kijitora@example.jp>... User    kijitora@example.jp: 550 5.1.1 No such user
//!     Unknown
//! ```
//!
//! A notice is recognised by one of the sentences its MTA writes ([`INTROS`]); what is read
//! is the text from there to where the returned message starts ([`ENDS`]). In it, a
//! recipient is a line that is an address alone (`kijitora@example.jp`,
//! `<kijitora@example.jp>:`, `"kijitora@example.jp":`, `* kijitora@example.jp`,
//! `Recipient: <…>`), or starts with one followed by a colon and the reply (Postfix,
//! OpenSMTPD), or comes after a sentence such as "There was an error delivering your mail
//! to" (DragonFly). The recipient's reply is the first of its lines that starts with a reply
//! (`550 …`, `<<< 550 …`) or quotes one after `said:`, a colon (`host mx [192.0.2.1]: 550 …`)
//! or `smtp;`, and the lines that follow it up to an empty line (a multi-line reply is
//! kept whole). Without an enhanced code in the reply, one qmail and Yahoo append
//! (`(#5.5.0)`, `[#4.1.9]`) is taken. Codes come only from there: a recipient whose lines
//! quote no reply keeps the MTA's words as its text, without a code.
//!
//! Outcome: bounced; deferred where the notice says it will keep trying (Exim's and
//! Sendmail's warnings); an expiry where it says it gave up because of the time ("retry
//! timeout exceeded", "has been in the queue too long", "could not be delivered for 5 days").

use super::text::{lone_address, quoted_codes, quoted_reply, reply_codes, says_expired};
use super::DsnReply;
use crate::parse::{EnhancedCode, Outcome};

/// Exim's sentence right before its list of recipients: read from there where it is (the
/// sentences before it may name the sender; mail.ru puts a translation first).
const LIST_INTROS: &[&str] = &[
    "The following address(es) failed:",
    "The following address failed:",
    "The following address(es)\nfailed:",
    "The following address\nfailed:",
    "address(es) failed:",
];

/// Sentences that start the part of a notice that names the recipients.
const INTROS: &[&str] = &[
    // Exim (also mail.ru, GMX, 1&1, MXLogic, Zoho: same words).
    "has not yet been delivered to one or more of its",
    "This message was created automatically by mail delivery software.",
    // qmail, Yahoo and the like.
    "I'm afraid I wasn't able to deliver your message to the following addresses.",
    "Sorry, we were unable to deliver your message to the following address.",
    "Unable to deliver message to the following address(es).",
    // Postfix without a report part.
    "This is the mail system at host",
    "This is the Postfix program at host",
    // DragonFly Mail Agent.
    "There was an error delivering your mail to",
    // OpenSMTPD.
    "An error has occurred while attempting to deliver a message for",
    // Sendmail without a report part, and those that copy its words.
    // (permanent fatal, transient non-fatal, permanent delivery, fatal: Zoho) errors.
    "----- The following addresses had ",
    "----- Transcript of session follows -----",
    // Gmail's older notices (delayed, failed permanently), and one that copies them.
    "Delivery to the following recipient",
    "to the following recipients was aborted after",
    // EZweb.
    "The following recipients did not receive this message:",
    // Exchange 2003.
    "did not reach the following recipient(s):",
    // Others whose words are as plain.
    "Each of the following recipients was rejected by a remote",
    "Delivery to the following recipients failed permanently:",
    "Unable to deliver message to: ",
    "The following recipients returned permanent errors: ",
    "Your message cannot be delivered to the following recipients:",
    "could not be delivered to the following recipients",
    "-------server message",
];

/// Lines (trimmed) that start the returned message, or the parts after the recipients.
const ENDS: &[&str] = &[
    "------ This is a copy of the",
    "--- Below this line is a copy of the message",
    "--- Original message follows",
    "--- The header of the original message is following",
    "--- Enclosed are the original headers",
    "Message headers follow",
    "Below is a copy of the original message",
    "Included is a copy of the message header",
    "----- Original message -----",
    "-------original message",
    "----- Unsent message follows -----",
    "----- Original message follows -----",
    "Original message headers:",
    "Reporting-MTA:",
    "Return-Path:",
    "Return-path:",
    "Received: ",
];

/// Sentences before a recipient named inside them.
const NAMED_AFTER: &[&str] = &[
    "There was an error delivering your mail to ",
    "Unable to deliver message to: ",
    "The following recipients returned permanent errors: ",
    "undeliverable to ",
];

/// Words of a notice that will keep trying (a warning, not a failure).
const DELAYED: &[&str] = &[
    "has not yet been delivered",
    "had transient non-fatal errors",
    "Delivery attempts will continue",
    "will continue to be attempted",
    "will keep trying",
    "Message will be retried for",
    "THIS IS A WARNING MESSAGE ONLY",
    "has been delayed",
    "temporary failure report",
];

/// The replies of a plain-text notice; `None` when the text is not one.
pub(super) fn plain(text: &str) -> Option<Vec<DsnReply>> {
    let zoho = zoho_lines(text);
    let text = zoho.as_deref().unwrap_or(text);
    let first = |ms: &[&str]| ms.iter().filter_map(|m| text.find(m)).min();
    let start = first(LIST_INTROS).or_else(|| first(INTROS))?;
    let section = section(text.get(start..)?);
    let outcome = if DELAYED.iter().any(|m| section.contains(m)) {
        Outcome::Deferred
    } else {
        Outcome::Bounced
    };
    // Words before the list (and on its intro line) that say the notice gave up on time
    // ("was not delivered within 0 days and 1 hours", "was aborted after 5.0 hour(s)") speak
    // for every recipient listed.
    let intro_line = section.lines().next().unwrap_or_default();
    let all_expired =
        says_expired(text.get(..start).unwrap_or_default()) || says_expired(intro_line);
    let mut out: Vec<DsnReply> = paragraphs(section)
        .into_iter()
        .map(|(recipient, lines)| reply_of(outcome, all_expired, recipient, &lines))
        .collect();
    if out.is_empty() {
        // No recipient named as one of the layouts names it: the reply alone, if quoted.
        let lines: Vec<&str> = section.lines().collect();
        let recipient = rcpt_to(section).unwrap_or_default();
        let expired = says_expired(section);
        let r = reply_of(outcome, expired, recipient, &lines);
        if r.code.is_some() || r.enhanced.is_some() {
            out.push(r);
        }
    }
    Some(out)
}

/// The replies a text names by recipient, intro or not (OpenSMTPD's notification part has
/// none: `kijitora@example.jp: 550 5.1.1 …` lines only), to complete a report part that
/// gives no reply.
pub(super) fn named_replies(text: &str) -> Vec<DsnReply> {
    paragraphs(section(text))
        .into_iter()
        .map(|(recipient, lines)| reply_of(Outcome::Bounced, false, recipient, &lines))
        .collect()
}

/// Zoho's recipient lines (`kijitora@example.jp Invalid Address, ERROR_CODE :550, ERROR_CODE
/// :5.1.1 <…>... User Unknown`, or `[Status: Error, Address: <kijitora@example.jp>,
/// ResponseCode 421, , Host not reachable.]`) rewritten as `kijitora@example.jp: 550 5.1.1 …
/// (Invalid Address)`; `None` when there are none.
fn zoho_lines(text: &str) -> Option<String> {
    if !text.contains("ERROR_CODE :") && !text.contains(", ResponseCode ") {
        return None;
    }
    let line = |l: &str| -> Option<String> {
        if let Some((head, rest)) = l.split_once(", ERROR_CODE :") {
            let (addr, words) = head.trim().split_once(' ')?;
            let reply = rest.replacen(", ERROR_CODE :", " ", 1);
            let reply = reply.trim_start_matches([',', ' ']).replacen(" , ", " ", 1);
            return Some(format!("{addr}: {reply} ({words})"));
        }
        let (_, rest) = l.split_once("Address: <")?;
        let (addr, rest) = rest.split_once(">, ResponseCode ")?;
        let reply = rest
            .trim_end()
            .trim_end_matches(']')
            .replacen(", , ", " ", 1);
        Some(format!("{addr}: {reply}"))
    };
    let lines: Vec<String> = text
        .lines()
        .map(|l| line(l).unwrap_or_else(|| l.to_owned()))
        .collect();
    Some(lines.join("\n"))
}

/// The text from an intro to the first line that starts the returned message.
fn section(text: &str) -> &str {
    let mut pos = 0;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let l = line.trim();
        // The intro's own line is never an end.
        if i > 0 && (ENDS.iter().any(|m| l.starts_with(m)) || is_boundary(l)) {
            return text.get(..pos).unwrap_or(text);
        }
        pos += line.len();
    }
    text
}

/// A MIME boundary line left in a text whose structure is broken (`--=_b1.2/host`).
fn is_boundary(line: &str) -> bool {
    line.strip_prefix("--")
        .is_some_and(|b| b.len() >= 10 && !b.contains(char::is_whitespace) && !b.starts_with('-'))
}

/// The recipients in a section, each with the lines that follow it up to the next one (the
/// rest of its own line first, where the reply follows the address on it).
fn paragraphs(section: &str) -> Vec<(&str, Vec<&str>)> {
    let mut out: Vec<(&str, Vec<&str>)> = Vec::new();
    // The recipient the lines being read belong to.
    let mut current: Option<usize> = None;
    for line in section.lines().map(unquote) {
        let Some((addr, rest)) = recipient_line(line) else {
            if let Some(entry) = current.and_then(|i| out.get_mut(i)) {
                entry.1.push(line);
            }
            continue;
        };
        // A recipient named again — inside its reply (`… unknown user:` then the address on
        // the next line), or in the transcript after the list of failed addresses — is the
        // same recipient: its lines join the first naming's.
        let i = match out.iter().position(|(a, _)| a.eq_ignore_ascii_case(addr)) {
            // Named again inside its own reply: the line is part of the reply.
            Some(i) if current == Some(i) => {
                out[i].1.push(line);
                continue;
            }
            Some(i) => i,
            None => {
                out.push((addr, Vec::new()));
                out.len() - 1
            }
        };
        current = Some(i);
        if let (Some(entry), false) = (out.get_mut(i), rest.trim().is_empty()) {
            entry.1.push(rest);
        }
    }
    out
}

/// A line that names a recipient: the address, and what follows it on the line.
fn recipient_line(line: &str) -> Option<(&str, &str)> {
    let l = line.trim();
    if let Some(found) = sendmail_result(l) {
        return Some(found);
    }
    if let Some(rest) = NAMED_AFTER
        .iter()
        .find_map(|m| l.split_once(m).map(|(_, r)| r))
    {
        let word = rest.split_whitespace().next()?;
        let addr = lone_address(word.trim_end_matches(['.', ',', ':', ';']))?;
        return Some((addr, rest.get(word.len()..).unwrap_or_default()));
    }
    let l = ["Recipient address:", "Recipient:", "* ", "-- ", ">>> "]
        .iter()
        .find_map(|p| l.strip_prefix(p))
        .unwrap_or(l)
        .trim();
    // `addr`, `<addr>:`, `"addr":`, `addr: reply`, `addr <addr>`.
    let (head, rest) = match l.split_once(": ") {
        Some((h, r)) if lone_address(h.trim_matches('"')).is_some() => (h, r),
        _ => (l.split_whitespace().next()?, ""),
    };
    let head = head.trim_end_matches(':').trim_matches('"');
    let addr = lone_address(head)?;
    // Anything else on the line but a copy of the address: not a recipient line.
    let tail = l
        .get(l.find(head).unwrap_or(0) + head.len()..)
        .unwrap_or_default();
    let tail = tail.trim_start_matches(['>', '"', ':']).trim();
    // Exchange 2003: `kijitora@example.jp on Thu, 29 Apr 2010 00:00:00 -0000`.
    let copy = tail.is_empty() || lone_address(tail).is_some() || tail.starts_with("on ");
    (copy || !rest.is_empty()).then_some((addr, rest))
}

/// Sendmail's line for a recipient in its transcript: `554 <kijitora@example.org>... 550 Host
/// unknown` (the remote's reply after the address, else Sendmail's own: the whole line).
fn sendmail_result(l: &str) -> Option<(&str, &str)> {
    let (code, rest) = l.split_once(' ')?;
    reply_codes(code).0?;
    // An enhanced code may follow the basic one (`550 5.0.0 <…>... `).
    let rest = match rest.split_once(' ') {
        Some((e, r)) if EnhancedCode::parse(e.as_bytes()).is_some() => r,
        _ => rest,
    };
    let (addr, after) = rest.strip_prefix('<')?.split_once(">... ")?;
    let addr = lone_address(addr)?;
    let starts_reply = reply_codes(after) != (None, None);
    Some((addr, if starts_reply { after } else { l }))
}

/// One recipient's reply from its lines.
fn reply_of(outcome: Outcome, expired_anyway: bool, recipient: &str, lines: &[&str]) -> DsnReply {
    let words = lines.join(" ");
    let expired = expired_anyway || says_expired(&words);
    let reply = quoted_lines(lines);
    let text = reply.clone().unwrap_or_else(|| squeeze(&words));
    let (code, enhanced) = reply.as_deref().map_or((None, None), quoted_codes);
    let enhanced = enhanced.or_else(|| hash_code(&words));
    // A success notice (Postfix's "delivery report that you requested") in the same words.
    let success = code
        .map(|c| c.class_digit())
        .or(enhanced.map(|e| e.class_digit()))
        == Some(2);
    let outcome = if success { Outcome::Delivered } else { outcome };
    DsnReply {
        outcome,
        code,
        enhanced,
        recipient: recipient.to_owned(),
        text,
        relay: String::new(),
        stage: crate::parse::Stage::Unknown,
        expired: expired && outcome == Outcome::Bounced,
        queue_id: String::new(),
        time: None,
    }
}

/// The quoted reply in a recipient's lines: from the first line that holds one, to the
/// first empty line after it, joined.
fn quoted_lines(lines: &[&str]) -> Option<String> {
    let (i, first) = lines.iter().enumerate().find_map(|(i, l)| {
        let l = strip_transcript(l);
        quoted_reply(l)
            .or_else(|| smtp_semicolon(l))
            .map(|r| (i, r))
    })?;
    let mut parts = vec![first.trim()];
    for l in lines.iter().skip(i + 1).map(|l| strip_transcript(l).trim()) {
        // A line that starts another reply ends this one, unless this one's last line said
        // it goes on (`550-…`).
        let last = parts.last().copied().unwrap_or_default();
        let goes_on = last.as_bytes().get(3) == Some(&b'-') && reply_codes(last).0.is_some();
        // A transcript's next exchange (`>>> DATA`, `While talking to …`) ends it too.
        let exchange = l.starts_with(">>>") || l.to_ascii_lowercase().contains("while talking to");
        if l.is_empty() || exchange || (reply_codes(l).0.is_some() && !goes_on) {
            break;
        }
        parts.push(l);
    }
    Some(parts.join(" "))
}

/// A line without the `> ` marks of a notice forwarded as a quotation.
fn unquote(line: &str) -> &str {
    let mut l = line;
    while let Some(rest) = l.strip_prefix("> ") {
        l = rest;
    }
    if l.trim() == ">" {
        ""
    } else {
        l
    }
}

/// A transcript line without its direction marks (`<<< 550 …`, `Received >>> 550 …`).
fn strip_transcript(line: &str) -> &str {
    let l = line.trim();
    ["<<< ", "Received >>> ", "-- "]
        .iter()
        .find_map(|p| l.strip_prefix(p))
        .unwrap_or(l)
}

/// The reply after `smtp;` (`Diagnostic code: smtp; 550 5.7.1 …`).
fn smtp_semicolon(line: &str) -> Option<&str> {
    let (_, after) = line.split_once("smtp;")?;
    let after = after.trim_start();
    (reply_codes(after) != (None, None)).then_some(after)
}

/// The enhanced code qmail and Yahoo append: `(#5.5.0)`, `[#4.1.9]`, `(#5.1.1 - chkusr)`.
fn hash_code(words: &str) -> Option<EnhancedCode> {
    words.match_indices('#').find_map(|(i, _)| {
        let after = words.get(i + 1..)?;
        let end = after
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(after.len());
        EnhancedCode::parse(after.get(..end)?.as_bytes())
    })
}

/// Words on one line, single-spaced.
fn squeeze(words: &str) -> String {
    words.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The address of the first `RCPT TO:<…>` in a text (a transcript with no recipient list).
fn rcpt_to(text: &str) -> Option<&str> {
    let i = text.to_ascii_uppercase().find("RCPT TO:<")?;
    let after = text.get(i + "RCPT TO:<".len()..)?;
    lone_address(after.split('>').next()?)
}
