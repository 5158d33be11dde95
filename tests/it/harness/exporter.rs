//! The exporter under test, run as a child process (the binary cargo built for the tests): THE
//! one way the tests start it, [`Exporter::builder`] (arguments, environment, a piped standard
//! input, where its stderr goes, how to wait for it), with the shorthands [`Exporter::start`],
//! [`Exporter::start_any_port`] and [`Exporter::fed`] on top. Its HTTP endpoints are reached
//! through the one HTTP helper, [`super::metrics::request`].

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::fs;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::time::Duration;

use super::metrics::{http_get, parse_exposition, series, Samples};
use super::util::{free_port, wait_for};

/// Path of the exporter binary cargo built for the integration tests.
pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_smtp-status-exporter")
}

/// Where the exporter listens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Listen {
    /// `--web.listen-address 127.0.0.1:0`; the address is read from its `listening on` line.
    AnyPort,
    /// `--web.listen-address 127.0.0.1:PORT` with a port found free beforehand.
    FreePort,
    /// No `--web.listen-address` of the harness: the arguments (or a config file) name it, and
    /// the address is read from the `listening on` line.
    FromArgs,
}

/// What [`Builder::start`] waits for before it returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Wait {
    /// Until `GET /-/ready` answers 200.
    Ready,
    /// Only until it has logged the address it listens on (some tests look at `/-/ready`
    /// before and after; a TLS endpoint does not answer plain HTTP).
    Listening,
}

/// How to start the exporter: `smtp-status-exporter [--log.path LOG…] [--state.file STATE]
/// [--web.listen-address …] ARGS…`, stdin null (or a pipe), stdout null, stderr to a file.
pub struct Builder {
    via: Option<(PathBuf, Vec<OsString>, PathBuf)>,
    logs: Vec<PathBuf>,
    state: Option<PathBuf>,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    stdin: bool,
    stderr: PathBuf,
    truncate_stderr: bool,
    listen: Listen,
    wait: Wait,
    timeout: Duration,
    poll: Duration,
}

impl Builder {
    /// Runs `PROGRAM ARGS… EXE …` instead of the binary itself: a wrapper that execs `exe` (a
    /// copy of [`binary`]), e.g. `setpriv … --`, so that the child's pid is the exporter's.
    pub fn via(mut self, program: &Path, args: &[&str], exe: &Path) -> Builder {
        let args = args.iter().map(OsString::from).collect();
        self.via = Some((program.to_path_buf(), args, exe.to_path_buf()));
        self
    }

    /// `--log.path LOG` (repeatable).
    pub fn log(mut self, log: impl AsRef<Path>) -> Builder {
        self.logs.push(log.as_ref().to_path_buf());
        self
    }

    /// `--state.file STATE`.
    pub fn state(mut self, state: impl AsRef<Path>) -> Builder {
        self.state = Some(state.as_ref().to_path_buf());
        self
    }

    pub fn arg(mut self, a: impl AsRef<OsStr>) -> Builder {
        self.args.push(a.as_ref().to_owned());
        self
    }

