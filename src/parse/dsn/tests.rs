//! Whole notices and cut ones, through [`super::parse`].

use super::rfc3464::field_groups;
use super::text::lone_address;
use super::*;

fn render(r: &Report) -> Vec<String> {
    match r {
        Report::NotABounce => vec!["NotABounce".into()],
        Report::Unreadable => vec!["Unreadable".into()],
        Report::Replies(v) => v
            .iter()
            .map(|d| {
                format!(
                    "{} {} {} {}",
                    if d.expired {
                        "expired"
                    } else {
                        d.outcome.as_str()
                    },
                    d.code.map_or("-".into(), |c| c.to_string()),
                    d.enhanced.map_or("-".into(), |c| c.to_string()),
                    d.recipient
                )
            })
            .collect(),
    }
}

/// [`render`], each reply followed by ` id=` and its queue id.
fn render_id(r: &Report) -> Vec<String> {
    let ids = match r {
        Report::Replies(v) => v.iter().map(|d| d.queue_id.clone()).collect(),
        _ => Vec::new(),
    };
    let mut out = render(r);
    for (line, id) in out.iter_mut().zip(ids) {
        line.push_str(" id=");
        line.push_str(&id);
    }
    out
}

#[test]
fn field_groups_split_on_empty_lines() {
    let g: Vec<_> = field_groups(b"\r\nA: 1\r\nB: 2\r\n\r\nC: 3\n D\n\n\nE: 4")
        .map(|g| String::from_utf8_lossy(g).into_owned())
        .collect();
    assert_eq!(g, vec!["A: 1\r\nB: 2\r\n", "C: 3\n D\n", "E: 4"]);
}

#[test]
fn not_a_message_and_not_a_bounce() {
    assert_eq!(render(&parse(b"")), vec!["Unreadable"]);
    assert_eq!(
        render(&parse(
            b"From: a@example.com\r\nTo: b@example.com\r\nSubject: hi\r\n\r\nHello.\r\n"
        )),
        vec!["NotABounce"]
    );
    // A report that says it is a DSN but has no readable part.
    assert_eq!(
        render(&parse(
            b"From: MAILER-DAEMON@x.test\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nSorry.\r\n--b--\r\n"
        )),
        vec!["Unreadable"]
    );
}

#[test]
fn folded_diagnostic_and_several_recipients() {
    let msg = b"From: MAILER-DAEMON@mta.test\r\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=\"XX\"\r\n\
\r\n\
--XX\r\n\
Content-Type: text/plain\r\n\
\r\n\
I'm sorry.\r\n\
--XX\r\n\
Content-Type: message/delivery-status\r\n\
\r\n\
Reporting-MTA: dns; mta.test\r\n\
\r\n\
Final-Recipient: rfc822; a@One.test\r\n\
Action: failed\r\n\
Status: 5.1.1\r\n\
Diagnostic-Code: smtp; 550 5.1.1 <a@One.test>: Recipient address rejected:\r\n\
\x20   User unknown\r\n\
\r\n\
Final-Recipient: rfc822; b@two.test\r\n\
Action: delayed\r\n\
Status: 4.4.1\r\n\
Diagnostic-Code: X-Postfix; connect to two.test[192.0.2.1]:25: Connection refused\r\n\
\r\n\
Original-Recipient: rfc822;c@three.test\r\n\
Action: relayed\r\n\
Status: 2.0.0\r\n\
Diagnostic-Code: smtp; 250 2.0.0 Ok: queued as 4Xyz\r\n\
--XX--\r\n";
    let r = parse(msg);
    assert_eq!(
        render_id(&r),
        vec![
            "bounced 550 5.1.1 a@One.test id=",
            "deferred - 4.4.1 b@two.test id=",
            "delivered 250 2.0.0 c@three.test id=",
        ]
    );
    let Report::Replies(v) = r else { panic!() };
    assert_eq!(
        v[0].text,
        "550 5.1.1 <a@One.test>: Recipient address rejected: User unknown"
    );
    assert_eq!(
        v[1].text,
        "connect to two.test[192.0.2.1]:25: Connection refused"
    );
    assert_eq!(
        v[0].reply().recipients.domains().collect::<Vec<_>>(),
        vec![b"One.test"]
    );
}

