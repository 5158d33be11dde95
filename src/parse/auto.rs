//! `--log.format auto`: the format of a file decided by its lines, generic over the format
//! registry ([`Format::ALL`] and [`Format::claims`]).
//!
//! The rule, per file (each file a source reads, each file `replay` reads):
//! - Until a line is claimed by some format, the file is undecided. The first line that a
//!   format claims ("this MTA wrote it", countable or not) decides: the first such format in
//!   [`Format::ALL`] order. That line is read by the format, and so is every later line the
//!   format claims.
//! - A line the file's format does not claim — every line before the decision, since no format
//!   claimed it, and later another program's line (Dovecot, opendkim, postgrey in a Debian
//!   `mail.log`) — counts as `ignored` when it has a syslog header, `unrecognised` otherwise.
//!   Header-driven formats (Exchange, PowerMTA) are the exception after their decision: their
//!   rows can only be told apart with the header's columns, so the format reads every line.
//!   So is Exim, for the lines its main log holds without Exim's marks (an ACL's `logwrite`
//!   after Exim's timestamp, a continuation line): too plain to decide a file, they are Exim's
//!   once the file is (`exim::holds`), as `--log.format exim` reads them.
//!
//! So, in a file of one MTA, what a line counts as does not depend on where the decision fell
//! (but for such plain Exim lines before any line of Exim's: they stay `unrecognised`; readers
//! decide from a file's first 64 KiB before counting, so this is only a file that grows from
//! nothing but such lines):
//! a part of a file read on its own, or a file read from a saved position after a restart,
//! counts each line as one pass from the top would, and no line before the decision is lost
//! (none of them was any format's). `replay` decides from a file's head before it cuts the
//! file into parts, and a reader starting inside a file decides from its first 64 KiB, so a
//! file with lines of two MTAs is read by the one whose line comes first there.

use super::{exim, syslog, Format, Parsed, Parser};

/// The parser of a file under `auto`: undecided, or the parser of the format its lines showed.
#[derive(Debug, Clone, Default)]
pub struct Auto {
    decided: Option<(Format, Box<Parser>)>,
    /// The file is Exim's reject log (by its name): if Exim's, it counts nothing.
    reject_log: bool,
    /// Decided since [`Auto::take_decided`] was last asked.
    fresh: bool,
}

impl Auto {
    /// The format decided, if any.
    pub fn format(&self) -> Option<Format> {
        self.decided.as_ref().map(|(f, _)| *f)
    }

    /// The parser of the decided format.
    pub fn inner(&self) -> Option<&Parser> {
        self.decided.as_ref().map(|(_, p)| p.as_ref())
    }

    /// The same, for a file named like Exim's reject log.
    pub fn with_reject_log(mut self, reject_log: bool) -> Auto {
        self.reject_log = reject_log;
        if let Some((_, p)) = &mut self.decided {
            if reject_log {
                **p = p.for_path(std::path::Path::new("rejectlog"));
            }
        }
        self
    }

    fn decide(&mut self, f: Format) -> &mut Parser {
        let mut p = Parser::from(f);
        if self.reject_log {
            p = p.for_path(std::path::Path::new("rejectlog"));
        }
        self.fresh = true;
        &mut self.decided.insert((f, Box::new(p))).1
    }

    /// The same, with the decided parser replaced by `p` (primed with the file's header).
    pub fn with_primed(mut self, p: Parser) -> Auto {
        if let Some((_, inner)) = &mut self.decided {
            **inner = p;
        }
        self
    }

