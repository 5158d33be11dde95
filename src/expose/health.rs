//! Destination health: the log time of the latest delivery to, and the latest failure from,
//! each destination (`smtp_last_delivered_timestamp_seconds`,
//! `smtp_last_failure_timestamp_seconds`), folded from the reply series, which keep the time of
//! their latest reply; and the exemplars of `smtp_failures_total`.

use std::collections::BTreeMap;

use prometheus::proto::Metric;

use super::gauge;
use crate::aggregate::{Aggregator, Exemplar, SourceId};
use crate::parse::{Direction, Outcome};

/// One destination: source, provider, domain label, and for failures the class digit.
type Destination<'a> = (SourceId, &'a str, &'a str, u8);

/// The latest log time per destination, for delivered replies (class 0) and failures (4, 5).
fn latest(agg: &Aggregator) -> BTreeMap<Destination<'_>, f64> {
    let mut out: BTreeMap<Destination<'_>, f64> = BTreeMap::new();
    for (k, t) in &agg.replies {
        if k.direction != Direction::Outbound || t.last <= 0.0 {
            continue;
        }
        let class = match crate::codes::class_label(k.code, k.enhanced) {
            "4xx" => 4,
            "5xx" => 5,
            _ if k.outcome == Outcome::Delivered => 0,
            _ => continue,
        };
        let provider = agg.provider_name(k.provider);
        let dest = (k.source, provider, agg.domains.name(k.domain), class);
        let slot = out.entry(dest).or_insert(t.last);
        *slot = slot.max(t.last);
    }
    out
}

/// Both gauges: `(delivered, failures)`.
pub fn gauges(agg: &Aggregator) -> (Vec<Metric>, Vec<Metric>) {
    let (mut delivered, mut failed) = (Vec::new(), Vec::new());
    for ((source, provider, domain, class), at) in latest(agg) {
        let s = agg.source(source);
        let mut labels = vec![
            ("source", s.map(|s| s.name.clone()).unwrap_or_default()),
            ("mta", s.map(|s| s.mta()).unwrap_or_default().to_owned()),
            ("provider", provider.to_owned()),
            ("domain", domain.to_owned()),
        ];
        if class == 0 {
            delivered.push(gauge(labels, at));
        } else {
            labels.push(("class", format!("{class}xx")));
            failed.push(gauge(labels, at));
        }
    }
    (delivered, failed)
}

/// The exemplar of each series of `smtp_failures_total`, in the order of its family.
pub fn exemplars(agg: &Aggregator) -> Vec<Option<Exemplar>> {
    agg.sorted_failure_tallies()
        .into_iter()
        .map(|(_, t)| t.exemplar)
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::aggregate::{Aggregator, Bounds, SourceId};
    use crate::expose::{encode, families, BuildInfo, Format};
    use crate::parse::{BasicCode, Direction, Event, Outcome, Parsed, Recipients, Reply, Stamp};

    fn reply<'a>(
        code: u16,
        outcome: Outcome,
        rcpt: &'a [u8],
        qid: &'a [u8],
        at: &'a [u8],
    ) -> Parsed<'a> {
        Parsed::Event(Event::Reply(Reply {
            direction: Direction::Outbound,
            outcome,
            code: BasicCode::new(code),
            enhanced: None,
            recipients: Recipients::One(rcpt),
            delay: None,
            text: b"",
            relay: crate::parse::Relay::Unknown,
            stage: crate::parse::Stage::Rcpt,
            queue_id: qid,
            time: Stamp::Iso(at),
        }))
    }

    fn exposed(lines: &[Parsed<'_>], format: Format) -> String {
        let mut a = Aggregator::new(
            vec![("pf".into(), "postfix".into())],
            &Bounds {
                domains_max: 10,
                ..Bounds::default()
            },
        );
        for l in lines {
            a.record(SourceId(0), l);
        }
        encode(&families(&a, &BuildInfo::CURRENT), format).unwrap_or_default()
    }

    #[test]
    fn failures_carry_their_latest_queue_id_in_openmetrics_only() {
        let lines = [
            reply(
                450,
                Outcome::Deferred,
                b"a@x.example",
                b"AAA",
                b"2026-12-07T12:00:00Z",
            ),
            reply(
                450,
                Outcome::Deferred,
                b"b@x.example",
                b"BBB",
                b"2026-12-07T12:00:05.5Z",
            ),
            // NOQUEUE: counted, no exemplar of its own, never an empty label.
            reply(
                550,
                Outcome::Deferred,
                b"c@y.example",
                b"",
                b"2026-12-07T12:00:09Z",
            ),
        ];
        let om = exposed(&lines, Format::OpenMetrics);
        let with: Vec<_> = om.lines().filter(|l| l.contains(" # {")).collect();
        assert_eq!(with.len(), 1, "{om}");
        assert!(
            with[0].starts_with("smtp_failures_total{")
                && with[0].contains("domain=\"x.example\"")
                && with[0].ends_with(" 2.0 # {queue_id=\"BBB\"} 1.0 1796644805.500"),
            "{}",
            with[0]
        );
        assert!(!om.contains("queue_id=\"\""));
        let text = exposed(&lines, Format::Prometheus);
        assert!(
            !text.contains("queue_id"),
            "the classic format has no exemplars"
        );
    }

    #[test]
    fn destination_health_is_the_latest_log_time() {
        let lines = [
            reply(
                250,
                Outcome::Delivered,
                b"a@x.example",
                b"A",
                b"2026-12-07T11:00:00Z",
            ),
            reply(
                250,
                Outcome::Delivered,
                b"b@x.example",
                b"B",
                b"2026-12-07T11:30:00Z",
            ),
            reply(
                451,
                Outcome::Deferred,
                b"a@x.example",
                b"C",
                b"2026-12-07T11:45:00Z",
            ),
        ];
        let text = exposed(&lines, Format::Prometheus);
        let want_delivered = "smtp_last_delivered_timestamp_seconds{source=\"pf\",mta=\"postfix\",provider=\"other\",domain=\"x.example\"} 1796643000";
        let want_failure = "smtp_last_failure_timestamp_seconds{source=\"pf\",mta=\"postfix\",provider=\"other\",domain=\"x.example\",class=\"4xx\"} 1796643900";
        assert!(text.contains(want_delivered), "{text}");
        assert!(text.contains(want_failure), "{text}");
        assert!(!text.contains("class=\"5xx\"}"), "{text}");
    }
}
