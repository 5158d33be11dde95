//! The bounce mailbox, end to end, on REAL delivery status notifications: a private Postfix
//! (Debian's package) relays to the scripted sink, which refuses recipients (550 5.1.1,
//! 552 5.2.2, 554 5.7.1, a bare 550, multi-line replies) or defers them (450 4.2.0: a delay
//! warning, counted as a deferral, then an expiry forced with `postsuper -e`, counted in
//! `smtp_expired_total`), and accepts one submitted with
//! `sendmail -N success` (a success notice, `Action: relayed`). Postfix returns its notices to the
//! sender's domain, which its `virtual` agent delivers into a Maildir. The exporter reads that
//! Maildir (`--mailbox.path`), and every `smtp_replies_total{mta="dsn"}` series must equal what
//! the sink answered; across a restart with the same state file, and with messages moved from
//! `new/` to `cur/` as a mail client would, nothing is counted twice. The same notices, put in
//! an mbox, are counted the same by `replay` and by `serve` across a restart.
//!
//! Run with `sudo scripts/test` (installs Postfix, then runs the ignored tests).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::harness;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use harness::client::SmtpClient;
use harness::expect::{class_of, subject_of};
use harness::exporter::{self, Exporter};
use harness::metrics::{self, Labels};
use harness::postfix::{self, PostfixConfig, PostfixInstance};
use harness::sink::{Script, Sink};
use harness::util::{self, wait_for, TestDir};

const D1: (&str, Ipv4Addr) = ("d1.test", Ipv4Addr::new(127, 0, 0, 2));
const D2: (&str, Ipv4Addr) = ("d2.test", Ipv4Addr::new(127, 0, 0, 3));
/// The senders' domain: Postfix's `virtual` agent delivers it into the bounce Maildir.
const BOUNCE_DOMAIN: &str = "bounces.test";
const SENDER: &str = "sender@bounces.test";

