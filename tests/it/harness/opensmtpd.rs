//! A private OpenSMTPD on loopback, from Debian 12's `opensmtpd` package (6.8.0p2), unpacked
//! (not installed: it conflicts with Postfix) by `scripts/install-test-deps` under [`ROOT`].
//!
//! How it runs without an init system or a system syslog:
//! - started in the FOREGROUND by the test: `smtpd -F -f CONF` (`-F`: do not daemonize, and
//!   still log through syslog — unlike `-d`, whose stderr lines carry no tag, pid or session
//!   layout of their own, so they would not be the lines a real `mail.log` holds);
//! - inside [`syslogd::private_namespace`]: its `/dev/log` is the test's [`Syslogd`], the test's
//!   `spool` directory is bind-mounted over the compiled-in `/var/spool/smtpd` (so the queue is
//!   the test's, and the real directory, created empty by install-test-deps, stays empty), and
//!   `/run` is a private tmpfs (the control socket `/var/run/smtpd.sock`);
//! - as root; it drops to the `opensmtpd`/`opensmtpq` users install-test-deps creates, and
//!   chroots into `/var/lib/opensmtpd/empty`.
//!
//! Routing: one `relay host smtp://IP:PORT` action per sink domain, and one to a closed port.
//! `queue ttl` is a few seconds: a deferred envelope (first retry 15 minutes later) expires
//! with `relay: Expire for …` before it is tried again. Inbound refusals come from builtin
//! filters (`phase rcpt-to match rcpt-to … reject "…"`, the same for `mail-from`) and from recipients no rule accepts
//! (`550 Invalid recipient`).

use std::fmt::Write as _;
use std::fs;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::client::SmtpClient;
use super::syslogd::{self, Namespace, Syslogd};
use super::util::{self, free_port, run, wait_for};

/// Where `scripts/install-test-deps` unpacks the package.
pub const ROOT: &str = "/opt/smtp-status-exporter-test/opensmtpd";
pub const HOSTNAME: &str = "mx.e2e.test";

#[derive(Debug, Clone, Default)]
pub struct OpenSmtpdConfig {
    pub sink_port: u16,
    /// Domains relayed to the sink, each with the sink's address for it.
    pub sink_routes: Vec<(String, Ipv4Addr)>,
    /// Domains relayed to a port where nothing listens.
    pub down_domains: Vec<String>,
    pub closed_port: u16,
    /// Domains accepted from any client (the others only from 127.0.0.1 and local bounces).
    pub open_domains: Vec<String>,
    /// Builtin `rcpt-to` filters: (regex on the recipient, reply).
    pub rcpt_rejects: Vec<(String, String)>,
    /// Builtin `mail-from` filters: (regex on the sender, reply).
    pub mail_rejects: Vec<(String, String)>,
    /// `queue ttl`, in seconds.
    pub ttl_secs: u64,
    /// Sink addresses reached under a host name (a provider's MX name): written to the
    /// daemon's own hosts file, and the domains routed to such an address go to the name.
    pub sink_names: Vec<(Ipv4Addr, String)>,
}

pub struct OpenSmtpdInstance {
    spool: PathBuf,
    pub addr: SocketAddr,
    dir: PathBuf,
    child: Option<Child>,
    syslog: Syslogd,
}

