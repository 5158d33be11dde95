//! The relay and stage of whole notices: ours (tests/fixtures/dsn/) and a few of Sisimai's
//! real bounce mails (shared/corpora/sisimai/, read in place, never copied).

use std::path::{Path, PathBuf};

use super::*;

/// `recipient relay|stage` of each reply of a notice.
fn relay_stage(path: &Path) -> Vec<String> {
    let msg = std::fs::read(path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (Sisimai's mails live in shared/corpora beside the repository; \
             SMTP_CORPORA names another place)",
            path.display()
        )
    });
    match parse(&msg) {
        Report::Replies(v) => v
            .iter()
            .map(|d| format!("{} {}|{}", d.recipient, d.relay, d.stage.as_str()))
            .collect(),
        other => vec![format!("{other:?}")],
    }
}

pub(super) fn corpora() -> PathBuf {
    match std::env::var_os("SMTP_CORPORA") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpora"),
    }
}

#[test]
fn our_notices() {
    let cases: &[(&str, &[&str])] = &[
        // Postfix: `Remote-MTA`, and the command in the text's paragraph of the recipient.
        (
            "postfix-refused-after-data.eml",
            &["r250-d554-5.7.1-am6r0@d2.test 127.0.0.3|end_of_data"],
        ),
        (
            "postfix-two-recipients.eml",
            &[
                "r552-5.2.2-am2r0@d2.test 127.0.0.3|rcpt",
                "r550-5.1.1-ml-am2r1@d1.test 127.0.0.2|rcpt",
            ],
        ),
        (
            "postfix-delay-warning.eml",
            &["r450-4.2.0-am3r0@d1.test 127.0.0.2|rcpt"],
        ),
        (
            "postfix-relayed-success.eml",
            &["r250-am8r0@d2.test 127.0.0.3|"],
        ),
        // Exchange's administrators' section: the host before `#` answered; a line that
        // starts with `#` is Exchange's own verdict.
        (
            "exchange-2010-diagnostic.eml",
            &[
                "pat@contoso.example |",
                "lee@fabrikam.example mail.fabrikam.example|",
            ],
        ),
        // Gmail's and Microsoft's notices quote the reply alone.
        ("gmail-address-not-found.eml", &["nobody@example.org |"]),
        ("m365-reported-error.eml", &["gone@contoso.example |"]),
    ];
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/dsn");
    for (file, want) in cases {
        assert_eq!(relay_stage(&dir.join(file)), *want, "{file}");
    }
}

#[test]
fn sisimai_notices() {
    let cases: &[(&str, &[&str])] = &[
        // Postfix to Gmail and iCloud: `Remote-MTA: dns; gmail-smtp-in.l.google.com`.
        (
            "lhost-postfix-28.eml",
            &["kijitora@gmail.example.com gmail-smtp-in.l.google.com|end_of_data"],
        ),
        (
            "lhost-postfix-71.eml",
            &["kijitora@apple.example.com mx01.mail.icloud.com|end_of_data"],
        ),
        (
            "lhost-postfix-02.eml",
            &[
                "filtered@example.co.jp mx.example.co.jp|rcpt",
                "userunknown@example.co.jp mx.example.co.jp|rcpt",
            ],
        ),
        // `Remote-MTA: DNS; aspmx.l.google.com`, a diagnostic without a command.
        (
            "rhost-google-01.eml",
            &["shironeko@example.ne.jp aspmx.l.google.com|"],
        ),
        // Exim's text notice: `after RCPT TO:<…>`, `host NAME [ADDR]: 550 …`.
        (
            "lhost-exim-02.eml",
            &[
                "kijitora@example.jp mx.example.jp [192.0.2.153]|rcpt",
                "sabatora@example.jp mx.example.jp [192.0.2.153]|rcpt",
            ],
        ),
        // Gmail's "did not accept our requests to connect".
        ("lhost-gmail-09.eml", &["kijitora@9jo.example.jp |connect"]),
        // Sendmail: the relay; its transcript's `>>> DATA` is not taken (see `dialogue`).
        (
            "lhost-sendmail-01.eml",
            &["userunknown@bouncehammer.jp mx.bouncehammer.jp|"],
        ),
        // Microsoft 365: no host, no command.
        ("lhost-office365-01.eml", &["kijitora@example.com |"]),
    ];
    let dir = corpora().join("sisimai/mail/cur");
    for (file, want) in cases {
        assert_eq!(relay_stage(&dir.join(file)), *want, "{file}");
    }
}
