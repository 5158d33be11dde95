//! A private Postfix instance on loopback, from Debian's `postfix` package.
//!
//! Everything lives in the test's scratch directory: the configuration directory (`postfix -c
//! DIR`), the queue directory, the data directory and the log (`maillog_file`, written by
//! `postlogd`). The system instance (`/etc/postfix`) is never used or started. What Postfix
//! needs for that:
//! - run as root (`postfix start` starts `master` as root; the daemons drop to `mail_owner`);
//!   as root, `postfix -c DIR` needs no `alternate_config_directories` entry in the default
//!   main.cf (that check applies to the set-gid `postdrop`/`postqueue` run by other users);
//! - the `postfix` user and the `postdrop` group, created by the package;
//! - a root-owned queue directory that the `postfix` user can reach (every parent directory
//!   searchable); `postfix check` creates its subdirectories with the right owners;
//! - a `data_directory` owned by `postfix`;
//! - `maillog_file` under one of `maillog_file_prefixes` (default `/var, /dev/stdout`), so the
//!   scratch directory is added there, and a `postlog` service in master.cf;
//! - no chroot in master.cf (a chroot would need a copy of /etc files in the queue directory).
//!
//! The configuration makes every message get exactly one delivery attempt: with
//! `maximal_queue_lifetime = 0` (and `bounce_queue_lifetime = 0` for the null sender) `qmgr`
//! gives up on a message right after its first attempt if a recipient was deferred, logging
//! one `status=expired, returned to sender` record per message, and the `bounce` daemon returns
//! it to the sender (a non-delivery notice, besides the one for bounced recipients). Nothing is
//! retried, so the counts do not depend on timing.
//!
//! [`virtual_maildir`] adds settings that deliver one domain's mail into a Maildir with the
//! `virtual` agent (present in master.cf, unused otherwise): the bounce-mailbox tests send from
//! that domain and read the DSNs Postfix returns there.

use std::fmt::Write as _;
use std::fs;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::client::SmtpClient;
use super::hosts::PrivateHosts;
use super::util::{self, free_port, process_alive, require_tool, run, wait_for};

/// What the test wants of the private instance, beyond the fixed loopback settings.
#[derive(Debug, Clone, Default)]
pub struct PostfixConfig {
    /// `transport_maps` (texthash): domain → transport, e.g. `smtp:[127.0.0.2]:2525`,
    /// `discard:`.
    pub transports: Vec<(String, String)>,
    /// Domains the private `smtpd` accepts mail for from anyone (`relay_domains`).
    pub relay_domains: Vec<String>,
    /// `check_client_access cidr:` entries (client restrictions of the inbound `smtpd`).
    pub client_access: Vec<(String, String)>,
    /// `check_recipient_access texthash:` entries.
    pub recipient_access: Vec<(String, String)>,
    /// `warn_if_reject check_recipient_access texthash:` entries (logged as `reject_warning`).
    pub recipient_warn: Vec<(String, String)>,
    /// `header_checks = regexp:` rules: pattern (with its slashes) → action.
    pub header_checks: Vec<(String, String)>,
    /// More main.cf settings: each replaces the default of the same name (written last).
    pub main_cf: Vec<(String, String)>,
    /// Host names only this instance resolves (a provider's MX name for a sink address), for
    /// nexthops such as `smtp:[gmail-smtp-in.l.google.com]:2525`: see [`PrivateHosts`].
    pub hosts: Vec<(Ipv4Addr, String)>,
}

pub struct PostfixInstance {
    root: PathBuf,
    config_dir: PathBuf,
    queue_dir: PathBuf,
    maillog: PathBuf,
    /// The `smtpd` with the inbound restrictions.
    pub inbound: SocketAddr,
    /// An `smtpd` without restrictions that relays for 127.0.0.0/8, for mail the test sends out
    /// (logged as `postfix/submission/smtpd`).
    pub submission: SocketAddr,
    /// The hosts file `master` and its daemons see, if the test named hosts.
    hosts: Option<PrivateHosts>,
    running: bool,
}

