//! A scripted SMTP server on loopback: the "remote" side an MTA under test delivers to.
//!
//! It listens on several loopback addresses (one per test domain, all on the same port) and
//! answers each `RCPT TO` with the reply the recipient's local part asks for (see [`Script`]).
//! Every reply that an MTA will log for a recipient is recorded as a [`SinkRecord`]: a refused
//! `RCPT TO` at once, an accepted recipient once the reply to the end of `DATA` is sent (that
//! reply is what the MTA logs for it). The test compares these records with what the exporter
//! counted.

use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// One scripted reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptedReply {
    pub code: u16,
    /// The enhanced code to put in the reply text, if any.
    pub enhanced: Option<String>,
    /// Send it as a multi-line reply (`550-5.1.1 …` lines, as Gmail does).
    pub multiline: bool,
}

impl ScriptedReply {
    pub fn new(code: u16, enhanced: Option<&str>) -> ScriptedReply {
        ScriptedReply {
            code,
            enhanced: enhanced.map(str::to_owned),
            multiline: false,
        }
    }

    /// The reply's lines (without CRLF), each starting with the code and `-` or ` `.
    pub fn lines(&self, rcpt: &str) -> Vec<String> {
        let enh = self
            .enhanced
            .as_deref()
            .map(|e| format!("{e} "))
            .unwrap_or_default();
        let texts: Vec<String> = if self.multiline {
            vec![
                "The email account that you tried to reach does not exist. Please try".into(),
                "double-checking the recipient's email address for typos or".into(),
                format!("unnecessary spaces. <{rcpt}> e2e-sink - gsmtp"),
            ]
        } else {
            vec![format!("{} <{rcpt}> (e2e sink)", phrase(self.code))]
        };
        let n = texts.len();
        texts
            .into_iter()
            .enumerate()
            .map(|(i, t)| {
                let sep = if i + 1 == n { ' ' } else { '-' };
                format!("{}{sep}{enh}{t}", self.code)
            })
            .collect()
    }

    fn wire(&self, rcpt: &str) -> String {
        self.lines(rcpt)
            .iter()
            .map(|l| format!("{l}\r\n"))
            .collect()
    }
}

fn phrase(code: u16) -> &'static str {
    match code {
        250 => "Ok",
        421 => "Too many concurrent connections, try again later",
        450 => "Mailbox unavailable, try again later",
        451 => "Local error in processing, try again later",
        452 => "Insufficient system storage",
        550 => "No such user here",
        552 => "Mailbox full",
        553 => "Mailbox name not allowed",
        554 => "Rejected by policy",
        c if c / 100 == 4 => "Temporary failure",
        c if c / 100 == 5 => "Permanent failure",
        _ => "Ok",
    }
}

/// What the sink answers for one recipient, encoded in its local part so that the MTA under
/// test carries the script with the mail:
///
/// `r<code>[-<enhanced>][-ml][-d<code>[-<enhanced>]]-<id>`
///
/// e.g. `r250-m0001` (accept), `r550-5.1.1-ml-m0007` (multi-line 550 5.1.1), `r550-m0008`
/// (basic code only), `r250-d554-5.7.1-m0009` (accept the recipient, answer the end of `DATA`
/// with 554 5.7.1). The `<id>` makes addresses unique; the sink ignores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    pub rcpt: ScriptedReply,
    /// The reply to the end of DATA for the transaction this recipient is in (250 2.0.0 if no
    /// accepted recipient of the transaction asks for another).
    pub data: Option<ScriptedReply>,
}

impl Script {
    pub fn accept() -> Script {
        Script::rcpt(250, Some("2.1.5"))
    }

    pub fn rcpt(code: u16, enhanced: Option<&str>) -> Script {
        Script {
            rcpt: ScriptedReply::new(code, enhanced),
            data: None,
        }
    }

    pub fn multiline(mut self) -> Script {
        self.rcpt.multiline = true;
        self
    }

