//! THE end-to-end scenario of a real MTA, shared by the Postfix, Exim, Sendmail and OpenSMTPD
//! tests: start the scripted sink and the private daemon, start the exporter before any mail
//! (it reads a log from its end on first start), send the seeded mail and let the queue drain,
//! check the MTA's own log against the test's model (so that a wrong model shows as such and
//! not as an exporter bug), then scrape and compare whole maps with what the sink and the
//! client recorded, run `promtool check metrics`, and compare `replay --format json` of the
//! same log. Every check of the exporter runs, and all that fail are reported together.
//!
//! An MTA plugs in through [`Mta`]: how to start it, its logs and `--log.format`, how to send
//! its mail and wait for its queue, what it must count, and its quirks (extra checks).

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::expect::{diff, nonzero, replay_series};
use super::exporter::{self, Exporter};
use super::metrics::{self, Labels, Samples};
use super::sink::Sink;
use super::util::{self, wait_for, TestDir};

/// What the exporter must count, worked out by the MTA's test from what the sink and the
/// client recorded (never from the exporter).
pub struct Want {
    /// `smtp_replies_total`, whole.
    pub replies: BTreeMap<Labels, f64>,
    /// `smtp_failures_total`, whole, where the test models the failure reasons.
    pub failures: Option<BTreeMap<Labels, f64>>,
    /// `smtp_expired_total`, of the labels [`Mta::expired_labels`].
    pub expired: f64,
    /// `smtp_delivery_delay_seconds_count`, whole, where the test checks it.
    pub delays: Option<BTreeMap<Labels, f64>>,
    /// What the MTA's log must hold, by kind of line (compared with [`Mta::log_tally`]).
    pub tally: BTreeMap<&'static str, usize>,
    /// Written to `expected.txt` in the work dir.
    pub expected_txt: String,
}

impl Want {
    /// The replies of one direction and outcome.
    pub fn sum(&self, dir: &str, outcome: &str) -> f64 {
        self.replies
            .iter()
            .filter(|(l, _)| l["direction"] == dir && l["outcome"] == outcome)
            .map(|(_, v)| v)
            .sum()
    }

    pub fn total_replies(&self) -> f64 {
        self.replies.values().sum()
    }
}

/// `smtp_delivery_delay_seconds_count` as one observation per outbound reply: for the MTAs
/// that log a delay on every outbound status line.
pub fn delays_per_outbound_reply(
    replies: &BTreeMap<Labels, f64>,
    source: &str,
    mta: &str,
) -> BTreeMap<Labels, f64> {
    nonzero(
        ["delivered", "deferred", "bounced"]
            .into_iter()
            .map(|o| {
                let l = metrics::labels(&[("source", source), ("mta", mta), ("outcome", o)]);
                let n = replies
                    .iter()
                    .filter(|(l, _)| l["direction"] == "outbound" && l["outcome"] == o)
                    .map(|(_, v)| v)
                    .sum();
                (l, n)
            })
            .collect(),
    )
}

/// One `replay --format json` run over the MTA's logs and what it must print.
pub struct Replay {
    /// Names it in failure messages.
    pub what: &'static str,
    /// Global flags before `replay` (`--log.format exim`).
    pub args: Vec<&'static str>,
    pub files: Vec<PathBuf>,
    /// `replies`, whole.
    pub replies: Option<BTreeMap<Labels, f64>>,
    /// `replies`, their sum only.
    pub replies_sum: Option<f64>,
    /// `failures`, whole.
    pub failures: Option<BTreeMap<Labels, f64>>,
    /// `expired`, summed.
    pub expired: Option<f64>,
    /// `lines.unrecognised` must be 0.
    pub no_unrecognised: bool,
}

