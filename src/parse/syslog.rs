//! Syslog-style line headers: splits a log line into the program tag and the message, without
//! allocating.
//!
//! Accepted prefixes (each optionally preceded by a `<PRI>` such as `<22>`):
//!
//! | format | example |
//! |---|---|
//! | classic (RFC 3164, rsyslog/syslog-ng default, `journalctl -o short`) | `Nov 22 22:50:40 mx1 postfix/smtp[123]: …` |
//! | classic, day space-padded | `Nov  2 22:50:40 mx1 postfix/smtp[123]: …` |
//! | classic with fractional seconds | `Nov 22 22:50:40.123456 mx1 postfix/smtp[123]: …` |
//! | Postfix `maillog_file` (postlogd, Postfix ≥ 3.4): `strftime("%b %d %H:%M:%S")`, day zero-padded, first host label only | `Nov 02 22:50:40 mx1 postfix/smtp[123]: …` |
//! | RFC 3339 (rsyslog high precision, `journalctl -o short-iso[-precise]`) | `2026-11-22T22:50:40.123456+00:00 mx1 postfix/smtp[123]: …` (also `Z`, `+0100`, no fraction) |
//! | RFC 5424 | `<22>1 2026-11-22T22:50:40.123Z mx1 postfix/smtp 123 - - …` |
//!
//! The host field may be missing (`Nov 22 22:50:40 postfix/smtp[123]: …`), and the tag may come
//! without a pid (`postfix/smtp: …`). Trailing `\r`/`\n` are removed from the message.
//!
//! Two marks some syslog daemons add, whatever the program, are skipped:
//!
//! | daemon | example |
//! |---|---|
//! | FreeBSD `syslogd -v`/`-vv`: the facility and level before the host, by number or name | `Jun 17 14:37:39 <mail.notice> robin sm-mta[2794]: …` |
//! | Solaris (`log_msgid`): a message id and the facility and level before the message | `Jan  1 00:00:00 mx sendmail[7735]: [ID 801593 mail.notice] k856Hah0007735: …` |

use super::Stamp;

/// The parts of a syslog line the parsers need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header<'a> {
    /// The program name, e.g. `postfix/smtp`, `postfix-out/smtp`, `postfix/submission/smtpd`,
    /// without the `[pid]`.
    pub tag: &'a [u8],
    /// The text after `tag[pid]: ` (empty when the line ends there).
    pub message: &'a [u8],
    /// The line's time stamp (`Stamp::None` for RFC 5424's `-`).
    pub stamp: Stamp<'a>,
}

/// Splits `line` into its tag and message; `None` when the line has no recognisable header.
pub fn split(line: &[u8]) -> Option<Header<'_>> {
    let line = trim_eol(line);
    let (rest, had_pri) = strip_pri(line)?;
    if had_pri {
        if let Some(after_version) = rest.strip_prefix(b"1 ") {
            return split_rfc5424(after_version);
        }
    }
    let after = skip_timestamp(rest)?;
    let stamp_text = rest.get(..rest.len() - after.len()).unwrap_or_default();
    let stamp_text = stamp_text.strip_suffix(b" ").unwrap_or(stamp_text);
    let stamp = if rest.first().is_some_and(u8::is_ascii_digit) {
        Stamp::Iso(stamp_text)
    } else {
        Stamp::Bsd(stamp_text)
    };
    let rest = skip_priority_name(after);
    let h = split_host_and_tag(rest)?;
    Some(Header {
        message: skip_message_id(h.message),
        stamp,
        ..h
    })
}

/// Whether `b` is `facility.level`, by name (`mail.notice`) or number (`2.5`).
fn is_priority_name(b: &[u8]) -> bool {
    let word = |w: &[u8]| !w.is_empty() && w.iter().all(u8::is_ascii_alphanumeric);
    match memchr::memchr(b'.', b) {
        Some(dot) => word(&b[..dot]) && word(&b[dot + 1..]),
        None => false,
    }
}

