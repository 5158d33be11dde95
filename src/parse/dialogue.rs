//! Where in the SMTP dialogue a reply came, and from which host: what a line says of the
//! `stage` and `provider` labels (docs/metrics.md). Parsers only report what the line logs;
//! the aggregator turns a relay host into a provider (`codes::providers`).

/// The SMTP command a reply answered, where the log says it (`stage` label). Never guessed: a
/// line that does not say is [`Stage::Unknown`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum Stage {
    /// The log does not say.
    #[default]
    Unknown,
    /// The greeting, or the connection itself (refused, timed out, dropped).
    Connect,
    /// HELO or EHLO.
    Helo,
    Starttls,
    Auth,
    /// MAIL FROM.
    Mail,
    /// RCPT TO.
    Rcpt,
    /// The DATA command itself (before the message).
    Data,
    /// After the message: end of DATA, or the last BDAT chunk.
    EndOfData,
    /// VRFY, ETRN, XFORWARD, RSET, QUIT and other commands.
    Other,
}

impl Stage {
    pub const ALL: [Stage; 10] = [
        Stage::Unknown,
        Stage::Connect,
        Stage::Helo,
        Stage::Starttls,
        Stage::Auth,
        Stage::Mail,
        Stage::Rcpt,
        Stage::Data,
        Stage::EndOfData,
        Stage::Other,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Unknown => "",
            Stage::Connect => "connect",
            Stage::Helo => "helo",
            Stage::Starttls => "starttls",
            Stage::Auth => "auth",
            Stage::Mail => "mail",
            Stage::Rcpt => "rcpt",
            Stage::Data => "data",
            Stage::EndOfData => "end_of_data",
            Stage::Other => "other",
        }
    }

    /// The stage of a label value (state files store labels).
    pub fn from_label(s: &str) -> Option<Stage> {
        Stage::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// The stage of an SMTP command as logs name it, case-insensitively: `RCPT`, `RCPT TO`,
    /// `MAIL FROM`, `EHLO`, `DATA`, `end of DATA`, `END-OF-MESSAGE`, `BDAT`, `CONNECT`,
    /// `STARTTLS`, `AUTH`, `VRFY`, …. `None` for words that are no SMTP command.
    ///
    /// BDAT answers the chunk it ends, and only the last chunk's reply says anything about
    /// the message, so it counts as end of data, as RFC 3030 has it replace DATA's final dot.
    pub fn of_command(cmd: &[u8]) -> Option<Stage> {
        let cmd = cmd.trim_ascii();
        let word_end = cmd
            .iter()
            .position(|c| !(c.is_ascii_alphabetic() || *c == b'-'))
            .unwrap_or(cmd.len());
        let (word, rest) = cmd.split_at(word_end);
        let is = |w: &[u8]| word.eq_ignore_ascii_case(w);
        let stage = if is(b"RCPT") {
            Stage::Rcpt
        } else if is(b"MAIL") {
            Stage::Mail
        } else if is(b"DATA") {
            Stage::Data
        } else if is(b"end") && starts_with_ci(rest.trim_ascii_start(), b"of data")
            || is(b"END-OF-MESSAGE")
            || is(b"END-OF-DATA")
            || is(b"BDAT")
            || is(b"dot")
        {
            Stage::EndOfData
        } else if is(b"HELO") || is(b"EHLO") || is(b"LHLO") {
            Stage::Helo
        } else if is(b"STARTTLS") {
            Stage::Starttls
        } else if is(b"AUTH") {
            Stage::Auth
        } else if is(b"CONNECT") || is(b"greeting") || is(b"banner") {
            Stage::Connect
        } else if [
            &b"VRFY"[..],
            b"ETRN",
            b"EXPN",
            b"XFORWARD",
            b"XCLIENT",
            b"RSET",
            b"QUIT",
            b"NOOP",
            b"HELP",
            b"TURN",
            b"ATRN",
        ]
        .iter()
        .any(|w| is(w))
        {
            Stage::Other
        } else {
            return None;
        };
        Some(stage)
    }
}

