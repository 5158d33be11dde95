//! `/failures`: the latest failures kept in memory (`aggregate::recent`), newest first, as a
//! table for people (HTML, the default) or as JSON (`?format=json`), filtered by the label
//! values of `smtp_failures_total` and `smtp_replies_total` so that an alert or a dashboard
//! panel links to the failures behind it (docs/failures.md).

use std::borrow::Cow;
use std::time::Duration;

use serde::Serialize;

use crate::aggregate::{Aggregator, Failure};
use crate::codes;

/// The filters, by query parameter: each is matched exactly against the entry's value (the
/// label values of `smtp_failures_total` and `smtp_replies_total`, and the queue id).
pub const FILTERS: [&str; 12] = [
    "source",
    "mta",
    "direction",
    "outcome",
    "class",
    "code",
    "enhanced",
    "reason",
    "stage",
    "domain",
    "provider",
    "queue_id",
];

/// Entries shown when the query gives no `limit`.
const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 100_000;

/// A request's query, checked.
#[derive(Debug, Default, PartialEq)]
pub struct Query {
    /// `(field index, accepted values)`: an entry must match one value of each field given.
    filters: Vec<(usize, Vec<String>)>,
    /// Only entries whose log time is at or after this (seconds since the epoch).
    since: Option<f64>,
    limit: usize,
    json: bool,
}

impl Query {
    /// Reads `format`, `limit`, `since` and the filters; an unknown parameter or a bad value
    /// is an error that names it. `now`: for `since` given as a duration.
    pub fn parse(query: &str, now: f64) -> Result<Query, String> {
        let mut q = Query {
            limit: DEFAULT_LIMIT,
            ..Query::default()
        };
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            match key.as_ref() {
                "format" => q.json = format_is_json(&value)?,
                "limit" => q.limit = limit(&value)?,
                "since" => q.since = Some(since(&value, now)?),
                k => q.add_filter(k, value.into_owned())?,
            }
        }
        Ok(q)
    }

    fn add_filter(&mut self, key: &str, value: String) -> Result<(), String> {
        let Some(i) = FILTERS.iter().position(|f| *f == key) else {
            return Err(format!(
                "unknown parameter {key:?}: filter by {}, or give format, since or limit",
                FILTERS.join(", ")
            ));
        };
        if key == "class" && !matches!(value.as_str(), "4xx" | "5xx") {
            return Err(format!("class={value:?}: failures are 4xx or 5xx"));
        }
        match self.filters.iter_mut().find(|(f, _)| *f == i) {
            Some((_, values)) => values.push(value),
            None => self.filters.push((i, vec![value])),
        }
        Ok(())
    }

    pub fn json(&self) -> bool {
        self.json
    }

    fn matches(&self, row: &Row<'_>) -> bool {
        self.since.is_none_or(|s| row.unix >= s)
            && self.filters.iter().all(|(f, values)| {
                let v = row.field(*f);
                values.iter().any(|want| want == v)
            })
    }

    /// The query again, without `format` and `limit`: for links between the views.
    fn filters_query(&self) -> String {
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (f, values) in &self.filters {
            for v in values {
                s.append_pair(FILTERS.get(*f).copied().unwrap_or_default(), v);
            }
        }
        s.finish()
    }
}

fn format_is_json(v: &str) -> Result<bool, String> {
    match v {
        "json" => Ok(true),
        "html" => Ok(false),
        other => Err(format!("format={other:?}: use json or html")),
    }
}

fn limit(v: &str) -> Result<usize, String> {
    match v.parse::<usize>() {
        Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        _ => Err(format!("limit={v:?}: a number from 1 to {MAX_LIMIT}")),
    }
}

/// `30m`, `2h`, `1d` before now, or an RFC 3339 time.
fn since(v: &str, now: f64) -> Result<f64, String> {
    if let Ok(d) = humantime::parse_duration(v) {
        return Ok(now - d.as_secs_f64());
    }
    if let Ok(t) = v.parse::<jiff::Timestamp>() {
        return Ok(t.as_millisecond() as f64 / 1000.0);
    }
    Err(format!(
        "since={v:?}: a duration such as 30m or 2h, or an RFC 3339 time such as 2026-12-07T03:00:00Z"
    ))
}

/// One failure as shown: label values resolved to text.
#[derive(Debug, Serialize)]
pub struct Row<'a> {
    /// The log line's time, RFC 3339 in the zone stamps are read in.
    pub time: String,
    /// `log`, or `read` where the line gave no time and the time it was read stands in.
    pub time_source: &'static str,
    #[serde(skip)]
    unix: f64,
    pub source: Cow<'a, str>,
    pub mta: Cow<'a, str>,
    pub direction: &'static str,
    pub outcome: &'static str,
    pub class: &'static str,
    pub code: String,
    pub enhanced: String,
    pub reason: Cow<'a, str>,
    pub stage: &'static str,
    pub domain: Cow<'a, str>,
    pub provider: Cow<'a, str>,
    pub queue_id: Cow<'a, str>,
    pub recipient: Cow<'a, str>,
    pub text: Cow<'a, str>,
    /// What the code means (the enhanced code's meaning where there is one).
    pub meaning: Cow<'static, str>,
}

