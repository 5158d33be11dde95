//! Every alert links to the failures behind it: a `failures` annotation, the exporter's
//! `/failures` page filtered by the alert's own labels, over the window the alert looked at.
//! Prometheus templates cannot share text between rules (and a YAML anchor cannot splice a
//! per-alert tail onto a shared head), so each alert writes the link out; these checks keep
//! the copies one template. promtool renders it in deploy/prometheus/tests/ (`failures` in
//! `exp_annotations`, with and without `--web.external-url`). The parameters `/failures`
//! takes are listed here once, for these checks and tests/it/dashboard_links.rs.

// A test crate: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

use serde_yaml::Value;

const ALERTS: &str = "deploy/prometheus/rules/smtp-alerts.rules.yml";
const RULE_TESTS: &str = "deploy/prometheus/tests";

/// The query parameters of `/failures` that filter by a label of `smtp_failures_total` or
/// `smtp_replies_total` (an unknown parameter is a 400): the exporter's own list.
pub use smtp_status_exporter::http::failures::FILTERS as LABEL_FILTERS;

/// The other parameters: how far back, how many.
pub const OTHER_PARAMETERS: [&str; 2] = ["since", "limit"];

/// The `key=value` pairs of a query string, in order (values as written, not decoded).
pub fn parameters(query: &str) -> Vec<(&str, &str)> {
    query
        .split('&')
        .map(|p| p.split_once('=').unwrap_or((p, "")))
        .collect()
}

/// A `since` value as the page reads it: a number and a unit (`30m`, `1h`, `2d`).
pub fn is_duration(v: &str) -> bool {
    let digits = v.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = &v[digits.len()..];
    !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && ["s", "m", "h", "d"].contains(&unit)
}

/// The head every link shares: the exporter's `--web.external-url` from its build_info (the
/// last hour's, so that the link still names it while the exporter is down), else the scheme
/// it serves and the scraped address.
const BASE: &str =
    "{{ with printf `last_over_time(smtp_status_exporter_build_info{instance=%q, job=%q}[1h])` \
    $labels.instance $labels.job | query }}{{ with first . }}{{ or (label \"external_url\" .) \
    (printf \"%s://%s\" (label \"scheme\" .) $labels.instance) }}{{ end }}{{ else }}\
    http://{{ $labels.instance }}{{ end }}/failures?";

fn yaml(rel: &str) -> Value {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
    let text = fs::read_to_string(&p).unwrap_or_else(|e| panic!("cannot read {rel}: {e}"));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{rel} is no YAML: {e}"))
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

/// (name, rule) of every alert.
fn alerts() -> Vec<(String, Value)> {
    let doc = yaml(ALERTS);
    let groups = doc["groups"].as_sequence().cloned().unwrap_or_default();
    groups
        .iter()
        .flat_map(|g| g["rules"].as_sequence().cloned().unwrap_or_default())
        .filter(|r| r["alert"].is_string())
        .map(|r| (s(&r["alert"]).to_owned(), r))
        .collect()
}

/// The labels each alert fires with, as its promtool unit tests expect them.
fn fired_labels() -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(RULE_TESTS);
    for entry in fs::read_dir(dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if !name.ends_with(".yml") {
            continue;
        }
        let doc = yaml(&format!("{RULE_TESTS}/{name}"));
        let tests = doc["tests"].as_sequence().cloned().unwrap_or_default();
        for a in tests
            .iter()
            .flat_map(|t| (t["alert_rule_test"].as_sequence().cloned()).unwrap_or_default())
        {
            let labels = out.entry(s(&a["alertname"]).to_owned()).or_default();
            for e in a["exp_alerts"].as_sequence().cloned().unwrap_or_default() {
                let m = e["exp_labels"].as_mapping().cloned().unwrap_or_default();
                labels.extend(m.keys().map(|k| s(k).to_owned()));
            }
        }
    }
    out
}

/// Windows an alert looks at: its ranges (`[15m]`), the windows of the recorded series it
/// reads (`ratio_rate15m`), and its `for`.
fn windows(rule: &Value) -> BTreeSet<String> {
    let text = format!(
        "{} {}",
        s(&rule["expr"]),
        s(&rule["annotations"]["description"])
    );
    let mut out: BTreeSet<String> = BTreeSet::from([s(&rule["for"]).to_owned()]);
    for part in text.split('[').skip(1) {
        out.extend(part.split_once(']').map(|(w, _)| w.to_owned()));
    }
    for name in crate::harness::promql::identifiers(&text) {
        out.extend(name.rsplit_once("rate").map(|(_, w)| w.to_owned()));
    }
    out.retain(|w| is_duration(w));
    out
}

/// Whether the alert's expression or description selects `key="value"`, or reads a recorded
/// series named for it (`smtp_replies_outbound_deferred`).
fn selects(rule: &Value, key: &str, value: &str) -> bool {
    let expr = s(&rule["expr"]);
    let text = format!("{expr} {}", s(&rule["annotations"]["description"]));
    text.contains(&format!("{key}=\"{value}\""))
        || promql_names(expr).any(|n| n.split([':', '_']).any(|w| w == value))
}

