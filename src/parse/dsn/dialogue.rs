//! What a notice says of the host that answered and the command its reply answered: RFC 3464's
//! `Remote-MTA`, and the reporting MTA's own words around the reply — Postfix's `host NAME[ADDR]
//! said: … (in reply to RCPT TO command)`, `connect to NAME[ADDR]:25: Connection refused`,
//! `lost connection with NAME[ADDR] while sending RCPT TO`; Exim's `SMTP error from remote mail
//! server after RCPT TO:<…>:`; Gmail's "did not accept our requests to connect". Microsoft's
//! and Gmail's other notices quote the reply alone and say no command.
//!
//! Sendmail's transcripts (`>>> DATA` / `<<< 550 5.1.1 … User unknown`) are not read: with
//! pipelining, Sendmail names the last command it sent, not the one the reply answered (a
//! recipient refused before `DATA` shows under `>>> DATA`), so the stage would be a guess.

use super::DsnReply;
use crate::parse::Stage;

/// The host of a `Remote-MTA` field: `dns; mx.example.com` (or `DNS;`, or a bare address),
/// without the name type; what follows the host (`(27.85.176.228, the server for …)`) is left
/// for the provider table, which reads the first name.
pub(super) fn remote_mta(field: &str) -> String {
    let host = field.split_once(';').map_or(field, |(_, h)| h);
    host.trim().to_owned()
}

/// The host the reporting MTA's words name: Postfix's `host NAME[ADDR] said:`, `connect to
/// NAME[ADDR]:port:`, `lost connection with NAME[ADDR]`, `conversation with NAME[ADDR]`;
/// Exim's `host NAME [ADDR]: 550 …`.
pub(super) fn host_in_words(words: &str) -> Option<&str> {
    for mark in [
        "host ",
        "connect to ",
        "lost connection with ",
        "conversation with ",
    ] {
        for (at, _) in words.match_indices(mark) {
            if let Some(host) = bracketed_host(&words[at + mark.len()..]) {
                return Some(host);
            }
        }
    }
    None
}

/// `NAME[ADDR]` (with `:port`) or `NAME [ADDR]` at the start of `rest`; `None` for other
/// words ("the mail system at host mta.example.com").
fn bracketed_host(rest: &str) -> Option<&str> {
    let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
    let word = rest[..end].trim_end_matches(':');
    if word.contains('[') && word.contains(']') {
        return Some(word);
    }
    let addr = rest[end..].strip_prefix(" [")?;
    let close = addr.find(']')?;
    let whole = end + 2 + close + 1;
    (!word.is_empty() && !addr[..close].contains(char::is_whitespace)).then(|| &rest[..whole])
}

/// The stage the words around a reply say; [`Stage::Unknown`] where they say none.
pub(super) fn stage_in_words(words: &str) -> Stage {
    // Postfix's `(in reply to RCPT TO command)`, possibly folded over two lines.
    if let Some(at) = words.find("in reply to ") {
        let cmd = &words[at + "in reply to ".len()..];
        let cmd = cmd.find(" command").map_or(cmd, |end| &cmd[..end]);
        return of_command(cmd);
    }
    // Exim's `SMTP error from remote mail server after RCPT TO:<…>:`.
    if let Some(at) = words.find("error from remote mail server after ") {
        let cmd = &words[at + "error from remote mail server after ".len()..];
        return crate::parse::exim::command_stage(cmd.as_bytes());
    }
    // Postfix's words for a connection lost or timed out in the middle of the dialogue.
    if let Some(at) = words.find(" while sending ") {
        let cmd = &words[at + " while sending ".len()..];
        if cmd.starts_with("message body") {
            return Stage::EndOfData;
        }
        return of_command(cmd);
    }
    const CONNECT: &[&str] = &[
        "while receiving the initial server greeting",
        ": Connection refused",
        ": Connection timed out",
        // Gmail, when every MX refused or dropped its connections.
        "did not accept our requests to connect",
    ];
    if CONNECT.iter().any(|w| words.contains(w)) {
        return Stage::Connect;
    }
    if words.contains("while performing the HELO handshake") {
        return Stage::Helo;
    }
    Stage::Unknown
}

fn of_command(cmd: &str) -> Stage {
    // The words are unfolded text: a command may run over a line break.
    let cmd = cmd.split_whitespace().take(3).collect::<Vec<_>>().join(" ");
    Stage::of_command(cmd.as_bytes()).unwrap_or_default()
}

