//! PowerMTA accounting files (`acct-*.csv`, the `<acct-file>` of PowerMTA's configuration):
//! CSV as RFC 4180 has it, a header row naming the columns at the top of each file, then one
//! record a row, its first column always the record type.
//!
//! The format is documented in the PowerMTA User's Guide (Port25/SparkPost; chapter
//! "Accounting" — "Accounting records", "Encoding", "Bounce categories" — in the guides of
//! 4.5 and 5.x). Columns are found by name in the header row, never by position; read are:
//!
//! - `type`: `d` (delivered), `t` (transient failure: deferred) and `b` (bounced) are
//!   outbound replies; a `b` row whose `bounceCat` is `message-expired` is an expiry (never a
//!   reply). `r` (received), `tq` (transient, queue-level), `f` (feedback loop), `rb`/`rs`
//!   (remote bounce/status from a DSN) are not replies ([`Parsed::Ignored`]).
//! - `rcpt`: the recipient (one per row).
//! - `dsnStatus`: the enhanced code, leading the field (`5.1.1 (bad destination mailbox
//!   address)`).
//! - `dsnDiag`: the basic code, after the diagnostic type (`smtp;550 5.1.1 <…>: user unknown`).
//! - `bounceCat`: only for `message-expired`.
//! - `dsnMta`: the remote MTA that answered (`gmail-smtp-in.l.google.com (142.250.102.27)`,
//!   or RFC 3464's `dns; mx.example.com`): the relay of the `provider` label. No column says
//!   which SMTP command a reply answered (the guide's `dsnDiag` is the reply alone), so the
//!   stage is never set.
//! - `timeLogged`: when the record was logged, the reply's time — `2024-03-11 09:14:27+0000`
//!   as PowerMTA 4.x and 5.x write it, or a bare `time_t` as the 4.0 guide's example has it
//!   (read by shape: [`Stamp::of_text`]).
//! - `envId`: the envelope id the injecting application gave the message (`MAIL FROM:<…>
//!   ENVID=…`, RFC 3461), the reply's queue id: the guide's record fields hold no queue id of
//!   PowerMTA's own, and the envelope id is the per-message key the sender knows and greps
//!   the accounting files for. Empty where the message came without one. `jobId` is not taken:
//!   it names a whole mailing (one value for thousands of messages).
//! - `vmta`: the virtual MTA, the instance key when configured `instances:` map virtual MTAs
//!   to sources of their own ([`Columns::vmta`]).
//!
//! A row before any header, with another number of fields than the header, that is not valid
//! CSV (a cut line, an unterminated quote), or whose type is empty or unknown is
//! [`Parsed::Unrecognised`]; so is every row when the header lacks `type` or `rcpt`. A header
//! without `dsnStatus` or `dsnDiag` only leaves those codes empty. A quoted field holding a
//! line break (RFC 4180 allows it; PowerMTA writes none in the fields read here) splits the
//! record into lines counted `unrecognised`.
//!
//! Rows as PowerMTA writes them with the default delivery/bounce/transient fields (one file
//! holding `d`, `b` and `t` records, so `bounceCat` is empty on `d` and `t` rows):
//! ```text
//! type,timeLogged,timeQueued,orig,rcpt,orcpt,dsnAction,dsnStatus,dsnDiag,dsnMta,bounceCat,srcType,srcMta,dlvType,dlvSourceIp,dlvDestinationIp,dlvEsmtpAvailable,dlvSize,vmta,jobId,envId,queue,vmtaPool
//! d,2024-03-11 09:14:27+0000,2024-03-11 09:14:25+0000,bounces@news.example.com,alice@gmail.com,,relayed,2.0.0 (success),smtp;250 2.0.0 OK  1710148467 a1si123456qkb.12 - gsmtp,gmail-smtp-in.l.google.com (142.250.102.27),,smtp,app1.example.com (10.0.0.5),smtp,10.0.0.10,142.250.102.27,"PIPELINING,SIZE,ENHANCEDSTATUSCODES,8BITMIME,STARTTLS,SMTPUTF8",15243,vmta-gmail-1,spring-sale,,gmail.com/vmta-gmail-1,pool-a
//! t,2024-03-11 09:14:31+0000,2024-03-11 09:14:25+0000,bounces@news.example.com,bob@yahoo.com,,delayed,4.7.0 (other or undefined security status),smtp;421 4.7.0 [TSS04] Messages from 10.0.0.11 temporarily deferred due to unexpected volume or user complaints,mta5.am0.yahoodns.net (67.195.228.94),,smtp,app1.example.com (10.0.0.5),smtp,10.0.0.11,67.195.228.94,"PIPELINING,SIZE,8BITMIME,STARTTLS",15243,vmta-yahoo-1,spring-sale,,yahoo.com/vmta-yahoo-1,pool-a
//! b,2024-03-11 09:14:33+0000,2024-03-11 09:14:25+0000,bounces@news.example.com,nosuchuser@gmail.com,,failed,5.1.1 (bad destination mailbox address),"smtp;550 5.1.1 The email account that you tried to reach does not exist. Please try double-checking the recipient's email address for typos or unnecessary spaces, https://support.google.com/mail/?p=NoSuchUser a1si1234",gmail-smtp-in.l.google.com (142.250.102.27),bad-mailbox,smtp,app1.example.com (10.0.0.5),smtp,10.0.0.10,142.250.102.27,"PIPELINING,SIZE",15243,vmta-gmail-1,spring-sale,,gmail.com/vmta-gmail-1,pool-a
//! b,2024-03-14 09:14:25+0000,2024-03-11 09:14:25+0000,bounces@news.example.com,carol@slow.example.org,,failed,4.4.7 (delivery time expired),smtp;421 4.4.2 mx.slow.example.org connection timed out,mx.slow.example.org (192.0.2.44),message-expired,smtp,app1.example.com (10.0.0.5),smtp,10.0.0.12,,,15243,vmta-default,spring-sale,,slow.example.org/vmta-default,pool-a
//! r,2024-03-11 09:14:25+0000,2024-03-11 09:14:25+0000,bounces@news.example.com,alice@gmail.com,,,,,,,smtp,app1.example.com (10.0.0.5),,,,,15243,,spring-sale,,,
//! ```

