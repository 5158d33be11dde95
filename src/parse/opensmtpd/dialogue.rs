//! Which host answered and which SMTP command an OpenSMTPD reply answered, as the line says
//! them (the `provider` and `stage` labels). Nothing is guessed: a line that does not say gives
//! [`Relay::Unknown`] and [`Stage::Unknown`].
//!
//! **Remote deliveries** (`mta delivery`, 6.0's `mta event=delivery`, 5.x's `relay: `) name
//! the host connected to as `relay="ADDRESS (PTR NAME)"`, or `relay="ADDRESS"` when the
//! address has no reverse name (`smtpd/mta.c` `mta_host_to_text`); a delivery that reached no
//! host names the destination it was routed to (`relay="127.0.0.1"`, the relay host or the
//! domain, `mta.c` when the route failed). The reverse name is the host's name where there is
//! one (`mx.example.net`, `mail-….outbound.protection.outlook.com`); else the address.
//! Local deliveries (`delivery`, 5.x's `delivery: `) reach no host.
//!
//! **Refused commands** (`smtp failed-command command="…"`, 6.0's `event=failed-command`,
//! 5.x's `Failed command on session …: "…" =>`) log the command line answered
//! (`smtpd/smtp_session.c`). `DATA` is logged for both the DATA command and the end of the
//! message (the session keeps the last command line while it reads the message), so it says
//! neither.

use crate::parse::{Relay, Stage};

/// The host of a `relay=` value (without its quotes).
pub(super) fn relay(value: &[u8]) -> Relay<'_> {
    let value = value.trim_ascii();
    if value.is_empty() || value == b"-" {
        return Relay::Unknown;
    }
    let Some(open) = memchr::memmem::find(value, b" (") else {
        return Relay::Host(value);
    };
    let addr = &value[..open];
    let ptr = value
        .get(open + 2..)
        .and_then(|p| p.strip_suffix(b")"))
        .unwrap_or_default();
    // A reverse name that is an address (or none) names nothing more than the address.
    let is_name = ptr.iter().any(u8::is_ascii_alphabetic) && !ptr.contains(&b':') && ptr != addr;
    Relay::Host(if is_name { ptr } else { addr })
}

