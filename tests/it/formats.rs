//! The structured and user-defined formats end to end: `replay` of generated files of thousands
//! of records per format (counts known by construction, not by the parser), the example
//! configurations and their fixtures, `check-config` on user-defined formats, and a live
//! PowerMTA file routed by virtual MTA and read from its end after its header.

// A test crate: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use smtp_status_exporter::aggregate::SourceId;
use smtp_status_exporter::aggregate::{Aggregator, Bounds, Counters};
use smtp_status_exporter::config;
use smtp_status_exporter::parse::{Format, Parser};
use smtp_status_exporter::source::replay::replay_file;
use smtp_status_exporter::source::tail::{Resume, Tailer};
use smtp_status_exporter::source::Routes;

use crate::harness::exporter::binary;
use crate::harness::series;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn run(args: &[&str]) -> Output {
    Command::new(binary()).args(args).output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// What a run must count: reply series `direction outcome code enhanced domain` → count,
/// expiry records, and lines by result.
#[derive(Debug, Default, PartialEq)]
struct Counts {
    replies: BTreeMap<String, u64>,
    expired: u64,
    lines: [u64; 3],
}

impl Counts {
    fn reply(&mut self, direction: &str, outcome: &str, code: &str, enh: &str, domain: &str) {
        *self
            .replies
            .entry(format!("{direction} {outcome} {code} {enh} {domain}"))
            .or_default() += 1;
    }
}

/// `replay --format json` of `file`, as counts.
fn replay_json(args: &[&str], file: &Path) -> Counts {
    let mut all = vec!["replay", "--format", "json"];
    all.extend_from_slice(args);
    all.push(file.to_str().unwrap());
    let o = run(&all);
    assert_eq!(o.status.code(), Some(0), "{all:?}: {}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let mut c = Counts::default();
    for r in v["replies"].as_array().unwrap() {
        let l = &r["labels"];
        let key = ["direction", "outcome", "code", "enhanced", "domain"]
            .map(|k| l[k].as_str().unwrap().to_owned())
            .join(" ");
        *c.replies.entry(key).or_default() += r["value"].as_u64().unwrap();
    }
    c.expired = v["expired"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["value"].as_u64().unwrap())
        .sum();
    for (i, k) in ["counted", "ignored", "unrecognised"].iter().enumerate() {
        c.lines[i] = v["lines"][k].as_u64().unwrap();
    }
    c
}

/// A small deterministic generator (no dependency, same file on every run).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
    fn pick<'a, T>(&mut self, of: &'a [T]) -> &'a T {
        &of[(self.next() as usize) % of.len()]
    }
}

const DOMAINS: [&str; 6] = [
    "gmail.com",
    "yahoo.com",
    "example.net",
    "corp.example",
    "mx.example.org",
    "outlook.com",
];

/// `(code, enhanced, text)` replies the generators draw from.
const OK: [(&str, &str, &str); 2] = [
    ("250", "2.0.0", "OK 1710148467 a1si123 - gsmtp"),
    ("250", "2.1.5", "Recipient OK"),
];
const TEMP: [(&str, &str, &str); 3] = [
    (
        "421",
        "4.7.0",
        "[TSS04] Messages temporarily deferred, see https://postmaster.example",
    ),
    ("451", "4.4.0", "DNS query failed"),
    ("452", "4.2.2", "Mailbox full; try again later"),
];
const PERM: [(&str, &str, &str); 3] = [
    ("550", "5.1.1", "User unknown, \"really\""),
    ("554", "5.7.1", "Message rejected: spam"),
    ("552", "5.2.2", "Mailbox full"),
];

const RECORDS: usize = 5000;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// CSV field as RFC 4180 writes it: quoted when it holds a comma, quote or line break.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