use super::csv;
use super::{
    leading_reply_codes, Direction, EnhancedCode, Event, Outcome, Parsed, Recipients, Relay, Reply,
    Stamp,
};

/// The fields read, in the order of [`csv::Columns::read`]'s output.
const WANTED: [&str; 9] = [
    "type",
    "rcpt",
    "dsnStatus",
    "dsnDiag",
    "bounceCat",
    "vmta",
    "dsnMta",
    "timeLogged",
    "envId",
];
const TYPE: usize = 0;
const RCPT: usize = 1;
const VMTA: usize = 5;

/// The columns of one accounting file, from its header row.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Columns(csv::Columns);

impl Columns {
    /// Reads one line (without its newline). The header row sets the columns and is
    /// [`Parsed::Ignored`]. Allocation-free except on a header row; never panics.
    pub fn parse<'a>(&mut self, line: &'a [u8]) -> Parsed<'a> {
        if is_header(line) {
            self.0 = csv::Columns::from_header(line, &WANTED).unwrap_or_default();
            return Parsed::Ignored;
        }
        if line.trim_ascii().is_empty() {
            return Parsed::Ignored;
        }
        if !self.0.has(TYPE) || !self.0.has(RCPT) {
            return Parsed::Unrecognised;
        }
        let Some([kind, rcpt, status, diag, category, _, mta, logged, env_id]) =
            self.0.read::<9>(line)
        else {
            return Parsed::Unrecognised;
        };
        let outcome = match kind.trim_ascii() {
            b"d" | b"delivery" => Outcome::Delivered,
            b"t" | b"transient" => Outcome::Deferred,
            b"b" | b"bounce" => Outcome::Bounced,
            b"r" | b"receipt" | b"tq" | b"transient-queue" | b"f" | b"feedback-loop" | b"rb"
            | b"remote-bounce" | b"rs" | b"remote-status" => return Parsed::Ignored,
            _ => return Parsed::Unrecognised,
        };
        if outcome == Outcome::Bounced && category.trim_ascii() == b"message-expired" {
            return Parsed::Event(Event::Expired);
        }
        let rcpt = rcpt.trim_ascii();
        let diag = diagnostic(diag).trim_ascii();
        Parsed::Event(Event::Reply(Reply {
            direction: Direction::Outbound,
            outcome,
            code: leading_reply_codes(diag).0,
            enhanced: enhanced(status),
            recipients: if rcpt.is_empty() {
                Recipients::None
            } else {
                Recipients::One(rcpt)
            },
            delay: None,
            // The remote's reply; where there is none, the status with its description.
            text: if diag.is_empty() {
                status.trim_ascii()
            } else {
                diag
            },
            relay: remote_mta(mta),
            stage: crate::parse::Stage::Unknown,
            queue_id: env_id.trim_ascii(),
            time: Stamp::of_text(logged),
        }))
    }

    /// The virtual MTA of a row (the key of `instances:`); `None` for a header, a row that
    /// cannot be read or an empty `vmta`.
    pub fn vmta<'a>(&self, line: &'a [u8]) -> Option<&'a [u8]> {
        if !self.0.has(VMTA) {
            return None;
        }
        let fields = self.0.read::<9>(line)?;
        let vmta = fields.get(VMTA)?.trim_ascii();
        (!vmta.is_empty()).then_some(vmta)
    }
}

