//! Exposition: counters out, in the formats people and programs read.
//!
//! [`families`] turns the aggregator into metric families once; the Prometheus text format is
//! the `prometheus` crate's encoder over them, OpenMetrics is written in [`openmetrics`], and
//! `replay` also prints [`json`] and a human [`table`].

mod health;
pub mod json;
pub mod openmetrics;
pub mod page;
pub mod report;
pub mod summary;
pub mod svg;
pub mod table;

use prometheus::proto::{
    Bucket, Counter, Gauge, Histogram as PHistogram, LabelPair, Metric, MetricFamily, MetricType,
};

use crate::aggregate::metrics::{self, Kind, Spec};
use crate::aggregate::{Aggregator, Exemplar, LineResult, RotationKind};
use crate::codes;

/// What `smtp_status_exporter_build_info` says.
#[derive(Debug, Clone)]
pub struct BuildInfo {
    pub version: &'static str,
    pub revision: &'static str,
    pub rustc: &'static str,
    /// `--web.external-url`, empty when not given: alert rules build links to `/failures`
    /// from it.
    pub external_url: String,
    /// `https` while the web configuration turns TLS on, else `http`: with `instance`, the
    /// address alert rules link to when there is no external URL.
    pub scheme: &'static str,
}

impl BuildInfo {
    pub const CURRENT: BuildInfo = BuildInfo {
        version: env!("CARGO_PKG_VERSION"),
        revision: env!("SSE_GIT_REVISION"),
        rustc: env!("SSE_RUSTC_VERSION"),
        external_url: String::new(),
        scheme: "http",
    };

    /// The same, served over TLS or not.
    pub fn over_tls(&self, tls: bool) -> BuildInfo {
        BuildInfo {
            scheme: if tls { "https" } else { "http" },
            ..self.clone()
        }
    }
}

/// The exposition formats, chosen by `--format` or by the `Accept` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Prometheus,
    OpenMetrics,
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Prometheus => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }

    /// Content negotiation: OpenMetrics when the scraper asks for it, the classic text format
    /// otherwise (what Prometheus, promtool and curl all read).
    pub fn negotiate(accept: Option<&str>) -> Format {
        match accept {
            Some(a) if a.contains("application/openmetrics-text") => Format::OpenMetrics,
            _ => Format::Prometheus,
        }
    }
}

/// The metric families of one exposition, and the exemplars OpenMetrics adds to them (the
/// `prometheus` crate's types have no place for exemplars).
#[derive(Debug, Clone, Default)]
pub struct Families {
    pub list: Vec<MetricFamily>,
    /// The exemplar of each series of `smtp_failures_total`, in the order of its family.
    pub failure_exemplars: Vec<Option<Exemplar>>,
}

/// Encodes the families in the chosen format; only OpenMetrics carries exemplars.
pub fn encode(families: &Families, format: Format) -> anyhow::Result<String> {
    match format {
        Format::Prometheus => Ok(prometheus::TextEncoder::new().encode_to_string(&families.list)?),
        Format::OpenMetrics => Ok(openmetrics::encode(
            &families.list,
            &openmetrics::Exemplars {
                family: metrics::FAILURES.name,
                each: &families.failure_exemplars,
            },
        )),
    }
}

fn family(spec: &Spec, metrics: Vec<Metric>) -> MetricFamily {
    let mut f = MetricFamily::default();
    f.set_name(spec.name.to_owned());
    f.set_help(spec.help.to_owned());
    f.set_field_type(match spec.kind {
        Kind::Counter => MetricType::COUNTER,
        Kind::Gauge => MetricType::GAUGE,
        Kind::Histogram => MetricType::HISTOGRAM,
    });
    f.set_metric(metrics);
    f
}

fn labels<'a, I>(pairs: I) -> Vec<LabelPair>
where
    I: IntoIterator<Item = (&'a str, String)>,
{
    pairs
        .into_iter()
        .map(|(k, v)| {
            let mut l = LabelPair::default();
            l.set_name(k.to_owned());
            l.set_value(v);
            l
        })
        .collect()
}

fn counter<'a>(pairs: impl IntoIterator<Item = (&'a str, String)>, v: u64) -> Metric {
    let mut c = Counter::default();
    c.set_value(v as f64);
    let mut m = Metric::from_label(labels(pairs));
    m.set_counter(c);
    m
}

fn gauge<'a>(pairs: impl IntoIterator<Item = (&'a str, String)>, v: f64) -> Metric {
    let mut g = Gauge::default();
    g.set_value(v);
    let mut m = Metric::from_label(labels(pairs));
    m.set_gauge(g);
    m
}