impl Replay {
    /// A replay of `files` with `args` that checks nothing yet.
    pub fn of(what: &'static str, args: &[&'static str], files: Vec<PathBuf>) -> Replay {
        Replay {
            what,
            args: args.to_vec(),
            files,
            replies: None,
            replies_sum: None,
            failures: None,
            expired: None,
            no_unrecognised: false,
        }
    }

    fn check(&self, failures: &mut Vec<String>) {
        let files: Vec<&Path> = self.files.iter().map(PathBuf::as_path).collect();
        let replay = match exporter::replay_json_args(&self.args, &files) {
            Ok(v) => v,
            Err(e) => return failures.push(format!("{}: {e}", self.what)),
        };
        let what = self.what;
        if let Some(want) = &self.replies {
            match replay_series(&replay, "replies").map(nonzero) {
                Ok(r) if &r == want => {}
                Ok(r) => failures.push(format!("{what}: reply counts differ:\n{}", diff(want, &r))),
                Err(e) => failures.push(format!("{what}: {e}")),
            }
        }
        if let Some(want) = self.replies_sum {
            match replay_series(&replay, "replies") {
                Ok(r) if r.values().sum::<f64>() == want => {}
                Ok(r) => failures.push(format!(
                    "{what}: {} replies, expected {want}",
                    r.values().sum::<f64>()
                )),
                Err(e) => failures.push(format!("{what}: {e}")),
            }
        }
        if let Some(want) = &self.failures {
            match replay_series(&replay, "failures").map(nonzero) {
                Ok(f) if &f == want => {}
                Ok(f) => failures.push(format!(
                    "{what}: failure counts differ:\n{}",
                    diff(want, &f)
                )),
                Err(e) => failures.push(format!("{what}: {e}")),
            }
        }
        if let Some(want) = self.expired {
            match replay_series(&replay, "expired") {
                Ok(e) if e.values().sum::<f64>() == want => {}
                Ok(e) => failures.push(format!("{what}: expired: expected {want}, got {e:?}")),
                Err(e) => failures.push(format!("{what}: {e}")),
            }
        }
        if self.no_unrecognised {
            let unrec = replay
                .pointer("/lines/unrecognised")
                .and_then(|v| v.as_f64());
            if unrec != Some(0.0) {
                failures.push(format!(
                    "{what}: lines.unrecognised must be 0, got {unrec:?}"
                ));
            }
        }
    }
}

/// A real MTA as the scenario drives it: what differs from one to the other.
pub trait Mta: Sized {
    /// Its name in messages: `Postfix`.
    const NAME: &'static str;
    /// Prefix of the work dir under /tmp.
    const DIR_PREFIX: &'static str;
    /// What `E2E_KEEP=1` keeps in the work dir, for the first line of output.
    const KEEPS: &'static str;
    /// The exporter's sources whose `lines_total{result="unrecognised"}` must be present and 0.
    const SOURCES: &'static [&'static str];
    /// What the mail left to judge by: the plan, what the client was told, the sink's records
    /// of each phase.
    type Run;

    /// Fails unless what the MTA needs is installed (root and promtool are checked already).
    fn require();
    /// The loopback addresses the sink listens on.
    fn sink_addrs() -> Vec<Ipv4Addr>;
    /// Starts the private daemon, routing to `sink`.
    fn start(dir: &TestDir, sink: &Sink) -> Self;
    /// The log files the exporter follows; the first is the main log, [`Mta::log`].
    fn logs(&self) -> Vec<PathBuf>;
    /// The exporter's arguments besides the logs (`--log.format exim`).
    fn exporter_args(&self) -> &'static [&'static str];
    /// The main log's text now.
    fn log(&self) -> String;
    /// Before the exporter starts (Postfix waits until its start-up lines stop coming).
    fn before_exporter(&mut self) {}
    /// Sends the seeded mail and waits until every message is delivered, bounced or expired.
    fn send_and_drain(&mut self, sink: &Sink, phase: &dyn Fn(&str)) -> Self::Run;
    /// The main log's lines by kind, as [`Want::tally`] expects them.
    fn log_tally(log: &str) -> BTreeMap<&'static str, usize>;
    /// What the exporter must count, from the run, the sink's records and the settled log.
    fn want(&self, run: &Self::Run, sink: &Sink, log: &str) -> Want;
    /// More checks of the MTA side once its log agrees with the model (assertions).
    fn check_log(&self, _run: &Self::Run, _want: &Want, _log: &str) {}
    /// The labels of the one `smtp_expired_total` series.
    fn expired_labels() -> Labels;
    /// Whether the exporter has read the whole run (it may count more: the comparison shows
    /// it). By default: it counted at least every expected reply and expiry.
    fn caught_up(&self, samples: &Samples, want: &Want, _lines_new: f64) -> bool {
        let counted: f64 = metrics::series(samples, "smtp_replies_total")
            .values()
            .chain(metrics::series(samples, "smtp_expired_total").values())
            .sum();
        counted >= want.total_replies() + want.expired
    }
    /// More checks of the scrape; a failure is pushed, not asserted.
    fn check_scrape(&self, _samples: &Samples, _failures: &mut Vec<String>) {}
    /// The `replay --format json` runs over its logs and what each must print.
    fn replays(&self, want: &Want) -> Vec<Replay>;
    /// Stops the daemon (after the exporter).
    fn stop(&mut self);
}

