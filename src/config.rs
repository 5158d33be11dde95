//! The YAML configuration file. Every field is optional and has a default; unknown fields are
//! errors, so a misspelt key is reported rather than silently ignored.
//!
//! `serde_yaml` stays inside this module so a future swap of YAML crate touches one file.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;

use crate::parse::custom::{CustomFormat, CustomParser, FormatConfig};
use crate::parse::{Format, Parser};
use crate::source::listen::Endpoint;
use crate::source::wrapper::Kind as WrapperKind;

/// A configuration mistake the user must fix; the binary exits with code 2 on it.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

fn bad(msg: impl Into<String>) -> anyhow::Error {
    ConfigError(msg.into()).into()
}

/// The default listen address: port 9978 on every interface.
pub const DEFAULT_LISTEN: &str = ":9978";
pub const DEFAULT_TELEMETRY_PATH: &str = "/metrics";
pub const DEFAULT_STATE_FILE: &str = "/var/lib/smtp-status-exporter/state.json";
pub const DEFAULT_DOMAINS_MAX: usize = 100;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct File {
    #[serde(default)]
    pub web: Web,
    #[serde(default)]
    pub sources: Vec<SourceConfig>,
    #[serde(default)]
    pub domains: Domains,
    #[serde(default)]
    pub state: State,
    /// User-defined formats: regexes with named groups, usable by name as a source's
    /// `format:` or as `--log.format`.
    #[serde(default)]
    pub formats: Vec<FormatConfig>,
    /// `formats`, compiled (by [`parse`]).
    #[serde(skip)]
    pub compiled: Vec<Arc<CustomFormat>>,
    /// Reason rules of `smtp_failures_total`, evaluated before the built-in table.
    #[serde(default)]
    pub reasons: Vec<crate::codes::reasons::UserRule>,
    /// `reasons` and the built-in table, compiled (by [`parse`]).
    #[serde(skip)]
    pub compiled_reasons: Arc<crate::codes::reasons::Reasons>,
    /// Providers of the `provider` label: name → MX host suffixes and mailbox domains, added
    /// to the built-in table (a built-in name is replaced).
    #[serde(default)]
    pub providers: std::collections::BTreeMap<String, crate::codes::providers::UserProvider>,
    /// Relays of ours (smarthosts, filtering hops), by host name (suffix) or address: a reply
    /// from one says nothing of the destination, whose domain decides the provider.
    #[serde(default)]
    pub own_relays: Vec<String>,
    /// `providers`, `own_relays` and the built-in table (by [`parse`]).
    #[serde(skip)]
    pub compiled_providers: Arc<crate::codes::providers::Providers>,
    /// Syslog listeners (besides `sources`): messages forwarded by rsyslog, syslog-ng, logger.
    #[serde(default)]
    pub syslog: Vec<SyslogConfig>,
    /// Bounce mailboxes (Maildir or mbox) whose delivery status notifications are counted
    /// under `mta="dsn"`.
    #[serde(default)]
    pub mailboxes: Vec<MailboxConfig>,
    /// What `/failures` keeps and shows.
    #[serde(default)]
    pub failures: failures::FailuresConfig,
    /// The zone of log stamps that give none (IANA name); the system's when absent.
    #[serde(default)]
    pub time_zone: Option<String>,
    /// `failures`, checked.
    #[serde(skip)]
    pub recent: crate::aggregate::RecentConfig,
    /// `time_zone`, resolved; `None` before `parse` (the system's zone).
    #[serde(skip)]
    pub zone: Option<jiff::tz::TimeZone>,
}

/// One syslog listener of the configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyslogConfig {
    /// The `source` label; default: `syslog` (`syslog-N` when there are several).
    pub name: Option<String>,
    /// `udp://IP:PORT`, `tcp://IP:PORT` or `unix:///PATH`.
    pub listen_address: String,
    /// `listen_address`, read when the file is checked.
    #[serde(skip)]
    endpoint: Option<Endpoint>,
    /// A format name, or `auto` (the default).
    #[serde(default)]
    pub format: Option<String>,
    /// `format`, resolved when the file is checked.
    #[serde(skip)]
    parser: Parser,
    /// Messages waiting for the parser, at most (default 10000).
    pub queue_size: Option<usize>,
    /// Bytes of one message, at most (default 65536).
    pub max_message_size: Option<usize>,
    /// TCP connections at once, at most (default 64).
    pub max_connections: Option<usize>,
}

