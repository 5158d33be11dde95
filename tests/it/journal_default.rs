//! The journal as the embedded default: with no `--log.path`, `--journal`, sources, listeners
//! or mailboxes, on a machine with neither `/var/log/mail.log` nor `/var/log/maillog` but a
//! systemd journal (Debian 12 and later log mail only to the journal unless rsyslog is
//! installed), the exporter reads the journal's mail facility and says so at start.
//!
//! The machine's `/var/log` is hidden from the exporter alone: it runs in a mount namespace of
//! its own (`unshare --mount`) with an empty tmpfs there holding only `journal/`. This kind of
//! machine runs no journald, so the system journal is stood in for by a journal file the test
//! writes with `systemd-journal-remote`, read by the real `journalctl` through `--journal.journalctl`
//! (a two-line script adding `--file=`). The choice between the files, the journal and
//! nothing is tested case by case in `src/plan/default_input.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Duration;

use crate::harness;
use crate::journal::{assert_counts, fixture_lines, rec_of, JournalExporter, JournalFile};
use harness::exporter::{binary, Exporter};
use harness::util::{require_root, require_tool, set_mode, TestDir};

/// Hides the machine's `/var/log` behind an empty tmpfs with a `journal/` directory, then
/// execs the exporter (`$0`) with its arguments.
const HIDE_VAR_LOG: &str =
    "mount -t tmpfs tmpfs /var/log && mkdir /var/log/journal && exec \"$0\" \"$@\"";

#[test]
#[ignore = "needs root and systemd-journal-remote: run by scripts/test"]
fn with_no_mail_log_the_journal_is_the_default() {
    require_root();
    let unshare = require_tool("unshare");
    let _heavy = harness::heavy();
    let dir = TestDir::new("sse-journal-default-");
    let file = dir.path().join("system.journal");
    let mut journal = JournalFile::new(file.clone());
    let lines = fixture_lines();
    journal.append(&[rec_of(&lines[0])]);
    let journalctl = dir.path().join("journalctl");
    std::fs::write(
        &journalctl,
        format!(
            "#!/bin/sh\nexec journalctl --file={} \"$@\"\n",
            file.display()
        ),
    )
    .unwrap();
    set_mode(&journalctl, 0o755);
    let e = Exporter::builder(dir.path())
        .via(
            &unshare,
            &[
                "--mount",
                "--propagation",
                "private",
                "sh",
                "-c",
                HIDE_VAR_LOG,
            ],
            Path::new(binary()),
        )
        .state(dir.path().join("state.json"))
        .args(&["--journal.journalctl", journalctl.to_str().unwrap()])
        .wait_listening()
        .timeout(Duration::from_secs(30), Duration::from_millis(20))
        .start()
        .unwrap_or_else(|e| panic!("{e}"));
    e.wait_ready();
    let said = e.stderr_text();
    assert!(
        said.contains("no log asked for: reading the systemd journal's mail facility")
            && said.contains("neither /var/log/mail.log nor /var/log/maillog exists"),
        "{said}"
    );
    // A first start follows from the end: the entries written from now on are counted.
    let rest: Vec<Vec<u8>> = lines[1..].to_vec();
    journal.append(&rest.iter().map(|l| rec_of(l)).collect::<Vec<_>>());
    e.wait_all_lines(rest.len() as f64);
    assert_counts(&e, dir.path(), &rest, 0.0);
    let (_, landing) = e.get("/");
    assert!(landing.contains("journal"), "{landing}");
    e.stop();
}