/// Whole messages: real notices of Postfix 3.7.11 (captured by tests/mailbox_e2e.rs) and
/// Exchange / Microsoft 365 / Gmail layouts written from their published examples (see
/// tests/fixtures/dsn/README.md). Each reply: outcome, code, enhanced code, recipient, and
/// the queue id the report states (Postfix's `X-Postfix-Queue-ID`; the others state none).
const CASES: &[(&str, &[u8], &[&str])] = &[
    (
        "postfix: two refused recipients, one multi-line reply",
        include_bytes!("../../../tests/fixtures/dsn/postfix-two-recipients.eml"),
        &[
            "bounced 552 5.2.2 r552-5.2.2-am2r0@d2.test id=59CD59900A4",
            "bounced 550 5.1.1 r550-5.1.1-ml-am2r1@d1.test id=59CD59900A4",
        ],
    ),
    (
        "postfix: delay warning",
        include_bytes!("../../../tests/fixtures/dsn/postfix-delay-warning.eml"),
        &["deferred 450 4.2.0 r450-4.2.0-am3r0@d1.test id=5FBA0990194"],
    ),
    (
        "postfix: expired (postsuper -e), the last deferral's reply",
        include_bytes!("../../../tests/fixtures/dsn/postfix-expired.eml"),
        &["expired 450 4.2.0 r450-4.2.0-am3r0@d1.test id=5FBA0990194"],
    ),
    (
        "postfix: a basic code only; Status 5.0.0 as the notice states",
        include_bytes!("../../../tests/fixtures/dsn/postfix-basic-code-only.eml"),
        &["bounced 550 5.0.0 r550-am5r0@d1.test id=62871990055"],
    ),
    (
        "postfix: refused at the end of DATA",
        include_bytes!("../../../tests/fixtures/dsn/postfix-refused-after-data.eml"),
        &["bounced 554 5.7.1 r250-d554-5.7.1-am6r0@d2.test id=6520C9900A7"],
    ),
    (
        "postfix: success notice (sendmail -N success), relayed to a server without DSN",
        include_bytes!("../../../tests/fixtures/dsn/postfix-relayed-success.eml"),
        &["delivered 250 2.0.0 r250-am8r0@d2.test id=5C2A4990014"],
    ),
    (
        "postfix: a message that is not a notice",
        include_bytes!("../../../tests/fixtures/dsn/not-a-bounce.eml"),
        &["NotABounce"],
    ),
    (
        "exchange 2010: #…## and #<… smtp;…> diagnostics",
        include_bytes!("../../../tests/fixtures/dsn/exchange-2010-diagnostic.eml"),
        &[
            "bounced 550 5.1.1 pat@contoso.example id=",
            "bounced 530 5.7.1 lee@fabrikam.example id=",
        ],
    ),
    (
        "microsoft 365: HTML only, Remote Server returned '…'",
        include_bytes!("../../../tests/fixtures/dsn/m365-remote-server-returned.eml"),
        &["bounced 550 5.1.10 nobody@contoso.example id="],
    ),
    (
        "microsoft 365: Reported error, recipient named at the top",
        include_bytes!("../../../tests/fixtures/dsn/m365-reported-error.eml"),
        &["bounced 550 5.1.10 gone@contoso.example id="],
    ),
    (
        "exchange: delivery delayed",
        include_bytes!("../../../tests/fixtures/dsn/exchange-delayed.eml"),
        &["deferred 451 4.7.500 slow@fabrikam.example id="],
    ),
    (
        "microsoft 365 with its DSN part: the DSN part only, counted once",
        include_bytes!("../../../tests/fixtures/dsn/m365-with-dsn-part.eml"),
        &["bounced 550 5.1.10 nobody@contoso.example id="],
    ),
    (
        "gmail: address not found, two-line reply",
        include_bytes!("../../../tests/fixtures/dsn/gmail-address-not-found.eml"),
        &["bounced 550 5.1.1 nobody@example.org id="],
    ),
    (
        "gmail: legacy layout, quoted-printable, reply inside the sentence",
        include_bytes!("../../../tests/fixtures/dsn/gmail-legacy-permanent.eml"),
        &["bounced 550 5.1.1 nobody@example.net id="],
    ),
    (
        "gmail: delivery incomplete (temporary)",
        include_bytes!("../../../tests/fixtures/dsn/gmail-delivery-incomplete.eml"),
        &["deferred 452 4.2.2 full@example.com id="],
    ),
    (
        "gmail: The response was, a basic code only",
        include_bytes!("../../../tests/fixtures/dsn/gmail-response-was-basic-only.eml"),
        &["bounced 550 - joe@example.com id="],
    ),
];

#[test]
fn cases() {
    for (what, msg, want) in CASES {
        assert_eq!(render_id(&parse(msg)), *want, "{what}");
    }
}

#[test]
fn reply_text_is_the_remote_reply_unfolded() {
    let texts = |msg: &[u8]| match parse(msg) {
        Report::Replies(v) => v.into_iter().map(|r| r.text).collect::<Vec<_>>(),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        texts(include_bytes!(
            "../../../tests/fixtures/dsn/postfix-expired.eml"
        )),
        vec![
            "450 4.2.0 Mailbox unavailable, try again later <r450-4.2.0-am3r0@d1.test> (e2e sink)"
        ]
    );
    assert_eq!(
        texts(include_bytes!(
            "../../../tests/fixtures/dsn/exchange-2010-diagnostic.eml"
        )),
        vec![
            "550 5.1.1 RESOLVER.ADR.RecipNotFound; not found",
            "530 5.7.1 Client was not authenticated"
        ]
    );
    assert_eq!(
        texts(include_bytes!("../../../tests/fixtures/dsn/gmail-address-not-found.eml")),
        vec!["550 5.1.1 <nobody@example.org>: Recipient address rejected: User unknown in virtual mailbox table"]
    );
}

