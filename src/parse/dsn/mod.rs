//! Delivery status notifications (bounces) read from a mailbox: one whole message in, its
//! replies out. Counted under `mta="dsn"`, `direction="outbound"`.
//!
//! Unlike the log parsers this reads a whole message, not a line, so it is not a
//! [`Format`](super::Format) (`--log.format dsn` would make no sense for a log file): the
//! mailbox source (`source/mailbox/`) calls [`parse`] once per message. MIME (multipart
//! bodies, transfer encodings, folded header fields, charsets) is read by the `mail-parser`
//! crate; this module only reads the fields and sentences the layouts below define:
//! `rfc3464.rs` (1 and 4), `providers.rs` (2, 3 and 5), `plain.rs` (6), `text.rs` (addresses
//! and quoted replies, for all).
//!
//! Layouts understood, in this order:
//!
//! 1. RFC 3464: a `message/delivery-status` part (also `message/global-delivery-status`, RFC
//!    6533), normally inside `multipart/report; report-type=delivery-status`. Postfix, Exim,
//!    Sendmail, Gmail and Microsoft 365 all send one. One reply per per-recipient block that
//!    has an `Action`:
//!
//!    ```text
//!    Final-Recipient: rfc822; r550-5.1.1-m1@d1.test
//!    Original-Recipient: rfc822;r550-5.1.1-m1@d1.test
//!    Action: failed
//!    Status: 5.1.1
//!    Remote-MTA: dns; [127.0.0.2]
//!    Diagnostic-Code: smtp; 550 5.1.1 No such user here <r550-5.1.1-m1@d1.test> (e2e
//!        sink)
//!    ```
//!
//!    `Action` gives the outcome (`failed` → bounced, `delayed` → deferred, `delivered`,
//!    `relayed`, `expanded` → delivered); the reply the `Diagnostic-Code` quotes (at its
//!    start, or after `said:` whatever the diagnostic type) the basic and enhanced codes and
//!    [`Reply::text`] (whole, folded lines unfolded); `Status` the enhanced code where the
//!    reply has none: the server's code wins over the reporting MTA's generic one (`Status:
//!    5.1.1` beside `550 5.7.1 IP address blacklisted` is 5.7.1). `Final-Recipient` (else
//!    `Original-Recipient`) gives the domain; a block that names a second recipient without
//!    the empty line between them (AOL) is cut in two. A diagnostic with no reply
//!    (`X-Postfix; connect to …: Connection refused`) is the MTA's own words: its text is
//!    kept, it gives no code. A block that states no reply at all (OpenSMTPD: `Status: 5.0.0`
//!    only) takes the one the human-readable part gives for the same recipient.
//!
//!    An **expiry** (`Action: failed` with a temporary `Status` — Postfix gives up with
//!    `Status: 4.4.1` — not beside a 5xx reply, any x.4.7 "delivery time expired", or a
//!    diagnostic in the words MTAs give up in: "Message expired", `QUEUE.Expired`) is
//!    [`DsnReply::expired`]: counted as an expiry, not a reply. Its codes are those of the
//!    remote's last reply when the notice quotes one (never the reporting MTA's 4.4.7 beside
//!    the remote's 450: a pair no server sent), else the `Status`.
//!
//! 2. Exchange / Microsoft 365 human-readable NDR, when no delivery-status part came with it
//!    (it was stripped, or the notice was forwarded): under "Diagnostic information for
//!    administrators", each recipient address on a line of its own, followed by the remote
//!    reply, either quoted or between `#` and `##`:
//!
//!    ```text
//!    Diagnostic information for administrators:
//!
//!    Generating server: BY5PR01MB1234.namprd01.prod.outlook.com
//!
//!    nobody@contoso.com
//!    Remote Server returned '550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup'
//!
//!    full@fabrikam.com
//!    mx.fabrikam.com #552 5.2.2 Mailbox full ##
//!
//!    lee@fabrikam.com
//!    mx.fabrikam.com #<mx.fabrikam.com #5.7.1 smtp;530 5.7.1 Client was not authenticated> #SMTP#
//!    ```
//!
//!    and Microsoft 365's current layout, where the recipient is named at the top:
//!
//!    ```text
//!    Your message to gone@contoso.com couldn't be delivered.
//!    …
//!    More Info for Email Admins
//!    …
//!    Reported error: 550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup
//!    ```
//!
//!    Outcome bounced ("Delivery has failed"), deferred when the notice says "Delivery is
//!    delayed".
//!
//! 3. Gmail human-readable bounce, when no delivery-status part came with it: the recipient in
//!    "wasn't delivered to ADDRESS" / "problem delivering your message to ADDRESS" (or on its
//!    own line after "Delivery to the following recipient failed permanently:"), the remote
//!    reply after "The response from the remote server was:" or "The response was:" (older
//!    notices: "The error that the other server returned was:"), on the same line or the
//!    lines that follow, up to an empty line:
//!
//!    ```text
//!    ** Address not found **
//!
//!    Your message wasn't delivered to nobody@example.com because the address couldn't be found, or is unable to receive mail.
//!
//!    The response from the remote server was:
//!    550 5.1.1 <nobody@example.com>: Recipient address rejected: User unknown
//!    ```
//!
//!    Outcome bounced, deferred for a "temporary problem" / "temporary failure" / "has been
//!    delayed" notice ("Gmail will retry").
//!
//! 4. RFC 3464 fields in a text part (Amazon WorkMail's "Technical report:"), or left in the
//!    text by a broken MIME structure: read as in 1, from the first field on.
//!
//! 5. Google Groups' refusal of a post (in the sender's language, no code): one bounce, no
//!    code, for each address of the notice's `X-Failed-Recipients` header. Amazon SES's JSON
//!    notifications sent by mail (`ses.rs`).
//!
//! 6. Plain-text notices of the MTAs that send no report part (Exim, qmail, Yahoo, Postfix
//!    without one, DragonFly, OpenSMTPD, Sendmail transcripts, mail.ru, GMX, …): the
//!    recipients each followed by the reply that made them fail, read as `plain.rs` says.
//!
//! A reply's queue id is the report's per-message `X-Postfix-Queue-ID` (or `X-…-Queue-ID`
//! under another `mail_name`), empty for notices without one; its time the recipient's
//! `Last-Attempt-Date`, else the notice's `Date:` (never `Arrival-Date`: the original
//! message's arrival, days before an expiry's failure).
//!
//! Codes come only from what the message states (`Status`, the diagnostic, the quoted reply),
//! never from words. A message with none of these layouts is not a bounce (`ignored`); one
//! that cannot be read as a message, or that has a delivery-status part or one of the layouts
//! but no recipient that can be read, is `unrecognised`.

