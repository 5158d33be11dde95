//! The sources of the plan: which readers run, and the counters (`source` labels) each counts
//! into, with their ids given here once.

use std::path::{Path, PathBuf};

use anyhow::Context;

use super::default_input::{self, Choice};
use crate::aggregate::SourceId;
use crate::cli::ServeArgs;
use crate::config::{self, ConfigError};
use crate::parse::Parser;
use crate::queue::SourceQueue;
use crate::source::journal::{self, JournalSpec, Origin};
use crate::source::listen::{self, ListenerSpec};
use crate::source::mailbox::{self, MailboxSpec};
use crate::source::wrapper::Kind as WrapperKind;
use crate::source::{stdin, FileParser, Routes, Spec};

/// One set of counters of the aggregator: one `source` label. Its index is its [`SourceId`].
#[derive(Debug, Clone, Default)]
pub struct Counted {
    pub name: String,
    pub mta: String,
    /// What is read, as `/` shows it and the state file keys the counters by.
    pub location: String,
    /// For an MTA instance picked out of another source's file: that source.
    pub parent: Option<SourceId>,
    /// The name is the MTA's, not the user's (see `SourceStats::default_name`).
    pub default_name: bool,
    /// `--log.format auto`: whether the format was detected at start; `None` for a fixed one.
    pub auto: Option<bool>,
    /// A syslog listener, which counts the messages it drops.
    pub drops: bool,
}

/// One log file (or standard input) to read, before ids are given.
#[derive(Debug)]
pub(super) struct FileSource {
    name: String,
    path: PathBuf,
    parser: FileParser,
    /// Instance key → source name (several MTA instances logging to one file).
    instances: Vec<(String, String)>,
    default_name: bool,
}

/// The readers and counters of the plan, built in the order their ids are given: files (and
/// their instances), the journal, the listeners, the mailboxes.
#[derive(Debug, Default)]
pub struct Sources {
    /// Indexed by [`SourceId`]: the ids the specs carry.
    counted: Vec<Counted>,
    specs: Vec<Spec>,
    /// `name=what` of each reader, for the start-up log line.
    described: Vec<String>,
    /// The sources whose MTA queue may be read at scrape time.
    pub(super) queues: Vec<SourceQueue>,
}

impl Sources {
    /// The counters, by id.
    pub fn counted(&self) -> &[Counted] {
        &self.counted
    }

    /// The readers' specs, taken once to build the sources.
    pub fn take_specs(&mut self) -> Vec<Spec> {
        std::mem::take(&mut self.specs)
    }

    /// `name=what` of each reader.
    pub fn described(&self) -> &[String] {
        &self.described
    }

    fn add(&mut self, c: Counted) -> SourceId {
        self.counted.push(c);
        SourceId(self.counted.len() - 1)
    }

    fn file(&mut self, f: FileSource) {
        let mta = f.parser.mta().to_owned();
        let auto = f.parser.parser().auto_state().map(|d| d.is_some());
        let location = if stdin::is_stdin(&f.path) {
            stdin::LOCATION.to_owned()
        } else {
            f.path.display().to_string()
        };
        log_detection(&f, auto);
        let primary = self.add(Counted {
            name: f.name.clone(),
            mta: mta.clone(),
            location: location.clone(),
            default_name: f.default_name,
            auto,
            ..Counted::default()
        });
        let mut by_name = Vec::new();
        for (key, label) in &f.instances {
            let id = self.add(Counted {
                name: label.clone(),
                mta: mta.clone(),
                location: format!("{location}, lines of syslog name {key}"),
                parent: Some(primary),
                auto,
                ..Counted::default()
            });
            by_name.push((key.clone().into_bytes(), id));
        }
        self.described
            .push(format!("{}={}", f.name, f.path.display()));
        let routes = Routes::new(primary, by_name);
        self.specs.push(if stdin::is_stdin(&f.path) {
            Spec::Stdin {
                routes,
                parser: f.parser,
            }
        } else {
            Spec::File {
                routes,
                path: f.path,
                parser: f.parser,
            }
        });
    }

    fn journal(&mut self, spec: JournalSpec) {
        let id = self.add(Counted {
            name: spec.name.clone(),
            mta: spec.parser.mta().to_owned(),
            location: spec.location(),
            ..Counted::default()
        });
        self.described.push(format!(
            "{}={} ({})",
            spec.name,
            spec.location(),
            spec.filter()
        ));
        self.specs.push(Spec::Journal { id, spec });
    }