impl OpenSmtpdInstance {
    pub fn start(dir: &Path, cfg: &OpenSmtpdConfig) -> Result<OpenSmtpdInstance, String> {
        let smtpd = Path::new(ROOT).join("usr/sbin/smtpd");
        assert!(
            smtpd.exists(),
            "{} is missing (Debian's opensmtpd unpacked by the test set-up): {}",
            smtpd.display(),
            util::INSTALL_HINT
        );
        for user in ["opensmtpd", "opensmtpq"] {
            if util::user_id(user).is_none() {
                return Err(format!(
                    "the `{user}` user is missing: {}",
                    util::INSTALL_HINT
                ));
            }
        }
        let spool = dir.join("spool");
        fs::create_dir_all(&spool).map_err(|e| e.to_string())?;
        util::set_mode(&spool, 0o711);
        let lo = Ipv4Addr::LOCALHOST;
        let port = free_port(lo);
        let mut conf = format!("queue ttl {}s\n", cfg.ttl_secs);
        let mut names = Vec::new();
        for (i, (re, reply)) in cfg.rcpt_rejects.iter().enumerate() {
            let _ = writeln!(
                conf,
                "filter f{i} phase rcpt-to match rcpt-to regex \"{re}\" reject \"{reply}\""
            );
            names.push(format!("f{i}"));
        }
        for (i, (re, reply)) in cfg.mail_rejects.iter().enumerate() {
            let _ = writeln!(
                conf,
                "filter m{i} phase mail-from match mail-from regex \"{re}\" reject \"{reply}\""
            );
            names.push(format!("m{i}"));
        }
        if names.is_empty() {
            let _ = writeln!(conf, "listen on 127.0.0.1 port {port}");
        } else {
            let _ = writeln!(conf, "filter inbound chain {{ {} }}", names.join(", "));
            let _ = writeln!(conf, "listen on 127.0.0.1 port {port} filter inbound");
        }
        let mut routes: Vec<(String, String)> = cfg
            .sink_routes
            .iter()
            .map(|(d, ip)| {
                let host = match cfg.sink_names.iter().find(|(a, _)| a == ip) {
                    Some((_, name)) => name.clone(),
                    None => ip.to_string(),
                };
                (d.clone(), format!("smtp://{host}:{}", cfg.sink_port))
            })
            .collect();
        routes.extend(
            cfg.down_domains
                .iter()
                .map(|d| (d.clone(), format!("smtp://127.0.0.1:{}", cfg.closed_port))),
        );
        for (i, (domain, host)) in routes.iter().enumerate() {
            let _ = writeln!(conf, "action \"a{i}\" relay host {host}");
            let from: &[&str] = if cfg.open_domains.contains(domain) {
                &["any", "local"]
            } else {
                &["src 127.0.0.1", "local"]
            };
            for f in from {
                let _ = writeln!(
                    conf,
                    "match from {f} for domain \"{domain}\" action \"a{i}\""
                );
            }
        }
        let conf_path = dir.join("smtpd.conf");
        fs::write(&conf_path, &conf).map_err(|e| e.to_string())?;
        let mut hosts = format!("127.0.0.1 localhost {HOSTNAME} mx\n");
        for (ip, name) in &cfg.sink_names {
            let _ = writeln!(hosts, "{ip} {name}");
        }
        fs::write(dir.join("hosts"), hosts).map_err(|e| e.to_string())?;
        let (ok, text) = run(Command::new(&smtpd).arg("-n").arg("-f").arg(&conf_path));
        if !ok {
            return Err(format!("smtpd -n: {text}\n{conf}"));
        }
        let syslog = Syslogd::start(dir)?;
        let ns = Namespace {
            hosts: Some(dir.join("hosts")),
            hostname: Some(HOSTNAME.into()),
            binds: vec![(spool.clone(), PathBuf::from("/var/spool/smtpd"))],
            tmpfs: vec![PathBuf::from("/run")],
        };
        let stderr = fs::File::create(dir.join("smtpd.stderr")).map_err(|e| e.to_string())?;
        let child = syslogd::private_namespace(
            dir,
            &syslog,
            &ns,
            &smtpd,
            &["-F", "-f", conf_path.to_str().unwrap_or_default()],
        )
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(stderr))
        .spawn()
        .map_err(|e| format!("starting smtpd: {e}"))?;
        let addr = SocketAddr::V4(SocketAddrV4::new(lo, port));
        let mut inst = OpenSmtpdInstance {
            spool,
            addr,
            dir: dir.to_path_buf(),
            child: Some(child),
            syslog,
        };
        let child = &mut inst.child;
        let up = SmtpClient::await_greeting(addr, Duration::from_secs(60), || {
            match child.as_mut().map(Child::try_wait) {
                Some(Ok(Some(status))) => Some(format!("smtpd exited with {status}")),
                _ => None,
            }
        });
        match up {
            Ok(()) => Ok(inst),
            Err(e) => Err(format!("smtpd: {e}\n{}", inst.diagnostics())),
        }
    }

    fn diagnostics(&self) -> String {
        format!(
            "smtpd stderr:\n{}\nlog:\n{}",
            fs::read_to_string(self.dir.join("smtpd.stderr")).unwrap_or_default(),
            self.log()
        )
    }

    pub fn log_path(&self) -> &Path {
        self.syslog.log_path()
    }

    pub fn log(&self) -> String {
        self.syslog.log()
    }

    /// Files in the queue and incoming directories of the spool (messages not yet finished).
    pub fn queue_files(&self) -> usize {
        fn count(p: &Path) -> usize {
            fs::read_dir(p)
                .map(|d| {
                    d.filter_map(Result::ok)
                        .map(|e| {
                            let p = e.path();
                            if p.is_dir() {
                                count(&p)
                            } else {
                                1
                            }
                        })
                        .sum()
                })
                .unwrap_or(0)
        }
        count(&self.spool.join("queue")) + count(&self.spool.join("incoming"))
    }

    /// The daemon's pid (the test's `unshare` exec'd smtpd): `nsenter -t PID -m` enters its
    /// mount namespace, where its control socket and spool are.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// A script that runs the unpacked `smtpctl` with its arguments inside the daemon's mount
    /// namespace (where `/var/run/smtpd.sock` is this daemon's), as a user's smtpctl would run.
    pub fn smtpctl_wrapper(&self) -> PathBuf {
        let path = self.dir.join("smtpctl");
        let script = format!(
            "#!/bin/sh\nexec {} -t {} -m {}/usr/sbin/smtpctl \"$@\"\n",
            util::require_tool("nsenter").display(),
            self.pid().unwrap_or_default(),
            ROOT
        );
        fs::write(&path, script).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        util::set_mode(&path, 0o755);
        path
    }

    /// Runs `smtpctl ARGS` against this daemon: (success, stdout and stderr).
    pub fn smtpctl(&self, args: &[&str]) -> (bool, String) {
        run(Command::new(self.smtpctl_wrapper()).args(args))
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = run(Command::new("kill").arg("-TERM").arg(c.id().to_string()));
            let gone = wait_for(Duration::from_secs(15), Duration::from_millis(100), || {
                c.try_wait().ok().flatten()
            });
            if gone.is_none() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
    }
}

impl Drop for OpenSmtpdInstance {
    fn drop(&mut self) {
        self.stop();
    }
}
