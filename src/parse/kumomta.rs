//! KumoMTA log records: one JSON object a line, as `kumo.configure_local_logs` writes them
//! (in zstd-compressed segment files, which `replay` decompresses; a live source reads the
//! plain lines KumoMTA's `tailer` utility or a log hook prints).
//!
//! The record is documented in KumoMTA's reference, "Log Record" (`docs/reference/log_record.md`
//! of github.com/KumoCorp/kumomta; the Rust type is `JsonLogRecord` in `crates/kumo-log-types`).
//! Read are:
//!
//! - `type`: `Delivery` (delivered), `TransientFailure` (deferred) and `Bounce` (bounced) are
//!   outbound replies; `Rejection` is an inbound refusal (rejected); `Expiration` is an expiry
//!   (never a reply, one per record). `Reception`, `Feedback`, `OOB`, `AdminBounce`,
//!   `Delayed`, `AdminRebind`, `DeferredInjectionRebind`, `XferOut` and `XferIn` are not
//!   replies ([`Parsed::Ignored`]); any other type is [`Parsed::Unrecognised`].
//! - `response.code` (the basic code) and `response.enhanced_code` `{class, subject, detail}`
//!   (the enhanced code), as logged — also for KumoMTA's own `KumoMTA internal: …` responses.
//! - `recipient`: one address, or (KumoMTA 2025.12.02 and later, a batch delivery) a list of
//!   them: one reply per recipient.
//! - For `Rejection`, the domain comes from the refused command, `response.command`
//!   (`RCPT TO:<user@example.com>`): the record's `recipient` then holds the last recipient
//!   accepted in the session, not the refused one. A refusal at `DATA` or at the end of the
//!   message (`.`) refuses the message of that last recipient accepted: its domain is the
//!   record's `recipient`. A refusal of another command (`MAIL FROM`, `EHLO`) has no domain.
//!
//! - The relay (`provider` label) of an outbound record: `peer_address.name`, the MX host's
//!   name (`gmail-smtp-in.l.google.com.`), or its `addr` where the name is empty; without a
//!   peer (no connection made), the `site`, KumoMTA's name of the MX set it was delivering to
//!   after the egress source (`source2->(alt1|alt2|alt3|alt4)?.gmail-smtp-in.l.google.com.`:
//!   the names' common suffix is what the provider table reads). A peer at a unix socket path
//!   (LMTP to a local store) is a local delivery. A `Rejection`'s peer is the client: no relay.
//! - The stage: `response.command`, the command the reply answered as KumoMTA sent or
//!   received it (`RCPT TO:<…>\r\n`, `MAIL FROM:<…>`, `DATA`, `.` for the end of the
//!   message, `EHLO …`, `STARTTLS`); `null` (a greeting, a connection that failed, KumoMTA's own
//!   `KumoMTA internal: …` verdicts) says none.
//!
//! - `id`, the message's spool id, is the reply's queue id (every record of the message,
//!   from its `Reception` on, carries it); a `Rejection`'s is empty (no message was
//!   received). `timestamp`, seconds since the epoch, when the record was logged, is its
//!   time (`event_time`, the same instant as RFC 3339 text, is left unread).
//!
//! Parsing borrows from the line: `type` as a `&str`, `recipient` and `command` as raw JSON
//! text walked in place; the rest of the record is skipped, never built. A line that is not a
//! JSON object with a string `type` is [`Parsed::Unrecognised`] (bad JSON, a cut line).
//!
//! Records as KumoMTA writes them (shortened: `meta`, `headers`, timestamps and peer details
//! trimmed; the fixtures have whole records):
//! ```text
//! {"type":"Delivery","id":"1d98076abbbc11ed940250ebf67f93bd","sender":"bounce@news.example.com","recipient":"alice@gmail.com","queue":"gmail.com","site":"source2->(alt1|alt2|alt3|alt4)?.gmail-smtp-in.l.google.com.","size":1047,"response":{"code":250,"enhanced_code":{"class":2,"subject":0,"detail":0},"content":"OK 1710148467 a1si123456qkb.12 - gsmtp","command":"."},"peer_address":{"name":"gmail-smtp-in.l.google.com.","addr":"142.250.102.27"},"timestamp":1710148467,"created":1710148465,"num_attempts":0,"bounce_classification":"Uncategorized","egress_pool":"pool0","egress_source":"source2","feedback_report":null,"meta":{},"headers":{},"delivery_protocol":"ESMTP","reception_protocol":"ESMTP","nodeid":"557f3ad4-2c8c-11ee-976e-782d7e12e173"}
//! {"type":"TransientFailure","id":"2e98076abbbc11ed940250ebf67f93bd","sender":"bounce@news.example.com","recipient":"bob@yahoo.com","queue":"yahoo.com","site":"mta5.am0.yahoodns.net","size":1047,"response":{"code":421,"enhanced_code":{"class":4,"subject":7,"detail":0},"content":"[TSS04] Messages from 10.0.0.11 temporarily deferred due to unexpected volume or user complaints","command":"MAIL FROM:<bounce@news.example.com>"},"timestamp":1710148470,"created":1710148465,"num_attempts":1,"bounce_classification":"Uncategorized","egress_pool":"pool0","egress_source":"source1","meta":{},"headers":{},"nodeid":"557f3ad4-2c8c-11ee-976e-782d7e12e173"}
//! {"type":"TransientFailure","id":"3f98076abbbc11ed940250ebf67f93bd","sender":"bounce@news.example.com","recipient":"carol@slow.example.org","queue":"slow.example.org","site":"","size":0,"response":{"code":400,"enhanced_code":null,"content":"KumoMTA internal: failed to connect to any candidate hosts: connect to 192.0.2.44:25 and read initial banner: Connection refused (os error 111)","command":null},"timestamp":1710148475,"created":1710148465,"num_attempts":1,"bounce_classification":"Uncategorized","meta":{},"headers":{},"nodeid":"557f3ad4-2c8c-11ee-976e-782d7e12e173"}
//! {"type":"Bounce","id":"4a98076abbbc11ed940250ebf67f93bd","sender":"bounce@news.example.com","recipient":["nouser@example.net","gone@example.net"],"queue":"example.net","site":"mx.example.net","size":1047,"response":{"code":550,"enhanced_code":{"class":5,"subject":1,"detail":1},"content":"Recipient address rejected: User unknown","command":"RCPT TO:<gone@example.net>"},"timestamp":1710148480,"created":1710148465,"num_attempts":0,"bounce_classification":"InvalidRecipient","meta":{},"headers":{},"nodeid":"557f3ad4-2c8c-11ee-976e-782d7e12e173"}
//! {"type":"Rejection","id":"","sender":"someone@outside.example","recipient":"accepted@ours.example","queue":"","site":"","size":0,"response":{"code":550,"enhanced_code":{"class":5,"subject":7,"detail":1},"content":"relaying not permitted","command":"RCPT TO:<victim@elsewhere.example>"},"peer_address":{"name":"client.outside.example","addr":"198.51.100.9"},"timestamp":1710148490,"created":1710148490,"num_attempts":0,"bounce_classification":"Uncategorized","meta":{},"headers":{},"nodeid":"557f3ad4-2c8c-11ee-976e-782d7e12e173"}
//! {"type":"Expiration","id":"5b98076abbbc11ed940250ebf67f93bd","sender":"bounce@news.example.com","recipient":"carol@slow.example.org","queue":"slow.example.org","site":"","size":0,"response":{"code":551,"enhanced_code":{"class":5,"subject":4,"detail":7},"content":"Next delivery time would be at 2024-03-14 09:14:25 UTC which exceeds the expiry time 2024-03-14 09:00:00 UTC configured via set_scheduling","command":null},"timestamp":1710400000,"created":1710148465,"num_attempts":12,"bounce_classification":"Uncategorized","meta":{},"headers":{},"nodeid":"557f3ad4-2c8c-11ee-976e-782d7e12e173"}
//! {"type":"Reception","id":"1d98076abbbc11ed940250ebf67f93bd","sender":"bounce@news.example.com","recipient":"alice@gmail.com","queue":"gmail.com","site":"","size":1047,"response":{"code":250,"enhanced_code":null,"content":"","command":null},"peer_address":{"name":"app1.example.com","addr":"10.0.0.5"},"timestamp":1710148465,"created":1710148465,"num_attempts":0,"bounce_classification":"Uncategorized","meta":{},"headers":{},"reception_protocol":"ESMTP","nodeid":"557f3ad4-2c8c-11ee-976e-782d7e12e173"}
//! ```