mod dialogue;
#[cfg(test)]
mod dialogue_tests;
mod plain;
#[cfg(test)]
mod plain_tests;
mod providers;
mod rfc3464;
mod ses;
#[cfg(test)]
mod tests;
mod text;

use mail_parser::{MessageParser, MimeHeaders};

use super::{BasicCode, Direction, EnhancedCode, Outcome, Recipients, Relay, Reply, Stage, Stamp};
use plain::{named_replies, plain};
use providers::{exchange, gmail, google_groups, EXCHANGE_MARKERS, GMAIL_MARKERS};
use rfc3464::{delivery_status, embedded};
use ses::amazon_ses;
use text::quoted_codes;

/// The `mta` label of replies read from delivery status notifications.
pub const MTA: &str = "dsn";

/// What one message turned out to be.
#[derive(Debug, Clone, PartialEq)]
pub enum Report {
    /// Replies, one per recipient the notice reports on (at least one).
    Replies(Vec<DsnReply>),
    /// Not a delivery status notification.
    NotABounce,
    /// A message that cannot be read, or a notice whose recipients cannot be.
    Unreadable,
}

/// One recipient's reply as a notice states it. Owned: a notice's text is usually decoded
/// (quoted-printable, base64), so it cannot borrow from the message's bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct DsnReply {
    pub outcome: Outcome,
    pub code: Option<BasicCode>,
    pub enhanced: Option<EnhancedCode>,
    /// The recipient's address as stated (may be empty).
    pub recipient: String,
    /// The remote reply (or the reporting MTA's own words), unfolded; may be empty.
    pub text: String,
    /// The host that answered, as the notice names it (`Remote-MTA`, or the reporting MTA's
    /// words: `host mx.example.com[192.0.2.1] said:`); empty where it names none.
    pub relay: String,
    /// The command the reply answered, where the notice says it.
    pub stage: Stage,
    /// An expiry notice: the message was given up undelivered when its time in the queue ran
    /// out. Counted as an expiry (`smtp_expired_total`), not as a reply: the codes and text
    /// are those of the remote's last reply the notice quotes (else its `Status`), kept for
    /// the record only.
    pub expired: bool,
    /// The reporting MTA's queue id of the bounced message, where the report states it
    /// (Postfix's `X-Postfix-Queue-ID`); empty elsewhere.
    pub queue_id: String,
    /// When the reply was given, in seconds since the epoch: the recipient's
    /// `Last-Attempt-Date`, else the notice's `Date:`.
    pub time: Option<i64>,
}