/// One test message: its recipients' scripts (local part → domain).
struct Msg {
    id: String,
    rcpts: Vec<(Script, &'static str)>,
}

fn batch(tag: &str) -> Vec<Msg> {
    let d1 = D1.0;
    let d2 = D2.0;
    let m = |n: usize, rcpts: Vec<(Script, &'static str)>| Msg {
        id: format!("{tag}m{n}"),
        rcpts,
    };
    vec![
        m(1, vec![(Script::rcpt(550, Some("5.1.1")), d1)]),
        // Two refused recipients of one message: one notice, two per-recipient blocks.
        m(
            2,
            vec![
                (Script::rcpt(552, Some("5.2.2")), d2),
                (Script::rcpt(550, Some("5.1.1")).multiline(), d1),
            ],
        ),
        // Deferred: a delay warning, then the expiry notice.
        m(3, vec![(Script::rcpt(450, Some("4.2.0")), d1)]),
        // One delivered (no notice for it), one refused.
        m(
            4,
            vec![
                (Script::accept(), d2),
                (Script::rcpt(554, Some("5.7.1")), d2),
            ],
        ),
        // A basic code only: the notice's Status is 5.0.0.
        m(5, vec![(Script::rcpt(550, None), d1)]),
        // Accepted at RCPT, refused at the end of DATA.
        m(6, vec![(Script::accept().data(554, Some("5.7.1")), d2)]),
        m(7, vec![(Script::rcpt(452, Some("4.2.2")), d2)]),
    ]
}

fn addr(msg: &Msg, i: usize) -> String {
    let (script, domain) = &msg.rcpts[i];
    format!("{}@{domain}", script.local_part(&format!("{}r{i}", msg.id)))
}

fn dsn_labels(source: &str, outcome: &str, code: &str, enhanced: &str, domain: &str) -> Labels {
    metrics::labels(&[
        ("source", source),
        ("mta", "dsn"),
        ("direction", "outbound"),
        ("outcome", outcome),
        ("class", &class_of(code, enhanced)),
        ("code", code),
        ("enhanced", enhanced),
        ("subject", subject_of(enhanced)),
        ("domain", domain),
        // The sinks are loopback addresses (`Remote-MTA: dns; 127.0.0.2`): hops that name no
        // provider, and the `.test` domains are none of the table's.
        ("provider", "other"),
    ])
}

/// The expiries of `source` (`smtp_expired_total`), kept beside its reply series under a key
/// of their own.
fn expiry_key(source: &str) -> Labels {
    metrics::labels(&[("expired", "smtp_expired_total"), ("source", source)])
}

/// What the notices must report, from what the sink answered each recipient: a refusal is one
/// `failed` block; a deferral one `delayed` block (the warning: a deferral with the reply the
/// sink gave) and one `failed` block with a temporary status (the expiry: one in
/// `smtp_expired_total`, no reply); an accepted recipient that asked for a success notice
/// (`notify`) one `relayed` block. Postfix states `X.0.0` where the reply had no enhanced
/// code.
fn expected(
    sink: &Sink,
    source: &str,
    senders: &BTreeSet<String>,
    notify: &BTreeSet<String>,
) -> BTreeMap<Labels, f64> {
    let mut by_rcpt: BTreeMap<String, (u16, Option<String>)> = BTreeMap::new();
    for r in sink.records() {
        if senders.contains(&r.sender) {
            by_rcpt.insert(r.recipient.clone(), (r.code, r.enhanced.clone()));
        }
    }
    let mut want = BTreeMap::new();
    for (rcpt, (code, enhanced)) in by_rcpt {
        let domain = rcpt.rsplit_once('@').unwrap().1.to_ascii_lowercase();
        let enhanced = enhanced.unwrap_or_else(|| format!("{}.0.0", code / 100));
        let c = code.to_string();
        let mut add = |outcome: &str| {
            *want
                .entry(dsn_labels(source, outcome, &c, &enhanced, &domain))
                .or_insert(0.0) += 1.0;
        };
        match code / 100 {
            5 => add("bounced"),
            4 => {
                add("deferred");
                *want.entry(expiry_key(source)).or_insert(0.0) += 1.0;
            }
            2 if notify.contains(&rcpt) => add("delivered"),
            _ => {}
        }
    }
    want
}

fn dsn_series(text: &str, source: &str) -> BTreeMap<Labels, f64> {
    let samples = metrics::parse_exposition(text).unwrap();
    let ours = |l: &Labels| l.get("source").map(String::as_str) == Some(source);
    let mut out: BTreeMap<Labels, f64> = metrics::series(&samples, "smtp_replies_total")
        .into_iter()
        .filter(|(l, _)| ours(l))
        .collect();
    let expired: f64 = metrics::series(&samples, "smtp_expired_total")
        .into_iter()
        .filter(|(l, _)| ours(l))
        .map(|(_, v)| v)
        .sum();
    if expired > 0.0 {
        out.insert(expiry_key(source), expired);
    }
    out
}

fn lines_of(text: &str, source: &str) -> (f64, f64, f64) {
    let samples = metrics::parse_exposition(text).unwrap();
    let s = metrics::series(&samples, "smtp_status_exporter_lines_total");
    let get = |result: &str| {
        s.get(&metrics::labels(&[("result", result), ("source", source)]))
            .copied()
            .unwrap_or(0.0)
    };
    (get("counted"), get("ignored"), get("unrecognised"))
}

fn send(pf: &PostfixInstance, msgs: &[Msg]) {
    let mut c = SmtpClient::connect(pf.submission, None).unwrap();
    c.ehlo("client.e2e.test").unwrap();
    for m in msgs {
        let rcpts: Vec<String> = (0..m.rcpts.len()).map(|i| addr(m, i)).collect();
        let sub = c
            .send(
                SENDER,
                &rcpts,
                &[
                    ("From", format!("<{SENDER}>")),
                    ("To", "undisclosed-recipients:;".into()),
                    ("Subject", format!("bounce test {}", m.id)),
                    ("Message-ID", format!("<{}@client.e2e.test>", m.id)),
                ],
                "Hello from the bounce-mailbox test.\n",
            )
            .unwrap();
        assert!(sub.queued(), "{}: {sub:?}", m.id);
    }
    let _ = c.quit();
}

/// Sends one plain message (not a notice) to the bounce mailbox: it must be `ignored`.
fn send_plain(pf: &PostfixInstance, id: &str) {
    let mut c = SmtpClient::connect(pf.submission, None).unwrap();
    c.ehlo("client.e2e.test").unwrap();
    let sub = c
        .send(
            "someone@client.e2e.test",
            &[format!("postmaster@{BOUNCE_DOMAIN}")],
            &[
                ("From", "<someone@client.e2e.test>".into()),
                ("Subject", format!("not a bounce {id}")),
            ],
            "Just a message.\n",
        )
        .unwrap();
    assert!(sub.queued(), "{sub:?}");
    let _ = c.quit();
}

/// Submits a message with Postfix's own `sendmail -N success`, so that the delivery to an
/// accepting recipient is reported back too (`Action: relayed`: the sink offers no DSN).
/// Returns the recipient.
fn send_notify_success(pf: &PostfixInstance, tag: &str) -> String {
    let rcpt = format!(
        "{}@{}",
        Script::accept().local_part(&format!("{tag}m8r0")),
        D2.0
    );
    let mut child = Command::new(util::require_tool("sendmail"))
        .env("MAIL_CONFIG", pf.config_dir())
        .args(["-N", "success", "-f", SENDER, &rcpt])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let msg = format!(
        "From: <{SENDER}>\nTo: <{rcpt}>\nSubject: bounce test {tag}m8\n\nTell me when it is delivered.\n"
    );
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), msg.as_bytes()).unwrap();
    drop(child.stdin.take());
    assert!(child.wait().unwrap().success(), "postfix sendmail failed");
    rcpt
}

