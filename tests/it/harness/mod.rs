//! A reusable harness for end-to-end tests against REAL mail servers (Postfix now; Exim,
//! Sendmail, OpenSMTPD later): each runs as a private instance on loopback, delivering to a
//! scripted SMTP [`sink::Sink`] and receiving from a scripted [`client::SmtpClient`], while the
//! exporter under test ([`exporter::Exporter`]) tails its log.
//!
//! For the tailing tests (tests/it/rotation.rs, tests/it/chaos.rs), [`maillog`] writes a live log the
//! way syslog does, drives the real `logrotate`, and reads the exporter's counters back.
//!
//! For the dashboards and alerts (tests/it/alerting.rs, tests/it/dashboards.rs), [`prometheus`] and
//! [`alertmanager`] run the real servers on loopback, [`alertmanager::Webhook`] receives their
//! notifications, and [`promql`] checks PromQL text against the metrics the exporter serves.
//!
//! Every test module uses it as `crate::harness`. The tests that need root and the MTA packages are
//! `#[ignore]`d and run by `sudo scripts/test` (which first runs `scripts/install-test-deps`);
//! when something is missing they fail with a message saying so, they never skip silently.
#![allow(dead_code)]

pub mod alertmanager;
pub mod client;
pub mod exim;
pub mod expect;
pub mod exporter;
pub mod feed;
pub mod maillog;
pub mod metrics;
pub mod opensmtpd;
pub mod postfix;
pub mod prometheus;
pub mod promql;
pub mod queue;
pub mod sendmail;
pub mod sink;
pub mod syslogd;
pub mod util;