fn powermta_file(rng: &mut Rng) -> (String, Counts) {
    // Another column order than PowerMTA's default and an extra column nobody reads.
    let header = [
        "type",
        "timeLogged",
        "orig",
        "rcpt",
        "dsnAction",
        "dsnStatus",
        "dsnDiag",
        "dsnMta",
        "bounceCat",
        "dlvEsmtpAvailable",
        "vmta",
        "x-custom",
    ];
    let mut out = header.join(",") + "\n";
    let mut c = Counts::default();
    c.lines[1] += 1;
    for i in 0..RECORDS {
        let domain = rng.pick(&DOMAINS);
        let rcpt = format!("user{i}@{}", domain.to_uppercase());
        let kind = rng.next() % 10;
        let (t, action, (code, enh, text), cat) = match kind {
            0..=3 => ("d", "relayed", *rng.pick(&OK), ""),
            4 | 5 => ("t", "delayed", *rng.pick(&TEMP), ""),
            6 => ("b", "failed", *rng.pick(&PERM), "bad-mailbox"),
            7 => ("b", "failed", TEMP[1], "message-expired"),
            8 => ("r", "", ("", "", ""), ""),
            _ => ("rb", "failed", PERM[0], "bad-mailbox"),
        };
        let status = if enh.is_empty() {
            String::new()
        } else {
            format!("{enh} (status text, with a comma)")
        };
        let diag = if code.is_empty() {
            String::new()
        } else {
            format!("smtp;{code} {enh} {text}")
        };
        let row = [
            t.to_owned(),
            format!("2024-03-11 09:{:02}:{:02}+0000", (i / 60) % 60, i % 60),
            "bounces@news.example.com".to_owned(),
            rcpt,
            action.to_owned(),
            status,
            diag,
            format!("mx.{domain} (192.0.2.1)"),
            cat.to_owned(),
            "PIPELINING,SIZE,8BITMIME".to_owned(),
            format!("vmta-{}", i % 3),
            "x".to_owned(),
        ];
        let row: Vec<String> = row.iter().map(|f| csv_field(f)).collect();
        out += &row.join(",");
        out.push('\n');
        match (t, cat) {
            ("b", "message-expired") => {
                c.expired += 1;
                c.lines[0] += 1;
            }
            ("d" | "t" | "b", _) => {
                let outcome = match t {
                    "d" => "delivered",
                    "t" => "deferred",
                    _ => "bounced",
                };
                c.reply("outbound", outcome, code, enh, domain);
                c.lines[0] += 1;
            }
            _ => c.lines[1] += 1,
        }
        // Now and then a bad row: cut, or with an unterminated quote.
        if i % 500 == 7 {
            out += "d,2024-03-11 09:00:00+0000,bounces@news.example.com,cut@gmail.com,relayed\n";
            out += "b,x,y,a@b.example,failed,5.1.1,\"smtp;550 5.1.1 open quote,z,,,,vmta-0,x\n";
            c.lines[2] += 2;
        }
    }
    (out, c)
}

fn exchange_file(rng: &mut Rng) -> (String, Counts) {
    let fields = "date-time,client-ip,client-hostname,server-ip,server-hostname,source-context,connector-id,source,event-id,internal-message-id,message-id,network-message-id,recipient-address,recipient-status,total-bytes,recipient-count,related-recipient-address,reference,message-subject,sender-address,return-path,message-info,directionality,tenant-id,original-client-ip,original-server-ip,custom-data,transport-traffic-type,log-id,schema-version";
    let mut out = format!(
        "\u{feff}#Software: Microsoft Exchange Server\r\n#Version: 15.02.1544.004\r\n#Log-type: Message Tracking Log\r\n#Date: 2024-03-11T09:00:02.148Z\r\n#Fields: {fields}\r\n"
    );
    let n_fields = fields.split(',').count();
    let mut c = Counts {
        lines: [0, 5, 0],
        ..Counts::default()
    };
    for i in 0..RECORDS {
        let n_rcpt = 1 + (rng.next() % 3) as usize;
        let domains: Vec<&str> = (0..n_rcpt).map(|_| *rng.pick(&DOMAINS)).collect();
        let rcpts: Vec<String> = domains
            .iter()
            .enumerate()
            .map(|(k, d)| format!("u{i}.{k}@{d}"))
            .collect();
        let kind = rng.next() % 8;
        let (event, replies): (&str, Vec<(&str, &str, &str)>) = match kind {
            0 | 1 => ("SEND", vec![*rng.pick(&OK); n_rcpt]),
            2 => ("DELIVER", vec![("", "", ""); n_rcpt]),
            3 => ("DEFER", vec![*rng.pick(&TEMP); n_rcpt]),
            // A status per recipient, each its own.
            4 => ("FAIL", (0..n_rcpt).map(|_| *rng.pick(&PERM)).collect()),
            5 => (
                "FAIL",
                vec![("550", "4.4.7", "QUEUE.Expired; message expired"); n_rcpt],
            ),
            6 => ("RECEIVE", vec![("", "", ""); n_rcpt]),
            _ => ("DSN", vec![("", "", ""); n_rcpt]),
        };
        let status: Vec<String> = replies
            .iter()
            .map(|(code, enh, text)| {
                if code.is_empty() {
                    String::new()
                } else if event == "DEFER" {
                    format!("{{[{{LRT=3/11/2024 9:21:43 AM}};{{LED={code} {enh} {text}}};{{FQDN=mx.example.org}};{{IP=198.51.100.7}}]}}")
                } else {
                    format!("{code} {enh} {text}")
                }
            })
            .collect();
        let status = if event == "DELIVER" || event == "RECEIVE" || event == "DSN" {
            String::new()
        } else {
            status.join(";")
        };
        let mut row = vec![String::new(); n_fields];
        row[0] = format!("2024-03-11T09:{:02}:{:02}.000Z", (i / 60) % 60, i % 60);
        row[5] = "08DC41A6F0B2C7D4;250 2.6.0 <x@contoso.com> Queued mail for delivery".into();
        row[7] = "SMTP".into();
        row[8] = event.into();
        row[12] = rcpts.join(";");
        row[13] = status;
        row[18] = format!("Report {i}, \"final\"");
        row[29] = "15.02.1544.004".into();
        let row: Vec<String> = row.iter().map(|f| csv_field(f)).collect();
        out += &row.join(",");
        out += "\r\n";
        match (event, kind) {
            ("FAIL", 5) => {
                c.expired += n_rcpt as u64;
                c.lines[0] += 1;
            }
            ("SEND" | "DELIVER" | "DEFER" | "FAIL", _) => {
                let outcome = match event {
                    "DEFER" => "deferred",
                    "FAIL" => "bounced",
                    _ => "delivered",
                };
                for (d, (code, enh, _)) in domains.iter().zip(&replies) {
                    c.reply("outbound", outcome, code, enh, d);
                }
                c.lines[0] += 1;
            }
            _ => c.lines[1] += 1,
        }
        if i % 700 == 3 {
            out += "2024-03-11T09:00:00.000Z,10.1.0.12,EX01,cut\r\n";
            c.lines[2] += 1;
        }
    }
    (out, c)
}