fn count_in_log(pf: &PostfixInstance, needle: &str) -> usize {
    pf.maillog().lines().filter(|l| l.contains(needle)).count()
}

/// Queue ids of the test's messages still queued (`postqueue -j`).
fn queued_from_sender(pf: &PostfixInstance) -> Vec<String> {
    let out = Command::new(util::require_tool("postqueue"))
        .arg("-c")
        .arg(pf.config_dir())
        .arg("-j")
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["sender"] == SENDER)
        .filter_map(|v| v["queue_id"].as_str().map(str::to_owned))
        .collect()
}

/// Sends `msgs`, waits for the delay warnings of the deferred ones, expires those with
/// `postsuper -e`, and waits until every notice has been delivered into the Maildir.
fn run_batch(pf: &PostfixInstance, msgs: &[Msg], deferred_msgs: usize, tag: &str) -> String {
    let warned_before = count_in_log(pf, "sender delay notification");
    send(pf, msgs);
    let notify = send_notify_success(pf, tag);
    // Each deferred message gets one delay warning (delay_warning_time = 1s), then stays queued.
    let warned = wait_for(Duration::from_secs(120), Duration::from_millis(200), || {
        let warned = count_in_log(pf, "sender delay notification") - warned_before;
        let left = queued_from_sender(pf);
        (warned == deferred_msgs && left.len() == deferred_msgs).then_some(left)
    });
    let left = warned.unwrap_or_else(|| {
        panic!(
            "expected {deferred_msgs} delay warnings and as many messages left in the queue; \
             maillog tail:\n{}",
            pf.maillog_tail(40)
        )
    });
    for id in &left {
        let (ok, out) = util::run(
            Command::new(util::require_tool("postsuper"))
                .arg("-c")
                .arg(pf.config_dir())
                .args(["-e", id]),
        );
        assert!(ok, "postsuper -e {id}: {out}");
    }
    let (ok, out) = util::run(
        Command::new(util::require_tool("postqueue"))
            .arg("-c")
            .arg(pf.config_dir())
            .arg("-f"),
    );
    assert!(ok, "postqueue -f: {out}");
    pf.wait_queue_empty(Duration::from_secs(120)).unwrap();
    notify
}

fn maildir_files(maildir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = ["new", "cur"]
        .iter()
        .flat_map(|d| fs::read_dir(maildir.join(d)).unwrap())
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

/// Moves every message from `new/` to `cur/` with the seen flag, as a mail client does.
fn mark_all_seen(maildir: &Path) {
    for e in fs::read_dir(maildir.join("new")).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().into_string().unwrap();
        fs::rename(e.path(), maildir.join("cur").join(format!("{name}:2,S"))).unwrap();
    }
}

