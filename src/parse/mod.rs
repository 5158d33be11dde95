//! Parsers: one file per MTA log format, each a pure function from one line to a [`Parsed`].
//!
//! Every parser returns the same event type so that the aggregator never needs to know which MTA
//! wrote a line. Events borrow from the line: the hot path allocates nothing per line.

pub mod auto;
pub mod csv;
pub mod custom;
mod dialogue;
pub mod dsn;
pub mod exchange;
pub mod exim;
pub mod kumomta;
pub mod opensmtpd;
mod parser;
pub mod postfix;
pub mod powermta;
pub mod sendmail;
mod stamp;
pub mod syslog;

use std::fmt;

pub use dialogue::{Relay, Stage};
pub use parser::Parser;
pub use stamp::Stamp;

/// What one line of a log turned out to be. Every line read is exactly one of these, and each
/// maps onto one value of `smtp_status_exporter_lines_total{result}`.
#[derive(Debug, Clone, PartialEq)]
pub enum Parsed<'a> {
    /// A line that carries an SMTP reply (or an expiry record): `result="counted"`.
    Event(Event<'a>),
    /// A well-formed line that is not a reply: another program, a connect, a queue entry.
    Ignored,
    /// A line that looked like one of ours but could not be read (cut, garbled, too long).
    Unrecognised,
}

impl<'a> Parsed<'a> {
    /// The same, its reply (if it is one) given the queue id its line names. The syslog
    /// parsers read the id before they know what the rest of the line is.
    pub(crate) fn with_queue_id(self, queue_id: &'a [u8]) -> Self {
        match self {
            Parsed::Event(Event::Reply(r)) => Parsed::Event(Event::Reply(Reply { queue_id, ..r })),
            other => other,
        }
    }

    /// The same, its reply (if it is one) given the time stamp of its line's header.
    pub(crate) fn with_time(self, time: Stamp<'a>) -> Self {
        match self {
            Parsed::Event(Event::Reply(r)) => Parsed::Event(Event::Reply(Reply { time, ..r })),
            other => other,
        }
    }
}

/// One countable record from a log line.
#[derive(Debug, Clone, PartialEq)]
pub enum Event<'a> {
    /// One reply code for one recipient (or several recipients of the same line).
    Reply(Reply<'a>),
    /// Mail given up undelivered, because its queue lifetime ran out or by an administrator
    /// (Postfix `postsuper -e`): `smtp_expired_total`, never a reply.
    Expired,
    /// Expiry records, one per recipient of the line (Exchange `FAIL` with `QUEUE.Expired`).
    ExpiredPerRecipient(Recipients<'a>),
    /// Replies for several recipients, each with a status of its own, side by side in the line.
    Paired(PairedReplies<'a>),
}

/// The replies of a line that lists several recipients and, in the same order, a status for
/// each (Exchange: `recipient-address` `a@x;b@y`, `recipient-status`
/// `250 2.1.5 Recipient OK;550 5.1.1 Unknown`). One reply per recipient, with the codes of its
/// own status, read as [`exchange::status_codes`] reads them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PairedReplies<'a> {
    pub direction: Direction,
    pub outcome: Outcome,
    /// The recipients, separated by `sep`.
    pub recipients: &'a [u8],
    pub sep: u8,
    /// The statuses, as many as recipients, separated as [`reply_list`] splits them.
    pub statuses: &'a [u8],
    /// The host that answered them all (one connection).
    pub relay: Relay<'a>,
    /// The message's queue id and the line's time, as [`Reply`] has them: one message.
    pub queue_id: &'a [u8],
    pub time: Stamp<'a>,
}

impl<'a> PairedReplies<'a> {
    /// One reply per recipient.
    pub fn replies(self) -> impl Iterator<Item = Reply<'a>> {
        let (direction, outcome, sep, relay) = (self.direction, self.outcome, self.sep, self.relay);
        let (queue_id, time) = (self.queue_id, self.time);
        self.recipients
            .split(move |&c| c == sep)
            .zip(reply_list(self.statuses))
            .map(move |(rcpt, status)| {
                let (code, enhanced) = exchange::status_codes(status);
                Reply {
                    direction,
                    outcome,
                    code,
                    enhanced,
                    recipients: Recipients::One(rcpt),
                    delay: None,
                    text: status,
                    relay,
                    stage: crate::parse::Stage::Unknown,
                    queue_id,
                    time,
                }
            })
    }
}

