//! A REAL Prometheus server (Debian's `prometheus` package) run by a test as a child process on
//! loopback, with its own configuration and data directory in the test's temp dir, and its HTTP
//! API (`/api/v1/query`, `/api/v1/label/…/values`, `/api/v1/query_exemplars`) for the test to
//! read what it scraped.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::metrics::http_get;
use super::util::{free_port, require_tool, wait_for};

/// One element of an instant query's result: labels (with `__name__` if any) and the value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// A running Prometheus; killed on drop.
pub struct Prometheus {
    child: Child,
    pub addr: SocketAddr,
    log: PathBuf,
}

impl Prometheus {
    /// Writes `config` (a prometheus.yml) to `dir/prometheus.yml` and starts `prometheus` with
    /// it, its TSDB in `dir/data`, listening on a free port of 127.0.0.1; waits until
    /// `/-/ready` answers 200. Its log goes to `dir/prometheus.log`.
    pub fn start(dir: &Path, config: &str) -> Result<Prometheus, String> {
        Prometheus::start_with(dir, config, &[])
    }

    /// [`Prometheus::start`] with more command-line flags, e.g.
    /// `--enable-feature=exemplar-storage` (without it Prometheus drops the exemplars it scrapes).
    pub fn start_with(dir: &Path, config: &str, flags: &[&str]) -> Result<Prometheus, String> {
        let bin = require_tool("prometheus");
        let config_path = dir.join("prometheus.yml");
        fs::write(&config_path, config)
            .map_err(|e| format!("cannot write {}: {e}", config_path.display()))?;
        let data = dir.join("prometheus-data");
        fs::create_dir_all(&data).map_err(|e| format!("mkdir {}: {e}", data.display()))?;
        let lo = Ipv4Addr::LOCALHOST;
        let addr = SocketAddr::V4(SocketAddrV4::new(lo, free_port(lo)));
        let log = dir.join("prometheus.log");
        let log_file = fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        let child = Command::new(&bin)
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!("--storage.tsdb.path={}", data.display()))
            .arg(format!("--web.listen-address={addr}"))
            .args(flags)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log_file))
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
        let mut p = Prometheus { child, addr, log };
        p.wait_ready()?;
        Ok(p)
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let addr = self.addr;
        let ready = wait_for(Duration::from_secs(30), Duration::from_millis(50), || {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(Err(format!("prometheus exited with {status}")));
            }
            match http_get(addr, "/-/ready") {
                Ok(r) if r.status == 200 => Some(Ok(())),
                _ => None,
            }
        });
        match ready {
            Some(Ok(())) => Ok(()),
            Some(Err(e)) => Err(format!("{e}; its log:\n{}", self.log_tail(30))),
            None => Err(format!(
                "prometheus on {addr} was not ready within 30 s; its log:\n{}",
                self.log_tail(30)
            )),
        }
    }

    /// The last `n` lines of Prometheus' log, for failure messages.
    pub fn log_tail(&self, n: usize) -> String {
        let text = fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// `GET path` on the API; the `data` of a `"status": "success"` answer, or the error
    /// Prometheus gave (a PromQL parse error, say) as `Err` (the caller names the query).
    pub fn api(&self, path: &str) -> Result<serde_json::Value, String> {
        let r = http_get(self.addr, path)?;
        let body: serde_json::Value = serde_json::from_slice(&r.body).map_err(|e| {
            format!(
                "HTTP {} with no JSON ({e}): {}",
                r.status,
                String::from_utf8_lossy(&r.body)
            )
        })?;
        if body["status"] == "success" {
            Ok(body["data"].clone())
        } else {
            Err(format!(
                "HTTP {}: {}: {}",
                r.status,
                body["errorType"].as_str().unwrap_or_default(),
                body["error"].as_str().unwrap_or_default()
            ))
        }
    }

    /// An instant query at the current time. Vectors give their samples, a scalar one sample
    /// without labels; a matrix or a string is an error.
    pub fn query(&self, expr: &str) -> Result<Vec<Sample>, String> {
        let data = self.api(&format!("/api/v1/query?query={}", url_encode(expr)))?;
        let sample = |v: &serde_json::Value| -> Result<f64, String> {
            let text = v[1]
                .as_str()
                .ok_or_else(|| format!("bad sample value {v}"))?;
            match text {
                "NaN" => Ok(f64::NAN),
                "+Inf" => Ok(f64::INFINITY),
                "-Inf" => Ok(f64::NEG_INFINITY),
                t => t
                    .parse()
                    .map_err(|e| format!("bad sample value {t:?}: {e}")),
            }
        };
        match data["resultType"].as_str() {
            Some("vector") => data["result"]
                .as_array()
                .ok_or("vector result is no array")?
                .iter()
                .map(|s| {
                    let labels = s["metric"]
                        .as_object()
                        .map(|m| {
                            m.iter()
                                .map(|(k, v)| {
                                    (k.clone(), v.as_str().unwrap_or_default().to_owned())
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    Ok(Sample {
                        labels,
                        value: sample(&s["value"])?,
                    })
                })
                .collect(),
            Some("scalar") => Ok(vec![Sample {
                labels: BTreeMap::new(),
                value: sample(&data["result"])?,
            }]),
            other => Err(format!("query {expr:?} gave a {other:?} result: {data}")),
        }
    }

    /// Polls `expr` until it returns at least one sample (at most `timeout`).
    pub fn wait_for_samples(&self, expr: &str, timeout: Duration) -> Result<Vec<Sample>, String> {
        let mut last = String::new();
        wait_for(timeout, Duration::from_millis(100), || {
            match self.query(expr) {
                Ok(s) if !s.is_empty() => return Some(s),
                Ok(_) => last = "no samples".into(),
                Err(e) => last = e,
            }
            None
        })
        .ok_or_else(|| {
            format!(
                "`{expr}` returned nothing within {timeout:?} (last: {last}); prometheus' log:\n{}",
                self.log_tail(20)
            )
        })
    }

    /// The values of `label` among the series matching `selector`: what Grafana's
    /// `label_values(selector, label)` variable query asks Prometheus for.
    pub fn label_values(&self, label: &str, selector: &str) -> Result<Vec<String>, String> {
        let data = self.api(&format!(
            "/api/v1/label/{label}/values?match[]={}",
            url_encode(selector)
        ))?;
        Ok(data
            .as_array()
            .ok_or_else(|| format!("label values of {label} are no array: {data}"))?
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect())
    }

    /// `/api/v1/query_exemplars` of `expr` between `start` and `end` (seconds since the epoch):
    /// one object per series, `{seriesLabels, exemplars: [{labels, value, timestamp}]}`.
    pub fn exemplars(
        &self,
        expr: &str,
        start: f64,
        end: f64,
    ) -> Result<Vec<serde_json::Value>, String> {
        let data = self.api(&format!(
            "/api/v1/query_exemplars?query={}&start={start:.3}&end={end:.3}",
            url_encode(expr)
        ))?;
        match data {
            serde_json::Value::Array(series) => Ok(series),
            serde_json::Value::Null => Ok(Vec::new()),
            other => Err(format!("exemplars of {expr:?} are no array: {other}")),
        }
    }

    /// The rules Prometheus loaded, by group: `/api/v1/rules`.
    pub fn rules(&self) -> Result<serde_json::Value, String> {
        self.api("/api/v1/rules")
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Percent-encodes a query-string value (RFC 3986 unreserved characters stay).
pub fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}
