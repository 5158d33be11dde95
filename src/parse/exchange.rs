//! Exchange Server message tracking logs (`MSGTRK*.LOG` under
//! `TransportRoles\Logs\MessageTracking`): W3C-style CSV files, a few `#` lines at the top,
//! one of them `#Fields:` naming the columns; then one event a row.
//!
//! The format is documented by Microsoft in "Message tracking in Exchange Server" (Exchange
//! 2013 to Subscription Edition: "Fields in the message tracking log files" and "Event types in
//! the message tracking log"; the Exchange 2007 TechNet page "Description of Message Tracking
//! Log Fields" has the same fields). Columns are found by name in the `#Fields:` line, never
//! by position; these are read:
//!
//! - `event-id`: `SEND` (sent over SMTP to another server) and `DELIVER` (delivered to a local
//!   mailbox) are `delivered`; `DEFER` is `deferred`; `FAIL` is `bounced` — or, with
//!   `QUEUE.Expired` in its status, an expiry, one per recipient (never a reply). `RECEIVE`,
//!   `SUBMIT`, `DSN`, `RESOLVE`, `EXPAND`, `REDIRECT`, `TRANSFER`, `HAREDIRECT`, `AGENTINFO`,
//!   `BADMAIL`, `POISONMESSAGE`, `DROP`, … are not replies ([`Parsed::Ignored`]).
//! - `recipient-address`: the recipients, `;`-separated when several; one reply each.
//! - `recipient-status`: the reply for each recipient, `;`-separated in the same order
//!   ([`reply_list`] splits them: a `;` inside a reply's text does not start another). Its
//!   codes lead it (`550 5.1.10 RESOLVER.ADR.RecipientNotFound; …`), or follow `LED=` in the
//!   last-error form of deferrals (`{[{LRT=…};{LED=451 4.4.0 …};{FQDN=…};{IP=…}]}`).
//!   `DELIVER` carries no code (its status, if any, is not a reply).
//! - `source`, `server-hostname` and `server-ip`: the relay of the `provider` label. Microsoft
//!   describes `server-hostname` as "the name of the destination server" and `server-ip` as
//!   the source or destination server's address: on the rows of the SMTP component (`SEND`,
//!   `DEFER`, `FAIL` with `source` `SMTP`) they name the host Exchange sent to — the next
//!   hop, a provider's MX or a smart host — (`server-hostname`, else `server-ip`). A
//!   `DELIVER` (the store driver, to a mailbox of ours) is a local delivery. Rows of other
//!   components (`ROUTING`'s `FAIL`) name no remote host. `client-*` name who submitted the
//!   message, `connector-id` our connector, `original-server-ip` and `custom-data` ours or
//!   the first hop's details: none is the destination. No field says which SMTP command a
//!   reply answered (the SMTP protocol logs do, in another format), so the stage is never
//!   set.
//!
//! - `internal-message-id`, the message's id on this server (`21474836485`: what
//!   `Get-MessageTrackingLog -InternalMessageId` finds its rows by), is the queue id of the
//!   row's replies; `date-time` (`2024-03-11T09:14:27.532Z`, UTC) their time.
//!
//! Every reply is `outbound`: the tracking log records what Exchange did with mail it
//! accepted. Rows before a `#Fields:` line, rows with another number of fields than it names,
//! rows that are not valid CSV (a cut line, an unterminated quote) are
//! [`Parsed::Unrecognised`]; so are all rows when the header lacks `event-id` or
//! `recipient-address`. A missing `recipient-status` column only leaves the codes empty.
//!
//! Lines as Exchange Server 2019 writes them (fields of the header shortened here to the
//! lines' width only in this comment; the fixtures have all 30):
//! ```text
//! #Software: Microsoft Exchange Server
//! #Version: 15.02.1544.004
//! #Log-type: Message Tracking Log
//! #Date: 2024-03-11T09:00:02.148Z
//! #Fields: date-time,client-ip,client-hostname,server-ip,server-hostname,source-context,connector-id,source,event-id,internal-message-id,message-id,network-message-id,recipient-address,recipient-status,total-bytes,recipient-count,related-recipient-address,reference,message-subject,sender-address,return-path,message-info,directionality,tenant-id,original-client-ip,original-server-ip,custom-data,transport-traffic-type,log-id,schema-version
//! 2024-03-11T09:14:27.532Z,10.1.0.12,EX01,203.0.113.25,mx1.example.net,"08DC41A6F0B2C7D4;250 2.6.0 <CAF3x1@contoso.com> [InternalId=21474836485] Queued mail for delivery;ClientSubmitTime:2024-03-11T09:14:26.012Z",Internet Send Connector,SMTP,SEND,21474836485,<CAF3x1@contoso.com>,5b1f0c2e-8a4d-4c1e-9f2a-08dc41a6f0b2,bob@example.net;carol@example.net,250 2.1.5 Recipient OK;250 2.1.5 Recipient OK,23114,2,,,"Q1 report, final",alice@contoso.com,alice@contoso.com,2024-03-11T09:14:26.012Z;SRV=EX01.contoso.com:TOTAL-SUB=0.234,Originating,,10.1.0.40,10.1.0.12,,Email,2a0e7c61-3f0b-4a5e-8c2d-08dc41a6f0b2,15.02.1544.004
//! 2024-03-11T09:15:02.118Z,,EX01,10.1.0.13,EX02,MDB:4c8e…,,STOREDRIVER,DELIVER,21474836490,<BN8PR@contoso.com>,7c2d…,dave@contoso.com,,18876,1,,,Lunch,erin@contoso.com,erin@contoso.com,2024-03-11T09:15:01.904Z;SRV=EX01.contoso.com:TOTAL-FSC=0.105,Originating,,,,,Email,…,15.02.1544.004
//! 2024-03-11T09:20:01.661Z,,EX01,,,,,ROUTING,FAIL,21474836495,<CAF3x2@contoso.com>,…,nobody@contoso.com,550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup,5120,1,,,hello,alice@contoso.com,alice@contoso.com,,Originating,,,,,Email,…,15.02.1544.004
//! 2024-03-11T09:21:44.007Z,10.1.0.12,EX01,198.51.100.7,mx.example.org,08DC41A6F0B2C7D5,Internet Send Connector,SMTP,DEFER,21474836500,<CAF3x3@contoso.com>,…,frank@example.org,"{[{LRT=3/11/2024 9:21:43 AM};{LED=451 4.4.0 Primary target IP address responded with: ""421 4.3.2 Service not available."" Attempted failover to alternate host, but that did not succeed.};{FQDN=mx.example.org};{IP=198.51.100.7}]}",7710,1,,,Invoice,alice@contoso.com,alice@contoso.com,,Originating,,,,,Email,…,15.02.1544.004
//! 2024-03-13T09:21:45.310Z,,EX01,,,,,ROUTING,FAIL,21474836500,<CAF3x3@contoso.com>,…,frank@example.org,550 4.4.7 QUEUE.Expired; message expired,7710,1,,,Invoice,alice@contoso.com,alice@contoso.com,,Originating,,,,,Email,…,15.02.1544.004
//! 2024-03-11T09:14:26.870Z,10.1.0.40,WS-ALICE,10.1.0.12,EX01,08DC41A6F0B2C7D3;250 2.0.0 OK,Default Frontend EX01,SMTP,RECEIVE,21474836485,<CAF3x1@contoso.com>,…,bob@example.net,,23114,1,,,"Q1 report, final",alice@contoso.com,alice@contoso.com,,Originating,,10.1.0.40,10.1.0.12,,Email,…,15.02.1544.004
//! ```