/// Cut anywhere (a message still being written, a damaged file), a notice never panics,
/// and never yields a code that was not in the bytes read.
#[test]
fn cut_messages_never_panic() {
    for (what, msg, _) in CASES {
        for cut in (0..msg.len()).step_by(13) {
            let Report::Replies(v) = parse(&msg[..cut]) else {
                continue;
            };
            let seen = String::from_utf8_lossy(&msg[..cut]);
            for r in v {
                if let Some(c) = r.code {
                    assert!(seen.contains(&c.to_string()), "{what} cut at {cut}");
                }
            }
        }
    }
    for junk in [
        &b"\x00\xff\xfe binary"[..],
        b":",
        b"\r\n\r\n",
        b"Content-Type: multipart/report",
    ] {
        assert!(!matches!(parse(junk), Report::Replies(_)), "{junk:?}");
    }
}

#[test]
fn lone_addresses() {
    for (l, want) in [
        ("user@example.com", Some("user@example.com")),
        ("  <user@example.com> ", Some("user@example.com")),
        ("mailto:user@example.com", Some("user@example.com")),
        ("Generating server: x.example.com", None),
        ("Remote Server returned '550 5.1.1 a@b.c'", None),
        ("user@localhost", None),
    ] {
        assert_eq!(lone_address(l), want, "{l}");
    }
}

/// A notice whose report part is `fields` (one or more blocks).
fn report(fields: &str) -> Vec<u8> {
    format!(
        "From: MAILER-DAEMON@mta.test\r\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n\
--B\r\nContent-Type: text/plain\r\n\r\nSorry.\r\n\
--B\r\nContent-Type: message/delivery-status\r\n\r\n\
Reporting-MTA: dns; mta.test\r\n\r\n{fields}\r\n--B--\r\n"
    )
    .into_bytes()
}

/// "`Status: 5.1.1` with `550 5.7.1 IP address blacklisted` lands under `addressing`".
#[test]
fn the_servers_enhanced_code_wins_over_status() {
    let msg = report(
        "Final-Recipient: rfc822; a@x.test\r\nAction: failed\r\nStatus: 5.1.1\r\n\
Diagnostic-Code: smtp; 550 5.7.1 IP address blacklisted by recipient\r\n",
    );
    assert_eq!(render(&parse(&msg)), vec!["bounced 550 5.7.1 a@x.test"]);
}

/// "an expiry notice pairs the local `4.4.7` with the remote's `450`": an expiry, with the
/// remote's codes only.
#[test]
fn an_expiry_notice_is_an_expiry_with_the_remotes_codes_only() {
    let msg = report(
        "Final-Recipient: rfc822; a@x.test\r\nAction: failed\r\nStatus: 4.4.7\r\n\
Diagnostic-Code: smtp; 450 Mailbox busy\r\n",
    );
    assert_eq!(render(&parse(&msg)), vec!["expired 450 - a@x.test"]);
    let Report::Replies(v) = parse(&msg) else {
        panic!()
    };
    assert_eq!(v[0].text, "450 Mailbox busy");
    // Postfix gives up with the last status, temporary; no remote reply: the status.
    let msg = report(
        "Final-Recipient: rfc822; b@x.test\r\nAction: failed\r\nStatus: 4.4.1\r\n\
Diagnostic-Code: X-Postfix; connect to x.test[192.0.2.1]:25: Connection timed out\r\n",
    );
    assert_eq!(render(&parse(&msg)), vec!["expired - 4.4.1 b@x.test"]);
    // Microsoft 365 gives up in its own words, with its own code.
    let msg = report(
        "Final-Recipient: rfc822; e@x.test\r\nAction: failed\r\nStatus: 5.4.316\r\n\
Diagnostic-Code: smtp; 550 5.4.316 Message expired, connection refused\r\n",
    );
    assert_eq!(render(&parse(&msg)), vec!["expired 550 5.4.316 e@x.test"]);
    // A delay warning is not an expiry; a failure whose reply was a 5xx is not either.
    let msg = report(
        "Final-Recipient: rfc822; c@x.test\r\nAction: delayed\r\nStatus: 4.4.7\r\n\r\n\
Final-Recipient: rfc822; d@x.test\r\nAction: failed\r\nStatus: 4.0.0\r\n\
Diagnostic-Code: smtp; 554 Blocked\r\n",
    );
    assert_eq!(
        render(&parse(&msg)),
        vec!["deferred - 4.4.7 c@x.test", "bounced 554 4.0.0 d@x.test"]
    );
}

