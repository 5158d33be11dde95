//! The parser's tables of real lines and its checks on cut lines.

use super::*;
use crate::parse::render_for_tests as render;
use crate::parse::stamp::{check_fixture_origins, check_origins, first_word_id, Origin};
use crate::parse::Stamp::Bsd;

/// Real lines of Sendmail 8.17.1.9 (Debian 12), with what they must read as, and the text
/// that makes the line countable (a cut before its end may read as another, ignored kind).
const CASES: &[(&str, &str, &str)] = &[
    ("Nov 23 04:45:24 mx sm-mta[31009]: 6AN4jO5g031007: to=<r250-d@d1.test>,<r250-a@d1.test>, delay=00:00:00, xdelay=00:00:00, mailer=esmtp, pri=180015, relay=[127.0.0.2] [127.0.0.2], dsn=2.0.0, stat=Sent (Ok: queued as ABC123)",
        "outbound delivered - 2.0.0 d1.test,d1.test", "to="),
    ("Nov 23 04:45:24 mx sm-mta[31009]: 6AN4jO5g031007: to=<r550-5.1.1-b@d1.test>, delay=00:00:00, xdelay=00:00:00, mailer=esmtp, pri=180015, relay=[127.0.0.2] [127.0.0.2], dsn=5.1.1, reply=550 5.1.1 Reply for <r550-5.1.1-b@d1.test> (sink), stat=User unknown",
        "outbound bounced 550 5.1.1 d1.test", "to="),
    ("Nov 23 04:45:24 mx sm-mta[31009]: 6AN4jO5g031007: to=<r550-e@d1.test>, delay=00:00:00, xdelay=00:00:00, mailer=esmtp, pri=180015, relay=[127.0.0.2] [127.0.0.2], dsn=5.1.1, reply=550 Reply for <r550-e@d1.test> (sink), stat=User unknown",
        "outbound bounced 550 5.1.1 d1.test", "to="),
    ("Nov 23 04:45:24 mx sm-mta[31009]: 6AN4jO5g031007: to=<r451-4.7.1-c@d1.test>, delay=00:00:00, xdelay=00:00:00, mailer=esmtp, pri=180015, relay=[127.0.0.2] [127.0.0.2], dsn=4.7.1, reply=451 4.7.1 Reply for <r451-4.7.1-c@d1.test> (sink), stat=Deferred: 451 4.7.1 Reply for <r451-4.7.1-c@d1.test> (sink)",
        "outbound deferred 451 4.7.1 d1.test", "to="),
    ("Nov 23 04:45:24 mx sm-mta[31009]: 6AN4jO5g031007: to=<x@down.test>, delay=00:00:00, xdelay=00:00:00, mailer=relay, pri=180015, relay=[127.0.0.1] [127.0.0.1], dsn=4.4.1, stat=Deferred: Connection refused by [127.0.0.1]",
        "outbound deferred - 4.4.1 down.test", "to="),
    ("Nov 23 04:42:07 mx sm-mta[24678]: 6AN4g7aq024676: to=<r550-e@d1.test>,<r250-d@d1.test>,<r451-4.7.1-c@d1.test>,<r550-5.1.1-b@d1.test>,<r250-a@d1.test>, delay=00:00:00, xdelay=00:00:00, mailer=esmtp, pri=180015, relay=d1.test., dsn=5.1.2, stat=Host unknown (Name server: d1.test.: host not found)",
        "outbound bounced - 5.1.2 d1.test,d1.test,d1.test,d1.test,d1.test", "to="),
    ("Nov 23 04:46:18 mx sm-mta[417]: 6AN4kIPg000415: to=<nobody@mx.e2e.test>, delay=00:00:00, xdelay=00:00:00, mailer=local, pri=120289, dsn=4.0.0, stat=Operating system error",
        "outbound deferred - 4.0.0 mx.e2e.test", "to="),
    ("Nov 23 04:45:45 mx sendmail[31739]: 6AN4jO5g031007: to=<r451-4.7.1-c@D1.test>, delay=00:00:21, xdelay=00:00:00, mailer=esmtp, pri=270015, relay=[127.0.0.2] [127.0.0.2], dsn=4.7.1, reply=451 4.7.1 Reply for <r451-4.7.1-c@d1.test> (sink), stat=Deferred: 451 4.7.1 Reply for <r451-4.7.1-c@d1.test> (sink)",
        "outbound deferred 451 4.7.1 D1.test", "to="),
    ("Nov 23 04:42:07 mx sm-mta[24678]: 6AN4g7ar024678: to=postmaster, delay=00:00:00, mailer=local, pri=32063, stat=queued",
        "Ignored", ""),
    // Expiry.
    ("Nov 23 04:45:45 mx sendmail[31739]: 6AN4jO5g031007: 6AN4jjRl031739: DSN: Cannot send message for 10 seconds",
        "Expired", "DSN: Cannot send message for "),
    ("Nov 23 04:45:24 mx sm-mta[31009]: 6AN4jO5g031007: 6AN4jO5g031009: DSN: User unknown", "Ignored", ""),
    ("Nov 23 04:42:07 mx sm-mta[24678]: 6AN4g7aq024678: 6AN4g7ar024678: return to sender: Host unknown (Name server: d1.test.: host not found)", "Ignored", ""),
    // Inbound.
    ("Nov 23 04:46:28 mx sm-mta[944]: 6AN4kS7O000944: ruleset=check_rcpt, arg1=<nouser@in.test>, relay=[127.0.0.10], reject=550 5.1.1 <nouser@in.test>... Mailbox does not exist",
        "inbound rejected 550 5.1.1 in.test", "ruleset="),
    ("Nov 23 04:46:28 mx sm-mta[944]: 6AN4kS7O000944: ruleset=check_rcpt, arg1=<later@in.test>, relay=[127.0.0.10], reject=450 4.2.0 <later@in.test>... Mailbox busy,try again later",
        "inbound rejected 450 4.2.0 in.test", "ruleset="),
    ("Nov 23 04:45:25 mx sm-mta[31105]: 6AN4jP1E031105: ruleset=check_rcpt, arg1=<relay@elsewhere.test>, relay=[127.0.0.10], reject=550 5.7.1 <relay@elsewhere.test>... Relaying denied. IP name lookup failed [127.0.0.10]",
        "inbound rejected 550 5.7.1 elsewhere.test", "ruleset="),
    ("Nov 23 04:45:25 mx sm-mta[31173]: ruleset=check_relay, arg1=[127.0.0.9], arg2=127.0.0.9, relay=[127.0.0.9], reject=550 5.7.1 Access denied",
        "inbound rejected 550 5.7.1 ", "ruleset="),
    ("Nov 23 04:41:57 mx sendmail[24165]: 6AN4fvrt024165: ruleset=check_mail, arg1=<r250-sender@d1.test>, relay=localhost [127.0.0.1], reject=553 5.1.8 <r250-sender@d1.test>... Domain of sender address r250-sender@d1.test does not exist",
        "inbound rejected 553 5.1.8 ", "ruleset="),
    ("Nov 23 04:46:28 mx sm-mta[944]: 6AN4kS7O000944: <nosuchuser@mx.e2e.test>... User unknown",
        "inbound rejected - - mx.e2e.test", "User unknown"),
    // sendmail_no_such_user_here_is_a_refusal: a real line of fail2ban's tests (a
    // `virtusertable` `error:nouser No such user here` entry)
    ("Nov  3 11:35:30 Microsoft sendmail[26254]: rA37ZTSC026250: <arhipov@domain.com>... No such user here",
        "inbound rejected - - domain.com", "No such user here"),
    ("Nov 23 05:17:58 mx sm-mta[7890]: 6AN5HwaW007890: Milter: to=<miltrej-a0@in.test>, reject=550 5.7.1 Recipient rejected by the e2e milter",
        "inbound rejected 550 5.7.1 in.test", "reject="),
    ("Nov 23 05:17:58 mx sm-mta[7901]: 6AN5HwvN007901: Milter: data, reject=554 5.7.1 Message rejected by the e2e milter",
        "inbound rejected 554 5.7.1 ", "reject="),
    ("Nov 23 05:17:58 mx sm-mta[7901]: 6AN5HwvN007901: to=<r250-in-m0@in.test>, delay=00:00:00, pri=30052, stat=Message rejected by the e2e milter",
        "Ignored", ""),
    // Not replies.
    ("Nov 23 04:46:28 mx sm-mta[944]: 6AN4kS7O000944: from=<r250-sender@d1.test>, size=15, class=0, nrcpts=1, msgid=<202611230446.6AN4kS7O000944@mx.e2e.test>, proto=ESMTP, daemon=MTA, relay=[127.0.0.10]", "Ignored", ""),
    ("Nov 23 04:42:05 mx sm-mta[24557]: starting daemon (8.17.1.9): SMTP", "Ignored", ""),
    ("Nov 23 04:41:38 mx sendmail[23059]: NOQUEUE: SYSERR(root): readcf: DontBlameSendmail option: WorldWritableDirPathSafe unrecognized", "Ignored", ""),
    ("Nov 23 04:46:18 mx sm-mta[420]: 6AN4kIPg000415: Warning: program /usr/bin/procmail unsafe: No such file or directory", "Ignored", ""),
    ("Nov 23 04:46:28 mx postfix/smtp[944]: 6AN4kS7O000944: to=<a@b>, relay=none, delay=1, dsn=2.0.0, status=sent (ok)", "Ignored", ""),
    // Garbled.
    ("Nov 23 04:45:24 mx sm-mta[31009]: 6AN4jO5g031007: to=<a@d1.test>, delay=00:00:00, dsn=9.9.9, stat=User unknown", "Unrecognised", ""),
    ("Nov 23 04:45:24 mx sm-mta[31009]: 6AN4jO5g031007: to=<a@d1.test>, delay=00:00:00, mailer=esmtp, stat=Something", "Unrecognised", ""),
    ("Nov 23 04:46:28 mx sm-mta[944]: 6AN4kS7O000944: ruleset=check_rcpt, arg1=<x@in.test>, relay=[127.0.0.10], reject=Mailbox busy", "Unrecognised", ""),
    ("sm-mta[944] no header", "Unrecognised", ""),
];

