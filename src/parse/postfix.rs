//! Postfix: reads one syslog line of Postfix (any syslog prefix [`syslog::split`] knows, and
//! Postfix's own `maillog_file`) into a [`Parsed`].
//!
//! A line is Postfix's when its tag has a `/` and its last component is a Postfix program
//! (`postfix/smtp`, `postfix-out/smtp`, `postfix/submission/smtpd`, …). Lines of other programs
//! are [`Parsed::Ignored`]; lines without a syslog header are [`Parsed::Unrecognised`], and so is
//! a Postfix line that has the shape of a countable line but cannot be read (cut short, a
//! delivery line without `to=<`, an unknown `status=` word).
//!
//! Kinds of lines understood, each in a part of its own that opens with the real lines it reads
//! (written by Postfix 3.7.11 from Debian 12 to its `maillog_file`):
//!
//! - outbound delivery status (`status=sent`, `deferred`, `bounced`, …) and qmgr's expiry
//!   (`status=expired`, `status=force-expired`): `postfix/delivery.rs`;
//! - inbound refusals by smtpd, postscreen, milters and proxies (`reject:`,
//!   `reject_warning:`, `milter-reject:`, `proxy-reject:`): `postfix/smtpd.rs`;
//! - inbound refusals by cleanup (header/body checks, milters, MIME errors):
//!   `postfix/cleanup.rs`;
//! - the host that answered and the SMTP command answered, where a line says them (the
//!   `provider` and `stage` labels): `postfix/dialogue.rs`.
//!
//! Everything else Postfix writes is ignored: connect/disconnect, `client=`, `message-id=`,
//! qmgr `(queue active)` and `removed`, pickup, bounce notifications, `warning:`/`fatal:`,
//! smtpd `hold:`/`discard:`/`milter-hold:`/`milter-discard:` without a code, `proxy-accept:`,
//! and smtp's non-final `QUEUEID: host X said: …` lines (the final `status=` line counts).
//!
//! Each reply carries the queue id its line starts with (`1CA9A98C0C2: to=<…>`, or a long id
//! of `enable_long_queue_ids`, `44JCRG5tYPzCqt2: reject: …`); none for `NOQUEUE` and for the
//! lines that have no id (`proxy-reject:`, postscreen's `reject: connect from`); and the time
//! stamp of the syslog header.
//!
//! Formats checked against Postfix's source: each part names the files it follows, and
//! `util/msg_logger.c` gives the `maillog_file` prefix.

mod cleanup;
mod delivery;
mod dialogue;
mod smtpd;

use std::sync::LazyLock;

use memchr::memmem::{Finder, FinderRev};

use super::{
    syslog, BasicCode, Direction, EnhancedCode, Event, Outcome, Parsed, Recipients, Relay, Reply,
    Stage,
};

/// Reads one Postfix log line (without its newline). Pure, allocation-free, never panics.
pub fn parse(line: &[u8]) -> Parsed<'_> {
    let Some(header) = syslog::split(line) else {
        return Parsed::Unrecognised;
    };
    let Some(daemon) = daemon_of(header.tag) else {
        return Parsed::Ignored;
    };
    parse_message(daemon, header.message)
        .map_or(Parsed::Unrecognised, |p| p.with_time(header.stamp))
}

/// Whether Postfix wrote this line (countable or not): a syslog header whose program is a
/// Postfix program — exactly the lines [`parse`] does not set aside as another program's.
pub fn claims(line: &[u8]) -> bool {
    syslog::split(line).is_some_and(|h| daemon_of(h.tag).is_some())
}

/// The Postfix programs whose lines need a format of their own; every other Postfix program
/// shares the generic handling (delivery-status lines, `reject:` in the smtpd format).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Daemon {
    Smtpd,
    Postscreen,
    Cleanup,
    Other,
}

/// Whether `tag` names a Postfix program: a `/` in it (`postfix/…`, `postfix-out/…`,
/// `postfix/submission/…`) and a Postfix program as its last component.
fn daemon_of(tag: &[u8]) -> Option<Daemon> {
    let slash = memchr::memrchr(b'/', tag)?;
    if slash == 0 {
        return None;
    }
    let name = tag.get(slash + 1..)?;
    Some(match name {
        b"smtpd" => Daemon::Smtpd,
        b"postscreen" => Daemon::Postscreen,
        b"cleanup" => Daemon::Cleanup,
        b"smtp" | b"lmtp" | b"local" | b"virtual" | b"pipe" | b"error" | b"retry" | b"discard"
        | b"qmgr" | b"nqmgr" | b"oqmgr" | b"bounce" | b"defer" | b"trace" | b"pickup"
        | b"verify" | b"master" | b"anvil" | b"scache" | b"tlsmgr" | b"tlsproxy" | b"dnsblog"
        | b"proxymap" | b"trivial-rewrite" | b"flush" | b"showq" | b"spawn" | b"qmqpd"
        | b"postlogd" | b"postlog" | b"postdrop" | b"postqueue" | b"postsuper" | b"postfix"
        | b"postfix-script" | b"postmulti" | b"postmap" | b"postalias" | b"postconf"
        | b"postkick" | b"postlock" | b"postcat" | b"sendmail" => Daemon::Other,
        _ => return None,
    })
}