/// The `source` name of the `i`-th of `n` syslog listeners without a name of their own.
pub fn syslog_default_name(i: usize, n: usize) -> String {
    if n == 1 {
        "syslog".to_owned()
    } else {
        format!("syslog-{}", i + 1)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailboxConfig {
    /// The `source` label; default `dsn` (`dsn-1`, `dsn-2`, … for several).
    pub name: Option<String>,
    /// A Maildir (a directory with new/, cur/, tmp/) or an mbox file.
    pub path: PathBuf,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Web {
    pub listen_address: Option<String>,
    pub telemetry_path: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// The `source` label; default: the MTA's name.
    pub name: Option<String>,
    /// A file, or a glob (`/var/log/postfix/*.log`) expanded at start: one source per file.
    pub path: PathBuf,
    /// A format name, or `auto` (the default).
    #[serde(default)]
    pub format: Option<String>,
    /// `format`, resolved when the file is checked.
    #[serde(skip)]
    parser: Parser,
    /// Several MTA instances in one log: instance key → the `source` label for its lines.
    /// The key is the syslog name for Postfix (`syslog_name`, the part of the tag before the
    /// program, e.g. `postfix-out`) and the virtual MTA (`vmta` column) for PowerMTA. Lines of
    /// other keys keep the source's own name.
    #[serde(default)]
    pub instances: std::collections::BTreeMap<String, String>,
    /// The MTA queue to read at scrape time for this source (see `crate::queue::plan`).
    #[serde(default)]
    pub queue: Option<crate::queue::QueueConfig>,
    /// Container log wrapper: docker, cri, auto or none (default: auto for the container
    /// runtimes' log files, else none).
    #[serde(default)]
    pub wrapper: Option<String>,
    /// `wrapper`, or the default for the path, resolved when the file is checked.
    #[serde(skip)]
    wrapper_kind: Option<WrapperKind>,
}

impl SourceConfig {
    /// The parser of `format` (checked when the file was loaded).
    pub fn parser(&self) -> &Parser {
        &self.parser
    }

    /// The container log wrapper: the one given, or the default for the path (resolved when
    /// the file was loaded).
    pub fn wrapper_kind(&self) -> WrapperKind {
        self.wrapper_kind
            .unwrap_or_else(|| WrapperKind::default_for(&self.path))
    }
}

impl SyslogConfig {
    /// The parser of `format` (checked when the file was loaded).
    pub fn parser(&self) -> &Parser {
        &self.parser
    }

    /// The address of `listen_address` (read when the file was loaded); `None` only for a
    /// value that did not come through [`parse`].
    pub fn endpoint(&self) -> Option<&Endpoint> {
        self.endpoint.as_ref()
    }
}

/// Whether a configured path is a glob pattern.
pub fn is_glob(path: &Path) -> bool {
    path.to_string_lossy().contains(['*', '?', '['])
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Domains {
    #[serde(default = "default_domains_max")]
    pub max: usize,
    /// Domains that always keep a label of their own (not counted towards `max`).
    #[serde(default)]
    pub keep: Vec<String>,
    /// Label → domains counted under it, e.g. `microsoft: [outlook.com, hotmail.com]`.
    #[serde(default)]
    pub groups: std::collections::BTreeMap<String, Vec<String>>,
}

impl Default for Domains {
    fn default() -> Self {
        Domains {
            max: DEFAULT_DOMAINS_MAX,
            keep: Vec::new(),
            groups: Default::default(),
        }
    }
}

fn default_domains_max() -> usize {
    DEFAULT_DOMAINS_MAX
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    pub file: Option<PathBuf>,
}

/// Reads and checks a configuration file.
pub fn load(path: &Path) -> anyhow::Result<File> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| bad(format!("cannot read config file {}: {e}", path.display())))?;
    parse(&text).map_err(|e| bad(format!("config file {}: {e}", path.display())))
}

/// Parses and checks configuration text. Errors carry the YAML line and column.
pub fn parse(text: &str) -> Result<File, String> {
    // An empty file is a valid configuration: all defaults.
    if text.trim().is_empty() {
        return Ok(File::default());
    }
    let mut file: File = serde_yaml::from_str(text).map_err(|e| e.to_string())?;
    file.compiled = compile_formats(&file.formats)?;
    file.compiled_reasons = Arc::new(crate::codes::reasons::Reasons::new(&file.reasons)?);
    file.compiled_providers = Arc::new(crate::codes::providers::Providers::new(
        &file.providers,
        &file.own_relays,
    )?);
    check(&mut file)?;
    file.recent = file.failures.resolve()?;
    file.zone = Some(failures::zone(file.time_zone.as_deref())?);
    Ok(file)
}

/// Compiles the user-defined formats; an error names the format and the field.
fn compile_formats(formats: &[FormatConfig]) -> Result<Vec<Arc<CustomFormat>>, String> {
    let mut out: Vec<Arc<CustomFormat>> = Vec::new();
    for (i, f) in formats.iter().enumerate() {
        let at = format!("formats[{i}] ({})", f.name);
        CustomFormat::check_name(&f.name).map_err(|e| format!("{at}.name: {e}"))?;
        if out.iter().any(|c| c.name() == f.name) {
            return Err(format!(
                "{at}.name: a format named {:?} is defined twice",
                f.name
            ));
        }
        out.push(Arc::new(
            CustomFormat::compile(f).map_err(|e| format!("{at}.{e}"))?,
        ));
    }
    Ok(out)
}

/// Checks the whole file, resolving each `format:` once; every error names its YAML path.
fn check(file: &mut File) -> Result<(), String> {
    if let Some(p) = &file.web.telemetry_path {
        check_telemetry_path(p).map_err(|e| format!("web.telemetry_path: {e}"))?;
    }
    let mut names = std::collections::BTreeSet::new();
    for i in 0..file.sources.len() {
        let parser = parser_named(file.sources[i].format.as_deref().unwrap_or("auto"), file)
            .map_err(|e| format!("sources[{i}].format: {e}"))?;
        let s = &mut file.sources[i];
        s.parser = parser;
        if let Some(w) = &s.wrapper {
            let kind = WrapperKind::parse(w).map_err(|e| format!("sources[{i}].wrapper: {e}"))?;
            s.wrapper_kind = Some(kind);
        }
        check_source(s, i, &mut names)?;
    }
    for i in 0..file.syslog.len() {
        let parser = parser_named(file.syslog[i].format.as_deref().unwrap_or("auto"), file)
            .map_err(|e| format!("syslog[{i}].format: {e}"))?;
        let s = &mut file.syslog[i];
        s.parser = parser;
        s.endpoint = Some(
            Endpoint::parse(&s.listen_address)
                .map_err(|e| format!("syslog[{i}].listen_address: {e}"))?,
        );
        let name = file.syslog[i]
            .name
            .clone()
            .unwrap_or_else(|| syslog_default_name(i, file.syslog.len()));
        check_syslog(&file.syslog[i], i, &name, &mut names)?;
    }
    for (i, m) in file.mailboxes.iter().enumerate() {
        if m.path.as_os_str().is_empty() {
            return Err(format!("mailboxes[{i}].path: must not be empty"));
        }
        if let Some(n) = &m.name {
            check_label_value(n).map_err(|e| format!("mailboxes[{i}].name: {e}"))?;
        }
        let name = mailbox_name(file, i);
        if !names.insert(name.clone()) {
            return Err(format!(
                "mailboxes[{i}]: the source name {name:?} is used twice; give each source and mailbox its own name"
            ));
        }
    }
    for (label, members) in &file.domains.groups {
        check_label_value(label).map_err(|e| format!("domains.groups.{label}: {e}"))?;
        if members.is_empty() {
            return Err(format!("domains.groups.{label}: list at least one domain"));
        }
    }
    Ok(())
}

/// `sources[i]`, its format resolved; `names`: the source names taken so far.
fn check_source(
    s: &SourceConfig,
    i: usize,
    names: &mut std::collections::BTreeSet<String>,
) -> Result<(), String> {
    let parser = s.parser();
    if s.path.as_os_str().is_empty() {
        return Err(format!("sources[{i}].path: must not be empty"));
    }
    let name = s.name.clone().unwrap_or_else(|| parser.mta().to_owned());
    check_label_value(&name).map_err(|e| format!("sources[{i}].name: {e}"))?;
    if is_glob(&s.path) {
        glob::Pattern::new(&s.path.to_string_lossy())
            .map_err(|e| format!("sources[{i}].path: invalid glob: {e}"))?;
    }
    if s.wrapper_kind() != WrapperKind::None && !s.instances.is_empty() {
        return Err(format!(
            "sources[{i}].instances: not available behind a container log wrapper (wrapper: none to read the file as it is); name one source per container instead"
        ));
    }
    if let Some(q) = s.queue.as_ref().filter(|q| !q.disabled) {
        // As `crate::queue::plan` refuses at start.
        crate::queue::check_config(q, parser.mta()).map_err(|e| format!("sources[{i}].{e}"))?;
    }
    check_instances(s, i)?;
    for n in std::iter::once(&name).chain(s.instances.values()) {
        if !names.insert(n.clone()) {
            return Err(format!(
                "sources[{i}]: the source name {n:?} is used twice; give each source and instance its own name"
            ));
        }
    }
    Ok(())
}

/// `sources[i].instances`: only for formats that have them, each key a name and each value a
/// label value.
fn check_instances(s: &SourceConfig, i: usize) -> Result<(), String> {
    let kind = s.parser().instance_kind();
    if let (None, Some(key)) = (kind, s.instances.keys().next()) {
        return Err(format!(
            "sources[{i}].instances.{key}: the {} format has no instances (only postfix, by syslog name, and powermta, by virtual MTA)",
            s.parser().mta()
        ));
    }
    for (key, label) in &s.instances {
        check_label_value(label).map_err(|e| format!("sources[{i}].instances.{key}: {e}"))?;
        if key.is_empty() || key.contains(char::is_whitespace) {
            return Err(format!(
                "sources[{i}].instances: {key:?} is not a {}",
                kind.unwrap_or("name")
            ));
        }
    }
    Ok(())
}

/// `syslog[i]`, named `name`.
fn check_syslog(
    s: &SyslogConfig,
    i: usize,
    name: &str,
    names: &mut std::collections::BTreeSet<String>,
) -> Result<(), String> {
    check_label_value(name).map_err(|e| format!("syslog[{i}].name: {e}"))?;
    if !names.insert(name.to_owned()) {
        return Err(format!(
            "syslog[{i}]: the source name {name:?} is used twice; give each source and listener its own name"
        ));
    }
    for (key, v) in [
        ("queue_size", s.queue_size),
        ("max_message_size", s.max_message_size),
        ("max_connections", s.max_connections),
    ] {
        if v == Some(0) {
            return Err(format!("syslog[{i}].{key}: must be at least 1"));
        }
    }
    if s.max_message_size.is_some_and(|m| m > MAX_SYSLOG_MESSAGE) {
        return Err(format!(
            "syslog[{i}].max_message_size: at most {MAX_SYSLOG_MESSAGE} (16 MiB); syslog daemons send at most 64 KiB by default"
        ));
    }
    Ok(())
}

/// The largest syslog message size a listener may be given (16 MiB): a buffer of that size is
/// allocated per listener.
pub const MAX_SYSLOG_MESSAGE: usize = 16 << 20;

/// The `source` label of the config file's `i`-th mailbox.
pub fn mailbox_name(file: &File, i: usize) -> String {
    let given = file.mailboxes.get(i).and_then(|m| m.name.clone());
    given.unwrap_or_else(|| {
        if file.mailboxes.len() == 1 {
            crate::parse::dsn::MTA.to_owned()
        } else {
            format!("{}-{}", crate::parse::dsn::MTA, i + 1)
        }
    })
}

pub fn check_telemetry_path(p: &str) -> Result<(), String> {
    if !p.starts_with('/') || p == "/" || p.starts_with("/-/") {
        return Err(format!(
            "{p:?} must start with '/' and must not be '/' or under '/-/' (the landing page and health checks live there)"
        ));
    }
    Ok(())
}

fn check_label_value(v: &str) -> Result<(), String> {
    let ok = !v.is_empty()
        && v.len() <= 64
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':' | '/'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{v:?} is not a usable label value: use 1 to 64 letters, digits, '-', '_', '.', ':' or '/'"
        ))
    }
}

