//! `replay --format json`: one object with every reply series, the failure series by reason,
//! the expiry counts and the line results, so counts can be compared by a
//! program.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::aggregate::{Aggregator, LineResult};

#[derive(Serialize)]
struct Series {
    labels: Map<String, Value>,
    value: u64,
}

#[derive(Serialize)]
struct Report {
    replies: Vec<Series>,
    /// The series of `smtp_failures_total`, by reason class.
    failures: Vec<Series>,
    expired: Vec<Series>,
    lines: Map<String, Value>,
}

pub fn encode(agg: &Aggregator) -> String {
    let replies = agg
        .sorted_replies()
        .iter()
        .map(|(k, v)| Series {
            labels: agg
                .reply_labels(k)
                .into_iter()
                .map(|(l, v)| (l.to_owned(), Value::String(v)))
                .collect(),
            value: *v,
        })
        .collect();
    let failures = agg
        .sorted_failures()
        .iter()
        .map(|(k, v)| Series {
            labels: agg
                .failure_labels(k)
                .into_iter()
                .map(|(l, v)| (l.to_owned(), Value::String(v)))
                .collect(),
            value: *v,
        })
        .collect();
    let expired = agg
        .sources
        .iter()
        .map(|s| Series {
            labels: [
                ("source".to_owned(), Value::String(s.name.clone())),
                ("mta".to_owned(), Value::String(s.mta().to_owned())),
            ]
            .into_iter()
            .collect(),
            value: s.expired,
        })
        .collect();
    let totals = agg.total_lines();
    let lines = LineResult::ALL
        .into_iter()
        .map(|r| (r.as_str().to_owned(), Value::from(totals[r as usize])))
        .collect();
    let report = Report {
        replies,
        failures,
        expired,
        lines,
    };
    // Serialising plain maps and numbers cannot fail.
    serde_json::to_string_pretty(&report).unwrap_or_default() + "\n"
}