use serde::Deserialize;
use serde_json::value::RawValue;

use super::{
    BasicCode, Direction, EnhancedCode, Event, Outcome, Parsed, Recipients, Relay, Reply, Stage,
    Stamp,
};

#[derive(Deserialize)]
struct Record<'a> {
    #[serde(rename = "type", borrow)]
    kind: &'a str,
    #[serde(borrow, default)]
    recipient: Option<&'a RawValue>,
    #[serde(borrow, default)]
    response: Option<Response<'a>>,
    /// Raw JSON strings (escapes left as they are), like the other texts.
    #[serde(borrow, default)]
    site: Option<&'a RawValue>,
    #[serde(borrow, default)]
    peer_address: Option<Peer<'a>>,
    /// The message's spool id (a `Rejection`'s is empty: no message was received).
    #[serde(borrow, default)]
    id: Option<&'a RawValue>,
    /// When the record was logged, in seconds since the epoch.
    #[serde(borrow, default)]
    timestamp: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct Peer<'a> {
    #[serde(borrow, default)]
    name: Option<&'a RawValue>,
    #[serde(borrow, default)]
    addr: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct Response<'a> {
    #[serde(default)]
    code: Option<u16>,
    #[serde(default)]
    enhanced_code: Option<Enhanced>,
    /// The reply text, as raw JSON (escapes left as they are: no allocation).
    #[serde(borrow, default)]
    content: Option<&'a RawValue>,
    #[serde(borrow, default)]
    command: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct Enhanced {
    class: u8,
    subject: u16,
    detail: u16,
}