/// Splits replies joined by `;` (`250 2.1.5 Recipient OK;250 2.1.5 Recipient OK`). A `;`
/// inside the text of one reply (`550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not
/// found`) does not start another: only a `;` followed by a reply code does.
pub fn reply_list(text: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let cur = rest?;
        let mut from = 0;
        loop {
            match memchr::memchr(b';', cur.get(from..)?) {
                Some(k) => {
                    let at = from + k;
                    let next = cur.get(at + 1..).unwrap_or_default();
                    if leading_reply_codes(next) != (None, None) {
                        rest = Some(next);
                        return cur.get(..at);
                    }
                    from = at + 1;
                }
                None => {
                    rest = None;
                    return Some(cur);
                }
            }
        }
    })
}

/// One SMTP reply as the log line reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply<'a> {
    pub direction: Direction,
    pub outcome: Outcome,
    /// The basic 3-digit code as logged; `None` when the line carries none (a timeout, a local
    /// delivery) or what it carries is not a valid reply code.
    pub code: Option<BasicCode>,
    /// The RFC 3463 enhanced code as logged (`dsn=`, or in the reply text).
    pub enhanced: Option<EnhancedCode>,
    /// The recipients the reply is for. One reply is counted per recipient.
    pub recipients: Recipients<'a>,
    /// Total delay of the delivery attempt in seconds, where the line gives it.
    pub delay: Option<f64>,
    /// The reply text as logged (`550 5.1.1 <u@example.com>: Recipient address rejected`,
    /// or the MTA's own words where it gives no remote reply), for the reason classes; empty
    /// where the line has none. Never a label value.
    pub text: &'a [u8],
    /// The host that answered, as logged (for the `provider` label).
    pub relay: Relay<'a>,
    /// The SMTP command the reply answered, where the line says it.
    pub stage: Stage,
    /// The MTA's queue id of the message, as logged (Postfix `3F2A81C0B2A`, Exim
    /// `1tXyZa-000ABC-12`); empty where the line has none (Postfix `NOQUEUE`). Never a label
    /// value: the exemplar and `/failures` check and cap it.
    pub queue_id: &'a [u8],
    /// When the line says it was written.
    pub time: Stamp<'a>,
}

