use super::*;
use crate::parse::Recipients;

fn reply(code: &str, enh: &str, rcpt: Recipients<'static>) -> Parsed<'static> {
    Parsed::Event(Event::Reply(Reply {
        direction: Direction::Outbound,
        outcome: Outcome::Bounced,
        code: BasicCode::parse(code.as_bytes()),
        enhanced: EnhancedCode::parse(enh.as_bytes()),
        recipients: rcpt,
        delay: Some(2.0),
        text: b"",
        relay: crate::parse::Relay::Unknown,
        stage: crate::parse::Stage::Unknown,
        queue_id: &[],
        time: crate::parse::Stamp::None,
    }))
}

#[test]
fn failures_have_a_reason_per_recipient_and_successes_none() {
    let mut a = agg(100);
    let blocked = Parsed::Event(Event::Reply(Reply {
        direction: Direction::Inbound,
        outcome: Outcome::Rejected,
        code: BasicCode::parse(b"554"),
        enhanced: EnhancedCode::parse(b"5.7.1"),
        recipients: Recipients::List(b"a@x.example,b@y.example", b','),
        delay: None,
        text:
            b"554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org",
        relay: crate::parse::Relay::Unknown,
        stage: crate::parse::Stage::Unknown,
        queue_id: &[],
        time: crate::parse::Stamp::None,
    }));
    a.record(SourceId(0), &blocked);
    a.record(
        SourceId(0),
        &reply("250", "2.0.0", Recipients::One(b"u@x.example")),
    );
    a.record(
        SourceId(0),
        &reply("450", "", Recipients::One(b"u@x.example")),
    );
    let got: Vec<_> = a
        .sorted_failures()
        .iter()
        .map(|(k, v)| {
            let l = a.failure_labels(k);
            format!("{} {} {} {} {v}", l[2].1, l[3].1, l[4].1, l[6].1)
        })
        .collect();
    assert_eq!(
        got,
        [
            "outbound 4xx other x.example 1",
            "inbound 5xx blocklisted x.example 1",
            "inbound 5xx blocklisted y.example 1",
        ]
    );
    // Every 4xx/5xx reply is a failure, and nothing else is.
    let failed: u64 = a
        .replies
        .iter()
        .filter(|(k, _)| matches!(crate::codes::class_label(k.code, k.enhanced), "4xx" | "5xx"))
        .map(|(_, v)| v.n)
        .sum();
    assert_eq!(failed, a.failures.values().map(|v| v.n).sum::<u64>());
}

fn agg(max: usize) -> Aggregator {
    Aggregator::new(
        vec![("postfix".into(), "postfix".into())],
        &Bounds {
            domains_max: max,
            ..Bounds::default()
        },
    )
}

#[test]
fn one_reply_per_recipient_and_line_results_add_up() {
    let mut a = agg(100);
    a.record(
        SourceId(0),
        &reply("550", "5.1.1", Recipients::One(b"u@Example.com")),
    );
    a.record(
        SourceId(0),
        &reply(
            "550",
            "5.1.1",
            Recipients::List(b"a@example.com,b@x.org", b','),
        ),
    );
    a.record(SourceId(0), &Parsed::Ignored);
    a.record(SourceId(0), &Parsed::Unrecognised);
    a.record(SourceId(0), &Parsed::Event(Event::Expired));
    let series = a.sorted_replies();
    let by_domain: Vec<_> = series
        .iter()
        .map(|(k, v)| (a.domains.name(k.domain).to_owned(), *v))
        .collect();
    assert_eq!(
        by_domain,
        vec![("example.com".to_owned(), 2), ("x.org".to_owned(), 1)]
    );
    assert_eq!(a.sources[0].line_counts(), [3, 1, 1]);
    assert_eq!(a.sources[0].expired, 1);
    // One delay observation per line, not per recipient.
    assert_eq!(a.delays[&(SourceId(0), Outcome::Bounced)].count, 2);
    let labels = a.reply_labels(&series[0].0);
    assert_eq!(labels[4].1, "5xx");
    assert_eq!(labels[7].1, "addressing");
}

#[test]
fn domain_overflow_is_counted() {
    let mut a = agg(1);
    for d in ["a@one.example", "b@two.example", "c@three.example"] {
        a.record(
            SourceId(0),
            &reply("250", "2.0.0", Recipients::One(d.as_bytes())),
        );
    }
    assert_eq!(a.label_overflow.get("domain"), Some(&2));
    assert_eq!(a.replies.len(), 2);
}

#[test]
fn histogram_is_cumulative() {
    let mut h = Histogram::default();
    for v in [0.05, 0.7, 5.0, 1e9] {
        h.observe(v);
    }
    let c: Vec<_> = h.cumulative().collect();
    assert_eq!(c.first(), Some(&(0.1, 1)));
    assert_eq!(c.last(), Some(&(f64::INFINITY, 4)));
    assert_eq!(h.count, 4);
}

/// The provider of a domain is remembered per domain label only where the label is one
/// domain's: a group's label (several domains) and `other` (folded ones) ask each time.
#[test]
fn providers_of_grouped_and_folded_domains_are_each_their_own() {
    let mut a = Aggregator::new(
        vec![("postfix".into(), "postfix".into())],
        &Bounds {
            domains_max: 1,
            domain_groups: vec![(
                "bigmail".into(),
                vec!["gmail.com".into(), "yahoo.com".into()],
            )],
            ..Bounds::default()
        },
    );
    let rcpts: [&'static [u8]; 6] = [
        b"a@gmail.com",
        b"b@yahoo.com",
        b"c@example.org",
        b"d@icloud.com",
        b"e@hotmail.fr",
        b"f@GMAIL.COM",
    ];
    for r in rcpts {
        a.record(SourceId(0), &reply("250", "2.0.0", Recipients::One(r)));
    }
    let mut got: Vec<String> = a
        .sorted_replies()
        .iter()
        .map(|(k, v)| {
            let l = a.reply_labels(k);
            format!("{} {} {v}", l[8].1, l[9].1)
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            "bigmail google 2",
            "bigmail yahoo 1",
            "example.org other 1",
            "other apple 1",
            "other microsoft 1",
        ]
    );
}
