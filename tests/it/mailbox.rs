//! The bounce-mailbox source without a mail server: `replay` of a Maildir holding every notice
//! fixture (tests/fixtures/dsn: real Postfix notices, Exchange/Microsoft 365/Gmail layouts)
//! with exact counts, and `serve` on a Maildir configured in the config file: the messages
//! there at a first start are not counted, new ones once each, also after a move to `cur/`
//! and a restart, and the state keeps only the names of messages still there; `serve` on an
//! mbox that a mail client rewrites.
//! (tests/mailbox_e2e.rs does the same on notices a real Postfix sends.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::harness;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use harness::exporter::{self, Exporter};
use harness::metrics::{self, Labels};
use harness::util::wait_for;

fn fixtures() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/dsn");
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    v.sort();
    v
}

fn maildir(root: &Path) -> PathBuf {
    let md = root.join("Maildir");
    for d in ["new", "cur", "tmp"] {
        fs::create_dir_all(md.join(d)).unwrap();
    }
    md
}

/// Delivers a message as a Maildir writer does: into `tmp/`, then renamed into `new/`.
fn deliver(md: &Path, unique: &str, bytes: &[u8]) {
    let tmp = md.join("tmp").join(unique);
    fs::write(&tmp, bytes).unwrap();
    fs::rename(&tmp, md.join("new").join(unique)).unwrap();
}

fn labels(source: &str, reply: (&str, &str, &str, &str, &str)) -> Labels {
    let (outcome, code, enhanced, domain, provider) = reply;
    let class = code
        .chars()
        .next()
        .or_else(|| enhanced.chars().next())
        .map(|d| format!("{d}xx"))
        .unwrap_or_default();
    let subject = match enhanced.split('.').nth(1) {
        Some("0") => "other",
        Some("1") => "addressing",
        Some("2") => "mailbox",
        Some("4") => "network",
        Some("7") => "policy",
        Some(s) => panic!("subject {s} not used here"),
        None => "",
    };
    metrics::labels(&[
        ("source", source),
        ("mta", "dsn"),
        ("direction", "outbound"),
        ("outcome", outcome),
        ("class", &class),
        ("code", code),
        ("enhanced", enhanced),
        ("subject", subject),
        ("domain", domain),
        ("provider", provider),
    ])
}

/// What the fixtures report, counted by hand from them (their `CASES` in src/parse/dsn.rs).
fn fixture_series(source: &str) -> BTreeMap<Labels, f64> {
    [
        ("bounced", "552", "5.2.2", "d2.test", "other", 1.0),
        ("bounced", "550", "5.1.1", "d1.test", "other", 1.0),
        ("deferred", "450", "4.2.0", "d1.test", "other", 1.0),
        ("bounced", "550", "5.0.0", "d1.test", "other", 1.0),
        ("bounced", "554", "5.7.1", "d2.test", "other", 1.0),
        ("bounced", "550", "5.1.1", "contoso.example", "other", 1.0),
        ("bounced", "530", "5.7.1", "fabrikam.example", "other", 1.0),
        // Microsoft 365: HTML only, "Reported error", and the one with its DSN part.
        ("bounced", "550", "5.1.10", "contoso.example", "other", 3.0),
        (
            "deferred",
            "451",
            "4.7.500",
            "fabrikam.example",
            "other",
            1.0,
        ),
        ("bounced", "550", "5.1.1", "example.org", "other", 1.0),
        ("bounced", "550", "5.1.1", "example.net", "other", 1.0),
        ("deferred", "452", "4.2.2", "example.com", "other", 1.0),
        ("bounced", "550", "", "example.com", "other", 1.0),
        ("delivered", "250", "2.0.0", "d2.test", "other", 1.0),
    ]
    .into_iter()
    .map(|(o, c, e, d, p, n)| (labels(source, (o, c, e, d, p)), n))
    .collect()
}