    pub fn data(mut self, code: u16, enhanced: Option<&str>) -> Script {
        self.data = Some(ScriptedReply::new(code, enhanced));
        self
    }

    /// The local part that asks the sink for this script.
    pub fn local_part(&self, id: &str) -> String {
        let mut s = format!("r{}", self.rcpt.code);
        if let Some(e) = &self.rcpt.enhanced {
            if self.rcpt.code != 250 || e != "2.1.5" {
                s.push('-');
                s.push_str(e);
            }
        }
        if self.rcpt.multiline {
            s.push_str("-ml");
        }
        if let Some(d) = &self.data {
            s.push_str(&format!("-d{}", d.code));
            if let Some(e) = &d.enhanced {
                s.push('-');
                s.push_str(e);
            }
        }
        s.push('-');
        s.push_str(id);
        s
    }

    /// Reads the script from an address's local part; `None` if it does not follow the grammar.
    pub fn parse(address: &str) -> Option<Script> {
        let local = address.rsplit_once('@').map_or(address, |(l, _)| l);
        let mut toks = local.split('-').peekable();
        let code: u16 = toks.next()?.strip_prefix(['r', 'R'])?.parse().ok()?;
        let is_enh =
            |t: &&str| t.contains('.') && t.chars().all(|c| c.is_ascii_digit() || c == '.');
        let mut rcpt = ScriptedReply::new(code, None);
        if let Some(e) = toks.next_if(is_enh) {
            rcpt.enhanced = Some(e.to_owned());
        } else if code == 250 {
            rcpt.enhanced = Some("2.1.5".into());
        }
        if toks.next_if(|t| t.eq_ignore_ascii_case("ml")).is_some() {
            rcpt.multiline = true;
        }
        let mut data = None;
        if let Some(d) = toks.next_if(|t| {
            t.len() == 4 && t.starts_with(['d', 'D']) && t[1..].chars().all(|c| c.is_ascii_digit())
        }) {
            let dcode: u16 = d[1..].parse().ok()?;
            let denh = toks.next_if(is_enh).map(str::to_owned);
            data = Some(ScriptedReply {
                code: dcode,
                enhanced: denh,
                multiline: false,
            });
        }
        Some(Script { rcpt, data })
    }
}

/// At which point of the transaction the recorded reply was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stage {
    /// The reply to `RCPT TO` refused the recipient.
    Rcpt,
    /// The recipient was accepted; this is the reply to the end of `DATA`.
    Data,
}

/// One reply the sink gave that the MTA will log for one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SinkRecord {
    /// The loopback address the MTA connected to (which test domain's "server").
    pub listener: Ipv4Addr,
    /// The envelope sender of the transaction (empty for the null sender `<>`).
    pub sender: String,
    /// The recipient exactly as the MTA sent it in `RCPT TO`.
    pub recipient: String,
    pub stage: Stage,
    pub code: u16,
    /// The enhanced code the reply carried, if any.
    pub enhanced: Option<String>,
    /// The reply as sent, lines joined with `\n`.
    pub text: String,
}

