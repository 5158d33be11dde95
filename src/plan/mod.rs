//! The plan: flags and the configuration file resolved once, in one pass, into typed values.
//! Nothing downstream parses a string of either again; every mistake is a [`ConfigError`]
//! naming its flag or YAML path (exit code 2).

mod default_input;
mod sources;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use sources::{Counted, Sources};

use crate::aggregate::{Aggregator, Bounds};
use crate::cli::{CommonArgs, ServeArgs};
use crate::config::{self, ConfigError};
use crate::parse::Parser;
use crate::queue::{QueueFlags, QueueSpec};

/// What `serve` does.
#[derive(Debug)]
pub struct Plan {
    pub web: Web,
    pub sources: Sources,
    pub bounds: Bounds,
    pub state: State,
    pub queues: Queues,
}

/// The HTTP side.
#[derive(Debug)]
pub struct Web {
    /// `--web.listen-address` as given, for messages.
    pub listen_address: String,
    /// The addresses it stands for, tried in turn (`:PORT`: both stacks).
    pub listen: Vec<SocketAddr>,
    pub telemetry_path: String,
    pub config_file: Option<PathBuf>,
    /// `--web.external-url` without its trailing `/`; empty when not given.
    pub external_url: String,
}

/// Where counters and read positions are saved.
#[derive(Debug)]
pub struct State {
    pub path: PathBuf,
    /// Given by flag or config: failing to use it is an error, not a warning.
    pub explicit: bool,
}

/// The MTA queues read at scrape time.
#[derive(Debug)]
pub struct Queues {
    pub specs: Vec<QueueSpec>,
    pub timeout: Duration,
    pub cache: Duration,
}

impl Plan {
    /// Resolves `args` and the configuration file they name.
    pub fn resolve(args: &ServeArgs) -> anyhow::Result<Plan> {
        let file = load_config(&args.common)?;
        let flag_parser = flag_parser(&args.common, &file)?;
        let sources = sources::resolve(args, &file, &flag_parser)?;
        let queues = queues(args, &sources)?;
        Ok(Plan {
            web: web(args, &file)?,
            bounds: bounds(&file),
            state: State {
                explicit: args.state_file.is_some() || file.state.file.is_some(),
                path: (args.state_file.clone())
                    .or(file.state.file.clone())
                    .unwrap_or_else(|| PathBuf::from(config::DEFAULT_STATE_FILE)),
            },
            sources,
            queues,
        })
    }

    /// Fresh counters for the plan's sources, nothing counted.
    pub fn aggregator(&self) -> Aggregator {
        let counted = self.sources.counted();
        let names = counted.iter().map(|c| (c.name.clone(), c.mta.clone()));
        let mut agg = Aggregator::new(names.collect(), &self.bounds);
        for (s, c) in agg.sources.iter_mut().zip(counted) {
            s.location.clone_from(&c.location);
            s.parent = c.parent;
            s.default_name = c.default_name;
            s.auto = c.auto;
            if c.drops {
                s.dropped = Some([0; 3]);
            }
        }
        agg
    }
}

fn web(args: &ServeArgs, file: &config::File) -> anyhow::Result<Web> {
    let telemetry_path = (args.telemetry_path.clone())
        .or(file.web.telemetry_path.clone())
        .unwrap_or_else(|| config::DEFAULT_TELEMETRY_PATH.to_owned());
    config::check_telemetry_path(&telemetry_path)
        .map_err(|e| ConfigError(format!("--web.telemetry-path: {e}")))?;
    let listen_address = (args.listen_address.clone())
        .or(file.web.listen_address.clone())
        .unwrap_or_else(|| config::DEFAULT_LISTEN.to_owned());
    let listen = crate::http::parse_listen_address(&listen_address)
        .map_err(|e| ConfigError(format!("--web.listen-address: {e}")))?;
    let external_url = match &args.external_url {
        Some(u) => {
            external_url(u).map_err(|e| ConfigError(format!("--web.external-url {u:?}: {e}")))?
        }
        None => String::new(),
    };
    Ok(Web {
        listen_address,
        listen,
        telemetry_path,
        config_file: args.web_config_file.clone(),
        external_url,
    })
}