impl Row<'_> {
    fn field(&self, i: usize) -> &str {
        match FILTERS.get(i).copied().unwrap_or_default() {
            "source" => &self.source,
            "mta" => &self.mta,
            "direction" => self.direction,
            "outcome" => self.outcome,
            "class" => self.class,
            "code" => &self.code,
            "enhanced" => &self.enhanced,
            "reason" => &self.reason,
            "stage" => self.stage,
            "domain" => &self.domain,
            "provider" => &self.provider,
            "queue_id" => &self.queue_id,
            _ => "",
        }
    }
}

fn row<'a>(agg: &'a Aggregator, f: &'a Failure) -> Row<'a> {
    let k = &f.key;
    let s = agg.source(k.source);
    let meaning = match (f.enhanced, f.code) {
        (Some(e), _) => codes::enhanced_meaning(e),
        (None, Some(c)) => codes::basic_meaning(c),
        (None, None) => Cow::Borrowed(codes::class_meaning(k.class)),
    };
    Row {
        time: rfc3339(f.time.unix, agg.log_zone()),
        time_source: if f.time.read { "read" } else { "log" },
        unix: f.time.unix,
        source: s.map(|s| s.name.as_str()).unwrap_or_default().into(),
        mta: s.map(|s| s.mta()).unwrap_or_default().into(),
        direction: k.direction.as_str(),
        outcome: f.outcome.as_str(),
        class: if k.class == 4 { "4xx" } else { "5xx" },
        code: f.code.map(|c| c.to_string()).unwrap_or_default(),
        enhanced: f.enhanced.map(|c| c.to_string()).unwrap_or_default(),
        reason: agg.reason_name(k.reason).into(),
        stage: k.stage.as_str(),
        domain: agg.domains.name(k.domain).into(),
        provider: agg.provider_name(k.provider).into(),
        queue_id: f.queue_id.as_str().into(),
        recipient: f.recipient.as_str().into(),
        text: f.text.as_str().into(),
        meaning,
    }
}

impl Row<'_> {
    /// The same row, owning its text: to be rendered after the counters' lock is let go.
    fn into_owned(self) -> Row<'static> {
        let own = |c: Cow<'_, str>| Cow::Owned(c.into_owned());
        Row {
            source: own(self.source),
            mta: own(self.mta),
            reason: own(self.reason),
            domain: own(self.domain),
            provider: own(self.provider),
            queue_id: own(self.queue_id),
            recipient: own(self.recipient),
            text: own(self.text),
            ..self
        }
    }
}

/// Seconds since the epoch as RFC 3339 with milliseconds, in `zone`.
fn rfc3339(unix: f64, zone: &jiff::tz::TimeZone) -> String {
    let ms = (unix * 1000.0).round() as i64;
    match jiff::Timestamp::from_millisecond(ms) {
        Ok(t) => t
            .to_zoned(zone.clone())
            .strftime("%Y-%m-%dT%H:%M:%S%.3f%:z")
            .to_string(),
        Err(_) => String::new(),
    }
}

/// The rows that match, newest first, at most `limit`; and how many matched in all.
pub fn select<'a>(agg: &'a Aggregator, q: &Query) -> (Vec<Row<'a>>, usize) {
    let matching = agg
        .recent
        .newest_first()
        .into_iter()
        .map(|f| row(agg, f))
        .filter(|r| q.matches(r));
    let mut rows = Vec::new();
    let mut matched = 0;
    for r in matching {
        matched += 1;
        if rows.len() < q.limit {
            rows.push(r);
        }
    }
    (rows, matched)
}

/// What a request selected, copied out of the counters: the page or JSON is rendered from it
/// after the lock is let go, so that scrapes do not wait behind a big page.
#[derive(Debug)]
pub struct Selection {
    /// Newest first, at most the query's `limit`.
    rows: Vec<Row<'static>>,
    matched: usize,
    kept: usize,
    keep: usize,
    per_series: usize,
    zone: String,
}

impl Selection {
    pub fn of(agg: &Aggregator, q: &Query) -> Selection {
        let (rows, matched) = select(agg, q);
        Selection {
            rows: rows.into_iter().map(Row::into_owned).collect(),
            matched,
            kept: agg.recent.len(),
            keep: agg.recent.config().keep,
            per_series: agg.recent.config().per_series,
            zone: agg
                .log_zone()
                .iana_name()
                .unwrap_or("local zone")
                .to_owned(),
        }
    }

    /// The JSON answer.
    pub fn json(&self) -> String {
        let answer = Answer {
            failures: &self.rows,
            matched: self.matched,
            kept: self.kept,
        };
        serde_json::to_string_pretty(&answer).unwrap_or_default() + "\n"
    }
}

/// The JSON answer.
#[derive(Debug, Serialize)]
struct Answer<'a> {
    /// Newest first.
    failures: &'a [Row<'a>],
    /// How many kept failures match the filters (more than `failures` holds when `limit` cut).
    matched: usize,
    /// How many failures are kept in all.
    kept: usize,
}

pub fn json(agg: &Aggregator, q: &Query) -> String {
    Selection::of(agg, q).json()
}

/// How long ago `since` was, for the page's heading.
pub fn describe_since(q: &Query, now: f64) -> Option<String> {
    let ago = (now - q.since?).max(0.0);
    Some(humantime::format_duration(Duration::from_secs(ago as u64)).to_string())
}

mod page;
pub use page::{html, render};

#[cfg(test)]
mod tests;
