//! The Grafana dashboards of dashboards/, held to what they promise:
//!
//! - importable as they are: JSON with a `${DS_PROMETHEUS}` datasource input that every panel
//!   and every query uses, unique panel ids, every `$variable` defined;
//! - only metrics and labels the exporter serves (src/aggregate/metrics.rs);
//! - docs/alerting.md lists every panel with the queries it runs;
//! - every panel's PromQL runs on a REAL Prometheus (Debian's package) that scrapes the exporter
//!   following real Postfix lines (some relayed to Google's MX host, for the provider panels)
//!   and reading the queue of a REAL private Postfix (for the queue panels), with the
//!   template variables filled in as Grafana would, and returns data; every variable's
//!   `label_values(…)` query finds the test's values. The same exporter is scraped as two instances, so that joins (the code meanings of
//!   `smtp_code_info`, served by every exporter) must hold with a fleet.
//!
//! The end-to-end test is `#[ignore]`d and run by `sudo scripts/test`.

// A test crate: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::harness;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::harness::fixture_lines::Lines;
use harness::exporter::Exporter;
use harness::postfix::{PostfixConfig, PostfixInstance};
use harness::prometheus::Prometheus;
use harness::promql;
use harness::util::{require_tool, TestDir};
use serde_json::Value;

const DS: &str = "${DS_PROMETHEUS}";
/// Variables Grafana itself defines.
const BUILTIN: [&str; 4] = ["__rate_interval", "__range", "__interval", "__name"];

pub(crate) fn dashboards() -> Vec<(String, Value)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("dashboards");
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            let text = fs::read_to_string(&p).unwrap();
            let v = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("dashboards/{name} is no JSON: {e}"));
            (name, v)
        })
        .collect()
}

/// Every panel, those nested in rows too.
pub(crate) fn panels(d: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    for p in d["panels"].as_array().cloned().unwrap_or_default() {
        out.extend(p["panels"].as_array().cloned().unwrap_or_default());
        out.push(p);
    }
    out
}

pub(crate) fn targets(p: &Value) -> Vec<Value> {
    p["targets"].as_array().cloned().unwrap_or_default()
}

pub(crate) fn variables(d: &Value) -> Vec<Value> {
    d["templating"]["list"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

pub(crate) fn variable_query(v: &Value) -> String {
    v["query"]["query"]
        .as_str()
        .or_else(|| v["query"].as_str())
        .unwrap_or_default()
        .to_owned()
}

/// The names of the `$name` and `${name}` references in a text (`$1` of label_replace is no
/// variable).
fn variable_refs(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'$' {
            let braced = b.get(i + 1) == Some(&b'{');
            let start = if braced { i + 2 } else { i + 1 };
            let mut j = start;
            while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
                j += 1;
            }
            let name = &text[start..j];
            if name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
                out.insert(name.to_owned());
            }
            i = j;
        } else {
            i += 1;
        }
    }
    out
}

