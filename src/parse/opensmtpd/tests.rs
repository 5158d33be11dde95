//! The parser's tables of real lines and its checks on cut lines.

use super::*;
use crate::parse::render_for_tests as render;
use crate::parse::stamp::{check_fixture_origins, check_origins, Origin};
use crate::parse::Stamp::Bsd;

/// OpenSMTPD 6.0.x (the line an install guide quotes, vedetta-caesonia).
const OLD_60_DELIVERY: &str = "Mar 22 17:56:37 mercury smtpd[45037]: 8f4864084ecc48f4 mta event=delivery evpid=7077717e797a776e from=<puffy@example.com> to=<bill@hotmail.com> rcpt=<-> source=\"203.0.113.1\" relay=\"104.47.38.33 (104.47.38.33)\" delay=1s result=\"PermFail\" stat=\"550 5.7.1 Unfortunately, messages from [203.0.113.1] weren't sent. Please contact your Internet service provider since part of their network is on our block list (AS3150). You can also refer your provider to http://mail.live.com/mail/troubleshooting.aspx#errors. [BL2NAM02FT031.eop-nam02.prod.protection.outlook.com]\"";
/// OpenSMTPD 6.0.x (sshguard's tests; the syslog header was added).
const OLD_60_FAILED: &str = "Jan  1 00:00:00 peerhost smtpd[1]: 38dd06274cde1fd7 smtp event=failed-command address=185.236.202.133 host=no-mans-land.m247.com command=\"AUTH LOGIN\" result=\"503 5.5.1 Invalid command: Command not supported\"";
/// OpenSMTPD 5.x (wazuh's tests).
const OLD_5_FAILED: &str = "Aug 14 10:15:25 junction.example.com smtpd[28882]: smtp-in: Failed command on session 1f55bdcdf16e28a3: \"MAIL FROM:<root@junction.example.com>  \" => 421 4.3.0: Temporary Error";

