//! The one HTTP client of the tests ([`request`], [`http_get`]), scraping over it, reading the
//! Prometheus text format, and `promtool check metrics`.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::Duration;

use super::util::require_tool;

/// A label set: label name → value.
pub type Labels = BTreeMap<String, String>;
/// Every sample of an exposition: (metric name, labels) → value.
pub type Samples = BTreeMap<(String, Labels), f64>;

#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One HTTP/1.1 request of the tests: `Request::get(path)`, or another method, headers and a
/// body. `Host`, `User-Agent` and `Connection: close` are always sent, `Accept: text/plain` unless
/// a header names another, `Content-Length` with a body.
#[derive(Clone, Debug)]
pub struct Request<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub headers: Vec<(&'a str, &'a str)>,
    pub body: &'a [u8],
}

impl<'a> Request<'a> {
    pub fn get(path: &'a str) -> Request<'a> {
        Request {
            method: "GET",
            path,
            headers: Vec::new(),
            body: b"",
        }
    }

    pub fn method(mut self, method: &'a str) -> Request<'a> {
        self.method = method;
        self
    }

    pub fn header(mut self, name: &'a str, value: &'a str) -> Request<'a> {
        self.headers.push((name, value));
        self
    }

    pub fn body(mut self, body: &'a [u8]) -> Request<'a> {
        self.body = body;
        self
    }
}

/// THE HTTP client of the tests: sends `req` to `addr` over HTTP/1.1 with `Connection: close`
/// and reads the whole answer; handles `Content-Length`, chunked transfer-encoding and
/// read-to-close bodies.
pub fn request(addr: SocketAddr, req: &Request) -> Result<HttpResponse, String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .map_err(|e| format!("connect {addr}: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .map_err(|e| e.to_string())?;
    let mut head = format!(
        "{} {} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: e2e-harness\r\nConnection: close\r\n",
        req.method, req.path
    );
    if !req
        .headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("accept"))
    {
        head.push_str("Accept: text/plain\r\n");
    }
    for (k, v) in &req.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if !req.body.is_empty() {
        head.push_str(&format!("Content-Length: {}\r\n", req.body.len()));
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(req.body);
    s.write_all(&bytes)
        .map_err(|e| format!("send to {addr}: {e}"))?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)
        .map_err(|e| format!("read from {addr}: {e}"))?;
    parse_response(&raw)
}

/// `GET path` through [`request`].
pub fn http_get(addr: SocketAddr, path: &str) -> Result<HttpResponse, String> {
    request(addr, &Request::get(path))
}

fn parse_response(raw: &[u8]) -> Result<HttpResponse, String> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("HTTP response without the end of its header")?;
    let head = String::from_utf8_lossy(&raw[..end]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad HTTP status line {status_line:?}"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut resp = HttpResponse {
        status,
        headers,
        body: Vec::new(),
    };
    let rest = &raw[end + 4..];
    resp.body = if resp
        .header("transfer-encoding")
        .is_some_and(|t| t.to_ascii_lowercase().contains("chunked"))
    {
        dechunk(rest)?
    } else if let Some(n) = resp
        .header("content-length")
        .and_then(|n| n.parse::<usize>().ok())
    {
        if rest.len() < n {
            return Err(format!("body cut: {} of {n} bytes", rest.len()));
        }
        rest[..n].to_vec()
    } else {
        rest.to_vec()
    };
    Ok(resp)
}

fn dechunk(mut b: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let eol = b
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("chunked body: missing chunk size line")?;
        let size_text = String::from_utf8_lossy(&b[..eol]);
        let size_hex = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_hex, 16)
            .map_err(|_| format!("chunked body: bad chunk size {size_hex:?}"))?;
        b = &b[eol + 2..];
        if size == 0 {
            return Ok(out);
        }
        if b.len() < size + 2 {
            return Err("chunked body: chunk cut".into());
        }
        out.extend_from_slice(&b[..size]);
        b = &b[size + 2..];
    }
}

/// `GET /metrics`; fails unless the answer is 200.
pub fn scrape(addr: SocketAddr) -> Result<String, String> {
    let r = http_get(addr, "/metrics")?;
    if r.status != 200 {
        return Err(format!(
            "GET /metrics answered {}: {}",
            r.status,
            String::from_utf8_lossy(&r.body)
        ));
    }
    String::from_utf8(r.body).map_err(|e| format!("/metrics is not UTF-8: {e}"))
}