fn promql_names(expr: &str) -> impl Iterator<Item = String> + '_ {
    crate::harness::promql::identifiers(expr)
        .into_iter()
        .filter(|i| i.contains(':'))
}

/// How the last line of every alert's description starts: then the `failures` link.
const DESCRIPTION_LINK: &str = "Failures behind this alert: ";

/// What is wrong with one alert's link, if anything.
fn check(name: &str, rule: &Value, fired: &BTreeSet<String>) -> Vec<String> {
    let link = s(&rule["annotations"]["failures"]);
    let Some(query) = link.strip_prefix(BASE) else {
        return vec![format!(
            "{name}: `failures` does not start with the shared head: {link}"
        )];
    };
    let mut bad = Vec::new();
    let mut seen = BTreeSet::new();
    for (key, value) in parameters(query) {
        if !seen.insert(key) {
            bad.push(format!("{name}: {key} twice"));
        }
        let templated = format!("{{{{ $labels.{key} | urlquery }}}}");
        if key == "since" {
            if !windows(rule).contains(value) {
                bad.push(format!(
                    "{name}: since={value}, not a window of the alert {:?}",
                    windows(rule)
                ));
            }
        } else if !LABEL_FILTERS.contains(&key) && !OTHER_PARAMETERS.contains(&key) {
            bad.push(format!("{name}: {key} is no parameter of /failures"));
        } else if value.contains("{{") {
            if value != templated {
                bad.push(format!("{name}: {key}={value}, want {templated}"));
            } else if !fired.contains(key) {
                bad.push(format!(
                    "{name}: links by {key}, a label it does not fire with"
                ));
            }
        } else if !selects(rule, key, value) {
            bad.push(format!(
                "{name}: {key}={value} is not what the alert selects"
            ));
        }
    }
    if !seen.contains("since") {
        bad.push(format!("{name}: no since"));
    }
    // The description, what most receivers show, ends with the same link.
    let description = s(&rule["annotations"]["description"]);
    let last = description.trim_end().lines().last().unwrap_or_default();
    if last != format!("{DESCRIPTION_LINK}{link}") {
        bad.push(format!(
            "{name}: the description does not end with {DESCRIPTION_LINK:?} and the link: {last}"
        ));
    }
    for label in fired.iter().filter(|l| LABEL_FILTERS.contains(&l.as_str())) {
        if !seen.contains(label.as_str()) {
            bad.push(format!(
                "{name}: fires with {label} but does not filter by it"
            ));
        }
    }
    bad
}

#[test]
fn every_alert_links_to_its_failures_filtered_by_its_labels() {
    let fired = fired_labels();
    let alerts = alerts();
    assert!(
        alerts.len() >= 20,
        "only {} alerts in {ALERTS}",
        alerts.len()
    );
    let mut bad = Vec::new();
    for (name, rule) in &alerts {
        let labels = fired.get(name).cloned().unwrap_or_default();
        assert!(
            labels.contains("instance"),
            "{name}: no unit test says its labels"
        );
        bad.extend(check(name, rule, &labels));
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

/// The checks above catch the mistakes they are for.
#[test]
fn a_wrong_link_is_caught() {
    let (name, rule) = alerts()
        .into_iter()
        .find(|(n, _)| n == "SmtpProviderDeferralSurge")
        .unwrap();
    let fired = fired_labels()[&name].clone();
    assert_eq!(check(&name, &rule, &fired), Vec::<String>::new());
    let link = s(&rule["annotations"]["failures"]).to_owned();
    for (from, to, want) in [
        (
            "provider={{ $labels.provider | urlquery }}&",
            "",
            "fires with provider but does not filter by it",
        ),
        (
            "{{ $labels.provider | urlquery }}",
            "{{ $labels.provider }}",
            "want {{",
        ),
        ("since=15m", "since=30m", "not a window"),
        (
            "outcome=deferred",
            "outcome=bounced",
            "not what the alert selects",
        ),
        ("direction=", "dir=", "no parameter"),
        (
            "&since=15m",
            "&queue={{ $labels.queue | urlquery }}&since=15m",
            "no parameter",
        ),
        (
            "&since=15m",
            "&stage={{ $labels.stage | urlquery }}&since=15m",
            "does not fire with",
        ),
        ("http://{{", "https://{{", "shared head"),
    ] {
        assert!(link.contains(from), "{from}");
        let mut r = rule.clone();
        r["annotations"]["failures"] = Value::from(link.replacen(from, to, 1));
        let said = check(&name, &r, &fired).join("\n");
        assert!(said.contains(want), "{from} -> {to}: {said:?}");
    }
    // A description without the link, or with another one.
    let description = s(&rule["annotations"]["description"]).to_owned();
    for changed in [
        description.replace(DESCRIPTION_LINK, "Failures: "),
        description.replace("since=15m", "since=30m"),
    ] {
        let mut r = rule.clone();
        r["annotations"]["description"] = Value::from(changed);
        let said = check(&name, &r, &fired).join("\n");
        assert!(said.contains("the description does not end"), "{said:?}");
    }
}
