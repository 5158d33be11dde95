//! The alerting and deployment examples under deploy/ and docs/runbooks.md, held to what they
//! promise:
//!
//! - every alert has a severity, a summary, a description and a runbook section, and unit
//!   tests (deploy/prometheus/tests/) that fire it and that keep it silent;
//! - the rules name only metrics, labels and recording rules that exist;
//! - `promtool check`/`test rules`, `amtool check-config` and its routing, and
//!   `systemd-analyze verify`/`security` pass on the shipped files (the real tools);
//! - end to end (alerting_e2e.rs): the shipped rules on a REAL Prometheus, routed by a REAL
//!   Alertmanager.
//!
//! The tests that need Debian's `prometheus`, `prometheus-alertmanager` or `systemd` are
//! `#[ignore]`d and run by `sudo scripts/test` (after scripts/install-test-deps); without the
//! tools they fail saying so.

// A test crate: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::harness;

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use harness::exporter;
use harness::promql;
use harness::util::{require_tool, run, TestDir};
use serde::Deserialize as _;
use serde_yaml::Value;

pub(crate) const RECORDING: &str = "deploy/prometheus/rules/smtp-recording.rules.yml";
pub(crate) const ALERTS: &str = "deploy/prometheus/rules/smtp-alerts.rules.yml";
const RULE_TESTS: &str = "deploy/prometheus/tests";
pub(crate) const ALERTMANAGER: &str = "deploy/alertmanager/alertmanager.yml";
const UNIT: &str = "deploy/systemd/smtp-status-exporter.service";
const CONTAINERFILE: &str = "deploy/container/Containerfile";
const KUBERNETES: &str = "deploy/kubernetes";
const RUNBOOKS: &str = "docs/runbooks.md";
pub(crate) const RUNBOOK_URL: &str =
    "https://github.com/smtp-status-exporter/smtp-status-exporter/blob/main/docs/runbooks.md";

pub(crate) fn path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

pub(crate) fn read(rel: &str) -> String {
    fs::read_to_string(path(rel)).unwrap_or_else(|e| panic!("cannot read {rel}: {e}"))
}

pub(crate) fn yaml(rel: &str) -> Value {
    serde_yaml::from_str(&read(rel)).unwrap_or_else(|e| panic!("{rel} is no YAML: {e}"))
}

fn rules(rel: &str) -> Vec<Value> {
    yaml(rel)["groups"]
        .as_sequence()
        .unwrap_or_else(|| panic!("{rel}: no `groups`"))
        .iter()
        .flat_map(|g| g["rules"].as_sequence().cloned().unwrap_or_default())
        .collect()
}

pub(crate) fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

/// (alert name, rule) of every alert.
pub(crate) fn alerts() -> Vec<(String, Value)> {
    rules(ALERTS)
        .into_iter()
        .map(|r| (s(&r["alert"]).to_owned(), r))
        .collect()
}

fn recorded_names() -> BTreeSet<String> {
    rules(RECORDING)
        .iter()
        .map(|r| s(&r["record"]).to_owned())
        .collect()
}

/// GitHub's anchor of a Markdown heading: lower case, spaces to `-`, punctuation dropped.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

fn runbook_anchors() -> BTreeSet<String> {
    read(RUNBOOKS)
        .lines()
        .filter_map(|l| l.strip_prefix("## "))
        .map(anchor)
        .collect()
}

