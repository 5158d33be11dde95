//! The user-defined formats' tests: real lines read by formats as the configuration file
//! declares them, and the mistakes `check-config` names.

use super::*;

fn format(yaml: &str) -> Result<CustomFormat, String> {
    let cfg: FormatConfig = serde_yaml::from_str(yaml).map_err(|e| e.to_string())?;
    CustomFormat::compile(&cfg)
}

use crate::parse::render_for_tests as render;

const HARAKA: &str = r#"
name: haraka
prefilter: "] [outbound] "
patterns:
  - regex: 'recipient <(?P<recipient>[^>]*)> (?P<outcome>deferred|rejected): (?P<code>\d{3}(?: \d\.\d{1,3}\.\d{1,3})?)'
  - regex: 'delivered file=\S+ domain=(?P<domain>\S+)'
    outcome: delivered
outcomes:
  rejected: bounced
"#;

#[test]
fn cases() {
    let mut p = CustomParser::new(Arc::new(format(HARAKA).unwrap()));
    let cases = [
            (
                "[NOTICE] [-] [outbound] recipient <bob@Example.org> deferred: 451 4.7.1 Greylisted, try again in 5 minutes",
                "outbound deferred 451 4.7.1 Example.org",
            ),
            (
                "[NOTICE] [-] [outbound] recipient <nouser@example.net> rejected: 550 5.1.1 <nouser@example.net>: Recipient address rejected: User unknown",
                "outbound bounced 550 5.1.1 example.net",
            ),
            (
                "[NOTICE] [-] [outbound] recipient <x@example.net> rejected: 999 9.9.9 nonsense",
                "outbound bounced - - example.net",
            ),
            (
                "[NOTICE] [-] [outbound] delivered file=1710148467123_1710148467123_0_85212_Wj8xq0_1_mx1 domain=gmail.com host=gmail-smtp-in.l.google.com ip=142.250.102.27 port=25 mode=SMTP tls=Y auth=N response=\"OK  1710148467 a1si123 - gsmtp\" delay=1.21 fails=0 rcpts=1/0/0",
                "outbound delivered - - gmail.com",
            ),
            ("[INFO] [-] [outbound] Temp failing 1710148467123_1710148467123_0_85212_Wj8xq0_1_mx1 for 64 seconds: Upstream error: 421 4.7.0 Try again later", "Unrecognised"),
            ("[NOTICE] [8E1B3A2C-0C5E-4A5B-9D0E-3F2A1B0C9D8E.1] [core] disconnect ip=192.0.2.8 rdns=client.example helo=client.example relay=N early=N esmtp=Y tls=Y pipe=N errors=0 txns=1 rcpts=1/0/0 msgs=1/0/0 bytes=4410 lr=\"\" time=0.513", "Ignored"),
            ("", "Ignored"),
        ];
    for (line, want) in cases {
        assert_eq!(render(&p.parse(line.as_bytes())), want, "{line}");
    }
}

#[test]
fn unmapped_words_are_unrecognised_never_labels() {
    let mut p = CustomParser::new(Arc::new(
            format(
                "name: x\npatterns:\n  - regex: 'to=(?P<recipient>\\S+) (?P<direction>\\w+) (?P<outcome>\\w+)'\noutcomes:\n  OK: delivered\n  EXP: expired\n  SKIP: ignored\ndirections:\n  in: inbound\n",
            )
            .unwrap(),
        ));
    for (line, want) in [
        ("to=a@b.example in OK", "inbound delivered - - b.example"),
        (
            "to=a@b.example outbound bounced",
            "outbound bounced - - b.example",
        ),
        ("to=a@b.example in MAYBE", "Unrecognised"),
        ("to=a@b.example sideways OK", "Unrecognised"),
        ("to=a@b.example in EXP", "Expired"),
        ("to=a@b.example in SKIP", "Ignored"),
        ("nothing to see", "Ignored"),
    ] {
        assert_eq!(render(&p.parse(line.as_bytes())), want, "{line}");
    }
}

