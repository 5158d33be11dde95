//! A private syslog for daemons that log only through syslog(3) (Sendmail, OpenSMTPD), and a
//! way to make them use it without touching the machine's `/dev/log`.
//!
//! [`Syslogd`] binds a unix datagram socket in the test's directory and writes every message
//! it receives to a log file the way rsyslog writes `mail.log`: glibc sends
//! `<PRI>Mmm dd HH:MM:SS tag[pid]: message`; the file gets `Mmm dd HH:MM:SS mx tag[pid]:
//! message` (priority removed, a host name put after the timestamp, one line per message).
//!
//! [`private_namespace`] wraps a command so that it runs in a mount (and UTS) namespace of its
//! own (`unshare -m -u`) in which `/dev` is a fresh tmpfs holding the usual character devices
//! (bind-mounted from the real `/dev`) and `/dev/log` → the test's socket. syslog(3) has its
//! path compiled in (`_PATH_LOG`), so this is how a daemon's syslog goes to the test and not
//! to the machine (which may have no syslog daemon at all). The same namespace gets a host
//! name and an `/etc/hosts` of the test's choosing, and further bind mounts (a private spool
//! over a compiled-in spool path). Nothing outside the namespace changes.

use std::fs;
use std::io::Write;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use super::util::{require_tool, set_mode};

/// The host name put in every line (and given to the daemon's namespace).
pub const HOST: &str = "mx";

/// The private syslog receiver. Stops on drop.
pub struct Syslogd {
    socket: PathBuf,
    log: PathBuf,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Syslogd {
    /// Binds `dir/log.sock` (mode 0666, so daemons that dropped root can write) and appends
    /// what arrives to `dir/maillog`.
    pub fn start(dir: &Path) -> Result<Syslogd, String> {
        let socket = dir.join("log.sock");
        let log = dir.join("maillog");
        let _ = fs::remove_file(&socket);
        let sock =
            UnixDatagram::bind(&socket).map_err(|e| format!("bind {}: {e}", socket.display()))?;
        set_mode(&socket, 0o666);
        sock.set_read_timeout(Some(Duration::from_millis(100)))
            .map_err(|e| e.to_string())?;
        let mut out = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .map_err(|e| format!("{}: {e}", log.display()))?;
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut buf = vec![0u8; 64 * 1024];
            while !stop2.load(Ordering::SeqCst) {
                match sock.recv(&mut buf) {
                    Ok(n) => {
                        let line = to_line(&buf[..n]);
                        let _ = out.write_all(&line);
                    }
                    Err(e)
                        if matches!(
                            e.kind(),
                            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                        ) => {}
                    Err(_) => std::thread::sleep(Duration::from_millis(50)),
                }
            }
        });
        Ok(Syslogd {
            socket,
            log,
            stop,
            thread: Some(thread),
        })
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    pub fn log_path(&self) -> &Path {
        &self.log
    }

    pub fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Syslogd {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// `<PRI>Mmm dd HH:MM:SS rest` → `Mmm dd HH:MM:SS mx rest\n` (what rsyslog writes).
fn to_line(msg: &[u8]) -> Vec<u8> {
    let mut m = msg;
    while let [head @ .., b'\n' | b'\0' | b'\r'] = m {
        m = head;
    }
    if m.first() == Some(&b'<') {
        if let Some(i) = m.iter().position(|&c| c == b'>') {
            m = &m[i + 1..];
        }
    }
    let mut out = Vec::with_capacity(m.len() + 8);
    if m.len() > 16 && m[15] == b' ' {
        out.extend_from_slice(&m[..16]);
        out.extend_from_slice(HOST.as_bytes());
        out.push(b' ');
        out.extend_from_slice(&m[16..]);
    } else {
        out.extend_from_slice(m);
    }
    out.push(b'\n');
    out
}

/// What the private namespace of a daemon holds besides `/dev/log`.
#[derive(Debug, Clone, Default)]
pub struct Namespace {
    /// `/etc/hosts` inside (bind-mounted over the real one).
    pub hosts: Option<PathBuf>,
    /// The host name inside (a UTS namespace of its own).
    pub hostname: Option<String>,
    /// `(source, target)`: directories bind-mounted over compiled-in paths.
    pub binds: Vec<(PathBuf, PathBuf)>,
    /// Directories that get an empty tmpfs of their own (e.g. `/run` for control sockets).
    pub tmpfs: Vec<PathBuf>,
}

const NS_SCRIPT: &str = r#"set -e
work="$1"; sock="$2"; shift 2
mkdir -p "$work/hostdev"
mount --rbind /dev "$work/hostdev"
mount -t tmpfs -o mode=755 nsdev /dev
for n in null zero full random urandom tty; do
    [ -e "$work/hostdev/$n" ] || continue
    touch "/dev/$n"
    mount --bind "$work/hostdev/$n" "/dev/$n"
done
ln -s /proc/self/fd /dev/fd
ln -s /proc/self/fd/0 /dev/stdin
ln -s /proc/self/fd/1 /dev/stdout
ln -s /proc/self/fd/2 /dev/stderr
mkdir /dev/shm /dev/pts
ln -s "$sock" /dev/log
if [ -n "$NS_HOSTS" ]; then mount --bind "$NS_HOSTS" /etc/hosts; fi
if [ -n "$NS_HOSTNAME" ]; then hostname "$NS_HOSTNAME"; fi
for t in $NS_TMPFS; do mount -t tmpfs -o mode=755 nstmp "$t"; done
while [ "$1" != "--" ]; do
    mount --bind "$1" "$2"
    shift 2
done
shift
exec "$@"
"#;

/// `unshare -m -u --propagation private sh -c SCRIPT …` around `program args…`: the program
/// runs (exec'd, so the child's pid is the program's) with `/dev/log` → `syslog`'s socket.
/// `work` is a scratch directory of the test (the real `/dev` is bind-mounted there inside the
/// namespace).
pub fn private_namespace(
    work: &Path,
    syslog: &Syslogd,
    ns: &Namespace,
    program: &Path,
    args: &[&str],
) -> Command {
    let mut cmd = Command::new(require_tool("unshare"));
    cmd.args([
        "-m",
        "-u",
        "--propagation",
        "private",
        "/bin/sh",
        "-c",
        NS_SCRIPT,
        "sh",
    ])
    .arg(work)
    .arg(syslog.socket());
    for (src, dst) in &ns.binds {
        cmd.arg(src).arg(dst);
    }
    cmd.arg("--").arg(program).args(args);
    cmd.env(
        "NS_HOSTS",
        ns.hosts.as_deref().map(Path::as_os_str).unwrap_or_default(),
    )
    .env("NS_HOSTNAME", ns.hostname.as_deref().unwrap_or_default())
    .env(
        "NS_TMPFS",
        ns.tmpfs
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(" "),
    );
    cmd
}