    fn listener(&mut self, spec: ListenerSpec) {
        let id = self.add(Counted {
            name: spec.name.clone(),
            mta: spec.parser.mta().to_owned(),
            location: spec.location(),
            drops: true,
            ..Counted::default()
        });
        self.described
            .push(format!("{}={}", spec.name, spec.location()));
        self.specs.push(Spec::Listener { id, spec });
    }

    fn mailbox(&mut self, m: MailboxSpec) {
        let id = self.add(Counted {
            name: m.name.clone(),
            mta: crate::parse::dsn::MTA.to_owned(),
            location: m.location(),
            ..Counted::default()
        });
        self.described
            .push(format!("{}={} (mailbox)", m.name, m.path.display()));
        self.specs.push(Spec::Mailbox { id, path: m.path });
    }
}

fn log_detection(f: &FileSource, auto: Option<bool>) {
    let path = f.path.display();
    match (auto, f.parser.parser().auto_state().flatten()) {
        (Some(true), Some(format)) => {
            tracing::info!(source = %f.name, path = %path, "log format detected: {} (from the file's first lines)", format.name());
        }
        (Some(false), _) => {
            tracing::info!(source = %f.name, path = %path, "log format not detected yet (--log.format auto): waiting for a line of a known MTA");
        }
        _ => {}
    }
}

/// The sources of `args` and the configuration file: flags win over the file.
pub(super) fn resolve(
    args: &ServeArgs,
    file: &config::File,
    flag_parser: &Parser,
) -> anyhow::Result<Sources> {
    let mut journal = journal_spec(args, flag_parser)?;
    let listeners = syslog_listeners(args, file, flag_parser)?;
    let mailboxes = mailboxes(args, file);
    if !file.sources.is_empty() && (journal.is_some() || !args.log_path.is_empty()) {
        // Flags win over the file; say so rather than leave configured sources unread.
        let flag = if journal.is_some() {
            "--journal"
        } else {
            "--log.path"
        };
        tracing::warn!(
            "{flag} given: the {} source(s) of the configuration file are not read",
            file.sources.len()
        );
    }
    let mut out = Sources::default();
    let files = if journal.is_some() {
        Vec::new()
    } else if !args.log_path.is_empty() {
        flag_files(args, flag_parser)
    } else if !file.sources.is_empty() {
        config_files(file, &mut out.queues)?
    } else if !listeners.is_empty() || !mailboxes.is_empty() {
        // Only listeners or mailboxes asked for: no default mail log to wait for.
        Vec::new()
    } else {
        match default_input::Probe::system(args.journalctl.as_deref()).choose() {
            Choice::File { path, why } => {
                tracing::info!("no log asked for: following {} ({why})", path.display());
                vec![default_file(args, flag_parser, path)]
            }
            Choice::Journal { why } => {
                tracing::info!("no log asked for: reading the systemd journal's mail facility, as --journal does ({why})");
                journal = Some(journal_of(args, flag_parser, Origin::System));
                Vec::new()
            }
        }
    };
    check_names(&files, &mailboxes)?;
    if out.queues.is_empty() {
        out.queues = queue_sources(&files, journal.as_ref());
    }
    files.into_iter().for_each(|f| out.file(f));
    journal.into_iter().for_each(|j| out.journal(j));
    listeners.into_iter().for_each(|l| out.listener(l));
    mailboxes.into_iter().for_each(|m| out.mailbox(m));
    Ok(out)
}

/// Standard input is read by one source at most; a mailbox and a log source differ in name.
fn check_names(files: &[FileSource], mailboxes: &[MailboxSpec]) -> anyhow::Result<()> {
    if files.iter().filter(|s| stdin::is_stdin(&s.path)).count() > 1 {
        return Err(ConfigError(
            "standard input (`-`) can be read by one source only: name it once".into(),
        )
        .into());
    }
    if let Some(m) = mailboxes
        .iter()
        .find(|m| files.iter().any(|s| s.name == m.name))
    {
        return Err(ConfigError(format!(
            "the mailbox {} and a log source are both named {:?}: name the mailbox in the config file (mailboxes: - name:)",
            m.path.display(),
            m.name
        ))
        .into());
    }
    Ok(())
}

/// `parser` reading `path` through the wrapper given, or the default for the path (none for
/// standard input, whose lines come from `docker logs`, already unwrapped).
fn wrapped(parser: &Parser, given: Option<WrapperKind>, path: &Path) -> FileParser {
    let kind = given.unwrap_or_else(|| {
        if stdin::is_stdin(path) {
            WrapperKind::None
        } else {
            WrapperKind::default_for(path)
        }
    });
    FileParser::new(parser.clone(), kind)
}