/// Reads one record (one line, without its newline). Allocation-free; never panics.
/// Whether KumoMTA wrote this line (countable or not): a JSON object whose `"type"` is one of
/// KumoMTA's record types. A superset of the lines [`parse`] counts.
pub fn claims(line: &[u8]) -> bool {
    const TYPES: &[&[u8]] = &[
        b"Delivery",
        b"TransientFailure",
        b"Bounce",
        b"Rejection",
        b"Expiration",
        b"Reception",
        b"Feedback",
        b"OOB",
        b"AdminBounce",
        b"Delayed",
        b"AdminRebind",
        b"DeferredInjectionRebind",
        b"XferOut",
        b"XferIn",
    ];
    let text = line.trim_ascii_start();
    if text.first() != Some(&b'{') {
        return false;
    }
    let Some(at) = memchr::memmem::find(text, b"\"type\":\"") else {
        return false;
    };
    let rest = &text[at + 8..];
    TYPES
        .iter()
        .any(|t| rest.starts_with(t) && rest.get(t.len()) == Some(&b'"'))
}

pub fn parse(line: &[u8]) -> Parsed<'_> {
    let text = line.trim_ascii();
    if text.is_empty() {
        return Parsed::Ignored;
    }
    // A record is an object (serde would also take a struct from a JSON array).
    if text.first() != Some(&b'{') {
        return Parsed::Unrecognised;
    }
    let Ok(rec) = serde_json::from_slice::<Record<'_>>(text) else {
        return Parsed::Unrecognised;
    };
    let (direction, outcome) = match kind_of(rec.kind) {
        Ok(k) => k,
        Err(other) => return other(),
    };
    let text = rec
        .response
        .as_ref()
        .and_then(|r| r.content)
        .map_or(&b""[..], |c| {
            let raw = c.get().as_bytes();
            raw.strip_prefix(b"\"")
                .and_then(|r| r.strip_suffix(b"\""))
                .unwrap_or(b"")
        });
    let (code, enhanced, command) = match &rec.response {
        Some(r) => (
            r.code.and_then(BasicCode::new),
            r.enhanced_code
                .as_ref()
                .and_then(|e| EnhancedCode::new(e.class, u8::try_from(e.subject).ok()?, e.detail)),
            r.command,
        ),
        None => (None, None, None),
    };
    let of_record = match rec.recipient {
        Some(raw) if raw.get().contains('"') => Recipients::Json(raw.get().as_bytes()),
        _ => Recipients::None,
    };
    let recipients = match command.map(|c| c.get().as_bytes()) {
        _ if outcome != Outcome::Rejected => of_record,
        // Refused at `DATA` or at its end: the message of the last recipient accepted.
        Some(c) if refuses_message(c) => of_record,
        Some(c) => refused_recipient(c),
        None => Recipients::None,
    };
    Parsed::Event(Event::Reply(Reply {
        direction,
        outcome,
        code,
        enhanced,
        recipients,
        delay: None,
        text,
        relay: match direction {
            Direction::Outbound => relay(&rec),
            Direction::Inbound => Relay::Unknown,
        },
        stage: command.map_or(Stage::Unknown, |c| command_stage(c.get().as_bytes())),
        queue_id: string(rec.id).unwrap_or_default(),
        time: rec
            .timestamp
            .map_or(Stamp::None, |t| epoch_seconds(t.get().as_bytes())),
    }))
}

