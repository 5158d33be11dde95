//! The code knowledge base as users meet it: `explain` of the real binary knows every code the
//! seed pages and the IANA registry name, says what it cannot know, exits 2 on no code; and the
//! landing page of a running exporter shows the codes fed to it with their meanings.

// A test crate: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crate::harness::exporter::{binary, Exporter};
use smtp_status_exporter::codes;
use smtp_status_exporter::parse::EnhancedCode;

fn run(args: &[&str]) -> Output {
    Command::new(binary()).args(args).output().unwrap()
}

/// The codes of a fixture list: one per line, `#` comments.
fn fixture(name: &str) -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/codes")
        .join(name);
    std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

/// `explain --format json` of the real binary, parsed.
fn explain_json(codes: &[String]) -> Vec<serde_json::Value> {
    let mut args = vec!["explain", "--format", "json"];
    args.extend(codes.iter().map(String::as_str));
    let o = run(&args);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice::<Vec<serde_json::Value>>(&o.stdout).unwrap()
}

fn str_of<'a>(v: &'a serde_json::Value, k: &str) -> &'a str {
    v[k].as_str()
        .unwrap_or_else(|| panic!("{k} missing or not a string: {v}"))
}

/// Each object has the shape `explain --format json` documents and says the code is known,
/// with a meaning and an action.
fn assert_all_known(want: &[String], got: &[serde_json::Value]) {
    let codes: Vec<&str> = got.iter().map(|v| str_of(v, "code")).collect();
    assert_eq!(codes, want, "one object per code, in order");
    for v in got {
        let code = str_of(v, "code");
        assert_eq!(v["known"], serde_json::Value::Bool(true), "{code}: {v}");
        assert!(!str_of(v, "meaning").is_empty(), "{code}");
        assert!(!str_of(v, "action").is_empty(), "{code}");
        assert!(!str_of(v, "source").is_empty(), "{code}");
        let kind = str_of(v, "kind");
        let class = str_of(v, "class");
        assert_eq!(
            class.as_bytes()[0],
            code.as_bytes()[0],
            "{code}: class {class}"
        );
        assert!(class.ends_with("xx"), "{code}: class {class}");
        match kind {
            "basic" => assert!(v.get("subject").is_none(), "{code}: {v}"),
            "enhanced" => assert!(!str_of(v, "subject").is_empty(), "{code}"),
            k => panic!("{code}: kind {k}"),
        }
    }
}

#[test]
fn every_code_of_the_seed_pages_is_known() {
    let want = fixture("seed-codes.txt");
    assert!(want.len() > 40, "the seed list looks cut: {want:?}");
    assert_all_known(&want, &explain_json(&want));
}

#[test]
fn every_code_of_the_iana_registry_is_known_in_every_class() {
    let registry = fixture("iana-enhanced.txt");
    assert_eq!(registry.len(), 81, "the registry's enumerated codes");
    for class in ["2", "4", "5"] {
        let want: Vec<String> = registry.iter().map(|c| c.replacen('X', class, 1)).collect();
        assert_all_known(&want, &explain_json(&want));
    }
    // And the table claims no registry code the registry does not list.
    let listed: BTreeSet<&str> = registry.iter().map(String::as_str).collect();
    let in_table: BTreeSet<&str> = codes::entries()
        .map(|e| e.code)
        .filter(|c| c.starts_with("X."))
        .collect();
    assert_eq!(in_table, listed);
}

#[test]
fn provider_codes_are_known_and_marked() {
    let cases = [
        ("4.7.28", "vendor: Gmail"),
        ("5.7.26", "vendor: Gmail"),
        ("4.2.1", "vendor: Gmail"),
        ("5.7.509", "vendor: Microsoft 365"),
        ("5.4.1", "vendor: Microsoft 365"),
        ("5.1.10", "vendor: Microsoft 365"),
        ("5.7.708", "vendor: Microsoft 365"),
        ("4.7.500", "vendor: Microsoft 365"),
        ("5.7.620", "vendor: Microsoft 365"),
    ];
    let want: Vec<String> = cases.iter().map(|(c, _)| (*c).to_owned()).collect();
    let got = explain_json(&want);
    assert_all_known(&want, &got);
    for ((code, source), v) in cases.iter().zip(&got) {
        assert!(str_of(v, "source").starts_with(source), "{code}: {v}");
    }
    // Non-standard basic codes in the wild, and the standard ones of RFC 7504.
    let basic: Vec<String> = ["521", "556", "420", "449", "471"]
        .iter()
        .map(|c| (*c).to_owned())
        .collect();
    assert_all_known(&basic, &explain_json(&basic));
}

#[test]
fn unknown_codes_get_what_the_digits_tell() {
    let got = explain_json(&["5.7.299".to_owned(), "429".to_owned()]);
    assert_eq!(got.len(), 2);
    for v in &got {
        assert_eq!(v["known"], serde_json::Value::Bool(false), "{v}");
        assert!(!str_of(v, "meaning").is_empty() && !str_of(v, "action").is_empty());
    }
    assert_eq!(str_of(&got[0], "subject"), "policy");
    assert!(str_of(&got[1], "meaning").starts_with("transient"));
    let o = run(&["explain", "5.7.299"]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("not in the table"));
}

