//! The Debian package (`scripts/package`, cargo-deb; docs/install.md), on this machine: built,
//! checked by lintian, installed with `dpkg -i` without starting the service, run, its unit
//! verified by `systemd-analyze`, upgraded over itself with a changed conffile and a state file
//! (both kept, the counters continue), then purged (files, conffile, state and unit gone; the
//! system user stays, as Debian's convention is). Each run purges an earlier copy first.
//!
//! Also, without root: the packaged unit keeps the hardening of deploy/systemd/ line for line,
//! and the package's changelog has an entry for the crate's version.

// A test crate: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::alerting::{path, read};
use crate::harness;
use crate::harness::exporter::Exporter;
use crate::harness::maillog;
use crate::harness::metrics::series;
use crate::harness::util::{require_root, require_tool, run, user_id, TestDir};

const PACKAGE: &str = "smtp-status-exporter";
const BIN: &str = "/usr/bin/smtp-status-exporter";
const CONF: &str = "/etc/smtp-status-exporter/config.yaml";
const STATE_DIR: &str = "/var/lib/smtp-status-exporter";
const STATE: &str = "/var/lib/smtp-status-exporter/state.json";
const UNIT: &str = "/usr/lib/systemd/system/smtp-status-exporter.service";
/// The manual pages: the command's and one per (visible) subcommand.
const MAN: [&str; 4] = [
    "/usr/share/man/man1/smtp-status-exporter.1.gz",
    "/usr/share/man/man1/smtp-status-exporter-replay.1.gz",
    "/usr/share/man/man1/smtp-status-exporter-check-config.1.gz",
    "/usr/share/man/man1/smtp-status-exporter-explain.1.gz",
];
const SHARE: &str = "/usr/share/smtp-status-exporter";
const POLICY: &str = "/usr/sbin/policy-rc.d";

const DEPLOY_UNIT: &str = "deploy/systemd/smtp-status-exporter.service";
const PACKAGED_UNIT: &str = "deploy/debian/smtp-status-exporter.service";

/// The lines of a unit that are settings or section headers (no comments, no blank lines).
fn unit_lines(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
}

/// The settings in which the packaged unit may differ from deploy/systemd/'s.
fn own_setting(line: &str) -> bool {
    line.starts_with("ExecStart=") || line.starts_with("SupplementaryGroups=")
}

/// The settings both units must have alike.
fn shared(text: &str) -> Vec<&str> {
    unit_lines(text)
        .into_iter()
        .filter(|l| !own_setting(l))
        .collect()
}

#[test]
fn the_packaged_unit_keeps_the_hardening_of_the_deploy_unit() {
    let (deploy, packaged) = (read(DEPLOY_UNIT), read(PACKAGED_UNIT));
    assert_eq!(
        shared(&packaged),
        shared(&deploy),
        "{PACKAGED_UNIT} vs {DEPLOY_UNIT}"
    );
    assert!(shared(&packaged).len() >= 40, "{packaged}");
    let own: Vec<&str> = unit_lines(&packaged)
        .into_iter()
        .filter(|l| own_setting(l))
        .collect();
    assert_eq!(
        own,
        [
            "SupplementaryGroups=adm systemd-journal",
            "ExecStart=/usr/bin/smtp-status-exporter --config.file \
             /etc/smtp-status-exporter/config.yaml --state.file \
             /var/lib/smtp-status-exporter/state.json",
        ]
    );
}

#[test]
fn the_debian_changelog_names_the_crate_version() {
    let changelog = read("deploy/debian/changelog");
    let first = changelog.lines().next().unwrap_or_default();
    let want = format!("{PACKAGE} ({}) ", env!("CARGO_PKG_VERSION"));
    assert!(
        first.starts_with(&want),
        "deploy/debian/changelog begins {first:?}, not {want:?}: add an entry for the version"
    );
}

/// Runs a command that must succeed; returns its stdout and stderr.
fn must(cmd: &mut Command) -> String {
    let (ok, said) = run(cmd.stdin(Stdio::null()));
    assert!(ok, "{cmd:?} failed:\n{said}");
    said
}