    pub fn args<S: AsRef<OsStr>>(mut self, args: &[S]) -> Builder {
        self.args.extend(args.iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// An environment variable of the child only (never of the test process, which other tests
    /// share).
    pub fn env(mut self, k: impl AsRef<OsStr>, v: impl AsRef<OsStr>) -> Builder {
        self.env
            .push((k.as_ref().to_owned(), v.as_ref().to_owned()));
        self
    }

    /// Its standard input a pipe, [`Exporter::stdin`].
    pub fn stdin_piped(mut self) -> Builder {
        self.stdin = true;
        self
    }

    /// Its stderr to `path`, APPENDED (a test that restarts the exporter keeps every run's log);
    /// by default `exporter.stderr` in the directory given to [`Exporter::builder`], truncated.
    pub fn stderr_appended_to(mut self, path: impl AsRef<Path>) -> Builder {
        self.stderr = path.as_ref().to_path_buf();
        self.truncate_stderr = false;
        self
    }

    /// Listen on a port found free beforehand (not on port 0).
    pub fn free_port(mut self) -> Builder {
        self.listen = Listen::FreePort;
        self
    }

    /// The arguments name the listen address (`--web.listen-address`, or a config file).
    pub fn listen_from_args(mut self) -> Builder {
        self.listen = Listen::FromArgs;
        self
    }

    /// Return once it has logged its address, without waiting for `/-/ready`.
    pub fn wait_listening(mut self) -> Builder {
        self.wait = Wait::Listening;
        self
    }

    /// How long to wait for the address and for readiness (each), and how often to look.
    pub fn timeout(mut self, timeout: Duration, poll: Duration) -> Builder {
        self.timeout = timeout;
        self.poll = poll;
        self
    }

    /// Starts it and waits as told; an error carries its stderr.
    pub fn start(self) -> Result<Exporter, String> {
        let before = if self.truncate_stderr {
            0
        } else {
            fs::metadata(&self.stderr).map_or(0, |m| m.len())
        };
        let err_file = fs::OpenOptions::new()
            .create(true)
            .write(true)
            .append(!self.truncate_stderr)
            .truncate(self.truncate_stderr)
            .open(&self.stderr)
            .map_err(|e| format!("{}: {e}", self.stderr.display()))?;
        let lo = Ipv4Addr::LOCALHOST;
        let fixed = (self.listen == Listen::FreePort)
            .then(|| SocketAddr::V4(SocketAddrV4::new(lo, free_port(lo))));
        let mut cmd = match &self.via {
            None => Command::new(binary()),
            Some((program, args, exe)) => {
                let mut c = Command::new(program);
                c.args(args).arg(exe);
                c
            }
        };
        for l in &self.logs {
            cmd.arg("--log.path").arg(l);
        }
        match (self.listen, fixed) {
            (Listen::FreePort, Some(a)) => {
                cmd.arg("--web.listen-address").arg(a.to_string());
            }
            (Listen::AnyPort, _) => {
                cmd.args(["--web.listen-address", "127.0.0.1:0"]);
            }
            _ => {}
        }
        if let Some(s) = &self.state {
            cmd.arg("--state.file").arg(s);
        }
        cmd.args(&self.args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(if self.stdin {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::null())
            .stderr(Stdio::from(err_file));
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", binary()))?;
        let mut exp = Exporter {
            child,
            stdin: None,
            addr: fixed.unwrap_or(SocketAddr::V4(SocketAddrV4::new(lo, 0))),
            stderr: self.stderr.clone(),
        };
        exp.stdin = exp.child.stdin.take();
        let this_run = |p: &Path| {
            let all = fs::read(p).unwrap_or_default();
            String::from_utf8_lossy(all.get(before as usize..).unwrap_or_default()).into_owned()
        };
        let secs = self.timeout.as_secs();
        if fixed.is_none() {
            let started = wait_for(self.timeout, self.poll, || {
                if let Ok(Some(status)) = exp.child.try_wait() {
                    return Some(Err(format!(
                        "the exporter exited with {status} before it listened"
                    )));
                }
                listening_on(&this_run(&self.stderr)).map(Ok)
            });
            exp.addr = match started {
                Some(Ok(a)) => a,
                Some(Err(e)) => {
                    return Err(format!("{e}; its stderr:\n{}", this_run(&self.stderr)))
                }
                None => {
                    return Err(format!(
                        "the exporter logged no `listening on http://ADDR/metrics` within {secs} \
                         s; its stderr:\n{}",
                        this_run(&self.stderr)
                    ))
                }
            };
        }
        if self.wait == Wait::Listening {
            return Ok(exp);
        }
        let ready = wait_for(self.timeout, self.poll, || {
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
            Some(Err(e)) => Err(format!("{e}; its stderr:\n{}", this_run(&self.stderr))),
            None => Err(format!(
                "`GET http://{}/-/ready` did not answer 200 within {secs} s; the exporter's \
                 stderr:\n{}",
                exp.addr,
                this_run(&self.stderr)
            )),
        }
    }
}

/// The address of the exporter's `listening on http://ADDR/metrics` (or `https://`) line; not
/// that of a `syslog source NAME listening on udp://…` line.
fn listening_on(stderr: &str) -> Option<SocketAddr> {
    stderr.lines().find_map(|l| {
        let rest = l.split("listening on ").nth(1)?;
        let rest = rest
            .strip_prefix("http://")
            .or_else(|| rest.strip_prefix("https://"))?;
        rest.split('/').next()?.parse().ok()
    })
}

/// A running `smtp-status-exporter`; killed on drop.
pub struct Exporter {
    child: Child,
    /// Its standard input when started with [`Builder::stdin_piped`].
    pub stdin: Option<ChildStdin>,
    pub addr: SocketAddr,
    stderr: PathBuf,
}

impl Exporter {
    /// A builder for `smtp-status-exporter`; its stderr goes to `dir/exporter.stderr` unless
    /// told otherwise. Defaults: `--web.listen-address 127.0.0.1:0`, wait until `GET /-/ready`
    /// answers 200, at most 20 s, looking every 5 ms.
    pub fn builder(dir: &Path) -> Builder {
        Builder {
            via: None,
            logs: Vec::new(),
            state: None,
            args: Vec::new(),
            env: Vec::new(),
            stdin: false,
            stderr: dir.join("exporter.stderr"),
            truncate_stderr: true,
            listen: Listen::AnyPort,
            wait: Wait::Ready,
            timeout: Duration::from_secs(20),
            poll: Duration::from_millis(5),
        }
    }

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
        logs.iter()
            .fold(Exporter::builder(work_dir), |b, l| b.log(l))
            .state(state_file)
            .args(extra)
            .free_port()
            .timeout(Duration::from_secs(20), Duration::from_millis(50))
            .start()
    }

    /// Starts `smtp-status-exporter --log.path LOG… --web.listen-address 127.0.0.1:0
    /// --state.file STATE [extra…]`, learns the port it bound from its `listening on
    /// http://ADDR/metrics` line (no race for a free port), and waits until `GET /-/ready`
    /// answers 200. Its stderr is APPENDED to `stderr_path`, so a test that restarts the
    /// exporter keeps every run's log.
    pub fn start_any_port(
        logs: &[&Path],
        state_file: &Path,
        stderr_path: &Path,
        extra: &[&str],
    ) -> Result<Exporter, String> {
        let dir = stderr_path.parent().unwrap_or(Path::new("."));
        logs.iter()
            .fold(Exporter::builder(dir), |b, l| b.log(l))
            .state(state_file)
            .args(extra)
            .stderr_appended_to(stderr_path)
            .start()
    }

    /// Starts `smtp-status-exporter ARGS… --web.listen-address 127.0.0.1:0 --state.file
    /// DIR/state.json` with its standard input a pipe ([`Exporter::stdin`]), and waits until it
    /// logs the address it listens on (not for readiness: some tests look at `/-/ready` before
    /// and after).
    pub fn fed(dir: &Path, args: &[&str]) -> Result<Exporter, String> {
        Exporter::builder(dir)
            .args(args)
            .state(dir.join("state.json"))
            .stdin_piped()
            .wait_listening()
            .timeout(Duration::from_secs(30), Duration::from_millis(10))
            .start()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process is still running.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Sends `kill -SIG` (`TERM`, `HUP`, `KILL`, …); fails the test if `kill` fails.
    pub fn signal(&self, sig: &str) {
        let pid = self.child.id().to_string();
        let (ok, said) = super::util::run(Command::new("kill").arg(format!("-{sig}")).arg(&pid));
        assert!(ok, "kill -{sig} {pid}: {said}");
    }

    /// SIGTERM (the graceful stop that saves state) and waits for the exit, at most 20 s.
    pub fn terminate(&mut self) -> Result<ExitStatus, String> {
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

    /// `GET path`: status and body; status 0 and the error when nothing answered.
    pub fn get(&self, path: &str) -> (u16, String) {
        match http_get(self.addr, path) {
            Ok(r) => (r.status, String::from_utf8_lossy(&r.body).into_owned()),
            Err(e) => (0, e),
        }
    }

    /// `GET /metrics` (Prometheus text format).
    pub fn scrape(&self) -> Result<String, String> {
        super::metrics::scrape(self.addr)
    }

    /// `GET /metrics`, which must answer 200, read into samples.
    pub fn samples(&self) -> Samples {
        let (status, body) = self.get("/metrics");
        assert_eq!(
            status,
            200,
            "{body}; the exporter's stderr:\n{}",
            self.stderr_text()
        );
        parse_exposition(&body).unwrap_or_else(|e| panic!("{e}"))
    }

    /// `smtp_status_exporter_lines_total` of `source`, by result.
    pub fn lines(&self, source: &str) -> BTreeMap<String, f64> {
        series(&self.samples(), "smtp_status_exporter_lines_total")
            .into_iter()
            .filter(|(l, _)| l.get("source").map(String::as_str) == Some(source))
            .map(|(l, v)| (l.get("result").cloned().unwrap_or_default(), v))
            .collect()
    }

    /// Waits until `source` has read `n` lines in all (every result), at most `timeout`.
    pub fn wait_lines(&self, source: &str, n: f64, timeout: Duration) {
        let done = wait_for(timeout, Duration::from_millis(50), || {
            let got: f64 = self.lines(source).values().sum();
            (got >= n).then_some(got)
        });
        if done.is_none() {
            panic!(
                "source {source} did not read {n} lines within {timeout:?}: {:?}; stderr:\n{}",
                self.lines(source),
                self.stderr_text()
            );
        }
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
