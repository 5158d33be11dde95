//! smtp-status-exporter: counts SMTP reply codes from MTA logs and serves them to Prometheus.
//!
//! Data flows one way: [`source`] (lines) → [`parse`] (events) → [`aggregate`] (counters) →
//! [`expose`] / [`http`] (exposition).

pub mod parse;