/// What a keyword at the start of a message (or after `QUEUEID: `) announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `to=<…>, relay=…, delay=…, dsn=…, status=… (…)`
    Status,
    /// `from=<…>, status=expired, returned to sender` (or `size=…` lines: ignored)
    From,
    /// `reject:`, `reject_warning:`, `milter-reject:`, … in the smtpd format
    /// (`CMD from client[ip]: text; from=<…> to=<…> proto=… helo=<…>`), or in the cleanup
    /// format for cleanup's own `reject:`/`hold:`/`discard:`.
    Action(Action),
    /// `proxy-reject: END-OF-MESSAGE: text; from=<…> …`
    ProxyReject,
    /// A keyword that never counts (`proxy-accept:`).
    Ignore,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Reject,
    RejectWarning,
    Hold,
    Discard,
    /// `milter-reject:` (smtpd format, also in cleanup).
    MilterReject,
    MilterHold,
    MilterDiscard,
    /// cleanup `milter-header-reject:` / `milter-body-reject:` (cleanup format).
    MilterHbcReject,
    MilterHbcHold,
    MilterHbcDiscard,
}

impl Action {
    /// What the action does to the mail, and whether it counts only with a code (hold and
    /// discard).
    fn outcome(self) -> (Outcome, bool) {
        match self {
            Action::Reject | Action::MilterReject | Action::MilterHbcReject => {
                (Outcome::Rejected, false)
            }
            Action::RejectWarning => (Outcome::Warned, false),
            Action::Hold | Action::MilterHold | Action::MilterHbcHold => (Outcome::Held, true),
            Action::Discard | Action::MilterDiscard | Action::MilterHbcDiscard => {
                (Outcome::Discarded, true)
            }
        }
    }

    /// Whether the line is in cleanup's format (`… from client[ip]; from=<…> to=<…>: text`)
    /// rather than smtpd's: the milters' header/body actions, and cleanup's own
    /// `reject:`/`hold:`/`discard:`.
    fn in_cleanup_format(self, daemon: Daemon) -> bool {
        matches!(
            self,
            Action::MilterHbcReject | Action::MilterHbcHold | Action::MilterHbcDiscard
        ) || daemon == Daemon::Cleanup
            && matches!(self, Action::Reject | Action::Hold | Action::Discard)
    }
}

/// Keywords after `QUEUEID: ` (or `NOQUEUE: `).
const AFTER_ID: &[(&[u8], Kind)] = &[
    (b"to=<", Kind::Status),
    (b"from=<", Kind::From),
    (b"reject: ", Kind::Action(Action::Reject)),
    (b"reject_warning: ", Kind::Action(Action::RejectWarning)),
    (b"hold: ", Kind::Action(Action::Hold)),
    (b"discard: ", Kind::Action(Action::Discard)),
    (b"milter-reject: ", Kind::Action(Action::MilterReject)),
    (b"milter-hold: ", Kind::Action(Action::MilterHold)),
    (b"milter-discard: ", Kind::Action(Action::MilterDiscard)),
    (
        b"milter-header-reject: ",
        Kind::Action(Action::MilterHbcReject),
    ),
    (
        b"milter-body-reject: ",
        Kind::Action(Action::MilterHbcReject),
    ),
    (b"milter-header-hold: ", Kind::Action(Action::MilterHbcHold)),
    (b"milter-body-hold: ", Kind::Action(Action::MilterHbcHold)),
    (
        b"milter-header-discard: ",
        Kind::Action(Action::MilterHbcDiscard),
    ),
    (
        b"milter-body-discard: ",
        Kind::Action(Action::MilterHbcDiscard),
    ),
];

/// Keywords at the very start of a message (no queue id).
const AT_START: &[(&[u8], Kind)] = &[
    (b"proxy-reject: ", Kind::ProxyReject),
    (b"proxy-accept: ", Kind::Ignore),
    // postscreen: `reject: connect from [ip]:port: all screening ports busy`
    (b"reject: ", Kind::Action(Action::Reject)),
];

enum KeywordMatch<'a> {
    /// The keyword and the text after it.
    Full(Kind, &'a [u8]),
    /// `text` is a proper prefix of a keyword: a line cut short.
    Cut,
    None,
}

fn match_keyword<'a>(text: &'a [u8], table: &[(&[u8], Kind)]) -> KeywordMatch<'a> {
    let Some(&first) = text.first() else {
        return KeywordMatch::Cut;
    };
    let mut cut = false;
    for &(kw, kind) in table {
        if kw.first() != Some(&first) {
            continue;
        }
        if let Some(rest) = text.strip_prefix(kw) {
            return KeywordMatch::Full(kind, rest);
        }
        cut |= kw.starts_with(text);
    }
    if cut {
        KeywordMatch::Cut
    } else {
        KeywordMatch::None
    }
}