#[test]
fn every_alert_has_severity_summary_description_and_a_runbook_section() {
    let alerts = alerts();
    assert!(
        alerts.len() >= 10,
        "only {} alerts in {ALERTS}",
        alerts.len()
    );
    let anchors = runbook_anchors();
    let mut names = BTreeSet::new();
    for (name, rule) in &alerts {
        assert!(names.insert(name.clone()), "alert {name} defined twice");
        let severity = s(&rule["labels"]["severity"]);
        assert!(
            severity == "warning" || severity == "critical",
            "{name}: severity {severity:?}, want warning or critical"
        );
        assert_eq!(s(&rule["labels"]["team"]), "mail", "{name}: team label");
        for a in ["summary", "description"] {
            assert!(
                s(&rule["annotations"][a]).len() > 20,
                "{name}: no useful `{a}` annotation"
            );
        }
        let url = s(&rule["annotations"]["runbook_url"]);
        let want = format!("{RUNBOOK_URL}#{}", anchor(name));
        assert_eq!(url, want, "{name}: runbook_url");
        assert!(
            anchors.contains(&anchor(name)),
            "{name}: no `## {name}` section in {RUNBOOKS} (sections: {anchors:?})"
        );
        assert!(
            rule["for"].as_str().is_some(),
            "{name}: no `for:` (the end-to-end test shortens every `for:`)"
        );
    }
    let stale: Vec<_> = anchors
        .iter()
        .filter(|a| !names.iter().any(|n| anchor(n) == **a))
        .collect();
    assert!(
        stale.is_empty(),
        "runbook sections without an alert: {stale:?}"
    );
}

#[test]
fn every_alert_has_unit_tests_that_fire_it_and_that_keep_it_silent() {
    let mut fired: BTreeSet<String> = BTreeSet::new();
    let mut silent: BTreeSet<String> = BTreeSet::new();
    let mut files = 0;
    for entry in fs::read_dir(path(RULE_TESTS)).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().and_then(|e| e.to_str()) != Some("yml") {
            continue;
        }
        files += 1;
        let rel = format!("{RULE_TESTS}/{}", p.file_name().unwrap().to_string_lossy());
        let doc = yaml(&rel);
        let rule_files: Vec<&str> = doc["rule_files"]
            .as_sequence()
            .unwrap_or_else(|| panic!("{rel}: no rule_files"))
            .iter()
            .map(s)
            .collect();
        assert!(
            rule_files.contains(&"../rules/smtp-recording.rules.yml"),
            "{rel} must test the shipped rules: {rule_files:?}"
        );
        for t in doc["tests"].as_sequence().unwrap_or(&Vec::new()) {
            for a in t["alert_rule_test"].as_sequence().unwrap_or(&Vec::new()) {
                let name = s(&a["alertname"]).to_owned();
                match a["exp_alerts"].as_sequence() {
                    Some(v) if !v.is_empty() => fired.insert(name),
                    _ => silent.insert(name),
                };
            }
        }
    }
    assert!(files >= 3, "only {files} rule test files in {RULE_TESTS}");
    for (name, _) in alerts() {
        assert!(fired.contains(&name), "no unit test fires {name}");
        assert!(silent.contains(&name), "no unit test keeps {name} silent");
    }
}

#[test]
fn rules_use_only_metrics_labels_and_recording_rules_that_exist() {
    let recorded = recorded_names();
    for name in &recorded {
        assert!(
            promql::is_recording_name(name),
            "recording rule {name} does not follow level:metric:operations"
        );
    }
    let mut bad = Vec::new();
    for r in rules(RECORDING) {
        for n in promql::unknown_names(s(&r["expr"]), &recorded) {
            bad.push(format!("{}: {n}", s(&r["record"])));
        }
    }
    for (name, r) in alerts() {
        for text in [
            s(&r["expr"]),
            s(&r["annotations"]["summary"]),
            s(&r["annotations"]["description"]),
            s(&r["annotations"]["failures"]),
        ] {
            for n in promql::unknown_names(text, &recorded) {
                bad.push(format!("{name}: {n}"));
            }
        }
    }
    assert!(
        bad.is_empty(),
        "unknown names in the rules:\n{}",
        bad.join("\n")
    );
}

/// `--flags` in a text.
fn flags(text: &str) -> BTreeSet<String> {
    text.split(|c: char| c.is_whitespace() || c == '"' || c == ',' || c == '[' || c == ']')
        .filter(|w| w.starts_with("--") && w.len() > 2)
        .map(|w| w.split('=').next().unwrap_or(w).to_owned())
        .collect()
}

