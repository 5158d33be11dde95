//! Command line, in the `node_exporter` style (`--web.listen-address`, `--log.path`, ...).

use std::path::PathBuf;

use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::source::listen::Endpoint;
use crate::source::wrapper::Kind as WrapperKind;

#[derive(Debug, Parser)]
#[command(
    name = "smtp-status-exporter",
    version,
    about = "Counts SMTP reply codes in MTA logs and serves them to Prometheus.",
    long_about = "Counts SMTP reply codes in MTA logs and serves them to Prometheus.\n\n\
        Without a subcommand it follows the mail log and serves /metrics. `replay` counts \
        files offline; `check-config` checks a configuration file."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Read log files to their end once, from the first byte, print the counts and exit.
    Replay(ReplayArgs),
    /// Check a configuration file and exit (0: fine, 2: what to fix is printed).
    #[command(name = "check-config")]
    CheckConfig(CheckConfigArgs),
    /// What reply codes mean and what to do: `explain 550`, `explain 5.7.26`,
    /// `explain "421 4.7.0"`, or a whole log line.
    Explain(ExplainArgs),
    /// Write the manual pages (roff, from these definitions: smtp-status-exporter.1 and one
    /// per command) into DIR and exit: `scripts/package` installs them.
    #[command(hide = true)]
    Man {
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
}

/// Flags shared by every command that reads logs.
#[derive(Debug, Args, Clone, Default)]
pub struct CommonArgs {
    /// YAML configuration file (optional: without it the defaults serve).
    #[arg(long = "config.file", value_name = "PATH", global = true)]
    pub config_file: Option<PathBuf>,
    /// Log format of --log.path: a format name or `auto` [default: auto].
    #[arg(long = "log.format", value_name = "NAME", global = true)]
    pub log_format: Option<String>,
    /// Container log wrapper of --log.path, unwrapped before the MTA's parser: docker
    /// (Docker's json-file), cri (containerd, CRI-O), auto (told per line) or none [default:
    /// auto for /var/log/containers/, /var/log/pods/ and *-json.log, else none].
    #[arg(long = "log.wrapper", value_name = "KIND", global = true, value_parser = WrapperKind::parse)]
    pub log_wrapper: Option<WrapperKind>,
    /// The exporter's own log level (error, warn, info, debug, trace).
    #[arg(
        long = "log.level",
        value_name = "LEVEL",
        default_value = "info",
        global = true
    )]
    pub log_level: String,
}

