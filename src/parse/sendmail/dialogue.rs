//! Which host answered and which SMTP command a Sendmail reply answered, as the line says them
//! (the `provider` and `stage` labels). Nothing is guessed: a line that does not say gives
//! [`Relay::Unknown`] and [`Stage::Unknown`].
//!
//! **Delivery status** (`sendmail/deliver.c` `logdelivery`): `relay=` is the host connected
//! to, as `name. [address]` (an MX name keeps its trailing dot; a host given as an address
//! reads `[address] [address]`), or the host that was looked up, without an address
//! (`relay=d1.test.` for `Host unknown`). Mailers that deliver on this host (`local`, `prog`,
//! Cyrus's and LMTP's over a socket) are [`Relay::Local`]. The status says the stage only for a
//! refused connection (`stat=Deferred: Connection refused by [127.0.0.1]`); `reply=` is the
//! remote reply without the command it answered, and `Connection timed out with …` or
//! `Connection reset by …` may come at any step.
//!
//! **Inbound refusals** name the check that refused (`srvrsmtp.c`): `check_relay` at connect,
//! `check_mail` at MAIL, `check_rcpt` at RCPT, `check_data` at DATA, `check_eoh` and
//! `check_eom` after the message (the reply comes after its end); a mail filter's refusal
//! names its step (`Milter: to=<…>, reject=…` at RCPT, `Milter: data, reject=…` at the end of
//! the message); `<addr>... User unknown` is a refused RCPT.

use crate::parse::{Relay, Stage};

/// Whether a mailer delivers on this host: `local` (also with `FEATURE(local_lmtp)`), `prog`,
/// the `*file*` and `*include*` pseudo-mailers, `procmail`, Cyrus's (`cyrus`, `cyrusv2`) and
/// an `lmtp` mailer without a network host.
fn is_local_mailer(mailer: &[u8], relay: Option<&[u8]>) -> bool {
    match mailer {
        b"local" | b"prog" | b"*file*" | b"*include*" | b"procmail" => true,
        b"lmtp" => !relay.is_some_and(|r| r.contains(&b'[')),
        m => m.starts_with(b"cyrus"),
    }
}

/// The host and stage of a delivery-status line, from its `mailer=` and `relay=` values and
/// its `stat=` text.
pub(super) fn of_delivery<'a>(
    mailer: Option<&[u8]>,
    relay: Option<&'a [u8]>,
    stat: &[u8],
) -> (Relay<'a>, Stage) {
    let relay = match (mailer, relay) {
        (Some(m), r) if is_local_mailer(m, r) => Relay::Local,
        (_, Some(r)) if !r.is_empty() => Relay::Host(r),
        _ => Relay::Unknown,
    };
    // ECONNREFUSED comes from connect() only.
    let stage = if stat.starts_with(b"Deferred: Connection refused by ") {
        Stage::Connect
    } else {
        Stage::Unknown
    };
    (relay, stage)
}

/// The stage of a `ruleset=NAME` refusal.
pub(super) fn of_ruleset(name: &[u8]) -> Stage {
    match name {
        b"check_relay" => Stage::Connect,
        b"check_mail" => Stage::Mail,
        b"check_rcpt" => Stage::Rcpt,
        b"check_data" => Stage::Data,
        // The headers and the message are answered after the message's end.
        b"check_eoh" | b"check_eom" => Stage::EndOfData,
        b"check_vrfy" | b"check_expn" | b"check_etrn" => Stage::Other,
        _ => Stage::Unknown,
    }
}

