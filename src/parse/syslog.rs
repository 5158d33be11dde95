//! Syslog line headers (placeholder until the parser lands).