/// The files of `--log.path`.
fn flag_files(args: &ServeArgs, flag_parser: &Parser) -> Vec<FileSource> {
    let n = args.log_path.len();
    args.log_path
        .iter()
        .enumerate()
        .map(|(i, p)| {
            // `auto`: decided from the file's head where it can be, and the source named by
            // the format found (a restart keeps the name saved for the file).
            let parser = crate::source::detected_in(flag_parser, p);
            let mta = parser.mta();
            FileSource {
                // Several paths need names of their own, or their series would collide.
                name: if n == 1 {
                    mta.to_owned()
                } else {
                    format!("{mta}-{}", i + 1)
                },
                parser: wrapped(&parser, args.common.log_wrapper, p),
                path: p.clone(),
                instances: Vec::new(),
                default_name: true,
            }
        })
        .collect()
}

/// The distribution's mail log, when nothing else is asked for.
fn default_file(args: &ServeArgs, flag_parser: &Parser, path: PathBuf) -> FileSource {
    let parser = crate::source::detected_in(flag_parser, &path);
    FileSource {
        name: parser.mta().to_owned(),
        parser: wrapped(&parser, args.common.log_wrapper, &path),
        path,
        instances: Vec::new(),
        default_name: true,
    }
}

/// The config file's `sources:`, globs expanded; each with its `queue:` (the first file of a
/// glob) in `queues`.
fn config_files(
    file: &config::File,
    queues: &mut Vec<SourceQueue>,
) -> anyhow::Result<Vec<FileSource>> {
    let mut out = Vec::new();
    for (i, s) in file.sources.iter().enumerate() {
        let parser = s.parser();
        let name = s.name.clone().unwrap_or_else(|| {
            // `auto` on one file: named by the format its head shows.
            if config::is_glob(&s.path) {
                parser.mta().to_owned()
            } else {
                crate::source::detected_in(parser, &s.path).mta().to_owned()
            }
        });
        let instances: Vec<_> = s
            .instances
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for (k, (path, name)) in expand(&s.path, &name)?.into_iter().enumerate() {
            let parser = crate::source::detected_in(parser, &path);
            queues.push(SourceQueue {
                name: name.clone(),
                mta: parser.mta().to_owned(),
                config: if k == 0 { s.queue.clone() } else { None },
                what: format!("sources[{i}]"),
            });
            out.push(FileSource {
                name,
                parser: FileParser::new(parser, s.wrapper_kind()),
                path,
                instances: instances.clone(),
                default_name: s.name.is_none(),
            });
        }
    }
    Ok(out)
}

/// Without `queue:` in the config file: every file source and the journal, by name and MTA.
fn queue_sources(files: &[FileSource], journal: Option<&JournalSpec>) -> Vec<SourceQueue> {
    files
        .iter()
        .map(|s| (s.name.clone(), s.parser.mta().to_owned()))
        .chain(journal.map(|j| (j.name.clone(), j.parser.mta().to_owned())))
        .map(|(name, mta)| SourceQueue {
            what: format!("source {name}"),
            name,
            mta,
            config: None,
        })
        .collect()
}

/// A configured path: itself, or the files a glob matches now, each with its source name
/// (`NAME` for a single file, `NAME/FILE` when a glob matches several).
fn expand(path: &Path, name: &str) -> anyhow::Result<Vec<(PathBuf, String)>> {
    if !config::is_glob(path) {
        return Ok(vec![(path.to_path_buf(), name.to_owned())]);
    }
    let pattern = path.to_string_lossy();
    let files: Vec<PathBuf> = glob::glob(&pattern)
        .map_err(|e| ConfigError(format!("sources: invalid glob {pattern:?}: {e}")))?
        .filter_map(Result::ok)
        .filter(|p| p.is_file())
        .collect();
    if files.is_empty() {
        return Err(ConfigError(format!(
            "sources: the glob {pattern:?} matches no file: check the pattern, or name the file itself (a named file that does not exist yet is waited for)"
        ))
        .into());
    }
    let single = files.len() == 1;
    Ok(files
        .into_iter()
        .map(|p| {
            let label = if single {
                name.to_owned()
            } else {
                format!(
                    "{name}/{}",
                    p.file_name().unwrap_or_default().to_string_lossy()
                )
            };
            (p, label)
        })
        .collect())
}