use super::csv;
use super::{
    leading_reply_codes, reply_list, BasicCode, Direction, EnhancedCode, Event, Outcome,
    PairedReplies, Parsed, Recipients, Relay, Reply, Stamp,
};

/// The fields read, in the order of [`csv::Columns::read`]'s output.
const WANTED: [&str; 8] = [
    "event-id",
    "recipient-address",
    "recipient-status",
    "source",
    "server-hostname",
    "server-ip",
    "date-time",
    "internal-message-id",
];
const EVENT: usize = 0;
const RCPT: usize = 1;

const BOM: &[u8] = b"\xef\xbb\xbf";

/// The columns of one message tracking log file, from its `#Fields:` line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Columns(csv::Columns);

impl Columns {
    /// Reads one line (without its newline). A `#Fields:` line sets the columns; it and the
    /// other `#` lines are [`Parsed::Ignored`]. Allocation-free except on a `#Fields:` line;
    /// never panics.
    pub fn parse<'a>(&mut self, line: &'a [u8]) -> Parsed<'a> {
        let line = line.strip_prefix(BOM).unwrap_or(line);
        if line.first() == Some(&b'#') {
            if let Some(fields) = strip_prefix_ignore_case(line, b"#Fields:") {
                // A header that is not valid CSV leaves the file unreadable until the next.
                self.0 =
                    csv::Columns::from_header(fields.trim_ascii(), &WANTED).unwrap_or_default();
            }
            return Parsed::Ignored;
        }
        if line.trim_ascii().is_empty() {
            return Parsed::Ignored;
        }
        if !self.0.has(EVENT) || !self.0.has(RCPT) {
            return Parsed::Unrecognised;
        }
        let Some([event, rcpt, status, source, server, server_ip, time, id]) =
            self.0.read::<8>(line)
        else {
            return Parsed::Unrecognised;
        };
        let event = event.trim_ascii();
        let relay = match (event, source.trim_ascii()) {
            (b"DELIVER", _) => Relay::Local,
            (_, b"SMTP") => [server, server_ip]
                .into_iter()
                .map(<[u8]>::trim_ascii)
                .find(|h| !h.is_empty())
                .map_or(Relay::Unknown, Relay::Host),
            _ => Relay::Unknown,
        };
        let row = Row {
            relay,
            queue_id: id.trim_ascii(),
            time: Stamp::of_text(time),
        };
        read_event(event, rcpt.trim_ascii(), status.trim_ascii(), row)
    }
}