/// Skips FreeBSD's `<mail.notice> ` (`syslogd -v`) before the host, if it is there.
fn skip_priority_name(b: &[u8]) -> &[u8] {
    let Some(inner) = b.strip_prefix(b"<") else {
        return b;
    };
    match memchr::memchr(b'>', inner) {
        Some(close) if is_priority_name(&inner[..close]) => inner
            .get(close + 1..)
            .and_then(|r| r.strip_prefix(b" "))
            .unwrap_or(b),
        _ => b,
    }
}

/// Skips Solaris's `[ID 801593 mail.notice] ` at the start of the message, if it is there.
fn skip_message_id(msg: &[u8]) -> &[u8] {
    let Some(inner) = msg.strip_prefix(b"[ID ") else {
        return msg;
    };
    let Some(close) = memchr::memchr(b']', inner) else {
        return msg;
    };
    let mut words = inner[..close].split(|&c| c == b' ');
    let ok = matches!(
        (words.next(), words.next(), words.next()),
        (Some(id), Some(pri), None) if is_digits(Some(id)) && is_priority_name(pri)
    );
    match inner.get(close + 1..) {
        Some(rest) if ok => rest.strip_prefix(b" ").unwrap_or(rest),
        _ => msg,
    }
}

fn trim_eol(mut line: &[u8]) -> &[u8] {
    while let [head @ .., b'\n' | b'\r'] = line {
        line = head;
    }
    line
}

/// Removes a leading `<PRI>` (1–3 digits). Returns whether one was there.
fn strip_pri(line: &[u8]) -> Option<(&[u8], bool)> {
    let Some(after) = line.strip_prefix(b"<") else {
        return Some((line, false));
    };
    let close = after.iter().take(4).position(|&c| c == b'>')?;
    let digits = after.get(..close)?;
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some((after.get(close + 1..)?, true))
}

/// Skips one timestamp and the space after it.
fn skip_timestamp(b: &[u8]) -> Option<&[u8]> {
    match b.first()? {
        c if c.is_ascii_digit() => skip_rfc3339(b),
        c if c.is_ascii_alphabetic() => skip_bsd(b),
        _ => None,
    }
}

fn is_digits(b: Option<&[u8]>) -> bool {
    b.is_some_and(|d| !d.is_empty() && d.iter().all(u8::is_ascii_digit))
}

/// `HH:MM:SS` followed by optional `.fraction`; returns the rest after it.
fn skip_clock(b: &[u8]) -> Option<&[u8]> {
    let ok = is_digits(b.get(0..2))
        && b.get(2) == Some(&b':')
        && is_digits(b.get(3..5))
        && b.get(5) == Some(&b':')
        && is_digits(b.get(6..8));
    if !ok {
        return None;
    }
    let mut rest = b.get(8..)?;
    if let Some(frac) = rest.strip_prefix(b".") {
        let n = frac.iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return None;
        }
        rest = frac.get(n..)?;
    }
    Some(rest)
}

/// `Mmm dd HH:MM:SS[.frac] ` with the day as `22`, ` 2`, `02` or `2`.
fn skip_bsd(b: &[u8]) -> Option<&[u8]> {
    let month = b.get(..3)?;
    if !month.iter().all(u8::is_ascii_alphabetic) || b.get(3) != Some(&b' ') {
        return None;
    }
    let clock = match (b.get(4), b.get(5), b.get(6)) {
        (Some(b' '), Some(d), Some(b' ')) if d.is_ascii_digit() => b.get(7..)?,
        (Some(d1), Some(d2), Some(b' ')) if d1.is_ascii_digit() && d2.is_ascii_digit() => {
            b.get(7..)?
        }
        (Some(d), Some(b' '), _) if d.is_ascii_digit() => b.get(6..)?,
        _ => return None,
    };
    skip_clock(clock)?.strip_prefix(b" ")
}

