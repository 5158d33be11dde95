use super::*;
use crate::aggregate::domain::DomainId;
use crate::aggregate::SourceId;
use crate::codes::providers::ProviderId;
use crate::codes::reasons::OTHER;
use crate::parse::{Direction, Stage};

fn key(domain: usize) -> FailureKey {
    FailureKey {
        source: SourceId(0),
        direction: Direction::Outbound,
        class: 4,
        reason: OTHER,
        stage: Stage::Rcpt,
        domain: DomainId::from_index(domain),
        provider: ProviderId::OTHER,
    }
}

fn failure<'a>(k: FailureKey, queue_id: &'a [u8], text: &'a [u8]) -> NewFailure<'a> {
    NewFailure {
        key: k,
        outcome: Outcome::Deferred,
        code: BasicCode::new(450),
        enhanced: None,
        time: LogTime {
            unix: 1.0,
            read: false,
        },
        queue_id,
        recipient: b"<john@example.com>",
        text,
    }
}

fn config(keep: usize, per_series: usize, series_max: usize) -> RecentConfig {
    RecentConfig {
        keep,
        per_series,
        series_max,
        ..RecentConfig::default()
    }
}

#[test]
fn newest_first_and_masked() {
    let mut r = Recent::new(RecentConfig::default());
    r.record(&failure(
        key(1),
        b"AAA",
        b"450 4.2.0 <john@example.com>: busy",
    ));
    r.record(&failure(key(1), b"BBB", b"450 again"));
    let all = r.newest_first();
    let ids: Vec<_> = all.iter().map(|f| f.queue_id.as_str()).collect();
    assert_eq!(ids, ["BBB", "AAA"]);
    assert_eq!(all[1].recipient, "j…@example.com");
    assert_eq!(all[1].text, "450 4.2.0 <j…@example.com>: busy");
}

#[test]
fn whole_addresses_only_when_configured() {
    let mut r = Recent::new(RecentConfig {
        whole_addresses: true,
        ..RecentConfig::default()
    });
    r.record(&failure(key(1), b"A", b"<john@example.com>"));
    assert_eq!(r.newest_first()[0].recipient, "john@example.com");
    assert_eq!(r.newest_first()[0].text, "<john@example.com>");
}

/// A flood of a hundred thousand failures of one series after one of another (the e2e test
/// floods a million through the exporter): the
/// rare one keeps its sample and memory stays bounded.
#[test]
fn a_rare_series_keeps_its_sample_under_a_flood() {
    let mut r = Recent::new(config(1000, 3, 1000));
    r.record(&failure(key(2), b"RARE", b"550 rare"));
    let text = vec![b'x'; 2048];
    let mut id = Vec::with_capacity(16);
    for i in 0..100_000u32 {
        id.clear();
        let _ = std::io::Write::write_fmt(&mut id, format_args!("F{i}"));
        r.record(&failure(key(1), &id, &text));
    }
    let all = r.newest_first();
    assert_eq!(all.len(), 1001, "the ring and the rare one's reserve");
    assert_eq!(all[0].queue_id, "F99999");
    assert_eq!(all[1000].queue_id, "RARE");
    assert!(all.iter().all(|f| f.text.len() <= 400 + 3));
    assert_eq!(r.len(), 1001);
}

#[test]
fn the_reserve_is_bounded_and_gives_way_to_newer_series() {
    let mut r = Recent::new(config(100, 2, 10));
    for d in 0..50 {
        for _ in 0..3 {
            r.record(&failure(key(d), b"Q", b"t"));
        }
    }
    assert_eq!(r.reserved_series(), 10);
    // The ring's 100 plus at most 2 per reserved series, each stored once.
    assert!(r.len() <= 100 + 2 * 10, "{}", r.len());
    // The newest series kept their reserve; the oldest gave it up.
    let domains: std::collections::BTreeSet<_> = r
        .newest_first()
        .iter()
        .map(|f| f.key.domain.index())
        .collect();
    assert!(domains.contains(&49) && !domains.contains(&0));
}

#[test]
fn turned_off_it_keeps_nothing() {
    let mut r = Recent::new(config(0, 3, 10));
    r.record(&failure(key(1), b"A", b"t"));
    assert!(!r.enabled());
    assert!(r.is_empty());
}
