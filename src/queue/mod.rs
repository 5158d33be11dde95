//! Queue gauges: what the MTA's queue holds, read at scrape time.
//!
//! `smtp_queue_messages{source, mta, queue}`, `smtp_queue_oldest_message_age_seconds{…}` and
//! histograms of the ages and sizes of the messages (`smtp_queue_message_age_seconds`,
//! `smtp_queue_message_size_bytes`, with a `queue` label) are not counted from the log: each
//! scrape asks the MTA (Postfix: `postqueue -j`, see [`postfix`] for why a child process).
//!
//! A slow or broken queue never blocks or fails `/metrics`: a read runs in a blocking thread
//! and is given up (the child killed) after `--queue.timeout`; a failed read leaves the gauges
//! of that source out of the scrape (a stale count would mislead), counts
//! `smtp_status_exporter_queue_read_errors_total{source}` and shows the error on the landing
//! page. A result is reused for `--queue.cache`, so that several scrapers at once cost one
//! read; scrapes that arrive during a read wait for that read.
//!
//! Every queue of the MTA has a series, zero when empty (an empty queue's oldest age is 0), so
//! that `postsuper -d ALL` shows as zeros, not as vanished series.
//!
//! Other MTAs plug in as another [`Kind`]: a command whose output gives, per message, its
//! queue, arrival time and size (Exim: `exim -bp`, OpenSMTPD: `smtpctl show queue`), and the
//! list of the MTA's queue names.

mod cache;
mod command;
mod counts;
pub mod exim;
pub mod opensmtpd;
mod planning;
pub mod postfix;

pub use cache::{Cached, Queues, Reader};
pub use command::read;
pub use counts::{Buckets, QueueCount, Reading};
pub use planning::{check_config, plan, QueueFlags, SourceQueue};

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

/// Default of `--queue.timeout`: well under Prometheus' default scrape timeout (10 s).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default of `--queue.cache`.
pub const DEFAULT_CACHE: Duration = Duration::from_secs(5);

/// Upper bounds of the age histogram: a minute to a week (Postfix's default
/// `maximal_queue_lifetime` is 5 days).
pub const AGE_BUCKETS: [f64; 12] = [
    60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0, 28800.0, 86400.0, 172800.0, 432000.0,
    604800.0,
];
/// Upper bounds of the size histogram: 1 KiB to 64 MiB.
pub const SIZE_BUCKETS: [f64; 9] = [
    1024.0, 4096.0, 16384.0, 65536.0, 262144.0, 1048576.0, 4194304.0, 16777216.0, 67108864.0,
];

/// A source's `queue:` in the configuration file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueConfig {
    /// The Postfix instance's configuration directory (`postqueue -c DIR`); without it, the
    /// default instance.
    #[serde(default)]
    pub postfix_config_dir: Option<PathBuf>,
    /// Do not read this source's queue (not even by default).
    #[serde(default)]
    pub disabled: bool,
    /// An Exim source: the instance's configuration file (`exim -C FILE`); without it, the
    /// binary's compiled-in one.
    #[serde(default)]
    pub exim_config: Option<PathBuf>,
    /// OpenSMTPD: the `smtpctl` program (`smtpctl show queue`).
    #[serde(default)]
    pub smtpctl: Option<PathBuf>,
}

/// How a queue is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// `postqueue [-c config_dir] -j`.
    Postfix {
        postqueue: PathBuf,
        config_dir: Option<PathBuf>,
    },
    /// `exim [-C config] -bpr` (see [`exim`]).
    Exim {
        exim: PathBuf,
        config: Option<PathBuf>,
    },
    /// `smtpctl show queue`.
    OpenSmtpd { smtpctl: PathBuf },
}

impl Kind {
    fn queues(&self) -> &'static [&'static str] {
        match self {
            Kind::Postfix { .. } => postfix::QUEUES,
            Kind::Exim { .. } => exim::QUEUES,
            Kind::OpenSmtpd { .. } => opensmtpd::QUEUES,
        }
    }

    fn command(&self) -> std::process::Command {
        match self {
            Kind::Postfix {
                postqueue,
                config_dir,
            } => postfix::command(postqueue, config_dir.as_deref()),
            Kind::Exim { exim, config } => exim::command(exim, config.as_deref()),
            Kind::OpenSmtpd { smtpctl } => opensmtpd::command(smtpctl),
        }
    }

    /// What is run, for messages.
    pub fn describe(&self) -> String {
        match self {
            Kind::Postfix {
                postqueue,
                config_dir,
            } => match config_dir {
                Some(d) => format!("{} -c {} -j", postqueue.display(), d.display()),
                None => format!("{} -j", postqueue.display()),
            },
            Kind::Exim { exim, config } => match config {
                Some(c) => format!("{} -C {} -bpr", exim.display(), c.display()),
                None => format!("{} -bpr", exim.display()),
            },
            Kind::OpenSmtpd { smtpctl } => format!("{} show queue", smtpctl.display()),
        }
    }

    /// What the counts count, for the landing page: OpenSMTPD lists envelopes (recipients).
    pub fn unit(&self) -> &'static str {
        if matches!(self, Kind::OpenSmtpd { .. }) {
            "envelope(s)"
        } else {
            "message(s)"
        }
    }

    /// Whether the MTA reports message sizes (OpenSMTPD's smtpctl does not: no size histogram).
    pub fn has_sizes(&self) -> bool {
        !matches!(self, Kind::OpenSmtpd { .. })
    }

    /// `now`: Unix seconds at the read, for listings that give ages rather than arrivals.
    fn parse_line(&self, line: &str, now: i64) -> Result<Option<postfix::Message>, String> {
        match self {
            Kind::Postfix { .. } => postfix::parse_line(line),
            Kind::OpenSmtpd { .. } => opensmtpd::parse_line(line),
            Kind::Exim { .. } => Ok(exim::parse_line(line)?.map(|m| postfix::Message {
                queue: m.queue,
                arrival: m.age.map(|a| now - a),
                size: m.size,
            })),
        }
    }
}

/// One queue to read, for one source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSpec {
    /// The `source` label (the log source the queue belongs to).
    pub source: String,
    pub mta: String,
    pub kind: Kind,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exim_ages_become_arrivals() {
        let kind = Kind::Exim {
            exim: "exim".into(),
            config: None,
        };
        let m = kind
            .parse_line(
                " 3h  3.1K 1xVNA1-0000oH-2M <b@src.test> *** frozen ***",
                100_000,
            )
            .unwrap()
            .unwrap();
        assert_eq!(
            (exim::QUEUES[m.queue], m.arrival, m.size),
            ("frozen", Some(100_000 - 10_800), Some(3174))
        );
    }
}