#[test]
fn cases() {
    for (line, want, _) in CASES {
        assert_eq!(render(&parse(line.as_bytes())), *want, "{line}");
        assert!(claims(line.as_bytes()) || *want == "Ignored" || *want == "Unrecognised");
    }
}

/// Reads each real line as `want`, and claims it for Sendmail.
fn reads_as(lines: &[(&str, &str)]) {
    for (line, want) in lines {
        assert_eq!(render(&parse(line.as_bytes())), *want, "{line}");
        assert!(claims(line.as_bytes()), "{line}");
    }
}

/// FreeBSD's `syslogd -v` writes `<mail.notice>` before the host: once unrecognised.
#[test]
fn freebsd_priority_before_host_is_read() {
    reads_as(&[
        ("Jun 17 14:37:39 <mail.notice> robin sm-mta[2794]: 55HIbcGI002794: <baduser@yourhost.com>... User unknown",
            "inbound rejected - - yourhost.com"),
        ("Jun 18 08:05:17 <mail.notice> myhost sm-mta[17002]: 55IC59VD017002: ruleset=check_rcpt, arg1=<spameri@tiscali.it>, relay=[45.125.66.67], reject=450 4.4.0 <spameri@tiscali.it>... Relaying temporarily denied. Cannot resolve PTR record for 45.125.66.67",
            "inbound rejected 450 4.4.0 tiscali.it"),
        ("Jun 17 14:37:39 <mail.info> robin sm-mta[2794]: 55HIbcGI002794: from=<root@yourhost.com>, size=108, class=0, nrcpts=0, proto=ESMTP, daemon=MTA-v4, relay=[192.168.1.45]",
            "Ignored"),
    ]);
}