fn kumomta_file(rng: &mut Rng) -> (String, Counts) {
    let mut out = String::new();
    let mut c = Counts::default();
    for i in 0..RECORDS {
        let kind = rng.next() % 9;
        let d1 = *rng.pick(&DOMAINS);
        let d2 = *rng.pick(&DOMAINS);
        let (t, (code, enh, text)) = match kind {
            0..=2 => ("Delivery", *rng.pick(&OK)),
            3 => ("TransientFailure", *rng.pick(&TEMP)),
            4 => ("Bounce", *rng.pick(&PERM)),
            5 => ("Rejection", PERM[1]),
            6 => (
                "Expiration",
                ("551", "5.4.7", "Next delivery time would be at …"),
            ),
            7 => ("Reception", ("250", "", "")),
            _ => ("Delayed", ("451", "4.4.5", "KumoMTA internal: suspended")),
        };
        // Batches of two recipients now and then (KumoMTA 2025.12.02 and later).
        let recipient = if i % 4 == 0 {
            format!("[\"a{i}@{d1}\",\"b{i}@{d2}\"]")
        } else {
            format!("\"a{i}@{d1}\"")
        };
        let enhanced = match enh.split('.').collect::<Vec<_>>()[..] {
            [a, b, c] => format!("{{\"class\":{a},\"subject\":{b},\"detail\":{c}}}"),
            _ => "null".to_owned(),
        };
        let command = if t == "Rejection" {
            format!("\"RCPT TO:<victim{i}@{d2}>\\r\\n\"")
        } else {
            "\".\"".to_owned()
        };
        out += &format!(
            "{{\"type\":\"{t}\",\"id\":\"{i:032x}\",\"sender\":\"bounce@news.example.com\",\"recipient\":{recipient},\"queue\":\"{d1}\",\"site\":\"\",\"size\":1047,\"response\":{{\"code\":{code},\"enhanced_code\":{enhanced},\"content\":\"{}\",\"command\":{command}}},\"timestamp\":{},\"created\":1710148465,\"num_attempts\":0,\"bounce_classification\":\"Uncategorized\",\"meta\":{{\"note\":\"a, \\\"b\\\"\"}},\"headers\":{{}},\"nodeid\":\"557f3ad4-2c8c-11ee-976e-782d7e12e173\"}}\n",
            text.replace('"', "\\\""),
            1_710_148_465 + i
        );
        match t {
            "Expiration" => {
                c.expired += 1;
                c.lines[0] += 1;
            }
            "Reception" | "Delayed" => c.lines[1] += 1,
            "Rejection" => {
                c.reply("inbound", "rejected", code, enh, d2);
                c.lines[0] += 1;
            }
            _ => {
                let outcome = match t {
                    "Delivery" => "delivered",
                    "TransientFailure" => "deferred",
                    _ => "bounced",
                };
                c.reply("outbound", outcome, code, enh, d1);
                if i % 4 == 0 {
                    c.reply("outbound", outcome, code, enh, d2);
                }
                c.lines[0] += 1;
            }
        }
        if i % 600 == 5 {
            out += "{\"type\":\"Delivery\",\"recipient\":\"cut@gmail.com\",\"resp\n";
            c.lines[2] += 1;
        }
    }
    (out, c)
}