/// The stage of a `Milter: …, reject=` refusal: `to=<…>` (RCPT) or `data` (the end of the
/// message, where a filter's body callbacks run).
pub(super) fn of_milter(rest: &[u8]) -> Stage {
    if rest.starts_with(b"to=") {
        Stage::Rcpt
    } else if rest.starts_with(b"data, ") {
        Stage::EndOfData
    } else {
        Stage::Unknown
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse;
    use super::*;

    use Stage::*;

    use crate::parse::dialogue::{host, UNK};

    /// Real lines, each with the relay and stage it must give: Sendmail 8.17.1.9 (Debian 12)
    /// in tests/fixtures/sendmail/ or the parser's table, unless marked with the peer's
    /// project (shared/corpora/peers/<project>/sendmail.log).
    const CASES: &[crate::parse::dialogue::Case] = &[
        ("Nov 23 05:19:50 mx sm-mta[12615]: 6AN5Jos4012613: to=<r250-m0000r0@d2.test>, delay=00:00:00, xdelay=00:00:00, mailer=esmtp, pri=30153, relay=[127.0.0.3] [127.0.0.3], dsn=2.0.0, stat=Sent (Ok: queued as S000000)",
            host("[127.0.0.3] [127.0.0.3]"), Unknown),
        ("Nov 23 05:19:50 mx sm-mta[12624]: 6AN5Jos7012613: to=<r554-5.7.1-m0003r0@d1.test>, delay=00:00:00, xdelay=00:00:00, mailer=esmtp, pri=30153, relay=[127.0.0.2] [127.0.0.2], dsn=5.7.1, reply=554 5.7.1 Rejected by policy <r554-5.7.1-m0003r0@d1.test> (e2e sink), stat=Service unavailable",
            host("[127.0.0.2] [127.0.0.2]"), Unknown),
        ("Nov 23 04:45:24 mx sm-mta[31009]: 6AN4jO5g031007: to=<r451-4.7.1-c@d1.test>, delay=00:00:00, xdelay=00:00:00, mailer=esmtp, pri=180015, relay=[127.0.0.2] [127.0.0.2], dsn=4.7.1, reply=451 4.7.1 Reply for <r451-4.7.1-c@d1.test> (sink), stat=Deferred: 451 4.7.1 Reply for <r451-4.7.1-c@d1.test> (sink)",
            host("[127.0.0.2] [127.0.0.2]"), Unknown),
        ("Nov 23 05:19:50 mx sm-mta[12634]: 6AN5Jos9012613: to=<r250-m0005r1@down.test>, delay=00:00:00, xdelay=00:00:00, mailer=relay, pri=60153, relay=[127.0.0.1] [127.0.0.1], dsn=4.4.1, stat=Deferred: Connection refused by [127.0.0.1]",
            host("[127.0.0.1] [127.0.0.1]"), Connect),
        // The end-to-end test's run (tests/it/sendmail_e2e.rs, 2026-12-07): the sink reached
        // under providers' MX names (its hosts file; no DNS, so no trailing dot).
        ("Dec  7 05:30:58 mx sm-mta[18099]: 6B75UwVc018081: to=<r554-5.7.1-m0003r0@d1.test>, delay=00:00:00, xdelay=00:00:00, mailer=esmtp, pri=30153, relay=gmail-smtp-in.l.google.com [127.0.0.2], dsn=5.7.1, reply=554 5.7.1 Rejected by policy <r554-5.7.1-m0003r0@d1.test> (e2e sink), stat=Service unavailable",
            host("gmail-smtp-in.l.google.com [127.0.0.2]"), Unknown),
        ("Dec  7 05:30:58 mx sm-mta[18091]: 6B75UwVZ018081: to=<r250-m0000r0@d2.test>, delay=00:00:00, xdelay=00:00:00, mailer=esmtp, pri=30153, relay=contoso-com.mail.protection.outlook.com [127.0.0.3], dsn=2.0.0, stat=Sent (Ok: queued as S000000)",
            host("contoso-com.mail.protection.outlook.com [127.0.0.3]"), Unknown),
        // wazuh-ruleset: the submission queue runner, `ctladdr=` before `delay=`
        ("Jan  1 00:00:00 peerhost sm-msp-queue[13484]: k5TKj6L5012934: to=root, ctladdr=root (0/0), delay=00:04:00, xdelay=00:00:00, mailer=relay, pri=120112, relay=[127.0.0.1], dsn=4.0.0, stat=Deferred: Connection refused by [127.0.0.1]",
            host("[127.0.0.1]"), Connect),
        // The host looked up, not reached.
        ("Nov 23 04:42:07 mx sm-mta[24678]: 6AN4g7aq024676: to=<x@down.test>, delay=00:00:00, xdelay=00:00:00, mailer=esmtp, pri=180015, relay=down.test., dsn=5.1.2, stat=Host unknown (Name server: down.test.: host not found)",
            host("down.test."), Unknown),
        ("Nov 23 04:46:18 mx sm-mta[417]: 6AN4kIPg000415: to=<nobody@mx.e2e.test>, delay=00:00:00, xdelay=00:00:00, mailer=local, pri=120289, dsn=4.0.0, stat=Operating system error",
            Relay::Local, Unknown),
        // ---- inbound: no provider ----
        ("Nov 23 04:46:28 mx sm-mta[944]: 6AN4kS7O000944: ruleset=check_rcpt, arg1=<nouser@in.test>, relay=[127.0.0.10], reject=550 5.1.1 <nouser@in.test>... Mailbox does not exist",
            UNK, Rcpt),
        ("Nov 23 04:45:25 mx sm-mta[31173]: ruleset=check_relay, arg1=[127.0.0.9], arg2=127.0.0.9, relay=[127.0.0.9], reject=550 5.7.1 Access denied",
            UNK, Connect),
        ("Nov 23 04:41:57 mx sendmail[24165]: 6AN4fvrt024165: ruleset=check_mail, arg1=<r250-sender@d1.test>, relay=localhost [127.0.0.1], reject=553 5.1.8 <r250-sender@d1.test>... Domain of sender address r250-sender@d1.test does not exist",
            UNK, Mail),
        // wazuh-ruleset
        ("Jan  1 00:00:00 peerhost sendmail[15806618]: k1SN9pkK15806618: ruleset=check_mail, arg1=<rtreter@qffff.com>, relay=dsl.static81215198185.ttnet.net.tr [81.215.198.185] (may be forged), reject=553 5.1.8 <rtreter@qffff.com>... Domain of sender address rtreter@qffff.com does not exist",
            UNK, Mail),
        ("Nov 23 05:17:58 mx sm-mta[7890]: 6AN5HwaW007890: Milter: to=<miltrej-a0@in.test>, reject=550 5.7.1 Recipient rejected by the e2e milter",
            UNK, Rcpt),
        ("Nov 23 05:17:58 mx sm-mta[7901]: 6AN5HwvN007901: Milter: data, reject=554 5.7.1 Message rejected by the e2e milter",
            UNK, EndOfData),
        ("Nov 23 04:46:28 mx sm-mta[944]: 6AN4kS7O000944: <nosuchuser@mx.e2e.test>... User unknown",
            UNK, Rcpt),
    ];

    /// Each line gives its relay and stage; cut short, the same or none.
    #[test]
    fn table() {
        crate::parse::dialogue::check_cases(parse, CASES);
    }

    /// Mailers and checks no real line here shows, as `sendmail/deliver.c` and the `cf`
    /// files name them; an MX name keeps its trailing dot (`logdelivery`).
    #[test]
    fn mailers_and_checks() {
        let mx = b"gmail-smtp-in.l.google.com. [142.250.102.27]";
        assert_eq!(
            of_delivery(Some(b"esmtp"), Some(mx), b"Sent (OK)"),
            (Relay::Host(&mx[..]), Unknown)
        );
        for local in ["prog", "*file*", "cyrusv2", "procmail"] {
            let got = of_delivery(Some(local.as_bytes()), None, b"Sent");
            assert_eq!(got.0, Relay::Local, "{local}");
        }
        assert_eq!(of_delivery(Some(b"lmtp"), None, b"Sent").0, Relay::Local);
        let lmtp = b"lmtp.example.net. [192.0.2.7]";
        assert_eq!(
            of_delivery(Some(b"lmtp"), Some(lmtp), b"Sent").0,
            Relay::Host(&lmtp[..])
        );
        assert_eq!(of_delivery(Some(b"esmtp"), None, b"Sent").0, UNK);
        for (name, stage) in [
            ("check_data", Data),
            ("check_eoh", EndOfData),
            ("check_eom", EndOfData),
            ("check_vrfy", Other),
            ("check_etrn", Other),
            ("tls_client", Unknown),
        ] {
            assert_eq!(of_ruleset(name.as_bytes()), stage, "{name}");
        }
    }
}