/// Solaris's syslog writes `[ID 801593 mail.notice]` before the message: once ignored.
#[test]
fn solaris_message_id_is_read() {
    reads_as(&[
        ("Jan  1 00:00:00 peerhost sendmail[7735]: [ID 801593 mail.notice] k856Hah0007735: ruleset=check_rcpt, arg1=<sc@sd.com>, relay=[216.22.33.7], reject=553 5.3.0 <sc@sd.com>... Spammer 216.22.33.7 usergl@displaytoward.net rejected by RBL:http://www.spamhaus.org/",
            "inbound rejected 553 5.3.0 sd.com"),
    ]);
}

/// The daemon logging under its process title: once ignored as another program.
#[test]
fn sm_acceptingconnections_is_sendmail() {
    reads_as(&[
        ("Feb 25 03:01:10 kismet sm-acceptingconnections[27713]: s1P819mk027713: ruleset=check_rcpt, arg1=<asservnew@freemailhost.ru>, relay=128-68-136-133.broadband.corbina.ru [128.68.136.133], reject=550 5.7.1 <asservnew@freemailhost.ru>... Relaying denied. Proper authentication required.",
            "inbound rejected 550 5.7.1 freemailhost.ru"),
    ]);
}

#[test]
fn claims_only_sendmail_tags() {
    for (line, mine) in [
        (
            "Nov 23 04:42:05 mx sm-mta[24557]: starting daemon (8.17.1.9): SMTP",
            true,
        ),
        (
            "Nov 23 04:45:45 mx sendmail[31739]: 6AN4jO5g031007: x",
            true,
        ),
        ("Nov 23 04:45:45 mx sm-msp-queue[1]: x", true),
        ("Nov 23 04:45:45 mx postfix/sendmail[1]: fatal: x", false),
        (
            "Nov 23 04:45:45 mx smtpd[1]: 965e751d1f4eb33a smtp connected",
            false,
        ),
        ("not a syslog line", false),
    ] {
        assert_eq!(claims(line.as_bytes()), mine, "{line}");
    }
}

