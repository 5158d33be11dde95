//! The syslog listener source (`--syslog.listen-address`), fed by the real programs:
//!
//! - a private `rsyslogd` (Debian package `rsyslog`, run by the test with its own config: no
//!   system socket, no kernel log, no journal) receives real Postfix lines from `logger
//!   --rfc5424` and forwards them to four listeners of one exporter: over UDP in the RFC 5424
//!   template and in the traditional one, over TCP octet-counted (RFC 5424) and newline-framed
//!   (traditional); every listener must count exactly what the fixture's `.expected` says;
//! - `logger` straight to the listeners (UDP, TCP in both framings, a unix datagram socket);
//! - a flood over TCP into a queue of one message: every message is either counted or counted
//!   as dropped, exactly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::harness;

use std::collections::BTreeMap;
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use harness::exporter::Exporter;
use harness::feed::{expected, lines_of_file, postfix_fixture, rendered};
use harness::metrics::series;
use harness::util::{free_port, require_tool, wait_for, TestDir};

/// The addresses the exporter's listeners bound, by source name, from its log
/// (`syslog source NAME listening on URL`).
fn listening(fed: &Exporter) -> BTreeMap<String, String> {
    fed.stderr_text()
        .lines()
        .filter_map(|l| {
            let rest = l.split("syslog source ").nth(1)?;
            let (name, url) = rest.split_once(" listening on ")?;
            Some((name.to_owned(), url.trim().to_owned()))
        })
        .collect()
}

fn port_of(url: &str) -> u16 {
    url.rsplit(':').next().unwrap().parse().unwrap()
}

/// A fixture line `Mon DD HH:MM:SS host tag[pid]: message` as (tag, pid, message).
fn split_line(line: &str) -> (String, String, String) {
    let rest = &line[16..];
    let rest = &rest[rest.find(' ').unwrap() + 1..];
    let colon = rest.find(": ").unwrap_or_else(|| panic!("{line}"));
    let head = &rest[..colon];
    let (tag, pid) = match head.split_once('[') {
        Some((t, p)) => (t, p.trim_end_matches(']')),
        None => (head, "1"),
    };
    (tag.to_owned(), pid.to_owned(), rest[colon + 2..].to_owned())
}

