//! `failures:` (what `/failures` keeps and shows) and `time_zone:` (the zone of log stamps that
//! give none), checked once; errors name the YAML path.

use serde::Deserialize;

use crate::aggregate::recent::{RecentConfig, PER_SERIES_MAX};

/// `failures:` in the configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailuresConfig {
    /// `false` turns `/failures` off (it answers 404 and keeps nothing).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// The last failures kept, whatever their series.
    #[serde(default = "default_keep")]
    pub keep: usize,
    /// The last failures of each series of `smtp_failures_total` kept besides.
    #[serde(default = "default_per_series")]
    pub per_series: usize,
    /// The most series with failures kept besides.
    #[serde(default = "default_series_max")]
    pub series_max: usize,
    /// Show recipients and addresses in reply texts whole rather than `j…@example.com`.
    #[serde(default)]
    pub show_addresses: bool,
    /// The most bytes of a reply text kept.
    #[serde(default = "default_text_max")]
    pub text_max: usize,
}

impl Default for FailuresConfig {
    fn default() -> Self {
        let d = RecentConfig::default();
        FailuresConfig {
            enabled: true,
            keep: d.keep,
            per_series: d.per_series,
            series_max: d.series_max,
            show_addresses: d.whole_addresses,
            text_max: d.text_max,
        }
    }
}

fn yes() -> bool {
    true
}
fn default_keep() -> usize {
    RecentConfig::default().keep
}
fn default_per_series() -> usize {
    RecentConfig::default().per_series
}
fn default_series_max() -> usize {
    RecentConfig::default().series_max
}
fn default_text_max() -> usize {
    RecentConfig::default().text_max
}

/// Bounds that keep the ring's memory small whatever is configured.
const KEEP: (usize, usize) = (100, 100_000);
const SERIES_MAX: usize = 100_000;
const TEXT: (usize, usize) = (64, 4096);

impl FailuresConfig {
    /// The ring's bounds, or the YAML path and what to fix.
    pub fn resolve(&self) -> Result<RecentConfig, String> {
        if !self.enabled {
            return Ok(RecentConfig {
                keep: 0,
                ..RecentConfig::default()
            });
        }
        if !(KEEP.0..=KEEP.1).contains(&self.keep) {
            return Err(format!(
                "failures.keep: {} is out of range; keep between {} and {} (or enabled: false to turn /failures off)",
                self.keep, KEEP.0, KEEP.1
            ));
        }
        if self.per_series > PER_SERIES_MAX {
            return Err(format!(
                "failures.per_series: at most {PER_SERIES_MAX} (0 keeps no reserve per series)"
            ));
        }
        if self.series_max > SERIES_MAX {
            return Err(format!("failures.series_max: at most {SERIES_MAX}"));
        }
        if !(TEXT.0..=TEXT.1).contains(&self.text_max) {
            return Err(format!(
                "failures.text_max: {} is out of range; between {} and {} bytes",
                self.text_max, TEXT.0, TEXT.1
            ));
        }
        Ok(RecentConfig {
            keep: self.keep,
            per_series: self.per_series,
            series_max: self.series_max,
            whole_addresses: self.show_addresses,
            text_max: self.text_max,
        })
    }
}

/// `time_zone:`: an IANA zone name (`Europe/Berlin`, `UTC`); the system's zone when absent.
pub fn zone(name: Option<&str>) -> Result<jiff::tz::TimeZone, String> {
    match name {
        None => Ok(jiff::tz::TimeZone::system()),
        Some(n) => jiff::tz::TimeZone::get(n).map_err(|_| {
            format!(
                "time_zone: unknown zone {n:?}; use an IANA name such as UTC, Europe/Berlin or America/New_York"
            )
        }),
    }
}