    /// Reads one line (without its newline), deciding the format on the first claimed line.
    #[inline]
    pub fn parse<'a>(&mut self, line: &'a [u8]) -> Parsed<'a> {
        match &mut self.decided {
            // Postfix reads a line it does not claim exactly as `unclaimed` does (tested below):
            // the default format and its common case pay nothing for `auto`.
            Some((Format::Postfix, p)) => p.parse(line),
            Some((f, p)) => {
                if p.reads_header() || holds(*f, line) {
                    p.parse(line)
                } else {
                    unclaimed(line)
                }
            }
            None => match Format::claiming(line) {
                Some(f) => self.decide(f).parse(line),
                None => unclaimed(line),
            },
        }
    }

    /// Decides from the complete lines of `head` (a file's first bytes), counting nothing: a
    /// reader that starts inside a file, or `replay` before it cuts a file into parts.
    pub fn decide_from(&mut self, head: &[u8]) {
        if self.decided.is_some() {
            return;
        }
        let mut rest = head;
        while let Some(i) = memchr::memchr(b'\n', rest) {
            let line = &rest[..i];
            if let Some(f) = Format::claiming(line.strip_suffix(b"\r").unwrap_or(line)) {
                // Said by whoever asked (the exporter at start), not again per file or part.
                self.decide(f);
                self.fresh = false;
                return;
            }
            rest = &rest[i + 1..];
        }
    }

    /// The format, once, right after it was decided (for the log and the `mta` label).
    pub fn take_decided(&mut self) -> Option<Format> {
        if !self.fresh {
            return None;
        }
        self.fresh = false;
        self.format()
    }
}

/// Whether a file decided to be `f`'s holds `line` as one of `f`'s. What a format claims, and for
/// Exim also the lines of its main log that do not show Exim's marks (an ACL's `logwrite`, a
/// continuation line): alone they cannot decide a file, but in Exim's file they are Exim's.
fn holds(f: Format, line: &[u8]) -> bool {
    match f {
        Format::Exim => exim::holds(line),
        _ => f.claims(line),
    }
}

