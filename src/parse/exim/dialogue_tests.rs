//! What Exim's lines say of the host that answered and the command the reply answered.

use super::*;
use crate::parse::relay_stage_for_tests as relay_stage;

/// Real lines and `relay|stage` (`?` no relay, `local` a delivery without SMTP). Sources:
/// ours, Exim 4.96 in the end-to-end test (tests/fixtures/exim/); gvengel/exim_exporter's
/// test log and Exim's own test suite's `mainlog` (shared/corpora/peers/, hosts and ids as
/// they write them: `ip4.ip4.ip4.ip4`, `PORT_S`).
const CASES: &[(&str, &str)] = &[
    // Deliveries: `H=` (`C=` answers the message's end); gvengel/exim_exporter.
    (r#"2026-11-23 04:43:51 [27568] 1xVLuB-0007Ad-2b => r250-m1@d1.test R=to_sink T=sink_smtp H=127.0.0.2 [127.0.0.2] C="250 2.0.0 Ok: queued as S1""#, "127.0.0.2 [127.0.0.2]|end_of_data"),
    (r#"2020-06-19 06:26:02 1jmH1s-000AVD-5t => dave@foo.corp R=dnslookup T=remote_smtp H=mail.foo.corp [1.1.1.1] C="250 2.0.0 Ok: queued""#, "mail.foo.corp [1.1.1.1]|end_of_data"),
    (r#"2020-06-20 00:13:16 1jmXgg-000AIC-89 -> sally@dummy.corp R=dnslookup T=remote_smtp_smarthost H=smarthost.test.corp [5.5.5.5] X=TLS1.2:ECDHE_RSA_AES_128_GCM_SHA256:128 CV=yes DN="C=XX,L=Here,O=Text Corp,CN=*.test.corp" C="250 6292145-1592637196662@smarthost.test.corp Received OK [sHQA_0EGOfCC2A2sh3iD5g]""#, "smarthost.test.corp [5.5.5.5]|end_of_data"),
    // `+dnssec` puts ` DS` between name and address: the name alone.
    (r#"1999-03-02 09:44:33 10HmaZ-000000005vi-0000 => withlogging@l-sec.test.ex R=client T=send_to_server H=l-sec.test.ex DS [127.0.0.1] C="250 OK id=10HmbA-000000005vi-0000""#, "l-sec.test.ex|end_of_data"),
    // `+outgoing_port` (the suite writes the port as `PORT_S`: no digits, so none taken).
    (r#"1999-03-02 09:44:33 10HmaX-000000005vi-0000 => userx@domain.com R=all T=smtp H=127.0.0.1 [127.0.0.1]:PORT_S I=[127.0.0.1]:10001 C="250 OK""#, "127.0.0.1 [127.0.0.1]|end_of_data"),
    // Local deliveries: a transport and no host; a pipe or a file.
    ("1999-03-02 09:44:33 10HmaX-000000005vi-0000 => CALLER <CALLER@the.local.host.name> R=localuser T=local_delivery", "local|"),
    (r#"1999-03-02 09:44:33 10HmaX-000000005vi-0000 => |/bin/sh -c "cat >TESTSUITE/test-mail/pipe" <pipe@test.ex> R=alias T=pipe"#, "local|"),
    ("1999-03-02 09:44:33 10HmaY-000000005vi-0000 => /dev/null <devnull@the.local.host.name> R=system_aliases T=**bypassed**", "local|"),
    ("1999-03-02 09:44:33 10HmaZ-000000005vi-0000 == /no/such/file <file@test.ex> R=alias T=address_file defer (EEE): Permission denied: failed to create directories for /no/such/file: Permission denied", "local|"),
    ("1999-03-02 09:44:33 10HmaX-000000005vi-0000 == CALLER@test.ex R=caller T=local_delivery defer (-1)", "local|"),
    // An LMTP transport without a host: a socket or a command, local.
    ("1999-03-02 09:44:33 10HmbD-000000005vi-0000 ** jill@myhost.test.ex R=smartuser T=lmtp : LMTP error after end of data: 550 Number 3 is now rejected", "local|end_of_data"),
    // Discarded: no transport, no host.
    ("2026-11-23 04:41:54 [23939] 1xVLsI-0006E6-2u => :blackhole: <ok@in.test> R=inbound", "?|"),
    // Each command Exim names after `after `.
    ("2026-11-23 04:41:53 [23819] 1xVLsH-0006CA-1x == r451-4.7.1-a2@d1.test R=to_sink T=sink_smtp defer (-44) H=127.0.0.2 [127.0.0.2]: SMTP error from remote mail server after RCPT TO:<r451-4.7.1-a2@d1.test>: 451 4.7.1 reply for <r451-4.7.1-a2@d1.test> (e2e sink)", "127.0.0.2 [127.0.0.2]|rcpt"),
    (r#"2020-06-19 10:32:57 [789] 1jmKso-0009d4-Uf ** molly@zee.corp R=dnslookup T=remote_smtp H=mail.zee.corp [3.3.3.3] X=TLS1.2:ECDHE_RSA_AES_256_GCM_SHA384:256 CV=yes DN="C=US,ST=Fake,L=Lost,O=Zee Corp,CN=mail.zee.corp": SMTP error from remote mail server after end of data: 554 5.2.0 mKr3jsd25ZIfXmKr4jFD2w Recipient Mailbox Full [504]"#, "mail.zee.corp [3.3.3.3]|end_of_data"),
    ("1999-03-02 09:44:33 10HmaZ-000000005vi-0000 == userz@domain.com R=all T=smtp defer (-45) H=127.0.0.1 [127.0.0.1]:PORT_S I=[127.0.0.1]:10001: SMTP error from remote mail server after MAIL FROM:<>: 450 not right now, sorry", "127.0.0.1 [127.0.0.1]|mail"),
    ("1999-03-02 09:44:33 10HmbB-000000005vi-0000 == userx@x.y R=r1 T=t1 defer (-46) H=127.0.0.1 [127.0.0.1]: SMTP error from remote mail server after DATA: 452 temporary error", "127.0.0.1 [127.0.0.1]|data"),
    ("1999-03-02 09:44:33 10HmaX-000000005vi-0000 == userx@domain1 R=others T=smtp defer (0) H=localhost4.test.ex [127.0.0.1]: SMTP error from remote mail server after initial connection: 450 I'm busy", "localhost4.test.ex [127.0.0.1]|connect"),
    ("1999-03-02 09:44:33 10HmaZ-000000005vi-0000 ** userx@domain1 F=<CALLER@test.ex> R=others T=smtp H=localhost4.test.ex [127.0.0.1] : SMTP error from remote mail server after HELO the.local.host.name: 550 Go away (C)", "localhost4.test.ex [127.0.0.1]|helo"),
    ("1999-03-02 09:44:33 10HmaX-000000005vi-0000 == x@y R=client T=send_to_server defer (0) H=127.0.0.1 [127.0.0.1]: SMTP error from remote mail server after STARTTLS: 450 temp problem", "127.0.0.1 [127.0.0.1]|starttls"),
    ("1999-03-02 09:44:33 10HmaY-000000005vi-0000 ** userxy@myhost.test.ex F=<CALLER@myhost.test.ex> R=smartuser T=lmtp H=127.0.0.1 [127.0.0.1] : LMTP error after DATA: 550 Bad user", "127.0.0.1 [127.0.0.1]|data"),
    ("1999-03-02 09:44:33 10HmaZ-000000005vi-0000 == userz@test.ex R=r0 T=t1 defer (0) H=127.0.0.1 [127.0.0.1]: PRDR error after DATA: 450 cannot handle second rcpt right now", "127.0.0.1 [127.0.0.1]|end_of_data"),
    // Pipelined: the command whose reply it was.
    ("1999-03-02 09:44:33 10HmbI-000000005vi-0000 ** r@test.ex R=client T=send_to_server H=127.0.0.1 [127.0.0.1] : SMTP error from remote mail server after pipelined DATA: 503 Sorry perm data error", "127.0.0.1 [127.0.0.1]|data"),
    ("2017-07-30 18:51:05.712 10HmbA-000000005vi-0000 == c1@test.ex R=to_server T=remote_smtp defer (-45) H=127.0.0.1 [127.0.0.1]: SMTP error from remote mail server after pipelined end of data: 450 greylisted mail-from", "127.0.0.1 [127.0.0.1]|end_of_data"),
    // A reply while the message was being written (here to a BDAT chunk): the message's.
    ("2017-07-30 18:51:05.712 10HmbD-000000005vi-0000 ** u@test.ex R=to_server T=remote_smtp H=127.0.0.1 [127.0.0.1] : SMTP error from remote mail server after pipelined sending data block: 500 oops nonlast bdat", "127.0.0.1 [127.0.0.1]|end_of_data"),
    // Timeouts and closed connections name the command too, after the errno's words.
    ("1999-03-02 09:44:33 10HmaX-000000005vi-0000 == userx1@test.ex R=t1 T=smtp defer (dd): Connection timed out H=127.0.0.1 [127.0.0.1]: SMTP timeout after RCPT TO:<userx1@test.ex>", "127.0.0.1 [127.0.0.1]|rcpt"),
    ("1999-03-02 09:44:33 10HmaX-000000005vi-0000 == userx1@test.ex R=r1 T=t1 defer (dd): Connection timed out H=127.0.0.1 [127.0.0.1]: SMTP timeout after pipelined MAIL FROM:<CALLER@myhost.test.ex> SIZE=ssss", "127.0.0.1 [127.0.0.1]|mail"),
    ("1999-03-02 09:44:33 10HmbA-000000005vi-0000 == userx@domain.com R=try T=smtp_try defer (-18) H=127.0.0.1 [127.0.0.1]: Remote host closed connection in response to AUTH LOGIN", "127.0.0.1 [127.0.0.1]|auth"),
    ("1999-03-02 09:44:33 10HmbH-000000005vi-0000 == x@test.ex R=remote T=smtp defer (-19) H=127.0.0.1 [127.0.0.1]: Malformed SMTP reply (an empty line) in response to DATA", "127.0.0.1 [127.0.0.1]|data"),
    // The connection itself: no host reached, so none named.
    ("2026-11-23 04:41:53 [23819] 1xVLsH-0006CA-1x == x1@down.test R=to_down T=down_smtp defer (111): Connection refused", "?|connect"),
    ("1999-03-02 09:44:33 10HmaX-000000005vi-0000 == userx@test.ex R=r1 T=t1 defer (dd): Connection timed out", "?|connect"),
    // Not said: retry times, TLS.
    ("2026-11-23 04:41:54 [23887] 1xVLsI-0006DG-1Q == x2@down.test R=to_down T=down_smtp defer (-54): retry time not reached for any host for 'down.test'", "?|"),
    ("1999-03-02 09:44:33 10HmbE-000000005vi-0000 == revoked@test.ex R=client T=send_to_server3 defer (-37) H=127.0.0.1 [127.0.0.1]: TLS session: (SSL_connect) Server certificate revoked", "127.0.0.1 [127.0.0.1]|"),
    // A cutthrough target's reply to the final dot.
    (r#"1999-03-02 09:44:33 10HmbA-000000005vi-0000 U=CALLER usere@domain.com F=<CALLER@myhost.test.ex> P=<CALLER@myhost.test.ex> tmp-reject from cutthrough after DATA: R=all T=smtp H=127.0.0.1 [127.0.0.1] C="459 content reject""#, "127.0.0.1 [127.0.0.1]|end_of_data"),
    // Callouts: the host asked and the command refused.
    ("1999-03-02 09:44:33 H=(test) [V4NET.0.0.1] U=root sender verify fail for <bad@localhost>: 127.0.0.1 [127.0.0.1] : SMTP error from remote mail server after RCPT TO:<bad@localhost>: 550 Unknown user", "127.0.0.1 [127.0.0.1]|rcpt"),
    ("1999-03-02 09:44:33 U=CALLER sender verify defer for <r1@domain1>: Could not complete sender verify callout: 127.0.0.1 [127.0.0.1] : SMTP error from remote mail server after RCPT TO:<r1@domain1>: 450 Temporary error", "127.0.0.1 [127.0.0.1]|rcpt"),
    (r#"1999-03-02 09:44:33 H=(test) [V4NET.0.0.1] U=root sender verify fail for <uncheckable2@localhost1>: 127.0.0.1 [127.0.0.1] : response to "MAIL FROM:<>" was: 550 Error for <>"#, "127.0.0.1 [127.0.0.1]|mail"),
    // Inbound refusals: the ACL's place; the client is no destination.
    ("2026-11-23 04:41:54 [23938] H=(client.e2e.test) [127.0.0.1] F=<r250-s3@snd.test> rejected RCPT <nouser@in.test>: 550 5.7.1 Refused by the e2e ACL", "?|rcpt"),
    ("2026-11-23 04:41:54 [23938] H=(client.e2e.test) [127.0.0.1] F=<r250-s3@snd.test> temporarily rejected RCPT <later@in.test>: 450 4.2.0 Mailbox busy, try later", "?|rcpt"),
    ("1999-03-02 09:44:33 H=(test) [V4NET.0.0.3] U=root F=<uncheckable@localhost1> rejected RCPT <z@remote.domain>: 127.0.0.1 [127.0.0.1] : SMTP error from remote mail server after RCPT TO:<z@remote.domain>: 550 Recipient not liked", "?|rcpt"),
    ("2026-11-23 04:41:55 [23997] 1xVLsJ-0006F3-1F H=(client.e2e.test) [127.0.0.1] F=<r250-s4@snd.test> rejected after DATA: 550 5.7.1 Content refused", "?|end_of_data"),
    ("1999-03-02 09:44:33 U=CALLER rejected DATA: Not today", "?|data"),
    ("1999-03-02 09:44:33 10HmaX-000000005vi-0000 U=CALLER F=<CALLER@myhost.test.ex> rejected during MIME ACL checks: this is a deny from the mime acl", "?|end_of_data"),
    ("2026-11-23 04:43:52 [27668] H=(client.e2e.test) [127.0.0.1] rejected MAIL <x@blocked.test>: 553 5.7.1 Sender refused by the e2e ACL", "?|mail"),
    ("2026-11-23 04:43:54 [27767] rejected MAIL from [127.0.0.9]: no HELO/EHLO given", "?|mail"),
    ("2026-11-23 04:43:54 [27767] H=(client.e2e.test) [127.0.0.9] rejected EHLO or HELO client.e2e.test: 550 5.7.1 HELO refused by the e2e ACL", "?|helo"),
    (r#"2026-11-23 04:43:55 [27840] H=[127.0.0.11] rejected connection in "connect" ACL: 554 5.7.1 Connection refused by the e2e ACL"#, "?|connect"),
    ("1999-03-02 09:44:33 H=(foobar) [127.0.0.1] rejected AUTH plain: STARTTLS required before AUTH", "?|auth"),
    ("1999-03-02 09:44:33 rejected HELO from CALLER: syntactically invalid argument(s): !@#$%^&*(", "?|helo"),
    ("2023-05-30 06:10:14 login authenticator failed for no-port.example.org [192.0.2.13]: 535 Incorrect authentication data (set_id=user)", "?|auth"),
];

#[test]
fn relay_and_stage() {
    for (line, want) in CASES {
        assert_eq!(relay_stage(&parse(line.as_bytes())), *want, "{line}");
    }
}