/// `scripts/package`: the path of the .deb it built (the last line it prints).
fn build_package() -> PathBuf {
    let out = Command::new(path("scripts/package"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "scripts/package: {}\n{said}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let deb = PathBuf::from(said.lines().last().unwrap_or_default().trim());
    let version = env!("CARGO_PKG_VERSION");
    let name = deb.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        name.starts_with(&format!("{PACKAGE}_{version}_")) && name.ends_with(".deb"),
        "scripts/package printed {deb:?}"
    );
    assert!(deb.is_file(), "{deb:?} is not there");
    deb
}

/// Keeps maintainer scripts from starting services while it lives (`exit 101`, as
/// scripts/install-test-deps does), then puts back what was there.
struct NoStart(Option<Vec<u8>>);

impl NoStart {
    fn new() -> NoStart {
        let before = fs::read(POLICY).ok();
        fs::write(
            POLICY,
            "#!/bin/sh\n# tests/it/package.rs: start no service\nexit 101\n",
        )
        .unwrap();
        harness::util::set_mode(Path::new(POLICY), 0o755);
        NoStart(before)
    }
}

impl Drop for NoStart {
    fn drop(&mut self) {
        match &self.0 {
            Some(old) => drop(fs::write(POLICY, old)),
            None => drop(fs::remove_file(POLICY)),
        }
    }
}

/// Processes running the installed binary (the service must not have been started).
fn installed_binary_running() -> Vec<String> {
    let Ok(procs) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    procs
        .flatten()
        .filter(|p| fs::read_link(p.path().join("exe")).is_ok_and(|e| e == Path::new(BIN)))
        .map(|p| p.file_name().to_string_lossy().into_owned())
        .collect()
}

fn dpkg_install(deb: &Path) {
    must(Command::new("dpkg").arg("-i").arg(deb));
    assert_eq!(
        installed_binary_running(),
        Vec::<String>::new(),
        "dpkg -i started the service despite {POLICY}"
    );
}

/// Lintian on the .deb: no errors (its warnings are printed; docs/install.md lists the ones
/// accepted).
fn lintian(deb: &Path) {
    let lintian = require_tool("lintian");
    let (_, said) = run(Command::new(lintian).arg(deb));
    eprintln!("lintian {}:\n{said}", deb.display());
    let errors: Vec<&str> = said.lines().filter(|l| l.starts_with("E:")).collect();
    assert!(errors.is_empty(), "lintian errors:\n{}", errors.join("\n"));
}

/// What the installed package holds and did: binary, man pages, share files, user, state.
fn check_installed() {
    let version = must(Command::new(BIN).arg("--version"));
    assert!(version.contains(env!("CARGO_PKG_VERSION")), "{version}");
    must(Command::new(BIN).args(["check-config", "--config.file", CONF]));
    for f in [UNIT, CONF] {
        assert!(Path::new(f).is_file(), "{f} is not installed");
    }
    for page in MAN {
        let roff = must(Command::new("zcat").arg(page));
        let name = Path::new(page).file_stem().unwrap().to_string_lossy();
        let title = format!(".TH {} 1 ", name.trim_end_matches(".1"));
        assert!(roff.contains(&title), "{page} lacks {title:?}:\n{roff}");
    }
    let share = |d: &str| fs::read_dir(Path::new(SHARE).join(d)).map_or(0, Iterator::count);
    assert!(share("dashboards") >= 4, "{SHARE}/dashboards");
    assert_eq!(share("prometheus/rules"), 2, "{SHARE}/prometheus/rules");
    let groups = must(Command::new("id").args(["-nG", PACKAGE]));
    for g in ["adm", "systemd-journal", PACKAGE] {
        assert!(
            groups.split_whitespace().any(|x| x == g),
            "{PACKAGE} not in {g}: {groups}"
        );
    }
    let uid = user_id(PACKAGE).unwrap();
    use std::os::unix::fs::MetadataExt;
    let state = fs::metadata(STATE_DIR).unwrap();
    assert!(
        state.is_dir() && state.uid() == uid,
        "{STATE_DIR} is not {PACKAGE}'s"
    );
    let conffiles = must(Command::new("dpkg-query").args(["-W", "-f=${Conffiles}", PACKAGE]));
    assert!(
        conffiles.contains(CONF),
        "{CONF} is not a conffile: {conffiles}"
    );
}

/// `systemd-analyze verify` of the installed unit: nothing to say.
fn verify_unit() {
    let analyze = require_tool("systemd-analyze");
    let (ok, said) = run(Command::new(analyze).args(["verify", "--man=no", UNIT]));
    assert!(
        ok && said.trim().is_empty(),
        "systemd-analyze verify {UNIT}:\n{said}"
    );
}

/// The installed binary, with the installed config and the package's state file, following
/// `log`; a random loopback port.
fn start_installed(dir: &Path, log: &Path) -> Exporter {
    Exporter::builder(dir)
        .via(Path::new("/usr/bin/env"), &[], Path::new(BIN))
        .args(&["--config.file", CONF])
        .log(log)
        .state(STATE)
        .stderr_appended_to(dir.join("installed.stderr"))
        .start()
        .unwrap()
}

/// The lines read, summed over every source and result.
fn lines_read(e: &Exporter) -> f64 {
    series(&e.samples(), "smtp_status_exporter_lines_total")
        .into_values()
        .sum()
}

fn append(log: &Path, from: u64, to: u64) {
    let mut buf = Vec::new();
    maillog::render(from, to, &mut buf);
    let mut f = fs::OpenOptions::new().append(true).open(log).unwrap();
    std::io::Write::write_all(&mut f, &buf).unwrap();
}

/// Counts 50 lines with the installed binary and saves the state; returns the count.
fn count_before_upgrade(dir: &Path, log: &Path) -> f64 {
    fs::write(log, "").unwrap();
    let mut e = start_installed(dir, log);
    append(log, 0, 50);
    let wait = Duration::from_secs(20);
    let done = harness::util::wait_for(wait, Duration::from_millis(50), || {
        (lines_read(&e) >= 50.0).then_some(())
    });
    assert!(
        done.is_some(),
        "read {} of 50 lines: {}",
        lines_read(&e),
        e.stderr_text()
    );
    let n = lines_read(&e);
    assert!(e.terminate().unwrap().success(), "{}", e.stderr_text());
    assert!(Path::new(STATE).is_file(), "no {STATE} after SIGTERM");
    n
}

/// After the upgrade: the same count from the saved state, and on from there.
fn counters_continue(dir: &Path, log: &Path, before: f64) {
    let mut e = start_installed(dir, log);
    assert_eq!(lines_read(&e), before, "{}", e.stderr_text());
    append(log, 50, 70);
    let done = harness::util::wait_for(Duration::from_secs(20), Duration::from_millis(50), || {
        (lines_read(&e) >= before + 20.0).then_some(())
    });
    assert!(
        done.is_some(),
        "{} after 20 more: {}",
        lines_read(&e),
        e.stderr_text()
    );
    assert_eq!(lines_read(&e), before + 20.0);
    assert!(e.terminate().unwrap().success(), "{}", e.stderr_text());
}

/// `dpkg --purge` of any installed copy (none is fine).
fn purge() {
    must(Command::new("dpkg").args(["--purge", PACKAGE]));
}

/// Deletes the system user and its group, where an earlier install left them.
fn remove_user() {
    if user_id(PACKAGE).is_some() {
        must(Command::new("userdel").arg(PACKAGE));
    }
    if harness::util::group_id(PACKAGE).is_some() {
        must(Command::new("groupdel").arg(PACKAGE));
    }
}

fn check_purged() {
    let (installed, _) = run(Command::new("dpkg-query").args(["-W", PACKAGE]));
    assert!(!installed, "{PACKAGE} is still known to dpkg after --purge");
    let files = [
        BIN,
        CONF,
        "/etc/smtp-status-exporter",
        STATE_DIR,
        UNIT,
        SHARE,
    ];
    for f in files.into_iter().chain(MAN) {
        assert!(!Path::new(f).exists(), "{f} is left after dpkg --purge");
    }
}

#[test]
#[ignore = "needs root, dpkg, cargo-deb: run by scripts/test"]
fn the_debian_package_installs_runs_upgrades_and_purges() {
    require_root();
    require_tool("dpkg");
    let _heavy = harness::heavy();
    let deb = build_package();
    lintian(&deb);
    let dir = TestDir::new("sse-package-");
    let log = dir.path().join("mail.log");
    purge();
    // What a failed earlier run may have left outside dpkg's knowledge: an old state file
    // would be counted on from. And the user a purge leaves: the postinst must make it, in
    // its groups, on a machine that never had it.
    let _ = fs::remove_dir_all(STATE_DIR);
    remove_user();
    let _no_start = NoStart::new();
    dpkg_install(&deb);
    check_installed();
    verify_unit();

    let before = count_before_upgrade(dir.path(), &log);
    let state = fs::read(STATE).unwrap();
    let conf = format!("{}\n# changed by tests/it/package.rs\n", read_conf());
    fs::write(CONF, &conf).unwrap();
    // The same version again: dpkg keeps a conffile the admin changed when the package's own
    // copy did not change, without asking (no --force-conf* flag; stdin is closed).
    dpkg_install(&deb);
    assert_eq!(read_conf(), conf, "dpkg -i replaced the changed {CONF}");
    assert_eq!(
        fs::read(STATE).unwrap(),
        state,
        "the upgrade changed {STATE}"
    );
    check_installed();
    counters_continue(dir.path(), &log, before);

    purge();
    check_purged();
}

fn read_conf() -> String {
    fs::read_to_string(CONF).unwrap()
}