#[test]
fn deployment_examples_pass_only_flags_the_exporter_has() {
    let out = Command::new(exporter::binary())
        .arg("--help")
        .output()
        .unwrap();
    let known = flags(&String::from_utf8_lossy(&out.stdout));
    assert!(known.contains("--state.file"), "--help: {known:?}");
    let unit = read(UNIT);
    let exec = unit
        .lines()
        .find(|l| l.starts_with("ExecStart="))
        .expect("ExecStart");
    assert_eq!(
        exec,
        "ExecStart=/usr/local/bin/smtp-status-exporter --state.file \
         /var/lib/smtp-status-exporter/state.json"
    );
    let container = read(CONTAINERFILE);
    let cmd: String = container
        .lines()
        .filter(|l| l.starts_with("CMD") || l.starts_with("ENTRYPOINT"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut used: Vec<(String, String)> = flags(exec)
        .into_iter()
        .map(|f| (UNIT.to_owned(), f))
        .chain(
            flags(&cmd)
                .into_iter()
                .map(|f| (CONTAINERFILE.to_owned(), f)),
        )
        .collect();
    for (file, doc) in kubernetes_docs() {
        for c in containers(&doc) {
            let args: Vec<&str> = c["args"]
                .as_sequence()
                .map(|a| a.iter().map(s).collect())
                .unwrap_or_default();
            used.extend(
                flags(&args.join(" "))
                    .into_iter()
                    .map(|f| (file.clone(), f)),
            );
        }
    }
    assert!(used.len() >= 5, "{used:?}");
    for (file, f) in used {
        assert!(
            known.contains(&f),
            "{file} passes {f}, which --help does not list"
        );
    }
}

#[test]
fn the_systemd_unit_is_hardened_as_documented() {
    let unit = read(UNIT);
    for want in [
        "User=smtp-status-exporter",
        "SupplementaryGroups=adm",
        "ProtectSystem=strict",
        "StateDirectory=smtp-status-exporter",
        "NoNewPrivileges=yes",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
        "SystemCallFilter=@system-service",
        "ReadOnlyPaths=/var/log",
        "CapabilityBoundingSet=\n",
    ] {
        assert!(unit.contains(want), "{UNIT} lacks `{}`", want.trim());
    }
}

#[test]
fn the_container_image_builds_in_stages_and_runs_as_non_root() {
    let c = read(CONTAINERFILE);
    let froms: Vec<&str> = c.lines().filter(|l| l.starts_with("FROM ")).collect();
    assert!(froms.len() >= 2, "not a multi-stage build: {froms:?}");
    assert!(froms[0].ends_with(" AS build"), "{froms:?}");
    assert!(
        c.contains("COPY --from=build "),
        "the runtime stage copies the binary"
    );
    let user = c
        .lines()
        .rfind(|l| l.starts_with("USER "))
        .expect("a USER line");
    let uid = user[5..].split(':').next().unwrap_or_default();
    assert!(
        uid.parse::<u32>().is_ok_and(|u| u != 0),
        "USER must be a numeric non-root uid (Kubernetes' runAsNonRoot checks it): {user}"
    );
}

fn kubernetes_docs() -> Vec<(String, Value)> {
    let mut docs = Vec::new();
    let mut entries: Vec<_> = fs::read_dir(path(KUBERNETES))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        let rel = format!("{KUBERNETES}/{}", p.file_name().unwrap().to_string_lossy());
        for d in serde_yaml::Deserializer::from_str(&read(&rel)) {
            let v = Value::deserialize(d).unwrap_or_else(|e| panic!("{rel}: {e}"));
            docs.push((rel.clone(), v));
        }
    }
    docs
}

fn containers(doc: &Value) -> Vec<Value> {
    doc["spec"]["template"]["spec"]["containers"]
        .as_sequence()
        .cloned()
        .unwrap_or_default()
}

fn find_kind(docs: &[(String, Value)], kind: &str) -> Value {
    docs.iter()
        .find(|(_, d)| s(&d["kind"]) == kind)
        .map(|(_, d)| d.clone())
        .unwrap_or_else(|| panic!("no {kind} in {KUBERNETES}/"))
}

#[test]
fn the_kubernetes_example_hangs_together() {
    let docs = kubernetes_docs();
    let deploy = find_kind(&docs, "Deployment");
    let service = find_kind(&docs, "Service");
    let monitor = find_kind(&docs, "ServiceMonitor");
    let pod = &deploy["spec"]["template"];
    // The Service selects the MTA pods.
    let pod_labels = pod["metadata"]["labels"].as_mapping().unwrap();
    for (k, v) in service["spec"]["selector"].as_mapping().unwrap() {
        assert_eq!(
            pod_labels.get(k),
            Some(v),
            "Service selector {k:?} vs pod labels"
        );
    }
    // The sidecar: reads the MTA's log volume read-only, serves the `metrics` port.
    let cs = containers(&deploy);
    let exporter = cs
        .iter()
        .find(|c| s(&c["name"]) == "smtp-status-exporter")
        .expect("a smtp-status-exporter container");
    let port = exporter["ports"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|p| s(&p["name"]) == "metrics")
        .expect("a port named metrics");
    assert_eq!(port["containerPort"].as_u64(), Some(9978));
    let args: Vec<&str> = exporter["args"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(s)
        .collect();
    let log = args[args.iter().position(|a| *a == "--log.path").unwrap() + 1];
    let mounts = exporter["volumeMounts"].as_sequence().unwrap();
    let log_mount = mounts
        .iter()
        .find(|m| log.starts_with(&format!("{}/", s(&m["mountPath"]))))
        .unwrap_or_else(|| panic!("--log.path {log} is on no volume of the sidecar"));
    assert_eq!(log_mount["readOnly"].as_bool(), Some(true), "{log_mount:?}");
    let shared = cs.iter().any(|c| {
        s(&c["name"]) != "smtp-status-exporter"
            && c["volumeMounts"].as_sequence().is_some_and(|ms| {
                ms.iter().any(|m| {
                    m["name"] == log_mount["name"] && m["readOnly"].as_bool() != Some(true)
                })
            })
    });
    assert!(
        shared,
        "no MTA container writes the log volume {:?}",
        log_mount["name"]
    );
    let sc = &exporter["securityContext"];
    assert_eq!(sc["runAsNonRoot"].as_bool(), Some(true));
    assert_eq!(sc["readOnlyRootFilesystem"].as_bool(), Some(true));
    assert_eq!(sc["allowPrivilegeEscalation"].as_bool(), Some(false));
    // Scrape annotations on the pod and the Service.
    for (what, ann) in [
        ("pod", &pod["metadata"]["annotations"]),
        ("Service", &service["metadata"]["annotations"]),
    ] {
        assert_eq!(
            s(&ann["prometheus.io/scrape"]),
            "true",
            "{what} annotations"
        );
        assert_eq!(s(&ann["prometheus.io/port"]), "9978", "{what} annotations");
        assert_eq!(
            s(&ann["prometheus.io/path"]),
            "/metrics",
            "{what} annotations"
        );
    }
    // The Service's port and the ServiceMonitor's endpoint.
    let sport = service["spec"]["ports"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|p| s(&p["name"]) == "metrics")
        .expect("Service port metrics")
        .clone();
    assert_eq!(s(&sport["targetPort"]), "metrics");
    let svc_labels = service["metadata"]["labels"].as_mapping().unwrap();
    for (k, v) in monitor["spec"]["selector"]["matchLabels"]
        .as_mapping()
        .unwrap()
    {
        assert_eq!(svc_labels.get(k), Some(v), "ServiceMonitor selector {k:?}");
    }
    let ep = &monitor["spec"]["endpoints"][0];
    assert_eq!(s(&ep["port"]), "metrics");
    let sets_job = ep["relabelings"].as_sequence().is_some_and(|rs| {
        rs.iter()
            .any(|r| s(&r["targetLabel"]) == "job" && s(&r["replacement"]) == "smtp")
    });
    assert!(
        sets_job,
        "the ServiceMonitor must set job=\"smtp\" for SmtpExporterDown"
    );
}

// ----------------------------------------------------------------------- the real tools

fn tool_ok(cmd: &mut Command) -> String {
    let (ok, said) = run(cmd);
    assert!(ok, "{cmd:?} failed:\n{said}");
    said
}

#[test]
#[ignore = "needs prometheus (promtool): run by scripts/test"]
fn promtool_checks_and_unit_tests_the_shipped_rules() {
    let promtool = require_tool("promtool");
    let started = Instant::now();
    let said = tool_ok(
        Command::new(&promtool)
            .arg("check")
            .arg("rules")
            .arg(path(RECORDING))
            .arg(path(ALERTS)),
    );
    assert_eq!(said.matches("SUCCESS").count(), 2, "{said}");
    // The example configuration loads both rule files (paths relative to it).
    let said = tool_ok(
        Command::new(&promtool)
            .args(["check", "config"])
            .arg(path("deploy/prometheus/prometheus.yml")),
    );
    assert!(said.contains("2 rule files found"), "{said}");
    let mut tests: Vec<PathBuf> = fs::read_dir(path(RULE_TESTS))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml"))
        .collect();
    tests.sort();
    let said = tool_ok(Command::new(&promtool).args(["test", "rules"]).args(&tests));
    assert_eq!(
        said.matches("SUCCESS").count(),
        tests.len(),
        "every rule test file passes:\n{said}"
    );
    eprintln!(
        "promtool: rules checked, {} test files passed in {:?}",
        tests.len(),
        started.elapsed()
    );
}

#[test]
#[ignore = "needs prometheus-alertmanager (amtool): run by scripts/test"]
fn amtool_checks_the_alertmanager_example_and_its_routing() {
    let amtool = require_tool("amtool");
    let config = path(ALERTMANAGER);
    let said = tool_ok(Command::new(&amtool).arg("check-config").arg(&config));
    assert!(said.contains("SUCCESS"), "{said}");
    // Where alerts go: warnings to the mail team, critical ones to its pager and to it, the
    // rest to the default receiver.
    for (labels, receivers) in [
        (
            &[
                "team=mail",
                "severity=warning",
                "alertname=SmtpDeferralRatioHigh",
            ][..],
            "mail-team",
        ),
        (
            &[
                "team=mail",
                "severity=critical",
                "alertname=SmtpBounceSpike",
            ][..],
            "mail-team-pager,mail-team",
        ),
        (&["alertname=Watchdog"][..], "default"),
    ] {
        tool_ok(
            Command::new(&amtool)
                .args(["config", "routes", "test"])
                .arg(format!("--config.file={}", config.display()))
                .arg(format!("--verify.receivers={receivers}"))
                .args(labels),
        );
    }
}

#[test]
#[ignore = "needs systemd (systemd-analyze): run by scripts/test"]
fn systemd_analyze_verifies_the_unit_and_rates_it_hardened() {
    let analyze = require_tool("systemd-analyze");
    // `verify` checks that ExecStart's binary exists: a copy of the unit runs the binary cargo
    // built instead of /usr/local/bin/smtp-status-exporter. It needs no running systemd.
    let dir = TestDir::new("sse-systemd-");
    let unit = dir.path().join("smtp-status-exporter.service");
    let text = read(UNIT).replace("/usr/local/bin/smtp-status-exporter", exporter::binary());
    fs::write(&unit, text).unwrap();
    let out = Command::new(&analyze)
        .args(["verify", "--man=no"])
        .arg(&unit)
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // verify exits 0 even for unknown keys or bad values: it only prints them.
    assert!(
        out.status.success() && said.trim().is_empty(),
        "systemd-analyze verify {}: {}\n{said}",
        unit.display(),
        out.status
    );
    // The exposure score of `systemd-analyze security` (0 safest … 10): at most 2.0, "OK".
    let out = Command::new(&analyze)
        .args(["security", "--offline=yes", "--threshold=20", "--no-pager"])
        .arg(&unit)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    let overall = said
        .lines()
        .find(|l| l.contains("Overall exposure level"))
        .unwrap_or_default()
        .to_owned();
    assert!(
        out.status.success(),
        "systemd-analyze security rates the unit above 2.0: {overall}\n{said}"
    );
    eprintln!("{}", overall.trim_start_matches(['→', ' ']));
}
