//! A private Sendmail on loopback, from Debian 12's `sendmail-bin`, `sendmail-base` and
//! `sendmail-cf` packages, unpacked (not installed: they conflict with Postfix) by
//! `scripts/install-test-deps` under [`ROOT`].
//!
//! How it runs without an init system or a system syslog:
//! - the configuration is built by the test: a `.mc` file run through `m4` with the package's
//!   `cf.m4`, every path in the test's directory (queue, pid file, statistics, aliases, access
//!   and mailertable maps built with the package's `makemap`, service switch, host file);
//! - the daemon is started in the FOREGROUND by the test: `sendmail -L sm-mta -bD -C CF`
//!   (`-bD`: daemon mode without forking away; `-L`: the syslog tag Debian's init script
//!   gives it), inside [`syslogd::private_namespace`] so that its syslog(3) lines reach the
//!   test's [`Syslogd`] and it sees a host name (`mx.e2e.test`) that its own `/etc/hosts`
//!   resolves (Sendmail waits for a qualified host name at start);
//! - no periodic queue runs: the test starts one queue run itself ([`SendmailInstance::run_queue`],
//!   `sendmail -qf`, logged under the tag `sendmail`), so every deferred recipient gets exactly
//!   two attempts, and with `Timeout.queuereturn` a few seconds long that run expires the
//!   deferred messages (`DSN: Cannot send message for …`);
//! - `DontBlameSendmail=MapInUnsafeDirPath`: the maps live under `/tmp` (world-writable).
//!
//! Routing: `mailertable` sends each sink domain to `esmtp:[ip]` (port: `ESMTP_MAILER_ARGS`
//! = the sink's port) and the unreachable domains to `relay:[127.0.0.1]` (port:
//! `RELAY_MAILER_ARGS` = a closed port). The `access` map gives the inbound refusals.

use std::fmt::Write as _;
use std::fs;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::client::SmtpClient;
use super::syslogd::{self, Namespace, Syslogd};
use super::util::{self, free_port, require_tool, run, wait_for};

/// Where `scripts/install-test-deps` unpacks the packages.
pub const ROOT: &str = "/opt/smtp-status-exporter-test/sendmail";
/// The host name the daemon runs under.
pub const HOSTNAME: &str = "mx.e2e.test";

#[derive(Debug, Clone, Default)]
pub struct SendmailConfig {
    /// The sink's port, and each domain it serves with the sink's address for it.
    pub sink_port: u16,
    pub sink_routes: Vec<(String, Ipv4Addr)>,
    /// Domains routed to a port where nothing listens.
    pub down_domains: Vec<String>,
    pub closed_port: u16,
    /// `access` map entries (`Connect:127.0.0.9` → `REJECT`, `To:x@y` → `ERROR:550 …`).
    pub access: Vec<(String, String)>,
    /// `Timeout.queuereturn`, in seconds.
    pub queue_return_secs: u64,
    /// The socket of a [`Milter`] to consult (`INPUT_MAIL_FILTER`).
    pub milter: Option<PathBuf>,
    /// Sink addresses reached under a host name (a provider's MX name): written to the
    /// daemon's own hosts file, and the domains routed to such an address go to the name.
    pub sink_names: Vec<(Ipv4Addr, String)>,
}

pub struct SendmailInstance {
    dir: PathBuf,
    cf: PathBuf,
    queue: PathBuf,
    ns: Namespace,
    pub addr: SocketAddr,
    child: Option<Child>,
    syslog: Syslogd,
}

fn binary(name: &str) -> PathBuf {
    let p = Path::new(ROOT).join("usr/libexec/sendmail").join(name);
    assert!(
        p.exists(),
        "{} is missing (Debian's sendmail-bin unpacked by the test set-up): {}",
        p.display(),
        util::INSTALL_HINT
    );
    p
}

