//! Feeding the exporter other ways than a log file: through its standard input, or
//! over a syslog listener, and comparing what it counts with a fixture's `.expected` file.

use std::collections::BTreeMap;
use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::Duration;

use super::exporter::binary;
use super::metrics::{http_get, parse_exposition, series, Samples};
use super::util::wait_for;

/// A running exporter started with `--web.listen-address 127.0.0.1:0` and a state file of its
/// own; its standard input is a pipe the test writes to. Killed on drop.
pub struct Fed {
    child: Child,
    pub stdin: Option<ChildStdin>,
    pub addr: SocketAddr,
    stderr: PathBuf,
}

impl Fed {
    /// Starts `smtp-status-exporter ARGS… --web.listen-address 127.0.0.1:0 --state.file
    /// DIR/state.json` and waits until it logs the address it listens on (not for readiness:
    /// some tests look at `/-/ready` before and after).
    pub fn start(dir: &Path, args: &[&str]) -> Result<Fed, String> {
        let stderr = dir.join("exporter.stderr");
        let err = fs::File::create(&stderr).map_err(|e| format!("{}: {e}", stderr.display()))?;
        let child = Command::new(binary())
            .args(args)
            .arg("--web.listen-address")
            .arg("127.0.0.1:0")
            .arg("--state.file")
            .arg(dir.join("state.json"))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::from(err))
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", binary()))?;
        let mut fed = Fed {
            child,
            stdin: None,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            stderr,
        };
        fed.stdin = fed.child.stdin.take();
        let addr = wait_for(Duration::from_secs(30), Duration::from_millis(10), || {
            if let Ok(Some(status)) = fed.child.try_wait() {
                return Some(Err(format!("the exporter exited with {status}")));
            }
            let text = fed.stderr_text();
            let a = text
                .split("listening on http://")
                .nth(1)?
                .split('/')
                .next()?
                .parse::<SocketAddr>()
                .ok()?;
            Some(Ok(a))
        });
        match addr {
            Some(Ok(a)) => {
                fed.addr = a;
                Ok(fed)
            }
            Some(Err(e)) => Err(format!("{e}; its stderr:\n{}", fed.stderr_text())),
            None => Err(format!(
                "the exporter logged no listening address within 30 s; its stderr:\n{}",
                fed.stderr_text()
            )),
        }
    }

    pub fn stderr_text(&self) -> String {
        fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Whether the process is still running.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// `GET path`: status and body.
    pub fn get(&self, path: &str) -> (u16, String) {
        match http_get(self.addr, path) {
            Ok(r) => (r.status, String::from_utf8_lossy(&r.body).into_owned()),
            Err(e) => panic!(
                "GET {path}: {e}; the exporter's stderr:\n{}",
                self.stderr_text()
            ),
        }
    }

    pub fn samples(&self) -> Samples {
        let (status, body) = self.get("/metrics");
        assert_eq!(status, 200, "{body}");
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

impl Drop for Fed {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `COUNT {labels}` per series and `expired N`, as `tests/fixtures/*/*.expected` hold them
/// (labels sorted by name).
pub fn expected(path: &Path) -> BTreeMap<String, u64> {
    let text =
        fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (a, b) = l
                .split_once(' ')
                .unwrap_or_else(|| panic!("COUNT LABELS or expired N"));
            if a == "expired" {
                (
                    "expired".to_owned(),
                    b.trim().parse().unwrap_or_else(|e| panic!("{l:?}: {e}")),
                )
            } else {
                (
                    b.trim().to_owned(),
                    a.parse().unwrap_or_else(|e| panic!("{l:?}: {e}")),
                )
            }
        })
        .collect()
}

/// The scrape's `smtp_replies_total` series and `smtp_expired_total` in the form of
/// [`expected`], with the `source` label set to `source_as` (the fixtures name it `postfix`).
pub fn rendered(samples: &Samples, source: &str, source_as: &str) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for (mut labels, v) in series(samples, "smtp_replies_total") {
        if labels.get("source").map(String::as_str) != Some(source) {
            continue;
        }
        labels.insert("source".into(), source_as.into());
        let body: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
        *out.entry(format!("{{{}}}", body.join(","))).or_default() += v as u64;
    }
    let expired: f64 = series(samples, "smtp_expired_total")
        .iter()
        .filter(|(l, _)| l.get("source").map(String::as_str) == Some(source))
        .map(|(_, v)| v)
        .sum();
    out.insert("expired".into(), expired as u64);
    out
}

/// The Postfix fixture every source test feeds: 3083 real lines of Postfix 3.7.11
/// (`tests/fixtures/postfix/README.md`), and what they count.
pub fn postfix_fixture() -> (PathBuf, PathBuf) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/postfix");
    (dir.join("e2e-run.log"), dir.join("e2e-run.expected"))
}

/// Lines of `file` by result (`counted`, `ignored`, `unrecognised`) as `replay` reads the file
/// itself: what any other way in must count too.
pub fn lines_of_file(file: &Path) -> BTreeMap<String, f64> {
    let json = super::exporter::replay_json(&[file]).unwrap_or_else(|e| panic!("{e}"));
    json["lines"]
        .as_object()
        .unwrap_or_else(|| panic!("replay --format json has lines"))
        .iter()
        .map(|(k, v)| (k.clone(), v.as_f64().unwrap_or_else(|| panic!("a number"))))
        .collect()
}