/// An absolute `http`/`https` URL with an optional path prefix, without its trailing `/`s.
/// It is served as a label and pasted into links, so it must be a URL as written in one: no
/// query, fragment or credentials, nothing that needs escaping.
fn external_url(url: &str) -> Result<String, String> {
    let rest = (url.strip_prefix("https://"))
        .or(url.strip_prefix("http://"))
        .ok_or("must start with http:// or https:// (e.g. https://mx1.example.com:9978)")?;
    if let Some(c) = url.chars().find(|&c| {
        !c.is_ascii_graphic() || matches!(c, '"' | '<' | '>' | '\\' | '^' | '`' | '{' | '|' | '}')
    }) {
        return Err(format!(
            "{c:?} is not allowed in a URL: percent-encode it (a host name in punycode)"
        ));
    }
    if rest.contains(['?', '#']) {
        return Err("give no query (?) or fragment (#): only scheme, host, port and path".into());
    }
    let (authority, _path) = rest.split_once('/').unwrap_or((rest, ""));
    if authority.contains('@') {
        return Err("give no user or password: the URL is shown in a metric label".into());
    }
    // The port follows the last `:` outside an IPv6 literal's brackets.
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !p.contains(']') => (h, Some(p)),
        _ => (authority, None),
    };
    if host.is_empty() || host == "[]" {
        return Err("has no host: write e.g. https://mx1.example.com:9978".into());
    }
    if let Some(p) = port {
        p.parse::<u16>()
            .ok()
            .filter(|&n| n > 0)
            .ok_or(format!("port {p:?} is not a port number (1-65535)"))?;
    }
    Ok(url.trim_end_matches('/').to_owned())
}

fn queues(args: &ServeArgs, sources: &Sources) -> anyhow::Result<Queues> {
    let flags = QueueFlags {
        postfix_config_dir: args.queue_postfix_config_dir.clone(),
        postqueue: args.queue_postqueue.clone(),
        disable: args.queue_disable,
        exim: args.queue_exim.clone(),
        exim_config: args.queue_exim_config.clone(),
        smtpctl: args.queue_smtpctl.clone(),
    };
    Ok(Queues {
        specs: crate::queue::plan(&sources.queues, &flags).map_err(ConfigError)?,
        timeout: args.queue_timeout.unwrap_or(crate::queue::DEFAULT_TIMEOUT),
        cache: args.queue_cache.unwrap_or(crate::queue::DEFAULT_CACHE),
    })
}

/// The configuration file of `--config.file`, checked; the defaults without one.
pub fn load_config(common: &CommonArgs) -> anyhow::Result<config::File> {
    match &common.config_file {
        Some(p) => config::load(p),
        None => Ok(config::File::default()),
    }
}

/// The parser of `--log.format`: a built-in format, `auto`, or a format the config file
/// defines.
pub fn flag_parser(common: &CommonArgs, file: &config::File) -> anyhow::Result<Parser> {
    config::parser_named(common.log_format.as_deref().unwrap_or("auto"), file)
        .map_err(|e| ConfigError(format!("--log.format: {e}")).into())
}