/// A JSON number of seconds since the epoch (`1710148467`, or with a fraction) as a stamp;
/// anything else (a string, a negative or exponent number, `null`) says no time.
fn epoch_seconds(raw: &[u8]) -> Stamp<'_> {
    let (whole, frac) = match memchr::memchr(b'.', raw) {
        Some(i) => (&raw[..i], &raw[i + 1..]),
        None => (raw, &b"0"[..]),
    };
    let digits = |s: &[u8]| !s.is_empty() && s.iter().all(u8::is_ascii_digit);
    if digits(whole) && digits(frac) {
        Stamp::Unix(raw)
    } else {
        Stamp::None
    }
}

/// A record type's reply direction and outcome, or what else its line is: a function making
/// it, as an error the size of a whole `Parsed` would be carried by every call.
fn kind_of(kind: &str) -> Result<(Direction, Outcome), fn() -> Parsed<'static>> {
    Ok(match kind {
        "Delivery" => (Direction::Outbound, Outcome::Delivered),
        "TransientFailure" => (Direction::Outbound, Outcome::Deferred),
        "Bounce" => (Direction::Outbound, Outcome::Bounced),
        "Rejection" => (Direction::Inbound, Outcome::Rejected),
        "Expiration" => return Err(|| Parsed::Event(Event::Expired)),
        "Reception"
        | "Feedback"
        | "OOB"
        | "AdminBounce"
        | "Delayed"
        | "AdminRebind"
        | "DeferredInjectionRebind"
        | "XferOut"
        | "XferIn" => return Err(|| Parsed::Ignored),
        _ => return Err(|| Parsed::Unrecognised),
    })
}

/// The content of a raw JSON string value (`None` for `null`, a number, an empty string).
fn string(raw: Option<&RawValue>) -> Option<&[u8]> {
    let raw = raw?.get().as_bytes();
    let s = raw.strip_prefix(b"\"")?.strip_suffix(b"\"")?;
    (!s.is_empty()).then_some(s)
}

/// The host an outbound record was delivered to: the peer's MX name or address, else the
/// MX site after its egress source (`source->site`).
fn relay<'a>(rec: &Record<'a>) -> Relay<'a> {
    let peer = rec.peer_address.as_ref();
    // A unix socket path (LMTP to a local store): a delivery of ours, no destination.
    if peer
        .and_then(|p| string(p.addr))
        .is_some_and(|a| a.starts_with(b"/"))
    {
        return Relay::Local;
    }
    let host = peer
        .and_then(|p| string(p.name))
        .or_else(|| peer.and_then(|p| string(p.addr)))
        .or_else(|| {
            let site = string(rec.site)?;
            let after = memchr::memmem::find(site, b"->").map_or(0, |k| k + 2);
            site.get(after..).filter(|s| !s.is_empty())
        });
    host.map_or(Relay::Unknown, Relay::Host)
}

/// The command a raw JSON command string names, without its quotes and escaped line end.
fn command_text(raw: &[u8]) -> &[u8] {
    let mut cmd = raw.strip_prefix(b"\"").unwrap_or(raw);
    cmd = cmd.strip_suffix(b"\"").unwrap_or(cmd);
    loop {
        let trimmed = cmd.trim_ascii();
        let trimmed = trimmed
            .strip_suffix(b"\\n")
            .or_else(|| trimmed.strip_suffix(b"\\r"))
            .unwrap_or(trimmed);
        if trimmed.len() == cmd.len() {
            return cmd;
        }
        cmd = trimmed;
    }
}

/// The stage of a record's `response.command`: `.` ends the message.
fn command_stage(raw: &[u8]) -> Stage {
    match command_text(raw) {
        b"." => Stage::EndOfData,
        cmd => Stage::of_command(cmd).unwrap_or_default(),
    }
}

/// Whether the refused command (raw JSON text of the command string) is `DATA`, or `.`, the
/// end of the message.
fn refuses_message(raw: &[u8]) -> bool {
    let cmd = command_text(raw);
    cmd.eq_ignore_ascii_case(b"DATA") || cmd == b"."
}

