//! A REAL Alertmanager (Debian's `prometheus-alertmanager` package) run by a test as a child
//! process on loopback, with its own configuration and storage in the test's temp dir and its
//! clustering off; and [`Webhook`], a tiny HTTP server (std::net) that plays Alertmanager's
//! webhook receivers and keeps every notification it is sent.

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use super::metrics::{http_get, request, Request};
use super::util::{free_port, require_tool, wait_for};

/// A running Alertmanager; killed on drop.
pub struct Alertmanager {
    child: Child,
    pub addr: SocketAddr,
    log: PathBuf,
}

impl Alertmanager {
    /// Writes `config` to `dir/alertmanager.yml`, starts `prometheus-alertmanager` with it on a
    /// free port of 127.0.0.1 (storage in `dir/alertmanager-data`, no cluster listener) and
    /// waits until `/-/ready` answers 200. Its log goes to `dir/alertmanager.log`.
    pub fn start(dir: &Path, config: &str) -> Result<Alertmanager, String> {
        let bin = require_tool("prometheus-alertmanager");
        let config_path = dir.join("alertmanager.yml");
        fs::write(&config_path, config)
            .map_err(|e| format!("cannot write {}: {e}", config_path.display()))?;
        let data = dir.join("alertmanager-data");
        fs::create_dir_all(&data).map_err(|e| format!("mkdir {}: {e}", data.display()))?;
        let lo = Ipv4Addr::LOCALHOST;
        let addr = SocketAddr::V4(SocketAddrV4::new(lo, free_port(lo)));
        let log = dir.join("alertmanager.log");
        let log_file = fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        let child = Command::new(&bin)
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!("--storage.path={}", data.display()))
            .arg(format!("--web.listen-address={addr}"))
            // An empty address turns the gossip cluster off (it would bind 0.0.0.0:9094).
            .arg("--cluster.listen-address=")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log_file))
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
        let mut am = Alertmanager { child, addr, log };
        let ready = wait_for(Duration::from_secs(30), Duration::from_millis(50), || {
            if let Ok(Some(status)) = am.child.try_wait() {
                return Some(Err(format!("alertmanager exited with {status}")));
            }
            match http_get(addr, "/-/ready") {
                Ok(r) if r.status == 200 => Some(Ok(())),
                _ => None,
            }
        });
        match ready {
            Some(Ok(())) => Ok(am),
            Some(Err(e)) => Err(format!("{e}; its log:\n{}", am.log_tail(30))),
            None => Err(format!(
                "alertmanager on {addr} was not ready within 30 s; its log:\n{}",
                am.log_tail(30)
            )),
        }
    }

    pub fn log_tail(&self, n: usize) -> String {
        let text = fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// Every alert Alertmanager holds, silenced and inhibited ones included
    /// (`GET /api/v2/alerts`): each with `labels`, `annotations` and `status` (`state`
    /// `active`/`suppressed`, `inhibitedBy`, `silencedBy`).
    pub fn alerts(&self) -> Result<Vec<serde_json::Value>, String> {
        let (status, body) = get_json(self.addr, "/api/v2/alerts")?;
        if status != 200 {
            return Err(format!(
                "GET /api/v2/alerts answered {status}: {}",
                String::from_utf8_lossy(&body)
            ));
        }
        let v: serde_json::Value =
            serde_json::from_slice(&body).map_err(|e| format!("/api/v2/alerts is no JSON: {e}"))?;
        v.as_array()
            .cloned()
            .ok_or_else(|| format!("/api/v2/alerts is no list: {v}"))
    }
}

/// `GET path` asking for JSON (Alertmanager's API answers 406 to anything else).
fn get_json(addr: SocketAddr, path: &str) -> Result<(u16, Vec<u8>), String> {
    let r = request(
        addr,
        &Request::get(path).header("Accept", "application/json"),
    )?;
    Ok((r.status, r.body))
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One notification Alertmanager posted to the webhook.
#[derive(Debug, Clone)]
pub struct Notification {
    /// The request path: the tests give each receiver its own (`/mail-team`, …).
    pub path: String,
    /// The webhook payload: `receiver`, `status`, `alerts` (each with `labels`, `annotations`,
    /// `status`), `groupLabels`, `commonLabels`, …
    pub body: serde_json::Value,
}

/// A webhook receiver on 127.0.0.1: answers every `POST` with 200 and keeps its JSON body.
pub struct Webhook {
    pub addr: SocketAddr,
    received: Arc<Mutex<Vec<Notification>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Webhook {
    pub fn start() -> Webhook {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .unwrap_or_else(|e| panic!("cannot bind the webhook receiver: {e}"));
        let addr = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("local_addr: {e}"));
        listener
            .set_nonblocking(true)
            .unwrap_or_else(|e| panic!("set_nonblocking: {e}"));
        let received = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (r, s) = (Arc::clone(&received), Arc::clone(&stop));
        let thread = std::thread::Builder::new()
            .name("webhook".into())
            .spawn(move || {
                while !s.load(Ordering::SeqCst) {
                    match listener.accept() {
                        Ok((conn, _)) => {
                            if let Ok(n) = serve(conn) {
                                if let Ok(mut v) = r.lock() {
                                    v.push(n);
                                }
                            }
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                            std::thread::sleep(Duration::from_millis(10));
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(10)),
                    }
                }
            })
            .unwrap_or_else(|e| panic!("cannot start the webhook thread: {e}"));
        Webhook {
            addr,
            received,
            stop,
            thread: Some(thread),
        }
    }

    /// The URL of a receiver path, e.g. `url("/mail-team")`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn received(&self) -> Vec<Notification> {
        self.received.lock().map(|v| v.clone()).unwrap_or_default()
    }

    /// Every (path, alert) pair received so far, flattened out of the notifications.
    pub fn alerts(&self) -> Vec<(String, serde_json::Value)> {
        self.received()
            .into_iter()
            .flat_map(|n| {
                let alerts = n.body["alerts"].as_array().cloned().unwrap_or_default();
                alerts.into_iter().map(move |a| (n.path.clone(), a))
            })
            .collect()
    }

    /// Waits until an alert named `alertname` with status `firing` has been received.
    pub fn wait_for_alert(
        &self,
        alertname: &str,
        timeout: Duration,
    ) -> Option<(String, serde_json::Value)> {
        wait_for(timeout, Duration::from_millis(50), || {
            self.alerts()
                .into_iter()
                .find(|(_, a)| a["labels"]["alertname"] == alertname && a["status"] == "firing")
        })
    }
}

impl Drop for Webhook {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Reads one HTTP/1.1 request (headers and a `Content-Length` body), answers 200 and closes.
fn serve(conn: TcpStream) -> Result<Notification, String> {
    conn.set_nonblocking(false).map_err(|e| e.to_string())?;
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    let mut out = conn.try_clone().map_err(|e| e.to_string())?;
    let mut input = BufReader::new(conn);
    let mut request_line = String::new();
    input
        .read_line(&mut request_line)
        .map_err(|e| e.to_string())?;
    let path = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if input.read_line(&mut line).map_err(|e| e.to_string())? == 0 {
            break;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.trim().eq_ignore_ascii_case("content-length") {
                length = v.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0u8; length];
    input.read_exact(&mut body).map_err(|e| e.to_string())?;
    out.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        .map_err(|e| e.to_string())?;
    let body = serde_json::from_slice(&body).map_err(|e| format!("webhook body: {e}"))?;
    Ok(Notification { path, body })
}
