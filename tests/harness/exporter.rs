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
        let mut cmd = Command::new(binary());
        for l in logs {
            cmd.arg("--log.path").arg(l);
        }
        cmd.arg("--web.listen-address")
            .arg(addr.to_string())
            .arg("--state.file")
            .arg(state_file)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(err_file));
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", binary()))?;
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
    let out = Command::new(binary())
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