/// The syslog listeners: of `--syslog.listen-address` when given (in the format of
/// `--log.format`), else of the file's `syslog:`. Limits are checked by the flag's or the
/// file's own parser.
fn syslog_listeners(
    args: &ServeArgs,
    file: &config::File,
    flag_parser: &Parser,
) -> anyhow::Result<Vec<ListenerSpec>> {
    let d = listen::Limits::default();
    let limits = |q: Option<usize>, m: Option<usize>, c: Option<usize>| listen::Limits {
        queue: q.or(args.syslog_queue_size).unwrap_or(d.queue),
        max_message: m.or(args.syslog_max_message_size).unwrap_or(d.max_message),
        max_connections: c
            .or(args.syslog_max_connections)
            .unwrap_or(d.max_connections),
    };
    let out: Vec<ListenerSpec> = if !args.syslog_listen.is_empty() {
        if !file.syslog.is_empty() {
            tracing::warn!(
                "--syslog.listen-address given: the {} syslog listener(s) of the configuration file are not started",
                file.syslog.len()
            );
        }
        let n = args.syslog_listen.len();
        (args.syslog_listen.iter().enumerate())
            .map(|(i, endpoint)| ListenerSpec {
                name: config::syslog_default_name(i, n),
                endpoint: endpoint.clone(),
                parser: flag_parser.clone(),
                limits: limits(None, None, None),
            })
            .collect()
    } else {
        let n = file.syslog.len();
        let mut out = Vec::new();
        for (i, s) in file.syslog.iter().enumerate() {
            let endpoint = s
                .endpoint()
                .cloned()
                .ok_or_else(|| ConfigError(format!("syslog[{i}].listen_address: not checked")))?;
            out.push(ListenerSpec {
                name: (s.name.clone()).unwrap_or_else(|| config::syslog_default_name(i, n)),
                endpoint,
                parser: s.parser().clone(),
                limits: limits(s.queue_size, s.max_message_size, s.max_connections),
            });
        }
        out
    };
    let mut seen = std::collections::BTreeSet::new();
    for l in &out {
        // Port 0: each listener gets a port of its own.
        let any_port = matches!(&l.endpoint, listen::Endpoint::Udp(a) | listen::Endpoint::Tcp(a) if a.port() == 0);
        if !any_port && !seen.insert(l.endpoint.to_string()) {
            return Err(ConfigError(format!(
                "syslog listener {} is given twice: name each address once",
                l.endpoint
            ))
            .into());
        }
    }
    Ok(out)
}

/// The mailboxes of `--mailbox.path`, else of the config file's `mailboxes:`.
fn mailboxes(args: &ServeArgs, file: &config::File) -> Vec<MailboxSpec> {
    if !args.mailbox_path.is_empty() {
        if !file.mailboxes.is_empty() {
            tracing::warn!(
                "--mailbox.path given: the {} mailbox(es) of the configuration file are not read",
                file.mailboxes.len()
            );
        }
        return mailbox::from_flags(&args.mailbox_path);
    }
    (file.mailboxes.iter().enumerate())
        .map(|(i, m)| MailboxSpec {
            name: config::mailbox_name(file, i),
            path: m.path.clone(),
        })
        .collect()
}

/// The journal source of `--journal` and its flags; `None` without `--journal`.
fn journal_spec(args: &ServeArgs, parser: &Parser) -> anyhow::Result<Option<JournalSpec>> {
    if !args.journal {
        return Ok(None);
    }
    for m in &args.journal_match {
        journal::check_match(m).map_err(|e| ConfigError(format!("--journal.match: {e}")))?;
    }
    // journalctl --follow cannot watch a relative --file.
    let absolute = |p: &PathBuf| {
        std::path::absolute(p).with_context(|| format!("{}: cannot make it absolute", p.display()))
    };
    let origin = match (&args.journal_file, &args.journal_directory) {
        (Some(f), _) => Origin::File(absolute(f)?),
        (None, Some(d)) => Origin::Directory(absolute(d)?),
        (None, None) => Origin::System,
    };
    Ok(Some(journal_of(args, parser, origin)))
}

/// The journal source of `origin` with the `--journal.*` filters (the mail facility by default).
fn journal_of(args: &ServeArgs, parser: &Parser, origin: Origin) -> JournalSpec {
    let matches = if args.journal_unit.is_empty() && args.journal_match.is_empty() {
        vec![journal::DEFAULT_MATCH.to_owned()]
    } else {
        args.journal_match.clone()
    };
    JournalSpec {
        name: parser.mta().to_owned(),
        parser: parser.clone(),
        journalctl: (args.journalctl.clone()).unwrap_or_else(|| PathBuf::from("journalctl")),
        origin,
        units: args.journal_unit.clone(),
        matches,
    }
}
