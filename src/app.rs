//! Wiring: the plan resolved from flags and the configuration file, then one of the commands.
//! `serve` starts what the plan names and waits for a signal; the offline commands (`replay`,
//! `check-config`, `explain`) are in `app/offline.rs`.

mod offline;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;

use crate::aggregate::{Aggregator, Counters};
use crate::cli::{Cli, Command, ServeArgs};
use crate::config::ConfigError;
use crate::expose::BuildInfo;
use crate::http;
use crate::plan::Plan;
use crate::source::{self, Running};
use crate::state::{self, StateFile};

/// Runs the command the user asked for.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    init_logging(&cli.serve.common.log_level)?;
    match &cli.command {
        None => serve(&cli.serve),
        Some(Command::Replay(r)) => offline::replay(&cli.serve.common, r),
        Some(Command::CheckConfig(args)) => offline::check_config(&cli.serve.common, args),
        Some(Command::Explain(e)) => offline::explain(&cli.serve.common, e),
        Some(Command::Man { dir }) => offline::man(dir),
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

/// Binds the listen address before anything else starts, so a busy port fails at once.
fn bind(plan: &Plan) -> anyhow::Result<std::net::TcpListener> {
    let addr = &plan.web.listen_address;
    let mut last = None;
    for a in &plan.web.listen {
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

/// Follows the logs and serves the counters until SIGTERM or Ctrl-C; then stops every source
/// and saves the state once more.
fn serve(args: &ServeArgs) -> anyhow::Result<()> {
    let mut plan = Plan::resolve(args)?;
    let web = Arc::new(
        http::webconfig::WebHandle::open(plan.web.config_file.clone()).map_err(ConfigError)?,
    );
    let listener = bind(&plan)?;
    let local: SocketAddr = listener.local_addr()?;
    listener.set_nonblocking(true)?;
    // Built before anything starts, like the HTTP port: a busy listener address fails at once.
    let built = source::build(plan.sources.take_specs())?;
    let mut agg = plan.aggregator();
    let state = open_state(&plan, &mut agg)?;
    let counters = Counters::new(agg);
    let running: Vec<Running> = built
        .into_iter()
        .map(|s| s.start(&counters))
        .collect::<anyhow::Result<_>>()?;
    let shared = Arc::new(http::Shared {
        agg: counters.clone(),
        telemetry_path: plan.web.telemetry_path.clone(),
        build: BuildInfo {
            external_url: plan.web.external_url.clone(),
            ..BuildInfo::CURRENT
        },
        web: Arc::clone(&web),
        state: state.clone(),
        queues: Arc::new(crate::queue::Queues::new(
            plan.queues.specs.clone(),
            plan.queues.timeout,
            plan.queues.cache,
        )),
        admission: Arc::default(),
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::from_std(listener)?;
        web.reload_on_sighup()
            .context("cannot watch for SIGHUP (web config reload)")?;
        announce(&plan, &web, local);
        if let Some(state) = &state {
            tokio::spawn(save_every(Arc::clone(state), counters.clone()));
        }
        http::server::serve(listener, shared, web, shutdown_signal()).await;
        anyhow::Ok(())
    })?;
    tracing::info!("shutting down");
    running.into_iter().for_each(Running::stop);
    if let Some(state) = &state {
        state
            .save_with(|| counters.lock().marked_snapshot())
            .context("cannot save state at shutdown")?;
    }
    Ok(())
}

/// The start-up log lines: where the exporter serves, what it reads, which queues.
fn announce(plan: &Plan, web: &http::webconfig::WebHandle, local: SocketAddr) {
    let config = web.current();
    tracing::info!(
        "listening on {}://{local}{} ({}; sources: {})",
        if config.tls.is_some() {
            "https"
        } else {
            "http"
        },
        plan.web.telemetry_path,
        config.describe(),
        plan.sources.described().join(", ")
    );
    for q in &plan.queues.specs {
        tracing::info!(
            "reading the queue of source {} at each scrape: {}",
            q.source,
            q.kind.describe()
        );
    }
}

/// How often state is saved besides before each scrape and at shutdown.
const SAVE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);

async fn save_every(state: Arc<StateFile>, counters: Counters) {
    let mut every = tokio::time::interval(SAVE_INTERVAL);
    loop {
        every.tick().await;
        let (state, counters) = (Arc::clone(&state), counters.clone());
        let saved = tokio::task::spawn_blocking(move || {
            if let Err(e) = state.save_with(|| counters.lock().marked_snapshot()) {
                tracing::error!("{e:#}");
            }
        })
        .await;
        if let Err(e) = saved {
            tracing::error!("state saver stopped: {e}");
        }
    }
}

/// Loads saved state into `agg`. A state file that cannot be used at all is an error when the
/// user named it; at the default path it only costs the restart exactness, so it is a warning.
fn open_state(plan: &Plan, agg: &mut Aggregator) -> anyhow::Result<Option<Arc<StateFile>>> {
    let path = &plan.state.path;
    let opened = StateFile::new(path.clone()).and_then(|sf| Ok((state::load(path)?, sf)));
    let (loaded, sf) = match opened {
        Ok(x) => x,
        Err(e) if !plan.state.explicit => {
            tracing::warn!(
                "{e:#}: counting without a state file, so counters restart from zero and lines \
                 written while the exporter is down are missed; choose a writable --state.file"
            );
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    let unusable = |reason: &str, moved_to: &std::path::Path| {
        tracing::warn!(
            "state file {} is unusable ({reason}): moved it to {} and starting afresh",
            path.display(),
            moved_to.display()
        );
    };
    match loaded {
        state::Loaded::Fresh => {
            tracing::info!(path = %path.display(), "no saved state: first start, following logs from their end");
        }
        state::Loaded::SetAside { moved_to, reason } => unusable(&reason, &moved_to),
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
                *agg = plan.aggregator();
                unusable(&reason, &state::set_aside(path)?);
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
