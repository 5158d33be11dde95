//! Sendmail: reads one syslog line of Sendmail (`sm-mta[pid]:`, `sendmail[pid]:`,
//! `sm-msp-queue[pid]:`) into a [`Parsed`].
//!
//! Sendmail logs through syslog(3) only; any syslog prefix [`syslog::split`] knows is accepted.
//! The tag is the program name Sendmail was started under, or what its `-L` flag says (Debian
//! runs the daemon as `sm-mta`, the submission queue runner as `sm-msp-queue`; a queue run
//! started as `sendmail -q` logs as `sendmail`; some systems log the daemon under its process
//! title, `sm-acceptingconnections`). Lines of other programs are
//! [`Parsed::Ignored`]; lines without a syslog header are [`Parsed::Unrecognised`], and so is a
//! Sendmail line that has the shape of a countable line but cannot be read (a `to=` line
//! without `stat=`, a refusal without a reply code, a line cut short).
//!
//! Kinds of lines understood (every example is a real line, written by Sendmail 8.17.1.9 from
//! Debian 12's `sendmail-bin` through syslog; the remote servers were the scripted test sink):
//!
//! **Outbound delivery status**, one reply per recipient of `to=` (a comma-separated list:
//! Sendmail logs the recipients that got the same status in one line); `dsn=` is the enhanced
//! code, the basic code is read from `reply=` (the remote reply, logged for failures), `delay=`
//! is the delay. The outcome: `stat=Sent` delivered, `stat=Deferred…` deferred, any other
//! status by the class of `dsn=` (`User unknown`, `Service unavailable`, `Host unknown` are
//! 5.x.x bounces, `Operating system error` a 4.x.x deferral); `stat=queued` is not a reply:
//! ```text
//! Nov 23 04:45:24 mx sm-mta[31009]: 6AN4jO5g031007: to=<r250-d@d1.test>,<r250-a@d1.test>, delay=00:00:00, xdelay=00:00:00, mailer=esmtp, pri=180015, relay=[127.0.0.2] [127.0.0.2], dsn=2.0.0, stat=Sent (Ok: queued as ABC123)
//! Nov 23 04:45:24 mx sm-mta[31009]: 6AN4jO5g031007: to=<r550-5.1.1-b@d1.test>, delay=00:00:00, xdelay=00:00:00, mailer=esmtp, pri=180015, relay=[127.0.0.2] [127.0.0.2], dsn=5.1.1, reply=550 5.1.1 Reply for <r550-5.1.1-b@d1.test> (sink), stat=User unknown
//! Nov 23 04:45:24 mx sm-mta[31009]: 6AN4jO5g031007: to=<r550-e@d1.test>, delay=00:00:00, xdelay=00:00:00, mailer=esmtp, pri=180015, relay=[127.0.0.2] [127.0.0.2], dsn=5.1.1, reply=550 Reply for <r550-e@d1.test> (sink), stat=User unknown
//! Nov 23 04:45:24 mx sm-mta[31009]: 6AN4jO5g031007: to=<r451-4.7.1-c@d1.test>, delay=00:00:00, xdelay=00:00:00, mailer=esmtp, pri=180015, relay=[127.0.0.2] [127.0.0.2], dsn=4.7.1, reply=451 4.7.1 Reply for <r451-4.7.1-c@d1.test> (sink), stat=Deferred: 451 4.7.1 Reply for <r451-4.7.1-c@d1.test> (sink)
//! Nov 23 04:45:24 mx sm-mta[31009]: 6AN4jO5g031007: to=<x@down.test>, delay=00:00:00, xdelay=00:00:00, mailer=relay, pri=180015, relay=[127.0.0.1] [127.0.0.1], dsn=4.4.1, stat=Deferred: Connection refused by [127.0.0.1]
//! Nov 23 04:42:07 mx sm-mta[24678]: 6AN4g7aq024676: to=<x@down.test>, delay=00:00:00, xdelay=00:00:00, mailer=esmtp, pri=180015, relay=down.test., dsn=5.1.2, stat=Host unknown (Name server: down.test.: host not found)
//! Nov 23 04:46:18 mx sm-mta[417]: 6AN4kIPg000415: to=<nobody@mx.e2e.test>, delay=00:00:00, xdelay=00:00:00, mailer=local, pri=120289, dsn=4.0.0, stat=Operating system error
//! Nov 23 04:45:45 mx sendmail[31739]: 6AN4jO5g031007: to=<r451-4.7.1-c@d1.test>, delay=00:00:21, xdelay=00:00:00, mailer=esmtp, pri=270015, relay=[127.0.0.2] [127.0.0.2], dsn=4.7.1, reply=451 4.7.1 Reply for <r451-4.7.1-c@d1.test> (sink), stat=Deferred: 451 4.7.1 Reply for <r451-4.7.1-c@d1.test> (sink)
//! ```
//! Sendmail strips the code from a successful reply (`stat=Sent (Ok: queued as …)`): a
//! delivery counts with `dsn=` alone. A 5xx reply without an enhanced code gets Sendmail's own
//! `dsn=` (550 → 5.1.1, what the line says, not inferred here from `User unknown`).
//!
//! **Expiry**: the delivery status notification Sendmail writes when a message's queue
//! lifetime (`Timeout.queuereturn`) has run out, one per message (never a reply):
//! ```text
//! Nov 23 04:45:45 mx sendmail[31739]: 6AN4jO5g031007: 6AN4jjRl031739: DSN: Cannot send message for 10 seconds
//! ```
//! Other `DSN:` records (`DSN: User unknown`, `DSN: Host unknown (…)`, `DSN: Warning: could not
//! send message for past …`) are the notices for recipients whose status line was counted
//! already: ignored, like `return to sender:` and `postmaster notify:`.
//!
//! **Inbound refusals** by a `check_*` ruleset (access database, relay control, DNS checks):
//! the reply is `reject=`; the recipient is `arg1=` of `check_rcpt` (none for `check_relay`,
//! `check_mail` and the others):
//! ```text
//! Nov 23 04:46:28 mx sm-mta[944]: 6AN4kS7O000944: ruleset=check_rcpt, arg1=<nouser@in.test>, relay=[127.0.0.10], reject=550 5.1.1 <nouser@in.test>... Mailbox does not exist
//! Nov 23 04:46:28 mx sm-mta[944]: 6AN4kS7O000944: ruleset=check_rcpt, arg1=<later@in.test>, relay=[127.0.0.10], reject=450 4.2.0 <later@in.test>... Mailbox busy,try again later
//! Nov 23 04:45:25 mx sm-mta[31105]: 6AN4jP1E031105: ruleset=check_rcpt, arg1=<relay@elsewhere.test>, relay=[127.0.0.10], reject=550 5.7.1 <relay@elsewhere.test>... Relaying denied. IP name lookup failed [127.0.0.10]
//! Nov 23 04:45:25 mx sm-mta[31173]: ruleset=check_relay, arg1=[127.0.0.9], arg2=127.0.0.9, relay=[127.0.0.9], reject=550 5.7.1 Access denied
//! Nov 23 04:41:57 mx sendmail[24165]: 6AN4fvrt024165: ruleset=check_mail, arg1=<r250-sender@d1.test>, relay=localhost [127.0.0.1], reject=553 5.1.8 <r250-sender@d1.test>... Domain of sender address r250-sender@d1.test does not exist
//! ```
//! Refusals by a mail filter (milter), at `RCPT TO` (the recipient in `to=`) and at the end of
//! the message (`data`: no recipient; the `to=… stat=<the refusal's text>` lines that follow,
//! without `mailer=` or `dsn=`, record the fate of the refused message and are not counted):
//! ```text
//! Nov 23 05:17:58 mx sm-mta[7890]: 6AN5HwaW007890: Milter: to=<miltrej-a0@in.test>, reject=550 5.7.1 Recipient rejected by the e2e milter
//! Nov 23 05:17:58 mx sm-mta[7901]: 6AN5HwvN007901: Milter: data, reject=554 5.7.1 Message rejected by the e2e milter
//! ```
//! A `check_relay` refusal is logged once per connection, however many commands the client
//! then sends (each gets the same refusal): it counts once.
//!
//! **Inbound refusal of an unknown local user** at `RCPT TO` (the client got `550 5.1.1`, but
//! the line carries no code, so it counts with empty codes):
//! ```text
//! Nov 23 04:46:28 mx sm-mta[944]: 6AN4kS7O000944: <nosuchuser@mx.e2e.test>... User unknown
//! ```
//! and likewise `<addr>... No such user here`, the words of the `error:nouser` entry that
//! Sendmail's documentation gives for `virtusertable`.
//!
//! Everything else Sendmail writes is ignored: `from=` lines, `starting daemon`, `SYSERR`,
//! `lost input channel`, `did not issue MAIL/EXPN/VRFY/ETRN`, `ruleset=… discard`,
//! `Warning: …`, `AUTH=`, `STARTTLS=`, `Milter` lines without `reject=`.
//!
//! Each reply carries the queue id its line starts with (`6AN4jO5g031007: `; none for
//! `NOQUEUE` and for lines without one, such as a `check_relay` refusal of a connection) and
//! the time stamp of the syslog header.
//!
//! The host that answered and the SMTP command answered, where a line says them (the
//! `provider` and `stage` labels): `sendmail/dialogue.rs`.
//!
//! Formats checked against Sendmail's `sendmail/deliver.c` (`logdelivery`: `to=`, `delay=`,
//! `dsn=`, `reply=`, `stat=` in that order, `stat=` last), `sendmail/parseaddr.c` and
//! `srvrsmtp.c` (`ruleset=…, arg1=…, relay=…, reject=…`), `sendmail/savemail.c`
//! (`DSN: …`, `return to sender: …`) and `sendmail/queue.c` (`Cannot send message for …`).