/// Whether PowerMTA wrote this line, as far as a line can tell without the file's header: the
/// header row of an accounting file (`type,…` naming an `rcpt` column). Rows are read once the
/// format is known from the header.
pub fn claims(line: &[u8]) -> bool {
    is_header(line) && memchr::memmem::find(line, b"rcpt").is_some()
}

/// The header row: its first field is `type` (the record type is always the first column).
fn is_header(line: &[u8]) -> bool {
    let line = line.strip_prefix(b"\xef\xbb\xbf").unwrap_or(line);
    line.strip_prefix(b"type")
        .is_some_and(|rest| matches!(rest.first(), None | Some(b',')))
}

/// The enhanced code leading `dsnStatus` (`5.1.1 (bad destination mailbox address)`).
fn enhanced(status: &[u8]) -> Option<EnhancedCode> {
    let s = status.trim_ascii();
    let end = s
        .iter()
        .position(|c| !(c.is_ascii_digit() || *c == b'.'))
        .unwrap_or(s.len());
    EnhancedCode::parse(s.get(..end)?)
}

/// The remote MTA of `dsnMta`, after an RFC 3464 name type (`dns; `) where one is written.
fn remote_mta(mta: &[u8]) -> Relay<'_> {
    let host = diagnostic(mta).trim_ascii();
    if host.is_empty() {
        Relay::Unknown
    } else {
        Relay::Host(host)
    }
}

/// The diagnostic text after its type (`smtp;550 …`, RFC 3464 `smtp; 550 …`).
fn diagnostic(diag: &[u8]) -> &[u8] {
    match memchr::memchr(b';', diag) {
        Some(i)
            if diag[..i]
                .iter()
                .all(|c| c.is_ascii_alphanumeric() || *c == b'-') =>
        {
            diag.get(i + 1..).unwrap_or_default()
        }
        _ => diag,
    }
}

#[cfg(test)]
mod tests {
    use super::super::{BasicCode, Format, Parser};
    use super::*;

    /// `relay|stage` of this file's rows: `dsnMta` as our fixture writes it (the guide's
    /// "DSN remote MTA"), with an RFC 3464 type, or empty (no host reached).
    #[test]
    fn relay_from_dsn_mta() {
        let mut c = Columns::default();
        assert_eq!(c.parse(HEADER.as_bytes()), Parsed::Ignored);
        let with_type = CASES[1].0.replace(
            "mta5.am0.yahoodns.net (67.195.228.94)",
            "dns; mta5.am0.yahoodns.net (67.195.228.94)",
        );
        for (line, want) in [
            (CASES[0].0, "gmail-smtp-in.l.google.com (142.250.102.27)|"),
            (with_type.as_str(), "mta5.am0.yahoodns.net (67.195.228.94)|"),
            (CASES[4].0, "?|"),
        ] {
            let got = crate::parse::relay_stage_for_tests(&c.parse(line.as_bytes()));
            assert_eq!(got, want, "{line}");
        }
    }