/// The stage of a refused command line (`RCPT TO:<…>`, `AUTH LOGIN (username)`, …).
pub(super) fn of_command(command: &[u8]) -> Stage {
    let command = command.trim_ascii();
    let word_end = command
        .iter()
        .position(|c| !c.is_ascii_alphabetic())
        .unwrap_or(command.len());
    let word = &command[..word_end];
    if word.eq_ignore_ascii_case(b"DATA") {
        return Stage::Unknown;
    }
    match Stage::of_command(command) {
        Some(stage) => stage,
        // A line smtpd does not know is still the command the reply answered.
        None if !word.is_empty() => Stage::Other,
        None => Stage::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse;
    use super::*;

    use Stage::*;

    use crate::parse::dialogue::{host, UNK};

    /// Real lines, each with the relay and stage it must give: OpenSMTPD 6.8.0p2 (Debian 12)
    /// in tests/fixtures/opensmtpd/, unless marked with the peer's project
    /// (shared/corpora/peers/<project>/opensmtpd.log).
    const CASES: &[crate::parse::dialogue::Case] = &[
        ("Nov 23 05:35:40 mx smtpd[24232]: f082a597c8b61ba4 mta delivery evpid=77222b8bddcfeab0 from=<r250-sender-m0003@snd.test> to=<r554-5.7.1-m0003r0@d1.test> rcpt=<-> source=\"127.0.0.1\" relay=\"127.0.0.2 (127.0.0.2)\" delay=0s result=\"PermFail\" stat=\"554 5.7.1 Rejected by policy <r554-5.7.1-m0003r0@d1.test> (e2e sink)\"",
            host("127.0.0.2"), Unknown),
        // The end-to-end test's run (tests/it/opensmtpd_e2e.rs, 2026-12-07): its hosts file
        // gives the sink's addresses providers' MX names, which are the reverse names too.
        ("Dec  7 05:30:12 mx smtpd[14159]: a896d6d028c6862c mta delivery evpid=d3bd5381cf47dfb0 from=<r250-sender-m0003@snd.test> to=<r554-5.7.1-m0003r0@d1.test> rcpt=<-> source=\"127.0.0.1\" relay=\"127.0.0.2 (gmail-smtp-in.l.google.com)\" delay=0s result=\"PermFail\" stat=\"554 5.7.1 Rejected by policy <r554-5.7.1-m0003r0@d1.test> (e2e sink)\"",
            host("gmail-smtp-in.l.google.com"), Unknown),
        ("Dec  7 05:30:13 mx smtpd[14159]: a896d6cd54b1b775 mta delivery evpid=6552a10422f45cae from=<r250-sender-m0010@snd.test> to=<r450-4.2.0-m0010r0@d2.test> rcpt=<-> source=\"127.0.0.1\" relay=\"127.0.0.3 (contoso-com.mail.protection.outlook.com)\" delay=1s result=\"TempFail\" stat=\"450 4.2.0 Mailbox unavailable, try again later <r450-4.2.0-m0010r0@d2.test> (e2e sink)\"",
            host("contoso-com.mail.protection.outlook.com"), Unknown),
        // The route failed: the destination it was routed to.
        ("Nov 23 05:35:51 mx smtpd[24232]: 0000000000000000 mta delivery evpid=a397fe4a78684352 from=<r250-sender-m0005@snd.test> to=<r250-m0005r1@down.test> rcpt=<-> source=\"-\" relay=\"127.0.0.1\" delay=11s result=\"TempFail\" stat=\"Network error on destination MXs\"",
            host("127.0.0.1"), Unknown),
        // vedetta-caesonia: OpenSMTPD 6.0, Microsoft's server, no reverse name
        ("Mar 22 17:56:37 mercury smtpd[45037]: 8f4864084ecc48f4 mta event=delivery evpid=7077717e797a776e from=<puffy@example.com> to=<bill@hotmail.com> rcpt=<-> source=\"203.0.113.1\" relay=\"104.47.38.33 (104.47.38.33)\" delay=1s result=\"PermFail\" stat=\"550 5.7.1 Unfortunately, messages from [203.0.113.1] weren't sent. Please contact your Internet service provider since part of their network is on our block list (AS3150). You can also refer your provider to http://mail.live.com/mail/troubleshooting.aspx#errors. [BL2NAM02FT031.eop-nam02.prod.protection.outlook.com]\"",
            host("104.47.38.33"), Unknown),
        // ---- inbound: the command the line names; no provider ----
        ("Nov 23 05:35:40 mx smtpd[24232]: f082a5a052398657 smtp failed-command command=\"RCPT TO:<nouser@in.test>\" result=\"550 5.1.1 Mailbox does not exist\"",
            UNK, Rcpt),
        ("Nov 23 05:03:54 mx smtpd[17488]: 965e751f58c08f79 smtp failed-command command=\"rcpt TO:<later@in.test>\" result=\"450 4.2.0 Mailbox busy\"",
            UNK, Rcpt),
        ("Nov 23 05:35:40 mx smtpd[24232]: f082a5a9ab7338b1 smtp failed-command command=\"MAIL FROM:<blocked-0@snd.test>\" result=\"553 5.7.1 Sender refused by the e2e test\"",
            UNK, Mail),
        // sshguard: OpenSMTPD 6.0
        ("Jan  1 00:00:00 peerhost smtpd[1]: 38dd06274cde1fd7 smtp event=failed-command address=185.236.202.133 host=no-mans-land.m247.com command=\"AUTH LOGIN\" result=\"503 5.5.1 Invalid command: Command not supported\"",
            UNK, Auth),
        ("Jan  1 00:00:00 peerhost smtpd[1]: 45addba89269aeaa smtp event=failed-command address=128.237.183.69 host=zeta.wv.cc.cmu.edu command=\"AUTH PLAIN (...)\" result=\"535 Authentication failed\"",
            UNK, Auth),
        // wazuh: OpenSMTPD 5.x
        ("Aug 14 10:15:25 junction.example.com smtpd[28882]: smtp-in: Failed command on session 1f55bdcdf16e28a3: \"MAIL FROM:<root@junction.example.com>  \" => 421 4.3.0: Temporary Error",
            UNK, Mail),
    ];

    fn relay_stage(line: &str) -> Option<(Relay<'_>, Stage)> {
        crate::parse::dialogue::relay_stage(parse(line.as_bytes()))
    }

    /// Each line gives its relay and stage; cut short, the same or none.
    #[test]
    fn table() {
        crate::parse::dialogue::check_cases(parse, CASES);
    }

    /// Relays with a reverse name, local deliveries, and commands no real line here shows,
    /// written as `mta.c`'s, `mda.c`'s and `smtp_session.c`'s format strings (6.x) and 5.x's
    /// `mta_log` write them.
    #[test]
    fn by_format_string() {
        let with_ptr = "Jun  3 10:15:02 mx smtpd[2130]: 965e751d1f4eb33a mta delivery evpid=a2b68e0e2f5364d0 from=<u@example.org> to=<someone@gmail.com> rcpt=<-> source=\"192.0.2.1\" relay=\"142.250.102.27 (wr-in-f27.1e100.net)\" delay=2s result=\"Ok\" stat=\"250 2.0.0 OK (in reply to DATA command)\"";
        assert_eq!(
            relay_stage(with_ptr),
            Some((host("wr-in-f27.1e100.net"), Unknown))
        );
        let v5 = "Jun  3 10:15:02 mx smtpd[2130]: relay: TempFail for 4c4d9e84a1b1c3d6: session=965e751d1f4eb33a, from=<u@example.org>, to=<u@yahoo.com>, rcpt=<->, source=192.0.2.1, relay=98.136.96.74 (mta5.am0.yahoodns.net), delay=1m2s, stat=421 4.7.0 [TSS04] Messages temporarily deferred";
        assert_eq!(
            relay_stage(v5),
            Some((host("mta5.am0.yahoodns.net"), Unknown))
        );
        let v5_local = "Jun  3 10:15:03 mx smtpd[2130]: delivery: PermFail for 4c4d9e84a1b1c3d8: from=<u@example.org>, to=<nobody@example.org>, user=nobody, method=mda, delay=0s, stat=Error (exited with status 67)";
        assert_eq!(relay_stage(v5_local), Some((Relay::Local, Unknown)));
        for (command, stage) in [
            ("EHLO client.example", Helo),
            ("STARTTLS", Starttls),
            ("AUTH LOGIN (username)", Auth),
            ("RCPT TO: <a@b.example>", Rcpt),
            // The DATA command or the end of the message: the line does not say which.
            ("DATA", Unknown),
            ("VRFY postmaster", Other),
            ("GET / HTTP/1.1", Other),
            ("", Unknown),
        ] {
            assert_eq!(of_command(command.as_bytes()), stage, "{command}");
        }
        assert_eq!(relay(b"192.0.2.7"), host("192.0.2.7"));
        assert_eq!(relay(b"-"), UNK);
    }
}