/// Every metric of the aggregator that has a value, and the build info, as metric families.
pub fn families(agg: &Aggregator, build: &BuildInfo) -> Families {
    let (delivered, failed) = health::gauges(agg);
    let mut out = vec![
        family(&metrics::REPLIES, replies(agg)),
        family(&metrics::FAILURES, failures(agg)),
        family(&metrics::EXPIRED, expired(agg)),
        family(&metrics::DELAY, delays(agg)),
        family(&metrics::LAST_DELIVERED, delivered),
        family(&metrics::LAST_FAILURE, failed),
        family(&metrics::CODE_INFO, code_info(agg)),
        family(&metrics::LINES, lines(agg)),
        family(&metrics::BYTES, bytes(agg)),
        family(&metrics::ROTATIONS, rotations(agg)),
        family(&metrics::READ_ERRORS, read_errors(agg)),
        family(&metrics::ROTATED_MISSED, rotated_missed(agg)),
        family(&metrics::LABEL_OVERFLOW, label_overflow(agg)),
        family(&metrics::LAST_LINE, last_line(agg)),
        family(&metrics::BUILD_INFO, build_info(build)),
        family(&metrics::DROPPED, dropped(agg)),
    ];
    // A family with no series would be an empty HELP/TYPE block; leave it out.
    out.retain(|f| !f.get_metric().is_empty());
    Families {
        list: out,
        failure_exemplars: health::exemplars(agg),
    }
}

/// `smtp_replies_total`.
fn replies(agg: &Aggregator) -> Vec<Metric> {
    agg.sorted_replies()
        .iter()
        .map(|(k, v)| counter(agg.reply_labels(k), *v))
        .collect()
}

/// `smtp_failures_total`.
fn failures(agg: &Aggregator) -> Vec<Metric> {
    agg.sorted_failures()
        .iter()
        .map(|(k, v)| counter(agg.failure_labels(k), *v))
        .collect()
}

/// `smtp_expired_total`, one series per source.
fn expired(agg: &Aggregator) -> Vec<Metric> {
    agg.sources
        .iter()
        .map(|s| {
            counter(
                [("source", s.name.clone()), ("mta", s.mta().to_owned())],
                s.expired,
            )
        })
        .collect()
}

/// `smtp_delivery_delay_seconds`, by source and outcome.
fn delays(agg: &Aggregator) -> Vec<Metric> {
    let mut delays: Vec<_> = agg.delays.iter().collect();
    delays.sort_by_key(|((s, o), _)| (*s, *o));
    delays
        .into_iter()
        .map(|((s, outcome), h)| {
            let mut ph = PHistogram::default();
            ph.set_sample_count(h.count);
            ph.set_sample_sum(h.sum);
            // The +Inf bucket is implied by the count in both formats.
            ph.set_bucket(
                h.cumulative()
                    .filter(|(b, _)| b.is_finite())
                    .map(|(b, c)| bucket(b, c))
                    .collect(),
            );
            let s = agg.source(*s);
            let mut m = Metric::from_label(labels([
                ("source", s.map(|s| s.name.clone()).unwrap_or_default()),
                ("mta", s.map(|s| s.mta()).unwrap_or_default().to_owned()),
                ("outcome", outcome.as_str().to_owned()),
            ]));
            m.set_histogram(ph);
            m
        })
        .collect()
}

/// `smtp_code_info`: the knowledge base's meaning of each code seen (one line, label-safe:
/// the table's shape test holds every entry to that).
fn code_info(agg: &Aggregator) -> Vec<Metric> {
    let (basic, enhanced) = agg.codes_seen();
    basic
        .iter()
        .map(|c| {
            (
                c.to_string(),
                codes::class_label(Some(*c), None),
                "",
                codes::basic_meaning(*c).into_owned(),
            )
        })
        .chain(enhanced.iter().map(|e| {
            (
                e.to_string(),
                codes::class_label(None, Some(*e)),
                codes::subject_label(Some(*e)),
                codes::enhanced_meaning(*e).into_owned(),
            )
        }))
        .map(|(code, class, subject, meaning)| {
            gauge(
                [
                    ("code", code),
                    ("class", class.to_owned()),
                    ("subject", subject.to_owned()),
                    ("meaning", meaning),
                ],
                1.0,
            )
        })
        .collect()
}

/// `smtp_status_exporter_lines_total`, every result of every source.
fn lines(agg: &Aggregator) -> Vec<Metric> {
    agg.sources
        .iter()
        .flat_map(|s| {
            LineResult::ALL.into_iter().map(|r| {
                counter(
                    [
                        ("source", s.name.clone()),
                        ("result", r.as_str().to_owned()),
                    ],
                    s.lines(r),
                )
            })
        })
        .collect()
}

/// `smtp_status_exporter_bytes_read_total`.
fn bytes(agg: &Aggregator) -> Vec<Metric> {
    agg.sources
        .iter()
        .map(|s| counter([("source", s.name.clone())], s.bytes))
        .collect()
}

/// `smtp_status_exporter_file_rotations_total`, by kind of rotation.
fn rotations(agg: &Aggregator) -> Vec<Metric> {
    agg.sources
        .iter()
        .flat_map(|s| {
            [
                ("rename", s.rotations(RotationKind::Rename)),
                ("truncate", s.rotations(RotationKind::Truncate)),
            ]
            .into_iter()
            .map(|(kind, n)| counter([("source", s.name.clone()), ("kind", kind.to_owned())], n))
        })
        .collect()
}

