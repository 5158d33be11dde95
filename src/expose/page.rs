//! What the status page (`/`) and `replay --format html` both show, as HTML: the charts of the
//! history's buckets and the top tables (providers, domains, reasons, stages, codes with their
//! meaning). [`Digest::of`] copies what the tables need from the counters — cheap, under the
//! counters' lock when serving — and the rendering, with its lookups in the knowledge base,
//! happens after the lock is released.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::summary::{self, CodePair, ProviderRow};
use super::svg::{escape, Chart, Kind, Series};
use crate::aggregate::history::{self, Counts};
use crate::aggregate::Aggregator;
use crate::codes;
use crate::parse::{Direction, Outcome, Stage};

/// How many rows each top table shows.
pub const TOP: usize = 10;

/// One domain's outbound replies.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DomainRow {
    pub name: String,
    pub replies: u64,
    pub deferred: u64,
    pub bounced: u64,
}

/// The counts behind the tables, copied out of the counters.
#[derive(Debug, Clone, Default)]
pub struct Digest {
    /// Outbound by provider, most failures first (all of them: the page shows the top).
    pub providers: Vec<ProviderRow>,
    /// Outbound by domain, most deferrals and bounces first.
    pub domains: Vec<DomainRow>,
    /// Failures by direction and reason, most first.
    pub reasons: Vec<(Direction, String, u64)>,
    pub stages: Vec<(Direction, Stage, u64)>,
    /// Replies by code pair, most first.
    pub codes: Vec<(CodePair, u64)>,
}

impl Digest {
    pub fn of(agg: &Aggregator) -> Digest {
        let mut domains: BTreeMap<&str, DomainRow> = BTreeMap::new();
        let mut codes: BTreeMap<CodePair, u64> = BTreeMap::new();
        for (k, t) in &agg.replies {
            *codes.entry((k.code, k.enhanced)).or_default() += t.n;
            if k.direction != Direction::Outbound {
                continue;
            }
            let row = domains.entry(agg.domains.name(k.domain)).or_default();
            row.replies += t.n;
            match k.outcome {
                Outcome::Deferred => row.deferred += t.n,
                Outcome::Bounced => row.bounced += t.n,
                _ => {}
            }
        }
        let mut reasons: BTreeMap<(Direction, &str), u64> = BTreeMap::new();
        for (k, t) in &agg.failures {
            *reasons
                .entry((k.direction, agg.reason_name(k.reason)))
                .or_default() += t.n;
        }
        let mut domains: Vec<DomainRow> = (domains.into_iter())
            .map(|(name, row)| DomainRow {
                name: name.to_owned(),
                ..row
            })
            .collect();
        let failed = |r: &DomainRow| r.deferred + r.bounced;
        domains.sort_by(|a, b| failed(b).cmp(&failed(a)).then(a.name.cmp(&b.name)));
        let mut reasons: Vec<_> = (reasons.into_iter())
            .map(|((d, r), n)| (d, r.to_owned(), n))
            .collect();
        reasons.sort_by(|a, b| b.2.cmp(&a.2).then((a.0, &a.1).cmp(&(b.0, &b.1))));
        let mut codes: Vec<_> = codes.into_iter().collect();
        codes.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        Digest {
            providers: summary::by_provider(agg),
            domains,
            reasons,
            stages: summary::by_stage(agg),
            codes,
        }
    }
}

/// Whether tables link to `/failures` (the status page) or not (a report file, which has no
/// server behind it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Links {
    Failures,
    None,
}

/// A relative link to `/failures` filtered by `filters`.
pub fn failures_link(filters: &[(&str, &str)]) -> String {
    let mut q = form_urlencoded::Serializer::for_suffix(String::from("failures?"), 9);
    q.extend_pairs(filters);
    q.finish()
}

/// `text`, linked to `/failures` with `filters` where links are on; escaped.
fn cell(links: Links, filters: &[(&str, &str)], text: &str) -> String {
    match links {
        Links::Failures => format!(
            "<a href=\"{}\">{}</a>",
            escape(&failures_link(filters)),
            escape(text)
        ),
        Links::None => escape(text),
    }
}

/// `part` of `all` in percent, one decimal; `-` without a base.
fn percent(part: u64, all: u64) -> String {
    if all == 0 {
        return "-".to_owned();
    }
    format!("{:.1}", 100.0 * part as f64 / all as f64)
}

/// The class chart: replies per bucket, stacked by class.
pub fn class_chart(
    id: &str,
    title: &str,
    buckets: &[(i64, Counts)],
    label: &dyn Fn(i64) -> String,
) -> String {
    let col = |c: usize| buckets.iter().map(|(_, n)| n[c] as f64).collect();
    Chart {
        id,
        title,
        unit: "replies",
        kind: Kind::Stacked,
        buckets: buckets.iter().map(|(t, _)| label(*t)).collect(),
        series: vec![
            Series {
                name: "2xx",
                color: "#2e7d32",
                values: col(history::C2),
            },
            Series {
                name: "4xx",
                color: "#f9a825",
                values: col(history::C4),
            },
            Series {
                name: "5xx",
                color: "#c62828",
                values: col(history::C5),
            },
            Series {
                name: "other",
                color: "#78909c",
                values: col(history::OTHER),
            },
        ],
    }
    .render()
}

