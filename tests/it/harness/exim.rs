//! A private Exim 4 on loopback, from Debian's `exim4-daemon-light` package.
//!
//! Debian's MTAs conflict with each other (`Provides`/`Conflicts: mail-transport-agent`), so
//! Exim is not installed as a package beside the Postfix the other tests use:
//! `scripts/install-test-deps` unpacks `exim4-base`, `exim4-config` and `exim4-daemon-light`
//! with `dpkg-deb -x` into [`EXIM_ROOT`] (no maintainer scripts, nothing in /etc) and creates
//! the `Debian-exim` user the binary runs as.
//!
//! How the daemon runs without an init system: the test starts
//! `EXIM_ROOT/usr/sbin/exim4 -C CONF -bdf -oX PORT -oP PIDFILE` as a child process — `-bdf`
//! is the listening daemon in the foreground, `-C` the test's own configuration (written
//! under the test's scratch directory), no `-q`: there is no periodic queue runner, the test
//! runs the queue itself ([`EximInstance::queue_run`]) so every delivery attempt is one the
//! test asked for. The configuration sets everything that would otherwise point into the
//! system: `exim_path` (Exim re-executes itself for deliveries; the compiled-in path is
//! /usr/sbin/exim4), `spool_directory`, `log_file_path` (`mainlog` and `rejectlog` in the
//! scratch directory), `exim_user`/`exim_group`, `primary_hostname`, no DNS (`manualroute`
//! to loopback addresses only), no ident or host lookups, no TLS. Running as root with `-C`,
//! Exim logs `exim user lost privilege for using -C option` for its re-executed delivery
//! processes: they run as `Debian-exim`, which is all SMTP delivery needs. The daemon is
//! stopped with SIGTERM (and killed on drop).
//!
//! A test may give a sink address a real host name ([`EximConfig::hosts`], e.g. Gmail's MX
//! `gmail-smtp-in.l.google.com`), so that Exim logs it as it would a provider's MX (`H=name
//! [address]`): each Exim process of the instance (the daemon, and every `exim -q` or admin
//! command the test runs; deliveries are their children) then starts in a mount namespace of
//! its own (`unshare -m`, private propagation) where a hosts file the test writes is bound
//! over `/etc/hosts`, and the route is `route_list = * NAME byname`. The machine's own
//! `/etc/hosts` is never touched.

use std::fs;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::client::SmtpClient;
use super::hosts::PrivateHosts;
use super::util::{self, free_port, run, wait_for};

/// Where `scripts/install-test-deps` unpacks Debian's exim4 packages.
pub const EXIM_ROOT: &str = "/opt/smtp-status-exporter-test/exim4";

/// The Exim binary of [`EXIM_ROOT`], or a failed test saying how to install it.
pub fn binary() -> PathBuf {
    let bin = Path::new(EXIM_ROOT).join("usr/sbin/exim4");
    assert!(
        bin.is_file(),
        "{} is missing (Exim is unpacked there, not installed as a package, because Debian's \
         MTAs conflict): {}",
        bin.display(),
        util::INSTALL_HINT
    );
    bin
}

/// The version line of the unpacked Exim (`Exim version 4.96 #2 built …`).
pub fn version() -> String {
    let out = Command::new(binary()).arg("-bV").output();
    out.map(|o| {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .next()
            .unwrap_or("")
            .to_owned()
    })
    .unwrap_or_default()
}

/// The test's choices, put into the generated configuration.
#[derive(Debug, Clone, Default)]
pub struct EximConfig {
    /// `manualroute` routes: domain → (loopback address, port), one `smtp` transport each.
    pub routes: Vec<(String, Ipv4Addr, u16)>,
    /// Domains received for local (`:blackhole:`) delivery.
    pub local_domains: Vec<String>,
    /// Retry rules, `begin retry` lines, in order (e.g. `exp.test * F,3s,1s`).
    pub retry: Vec<String>,
    /// The ACLs, verbatim: `acl_smtp_*` settings and the `begin acl` section's body.
    pub acl_settings: Vec<(String, String)>,
    pub acls: String,
    /// Host names of route addresses, in the hosts file Exim's processes see: a route to one
    /// of these addresses goes to the name (`byname`), which Exim then logs.
    pub hosts: Vec<(String, Ipv4Addr)>,
}

pub struct EximInstance {
    root: PathBuf,
    conf: PathBuf,
    /// The hosts file bound over `/etc/hosts` for Exim's processes, if the test names hosts.
    hosts_file: Option<PrivateHosts>,
    log_dir: PathBuf,
    /// Where the daemon listens.
    pub addr: SocketAddr,
    daemon: Option<Child>,
}