/// What every reply of a row shares.
#[derive(Clone, Copy)]
struct Row<'a> {
    relay: Relay<'a>,
    queue_id: &'a [u8],
    time: Stamp<'a>,
}

fn read_event<'a>(event: &[u8], rcpt: &'a [u8], status: &'a [u8], row: Row<'a>) -> Parsed<'a> {
    let outcome = match event {
        b"SEND" | b"DELIVER" => Outcome::Delivered,
        b"DEFER" => Outcome::Deferred,
        b"FAIL" => Outcome::Bounced,
        b"" => return Parsed::Unrecognised,
        _ => return Parsed::Ignored,
    };
    let recipients = match rcpt {
        b"" => Recipients::None,
        r if memchr::memchr(b';', r).is_some() => Recipients::List(r, b';'),
        r => Recipients::One(r),
    };
    if outcome == Outcome::Bounced && memchr::memmem::find(status, b"QUEUE.Expired").is_some() {
        return Parsed::Event(Event::ExpiredPerRecipient(recipients));
    }
    if event == b"DELIVER" {
        return reply(outcome, (None, None), recipients, b"", row);
    }
    if let Recipients::List(list, sep) = recipients {
        // One status per recipient: each reply gets the codes of its own, when they differ.
        let n = recipients.count();
        let mut statuses = reply_list(status);
        let first_text = statuses.next().unwrap_or_default();
        let first = status_codes(first_text);
        let mut count = 1;
        let mut same = true;
        for s in statuses {
            count += 1;
            same &= status_codes(s) == first;
        }
        if count == n && !same {
            return Parsed::Event(Event::Paired(PairedReplies {
                direction: Direction::Outbound,
                outcome,
                recipients: list,
                sep,
                statuses: status,
                relay: row.relay,
                queue_id: row.queue_id,
                time: row.time,
            }));
        }
        return reply(outcome, first, recipients, first_text, row);
    }
    reply(outcome, status_codes(status), recipients, status, row)
}

fn reply<'a>(
    outcome: Outcome,
    (code, enhanced): (Option<BasicCode>, Option<EnhancedCode>),
    recipients: Recipients<'a>,
    text: &'a [u8],
    row: Row<'a>,
) -> Parsed<'a> {
    Parsed::Event(Event::Reply(Reply {
        direction: Direction::Outbound,
        outcome,
        code,
        enhanced,
        recipients,
        delay: None,
        text,
        relay: row.relay,
        stage: crate::parse::Stage::Unknown,
        queue_id: row.queue_id,
        time: row.time,
    }))
}

