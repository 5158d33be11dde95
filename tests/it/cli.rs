//! The binary as a user meets it: exit codes, error messages that say what to fix, and a
//! restart that keeps its counters, scraped over real HTTP.

// A test crate: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crate::harness::exporter::binary;

fn run(args: &[&str]) -> Output {
    Command::new(binary()).args(args).output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn a_bad_flag_exits_2() {
    let o = run(&["--web.listen-adress", ":1"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("--web.listen-address"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn bad_configs_exit_2_and_name_the_mistake() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "web:\n  listen_adress: x\n",
            "unknown field `listen_adress`",
        ),
        (
            "sources:\n  - path: /x\n    format: qmail\n",
            "sources[0].format",
        ),
        ("domains: [1, 2]\n", "domains"),
        // A reason rule with a bad regex, or a name that is no label value: named.
        (
            "reasons:\n  - reason: quota_de\n    match: 'Postfach (voll'\n",
            "reasons[0] (quota_de).match: invalid regex",
        ),
        (
            "reasons:\n  - reason: quota_de\n    match: voll\n  - reason: \"Quota DE!\"\n    match: x\n",
            "reasons[1] (Quota DE!).reason",
        ),
    ];
    for (i, (text, want)) in cases.iter().enumerate() {
        let p = dir.path().join(format!("bad{i}.yaml"));
        std::fs::write(&p, text).unwrap();
        let path = p.to_str().unwrap();
        for args in [
            vec!["check-config", "--config.file", path],
            vec!["--config.file", path, "--web.listen-address", "127.0.0.1:0"],
        ] {
            let o = run(&args);
            assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
            assert!(stderr(&o).contains(want), "{args:?}: {}", stderr(&o));
            assert!(stderr(&o).contains(path), "names the file: {}", stderr(&o));
        }
    }
    let o = run(&["check-config", "--config.file", "/nonexistent/c.yaml"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("/nonexistent/c.yaml"));
}

#[test]
fn a_good_config_checks_fine() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("ok.yaml");
    std::fs::write(
        &p,
        "sources:\n  - name: edge\n    path: /var/log/mail.log\n    format: postfix\n",
    )
    .unwrap();
    let o = run(&["check-config", "--config.file", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

/// `check-config --web.config.file` loads the web config as `serve` would: a good one is
/// OK, a bad one exits 2 naming the field.
#[test]
fn check_config_checks_the_web_config() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("web.yml");
    std::fs::write(
        &good,
        // bcrypt of "change-me", as in deploy/web-config.example.yml
        "basic_auth_users:\n  prometheus: \"$2b$10$weI/xWHRg5gzIpeus35jU.0ucNNHJm/AstQCXY/0E38JEIj0Mw/LG\"\n",
    )
    .unwrap();
    let o = run(&["check-config", "--web.config.file", good.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("OK"));

    let bad = dir.path().join("bad.yml");
    std::fs::write(&bad, "basic_auth_users:\n  bob: notahash\n").unwrap();
    let o = run(&["check-config", "--web.config.file", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("basic_auth_users.bob"),
        "{}",
        stderr(&o)
    );

    let missing_cert = dir.path().join("tls.yml");
    std::fs::write(
        &missing_cert,
        "tls_server_config:\n  cert_file: nope.crt\n  key_file: nope.key\n",
    )
    .unwrap();
    let o = run(&[
        "check-config",
        "--web.config.file",
        missing_cert.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("tls_server_config.cert_file"),
        "{}",
        stderr(&o)
    );
}

/// A user's reason rule comes before the built-in table: `explain` (with the config) and
/// `replay` both use it.
#[test]
fn user_reason_rules_are_used() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("reasons.yaml");
    std::fs::write(
        &cfg,
        "reasons:\n  - reason: quota_de\n    match: 'postfach (ist )?voll'\n",
    )
    .unwrap();
    let cfg = cfg.to_str().unwrap();
    let o = run(&["check-config", "--config.file", cfg]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("1 reason rule(s)"));
    let reply = "552 5.2.2 Postfach ist voll";
    let json = |args: &[&str]| -> serde_json::Value {
        let o = run(args);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        serde_json::from_slice(&o.stdout).unwrap()
    };
    let builtin = json(&["explain", "--format", "json", reply]);
    assert_eq!(builtin[0]["reason"], "mailbox_full", "{builtin}");
    let user = json(&["explain", "--format", "json", "--config.file", cfg, reply]);
    assert_eq!(user[0]["reason"], "quota_de", "{user}");
    // Text output names the reason of the whole line.
    let o = run(&[
        "explain",
        "550 5.7.1 Service unavailable; client host blocked using Spamhaus",
    ]);
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("reason:     blocklisted"),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    // replay counts the failure under the user's reason.
    let log = dir.path().join("mail.log");
    std::fs::write(
        &log,
        "Nov 23 02:12:58 mx postfix/smtp[10731]: 1B0E698C15E: to=<u@example.net>, relay=127.0.0.1[127.0.0.1]:25, delay=0.04, delays=0.01/0.01/0/0.01, dsn=5.2.2, status=bounced (host 127.0.0.1[127.0.0.1] said: 552 5.2.2 Postfach ist voll (in reply to RCPT TO command))\n",
    )
    .unwrap();
    let r = json(&[
        "replay",
        "--format",
        "json",
        "--config.file",
        cfg,
        log.to_str().unwrap(),
    ]);
    assert_eq!(r["failures"][0]["labels"]["reason"], "quota_de", "{r}");
    assert_eq!(r["failures"][0]["labels"]["domain"], "example.net", "{r}");
    assert_eq!(r["failures"][0]["value"], 1, "{r}");
}

/// `providers:` and `own_relays:` of the config file decide the `provider` label of `replay`
/// and of `explain` of a whole line, beside the built-in table; inbound refusals have none.
#[test]
fn user_providers_and_own_relays_are_used() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.yaml");
    std::fs::write(
        &cfg,
        "providers:\n  acme_hosting:\n    mx: [mx.acme-hosting.example]\nown_relays: [smarthost.example.org]\n",
    )
    .unwrap();
    let cfg = cfg.to_str().unwrap();
    let line = |id: &str, to: &str, relay: &str, reply: &str| {
        format!(
            "Nov 23 02:12:58 mx postfix/smtp[10731]: {id}: to=<{to}>, relay={relay}:25, delay=0.04, \
             delays=0.01/0.01/0/0.01, dsn=5.7.1, status=bounced (host {relay} said: {reply} \
             (in reply to RCPT TO command))\n"
        )
    };
    let acme = line(
        "1B0E698C15A",
        "u@customer.example",
        "in1.mx.acme-hosting.example[192.0.2.10]",
        "550 5.7.1 relaying denied",
    );
    let text = [
        acme.clone(),
        line(
            "1B0E698C15B",
            "u@gmail.com",
            "smarthost.example.org[192.0.2.25]",
            "554 5.7.1 policy",
        ),
        line(
            "1B0E698C15C",
            "u@contoso.example",
            "contoso-example.mail.protection.outlook.com[52.101.68.1]",
            "550 5.7.1 Service unavailable",
        ),
        "Nov 23 02:12:58 mx postfix/smtpd[10733]: NOQUEUE: reject: RCPT from unknown[192.0.2.9]: \
         554 5.7.1 <u@in.example>: Relay access denied; from=<s@x.example> to=<u@in.example> \
         proto=ESMTP helo=<x>\n"
            .to_owned(),
    ]
    .concat();
    let log = dir.path().join("mail.log");
    std::fs::write(&log, text).unwrap();
    let o = run(&[
        "replay",
        "--format",
        "json",
        "--config.file",
        cfg,
        log.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let mut got: Vec<String> = r["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let l = &f["labels"];
            format!(
                "{} {} {} {}",
                l["direction"], l["domain"], l["provider"], l["stage"]
            )
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            r#""inbound" "in.example" "" "rcpt""#,
            r#""outbound" "contoso.example" "microsoft" "rcpt""#,
            r#""outbound" "customer.example" "acme_hosting" "rcpt""#,
            r#""outbound" "gmail.com" "google" "rcpt""#,
        ],
        "{r}"
    );
    let o = run(&[
        "explain",
        "--format",
        "json",
        "--config.file",
        cfg,
        acme.trim_end(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let x: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        [
            &x[0]["provider"],
            &x[0]["stage"],
            &x[0]["domain"],
            &x[0]["outcome"]
        ],
        ["acme_hosting", "rcpt", "customer.example", "bounced"],
        "{x}"
    );
}

#[test]
fn replay_of_a_missing_file_exits_1_naming_it() {
    let o = run(&["replay", "/nonexistent/mail.log"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("/nonexistent/mail.log"),
        "{}",
        stderr(&o)
    );
}

use crate::harness;

use harness::exporter::Exporter;

/// Starts the exporter on a free port (its stderr appended to `dir/exporter.stderr`) and waits
/// until it is ready.
fn start(dir: &Path, args: &[&str]) -> Exporter {
    let state = dir.join("state.json");
    Exporter::start_any_port(&[], &state, &dir.join("exporter.stderr"), args)
        .unwrap_or_else(|e| panic!("{e}"))
}

fn lines_read(e: &Exporter) -> u64 {
    let (_, body) = e.get("/metrics");
    body.lines()
        .filter(|l| l.starts_with("smtp_status_exporter_lines_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

fn wait_for(e: &Exporter, want: u64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let n = lines_read(e);
        if n == want {
            return;
        }
        assert!(Instant::now() < deadline, "lines read: {n}, want {want}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn append(path: &Path, n: std::ops::Range<usize>) {
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .unwrap();
    for i in n {
        writeln!(f, "Nov 22 22:50:40 mx postfix/qmgr[1]: Q{i}: removed").unwrap();
    }
}

#[test]
fn a_bad_external_url_exits_2_saying_what_to_fix() {
    for (url, want) in [
        (
            "mx1.example.com:9978",
            "must start with http:// or https://",
        ),
        ("https://proxy.example.com/smtp?x=1", "no query"),
    ] {
        let o = run(&[
            "--web.external-url",
            url,
            "--web.listen-address",
            "127.0.0.1:0",
            "--log.path",
            "/dev/null",
        ]);
        assert_eq!(o.status.code(), Some(2), "{url}: {}", stderr(&o));
        let e = stderr(&o);
        assert!(
            e.contains("--web.external-url") && e.contains(want),
            "{url}: {e}"
        );
    }
}

/// What alert rules build their links to /failures from.
#[test]
fn build_info_carries_the_external_url_and_the_scheme() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("mail.log");
    append(&log, 0..1);
    let e = start(
        dir.path(),
        &[
            "--log.path",
            log.to_str().unwrap(),
            "--web.external-url",
            "https://proxy.example.com/smtp/",
        ],
    );
    let (_, body) = e.get("/metrics");
    let info = body
        .lines()
        .find(|l| l.starts_with("smtp_status_exporter_build_info{"))
        .unwrap_or_else(|| panic!("no build_info in {body}"));
    assert!(
        info.contains(r#"external_url="https://proxy.example.com/smtp""#)
            && info.contains(r#"scheme="http""#),
        "{info}"
    );
}

#[test]
fn a_busy_port_exits_1_with_a_hint() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let o = run(&["--web.listen-address", &addr, "--log.path", "/dev/null"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains("already in use") && e.contains("--web.listen-address"),
        "{e}"
    );
}

#[test]
fn counters_survive_a_restart_and_lines_written_while_down_count_once() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("mail.log");
    let log_arg = log.to_str().unwrap();
    append(&log, 0..3); // before the first start: not counted (followed from the end)

    let mut e = start(dir.path(), &["--log.path", log_arg]);
    append(&log, 3..10);
    wait_for(&e, 7);
    e.terminate().unwrap();

    append(&log, 10..15); // while down
    let e = start(dir.path(), &["--log.path", log_arg]);
    wait_for(&e, 12);
    append(&log, 15..16);
    wait_for(&e, 13);
    let (status, landing) = e.get("/");
    assert_eq!(status, 200);
    assert!(landing.contains("following"), "{landing}");
}

/// The value of the one series of `name` in an exposition.
fn gauge_value(body: &str, name: &str) -> Option<f64> {
    let mut found = body.lines().filter(|l| l.starts_with(&format!("{name}{{")));
    let v = found.next()?.rsplit(' ').next()?.parse().ok();
    assert!(found.next().is_none(), "one series of {name}");
    v
}

#[test]
fn destination_health_is_restored_and_failures_start_empty_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (log, config) = (dir.path().join("mail.log"), dir.path().join("c.yml"));
    std::fs::write(&log, "").unwrap();
    std::fs::write(&config, "time_zone: UTC\n").unwrap();
    let args = [
        "--log.path",
        log.to_str().unwrap(),
        "--config.file",
        config.to_str().unwrap(),
    ];
    let mut e = start(dir.path(), &args);
    let deferred = sent_line("postfix/smtp", 1)
        .replace("02:12:58", "02:13:30")
        .replace("dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 4XyZ12AbCd)", "dsn=4.7.0, status=deferred (host mx.example.net[192.0.2.1] said: 421 4.7.0 Try again later (in reply to RCPT TO command))");
    std::fs::write(&log, sent_line("postfix/smtp", 0) + &deferred).unwrap();
    wait_for(&e, 2);
    let (_, before) = e.get("/metrics");
    let delivered = gauge_value(&before, "smtp_last_delivered_timestamp_seconds").unwrap();
    let failed = gauge_value(&before, "smtp_last_failure_timestamp_seconds").unwrap();
    // The log lines' own times (02:12:58 and 02:13:30 UTC, the year inferred), not the read time.
    assert_eq!(
        (delivered as u64 % 86_400, failed - delivered),
        (2 * 3600 + 12 * 60 + 58, 32.0)
    );
    let (_, kept) = e.get("/failures?format=json");
    assert!(kept.contains("\"queue_id\": \"1CA9A98C001\""), "{kept}");
    e.terminate().unwrap();

    let e = start(dir.path(), &args);
    wait_for(&e, 2);
    let (_, after) = e.get("/metrics");
    assert_eq!(
        gauge_value(&after, "smtp_last_delivered_timestamp_seconds"),
        Some(delivered)
    );
    assert_eq!(
        gauge_value(&after, "smtp_last_failure_timestamp_seconds"),
        Some(failed)
    );
    let (_, empty) = e.get("/failures?format=json");
    assert!(
        empty.contains("\"kept\": 0"),
        "the ring is not state: {empty}"
    );
}

fn sent_line(tag: &str, i: usize) -> String {
    format!(
        "Nov 23 02:12:58 mx {tag}[10732]: 1CA9A98C{i:03X}: to=<u{i}@example.net>, relay=mx.example.net[192.0.2.1]:25, delay=0.03, delays=0.01/0.02/0/0, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 4XyZ12AbCd)\n"
    )
}

/// Sum of `smtp_replies_total` per `source` label.
fn replies_by_source(e: &Exporter) -> std::collections::BTreeMap<String, u64> {
    let (_, body) = e.get("/metrics");
    let mut out = std::collections::BTreeMap::new();
    for l in body
        .lines()
        .filter(|l| l.starts_with("smtp_replies_total{"))
    {
        let source = l
            .split("source=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .unwrap_or_default()
            .to_owned();
        let v: u64 = l.rsplit(' ').next().unwrap().parse().unwrap();
        *out.entry(source).or_default() += v;
    }
    out
}

#[test]
fn globs_and_instances_get_sources_of_their_own() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    let (a, b) = (logs.join("a.log"), logs.join("b.log"));
    std::fs::write(&a, "").unwrap();
    std::fs::write(&b, "").unwrap();
    let config = dir.path().join("c.yaml");
    std::fs::write(
        &config,
        format!(
            "sources:\n  - name: pf\n    path: \"{}/*.log\"\n    instances:\n      postfix-out: out\n",
            logs.display()
        ),
    )
    .unwrap();
    let e = start(dir.path(), &["--config.file", config.to_str().unwrap()]);
    let mut text = String::new();
    for i in 0..3 {
        text += &sent_line("postfix/smtp", i);
    }
    for i in 3..8 {
        text += &sent_line("postfix-out/smtp", i);
    }
    std::fs::write(&a, &text).unwrap();
    std::fs::write(&b, sent_line("postfix/smtp", 9)).unwrap();
    let want: std::collections::BTreeMap<String, u64> = [
        ("out".to_owned(), 5),
        ("pf/a.log".to_owned(), 3),
        ("pf/b.log".to_owned(), 1),
    ]
    .into();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = replies_by_source(&e);
        if got == want {
            break;
        }
        assert!(Instant::now() < deadline, "got {got:?}, want {want:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