/// The recipient addresses (or bare domains) a line names, as raw bytes of the line.
///
/// Kept as a borrowed slice plus a separator so that a line naming several recipients costs no
/// allocation; [`Recipients::domains`] walks them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recipients<'a> {
    /// No recipient known (a refused `CONNECT`, `EHLO`, `MAIL`): counted once, `domain=""`.
    None,
    /// One address, e.g. `user@example.com` (angle brackets already removed).
    One(&'a [u8]),
    /// Several addresses separated by `sep` (Sendmail's `to=a@x,b@y`), each counted once.
    List(&'a [u8], u8),
    /// A bare domain, not an address (a user-defined format's `domain` group).
    Domain(&'a [u8]),
    /// Raw JSON text: one string or an array of strings (KumoMTA's `recipient`), each string
    /// an address.
    Json(&'a [u8]),
}

impl<'a> Recipients<'a> {
    /// The raw domain part of each recipient (empty where an address has no `@`), one item per
    /// recipient; `None` yields one empty domain so that the reply is still counted once.
    pub fn domains(self) -> impl Iterator<Item = &'a [u8]> {
        self.each().map(|(_, domain)| domain)
    }

    /// Each recipient as `(address as logged, its raw domain)`; the address is empty for a
    /// bare domain and for `None`, which yields one item so that the reply is still counted.
    pub fn each(self) -> impl Iterator<Item = (&'a [u8], &'a [u8])> {
        let (all, sep): (&'a [u8], Option<u8>) = match self {
            Recipients::None => (&[], None),
            Recipients::One(a) | Recipients::Domain(a) | Recipients::Json(a) => (a, None),
            Recipients::List(a, s) => (a, Some(s)),
        };
        let bare = matches!(self, Recipients::Domain(_));
        let json = matches!(self, Recipients::Json(_));
        let mut rest = Some(all);
        std::iter::from_fn(move || {
            let cur = rest?;
            if json {
                let (item, next) = next_json_string(cur)?;
                rest = Some(next);
                return Some((item, domain_of(item)));
            }
            let (item, next) = match sep.and_then(|s| memchr::memchr(s, cur)) {
                Some(i) => (&cur[..i], Some(&cur[i + 1..])),
                None => (cur, None),
            };
            rest = next;
            Some(if bare {
                (&[][..], item.trim_ascii())
            } else {
                (item, domain_of(item))
            })
        })
    }

    /// How many replies this line counts for.
    pub fn count(self) -> usize {
        self.domains().count()
    }
}

/// The content of the next JSON string in `raw` (escapes left as they are) and what follows
/// it; `None` when there is none, or it is not closed.
fn next_json_string(raw: &[u8]) -> Option<(&[u8], &[u8])> {
    let start = memchr::memchr(b'"', raw)? + 1;
    let mut i = start;
    loop {
        match raw.get(i)? {
            b'\\' => i += 2,
            b'"' => return Some((raw.get(start..i)?, raw.get(i + 1..)?)),
            _ => i += 1,
        }
    }
}

/// The domain part of an address: after the last `@`, without angle brackets or spaces.
pub fn domain_of(addr: &[u8]) -> &[u8] {
    let addr = trim_ascii(addr);
    let addr = addr.strip_prefix(b"<").unwrap_or(addr);
    let addr = addr.strip_suffix(b">").unwrap_or(addr);
    match memchr::memrchr(b'@', addr) {
        Some(i) => &addr[i + 1..],
        None => &[],
    }
}

fn trim_ascii(b: &[u8]) -> &[u8] {
    b.trim_ascii()
}

/// Who answered: the remote (outbound) or our MTA (inbound).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Direction {
    /// Our MTA was the client; the remote server or local delivery agent answered.
    Outbound,
    /// Our MTA was the server and answered a remote client.
    Inbound,
}

impl Direction {
    pub const ALL: [Direction; 2] = [Direction::Outbound, Direction::Inbound];
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Outbound => "outbound",
            Direction::Inbound => "inbound",
        }
    }
}

/// What became of the mail, the `outcome` label (docs/metrics.md). The MTA's own words (not remote text)
/// pick the value, so the set is closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Outcome {
    Delivered,
    Deferred,
    Bounced,
    /// An inbound refusal.
    Rejected,
    /// A refusal logged but not enforced (Postfix `reject_warning`).
    Warned,
    /// Accepted but put on hold (Postfix cleanup `hold:` carrying a code).
    Held,
    /// Accepted and dropped (Postfix `discard:` carrying a code).
    Discarded,
    /// Address verification probe: the address would be delivered.
    Deliverable,
    /// Address verification probe: the address would bounce, or is deferred.
    Undeliverable,
    /// Address verification probe: undeliverable, and not cached because Postfix keeps no
    /// negative results (`address_verify_negative_cache = no`).
    UndeliverableButNotCached,
}

impl Outcome {
    pub const ALL: [Outcome; 10] = [
        Outcome::Delivered,
        Outcome::Deferred,
        Outcome::Bounced,
        Outcome::Rejected,
        Outcome::Warned,
        Outcome::Held,
        Outcome::Discarded,
        Outcome::Deliverable,
        Outcome::Undeliverable,
        Outcome::UndeliverableButNotCached,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Delivered => "delivered",
            Outcome::Deferred => "deferred",
            Outcome::Bounced => "bounced",
            Outcome::Rejected => "rejected",
            Outcome::Warned => "warned",
            Outcome::Held => "held",
            Outcome::Discarded => "discarded",
            Outcome::Deliverable => "deliverable",
            Outcome::Undeliverable => "undeliverable",
            Outcome::UndeliverableButNotCached => "undeliverable-but-not-cached",
        }
    }
}

/// A basic reply code (RFC 5321 §4.2): first digit 2–5, second 0–5, third 0–9.
///
/// Only valid codes can be built, so no remote text can put `999` into a label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BasicCode(u16);

impl BasicCode {
    pub fn new(n: u16) -> Option<Self> {
        let (a, b) = (n / 100, (n / 10) % 10);
        ((2..=5).contains(&a) && b <= 5 && n < 600).then_some(BasicCode(n))
    }