/// The parser a format name stands for: `auto`, a built-in format, or a user-defined format of
/// `file`.
pub fn parser_named(name: &str, file: &File) -> Result<Parser, String> {
    if let Some(f) = file.compiled.iter().find(|f| f.name() == name) {
        return Ok(Parser::Custom(CustomParser::new(Arc::clone(f))));
    }
    FormatChoice::parse(name)
        .map(|c| match c {
            FormatChoice::Auto => Parser::Auto(crate::parse::auto::Auto::default()),
            FormatChoice::Fixed(f) => Parser::from(f),
        })
        .map_err(|e| {
            if file.formats.is_empty() {
                format!("{e} (or define a format of that name under formats: in the config file)")
            } else {
                let own: Vec<_> = file.formats.iter().map(|f| f.name.as_str()).collect();
                format!(
                    "{e}, or one of the formats the config file defines: {}",
                    own.join(", ")
                )
            }
        })
}

/// `--log.format`: a format by name, or `auto`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormatChoice {
    Auto,
    Fixed(Format),
}

impl FormatChoice {
    pub fn parse(s: &str) -> Result<Self, String> {
        if s == "auto" {
            return Ok(FormatChoice::Auto);
        }
        Format::from_name(s)
            .map(FormatChoice::Fixed)
            .ok_or_else(|| {
                let names: Vec<_> = Format::ALL.iter().map(|f| f.name()).collect();
                format!(
                    "unknown log format {s:?}: use one of auto, {}",
                    names.join(", ")
                )
            })
    }

    /// A fixed choice's format; for `auto`, the first format of the registry, the name an
    /// `auto` source has until its lines decide (see `parse::auto`).
    pub fn resolve(self) -> Format {
        match self {
            FormatChoice::Auto => Format::Postfix,
            FormatChoice::Fixed(f) => f,
        }
    }
}

mod failures;

#[cfg(test)]
mod tests;
