//! A plain SMTP client (no pipelining) that submits mail to an MTA under test, optionally from
//! a chosen loopback source address, and records every reply it got.

use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpStream};
use std::time::Duration;

/// One SMTP reply as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    /// The lines' text after `NNN-`/`NNN `.
    pub lines: Vec<String>,
}

impl Reply {
    /// The RFC 3463 enhanced code at the start of the first line, if any.
    pub fn enhanced(&self) -> Option<String> {
        let first = self.lines.first()?;
        let word = first.split_whitespace().next()?;
        let parts: Vec<&str> = word.split('.').collect();
        let ok = parts.len() == 3
            && matches!(parts[0], "2" | "4" | "5")
            && parts
                .iter()
                .all(|p| !p.is_empty() && p.len() <= 3 && p.chars().all(|c| c.is_ascii_digit()));
        ok.then(|| word.to_owned())
    }

    pub fn is_positive(&self) -> bool {
        self.code / 100 == 2 || self.code / 100 == 3
    }

    pub fn text(&self) -> String {
        self.lines
            .iter()
            .map(|l| format!("{} {l}", self.code))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// What happened to one message submitted with [`SmtpClient::send`].
#[derive(Debug, Clone)]
pub struct Submission {
    pub sender: String,
    /// Each recipient with the reply to its `RCPT TO`.
    pub rcpts: Vec<(String, Reply)>,
    /// The reply to `DATA` (if not 354) or to the end of the data; `None` when no recipient
    /// was accepted and `DATA` was not sent.
    pub data: Option<Reply>,
}

impl Submission {
    /// Recipients whose `RCPT TO` was accepted.
    pub fn accepted(&self) -> impl Iterator<Item = &str> {
        self.rcpts
            .iter()
            .filter(|(_, r)| r.code / 100 == 2)
            .map(|(a, _)| a.as_str())
    }

    /// Whether the message was accepted for delivery (queued).
    pub fn queued(&self) -> bool {
        self.data.as_ref().is_some_and(|d| d.code / 100 == 2)
    }
}

pub struct SmtpClient {
    out: TcpStream,
    input: BufReader<TcpStream>,
    pub greeting: Reply,
}

impl SmtpClient {
    /// Waits until the server at `addr` greets with 220 (a daemon just started), for at most
    /// `within`; `exited` says why to stop waiting early (the daemon's child process ended).
    pub fn await_greeting(
        addr: SocketAddr,
        within: Duration,
        mut exited: impl FnMut() -> Option<String>,
    ) -> Result<(), String> {
        let up = super::util::wait_for(within, Duration::from_millis(50), || {
            if let Some(why) = exited() {
                return Some(Err(why));
            }
            let c = SmtpClient::connect(addr, None).ok()?;
            let ok = c.greeting.code == 220;
            let _ = c.quit();
            ok.then_some(Ok(()))
        });
        up.unwrap_or_else(|| Err(format!("no 220 greeting on {addr} within {within:?}")))
    }

    /// Connects to `server`, from `source` if given (any loopback address works on Linux).
    pub fn connect(server: SocketAddr, source: Option<Ipv4Addr>) -> std::io::Result<SmtpClient> {
        let stream = match source {
            None => TcpStream::connect_timeout(&server, Duration::from_secs(10))?,
            Some(src) => {
                let sock = socket2::Socket::new(
                    socket2::Domain::IPV4,
                    socket2::Type::STREAM,
                    Some(socket2::Protocol::TCP),
                )?;
                sock.bind(&SocketAddr::V4(SocketAddrV4::new(src, 0)).into())?;
                sock.connect_timeout(&server.into(), Duration::from_secs(10))?;
                sock.into()
            }
        };
        stream.set_read_timeout(Some(Duration::from_secs(60)))?;
        stream.set_nodelay(true)?;
        let out = stream.try_clone()?;
        let mut input = BufReader::new(stream);
        let greeting = read_reply(&mut input)?;
        Ok(SmtpClient {
            out,
            input,
            greeting,
        })
    }

    /// Sends one command line and reads the reply.
    pub fn command(&mut self, line: &str) -> std::io::Result<Reply> {
        self.out.write_all(format!("{line}\r\n").as_bytes())?;
        read_reply(&mut self.input)
    }

    pub fn ehlo(&mut self, name: &str) -> std::io::Result<Reply> {
        self.command(&format!("EHLO {name}"))
    }

    /// Runs one mail transaction: `MAIL FROM`, one `RCPT TO` per recipient, and `DATA` with
    /// `headers` and `body` if any recipient was accepted (`RSET` otherwise).
    pub fn send(
        &mut self,
        sender: &str,
        rcpts: &[String],
        headers: &[(&str, String)],
        body: &str,
    ) -> std::io::Result<Submission> {
        let mail = self.command(&format!("MAIL FROM:<{sender}>"))?;
        if mail.code / 100 != 2 {
            return Err(std::io::Error::other(format!(
                "MAIL FROM:<{sender}> refused: {}",
                mail.text()
            )));
        }
        let mut replies = Vec::new();
        for r in rcpts {
            let reply = self.command(&format!("RCPT TO:<{r}>"))?;
            replies.push((r.clone(), reply));
        }
        let mut sub = Submission {
            sender: sender.to_owned(),
            rcpts: replies,
            data: None,
        };
        if sub.accepted().next().is_none() {
            self.command("RSET")?;
            return Ok(sub);
        }
        let data = self.command("DATA")?;
        if data.code != 354 {
            sub.data = Some(data);
            return Ok(sub);
        }
        let mut msg = String::new();
        for (k, v) in headers {
            msg.push_str(&format!("{k}: {v}\r\n"));
        }
        msg.push_str("\r\n");
        for l in body.lines() {
            if l.starts_with('.') {
                msg.push('.');
            }
            msg.push_str(l);
            msg.push_str("\r\n");
        }
        msg.push_str(".\r\n");
        self.out.write_all(msg.as_bytes())?;
        sub.data = Some(read_reply(&mut self.input)?);
        Ok(sub)
    }

    pub fn quit(mut self) -> std::io::Result<Reply> {
        self.command("QUIT")
    }
}

fn read_reply(input: &mut BufReader<TcpStream>) -> std::io::Result<Reply> {
    let mut lines = Vec::new();
    let mut buf = String::new();
    loop {
        buf.clear();
        if input.read_line(&mut buf)? == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("connection closed in the middle of a reply (got {lines:?})"),
            ));
        }
        let l = buf.trim_end_matches(['\r', '\n']);
        let code: u16 = l
            .get(..3)
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("bad SMTP reply line {l:?}")))?;
        let more = l.as_bytes().get(3) == Some(&b'-');
        lines.push(l.get(4..).unwrap_or("").to_owned());
        if !more {
            return Ok(Reply { code, lines });
        }
    }
}
