//! The exporter under test, run as a child process (the binary cargo built for this test).

use std::fs;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::metrics::http_get;
use super::util::{free_port, wait_for};

/// Path of the exporter binary cargo built for the integration tests.
pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_smtp-status-exporter")
}

/// `smtp-status-exporter --log.path LOG… --web.listen-address LISTEN --state.file STATE
/// [extra…]`, its stderr to `err`.
fn spawn(
    logs: &[&Path],
    listen: &str,
    state_file: &Path,
    extra: &[&str],
    err: fs::File,
) -> Result<Child, String> {
    let mut cmd = Command::new(binary());
    for l in logs {
        cmd.arg("--log.path").arg(l);
    }
    cmd.arg("--web.listen-address")
        .arg(listen)
        .arg("--state.file")
        .arg(state_file)
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(err));
    cmd.spawn()
        .map_err(|e| format!("cannot start {}: {e}", binary()))
}

/// A running `smtp-status-exporter`; killed on drop.
pub struct Exporter {
    child: Child,
    pub addr: SocketAddr,
    stderr: PathBuf,
}

impl Exporter {
    /// Starts `smtp-status-exporter --log.path LOG… --web.listen-address 127.0.0.1:PORT
    /// --state.file STATE [extra…]` and waits until `GET /-/ready` answers 200. Its stderr goes
    /// to `work_dir/exporter.stderr`. The exporter reads a log from its end on first start, so
    /// start it before the MTA writes what the test counts.
    pub fn start(
        logs: &[&Path],
        state_file: &Path,
        work_dir: &Path,
        extra: &[&str],
    ) -> Result<Exporter, String> {
        let lo = Ipv4Addr::LOCALHOST;
        let addr = SocketAddr::V4(SocketAddrV4::new(lo, free_port(lo)));
        let stderr = work_dir.join("exporter.stderr");
        let err_file =
            fs::File::create(&stderr).map_err(|e| format!("{}: {e}", stderr.display()))?;
        let child = spawn(logs, &addr.to_string(), state_file, extra, err_file)?;
        let mut exp = Exporter {
            child,
            addr,
            stderr,
        };
        let ready = wait_for(Duration::from_secs(20), Duration::from_millis(50), || {
            if let Ok(Some(status)) = exp.child.try_wait() {
                return Some(Err(format!(
                    "the exporter exited with {status} before it was ready"
                )));
            }
            match http_get(addr, "/-/ready") {
                Ok(r) if r.status == 200 => Some(Ok(())),
                _ => None,
            }
        });
        match ready {
            Some(Ok(())) => Ok(exp),
            Some(Err(e)) => Err(format!("{e}; its stderr:\n{}", exp.stderr_text())),
            None => Err(format!(
                "`GET http://{addr}/-/ready` did not answer 200 within 20 s; the exporter's stderr:\n{}",
                exp.stderr_text()
            )),
        }
    }

    /// Starts `smtp-status-exporter --log.path LOG… --state.file STATE --web.listen-address
    /// 127.0.0.1:0 [extra…]`, learns the port it bound from its `listening on http://ADDR/metrics`
    /// line (no race for a free port), and waits until `GET /-/ready` answers 200. Its stderr is
    /// APPENDED to `stderr_path`, so a test that restarts the exporter keeps every run's log.
    pub fn start_any_port(
        logs: &[&Path],
        state_file: &Path,
        stderr_path: &Path,
        extra: &[&str],
    ) -> Result<Exporter, String> {
        let before = fs::metadata(stderr_path).map_or(0, |m| m.len());
        let err_file = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(stderr_path)
            .map_err(|e| format!("{}: {e}", stderr_path.display()))?;
        let child = spawn(logs, "127.0.0.1:0", state_file, extra, err_file)?;
        let mut exp = Exporter {
            child,
            addr: SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0)),
            stderr: stderr_path.to_path_buf(),
        };
        let this_run = |p: &Path| {
            let all = fs::read(p).unwrap_or_default();
            String::from_utf8_lossy(all.get(before as usize..).unwrap_or_default()).into_owned()
        };
        let started = wait_for(Duration::from_secs(20), Duration::from_millis(5), || {
            if let Ok(Some(status)) = exp.child.try_wait() {
                return Some(Err(format!(
                    "the exporter exited with {status} before it listened"
                )));
            }
            let text = this_run(stderr_path);
            let addr = text
                .split("listening on http://")
                .nth(1)?
                .split('/')
                .next()?
                .parse::<SocketAddr>()
                .ok()?;
            Some(Ok(addr))
        });
        exp.addr = match started {
            Some(Ok(a)) => a,
            Some(Err(e)) => return Err(format!("{e}; its stderr:\n{}", this_run(stderr_path))),
            None => {
                return Err(format!(
                    "the exporter logged no `listening on http://ADDR/metrics` within 20 s; its \
                     stderr:\n{}",
                    this_run(stderr_path)
                ))
            }
        };
        let ready = wait_for(Duration::from_secs(20), Duration::from_millis(5), || {
            if let Ok(Some(status)) = exp.child.try_wait() {
                return Some(Err(format!(
                    "the exporter exited with {status} before it was ready"
                )));
            }
            match http_get(exp.addr, "/-/ready") {
                Ok(r) if r.status == 200 => Some(Ok(())),
                _ => None,
            }
        });
        match ready {
            Some(Ok(())) => Ok(exp),
            Some(Err(e)) => Err(format!("{e}; its stderr:\n{}", this_run(stderr_path))),
            None => Err(format!(
                "`GET http://{}/-/ready` did not answer 200 within 20 s; the exporter's stderr:\n{}",
                exp.addr,
                this_run(stderr_path)
            )),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM (the graceful stop that saves state) and waits for the exit, at most 20 s.
    pub fn terminate(&mut self) -> Result<std::process::ExitStatus, String> {
        let pid = self.child.id().to_string();
        let (ok, said) = super::util::run(Command::new("kill").args(["-TERM", &pid]));
        if !ok {
            return Err(format!("kill -TERM {pid}: {said}"));
        }
        let status = wait_for(Duration::from_secs(20), Duration::from_millis(5), || {
            self.child.try_wait().ok().flatten()
        });
        status.ok_or_else(|| {
            let _ = self.child.kill();
            format!("the exporter (pid {pid}) did not exit within 20 s of SIGTERM")
        })
    }

    /// SIGKILL: a crash, with no chance to save anything; waits for the exit.
    pub fn kill_hard(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The last `n` lines of the exporter's stderr, for failure messages.
    pub fn stderr_tail(&self, n: usize) -> String {
        let text = self.stderr_text();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    pub fn stderr_text(&self) -> String {
        fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// `GET /metrics` (Prometheus text format).
    pub fn scrape(&self) -> Result<String, String> {
        super::metrics::scrape(self.addr)
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `smtp-status-exporter replay --format json FILE…` and parses what it prints.
pub fn replay_json(files: &[&Path]) -> Result<serde_json::Value, String> {
    replay_json_args(&[], files)
}

/// Runs `smtp-status-exporter [ARGS…] replay --format json FILE…` (e.g. `--log.format exim`).
pub fn replay_json_args(args: &[&str], files: &[&Path]) -> Result<serde_json::Value, String> {
    let out = Command::new(binary())
        .args(args)
        .arg("replay")
        .arg("--format")
        .arg("json")
        .args(files)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {} replay: {e}", binary()))?;
    if !out.status.success() {
        return Err(format!(
            "`replay --format json` exited with {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| {
        format!(
            "`replay --format json` printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}