#[test]
fn every_cut_is_unrecognised_or_right() {
    for (line, want, marker) in CASES {
        if *want == "Ignored" || *want == "Unrecognised" {
            continue;
        }
        let decided = line.find(marker).map_or(0, |i| i + marker.len());
        for cut in 0..line.len() {
            let got = render(&parse(&line.as_bytes()[..cut]));
            assert!(
                got == "Unrecognised" || got == *want || (cut < decided && got == "Ignored"),
                "{cut} of {line}: {got}"
            );
        }
    }
}

#[test]
fn text_and_delay() {
    let line = b"Nov 23 04:45:45 mx sendmail[31739]: 6AN4jO5g031007: to=<c@d1.test>, delay=1+00:00:21, xdelay=00:00:00, mailer=esmtp, pri=270015, relay=[127.0.0.2] [127.0.0.2], dsn=4.7.1, reply=451 4.7.1 Try later, please, stat=Deferred: 451 4.7.1 Try later, please";
    let Parsed::Event(Event::Reply(r)) = parse(line) else {
        panic!("not a reply")
    };
    assert_eq!(r.text, b"451 4.7.1 Try later, please");
    assert_eq!(r.delay, Some(86_421.0));
    let sent = b"Nov 23 04:45:24 mx sm-mta[31009]: 6AN4jO5g031007: to=<a@d1.test>, delay=00:00:03, mailer=esmtp, dsn=2.0.0, stat=Sent (Ok: queued as ABC123)";
    let Parsed::Event(Event::Reply(r)) = parse(sent) else {
        panic!("not a reply")
    };
    assert_eq!(r.text, b"Sent (Ok: queued as ABC123)");
    let rej = b"Nov 23 04:46:28 mx sm-mta[944]: 6AN4kS7O000944: ruleset=check_rcpt, arg1=<nouser@in.test>, relay=[127.0.0.10], reject=550 5.1.1 <nouser@in.test>... Mailbox does not exist";
    let Parsed::Event(Event::Reply(r)) = parse(rej) else {
        panic!("not a reply")
    };
    assert_eq!(
        r.text,
        &b"550 5.1.1 <nouser@in.test>... Mailbox does not exist"[..]
    );
    let unk =
        b"Nov 23 04:46:28 mx sm-mta[944]: 6AN4kS7O000944: <nosuchuser@mx.e2e.test>... User unknown";
    let Parsed::Event(Event::Reply(r)) = parse(unk) else {
        panic!("not a reply")
    };
    assert_eq!(r.text, b"User unknown");
}