fn replay_json(md: &Path) -> serde_json::Value {
    let out = Command::new(exporter::binary())
        .args(["replay", "--format", "json", "--mailbox.path"])
        .arg(md)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn json_series(v: &serde_json::Value) -> BTreeMap<Labels, f64> {
    v["replies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let l: Labels = r["labels"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
                .collect();
            (l, r["value"].as_f64().unwrap())
        })
        .collect()
}

/// A report that says it is a delivery status notification but has no readable part.
const UNREADABLE: &[u8] = b"From: MAILER-DAEMON@mta.example\r\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\r\n\r\n\
--b\r\nContent-Type: text/plain\r\n\r\nSorry.\r\n--b--\r\n";

#[test]
fn replay_counts_every_fixture_once() {
    let dir = tempfile::tempdir().unwrap();
    let md = maildir(dir.path());
    let files = fixtures();
    assert_eq!(files.len(), 16, "{files:?}");
    for (i, f) in files.iter().enumerate() {
        deliver(
            &md,
            &format!("1795400000.M{i}P1.fixture"),
            &fs::read(f).unwrap(),
        );
    }
    // The same message in new/ and, read by a mail client, in cur/: one message.
    fs::copy(
        md.join("new/1795400000.M0P1.fixture"),
        md.join("cur/1795400000.M0P1.fixture:2,S"),
    )
    .unwrap();
    deliver(&md, "1795400001.M99P1.fixture", UNREADABLE);
    // Not messages: dot files, and tmp/ (being written).
    fs::write(md.join("cur/.dovecot.index"), b"x").unwrap();
    fs::write(md.join("tmp/1795400002.M1P1.fixture"), b"half a mess").unwrap();

    let v = replay_json(&md);
    let want = fixture_series("dsn");
    assert_eq!(json_series(&v), want);
    // The expiry notice (postfix-expired.eml): an expiry, not a reply.
    let expired: Vec<_> = (v["expired"].as_array().unwrap().iter())
        .map(|s| (s["labels"]["source"].clone(), s["value"].clone()))
        .collect();
    assert_eq!(expired, vec![("dsn".into(), 1.into())]);
    assert_eq!(v["lines"]["counted"], 15);
    assert_eq!(v["lines"]["ignored"], 1);
    assert_eq!(v["lines"]["unrecognised"], 1);
}

fn lines(text: &str, source: &str) -> f64 {
    let s = metrics::series(
        &metrics::parse_exposition(text).unwrap(),
        "smtp_status_exporter_lines_total",
    );
    s.iter()
        .filter(|(l, _)| l["source"] == source)
        .map(|(_, v)| v)
        .sum()
}

fn replies(text: &str, source: &str) -> BTreeMap<Labels, f64> {
    metrics::series(
        &metrics::parse_exposition(text).unwrap(),
        "smtp_replies_total",
    )
    .into_iter()
    .filter(|(l, _)| l["source"] == source)
    .collect()
}

fn wait_lines(exp: &Exporter, n: f64) -> String {
    wait_for(Duration::from_secs(30), Duration::from_millis(100), || {
        let t = exp.scrape().ok()?;
        (lines(&t, "bounces") == n).then_some(t)
    })
    .unwrap_or_else(|| panic!("not {n} messages read; stderr:\n{}", exp.stderr_tail(20)))
}

fn saved_names(state: &Path) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_slice(&fs::read(state).unwrap()).unwrap();
    let src = v["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "bounces")
        .unwrap();
    src["messages"]
        .as_array()
        .map(|a| a.iter().map(|n| n.as_str().unwrap().to_owned()).collect())
        .unwrap_or_default()
}