    /// Reads exactly three ASCII digits.
    pub fn parse(b: &[u8]) -> Option<Self> {
        match b {
            [a, b, c] if a.is_ascii_digit() && b.is_ascii_digit() && c.is_ascii_digit() => {
                Self::new(
                    u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0'),
                )
            }
            _ => None,
        }
    }

    pub fn get(self) -> u16 {
        self.0
    }

    /// The class digit: 2, 3, 4 or 5.
    pub fn class_digit(self) -> u8 {
        (self.0 / 100) as u8
    }
}

impl fmt::Display for BasicCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// An enhanced status code (RFC 3463): `class.subject.detail`, class 2/4/5, subject 0–7 (the
/// subjects the RFC defines), detail 0–999.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EnhancedCode {
    class: u8,
    subject: u8,
    detail: u16,
}

impl EnhancedCode {
    pub fn new(class: u8, subject: u8, detail: u16) -> Option<Self> {
        (matches!(class, 2 | 4 | 5) && subject <= 7 && detail <= 999).then_some(EnhancedCode {
            class,
            subject,
            detail,
        })
    }

    /// Reads `d.d{1,3}.d{1,3}` exactly (the whole slice). A leading zero (`5.01.1`) is refused:
    /// it is not the canonical spelling, and accepting it would make a second label value for
    /// one code.
    pub fn parse(b: &[u8]) -> Option<Self> {
        let mut parts = b.splitn(3, |&c| c == b'.');
        let class = parse_num(parts.next()?, 1)?;
        let subject = parse_num(parts.next()?, 3)?;
        let detail = parse_num(parts.next()?, 3)?;
        Self::new(
            u8::try_from(class).ok()?,
            u8::try_from(subject).ok()?,
            detail,
        )
    }

    pub fn class_digit(self) -> u8 {
        self.class
    }
    pub fn subject(self) -> u8 {
        self.subject
    }
    pub fn detail(self) -> u16 {
        self.detail
    }
}

fn parse_num(b: &[u8], max_len: usize) -> Option<u16> {
    if b.is_empty() || b.len() > max_len || (b.len() > 1 && b[0] == b'0') {
        return None;
    }
    b.iter().try_fold(0u16, |acc, &c| {
        c.is_ascii_digit().then(|| acc * 10 + u16::from(c - b'0'))
    })
}

impl fmt::Display for EnhancedCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.class, self.subject, self.detail)
    }
}

/// Finds a reply at the start of `text`: `550 5.1.1 …`, `550-5.1.1 …` (a multi-line reply as
/// Postfix joins it), `550 …`, or `5.7.1 …` alone. Returns whatever of the two codes is there.
pub fn leading_reply_codes(text: &[u8]) -> (Option<BasicCode>, Option<EnhancedCode>) {
    let text = text.trim_ascii_start();
    // A three-digit first word is the basic code's place even when it is no valid code
    // (`590 5.4.3`): the enhanced code after it still counts.
    let three_digits = text
        .get(..3)
        .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
        && matches!(text.get(3), None | Some(b' ' | b'-' | b'\t'));
    let basic = text
        .get(..3)
        .filter(|_| three_digits)
        .and_then(BasicCode::parse);
    let rest = if three_digits {
        text.get(4..).unwrap_or(&[])
    } else {
        text
    };
    let word_end = rest
        .iter()
        .position(|c| !(c.is_ascii_digit() || *c == b'.'))
        .unwrap_or(rest.len());
    let enhanced = EnhancedCode::parse(&rest[..word_end]);
    (basic, enhanced)
}

/// The log formats this exporter reads: drives `--log.format`, the README table and the
/// fixture folders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Postfix,
    Exchange,
    #[serde(rename = "powermta")]
    PowerMta,
    #[serde(rename = "kumomta")]
    KumoMta,
    Sendmail,
    #[serde(rename = "opensmtpd")]
    OpenSmtpd,
    Exim,
}

impl Format {
    pub const ALL: [Format; 7] = [
        Format::Postfix,
        Format::Exchange,
        Format::PowerMta,
        Format::KumoMta,
        Format::Sendmail,
        Format::OpenSmtpd,
        Format::Exim,
    ];

