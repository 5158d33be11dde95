//! Where lines become counts: [`ingest`] parses one line and records it; [`FileParser`] is a
//! file's line reader (container unwrapping, then the MTA's parser); [`Routes`] sends the lines
//! of configured MTA instances to their own sources.

use super::lines::Line;
use super::wrapper;
use crate::aggregate::{Aggregator, LineResult, SourceId};
use crate::parse::Parser;

/// Parses one line of `source` with the parser of its file and counts it.
#[inline]
pub fn ingest(agg: &mut Aggregator, source: SourceId, parser: &mut Parser, line: Line<'_>) {
    match line {
        Line::Complete(l) => {
            agg.record(source, &parser.parse(l));
            if let Parser::Auto(a) = parser {
                if let Some(f) = a.take_decided() {
                    decided(agg, source, f);
                }
            }
        }
        Line::TooLong => agg.count_line(source, LineResult::Unrecognised),
    }
}

/// `auto` decided `source`'s format on the line just read: its `mta` label (and its
/// instances') follows, and the log says so.
#[cold]
fn decided(agg: &mut Aggregator, source: SourceId, f: crate::parse::Format) {
    let mut name = String::new();
    for (i, s) in agg.sources.iter_mut().enumerate() {
        let id = SourceId(i);
        let ours = id == source || s.parent == Some(source);
        if ours && (s.mta != f.name() || s.auto != Some(true)) {
            s.mta = f.name().to_owned();
            s.auto = Some(true);
            if id == source {
                name.clone_from(&s.name);
            }
        }
    }
    if !name.is_empty() {
        tracing::info!(source = %name, "log format detected: {}", f.name());
    }
}

/// How one file's lines are read: unwrapped from a container runtime's log where the file is
/// one (a step that returns lines and counts nothing), then parsed by the MTA's parser. Both
/// hold the file's state (partial lines, header columns), so each file read gets a clone of
/// the configured one.
#[derive(Debug, Clone)]
pub struct FileParser {
    parser: Parser,
    unwrapper: Option<wrapper::Unwrapper>,
}

impl From<crate::parse::Format> for FileParser {
    fn from(f: crate::parse::Format) -> Self {
        Parser::from(f).into()
    }
}

impl From<Parser> for FileParser {
    fn from(parser: Parser) -> Self {
        FileParser {
            parser,
            unwrapper: None,
        }
    }
}

impl FileParser {
    /// `parser` reading lines through the container log wrapper `kind`.
    pub fn new(parser: Parser, kind: wrapper::Kind) -> Self {
        FileParser {
            parser,
            unwrapper: kind.unwrapper(),
        }
    }

    /// The MTA's parser.
    pub fn parser(&self) -> &Parser {
        &self.parser
    }

    /// The `mta` label.
    pub fn mta(&self) -> &str {
        self.parser.mta()
    }

    /// See [`Parser::lines_stand_alone`]; a wrapped line's pieces may lie on both sides of a
    /// cut.
    pub fn lines_stand_alone(&self) -> bool {
        self.unwrapper.is_none() && self.parser.lines_stand_alone()
    }

    /// See [`Parser::reads_header`]; header-driven formats do not log to a container's
    /// stdout, so nothing behind a wrapper is primed.
    pub fn reads_header(&self) -> bool {
        self.unwrapper.is_none() && self.parser.reads_header()
    }

    /// See [`Parser::prime`].
    pub fn prime(&mut self, head: &[u8]) {
        if self.unwrapper.is_none() {
            self.parser.prime(head);
        }
    }

    /// The parser of the file at `path` ([`Parser::for_path`]).
    pub fn for_path(&self, path: &std::path::Path) -> FileParser {
        self.map(|p| p.for_path(path))
    }

    /// `auto`: decided from the head of the file at `path` ([`super::detected_in`]).
    pub fn detected_in(&self, path: &std::path::Path) -> FileParser {
        self.map(|p| super::detected_in(p, path))
    }

    fn map(&self, f: impl FnOnce(&Parser) -> Parser) -> FileParser {
        FileParser {
            parser: f(&self.parser),
            unwrapper: self.unwrapper.clone(),
        }
    }

    /// The source of a line ([`Routes::pick`]); instances are picked from raw lines only.
    #[inline]
    pub fn route(&self, routes: &Routes, line: &Line<'_>) -> SourceId {
        if self.unwrapper.is_some() {
            return routes.primary();
        }
        routes.pick(&self.parser, line)
    }

    /// Reads one line of the file into `source`'s counters.
    #[inline]
    pub fn ingest(&mut self, agg: &mut Aggregator, source: SourceId, line: Line<'_>) {
        let Some(w) = &mut self.unwrapper else {
            return ingest(agg, source, &mut self.parser, line);
        };
        let Line::Complete(l) = line else {
            return agg.count_line(source, LineResult::Unrecognised);
        };
        match w.unwrap(l) {
            wrapper::Out::Line(mta_line) => {
                ingest(agg, source, &mut self.parser, Line::Complete(mta_line));
            }
            wrapper::Out::Held => {}
            wrapper::Out::Unrecognised => agg.count_line(source, LineResult::Unrecognised),
        }
    }
}

/// Where the lines of one file go: to its source, or, for the instance keys of configured
/// instances (several MTA instances logging to one file: Postfix syslog names, PowerMTA
/// virtual MTAs), to theirs.
#[derive(Debug, Clone, Default)]
pub struct Routes {
    primary: SourceId,
    by_name: Vec<(Vec<u8>, SourceId)>,
}

impl Routes {
    pub fn new(primary: SourceId, by_name: Vec<(Vec<u8>, SourceId)>) -> Self {
        Routes { primary, by_name }
    }

    pub fn primary(&self) -> SourceId {
        self.primary
    }

    pub fn instances(&self) -> impl Iterator<Item = (&[u8], SourceId)> {
        self.by_name.iter().map(|(n, id)| (n.as_slice(), *id))
    }

    /// The source of a line: by its instance key ([`Parser::instance_key`]), e.g. the syslog
    /// name, the tag before the program's name (`postfix-out` of `postfix-out/smtp`,
    /// `postfix/submission` of `postfix/submission/smtpd`). Costs nothing when no instances
    /// are configured.
    #[inline]
    pub fn pick(&self, parser: &Parser, line: &Line<'_>) -> SourceId {
        if self.by_name.is_empty() {
            return self.primary;
        }
        let Line::Complete(l) = line else {
            return self.primary;
        };
        let Some(name) = parser.instance_key(l) else {
            return self.primary;
        };
        self.by_name
            .iter()
            .find(|(n, _)| n.as_slice() == name)
            .map_or(self.primary, |(_, id)| *id)
    }
}

/// Read size: large enough that per-read costs vanish, small enough to stay in cache.
pub const CHUNK: usize = 256 * 1024;
