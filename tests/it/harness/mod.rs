//! The harness of the integration tests (one test binary, `tests/it/main.rs`; every module uses
//! it as `crate::harness`), for end-to-end tests against REAL mail servers (Postfix, Exim,
//! Sendmail, OpenSMTPD): each runs as a private instance on loopback, delivering to a scripted
//! SMTP [`sink::Sink`] and receiving from a scripted [`client::SmtpClient`], while the exporter
//! under test ([`exporter::Exporter`], the one way the tests start it) tails its log; the one
//! scenario they share is [`scenario`].
//!
//! For the tailing tests (tests/it/rotation.rs, tests/it/chaos.rs), [`maillog`] writes a live
//! log the way syslog does, drives the real `logrotate`, and reads the exporter's counters back.
//!
//! For the dashboards and alerts (tests/it/alerting.rs, tests/it/dashboards.rs),
//! [`prometheus`] and [`alertmanager`] run the real servers on loopback,
//! [`alertmanager::Webhook`] receives their notifications, and [`promql`] checks PromQL text
//! against the metrics the exporter serves. The one HTTP client of the tests is
//! [`metrics::request`].
//!
//! The tests that need root and the MTA packages are `#[ignore]`d and run by `sudo
//! scripts/test` (which first runs `scripts/install-test-deps`); when something is missing they
//! fail with a message saying so, they never skip silently.
//!
//! ## The heavy lock
//!
//! All tests run in one process, concurrently on libtest's threads. The heavy ones take
//! [`heavy`] first, so that they run one at a time as they did when each file was a binary of
//! its own, on machines with two cores:
//! - the real MTAs (`postfix_e2e`, `exim_e2e`, `sendmail_e2e`, `opensmtpd_e2e`, `mailbox_e2e`,
//!   `queue_e2e`, `exim_queue`, `opensmtpd_queue`, and `dashboards`' Postfix): they share the
//!   loopback addresses and ports of the sink and `/opt/smtp-status-exporter-test`;
//! - Prometheus and Alertmanager (`alerting`'s burst of deferrals, `dashboards`);
//! - `syslog`'s rsyslog, `journal`'s systemd-journal-remote files, and `rotation`'s runs of the
//!   real logrotate while writing (their timings are what they test);
//! - the floods and races: `chaos`, `load`, `hostile_input`, `clients` (hostile and greedy HTTP
//!   clients, [`flood`] and [`scraper`]), and `web_security`'s slow clients, stalled handshakes
//!   and connection bounds.
//!
//! No test changes process-wide state (environment, current directory, umask, limits, signal
//! handlers): a setting a child needs is given to the child ([`exporter::Builder::env`]). The
//! one exception, harmless to the others: [`flood::raise_nofile`] raises the soft limit on open
//! files to the hard one (thousands of connections in the test process).
#![allow(dead_code)]

use std::sync::{Mutex, MutexGuard, PoisonError};

pub mod alertmanager;
pub mod client;
pub mod exim;
pub mod expect;
pub mod exporter;
pub mod feed;
pub mod fixture_lines;
pub mod flood;
pub mod hosts;
pub mod maillog;
pub mod metrics;
pub mod opensmtpd;
pub mod postfix;
pub mod prometheus;
pub mod promql;
pub mod queue;
pub mod scenario;
pub mod scraper;
pub mod sendmail;
pub mod series;
pub mod sink;
pub mod syslogd;
pub mod util;

static HEAVY: Mutex<()> = Mutex::new(());

/// Holds the process-wide lock of the heavy tests until the guard drops (see the module
/// documentation for which take it and why). A test that failed while holding it does not
/// poison it for the others.
pub fn heavy() -> MutexGuard<'static, ()> {
    HEAVY.lock().unwrap_or_else(PoisonError::into_inner)
}