impl SendmailInstance {
    pub fn start(dir: &Path, cfg: &SendmailConfig) -> Result<SendmailInstance, String> {
        let m4 = require_tool("m4");
        let sendmail = binary("sendmail");
        let makemap = binary("makemap");
        let cf_m4 = Path::new(ROOT).join("usr/share/sendmail/cf/m4/cf.m4");
        if !cf_m4.exists() {
            return Err(format!(
                "{} is missing: {}",
                cf_m4.display(),
                util::INSTALL_HINT
            ));
        }
        let queue = dir.join("queue");
        fs::create_dir_all(&queue).map_err(|e| e.to_string())?;
        util::set_mode(&queue, 0o700);
        let lo = Ipv4Addr::LOCALHOST;
        let port = free_port(lo);
        let d = dir.display();
        let write = |name: &str, text: &str| {
            fs::write(dir.join(name), text).map_err(|e| format!("write {name}: {e}"))
        };
        let mut hosts = format!("127.0.0.1 localhost {HOSTNAME} mx\n");
        for (ip, name) in &cfg.sink_names {
            let _ = writeln!(hosts, "{ip} {name}");
        }
        write("hosts", &hosts)?;
        write("service.switch", "hosts files\naliases files\n")?;
        write("aliases", "")?;
        write("local-host-names", &format!("{HOSTNAME}\n"))?;
        let mut access = String::new();
        for (k, v) in &cfg.access {
            let _ = writeln!(access, "{k}\t{v}");
        }
        write("access", &access)?;
        let mut mt = String::new();
        for (dom, ip) in &cfg.sink_routes {
            // A name without brackets: the service switch has no DNS, so no MX lookup; the
            // name is looked up in the hosts file.
            match cfg.sink_names.iter().find(|(a, _)| a == ip) {
                Some((_, name)) => writeln!(mt, "{dom}\tesmtp:{name}"),
                None => writeln!(mt, "{dom}\tesmtp:[{ip}]"),
            }
            .map_err(|e| e.to_string())?;
        }
        for dom in &cfg.down_domains {
            let _ = writeln!(mt, "{dom}\trelay:[127.0.0.1]");
        }
        write("mailertable", &mt)?;
        let mc = format!(
            "divert(-1)\ndivert(0)dnl\n\
             include(`{cf}')dnl\n\
             VERSIONID(`smtp-status-exporter e2e')dnl\n\
             OSTYPE(`linux')dnl\n\
             define(`confDOMAIN_NAME', `{HOSTNAME}')dnl\n\
             define(`confDONT_BLAME_SENDMAIL', `MapInUnsafeDirPath,TrustStickyBit')dnl\n\
             define(`confLOG_LEVEL', `9')dnl\n\
             define(`QUEUE_DIR', `{d}/queue')dnl\n\
             define(`STATUS_FILE', `{d}/statistics')dnl\n\
             define(`ALIAS_FILE', `{d}/aliases')dnl\n\
             define(`confPID_FILE', `{d}/sendmail.pid')dnl\n\
             define(`confSERVICE_SWITCH_FILE', `{d}/service.switch')dnl\n\
             define(`confHOSTS_FILE', `{d}/hosts')dnl\n\
             define(`confCW_FILE', `{d}/local-host-names')dnl\n\
             define(`confDONT_PROBE_INTERFACES', `True')dnl\n\
             define(`confTO_QUEUERETURN', `{qr}s')dnl\n\
             define(`confTO_QUEUEWARN', `1h')dnl\n\
             define(`confDELIVERY_MODE', `background')dnl\n\
             define(`ESMTP_MAILER_ARGS', `TCP $h {sink}')dnl\n\
             define(`RELAY_MAILER_ARGS', `TCP $h {closed}')dnl\n\
             FEATURE(`no_default_msa')dnl\n\
             FEATURE(`nocanonify')dnl\n\
             FEATURE(`accept_unresolvable_domains')dnl\n\
             FEATURE(`access_db', `hash -T<TMPF> -o {d}/access')dnl\n\
             FEATURE(`blocklist_recipients')dnl\n\
             FEATURE(`mailertable', `hash -o {d}/mailertable')dnl\n\
             DAEMON_OPTIONS(`Port={port}, Addr=127.0.0.1, Name=MTA')dnl\n\
             MAILER(`local')dnl\nMAILER(`smtp')dnl\n",
            cf = cf_m4.display(),
            qr = cfg.queue_return_secs,
            sink = cfg.sink_port,
            closed = cfg.closed_port,
        );
        let mc = match &cfg.milter {
            // F=T: a milter that does not answer tempfails the mail (no silent pass).
            Some(sock) => mc.replace(
                "MAILER(`local')",
                &format!(
                    "INPUT_MAIL_FILTER(`e2e', `S=unix:{}, F=T, T=S:10s;R:20s;E:1m')dnl\nMAILER(`local')",
                    sock.display()
                ),
            ),
            None => mc,
        };
        write("sendmail.mc", &mc)?;
        let cf = dir.join("sendmail.cf");
        let out = Command::new(&m4)
            .arg(dir.join("sendmail.mc"))
            .output()
            .map_err(|e| format!("m4: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "m4 failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        fs::write(&cf, &out.stdout).map_err(|e| e.to_string())?;
        for map in ["access", "mailertable"] {
            let src = fs::File::open(dir.join(map)).map_err(|e| e.to_string())?;
            let (ok, text) = run(Command::new(&makemap)
                .arg("-C")
                .arg(&cf)
                .arg("hash")
                .arg(dir.join(map))
                .stdin(Stdio::from(src)));
            if !ok {
                return Err(format!("makemap {map}: {text}"));
            }
        }
        let syslog = Syslogd::start(dir)?;
        let ns = Namespace {
            hosts: Some(dir.join("hosts")),
            hostname: Some(HOSTNAME.into()),
            ..Namespace::default()
        };
        let stderr = fs::File::create(dir.join("sendmail.stderr")).map_err(|e| e.to_string())?;
        let child = syslogd::private_namespace(
            dir,
            &syslog,
            &ns,
            &sendmail,
            &["-L", "sm-mta", "-bD", "-C", cf.to_str().unwrap_or_default()],
        )
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(stderr))
        .spawn()
        .map_err(|e| format!("starting sendmail: {e}"))?;
        let addr = SocketAddr::V4(SocketAddrV4::new(lo, port));
        let mut inst = SendmailInstance {
            dir: dir.to_path_buf(),
            cf,
            queue,
            ns,
            addr,
            child: Some(child),
            syslog,
        };
        let child = &mut inst.child;
        let up = SmtpClient::await_greeting(addr, Duration::from_secs(60), || {
            match child.as_mut().map(Child::try_wait) {
                Some(Ok(Some(status))) => Some(format!("sendmail exited with {status}")),
                _ => None,
            }
        });
        match up {
            Ok(()) => Ok(inst),
            Err(e) => Err(format!("sendmail: {e}\n{}", inst.diagnostics())),
        }
    }

    fn diagnostics(&self) -> String {
        format!(
            "sendmail stderr:\n{}\nlog:\n{}",
            fs::read_to_string(self.dir.join("sendmail.stderr")).unwrap_or_default(),
            self.log()
        )
    }

    pub fn log_path(&self) -> &Path {
        self.syslog.log_path()
    }

    pub fn log(&self) -> String {
        self.syslog.log()
    }

    /// Messages in the queue (`qf` files).
    pub fn queue_len(&self) -> usize {
        fs::read_dir(&self.queue)
            .map(|d| {
                d.filter_map(Result::ok)
                    .filter(|e| e.file_name().to_string_lossy().starts_with("qf"))
                    .count()
            })
            .unwrap_or(0)
    }

    /// One queue run in the foreground (`sendmail -qf`), in the same kind of namespace.
    pub fn run_queue(&self) -> Result<(), String> {
        let (ok, text) = run(syslogd::private_namespace(
            &self.dir.join("qrun"),
            &self.syslog,
            &self.ns,
            &binary("sendmail"),
            &["-qf", "-C", self.cf.to_str().unwrap_or_default()],
        )
        .stdin(Stdio::null()));
        if ok {
            Ok(())
        } else {
            Err(format!("sendmail -qf failed: {text}"))
        }
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

impl Drop for SendmailInstance {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A mail filter for the private Sendmail, written with Debian's `python3-milter` (pymilter):
/// it refuses at `RCPT TO` every recipient whose local part starts with `miltrej` (550 5.7.1),
/// and at the end of the message every message whose `Subject:` holds [`MILTER_REJECT_SUBJECT`]
/// (554 5.7.1), so that Sendmail logs its `Milter: …, reject=…` lines. Stopped on drop.
pub struct Milter {
    pub socket: PathBuf,
    child: Child,
}

pub const MILTER_REJECT_SUBJECT: &str = "E2E-MILTER-REJECT";

const MILTER_SCRIPT: &str = r#"import sys
import Milter

class E2E(Milter.Base):
    def __init__(self):
        self.reject = False
    def envrcpt(self, to, *params):
        if to.strip("<>").lower().startswith("miltrej"):
            self.setreply("550", "5.7.1", "Recipient rejected by the e2e milter")
            return Milter.REJECT
        return Milter.CONTINUE
    def header(self, name, value):
        if name.lower() == "subject" and sys.argv[2] in value:
            self.reject = True
        return Milter.CONTINUE
    def eom(self):
        if self.reject:
            self.setreply("554", "5.7.1", "Message rejected by the e2e milter")
            return Milter.REJECT
        return Milter.ACCEPT

Milter.factory = E2E
Milter.runmilter("e2e", "unix:" + sys.argv[1], 60)
"#;

impl Milter {
    pub fn start(dir: &Path) -> Result<Milter, String> {
        let python = Path::new("/usr/bin/python3");
        let (ok, text) = run(Command::new(python).args(["-c", "import Milter"]));
        if !ok {
            return Err(format!(
                "Debian's python3-milter is missing ({text}): {}",
                util::INSTALL_HINT
            ));
        }
        // Not `milter.py`: that name would shadow pymilter's own `milter` module.
        let script = dir.join("e2e_filter.py");
        fs::write(&script, MILTER_SCRIPT).map_err(|e| e.to_string())?;
        let socket = dir.join("milter.sock");
        let err = fs::File::create(dir.join("milter.stderr")).map_err(|e| e.to_string())?;
        let child = Command::new(python)
            .arg(&script)
            .arg(&socket)
            .arg(MILTER_REJECT_SUBJECT)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(err))
            .spawn()
            .map_err(|e| format!("starting the milter: {e}"))?;
        let mut m = Milter { socket, child };
        let up = wait_for(Duration::from_secs(30), Duration::from_millis(100), || {
            if let Ok(Some(status)) = m.child.try_wait() {
                return Some(Err(format!("the milter exited with {status}")));
            }
            m.socket.exists().then_some(Ok(()))
        });
        match up {
            Some(Ok(())) => Ok(m),
            Some(Err(e)) => Err(format!(
                "{e}: {}",
                fs::read_to_string(dir.join("milter.stderr")).unwrap_or_default()
            )),
            None => Err("the milter did not create its socket within 30 s".into()),
        }
    }
}

impl Drop for Milter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