    const HEADER: &str = "type,timeLogged,timeQueued,orig,rcpt,orcpt,dsnAction,dsnStatus,dsnDiag,dsnMta,bounceCat,srcType,srcMta,dlvType,dlvSourceIp,dlvDestinationIp,dlvEsmtpAvailable,dlvSize,vmta,jobId,envId,queue,vmtaPool";

    /// What a line must give: `Ignored`, `Unrecognised`, `Expired`, or
    /// `outcome code enhanced domain id=envId` (`jobId` is no queue id).
    const CASES: &[(&str, &str)] = &[
        (
            "d,2024-03-11 09:14:27+0000,2024-03-11 09:14:25+0000,bounces@news.example.com,alice@gmail.com,,relayed,2.0.0 (success),smtp;250 2.0.0 OK  1710148467 a1si123456qkb.12 - gsmtp,gmail-smtp-in.l.google.com (142.250.102.27),,smtp,app1.example.com (10.0.0.5),smtp,10.0.0.10,142.250.102.27,\"PIPELINING,SIZE,ENHANCEDSTATUSCODES,8BITMIME,STARTTLS,SMTPUTF8\",15243,vmta-gmail-1,spring-sale,,gmail.com/vmta-gmail-1,pool-a",
            "delivered 250 2.0.0 gmail.com id=",
        ),
        (
            "t,2024-03-11 09:14:31+0000,2024-03-11 09:14:25+0000,bounces@news.example.com,bob@yahoo.com,,delayed,4.7.0 (other or undefined security status),smtp;421 4.7.0 [TSS04] Messages from 10.0.0.11 temporarily deferred due to unexpected volume or user complaints,mta5.am0.yahoodns.net (67.195.228.94),,smtp,app1.example.com (10.0.0.5),smtp,10.0.0.11,67.195.228.94,\"PIPELINING,SIZE,8BITMIME,STARTTLS\",15243,vmta-yahoo-1,spring-sale,,yahoo.com/vmta-yahoo-1,pool-a",
            "deferred 421 4.7.0 yahoo.com id=",
        ),
        (
            "b,2024-03-11 09:14:33+0000,2024-03-11 09:14:25+0000,bounces@news.example.com,nosuchuser@gmail.com,,failed,5.1.1 (bad destination mailbox address),\"smtp;550 5.1.1 The email account that you tried to reach does not exist. Please try double-checking the recipient's email address for typos or unnecessary spaces, https://support.google.com/mail/?p=NoSuchUser a1si1234\",gmail-smtp-in.l.google.com (142.250.102.27),bad-mailbox,smtp,app1.example.com (10.0.0.5),smtp,10.0.0.10,142.250.102.27,\"PIPELINING,SIZE\",15243,vmta-gmail-1,spring-sale,,gmail.com/vmta-gmail-1,pool-a",
            "bounced 550 5.1.1 gmail.com id=",
        ),
        (
            "b,2024-03-14 09:14:25+0000,2024-03-11 09:14:25+0000,bounces@news.example.com,carol@slow.example.org,,failed,4.4.7 (delivery time expired),smtp;421 4.4.2 mx.slow.example.org connection timed out,mx.slow.example.org (192.0.2.44),message-expired,smtp,app1.example.com (10.0.0.5),smtp,10.0.0.12,,,15243,vmta-default,spring-sale,,slow.example.org/vmta-default,pool-a",
            "Expired",
        ),
        // A bounce PowerMTA decided without a remote reply: the code as logged, no basic code.
        (
            "b,2024-03-11 09:15:00+0000,2024-03-11 09:14:25+0000,bounces@news.example.com,x@nonexistent.example,,failed,5.1.2 (bad destination system: no such domain),\"smtp;550 5.1.2 no such domain, no MX and no A record\",,bad-domain,smtp,app1.example.com (10.0.0.5),smtp,,,,15243,vmta-default,spring-sale,,nonexistent.example/vmta-default,pool-a",
            "bounced 550 5.1.2 nonexistent.example id=",
        ),
        (
            "b,2024-03-11 09:15:01+0000,2024-03-11 09:14:25+0000,bounces@news.example.com,y@blocked.example,,failed,5.0.0 (undefined status),smtp;554 Transaction failed: spam,mx.blocked.example (203.0.113.9),spam-related,smtp,app1.example.com (10.0.0.5),smtp,10.0.0.10,203.0.113.9,,15243,vmta-default,spring-sale,,blocked.example/vmta-default,pool-a",
            "bounced 554 5.0.0 blocked.example id=",
        ),
        (
            "r,2024-03-11 09:14:25+0000,2024-03-11 09:14:25+0000,bounces@news.example.com,alice@gmail.com,,,,,,,smtp,app1.example.com (10.0.0.5),,,,,15243,,spring-sale,,,",
            "Ignored",
        ),
        (
            "tq,2024-03-11 09:20:00+0000,2024-03-11 09:14:25+0000,bounces@news.example.com,,,delayed,4.4.1 (no answer from host),smtp;421 4.4.1 connection timed out,,,smtp,,smtp,10.0.0.12,,,,vmta-default,spring-sale,,slow.example.org/vmta-default,pool-a",
            "Ignored",
        ),
        (
            "rb,2024-03-11 10:00:00+0000,,bounces@news.example.com,dave@example.net,,failed,5.2.2 (mailbox full),smtp;552 5.2.2 mailbox full,mx.example.net,quota-issues,,,,,,,,,,,,",
            "Ignored",
        ),
        ("f,2024-03-11 10:00:00+0000,,,,,,,,,,,,,,,,,,,,,", "Ignored"),
        ("rs,2024-03-11 10:00:00+0000,,,,,,,,,,,,,,,,,,,,,", "Ignored"),
        // Unknown type, empty type, cut rows, an extra field, an unterminated quote.
        ("x,2024-03-11 10:00:00+0000,,,,,,,,,,,,,,,,,,,,,", "Unrecognised"),
        (",2024-03-11 10:00:00+0000,,,,,,,,,,,,,,,,,,,,,", "Unrecognised"),
        (
            "d,2024-03-11 09:14:27+0000,2024-03-11 09:14:25+0000,bounces@news.example.com,alice@gmail.com,,relayed",
            "Unrecognised",
        ),
        ("d,,,,a@b.example,,,2.0.0,smtp;250 ok,,,,,,,,,,,,,,,extra", "Unrecognised"),
        ("b,,,,a@b.example,,,5.1.1,\"smtp;550 5.1.1 unterminated,,,,,,,,,,,,,,,", "Unrecognised"),
        // An envelope id given by the injector (`ENVID=`): the queue id.
        (
            "b,2024-03-11 09:14:34+0000,2024-03-11 09:14:25+0000,bounces@news.example.com,gone@example.net,,failed,5.1.1 (bad destination mailbox address),smtp;550 5.1.1 <gone@example.net>: Recipient address rejected: User unknown,mx.example.net (198.51.100.25),bad-mailbox,smtp,app1.example.com (10.0.0.5),smtp,10.0.0.10,198.51.100.25,\"PIPELINING,SIZE\",15243,vmta-default,spring-sale,spring-sale.20240311.000042,example.net/vmta-default,pool-a",
            "bounced 550 5.1.1 example.net id=spring-sale.20240311.000042",
        ),
        ("", "Ignored"),
    ];

