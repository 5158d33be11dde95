//! Wiring: settings from flags and the config file, then one of the commands.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::Context;

use crate::aggregate::{Aggregator, Bounds};
use crate::cli::{Cli, Command, CommonArgs, ReplayArgs, ReplayFormat, ServeArgs};
use crate::config::{self, ConfigError};
use crate::expose::{self, BuildInfo};
use crate::http;
use crate::parse::Parser;
use crate::source::journal::{self, JournalSpec, Origin};
use crate::source::listen::{self, ListenerSpec};
use crate::source::mailbox::{self, MailboxSpec};
use crate::source::{replay, stdin, tail, wrapper, FileParser, Routes};
use crate::state::{self, StateFile};

/// Runs the command the user asked for.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    init_logging(&cli.serve.common.log_level)?;
    match &cli.command {
        None => serve(&cli.serve),
        Some(Command::Replay(r)) => run_replay(&cli.serve.common, r),
        Some(Command::CheckConfig(args)) => check_config(&cli.serve.common, args),
        Some(Command::Explain(e)) => run_explain(&cli.serve.common, e),
    }
}

/// What the process exits with for an error: 2 for a mistake in flags or configuration the
/// user must fix, 1 for a failure at run time.
pub fn exit_code(e: &anyhow::Error) -> i32 {
    if e.chain().any(|c| c.is::<ConfigError>()) {
        2
    } else {
        1
    }
}

/// A line that tells the user what to do about an error, where there is one to say.
pub fn hint(e: &anyhow::Error) -> Option<&'static str> {
    let io = e.chain().find_map(|c| c.downcast_ref::<std::io::Error>())?;
    match io.kind() {
        std::io::ErrorKind::AddrInUse => Some(
            "another process is listening there (another exporter?): stop it, or choose another address with --web.listen-address",
        ),
        std::io::ErrorKind::PermissionDenied => Some(
            "the exporter needs read access to the mail log: add its user to the group that owns the log (on Debian: adm)",
        ),
        std::io::ErrorKind::NotFound => Some("check the path"),
        _ => None,
    }
}

fn init_logging(level: &str) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_new(level).map_err(|e| {
        ConfigError(format!(
            "--log.level {level:?}: {e}; use error, warn, info, debug or trace"
        ))
    })?;
    // Ignore a second initialisation (tests call `run` more than once in a process).
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .try_init();
    Ok(())
}

/// One log source to read.
#[derive(Debug, Clone)]
pub struct SourceSpec {
    pub name: String,
    pub path: PathBuf,
    /// The parser of the file's format (each file read gets a fresh copy).
    pub parser: FileParser,
    /// Instance key (Postfix syslog name, PowerMTA virtual MTA) → source name, for several
    /// MTA instances logging to one file.
    pub instances: Vec<(String, String)>,
    /// `name` is the MTA's (not given by the user): see `SourceStats::default_name`.
    pub default_name: bool,
}

/// Flags and config file merged: a flag given on the command line wins over the file.
#[derive(Debug)]
pub struct Settings {
    pub listen_address: String,
    pub telemetry_path: String,
    pub sources: Vec<SourceSpec>,
    /// `--journal`: the systemd journal, read instead of files (`sources` is then empty).
    pub journal: Option<JournalSpec>,
    /// `--syslog.listen-address` (or `syslog:` of the file): syslog listeners, read besides.
    pub listeners: Vec<ListenerSpec>,
    pub bounds: Bounds,
    pub state_file: PathBuf,
    /// Given by flag or config: failing to use it is an error, not a warning.
    pub state_file_explicit: bool,
    /// The MTA queues read at scrape time.
    pub queues: Vec<crate::queue::QueueSpec>,
    pub queue_timeout: std::time::Duration,
    pub queue_cache: std::time::Duration,
    /// Bounce mailboxes (`--mailbox.path`, `mailboxes:`), read besides the logs.
    pub mailboxes: Vec<MailboxSpec>,
}

fn load_config(common: &CommonArgs) -> anyhow::Result<config::File> {
    match &common.config_file {
        Some(p) => config::load(p),
        None => Ok(config::File::default()),
    }
}