/// Sends every line of `fixture` with `logger` (facility mail) in `format` (`--rfc5424`, or
/// `--rfc3164`: what Postfix's syslog(3) calls send), one logger per program name, reading
/// the messages from its standard input. `target`: logger's options saying where (e.g.
/// `-n 127.0.0.1 -P PORT -T --octet-count`).
fn logger_send(fixture: &Path, format: &str, target: &[&str]) {
    let logger = require_tool("logger");
    let text = std::fs::read_to_string(fixture).unwrap();
    let mut by_tag: BTreeMap<String, (String, String)> = BTreeMap::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        let (tag, pid, msg) = split_line(line);
        let e = by_tag.entry(tag).or_insert_with(|| (pid, String::new()));
        e.1.push_str(&msg);
        e.1.push('\n');
    }
    for (tag, (pid, messages)) in by_tag {
        let mut child = Command::new(&logger)
            .args(target)
            .arg(format)
            .args(["-p", "mail.info", "--size", "8192"])
            .arg("-t")
            .arg(&tag)
            .arg(format!("--id={pid}"))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(messages.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "logger {target:?} -t {tag}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// A private rsyslogd: `rsyslogd -n -f CONF -i PIDFILE`, killed on drop.
struct Rsyslog {
    child: Child,
    log: PathBuf,
}

impl Rsyslog {
    fn start(dir: &Path, conf: &str) -> Rsyslog {
        let rsyslogd = require_tool("rsyslogd");
        let conf_path = dir.join("rsyslog.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let log = dir.join("rsyslogd.out");
        let check = Command::new(&rsyslogd)
            .args(["-N1", "-f"])
            .arg(&conf_path)
            .output()
            .unwrap();
        assert!(
            check.status.success(),
            "rsyslogd -N1 rejects the test's config: {}{}",
            String::from_utf8_lossy(&check.stdout),
            String::from_utf8_lossy(&check.stderr)
        );
        let child = Command::new(&rsyslogd)
            .arg("-n")
            .arg("-f")
            .arg(&conf_path)
            .arg("-i")
            .arg(dir.join("rsyslogd.pid"))
            .stdin(Stdio::null())
            .stdout(Stdio::from(std::fs::File::create(&log).unwrap()))
            .stderr(Stdio::from(
                std::fs::File::options().append(true).open(&log).unwrap(),
            ))
            .spawn()
            .unwrap();
        Rsyslog { child, log }
    }

    /// Waits until rsyslogd accepts connections on `port`.
    fn wait_port(&mut self, port: u16) {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let up = wait_for(Duration::from_secs(30), Duration::from_millis(50), || {
            if let Ok(Some(s)) = self.child.try_wait() {
                panic!(
                    "rsyslogd exited with {s}: {}",
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                );
            }
            TcpStream::connect(addr).ok()
        });
        assert!(
            up.is_some(),
            "rsyslogd did not listen on {addr} within 30 s: {}",
            std::fs::read_to_string(&self.log).unwrap_or_default()
        );
    }
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Checks that `source` counted exactly what the `.expected` of `fixture` says, and read as
/// many lines as the file holds.
fn assert_counts(fed: &Exporter, source: &str, fixture: &Path) {
    let want_lines = lines_of_file(fixture);
    let total: f64 = want_lines.values().sum();
    fed.wait_lines(source, total, Duration::from_secs(120));
    // A moment for anything beyond the expected lines to show up too.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(fed.lines(source), want_lines, "lines of {source}");
    let samples = fed.samples();
    assert_eq!(
        rendered(&samples, source, "postfix"),
        expected(&fixture.with_extension("expected")),
        "replies of {source}"
    );
    let dropped: f64 = series(&samples, "smtp_status_exporter_dropped_messages_total")
        .iter()
        .filter(|(l, _)| l["source"] == source)
        .map(|(_, v)| v)
        .sum();
    assert_eq!(dropped, 0.0, "{source} dropped messages");
}

#[test]
#[ignore = "needs rsyslog (Debian package): run by scripts/test"]
fn rsyslog_forwards_over_udp_and_tcp_in_both_formats() {
    let _heavy = harness::heavy();
    let dir = TestDir::new("sse-rsyslog-");
    let mut fed = Exporter::fed(
        dir.path(),
        &[
            "--syslog.listen-address",
            "udp://127.0.0.1:0",
            "--syslog.listen-address",
            "udp://127.0.0.1:0",
            "--syslog.listen-address",
            "tcp://127.0.0.1:0",
            "--syslog.listen-address",
            "tcp://127.0.0.1:0",
        ],
    )
    .unwrap();
    let ports = listening(&fed);
    assert_eq!(ports.len(), 4, "{ports:?}\n{}", fed.stderr_text());
    let port = |n: &str| port_of(&ports[n]);

    // Three inputs of rsyslog, each with the forwarding rules of its own:
    // - classic messages (as Postfix's syslog(3) calls send them) forwarded over UDP in the
    //   RFC 5424 template and in the traditional one;
    // - RFC 5424 messages forwarded over TCP, octet-counted, in the RFC 5424 template;
    // - classic messages forwarded over TCP, newline-framed, traditional.
    // (rsyslog's traditional template of a message it received in RFC 5424 has no colon after
    // the tag, `postfix/smtp[1] msg`: not a syslog header; the README says to forward RFC 5424.)
    let (in_udp, in_tcp, in_tcp_classic) = (
        free_port(Ipv4Addr::LOCALHOST),
        free_port(Ipv4Addr::LOCALHOST),
        free_port(Ipv4Addr::LOCALHOST),
    );
    let conf = format!(
        r#"# A private instance: no system socket, kernel log or journal; only the test's inputs.
global(workDirectory="{dir}" parser.permitSlashInProgramName="on" maxMessageSize="64k")
module(load="imtcp")
input(type="imtcp" address="127.0.0.1" port="{in_udp}" ruleset="to_udp")
input(type="imtcp" address="127.0.0.1" port="{in_tcp}" ruleset="to_tcp")
input(type="imtcp" address="127.0.0.1" port="{in_tcp_classic}" ruleset="to_tcp_classic")
ruleset(name="to_udp") {{
  if $syslogfacility-text == "mail" then {{
    action(type="omfwd" target="127.0.0.1" port="{u1}" protocol="udp" template="RSYSLOG_SyslogProtocol23Format")
    action(type="omfwd" target="127.0.0.1" port="{u2}" protocol="udp" template="RSYSLOG_TraditionalForwardFormat")
  }}
}}
ruleset(name="to_tcp") {{
  if $syslogfacility-text == "mail" then {{
    action(type="omfwd" target="127.0.0.1" port="{t1}" protocol="tcp" TCP_Framing="octet-counted" template="RSYSLOG_SyslogProtocol23Format")
  }}
}}
ruleset(name="to_tcp_classic") {{
  if $syslogfacility-text == "mail" then {{
    action(type="omfwd" target="127.0.0.1" port="{t2}" protocol="tcp" template="RSYSLOG_TraditionalForwardFormat")
  }}
}}
"#,
        dir = dir.path().display(),
        u1 = port("syslog-1"),
        u2 = port("syslog-2"),
        t1 = port("syslog-3"),
        t2 = port("syslog-4"),
    );
    let mut rsyslog = Rsyslog::start(dir.path(), &conf);
    rsyslog.wait_port(in_udp);
    rsyslog.wait_port(in_tcp);
    rsyslog.wait_port(in_tcp_classic);

    // UDP may lose datagrams in the kernel under load, before anyone can count them: the
    // small fixture (271 lines) stays far below a socket buffer. TCP gets the large one.
    let small = postfix_fixture().0.with_file_name("parser-capture.log");
    let (large, _) = postfix_fixture();
    let in_udp_s = in_udp.to_string();
    let in_tcp_s = in_tcp.to_string();
    let in_tcp_classic_s = in_tcp_classic.to_string();
    logger_send(
        &small,
        "--rfc3164",
        &["-n", "127.0.0.1", "-P", &in_udp_s, "-T", "--octet-count"],
    );
    logger_send(
        &large,
        "--rfc5424",
        &["-n", "127.0.0.1", "-P", &in_tcp_s, "-T", "--octet-count"],
    );
    logger_send(
        &large,
        "--rfc3164",
        &["-n", "127.0.0.1", "-P", &in_tcp_classic_s, "-T"],
    );

    assert_counts(&fed, "syslog-1", &small);
    assert_counts(&fed, "syslog-2", &small);
    assert_counts(&fed, "syslog-3", &large);
    assert_counts(&fed, "syslog-4", &large);
    assert!(fed.running());
}

#[test]
fn logger_straight_to_udp_tcp_and_a_unix_socket() {
    let dir = TestDir::new("sse-logger-");
    let sock = dir.path().join("syslog.sock");
    let unix = format!("unix://{}", sock.display());
    let fed = Exporter::fed(
        dir.path(),
        &[
            "--syslog.listen-address",
            "udp://127.0.0.1:0",
            "--syslog.listen-address",
            "tcp://127.0.0.1:0",
            "--syslog.listen-address",
            "tcp://127.0.0.1:0",
            "--syslog.listen-address",
            &unix,
        ],
    )
    .unwrap();
    let ports = listening(&fed);
    let small = postfix_fixture().0.with_file_name("parser-capture.log");
    let p = |n: &str| port_of(&ports[n]).to_string();
    let r5424 = "--rfc5424";
    logger_send(
        &small,
        r5424,
        &["-n", "127.0.0.1", "-P", &p("syslog-1"), "-d"],
    );
    logger_send(
        &small,
        r5424,
        &[
            "-n",
            "127.0.0.1",
            "-P",
            &p("syslog-2"),
            "-T",
            "--octet-count",
        ],
    );
    logger_send(
        &small,
        "--rfc3164",
        &["-n", "127.0.0.1", "-P", &p("syslog-3"), "-T"],
    );
    logger_send(
        &small,
        r5424,
        &["-u", sock.to_str().unwrap(), "--socket-errors=on"],
    );
    for source in ["syslog-1", "syslog-2", "syslog-3", "syslog-4"] {
        assert_counts(&fed, source, &small);
    }
}

/// One message per line of a real Postfix delivery, octet-counted.
fn flood_message(i: usize) -> Vec<u8> {
    let m = format!(
        "<22>1 2026-11-23T04:35:58.123456+00:00 mx postfix/smtp {i} - - 1CA9A98C0C2: to=<u{i}@flood.example>, relay=127.0.0.1[127.0.0.1]:12600, delay=0.03, delays=0.01/0.02/0/0, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 4XyZ12AbCd)"
    );
    let mut out = format!("{} ", m.len()).into_bytes();
    out.extend_from_slice(m.as_bytes());
    out
}

#[test]
fn a_flood_fills_the_bounded_queue_and_every_drop_is_counted() {
    let dir = TestDir::new("sse-flood-");
    let fed = Exporter::fed(
        dir.path(),
        &[
            "--syslog.listen-address",
            "tcp://127.0.0.1:0",
            "--syslog.queue-size",
            "1",
            "--syslog.max-message-size",
            "1024",
        ],
    )
    .unwrap();
    let port = port_of(&listening(&fed)["syslog"]);
    const SENT: usize = 100_000;
    let mut all = Vec::with_capacity(SENT * 260);
    for i in 0..SENT {
        all.extend_from_slice(&flood_message(i));
    }
    // And one message over the size cap, which is dropped as too large.
    let big = format!(
        "<22>Nov 23 04:35:58 mx postfix/smtp[1]: {}",
        "x".repeat(2000)
    );
    all.extend_from_slice(format!("{} {big}", big.len()).as_bytes());
    let mut s = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).unwrap();
    s.write_all(&all).unwrap();
    drop(s);

    let read = |fed: &Exporter| -> (f64, BTreeMap<String, f64>) {
        let samples = fed.samples();
        let lines: f64 = series(&samples, "smtp_status_exporter_lines_total")
            .values()
            .sum();
        let dropped = series(&samples, "smtp_status_exporter_dropped_messages_total")
            .into_iter()
            .map(|(l, v)| (l["reason"].clone(), v))
            .collect();
        (lines, dropped)
    };
    let settled = wait_for(Duration::from_secs(120), Duration::from_millis(200), || {
        let (lines, dropped) = read(&fed);
        let total = lines + dropped.values().sum::<f64>();
        (total >= (SENT + 1) as f64).then_some(())
    });
    assert!(
        settled.is_some(),
        "not every message was read or dropped within 120 s: {:?}",
        read(&fed)
    );
    std::thread::sleep(Duration::from_millis(500));
    let samples = fed.samples();
    let lines = fed.lines("syslog");
    let dropped: BTreeMap<String, f64> =
        series(&samples, "smtp_status_exporter_dropped_messages_total")
            .into_iter()
            .map(|(l, v)| (l["reason"].clone(), v))
            .collect();
    eprintln!("flood of {SENT}: lines {lines:?}, dropped {dropped:?}");
    // Exact: counted + dropped == sent, nothing read twice, nothing lost unsaid.
    assert_eq!(
        lines["counted"] + dropped["queue_full"],
        SENT as f64,
        "{lines:?} {dropped:?}"
    );
    assert_eq!(dropped["too_large"], 1.0, "{dropped:?}");
    assert_eq!(dropped["truncated"], 0.0, "{dropped:?}");
    assert_eq!(lines["unrecognised"] + lines["ignored"], 0.0, "{lines:?}");
    // A queue of one message cannot take a burst of 100 000 as fast as it arrives.
    assert!(
        dropped["queue_full"] > 0.0,
        "nothing dropped: the queue was not bounded? {dropped:?}"
    );
    let replies: f64 = series(&samples, "smtp_replies_total").values().sum();
    assert_eq!(replies, lines["counted"]);
}

#[test]
fn bad_listen_addresses_are_usage_errors() {
    for (arg, want) in [
        ("udp://localhost:514", "--syslog.listen-address"),
        ("514", "no scheme"),
        ("unix://relative", "absolute"),
    ] {
        let out = Command::new(harness::exporter::binary())
            .args(["--syslog.listen-address", arg])
            .args(["--syslog.max-message-size", "65536"])
            .args(["--web.listen-address", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{arg}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(want), "{arg}: {err}");
    }
    for (flag, value, want) in [
        ("--syslog.max-message-size", "1000000000", "over the"),
        ("--syslog.queue-size", "0", "at least 1"),
    ] {
        let out = Command::new(harness::exporter::binary())
            .args(["--syslog.listen-address", "udp://127.0.0.1:0", flag, value])
            .args(["--web.listen-address", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{flag} {value}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(want), "{flag} {value}: {err}");
    }
}

#[test]
fn connections_over_the_limit_are_closed_and_the_first_is_served() {
    let dir = TestDir::new("sse-conns-");
    let fed = Exporter::fed(
        dir.path(),
        &[
            "--syslog.listen-address",
            "tcp://127.0.0.1:0",
            "--syslog.max-connections",
            "1",
        ],
    )
    .unwrap();
    let port = port_of(&listening(&fed)["syslog"]);
    let mut first = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).unwrap();
    first.write_all(&flood_message(1)).unwrap();
    // Counted: the first connection's thread runs.
    fed.wait_lines("syslog", 1.0, Duration::from_secs(30));
    let mut second = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).unwrap();
    second
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut buf = [0u8; 16];
    let n = std::io::Read::read(&mut second, &mut buf);
    assert!(
        matches!(n, Ok(0)) || n.is_err(),
        "the second connection was not closed: {n:?}"
    );
    let refused = wait_for(Duration::from_secs(10), Duration::from_millis(50), || {
        fed.stderr_text()
            .contains("already 1 connections")
            .then_some(())
    });
    assert!(refused.is_some(), "{}", fed.stderr_text());
    // The first is still served.
    first.write_all(&flood_message(2)).unwrap();
    fed.wait_lines("syslog", 2.0, Duration::from_secs(30));
    assert_eq!(fed.lines("syslog")["counted"], 2.0);
}

/// A listener of the configuration file's `syslog:` list, with its own source name.
#[test]
fn a_listener_of_the_config_file_counts_under_its_name() {
    let dir = TestDir::new("sse-syslog-config-");
    let config = dir.path().join("config.yaml");
    std::fs::write(
        &config,
        "syslog:\n  - name: mx-relay\n    listen_address: udp://127.0.0.1:0\n    format: postfix\n",
    )
    .unwrap();
    let fed = Exporter::fed(dir.path(), &["--config.file", config.to_str().unwrap()]).unwrap();
    let port = port_of(&listening(&fed)["mx-relay"]).to_string();
    let small = postfix_fixture().0.with_file_name("parser-capture.log");
    logger_send(&small, "--rfc5424", &["-n", "127.0.0.1", "-P", &port, "-d"]);
    assert_counts(&fed, "mx-relay", &small);
    // Only listeners: no default mail log is waited for, so the exporter is ready.
    assert_eq!(fed.get("/-/ready").0, 200);
}
