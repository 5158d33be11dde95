//! The charts as a real browser draws them: headless Chromium (see tests/it/pages.rs) renders
//! the status page `/` after the exporter counted a log of REAL Postfix lines, and the page of
//! `replay --format html` opened from disk (`file://`). The checks read the DOM Chromium built:
//! one point per bucket, the points' values adding up to what `/metrics` (or `replay --format
//! prometheus`) counted, and nothing loaded from elsewhere.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::fs;
use std::process::Command;

use scraper::{ElementRef, Html};

use crate::harness::exporter::binary;
use crate::harness::metrics::{parse_exposition, series, Samples};
use crate::pages::{fixture, sel, Site};

/// The classes the charts stack, and the `class` label values each one sums.
const CLASSES: [(&str, &[&str]); 4] = [
    ("2xx", &["2xx"]),
    ("4xx", &["4xx"]),
    ("5xx", &["5xx"]),
    ("other", &["", "1xx", "3xx"]),
];

/// The points of chart `id` (`<g class="point">` in `<svg id=…>`).
fn points<'a>(doc: &'a Html, id: &str) -> Vec<ElementRef<'a>> {
    doc.select(&sel(&format!("svg#{id} g.point"))).collect()
}

/// The sum over `points` of their `data-v-NAME`.
fn sum(points: &[ElementRef<'_>], name: &str) -> f64 {
    let attr = format!("data-v-{name}");
    (points.iter())
        .map(|p| {
            let v = p.value().attr(&attr);
            let v = v.unwrap_or_else(|| panic!("no {attr} on {}", p.html()));
            // Empty: no value (the share of no reply).
            match v {
                "" => 0.0,
                v => v
                    .parse::<f64>()
                    .unwrap_or_else(|e| panic!("{attr}={v:?}: {e}")),
            }
        })
        .sum()
}

/// `smtp_replies_total` summed by its `class` label.
fn replies_by_class(samples: &Samples) -> BTreeMap<String, f64> {
    let mut by = BTreeMap::new();
    for (labels, v) in series(samples, "smtp_replies_total") {
        let class = labels.get("class").cloned().unwrap_or_default();
        *by.entry(class).or_default() += v;
    }
    by
}

/// Every point's classes add up to what `/metrics` counted, class by class.
fn check_sums(points: &[ElementRef<'_>], counted: &BTreeMap<String, f64>, what: &str) {
    for (name, labels) in CLASSES {
        let want: f64 = labels.iter().filter_map(|l| counted.get(*l)).sum();
        assert_eq!(
            sum(points, name),
            want,
            "{what}: {name} (counted: {counted:?})"
        );
    }
    let all: f64 = counted.values().sum();
    assert!(all > 100.0, "{what}: the fixture's replies: {counted:?}");
}

/// No element of the DOM loads or links anything from elsewhere: no `src`/`href` with a
/// scheme other than a relative link, no `url(` in a style, no script.
fn check_self_contained(doc: &Html, dom: &str, what: &str) {
    for e in doc.select(&sel(
        "[src], [href], [xlink\\:href], link, script, iframe, object, embed, img",
    )) {
        let v = e.value();
        let name = v.name();
        assert!(
            !matches!(
                name,
                "script" | "iframe" | "object" | "embed" | "link" | "img"
            ),
            "{what}: a <{name}>: {}",
            e.html()
        );
        for attr in ["src", "href", "xlink:href"] {
            let Some(url) = v.attr(attr) else { continue };
            let lower = url.trim().to_ascii_lowercase();
            assert!(
                !(lower.starts_with("http:")
                    || lower.starts_with("https:")
                    || lower.starts_with("//")),
                "{what}: {attr}={url:?} loads from elsewhere"
            );
        }
    }
    assert!(!dom.contains("url("), "{what}: a url( in a style");
}

#[test]
#[ignore = "needs chromium: run by scripts/test"]
fn status_page_in_chromium_charts_what_metrics_counts() {
    let mut site = Site::start("sse-charts-status-");
    let counted = replies_by_class(&site.exporter.samples());
    let dom = site.dom("/");
    let doc = Html::parse_document(&dom);
    // The last hour by minute, the last day by hour.
    let minutes = points(&doc, "per-minute");
    assert_eq!(minutes.len(), 60, "points of svg#per-minute");
    let hours = points(&doc, "per-hour");
    assert_eq!(hours.len(), 24, "points of svg#per-hour");
    assert_eq!(points(&doc, "rates").len(), 24, "points of svg#rates");
    // The lines were read a moment ago: every one is in the last hour and the last day.
    check_sums(&minutes, &counted, "per minute");
    check_sums(&hours, &counted, "per hour");
    // Each point has its tooltip, and the charts their legend.
    for p in minutes.iter().chain(&hours) {
        assert_eq!(p.select(&sel("title")).count(), 1, "{}", p.html());
    }
    assert_eq!(doc.select(&sel("ul.legend li")).count(), 4 + 4 + 2);
    // Deferred replies were counted: the rate chart shows a share above 0.
    assert!(sum(&hours, "4xx") > 0.0);
    let rates = points(&doc, "rates");
    assert!(sum(&rates, "deferred") > 0.0, "deferral rate per hour");
    for id in ["providers", "domains", "reasons", "codes", "sources"] {
        assert_eq!(
            doc.select(&sel(&format!("table#{id}"))).count(),
            1,
            "table#{id}"
        );
    }
    check_self_contained(&doc, &dom, "/");
}

/// The fixture's lines, those of its second third an hour later and those of its last third
/// three hours later: a log over four hours, one of them without a line.
fn log_over_hours() -> String {
    let log = fs::read_to_string(fixture()).unwrap();
    let lines: Vec<&str> = log.lines().collect();
    let third = lines.len() / 3;
    let mut out = String::new();
    for (i, l) in lines.iter().enumerate() {
        // `Nov 23 02:…`: the hour is the stamp's characters 7 and 8.
        assert_eq!(&l[7..10], "02:", "{l}");
        let hour = match i / third.max(1) {
            0 => "02",
            1 => "03",
            _ => "05",
        };
        out.push_str(&format!("{}{hour}{}\n", &l[..7], &l[9..]));
    }
    out
}

#[test]
#[ignore = "needs chromium: run by scripts/test"]
fn replay_report_in_chromium_charts_by_log_hour_and_loads_nothing() {
    let mut site = Site::start("sse-charts-report-");
    let dir = site.dir.path().to_owned();
    let log = dir.join("mail.log.1");
    fs::write(&log, log_over_hours()).unwrap();
    let config = dir.join("config.yaml");
    let replay = |format: &str| {
        let out = Command::new(binary())
            .args(["replay", "--format", format, "--config.file"])
            .arg(&config)
            .arg(&log)
            .output()
            .unwrap();
        assert!(out.status.success(), "replay --format {format}: {out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let report = dir.join("report.html");
    fs::write(&report, replay("html")).unwrap();
    let counted = replies_by_class(&parse_exposition(&replay("prometheus")).unwrap());
    let dom = site.dom_at(&format!("file://{}", report.display()));
    let doc = Html::parse_document(&dom);
    let hours = points(&doc, "per-hour");
    let buckets: Vec<&str> = hours
        .iter()
        .map(|p| p.value().attr("data-bucket").unwrap())
        .collect();
    // In UTC (config.yaml of the site), by the lines' own time.
    assert_eq!(
        buckets,
        ["11-23 02:00", "11-23 03:00", "11-23 04:00", "11-23 05:00"]
    );
    check_sums(&hours, &counted, "report per hour");
    assert_eq!(
        sum(&hours[2..3], "2xx") + sum(&hours[2..3], "5xx"),
        0.0,
        "04:00 has no line"
    );
    let rates = points(&doc, "rates");
    assert_eq!(rates.len(), 4);
    // 04:00 had no outbound reply: no share, not 0 %.
    assert_eq!(rates[2].value().attr("data-v-deferred"), Some(""));
    // Each line: 02:00 to 03:00, then a gap; 05:00 alone is a dot.
    assert_eq!(doc.select(&sel("svg#rates polyline")).count(), 2);
    assert_eq!(doc.select(&sel("svg#rates circle")).count(), 6);
    for id in ["providers", "domains", "reasons", "codes"] {
        assert_eq!(
            doc.select(&sel(&format!("table#{id}"))).count(),
            1,
            "table#{id}"
        );
    }
    check_self_contained(&doc, &dom, "replay --format html");
}
