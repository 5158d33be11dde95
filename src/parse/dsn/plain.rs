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

use super::text::{lone_address, quoted_codes, quoted_reply, reply_codes};
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
    "----- The following addresses had permanent fatal errors -----",
    "----- The following addresses had permanent delivery errors -----",
    "----- The following addresses had transient non-fatal errors -----",
    "----- Transcript of session follows -----",
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
];

/// Words of a notice that gave up because the message was too long in the queue.
const EXPIRED: &[&str] = &[
    "retry timeout exceeded",
    "retry time not reached for any host after a long failure period",
    "has been in the queue too long",
    "Message could not be delivered for",
    "Cannot send message for",
    "too long in the queue",
    "all hosts have been failing for a long time",
    "Could not deliver for the last",
];

/// The replies of a plain-text notice; `None` when the text is not one.
pub(super) fn plain(text: &str) -> Option<Vec<DsnReply>> {
    let first = |ms: &[&str]| ms.iter().filter_map(|m| text.find(m)).min();
    let start = first(LIST_INTROS).or_else(|| first(INTROS))?;
    let section = section(text.get(start..)?);
    let outcome = if DELAYED.iter().any(|m| section.contains(m)) {
        Outcome::Deferred
    } else {
        Outcome::Bounced
    };
    let mut out: Vec<DsnReply> = paragraphs(section)
        .into_iter()
        .map(|(recipient, lines)| reply_of(outcome, false, recipient, &lines))
        .collect();
    if out.is_empty() {
        // No recipient named as one of the layouts names it: the reply alone, if quoted.
        let lines: Vec<&str> = section.lines().collect();
        let recipient = rcpt_to(section).unwrap_or_default();
        let expired = EXPIRED.iter().any(|m| section.contains(m));
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
    for line in section.lines() {
        // The current recipient named again inside its reply (`… unknown user:` then the
        // address on the next line) is part of the reply.
        let again = |addr: &str| {
            out.last()
                .is_some_and(|(a, _)| a.eq_ignore_ascii_case(addr))
        };
        if let Some((addr, rest)) = recipient_line(line).filter(|(a, _)| !again(a)) {
            out.push((addr, Vec::new()));
            if let (Some(last), false) = (out.last_mut(), rest.trim().is_empty()) {
                last.1.push(rest);
            }
        } else if let Some(last) = out.last_mut() {
            last.1.push(line);
        }
    }
    out
}

/// A line that names a recipient: the address, and what follows it on the line.
fn recipient_line(line: &str) -> Option<(&str, &str)> {
    let l = line.trim();
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
    let copy = tail.is_empty() || lone_address(tail).is_some();
    (copy || !rest.is_empty()).then_some((addr, rest))
}

/// One recipient's reply from its lines.
fn reply_of(outcome: Outcome, expired_anyway: bool, recipient: &str, lines: &[&str]) -> DsnReply {
    let words = lines.join(" ");
    let expired = expired_anyway || EXPIRED.iter().any(|m| words.contains(m));
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
        expired: expired && outcome == Outcome::Bounced,
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
    let rest = lines.iter().skip(i + 1).map(|l| strip_transcript(l));
    let mut parts = vec![first.trim()];
    parts.extend(rest.take_while(|l| !l.trim().is_empty()).map(str::trim));
    Some(parts.join(" "))
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

/// One regression test per layout the issue found unread ("Measured today"), on short
/// excerpts of the layouts, anonymised as Sisimai's corpus is.
#[cfg(test)]
mod tests {
    use super::super::{parse, Report};

    /// A notice without a report part: headers, then `body`.
    fn notice(body: &str) -> Vec<u8> {
        format!("From: MAILER-DAEMON@mx.example.org\nSubject: Mail delivery failed\n\n{body}")
            .into_bytes()
    }

    /// `outcome code enhanced recipient | text` per reply.
    fn read(body: &str) -> Vec<String> {
        match parse(&notice(body)) {
            Report::Replies(v) => v
                .iter()
                .map(|d| {
                    format!(
                        "{} {} {} {} | {}",
                        if d.expired {
                            "expired"
                        } else {
                            d.outcome.as_str()
                        },
                        d.code.map_or("-".into(), |c| c.to_string()),
                        d.enhanced.map_or("-".into(), |e| e.to_string()),
                        d.recipient,
                        d.text
                    )
                })
                .collect(),
            other => vec![format!("{other:?}")],
        }
    }

    const EXIM: &str = "\
This message was created automatically by mail delivery software.

A message that you sent could not be delivered to one or more of its
recipients. This is a permanent error. The following address(es) failed:

  kijitora@example.ch
    SMTP error from remote mail server after RCPT TO:<kijitora@example.ch>:
    host mx1.example.eu [192.0.2.32]: 554 5.7.1 <kijitora@example.ch>:
    Recipient address rejected: Access denied
  sabatora@example.jp
    retry timeout exceeded

------ This is a copy of the message, including all the headers. ------

Received: from localhost ([127.0.0.1])
";

    /// "Exim's own text bounces … are read as 'not a notice'"; "multi-line replies are cut
    /// to their first line"; Exim's "retry timeout exceeded" is an expiry.
    #[test]
    fn exim_text_bounces() {
        assert_eq!(
            read(EXIM),
            vec![
                "bounced 554 5.7.1 kijitora@example.ch | 554 5.7.1 <kijitora@example.ch>: \
                 Recipient address rejected: Access denied",
                "expired - - sabatora@example.jp | retry timeout exceeded",
            ]
        );
    }

    /// mail.ru writes the same list twice, in Russian then in Exim's English: read once.
    #[test]
    fn mailru_translation_first() {
        let body = "\
К сожалению, Ваше письмо не может быть доставлено одному или нескольким получателям:

  kijitora@example.jp
    host mx.example.jp [192.0.2.222]: 550 5.1.1 <kijitora@example.jp>... User Unknown

**********************

This message was created automatically by mail delivery software.

A message that you sent could not be delivered to one or more of its
recipients. This is a permanent error. The following address(es) failed:

  kijitora@example.jp
    host mx.example.jp [192.0.2.222]: 550 5.1.1 <kijitora@example.jp>... User Unknown
";
        assert_eq!(
            read(body),
            vec!["bounced 550 5.1.1 kijitora@example.jp | 550 5.1.1 <kijitora@example.jp>... User Unknown"]
        );
    }

    /// "qmail (`… said: 550 … (#5.5.0)`, 25 of 25)": the basic code after `said:`, the
    /// enhanced code qmail appends.
    #[test]
    fn qmail() {
        let body = "\
Hi. This is the qmail-send program at mx4.example.jp.
I'm afraid I wasn't able to deliver your message to the following addresses.
This is a permanent error; I've given up. Sorry it didn't work out.

<kijitora@example.ne.jp>:
Sorry, no SMTP connection got far enough; most progress was RCPT TO response; remote host 192.0.2.32 said: 550 Unknown user kijitora@example.ne.jp
. (#5.5.0)

--- Below this line is a copy of the message.

Return-Path: <nekochan@example.jp>
";
        assert_eq!(
            read(body),
            vec!["bounced 550 5.5.0 kijitora@example.ne.jp | 550 Unknown user kijitora@example.ne.jp . (#5.5.0)"]
        );
    }

    /// Yahoo (qmail's words), the reply on the line after "Remote host said:".
    #[test]
    fn yahoo() {
        let body = "\
Sorry, we were unable to deliver your message to the following address.

<kijitora@example.co.jp>:
Remote host said:
550 5.2.1 <kijitora@example.co.jp>... User Unknown
[RCPT_TO]

--- Below this line is a copy of the message.
";
        assert_eq!(
            read(body),
            vec!["bounced 550 5.2.1 kijitora@example.co.jp | 550 5.2.1 <kijitora@example.co.jp>... User Unknown [RCPT_TO]"]
        );
    }

    /// Postfix's notice when its report part is missing: the reply folded over lines, the
    /// recipient named again inside it.
    #[test]
    fn postfix_without_a_report_part() {
        let body = "\
This is the mail system at host mx.example.jp.

<kijitora@example.or.jp>: host
    mx.example.or.jp[192.0.2.22] said: 550
    <kijitora@example.or.jp>: User unknown (in reply to RCPT TO command)
";
        assert_eq!(
            read(body),
            vec!["bounced 550 - kijitora@example.or.jp | 550 <kijitora@example.or.jp>: User unknown (in reply to RCPT TO command)"]
        );
    }

    /// DragonFly: the recipient inside a sentence, a multi-line reply kept whole.
    #[test]
    fn dragonfly() {
        let body = "\
This is the DragonFly Mail Agent v0.13 at df.example.jp.

There was an error delivering your mail to <kijitora@example.com>.

mx.example.com [192.0.2.27] did not like our final DATA:
550-5.7.26 Unauthenticated email from example.jp is not accepted due to domain's
550 5.7.26 DMARC policy.

Message headers follow.
";
        assert_eq!(
            read(body),
            vec![
                "bounced 550 5.7.26 kijitora@example.com | 550-5.7.26 Unauthenticated email \
                  from example.jp is not accepted due to domain's 550 5.7.26 DMARC policy."
            ]
        );
    }

    /// "OpenSMTPD's real reply is only in the human-readable part (we report 5.0.0 for
    /// all)": its report part says `Status: 5.0.0` and nothing else.
    #[test]
    fn opensmtpd_reply_from_its_notification_part() {
        let msg = "From: MAILER-DAEMON@df.example.jp\n\
Content-Type: multipart/mixed; boundary=\"b\"\n\n--b\nContent-Type: text/plain\n\n\
userunknown@example.net: 550 5.1.1 <userunknown@example.net>: Recipient address rejected: User unknown\n\
mailboxfull@example.net: 552 5.2.2 Mailbox full\n\n\
--b\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; df.example.jp\n\n\
Final-Recipient: rfc822; userunknown@example.net\nAction: failed\nStatus: 5.0.0\n\n\
Final-Recipient: rfc822; mailboxfull@example.net\nAction: failed\nStatus: 5.0.0\n\n--b--\n";
        let Report::Replies(v) = parse(msg.as_bytes()) else {
            panic!()
        };
        let got: Vec<_> = v
            .iter()
            .map(|r| {
                format!(
                    "{:?} {:?}",
                    r.code.map(|c| c.get()),
                    r.enhanced.map(|e| e.to_string())
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![r#"Some(550) Some("5.1.1")"#, r#"Some(552) Some("5.2.2")"#]
        );
    }

    /// A person's mail that names an address and quotes a code is not a notice.
    #[test]
    fn a_mail_is_not_a_notice() {
        let body = "Hi,\n\nkijitora@example.jp: 550 is what their server said.\n";
        assert_eq!(read(body), vec!["NotABounce"]);
    }
}