    fn render(p: &Parsed<'_>) -> String {
        match p {
            Parsed::Ignored => "Ignored".into(),
            Parsed::Unrecognised => "Unrecognised".into(),
            Parsed::Event(Event::Expired) => "Expired".into(),
            Parsed::Event(Event::Reply(r)) => format!(
                "{} {} {} {} id={}",
                r.outcome.as_str(),
                r.code.map_or("-".into(), |c: BasicCode| c.to_string()),
                r.enhanced.map_or("-".into(), |c| c.to_string()),
                r.recipients
                    .domains()
                    .map(|d| String::from_utf8_lossy(d).into_owned())
                    .collect::<Vec<_>>()
                    .join(" "),
                String::from_utf8_lossy(r.queue_id)
            ),
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn cases() {
        let mut p = Parser::from(Format::PowerMta);
        // Before the header, nothing can be read.
        assert_eq!(render(&p.parse(CASES[0].0.as_bytes())), "Unrecognised");
        assert_eq!(render(&p.parse(HEADER.as_bytes())), "Ignored");
        for (line, want) in CASES {
            assert_eq!(render(&p.parse(line.as_bytes())), *want, "{line}");
        }
    }

    /// `timeLogged` is the time, in either layout; a file without the column gives none.
    #[test]
    fn time_is_time_logged() {
        fn time<'a>(p: &mut Parser, line: &'a str) -> Stamp<'a> {
            match p.parse(line.as_bytes()) {
                Parsed::Event(Event::Reply(r)) => r.time,
                other => panic!("{line}: {other:?}"),
            }
        }
        let mut p = Parser::from(Format::PowerMta);
        p.parse(HEADER.as_bytes());
        assert_eq!(
            time(&mut p, CASES[1].0),
            Stamp::Iso(b"2024-03-11 09:14:31+0000")
        );
        p.parse(b"type,timeLogged,rcpt,dsnStatus");
        assert_eq!(
            time(&mut p, "d,1178807903,a@b.example,2.0.0"),
            Stamp::Unix(b"1178807903")
        );
        p.parse(b"type,rcpt,dsnStatus");
        assert_eq!(time(&mut p, "d,a@b.example,2.0.0"), Stamp::None);
    }