/// Real lines of OpenSMTPD 6.8.0p2 (Debian 12), what they must read as, and the text that
/// makes the line countable (a cut before its end may read as an ignored line).
const CASES: &[(&str, &str, &str)] = &[
    ("Nov 23 05:03:54 mx smtpd[17488]: 965e751d1f4eb33a mta delivery evpid=a2b68e0e2f5364d0 from=<r250-sender@d1.test> to=<r250-d@d1.test> rcpt=<-> source=\"127.0.0.1\" relay=\"127.0.0.2 (127.0.0.2)\" delay=1s result=\"Ok\" stat=\"250 2.0.0 Ok: queued as ABC123\"",
        "outbound delivered 250 2.0.0 d1.test", "mta delivery "),
    ("Nov 23 05:03:53 mx smtpd[17488]: 965e751d1f4eb33a mta delivery evpid=a2b68e0e23eb0375 from=<r250-sender@d1.test> to=<r451-4.7.1-c@D1.test> rcpt=<-> source=\"127.0.0.1\" relay=\"127.0.0.2 (127.0.0.2)\" delay=0s result=\"TempFail\" stat=\"451 4.7.1 Reply for <r451-4.7.1-c@d1.test> (sink)\"",
        "outbound deferred 451 4.7.1 D1.test", "mta delivery "),
    ("Nov 23 05:03:53 mx smtpd[17488]: 965e751d1f4eb33a mta delivery evpid=a2b68e0ee00c3125 from=<r250-sender@d1.test> to=<r550-5.1.1-b@d1.test> rcpt=<-> source=\"127.0.0.1\" relay=\"127.0.0.2 (127.0.0.2)\" delay=0s result=\"PermFail\" stat=\"550 5.1.1 Reply for <r550-5.1.1-b@d1.test> (sink)\"",
        "outbound bounced 550 5.1.1 d1.test", "mta delivery "),
    ("Nov 23 05:03:53 mx smtpd[17488]: 965e751d1f4eb33a mta delivery evpid=a2b68e0e831929eb from=<r250-sender@d1.test> to=<r550-e@d1.test> rcpt=<-> source=\"127.0.0.1\" relay=\"127.0.0.2 (127.0.0.2)\" delay=0s result=\"PermFail\" stat=\"550 Reply for <r550-e@d1.test> (sink)\"",
        "outbound bounced 550 - d1.test", "mta delivery "),
    ("Nov 23 05:10:59 mx smtpd[13212]: 0000000000000000 mta delivery evpid=0a528a1ac02d4699 from=<r250-sender-m0005@snd.test> to=<r250-m0005r1@down.test> rcpt=<-> source=\"-\" relay=\"127.0.0.1\" delay=11s result=\"TempFail\" stat=\"Network error on destination MXs\"",
        "outbound deferred - - down.test", "mta delivery "),
    ("Nov 23 05:04:13 mx smtpd[17489]: relay: Expire for a2b68e0e845620dc: from=<r250-sender@d1.test>, to=<x@down.test>, rcpt=<->, delay=20s, stat=Envelope expired",
        "Expired", "Expire for "),
    ("Nov 23 05:03:54 mx smtpd[17488]: 965e751f58c08f79 smtp failed-command command=\"rcpt TO:<nouser@in.test>\" result=\"550 5.1.1 Mailbox does not exist\"",
        "inbound rejected 550 5.1.1 in.test", "smtp failed-command "),
    ("Nov 23 05:03:54 mx smtpd[17488]: 965e751f58c08f79 smtp failed-command command=\"rcpt TO:<later@in.test>\" result=\"450 4.2.0 Mailbox busy\"",
        "inbound rejected 450 4.2.0 in.test", "smtp failed-command "),
    ("Nov 23 05:03:54 mx smtpd[17488]: 965e751f58c08f79 smtp failed-command command=\"rcpt TO:<relay@elsewhere.test>\" result=\"550 Invalid recipient: <relay@elsewhere.test>\"",
        "inbound rejected 550 - elsewhere.test", "smtp failed-command "),
    ("Nov 23 05:03:54 mx smtpd[17488]: 965e7521a7eac7d6 smtp failed-command command=\"RCPT TO: <r250-sender@d1.test>\" result=\"550 Invalid recipient: <r250-sender@d1.test>\"",
        "inbound rejected 550 - d1.test", "smtp failed-command "),
    ("Nov 23 05:35:40 mx smtpd[24232]: f082a5a9ab7338b1 smtp failed-command command=\"MAIL FROM:<blocked-0@snd.test>\" result=\"553 5.7.1 Sender refused by the e2e test\"",
        "inbound rejected 553 5.7.1 ", "smtp failed-command "),
    // OpenSMTPD 6.0 (`event=`), 5.x (`smtp-in: Failed command`): real lines of other
    // projects (see the regression tests below).
    (OLD_60_DELIVERY, "outbound bounced 550 5.7.1 hotmail.com", "event=delivery "),
    (OLD_60_FAILED, "inbound rejected 503 5.5.1 ", "event=failed-command "),
    (OLD_5_FAILED, "inbound rejected 421 4.3.0 ", "Failed command on session "),
    // Not replies.
    ("Nov 23 05:03:50 mx smtpd[17461]: info: OpenSMTPD 6.8.0p2 starting", "Ignored", ""),
    ("Nov 23 05:03:53 mx smtpd[17488]: 965e7517390567c2 smtp connected address=127.0.0.1 host=localhost", "Ignored", ""),
    ("Nov 23 05:03:53 mx smtpd[17488]: 965e7517390567c2 smtp message msgid=a2b68e0e size=394 nrcpt=6 proto=ESMTP", "Ignored", ""),
    ("Nov 23 05:03:53 mx smtpd[17488]: 965e7517390567c2 smtp envelope evpid=a2b68e0e6a09eb96 from=<r250-sender@d1.test> to=<r250-a@d1.test>", "Ignored", ""),
    ("Nov 23 05:03:53 mx smtpd[17488]: 965e751e1f60b289 mta error reason=IO Error: Connection refused", "Ignored", ""),
    ("Nov 23 05:03:53 mx smtpd[17488]: smtp-out: Disabling route [] <-> 127.0.0.1 (localhost) for 15s", "Ignored", ""),
    ("Nov 23 05:03:54 mx smtpd[17489]: warn: PermFail injecting failure report on message a2b68e0e to <r250-sender@d1.test> for 2 envelopes: 550 Invalid recipient: <r250-sender@d1.test>", "Ignored", ""),
    ("Nov 23 05:03:53 mx postfix/smtpd[17488]: NOQUEUE: reject: RCPT from x[1.2.3.4]: 550 5.1.1 no; from=<a@b> to=<c@d> proto=ESMTP helo=<x>", "Ignored", ""),
    // Garbled.
    ("Nov 23 05:03:54 mx smtpd[17488]: 965e751d1f4eb33a mta delivery evpid=a2b68e0e2f5364d0 from=<a@d1.test> to=<b@d1.test> rcpt=<-> delay=1s result=\"Maybe\" stat=\"250 Ok\"", "Unrecognised", ""),
    ("Nov 23 05:03:54 mx smtpd[17488]: 965e751f58c08f79 smtp failed-command command=\"rcpt TO:<x@in.test>\" result=\"Mailbox busy\"", "Unrecognised", ""),
    ("smtpd[1] no header", "Unrecognised", ""),
];