impl DsnReply {
    /// A reply read from a notice's human-readable text: its codes where the quoted reply
    /// starts. A failure with x.4.7 ("delivery time expired") is an expiry.
    fn quoted(outcome: Outcome, recipient: &str, text: String) -> Self {
        let (code, enhanced) = quoted_codes(&text);
        let expired = outcome == Outcome::Bounced
            && enhanced.is_some_and(|e| e.subject() == 4 && e.detail() == 7);
        DsnReply {
            outcome,
            code,
            enhanced,
            recipient: recipient.to_owned(),
            text,
            relay: String::new(),
            stage: Stage::Unknown,
            expired,
            queue_id: String::new(),
            time: None,
        }
    }

    /// As the aggregator counts it: outbound, one recipient.
    pub fn reply(&self) -> Reply<'_> {
        Reply {
            direction: Direction::Outbound,
            outcome: self.outcome,
            code: self.code,
            enhanced: self.enhanced,
            recipients: if self.recipient.is_empty() {
                Recipients::None
            } else {
                Recipients::One(self.recipient.as_bytes())
            },
            delay: None,
            text: self.text.as_bytes(),
            relay: if self.relay.is_empty() {
                Relay::Unknown
            } else {
                Relay::Host(self.relay.as_bytes())
            },
            stage: self.stage,
            queue_id: self.queue_id.as_bytes(),
            time: self.time.map_or(Stamp::None, Stamp::Seconds),
        }
    }
}

/// Reads one message (without an mbox `From ` line).
pub fn parse(message: &[u8]) -> Report {
    let lf = cr_to_lf(message);
    let Some(msg) = MessageParser::default().parse(lf.as_deref().unwrap_or(message)) else {
        return Report::Unreadable;
    };
    // A message whose headers could not be found at all.
    if msg.headers().is_empty() {
        return Report::Unreadable;
    }
    let mut status_parts = msg.parts.iter().filter(|p| is_status_part(p));
    let has_status_part = status_parts.clone().next().is_some();
    // The human-readable parts (HTML turned into text by mail-parser where there is no plain
    // alternative).
    let mut text: String = (0..msg.text_body_count())
        .filter_map(|i| msg.body_text(i))
        .collect::<Vec<_>>()
        .join("\n");
    if text.trim().is_empty() {
        // A MIME structure broken on the way (its boundary no longer matches): the body as
        // it is, where the layouts below may still be found.
        text = String::from_utf8_lossy(raw_body(lf.as_deref().unwrap_or(message))).into_owned();
    }
    let date = msg
        .date()
        .filter(|d| d.is_valid())
        .map(|d| d.to_timestamp());
    if let Some(part) = status_parts.next() {
        let mut replies = delivery_status(part.contents());
        if !replies.is_empty() {
            complete_from_text(&mut replies, &text);
            dialogue::from_paragraphs(&mut replies, &text);
            let queue_id = report_queue_id(part.contents());
            for r in &mut replies {
                r.queue_id.clone_from(&queue_id);
                r.time = r.time.or(date);
            }
            return Report::Replies(replies);
        }
        // A broken report part: the human-readable layouts may still name the replies.
    }
    let is_report = msg.content_type().is_some_and(|ct| {
        ct.ctype().eq_ignore_ascii_case("multipart")
            && (ct.subtype()).is_some_and(|s| s.eq_ignore_ascii_case("report"))
            && (ct.attribute("report-type"))
                .is_some_and(|t| t.eq_ignore_ascii_case("delivery-status"))
    });
    let failed = msg.header("X-Failed-Recipients").and_then(|h| h.as_text());
    match human_readable(&text, failed) {
        Some(mut replies) if !replies.is_empty() => {
            gave_up_on_time(&mut replies, msg.subject());
            dialogue::from_paragraphs(&mut replies, &text);
            for r in &mut replies {
                r.time = r.time.or(date);
            }
            Report::Replies(replies)
        }
        Some(_) => Report::Unreadable,
        None if is_report || has_status_part => Report::Unreadable,
        None => Report::NotABounce,
    }
}

