//! Small helpers shared by the real-MTA harness: privileges, tools, ports, waiting, temp dirs.

use std::fs;
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// What to tell a person whose machine lacks what the end-to-end tests need.
pub const INSTALL_HINT: &str =
    "run `sudo scripts/install-test-deps` (or the whole suite with `sudo scripts/test`)";

/// The effective uid of this process, read from /proc (std has no geteuid).
pub fn euid() -> Option<u32> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

/// Fails the test unless it runs as root (a real MTA needs root to start).
pub fn require_root() {
    match euid() {
        Some(0) => {}
        other => panic!(
            "this end-to-end test needs root (euid is {other:?}) to run a real MTA: run it with \
             `sudo scripts/test`"
        ),
    }
}

/// Finds an executable by name in PATH and the sbin directories, or fails the test with a hint
/// on how to install it. Never a silent skip.
pub fn require_tool(name: &str) -> PathBuf {
    find_tool(name).unwrap_or_else(|| {
        panic!("`{name}` is not installed (looked in PATH, /usr/sbin, /usr/bin, /sbin): {INSTALL_HINT}")
    })
}

pub fn find_tool(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/bin", "/sbin", "/bin"].map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(p)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// A TCP port that was free on `ip` a moment ago (bind to port 0, read it, release it).
pub fn free_port(ip: Ipv4Addr) -> u16 {
    let l = TcpListener::bind(SocketAddrV4::new(ip, 0))
        .unwrap_or_else(|e| panic!("cannot bind {ip}:0 to find a free port: {e}"));
    l.local_addr()
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("local_addr: {e}"))
}

/// A port on 127.0.0.1 where nothing listens: connecting to it is refused.
pub fn closed_port() -> u16 {
    free_port(Ipv4Addr::LOCALHOST)
}

/// Polls `f` every `every` until it returns `Some`, or gives up after `timeout` with `None`.
pub fn wait_for<T>(
    timeout: Duration,
    every: Duration,
    mut f: impl FnMut() -> Option<T>,
) -> Option<T> {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if start.elapsed() >= timeout {
            return None;
        }
        std::thread::sleep(every);
    }
}

/// A scratch directory for one test run under /tmp (short paths: Postfix puts UNIX sockets in
/// it), readable by the unprivileged users MTAs run as. Removed on drop unless `E2E_KEEP=1`.
pub struct TestDir {
    dir: Option<tempfile::TempDir>,
    path: PathBuf,
}

impl TestDir {
    pub fn new(prefix: &str) -> TestDir {
        let dir = tempfile::Builder::new()
            .prefix(prefix)
            .tempdir_in("/tmp")
            .unwrap_or_else(|e| panic!("cannot create a temp dir in /tmp: {e}"));
        let path = dir.path().to_path_buf();
        set_mode(&path, 0o755);
        TestDir {
            dir: Some(dir),
            path,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Creates (if needed) and returns a subdirectory, mode 0755.
    pub fn subdir(&self, name: &str) -> PathBuf {
        let p = self.path.join(name);
        fs::create_dir_all(&p).unwrap_or_else(|e| panic!("mkdir {}: {e}", p.display()));
        set_mode(&p, 0o755);
        p
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        if std::env::var_os("E2E_KEEP").is_some_and(|v| v == "1") {
            if let Some(d) = self.dir.take() {
                let kept = d.keep();
                eprintln!("E2E_KEEP=1: keeping {}", kept.display());
            }
        }
    }
}

pub fn set_mode(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(p, fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {mode:o} {}: {e}", p.display()));
}

/// uid of a system user, from /etc/passwd.
pub fn user_id(name: &str) -> Option<u32> {
    id_from_db("/etc/passwd", name)
}

/// gid of a system group, from /etc/group.
pub fn group_id(name: &str) -> Option<u32> {
    id_from_db("/etc/group", name)
}

fn id_from_db(file: &str, name: &str) -> Option<u32> {
    let text = fs::read_to_string(file).ok()?;
    text.lines().find_map(|l| {
        let mut f = l.split(':');
        (f.next()? == name).then_some(())?;
        f.next()?;
        f.next()?.parse().ok()
    })
}

/// Runs a command to completion; returns (success, stdout+stderr).
pub fn run(cmd: &mut Command) -> (bool, String) {
    match cmd.output() {
        Ok(o) => {
            let mut s = String::from_utf8_lossy(&o.stdout).into_owned();
            s.push_str(&String::from_utf8_lossy(&o.stderr));
            (o.status.success(), s)
        }
        Err(e) => (false, format!("cannot run {cmd:?}: {e}")),
    }
}

/// Whether a process with this pid exists and is not a zombie.
pub fn process_alive(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state is the field after the parenthesised command name.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}