/// `YYYY-MM-DDTHH:MM:SS[.frac][Z|±HH:MM|±HHMM] `.
fn skip_rfc3339(b: &[u8]) -> Option<&[u8]> {
    let ok = is_digits(b.get(0..4))
        && b.get(4) == Some(&b'-')
        && is_digits(b.get(5..7))
        && b.get(7) == Some(&b'-')
        && is_digits(b.get(8..10))
        && b.get(10) == Some(&b'T');
    if !ok {
        return None;
    }
    let rest = skip_clock(b.get(11..)?)?;
    let rest = match rest.first()? {
        b'Z' => rest.get(1..)?,
        b'+' | b'-' => {
            let hh_ok = is_digits(rest.get(1..3));
            if rest.get(3) == Some(&b':') && hh_ok && is_digits(rest.get(4..6)) {
                rest.get(6..)?
            } else if hh_ok && is_digits(rest.get(3..5)) {
                rest.get(5..)?
            } else {
                return None;
            }
        }
        _ => rest,
    };
    rest.strip_prefix(b" ")
}

/// `host tag[pid]: message`, or `tag[pid]: message` when the host is missing.
fn split_host_and_tag(b: &[u8]) -> Option<Header<'_>> {
    // A missing host: the first word is already `tag:` / `tag[pid]:` followed by a space or the
    // end of the line. (A host name never holds `[` or ends in `:`; an IPv6 host such as
    // `2001:db8::1` has no space after its first colon, so it is read as a host.)
    if let Some(h) = split_tag(b, true) {
        return Some(h);
    }
    let space = memchr::memchr(b' ', b)?;
    if space == 0 {
        return None;
    }
    split_tag(b.get(space + 1..)?, false)
}

/// `tag[pid]: message` or `tag: message`. With `strict`, the colon must be followed by a space
/// or the end of the line.
fn split_tag(b: &[u8], strict: bool) -> Option<Header<'_>> {
    let end = b.iter().position(|&c| matches!(c, b'[' | b':' | b' '))?;
    if end == 0 {
        return None;
    }
    let tag = b.get(..end)?;
    let after_tag = b.get(end..)?;
    let after_colon = match after_tag.first()? {
        b'[' => {
            let close = memchr::memchr(b']', after_tag)?;
            let pid = after_tag.get(1..close)?;
            if pid.is_empty() || pid.contains(&b' ') {
                return None;
            }
            after_tag.get(close + 1..)?.strip_prefix(b":")?
        }
        b':' => after_tag.get(1..)?,
        _ => return None,
    };
    let message = match after_colon.first() {
        None => after_colon,
        Some(b' ') => after_colon.get(1..)?,
        Some(_) if strict => return None,
        Some(_) => after_colon,
    };
    Some(Header {
        tag,
        message,
        stamp: Stamp::None,
    })
}

/// After `<PRI>1 `: `TIMESTAMP HOST APP-NAME PROCID MSGID STRUCTURED-DATA [MSG]`.
fn split_rfc5424(b: &[u8]) -> Option<Header<'_>> {
    let mut rest = b;
    let mut fields: [&[u8]; 5] = [&[]; 5];
    for f in &mut fields {
        let space = memchr::memchr(b' ', rest)?;
        *f = rest.get(..space)?;
        if f.is_empty() {
            return None;
        }
        rest = rest.get(space + 1..)?;
    }
    let [timestamp, _host, app, _procid, _msgid] = fields;
    if timestamp != b"-" && skip_rfc3339_token(timestamp).is_none() {
        return None;
    }
    if app == b"-" {
        return None;
    }
    let message = skip_structured_data(rest)?;
    let message = message.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(message);
    let stamp = match timestamp {
        b"-" => Stamp::None,
        t => Stamp::Iso(t),
    };
    Some(Header {
        tag: app,
        message,
        stamp,
    })
}

/// Validates an RFC 3339 timestamp standing alone (no trailing space).
fn skip_rfc3339_token(t: &[u8]) -> Option<()> {
    // Reuse the prefix parser by checking it consumed everything but a synthetic space.
    let mut buf = [0u8; 40];
    let dst = buf.get_mut(..t.len() + 1)?;
    let (last, head) = dst.split_last_mut()?;
    head.copy_from_slice(t);
    *last = b' ';
    skip_rfc3339(dst)?.is_empty().then_some(())
}