/// The codes of one recipient's status: leading it (`550 5.1.1 …`), or after `LED=` in the
/// last-error form (`{[{LRT=…};{LED=451 4.4.0 …};…]}`).
pub fn status_codes(status: &[u8]) -> (Option<BasicCode>, Option<EnhancedCode>) {
    let lead = leading_reply_codes(status);
    if lead != (None, None) {
        return lead;
    }
    match memchr::memmem::find(status, b"LED=") {
        Some(i) => leading_reply_codes(status.get(i + 4..).unwrap_or_default()),
        None => lead,
    }
}

/// Whether Exchange wrote this line, as far as a line can tell without the file's `#Fields:`:
/// the header lines of a message tracking log (`#Software: Microsoft Exchange Server`,
/// `#Log-type: Message Tracking Log`, `#Fields: date-time,…`). Rows are read once the format is
/// known from the header.
pub fn claims(line: &[u8]) -> bool {
    let line = line.strip_prefix(BOM).unwrap_or(line);
    strip_prefix_ignore_case(line, b"#Software: Microsoft Exchange").is_some()
        || strip_prefix_ignore_case(line, b"#Log-type: Message Tracking Log").is_some()
        || strip_prefix_ignore_case(line, b"#Fields: date-time,").is_some()
}

fn strip_prefix_ignore_case<'a>(line: &'a [u8], prefix: &[u8]) -> Option<&'a [u8]> {
    let head = line.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| line.get(prefix.len()..))
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::super::Parser;
    use super::*;

    const HEADER: &str = "#Fields: date-time,client-ip,client-hostname,server-ip,server-hostname,source-context,connector-id,source,event-id,internal-message-id,message-id,network-message-id,recipient-address,recipient-status,total-bytes,recipient-count,related-recipient-address,reference,message-subject,sender-address,return-path,message-info,directionality,tenant-id,original-client-ip,original-server-ip,custom-data,transport-traffic-type,log-id,schema-version";

    /// What a line must give: `Ignored`, `Unrecognised`, `Expired N`, or the replies as
    /// `outcome code enhanced domain` items.
    const CASES: &[(&str, &str)] = &[
        ("#Software: Microsoft Exchange Server", "Ignored"),
        ("#Version: 15.02.1544.004", "Ignored"),
        ("\u{feff}#Log-type: Message Tracking Log", "Ignored"),
        (
            "2024-03-11T09:14:27.532Z,10.1.0.12,EX01,203.0.113.25,mx1.example.net,\"08DC41A6F0B2C7D4;250 2.6.0 <CAF3x1@contoso.com> [InternalId=21474836485] Queued mail for delivery;ClientSubmitTime:2024-03-11T09:14:26.012Z\",Internet Send Connector,SMTP,SEND,21474836485,<CAF3x1@contoso.com>,5b1f0c2e-8a4d-4c1e-9f2a-08dc41a6f0b2,bob@example.net;carol@Example.NET,250 2.1.5 Recipient OK;250 2.1.5 Recipient OK,23114,2,,,\"Q1 report, final\",alice@contoso.com,alice@contoso.com,2024-03-11T09:14:26.012Z;SRV=EX01.contoso.com:TOTAL-SUB=0.234,Originating,,10.1.0.40,10.1.0.12,,Email,2a0e7c61-3f0b-4a5e-8c2d-08dc41a6f0b2,15.02.1544.004",
            "delivered 250 2.1.5 example.net id=21474836485 | delivered 250 2.1.5 Example.NET id=21474836485",
        ),
        (
            "2024-03-11T09:14:29.002Z,10.1.0.12,EX01,203.0.113.25,mx1.example.net,08DC41A6F0B2C7D6,Internet Send Connector,SMTP,FAIL,21474836486,<CAF3x4@contoso.com>,6c1f0c2e-8a4d-4c1e-9f2a-08dc41a6f0b2,gone@example.net;full@example.net,550 5.1.1 User unknown;552 5.2.2 Mailbox full; try later,5120,2,,,hi,alice@contoso.com,alice@contoso.com,,Originating,,,,,Email,2a0e7c61-3f0b-4a5e-8c2d-08dc41a6f0b3,15.02.1544.004",
            "bounced 550 5.1.1 example.net id=21474836486 | bounced 552 5.2.2 example.net id=21474836486",
        ),
        (
            "2024-03-11T09:15:02.118Z,,EX01,10.1.0.13,EX02,MDB:4c8e0a11-6f5e-4b2d-9d1a-3e2f1c0b9a87,,STOREDRIVER,DELIVER,21474836490,<BN8PR@contoso.com>,7c2d0c2e-8a4d-4c1e-9f2a-08dc41a6f0b2,dave@contoso.com,,18876,1,,,Lunch,erin@contoso.com,erin@contoso.com,2024-03-11T09:15:01.904Z;SRV=EX01.contoso.com:TOTAL-FSC=0.105,Originating,,,,,Email,3a0e7c61-3f0b-4a5e-8c2d-08dc41a6f0b2,15.02.1544.004",
            "delivered - - contoso.com id=21474836490",
        ),
        (
            "2024-03-11T09:20:01.661Z,,EX01,,,,,ROUTING,FAIL,21474836495,<CAF3x2@contoso.com>,8d2d0c2e-8a4d-4c1e-9f2a-08dc41a6f0b2,nobody@contoso.com,550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup,5120,1,,,hello,alice@contoso.com,alice@contoso.com,,Originating,,,,,Email,4a0e7c61-3f0b-4a5e-8c2d-08dc41a6f0b2,15.02.1544.004",
            "bounced 550 5.1.10 contoso.com id=21474836495",
        ),
        (
            "2024-03-11T09:21:44.007Z,10.1.0.12,EX01,198.51.100.7,mx.example.org,08DC41A6F0B2C7D5,Internet Send Connector,SMTP,DEFER,21474836500,<CAF3x3@contoso.com>,9e2d0c2e-8a4d-4c1e-9f2a-08dc41a6f0b2,frank@example.org,\"{[{LRT=3/11/2024 9:21:43 AM};{LED=451 4.4.0 Primary target IP address responded with: \"\"421 4.3.2 Service not available.\"\" Attempted failover to alternate host, but that did not succeed.};{FQDN=mx.example.org};{IP=198.51.100.7}]}\",7710,1,,,Invoice,alice@contoso.com,alice@contoso.com,,Originating,,,,,Email,5a0e7c61-3f0b-4a5e-8c2d-08dc41a6f0b2,15.02.1544.004",
            "deferred 451 4.4.0 example.org id=21474836500",
        ),
        (
            "2024-03-13T09:21:45.310Z,,EX01,,,,,ROUTING,FAIL,21474836500,<CAF3x3@contoso.com>,9e2d0c2e-8a4d-4c1e-9f2a-08dc41a6f0b2,frank@example.org;grace@example.org,550 4.4.7 QUEUE.Expired; message expired,7710,2,,,Invoice,alice@contoso.com,alice@contoso.com,,Originating,,,,,Email,6a0e7c61-3f0b-4a5e-8c2d-08dc41a6f0b2,15.02.1544.004",
            "Expired 2",
        ),
        (
            "2024-03-11T09:14:26.870Z,10.1.0.40,WS-ALICE,10.1.0.12,EX01,08DC41A6F0B2C7D3;250 2.0.0 OK,Default Frontend EX01,SMTP,RECEIVE,21474836485,<CAF3x1@contoso.com>,5b1f0c2e-8a4d-4c1e-9f2a-08dc41a6f0b2,bob@example.net,,23114,1,,,\"Q1 report, final\",alice@contoso.com,alice@contoso.com,,Originating,,10.1.0.40,10.1.0.12,,Email,7a0e7c61-3f0b-4a5e-8c2d-08dc41a6f0b2,15.02.1544.004",
            "Ignored",
        ),
        (
            "2024-03-11T09:20:01.700Z,,EX01,,,,,DSN,DSN,21474836496,<DSN1@contoso.com>,8d2d0c2e-8a4d-4c1e-9f2a-08dc41a6f0b3,alice@contoso.com,,7000,1,,<CAF3x2@contoso.com>,Undeliverable: hello,MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e@contoso.com,<>,,Incoming,,,,,Email,8a0e7c61-3f0b-4a5e-8c2d-08dc41a6f0b2,15.02.1544.004",
            "Ignored",
        ),
        // A cut line: fewer fields than the header names.
        (
            "2024-03-11T09:20:01.661Z,,EX01,,,,,ROUTING,FAIL,21474836495,<CAF3x2@contoso.com>,8d2d0c2e,nobody@contoso.com,550 5.1.10 RESOLVER.ADR",
            "Unrecognised",
        ),
        // An unterminated quote.
        (
            "2024-03-11T09:14:27.532Z,10.1.0.12,EX01,203.0.113.25,mx1.example.net,\"08DC41A6F0B2C7D4;250 2.6.0",
            "Unrecognised",
        ),
        ("", "Ignored"),
    ];

    fn render(p: &Parsed<'_>) -> String {
        let code = |c: Option<BasicCode>| c.map_or("-".to_owned(), |c| c.to_string());
        let enh = |c: Option<EnhancedCode>| c.map_or("-".to_owned(), |c| c.to_string());
        let one = |r: &Reply<'_>| {
            r.recipients
                .domains()
                .map(|d| {
                    format!(
                        "{} {} {} {} id={}",
                        r.outcome.as_str(),
                        code(r.code),
                        enh(r.enhanced),
                        String::from_utf8_lossy(d),
                        String::from_utf8_lossy(r.queue_id)
                    )
                })
                .collect::<Vec<_>>()
        };
        match p {
            Parsed::Ignored => "Ignored".into(),
            Parsed::Unrecognised => "Unrecognised".into(),
            Parsed::Event(Event::Expired) => "Expired 1".into(),
            Parsed::Event(Event::ExpiredPerRecipient(r)) => format!("Expired {}", r.count()),
            Parsed::Event(Event::Reply(r)) => one(r).join(" | "),
            Parsed::Event(Event::Paired(p)) => p
                .replies()
                .flat_map(|r| one(&r))
                .collect::<Vec<_>>()
                .join(" | "),
        }
    }

    #[test]
    fn cases() {
        let mut p = Parser::from(super::super::Format::Exchange);
        assert_eq!(render(&p.parse(CASES[4].0.as_bytes())), "Unrecognised");
        assert_eq!(render(&p.parse(HEADER.as_bytes())), "Ignored");
        for (line, want) in CASES {
            assert_eq!(render(&p.parse(line.as_bytes())), *want, "{line}");
        }
    }

    /// `date-time` is each reply's time and `internal-message-id` its queue id, on a paired
    /// row too; found by name wherever they stand; a header without them gives neither.
    #[test]
    fn time_and_queue_id_of_each_reply() {
        fn of<'a>(p: &mut Parser, line: &'a str) -> Vec<(String, Stamp<'a>)> {
            let one = |r: Reply<'a>| (String::from_utf8_lossy(r.queue_id).into_owned(), r.time);
            match p.parse(line.as_bytes()) {
                Parsed::Event(Event::Reply(r)) => vec![one(r)],
                Parsed::Event(Event::Paired(pr)) => pr.replies().map(one).collect(),
                other => panic!("{line}: {other:?}"),
            }
        }
        let mut p = Parser::from(super::super::Format::Exchange);
        p.parse(HEADER.as_bytes());
        let at = |t: &'static str| ("21474836486".to_owned(), Stamp::Iso(t.as_bytes()));
        assert_eq!(
            of(&mut p, CASES[4].0),
            [
                at("2024-03-11T09:14:29.002Z"),
                at("2024-03-11T09:14:29.002Z")
            ]
        );
        assert_eq!(
            of(&mut p, CASES[3].0),
            [(
                "21474836485".to_owned(),
                Stamp::Iso(b"2024-03-11T09:14:27.532Z")
            )]
        );
        p.parse(b"#Fields: internal-message-id,event-id,recipient-address,date-time");
        assert_eq!(
            of(&mut p, "77,SEND,u@d.example,2024-03-11T09:00:00.000Z"),
            [("77".to_owned(), Stamp::Iso(b"2024-03-11T09:00:00.000Z"))]
        );
        p.parse(b"#Fields: event-id,recipient-address");
        assert_eq!(
            of(&mut p, "SEND,u@d.example"),
            [(String::new(), Stamp::None)]
        );
    }

    #[test]
    fn columns_are_found_by_name() {
        let mut p = Parser::from(super::super::Format::Exchange);
        p.parse(b"#Fields: recipient-status,event-id,extra,recipient-address");
        assert_eq!(
            render(&p.parse(b"550 5.1.1 unknown,FAIL,\"x,y\",u@d.example")),
            "bounced 550 5.1.1 d.example id="
        );
        // Without recipient-status: replies without codes.
        p.parse(b"#Fields: event-id,recipient-address");
        assert_eq!(
            render(&p.parse(b"SEND,u@d.example")),
            "delivered - - d.example id="
        );
        // Without event-id: nothing can be read.
        p.parse(b"#Fields: date-time,recipient-address");
        assert_eq!(render(&p.parse(b"x,u@d.example")), "Unrecognised");
    }

    #[test]
    fn every_cut_of_a_countable_line_is_safe() {
        let mut p = Parser::from(super::super::Format::Exchange);
        p.parse(HEADER.as_bytes());
        for (line, _) in CASES {
            for cut in 0..line.len() {
                if line.is_char_boundary(cut) {
                    let _ = render(&p.parse(&line.as_bytes()[..cut]));
                }
            }
        }
    }

    /// `relay|stage` of each reply of this file's rows: the destination server of the SMTP
    /// component's rows, a local delivery for `DELIVER`, nothing for routing's.
    #[test]
    fn relay_of_the_smtp_rows() {
        let mut p = Parser::from(super::super::Format::Exchange);
        p.parse(HEADER.as_bytes());
        let relays = |line: &str, p: &mut Parser| -> Vec<String> {
            match p.parse(line.as_bytes()) {
                Parsed::Event(Event::Paired(pr)) => pr
                    .replies()
                    .map(|r| crate::parse::relay_stage_for_tests(&Parsed::Event(Event::Reply(r))))
                    .collect(),
                other => vec![crate::parse::relay_stage_for_tests(&other)],
            }
        };
        let gmail = "2024-03-11T09:23:00.004Z,10.1.0.12,EX01,142.250.102.27,gmail-smtp-in.l.google.com,08DC41A6F0B2C7D7;250 2.0.0 OK  1710148980 x1si123 - gsmtp;ClientSubmitTime:2024-03-11T09:22:59.100Z,Internet Send Connector,SMTP,SEND,21474836510,<CAF3x5@contoso.com>,be2d0c2e-8a4d-4c1e-9f2a-08dc41a6f0b2,heidi@gmail.com,250 2.1.5 OK x1si123 - gsmtp,4410,1,,,\"Re: \"\"Budget\"\", Q2, draft\",alice@contoso.com,alice@contoso.com,,Originating,,,,,Email,2a0e7c61-3f0b-4a5e-8c2d-08dc41a6f0b0,15.02.1544.004";
        assert_eq!(relays(gmail, &mut p), ["gmail-smtp-in.l.google.com|"]);
        assert_eq!(relays(CASES[3].0, &mut p), ["mx1.example.net|"]);
        assert_eq!(
            relays(CASES[4].0, &mut p),
            ["mx1.example.net|", "mx1.example.net|"]
        );
        assert_eq!(relays(CASES[5].0, &mut p), ["local|"]);
        assert_eq!(relays(CASES[6].0, &mut p), ["?|"]);
        assert_eq!(relays(CASES[7].0, &mut p), ["mx.example.org|"]);
        // Without a host name, the address.
        p.parse(b"#Fields: event-id,source,server-ip,server-hostname,recipient-address");
        assert_eq!(
            relays("SEND,SMTP,203.0.113.25,,u@d.example", &mut p),
            ["203.0.113.25|"]
        );
    }

    /// The recipient's status is the reply text; each recipient of a paired line has its own.
    #[test]
    fn reply_texts() {
        let mut p = Parser::from(super::super::Format::Exchange);
        p.parse(HEADER.as_bytes());
        let texts = |i: usize, p: &mut Parser| -> Vec<String> {
            match p.parse(CASES[i].0.as_bytes()) {
                Parsed::Event(Event::Reply(r)) => vec![String::from_utf8_lossy(r.text).into()],
                Parsed::Event(Event::Paired(pr)) => pr
                    .replies()
                    .map(|r| String::from_utf8_lossy(r.text).into_owned())
                    .collect(),
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(
            texts(4, &mut p),
            [
                "550 5.1.1 User unknown",
                "552 5.2.2 Mailbox full; try later"
            ]
        );
        assert_eq!(
            texts(6, &mut p),
            ["550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup"]
        );
        assert_eq!(texts(3, &mut p), ["250 2.1.5 Recipient OK"]);
    }
}