/// The container log wrapper of `--log.wrapper` (`None`: not given, chosen by path).
fn flag_wrapper(common: &CommonArgs) -> anyhow::Result<Option<wrapper::Kind>> {
    common
        .log_wrapper
        .as_deref()
        .map(wrapper::Kind::parse)
        .transpose()
        .map_err(|e| ConfigError(format!("--log.wrapper: {e}")).into())
}

/// `parser` behind the wrapper of `path`: the one given, or the default for the path (none
/// for standard input, whose lines come from `docker logs`, already unwrapped).
fn wrapped(parser: &Parser, given: Option<wrapper::Kind>, path: &std::path::Path) -> FileParser {
    let kind = given.unwrap_or_else(|| {
        if stdin::is_stdin(path) {
            wrapper::Kind::None
        } else {
            wrapper::Kind::default_for(path)
        }
    });
    FileParser::new(parser.clone(), kind)
}

/// The parser of `--log.format`: a built-in format, `auto`, or a format the config file
/// defines.
fn flag_parser(common: &CommonArgs, file: &config::File) -> anyhow::Result<Parser> {
    config::parser_named(common.log_format.as_deref().unwrap_or("auto"), file)
        .map_err(|e| ConfigError(format!("--log.format: {e}")).into())
}

fn bounds(file: &config::File) -> Bounds {
    Bounds {
        domains_max: file.domains.max,
        domains_keep: file.domains.keep.clone(),
        domain_groups: file
            .domains
            .groups
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        reasons: Arc::clone(&file.compiled_reasons),
    }
}