/// `-` or one or more `[id param="value" …]` elements (with `\]` escapes inside values), then an
/// optional ` MSG`.
fn skip_structured_data(b: &[u8]) -> Option<&[u8]> {
    let after = if let Some(after) = b.strip_prefix(b"-") {
        after
    } else {
        let mut rest = b;
        while let Some(inner) = rest.strip_prefix(b"[") {
            let mut i = 0;
            let mut in_quotes = false;
            loop {
                match *inner.get(i)? {
                    b'\\' if in_quotes => i += 2,
                    b'"' => {
                        in_quotes = !in_quotes;
                        i += 1;
                    }
                    b']' if !in_quotes => break,
                    _ => i += 1,
                }
            }
            rest = inner.get(i + 1..)?;
        }
        if rest.len() == b.len() {
            return None;
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

    /// (line, expected (tag, message)).
    const CASES: &[(&str, Option<(&str, &str)>)] = &[
        // Classic syslog, as rsyslog writes it on Debian.
        (
            "Nov 22 22:50:40 mx1 postfix/smtp[1234]: 4F1B2C0D3E: to=<a@b.example>, relay=none",
            Some(("postfix/smtp", "4F1B2C0D3E: to=<a@b.example>, relay=none")),
        ),
        // Day space-padded.
        (
            "Nov  2 22:50:40 mx1 postfix/qmgr[77]: ABC: removed",
            Some(("postfix/qmgr", "ABC: removed")),
        ),
        // Day without padding.
        (
            "Nov 2 22:50:40 mx1 postfix/qmgr[77]: ABC: removed",
            Some(("postfix/qmgr", "ABC: removed")),
        ),
        // Postfix maillog_file (postlogd): day zero-padded, first host label only.
        (
            "Nov 02 02:12:58 mx postfix/submission/smtpd[10727]: connect from localhost[127.0.0.1]",
            Some(("postfix/submission/smtpd", "connect from localhost[127.0.0.1]")),
        ),
        (
            "Nov 23 02:13:27 mx postfix/smtpd[12400]: fatal: in parameter smtpd_relay_restrictions",
            Some(("postfix/smtpd", "fatal: in parameter smtpd_relay_restrictions")),
        ),
        // Fractional seconds.
        (
            "Nov 22 22:50:40.123456 mx1 postfix-out/smtp[9]: hello",
            Some(("postfix-out/smtp", "hello")),
        ),
        // RFC 3339 variants.
        (
            "2026-11-22T22:50:40.123456+00:00 mx1 postfix/smtpd[5]: NOQUEUE: reject: x",
            Some(("postfix/smtpd", "NOQUEUE: reject: x")),
        ),
        (
            "2026-11-22T22:50:40Z mx1 postfix/smtpd[5]: msg",
            Some(("postfix/smtpd", "msg")),
        ),
        (
            "2026-11-22T22:50:40.5-05:30 mx1 postfix/smtpd[5]: msg",
            Some(("postfix/smtpd", "msg")),
        ),
        (
            "2026-11-22T22:50:40+0100 mx1 postfix/smtpd[5]: msg",
            Some(("postfix/smtpd", "msg")),
        ),
        (
            "2026-11-22T22:50:40 mx1 postfix/smtpd[5]: msg",
            Some(("postfix/smtpd", "msg")),
        ),
        // <PRI> in front of classic and RFC 3339.
        (
            "<22>Nov 22 22:50:40 mx1 postfix/smtp[1]: msg",
            Some(("postfix/smtp", "msg")),
        ),
        (
            "<2>2026-11-22T22:50:40Z mx1 postfix/smtp[1]: msg",
            Some(("postfix/smtp", "msg")),
        ),
        // RFC 5424.
        (
            "<22>1 2026-11-22T22:50:40.123Z mx1 postfix/smtp 1234 - - ABC: to=<a@b>",
            Some(("postfix/smtp", "ABC: to=<a@b>")),
        ),
        (
            "<22>1 2026-11-22T22:50:40Z mx1 postfix/smtpd 1 ID47 [ex@32473 k=\"v \\] x\"][b c=\"d\"] \u{FEFF}msg",
            Some(("postfix/smtpd", "msg")),
        ),
        ("<22>1 - mx1 postfix/smtpd - - -", Some(("postfix/smtpd", ""))),
        ("<22>1 - mx1 - - - - msg", None),
        // Tag without pid; host missing; IPv6 host.
        (
            "Nov 22 22:50:40 mx1 postfix/smtp: msg",
            Some(("postfix/smtp", "msg")),
        ),
        (
            "Nov 22 22:50:40 postfix/smtp[12]: msg",
            Some(("postfix/smtp", "msg")),
        ),
        (
            "Nov 22 22:50:40 2001:db8::25 postfix/smtp[12]: msg",
            Some(("postfix/smtp", "msg")),
        ),
        // Other programs.
        (
            "Nov 22 22:50:40 mx1 CRON[3301]: (root) CMD (command -v debian-sa1 > /dev/null)",
            Some(("CRON", "(root) CMD (command -v debian-sa1 > /dev/null)")),
        ),
        (
            "Nov 22 22:50:40 mx1 kernel: [12345.678] eth0: link up",
            Some(("kernel", "[12345.678] eth0: link up")),
        ),
        // FreeBSD `syslogd -vv` (by name) and `-v` (by number), Solaris message ids.
        (
            "Jun 17 14:37:39 <mail.notice> robin sm-mta[2794]: 55HIbcGI002794: <baduser@yourhost.com>... User unknown",
            Some(("sm-mta", "55HIbcGI002794: <baduser@yourhost.com>... User unknown")),
        ),
        (
            "Jun 17 14:37:39 <2.5> robin postfix/smtp[1]: msg",
            Some(("postfix/smtp", "msg")),
        ),
        (
            "Jan  1 00:00:00 peerhost sendmail[7735]: [ID 801593 mail.notice] k856Hah0007735: ruleset=check_rcpt",
            Some(("sendmail", "k856Hah0007735: ruleset=check_rcpt")),
        ),
        (
            "Jan  1 00:00:00 peerhost postfix/smtpd[7]: [ID 197553 mail.info] connect from x[1.2.3.4]",
            Some(("postfix/smtpd", "connect from x[1.2.3.4]")),
        ),
        // Look-alikes are left as they are.
        (
            "Nov 22 22:50:40 mx1 kernel: [ID abc kern.info] x",
            Some(("kernel", "[ID abc kern.info] x")),
        ),
        ("Jun 17 14:37:39 <mail> robin sm-mta[2794]: x", None),
        // Empty message, CRLF.
        (
            "Nov 22 22:50:40 mx1 postfix/smtp[1]:",
            Some(("postfix/smtp", "")),
        ),
        (
            "Nov 22 22:50:40 mx1 postfix/smtp[1]: msg\r\n",
            Some(("postfix/smtp", "msg")),
        ),
        // Not a header.
        ("", None),
        ("hello world", None),
        ("Nov 22 22:50:40", None),
        ("Nov 22 22:50:40 mx1", None),
        ("Nov 22 22:50:40 mx1 postfix/smtp[12", None),
        ("Nov 22 22:50:40 mx1 postfix/smtp[]: x", None),
        ("Nov 22 22:50 mx1 postfix/smtp[1]: x", None),
        ("Nov 222 22:50:40 mx1 postfix/smtp[1]: x", None),
        ("2026-11-22 22:50:40 mx1 postfix/smtp[1]: x", None),
        ("2026-11-22T22:50:40+01 mx1 postfix/smtp[1]: x", None),
        ("<22 Nov 22 22:50:40 mx1 postfix/smtp[1]: x", None),
        ("<>Nov 22 22:50:40 mx1 postfix/smtp[1]: x", None),
        ("Nov 22 22:50:40.  mx1 postfix/smtp[1]: x", None),
        ("Nov 22 22:50:40  postfix/smtp[1]: x", None),
    ];

    #[test]
    fn table() {
        for (line, want) in CASES {
            let got = split(line.as_bytes())
                .map(|h| (h.tag, h.message))
                .map(|(t, m)| (String::from_utf8_lossy(t), String::from_utf8_lossy(m)));
            let want = want.map(|(t, m)| (t.into(), m.into()));
            assert_eq!(got, want, "{line:?}");
        }
    }

    /// Each header layout of the table above gives its stamp as written, without the space
    /// after it, the `<PRI>` before it, or what follows it.
    #[test]
    fn stamps() {
        use Stamp::{Bsd, Iso};
        let cases: &[(&str, Stamp<'static>)] = &[
            ("Nov 22 22:50:40 h t[1]: m", Bsd(b"Nov 22 22:50:40")),
            ("Nov  2 22:50:40 h t[1]: m", Bsd(b"Nov  2 22:50:40")),
            ("Nov 02 02:12:58 h t[1]: m", Bsd(b"Nov 02 02:12:58")),
            ("Nov 2 22:50:40 h t[1]: m", Bsd(b"Nov 2 22:50:40")),
            (
                "Nov 22 22:50:40.123456 h t[1]: m",
                Bsd(b"Nov 22 22:50:40.123456"),
            ),
            ("Nov 22 22:50:40 t[1]: m", Bsd(b"Nov 22 22:50:40")),
            ("<22>Nov 22 22:50:40 h t[1]: m", Bsd(b"Nov 22 22:50:40")),
            (
                "Jun 17 14:37:39 <mail.notice> h t[1]: m",
                Bsd(b"Jun 17 14:37:39"),
            ),
            (
                "2026-11-22T22:50:40.1234+00:00 h t[1]: m",
                Iso(b"2026-11-22T22:50:40.1234+00:00"),
            ),
            (
                "2026-11-22T22:50:40Z h t[1]: m",
                Iso(b"2026-11-22T22:50:40Z"),
            ),
            (
                "2026-11-22T22:50:40.5-05:30 h t[1]: m",
                Iso(b"2026-11-22T22:50:40.5-05:30"),
            ),
            (
                "2026-11-22T22:50:40+0100 h t[1]: m",
                Iso(b"2026-11-22T22:50:40+0100"),
            ),
            ("2026-11-22T22:50:40 h t[1]: m", Iso(b"2026-11-22T22:50:40")),
            (
                "<2>2026-11-22T22:50:40Z h t[1]: m",
                Iso(b"2026-11-22T22:50:40Z"),
            ),
            (
                "<22>1 2026-11-22T22:50:40.123Z h t 1 - - m",
                Iso(b"2026-11-22T22:50:40.123Z"),
            ),
            (
                "<22>1 2026-11-22T22:50:40+01:00 h t 1 I [a b=\"c\"] m",
                Iso(b"2026-11-22T22:50:40+01:00"),
            ),
            ("<22>1 - h t - - - m", Stamp::None),
        ];
        for (line, want) in cases {
            let got = split(line.as_bytes()).map(|h| h.stamp);
            assert_eq!(got, Some(*want), "{line}");
        }
        // No header of the table keeps a space of the line in its stamp.
        for (line, _) in CASES {
            if let Some(h) = split(line.as_bytes()) {
                let t = h.stamp.text();
                assert!(!t.starts_with(b" ") && !t.ends_with(b" "), "{line}");
                let within = t.is_empty() || line.as_bytes().windows(t.len()).any(|w| w == t);
                assert!(within, "{line}");
            }
        }
    }

    #[test]
    fn prefixes_and_bytes_never_panic() {
        for (line, _) in CASES {
            let b = line.as_bytes();
            for n in 0..=b.len() {
                let _ = split(&b[..n]);
            }
        }
        let odd: &[&[u8]] = &[
            b"\xff\xfe",
            b"<999>",
            b"<1>1 ",
            b"<1>1 - - - - - [",
            b"<1>1 - - a - - [x=\"\\",
            b"Nov 22 22:50:40 \xff\xfe postfix/smtp[1]: \xff",
            b"2026-11-22T22:50:40.",
        ];
        for b in odd {
            for n in 0..=b.len() {
                let _ = split(&b[..n]);
            }
        }
    }

    #[test]
    fn non_utf8_is_kept_verbatim() {
        let h = split(b"Nov 22 22:50:40 mx1 postfix/smtpd[1]: helo=<\xe9\xff>").expect("header");
        assert_eq!(h.tag, b"postfix/smtpd");
        assert_eq!(h.message, b"helo=<\xe9\xff>");
    }
}