fn haraka_file(rng: &mut Rng) -> (String, Counts) {
    let mut out = String::new();
    let mut c = Counts::default();
    for i in 0..RECORDS {
        let d = *rng.pick(&DOMAINS);
        match rng.next() % 5 {
            0 => {
                out += &format!("[NOTICE] [-] [outbound] delivered file=1710148467123_1710148467123_0_85212_W{i}_1_mx1 domain={d} host=mx.{d} ip=192.0.2.1 port=25 mode=SMTP tls=Y auth=N response=\"OK\" delay=1.2 fails=0 rcpts=1/0/0\n");
                c.reply("outbound", "delivered", "", "", d);
                c.lines[0] += 1;
            }
            1 => {
                let (code, enh, text) = rng.pick(&TEMP);
                out += &format!(
                    "[NOTICE] [-] [outbound] recipient <u{i}@{d}> deferred: {code} {enh} {text}\n"
                );
                c.reply("outbound", "deferred", code, enh, d);
                c.lines[0] += 1;
            }
            2 => {
                let (code, enh, text) = rng.pick(&PERM);
                out += &format!(
                    "[NOTICE] [-] [outbound] recipient <u{i}@{d}> rejected: {code} {enh} {text}\n"
                );
                c.reply("outbound", "bounced", code, enh, d);
                c.lines[0] += 1;
            }
            3 => {
                out += &format!("[NOTICE] [A{i}.1] [core] recipient <r{i}@ours.example> code=DENY msg=\"5.7.1 refused\" sender=x@{d}\n");
                c.reply("inbound", "rejected", "", "5.7.1", "ours.example");
                c.lines[0] += 1;
            }
            _ => {
                out += &format!("[NOTICE] [A{i}] [core] connect ip=192.0.2.{} port=48122 local_ip=10.0.0.2 local_port=25\n", i % 250);
                c.lines[1] += 1;
            }
        }
        if i % 800 == 9 {
            // A line cut at its start: Haraka's, but no pattern reads it.
            out += "NOTICE] [-] [outbound] recipient <x@gmail.com> defer\n";
            c.lines[2] += 1;
        }
    }
    (out, c)
}

#[test]
fn replay_counts_thousands_of_records_of_each_format_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(0x5eed);
    let haraka_config = root().join("config/haraka.yaml");
    let cases: Vec<(&str, (String, Counts), Vec<&str>)> = vec![
        (
            "powermta",
            powermta_file(&mut rng),
            vec!["--log.format", "powermta"],
        ),
        (
            "exchange",
            exchange_file(&mut rng),
            vec!["--log.format", "exchange"],
        ),
        (
            "kumomta",
            kumomta_file(&mut rng),
            vec!["--log.format", "kumomta"],
        ),
        (
            "haraka",
            haraka_file(&mut rng),
            vec![
                "--log.format",
                "haraka",
                "--config.file",
                haraka_config.to_str().unwrap(),
            ],
        ),
    ];
    for (name, (text, want), args) in cases {
        assert!(want.lines.iter().sum::<u64>() >= RECORDS as u64);
        let file = write(dir.path(), &format!("{name}.log"), &text);
        let got = replay_json(&args, &file);
        assert!(
            want.replies.len() > 20 && want.lines[2] > 0 && want.lines[1] > 0,
            "{name}: {want:?}"
        );
        assert_eq!(got, want, "{name}");
        if name == "kumomta" {
            // KumoMTA writes zstd-compressed segments; replay reads them as they are.
            let zst = dir.path().join("segment.zst");
            std::fs::write(&zst, zstd::encode_all(text.as_bytes(), 3).unwrap()).unwrap();
            assert_eq!(replay_json(&args, &zst), want, "{name} .zst");
            // The segment KumoMTA is still writing: its last frame is not finished. What was
            // flushed is counted, like the same lines read plain; no error.
            let half = &text[..text[..text.len() / 2].rfind('\n').unwrap() + 1];
            let mut enc = zstd::stream::write::Encoder::new(Vec::new(), 3).unwrap();
            enc.write_all(half.as_bytes()).unwrap();
            enc.flush().unwrap();
            let cut = enc.get_ref().clone();
            std::fs::write(&zst, &cut).unwrap();
            let plain = write(dir.path(), "half.log", half);
            assert_eq!(
                replay_json(&args, &zst),
                replay_json(&args, &plain),
                "{name} unfinished .zst"
            );
        }
    }
}