impl Settings {
    pub fn resolve(args: &ServeArgs) -> anyhow::Result<Settings> {
        let file = load_config(&args.common)?;
        let flag_parser = flag_parser(&args.common, &file)?;
        let flag_wrapper = flag_wrapper(&args.common)?;
        let journal = journal_spec(args, &flag_parser)?;
        let listeners = syslog_listeners(args, &file, &flag_parser)?;
        let mailboxes = mailboxes(args, &file);
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
        // Each log source with its `queue:` (config-file sources only; the first file of a glob).
        let mut queue_sources: Vec<crate::queue::SourceQueue> = Vec::new();
        let sources = if journal.is_some() {
            Vec::new()
        } else if !args.log_path.is_empty() {
            let n = args.log_path.len();
            args.log_path
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    // `auto`: decided from the file's head where it can be, and the source
                    // named by the format found (a restart keeps the name saved for the file).
                    let parser = flag_parser.detected_in(p);
                    let mta = parser.mta();
                    SourceSpec {
                        // Several paths need names of their own, or their series would collide.
                        name: if n == 1 {
                            mta.to_owned()
                        } else {
                            format!("{mta}-{}", i + 1)
                        },
                        path: p.clone(),
                        parser: wrapped(&parser, flag_wrapper, p),
                        instances: Vec::new(),
                        default_name: true,
                    }
                })
                .collect()
        } else if !file.sources.is_empty() {
            let mut specs = Vec::new();
            for (i, s) in file.sources.iter().enumerate() {
                // Checked when the file was loaded.
                let parser = config::parser_named(s.format.as_deref().unwrap_or("auto"), &file)
                    .unwrap_or(Parser::Postfix);
                let name = s.name.clone().unwrap_or_else(|| {
                    // `auto` on one file: named by the format its head shows.
                    if config::is_glob(&s.path) {
                        parser.mta().to_owned()
                    } else {
                        parser.detected_in(&s.path).mta().to_owned()
                    }
                });
                let instances: Vec<_> = s
                    .instances
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                // Checked when the file was loaded.
                let given = s
                    .wrapper
                    .as_deref()
                    .and_then(|w| wrapper::Kind::parse(w).ok());
                for (k, (path, name)) in expand(&s.path, &name)?.into_iter().enumerate() {
                    let parser = parser.detected_in(&path);
                    queue_sources.push(crate::queue::SourceQueue {
                        name: name.clone(),
                        mta: parser.mta().to_owned(),
                        config: if k == 0 { s.queue.clone() } else { None },
                        what: format!("sources[{i}]"),
                    });
                    specs.push(SourceSpec {
                        name,
                        parser: wrapped(&parser, given, &path),
                        path,
                        instances: instances.clone(),
                        default_name: s.name.is_none(),
                    });
                }
            }
            specs
        } else if !listeners.is_empty() || !mailboxes.is_empty() {
            // Only listeners or mailboxes asked for: no default mail log to wait for.
            Vec::new()
        } else {
            let path = config::default_log_path();
            let parser = flag_parser.detected_in(&path);
            vec![SourceSpec {
                name: parser.mta().to_owned(),
                parser: wrapped(&parser, flag_wrapper, &path),
                path,
                instances: Vec::new(),
                default_name: true,
            }]
        };
        if sources.iter().filter(|s| stdin::is_stdin(&s.path)).count() > 1 {
            return Err(ConfigError(
                "standard input (`-`) can be read by one source only: name it once".into(),
            )
            .into());
        }
        if queue_sources.is_empty() {
            queue_sources = sources
                .iter()
                .map(|s| (s.name.clone(), s.parser.mta().to_owned()))
                .chain(
                    journal
                        .iter()
                        .map(|j| (j.name.clone(), j.parser.mta().to_owned())),
                )
                .map(|(name, mta)| crate::queue::SourceQueue {
                    what: format!("source {name}"),
                    name,
                    mta,
                    config: None,
                })
                .collect();
        }
        let queues = crate::queue::plan(
            &queue_sources,
            &crate::queue::QueueFlags {
                postfix_config_dir: args.queue_postfix_config_dir.clone(),
                postqueue: args.queue_postqueue.clone(),
                disable: args.queue_disable,
                exim: args.queue_exim.clone(),
                exim_config: args.queue_exim_config.clone(),
                smtpctl: args.queue_smtpctl.clone(),
            },
        )
        .map_err(ConfigError)?;
        let duration = |flag: &str, v: &Option<String>, default| match v {
            None => Ok(default),
            Some(t) => humantime::parse_duration(t)
                .map_err(|e| ConfigError(format!("{flag} {t:?}: {e}; write e.g. 5s, 500ms or 1m"))),
        };
        let queue_timeout = duration(
            "--queue.timeout",
            &args.queue_timeout,
            crate::queue::DEFAULT_TIMEOUT,
        )?;
        let queue_cache = duration(
            "--queue.cache",
            &args.queue_cache,
            crate::queue::DEFAULT_CACHE,
        )?;
        if queue_timeout.is_zero() {
            return Err(ConfigError("--queue.timeout: must be more than 0s".into()).into());
        }
        if let Some(m) = mailboxes
            .iter()
            .find(|m| sources.iter().any(|s| s.name == m.name))
        {
            return Err(ConfigError(format!(
                "the mailbox {} and a log source are both named {:?}: name the mailbox in the config file (mailboxes: - name:)",
                m.path.display(),
                m.name
            ))
            .into());
        }
        let telemetry_path = args
            .telemetry_path
            .clone()
            .or(file.web.telemetry_path.clone())
            .unwrap_or_else(|| config::DEFAULT_TELEMETRY_PATH.to_owned());
        config::check_telemetry_path(&telemetry_path)
            .map_err(|e| ConfigError(format!("--web.telemetry-path: {e}")))?;
        Ok(Settings {
            listen_address: args
                .listen_address
                .clone()
                .or(file.web.listen_address.clone())
                .unwrap_or_else(|| config::DEFAULT_LISTEN.to_owned()),
            telemetry_path,
            sources,
            journal,
            listeners,
            bounds: bounds(&file),
            state_file_explicit: args.state_file.is_some() || file.state.file.is_some(),
            state_file: args
                .state_file
                .clone()
                .or(file.state.file.clone())
                .unwrap_or_else(|| PathBuf::from(config::DEFAULT_STATE_FILE)),
            queues,
            queue_timeout,
            queue_cache,
            mailboxes,
        })
    }

    /// The counters, with one source per file and one per instance in it; and for each file,
    /// its source and where its instances' lines go.
    fn aggregator(&self) -> (Aggregator, Vec<Routes>) {
        let mut names = Vec::new();
        let mut routes = Vec::new();
        for spec in &self.sources {
            let primary = names.len();
            let mta = spec.parser.mta();
            names.push((spec.name.clone(), mta.to_owned()));
            let mut by_name = Vec::new();
            for (key, label) in &spec.instances {
                by_name.push((key.clone().into_bytes(), names.len()));
                names.push((label.clone(), mta.to_owned()));
            }
            routes.push(Routes::new(primary, by_name));
        }
        let journal_id = names.len();
        if let Some(j) = &self.journal {
            names.push((j.name.clone(), j.parser.mta().to_owned()));
        }
        let first_listener = names.len();
        for l in &self.listeners {
            names.push((l.name.clone(), l.parser.mta().to_owned()));
        }
        let mut agg = Aggregator::new(names, &self.bounds);
        for (spec, r) in self.sources.iter().zip(&routes) {
            if let Some(s) = agg.sources.get_mut(r.primary()) {
                s.default_name = spec.default_name;
            }
        }
        for (l, s) in self
            .listeners
            .iter()
            .zip(agg.sources.iter_mut().skip(first_listener))
        {
            s.location = l.location();
            s.dropped = Some([0; 3]);
        }
        for (spec, r) in self.sources.iter().zip(&routes) {
            let Some(detected) = spec.parser.parser().auto_state() else {
                continue;
            };
            match detected {
                Some(f) => {
                    tracing::info!(source = %spec.name, path = %spec.path.display(), "log format detected: {} (from the file's first lines)", f.name())
                }
                None => {
                    tracing::info!(source = %spec.name, path = %spec.path.display(), "log format not detected yet (--log.format auto): waiting for a line of a known MTA")
                }
            }
            let ids = std::iter::once(r.primary()).chain(r.instances().map(|(_, id)| id));
            for id in ids.collect::<Vec<_>>() {
                if let Some(s) = agg.sources.get_mut(id) {
                    s.auto = Some(detected.is_some());
                }
            }
        }
        if let (Some(j), Some(s)) = (&self.journal, agg.sources.get_mut(journal_id)) {
            s.location = j.location();
        }
        // Mailboxes last: their ids are the last `mailboxes.len()`.
        for m in &self.mailboxes {
            agg.sources.push(crate::aggregate::SourceStats {
                name: m.name.clone(),
                mta: crate::parse::dsn::MTA.to_owned(),
                location: m.location(),
                ..Default::default()
            });
        }
        for (spec, r) in self.sources.iter().zip(&routes) {
            let location = if stdin::is_stdin(&spec.path) {
                stdin::LOCATION.to_owned()
            } else {
                spec.path.display().to_string()
            };
            if let Some(s) = agg.sources.get_mut(r.primary()) {
                s.location.clone_from(&location);
            }
            for (syslog_name, id) in r.instances() {
                if let Some(s) = agg.sources.get_mut(id) {
                    s.location = format!(
                        "{location}, lines of syslog name {}",
                        String::from_utf8_lossy(syslog_name)
                    );
                    s.parent = Some(r.primary());
                }
            }
        }
        (agg, routes)
    }
}