/// The scripted SMTP server. Stops on drop.
pub struct Sink {
    port: u16,
    addrs: Vec<Ipv4Addr>,
    records: Arc<Mutex<Vec<SinkRecord>>>,
    sessions: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl Sink {
    /// Listens on every address in `addrs`, all on one free port.
    pub fn start(addrs: &[Ipv4Addr]) -> std::io::Result<Sink> {
        assert!(!addrs.is_empty(), "a sink needs at least one address");
        let mut last_err = None;
        for _ in 0..20 {
            match bind_all(addrs) {
                Ok(listeners) => return Ok(Sink::run(addrs, listeners)),
                Err(e) => last_err = Some(e),
            }
        }
        Err(last_err.unwrap_or_else(|| std::io::Error::other("cannot bind the sink")))
    }

    fn run(addrs: &[Ipv4Addr], listeners: Vec<TcpListener>) -> Sink {
        let port = listeners[0].local_addr().map(|a| a.port()).unwrap_or(0);
        let records = Arc::new(Mutex::new(Vec::new()));
        let sessions = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let queue_ids = Arc::new(AtomicUsize::new(0));
        let threads = listeners
            .into_iter()
            .zip(addrs.iter().copied())
            .map(|(l, ip)| {
                let (records, sessions, stop, queue_ids) = (
                    records.clone(),
                    sessions.clone(),
                    stop.clone(),
                    queue_ids.clone(),
                );
                std::thread::spawn(move || {
                    accept_loop(l, ip, records, sessions, stop, queue_ids);
                })
            })
            .collect();
        Sink {
            port,
            addrs: addrs.to_vec(),
            records,
            sessions,
            stop,
            threads,
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn addrs(&self) -> &[Ipv4Addr] {
        &self.addrs
    }

    /// `[ip]:port` of the listener on `ip`, as a Postfix nexthop.
    pub fn nexthop(&self, ip: Ipv4Addr) -> String {
        format!("[{ip}]:{}", self.port)
    }

    /// A copy of every reply recorded so far.
    pub fn records(&self) -> Vec<SinkRecord> {
        self.records.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// SMTP sessions currently open.
    pub fn open_sessions(&self) -> usize {
        self.sessions.load(Ordering::SeqCst)
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

fn bind_all(addrs: &[Ipv4Addr]) -> std::io::Result<Vec<TcpListener>> {
    let first = TcpListener::bind(SocketAddrV4::new(addrs[0], 0))?;
    let port = first.local_addr()?.port();
    let mut all = vec![first];
    for ip in &addrs[1..] {
        all.push(TcpListener::bind(SocketAddrV4::new(*ip, port))?);
    }
    for l in &all {
        l.set_nonblocking(true)?;
    }
    Ok(all)
}

fn accept_loop(
    listener: TcpListener,
    ip: Ipv4Addr,
    records: Arc<Mutex<Vec<SinkRecord>>>,
    sessions: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    queue_ids: Arc<AtomicUsize>,
) {
    while !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                let (records, sessions, stop, queue_ids) = (
                    records.clone(),
                    sessions.clone(),
                    stop.clone(),
                    queue_ids.clone(),
                );
                sessions.fetch_add(1, Ordering::SeqCst);
                std::thread::spawn(move || {
                    let _ = session(stream, ip, &records, &stop, &queue_ids);
                    sessions.fetch_sub(1, Ordering::SeqCst);
                });
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(5)),
        }
    }
}

const EHLO_REPLY: &str = "250-sink.e2e.test\r\n250-PIPELINING\r\n250-SIZE 52428800\r\n\
250-8BITMIME\r\n250-SMTPUTF8\r\n250 ENHANCEDSTATUSCODES\r\n";

fn session(
    stream: TcpStream,
    ip: Ipv4Addr,
    records: &Mutex<Vec<SinkRecord>>,
    stop: &AtomicBool,
    queue_ids: &AtomicUsize,
) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut out = stream.try_clone()?;
    let mut input = BufReader::new(stream);
    out.write_all(b"220 sink.e2e.test ESMTP e2e-sink\r\n")?;

    let mut sender: Option<String> = None;
    // Accepted recipients of the current transaction, with their scripts.
    let mut accepted: Vec<(String, Option<Script>)> = Vec::new();
    let mut line = String::new();
    let record = |r: SinkRecord| {
        if let Ok(mut v) = records.lock() {
            v.push(r);
        }
    };
    loop {
        if stop.load(Ordering::SeqCst) {
            return Ok(());
        }
        line.clear();
        if input.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let cmd = line.trim_end_matches(['\r', '\n']);
        let upper = cmd.to_ascii_uppercase();
        if upper.starts_with("EHLO") {
            out.write_all(EHLO_REPLY.as_bytes())?;
        } else if upper.starts_with("HELO") {
            out.write_all(b"250 sink.e2e.test\r\n")?;
        } else if upper.starts_with("MAIL FROM:") {
            sender = Some(angle_addr(&cmd[10..]));
            accepted.clear();
            out.write_all(b"250 2.1.0 Ok\r\n")?;
        } else if upper.starts_with("RCPT TO:") {
            let rcpt = angle_addr(&cmd[8..]);
            if sender.is_none() {
                out.write_all(b"503 5.5.1 Error: need MAIL command\r\n")?;
                continue;
            }
            let script = Script::parse(&rcpt);
            let reply = script
                .as_ref()
                .map(|s| s.rcpt.clone())
                .unwrap_or_else(|| ScriptedReply::new(550, Some("5.1.1")));
            // Recorded before it is sent, so that a record exists once the MTA has logged it.
            if reply.code / 100 != 2 {
                record(SinkRecord {
                    listener: ip,
                    sender: sender.clone().unwrap_or_default(),
                    recipient: rcpt.clone(),
                    stage: Stage::Rcpt,
                    code: reply.code,
                    enhanced: reply.enhanced.clone(),
                    text: reply.lines(&rcpt).join("\n"),
                });
            }
            out.write_all(reply.wire(&rcpt).as_bytes())?;
            if reply.code / 100 == 2 {
                accepted.push((rcpt, script));
            }
        } else if upper == "DATA" {
            if accepted.is_empty() {
                // Postfix logs nothing for this reply: every recipient already has its status.
                out.write_all(b"554 5.5.1 Error: no valid recipients\r\n")?;
                continue;
            }
            out.write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")?;
            loop {
                line.clear();
                if input.read_line(&mut line)? == 0 {
                    return Ok(());
                }
                if line.trim_end_matches(['\r', '\n']) == "." {
                    break;
                }
            }
            let n = queue_ids.fetch_add(1, Ordering::SeqCst);
            let reply = accepted
                .iter()
                .find_map(|(_, s)| s.as_ref().and_then(|s| s.data.clone()))
                .unwrap_or_else(|| ScriptedReply::new(250, Some("2.0.0")));
            let lines = if reply.code == 250 {
                vec![format!("250 2.0.0 Ok: queued as S{n:06}")]
            } else {
                reply.lines("message")
            };
            let wire: String = lines.iter().map(|l| format!("{l}\r\n")).collect();
            for (rcpt, _) in accepted.drain(..) {
                record(SinkRecord {
                    listener: ip,
                    sender: sender.clone().unwrap_or_default(),
                    recipient: rcpt,
                    stage: Stage::Data,
                    code: reply.code,
                    enhanced: reply.enhanced.clone(),
                    text: lines.join("\n"),
                });
            }
            out.write_all(wire.as_bytes())?;
            sender = None;
        } else if upper == "RSET" {
            sender = None;
            accepted.clear();
            out.write_all(b"250 2.0.0 Ok\r\n")?;
        } else if upper == "NOOP" {
            out.write_all(b"250 2.0.0 Ok\r\n")?;
        } else if upper == "QUIT" {
            out.write_all(b"221 2.0.0 Bye\r\n")?;
            return Ok(());
        } else {
            out.write_all(b"502 5.5.2 Error: command not recognized\r\n")?;
        }
    }
}

/// The address inside `<…>` of a `MAIL FROM:`/`RCPT TO:` argument (ESMTP parameters dropped).
fn angle_addr(arg: &str) -> String {
    let arg = arg.trim();
    match (arg.find('<'), arg.find('>')) {
        (Some(a), Some(b)) if a < b => arg[a + 1..b].to_owned(),
        _ => arg.split_whitespace().next().unwrap_or("").to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_round_trip() {
        for s in [
            Script::accept(),
            Script::rcpt(550, Some("5.1.1")).multiline(),
            Script::rcpt(550, None),
            Script::accept().data(554, Some("5.7.1")),
            Script::rcpt(421, Some("4.7.0")),
        ] {
            let lp = s.local_part("m0001-1");
            assert_eq!(Script::parse(&format!("{lp}@D1.TEST")), Some(s), "{lp}");
        }
    }
}