/// What a line no format of the file claims counts as: `ignored` for a syslog line (another
/// program's), `unrecognised` for anything else.
pub fn unclaimed(line: &[u8]) -> Parsed<'_> {
    if syslog::split(line).is_some() {
        Parsed::Ignored
    } else {
        Parsed::Unrecognised
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::render_for_tests as render;

    const POSTFIX: &str = "Nov 23 02:12:58 mx postfix/smtp[10732]: 1CA9A98C0C2: to=<Info@EXAMPLE.NET>, relay=127.0.0.1[127.0.0.1]:12600, delay=0.03, delays=0.01/0.02/0/0, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 4XyZ12AbCd)";
    const DOVECOT: &str = "Nov 23 02:12:57 mx dovecot: imap-login: Login: user=<alice>, method=PLAIN, rip=192.0.2.5, lip=192.0.2.1, mpid=2211, TLS";
    const EXIM: &str = "2026-11-23 04:41:53 [23819] 1xVLsH-0006CA-1x == x1@down.test R=to_down T=down_smtp defer (111): Connection refused";

    fn run(lines: &[&str]) -> (Vec<String>, Option<Format>) {
        let mut a = Auto::default();
        let got = lines
            .iter()
            .map(|l| render(&a.parse(l.as_bytes())))
            .collect();
        (got, a.format())
    }

    #[test]
    fn first_claimed_line_decides_and_is_counted() {
        let (got, f) = run(&[DOVECOT, "garbage", POSTFIX, DOVECOT, EXIM, POSTFIX]);
        assert_eq!(f, Some(Format::Postfix));
        assert_eq!(
            got,
            [
                "Ignored",
                "Unrecognised",
                "outbound delivered 250 2.0.0 EXAMPLE.NET",
                "Ignored",
                "Unrecognised",
                "outbound delivered 250 2.0.0 EXAMPLE.NET"
            ]
        );
        let (got, f) = run(&[EXIM, POSTFIX]);
        assert_eq!(f, Some(Format::Exim));
        assert_eq!(got, ["outbound deferred - - down.test", "Ignored"]);
    }

    /// What lets [`Auto::parse`] skip `claims` for Postfix.
    #[test]
    fn postfix_reads_unclaimed_lines_as_unclaimed() {
        let others = [
            DOVECOT,
            EXIM,
            "",
            "garbage",
            "Nov 23 02:12:58 mx postfix: not a program of postfix's",
            "Nov 23 02:12:58 mx /postfix[1]: odd tag",
            "Nov 23 02:12:58 mx postfix/unknowndaemon[1]: 1CA9A98C0C2: to=<a@b>, status=sent (250 ok)",
            "2026-11-23T04:44:14.172094+00:00 vm exim[28619]: 2026-11-23 04:44:14 1xVLuX-0007Ra-3C => r@d1.test R=r T=t",
            "{\"type\":\"Delivery\"}",
        ];
        let capture = include_str!("../../tests/fixtures/auto/debian-mail.log");
        for l in others.into_iter().chain(capture.lines()) {
            if !crate::parse::postfix::claims(l.as_bytes()) {
                assert_eq!(
                    render(&crate::parse::postfix::parse(l.as_bytes())),
                    render(&unclaimed(l.as_bytes())),
                    "{l}"
                );
            }
        }
    }

    #[test]
    fn nothing_claimed_stays_undecided() {
        let (got, f) = run(&[DOVECOT, "garbage", ""]);
        assert_eq!(f, None);
        assert_eq!(got, ["Ignored", "Unrecognised", "Unrecognised"]);
    }

    /// Where the decision falls does not change what any line counts as: every suffix of a
    /// file of one MTA (among other programs' lines), read on its own, counts its lines as
    /// the whole file read once does.
    #[test]
    fn a_line_counts_the_same_wherever_the_decision_fell() {
        let lines = [DOVECOT, "garbage", POSTFIX, DOVECOT, "", POSTFIX, "x"];
        let (whole, _) = run(&lines);
        for k in 0..lines.len() {
            let (part, _) = run(&lines[k..]);
            assert_eq!(part, whole[k..], "from line {k}");
        }
    }

    /// A detected Exim log read Exim's lines without a message id or pid (no `+pid`) as
    /// unrecognised, where `--log.format exim` ignores them: Exim did not claim them.
    #[test]
    fn exim_lines_without_a_reply_are_ignored_under_auto_too() {
        let lines = [
            "1999-03-02 09:44:33 Start ODMR queue run: pid=p1235 -qq -Rr @(clientdom.net)",
            EXIM,
            "1999-03-02 09:44:33 SMTP call from CALLER dropped: too many nonmail commands (last was \"rset\")",
            "1999-03-02 09:44:33 no MAIL in SMTP connection from CALLER D=qqs C=EXPN,QUIT",
            "1999-03-02 09:44:33 login authenticator failed for H=(test.host) [10.0.0.1] U=CALLER: 501 Authentication cancelled",
            DOVECOT,
        ];
        let (whole, f) = run(&lines);
        assert_eq!(f, Some(Format::Exim));
        for (l, got) in lines.iter().zip(&whole) {
            assert_eq!(
                *got,
                render(&Parser::from(Format::Exim).parse(l.as_bytes())),
                "{l}"
            );
        }
        for k in 0..lines.len() {
            let (part, _) = run(&lines[k..]);
            assert_eq!(part, whole[k..], "from line {k}");
        }
    }

    /// A detected Exim log read an ACL's `logwrite` lines (Exim's timestamp, the configuration's
    /// text) and continuation lines as unrecognised, where `--log.format exim` ignores them:
    /// 1,328 lines of Exim's test suite. Once the file is Exim's they are Exim's; before, they
    /// decide nothing.
    #[test]
    fn exim_logwrite_lines_of_a_detected_exim_log_are_ignored() {
        let plain = [
            "1999-03-02 09:44:33 rcpt for userx@domain.com",
            "1999-03-02 09:44:33 [127.0.0.1] SSL verify error: depth=0 error=unable to get local issuer certificate cert=/CN=server1.example.net",
            " Suggested action: either install a certificate or change tls_advertise_hosts option",
        ];
        let (got, f) = run(&[plain[0], EXIM, plain[0], plain[1], plain[2], DOVECOT]);
        assert_eq!(f, Some(Format::Exim));
        assert_eq!(
            got,
            [
                "Unrecognised",
                "outbound deferred - - down.test",
                "Ignored",
                "Ignored",
                "Ignored",
                "Ignored"
            ]
        );
        for l in plain {
            assert_eq!(
                render(&Parser::from(Format::Exim).parse(l.as_bytes())),
                "Ignored"
            );
            assert_eq!(run(&[l]).1, None, "{l}");
        }
    }

    #[test]
    fn decided_from_a_head_counts_nothing() {
        let mut a = Auto::default();
        a.decide_from(format!("{DOVECOT}\n{EXIM}\n{POSTFIX}").as_bytes());
        assert_eq!(a.format(), Some(Format::Exim));
        assert_eq!(a.take_decided(), None);
    }
}