#[test]
fn serve_counts_new_messages_once_across_moves_and_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let md = maildir(dir.path());
    let fx = |name: &str| {
        fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/dsn")
                .join(name),
        )
        .unwrap()
    };
    // There before the first start: remembered, not counted.
    deliver(&md, "1795400000.M1P1.old", &fx("postfix-expired.eml"));
    let config = dir.path().join("config.yaml");
    fs::write(
        &config,
        format!(
            "mailboxes:\n  - name: bounces\n    path: {}\n",
            md.display()
        ),
    )
    .unwrap();
    let state = dir.path().join("state.json");
    let stderr = dir.path().join("exporter.stderr");
    let flags = ["--config.file", config.to_str().unwrap()];
    let mut exp = Exporter::start_any_port(&[], &state, &stderr, &flags).unwrap();
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(lines(&exp.scrape().unwrap(), "bounces"), 0.0);

    deliver(
        &md,
        "1795400010.M1P1.new",
        &fx("postfix-two-recipients.eml"),
    );
    deliver(
        &md,
        "1795400011.M1P1.new",
        &fx("gmail-delivery-incomplete.eml"),
    );
    let text = wait_lines(&exp, 2.0);
    let want: BTreeMap<Labels, f64> = [
        labels("bounces", ("bounced", "552", "5.2.2", "d2.test", "other")),
        labels("bounces", ("bounced", "550", "5.1.1", "d1.test", "other")),
        labels(
            "bounces",
            ("deferred", "452", "4.2.2", "example.com", "other"),
        ),
    ]
    .into_iter()
    .map(|l| (l, 1.0))
    .collect();
    assert_eq!(replies(&text, "bounces"), want);

    // Read by a mail client: moved to cur/ with flags; the old one deleted.
    fs::rename(
        md.join("new/1795400010.M1P1.new"),
        md.join("cur/1795400010.M1P1.new:2,S"),
    )
    .unwrap();
    fs::remove_file(md.join("new/1795400000.M1P1.old")).unwrap();
    exp.terminate().unwrap();

    // While down: one more, and the renamed one renamed again (flags changed).
    deliver(&md, "1795400020.M1P1.new", &fx("exchange-delayed.eml"));
    fs::rename(
        md.join("cur/1795400010.M1P1.new:2,S"),
        md.join("cur/1795400010.M1P1.new:2,RS"),
    )
    .unwrap();
    let exp = Exporter::start_any_port(&[], &state, &stderr, &flags).unwrap();
    let text = wait_lines(&exp, 3.0);
    let mut want = want;
    want.insert(
        labels(
            "bounces",
            ("deferred", "451", "4.7.500", "fabrikam.example", "other"),
        ),
        1.0,
    );
    // Polls go by: nothing is counted again.
    std::thread::sleep(Duration::from_secs(4));
    let text2 = exp.scrape().unwrap();
    assert_eq!(replies(&text, "bounces"), want);
    assert_eq!(replies(&text2, "bounces"), want);
    assert_eq!(lines(&text2, "bounces"), 3.0);
    // The deleted message's name is forgotten (after three listings without it).
    let names = wait_for(Duration::from_secs(20), Duration::from_millis(200), || {
        let _ = exp.scrape();
        let n = saved_names(&state);
        (n.len() == 3).then_some(n)
    })
    .unwrap_or_else(|| panic!("saved names: {:?}", saved_names(&state)));
    assert_eq!(
        names,
        vec![
            "1795400010.M1P1.new",
            "1795400011.M1P1.new",
            "1795400020.M1P1.new"
        ]
    );
}

#[test]
fn check_config_reads_mailboxes() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.yaml");
    fs::write(
        &config,
        "mailboxes:\n  - path: /var/mail/bounces\n  - path: /srv/Maildir\n    name: ndr\n",
    )
    .unwrap();
    let out = Command::new(exporter::binary())
        .args(["check-config", "--config.file"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("OK (0 source(s), 2 mailbox(es)"), "{said}");
    fs::write(
        &config,
        "mailboxes:\n  - path: /a\n    name: x\n  - path: /b\n    name: x\n",
    )
    .unwrap();
    let out = Command::new(exporter::binary())
        .args(["check-config", "--config.file"])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("mailboxes[1]: the source name \"x\" is used twice"),
        "{err}"
    );
}

