//! The exporter never needs root: run as `nobody` (through `setpriv`, with no capabilities,
//! no supplementary groups but the log's, and no_new_privs), with only group read access to a
//! log owned by root, it follows the log, counts, saves its state and serves /metrics.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::harness;

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use harness::exporter::{binary, Exporter};
use harness::metrics::{parse_exposition, scrape, series};
use harness::util::{require_root, require_tool, set_mode, wait_for, TestDir};

/// `Name:` line of /proc/PID/status, its fields.
fn status_field(pid: u32, name: &str) -> Vec<String> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find(|l| l.starts_with(name))
        .unwrap_or_else(|| panic!("no {name} in /proc/{pid}/status"))
        .split_whitespace()
        .skip(1)
        .map(str::to_owned)
        .collect()
}

#[test]
#[ignore = "needs root (to drop to nobody with setpriv): run by scripts/test"]
fn runs_as_nobody_with_only_read_access_to_the_log() {
    require_root();
    let setpriv = require_tool("setpriv");
    let t = TestDir::new("unpriv-");
    let d = t.path();
    // The binary where `nobody` may run it (cargo's target dir may be in a private home).
    let exe = d.join("smtp-status-exporter");
    fs::copy(binary(), &exe).unwrap();
    set_mode(&exe, 0o755);
    // The log: root's, readable by its group only (as Debian's /var/log/mail.log is root:adm
    // 0640); here the group is nogroup, which the exporter is given and nothing else.
    let log = d.join("mail.log");
    fs::write(&log, "").unwrap();
    std::os::unix::fs::chown(&log, Some(0), Some(65534)).unwrap();
    set_mode(&log, 0o640);
    // The state directory: the exporter's own (systemd's StateDirectory= does this).
    let state_dir = d.join("state");
    fs::create_dir(&state_dir).unwrap();
    std::os::unix::fs::chown(&state_dir, Some(65534), Some(65534)).unwrap();
    set_mode(&state_dir, 0o700);
    let stderr = d.join("exporter.stderr");
    let mut e = Exporter::builder(d)
        .via(
            &setpriv,
            &[
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                "--inh-caps=-all",
                "--bounding-set=-all",
                "--no-new-privs",
                "--",
            ],
            &exe,
        )
        .log(&log)
        .state(state_dir.join("state.json"))
        .wait_listening()
        .timeout(Duration::from_secs(30), Duration::from_millis(20))
        .start()
        .unwrap_or_else(|e| panic!("{e}"));
    let text = || fs::read_to_string(&stderr).unwrap_or_default();
    let addr = e.addr;
    let pid = e.pid();

    // What it runs with: nobody, no capability at all, no way to gain any.
    for field in ["Uid:", "Gid:"] {
        assert_eq!(status_field(pid, field), vec!["65534"; 4], "{field}");
    }
    for field in ["CapInh:", "CapPrm:", "CapEff:", "CapBnd:", "CapAmb:"] {
        assert_eq!(
            status_field(pid, field),
            vec!["0000000000000000"],
            "{field}"
        );
    }
    assert_eq!(status_field(pid, "NoNewPrivs:"), vec!["1"]);
    // Not the log's owner: it reads through the group bit only.
    assert_eq!(
        fs::metadata(&log).unwrap().permissions().mode() & 0o777,
        0o640
    );

    let line = "Nov 23 02:12:58 mx postfix/smtp[10732]: 1CA9A98C0C2: to=<Info@EXAMPLE.NET>, \
        relay=127.0.0.1[127.0.0.1]:12600, delay=0.03, delays=0.01/0.02/0/0, dsn=2.0.0, \
        status=sent (250 2.0.0 Ok: queued as 4XyZ12AbCd)\n";
    let ready = wait_for(Duration::from_secs(30), Duration::from_millis(50), || {
        harness::metrics::http_get(addr, "/-/ready")
            .ok()
            .filter(|r| r.status == 200)
    });
    assert!(ready.is_some(), "never ready:\n{}", text());
    let mut f = fs::OpenOptions::new().append(true).open(&log).unwrap();
    for _ in 0..3 {
        f.write_all(line.as_bytes()).unwrap();
    }
    drop(f);
    let counted = wait_for(Duration::from_secs(30), Duration::from_millis(50), || {
        let s = parse_exposition(&scrape(addr).ok()?).ok()?;
        let n: f64 = series(&s, "smtp_replies_total").values().sum();
        (n as u64 == 3).then_some(s)
    });
    let s = counted.unwrap_or_else(|| panic!("3 replies not counted:\n{}", text()));
    let errors: f64 = series(&s, "smtp_status_exporter_read_errors_total")
        .values()
        .sum();
    assert_eq!(errors, 0.0);
    // The state it saved is its own.
    let meta = fs::metadata(state_dir.join("state.json")).unwrap();
    assert_eq!(std::os::unix::fs::MetadataExt::uid(&meta), 65534);
    let exited = e.terminate().ok();
    assert!(
        exited.is_some_and(|s| s.success()),
        "{exited:?}\n{}",
        text()
    );
    let said = text().to_lowercase();
    assert!(
        !said.contains("permission denied") && !said.contains("operation not permitted"),
        "{said}"
    );
}