impl PostfixInstance {
    /// Writes the configuration under `dir` and starts the instance; returns when both `smtpd`
    /// services greet. Fails the test (with a hint) if Postfix is not installed.
    pub fn start(dir: &Path, cfg: &PostfixConfig) -> Result<PostfixInstance, String> {
        require_tool("postfix");
        require_tool("postqueue");
        if util::user_id("postfix").is_none() || util::group_id("postdrop").is_none() {
            return Err(format!(
                "the `postfix` user or `postdrop` group is missing: {}",
                util::INSTALL_HINT
            ));
        }
        let root = dir.to_path_buf();
        let config_dir = root.join("etc");
        let queue_dir = root.join("spool");
        let data_dir = root.join("data");
        let maillog = root.join("maillog");
        assert_ne!(
            config_dir,
            Path::new("/etc/postfix"),
            "never the system instance"
        );
        for d in [&root, &config_dir, &queue_dir, &data_dir] {
            fs::create_dir_all(d).map_err(|e| format!("mkdir {}: {e}", d.display()))?;
            util::set_mode(d, 0o755);
        }
        let uid = util::user_id("postfix").unwrap_or(0);
        let gid = util::group_id("postfix").unwrap_or(0);
        std::os::unix::fs::chown(&data_dir, Some(uid), Some(gid))
            .map_err(|e| format!("chown postfix {}: {e}", data_dir.display()))?;

        let lo = Ipv4Addr::LOCALHOST;
        let inbound = SocketAddr::V4(SocketAddrV4::new(lo, free_port(lo)));
        let submission = SocketAddr::V4(SocketAddrV4::new(lo, free_port(lo)));

        let etc = config_dir.display().to_string();
        let write = |name: &str, text: &str| -> Result<(), String> {
            let p = config_dir.join(name);
            fs::write(&p, text).map_err(|e| format!("write {}: {e}", p.display()))
        };
        write("main.cf", &main_cf(&root, &etc, cfg))?;
        write("master.cf", &master_cf(inbound, submission))?;
        write("transport", &table(&cfg.transports))?;
        write("client_access", &table(&cfg.client_access))?;
        write("recipient_access", &table(&cfg.recipient_access))?;
        write("recipient_warn", &table(&cfg.recipient_warn))?;
        write("header_checks", &table(&cfg.header_checks))?;
        let hosts = if cfg.hosts.is_empty() {
            None
        } else {
            let entries: Vec<(Ipv4Addr, &str)> =
                cfg.hosts.iter().map(|(ip, n)| (*ip, n.as_str())).collect();
            Some(PrivateHosts::write(&root, &entries)?)
        };

        let mut inst = PostfixInstance {
            root,
            config_dir,
            queue_dir,
            maillog,
            inbound,
            submission,
            hosts,
            running: false,
        };
        // `postfix check` creates the queue's subdirectories with the right owners.
        inst.postfix("check")?;
        inst.postfix("start")?;
        inst.running = true;
        for addr in [inst.inbound, inst.submission] {
            if let Err(e) = SmtpClient::await_greeting(addr, Duration::from_secs(20), || None) {
                return Err(format!(
                    "private Postfix: {e}; maillog:\n{}",
                    inst.maillog_tail(40)
                ));
            }
        }
        Ok(inst)
    }

    fn postfix(&self, action: &str) -> Result<(), String> {
        let postfix = require_tool("postfix");
        // `master` starts in the namespace of the test's hosts file and stays there.
        let mut cmd = match (&self.hosts, action) {
            (Some(h), "start") => h.command(&postfix),
            _ => Command::new(postfix),
        };
        let (ok, out) = run(cmd.arg("-c").arg(&self.config_dir).arg(action));
        if ok {
            Ok(())
        } else {
            Err(format!(
                "`postfix -c {} {action}` failed: {out}\nmaillog:\n{}",
                self.config_dir.display(),
                self.maillog_tail(40)
            ))
        }
    }