#[test]
fn example_configs_read_their_fixtures() {
    for (config, format, log) in [
        ("haraka.yaml", "haraka", "haraka.log"),
        (
            "relay-appliance.yaml",
            "relay-appliance",
            "relay-appliance.log",
        ),
        ("m365-message-trace.yaml", "m365-trace", "m365-trace.csv"),
    ] {
        let file = config::load(&root().join("config").join(config)).unwrap();
        let parser = config::parser_named(format, &file).unwrap();
        assert_eq!(parser.mta(), format);
        let mut agg = Aggregator::new(
            vec![(format.to_owned(), parser.mta().to_owned())],
            &Bounds {
                domains_max: 100,
                ..Bounds::default()
            },
        );
        let log = root().join("tests/fixtures/custom").join(log);
        replay_file(&log, SourceId(0), &parser.clone().into(), &mut agg).unwrap();
        let want = std::fs::read_to_string(log.with_extension("expected")).unwrap();
        assert_eq!(
            series::render(&agg, &[]),
            series::parse_expected(&want),
            "{}",
            log.display()
        );
        assert_eq!(
            agg.total_lines()[2],
            0,
            "{}: unrecognised lines",
            log.display()
        );
    }
}

#[test]
fn example_configs_pass_check_config() {
    let mut n = 0;
    for e in std::fs::read_dir(root().join("config")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "yaml") {
            let o = run(&["check-config", "--config.file", p.to_str().unwrap()]);
            assert_eq!(o.status.code(), Some(0), "{}: {}", p.display(), stderr(&o));
            n += 1;
        }
    }
    assert!(n >= 4, "the example configs are in config/");
}