#[derive(Debug, Args, Clone, Default)]
pub struct ServeArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Address to serve on [default: :9978, every interface].
    #[arg(long = "web.listen-address", value_name = "ADDR")]
    pub listen_address: Option<String>,
    /// Path under which metrics are served [default: /metrics].
    #[arg(long = "web.telemetry-path", value_name = "PATH")]
    pub telemetry_path: Option<String>,
    /// TLS and basic authentication, in the Prometheus exporter-toolkit's format
    /// (tls_server_config, basic_auth_users with bcrypt hashes); read again on SIGHUP.
    #[arg(long = "web.config.file", value_name = "PATH")]
    pub web_config_file: Option<PathBuf>,
    /// The address people and alerts reach this exporter at (`https://mx1.example.com:9978`,
    /// or `https://proxy.example.com/smtp` behind a reverse proxy): shown in
    /// `smtp_status_exporter_build_info{external_url}`, from which the alerts link to
    /// /failures [default: none; links use the scraped `instance`].
    #[arg(long = "web.external-url", value_name = "URL")]
    pub external_url: Option<String>,
    /// Mail log to follow; repeat for several [default: /var/log/mail.log, or
    /// /var/log/maillog where only that exists].
    #[arg(long = "log.path", value_name = "PATH")]
    pub log_path: Vec<PathBuf>,
    /// Where counters and read positions are saved, so a restart neither loses nor re-counts
    /// lines [default: /var/lib/smtp-status-exporter/state.json].
    #[arg(long = "state.file", value_name = "PATH")]
    pub state_file: Option<PathBuf>,
    /// Read the systemd journal (through journalctl) instead of log files. Without
    /// --journal.unit or --journal.match it reads the syslog facility mail
    /// (SYSLOG_FACILITY=2: every Postfix program and instance, as /var/log/mail.log has them).
    #[arg(long = "journal", conflicts_with = "log_path")]
    pub journal: bool,
    /// With --journal: read the entries of this unit (journalctl -u; a glob such as 'postfix*'
    /// is matched when journalctl starts, against the units already in the journal); repeat
    /// for several. Replaces the default filter.
    #[arg(long = "journal.unit", value_name = "UNIT", requires = "journal")]
    pub journal_unit: Vec<String>,
    /// With --journal: a journal match FIELD=VALUE, as journalctl takes it (values of one field
    /// are ORed, fields ANDed, a `+` ORs the groups around it); repeat for several. Replaces the
    /// default filter.
    #[arg(
        long = "journal.match",
        value_name = "FIELD=VALUE",
        requires = "journal"
    )]
    pub journal_match: Vec<String>,
    /// With --journal: read this journal file (journalctl --file) instead of the system
    /// journal.
    #[arg(
        long = "journal.file",
        value_name = "PATH",
        requires = "journal",
        conflicts_with = "journal_directory"
    )]
    pub journal_file: Option<PathBuf>,
    /// With --journal: read the journal files in this directory (journalctl --directory)
    /// instead of the system journal.
    #[arg(long = "journal.directory", value_name = "DIR", requires = "journal")]
    pub journal_directory: Option<PathBuf>,
    /// The journalctl program to run, with --journal or where the journal is the default
    /// (neither /var/log/mail.log nor /var/log/maillog exists) [default: journalctl, found in
    /// PATH].
    #[arg(long = "journal.journalctl", value_name = "PATH")]
    pub journalctl: Option<PathBuf>,
    /// Read the queue of the Postfix instance with this configuration directory (postqueue -c
    /// DIR -j) at each scrape, for the first Postfix source [default: the default instance's
    /// queue when there is one Postfix source and /etc/postfix/main.cf and postqueue exist].
    #[arg(long = "queue.postfix-config-dir", value_name = "DIR")]
    pub queue_postfix_config_dir: Option<PathBuf>,
    /// The postqueue program [default: postqueue in PATH, else /usr/sbin/postqueue].
    #[arg(long = "queue.postqueue", value_name = "PATH")]
    pub queue_postqueue: Option<PathBuf>,
    /// Read no MTA queue.
    #[arg(
        long = "queue.disable",
        conflicts_with_all = ["queue_postfix_config_dir", "queue_postqueue", "queue_smtpctl"]
    )]
    pub queue_disable: bool,
    /// Give up a queue read after this long (the child is killed; the scrape is answered
    /// without that queue's gauges) [default: 5s].
    #[arg(long = "queue.timeout", value_name = "DURATION", value_parser = positive_duration)]
    pub queue_timeout: Option<Duration>,
    /// Reuse a queue reading for this long, so several scrapers at once cost one read
    /// [default: 5s; 0s reads at every scrape].
    #[arg(long = "queue.cache", value_name = "DURATION", value_parser = duration)]
    pub queue_cache: Option<Duration>,
    /// Read the Exim queue (exim -bpr) at each scrape, for the first Exim source, with this
    /// exim binary [default: off; with --queue.exim-config: exim4 or exim in PATH, else in
    /// /usr/sbin]. Exim lists its queue only for an admin user (root, its user, admin_groups).
    #[arg(
        long = "queue.exim",
        value_name = "PATH",
        conflicts_with = "queue_disable"
    )]
    pub queue_exim: Option<PathBuf>,
    /// Read the queue of the Exim instance with this configuration file (exim -C FILE -bpr),
    /// for the first Exim source.
    #[arg(
        long = "queue.exim-config",
        value_name = "FILE",
        conflicts_with = "queue_disable"
    )]
    pub queue_exim_config: Option<PathBuf>,
    /// Read the OpenSMTPD queue with this smtpctl program (smtpctl show queue; it answers only
    /// root) at each scrape, for the first OpenSMTPD source [default: not read].
    #[arg(long = "queue.smtpctl", value_name = "PATH")]
    pub queue_smtpctl: Option<PathBuf>,
    /// Receive syslog messages (RFC 3164 or RFC 5424) forwarded by rsyslog, syslog-ng or
    /// logger: udp://IP:PORT, tcp://IP:PORT (octet-counted or newline-framed) or
    /// unix:///PATH (a datagram socket); repeat for several. Read besides --log.path or
    /// --journal, in the format of --log.format.
    #[arg(long = "syslog.listen-address", value_name = "URL", value_parser = Endpoint::parse)]
    pub syslog_listen: Vec<Endpoint>,
    /// Messages waiting for the parser per syslog listener, at most; more are dropped and
    /// counted [default: 10000].
    #[arg(long = "syslog.queue-size", value_name = "N", value_parser = at_least_one)]
    pub syslog_queue_size: Option<usize>,
    /// Bytes of one syslog message, at most; longer ones are dropped and counted
    /// [default: 65536].
    #[arg(long = "syslog.max-message-size", value_name = "BYTES", value_parser = message_size)]
    pub syslog_max_message_size: Option<usize>,
    /// TCP connections served at once per syslog listener, at most [default: 64].
    #[arg(long = "syslog.max-connections", value_name = "N", value_parser = at_least_one)]
    pub syslog_max_connections: Option<usize>,
    /// A bounce mailbox to read delivery status notifications from (mta="dsn"): a Maildir
    /// (a directory with new/, cur/, tmp/) or an mbox file; repeat for several. Read-only.
    /// Without --log.path (or --journal, or sources in the config file) only mailboxes are read.
    #[arg(long = "mailbox.path", value_name = "PATH")]
    pub mailbox_path: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReplayFormat::Table)]
    pub format: ReplayFormat,
    /// Files to read (plain, or compressed with gzip, zstd, xz or bzip2), counted as one source.
    #[arg(required_unless_present = "mailbox_path", value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// A bounce mailbox (Maildir or mbox) whose delivery status notifications are counted,
    /// every message once (source `dsn`); repeat for several.
    #[arg(long = "mailbox.path", value_name = "PATH")]
    pub mailbox_path: Vec<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReplayFormat {
    Prometheus,
    Openmetrics,
    Json,
    Table,
    /// One self-contained page with charts by hour (`replay --format html > report.html`).
    Html,
}