/// The largest `--syslog.max-message-size` (16 MiB).
const MAX_SYSLOG_MESSAGE: usize = 16 << 20;

/// The syslog listeners: of `--syslog.listen-address` when given (in the format of
/// `--log.format`), else of the file's `syslog:`.
fn syslog_listeners(
    args: &ServeArgs,
    file: &config::File,
    flag_parser: &Parser,
) -> anyhow::Result<Vec<ListenerSpec>> {
    for (flag, v) in [
        ("--syslog.queue-size", args.syslog_queue_size),
        ("--syslog.max-message-size", args.syslog_max_message_size),
        ("--syslog.max-connections", args.syslog_max_connections),
    ] {
        if v == Some(0) {
            return Err(ConfigError(format!("{flag}: must be at least 1")).into());
        }
    }
    let d = listen::Limits::default();
    let limits = |q: Option<usize>, m: Option<usize>, c: Option<usize>| listen::Limits {
        queue: q.or(args.syslog_queue_size).unwrap_or(d.queue),
        max_message: m.or(args.syslog_max_message_size).unwrap_or(d.max_message),
        max_connections: c
            .or(args.syslog_max_connections)
            .unwrap_or(d.max_connections),
    };
    let mut out = Vec::new();
    if !args.syslog_listen.is_empty() {
        if !file.syslog.is_empty() {
            tracing::warn!(
                "--syslog.listen-address given: the {} syslog listener(s) of the configuration file are not started",
                file.syslog.len()
            );
        }
        let n = args.syslog_listen.len();
        for (i, url) in args.syslog_listen.iter().enumerate() {
            let endpoint = listen::Endpoint::parse(url)
                .map_err(|e| ConfigError(format!("--syslog.listen-address: {e}")))?;
            out.push(ListenerSpec {
                name: config::syslog_default_name(i, n),
                endpoint,
                parser: flag_parser.clone(),
                limits: limits(None, None, None),
            });
        }
    } else {
        let n = file.syslog.len();
        for (i, s) in file.syslog.iter().enumerate() {
            // Both checked when the file was loaded.
            let parser = config::parser_named(s.format.as_deref().unwrap_or("auto"), file)
                .unwrap_or(Parser::Postfix);
            let endpoint = listen::Endpoint::parse(&s.listen_address)
                .map_err(|e| ConfigError(format!("syslog[{i}].listen_address: {e}")))?;
            out.push(ListenerSpec {
                name: s
                    .name
                    .clone()
                    .unwrap_or_else(|| config::syslog_default_name(i, n)),
                endpoint,
                parser,
                limits: limits(s.queue_size, s.max_message_size, s.max_connections),
            });
        }
    }
    for l in &out {
        // A datagram buffer of this size is allocated per listener.
        if l.limits.max_message > MAX_SYSLOG_MESSAGE {
            return Err(ConfigError(format!(
                "syslog listener {}: a max message size of {} bytes is over the {MAX_SYSLOG_MESSAGE} this exporter allows (syslog daemons send at most 64 KiB by default)",
                l.endpoint, l.limits.max_message
            ))
            .into());
        }
    }
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
    file.mailboxes
        .iter()
        .enumerate()
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
    let matches = if args.journal_unit.is_empty() && args.journal_match.is_empty() {
        vec![journal::DEFAULT_MATCH.to_owned()]
    } else {
        args.journal_match.clone()
    };
    Ok(Some(JournalSpec {
        name: parser.mta().to_owned(),
        parser: parser.clone(),
        journalctl: args
            .journalctl
            .clone()
            .unwrap_or_else(|| PathBuf::from("journalctl")),
        origin,
        units: args.journal_unit.clone(),
        matches,
    }))
}