/// Waits until the exporter has read `messages` messages of `source`; returns the scrape.
fn wait_read(exp: &Exporter, source: &str, messages: usize) -> String {
    let got = wait_for(Duration::from_secs(60), Duration::from_millis(200), || {
        let text = exp.scrape().ok()?;
        let (c, i, u) = lines_of(&text, source);
        ((c + i + u) as usize == messages).then_some(text)
    });
    got.unwrap_or_else(|| {
        panic!(
            "the exporter did not read {messages} messages of {source} within 60 s; last scrape \
             lines: {:?}; stderr:\n{}",
            exp.scrape().map(|t| lines_of(&t, source)),
            exp.stderr_tail(30)
        )
    })
}

fn assert_series(got: &BTreeMap<Labels, f64>, want: &BTreeMap<Labels, f64>, what: &str) {
    if got != want {
        let show = |m: &BTreeMap<Labels, f64>| {
            m.iter()
                .map(|(l, v)| format!("{v} {l:?}"))
                .collect::<Vec<_>>()
                .join("\n")
        };
        panic!(
            "{what}: smtp_replies_total (and smtp_expired_total) differ\n--- counted:\n{}\n--- expected:\n{}",
            show(got),
            show(want)
        );
    }
}

/// An mbox of the given messages, `From ` lines quoted in bodies as mboxrd writers do.
fn write_mbox(path: &Path, files: &[PathBuf], append: bool) {
    let mut out = Vec::new();
    for f in files {
        out.extend_from_slice(b"From MAILER-DAEMON Mon Nov 23 04:00:00 2026\n");
        for line in fs::read(f).unwrap().split_inclusive(|&c| c == b'\n') {
            if line.starts_with(b"From ") || line.starts_with(b">From ") {
                out.push(b'>');
            }
            out.extend_from_slice(line);
        }
        out.extend_from_slice(b"\n");
    }
    let mut file = fs::OpenOptions::new()
        .create(true)
        .append(append)
        .write(true)
        .truncate(!append)
        .open(path)
        .unwrap();
    std::io::Write::write_all(&mut file, &out).unwrap();
}

fn replay_mailbox(path: &Path) -> serde_json::Value {
    let out = Command::new(exporter::binary())
        .args(["replay", "--format", "json", "--mailbox.path"])
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "replay --mailbox.path {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn replay_series(v: &serde_json::Value) -> BTreeMap<Labels, f64> {
    let mut out: BTreeMap<Labels, f64> = v["replies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let labels: Labels = r["labels"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
                .collect();
            (labels, r["value"].as_f64().unwrap())
        })
        .collect();
    for e in v["expired"].as_array().unwrap() {
        let n = e["value"].as_f64().unwrap();
        if n > 0.0 {
            let source = e["labels"]["source"].as_str().unwrap();
            *out.entry(expiry_key(source)).or_insert(0.0) += n;
        }
    }
    out
}