    #[test]
    fn columns_by_name_missing_and_extra() {
        let mut p = Parser::from(Format::PowerMta);
        // Another order, an unknown column, no dsnDiag.
        p.parse(b"type,rcpt,custom1,dsnStatus,vmta");
        assert_eq!(
            render(&p.parse(b"b,u@d.example,\"a,b\",5.7.1 (delivery not authorized),v1")),
            "bounced - 5.7.1 d.example id="
        );
        // No rcpt column: nothing can be read.
        p.parse(b"type,orig,dsnStatus");
        assert_eq!(render(&p.parse(b"d,o@x.example,2.0.0")), "Unrecognised");
    }

    #[test]
    fn vmta_is_the_instance_key() {
        let mut p = Parser::from(Format::PowerMta);
        p.parse(HEADER.as_bytes());
        assert_eq!(
            p.instance_key(CASES[1].0.as_bytes()),
            Some(&b"vmta-yahoo-1"[..])
        );
        assert_eq!(p.instance_key(b"d,cut"), None);
    }

    #[test]
    fn every_cut_of_a_countable_line_is_safe() {
        let mut p = Parser::from(Format::PowerMta);
        p.parse(HEADER.as_bytes());
        for (line, _) in CASES {
            for cut in 0..line.len() {
                let _ = render(&p.parse(&line.as_bytes()[..cut]));
            }
        }
    }

    #[test]
    fn reply_texts() {
        let mut p = Parser::from(Format::PowerMta);
        p.parse(HEADER.as_bytes());
        let text = |line: &str, p: &mut Parser| {
            crate::parse::text_of(&p.parse(line.as_bytes())).map(str::to_owned)
        };
        assert_eq!(
            text(CASES[1].0, &mut p).as_deref(),
            Some("421 4.7.0 [TSS04] Messages from 10.0.0.11 temporarily deferred due to unexpected volume or user complaints")
        );
        // No dsnDiag: the status and its description.
        p.parse(b"type,rcpt,dsnStatus");
        assert_eq!(
            text("b,u@d.example,5.7.1 (delivery not authorized)", &mut p).as_deref(),
            Some("5.7.1 (delivery not authorized)")
        );
    }
}
