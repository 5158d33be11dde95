//! The queue id and time stamp of each kind of reply line, and the parser's table checks that
//! need the module's private parts.

use super::*;
use crate::parse::stamp::{check_fixture_origins, check_origins, first_word_id, Origin};
use crate::parse::Stamp::{Bsd, Iso};

/// Real lines with the queue id and stamp their reply carries. Unmarked: Postfix 3.7.11
/// (Debian 12) in tests/fixtures/postfix/; `fail2ban`, `whyscream`, `crowdsec`: the peers'
/// lines in shared/corpora/peers/<project>/.
const ORIGINS: &[Origin] = &[
    // Delivery status: the id before `to=`.
    ("Nov 23 02:12:58 mx postfix/smtp[10732]: 1CA9A98C0C2: to=<Info@EXAMPLE.NET>, relay=127.0.0.1[127.0.0.1]:12600, delay=0.03, delays=0.01/0.02/0/0, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 4XyZ12AbCd)",
        "1CA9A98C0C2", Bsd(b"Nov 23 02:12:58")),
    ("Nov 23 02:18:43 mx postfix/error[23774]: 28EF698C013: to=<someone@slow.example>, relay=none, delay=345, delays=341/4/0/0, dsn=4.4.2, status=deferred (delivery temporarily suspended: conversation with 127.0.0.1[127.0.0.1] timed out while receiving the initial server greeting)",
        "28EF698C013", Bsd(b"Nov 23 02:18:43")),
    // whyscream: the day space-padded.
    ("Jan  1 00:00:00 peerhost postfix/error[1]: 3E29030F8637E: to=<user@yahoo.com>, relay=none, delay=0.01, delays=0.01/0/0/0, dsn=5.1.1, status=undeliverable-but-not-cached (User unknown in virtual alias table)",
        "3E29030F8637E", Bsd(b"Jan  1 00:00:00")),
    // smtpd refusing a recipient of a message that has a queue file already (fail2ban; the
    // second with the day unpadded, the third with a long queue id).
    ("Aug 13 15:45:46 server postfix/smtpd[13844]: 00ADB3C0899: reject: RCPT from example.com[192.0.2.1]: 550 5.1.1 <sales@server.com>: Recipient address rejected: User unknown in local recipient table; from=<xxxxxx@example.com> to=<sales@server.com> proto=ESMTP helo=<mail.example.com>",
        "00ADB3C0899", Bsd(b"Aug 13 15:45:46")),
    ("Mar 7 02:09:33 server postfix/smtpd[27246]: 1D8CC1CA0A7F: milter-reject: DATA from 66-220-155-151.mail-mail.facebook.com[192.0.2.151]: 550 5.7.1 Command rejected; from=<security@mail.example.com> to=<hostmaster@example.com> proto=ESMTP helo=<192-0-2-151.mail-mail.example.com>",
        "1D8CC1CA0A7F", Bsd(b"Mar 7 02:09:33")),
    ("Mar 11 23:27:54 server postfix-smo/submission/smtpd[22427]: 44JCRG5tYPzCqt2: reject: BDAT from signing-milter.example.com[192.0.2.109]: 550 5.5.3 <DATA>: Data command rejected: Multi-recipient bounce; from=<> to=<some@example.com> proto=ESMTP helo=<domain.tld>",
        "44JCRG5tYPzCqt2", Bsd(b"Mar 11 23:27:54")),
    // cleanup's own refusals.
    ("Nov 23 02:13:27 mx postfix/cleanup[10739]: 0C0BD98C24A: reject: body BODY-REJECT-MARKER here from localhost[127.0.0.1]; from=<someone@outside.example> to=<sseuser@sse-test.example> proto=ESMTP helo=<client.example>: 5.7.1 Body contains forbidden content",
        "0C0BD98C24A", Bsd(b"Nov 23 02:13:27")),
    // whyscream
    ("Jan  1 00:00:00 peerhost postfix/cleanup[1]: 4104E3D: milter-reject: END-OF-MESSAGE from 061238241086.static.ctinets.com[61.238.241.86]: 5.7.1 Blocked by SpamAssassin; from=<wumt5@cchfdc.com> to=<voorzitter@example.com> proto=ESMTP helo=<ecsolved.com>",
        "4104E3D", Bsd(b"Jan  1 00:00:00")),
    // No queue file yet: `NOQUEUE`, and lines without an id.
    ("Nov 23 02:13:27 mx postfix/smtpd[12391]: NOQUEUE: reject: RCPT from localhost[127.0.0.1]: 554 5.7.1 <victim@elsewhere.example>: Relay access denied; from=<someone@outside.example> to=<victim@elsewhere.example> proto=ESMTP helo=<client.example>",
        "", Bsd(b"Nov 23 02:13:27")),
    ("Nov 23 02:19:33 mx postfix/postscreen[26768]: NOQUEUE: reject: CONNECT from [127.0.0.7]:59857: too many connections",
        "", Bsd(b"Nov 23 02:19:33")),
    ("Nov 23 02:17:32 mx postfix/smtpd[23283]: proxy-reject: END-OF-MESSAGE: 554 5.7.1 Rejected by content filter: spam score 12.3; from=<someone@outside.example> to=<sseuser@sse-test.example> proto=ESMTP helo=<client.example>",
        "", Bsd(b"Nov 23 02:17:32")),
    // crowdsec: rsyslog's RFC 3339 stamp.
    ("2024-08-29T01:08:59.764590+00:00 machine postfix/smtpd[1938053]: NOQUEUE: reject: RCPT from unknown[192.168.1.1]: 504 5.5.2 <WIN-9QL4SDRB93L>: Helo command rejected: need fully-qualifiedhostname; from=<spammer@domain.tld> to=<spammer@domain.tld> proto=ESMTP helo=<WIN-9QL4SDRB93L>",
        "", Iso(b"2024-08-29T01:08:59.764590+00:00")),
];

#[test]
fn queue_id_and_time() {
    check_origins(parse, ORIGINS);
}

/// Every reply of both captures carries its line's stamp and queue id.
#[test]
fn fixtures_give_each_reply_its_queue_id_and_time() {
    let e2e = include_str!("../../../tests/fixtures/postfix/e2e-run.log");
    assert!(check_fixture_origins(parse, e2e, first_word_id) > 700);
    let capture = include_str!("../../../tests/fixtures/postfix/parser-capture.log");
    assert!(check_fixture_origins(parse, capture, first_word_id) > 100);
}

#[test]
fn daemons() {
    assert_eq!(daemon_of(b"postfix/smtpd"), Some(Daemon::Smtpd));
    assert_eq!(daemon_of(b"postfix/submission/smtpd"), Some(Daemon::Smtpd));
    assert_eq!(daemon_of(b"postfix-out/smtp"), Some(Daemon::Other));
    assert_eq!(daemon_of(b"postfix/postscreen"), Some(Daemon::Postscreen));
    assert_eq!(daemon_of(b"postfix/cleanup"), Some(Daemon::Cleanup));
    assert_eq!(daemon_of(b"smtpd"), None);
    assert_eq!(daemon_of(b"/smtpd"), None);
    assert_eq!(daemon_of(b"postfix/"), None);
    assert_eq!(daemon_of(b"dovecot"), None);
    assert_eq!(daemon_of(b"postfix/smtpdx"), None);
}