#[test]
fn mistakes_are_named() {
    let cases = [
        (
            "name: x\npatterns:\n  - regex: '(?P<code>\\d{3}'\n",
            "patterns[0].regex: ",
        ),
        (
            "name: x\npatterns:\n  - regex: '(?P<code>\\d{3})'\n",
            "patterns[0].regex: has no group named outcome",
        ),
        (
            "name: x\npatterns:\n  - regex: '(?P<rcpt>\\S+) (?P<outcome>\\w+)'\n",
            "patterns[0].regex: the group (?P<rcpt>…) means nothing here",
        ),
        (
            "name: x\npatterns:\n  - regex: 'x'\n    outcome: sent\n",
            "patterns[0].outcome: \"sent\" is not one of",
        ),
        (
            "name: x\npatterns:\n  - regex: '(?P<outcome>\\w+)'\noutcomes:\n  sent: ok\n",
            "outcomes.sent: \"ok\" is not one of",
        ),
        ("name: x\npatterns: []\n", "patterns: list at least one"),
        (
            "name: x\npatterns:\n  - regex: 'gone (?P<relay>\\S+)'\n    outcome: expired\n",
            "patterns[0].regex: the group (?P<relay>…) says nothing of an expired line",
        ),
        (
            "name: x\npatterns:\n  - regex: 'at (?P<time>\\S+)'\n    outcome: ignored\n",
            "patterns[0].regex: the group (?P<time>…) says nothing of an ignored line",
        ),
        (
            "name: x\nprefilter: ''\npatterns:\n  - regex: 'x'\n    outcome: delivered\n",
            "prefilter",
        ),
    ];
    for (yaml, want) in cases {
        let err = format(yaml).expect_err(yaml);
        assert!(err.contains(want), "{yaml}: {err:?} lacks {want:?}");
    }
    assert!(CustomFormat::check_name("postfix").is_err());
    assert!(CustomFormat::check_name("bad name").is_err());
    assert!(CustomFormat::check_name("haraka").is_ok());
}

#[test]
fn recipient_lists() {
    let mut p = CustomParser::new(Arc::new(
            format(
                "name: x\npatterns:\n  - regex: 'to=(?P<recipient>\\S+) (?P<code>\\d{3} \\d\\.\\d\\.\\d)'\n    recipient_separator: ','\n    outcome: bounced\n",
            )
            .unwrap(),
        ));
    assert_eq!(
        render(&p.parse(b"to=a@x.example,b@y.example 550 5.1.1")),
        "outbound bounced 550 5.1.1 x.example,y.example"
    );
}

/// Postfix lines from hsn723/postfix_exporter's and kumina/postfix_exporter's test logs
/// (shared/corpora/peers/), read by a user-defined format as a relay appliance's would be.
#[test]
fn relay_and_stage_groups() {
    let yaml = r#"
name: appliance
patterns:
  - regex: 'relay=(?P<relay>[^,]+), .*dsn=(?P<enhanced>\d\.\d+\.\d+), status=(?P<outcome>\w+)'
  - regex: 'host (?P<relay>\S+) said: (?P<code>\d{3}) .*\(in reply to (?P<stage>[A-Za-z ]+?)(?: command)?\)'
    outcome: deferred
"#;
    let mut p = CustomParser::new(Arc::new(format(yaml).unwrap()));
    for (line, want) in [
            (
                "Jan  1 00:00:00 peerhost postfix/smtp[1]: 4E74613FE76: to=<redacted@gmail.com>, relay=gmail-smtp-in.l.google.com[2607:f8b0:400e:c04::1b]:25, delay=1.9, delays=0.05/0/1.1/0.71, dsn=5.7.1, status=bounced (host gmail-smtp-in.l.google.com[2607:f8b0:400e:c04::1b] said: 550-5.7.1 [2607:4100:3:25:100::2",
                "gmail-smtp-in.l.google.com[2607:f8b0:400e:c04::1b]:25|",
            ),
            (
                "Jan  1 00:00:00 peerhost postfix/smtp[1]: 2690D8044: host mta7.am0.yahoodns.net[66.196.118.34] said: 451 4.3.2 Internal error reading data (in reply to MAIL FROM command)",
                "mta7.am0.yahoodns.net[66.196.118.34]|mail",
            ),
        ] {
            assert_eq!(crate::parse::relay_stage_for_tests(&p.parse(line.as_bytes())), want, "{line}");
        }
}