#[test]
fn codes_are_found_in_a_whole_log_line() {
    let line = "Nov 23 02:12:58 mx postfix/smtp[10732]: 1CA9A98C: to=<u@example.net>, \
        relay=mx.example.net[192.0.2.1]:25, delay=0.3, delays=0.01/0.02/0.1/0.2, dsn=5.1.1, \
        status=bounced (host mx.example.net[192.0.2.1] said: 550 5.1.1 <u@example.net>: \
        Recipient address rejected: User unknown (in reply to RCPT TO command))";
    let o = run(&["explain", "--format", "json", line]);
    assert_eq!(o.status.code(), Some(0));
    let got: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).unwrap();
    let codes: Vec<&str> = got.iter().map(|v| str_of(v, "code")).collect();
    assert_eq!(codes, ["5.1.1", "550"]);
    // Text output: one block per code.
    let o = run(&["explain", "550 5.1.1"]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("550: basic code") && text.contains("5.1.1: enhanced code"));
    assert!(text.contains("what to do:"), "{text}");
}

#[test]
fn no_code_exits_2_saying_what_is_accepted() {
    for args in [vec!["explain", "hello world"], vec!["explain"]] {
        let o = run(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains("550") && err.contains("5.7.1") && err.contains("log line"),
            "{err}"
        );
    }
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn meaning(code: &str) -> String {
    codes::enhanced_meaning(EnhancedCode::parse(code.as_bytes()).unwrap()).into_owned()
}

#[test]
fn the_landing_page_shows_the_codes_seen_with_their_meanings() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("mail.log");
    std::fs::write(&log, "").unwrap();
    let e = Exporter::builder(dir.path())
        .log(&log)
        .state(dir.path().join("state.json"))
        .start()
        .unwrap_or_else(|e| panic!("{e}"));
    let (_, page) = e.get("/");
    assert!(page.contains("No replies counted yet"), "{page}");

    // Followed from the end on a first start: append once it is ready.
    let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    for (i, (dsn, status, reply)) in [
        (
            "5.1.1",
            "bounced",
            "550 5.1.1 <u@example.net>: Recipient address rejected: User unknown",
        ),
        (
            "4.7.28",
            "deferred",
            "421 4.7.28 unusual rate of unsolicited mail",
        ),
        (
            "5.7.509",
            "bounced",
            "550 5.7.509 Access denied, sending domain example.org does not pass DMARC",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        // Gmail's rate limit from Gmail's MX, for a domain hosted there: provider google.
        let host = if dsn == "4.7.28" {
            "aspmx.l.google.com[142.250.102.27]"
        } else {
            "mx.example.net[192.0.2.1]"
        };
        writeln!(
            f,
            "Nov 23 02:12:58 mx postfix/smtp[10732]: 1CA9A98C{i:03X}: to=<u{i}@example.net>, \
             relay={host}:25, delay=0.3, delays=0.01/0.02/0.1/0.2, dsn={dsn}, \
             status={status} (host {host} said: {reply} (in reply to RCPT TO command))"
        )
        .unwrap();
    }
    drop(f);

    let deadline = Instant::now() + Duration::from_secs(10);
    let page = loop {
        let (status, page) = e.get("/");
        assert_eq!(status, 200);
        if ["5.1.1", "4.7.28", "5.7.509"]
            .iter()
            .all(|c| page.contains(c))
        {
            break page;
        }
        assert!(Instant::now() < deadline, "codes never shown: {page}");
        std::thread::sleep(Duration::from_millis(50));
    };
    for code in ["5.1.1", "4.7.28", "5.7.509"] {
        let m = html_escape(&meaning(code));
        assert!(page.contains(&m), "{code}: {m} not in {page}");
    }
    assert!(page.contains("what to do"), "{page}");
    // Who refused, and at which step.
    assert!(
        page.contains(
            "<tr><td><a href=\"failures?direction=outbound&amp;provider=google\">google</a></td>\
             <td>0</td><td>1</td><td>0</td><td>100.0</td><td>0.0</td><td>4.7.28 (421): "
        ),
        "{page}"
    );
    assert!(
        page.contains(
            "<tr><td><a href=\"failures?direction=outbound&amp;provider=other\">other</a></td>\
             <td>0</td><td>0</td><td>2</td><td>0.0</td><td>100.0</td>"
        ),
        "{page}"
    );
    assert!(
        page.contains(
            "<tr><td>outbound</td><td>rcpt</td>\
             <td><a href=\"failures?direction=outbound&amp;stage=rcpt\">3</a></td></tr>"
        ),
        "{page}"
    );

    // smtp_code_info carries the same meanings.
    let (_, metrics) = e.get("/metrics");
    let info: Vec<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("smtp_code_info{"))
        .collect();
    for code in ["5.1.1", "4.7.28", "5.7.509"] {
        let m = meaning(code);
        assert!(
            info.iter()
                .any(|l| l.contains(&format!("code=\"{code}\"")) && l.contains(&m)),
            "{code}: {info:?}"
        );
    }
}