/// The bounds of the labels, from the configuration file.
pub fn bounds(file: &config::File) -> Bounds {
    Bounds {
        domains_max: file.domains.max,
        domains_keep: file.domains.keep.clone(),
        domain_groups: (file.domains.groups.iter())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        reasons: Arc::clone(&file.compiled_reasons),
        providers: Arc::clone(&file.compiled_providers),
        zone: file.zone.clone().unwrap_or_else(jiff::tz::TimeZone::system),
        recent: file.recent.clone(),
        history: crate::aggregate::HistoryConfig::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::SourceId;
    use crate::cli::Cli;
    use crate::source::Spec;
    use clap::Parser as _;

    fn resolve(args: &[&str]) -> anyhow::Result<Plan> {
        let mut all = vec!["smtp-status-exporter", "--queue.disable"];
        all.extend_from_slice(args);
        Plan::resolve(&Cli::try_parse_from(all)?.serve)
    }

    fn config(text: &str) -> tempfile::NamedTempFile {
        let f = tempfile::NamedTempFile::new().expect("temp file");
        std::fs::write(f.path(), text).expect("write config");
        f
    }

    #[test]
    fn each_reader_carries_the_ids_of_its_counters() {
        let c = config(
            "sources:\n  - path: /var/log/a.log\n    format: postfix\n    instances:\n      postfix-out: out\nmailboxes:\n  - path: /var/mail/bounces\n",
        );
        let mut plan = resolve(&[
            "--config.file",
            c.path().to_str().unwrap_or_default(),
            "--syslog.listen-address",
            "udp://127.0.0.1:0",
        ])
        .expect("plan");
        let names: Vec<_> = plan
            .sources
            .counted()
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(names, ["postfix", "out", "syslog", "dsn"]);
        assert_eq!(plan.sources.counted()[1].parent, Some(SourceId(0)));
        assert!(plan.sources.counted()[2].drops);
        let specs = plan.sources.take_specs();
        assert!(
            matches!(&specs[0], Spec::File { routes, .. } if routes.primary() == SourceId(0)
            && routes.instances().eq([(&b"postfix-out"[..], SourceId(1))]))
        );
        assert!(matches!(
            &specs[1],
            Spec::Listener {
                id: SourceId(2),
                ..
            }
        ));
        assert!(matches!(
            &specs[2],
            Spec::Mailbox {
                id: SourceId(3),
                ..
            }
        ));
        let agg = plan.aggregator();
        assert_eq!(agg.sources[3].location, "/var/mail/bounces");
        assert_eq!(agg.sources[2].dropped, Some([0; 3]));
    }

    #[test]
    fn flags_are_typed_once() {
        let plan = resolve(&[
            "--log.path",
            "-",
            "--log.format",
            "exim",
            "--web.listen-address",
            "127.0.0.1:9",
            "--queue.timeout",
            "2s",
        ])
        .expect("plan");
        assert_eq!(plan.web.listen, ["127.0.0.1:9".parse().expect("addr")]);
        assert_eq!(plan.queues.timeout, Duration::from_secs(2));
        assert_eq!(plan.sources.counted()[0].mta, "exim");
        assert_eq!(plan.sources.counted()[0].location, "standard input");
    }

    /// One test per mistake the plan (rather than the flag parser or the file) finds.
    #[test]
    fn mistakes_name_what_to_fix() {
        let two_mailboxes = config("sources:\n  - path: /a\n    name: dsn\n");
        let cases: [(&[&str], &str); 4] = [
            (&["--log.path", "-", "--log.path", "-"], "standard input"),
            (
                &[
                    "--syslog.listen-address",
                    "udp://127.0.0.1:5514",
                    "--syslog.listen-address",
                    "udp://127.0.0.1:5514",
                ],
                "given twice",
            ),
            (&["--web.listen-address", "nowhere"], "--web.listen-address"),
            (
                &[
                    "--config.file",
                    two_mailboxes.path().to_str().unwrap_or_default(),
                    "--mailbox.path",
                    "/m",
                ],
                "both named \"dsn\"",
            ),
        ];
        for (args, want) in cases {
            let e = resolve(args).expect_err(want);
            assert!(e.chain().any(|c| c.is::<ConfigError>()), "{e:#}");
            assert!(format!("{e:#}").contains(want), "{args:?}: {e:#}");
        }
    }

    #[test]
    fn the_external_url_is_checked_and_loses_its_trailing_slash() {
        let url = |u: &str| resolve(&["--web.external-url", u]).map(|p| p.web.external_url);
        assert_eq!(
            url("https://proxy.example.com/smtp/").expect("ok"),
            "https://proxy.example.com/smtp"
        );
        assert_eq!(
            url("http://[2001:db8::1]:9978").expect("ok"),
            "http://[2001:db8::1]:9978"
        );
        assert_eq!(url("http://mx1:9978//").expect("ok"), "http://mx1:9978");
        assert_eq!(resolve(&[]).expect("ok").web.external_url, "");
        for (bad, why) in [
            (
                "mx1.example.com:9978",
                "must start with http:// or https://",
            ),
            ("ftp://mx1.example.com", "must start with http://"),
            ("https://", "has no host"),
            ("https://:9978/x", "has no host"),
            ("https://mx1:99999", "not a port number"),
            ("https://mx1:0", "not a port number"),
            ("https://mx1/smtp?x=1", "no query"),
            ("https://mx1/#top", "fragment"),
            ("https://user:pw@mx1", "no user or password"),
            ("https://mx1/a b", "' ' is not allowed"),
            ("https://mx1/\"x", "is not allowed"),
            ("https://bücher.example", "punycode"),
        ] {
            let e = url(bad).expect_err(bad);
            assert!(e.chain().any(|c| c.is::<ConfigError>()), "{e:#}");
            let e = format!("{e:#}");
            assert!(
                e.contains("--web.external-url") && e.contains(why),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn bad_flag_values_are_refused_by_the_flag_parser() {
        for args in [
            &["--queue.timeout", "0s"][..],
            &["--queue.cache", "soon"],
            &["--syslog.queue-size", "0"],
            &["--log.wrapper", "podman"],
            &["--syslog.listen-address", "514"],
        ] {
            let e = resolve(args).expect_err(args[0]);
            assert!(format!("{e}").contains(args[0]), "{args:?}: {e}");
        }
    }
}