/// The rate chart: the share of outbound replies deferred and bounced, per bucket.
pub fn rate_chart(
    id: &str,
    title: &str,
    buckets: &[(i64, Counts)],
    label: &dyn Fn(i64) -> String,
) -> String {
    let rate = |c: usize| {
        (buckets.iter())
            .map(|(_, n)| match n[history::OUTBOUND] {
                // No outbound reply: no share, a gap in the line rather than a false 0 %.
                0 => f64::NAN,
                all => (1000.0 * n[c] as f64 / all as f64).round() / 10.0,
            })
            .collect()
    };
    Chart {
        id,
        title,
        unit: "%",
        kind: Kind::Lines,
        buckets: buckets.iter().map(|(t, _)| label(*t)).collect(),
        series: vec![
            Series {
                name: "deferred",
                color: "#f9a825",
                values: rate(history::DEFERRED),
            },
            Series {
                name: "bounced",
                color: "#c62828",
                values: rate(history::BOUNCED),
            },
        ],
    }
    .render()
}

/// `HH:MM` (or with `date`, `MM-DD HH:MM`) of `unix` in `zone`.
pub fn clock_label(unix: i64, zone: &jiff::tz::TimeZone, date: bool) -> String {
    let Ok(t) = jiff::Timestamp::from_second(unix) else {
        return unix.to_string();
    };
    let z = t.to_zoned(zone.clone());
    z.strftime(if date { "%m-%d %H:%M" } else { "%H:%M" })
        .to_string()
}

impl Digest {
    /// Every table, each under its heading.
    pub fn tables(&self, h: &mut String, links: Links) {
        self.providers_table(h, links);
        self.domains_table(h, links);
        self.reasons_table(h, links);
        self.stages_table(h, links);
        h.push_str("<h2>Codes seen</h2>");
        self.codes_table(h);
    }

    fn providers_table(&self, h: &mut String, links: Links) {
        if self.providers.is_empty() {
            return;
        }
        h.push_str(
            "<h2>Outbound by provider</h2><div class=\"wide\"><table id=\"providers\"><tr><th>provider</th>\
             <th>delivered</th><th>deferred</th><th>bounced</th><th>deferred %</th>\
             <th>bounced %</th><th>top failure code</th></tr>",
        );
        for p in self.providers.iter().take(TOP) {
            let all = p.delivered + p.deferred + p.bounced;
            let name = if p.name.is_empty() {
                "(local)"
            } else {
                &p.name
            };
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                cell(links, &[("direction", "outbound"), ("provider", &p.name)], name),
                p.delivered,
                p.deferred,
                p.bounced,
                percent(p.deferred, all),
                percent(p.bounced, all),
                escape(&p.top_failure.map(summary::code_with_meaning).unwrap_or_default()),
            );
        }
        h.push_str("</table></div>");
    }

    fn domains_table(&self, h: &mut String, links: Links) {
        let failing: Vec<_> = (self.domains.iter())
            .filter(|d| d.deferred + d.bounced > 0)
            .take(TOP)
            .collect();
        if failing.is_empty() {
            return;
        }
        h.push_str(
            "<h2>Top failing domains</h2><div class=\"wide\"><table id=\"domains\"><tr><th>domain</th>\
             <th>replies</th><th>deferred</th><th>bounced</th><th>deferred %</th><th>bounced %</th></tr>",
        );
        for d in failing {
            let name = if d.name.is_empty() { "(none)" } else { &d.name };
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                cell(
                    links,
                    &[("direction", "outbound"), ("domain", &d.name)],
                    name
                ),
                d.replies,
                d.deferred,
                d.bounced,
                percent(d.deferred, d.replies),
                percent(d.bounced, d.replies),
            );
        }
        h.push_str("</table></div>");
    }

    fn reasons_table(&self, h: &mut String, links: Links) {
        if self.reasons.is_empty() {
            return;
        }
        let all: u64 = self.reasons.iter().map(|r| r.2).sum();
        h.push_str(
            "<h2>Top failure reasons</h2><div class=\"wide\"><table id=\"reasons\"><tr><th>direction</th>\
             <th>reason</th><th>failures</th><th>% of failures</th></tr>",
        );
        for (d, reason, n) in self.reasons.iter().take(TOP) {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{n}</td><td>{}</td></tr>",
                d.as_str(),
                cell(
                    links,
                    &[("direction", d.as_str()), ("reason", reason)],
                    reason
                ),
                percent(*n, all),
            );
        }
        h.push_str("</table></div>");
    }

    fn stages_table(&self, h: &mut String, links: Links) {
        if self.stages.is_empty() {
            return;
        }
        h.push_str(
            "<h2>Failures by stage of the SMTP dialogue</h2><div class=\"wide\"><table id=\"stages\">\
             <tr><th>direction</th><th>stage</th><th>failures</th></tr>",
        );
        for (d, st, n) in &self.stages {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                d.as_str(),
                summary::stage_name(*st),
                cell(
                    links,
                    &[("direction", d.as_str()), ("stage", st.as_str())],
                    &n.to_string()
                ),
            );
        }
        h.push_str("</table></div>");
    }

    /// The codes seen, most frequent first, with the knowledge base's meaning and what to do.
    fn codes_table(&self, h: &mut String) {
        if self.codes.is_empty() {
            h.push_str("<p>No replies counted yet.</p>");
            return;
        }
        h.push_str(
            "<div class=\"wide\"><table id=\"codes\"><tr><th>replies</th><th>class</th><th>code</th>\
             <th>enhanced</th><th>meaning</th><th>what to do</th></tr>",
        );
        for ((code, enh), n) in &self.codes {
            let d = codes::describe_reply(*code, *enh);
            let _ = write!(
                h,
                "<tr><td>{n}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                codes::class_label(*code, *enh),
                code.map(|c| c.to_string()).unwrap_or_default(),
                enh.map(|c| c.to_string()).unwrap_or_default(),
                escape(&d.meaning),
                escape(&d.action),
            );
        }
        h.push_str("</table></div>");
    }
}