mod dialogue;

use std::sync::LazyLock;

use memchr::memmem::{Finder, FinderRev};

use super::{
    leading_reply_codes, syslog, BasicCode, Direction, EnhancedCode, Event, Outcome, Parsed,
    Recipients, Relay, Reply, Stage,
};

/// The syslog tags Sendmail writes under.
fn is_sendmail_tag(tag: &[u8]) -> bool {
    matches!(
        tag,
        b"sendmail"
            | b"sm-mta"
            | b"sm-msp-queue"
            | b"sm-msp"
            | b"sendmail-mta"
            | b"sm-acceptingconnections"
    )
}

/// Whether `line` was written by Sendmail (its syslog program tag), countable or not.
pub fn claims(line: &[u8]) -> bool {
    syslog::split(line).is_some_and(|h| is_sendmail_tag(h.tag))
}

/// Reads one Sendmail log line (without its newline). Pure, allocation-free, never panics.
pub fn parse(line: &[u8]) -> Parsed<'_> {
    let Some(header) = syslog::split(line) else {
        return Parsed::Unrecognised;
    };
    if !is_sendmail_tag(header.tag) {
        return Parsed::Ignored;
    }
    parse_message(header.message).map_or(Parsed::Unrecognised, |p| p.with_time(header.stamp))
}