/// Postfix lines of peers' tests (shared/corpora/peers/: whyscream/postfix-grok-patterns,
/// wazuh) and a Microsoft 365 message trace row (tests/fixtures/custom/) read by formats
/// with `queue_id` and `time` groups: the stamp's layout is told by its shape; a refusal
/// before a queue file has no id; a stamp of another shape gives no time.
#[test]
fn queue_id_and_time_groups() {
    let yaml = r#"
name: appliance
patterns:
  - regex: '^(?P<time>\S+|\w{3} +\d+ [\d:]+) \S+ postfix/\w+\[\d+\]: (?P<queue_id>[0-9A-F]{6,}): .*dsn=(?P<enhanced>\d\.\d+\.\d+), status=(?P<outcome>\w+)'
  - regex: '^(?P<time>\w{3} +\d+ [\d:]+) \S+ postfix/smtpd\[\d+\]: (?:(?P<queue_id>[0-9A-F]{6,})|NOQUEUE): reject: RCPT from \S+: (?P<code>\d{3} \d\.\d\.\d)'
    outcome: rejected
    direction: inbound
  - regex: '^"(?P<time>[^"]+)","[^"]*","(?P<recipient>[^"]+)","Delivered"'
    outcome: delivered
"#;
    let mut p = CustomParser::new(Arc::new(format(yaml).unwrap()));
    for (line, id, time) in [
            (
                "2023-02-01T01:02:04.123456+00:00 hostname postfix/smtp[12345]: 123456789AB: to=<user@example.com>, relay=example.com[123.45.67.89]:25, delay=1.23, delays=1.23/1.23/1.23/1.23, dsn=1.2.3, status=bounced (123 #1.2.3 Reasons)",
                "123456789AB",
                Stamp::Iso(b"2023-02-01T01:02:04.123456+00:00"),
            ),
            (
                "Jan  1 00:00:00 peerhost postfix/local[1]: 892A0205B6: to=ghdsgfhdslfh@localhost, relay=local, delay=0.05, delays=0.02/0/0/0.02, dsn=5.1.1, status=bounced (unknown user: \"ghdsgfhdslfh\")",
                "892A0205B6",
                Stamp::Bsd(b"Jan  1 00:00:00"),
            ),
            (
                "Jan  1 00:00:00 peerhost postfix/smtpd[1]: NOQUEUE: reject: RCPT from 061238241086.static.ctinets.com[61.238.241.86]: 550 5.1.1 <toernooicommissie@example.com>: Recipient address rejected: User unknown in virtual mailbox table; from=<wumt5@cchfdc.com> to=<toernooicommissie@example.com> proto=ESMTP helo=<ecsolved.com>",
                "",
                Stamp::Bsd(b"Jan  1 00:00:00"),
            ),
            (
                "\"3/11/2024 9:14:27 AM\",\"alice@contoso.com\",\"bob@example.net\",\"Delivered\",\"Q1 report, final\"",
                "",
                Stamp::None,
            ),
        ] {
            match p.parse(line.as_bytes()) {
                Parsed::Event(Event::Reply(r)) => {
                    assert_eq!(String::from_utf8_lossy(r.queue_id), id, "{line}");
                    assert_eq!(r.time, time, "{line}");
                }
                other => panic!("{line}: {other:?}"),
            }
        }
}

#[test]
fn reply_texts() {
    let mut p = CustomParser::new(Arc::new(format(HARAKA).unwrap()));
    let line = b"[NOTICE] [-] [outbound] recipient <bob@Example.org> deferred: 451 4.7.1 Greylisted, try again in 5 minutes";
    // Without a `text` group: what `code` captured.
    assert_eq!(crate::parse::text_of(&p.parse(line)), Some("451 4.7.1"));
    let mut p = CustomParser::new(Arc::new(
            format("name: t\npatterns:\n  - regex: 'to=(?P<recipient>\\S+) (?P<outcome>\\w+): (?P<text>(?P<code>\\d{3}) .*)'\n").unwrap(),
        ));
    assert_eq!(
        crate::parse::text_of(&p.parse(b"to=a@b.example bounced: 550 5.1.1 User unknown")),
        Some("550 5.1.1 User unknown")
    );
}