#[test]
fn cases() {
    for (line, want, _) in CASES {
        assert_eq!(render(&parse(line.as_bytes())), *want, "{line}");
    }
    assert!(claims(CASES[0].0.as_bytes()));
    let postfix = CASES
        .iter()
        .find(|c| c.0.contains("postfix/smtpd"))
        .map(|c| c.0);
    assert!(!claims(postfix.unwrap_or_default().as_bytes()));
}

/// OpenSMTPD 6.0's `mta event=delivery` and `smtp event=failed-command` were ignored.
#[test]
fn opensmtpd_6_0_event_lines_are_counted() {
    assert_eq!(
        render(&parse(OLD_60_DELIVERY.as_bytes())),
        "outbound bounced 550 5.7.1 hotmail.com"
    );
    assert_eq!(
        render(&parse(OLD_60_FAILED.as_bytes())),
        "inbound rejected 503 5.5.1 "
    );
    let rcpt = OLD_60_FAILED.replace("AUTH LOGIN", "RCPT TO:<u@in.test>");
    assert_eq!(
        render(&parse(rcpt.as_bytes())),
        "inbound rejected 503 5.5.1 in.test"
    );
    assert!(claims(OLD_60_DELIVERY.as_bytes()) && claims(OLD_60_FAILED.as_bytes()));
    assert!(
        crate::parse::Format::claiming(OLD_60_DELIVERY.as_bytes())
            == Some(crate::parse::Format::OpenSmtpd)
    );
}

/// OpenSMTPD 5.x's delivery statuses (`relay: Ok for …`, `delivery: PermFail for …`) were
/// ignored. No 5.x daemon can be installed here and no peer's corpus holds one: these lines
/// follow the format strings of 5.x's `mta_log` and `mda_log` field by field.
#[test]
fn opensmtpd_5_delivery_lines_are_counted() {
    let cases = [
        ("Jun  3 10:15:02 mx smtpd[2130]: relay: Ok for 4c4d9e84a1b1c3d5: from=<u@example.org>, to=<someone@gmail.com>, relay=gmail-smtp-in.l.google.com [74.125.136.27] delay=2s, stat=250 2.0.0 OK 1433326502 x1si12 - gsmtp",
            "outbound delivered 250 2.0.0 gmail.com"),
        ("Jun  3 10:15:02 mx smtpd[2130]: relay: TempFail for 4c4d9e84a1b1c3d6: from=<u@example.org>, to=<u@yahoo.com>, rcpt=<alias@example.org>, relay=mta5.am0.yahoodns.net [98.136.96.74] delay=1m2s, stat=421 4.7.0 [TSS04] Messages temporarily deferred",
            "outbound deferred 421 4.7.0 yahoo.com"),
        ("Jun  3 10:15:03 mx smtpd[2130]: delivery: Ok for 4c4d9e84a1b1c3d7: from=<u@example.org>, to=<bob@example.org>, user=bob, method=mbox, delay=0s, stat=Delivered",
            "outbound delivered - - example.org"),
        ("Jun  3 10:15:03 mx smtpd[2130]: delivery: PermFail for 4c4d9e84a1b1c3d8: from=<u@example.org>, to=<nobody@example.org>, user=nobody, method=mda, delay=0s, stat=Error (exited with status 67)",
            "outbound bounced - - example.org"),
        ("Jun  3 10:15:03 mx smtpd[2130]: relay: Remove for 4c4d9e84a1b1c3d9: from=<u@example.org>, to=<x@example.net>, delay=3s, stat=Removed by administrator",
            "Ignored"),
    ];
    for (line, want) in cases {
        assert_eq!(render(&parse(line.as_bytes())), want, "{line}");
    }
    // The message id of `for <evpid>:`.
    let Parsed::Event(Event::Reply(r)) = parse(cases[0].0.as_bytes()) else {
        panic!("not a reply")
    };
    assert_eq!(r.queue_id, b"4c4d9e84");
}

/// OpenSMTPD 6.x's local deliveries (`mda delivery … result=Ok stat=Delivered`, unquoted)
/// were ignored. No mda delivery is in our captures or the peers' corpora: these follow
/// the format string of 6.8's `mda_log` (`smtpd/mda.c`) field by field.
#[test]
fn opensmtpd_6_local_deliveries_are_counted() {
    let cases = [
        ("Dec  7 05:00:00 mx smtpd[123]: 0123456789abcdef mda delivery evpid=a1b2c3d4e5f60708 from=<s@example.org> to=<u@example.org> rcpt=<u@example.org> user=u delay=0s result=Ok stat=Delivered",
            "outbound delivered - - example.org"),
        ("Dec  7 05:00:00 mx smtpd[123]: 0123456789abcdef mda delivery evpid=a1b2c3d4e5f60709 from=<> to=<v@example.org> user=v delay=1m2s result=TempFail stat=Error (exited with status 75)",
            "outbound deferred - - example.org"),
        ("Dec  7 05:00:00 mx smtpd[123]: 0123456789abcdef mda delivery evpid=a1b2c3d4e5f6070a from=<s@example.org> to=<w@example.org> user=w delay=0s result=PermFail stat=Error (exited with status 67)",
            "outbound bounced - - example.org"),
    ];
    for (line, want) in cases {
        let parsed = parse(line.as_bytes());
        assert_eq!(render(&parsed), want, "{line}");
        let Parsed::Event(Event::Reply(r)) = parsed else {
            panic!("{line}")
        };
        assert_eq!(r.relay, Relay::Local, "{line}");
        assert_eq!(r.queue_id, b"a1b2c3d4", "{line}");
    }
}