    /// The value of the `mta` label and of `--log.format`.
    pub fn name(self) -> &'static str {
        match self {
            Format::Postfix => "postfix",
            Format::Exchange => "exchange",
            Format::PowerMta => "powermta",
            Format::KumoMta => "kumomta",
            Format::Sendmail => "sendmail",
            Format::OpenSmtpd => "opensmtpd",
            Format::Exim => "exim",
        }
    }

    /// Whether this format's MTA wrote `line` (countable or not): what `--log.format auto`
    /// decides by. Each parser module has its `claims`; a format joins by one arm here.
    pub fn claims(self, line: &[u8]) -> bool {
        match self {
            Format::Postfix => postfix::claims(line),
            Format::Exchange => exchange::claims(line),
            Format::PowerMta => powermta::claims(line),
            Format::KumoMta => kumomta::claims(line),
            Format::Sendmail => sendmail::claims(line),
            Format::OpenSmtpd => opensmtpd::claims(line),
            Format::Exim => exim::claims(line),
        }
    }

    /// The first format of [`Format::ALL`] that claims `line`.
    pub fn claiming(line: &[u8]) -> Option<Format> {
        Self::ALL.into_iter().find(|f| f.claims(line))
    }

    pub fn from_name(s: &str) -> Option<Format> {
        Self::ALL.into_iter().find(|f| f.name() == s)
    }

    /// Reads one line (without its newline) with a fresh [`Parser`]: fine for formats whose
    /// lines stand alone; a header-driven format read this way has seen no header.
    pub fn parse(self, line: &[u8]) -> Parsed<'_> {
        match self {
            Format::Postfix => postfix::parse(line),
            _ => Parser::from(self).parse(line),
        }
    }
}

/// A parsed line as one short string (`direction outcome code enhanced domains`), for the
/// CASES tables of the parsers' tests.
#[cfg(test)]
pub(crate) fn render_for_tests(p: &Parsed<'_>) -> String {
    match p {
        Parsed::Ignored => "Ignored".into(),
        Parsed::Unrecognised => "Unrecognised".into(),
        Parsed::Event(Event::Expired) => "Expired".into(),
        Parsed::Event(Event::Reply(r)) => format!(
            "{} {} {} {} {}",
            r.direction.as_str(),
            r.outcome.as_str(),
            r.code.map_or("-".into(), |c| c.to_string()),
            r.enhanced.map_or("-".into(), |c| c.to_string()),
            r.recipients
                .domains()
                .map(|d| String::from_utf8_lossy(d).into_owned())
                .collect::<Vec<_>>()
                .join(",")
        ),
        other => format!("{other:?}"),
    }
}

/// [`render_for_tests`] and then, for a reply, ` id=` and its queue id (empty where it has
/// none), for the tables that check the queue id too.
#[cfg(test)]
pub(crate) fn render_with_queue_id_for_tests(p: &Parsed<'_>) -> String {
    match p {
        Parsed::Event(Event::Reply(r)) => format!(
            "{} id={}",
            render_for_tests(p),
            String::from_utf8_lossy(r.queue_id)
        ),
        _ => render_for_tests(p),
    }
}

/// A parsed reply's relay and stage (`host|local|? stage`, `-` for no reply), for the tables
/// of what each format says of them.
#[cfg(test)]
pub(crate) fn relay_stage_for_tests(p: &Parsed<'_>) -> String {
    match p {
        Parsed::Event(Event::Reply(r)) => {
            let relay = match r.relay {
                Relay::Unknown => "?".to_owned(),
                Relay::Local => "local".to_owned(),
                Relay::Host(h) => String::from_utf8_lossy(h).into_owned(),
            };
            format!("{relay}|{}", r.stage.as_str())
        }
        _ => "-".to_owned(),
    }
}

/// A parsed line with its reply text left out, for tables that check the rest (the texts
/// have tables of their own).
#[cfg(test)]
pub(crate) fn without_text(p: Parsed<'_>) -> Parsed<'_> {
    match p {
        Parsed::Event(Event::Reply(r)) => Parsed::Event(Event::Reply(Reply { text: b"", ..r })),
        other => other,
    }
}

/// The reply text of a parsed line (`None` for anything but one reply).
#[cfg(test)]
pub(crate) fn text_of<'a>(p: &Parsed<'a>) -> Option<&'a str> {
    match p {
        Parsed::Event(Event::Reply(r)) => std::str::from_utf8(r.text).ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