fn starts_with_ci(hay: &[u8], needle: &[u8]) -> bool {
    hay.get(..needle.len())
        .is_some_and(|h| h.eq_ignore_ascii_case(needle))
}

/// The host a reply came from, as the line logs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Relay<'a> {
    /// The line names none (a bounce without a connection, a format that does not log it).
    #[default]
    Unknown,
    /// Delivered without SMTP to another host: a local mailbox, a pipe, Dovecot's LDA or LMTP
    /// over a socket (Postfix `relay=local`, `relay=dovecot`, Exim's local transports).
    Local,
    /// A host as logged: `name[address]:port`, `name [address]`, `name`, `[address]` or a
    /// bare address; `codes::providers` reads the name and address out of it.
    Host(&'a [u8]),
}

/// A host as a table row writes it, and the relay of a line that names none.
#[cfg(test)]
pub(crate) const fn host(h: &'static str) -> Relay<'static> {
    Relay::Host(h.as_bytes())
}
#[cfg(test)]
pub(crate) const UNK: Relay<'static> = Relay::Unknown;

/// One row of a parser's relay-and-stage table: a real line, the relay and the stage it says.
#[cfg(test)]
pub(crate) type Case = (&'static str, Relay<'static>, Stage);

/// The relay and stage of a parsed reply; `None` for anything else.
#[cfg(test)]
pub(crate) fn relay_stage(parsed: super::Parsed<'_>) -> Option<(Relay<'_>, Stage)> {
    match parsed {
        super::Parsed::Event(super::Event::Reply(r)) => Some((r.relay, r.stage)),
        _ => None,
    }
}

/// Checks a parser's table: each line gives its relay and stage, and each line cut short
/// gives the same or none — never another (a cut never invents a host or a command).
#[cfg(test)]
pub(crate) fn check_cases(parse: for<'a> fn(&'a [u8]) -> super::Parsed<'a>, cases: &[Case]) {
    let relay_stage = |line: &'static str| relay_stage(parse(line.as_bytes()));
    for (line, relay, stage) in cases {
        assert_eq!(relay_stage(line), Some((*relay, *stage)), "{line}");
        for n in 0..line.len() {
            let Some(cut) = line.get(..n) else { continue };
            if let Some((r, s)) = relay_stage(cut) {
                assert!(r == *relay || r == Relay::Unknown, "{cut}: {r:?}");
                assert!(s == *stage || s == Stage::Unknown, "{cut}: {s:?}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_as_logs_name_them() {
        let table: &[(&str, Option<Stage>)] = &[
            ("RCPT TO", Some(Stage::Rcpt)),
            ("RCPT", Some(Stage::Rcpt)),
            ("rcpt to:<a@b>", Some(Stage::Rcpt)),
            ("MAIL FROM", Some(Stage::Mail)),
            ("DATA", Some(Stage::Data)),
            ("end of DATA", Some(Stage::EndOfData)),
            ("END-OF-MESSAGE", Some(Stage::EndOfData)),
            ("BDAT", Some(Stage::EndOfData)),
            ("EHLO", Some(Stage::Helo)),
            ("HELO", Some(Stage::Helo)),
            ("STARTTLS", Some(Stage::Starttls)),
            ("AUTH", Some(Stage::Auth)),
            ("CONNECT", Some(Stage::Connect)),
            ("VRFY", Some(Stage::Other)),
            ("ETRN", Some(Stage::Other)),
            ("XFORWARD", Some(Stage::Other)),
            ("endless", None),
            ("", None),
            ("550", None),
        ];
        for (cmd, want) in table {
            assert_eq!(Stage::of_command(cmd.as_bytes()), *want, "{cmd}");
        }
    }

    #[test]
    fn labels_round_trip() {
        for s in Stage::ALL {
            assert_eq!(Stage::from_label(s.as_str()), Some(s));
        }
    }
}