macro_rules! finder {
    ($name:ident, $pat:literal) => {
        fn $name() -> &'static Finder<'static> {
            static F: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new($pat));
            &F
        }
    };
}
finder!(finder_delay, b", delay=");
finder!(finder_dsn, b", dsn=");
finder!(finder_reply, b", reply=");
finder!(finder_reject, b", reject=");
finder!(finder_field_end, b", ");
finder!(finder_mailer, b", mailer=");
finder!(finder_relay, b", relay=");

fn finder_stat() -> &'static FinderRev<'static> {
    static F: LazyLock<FinderRev<'static>> = LazyLock::new(|| FinderRev::new(b", stat="));
    &F
}

/// A queue id (`6AN4jO5g031007`) or `NOQUEUE`, followed by `: `: the id and the rest after it.
fn strip_queue_id(msg: &[u8]) -> Option<(&[u8], &[u8])> {
    let n = msg.iter().take_while(|c| c.is_ascii_alphanumeric()).count();
    if !(7..=20).contains(&n) {
        return None;
    }
    let (id, rest) = msg.split_at_checked(n)?;
    Some((id, rest.strip_prefix(b": ")?))
}

const EXPIRY: &[u8] = b"DSN: Cannot send message for ";

/// `None` means Unrecognised. A reply carries the queue id the line starts with; none where
/// the line has none (`ruleset=check_relay`, refused before any `MAIL FROM`) or `NOQUEUE`.
fn parse_message(msg: &[u8]) -> Option<Parsed<'_>> {
    let (queue_id, body) = match strip_queue_id(msg) {
        Some((b"NOQUEUE", body)) => (&[][..], body),
        Some(split) => split,
        None => (&[][..], msg),
    };
    Some(parse_body(body)?.with_queue_id(queue_id))
}

/// The message after its queue id.
fn parse_body(body: &[u8]) -> Option<Parsed<'_>> {
    if let Some(rest) = body.strip_prefix(b"to=") {
        return delivery_status(rest);
    }
    if body.starts_with(b"ruleset=") {
        return refusal(body);
    }
    if let Some(rest) = body.strip_prefix(b"Milter: ") {
        return milter(rest);
    }
    if body.first() == Some(&b'<') {
        return Some(unknown_user(body));
    }
    // `QUEUEID: NEWID: DSN: …`: the notice made for a message.
    if let Some((_, notice)) = strip_queue_id(body) {
        if notice.starts_with(EXPIRY) {
            return Some(Parsed::Event(Event::Expired));
        }
        if notice.len() < EXPIRY.len() && EXPIRY.starts_with(notice) {
            return None;
        }
    }
    Some(Parsed::Ignored)
}