#[test]
fn dashboards_are_importable_with_a_datasource_input_and_their_variables() {
    let all = dashboards();
    assert_eq!(
        all.len(),
        4,
        "four dashboards: {:?}",
        all.iter().map(|d| &d.0).collect::<Vec<_>>()
    );
    let mut uids = BTreeSet::new();
    for (name, d) in &all {
        let inputs = d["__inputs"].as_array().expect("__inputs");
        assert!(
            inputs.iter().any(|i| i["name"] == "DS_PROMETHEUS"
                && i["type"] == "datasource"
                && i["pluginId"] == "prometheus"),
            "{name}: no DS_PROMETHEUS datasource input: {inputs:?}"
        );
        let uid = d["uid"].as_str().unwrap_or_default();
        assert!(!uid.is_empty() && uid.len() <= 40, "{name}: uid {uid:?}");
        assert!(uids.insert(uid.to_owned()), "{name}: uid {uid} used twice");
        assert!(
            d["id"].is_null(),
            "{name}: an exported dashboard has \"id\": null"
        );
        assert!(
            d["title"].as_str().is_some_and(|t| !t.is_empty()),
            "{name}: title"
        );

        let vars = variables(d);
        let defined: BTreeSet<String> = vars
            .iter()
            .map(|v| v["name"].as_str().unwrap_or_default().to_owned())
            .collect();
        let wanted: &[&str] = if name.contains("health") {
            &["instance", "source"]
        } else {
            &["instance", "source", "mta", "domain"]
        };
        for w in wanted {
            assert!(
                defined.contains(*w),
                "{name}: no ${w} variable ({defined:?})"
            );
        }
        for v in &vars {
            assert_eq!(v["datasource"]["uid"], DS, "{name}: variable {}", v["name"]);
            // `exporter`, the base of the data links to /failures, is computed from
            // build_info by a query_result (see tests/it/dashboard_links.rs).
            let q = variable_query(v);
            assert!(
                q.starts_with("label_values(")
                    || (v["name"] == "exporter" && q.starts_with("query_result(")),
                "{name}: variable {} query {:?}",
                v["name"],
                variable_query(v)
            );
        }

        let mut ids = BTreeSet::new();
        let mut types = BTreeSet::new();
        let mut used = BTreeSet::new();
        for p in panels(d) {
            let id = p["id"]
                .as_u64()
                .unwrap_or_else(|| panic!("{name}: a panel without id"));
            assert!(ids.insert(id), "{name}: panel id {id} used twice");
            let g = &p["gridPos"];
            let (x, w) = (g["x"].as_u64().unwrap(), g["w"].as_u64().unwrap());
            assert!(
                x + w <= 24,
                "{name}: panel {id} is wider than the dashboard"
            );
            if p["type"] == "row" {
                continue;
            }
            types.insert(p["type"].as_str().unwrap().to_owned());
            assert_eq!(
                p["datasource"]["uid"], DS,
                "{name}: panel {id} {:?}",
                p["title"]
            );
            assert_eq!(p["datasource"]["type"], "prometheus", "{name}: panel {id}");
            let ts = targets(&p);
            assert!(
                !ts.is_empty(),
                "{name}: panel {id} {:?} has no query",
                p["title"]
            );
            let mut refs = BTreeSet::new();
            for t in &ts {
                assert_eq!(t["datasource"]["uid"], DS, "{name}: panel {id} target");
                assert!(
                    refs.insert(t["refId"].as_str().unwrap().to_owned()),
                    "{name}: panel {id} refIds"
                );
                let expr = t["expr"].as_str().unwrap_or_default();
                assert!(!expr.trim().is_empty(), "{name}: panel {id}: empty expr");
                used.extend(variable_refs(expr));
                used.extend(variable_refs(
                    t["legendFormat"].as_str().unwrap_or_default(),
                ));
            }
            used.extend(variable_refs(p["title"].as_str().unwrap_or_default()));
        }
        for v in &vars {
            used.extend(variable_refs(&variable_query(v)));
        }
        for u in &used {
            assert!(
                defined.contains(u) || BUILTIN.contains(&u.as_str()),
                "{name}: ${u} is used but not defined"
            );
        }
        // Grafana asks for the panel plugins it needs on import.
        let required: BTreeSet<String> = d["__requires"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["type"] == "panel")
            .map(|r| r["id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(required, types, "{name}: __requires");
    }
}

#[test]
fn dashboards_use_only_metrics_and_labels_the_exporter_serves() {
    let mut bad = Vec::new();
    for (name, d) in dashboards() {
        let mut texts: Vec<String> = panels(&d)
            .iter()
            .flat_map(targets)
            .map(|t| t["expr"].as_str().unwrap_or_default().to_owned())
            .collect();
        texts.extend(variables(&d).iter().map(variable_query));
        for t in texts {
            for n in promql::unknown_names(&t, &BTreeSet::new()) {
                bad.push(format!("{name}: {n} in {t}"));
            }
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

/// A query as docs/alerting.md quotes it: each line break and the indentation after it read
/// as one space.
fn one_line(expr: &str) -> String {
    let mut lines = expr.lines();
    let mut out = lines.next().unwrap_or_default().to_owned();
    for l in lines {
        out.push(' ');
        out.push_str(l.trim_start());
    }
    out
}

#[test]
fn the_docs_list_every_panel_with_the_queries_it_runs() {
    let docs =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/alerting.md")).unwrap();
    let listed: BTreeSet<&str> = docs.lines().collect();
    let mut missing = Vec::new();
    for (name, d) in dashboards() {
        for p in panels(&d) {
            let title = p["title"].as_str().unwrap_or_default();
            let kind = p["type"].as_str().unwrap_or_default();
            let line = if kind == "row" {
                format!("- *{title}* (row)")
            } else {
                let queries: Vec<String> = targets(&p)
                    .iter()
                    .map(|t| format!("`{}`", one_line(t["expr"].as_str().unwrap_or_default())))
                    .collect();
                format!("- *{title}* ({kind}): {}", queries.join("; "))
            };
            if !listed.contains(line.as_str()) {
                missing.push(format!("{name}: {line}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "docs/alerting.md (\"Dashboard panels\") lacks these lines:\n{}",
        missing.join("\n")
    );
}

/// Fills in template variables as Grafana would for one value each; `$1` and other unknown
/// names stay.
fn substitute(text: &str, vars: &BTreeMap<&str, &str>) -> String {
    let mut names: Vec<&&str> = vars.keys().collect();
    // Longest first: $__range must not be taken for $__r…, $instance for $inst….
    names.sort_by_key(|n| std::cmp::Reverse(n.len()));
    let mut out = text.to_owned();
    for n in names {
        out = out.replace(&format!("${{{n}}}"), vars[*n]);
        out = out.replace(&format!("${n}"), vars[*n]);
    }
    out
}

/// `label_values(selector, label)` → (selector, label).
fn parse_label_values(q: &str) -> (String, String) {
    let inner = q
        .strip_prefix("label_values(")
        .and_then(|r| r.strip_suffix(')'))
        .unwrap_or_else(|| panic!("not a label_values query: {q}"));
    let (sel, label) = inner.rsplit_once(',').unwrap();
    (sel.trim().to_owned(), label.trim().to_owned())
}

/// The fixture's lines, and among them (a few in every quarter) deliveries and deferrals in
/// reply to RCPT TO from Google's MX host for gmail.com: the provider panels and the `provider`
/// variable find `google`, from the relay host or from the domain, whichever the parser reads.
fn fed_lines() -> Vec<String> {
    let fixture = fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/postfix/e2e-run.log"),
    )
    .unwrap();
    let at_google = Lines::from_fixture();
    let mut out = Vec::new();
    let mut n = 0;
    for (i, line) in fixture.lines().enumerate() {
        out.push(line.to_owned());
        if i % 100 == 99 {
            out.push(at_google.delivered(n, "gmail.com"));
            out.push(at_google.deferred(n + 1, "gmail.com"));
            n += 2;
        }
    }
    out
}

#[test]
#[ignore = "needs root, prometheus and a real Postfix: run by scripts/test"]
fn every_dashboard_query_runs_on_a_real_prometheus_and_returns_data() {
    let _heavy = harness::heavy();
    harness::util::require_root();
    require_tool("prometheus");
    let t0 = Instant::now();
    let dir = TestDir::new("sse-dashboards-");
    let log = dir.path().join("mail.log");
    fs::write(&log, "").unwrap();
    // A private Postfix whose (empty) queue the exporter reads: the queue panels' series.
    let postfix = PostfixInstance::start(&dir.subdir("postfix"), &PostfixConfig::default())
        .unwrap_or_else(|e| panic!("starting the private Postfix: {e}"));
    let conf = postfix.config_dir().to_str().unwrap().to_owned();
    let exporter = Exporter::start_any_port(
        &[&log],
        &dir.path().join("state.json"),
        &dir.path().join("exporter.stderr"),
        &["--queue.postfix-config-dir", &conf, "--queue.cache", "0s"],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    // One exporter, scraped as two instances of a fleet.
    let config = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
         scrape_configs:\n  - job_name: smtp\n    static_configs:\n\
         \x20     - targets: [\"{a}\"]\n        labels: {{instance: \"mx-a:9978\"}}\n\
         \x20     - targets: [\"{a}\"]\n        labels: {{instance: \"mx-b:9978\"}}\n",
        a = exporter.addr
    );
    let prom = Prometheus::start(dir.path(), &config).unwrap_or_else(|e| panic!("{e}"));
    prom.wait_for_samples(
        r#"count(up{job="smtp"} == 1) == 2"#,
        Duration::from_secs(30),
    )
    .unwrap_or_else(|e| panic!("{e}"));

    // Real Postfix lines, written in parts while Prometheus scrapes, so that every series
    // exists before it grows and rate() has something to see.
    let lines = fed_lines();
    let parts = 4;
    let per = lines.len().div_ceil(parts);
    let mut f = fs::OpenOptions::new().append(true).open(&log).unwrap();
    for (i, chunk) in lines.chunks(per).enumerate() {
        let mut text = chunk.join("\n");
        text.push('\n');
        f.write_all(text.as_bytes()).unwrap();
        let upto = (i + 1) * per;
        let want = upto.min(lines.len());
        // Both instances have scraped this part before the next one grows its series.
        prom.wait_for_samples(
            &format!(
                r#"count(sum by (instance) (smtp_status_exporter_lines_total{{job="smtp"}}) == {want}) == 2"#
            ),
            Duration::from_secs(30),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    }
    // rate() needs two samples of a series in its window: wait until no series of ours, on
    // either instance, has fewer (a series first seen in the last part has just one).
    // (One metric at a time: count_over_time drops the names, which would collide.)
    for metric in [
        "smtp_replies_total",
        "smtp_expired_total",
        "smtp_delivery_delay_seconds_bucket",
        "smtp_status_exporter_lines_total",
        "smtp_status_exporter_bytes_read_total",
        "smtp_failures_total",
        "smtp_status_exporter_queue_read_errors_total",
    ] {
        prom.wait_for_samples(
            &format!(r#"absent(count_over_time({metric}{{job="smtp"}}[1m]) < 2)"#),
            Duration::from_secs(30),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    }
    let fed = t0.elapsed();

    let mut failures = Vec::new();
    let (mut queries, mut links_checked) = (0, 0);
    for (name, d) in dashboards() {
        let domain = if name.contains("drilldown") {
            "d1.test"
        } else {
            ".*"
        };
        for instance in ["mx-a:9978", ".*"] {
            let vars: BTreeMap<&str, &str> = [
                ("job", "smtp"),
                ("instance", instance),
                ("source", "postfix"),
                ("mta", "postfix"),
                ("domain", domain),
                ("provider", ".*"),
                ("__rate_interval", "1m"),
                ("__range", "5m"),
                ("__interval", "15s"),
            ]
            .into_iter()
            .collect();
            // The variables' own queries find the test's values.
            for v in variables(&d) {
                let vname = v["name"].as_str().unwrap();
                if vname == "exporter" {
                    // Scraped over plain HTTP, no --web.external-url: the scraped address.
                    let q = substitute(&variable_query(&v), &vars);
                    if let Err(e) = crate::dashboard_links::exporter_variable_finds(
                        &prom,
                        &q,
                        "http://mx-a:9978",
                    ) {
                        failures.push(format!("{name}: variable $exporter: {e}"));
                    }
                    continue;
                }
                let (sel, label) = parse_label_values(&substitute(&variable_query(&v), &vars));
                let want = match (vname, instance) {
                    ("instance", _) => "mx-a:9978",
                    ("domain", _) => "d1.test",
                    ("provider", _) => "google",
                    (n, _) => vars[n],
                };
                match prom.label_values(&label, &sel) {
                    Ok(values) if values.iter().any(|x| x == want) => {}
                    other => failures.push(format!(
                        "{name}: variable ${vname}: label_values({sel}, {label}) has no {want:?}: {other:?}"
                    )),
                }
            }
            for p in panels(&d) {
                for t in targets(&p) {
                    let expr = substitute(t["expr"].as_str().unwrap_or_default(), &vars);
                    queries += 1;
                    let what = format!(
                        "{name}: panel {} {:?} target {} (instance {instance})",
                        p["id"], p["title"], t["refId"]
                    );
                    match prom.query(&expr) {
                        Err(e) => failures.push(format!("{what}: {e}\n  {expr}")),
                        Ok(s) if s.is_empty() => {
                            failures.push(format!("{what}: no data\n  {expr}"));
                        }
                        Ok(s) if s.iter().all(|x| !x.value.is_finite()) => {
                            failures.push(format!("{what}: only NaN/Inf: {s:?}\n  {expr}"));
                        }
                        Ok(s) => {
                            // Each row's data link leads to that row's failures.
                            for url in crate::dashboard_links::panel_links(&p) {
                                let (bad, found) = crate::dashboard_links::rows_open_their_failures(
                                    &exporter,
                                    &url,
                                    &s,
                                    &vars,
                                    expr.contains("smtp_failures_total"),
                                );
                                links_checked += 1;
                                failures
                                    .extend(bad.into_iter().map(|b| format!("{what}: link {b}")));
                                if found == 0 {
                                    failures.push(format!(
                                        "{what}: no row's link finds a failure: {url}"
                                    ));
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {queries} dashboard queries failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(links_checked >= 6, "{links_checked} data links checked");
    eprintln!(
        "{queries} dashboard queries ran and returned data, {links_checked} data links opened \
         their rows' failures; log fed after {fed:?}, {:?} in all",
        t0.elapsed()
    );
}