/// `None` means Unrecognised.
fn parse_message(daemon: Daemon, msg: &[u8]) -> Option<Parsed<'_>> {
    let first = *msg.first()?;
    // Diagnostics never count.
    if first == b'w' && msg.starts_with(b"warning: ")
        || first == b'e' && msg.starts_with(b"error: ")
        || first == b'f' && msg.starts_with(b"fatal: ")
        || first == b'p' && msg.starts_with(b"panic: ")
    {
        return Some(Parsed::Ignored);
    }
    if matches!(first, b'p' | b'r') {
        match match_keyword(msg, AT_START) {
            KeywordMatch::Full(kind, rest) => return parse_kind(daemon, kind, rest),
            KeywordMatch::Cut => return None,
            KeywordMatch::None => {}
        }
    }
    // `QUEUEID: ` or `NOQUEUE: `
    let id_len = msg.iter().take_while(|c| c.is_ascii_alphanumeric()).count();
    if id_len == 0 {
        return Some(Parsed::Ignored);
    }
    let (id, after_id) = msg.split_at_checked(id_len)?;
    let rest = match after_id {
        [] | [b':'] => return None,
        [b':', b' ', rest @ ..] => rest,
        _ => return ignored_unless_status_shaped(msg),
    };
    // smtpd refuses most mail before it opens a queue file: then the id is `NOQUEUE`.
    let queue_id: &[u8] = if id == b"NOQUEUE" { &[] } else { id };
    match match_keyword(rest, AFTER_ID) {
        KeywordMatch::Full(kind, rest) => {
            parse_kind(daemon, kind, rest).map(|p| p.with_queue_id(queue_id))
        }
        KeywordMatch::Cut => None,
        KeywordMatch::None => ignored_unless_status_shaped(rest),
    }
}

/// A line with a `dsn=` field but without the `QUEUEID: to=<` that starts a delivery-status
/// line is a garbled countable line, not one to ignore.
fn ignored_unless_status_shaped(text: &[u8]) -> Option<Parsed<'static>> {
    if finder_dsn().find(text).is_some() {
        None
    } else {
        Some(Parsed::Ignored)
    }
}

fn parse_kind(daemon: Daemon, kind: Kind, rest: &[u8]) -> Option<Parsed<'_>> {
    match kind {
        Kind::Status => delivery::delivery_status(rest),
        Kind::From => delivery::expiry(rest),
        Kind::Ignore => Some(Parsed::Ignored),
        Kind::ProxyReject => smtpd::proxy_reject(rest),
        Kind::Action(action) => {
            let (outcome, needs_code) = action.outcome();
            if action.in_cleanup_format(daemon) {
                cleanup::action(rest, outcome, needs_code)
            } else {
                smtpd::action(daemon, rest, outcome, needs_code)
            }
        }
    }
}

/// The reply of an inbound refusal (no provider: the host is the client).
fn inbound<'a>(
    outcome: Outcome,
    (code, enhanced): (Option<BasicCode>, Option<EnhancedCode>),
    recipients: Recipients<'a>,
    text: &'a [u8],
    stage: Stage,
) -> Parsed<'a> {
    Parsed::Event(Event::Reply(Reply {
        direction: Direction::Inbound,
        outcome,
        code,
        enhanced,
        recipients,
        delay: None,
        text,
        relay: Relay::Unknown,
        stage,
        // `parse_message` adds the queue id, `parse` the time.
        queue_id: &[],
        time: crate::parse::Stamp::None,
    }))
}

macro_rules! finder {
    ($name:ident, $needle:expr) => {
        fn $name() -> &'static Finder<'static> {
            static F: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new($needle));
            &F
        }
    };
}
macro_rules! finder_rev {
    ($name:ident, $needle:expr) => {
        fn $name() -> &'static FinderRev<'static> {
            static F: LazyLock<FinderRev<'static>> = LazyLock::new(|| FinderRev::new($needle));
            &F
        }
    };
}

finder!(finder_angle_comma, b">, ");
finder!(finder_relay, b">, relay=");
finder!(finder_delay, b", delay=");
finder!(finder_dsn, b", dsn=");
finder!(finder_said, b" said: ");
finder!(finder_refused, b" refused to ");
finder!(finder_from, b" from ");
finder!(finder_colon_space, b": ");
finder!(finder_angle_colon, b">: ");
finder!(finder_semi_from, b"; from=<");
finder_rev!(finder_rev_proto, b" proto=");
finder_rev!(finder_rev_to, b" to=<");
finder_rev!(finder_rev_helo, b" helo=<");
finder_rev!(finder_rev_semi_from, b"; from=<");

#[cfg(test)]
mod origins;
#[cfg(test)]
mod tests;
