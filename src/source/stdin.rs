//! Standard input as a source: `--log.path -`.
//!
//! For logs that reach the exporter through a pipe rather than a file:
//! `docker logs -f postfix 2>&1 | smtp-status-exporter --log.path -` (Postfix with
//! `maillog_file = /dev/stdout`), `journalctl -f -o short-iso -u postfix | … --log.path -`.
//! The lines go through the same splitter, parser and counters as a file's.
//!
//! What a pipe cannot give: a position. Nothing of stdin is remembered in the state file but
//! its counters (which, like every counter, survive a restart); whatever the pipe sends again
//! after a restart (`docker logs -f` without `--since` starts at the container's first line) is
//! counted again. When the input ends the source says so on `/-/ready` and `/` and the
//! endpoint keeps serving the final counts (`serve`); `replay -` reads stdin to its end.
//!
//! `journalctl -o cat` prints the message alone, without the program name Postfix's lines are
//! told apart by (`postfix/smtp`, `postfix/smtpd`, …): such lines are `unrecognised`. Use
//! `-o short`, `-o short-iso` or `-o short-precise`, which keep the syslog header.

use std::io::{ErrorKind, Read};
use std::path::Path;

use anyhow::Context;

use super::lines::LineSplitter;
use super::{FileParser, Routes, Running, Source, CHUNK};
use crate::aggregate::{Aggregator, Counters, SourceId, SourceState};

/// The `--log.path` that stands for standard input.
pub const PATH: &str = "-";

/// What `/` shows as the location of the stdin source (and what the state file keys its
/// counters by).
pub const LOCATION: &str = "standard input";

/// Whether a configured path is standard input.
pub fn is_stdin(path: &Path) -> bool {
    path.as_os_str() == PATH
}

/// Standard input as a [`Source`].
#[derive(Debug)]
pub struct Stdin {
    routes: Routes,
    parser: FileParser,
}

impl Stdin {
    pub fn new(routes: Routes, parser: FileParser) -> Self {
        Stdin { routes, parser }
    }
}

impl Source for Stdin {
    /// Reads standard input on a thread of its own until it ends. Stopping does not wait for
    /// the thread: a read of a pipe cannot be interrupted, and at shutdown the state is saved
    /// under the counters' lock, which holds the counts of whole lines only.
    fn start(self: Box<Self>, counters: &Counters) -> anyhow::Result<Running> {
        start(self.routes, self.parser, counters.clone())?;
        Ok(Running::new(|| {}))
    }
}

fn start(routes: Routes, parser: FileParser, agg: Counters) -> anyhow::Result<()> {
    std::thread::Builder::new()
        .name("stdin".into())
        .spawn(move || {
            let stdin = std::io::stdin();
            follow(&mut stdin.lock(), &routes, parser, &agg);
        })
        .context("cannot start the standard input reader thread")?;
    Ok(())
}

/// Counts the lines of `input` until its end, one lock per read, and marks the source ended.
pub fn follow(input: &mut dyn Read, routes: &Routes, mut parser: FileParser, agg: &Counters) {
    let source = routes.primary();
    set_state(&mut agg.lock(), source, SourceState::Following);
    let mut buf = vec![0u8; CHUNK];
    let mut splitter = LineSplitter::default();
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => {
                let mut g = agg.lock();
                g.add_read_error(source);
                set_state(&mut g, source, SourceState::Failing(e.to_string()));
                tracing::error!("standard input: {e}: no more lines are read from it");
                return;
            }
        };
        let chunk = buf.get(..n).unwrap_or_default();
        let mut g = agg.lock();
        g.add_bytes(source, n as u64);
        let mut lines = 0u64;
        splitter.feed(chunk, |line| {
            lines += 1;
            let to = parser.route(routes, &line);
            parser.ingest(&mut g, to, line);
        });
        if lines > 0 {
            g.set_last_line(source, Counters::now());
        }
    }
    let mut g = agg.lock();
    // A last line without its newline is still a line: the input has ended for good.
    splitter.finish(|line| {
        let to = parser.route(routes, &line);
        parser.ingest(&mut g, to, line);
    });
    set_state(&mut g, source, SourceState::Ended);
    tracing::info!("standard input ended: the counts are final; still serving them");
}

fn set_state(g: &mut Aggregator, source: SourceId, state: SourceState) {
    if let Some(s) = g.source_mut(source) {
        s.state = state;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::Bounds;

    #[test]
    fn counts_to_the_end_and_says_it_ended() {
        let agg = Counters::new(Aggregator::new(
            vec![("postfix".into(), "postfix".into())],
            &Bounds {
                domains_max: 10,
                ..Bounds::default()
            },
        ));
        let text = b"Nov 23 02:12:58 mx postfix/smtp[10732]: 1CA9A98C0C2: to=<a@example.net>, relay=127.0.0.1[127.0.0.1]:12600, delay=0.03, delays=0.01/0.02/0/0, dsn=2.0.0, status=sent (250 2.0.0 Ok)\n\
Nov 23 02:12:58 mx postfix/qmgr[1]: 1CA9A98C0C2: removed\n\
garbage";
        follow(
            &mut &text[..],
            &Routes::new(SourceId(0), Vec::new()),
            crate::parse::Parser::Postfix.into(),
            &agg,
        );
        let g = agg.lock();
        assert_eq!(g.sources[0].line_counts(), [1, 1, 1]);
        assert_eq!(g.sources[0].bytes, text.len() as u64);
        assert_eq!(g.sources[0].state, SourceState::Ended);
    }
}