/// The style both pages share: readable on a phone (tables scroll sideways in their box,
/// charts scale to the width).
pub const STYLE: &str = "body{font-family:sans-serif;margin:1em auto;max-width:72em;padding:0 0.8em;\
color:#222}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:0.2em 0.6em;\
text-align:left;vertical-align:top}.wide{overflow-x:auto}figure.chart{margin:1em 0}\
svg.chart{width:100%;height:auto;display:block}figcaption{font-weight:bold}\
ul.legend{list-style:none;padding:0;margin:0.3em 0}ul.legend li{display:inline-block;margin-right:1.2em}\
.swatch{display:inline-block;width:0.9em;height:0.9em;margin-right:0.3em;vertical-align:middle}\
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,30em),1fr));gap:0 1.5em}\
@media (max-width:40em){svg.chart text{font-size:22px}svg.chart .alt{display:none}\
.wide table{min-width:60em}}";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::{Bounds, SourceId};

    #[test]
    fn tables_rank_failures_and_link_where_asked() {
        let bounds = Bounds {
            domains_max: 10,
            ..Bounds::default()
        };
        let mut agg = Aggregator::new(vec![("p".into(), "postfix".into())], &bounds);
        for line in [
            "Dec  7 12:00:00 mx postfix/smtp[1]: 3F2A81C0B2A: to=<a@example.org>, relay=mx.example.org[192.0.2.1]:25, delay=1, delays=0/0/0/1, dsn=4.7.1, status=deferred (host mx.example.org[192.0.2.1] said: 451 4.7.1 Try again later (in reply to RCPT TO command))",
            "Dec  7 12:00:01 mx postfix/smtp[1]: 3F2A81C0B2B: to=<b@example.net>, relay=mx.example.net[192.0.2.2]:25, delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (250 2.0.0 OK)",
        ] {
            agg.record(SourceId(0), &crate::parse::Format::Postfix.parse(line.as_bytes()));
        }
        let d = Digest::of(&agg);
        assert_eq!(d.domains[0].name, "example.org");
        assert_eq!((d.domains[0].replies, d.domains[0].deferred), (1, 1));
        let mut linked = String::new();
        d.tables(&mut linked, Links::Failures);
        assert!(
            linked.contains("href=\"failures?direction=outbound&amp;domain=example.org\""),
            "{linked}"
        );
        assert!(linked.contains("<td>100.0</td>"), "{linked}");
        let mut plain = String::new();
        d.tables(&mut plain, Links::None);
        assert!(!plain.contains("href"), "{plain}");
        assert!(plain.contains("<table id=\"codes\">"));
    }

    #[test]
    fn rates_are_shares_of_outbound_replies() {
        let mut b: Counts = Counts::default();
        b[history::OUTBOUND] = 4;
        b[history::DEFERRED] = 1;
        let svg = rate_chart("r", "rates", &[(0, b), (60, Counts::default())], &|t| {
            t.to_string()
        });
        assert!(
            svg.contains("data-v-deferred=\"25\" data-v-bounced=\"0\""),
            "{svg}"
        );
        assert!(
            svg.contains("data-bucket=\"60\" data-v-deferred=\"\" data-v-bounced=\"\""),
            "{svg}"
        );
    }
}