/// A configured path: itself, or the files a glob matches now, each with its source name
/// (`NAME` for a single file, `NAME/FILE` when a glob matches several).
fn expand(path: &std::path::Path, name: &str) -> anyhow::Result<Vec<(PathBuf, String)>> {
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

/// Binds the listen address before anything else starts, so a busy port fails at once.
fn bind(addr: &str) -> anyhow::Result<std::net::TcpListener> {
    let candidates = http::parse_listen_address(addr)
        .map_err(|e| ConfigError(format!("--web.listen-address: {e}")))?;
    let mut last = None;
    for a in &candidates {
        match std::net::TcpListener::bind(a) {
            Ok(l) => return Ok(l),
            // Address in use is the answer, whichever stack: do not hide it behind a fallback.
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
                return Err(e).with_context(|| format!("cannot listen on {addr}"))
            }
            Err(e) => last = Some((a, e)),
        }
    }
    match last {
        Some((a, e)) => Err(e).with_context(|| format!("cannot listen on {addr} ({a})")),
        None => Err(ConfigError(format!("--web.listen-address {addr:?}: no address")).into()),
    }
}

fn serve(args: &ServeArgs) -> anyhow::Result<()> {
    let settings = Settings::resolve(args)?;
    let web = Arc::new(
        http::webconfig::WebHandle::open(args.web_config_file.clone()).map_err(ConfigError)?,
    );
    let listener = bind(&settings.listen_address)?;
    let local: SocketAddr = listener.local_addr()?;
    listener.set_nonblocking(true)?;

    // Bound before anything starts, like the HTTP port: a busy address fails at once.
    let bound: Vec<listen::Bound> = settings
        .listeners
        .iter()
        .map(|l| listen::bind(l.clone()))
        .collect::<anyhow::Result<_>>()?;
    let (mut agg, routes) = settings.aggregator();
    let state = open_state(&settings, &mut agg)?;
    let mut from_stdin = None;
    let tailers: Vec<_> = settings
        .sources
        .iter()
        .zip(routes)
        .filter(|(s, routes)| {
            if !stdin::is_stdin(&s.path) {
                return true;
            }
            from_stdin = Some((routes.clone(), s.parser.clone()));
            false
        })
        .map(|(s, routes)| {
            let resume = agg
                .sources
                .get(routes.primary())
                .filter(|st| st.restored)
                .map(|st| tail::Resume {
                    position: st.position,
                    draining: st.draining.clone(),
                });
            tail::Tailer::new(routes.primary(), s.path.clone(), s.parser.clone(), resume)
                .with_routes(routes)
        })
        .collect();
    // The journal source is the one whose location is the journal's; restored or first start.
    let journal_start = settings.journal.as_ref().and_then(|j| {
        let location = j.location();
        let id = agg.sources.iter().position(|s| s.location == location)?;
        Some((
            j.clone(),
            id,
            agg.sources.get(id).is_some_and(|s| s.restored),
        ))
    });
    let first_mailbox = agg.sources.len().saturating_sub(settings.mailboxes.len());
    let followers: Vec<_> = settings
        .mailboxes
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let id = first_mailbox + i;
            let restored = agg.sources.get(id).is_some_and(|s| s.restored);
            mailbox::Follower::new(id, m.path.clone(), restored)
        })
        .collect();
    let agg = Arc::new(Mutex::new(agg));
    let journal = match journal_start {
        Some((spec, id, restored)) => Some(journal::start(spec, id, restored, Arc::clone(&agg))?),
        None => None,
    };
    if let Some((routes, parser)) = from_stdin {
        stdin::start(routes, parser, Arc::clone(&agg))?;
    }
    let mut listening = Vec::new();
    for b in bound {
        let (name, location) = (&b.spec().name, b.spec().location());
        let found = lock(&agg)
            .sources
            .iter()
            .position(|s| s.location == location && s.name == *name);
        let Some(id) = found else {
            continue;
        };
        tracing::info!("syslog source {} listening on {}", b.spec().name, b.local());
        listening.push(listen::start(b, id, Arc::clone(&agg))?);
    }
    let stop = Arc::new(AtomicBool::new(false));
    // No thread polling for files when only the journal is read.
    let reader = if tailers.is_empty() {
        None
    } else {
        let (agg, stop) = (Arc::clone(&agg), Arc::clone(&stop));
        Some(
            std::thread::Builder::new()
                .name("tail".into())
                .spawn(move || tail::run(tailers, agg, stop))
                .context("cannot start the log reader thread")?,
        )
    };

    let mailbox_reader = if followers.is_empty() {
        None
    } else {
        let (agg, stop) = (Arc::clone(&agg), Arc::clone(&stop));
        Some(
            std::thread::Builder::new()
                .name("mailbox".into())
                .spawn(move || mailbox::run(followers, agg, stop))
                .context("cannot start the mailbox reader thread")?,
        )
    };

    let shared = Arc::new(http::Shared {
        agg: Arc::clone(&agg),
        telemetry_path: settings.telemetry_path.clone(),
        build: BuildInfo::CURRENT,
        state: state.clone(),
        queues: Arc::new(crate::queue::Queues::new(
            settings.queues.clone(),
            settings.queue_timeout,
            settings.queue_cache,
        )),
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let (saver_state, saver_agg) = (state.clone(), Arc::clone(&agg));
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(listener)?;
        web.reload_on_sighup()
            .context("cannot watch for SIGHUP (web config reload)")?;
        let config = web.current();
        tracing::info!(
            "listening on {}://{local}{} ({}; sources: {})",
            if config.tls.is_some() {
                "https"
            } else {
                "http"
            },
            settings.telemetry_path,
            config.describe(),
            settings
                .sources
                .iter()
                .map(|s| format!("{}={}", s.name, s.path.display()))
                .chain(settings.journal.iter().map(|j| format!(
                    "{}={} ({})",
                    j.name,
                    j.location(),
                    j.filter()
                )))
                .chain(
                    settings
                        .listeners
                        .iter()
                        .map(|l| format!("{}={}", l.name, l.location()))
                )
                .chain(settings.mailboxes.iter().map(|m| format!(
                    "{}={} (mailbox)",
                    m.name,
                    m.path.display()
                )))
                .collect::<Vec<_>>()
                .join(", ")
        );
        for q in &settings.queues {
            tracing::info!(
                "reading the queue of source {} at each scrape: {}",
                q.source,
                q.kind.describe()
            );
        }
        if let Some(state) = saver_state {
            let agg = saver_agg;
            tokio::spawn(async move {
                let mut every = tokio::time::interval(SAVE_INTERVAL);
                loop {
                    every.tick().await;
                    let (state, agg) = (Arc::clone(&state), Arc::clone(&agg));
                    let saved = tokio::task::spawn_blocking(move || save(&state, &agg)).await;
                    if let Err(e) = saved {
                        tracing::error!("state saver stopped: {e}");
                    }
                }
            });
        }
        http::server::serve(listener, shared, web, shutdown_signal()).await;
        anyhow::Ok(())
    })?;
    tracing::info!("shutting down");
    stop.store(true, Ordering::Relaxed);
    if let Some(j) = journal {
        // Kills journalctl too.
        j.stop();
    }
    if let Some(reader) = reader {
        let _ = reader.join();
    }
    for l in listening {
        l.stop();
    }
    if let Some(reader) = mailbox_reader {
        let _ = reader.join();
    }
    if let Some(state) = &state {
        state
            .save_with(|| lock(&agg).marked_snapshot())
            .context("cannot save state at shutdown")?;
    }
    Ok(())
}