/// Fills in what each reply's own words do not say from the notice's human-readable text: the
/// paragraph about its recipient (Postfix writes the relay and the command there, its report
/// part only the reply).
pub(super) fn from_paragraphs(replies: &mut [DsnReply], text: &str) {
    for r in replies.iter_mut() {
        if r.stage == Stage::Unknown {
            r.stage = stage_in_words(&r.text);
        }
        if r.relay.is_empty() {
            r.relay = host_in_words(&r.text).unwrap_or_default().to_owned();
        }
        if (r.stage != Stage::Unknown && !r.relay.is_empty()) || r.recipient.is_empty() {
            continue;
        }
        let Some(para) = paragraph_of(text, &r.recipient) else {
            continue;
        };
        let words = para.split_whitespace().collect::<Vec<_>>().join(" ");
        if r.stage == Stage::Unknown {
            r.stage = stage_in_words(&words);
        }
        if r.relay.is_empty() {
            r.relay = host_in_words(&words).unwrap_or_default().to_owned();
        }
    }
}

/// The paragraph about a recipient: from the line that starts with its address (`<addr>: …`,
/// `addr: …`, or the address alone as Exim writes it) to an empty line or the next line
/// indented no deeper (the next recipient) — not any mention of it.
fn paragraph_of<'t>(text: &'t str, recipient: &str) -> Option<&'t str> {
    let indent = |l: &str| l.len() - l.trim_start().len();
    let mut start: Option<(usize, usize)> = None;
    let mut pos = 0;
    for line in text.split_inclusive('\n') {
        match start {
            None => {
                let bare = line.trim_start().trim_start_matches('<');
                let rest = bare.get(recipient.len()..).unwrap_or_default();
                let names = bare
                    .get(..recipient.len())
                    .is_some_and(|a| a.eq_ignore_ascii_case(recipient))
                    && (rest.starts_with(['>', ':']) || rest.trim().is_empty());
                if names {
                    start = Some((pos, indent(line)));
                }
            }
            Some((s, depth)) if line.trim().is_empty() || indent(line) <= depth => {
                return text.get(s..pos);
            }
            Some(_) => {}
        }
        pos += line.len();
    }
    text.get(start?.0..)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Words around replies in real notices: Postfix's (ours, tests/fixtures/dsn/), Sisimai's
    /// set-of-emails (shared/corpora/sisimai/, read in `tests/it/corpus`), Exim's and Gmail's.
    #[test]
    fn stages_the_words_say() {
        let cases = [
            ("554 5.7.1 Rejected by policy <message> (e2e sink) (in reply to end of DATA command)", Stage::EndOfData),
            ("<kijitora@example.or.jp>: User unknown (in reply to RCPT TO command)", Stage::Rcpt),
            ("host mta7.am0.yahoodns.net[66.196.118.34] said: 451 4.3.2 Internal error reading data (in reply to MAIL FROM command)", Stage::Mail),
            ("SMTP error from remote mail server after RCPT TO:<kijitora@example.jp>: 550 5.1.1 unknown", Stage::Rcpt),
            ("SMTP error from remote mail server after end of data: 550 spam", Stage::EndOfData),
            ("SMTP error from remote mail server after initial connection: 554 go away", Stage::Connect),
            ("delivery temporarily suspended: lost connection with mta7.am0.yahoodns.net[98.136.216.22] while sending RCPT TO", Stage::Rcpt),
            ("connect to mx.example.net[192.0.2.1]:25: Connection refused", Stage::Connect),
            ("The recipient server did not accept our requests to connect. Learn more at https://support.google.com/mail/answer/7720", Stage::Connect),
            ("550 5.1.1 The email account that you tried to reach does not exist.", Stage::Unknown),
            ("Remote Server returned '550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup'", Stage::Unknown),
        ];
        for (words, want) in cases {
            assert_eq!(stage_in_words(words), want, "{words}");
        }
    }

    #[test]
    fn hosts_the_words_name() {
        let cases = [
            (
                "<u@d2.test>: host 127.0.0.3[127.0.0.3] said: 554 5.7.1 Rejected",
                Some("127.0.0.3[127.0.0.3]"),
            ),
            (
                "connect to mx.example.net[192.0.2.1]:25: Connection refused",
                Some("mx.example.net[192.0.2.1]:25"),
            ),
            (
                "lost connection with mta7.am0.yahoodns.net[98.136.216.22] while sending RCPT TO",
                Some("mta7.am0.yahoodns.net[98.136.216.22]"),
            ),
            (
                "host mx.example.jp [192.0.2.153]: 550 5.1.1 <kijitora@example.jp>... User Unknown",
                Some("mx.example.jp [192.0.2.153]"),
            ),
            ("the host is unknown", None),
        ];
        for (words, want) in cases {
            assert_eq!(host_in_words(words), want, "{words}");
        }
        assert_eq!(
            remote_mta("dns; gmail-smtp-in.l.google.com"),
            "gmail-smtp-in.l.google.com"
        );
        assert_eq!(remote_mta("DNS; aspmx.l.google.com"), "aspmx.l.google.com");
        assert_eq!(remote_mta("dns;msmx.au.com"), "msmx.au.com");
    }
}