impl EximInstance {
    /// Writes the configuration under `dir` and starts the daemon; returns when it greets.
    pub fn start(dir: &Path, cfg: &EximConfig) -> Result<EximInstance, String> {
        let bin = binary();
        let (Some(uid), Some(gid)) = (util::user_id("Debian-exim"), util::group_id("Debian-exim"))
        else {
            return Err(format!(
                "the `Debian-exim` user or group is missing: {}",
                util::INSTALL_HINT
            ));
        };
        let root = dir.to_path_buf();
        let spool = root.join("spool");
        let log_dir = root.join("log");
        for d in [&root, &spool, &log_dir] {
            fs::create_dir_all(d).map_err(|e| format!("mkdir {}: {e}", d.display()))?;
            util::set_mode(d, 0o755);
        }
        for d in [&spool, &log_dir] {
            std::os::unix::fs::chown(d, Some(uid), Some(gid))
                .map_err(|e| format!("chown Debian-exim {}: {e}", d.display()))?;
        }
        // Both logs exist from the start (as after a logrotate run), so that a reader of the
        // reject log finds it before the first refusal; Exim appends to them.
        for name in ["mainlog", "rejectlog"] {
            let p = log_dir.join(name);
            fs::write(&p, b"").map_err(|e| format!("create {}: {e}", p.display()))?;
            util::set_mode(&p, 0o640);
            std::os::unix::fs::chown(&p, Some(uid), Some(gid))
                .map_err(|e| format!("chown Debian-exim {}: {e}", p.display()))?;
        }
        let lo = Ipv4Addr::LOCALHOST;
        let addr = SocketAddr::V4(SocketAddrV4::new(lo, free_port(lo)));
        let conf = root.join("exim.conf");
        fs::write(&conf, configuration(&bin, &root, cfg))
            .map_err(|e| format!("write {}: {e}", conf.display()))?;
        util::set_mode(&conf, 0o644);
        let names: Vec<(Ipv4Addr, &str)> =
            cfg.hosts.iter().map(|(n, ip)| (*ip, n.as_str())).collect();
        let hosts_file = (!names.is_empty())
            .then(|| PrivateHosts::write(&root, &names))
            .transpose()?;

        let out =
            fs::File::create(root.join("daemon.out")).map_err(|e| format!("daemon.out: {e}"))?;
        let err = out.try_clone().map_err(|e| format!("daemon.out: {e}"))?;
        let daemon = exim_command(&bin, hosts_file.as_ref())
            .arg("-C")
            .arg(&conf)
            .arg("-bdf")
            .arg("-oX")
            .arg(addr.port().to_string())
            .arg("-oP")
            .arg(root.join("exim.pid"))
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
        let mut inst = EximInstance {
            root,
            conf,
            hosts_file,
            log_dir,
            addr,
            daemon: Some(daemon),
        };
        if let Err(e) = SmtpClient::await_greeting(addr, Duration::from_secs(20), || None) {
            let said = fs::read_to_string(inst.root.join("daemon.out")).unwrap_or_default();
            inst.stop();
            return Err(format!(
                "private Exim: {e}; its output:\n{said}\nmainlog:\n{}",
                inst.mainlog()
            ));
        }
        Ok(inst)
    }

    pub fn conf(&self) -> &Path {
        &self.conf
    }

    pub fn mainlog_path(&self) -> PathBuf {
        self.log_dir.join("mainlog")
    }

    pub fn rejectlog_path(&self) -> PathBuf {
        self.log_dir.join("rejectlog")
    }

