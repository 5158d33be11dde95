//! The Exim parser's table tests: real lines and what they count as.

use super::*;
use crate::parse::render_for_tests as render;
use crate::parse::render_with_queue_id_for_tests as render_id;
use crate::parse::Stamp;

/// Real lines of Exim 4.96 (Debian 12), and what they count as.
const CASES: &[(&str, &str)] = &[
    (r#"2026-11-23 04:43:51 [27568] 1xVLuB-0007Ad-2b => r250-m1@d1.test R=to_sink T=sink_smtp H=127.0.0.2 [127.0.0.2] C="250 2.0.0 Ok: queued as S1""#, "outbound delivered 250 2.0.0 d1.test id=1xVLuB-0007Ad-2b"),
    (r#"2026-11-23 04:43:51 [27568] 1xVLuB-0007Ad-2b -> r250-m2@d1.test R=to_sink T=sink_smtp H=127.0.0.2 [127.0.0.2] C="250 2.0.0 Ok: queued as S1""#, "outbound delivered 250 2.0.0 d1.test id=1xVLuB-0007Ad-2b"),
    ("2026-11-23 04:41:54 [23939] 1xVLsI-0006E6-2u => :blackhole: <ok@in.test> R=inbound", "outbound delivered - - in.test id=1xVLsI-0006E6-2u"),
    ("2026-11-23 04:41:53 [23819] 1xVLsH-0006CA-1x == r451-4.7.1-a2@d1.test R=to_sink T=sink_smtp defer (-44) H=127.0.0.2 [127.0.0.2]: SMTP error from remote mail server after RCPT TO:<r451-4.7.1-a2@d1.test>: 451 4.7.1 reply for <r451-4.7.1-a2@d1.test> (e2e sink)", "outbound deferred 451 4.7.1 d1.test id=1xVLsH-0006CA-1x"),
    ("2026-11-23 04:41:53 [23819] 1xVLsH-0006CA-1x == x1@down.test R=to_down T=down_smtp defer (111): Connection refused", "outbound deferred - - down.test id=1xVLsH-0006CA-1x"),
    ("2026-11-23 04:41:54 [23887] 1xVLsI-0006DG-1Q == x2@down.test R=to_down T=down_smtp defer (-54): retry time not reached for any host for 'down.test'", "outbound deferred - - down.test id=1xVLsI-0006DG-1Q"),
    ("2026-11-23 04:41:58 [24169] 1xVLsH-0006CA-1x == r451-4.7.1-a2@d1.test routing defer (-52): retry time not reached", "outbound deferred - - d1.test id=1xVLsH-0006CA-1x"),
    ("2026-11-23 04:41:54 [23887] 1xVLsI-0006DG-1Q ** r250-d554-5.7.1-b1@d1.test R=to_sink T=sink_smtp H=127.0.0.2 [127.0.0.2]: SMTP error from remote mail server after end of data: 554 5.7.1 content refused", "outbound bounced 554 5.7.1 d1.test id=1xVLsI-0006DG-1Q"),
    ("2026-11-23 04:43:51 [27568] 1xVLuB-0007Ad-2b ** r550-5.1.1-ml-m3@d1.test R=to_sink T=sink_smtp H=127.0.0.2 [127.0.0.2]: SMTP error from remote mail server after RCPT TO:<r550-5.1.1-ml-m3@d1.test>: 550 5.1.1 reply for <r550-5.1.1-ml-m3@d1.test> (e2e sink)", "outbound bounced 550 5.1.1 d1.test id=1xVLuB-0007Ad-2b"),
    ("2026-11-23 04:41:59 [24169] 1xVLsH-0006CA-1x ** r451-4.7.1-e1@exp.test: retry timeout exceeded", "Expired"),
    ("2026-11-23 04:41:54 [23938] H=(client.e2e.test) [127.0.0.1] F=<r250-s3@snd.test> rejected RCPT <nouser@in.test>: 550 5.7.1 Refused by the e2e ACL", "inbound rejected 550 5.7.1 in.test id="),
    ("2026-11-23 04:41:54 [23938] H=(client.e2e.test) [127.0.0.1] F=<r250-s3@snd.test> temporarily rejected RCPT <later@in.test>: 450 4.2.0 Mailbox busy, try later", "inbound rejected 450 4.2.0 in.test id="),
    ("2026-11-23 04:43:56 [27896] H=(client.e2e.test) [127.0.0.1] F=<r250-s@snd.test> rejected RCPT <relay@elsewhere.test>: relay not permitted", "inbound rejected - - elsewhere.test id="),
    ("2026-11-23 04:41:55 [23997] 1xVLsJ-0006F3-1F H=(client.e2e.test) [127.0.0.1] F=<r250-s4@snd.test> rejected after DATA: 550 5.7.1 Content refused", "inbound rejected 550 5.7.1  id=1xVLsJ-0006F3-1F"),
    ("2026-11-23 04:43:52 [27668] H=(client.e2e.test) [127.0.0.1] rejected MAIL <x@blocked.test>: 553 5.7.1 Sender refused by the e2e ACL", "inbound rejected 553 5.7.1  id="),
    ("2026-11-23 04:43:54 [27767] H=(client.e2e.test) [127.0.0.9] rejected EHLO or HELO client.e2e.test: 550 5.7.1 HELO refused by the e2e ACL", "inbound rejected 550 5.7.1  id="),
    ("2026-11-23 04:43:54 [27767] rejected MAIL from [127.0.0.9]: no HELO/EHLO given", "inbound rejected - -  id="),
    (r#"2026-11-23 04:43:55 [27840] H=[127.0.0.11] rejected connection in "connect" ACL: 554 5.7.1 Connection refused by the e2e ACL"#, "inbound rejected 554 5.7.1  id="),
    ("2026-11-23T04:44:13.989928+00:00 vm exim[28618]: 2026-11-23 04:44:13 H=(client.e2e.test) [127.0.0.1] F=<r250-s1@snd.test> rejected RCPT <nouser@in.test>: 550 5.7.1 Refused by the e2e ACL", "inbound rejected 550 5.7.1 in.test id="),
    (r#"2026-11-23T04:44:14.172094+00:00 vm exim[28619]: 2026-11-23 04:44:14 1xVLuX-0007Ra-3C => r250-y1@d1.test R=to_sink T=sink_smtp H=127.0.0.2 [127.0.0.2] C="250 2.0.0 Ok: queued as S1""#, "outbound delivered 250 2.0.0 d1.test id=1xVLuX-0007Ra-3C"),
    ("2026-11-23T04:44:14.172137+00:00 vm exim[28619]: 2026-11-23 04:44:14 1xVLuX-0007Ra-3C == r451-4.7.1-y2@d1.test R=to_sink T=sink_smtp defer (-44) H=127.0.0.2 [127.0.0.2]: SMTP error from remote mail server after RCPT TO:<r451-4.7.1-y2@d1.test>: 451 4.7.1 reply for <r451-4.7.1-y2@d1.test> (e2e sink)", "outbound deferred 451 4.7.1 d1.test id=1xVLuX-0007Ra-3C"),
    // Exim's own words after the host field, a bare `defer (N)`, a PRDR refusal with its code.
    ("2017-07-30 18:51:05.712 10HmbB-000000005vi-0000 == dataloss@test.ex R=client T=send_to_server defer (-18) H=127.0.0.1 [127.0.0.1]: Remote host closed connection in response to pipelined end of data", "outbound deferred - - test.ex id=10HmbB-000000005vi-0000"),
    ("1999-03-02 09:44:33 10HmbA-000000005vi-0000 == usery@domain1 R=others T=smtp defer (-44) H=127.0.0.1 [127.0.0.1]*: SMTP error from remote mail server after RCPT TO:<usery@domain1>: 450 Temporary error 3", "outbound deferred 450 - domain1 id=10HmbA-000000005vi-0000"),
    ("1999-03-02 09:44:33 10HmbH-000000005vi-0000 == x@test.ex R=remote T=smtp defer (-19) H=127.0.0.1 [127.0.0.1]: Malformed SMTP reply (an empty line) in response to DATA", "outbound deferred - - test.ex id=10HmbH-000000005vi-0000"),
    ("1999-03-02 09:44:33 10HmbE-000000005vi-0000 == revoked@test.ex R=client T=send_to_server3 defer (-37) H=127.0.0.1 [127.0.0.1]: TLS session: (SSL_connect) Server certificate revoked", "outbound deferred - - test.ex id=10HmbE-000000005vi-0000"),
    ("1999-03-02 09:44:33 10HmaY-000000005vi-0000 == userx@test.ex R=client T=send_to_server defer (-38) H=127.0.0.1 [127.0.0.1]:PORT_D: a TLS session is required, but the server did not offer TLS support", "outbound deferred - - test.ex id=10HmaY-000000005vi-0000"),
    ("1999-03-02 09:44:33 10HmaX-000000005vi-0000 == CALLER@test.ex R=caller T=local_delivery defer (-1)", "outbound deferred - - test.ex id=10HmaX-000000005vi-0000"),
    ("1999-03-02 09:44:33 10HmaZ-000000005vi-0000 == userz@test.ex R=r0 T=t1 defer (0) H=127.0.0.1 [127.0.0.1]: PRDR error after DATA: 450 cannot handle second rcpt right now", "outbound deferred 450 - test.ex id=10HmaZ-000000005vi-0000"),
    ("1999-03-02 09:44:33 10HmaX-000000005vi-0000 ** baduser@test.ex R=client T=send_to_server H=ip4.ip4.ip4.ip4 [ip4.ip4.ip4.ip4] : PRDR error after DATA: 550 PRDR R=<baduser@test.ex> refusal", "outbound bounced 550 - test.ex id=10HmaX-000000005vi-0000"),
    ("1999-03-02 09:44:33 10HmbE-000000005vi-0000 ** file@x.y routing yielded a local delivery", "outbound bounced - - x.y id=10HmbE-000000005vi-0000"),
    // A refused AUTH, with the code Exim logs.
    ("2022-06-29 16:04:19 dovecot_login authenticator failed for ([1.2.3.5]) [1.2.3.4]:55379: 535 Incorrect authentication data (set_id=abuse@test.com)", "inbound rejected 535 -  id="),
    ("2023-05-30 06:10:14 login authenticator failed for no-port.example.org [192.0.2.13]: 535 Incorrect authentication data (set_id=user)", "inbound rejected 535 -  id="),
    ("1999-03-02 09:44:33 plain authenticator failed for H=(test.host) [10.0.0.1] U=CALLER: 535 Incorrect authentication data", "inbound rejected 535 -  id="),
    // A callout the server refused; a cutthrough deferral; Exim behind a dated or undated header.
    ("1999-03-02 09:44:33 H=(test) [V4NET.0.0.1] U=root sender verify fail for <bad@localhost>: 127.0.0.1 [127.0.0.1] : SMTP error from remote mail server after RCPT TO:<bad@localhost>: 550 Unknown user", "outbound undeliverable 550 - localhost id="),
    ("1999-03-02 09:44:33 U=CALLER sender verify defer for <r1@domain1>: Could not complete sender verify callout: 127.0.0.1 [127.0.0.1] : SMTP error from remote mail server after RCPT TO:<r1@domain1>: 450 Temporary error", "outbound undeliverable 450 - domain1 id="),
    (r#"1999-03-02 09:44:33 10HmbA-000000005vi-0000 U=CALLER usere@domain.com F=<CALLER@myhost.test.ex> P=<CALLER@myhost.test.ex> tmp-reject from cutthrough after DATA: R=all T=smtp H=127.0.0.1 [127.0.0.1] C="459 content reject""#, "outbound deferred 459 - domain.com id=10HmbA-000000005vi-0000"),
    ("2019-10-22 03:39:17 mx1.fqdn.local exim[29786]: dovecot_login authenticator failed for (User) [192.0.2.37]: 535 Incorrect authentication data (set_id=test@domain.com)", "inbound rejected 535 -  id="),
    ("mail.example.com exim[3751842]: 2021-07-17 23:20:49 plain_server authenticator failed for ([192.0.2.17]) [192.0.2.27]: 535 Incorrect authentication data", "inbound rejected 535 -  id="),
    // Not replies.
    ("1999-03-02 09:44:33 10HmbH-000000005vi-0000 ** mua_wrapper is set but recipients cannot all be delivered in one transaction", "Ignored"),
    ("1999-03-02 09:44:33 10HmbB-000000005vi-0000 H=127.0.0.1 [127.0.0.1]: SMTP error from remote mail server after initial connection: 554 no smtp service here", "Ignored"),
    ("1999-03-02 09:44:33 10HmaZ-000000005vi-0000 plain authenticator failed H=127.0.0.1 [127.0.0.1] 535 Sorry, authentication failed", "Ignored"),
    ("1999-03-02 09:44:33 SMTP call from CALLER dropped: too many nonmail commands (last was \"rset\")", "Ignored"),
    ("1999-03-02 09:44:33 no MAIL in SMTP connection from CALLER D=qqs C=EXPN,QUIT", "Ignored"),
    ("2017-12-03 08:51:35 no IP address found for host test.example.com (during SMTP connection from [192.0.2.9])", "Ignored"),
    ("1999-03-02 09:44:33 VRFY failed for <b@test.ex> H=(test) [V4NET.0.0.0] U=CALLER", "Ignored"),
    ("1999-03-02 09:44:33 Warning: No server certificate defined; will use a selfsigned one.", "Ignored"),
    ("1999-03-02 09:44:33 recipient verify defer (making callout connection): T=smtp Netwk addr not available", "Ignored"),
    ("2026-11-23 04:41:53 [23818] 1xVLsH-0006CA-1x <= r250-s1@snd.test H=(client.e2e.test) [127.0.0.1] P=esmtp S=226 for r250-a1@d1.test r451-4.7.1-a2@d1.test r451-4.7.1-e1@exp.test x1@down.test", "Ignored"),
    ("2026-11-23 04:41:53 [23821] 1xVLsH-0006CA-1x H=127.0.0.10 [127.0.0.10] Connection refused", "Ignored"),
    ("2026-11-23 04:41:54 [23895] 1xVLsI-0006DN-26 Completed", "Ignored"),
    ("2026-11-23 04:41:51 [23735] exim 4.96 daemon started: pid=23735, no queue runs, listening for SMTP on [127.0.0.1]:30027", "Ignored"),
    ("2026-11-23 04:41:53 [23819] exim user lost privilege for using -C option", "Ignored"),
    ("2026-11-23 04:41:58 [24167] Start queue run: pid=24167", "Ignored"),
    ("2026-11-23T04:44:10.770301+00:00 vm rsyslogd: [origin software=\"rsyslogd\" swVersion=\"8.2302.0\" x-pid=\"28414\" x-info=\"https://www.rsyslog.com\"] start", "Ignored"),
    (" Suggested action: use keep_environment.", "Ignored"),
    ("not a log line", "Unrecognised"),
];

/// Each reply with its message id (`id=`, empty for a refusal before a message).
#[test]
fn cases() {
    for (line, want) in CASES {
        assert_eq!(render_id(&parse(line.as_bytes())), *want, "{line}");
    }
}

#[test]
fn every_cut_is_unrecognised_or_ignored_or_right() {
    for (line, want) in CASES {
        for cut in 0..line.len() {
            let got = render_id(&parse(&line.as_bytes()[..cut]));
            // A cut may drop the reply text (a code-less deferral) or the whole reply; an
            // expiry cut inside `retry timeout exceeded` reads as a bounce without code.
            let same_kind = got.split(' ').take(2).eq(want.split(' ').take(2))
                || (*want == "Expired" && got.starts_with("outbound bounced - - "));
            assert!(
                got == "Unrecognised" || got == "Ignored" || got == *want || same_kind,
                "{cut} of {line}: {got}"
            );
        }
    }
}

#[test]
fn reply_text_is_the_remote_reply() {
    let text = |l: &str| match parse(l.as_bytes()) {
        Parsed::Event(Event::Reply(r)) => String::from_utf8_lossy(r.text).into_owned(),
        other => format!("{other:?}"),
    };
    assert_eq!(text(CASES[0].0), "250 2.0.0 Ok: queued as S1");
    assert_eq!(
        text(CASES[3].0),
        "451 4.7.1 reply for <r451-4.7.1-a2@d1.test> (e2e sink)"
    );
    assert_eq!(text(CASES[4].0), "Connection refused");
    assert_eq!(text(CASES[6].0), "retry time not reached");
    assert_eq!(text(CASES[12].0), "relay not permitted");
}

/// A deferral whose words follow the host field (`H=name [ip]:`), the most common Exim
/// deferral, was unrecognised; so were `[ip]:port:`, a bare `defer (N)` and a PRDR refusal.
#[test]
fn deferral_words_after_the_host_field_count() {
    for (line, want) in [
        ("1999-03-02 09:44:33 10HmbN-000000005vi-0000 == a@test.ex R=client T=send_to_server defer (-18) H=127.0.0.1 [127.0.0.1]: Remote host closed connection in response to pipelined RCPT TO:<c@test.ex>", "Remote host closed connection in response to pipelined RCPT TO:<c@test.ex>"),
        ("1999-03-02 09:44:33 10HmaX-000000005vi-0000 == userx@domain1 R=others T=smtp defer (-58)", ""),
        ("1999-03-02 09:44:33 10HmaZ-000000005vi-0000 == userz@test.ex R=r0 T=t1 defer (0) H=127.0.0.1 [127.0.0.1]: PRDR error after DATA: 450 cannot handle second rcpt right now", "450 cannot handle second rcpt right now"),
        ("1999-03-02 09:44:33 10HmaX-000000005vi-0000 == userx@domain1 R=others T=smtp defer (-19) H=127.0.0.1 [127.0.0.1]: Malformed SMTP reply in response to RCPT TO:<userx@domain1>: 550 The answer is no", "Malformed SMTP reply in response to RCPT TO:<userx@domain1>: 550 The answer is no"),
    ] {
        match parse(line.as_bytes()) {
            Parsed::Event(Event::Reply(r)) => {
                assert_eq!(r.outcome, Outcome::Deferred, "{line}");
                assert_eq!(r.text, want.as_bytes(), "{line}");
                // A malformed reply's code is not taken.
                assert_eq!(r.code.is_some(), want.starts_with("450"), "{line}");
            }
            other => panic!("{line}: {other:?}"),
        }
    }
}

/// `NAME authenticator failed for HOST: 535 …` was ignored; it is a refusal with a code.
#[test]
fn auth_refusal_with_a_code_is_an_inbound_rejection() {
    let line = "2022-06-29 16:04:05 dovecot_plain authenticator failed for (mail.test.com) [192.0.2.181]:47807: 535 Incorrect authentication data (set_id=user)";
    assert_eq!(render(&parse(line.as_bytes())), "inbound rejected 535 - ");
    assert!(claims(line.as_bytes()));
    // Without a code Exim logs no reply.
    let bare = "2022-06-29 16:04:05 dovecot_plain authenticator failed for (mail.test.com) [192.0.2.181]:47807: Incorrect authentication data";
    assert_eq!(render(&parse(bare.as_bytes())), "Ignored");
}

#[test]
fn prefix_variants() {
    for line in [
        "2026-11-23 04:41:53 1xVLsH-0006CA-1x == a@d1.test R=r T=t defer (-53): retry time not reached for any host",
        "2026-11-23 04:41:53.123 +0100 [99] 1xVLsH-0006CA-1x == a@d1.test R=r T=t defer (-53): retry time not reached for any host",
        "2026-11-23 04:41:53 [99] 1rmN3F-00000000Yu9-2BmZ == a@d1.test R=r T=t defer (-53): retry time not reached for any host",
        "Nov 23 04:41:53 mx exim[99]: 1xVLsH-0006CA-1x == a@d1.test R=r T=t defer (-53): retry time not reached for any host",
    ] {
        assert_eq!(
            render(&parse(line.as_bytes())),
            "outbound deferred - - d1.test",
            "{line}"
        );
        assert!(claims(line.as_bytes()), "{line}");
    }
    let qt =
        parse(b"2026-11-23 04:41:53 1xVLsH-0006CA-1x => a@d R=r T=t C=\"250 OK\" QT=1m2.5s DT=0s");
    assert!(
        matches!(qt, Parsed::Event(Event::Reply(Reply { delay: Some(d), .. })) if (d - 62.5).abs() < 1e-9)
    );
}

#[test]
fn claims_exim_lines_only() {
    for (line, _) in CASES {
        let ours =
            !line.contains("rsyslogd") && !line.starts_with(' ') && *line != "not a log line";
        assert_eq!(claims(line.as_bytes()), ours, "{line}");
    }
    assert!(!claims(
        b"Nov 23 02:12:58 mx postfix/smtp[10732]: 1CA9A98C0C2: to=<a@b>, status=sent (250 ok)"
    ));
    assert!(!claims(b"2026-11-23 04:41:53 some other program's line"));
}

#[test]
fn syslog_copies_of_a_refusal_count_once() {
    let a = "2026-11-23T04:44:13.989928+00:00 vm exim[28618]: 2026-11-23 04:44:13 H=(client.e2e.test) [127.0.0.1] F=<r250-s1@snd.test> rejected RCPT <nouser@in.test>: 550 5.7.1 Refused by the e2e ACL";
    let a2 = "2026-11-23T04:44:13.989936+00:00 vm exim[28618]: 2026-11-23 04:44:13 H=(client.e2e.test) [127.0.0.1] F=<r250-s1@snd.test> rejected RCPT <nouser@in.test>: 550 5.7.1 Refused by the e2e ACL";
    let other_pid = a.replace("exim[28618]", "exim[28700]");
    let mut d = Dedup::default();
    let got: Vec<String> = [a, a2, a, a2, other_pid.as_str(), a]
        .iter()
        .map(|l| render(&d.parse(l.as_bytes())))
        .collect();
    assert_eq!(
        got.iter().filter(|g| g.starts_with("inbound")).count(),
        4,
        "{got:?}"
    );
    // Exim's own file has no copies: identical lines are distinct refusals.
    let f = CASES[10].0;
    let mut d = Dedup::default();
    assert!((0..3).all(|_| render(&d.parse(f.as_bytes())).starts_with("inbound")));
    let mut r = Dedup::reject_log();
    assert_eq!(render(&r.parse(f.as_bytes())), "Ignored");
}

/// fail2ban's Exim lines behind a syslog header dated as Exim dates (`2019-10-22 03:39:17 HOST
/// exim[PID]: `) had the refusal ignored (read as Exim's own file, host and tag taken for text);
/// behind a header without a date (`HOST exim[PID]: ` then Exim's timestamp) they were
/// unrecognised.
#[test]
fn syslog_header_dated_like_exim_or_undated_is_read() {
    for (line, want) in [
        ("2019-10-22 03:39:17 mx1.fqdn.local exim[29786]: dovecot_login authenticator failed for (User) [192.0.2.37]: 535 Incorrect authentication data (set_id=test@domain.com)", "inbound rejected 535 - "),
        ("mail.example.com exim[3751842]: 2021-07-17 23:20:49 plain_server authenticator failed for ([192.0.2.17]) [192.0.2.27]: 535 Incorrect authentication data", "inbound rejected 535 - "),
        ("2016-04-01 11:08:00 info exim[8003]: [8003] SMTP protocol error in \"AUTH LOGIN\" H=(User) [192.0.2.29]:4816 I=[192.0.2.1]:25 Ci=8003 LOGIN authentication mechanism not supported", "Ignored"),
    ] {
        assert_eq!(render(&parse(line.as_bytes())), want, "{line}");
        assert!(claims(line.as_bytes()), "{line}");
    }
    // Its syslog copy (the reject log's) is dropped as behind any other header.
    let a = "2019-10-22 03:39:17 mx1.fqdn.local exim[29786]: H=(x) [192.0.2.1] rejected RCPT <a@b.test>: 550 no";
    let mut d = Dedup::default();
    let got: Vec<String> = [a, a]
        .iter()
        .map(|l| render(&d.parse(l.as_bytes())))
        .collect();
    assert_eq!(got, ["inbound rejected 550 - b.test", "Ignored"]);
}

/// A verification callout the remote server failed (Exim's test suite) was ignored: it is an
/// address-verification probe with the server's reply, outbound `undeliverable` as Postfix's
/// probes. Without a server's code it is no reply.
#[test]
fn callout_failure_with_the_servers_reply_is_an_undeliverable_probe() {
    for (line, want) in [
        ("1999-03-02 09:44:33 H=(test) [V4NET.0.0.1] U=root sender verify fail for <bad@localhost>: 127.0.0.1 [127.0.0.1] : SMTP error from remote mail server after RCPT TO:<bad@localhost>: 550 Unknown user", "outbound undeliverable 550 - localhost"),
        ("1999-03-02 09:44:33 U=CALLER sender verify defer for <r1@domain1>: Could not complete sender verify callout: 127.0.0.1 [127.0.0.1] : SMTP error from remote mail server after RCPT TO:<r1@domain1>: 450 Temporary error", "outbound undeliverable 450 - domain1"),
        ("1999-03-02 09:44:33 H=(test) [V4NET.0.0.1] U=root sender verify fail for <uncheckable2@localhost1>: 127.0.0.1 [127.0.0.1] : response to \"MAIL FROM:<>\" was: 550 Error for <>", "outbound undeliverable 550 - localhost1"),
        ("1999-03-02 09:44:33 U=CALLER Warning: Sender verify failed: 127.0.0.1 [127.0.0.1] : SMTP error from remote mail server after RCPT TO:<x@remote>: 550 Unknown", "outbound undeliverable 550 - remote"),
        ("2013-06-10 10:10:59 H=ufficioestampa.it (srv.ufficioestampa.it) [193.169.56.211] sender verify fail for <user@example.com>: Unrouteable address", "Ignored"),
        ("1999-03-02 09:44:33 H=(test) [V4NET.0.0.1] U=root sender verify defer for <uncheckable@localhost1>: Could not complete sender verify callout: 127.0.0.1 [127.0.0.1] : Connection refused", "Ignored"),
        ("1999-03-02 09:44:33 H=(test) [V4NET.0.0.1] U=root F=<bad@localhost> rejected RCPT <z@test.ex>: Sender verify failed", "inbound rejected - - test.ex"),
    ] {
        assert_eq!(render(&parse(line.as_bytes())), want, "{line}");
    }
}

/// `** mua_wrapper is set but …` counted a bounce for a recipient named `mua_wrapper`: it is
/// Exim failing a whole message in `mua_wrapper` mode (no recipient, no server's reply, no
/// bounce sent), no reply. The per-address `** A mua_wrapper forced failure …` is a bounce.
#[test]
fn mua_wrapper_message_failure_is_no_reply() {
    let line = "1999-03-02 09:44:33 10HmbH-000000005vi-0000 ** mua_wrapper is set but recipients cannot all be delivered in one transaction";
    assert_eq!(render(&parse(line.as_bytes())), "Ignored");
    let per_address = "1999-03-02 09:44:33 10HmaX-000000005vi-0000 ** badport2@z mua_wrapper forced failure for deferred delivery";
    assert_eq!(
        render(&parse(per_address.as_bytes())),
        "outbound bounced - - z"
    );
}

/// A cutthrough delivery deferred by its target after the data (`tmp-reject from cutthrough
/// after DATA: … C="459 …"`, Exim's test suite) was ignored: it is that attempt's deferral.
#[test]
fn cutthrough_tmp_reject_after_data_is_a_deferral() {
    let line = r#"1999-03-02 09:44:33 10HmbA-000000005vi-0000 U=CALLER usere@domain.com F=<CALLER@myhost.test.ex> P=<CALLER@myhost.test.ex> tmp-reject from cutthrough after DATA: R=all T=smtp H=127.0.0.1 [127.0.0.1] C="459 content reject""#;
    assert_eq!(
        render(&parse(line.as_bytes())),
        "outbound deferred 459 - domain.com"
    );
}

/// The queue id and time of each prefix form: Exim's own timestamp (with `+millisec` and
/// `log_timezone`) wins over a syslog header's; without it, the header's stamp is the time.
#[test]
fn queue_id_and_time_of_each_prefix() {
    let tail = "== a@d1.test R=r T=t defer (-53): retry time not reached for any host";
    for (line, id, time) in [
        (format!("2026-11-23 04:41:53 [99] 1xVLsH-0006CA-1x {tail}"), "1xVLsH-0006CA-1x", Stamp::Iso(b"2026-11-23 04:41:53")),
        (format!("2026-11-23 04:41:53.123 +0100 [99] 1rmN3F-00000000Yu9-2BmZ {tail}"), "1rmN3F-00000000Yu9-2BmZ", Stamp::Iso(b"2026-11-23 04:41:53.123 +0100")),
        (format!("2026-11-23T04:44:14.172137+00:00 vm exim[28619]: 2026-11-23 04:44:14 1xVLuX-0007Ra-3C {tail}"), "1xVLuX-0007Ra-3C", Stamp::Iso(b"2026-11-23 04:44:14")),
        (format!("2026-11-23T04:44:14.172137+00:00 vm exim[28619]: 1xVLuX-0007Ra-3C {tail}"), "1xVLuX-0007Ra-3C", Stamp::Iso(b"2026-11-23T04:44:14.172137+00:00")),
        (format!("Nov 23 04:41:53 mx exim[99]: 1xVLsH-0006CA-1x {tail}"), "1xVLsH-0006CA-1x", Stamp::Bsd(b"Nov 23 04:41:53")),
        (format!("2019-10-22 03:39:17 mx1.fqdn.local exim[29786]: 1xVLsH-0006CA-1x {tail}"), "1xVLsH-0006CA-1x", Stamp::Iso(b"2019-10-22 03:39:17")),
        ("mail.example.com exim[3751842]: 2021-07-17 23:20:49 plain_server authenticator failed for ([192.0.2.17]) [192.0.2.27]: 535 Incorrect authentication data".to_owned(), "", Stamp::Iso(b"2021-07-17 23:20:49")),
        ("1999-03-02 09:44:33 10HmaZ-000000005vi-0000 == userz@test.ex R=r0 T=t1 defer (0) H=127.0.0.1 [127.0.0.1]: PRDR error after DATA: 450 cannot handle second rcpt right now".to_owned(), "10HmaZ-000000005vi-0000", Stamp::Iso(b"1999-03-02 09:44:33")),
    ] {
        match parse(line.as_bytes()) {
            Parsed::Event(Event::Reply(r)) => {
                assert_eq!(String::from_utf8_lossy(r.queue_id), id, "{line}");
                assert_eq!(r.time, time, "{line}");
            }
            other => panic!("{line}: {other:?}"),
        }
    }
}
