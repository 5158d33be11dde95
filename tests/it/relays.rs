//! The `provider` and `stage` of real lines through the whole binary (`explain` of a log
//! line: the parser's relay and stage, then the provider table): the Postfix, Sendmail and
//! OpenSMTPD ways of naming the host that answered, each read as its provider. Lines from the
//! end-to-end runs whose sink had providers' MX names (tests/it/harness/hosts.rs, 2026-12-07)
//! and from the peers' corpora (shared/corpora/peers/).

// A test crate: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use crate::harness::exporter::binary;

/// Each line, its provider and the stage of its failure.
const CASES: &[(&str, &str, &str)] = &[
    // Postfix: `relay=name[address]:port`, the command of `(in reply to …)`.
    ("Dec 07 05:30:54 mta postfix/smtp[17107]: 430D499A073: to=<r550-m0009r0@D1.TEST>, relay=gmail-smtp-in.l.google.com[127.0.0.2]:39643, delay=0.06, delays=0/0.05/0.01/0, dsn=5.0.0, status=bounced (host gmail-smtp-in.l.google.com[127.0.0.2] said: 550 No such user here <r550-m0009r0@D1.TEST> (e2e sink) (in reply to RCPT TO command))",
        "google", "rcpt"),
    ("Dec 07 05:30:54 mta postfix/smtp[17108]: 480D499A013: to=<r250-d554-5.7.1-m0013r0@d2.test>, relay=contoso-com.mail.protection.outlook.com[127.0.0.3]:39643, conn_use=3, delay=0.05, delays=0.01/0.03/0/0, dsn=5.7.1, status=bounced (host contoso-com.mail.protection.outlook.com[127.0.0.3] said: 554 5.7.1 Rejected by policy <message> (e2e sink) (in reply to end of DATA command))",
        "microsoft", "end_of_data"),
    // whyscream: relay=none, the host of the reason (the error agent's).
    ("Jan  1 00:00:00 peerhost postfix/error[1]: 2DC5552A34: to=<user@yahoo.com>, relay=none, delay=63495, delays=63350/144/0/0, dsn=4.4.2, status=deferred (delivery temporarily suspended: lost connection with mta7.am0.yahoodns.net[98.136.216.22] while sending RCPT TO)",
        "yahoo", "rcpt"),
    // Sendmail: `relay=name [address]`.
    ("Dec  7 05:30:58 mx sm-mta[18099]: 6B75UwVc018081: to=<r554-5.7.1-m0003r0@d1.test>, delay=00:00:00, xdelay=00:00:00, mailer=esmtp, pri=30153, relay=gmail-smtp-in.l.google.com [127.0.0.2], dsn=5.7.1, reply=554 5.7.1 Rejected by policy <r554-5.7.1-m0003r0@d1.test> (e2e sink), stat=Service unavailable",
        "google", ""),
    // OpenSMTPD: `relay="address (reverse name)"`.
    ("Dec  7 05:30:13 mx smtpd[14159]: a896d6cd54b1b775 mta delivery evpid=6552a10422f45cae from=<r250-sender-m0010@snd.test> to=<r450-4.2.0-m0010r0@d2.test> rcpt=<-> source=\"127.0.0.1\" relay=\"127.0.0.3 (contoso-com.mail.protection.outlook.com)\" delay=1s result=\"TempFail\" stat=\"450 4.2.0 Mailbox unavailable, try again later <r450-4.2.0-m0010r0@d2.test> (e2e sink)\"",
        "microsoft", ""),
    // vedetta-caesonia: no reverse name; the recipient's domain decides.
    ("Mar 22 17:56:37 mercury smtpd[45037]: 8f4864084ecc48f4 mta event=delivery evpid=7077717e797a776e from=<puffy@example.com> to=<bill@hotmail.com> rcpt=<-> source=\"203.0.113.1\" relay=\"104.47.38.33 (104.47.38.33)\" delay=1s result=\"PermFail\" stat=\"550 5.7.1 Unfortunately, messages from [203.0.113.1] weren't sent. Please contact your Internet service provider since part of their network is on our block list (AS3150). You can also refer your provider to http://mail.live.com/mail/troubleshooting.aspx#errors. [BL2NAM02FT031.eop-nam02.prod.protection.outlook.com]\"",
        "microsoft", ""),
    // Inbound refusals: no provider, the command refused.
    ("Nov 23 04:45:25 mx sm-mta[31173]: ruleset=check_relay, arg1=[127.0.0.9], arg2=127.0.0.9, relay=[127.0.0.9], reject=550 5.7.1 Access denied",
        "", "connect"),
    ("Nov 23 05:35:40 mx smtpd[24232]: f082a5a9ab7338b1 smtp failed-command command=\"MAIL FROM:<blocked-0@snd.test>\" result=\"553 5.7.1 Sender refused by the e2e test\"",
        "", "mail"),
];

#[test]
fn real_lines_name_their_provider_and_stage() {
    for (line, provider, stage) in CASES {
        let o = Command::new(binary())
            .args(["explain", "--format", "json", line])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{line}");
        let x: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(
            [&x[0]["provider"], &x[0]["stage"]],
            [provider, stage],
            "{line}\n{x}"
        );
    }
}
