//! The integration tests: ONE test binary (`cargo test --test it`), one module per subject and
//! one shared [`harness`]. Tests in one binary run concurrently on libtest's threads; the heavy
//! ones serialise themselves with [`harness::heavy`] (its doc comment lists them).

mod harness;

mod alert_links;
mod alerting;
mod alerting_e2e;
mod auto;
mod chaos;
mod charts;
mod cli;
mod clients;
mod codes;
mod container;
mod corpus;
mod dashboard_links;
mod dashboards;
mod exim_e2e;
mod exim_queue;
mod failures_e2e;
mod follow;
mod formats;
mod golden;
mod hostile_input;
mod journal;
mod journal_default;
mod load;
mod mailbox;
mod mailbox_e2e;
mod opensmtpd_e2e;
mod opensmtpd_queue;
mod package;
mod pages;
mod postfix_e2e;
mod queue_e2e;
mod relays;
mod replay_split;
mod rotation;
mod sendmail_e2e;
mod stdin;
mod syslog;
mod unprivileged;
mod web_security;