/// Runs the scenario for `M`; fails with every failed check of the exporter at once.
pub fn run<M: Mta>() {
    let t0 = Instant::now();
    let phase = |what: &str| eprintln!("[{:>6.2}s] {what}", t0.elapsed().as_secs_f64());
    util::require_root();
    util::require_tool("promtool");
    M::require();

    let dir = TestDir::new(M::DIR_PREFIX);
    eprintln!(
        "work dir: {} (set E2E_KEEP=1 to keep it: {})",
        dir.path().display(),
        M::KEEPS
    );

    // 1. The scripted remote servers and the private daemon.
    let sink = Sink::start(&M::sink_addrs()).unwrap_or_else(|e| panic!("starting the sink: {e}"));
    let mut mta = M::start(&dir, &sink);
    phase(&format!("{} started", M::NAME));

    // 2. The exporter, before any mail: it reads a log from its end on first start.
    mta.before_exporter();
    let lines_before = mta.log().lines().count();
    let logs = mta.logs();
    let log_refs: Vec<&Path> = logs.iter().map(PathBuf::as_path).collect();
    let state = dir.path().join("state.json");
    let exporter = Exporter::start(&log_refs, &state, dir.path(), mta.exporter_args());
    if let Err(e) = &exporter {
        eprintln!("WARNING: the exporter did not start ({e}); running the MTA side anyway");
    }
    phase("exporter started");

    // 3. Mail, until the queue has drained.
    let run = mta.send_and_drain(&sink, &phase);
    phase("mail sent, queue drained");

    // 4. The model, checked first against the log itself. MTAs write their logs
    // asynchronously: wait for the log to agree.
    let mut want = None;
    let settled = wait_for(Duration::from_secs(15), Duration::from_millis(100), || {
        let log = mta.log();
        let w = mta.want(&run, &sink, &log);
        let agree = M::log_tally(&log) == w.tally;
        want = Some(w);
        agree.then_some(())
    });
    let log = mta.log();
    let want = match (settled, want) {
        (Some(()), Some(w)) => w,
        _ => mta.want(&run, &sink, &log),
    };
    std::fs::write(dir.path().join("expected.txt"), &want.expected_txt)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        M::log_tally(&log),
        want.tally,
        "the log ({}) lacks lines the test expects: a problem of the test's model or of the {} \
         set-up, not of the exporter",
        logs[0].display(),
        M::NAME
    );
    mta.check_log(&run, &want, &log);
    let lines_total = log.lines().count();
    phase(&format!(
        "log settled: {lines_total} lines; expecting {} replies in {} series, {} expired",
        want.total_replies(),
        want.replies.len(),
        want.expired
    ));
    if let Ok(p) = std::env::var("E2E_SAVE_MAILLOG") {
        std::fs::copy(&logs[0], &p).unwrap_or_else(|e| panic!("copy the log to {p}: {e}"));
    }

    // 5. The exporter: wait until it has read the run, scrape, compare, promtool.
    let exporter = exporter.unwrap_or_else(|e| {
        panic!("the MTA side passed, but the exporter could not be started: {e}")
    });
    let lines_new = lines_total.saturating_sub(lines_before) as f64;
    let caught_up = wait_for(Duration::from_secs(30), Duration::from_millis(200), || {
        let s = metrics::parse_exposition(&exporter.scrape().ok()?).ok()?;
        mta.caught_up(&s, &want, lines_new).then_some(())
    });
    if caught_up.is_none() {
        eprintln!(
            "WARNING: the exporter did not read the whole run within 30 s; comparing what it has"
        );
    }
    let text = exporter
        .scrape()
        .unwrap_or_else(|e| panic!("scrape: {e}\nexporter stderr:\n{}", exporter.stderr_text()));
    std::fs::write(dir.path().join("scrape.txt"), &text).unwrap_or_else(|e| panic!("{e}"));
    let samples =
        metrics::parse_exposition(&text).unwrap_or_else(|e| panic!("reading /metrics: {e}"));
    phase("scraped");

    let mut failures: Vec<String> = Vec::new();
    let got = nonzero(metrics::series(&samples, "smtp_replies_total"));
    if got != want.replies {
        failures.push(format!(
            "smtp_replies_total differs from what the sink and the client recorded \
             (expected {} replies in {} series, got {} in {}):\n{}",
            want.total_replies(),
            want.replies.len(),
            got.values().sum::<f64>() + 0.0,
            got.len(),
            diff(&want.replies, &got)
        ));
    }
    if let Some(want_failures) = &want.failures {
        let got = nonzero(metrics::series(&samples, "smtp_failures_total"));
        if &got != want_failures {
            failures.push(format!(
                "smtp_failures_total differs from the reasons the test expects for the replies \
                 given (expected {} failures in {} series, got {} in {}):\n{}",
                want_failures.values().sum::<f64>(),
                want_failures.len(),
                got.values().sum::<f64>() + 0.0,
                got.len(),
                diff(want_failures, &got)
            ));
        }
    }
    let expired = nonzero(metrics::series(&samples, "smtp_expired_total"));
    let want_expired = nonzero(BTreeMap::from([(M::expired_labels(), want.expired)]));
    if expired != want_expired {
        failures.push(format!(
            "smtp_expired_total: expected {want_expired:?}, got {expired:?}"
        ));
    }
    let lines = metrics::series(&samples, "smtp_status_exporter_lines_total");
    for source in M::SOURCES {
        let unrecognised = metrics::labels(&[("source", source), ("result", "unrecognised")]);
        if lines.get(&unrecognised) != Some(&0.0) {
            failures.push(format!(
                "{source}: smtp_status_exporter_lines_total{{result=\"unrecognised\"}} must be \
                 present and 0: {lines:?}"
            ));
        }
    }
    if let Some(want_delays) = &want.delays {
        let delays = nonzero(metrics::series(
            &samples,
            "smtp_delivery_delay_seconds_count",
        ));
        if &delays != want_delays {
            failures.push(format!(
                "smtp_delivery_delay_seconds_count: expected {want_delays:?}, got {delays:?}"
            ));
        }
    }
    mta.check_scrape(&samples, &mut failures);
    if let Err(e) = metrics::promtool_check(&text) {
        failures.push(e);
    }

    // 6. replay --format json of the same logs gives the same counts.
    for replay in mta.replays(&want) {
        replay.check(&mut failures);
    }
    phase("scrape and replay checked");

    drop(exporter);
    mta.stop();
    assert!(
        failures.is_empty(),
        "{} check(s) of the exporter failed (the MTA side and the test's model passed):\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    phase(&format!(
        "done: the exporter counted exactly what {} logged",
        M::NAME
    ));
}
