//! Syslog messages on the wire: RFC 6587 framing of a TCP stream, and RFC 5424 messages
//! rewritten into the classic layout the MTA parsers read. Pure code, no I/O.
//!
//! **Framing** (RFC 6587 §3.4), decided per frame, so a sender may switch: a frame that starts
//! with digits and a space is octet-counted (`LEN SP MSG`, rsyslog's and syslog-ng's
//! `octet-counted` framing, `logger --octet-count`); anything else is non-transparent framing,
//! one message per line (`\n`; a `\r` before it is dropped). A message over the size cap is
//! reported once as too large and skipped to its end, so memory stays bounded.
//!
//! **RFC 5424** (`<PRI>1 TIMESTAMP HOST APP-NAME PROCID MSGID SD MSG`, rsyslog's
//! `RSYSLOG_SyslogProtocol23Format`, `logger --rfc5424`) is rewritten as
//! `TIMESTAMP HOST APP-NAME[PROCID]: MSG` in a reused buffer: the program name and pid land
//! where Postfix's parser reads them, the structured data and a BOM are dropped, and so are the
//! spaces rsyslog leaves before a message it received in the classic format. RFC 3164 messages
//! (`<PRI>Mmm dd hh:mm:ss HOST TAG[PID]: MSG`, also with an RFC 3339 time) are read as they
//! are. Note that rsyslog's APP-NAME of a classic message stops at the first `/` unless
//! `global(parser.permitSlashInProgramName="on")` is set: `postfix/smtp` would arrive as
//! `postfix`, whose lines Postfix's parser cannot tell apart (ignored).

/// One item of a framed stream.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    Message(&'a [u8]),
    /// A message over the cap: its bytes are dropped.
    TooLarge,
}

/// The longest length prefix read (9 digits: up to 999,999,999 bytes, then it is too large).
const MAX_LEN_DIGITS: usize = 9;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Skip {
    None,
    /// Inside an octet-counted message over the cap: this many bytes still to drop.
    Bytes(usize),
    /// Inside a newline-framed message over the cap: drop up to the next `\n`.
    Line,
}

/// Splits a TCP stream into syslog messages (RFC 6587), holding an unfinished frame.
#[derive(Debug)]
pub struct Framer {
    held: Vec<u8>,
    max: usize,
    skip: Skip,
}

impl Framer {
    pub fn new(max: usize) -> Self {
        Framer {
            held: Vec::new(),
            max,
            skip: Skip::None,
        }
    }