/// The value of a `key=` field that starts at `at` (just after `=`): up to the next `, `.
fn field(rest: &[u8], at: usize) -> Option<&[u8]> {
    let v = rest.get(at..)?;
    Some(match finder_field_end().find(v) {
        Some(e) => &v[..e],
        None => v,
    })
}

/// Whether `text` holds a whole reply start: the codes are followed by more text, so a line
/// cut inside the codes (`550 5.1`) is not read as another code.
fn codes_complete(text: &[u8]) -> bool {
    text.split(|&c| c == b' ')
        .take(3)
        .any(|w| !w.is_empty() && !w.iter().all(|c| c.is_ascii_digit() || *c == b'.'))
}

/// `<list>, delay=…, …, dsn=…, reply=…, stat=…` (after `to=`). (`parse_message` adds the
/// queue id, `parse` the time.)
fn delivery_status(rest: &[u8]) -> Option<Parsed<'_>> {
    let stat_at = finder_stat().rfind(rest)?;
    let stat = rest.get(stat_at + 7..)?;
    let head = rest.get(..stat_at)?;
    let to_end = finder_field_end().find(head).unwrap_or(head.len());
    let to = head.get(..to_end)?;
    if to.is_empty() {
        return None;
    }
    if stat == b"queued" {
        return Some(Parsed::Ignored);
    }
    // No mailer and no DSN status: the fate of a message refused in the SMTP dialogue (after
    // `Milter: data, reject=…`), whose refusal has its own line; no delivery was attempted.
    if finder_dsn().find(head).is_none() && memchr::memmem::find(head, b", mailer=").is_none() {
        return Some(Parsed::Ignored);
    }
    let enhanced_raw = finder_dsn().find(head).and_then(|i| field(head, i + 6));
    let enhanced = match enhanced_raw {
        Some(d) => Some(EnhancedCode::parse(d)?),
        None => None,
    };
    // `reply=` runs to the `, stat=` that ends the line (its text may hold `, `).
    let reply = finder_reply().find(head).and_then(|i| head.get(i + 8..));
    let stat_codes = stat
        .strip_prefix(b"Deferred: ")
        .filter(|t| t.first().is_some_and(u8::is_ascii_digit));
    let code_text = reply.or(stat_codes);
    let code = match code_text {
        Some(t) => {
            if !codes_complete(t) {
                return None;
            }
            leading_reply_codes(t).0
        }
        None => None,
    };
    let enhanced = enhanced.or_else(|| code_text.and_then(|t| leading_reply_codes(t).1));
    let class = code
        .map(BasicCode::class_digit)
        .or(enhanced.map(EnhancedCode::class_digit));
    let outcome = if stat.starts_with(b"Sent") {
        Outcome::Delivered
    } else if stat.starts_with(b"Deferred") {
        Outcome::Deferred
    } else {
        match class? {
            2 => Outcome::Delivered,
            4 => Outcome::Deferred,
            _ => Outcome::Bounced,
        }
    };
    let delay_at = finder_delay().find(head);
    let delay = delay_at
        .and_then(|i| field(head, i + 8))
        .and_then(parse_delay);
    // `mailer=` and `relay=` follow `delay=` (the recipients before it are the sender's).
    let fields = head.get(delay_at.unwrap_or(0)..)?;
    let value = |key: &Finder<'_>, skip| key.find(fields).and_then(|i| field(fields, i + skip));
    let (relay, stage) =
        dialogue::of_delivery(value(finder_mailer(), 9), value(finder_relay(), 8), stat);
    Some(Parsed::Event(Event::Reply(Reply {
        direction: Direction::Outbound,
        outcome,
        code,
        enhanced,
        recipients: Recipients::List(to, b','),
        delay,
        text: reply.unwrap_or(stat),
        relay,
        stage,
        queue_id: &[],
        time: crate::parse::Stamp::None,
    })))
}

/// `[D+]HH:MM:SS` in seconds.
fn parse_delay(d: &[u8]) -> Option<f64> {
    let (days, hms) = match memchr::memchr(b'+', d) {
        Some(i) => (num(&d[..i])?, &d[i + 1..]),
        None => (0, d),
    };
    let mut parts = hms.split(|&c| c == b':');
    let (h, m, s) = (
        num(parts.next()?)?,
        num(parts.next()?)?,
        num(parts.next()?)?,
    );
    if parts.next().is_some() || m > 59 || s > 59 {
        return None;
    }
    Some((days * 86_400 + h * 3_600 + m * 60 + s) as f64)
}

