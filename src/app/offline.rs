//! The commands that serve nothing: `replay`, `check-config`, `explain` and the hidden `man`.

use std::io::Write;

use anyhow::Context;

use crate::aggregate::{Aggregator, SourceId};
use crate::cli::{
    CheckConfigArgs, CommonArgs, ExplainArgs, ExplainFormat, ReplayArgs, ReplayFormat,
};
use crate::config::{self, ConfigError};
use crate::expose::{self, BuildInfo};
use crate::http;
use crate::plan;
use crate::source::wrapper::Kind as WrapperKind;
use crate::source::{mailbox, replay, stdin, FileParser};

/// `replay FILE... [--mailbox.path M]`: counts the files (as one source, named by the format
/// of the first) and the mailboxes from their first byte, and prints the result.
pub fn replay(common: &CommonArgs, args: &ReplayArgs) -> anyhow::Result<()> {
    let file = plan::load_config(common)?;
    let mut parser = plan::flag_parser(common, &file)?;
    if let Some(first) = args.files.first() {
        // `auto`: the report is named by the format of the first file, where its head shows it
        // (nothing is saved under the name).
        parser = crate::source::detected_in(&parser, first);
    }
    let boxes = mailbox::from_flags(&args.mailbox_path);
    if let Some(m) = (boxes.iter()).find(|m| m.path.is_dir() && !mailbox::is_maildir(&m.path)) {
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
    names.extend((boxes.iter()).map(|m| (m.name.clone(), crate::parse::dsn::MTA.to_owned())));
    // Nothing serves /failures after a replay: keep no ring.
    let mut bounds = plan::bounds(&file);
    bounds.recent.keep = 0;
    // Old logs: charted by their own time.
    bounds.history = crate::aggregate::HistoryConfig::replay();
    let mut agg = Aggregator::new(names, &bounds);
    for (i, m) in boxes.iter().enumerate() {
        let id = SourceId(first_mailbox + i);
        if let Some(s) = agg.source_mut(id) {
            s.location = m.location();
        }
        mailbox::replay(&m.path, id, &mut agg)?;
    }
    if let Some(s) = agg.sources.first_mut().filter(|_| !args.files.is_empty()) {
        let shown = (args.files.iter()).map(|p| {
            if stdin::is_stdin(p) {
                stdin::LOCATION.to_owned()
            } else {
                p.display().to_string()
            }
        });
        s.location = shown.collect::<Vec<_>>().join(" ");
    }
    for path in &args.files {
        // The wrapper given, else the default for the path (none for standard input).
        let kind = common
            .log_wrapper
            .unwrap_or_else(|| match stdin::is_stdin(path) {
                true => WrapperKind::None,
                false => WrapperKind::default_for(path),
            });
        let mut parser = FileParser::new(parser.clone(), kind);
        if stdin::is_stdin(path) {
            replay::replay_reader(
                &mut std::io::stdin().lock(),
                SourceId(0),
                &mut parser,
                &mut agg,
            )
            .context("error while reading standard input")?;
        } else {
            replay::replay_file(path, SourceId(0), &parser, &mut agg)?;
        }
    }
    print_out(&encode(&agg, args.format)?)
}

fn encode(agg: &Aggregator, format: ReplayFormat) -> anyhow::Result<String> {
    Ok(match format {
        ReplayFormat::Json => expose::json::encode(agg),
        ReplayFormat::Table => expose::table::encode(agg),
        ReplayFormat::Html => expose::report::encode(agg),
        ReplayFormat::Prometheus => expose::encode(
            &expose::families(agg, &BuildInfo::CURRENT),
            expose::Format::Prometheus,
        )?,
        ReplayFormat::Openmetrics => expose::encode(
            &expose::families(agg, &BuildInfo::CURRENT),
            expose::Format::OpenMetrics,
        )?,
    })
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

/// `check-config`: loads the configuration file (and the web configuration) as `serve` would,
/// and says what it holds.
pub fn check_config(common: &CommonArgs, args: &CheckConfigArgs) -> anyhow::Result<()> {
    if let Some(web) = &args.web_config_file {
        let config = http::webconfig::load(web).map_err(ConfigError)?;
        println!("{}: OK ({})", web.display(), config.describe());
    }
    let Some(path) = &common.config_file else {
        if args.web_config_file.is_none() {
            println!("no --config.file given: the built-in defaults serve, and they are valid");
        }
        return Ok(());
    };
    let file = config::load(path)?;
    let some = |n: usize, what: &str| match n {
        0 => String::new(),
        n => format!(", {n} {what}"),
    };
    let formats = if file.formats.is_empty() {
        String::new()
    } else {
        let names: Vec<_> = file.formats.iter().map(|f| f.name.as_str()).collect();
        format!(", user-defined format(s) {}", names.join(", "))
    };
    println!(
        "{}: OK ({} source(s){}{}, domains.max {}{formats}{}{}{})",
        path.display(),
        file.sources.len(),
        some(file.syslog.len(), "syslog listener(s)"),
        some(file.mailboxes.len(), "mailbox(es)"),
        file.domains.max,
        some(file.reasons.len(), "reason rule(s)"),
        some(file.providers.len(), "provider(s) of your own"),
        some(file.own_relays.len(), "own relay(s)"),
    );
    Ok(())
}

/// `explain CODE...`: what each code found in the arguments means and what to do; exit 2
/// when there is none.
pub fn explain(common: &CommonArgs, args: &ExplainArgs) -> anyhow::Result<()> {
    let json = args.format == ExplainFormat::Json;
    // With --config.file, the user's reason rules and providers count too.
    let file = plan::load_config(common)?;
    let parser = plan::flag_parser(common, &file)?;
    let bounds = plan::bounds(&file);
    let facts = |arg: &str| line_facts(arg, &parser, &bounds);
    let Some(out) = crate::codes::explain::run(&args.codes, json, &file.compiled_reasons, &facts)
    else {
        let given = if args.codes.is_empty() {
            "explain: nothing to explain".to_owned()
        } else {
            format!("explain: no SMTP code found in {:?}", args.codes.join(" "))
        };
        return Err(ConfigError(format!("{given}: {}", crate::codes::explain::ACCEPTED)).into());
    };
    print_out(&out)
}

/// What `arg`, read as one log line of `parser`'s format, is counted as: the labels of its
/// first reply series (and of its failure series, for the stage), counted the way serving
/// counts, so `explain` never tells another story than `/metrics`.
fn line_facts(
    arg: &str,
    parser: &crate::parse::Parser,
    bounds: &crate::aggregate::Bounds,
) -> Option<crate::codes::explain::LineFacts> {
    let mut agg = Aggregator::new(vec![(String::new(), parser.mta().to_owned())], bounds);
    let mut parser = parser.clone();
    agg.record(SourceId(0), &parser.parse(arg.as_bytes()));
    let (reply, _) = agg.sorted_replies().into_iter().next()?;
    let stage = agg
        .sorted_failures()
        .into_iter()
        .find(|(f, _)| f.domain == reply.domain && f.provider == reply.provider)
        .map(|(f, _)| f.stage.as_str())
        .unwrap_or_default();
    Some(crate::codes::explain::LineFacts {
        direction: reply.direction.as_str().to_owned(),
        outcome: reply.outcome.as_str().to_owned(),
        provider: agg.provider_name(reply.provider).to_owned(),
        stage: stage.to_owned(),
        domain: agg.domains.name(reply.domain).to_owned(),
    })
}

/// `man DIR`: the manual pages, rendered from the clap definitions the binary parses with, so
/// they cannot drift from `--help` (the Debian package runs it at build time).
pub fn man(dir: &std::path::Path) -> anyhow::Result<()> {
    use clap::CommandFactory;
    clap_mangen::generate_to(crate::cli::Cli::command(), dir)
        .with_context(|| format!("writing the manual pages into {}", dir.display()))
}