/// OpenSMTPD 5.x's `smtp-in: Failed command on session …` was ignored.
#[test]
fn opensmtpd_5_failed_command_is_counted() {
    assert_eq!(
        render(&parse(OLD_5_FAILED.as_bytes())),
        "inbound rejected 421 4.3.0 "
    );
    let rcpt = OLD_5_FAILED.replace("MAIL FROM:<root@", "RCPT TO:<root@");
    assert_eq!(
        render(&parse(rcpt.as_bytes())),
        "inbound rejected 421 4.3.0 junction.example.com"
    );
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
    let Parsed::Event(Event::Reply(r)) = parse(CASES[1].0.as_bytes()) else {
        panic!("not a reply")
    };
    assert_eq!(
        r.text,
        &b"451 4.7.1 Reply for <r451-4.7.1-c@d1.test> (sink)"[..]
    );
    assert_eq!(r.delay, Some(0.0));
    assert_eq!(parse_duration(b"1h2m3s"), Some(3723.0));
    assert_eq!(parse_duration(b"2d"), Some(172_800.0));
    assert_eq!(parse_duration(b"12"), None);
    let Parsed::Event(Event::Reply(r)) = parse(CASES[6].0.as_bytes()) else {
        panic!("not a reply")
    };
    assert_eq!(r.text, b"550 5.1.1 Mailbox does not exist");
}

/// Real lines with the queue id and stamp their reply carries: a delivery's message id (the
/// first half of `evpid=`), none for a refused command (only a session id).
const ORIGINS: &[Origin] = &[
    ("Nov 23 05:03:54 mx smtpd[17488]: 965e751d1f4eb33a mta delivery evpid=a2b68e0e2f5364d0 from=<r250-sender@d1.test> to=<r250-d@d1.test> rcpt=<-> source=\"127.0.0.1\" relay=\"127.0.0.2 (127.0.0.2)\" delay=1s result=\"Ok\" stat=\"250 2.0.0 Ok: queued as ABC123\"",
        "a2b68e0e", Bsd(b"Nov 23 05:03:54")),
    ("Nov 23 05:10:59 mx smtpd[13212]: 0000000000000000 mta delivery evpid=0a528a1ac02d4699 from=<r250-sender-m0005@snd.test> to=<r250-m0005r1@down.test> rcpt=<-> source=\"-\" relay=\"127.0.0.1\" delay=11s result=\"TempFail\" stat=\"Network error on destination MXs\"",
        "0a528a1a", Bsd(b"Nov 23 05:10:59")),
    (OLD_60_DELIVERY, "7077717e", Bsd(b"Mar 22 17:56:37")),
    ("Nov 23 05:03:54 mx smtpd[17488]: 965e751f58c08f79 smtp failed-command command=\"rcpt TO:<nouser@in.test>\" result=\"550 5.1.1 Mailbox does not exist\"",
        "", Bsd(b"Nov 23 05:03:54")),
    (OLD_60_FAILED, "", Bsd(b"Jan  1 00:00:00")),
    (OLD_5_FAILED, "", Bsd(b"Aug 14 10:15:25")),
];

#[test]
fn queue_id_and_time() {
    check_origins(parse, ORIGINS);
}

/// The message id as a person reads it: the first 8 of the 16 digits after `evpid=`.
fn evpid_msgid(line: &str) -> &str {
    line.split_once(" evpid=")
        .and_then(|(_, v)| v.get(..8))
        .unwrap_or("")
}

/// Every reply of the capture carries its line's stamp and message id; the capture holds
/// the `smtp message msgid=…` line of each message whose deliveries it counts.
#[test]
fn fixture_gives_each_reply_its_message_id_and_time() {
    let log = include_str!("../../../tests/fixtures/opensmtpd/e2e-run.log");
    assert!(check_fixture_origins(parse, log, evpid_msgid) > 100);
    for line in log.lines().filter(|l| l.contains(" mta delivery ")) {
        let msgid = format!("msgid={}", evpid_msgid(line));
        assert!(log.contains(&msgid), "{line}");
    }
}