/// The reporting MTA's queue id of the message, from the report's per-message fields:
/// Postfix writes `X-Postfix-Queue-ID: 2222EE22`, or with the `mail_name` it is given in place
/// of `Postfix` (`X-Yandex-Queue-ID`, AOL's `X-Outbound-Mail-Relay-Queue-ID`). Empty where the
/// report has none (Exim, Sendmail and the others state no queue id there).
fn report_queue_id(report: &[u8]) -> String {
    let Some(block) = rfc3464::field_groups(report).next() else {
        return String::new();
    };
    for line in block.split(|&c| c == b'\n') {
        let Some(colon) = memchr::memchr(b':', line) else {
            continue;
        };
        let name = &line[..colon];
        let ends = name
            .len()
            .checked_sub(b"-Queue-ID".len())
            .and_then(|at| name.get(at..))
            .is_some_and(|tail| tail.eq_ignore_ascii_case(b"-Queue-ID"));
        if ends && name.get(..2).is_some_and(|x| x.eq_ignore_ascii_case(b"X-")) {
            let mut words = line[colon + 1..].split(u8::is_ascii_whitespace);
            let id = words.find(|w| !w.is_empty()).unwrap_or_default();
            return String::from_utf8_lossy(id).into_owned();
        }
    }
    String::new()
}

/// Failures a notice gave up on because of the time, though its body names only the last
/// error: the subject says so (Sendmail's "Returned mail: Cannot send message for 4 days"), or
/// Gmail fails a destination that refused its connections, which it does only once its
/// retries ran out (its delay warnings say the same words as a temporary failure).
fn gave_up_on_time(replies: &mut [DsnReply], subject: Option<&str>) {
    let subject_says = subject.is_some_and(text::says_expired);
    for r in replies.iter_mut().filter(|r| r.outcome == Outcome::Bounced) {
        if subject_says || r.text.contains("did not accept our requests to connect") {
            r.expired = true;
        }
    }
}

/// A message whose lines end with CR alone (classic Mac OS mail stores) with LF instead:
/// mail-parser reads lines at LF. `None` for any other message.
fn cr_to_lf(message: &[u8]) -> Option<Vec<u8>> {
    let cr_only =
        memchr::memchr(b'\n', message).is_none() && memchr::memchr(b'\r', message).is_some();
    cr_only.then(|| {
        message
            .iter()
            .map(|&b| if b == b'\r' { b'\n' } else { b })
            .collect()
    })
}

/// The bytes after a message's header block (empty when it has none).
fn raw_body(message: &[u8]) -> &[u8] {
    let end = memchr::memmem::find(message, b"\r\n\r\n")
        .map(|i| i + 4)
        .into_iter()
        .chain(memchr::memmem::find(message, b"\n\n").map(|i| i + 2))
        .min();
    end.and_then(|e| message.get(e..)).unwrap_or_default()
}

/// A `message/delivery-status` part (or `message/global-delivery-status`, RFC 6533).
fn is_status_part(part: &mail_parser::MessagePart<'_>) -> bool {
    part.content_type().is_some_and(|ct| {
        ct.ctype().eq_ignore_ascii_case("message")
            && ct.subtype().is_some_and(|s| {
                s.eq_ignore_ascii_case("delivery-status")
                    || s.eq_ignore_ascii_case("global-delivery-status")
            })
    })
}

/// A report block that states no reply (OpenSMTPD: `Status: 5.0.0` and no diagnostic) takes
/// the reply the human-readable part gives for the same recipient: the server's words win
/// over a generic status.
fn complete_from_text(replies: &mut [DsnReply], text: &str) {
    if replies
        .iter()
        .all(|r| r.code.is_some() || !r.text.is_empty())
    {
        return;
    }
    let named = named_replies(text);
    for r in replies
        .iter_mut()
        .filter(|r| r.code.is_none() && r.text.is_empty())
    {
        let found = named
            .iter()
            .find(|n| n.code.is_some() && n.recipient.eq_ignore_ascii_case(&r.recipient));
        if let Some(n) = found {
            r.code = n.code;
            r.enhanced = n.enhanced.or(r.enhanced);
            r.text.clone_from(&n.text);
        }
    }
}

/// The layouts without a (readable) report part: 2 to 6 of the list at the top. `None`: none
/// of them; `Some(empty)`: one, but no reply could be read from it.
fn human_readable(text: &str, failed_recipients: Option<&str>) -> Option<Vec<DsnReply>> {
    if EXCHANGE_MARKERS.iter().any(|m| text.contains(m)) {
        return Some(exchange(text));
    }
    if GMAIL_MARKERS.iter().any(|m| text.contains(m)) {
        return Some(gmail(text));
    }
    if let Some(mut replies) = embedded(text) {
        complete_from_text(&mut replies, text);
        return Some(replies);
    }
    if let Some(replies) = google_groups(text, failed_recipients) {
        return Some(replies);
    }
    if let Some(replies) = amazon_ses(text) {
        return Some(replies);
    }
    plain(text)
}
