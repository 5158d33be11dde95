//! [`Parser`]: the parser of one file, a per-source value — a format plus what it learnt from
//! the file (header columns) or what the configuration compiled (a user-defined format's
//! regexes).

use super::{
    auto, custom, exchange, exim, kumomta, opensmtpd, postfix, powermta, sendmail, syslog, Format,
    Parsed,
};

/// The parser of one file (or journal): a format plus what it has learnt from the file so far
/// (the columns of a header line) or what the configuration compiled (the regexes of a
/// user-defined format). Each reader owns one per file it reads; cloning gives a parser in
/// the same state, so a fresh clone of a configured parser is the parser of a new file.
///
/// The match on the variant is the only cost the enum adds per line.
#[derive(Debug, Clone)]
pub enum Parser {
    Postfix,
    Exchange(exchange::Columns),
    PowerMta(powermta::Columns),
    KumoMta,
    /// A user-defined format of the configuration file.
    Custom(custom::CustomParser),
    Sendmail,
    OpenSmtpd,
    Exim(exim::Dedup),
    /// `--log.format auto`: decided by the file's lines ([`auto`]).
    Auto(auto::Auto),
}

/// `auto`: what a source without a `format:` reads with.
impl Default for Parser {
    fn default() -> Self {
        Parser::Auto(auto::Auto::default())
    }
}

impl From<Format> for Parser {
    fn from(f: Format) -> Self {
        match f {
            Format::Postfix => Parser::Postfix,
            Format::Exchange => Parser::Exchange(exchange::Columns::default()),
            Format::PowerMta => Parser::PowerMta(powermta::Columns::default()),
            Format::KumoMta => Parser::KumoMta,
            Format::Sendmail => Parser::Sendmail,
            Format::OpenSmtpd => Parser::OpenSmtpd,
            Format::Exim => Parser::Exim(exim::Dedup::default()),
        }
    }
}

impl Parser {
    /// Whether each line can be read without the lines before it (no header to learn), so a
    /// file may be cut anywhere between lines and its parts read apart.
    pub fn lines_stand_alone(&self) -> bool {
        match self {
            // Undecided: the format may read a header.
            Parser::Auto(a) => a.inner().is_some_and(Parser::lines_stand_alone),
            _ => !matches!(self, Parser::Exchange(_) | Parser::PowerMta(_)),
        }
    }