    pub fn config_dir(&self) -> &Path {
        &self.config_dir
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The file Postfix logs to (`maillog_file`).
    pub fn maillog_path(&self) -> &Path {
        &self.maillog
    }

    pub fn maillog(&self) -> String {
        fs::read(&self.maillog)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    pub fn maillog_tail(&self, n: usize) -> String {
        let log = self.maillog();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// Messages in the queue (`postqueue -j`: one JSON object per message, all queues).
    pub fn queue_len(&self) -> Result<usize, String> {
        let out = Command::new(require_tool("postqueue"))
            .arg("-c")
            .arg(&self.config_dir)
            .arg("-j")
            .output()
            .map_err(|e| format!("postqueue: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "postqueue -j failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.trim_start().starts_with('{'))
            .count())
    }

    /// Waits until the queue has been empty for three polls in a row.
    pub fn wait_queue_empty(&self, timeout: Duration) -> Result<(), String> {
        let mut empty_polls = 0;
        let done = wait_for(timeout, Duration::from_millis(100), || {
            match self.queue_len() {
                Ok(0) => empty_polls += 1,
                _ => empty_polls = 0,
            }
            (empty_polls >= 3).then_some(())
        });
        done.ok_or_else(|| {
            format!(
                "the queue of the private Postfix is not empty after {timeout:?} ({:?} messages); \
                 maillog tail:\n{}",
                self.queue_len(),
                self.maillog_tail(30)
            )
        })
    }

    fn master_pid(&self) -> Option<u32> {
        fs::read_to_string(self.queue_dir.join("pid/master.pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// `postfix stop`, and waits for `master` to exit (`postfix abort` and then SIGKILL to
    /// that one pid if it does not).
    pub fn stop(&mut self) -> Result<(), String> {
        if !self.running {
            return Ok(());
        }
        self.running = false;
        let pid = self.master_pid();
        let stopped = self.postfix("stop");
        let gone = |t| match pid {
            Some(p) => wait_for(t, Duration::from_millis(50), || {
                (!process_alive(p)).then_some(())
            })
            .is_some(),
            None => true,
        };
        if gone(Duration::from_secs(10)) {
            return stopped;
        }
        let _ = self.postfix("abort");
        if gone(Duration::from_secs(5)) {
            return stopped;
        }
        if let Some(p) = pid {
            let _ = run(Command::new("kill").arg("-KILL").arg(p.to_string()));
        }
        Err(format!("Postfix master (pid {pid:?}) did not stop"))
    }
}

impl Drop for PostfixInstance {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            eprintln!("stopping the private Postfix: {e}");
        }
    }
}

fn table(entries: &[(String, String)]) -> String {
    entries.iter().fold(String::new(), |mut s, (k, v)| {
        let _ = writeln!(s, "{k}\t{v}");
        s
    })
}

fn main_cf(root: &Path, etc: &str, cfg: &PostfixConfig) -> String {
    let root = root.display();
    let s = format!(
        "\
# Private Postfix instance of the smtp-status-exporter end-to-end tests (tests/it/harness).
compatibility_level = 3.6
queue_directory = {root}/spool
data_directory = {root}/data
maillog_file = {root}/maillog
maillog_file_prefixes = {root}
mail_owner = postfix
setgid_group = postdrop
myhostname = mta.e2e.test
mydomain = e2e.test
myorigin = $myhostname
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relay_domains = {relay}
transport_maps = texthash:{etc}/transport
biff = no
append_dot_mydomain = no
readme_directory = no
# No postmaster notices: they would add mail the test does not count.
notify_classes =

# No DNS: every nexthop is [ip]:port or [name]:port with the name in the test's hosts file
# (harness/hosts.rs), and smtpd does not look up client names.
smtp_dns_support_level = disabled
smtp_host_lookup = native
smtpd_peername_lookup = no

# One delivery attempt per message: a message with a deferred recipient expires right after
# its first attempt (qmgr logs status=expired, and a delay notice goes to the sender).
maximal_queue_lifetime = 0
bounce_queue_lifetime = 0
delay_warning_time = 0
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
smtp_connect_timeout = 5s
smtp_helo_timeout = 20s

# Inbound restrictions of the private smtpd (the submission service turns them off).
smtpd_error_sleep_time = 0
smtpd_delay_reject = yes
smtpd_client_restrictions = check_client_access cidr:{etc}/client_access
smtpd_relay_restrictions = reject_unauth_destination
smtpd_recipient_restrictions = check_recipient_access texthash:{etc}/recipient_access,
    warn_if_reject check_recipient_access texthash:{etc}/recipient_warn
header_checks = regexp:{etc}/header_checks
",
        relay = cfg.relay_domains.join(", "),
    );
    // A setting given twice makes every Postfix program warn "overriding earlier entry" at
    // start; with maillog_file those warnings all go to postlogd, which can fill its own socket
    // and hang the instance. So a test's setting replaces the default line instead.
    let overridden = |line: &str| {
        cfg.main_cf
            .iter()
            .any(|(k, _)| line.split('=').next().is_some_and(|key| key.trim() == k))
    };
    let mut out = String::new();
    let mut skipping = false;
    for line in s.lines() {
        // A continuation line (leading white space) belongs to the setting above it.
        let continuation = line.starts_with([' ', '\t']);
        if !continuation {
            skipping = !line.starts_with('#') && overridden(line);
        }
        if !skipping {
            out.push_str(line);
            out.push('\n');
        }
    }
    for (k, v) in &cfg.main_cf {
        let _ = writeln!(out, "{k} = {v}");
    }
    out
}

fn master_cf(inbound: SocketAddr, submission: SocketAddr) -> String {
    format!(
        "\
# service   type  private unpriv  chroot  wakeup  maxproc command + args
{inbound} inet n - n - - smtpd
{submission} inet n - n - - smtpd
  -o syslog_name=postfix/submission
  -o smtpd_client_restrictions=
  -o smtpd_helo_restrictions=
  -o smtpd_sender_restrictions=
  -o smtpd_recipient_restrictions=
  -o smtpd_relay_restrictions=permit_mynetworks,reject
  -o receive_override_options=no_header_body_checks
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
  -o syslog_name=postfix/$service_name
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
virtual   unix  -       n       n       -       -       virtual
"
    )
}

/// main.cf settings (for [`PostfixConfig::main_cf`]) under which the private instance delivers
/// all mail for `domain` with its `virtual` agent into the Maildir `maildir` (created here with
/// `new/`, `cur/`, `tmp/`, owned by `nobody`, which the deliveries run as). With a sender of
/// that domain, the delivery status notifications Postfix sends back (bounces, delay warnings,
/// expiries) land there as real DSNs.
pub fn virtual_maildir(domain: &str, maildir: &Path) -> Result<Vec<(String, String)>, String> {
    let base = maildir
        .parent()
        .ok_or_else(|| format!("{} has no parent directory", maildir.display()))?;
    let name = maildir
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| format!("{} has no usable name", maildir.display()))?;
    let uid = util::user_id("nobody").ok_or("no user `nobody`")?;
    let gid = util::group_id("nogroup").unwrap_or(uid);
    for d in [
        maildir.to_path_buf(),
        maildir.join("new"),
        maildir.join("cur"),
        maildir.join("tmp"),
    ] {
        fs::create_dir_all(&d).map_err(|e| format!("mkdir {}: {e}", d.display()))?;
        std::os::unix::fs::chown(&d, Some(uid), Some(gid))
            .map_err(|e| format!("chown nobody {}: {e}", d.display()))?;
        util::set_mode(&d, 0o755);
    }
    Ok([
        ("virtual_mailbox_domains", domain.to_owned()),
        ("virtual_mailbox_base", base.display().to_string()),
        // A trailing slash: Maildir, not mbox.
        (
            "virtual_mailbox_maps",
            format!("inline:{{ @{domain}={name}/ }}"),
        ),
        ("virtual_uid_maps", format!("static:{uid}")),
        ("virtual_gid_maps", format!("static:{gid}")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect())
}