/// "the basic code after `said:` is lost when the diagnostic type is `X-Postfix` or absent".
#[test]
fn the_basic_code_after_said_is_kept() {
    let msg = report(
        "Final-Recipient: rfc822; a@x.test\r\nAction: failed\r\nStatus: 5.0.0\r\n\
Diagnostic-Code: X-Postfix; host r2.x.test[198.51.100.24] said: 550 Protocol\r\n\
\x20violation (in reply to DATA command)\r\n\r\n\
Final-Recipient: rfc822; b@x.test\r\nAction: failed\r\nStatus: 5.0.0\r\n\
Diagnostic-Code: host mx.x.test[192.0.2.2] said: 554 5.6.0 Scored as spam\r\n",
    );
    assert_eq!(
        render(&parse(&msg)),
        vec!["bounced 550 5.0.0 a@x.test", "bounced 554 5.6.0 b@x.test"]
    );
}

/// "AOL's report with no blank line between recipients loses one of them".
#[test]
fn recipients_without_a_blank_line_between_them() {
    let msg = report(
        "Final-Recipient: rfc822; a@x.test\r\nOriginal-Recipient: rfc822;a@x.test\r\n\
Action: failed\r\nStatus: 5.2.2\r\nDiagnostic-Code: smtp; 550 5.2.2 Mailbox Full\r\n\
Final-Recipient: rfc822; b@x.test\r\nOriginal-Recipient: rfc822;b@x.test\r\n\
Action: failed\r\nStatus: 5.1.1\r\nDiagnostic-Code: smtp; 550 5.1.1 User Unknown\r\n",
    );
    assert_eq!(
        render(&parse(&msg)),
        vec!["bounced 550 5.2.2 a@x.test", "bounced 550 5.1.1 b@x.test"]
    );
}

/// A mailbox written with CR-only line ends (classic Mac OS) reads as with LF.
#[test]
fn cr_only_line_ends() {
    for (what, msg, want) in CASES {
        let cr: Vec<u8> = String::from_utf8_lossy(msg)
            .replace("\r\n", "\r")
            .replace('\n', "\r")
            .into_bytes();
        assert_eq!(render_id(&parse(&cr)), *want, "{what}");
    }
}

/// A notice whose MIME boundary no longer matches its parts (anonymised or mangled on the
/// way): the body is read as it is, and its report fields still count.
#[test]
fn a_broken_boundary_still_reads_the_report_fields() {
    let msg = b"From: MAILER-DAEMON@mta.test\r\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=\"A\"\r\n\r\n\
--B\r\nContent-Type: text/plain\r\n\r\nSorry.\r\n\
--B\r\nContent-Type: message/delivery-status\r\n\r\n\
Reporting-MTA: dns; mta.test\r\n\r\n\
Final-Recipient: rfc822; a@x.test\r\nAction: failed\r\nStatus: 5.1.1\r\n\
Diagnostic-Code: smtp; 550 5.1.1 User unknown\r\n\r\n--B--\r\n";
    assert_eq!(render(&parse(msg)), vec!["bounced 550 5.1.1 a@x.test"]);
}

/// The queue id and time of Sisimai's real notices (shared/corpora/sisimai/, read in place):
/// Postfix's `X-…-Queue-ID` under its own `mail_name` too (Yandex, AOL, a Symantec gateway);
/// the time of the recipient's `Last-Attempt-Date` (Sendmail), else of the notice's `Date:` —
/// never the `Arrival-Date` (the original's arrival, months earlier in Postfix's here).
#[test]
fn queue_id_and_time_of_real_notices() {
    for (file, id, time) in [
        ("lhost-postfix-31.eml", "2222EE22", 1_507_559_685),
        ("lhost-yandex-02.eml", "D08769E1045", 1_417_886_674),
        ("rhost-aol-05.eml", "F209A380008E", 1_493_702_162),
        ("rfc3464-10.eml", "AA/AA-00000-00000000", 1_405_665_285),
        ("lhost-sendmail-59.eml", "", 1_549_385_609),
        ("lhost-exim-01.eml", "", 1_285_928_123),
    ] {
        let path = super::dialogue_tests::corpora()
            .join("sisimai/mail/cur")
            .join(file);
        let msg = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let Report::Replies(v) = parse(&msg) else {
            panic!("{file}: no replies")
        };
        for r in &v {
            let reply = r.reply();
            assert_eq!(String::from_utf8_lossy(reply.queue_id), id, "{file}");
            assert_eq!(reply.time, Stamp::Seconds(time), "{file}");
        }
    }
}