/// One mbox entry: the `From ` line, the message (`From ` lines in it quoted), an empty line;
/// `status` adds the `Status:` header a mail client writes when it rewrites the mbox.
fn mbox_entry(message: &[u8], status: bool) -> Vec<u8> {
    let mut out = b"From MAILER-DAEMON  Mon Nov 23 04:00:00 2026\n".to_vec();
    if status {
        out.extend_from_slice(b"Status: RO\n");
    }
    for line in message.split_inclusive(|&c| c == b'\n') {
        if line.starts_with(b"From ") {
            out.push(b'>');
        }
        out.extend_from_slice(line);
    }
    out.extend_from_slice(b"\n");
    out
}

fn append(path: &Path, bytes: &[u8]) {
    let mut f = fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .unwrap();
    std::io::Write::write_all(&mut f, bytes).unwrap();
}

#[test]
fn serve_mbox_counts_once_across_a_rewrite_by_a_mail_client_and_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let fx = |name: &str| {
        fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/dsn")
                .join(name),
        )
        .unwrap()
    };
    let m: Vec<Vec<u8>> = [
        "postfix-expired.eml",
        "postfix-two-recipients.eml",
        "postfix-delay-warning.eml",
        "postfix-refused-after-data.eml",
        "postfix-basic-code-only.eml",
    ]
    .iter()
    .map(|n| fx(n))
    .collect();
    let mbox = dir.path().join("bounces");
    // There at the first start: remembered, not counted.
    append(
        &mbox,
        &[mbox_entry(&m[0], false), mbox_entry(&m[1], false)].concat(),
    );
    let state = dir.path().join("state.json");
    let stderr = dir.path().join("exporter.stderr");
    let flags = ["--mailbox.path", mbox.to_str().unwrap()];
    let mut exp = Exporter::start_any_port(&[], &state, &stderr, &flags).unwrap();
    let wait = |exp: &Exporter, n: f64| {
        wait_for(Duration::from_secs(30), Duration::from_millis(100), || {
            let t = exp.scrape().ok()?;
            (lines(&t, "dsn") == n).then_some(t)
        })
        .unwrap_or_else(|| panic!("not {n} messages; stderr:\n{}", exp.stderr_tail(20)))
    };
    append(&mbox, &mbox_entry(&m[2], false));
    let text = wait(&exp, 1.0);
    let delay = labels("dsn", ("deferred", "450", "4.2.0", "d1.test", "other"));
    assert_eq!(
        replies(&text, "dsn"),
        BTreeMap::from([(delay.clone(), 1.0)])
    );

    // A mail client deletes the first message and marks the others read, writing a new file
    // renamed over the old one; a new notice is delivered into it.
    let rewritten = dir.path().join("bounces.tmp");
    fs::write(
        &rewritten,
        [
            mbox_entry(&m[1], true),
            mbox_entry(&m[2], true),
            mbox_entry(&m[3], false),
        ]
        .concat(),
    )
    .unwrap();
    fs::rename(&rewritten, &mbox).unwrap();
    let text = wait(&exp, 2.0);
    let data = labels("dsn", ("bounced", "554", "5.7.1", "d2.test", "other"));
    let want = BTreeMap::from([(delay.clone(), 1.0), (data.clone(), 1.0)]);
    assert_eq!(replies(&text, "dsn"), want);
    std::thread::sleep(Duration::from_secs(3));
    let text = exp.scrape().unwrap();
    assert_eq!(replies(&text, "dsn"), want);
    // Keys kept: the three messages in the file, not the deleted one.
    let v: serde_json::Value = serde_json::from_slice(&fs::read(&state).unwrap()).unwrap();
    assert_eq!(
        v["sources"][0]["messages"].as_array().unwrap().len(),
        3,
        "{v}"
    );

    exp.terminate().unwrap();
    append(&mbox, &mbox_entry(&m[4], false));
    let exp = Exporter::start_any_port(&[], &state, &stderr, &flags).unwrap();
    let text = wait(&exp, 3.0);
    std::thread::sleep(Duration::from_secs(3));
    let text2 = exp.scrape().unwrap();
    let mut want = want;
    want.insert(
        labels("dsn", ("bounced", "550", "5.0.0", "d1.test", "other")),
        1.0,
    );
    assert_eq!(replies(&text, "dsn"), want);
    assert_eq!(replies(&text2, "dsn"), want);
}