/// The address of a refused `RCPT TO:<…>` command (raw JSON text of the command string).
fn refused_recipient(raw: &[u8]) -> Recipients<'_> {
    let cmd = raw.strip_prefix(b"\"").unwrap_or(raw).trim_ascii_start();
    let is_rcpt = cmd
        .get(..8)
        .is_some_and(|v| v.eq_ignore_ascii_case(b"RCPT TO:"));
    if !is_rcpt {
        return Recipients::None;
    }
    let rest = cmd.get(8..).unwrap_or_default();
    let Some(open) = memchr::memchr(b'<', rest) else {
        return Recipients::None;
    };
    let addr = rest.get(open + 1..).unwrap_or_default();
    match memchr::memchr(b'>', addr) {
        Some(close) if close > 0 => Recipients::One(&addr[..close]),
        _ => Recipients::None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a line must give: `Ignored`, `Unrecognised`, `Expired`, or
    /// `direction outcome code enhanced domains`.
    const CASES: &[(&str, &str)] = &[
        (
            r#"{"type":"Delivery","id":"1d98076abbbc11ed940250ebf67f93bd","sender":"bounce@news.example.com","recipient":"alice@gmail.com","queue":"gmail.com","site":"source2->(alt1|alt2|alt3|alt4)?.gmail-smtp-in.l.google.com.","size":1047,"response":{"code":250,"enhanced_code":{"class":2,"subject":0,"detail":0},"content":"OK 1710148467 a1si123456qkb.12 - gsmtp","command":"."},"peer_address":{"name":"gmail-smtp-in.l.google.com.","addr":"142.250.102.27"},"timestamp":1710148467,"created":1710148465,"num_attempts":0,"bounce_classification":"Uncategorized","egress_pool":"pool0","egress_source":"source2","feedback_report":null,"meta":{},"headers":{},"delivery_protocol":"ESMTP","reception_protocol":"ESMTP","nodeid":"557f3ad4-2c8c-11ee-976e-782d7e12e173"}"#,
            "outbound delivered 250 2.0.0 gmail.com id=1d98076abbbc11ed940250ebf67f93bd",
        ),
        (
            r#"{"type":"TransientFailure","id":"2e98076abbbc11ed940250ebf67f93bd","sender":"bounce@news.example.com","recipient":"bob@yahoo.com","queue":"yahoo.com","site":"mta5.am0.yahoodns.net","size":1047,"response":{"code":421,"enhanced_code":{"class":4,"subject":7,"detail":0},"content":"[TSS04] Messages from 10.0.0.11 temporarily deferred due to \"unexpected\" volume\r\nor user complaints","command":"MAIL FROM:<bounce@news.example.com>\r\n"},"timestamp":1710148470,"created":1710148465,"num_attempts":1,"bounce_classification":"Uncategorized","meta":{"campaign":"spring"},"headers":{"Subject":"Spring sale"},"nodeid":"557f3ad4-2c8c-11ee-976e-782d7e12e173"}"#,
            "outbound deferred 421 4.7.0 yahoo.com id=2e98076abbbc11ed940250ebf67f93bd",
        ),
        (
            r#"{"type":"TransientFailure","id":"3f98076abbbc11ed940250ebf67f93bd","sender":"bounce@news.example.com","recipient":"carol@slow.example.org","queue":"slow.example.org","site":"","size":0,"response":{"code":400,"enhanced_code":null,"content":"KumoMTA internal: failed to connect to any candidate hosts: connect to 192.0.2.44:25 and read initial banner: Connection refused (os error 111)","command":null},"timestamp":1710148475,"created":1710148465,"num_attempts":1,"bounce_classification":"Uncategorized","meta":{},"headers":{},"nodeid":"557f3ad4-2c8c-11ee-976e-782d7e12e173"}"#,
            "outbound deferred 400 - slow.example.org id=3f98076abbbc11ed940250ebf67f93bd",
        ),
        (
            r#"{"type":"Bounce","id":"4a98076abbbc11ed940250ebf67f93bd","sender":"bounce@news.example.com","recipient":["nouser@example.net","gone@Example.NET"],"queue":"example.net","site":"mx.example.net","size":1047,"response":{"code":550,"enhanced_code":{"class":5,"subject":1,"detail":1},"content":"Recipient address rejected: User unknown","command":"RCPT TO:<gone@example.net>"},"timestamp":1710148480,"created":1710148465,"num_attempts":0,"bounce_classification":"InvalidRecipient","meta":{},"headers":{},"nodeid":"557f3ad4-2c8c-11ee-976e-782d7e12e173"}"#,
            "outbound bounced 550 5.1.1 example.net,Example.NET id=4a98076abbbc11ed940250ebf67f93bd",
        ),
        (
            r#"{"type":"Rejection","id":"","sender":"someone@outside.example","recipient":"accepted@ours.example","queue":"","site":"","size":0,"response":{"code":550,"enhanced_code":{"class":5,"subject":7,"detail":1},"content":"relaying not permitted","command":"RCPT TO:<victim@elsewhere.example>"},"peer_address":{"name":"client.outside.example","addr":"198.51.100.9"},"timestamp":1710148490,"created":1710148490,"num_attempts":0,"bounce_classification":"Uncategorized","meta":{},"headers":{},"nodeid":"557f3ad4-2c8c-11ee-976e-782d7e12e173"}"#,
            "inbound rejected 550 5.7.1 elsewhere.example id=",
        ),
        (
            r#"{"type":"Rejection","id":"","sender":"","recipient":"","queue":"","site":"","size":0,"response":{"code":501,"enhanced_code":{"class":5,"subject":5,"detail":4},"content":"Syntax error in command or arguments: invalid address","command":"MAIL FROM:<bad address>"},"peer_address":{"name":"","addr":"198.51.100.10"},"timestamp":1710148491,"created":1710148491,"num_attempts":0,"bounce_classification":"Uncategorized","meta":{},"headers":{},"nodeid":"557f3ad4-2c8c-11ee-976e-782d7e12e173"}"#,
            "inbound rejected 501 5.5.4  id=",
        ),
        // Refused at DATA and at the end of data: the domain of the record's `recipient`;
        // at MAIL FROM none, whatever `recipient` holds.
        (
            r#"{"type":"Rejection","id":"","sender":"someone@outside.example","recipient":"accepted@Ours.example","queue":"","site":"","size":0,"response":{"code":554,"enhanced_code":{"class":5,"subject":7,"detail":1},"content":"message refused","command":"DATA\r\n"},"timestamp":1710148492,"num_attempts":0,"meta":{},"headers":{}}"#,
            "inbound rejected 554 5.7.1 Ours.example id=",
        ),
        (
            r#"{"type":"Rejection","id":"","sender":"someone@outside.example","recipient":"accepted@ours.example","queue":"","site":"","size":0,"response":{"code":550,"enhanced_code":{"class":5,"subject":7,"detail":1},"content":"spam","command":"."},"timestamp":1710148493,"num_attempts":0,"meta":{},"headers":{}}"#,
            "inbound rejected 550 5.7.1 ours.example id=",
        ),
        (
            r#"{"type":"Rejection","id":"","sender":"","recipient":"accepted@ours.example","queue":"","site":"","size":0,"response":{"code":550,"enhanced_code":{"class":5,"subject":7,"detail":1},"content":"no","command":"MAIL FROM:<x@outside.example>\r\n"},"timestamp":1710148494,"num_attempts":0,"meta":{},"headers":{}}"#,
            "inbound rejected 550 5.7.1  id=",
        ),
        (
            r#"{"type":"Expiration","id":"5b98076abbbc11ed940250ebf67f93bd","sender":"bounce@news.example.com","recipient":"carol@slow.example.org","queue":"slow.example.org","site":"","size":0,"response":{"code":551,"enhanced_code":{"class":5,"subject":4,"detail":7},"content":"Next delivery time would be at 2024-03-14 09:14:25 UTC which exceeds the expiry time","command":null},"timestamp":1710400000,"created":1710148465,"num_attempts":12,"bounce_classification":"Uncategorized","meta":{},"headers":{},"nodeid":"557f3ad4-2c8c-11ee-976e-782d7e12e173"}"#,
            "Expired",
        ),
        (
            r#"{"type":"Reception","id":"1d98076abbbc11ed940250ebf67f93bd","sender":"bounce@news.example.com","recipient":"alice@gmail.com","queue":"gmail.com","site":"","size":1047,"response":{"code":250,"enhanced_code":null,"content":"","command":null},"peer_address":{"name":"app1.example.com","addr":"10.0.0.5"},"timestamp":1710148465,"created":1710148465,"num_attempts":0,"bounce_classification":"Uncategorized","meta":{},"headers":{},"reception_protocol":"ESMTP","nodeid":"557f3ad4-2c8c-11ee-976e-782d7e12e173"}"#,
            "Ignored",
        ),
        (
            r#"{"type":"AdminBounce","id":"6c98076abbbc11ed940250ebf67f93bd","sender":"bounce@news.example.com","recipient":"x@example.com","queue":"example.com","site":"","size":0,"response":{"code":551,"enhanced_code":{"class":5,"subject":7,"detail":1},"content":"Administratively bounced: purge","command":null},"timestamp":1710148500,"created":1710148465,"num_attempts":0,"bounce_classification":"Uncategorized","meta":{},"headers":{},"nodeid":"557f3ad4-2c8c-11ee-976e-782d7e12e173"}"#,
            "Ignored",
        ),
        (
            r#"{"type":"Delayed","recipient":"x@example.com","response":{"code":451,"enhanced_code":null,"content":"throttled","command":null}}"#,
            "Ignored",
        ),
        (
            r#"{"type":"OOB","recipient":"x@example.com","response":{"code":550,"enhanced_code":{"class":5,"subject":1,"detail":1},"content":"","command":null}}"#,
            "Ignored",
        ),
        (
            r#"{"type":"Feedback","recipient":"x@example.com","feedback_report":{"feedback_type":"abuse"}}"#,
            "Ignored",
        ),
        (
            r#"{"type":"AdminRebind","recipient":"x@example.com"}"#,
            "Ignored",
        ),
        (
            r#"{"type":"XferOut","recipient":"x@example.com"}"#,
            "Ignored",
        ),
        // No recipient at all: one reply with an empty domain.
        (
            r#"{"type":"Delivery","response":{"code":250,"enhanced_code":null,"content":"ok","command":"."}}"#,
            "outbound delivered 250 -  id=",
        ),
        // Enhanced codes out of range are no codes.
        (
            r#"{"type":"Bounce","recipient":"a@b.example","response":{"code":599,"enhanced_code":{"class":5,"subject":9,"detail":1}}}"#,
            "outbound bounced - - b.example id=",
        ),
        (
            r#"{"type":"Whatever","recipient":"x@example.com"}"#,
            "Unrecognised",
        ),
        (
            r#"{"type":"Delivery","recipient":"alice@gmail.com","response":{"code":250"#,
            "Unrecognised",
        ),
        (r#"{"recipient":"alice@gmail.com"}"#, "Unrecognised"),
        (r#"["Delivery"]"#, "Unrecognised"),
        ("not json at all", "Unrecognised"),
        ("", "Ignored"),
    ];

    use crate::parse::render_for_tests as render;
    use crate::parse::render_with_queue_id_for_tests as render_id;

    /// Each reply with its queue id (`id=`, empty for a `Rejection`).
    #[test]
    fn cases() {
        for (line, want) in CASES {
            assert_eq!(render_id(&parse(line.as_bytes())), *want, "{line}");
        }
    }

    /// `timestamp` is the time, as logged: whole seconds, or with a fraction; a record
    /// without it, or with a string or negative number there, says none.
    #[test]
    fn time_is_the_records_timestamp() {
        fn time(line: &str) -> Stamp<'_> {
            match parse(line.as_bytes()) {
                Parsed::Event(Event::Reply(r)) => r.time,
                other => panic!("{line}: {other:?}"),
            }
        }
        assert_eq!(time(CASES[0].0), Stamp::Unix(b"1710148467"));
        assert_eq!(time(CASES[4].0), Stamp::Unix(b"1710148490"));
        let with = |t: &str| {
            format!(r#"{{"type":"Bounce","id":"x","recipient":"a@b.example","timestamp":{t}}}"#)
        };
        assert_eq!(time(&with("1710148467.25")), Stamp::Unix(b"1710148467.25"));
        for none in ["null", "\"1710148467\"", "-5", "1e9"] {
            assert_eq!(time(&with(none)), Stamp::None, "{none}");
        }
        assert_eq!(
            time(r#"{"type":"Bounce","recipient":"a@b.example"}"#),
            Stamp::None
        );
    }

    /// A `Rejection` at `DATA` or at the end of data had no domain; it is the record's
    /// `recipient`, the last recipient accepted (at `RCPT TO` the refused address stays).
    #[test]
    fn rejection_at_data_has_the_recipients_domain() {
        let rejection = |command: &str| {
            format!(
                r#"{{"type":"Rejection","recipient":"last@accepted.example","response":{{"code":554,"enhanced_code":null,"content":"no","command":{command}}}}}"#
            )
        };
        for (command, want) in [
            (r#""DATA\r\n""#, "accepted.example"),
            (r#""data""#, "accepted.example"),
            (r#"".""#, "accepted.example"),
            (r#""RCPT TO:<refused@other.example>\r\n""#, "other.example"),
            (r#""MAIL FROM:<s@sender.example>""#, ""),
            (r#""EHLO x""#, ""),
            ("null", ""),
        ] {
            let line = rejection(command);
            assert_eq!(
                render(&parse(line.as_bytes())),
                format!("inbound rejected 554 - {want}"),
                "{line}"
            );
        }
    }

    /// `relay|stage` of records in KumoMTA's documented shape: the `Delivery` of its
    /// reference ("Log Record", `docs/reference/log_record.md`), the `TransientFailure`s with
    /// the responses its integration tests snapshot (`disconnect_in_data.rs`: `".\r\n"`,
    /// `disconnect_in_mail_from.rs`: `"MAIL FROM:<…>\r\n"`), our fixture's others.
    #[test]
    fn relay_and_stage() {
        let cases: &[(&str, &str)] = &[
            // The peer's MX name; the end of the message.
            (CASES[0].0, "gmail-smtp-in.l.google.com.|end_of_data"),
            // No peer: the site; MAIL FROM with its escaped line end.
            (CASES[1].0, "mta5.am0.yahoodns.net|mail"),
            // No peer, no site, no command: nothing said.
            (CASES[2].0, "?|"),
            (CASES[3].0, "mx.example.net|rcpt"),
            // Inbound: the client is no destination; the refused command.
            (CASES[4].0, "?|rcpt"),
            (CASES[6].0, "?|data"),
            (CASES[7].0, "?|end_of_data"),
            (
                r#"{"type":"TransientFailure","id":"6c98076abbbc11ed940250ebf67f93bd","sender":"bounce@news.example.com","recipient":"dave@example.org","queue":"example.org","site":"unspecified->mx.example.org","size":1047,"response":{"code":451,"enhanced_code":null,"content":"disconnecting disconnect-in-data-no-421","command":".\r\n"},"peer_address":{"name":"","addr":"192.0.2.25"},"timestamp":1710148500,"created":1710148465,"num_attempts":1,"bounce_classification":"Uncategorized","meta":{},"headers":{},"nodeid":"557f3ad4-2c8c-11ee-976e-782d7e12e173"}"#,
                "192.0.2.25|end_of_data",
            ),
            (
                r#"{"type":"Bounce","id":"7d98076abbbc11ed940250ebf67f93bd","sender":"bounce@news.example.com","recipient":"erin@example.org","queue":"example.org","site":"source1->(alt1|alt2)?.aspmx.l.google.com.","size":1047,"response":{"code":421,"enhanced_code":null,"content":"disconnecting 421-disconnect-me","command":"MAIL FROM:<bounce@news.example.com>\r\n"},"peer_address":null,"timestamp":1710148501,"created":1710148465,"num_attempts":1,"bounce_classification":"Uncategorized","meta":{},"headers":{},"nodeid":"557f3ad4-2c8c-11ee-976e-782d7e12e173"}"#,
                "(alt1|alt2)?.aspmx.l.google.com.|mail",
            ),
            // LMTP to a unix socket (`HostOrSocketAddress::UnixDomain` prints its path).
            (
                r#"{"type":"Delivery","id":"8e98076abbbc11ed940250ebf67f93bd","sender":"bounce@news.example.com","recipient":"frank@ours.example","queue":"ours.example","site":"unspecified->lmtp","size":1047,"response":{"code":250,"enhanced_code":{"class":2,"subject":0,"detail":0},"content":"Ok","command":".\r\n"},"peer_address":{"name":"","addr":"/run/dovecot/lmtp"},"timestamp":1710148502,"created":1710148465,"num_attempts":0,"bounce_classification":"Uncategorized","meta":{},"headers":{},"nodeid":"557f3ad4-2c8c-11ee-976e-782d7e12e173"}"#,
                "local|end_of_data",
            ),
        ];
        for (line, want) in cases {
            let got = crate::parse::relay_stage_for_tests(&parse(line.as_bytes()));
            assert_eq!(got, *want, "{line}");
        }
    }

    #[test]
    fn every_cut_is_unrecognised_or_right() {
        for (line, want) in CASES {
            for cut in 0..line.len() {
                let got = render_id(&parse(&line.as_bytes()[..cut]));
                assert!(
                    got == "Unrecognised" || got == *want || (cut == 0 && got == "Ignored"),
                    "{cut} of {line}: {got}"
                );
            }
        }
    }

    #[test]
    fn reply_texts() {
        let text = |line: &str| crate::parse::text_of(&parse(line.as_bytes())).map(str::to_owned);
        assert_eq!(
            text(r#"{"type":"Bounce","recipient":"a@b.example","response":{"code":550,"content":"Recipient address rejected: \"User\" unknown","command":"RCPT TO:<a@b.example>"}}"#).as_deref(),
            Some(r#"Recipient address rejected: \"User\" unknown"#)
        );
        assert_eq!(
            text(r#"{"type":"Bounce","recipient":"a@b.example","response":{"code":550,"content":null}}"#).as_deref(),
            Some("")
        );
    }
}