/// Reads the Prometheus text exposition format into samples. Comments and `# HELP`/`# TYPE`
/// lines are skipped; a sample line that cannot be read is an error naming it.
pub fn parse_exposition(text: &str) -> Result<Samples, String> {
    let mut out = Samples::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (name, labels, rest) =
            parse_sample(line).map_err(|e| format!("line {}: {e}: {line:?}", i + 1))?;
        let value_text = rest.split_whitespace().next().unwrap_or("");
        let value = parse_value(value_text)
            .ok_or_else(|| format!("line {}: bad value {value_text:?}: {line:?}", i + 1))?;
        if out.insert((name, labels), value).is_some() {
            return Err(format!("line {}: duplicate series: {line:?}", i + 1));
        }
    }
    Ok(out)
}

fn parse_value(s: &str) -> Option<f64> {
    match s {
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        "NaN" => Some(f64::NAN),
        _ => s.parse().ok(),
    }
}

fn parse_sample(line: &str) -> Result<(String, Labels, &str), String> {
    let name_end = line
        .find(|c: char| c == '{' || c.is_whitespace())
        .ok_or("no value")?;
    let name = line[..name_end].to_owned();
    if name.is_empty() {
        return Err("no metric name".into());
    }
    let mut labels = Labels::new();
    let mut rest = &line[name_end..];
    if let Some(r) = rest.strip_prefix('{') {
        let mut chars = r.char_indices().peekable();
        loop {
            // skip spaces and commas
            while chars.next_if(|(_, c)| *c == ',' || *c == ' ').is_some() {}
            let Some(&(start, c)) = chars.peek() else {
                return Err("unterminated label set".into());
            };
            if c == '}' {
                rest = &r[start + 1..];
                break;
            }
            let eq = r[start..].find('=').ok_or("label without =")? + start;
            let key = r[start..eq].trim().to_owned();
            while chars.next_if(|(i, _)| *i <= eq).is_some() {}
            if chars.next().map(|(_, c)| c) != Some('"') {
                return Err(format!("label {key} value not quoted"));
            }
            let mut val = String::new();
            loop {
                match chars.next() {
                    None => return Err("unterminated label value".into()),
                    Some((_, '"')) => break,
                    Some((_, '\\')) => match chars.next() {
                        Some((_, 'n')) => val.push('\n'),
                        Some((_, '\\')) => val.push('\\'),
                        Some((_, '"')) => val.push('"'),
                        other => return Err(format!("bad escape {other:?}")),
                    },
                    Some((_, c)) => val.push(c),
                }
            }
            if labels.insert(key.clone(), val).is_some() {
                return Err(format!("label {key} twice"));
            }
        }
    }
    Ok((name, labels, rest.trim_start()))
}

/// The series of one metric: labels → value.
pub fn series(samples: &Samples, metric: &str) -> BTreeMap<Labels, f64> {
    samples
        .iter()
        .filter(|((m, _), _)| m == metric)
        .map(|((_, l), v)| (l.clone(), *v))
        .collect()
}

/// Builds a label set from pairs.
pub fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// Pipes an exposition into the real `promtool check metrics`; any complaint is an error.
pub fn promtool_check(text: &str) -> Result<(), String> {
    let promtool = require_tool("promtool");
    let mut child = Command::new(&promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", promtool.display()))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(text.as_bytes())
            .map_err(|e| format!("writing to promtool: {e}"))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("promtool: {e}"))?;
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() && said.trim().is_empty() {
        Ok(())
    } else {
        Err(format!(
            "`promtool check metrics` exited with {} and said:\n{said}",
            out.status
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_exposition() {
        let text = "# HELP x_total X.\n# TYPE x_total counter\n\
                    x_total{a=\"1\",b=\"q\\\"uo\\\\te\\n\"} 3\nup 1\nh_bucket{le=\"+Inf\"} 2 1700000000\n";
        let s = parse_exposition(text).unwrap_or_default();
        assert_eq!(s.len(), 3);
        let l = labels(&[("a", "1"), ("b", "q\"uo\\te\n")]);
        assert_eq!(s.get(&("x_total".to_owned(), l)), Some(&3.0));
        assert_eq!(s.get(&("up".to_owned(), Labels::new())), Some(&1.0));
    }

    #[test]
    fn reads_chunked_bodies() {
        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;x=y\r\n world\r\n0\r\n\r\n";
        let r = parse_response(raw).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.status, 200);
        assert_eq!(r.body, b"hello world");
    }
}
