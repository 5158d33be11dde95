//! smtp-status-exporter: counts SMTP reply codes from MTA logs and serves them to Prometheus.
//!
//! Data flows one way: [`source`] (lines) → [`parse`] (events) → [`aggregate`] (counters) →
//! [`expose`] / [`http`] (exposition).

pub mod aggregate;
pub mod app;
pub mod cli;
pub mod codes;
pub mod config;
pub mod expose;
pub mod http;
pub mod parse;
pub mod plan;
pub mod queue;
pub mod source;
pub mod state;