    pub fn mainlog(&self) -> String {
        fs::read(self.mainlog_path())
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    fn exim(&self) -> Command {
        let mut c = exim_command(&binary(), self.hosts_file.as_ref());
        c.arg("-C").arg(&self.conf);
        c
    }

    /// One queue run in the foreground (`exim -q`): every message on the queue is tried once,
    /// each address whose retry time has not come logged as such.
    pub fn queue_run(&self) -> Result<(), String> {
        let (ok, out) = run(self.exim().arg("-q"));
        ok.then_some(())
            .ok_or_else(|| format!("`exim -q` failed: {out}"))
    }

    /// Messages on the queue (`exim -bpc`).
    pub fn queue_len(&self) -> Result<usize, String> {
        let (ok, out) = run(self.exim().arg("-bpc"));
        if !ok {
            return Err(format!("`exim -bpc` failed: {out}"));
        }
        out.trim()
            .parse()
            .map_err(|e| format!("`exim -bpc` printed {out:?}: {e}"))
    }

    /// Exim processes of this instance besides the daemon: receptions, deliveries, bounces.
    fn busy(&self) -> usize {
        let conf = self.conf.as_os_str().as_encoded_bytes();
        let daemon = self.daemon.as_ref().map(Child::id);
        let Ok(dir) = fs::read_dir("/proc") else {
            return 0;
        };
        dir.filter_map(Result::ok)
            .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
            .filter(|pid| Some(*pid) != daemon && util::process_alive(*pid))
            .filter(|pid| {
                fs::read(format!("/proc/{pid}/cmdline"))
                    .is_ok_and(|c| c.split(|&b| b == 0).any(|arg| arg == conf))
            })
            .count()
    }

    /// Waits until no reception or delivery of this instance is running (twice in a row, a
    /// short while apart: a delivery may start another for a bounce).
    pub fn wait_idle(&self, timeout: Duration) -> Result<(), String> {
        let mut quiet = 0;
        let done = wait_for(timeout, Duration::from_millis(100), || {
            quiet = if self.busy() == 0 { quiet + 1 } else { 0 };
            (quiet >= 3).then_some(())
        });
        done.ok_or_else(|| {
            format!(
                "Exim still had {} process(es) running after {timeout:?}",
                self.busy()
            )
        })
    }

    /// SIGTERM to the daemon, then its exit.
    pub fn stop(&mut self) {
        if let Some(mut d) = self.daemon.take() {
            let _ = run(Command::new("kill").arg("-TERM").arg(d.id().to_string()));
            let gone = wait_for(Duration::from_secs(10), Duration::from_millis(50), || {
                d.try_wait().ok().flatten()
            });
            if gone.is_none() {
                let _ = d.kill();
                let _ = d.wait();
            }
        }
    }

    /// Runs `exim -C CONF ARGS…` for this instance (e.g. `-Mf ID`, `-Mrm ID…`, `-bp`);
    /// its output, or an error with it.
    pub fn admin(&self, args: &[&str]) -> Result<String, String> {
        let (ok, out) = run(self.exim().args(args));
        ok.then_some(out.clone())
            .ok_or_else(|| format!("`exim {}` failed: {out}", args.join(" ")))
    }
}

impl Drop for EximInstance {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `exim`, or with a hosts file: `exim` in a mount namespace of its own where that file is
/// `/etc/hosts` ([`PrivateHosts`]); the child's pid is Exim's (`unshare` and `sh` exec).
fn exim_command(bin: &Path, hosts: Option<&PrivateHosts>) -> Command {
    match hosts {
        Some(h) => h.command(bin),
        None => Command::new(bin),
    }
}

/// The whole configuration file.
fn configuration(bin: &Path, root: &Path, cfg: &EximConfig) -> String {
    let relay: Vec<&str> = cfg.routes.iter().map(|(d, _, _)| d.as_str()).collect();
    let locals = if cfg.local_domains.is_empty() {
        "!*".to_owned()
    } else {
        cfg.local_domains.join(" : ")
    };
    let mut s = format!(
        "# Written by tests/it/harness/exim.rs for one test run.\n\
         exim_path = {bin}\n\
         exim_user = Debian-exim\n\
         exim_group = Debian-exim\n\
         primary_hostname = exim.e2e.test\n\
         spool_directory = {root}/spool\n\
         log_file_path = {root}/log/%slog\n\
         keep_environment =\n\
         tls_advertise_hosts =\n\
         host_lookup =\n\
         rfc1413_hosts =\n\
         rfc1413_query_timeout = 0s\n\
         never_users = root\n\
         # Deliver every message at once, however many one connection brings (default: the\n\
         # 11th and later are only queued).\n\
         smtp_accept_queue_per_connection = 0\n\
         local_interfaces = 127.0.0.1\n\
         # Debian's default log_selector, plus the pid Debian's init script asks for.\n\
         log_selector = +smtp_confirmation +pid\n\
         domainlist local_domains = {locals}\n\
         domainlist relay_to_domains = {relay}\n\
         hostlist relay_from_hosts = 127.0.0.1\n",
        bin = bin.display(),
        root = root.display(),
        relay = if relay.is_empty() {
            "!*".to_owned()
        } else {
            relay.join(" : ")
        },
    );
    for (k, v) in &cfg.acl_settings {
        s.push_str(&format!("{k} = {v}\n"));
    }
    s.push_str("\nbegin acl\n");
    s.push_str(&cfg.acls);
    s.push_str("\nbegin routers\n");
    for (i, (domain, ip, _)) in cfg.routes.iter().enumerate() {
        let host = match cfg.hosts.iter().find(|(_, a)| a == ip) {
            Some((name, _)) => format!("{name} byname"),
            None => ip.to_string(),
        };
        s.push_str(&format!(
            "route{i}:\n  driver = manualroute\n  domains = {domain}\n  route_list = * {host}\n  transport = smtp{i}\n"
        ));
    }
    s.push_str(
        "local_blackhole:\n  driver = redirect\n  domains = +local_domains\n  data = :blackhole:\n",
    );
    s.push_str("\nbegin transports\n");
    for (i, (_, _, port)) in cfg.routes.iter().enumerate() {
        s.push_str(&format!("smtp{i}:\n  driver = smtp\n  port = {port}\n"));
    }
    s.push_str("\nbegin retry\n");
    for r in &cfg.retry {
        s.push_str(r);
        s.push('\n');
    }
    s.push_str("\nbegin rewrite\n");
    s
}