/// Real lines with the queue id and stamp their reply carries. Unmarked: Sendmail 8.17.1.9
/// (Debian 12); `fail2ban`, `wazuh`: the peers' lines in shared/corpora/peers/<project>/.
const ORIGINS: &[Origin] = &[
    ("Nov 23 04:45:24 mx sm-mta[31009]: 6AN4jO5g031007: to=<r250-d@d1.test>,<r250-a@d1.test>, delay=00:00:00, xdelay=00:00:00, mailer=esmtp, pri=180015, relay=[127.0.0.2] [127.0.0.2], dsn=2.0.0, stat=Sent (Ok: queued as ABC123)",
        "6AN4jO5g031007", Bsd(b"Nov 23 04:45:24")),
    ("Nov 23 04:46:28 mx sm-mta[944]: 6AN4kS7O000944: ruleset=check_rcpt, arg1=<nouser@in.test>, relay=[127.0.0.10], reject=550 5.1.1 <nouser@in.test>... Mailbox does not exist",
        "6AN4kS7O000944", Bsd(b"Nov 23 04:46:28")),
    ("Nov 23 04:46:28 mx sm-mta[944]: 6AN4kS7O000944: <nosuchuser@mx.e2e.test>... User unknown",
        "6AN4kS7O000944", Bsd(b"Nov 23 04:46:28")),
    ("Nov 23 05:17:58 mx sm-mta[7901]: 6AN5HwvN007901: Milter: data, reject=554 5.7.1 Message rejected by the e2e milter",
        "6AN5HwvN007901", Bsd(b"Nov 23 05:17:58")),
    // A connection refused before any envelope: the line has no id.
    ("Nov 23 04:45:25 mx sm-mta[31173]: ruleset=check_relay, arg1=[127.0.0.9], arg2=127.0.0.9, relay=[127.0.0.9], reject=550 5.7.1 Access denied",
        "", Bsd(b"Nov 23 04:45:25")),
    // fail2ban
    ("Feb 24 01:46:44 petermurray sm-mta[24422]: ruleset=check_relay, arg1=leased-line-54-82.telecom.by, arg2=217.21.54.82, relay=leased-line-54-82.telecom.by [217.21.54.82], reject=421 4.3.2 Connection rate limit exceeded.",
        "", Bsd(b"Feb 24 01:46:44")),
    ("Jun 17 14:37:39 <mail.notice> robin sm-mta[2794]: 55HIbcGI002794: <baduser@yourhost.com>... User unknown",
        "55HIbcGI002794", Bsd(b"Jun 17 14:37:39")),
    // wazuh: Solaris's message id before the queue id; a pid of 8 digits makes a 16-character
    // queue id; the submission queue runner.
    ("Jan  1 00:00:00 peerhost sendmail[7735]: [ID 801593 mail.notice] k856Hah0007735: ruleset=check_rcpt, arg1=<sc@sd.com>, relay=[216.22.33.7], reject=553 5.3.0 <sc@sd.com>... Spammer 216.22.33.7 usergl@displaytoward.net rejected by RBL:http://www.spamhaus.org/",
        "k856Hah0007735", Bsd(b"Jan  1 00:00:00")),
    ("Jan  1 00:00:00 peerhost sendmail[15806618]: k1SN9pkK15806618: ruleset=check_mail, arg1=<rtreter@qffff.com>, relay=dsl.static81215198185.ttnet.net.tr [81.215.198.185] (may be forged), reject=553 5.1.8 <rtreter@qffff.com>... Domain of sender address rtreter@qffff.com does not exist",
        "k1SN9pkK15806618", Bsd(b"Jan  1 00:00:00")),
    ("Jan  1 00:00:00 peerhost sm-msp-queue[13484]: k5TKj6L5012934: to=root, ctladdr=root (0/0), delay=00:04:00, xdelay=00:00:00, mailer=relay, pri=120112, relay=[127.0.0.1], dsn=4.0.0, stat=Deferred: Connection refused by [127.0.0.1]",
        "k5TKj6L5012934", Bsd(b"Jan  1 00:00:00")),
];

#[test]
fn queue_id_and_time() {
    check_origins(parse, ORIGINS);
}

/// Every reply of the capture carries its line's stamp and queue id.
#[test]
fn fixture_gives_each_reply_its_queue_id_and_time() {
    let log = include_str!("../../../tests/fixtures/sendmail/e2e-run.log");
    assert!(check_fixture_origins(parse, log, first_word_id) > 100);
}