    /// Feeds the bytes of one read; `on_frame` gets every frame they complete.
    pub fn feed(&mut self, chunk: &[u8], mut on_frame: impl FnMut(Frame<'_>)) {
        let mut rest = chunk;
        match self.skip {
            Skip::None => {}
            Skip::Bytes(n) => {
                let k = n.min(rest.len());
                rest = rest.get(k..).unwrap_or_default();
                self.skip = if n > k {
                    Skip::Bytes(n - k)
                } else {
                    Skip::None
                };
            }
            Skip::Line => match memchr::memchr(b'\n', rest) {
                Some(i) => {
                    rest = rest.get(i + 1..).unwrap_or_default();
                    self.skip = Skip::None;
                }
                None => return,
            },
        }
        if self.skip != Skip::None {
            return;
        }
        if self.held.is_empty() {
            let used = self.frames(rest, &mut on_frame);
            self.hold(rest.get(used..).unwrap_or_default());
        } else {
            // A frame cut by the previous read: join, then go on from the joined bytes.
            let mut joined = std::mem::take(&mut self.held);
            joined.extend_from_slice(rest);
            let used = self.frames(&joined, &mut on_frame);
            joined.drain(..used.min(joined.len()));
            self.held = joined;
        }
    }

    /// Hands out the whole frames at the start of `b`; returns how many bytes they took (the
    /// rest is an unfinished frame). May set `skip` for a frame over the cap.
    fn frames(&mut self, b: &[u8], on_frame: &mut impl FnMut(Frame<'_>)) -> usize {
        let mut at = 0;
        loop {
            let rest = b.get(at..).unwrap_or_default();
            if rest.is_empty() {
                return at;
            }
            match octet_count(rest) {
                Count::Yes(len, digits) => {
                    let start = digits + 1;
                    if len > self.max {
                        on_frame(Frame::TooLarge);
                        let have = rest.len() - start;
                        if have >= len {
                            at += start + len;
                            continue;
                        }
                        self.skip = Skip::Bytes(len - have);
                        return b.len();
                    }
                    match rest.get(start..start + len) {
                        Some(m) => {
                            on_frame(Frame::Message(trim_eol(m)));
                            at += start + len;
                        }
                        None => return at,
                    }
                }
                Count::NeedMore => return at,
                Count::No => match memchr::memchr(b'\n', rest) {
                    Some(i) => {
                        let line = rest.get(..i).unwrap_or_default();
                        if line.len() > self.max {
                            on_frame(Frame::TooLarge);
                        } else if !line.iter().all(|c| matches!(c, b'\r' | 0)) {
                            // Empty lines (keep-alives, a CRLF after a frame) are no message.
                            on_frame(Frame::Message(trim_eol(line)));
                        }
                        at += i + 1;
                    }
                    None => {
                        if rest.len() > self.max {
                            on_frame(Frame::TooLarge);
                            self.skip = Skip::Line;
                            return b.len();
                        }
                        return at;
                    }
                },
            }
        }
    }

    fn hold(&mut self, tail: &[u8]) {
        self.held.clear();
        self.held.extend_from_slice(tail);
    }

    /// The peer closed the connection: an unfinished newline-framed message is still a
    /// message. Returns whether an octet-counted message was cut short (it is dropped).
    pub fn finish(&mut self, mut on_frame: impl FnMut(Frame<'_>)) -> bool {
        let held = std::mem::take(&mut self.held);
        let cut = match octet_count(&held) {
            _ if held.is_empty() || self.skip != Skip::None => false,
            Count::Yes(..) | Count::NeedMore => true,
            Count::No => {
                on_frame(Frame::Message(trim_eol(&held)));
                false
            }
        };
        self.skip = Skip::None;
        cut
    }
}

enum Count {
    /// Octet-counted: the length and how many digits it took.
    Yes(usize, usize),
    /// Digits so far, but no space yet: wait for more bytes.
    NeedMore,
    No,
}

/// Whether `b` starts an octet-counted frame (`[1-9][0-9]* SP`).
fn octet_count(b: &[u8]) -> Count {
    let digits = b.iter().take_while(|c| c.is_ascii_digit()).count();
    if digits == 0 || b.first() == Some(&b'0') {
        return Count::No;
    }
    if digits > MAX_LEN_DIGITS {
        return Count::No;
    }
    match b.get(digits) {
        None => Count::NeedMore,
        Some(b' ') => {
            let len = b
                .iter()
                .take(digits)
                .fold(0usize, |n, c| n * 10 + usize::from(c - b'0'));
            Count::Yes(len, digits)
        }
        Some(_) => Count::No,
    }
}

/// Without trailing `\n`, `\r` and NUL (some senders end datagrams with them).
pub fn trim_eol(mut m: &[u8]) -> &[u8] {
    while let [head @ .., b'\n' | b'\r' | 0] = m {
        m = head;
    }
    m
}

/// Rewrites an RFC 5424 message into the classic layout in `out` and returns it; any other
/// message is returned as it is (the parsers read RFC 3164 headers themselves). A message that
/// starts like RFC 5424 but cannot be read is returned as it is too, for the parser to count as
/// unrecognised.
pub fn normalise<'a>(msg: &'a [u8], out: &'a mut Vec<u8>) -> &'a [u8] {
    match rfc5424(msg) {
        Some(p) => {
            out.clear();
            if p.timestamp != b"-" {
                out.extend_from_slice(p.timestamp);
            } else {
                // The parsers need a time where the classic layout has one; it is not used.
                out.extend_from_slice(b"1970-01-01T00:00:00Z");
            }
            out.push(b' ');
            if p.host != b"-" {
                out.extend_from_slice(p.host);
                out.push(b' ');
            }
            out.extend_from_slice(p.app);
            if p.procid != b"-" {
                out.push(b'[');
                out.extend_from_slice(p.procid);
                out.push(b']');
            }
            out.push(b':');
            if !p.msg.is_empty() {
                out.push(b' ');
                out.extend_from_slice(p.msg);
            }
            out
        }
        None => msg,
    }
}

/// The parts of an RFC 5424 message the classic layout keeps.
#[derive(Debug, PartialEq, Eq)]
struct Rfc5424<'a> {
    timestamp: &'a [u8],
    host: &'a [u8],
    app: &'a [u8],
    procid: &'a [u8],
    msg: &'a [u8],
}

fn rfc5424(m: &[u8]) -> Option<Rfc5424<'_>> {
    let after = m.strip_prefix(b"<")?;
    let close = after.iter().take(4).position(|&c| c == b'>')?;
    let pri = after.get(..close)?;
    if pri.is_empty() || !pri.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut rest = after.get(close + 1..)?.strip_prefix(b"1 ")?;
    let mut fields: [&[u8]; 5] = [&[]; 5];
    for f in &mut fields {
        let sp = memchr::memchr(b' ', rest)?;
        *f = rest.get(..sp)?;
        // A word of the header: no empty field, nothing a classic header could not hold.
        if f.is_empty() || f.iter().any(|c| !c.is_ascii_graphic()) {
            return None;
        }
        rest = rest.get(sp + 1..)?;
    }
    let [timestamp, host, app, procid, _msgid] = fields;
    if app == b"-" || app.contains(&b'[') || app.contains(&b':') || procid.contains(&b']') {
        return None;
    }
    let msg = skip_sd(rest)?;
    let msg = msg.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(msg);
    Some(Rfc5424 {
        timestamp,
        host,
        app,
        procid,
        msg: msg.trim_ascii_start(),
    })
}

/// Skips `-` or `[…]…` structured data (with `\]` and `\"` escapes in values) and the space
/// after it.
fn skip_sd(b: &[u8]) -> Option<&[u8]> {
    let after = if let Some(a) = b.strip_prefix(b"-") {
        a
    } else {
        let mut rest = b;
        if !rest.starts_with(b"[") {
            return None;
        }
        while let Some(inner) = rest.strip_prefix(b"[") {
            let mut i = 0;
            let mut quoted = false;
            loop {
                match *inner.get(i)? {
                    b'\\' if quoted => i += 2,
                    b'"' => {
                        quoted = !quoted;
                        i += 1;
                    }
                    b']' if !quoted => break,
                    _ => i += 1,
                }
            }
            rest = inner.get(i + 1..)?;
        }
        rest
    };
    match after.first() {
        None => Some(after),
        Some(b' ') => after.get(1..),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(max: usize, chunks: &[&[u8]]) -> Vec<Option<String>> {
        let mut f = Framer::new(max);
        let mut out = Vec::new();
        for c in chunks {
            f.feed(c, |fr| {
                out.push(match fr {
                    Frame::Message(m) => Some(String::from_utf8_lossy(m).into_owned()),
                    Frame::TooLarge => None,
                })
            });
        }
        f.finish(|fr| {
            if let Frame::Message(m) = fr {
                out.push(Some(String::from_utf8_lossy(m).into_owned()));
            }
        });
        out
    }

    #[test]
    fn both_framings_at_every_split_point() {
        let stream = b"11 <13>1 - a b\n<13>plain line\r\n5 <1>xy\n\n<2>last";
        let want = vec![
            Some("<13>1 - a b".to_owned()),
            Some("<13>plain line".to_owned()),
            Some("<1>xy".to_owned()),
            Some("<2>last".to_owned()),
        ];
        for a in 0..=stream.len() {
            for b in a..=stream.len() {
                let got = frames(100, &[&stream[..a], &stream[a..b], &stream[b..]]);
                assert_eq!(got, want, "split at {a},{b}");
            }
        }
    }

    #[test]
    fn messages_over_the_cap_are_reported_once_and_skipped() {
        let stream = b"23 <1>0123456789abcdefghijok\n0123456789abc\nafter\n";
        for a in 0..=stream.len() {
            let got = frames(10, &[&stream[..a], &stream[a..]]);
            assert_eq!(
                got,
                vec![None, Some("ok".into()), None, Some("after".into())],
                "split at {a}"
            );
        }
    }

    #[test]
    fn a_digit_line_without_a_space_is_newline_framed() {
        assert_eq!(
            frames(100, &[b"2026-11-23T04:35:58Z mx postfix/smtp[1]: x\n"]),
            vec![Some("2026-11-23T04:35:58Z mx postfix/smtp[1]: x".into())]
        );
    }

    /// (message as received, as the parsers get it).
    const NORMALISED: &[(&str, &str)] = &[
        // rsyslog RSYSLOG_SyslogProtocol23Format of a message it received in RFC 3164, with
        // parser.permitSlashInProgramName="on": two spaces before MSG.
        (
            "<22>1 2026-11-23T04:52:29.447663+00:00 vm postfix/smtp 17827 - -  1CA9A98C0C2: to=<a@example.net>, status=sent (250 2.0.0 Ok)",
            "2026-11-23T04:52:29.447663+00:00 vm postfix/smtp[17827]: 1CA9A98C0C2: to=<a@example.net>, status=sent (250 2.0.0 Ok)",
        ),
        // logger --rfc5424: structured data, no pid.
        (
            "<22>1 2026-11-23T04:52:29.452527+00:00 vm postfix/smtp - - [timeQuality tzKnown=\"1\" isSynced=\"0\"] ABC: to=<b@example.net>",
            "2026-11-23T04:52:29.452527+00:00 vm postfix/smtp: ABC: to=<b@example.net>",
        ),
        // Nil time and host, a BOM, escapes in SD.
        (
            "<22>1 - - postfix/smtpd 5 ID1 [a@1 x=\"q\\]\\\"\"] \u{FEFF}NOQUEUE: reject: x",
            "1970-01-01T00:00:00Z postfix/smtpd[5]: NOQUEUE: reject: x",
        ),
        ("<22>1 - mx postfix/qmgr 1 - -", "1970-01-01T00:00:00Z mx postfix/qmgr[1]:"),
        // Not RFC 5424: as it is.
        (
            "<22>Nov 23 04:52:29 vm postfix/smtp[17827]: x",
            "<22>Nov 23 04:52:29 vm postfix/smtp[17827]: x",
        ),
        ("<22>1 - mx - 1 - - msg", "<22>1 - mx - 1 - - msg"),
        ("<22>1 - mx app 1 - [unclosed msg", "<22>1 - mx app 1 - [unclosed msg"),
        ("<22>1 - mx", "<22>1 - mx"),
    ];

    #[test]
    fn rfc5424_is_rewritten_in_the_classic_layout() {
        let mut buf = Vec::new();
        for (input, want) in NORMALISED {
            let got = normalise(input.as_bytes(), &mut buf);
            assert_eq!(String::from_utf8_lossy(got), *want, "{input}");
        }
    }

    #[test]
    fn rewritten_lines_are_counted_by_the_postfix_parser() {
        let mut buf = Vec::new();
        let m = b"<22>1 2026-11-23T04:52:29Z vm postfix/smtp 17827 - -  1CA9A98C0C2: to=<a@example.net>, relay=127.0.0.1[127.0.0.1]:12600, delay=0.03, delays=0.01/0.02/0/0, dsn=2.0.0, status=sent (250 2.0.0 Ok)";
        let line = normalise(m, &mut buf);
        assert_eq!(
            crate::parse::render_for_tests(&crate::parse::postfix::parse(line)),
            "outbound delivered 250 2.0.0 example.net"
        );
    }

    #[test]
    fn prefixes_never_panic() {
        let mut buf = Vec::new();
        for (input, _) in NORMALISED {
            for n in 0..=input.len() {
                let _ = normalise(input.as_bytes().get(..n).unwrap_or_default(), &mut buf);
            }
        }
        let junk: &[u8] = b"99999999999 x\n123\n0 \n1 \n\xff\xfe\n";
        for n in 0..=junk.len() {
            let _ = frames(8, &[&junk[..n], &junk[n..]]);
        }
    }
}