/// `smtp_status_exporter_rotated_files_missed_total`.
fn rotated_missed(agg: &Aggregator) -> Vec<Metric> {
    agg.sources
        .iter()
        .map(|s| counter([("source", s.name.clone())], s.rotated_missed))
        .collect()
}

/// `smtp_status_exporter_read_errors_total`.
fn read_errors(agg: &Aggregator) -> Vec<Metric> {
    agg.sources
        .iter()
        .map(|s| counter([("source", s.name.clone())], s.read_errors))
        .collect()
}

/// `smtp_status_exporter_label_overflow_total`; the `domain` series is always present, so an
/// alert on a rate of it has a series from the first scrape.
fn label_overflow(agg: &Aggregator) -> Vec<Metric> {
    let mut overflow = agg.label_overflow.clone();
    overflow.entry("domain".to_owned()).or_default();
    overflow
        .iter()
        .map(|(l, n)| counter([("label", l.clone())], *n))
        .collect()
}

/// `smtp_status_exporter_last_line_timestamp_seconds` of each source that has read a line.
fn last_line(agg: &Aggregator) -> Vec<Metric> {
    agg.sources
        .iter()
        .filter_map(|s| {
            s.last_line_unix
                .map(|t| gauge([("source", s.name.clone())], t))
        })
        .collect()
}

/// `smtp_status_exporter_build_info`.
fn build_info(build: &BuildInfo) -> Vec<Metric> {
    vec![gauge(
        [
            ("version", build.version.to_owned()),
            ("revision", build.revision.to_owned()),
            ("rustc", build.rustc.to_owned()),
            ("external_url", build.external_url.clone()),
            ("scheme", build.scheme.to_owned()),
        ],
        1.0,
    )]
}

/// `smtp_status_exporter_dropped_messages_total` of the sources that can drop (listeners), by reason.
fn dropped(agg: &Aggregator) -> Vec<Metric> {
    agg.sources
        .iter()
        .filter_map(|s| Some((s, s.dropped?)))
        .flat_map(|(s, dropped)| {
            crate::source::listen::DropReason::ALL
                .into_iter()
                .zip(dropped)
                .map(|(r, n)| {
                    counter(
                        [
                            ("source", s.name.clone()),
                            ("reason", r.as_str().to_owned()),
                        ],
                        n,
                    )
                })
        })
        .collect()
}

fn bucket(upper_bound: f64, cumulative_count: u64) -> Bucket {
    let mut pb = Bucket::default();
    pb.set_upper_bound(upper_bound);
    pb.set_cumulative_count(cumulative_count);
    pb
}

fn histogram<'a>(
    pairs: impl IntoIterator<Item = (&'a str, String)>,
    b: &crate::queue::Buckets,
) -> Metric {
    let mut ph = PHistogram::default();
    ph.set_sample_count(b.count);
    ph.set_sample_sum(b.sum);
    ph.set_bucket(b.cumulative().map(|(bound, c)| bucket(bound, c)).collect());
    let mut m = Metric::from_label(labels(pairs));
    m.set_histogram(ph);
    m
}

/// `smtp_status_exporter_http_connections_refused_total`, by reason, every reason present.
pub fn refused_family(counts: &[(&'static str, u64)]) -> MetricFamily {
    let metrics = counts
        .iter()
        .map(|(reason, n)| counter([("reason", (*reason).to_owned())], *n))
        .collect();
    family(&metrics::HTTP_REFUSED, metrics)
}

/// The queue gauges and histograms of the last reading of each queue (left out where it
/// failed), and the read errors of every queue reader.
pub fn queue_families(queues: &crate::queue::Queues) -> Vec<MetricFamily> {
    let (mut messages, mut oldest, mut ages, mut sizes, mut errors) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for r in &queues.readers {
        let s = &r.spec;
        errors.push(counter([("source", s.source.clone())], r.errors()));
        let Some(Ok(reading)) = r.last() else {
            continue;
        };
        for q in &reading.queues {
            let l = || {
                [
                    ("source", s.source.clone()),
                    ("mta", s.mta.clone()),
                    ("queue", q.queue.to_owned()),
                ]
            };
            messages.push(gauge(l(), q.messages as f64));
            oldest.push(gauge(l(), q.oldest_age));
            ages.push(histogram(l(), &q.ages));
            if s.kind.has_sizes() {
                sizes.push(histogram(l(), &q.sizes));
            }
        }
    }
    let mut out = vec![
        family(&metrics::QUEUE_MESSAGES, messages),
        family(&metrics::QUEUE_OLDEST, oldest),
        family(&metrics::QUEUE_AGE, ages),
        family(&metrics::QUEUE_SIZE, sizes),
        family(&metrics::QUEUE_READ_ERRORS, errors),
    ];
    out.retain(|f| !f.get_metric().is_empty());
    out
}
