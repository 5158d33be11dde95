//! The shipped alerting end to end: the exporter serves a log, a REAL Prometheus scrapes it
//! every second with the shipped rules, a burst of `421 4.7.0` deferrals fires the
//! policy-deferral alert, a REAL Alertmanager routes it with the shipped routing tree to a
//! webhook this test runs, with the code's meaning in its description and a link to the
//! failures behind it, and inhibits the per-domain alert.
//!
//! Needs Debian's `prometheus` and `prometheus-alertmanager`: `#[ignore]`d and run by
//! `sudo scripts/test` (after scripts/install-test-deps); without the tools it fails saying so.

// A test crate: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::alerting::{alerts, read, s, yaml, ALERTMANAGER, ALERTS, RECORDING, RUNBOOK_URL};
use crate::harness;

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use harness::alertmanager::{Alertmanager, Webhook};
use harness::exporter::{self, Exporter};
use harness::prometheus::Prometheus;
use harness::util::{require_tool, wait_for, TestDir};
use serde_yaml::Value;

use crate::harness::fixture_lines::{Lines, AT_GOOGLE};

/// Appends lines to the log in one write, as syslog would: stamped now (the fixture's classic
/// syslog stamp replaced), so that the failures an alert links to are the last minutes'.
fn append(log: &Path, lines: &[String]) {
    let now = jiff::Zoned::now().strftime("%b %e %H:%M:%S").to_string();
    let restamped: Vec<String> = lines
        .iter()
        .map(|l| match l.get(15..) {
            Some(rest) if l.as_bytes().get(3) == Some(&b' ') => format!("{now}{rest}"),
            _ => l.clone(),
        })
        .collect();
    let lines = &restamped;
    let mut text = lines.join("\n");
    text.push('\n');
    let mut f = fs::OpenOptions::new().append(true).open(log).unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

/// The shipped alert rules with every `for:` shortened to 1s, and nothing else changed: the
/// rate windows (15m) and baselines (`[1d] offset 1h`) stay, and work on seconds of data (a
/// Prometheus younger than an hour has no baseline, so the thresholds and volumes decide).
fn alerts_for_the_test() -> String {
    let mut changed = 0;
    let text: Vec<String> = read(ALERTS)
        .lines()
        .map(|l| {
            let t = l.trim_start();
            if t.starts_with("for: ") {
                changed += 1;
                format!("{}for: 1s", &l[..l.len() - t.len()])
            } else {
                l.to_owned()
            }
        })
        .collect();
    assert_eq!(changed, alerts().len(), "one `for:` per alert");
    text.join("\n") + "\n"
}

/// The shipped Alertmanager configuration with its routing tree and inhibition as they are;
/// every receiver replaced by the test's webhook (path `/<receiver name>`), and `group_wait`
/// and `group_interval` shortened to 1s.
fn alertmanager_for_the_test(webhook: &Webhook) -> String {
    let mut cfg = yaml(ALERTMANAGER);
    for r in cfg["receivers"].as_sequence_mut().expect("receivers") {
        let name = s(&r["name"]).to_owned();
        let hook: Value = serde_yaml::from_str(&format!(
            "name: {name}\nwebhook_configs:\n  - url: {}\n    send_resolved: false\n",
            webhook.url(&format!("/{name}"))
        ))
        .unwrap();
        *r = hook;
    }
    fn shorten(route: &mut Value) {
        if let Some(m) = route.as_mapping_mut() {
            for key in ["group_wait", "group_interval"] {
                if let Some(v) = m.get_mut(key) {
                    *v = Value::from("1s");
                }
            }
        }
        if let Some(routes) = route["routes"].as_sequence_mut() {
            routes.iter_mut().for_each(shorten);
        }
    }
    shorten(&mut cfg["route"]);
    serde_yaml::to_string(&cfg).unwrap()
}

fn prometheus_config(exporter: SocketAddr, am: SocketAddr, rules: &[PathBuf]) -> String {
    let rule_files: String = rules
        .iter()
        .map(|p| format!("  - {}\n", p.display()))
        .collect();
    format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
         rule_files:\n{rule_files}\
         alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: [\"{am}\"]\n\
         scrape_configs:\n  - job_name: smtp\n    static_configs:\n      - targets: [\"{exporter}\"]\n"
    )
}

fn labels_of(alert: &serde_json::Value) -> BTreeMap<String, String> {
    alert["labels"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

/// What `explain --format json CODE` says the code means: the same knowledge base as
/// smtp_code_info, asked another way.
fn meaning_of(code: &str) -> String {
    let out = Command::new(exporter::binary())
        .args(["explain", "--format", "json", code])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v[0]["meaning"].as_str().unwrap().to_owned()
}

/// An inbound refusal as Postfix logs it when the blocklist refuses our resolver
/// (simple-login/app#2675 quotes one): the client is not listed, our DNS setup is the cause.
fn open_resolver_refusal(i: u32) -> String {
    format!(
        "Nov 23 02:13:27 mx postfix/smtpd[10739]: NOQUEUE: reject: RCPT from \
         out-17.smtp.github.com[192.30.252.200]: 554 5.7.1 Service unavailable; Client host \
         [192.30.252.200] blocked using zen.spamhaus.org; Error: open resolver; \
         https://check.spamhaus.org/returnc/pub/198.51.100.53/; from=<noreply@github.com> \
         to=<user{i}@in.test> proto=ESMTP helo=<out-17.smtp.github.com>"
    )
}

/// SmtpProviderDeferralSurge of the burst at Google: routed to the mail team, labelled with the
/// provider, the top code and its meaning in the summary, the stage the deferrals answered (the
/// fixture's line says RCPT TO; a parser that does not read it leaves it empty, never another
/// stage) and the domain in the description.
fn check_provider_alert(
    webhook: &Webhook,
    instance: &str,
    meaning: &str,
    diagnose: &dyn Fn() -> String,
) -> String {
    let (gmail, _, _) = AT_GOOGLE;
    let (route, alert) = webhook
        .wait_for_alert("SmtpProviderDeferralSurge", Duration::from_secs(20))
        .unwrap_or_else(|| {
            panic!(
                "SmtpProviderDeferralSurge never reached the webhook\n{}",
                diagnose()
            )
        });
    assert_eq!(route, "/mail-team", "{alert}");
    let want: BTreeMap<String, String> = [
        ("alertname", "SmtpProviderDeferralSurge"),
        ("severity", "warning"),
        ("team", "mail"),
        ("job", "smtp"),
        ("instance", instance),
        ("source", "postfix"),
        ("mta", "postfix"),
        ("provider", "google"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    assert_eq!(labels_of(&alert), want, "{alert}");
    let ann = &alert["annotations"];
    let summary = ann["summary"].as_str().unwrap_or_default();
    assert!(
        summary.starts_with(&format!("postfix on {instance}: google is deferring "))
            && summary.ends_with(&format!("; top code 4.7.0: {meaning}")),
        "summary: {summary}"
    );
    let description = ann["description"].as_str().unwrap_or_default();
    for want in [
        "- 421 4.7.0 (about ".to_owned(),
        format!(": {meaning}\n"),
        format!("Domains: {gmail} ("),
    ] {
        assert!(
            description.contains(&want),
            "no {want:?} in:\n{description}"
        );
    }
    assert!(
        description.contains("Deferred in reply to: rcpt (")
            || description.contains("Deferred in reply to: not logged ("),
        "the stage of a reply to RCPT TO:\n{description}"
    );
    // Plain HTTP, no --web.external-url: the link is built from the scraped build_info.
    let failures = ann["failures"].as_str().unwrap_or_default();
    let link = format!("http://{instance}/failures?source=postfix&mta=postfix&provider=google&direction=outbound&outcome=deferred&since=15m");
    assert_eq!(failures, link, "{alert}");
    assert!(
        description
            .trim_end()
            .ends_with(&format!("Failures behind this alert: {link}")),
        "the description ends with the link:\n{description}"
    );
    link
}

/// The failures an alert's link opens on the exporter (as JSON).
fn opened(exporter: &Exporter, link: &str) -> Vec<serde_json::Value> {
    let host = format!("http://{}", exporter.addr);
    let path = link
        .strip_prefix(&host)
        .unwrap_or_else(|| panic!("{link}: not {host}"));
    let (status, body) = exporter.get(&format!("{path}&format=json"));
    assert_eq!(status, 200, "{link}: {body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    v["failures"].as_array().cloned().unwrap_or_default()
}

#[test]
#[ignore = "needs prometheus, alertmanager: run by scripts/test"]
fn a_burst_of_policy_deferrals_reaches_the_mail_team_with_the_meaning_of_its_code() {
    let (gmail, _, _) = AT_GOOGLE;
    let _heavy = harness::heavy();
    require_tool("prometheus");
    require_tool("prometheus-alertmanager");
    let t0 = Instant::now();
    let dir = TestDir::new("sse-alerting-");
    let log = dir.path().join("mail.log");
    fs::write(&log, "").unwrap();

    let webhook = Webhook::start();
    let am = Alertmanager::start(dir.path(), &alertmanager_for_the_test(&webhook))
        .unwrap_or_else(|e| panic!("{e}"));
    let exporter = Exporter::start_any_port(
        &[&log],
        &dir.path().join("state.json"),
        &dir.path().join("exporter.stderr"),
        &[],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let rules_dir = dir.subdir("rules");
    let recording = rules_dir.join("smtp-recording.rules.yml");
    let alerting = rules_dir.join("smtp-alerts.rules.yml");
    fs::write(&recording, read(RECORDING)).unwrap();
    fs::write(&alerting, alerts_for_the_test()).unwrap();
    let prom = Prometheus::start(
        dir.path(),
        &prometheus_config(exporter.addr, am.addr, &[recording, alerting]),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let loaded = prom.rules().unwrap();
    let groups = loaded["groups"].as_array().map_or(0, Vec::len);
    assert_eq!(groups, 3, "rule groups loaded: {loaded}");
    prom.wait_for_samples(r#"up{job="smtp"} == 1"#, Duration::from_secs(30))
        .unwrap_or_else(|e| panic!("{e}"));
    let ready = t0.elapsed();

    // Seed: one line of each series, so that Prometheus has the series before they grow
    // (rate() cannot see the increase that creates a series).
    let lines = Lines::from_fixture();
    append(
        &log,
        &[
            lines.delivered(0, gmail),
            lines.delivered(1, "d2.test"),
            lines.deferred(2, gmail),
            open_resolver_refusal(0),
        ],
    );
    prom.wait_for_samples(
        &format!(
            r#"count_over_time(smtp_replies_total{{enhanced="4.7.0", domain="{gmail}"}}[1m]) >= 2"#
        ),
        Duration::from_secs(30),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    // Ordinary traffic: 170 deliveries.
    let mut n = 10;
    let mut base = Vec::new();
    for i in 0..170 {
        base.push(lines.delivered(n, if i % 8 == 0 { gmail } else { "d2.test" }));
        n += 1;
    }
    append(&log, &base);
    prom.wait_for_samples(
        r#"sum(smtp_replies_total{outcome="delivered"}) == 172"#,
        Duration::from_secs(30),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    // The burst: 60 deferrals `421 4.7.0` from Google's MX host for gmail.com, in one write;
    // and our own blocklist lookups refused, so that every inbound client is refused.
    let mut burst: Vec<String> = (0..60).map(|i| lines.deferred(n + i, gmail)).collect();
    burst.extend((1..=10).map(open_resolver_refusal));
    append(&log, &burst);
    let burst_at = Instant::now();

    let diagnose = || {
        format!(
            "ALERTS in Prometheus: {:?}\nalerts in Alertmanager: {:?}\nwebhook got: {:?}\n\
             prometheus log:\n{}\nalertmanager log:\n{}",
            prom.query("ALERTS"),
            am.alerts(),
            webhook.received(),
            prom.log_tail(10),
            am.log_tail(10)
        )
    };
    let (route, alert) = webhook
        .wait_for_alert("SmtpPolicyDeferralSurge", Duration::from_secs(45))
        .unwrap_or_else(|| {
            panic!(
                "SmtpPolicyDeferralSurge never reached the webhook\n{}",
                diagnose()
            )
        });
    let delivered_after = burst_at.elapsed();

    // Routed by the shipped tree: team=mail, severity=warning → mail-team.
    assert_eq!(route, "/mail-team", "{alert}");
    let want: BTreeMap<String, String> = [
        ("alertname", "SmtpPolicyDeferralSurge"),
        ("severity", "warning"),
        ("team", "mail"),
        ("job", "smtp"),
        ("instance", &exporter.addr.to_string()),
        ("source", "postfix"),
        ("mta", "postfix"),
        ("direction", "outbound"),
        ("enhanced", "4.7.0"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    assert_eq!(labels_of(&alert), want, "{alert}");
    let ann = &alert["annotations"];
    let summary = ann["summary"].as_str().unwrap_or_default();
    let description = ann["description"].as_str().unwrap_or_default();
    assert!(
        summary.starts_with(&format!("postfix on {}: ", exporter.addr))
            && summary.contains("deferrals with 4.7.0 (policy)"),
        "summary: {summary}"
    );
    let meaning = meaning_of("4.7.0");
    assert!(
        description.contains(&format!("4.7.0 means: {meaning}.")),
        "the description carries the meaning of 4.7.0 ({meaning:?}) from smtp_code_info:\n{description}"
    );
    assert!(
        description.contains(&format!("Domains answering it: {gmail} (")),
        "the description names the domain:\n{description}"
    );
    assert_eq!(
        ann["runbook_url"].as_str().unwrap_or_default(),
        format!("{RUNBOOK_URL}#smtppolicydeferralsurge")
    );

    // The whole source defers over 20%: the fleet-wide alert comes too, with the code behind it.
    let (route, overall) = webhook
        .wait_for_alert("SmtpDeferralRatioHigh", Duration::from_secs(20))
        .unwrap_or_else(|| {
            panic!(
                "SmtpDeferralRatioHigh never reached the webhook\n{}",
                diagnose()
            )
        });
    assert_eq!(route, "/mail-team");
    let description = overall["annotations"]["description"]
        .as_str()
        .unwrap_or_default();
    assert!(
        description.contains("- 421 4.7.0 (about ") && description.contains(&meaning),
        "{description}"
    );

    // Google alone defers most of what we send it: the provider alert names it.
    let link = check_provider_alert(&webhook, &exporter.addr.to_string(), &meaning, &diagnose);
    // One click from the alert: the deferrals at Google behind it, each with its queue id.
    let behind = opened(&exporter, &link);
    assert!(!behind.is_empty(), "{link} lists nothing");
    for f in &behind {
        assert!(
            f["provider"] == "google" && f["outcome"] == "deferred" && f["queue_id"] != "",
            "{link}: {f}"
        );
    }

    // Our own DNSBL lookups refused: critical, so the pager gets it (and the mail team).
    let (_, dnsbl) = wait_for(Duration::from_secs(30), Duration::from_millis(50), || {
        webhook.alerts().into_iter().find(|(route, a)| {
            route == "/mail-team-pager" && a["labels"]["alertname"] == "SmtpDnsblLookupsRefused"
        })
    })
    .unwrap_or_else(|| {
        panic!(
            "SmtpDnsblLookupsRefused never reached the pager\n{}",
            diagnose()
        )
    });
    assert_eq!(dnsbl["labels"]["severity"], "critical", "{dnsbl}");
    let summary = dnsbl["annotations"]["summary"].as_str().unwrap_or_default();
    assert!(
        summary.contains("its own blocklist lookups are refused"),
        "{summary}"
    );
    let link = dnsbl["annotations"]["failures"]
        .as_str()
        .unwrap_or_default();
    let refused = opened(&exporter, link);
    assert!(!refused.is_empty(), "{link} lists nothing");
    for f in &refused {
        // NOQUEUE refusals: no queue id; the recipient masked.
        assert!(
            f["reason"] == "dnsbl_unusable"
                && f["queue_id"] == ""
                && f["recipient"]
                    .as_str()
                    .unwrap_or_default()
                    .starts_with("u…@"),
            "{link}: {f}"
        );
    }

    // gmail.com alone defers 73%: its per-domain alert fires too, but the fleet-wide one
    // inhibits it (equal job, instance, source), so it is never sent.
    let inhibited = wait_for(Duration::from_secs(20), Duration::from_millis(100), || {
        am.alerts().ok()?.into_iter().find(|a| {
            a["labels"]["alertname"] == "SmtpDomainDeferralRatioHigh"
                && a["labels"]["domain"] == gmail
                && a["status"]["state"] == "suppressed"
                && a["status"]["inhibitedBy"]
                    .as_array()
                    .is_some_and(|v| !v.is_empty())
        })
    });
    assert!(
        inhibited.is_some(),
        "SmtpDomainDeferralRatioHigh for {gmail} is not in Alertmanager, inhibited\n{}",
        diagnose()
    );
    // Two more group intervals: still not delivered.
    std::thread::sleep(Duration::from_secs(2));
    let leaked: Vec<_> = webhook
        .alerts()
        .into_iter()
        .filter(|(_, a)| a["labels"]["alertname"] == "SmtpDomainDeferralRatioHigh")
        .collect();
    assert!(leaked.is_empty(), "an inhibited alert was sent: {leaked:?}");
    eprintln!(
        "servers ready after {ready:?}; alert at the webhook {delivered_after:?} after the \
         burst; {:?} in all",
        t0.elapsed()
    );
}
