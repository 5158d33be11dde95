use super::*;
use crate::aggregate::{Bounds, RecentConfig, SourceId};

/// Real lines (Postfix 3.7, tests/fixtures/postfix/parser-capture.log lines 29, 39, 55).
const DEFERRED: &str = "Nov 23 02:12:58 mx postfix/smtp[10731]: 1B0E698C15E: to=<full1@remote.example>, relay=127.0.0.1[127.0.0.1]:12600, delay=0.04, delays=0.01/0.01/0/0.01, dsn=4.2.2, status=deferred (host 127.0.0.1[127.0.0.1] said: 452 4.2.2 The email account that you tried to reach is over quota (in reply to RCPT TO command))";
const BOUNCED: &str = "Nov 23 02:12:59 mx postfix/smtp[10731]: 1C0E698C15F: to=<multi1@remote.example>, relay=127.0.0.1[127.0.0.1]:12600, delay=0.05, delays=0.01/0.01/0/0.03, dsn=5.1.1, status=bounced (host 127.0.0.1[127.0.0.1] said: 550-5.1.1 The email account that you tried to reach does not exist. Please try 550-5.1.1 double-checking the recipient's email address for typos or 550-5.1.1 unnecessary spaces. For more information, go to 550 5.1.1  https://support.example.com/mail/?p=NoSuchUser x1si123 - gsmtp (in reply to RCPT TO command))";
const NOQUEUE: &str = "Nov 23 02:13:00 mx postfix/submission/smtpd[10727]: NOQUEUE: reject: RCPT from localhost[127.0.0.1]: 550 5.1.2 <gone@retired.example>: Recipient address rejected: Mailbox domain retired; from=<sender@sse-test.example> to=<gone@retired.example> proto=ESMTP helo=<client.example>";

/// 2026-12-07T12:00:00Z: the lines above are from 23 November of this year.
const NOW: f64 = 1_796_644_800.0;

fn agg(recent: RecentConfig) -> Aggregator {
    let mut a = Aggregator::new(
        vec![("mx".into(), "postfix".into())],
        &Bounds {
            domains_max: 10,
            recent,
            ..Bounds::default()
        },
    );
    for l in [DEFERRED, BOUNCED, NOQUEUE] {
        a.record(SourceId(0), &crate::parse::postfix::parse(l.as_bytes()));
    }
    a
}

fn ids(agg: &Aggregator, query: &str) -> Vec<String> {
    let q = Query::parse(query, NOW).unwrap_or_else(|e| panic!("{query}: {e}"));
    select(agg, &q)
        .0
        .iter()
        .map(|r| r.queue_id.to_string())
        .collect()
}

#[test]
fn newest_first_with_the_log_time_and_masked_addresses() {
    let a = agg(RecentConfig::default());
    let q = Query::parse("format=json", NOW).unwrap_or_default();
    let v: serde_json::Value = serde_json::from_str(&json(&a, &q)).unwrap_or_default();
    let list = v["failures"].as_array().cloned().unwrap_or_default();
    assert_eq!(
        (v["matched"].as_u64(), v["kept"].as_u64()),
        (Some(3), Some(3))
    );
    let first = &list[0];
    assert_eq!(first["time"], "2026-11-23T02:13:00.000+00:00");
    assert_eq!(first["time_source"], "log");
    assert_eq!(first["queue_id"], "", "NOQUEUE has no queue id");
    assert_eq!(first["recipient"], "g…@retired.example");
    assert_eq!(first["direction"], "inbound");
    assert_eq!(first["outcome"], "rejected");
    assert!(first["text"]
        .as_str()
        .unwrap_or_default()
        .contains("<g…@retired.example>"));
    assert!(
        !v.to_string().contains("gone@"),
        "no whole address anywhere"
    );
    let second = &list[1];
    assert_eq!(
        (
            &second["queue_id"],
            &second["code"],
            &second["enhanced"],
            &second["class"]
        ),
        (
            &"1C0E698C15F".into(),
            &"550".into(),
            &"5.1.1".into(),
            &"5xx".into()
        )
    );
    assert_eq!(
        (&second["stage"], &second["reason"]),
        (&"rcpt".into(), &"invalid_recipient".into())
    );
    assert!(
        second["meaning"]
            .as_str()
            .unwrap_or_default()
            .contains("mailbox"),
        "{second}"
    );
    assert_eq!(list[2]["queue_id"], "1B0E698C15E");
}

#[test]
fn each_filter_selects_by_the_label_value() {
    let a = agg(RecentConfig::default());
    for (query, want) in [
        ("", vec!["", "1C0E698C15F", "1B0E698C15E"]),
        ("class=4xx", vec!["1B0E698C15E"]),
        ("class=5xx&direction=outbound", vec!["1C0E698C15F"]),
        ("outcome=rejected", vec![""]),
        ("code=452", vec!["1B0E698C15E"]),
        ("enhanced=5.1.2", vec![""]),
        (
            "reason=invalid_recipient&domain=remote.example",
            vec!["1C0E698C15F"],
        ),
        (
            "domain=remote.example&domain=retired.example&limit=2",
            vec!["", "1C0E698C15F"],
        ),
        ("queue_id=1B0E698C15E", vec!["1B0E698C15E"]),
        (
            "source=mx&mta=postfix&stage=rcpt",
            vec!["", "1C0E698C15F", "1B0E698C15E"],
        ),
        ("provider=", vec![""]),
        ("source=other", vec![]),
        ("since=2026-11-23T02:12:59Z", vec!["", "1C0E698C15F"]),
        ("since=1h", vec![]),
    ] {
        assert_eq!(ids(&a, query), want, "{query}");
    }
}

#[test]
fn a_bad_query_is_named() {
    for (query, words) in [
        ("domian=x", "unknown parameter \"domian\""),
        ("class=2xx", "class=\"2xx\""),
        ("limit=0", "limit=\"0\""),
        ("limit=many", "limit=\"many\""),
        ("since=yesterday", "since=\"yesterday\""),
        ("format=xml", "format=\"xml\""),
    ] {
        let e = Query::parse(query, NOW).err().unwrap_or_default();
        assert!(e.contains(words), "{query}: {e}");
    }
}

#[test]
fn whole_addresses_when_configured() {
    let a = agg(RecentConfig {
        whole_addresses: true,
        ..RecentConfig::default()
    });
    let q = Query::parse("format=json&queue_id=1B0E698C15E", NOW).unwrap_or_default();
    assert!(json(&a, &q).contains("\"recipient\": \"full1@remote.example\""));
}

#[test]
fn the_page_lists_and_links() {
    let a = agg(RecentConfig::default());
    let q = Query::parse("class=5xx", NOW).unwrap_or_default();
    let page = html(&a, &q, NOW);
    assert_eq!(page.matches("<tr class=\"c5\">").count(), 2);
    assert!(
        page.contains("<a href=\"?class=5xx&amp;queue_id=1C0E698C15F\">1C0E698C15F</a>"),
        "{page}"
    );
    assert!(page.contains("title=\""), "meanings on hover");
    assert!(page.contains("g…@retired.example") && !page.contains("gone@"));
    assert!(page.contains("href=\"?class=5xx&amp;format=json\""));
    let none = html(
        &a,
        &Query::parse("domain=nowhere", NOW).unwrap_or_default(),
        NOW,
    );
    assert!(none.contains("id=\"empty\""));
}