fn num(b: &[u8]) -> Option<u64> {
    if b.is_empty() || b.len() > 9 {
        return None;
    }
    b.iter().try_fold(0u64, |acc, &c| {
        c.is_ascii_digit().then(|| acc * 10 + u64::from(c - b'0'))
    })
}

/// `ruleset=check_X, arg1=…, [arg2=…, ]relay=…, reject=CODE ENH text`.
fn refusal(body: &[u8]) -> Option<Parsed<'_>> {
    let Some(at) = finder_reject().find(body) else {
        // `ruleset=…, relay=…, discard` / `quarantine=…`: no reply given.
        let tail_known =
            body.ends_with(b", discard") || memchr::memmem::find(body, b", quarantine=").is_some();
        return tail_known.then_some(Parsed::Ignored);
    };
    let reply = body.get(at + 9..)?;
    if !codes_complete(reply) {
        return None;
    }
    let (code, enhanced) = leading_reply_codes(reply);
    code?;
    let name = field(body, 8)?;
    let recipients = if name == b"check_rcpt" {
        let arg = body.get(finder_field_end().find(body)? + 2..)?;
        let addr = field(arg.strip_prefix(b"arg1=")?, 0)?;
        Recipients::One(addr)
    } else {
        Recipients::None
    };
    Some(Parsed::Event(Event::Reply(Reply {
        direction: Direction::Inbound,
        outcome: Outcome::Rejected,
        code,
        enhanced,
        recipients,
        delay: None,
        text: reply,
        relay: Relay::Unknown,
        stage: dialogue::of_ruleset(name),
        // `parse_message` adds the queue id, `parse` the time.
        queue_id: &[],
        time: crate::parse::Stamp::None,
    })))
}

/// `Milter: to=<addr>, reject=…` (a recipient refused by a mail filter), `Milter: data,
/// reject=…` (the message refused at its end) and the like: a refusal; other `Milter:` lines
/// (`discard`, `quarantine`, header changes) give no reply.
fn milter(rest: &[u8]) -> Option<Parsed<'_>> {
    let Some(at) = finder_reject().find(rest) else {
        return Some(Parsed::Ignored);
    };
    let reply = rest.get(at + 9..)?;
    if !codes_complete(reply) {
        return None;
    }
    let (code, enhanced) = leading_reply_codes(reply);
    code?;
    let recipients = match rest.strip_prefix(b"to=") {
        Some(to) => Recipients::One(to.get(..at - 3)?),
        None => Recipients::None,
    };
    Some(Parsed::Event(Event::Reply(Reply {
        direction: Direction::Inbound,
        outcome: Outcome::Rejected,
        code,
        enhanced,
        recipients,
        delay: None,
        text: reply,
        relay: Relay::Unknown,
        stage: dialogue::of_milter(rest),
        // `parse_message` adds the queue id, `parse` the time.
        queue_id: &[],
        time: crate::parse::Stamp::None,
    })))
}

/// What Sendmail logs after `<addr>` for an unknown recipient refused at `RCPT TO`: its own
/// words, and those of the `error:nouser No such user here` entry that its documentation
/// gives for `virtusertable` (both 550 5.1.1 to the client).
const USER_UNKNOWN: [&[u8]; 2] = [b">... User unknown", b">... No such user here"];

/// `<addr>... User unknown`: a local recipient refused at `RCPT TO`; other `<addr>... text`
/// lines are ignored.
fn unknown_user(body: &[u8]) -> Parsed<'_> {
    let Some(addr) = USER_UNKNOWN.iter().find_map(|s| body.strip_suffix(*s)) else {
        return Parsed::Ignored;
    };
    Parsed::Event(Event::Reply(Reply {
        direction: Direction::Inbound,
        outcome: Outcome::Rejected,
        code: None,
        enhanced: None,
        recipients: Recipients::One(addr.get(1..).unwrap_or_default()),
        delay: None,
        text: body.get(addr.len() + 5..).unwrap_or_default(),
        relay: Relay::Unknown,
        stage: Stage::Rcpt,
        // `parse_message` adds the queue id, `parse` the time.
        queue_id: &[],
        time: crate::parse::Stamp::None,
    }))
}

#[cfg(test)]
mod tests;