#[derive(Debug, Args)]
pub struct CheckConfigArgs {
    /// Also check this web configuration (TLS and basic auth, as `serve` would load it).
    #[arg(long = "web.config.file", value_name = "PATH")]
    pub web_config_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = ExplainFormat::Text)]
    pub format: ExplainFormat,
    /// Codes (550, 5.1.1, "550 5.1.1", 4.7.28) or log lines that contain them.
    #[arg(value_name = "CODE")]
    pub codes: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExplainFormat {
    Text,
    Json,
}

/// A duration such as `5s`, `500ms` or `1m`.
fn duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("{e}; write e.g. 5s, 500ms or 1m"))
}

/// A duration over zero.
fn positive_duration(s: &str) -> Result<Duration, String> {
    match duration(s)? {
        d if d.is_zero() => Err("must be more than 0s".into()),
        d => Ok(d),
    }
}

/// A count of at least 1.
fn at_least_one(s: &str) -> Result<usize, String> {
    match s.parse::<usize>().map_err(|e| e.to_string())? {
        0 => Err("must be at least 1".into()),
        n => Ok(n),
    }
}

/// A syslog message size: at least 1 byte, at most
/// [`MAX_SYSLOG_MESSAGE`](crate::config::MAX_SYSLOG_MESSAGE).
fn message_size(s: &str) -> Result<usize, String> {
    let n = at_least_one(s)?;
    if n > crate::config::MAX_SYSLOG_MESSAGE {
        return Err(format!(
            "{n} bytes is over the {} this exporter allows (syslog daemons send at most 64 KiB by default)",
            crate::config::MAX_SYSLOG_MESSAGE
        ));
    }
    Ok(n)
}
