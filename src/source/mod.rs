//! Sources: where lines come from. Every live reader — files (`tail`), standard input
//! (`stdin`), the systemd journal (`journal`), syslog listeners (`listen`) and bounce mailboxes
//! (`mailbox`) — implements one seam, [`Source`], built from a [`Spec`] of the plan. `replay`
//! reads files once from their first byte. All hand each line to [`ingest`], the one place
//! where lines become events and events become counts.

pub mod compressed;
pub mod framing;
pub mod identity;
pub mod journal;
pub mod lines;
pub mod listen;
pub mod mailbox;
pub mod replay;
pub mod stdin;
pub mod tail;
pub mod wrapper;

mod ingest;

pub use ingest::{ingest, FileParser, Routes, CHUNK};

/// `auto`: `parser` decided from the head of the file at `path` (its first 64 KiB,
/// decompressed where it is compressed), so a source is named and labelled by its format from
/// the start. Any other parser, or a file that cannot be read, is returned as it is.
pub fn detected_in(parser: &crate::parse::Parser, path: &std::path::Path) -> crate::parse::Parser {
    match parser.auto_state() {
        Some(None) => parser.decided_from_head(&compressed::head(path, 64 * 1024)),
        _ => parser.clone(),
    }
}

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::Context;

use crate::aggregate::{Counters, SourceId};

/// What one reader reads, with the ids of the counters it counts into. The plan builds these
/// from flags and the configuration file; [`build`] turns them into [`Source`]s.
#[derive(Debug)]
pub enum Spec {
    /// A log file, followed across rotations.
    File {
        routes: Routes,
        path: PathBuf,
        parser: FileParser,
    },
    /// Standard input (`--log.path -`), read to its end.
    Stdin { routes: Routes, parser: FileParser },
    /// The systemd journal, through journalctl.
    Journal {
        id: SourceId,
        spec: journal::JournalSpec,
    },
    /// A syslog listener.
    Listener {
        id: SourceId,
        spec: listen::ListenerSpec,
    },
    /// A bounce mailbox (Maildir or mbox).
    Mailbox { id: SourceId, path: PathBuf },
}

/// The one seam every reader implements. A source is built from its [`Spec`] before anything
/// starts (a listener binds its socket then, so a busy address fails at once), and started once
/// the saved state is restored into the counters: it resumes from what they hold (positions,
/// cursor, messages read), or, on a first start, from the end.
pub trait Source: Send {
    /// Starts reading into `counters`.
    fn start(self: Box<Self>, counters: &Counters) -> anyhow::Result<Running>;
}

/// A started source; [`Running::stop`] ends it and waits for it where it can.
pub struct Running(Box<dyn FnOnce() + Send>);

impl Running {
    pub fn new(stop: impl FnOnce() + Send + 'static) -> Self {
        Running(Box::new(stop))
    }

    /// A reader on a thread of its own named `name`, which runs `run` until the flag it is
    /// given is set; stopping sets it and waits for the thread.
    pub fn thread(
        name: &str,
        run: impl FnOnce(Arc<AtomicBool>) + Send + 'static,
    ) -> anyhow::Result<Running> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || run(flag))
            .with_context(|| format!("cannot start the {name} reader thread"))?;
        Ok(Running::new(move || {
            stop.store(true, Ordering::Relaxed);
            let _ = thread.join();
        }))
    }

    pub fn stop(self) {
        (self.0)();
    }
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Running")
    }
}

/// The sources of `specs`: all files on one follower thread, all mailboxes on another; the
/// journal, each listener and standard input on their own.
pub fn build(specs: Vec<Spec>) -> anyhow::Result<Vec<Box<dyn Source>>> {
    let mut files = Vec::new();
    let mut mailboxes = Vec::new();
    let mut out: Vec<Box<dyn Source>> = Vec::new();
    for spec in specs {
        match spec {
            Spec::File {
                routes,
                path,
                parser,
            } => files.push((routes, path, parser)),
            Spec::Mailbox { id, path } => mailboxes.push((id, path)),
            Spec::Stdin { routes, parser } => out.push(Box::new(stdin::Stdin::new(routes, parser))),
            Spec::Journal { id, spec } => out.push(Box::new(journal::JournalSource::new(id, spec))),
            Spec::Listener { id, spec } => out.push(Box::new(listen::bind(spec, id)?)),
        }
    }
    if !files.is_empty() {
        out.push(Box::new(tail::Files::new(files)));
    }
    if !mailboxes.is_empty() {
        out.push(Box::new(mailbox::Mailboxes::new(mailboxes)));
    }
    Ok(out)
}