#[test]
fn check_config_names_the_bad_format_and_its_missing_group() {
    let bad = root().join("tests/fixtures/custom/two-formats-one-bad.yaml");
    let o = run(&["check-config", "--config.file", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains(
            "formats[1] (appliance-rejects).patterns[0].regex: has no group named outcome"
        ),
        "{err}"
    );
    assert!(
        err.contains("two-formats-one-bad.yaml"),
        "names the file: {err}"
    );

    // More mistakes, each named.
    let dir = tempfile::tempdir().unwrap();
    for (text, want) in [
        (
            "formats:\n  - name: x\n    patterns:\n      - regex: '(?P<outcome>\\w+'\n",
            "formats[0] (x).patterns[0].regex: regex parse error",
        ),
        (
            "formats:\n  - name: x\n    patterns:\n      - regex: '(?P<status>\\w+)'\n",
            "formats[0] (x).patterns[0].regex: the group (?P<status>…) means nothing here",
        ),
        (
            "formats:\n  - name: postfix\n    patterns:\n      - regex: '(?P<outcome>\\w+)'\n",
            "formats[0] (postfix).name: \"postfix\" is the name of a built-in format",
        ),
        (
            "formats:\n  - name: x\n    patterns:\n      - regex: '(?P<outcome>\\w+)'\n    outcomes:\n      ok: fine\n",
            "formats[0] (x).outcomes.ok: \"fine\" is not one of",
        ),
        (
            "formats:\n  - name: x\n    patterns:\n      - regex: 'gone (?P<queue_id>\\S+)'\n        outcome: expired\n",
            "formats[0] (x).patterns[0].regex: the group (?P<queue_id>…) says nothing of an expired line",
        ),
        (
            "sources:\n  - path: /x\n    format: haraka\n",
            "sources[0].format: unknown log format \"haraka\"",
        ),
        (
            "sources:\n  - path: /x\n    format: exchange\n    instances:\n      a: b\n",
            "sources[0].instances.a: the exchange format has no instances",
        ),
        (
            "formats:\n  - name: x\n    pattern:\n      - regex: 'y'\n",
            "unknown field `pattern`",
        ),
    ] {
        let p = write(dir.path(), "c.yaml", text);
        let o = run(&["check-config", "--config.file", p.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(2), "{text}: {}", stderr(&o));
        assert!(stderr(&o).contains(want), "{text}: {}", stderr(&o));
    }
}

#[test]
fn a_user_defined_format_names_the_mta_label_and_the_source() {
    let dir = tempfile::tempdir().unwrap();
    let log = root().join("tests/fixtures/custom/haraka.log");
    let cfg = root().join("config/haraka.yaml");
    let o = run(&[
        "replay",
        "--format",
        "prometheus",
        "--config.file",
        cfg.to_str().unwrap(),
        "--log.format",
        "haraka",
        log.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("mta=\"haraka\"") && text.contains("source=\"haraka\""),
        "{text}"
    );
    drop(dir);
}

fn powermta_row(vmta: &str, rcpt: &str) -> String {
    format!("d,2024-03-11 09:14:27+0000,bounces@news.example.com,{rcpt},relayed,2.0.0 (success),smtp;250 2.0.0 OK,{vmta}\n")
}

/// A PowerMTA file followed from its end on a first start: its header, read before the
/// follower's position, still names the columns; rows of a configured virtual MTA count under
/// their own source, others under the file's.
#[test]
fn powermta_rows_route_by_vmta_and_a_file_followed_from_its_end_knows_its_header() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("acct.csv");
    let mut text = "type,timeLogged,orig,rcpt,dsnAction,dsnStatus,dsnDiag,vmta\n".to_owned();
    text += &powermta_row("vmta-gmail-1", "before@gmail.com");
    std::fs::write(&path, &text).unwrap();
    let agg = Counters::new(Aggregator::new(
        vec![
            ("pmta".into(), "powermta".into()),
            ("pmta-gmail".into(), "powermta".into()),
        ],
        &Bounds {
            domains_max: 100,
            ..Bounds::default()
        },
    ));
    let mut t = Tailer::new(SourceId(0), path.clone(), Format::PowerMta, None).with_routes(
        Routes::new(SourceId(0), vec![(b"vmta-gmail-1".to_vec(), SourceId(1))]),
    );
    t.poll(&agg);
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    for (vmta, rcpt) in [
        ("vmta-gmail-1", "a@gmail.com"),
        ("vmta-gmail-1", "b@gmail.com"),
        ("vmta-other", "c@yahoo.com"),
        ("", "d@yahoo.com"),
    ] {
        f.write_all(powermta_row(vmta, rcpt).as_bytes()).unwrap();
    }
    drop(f);
    t.poll(&agg);
    let g = agg.lock();
    let by_source: Vec<u64> = (0..2)
        .map(|s| {
            g.replies
                .iter()
                .filter(|(k, _)| k.source == SourceId(s))
                .map(|(_, v)| v.n)
                .sum()
        })
        .collect();
    assert_eq!(by_source, [2, 2], "{:?}", g.replies);
    // Nothing unrecognised: the header was known although reading began after it.
    assert_eq!(g.total_lines(), [4, 0, 0]);
    drop(g);

    // A restart at a saved offset inside the file: the header is learnt again from its top.
    let resumed = Counters::new(Aggregator::new(
        vec![("pmta".into(), "powermta".into())],
        &Bounds::default(),
    ));
    let meta = std::fs::metadata(&path).unwrap();
    use std::os::unix::fs::MetadataExt;
    let offset = (text.len() + powermta_row("vmta-gmail-1", "a@gmail.com").len()) as u64;
    let head = std::fs::read(&path).unwrap();
    let resume = Resume {
        position: Some(smtp_status_exporter::aggregate::Position {
            dev: meta.dev(),
            ino: meta.ino(),
            offset,
            fp_len: 1024.min(head.len()) as u32,
            fp_crc: crc(&head[..1024.min(head.len())]),
        }),
        draining: Vec::new(),
        saved_at: None,
    };
    let mut t = Tailer::new(
        SourceId(0),
        path,
        Parser::from(Format::PowerMta),
        Some(resume),
    );
    t.poll(&resumed);
    assert_eq!(resumed.lock().total_lines(), [3, 0, 0]);
}

/// CRC-32 (IEEE), as the follower's fingerprint computes it.
fn crc(b: &[u8]) -> u32 {
    let mut c = !0u32;
    for &x in b {
        c ^= u32::from(x);
        for _ in 0..8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ 0xedb8_8320
            } else {
                c >> 1
            };
        }
    }
    !c
}