    /// Reads one line (without its newline). A header line updates the parser's columns and is
    /// [`Parsed::Ignored`].
    #[inline]
    pub fn parse<'a>(&mut self, line: &'a [u8]) -> Parsed<'a> {
        match self {
            Parser::Postfix => postfix::parse(line),
            Parser::Exchange(c) => c.parse(line),
            Parser::PowerMta(c) => c.parse(line),
            Parser::KumoMta => kumomta::parse(line),
            Parser::Custom(c) => c.parse(line),
            Parser::Sendmail => sendmail::parse(line),
            Parser::OpenSmtpd => opensmtpd::parse(line),
            Parser::Exim(d) => d.parse(line),
            Parser::Auto(a) => a.parse(line),
        }
    }

    /// The `mta` label: the format's name, or the name of a user-defined format.
    pub fn mta(&self) -> &str {
        match self {
            Parser::Postfix => Format::Postfix.name(),
            Parser::Exchange(_) => Format::Exchange.name(),
            Parser::PowerMta(_) => Format::PowerMta.name(),
            Parser::KumoMta => Format::KumoMta.name(),
            Parser::Custom(c) => c.name(),
            Parser::Sendmail => Format::Sendmail.name(),
            Parser::OpenSmtpd => Format::OpenSmtpd.name(),
            Parser::Exim(_) => Format::Exim.name(),
            // Until a line decides, the registry's first format: the name `auto` always gave.
            Parser::Auto(a) => a.inner().map_or(Format::ALL[0].name(), Parser::mta),
        }
    }

    /// Whether lines can only be read after a header line at the top of the file: a reader
    /// that starts inside a file (a restart, a first start at the end) then shows the parser
    /// the file's first bytes with [`Parser::prime`].
    pub fn reads_header(&self) -> bool {
        match self {
            Parser::Postfix => false,
            Parser::Exchange(_) | Parser::PowerMta(_) => true,
            Parser::KumoMta | Parser::Custom(_) => false,
            Parser::Sendmail => false,
            Parser::OpenSmtpd => false,
            Parser::Exim(_) => false,
            // Undecided: shown the file's first bytes, it decides from them.
            Parser::Auto(a) => a.inner().is_none_or(Parser::reads_header),
        }
    }

    /// Learns the header of a file from its first bytes (`head`, complete lines only are
    /// used), counting nothing.
    pub fn prime(&mut self, head: &[u8]) {
        if !self.reads_header() {
            return;
        }
        if let Parser::Auto(a) = self {
            a.decide_from(head);
            let inner = a.inner().cloned();
            if let Some(mut p) = inner.filter(Parser::reads_header) {
                p.prime(head);
                *self = Parser::Auto(std::mem::take(a).with_primed(p));
            }
            return;
        }
        let mut rest = head;
        while let Some(i) = memchr::memchr(b'\n', rest) {
            let line = &rest[..i];
            let _ = self.parse(line.strip_suffix(b"\r").unwrap_or(line));
            rest = &rest[i + 1..];
        }
    }

    /// What the key of `instances:` is for this format (`None`: the format has no instances).
    pub fn instance_kind(&self) -> Option<&'static str> {
        match self {
            Parser::Postfix => Some("syslog name (e.g. postfix-out)"),
            Parser::PowerMta(_) => Some("virtual MTA name (the vmta column)"),
            Parser::Exchange(_) | Parser::KumoMta | Parser::Custom(_) => None,
            Parser::Sendmail => None,
            Parser::OpenSmtpd => None,
            Parser::Exim(_) => None,
            Parser::Auto(a) => a
                .inner()
                .map_or(Parser::Postfix.instance_kind(), Parser::instance_kind),
        }
    }

    /// The key that routes a line to a configured instance's source (the `instances:` of a
    /// source): for Postfix the syslog name (`postfix-out` of `postfix-out/smtp`,
    /// `postfix/submission` of `postfix/submission/smtpd`), for PowerMTA the virtual MTA
    /// (`vmta`). `None`: the file's own source.
    pub fn instance_key<'a>(&self, line: &'a [u8]) -> Option<&'a [u8]> {
        match self {
            Parser::Postfix => {
                let h = syslog::split(line)?;
                Some(match memchr::memrchr(b'/', h.tag) {
                    Some(i) => &h.tag[..i],
                    None => h.tag,
                })
            }
            Parser::Exchange(_) | Parser::KumoMta | Parser::Custom(_) => None,
            Parser::PowerMta(c) => c.vmta(line),
            Parser::Sendmail => None,
            Parser::OpenSmtpd => None,
            Parser::Exim(_) => None,
            // The deciding line is routed before it is read: by the format that claims it.
            Parser::Auto(a) => match a.inner() {
                Some(p) => p.instance_key(line),
                None => Format::claiming(line).and_then(|f| Parser::from(f).instance_key(line)),
            },
        }
    }

    /// The parser of the file at `path`: itself, except that Exim's reject log (a file named
    /// `rejectlog…`) counts nothing, its refusals being counted from the main log (a refusal
    /// both files record counts once).
    pub fn for_path(&self, path: &std::path::Path) -> Parser {
        let reject_log = path
            .file_name()
            .is_some_and(|n| n.as_encoded_bytes().starts_with(b"rejectlog"));
        match self {
            Parser::Exim(_) if reject_log => {
                tracing::info!(
                    path = %path.display(),
                    "Exim's reject log: its refusals are counted from the main log, so its lines count as ignored"
                );
                Parser::Exim(exim::Dedup::reject_log())
            }
            Parser::Auto(a) => Parser::Auto(a.clone().with_reject_log(reject_log)),
            other => other.clone(),
        }
    }

    /// `auto` only: the parser decided from `head`, the first bytes of its file (as far as
    /// they tell), so a source is named and labelled by its format from the start. Any other
    /// parser is returned as it is. Reading the head (a compressed file's decompressed) is the
    /// source's job, not the parser's.
    pub fn decided_from_head(&self, head: &[u8]) -> Parser {
        let Parser::Auto(a) = self else {
            return self.clone();
        };
        let mut a = a.clone();
        if a.format().is_none() {
            a.decide_from(head);
        }
        Parser::Auto(a)
    }

    /// `auto` only: the format this parser has decided on; `None` for a fixed format.
    pub fn auto_state(&self) -> Option<Option<crate::parse::Format>> {
        match self {
            Parser::Auto(a) => Some(a.format()),
            _ => None,
        }
    }
}