/// How often state is saved besides before each scrape and at shutdown.
const SAVE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);

fn lock(agg: &Mutex<Aggregator>) -> std::sync::MutexGuard<'_, Aggregator> {
    agg.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn save(state: &StateFile, agg: &Mutex<Aggregator>) {
    if let Err(e) = state.save_with(|| lock(agg).marked_snapshot()) {
        tracing::error!("{e:#}");
    }
}

/// Loads saved state into `agg`. A state file that cannot be used at all is an error when the
/// user named it; at the default path it only costs the restart exactness, so it is a warning.
fn open_state(settings: &Settings, agg: &mut Aggregator) -> anyhow::Result<Option<Arc<StateFile>>> {
    let path = &settings.state_file;
    let opened = StateFile::new(path.clone()).and_then(|sf| Ok((state::load(path)?, sf)));
    let (loaded, sf) = match opened {
        Ok(x) => x,
        Err(e) if !settings.state_file_explicit => {
            tracing::warn!(
                "{e:#}: counting without a state file, so counters restart from zero and lines \
                 written while the exporter is down are missed; choose a writable --state.file"
            );
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    match loaded {
        state::Loaded::Fresh => {
            tracing::info!(path = %path.display(), "no saved state: first start, following logs from their end");
        }
        state::Loaded::SetAside { moved_to, reason } => {
            tracing::warn!(
                "state file {} is unusable ({reason}): moved it to {} and starting afresh",
                path.display(),
                moved_to.display()
            );
        }
        state::Loaded::Restored(snap) => match agg.restore(&snap) {
            Ok(dropped) => {
                tracing::info!(path = %path.display(), "restored counters and positions");
                if !dropped.is_empty() {
                    tracing::warn!(
                        "saved state of source(s) no longer configured was dropped: {}",
                        dropped.join(", ")
                    );
                }
            }
            Err(reason) => {
                // Start from a clean slate rather than half-restored counters.
                *agg = settings.aggregator().0;
                let moved_to = state::set_aside(path)?;
                tracing::warn!(
                    "state file {} is unusable ({reason}): moved it to {} and starting afresh",
                    path.display(),
                    moved_to.display()
                );
            }
        },
    }
    Ok(Some(Arc::new(sf)))
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

fn run_replay(common: &CommonArgs, args: &ReplayArgs) -> anyhow::Result<()> {
    let file = load_config(common)?;
    let mut parser = flag_parser(common, &file)?;
    if let Some(first) = args.files.first() {
        // `auto`: the report is named by the format of the first file, where its head shows it
        // (nothing is saved under the name).
        parser = parser.detected_in(first);
    }
    let given_wrapper = flag_wrapper(common)?;
    let boxes = mailbox::from_flags(&args.mailbox_path);
    if let Some(m) = boxes
        .iter()
        .find(|m| m.path.is_dir() && !mailbox::is_maildir(&m.path))
    {
        return Err(ConfigError(format!(
            "--mailbox.path {}: a directory that is not a Maildir (it needs new/, cur/ and tmp/)",
            m.path.display()
        ))
        .into());
    }
    let mut names = Vec::new();
    if !args.files.is_empty() {
        names.push((parser.mta().to_owned(), parser.mta().to_owned()));
    }
    let first_mailbox = names.len();
    names.extend(
        boxes
            .iter()
            .map(|m| (m.name.clone(), crate::parse::dsn::MTA.to_owned())),
    );
    let mut agg = Aggregator::new(names, &bounds(&file));
    for (i, m) in boxes.iter().enumerate() {
        let id = first_mailbox + i;
        if let Some(s) = agg.sources.get_mut(id) {
            s.location = m.location();
        }
        mailbox::replay(&m.path, id, &mut agg)?;
    }
    if let Some(s) = agg.sources.first_mut().filter(|_| !args.files.is_empty()) {
        s.location = args
            .files
            .iter()
            .map(|p| {
                if stdin::is_stdin(p) {
                    stdin::LOCATION.to_owned()
                } else {
                    p.display().to_string()
                }
            })
            .collect::<Vec<_>>()
            .join(" ");
    }
    for path in &args.files {
        let parser = wrapped(&parser, given_wrapper, path);
        if stdin::is_stdin(path) {
            replay::replay_reader(
                &mut std::io::stdin().lock(),
                0,
                &mut parser.clone(),
                &mut agg,
            )
            .context("error while reading standard input")?;
        } else {
            replay::replay_file(path, 0, &parser, &mut agg)?;
        }
    }
    let out = match args.format {
        ReplayFormat::Json => expose::json::encode(&agg),
        ReplayFormat::Table => expose::table::encode(&agg),
        ReplayFormat::Prometheus | ReplayFormat::Openmetrics => {
            let fmt = if args.format == ReplayFormat::Prometheus {
                expose::Format::Prometheus
            } else {
                expose::Format::OpenMetrics
            };
            expose::encode(&expose::families(&agg, &BuildInfo::CURRENT), fmt)?
        }
    };
    print_out(&out)
}

/// Writes a command's output; a reader that stopped early (`replay … | head`) is fine.
fn print_out(out: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(out.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => r.context("cannot write to standard output"),
    }
}

fn check_config(common: &CommonArgs, args: &crate::cli::CheckConfigArgs) -> anyhow::Result<()> {
    if let Some(web) = &args.web_config_file {
        let config = http::webconfig::load(web).map_err(ConfigError)?;
        println!("{}: OK ({})", web.display(), config.describe());
    }
    let Some(path) = &common.config_file else {
        if args.web_config_file.is_some() {
            return Ok(());
        }
        println!("no --config.file given: the built-in defaults serve, and they are valid");
        return Ok(());
    };
    let file = config::load(path)?;
    let formats = if file.formats.is_empty() {
        String::new()
    } else {
        let names: Vec<_> = file.formats.iter().map(|f| f.name.as_str()).collect();
        format!(", user-defined format(s) {}", names.join(", "))
    };
    let reasons = if file.reasons.is_empty() {
        String::new()
    } else {
        format!(", {} reason rule(s)", file.reasons.len())
    };
    let listeners = if file.syslog.is_empty() {
        String::new()
    } else {
        format!(", {} syslog listener(s)", file.syslog.len())
    };
    let mailboxes = if file.mailboxes.is_empty() {
        String::new()
    } else {
        format!(", {} mailbox(es)", file.mailboxes.len())
    };
    println!(
        "{}: OK ({} source(s){listeners}{mailboxes}, domains.max {}{formats}{reasons})",
        path.display(),
        file.sources.len(),
        file.domains.max
    );
    Ok(())
}

/// `explain CODE...`: what each code found in the arguments means and what to do; exit 2
/// when there is none.
fn run_explain(common: &CommonArgs, args: &crate::cli::ExplainArgs) -> anyhow::Result<()> {
    let json = args.format == crate::cli::ExplainFormat::Json;
    // With --config.file, the user's reason rules count too.
    let reasons = load_config(common)?.compiled_reasons;
    let Some(out) = crate::codes::explain::run(&args.codes, json, &reasons) else {
        let given = if args.codes.is_empty() {
            "explain: nothing to explain".to_owned()
        } else {
            format!("explain: no SMTP code found in {:?}", args.codes.join(" "))
        };
        return Err(ConfigError(format!("{given}: {}", crate::codes::explain::ACCEPTED)).into());
    };
    print_out(&out)
}