#[test]
#[ignore = "needs root and Postfix: run by scripts/test"]
fn real_postfix_bounces_counted_once_from_maildir_and_mbox() {
    let _heavy = harness::heavy();
    util::require_root();
    let dir = TestDir::new("sse-mailbox-");
    let sink = Sink::start(&[D1.1, D2.1]).unwrap();
    let maildir = dir.path().join("vmail").join("bounces");
    let pf_dir = dir.subdir("postfix");
    let mut main_cf = postfix::virtual_maildir(BOUNCE_DOMAIN, &maildir).unwrap();
    main_cf.extend(
        [
            // Deferred mail stays queued (the harness default expires it at once) and gets
            // one delay warning; the test expires it with postsuper -e.
            ("maximal_queue_lifetime", "1d"),
            ("delay_warning_time", "1s"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned())),
    );
    let cfg = PostfixConfig {
        transports: [D1, D2]
            .iter()
            .map(|(d, ip)| ((*d).to_owned(), format!("smtp:{}", sink.nexthop(*ip))))
            .collect(),
        main_cf,
        ..PostfixConfig::default()
    };
    let pf = PostfixInstance::start(&pf_dir, &cfg).unwrap();

    let state = dir.path().join("state.json");
    let stderr = dir.path().join("exporter.stderr");
    let mailbox_flag = ["--mailbox.path", maildir.to_str().unwrap()];
    let mut exp = Exporter::start_any_port(&[], &state, &stderr, &mailbox_flag).unwrap();
    let senders = BTreeSet::from([SENDER.to_owned()]);

    // Batch 1, read live.
    let b1 = batch("a");
    let mut notify = BTreeSet::from([run_batch(&pf, &b1, 2, "a")]);
    send_plain(&pf, "a");
    pf.wait_queue_empty(Duration::from_secs(120)).unwrap();
    let files = maildir_files(&maildir);
    assert_eq!(count_in_log(&pf, "delivered to maildir"), files.len());
    let text = wait_read(&exp, "dsn", files.len());
    let want1 = expected(&sink, "dsn", &senders, &notify);
    assert_series(&dsn_series(&text, "dsn"), &want1, "batch 1, live");
    assert_eq!(lines_of(&text, "dsn"), ((files.len() - 1) as f64, 1.0, 0.0));
    metrics::promtool_check(&text).unwrap();

    // A mail client reads them (new/ → cur/, flag S): still counted once.
    mark_all_seen(&maildir);
    std::thread::sleep(Duration::from_secs(3));
    let text = exp.scrape().unwrap();
    assert_series(&dsn_series(&text, "dsn"), &want1, "after new/ → cur/");

    // Down while batch 2 bounces; the restart counts batch 2 once and batch 1 not again.
    exp.terminate().unwrap();
    let b2 = batch("b");
    notify.insert(run_batch(&pf, &b2, 2, "b"));
    let files = maildir_files(&maildir);
    let mut exp = Exporter::start_any_port(&[], &state, &stderr, &mailbox_flag).unwrap();
    let text = wait_read(&exp, "dsn", files.len());
    let want2 = expected(&sink, "dsn", &senders, &notify);
    assert_ne!(want1, want2);
    assert_series(
        &dsn_series(&text, "dsn"),
        &want2,
        "batch 2, after a restart",
    );
    // A crash right after a scrape (state is saved before each answer) loses nothing either.
    exp.kill_hard();
    mark_all_seen(&maildir);
    let exp = Exporter::start_any_port(&[], &state, &stderr, &mailbox_flag).unwrap();
    std::thread::sleep(Duration::from_secs(3));
    let text = wait_read(&exp, "dsn", files.len());
    assert_series(&dsn_series(&text, "dsn"), &want2, "after a crash");
    drop(exp);
    let files = maildir_files(&maildir);

    // replay counts the Maildir, and an mbox of the same notices, the same.
    let replayed = replay_mailbox(&maildir);
    assert_series(&replay_series(&replayed), &want2, "replay of the Maildir");
    let mbox = dir.path().join("bounces.mbox");
    write_mbox(&mbox, &files, false);
    let replayed = replay_mailbox(&mbox);
    assert_series(&replay_series(&replayed), &want2, "replay of the mbox");
    assert_eq!(replayed["lines"]["ignored"], 1);

    // serve on an mbox: half of it live, the rest while down, then a restart.
    let (first, second) = files.split_at(files.len() / 2);
    write_mbox(&mbox, &[], false);
    let mbox_state = dir.path().join("mbox-state.json");
    let mbox_flag = ["--mailbox.path", mbox.to_str().unwrap()];
    let mut exp = Exporter::start_any_port(&[], &mbox_state, &stderr, &mbox_flag).unwrap();
    write_mbox(&mbox, first, true);
    wait_read(&exp, "dsn", first.len());
    exp.terminate().unwrap();
    write_mbox(&mbox, second, true);
    let exp = Exporter::start_any_port(&[], &mbox_state, &stderr, &mbox_flag).unwrap();
    let text = wait_read(&exp, "dsn", files.len());
    assert_series(
        &dsn_series(&text, "dsn"),
        &want2,
        "serve on an mbox across a restart",
    );
}
