//! Every metric the exporter serves: name, type, help text and labels, in one place, so that
//! the exposition code, the docs and the tests of dashboards and rules draw on one list.

/// The kind of a metric, as both exposition formats name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// One metric family (docs/metrics.md lists them all).
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    pub name: &'static str,
    pub kind: Kind,
    pub help: &'static str,
    pub labels: &'static [&'static str],
}

pub const REPLIES: Spec = Spec {
    name: "smtp_replies_total",
    kind: Kind::Counter,
    help: "SMTP replies reported by the MTA log, one per recipient or refused command.",
    labels: &[
        "source",
        "mta",
        "direction",
        "outcome",
        "class",
        "code",
        "enhanced",
        "subject",
        "domain",
        "provider",
    ],
};

pub const FAILURES: Spec = Spec {
    name: "smtp_failures_total",
    kind: Kind::Counter,
    help: "4xx/5xx replies by reason class (an ordered rule table on codes and reply text, user-extendable).",
    labels: &[
        "source",
        "mta",
        "direction",
        "class",
        "reason",
        "stage",
        "domain",
        "provider",
    ],
};

pub const EXPIRED: Spec = Spec {
    name: "smtp_expired_total",
    kind: Kind::Counter,
    help: "Expiry records: mail given up undelivered, by queue lifetime or by an administrator.",
    labels: &["source", "mta"],
};

pub const DELAY: Spec = Spec {
    name: "smtp_delivery_delay_seconds",
    kind: Kind::Histogram,
    help: "Total delay of a delivery attempt, from the time the MTA received the message, where the log gives it.",
    labels: &["source", "mta", "outcome"],
};

pub const LAST_DELIVERED: Spec = Spec {
    name: "smtp_last_delivered_timestamp_seconds",
    kind: Kind::Gauge,
    help: "Log time of the latest delivered reply to each destination (outbound), in seconds since the epoch.",
    labels: &["source", "mta", "provider", "domain"],
};

pub const LAST_FAILURE: Spec = Spec {
    name: "smtp_last_failure_timestamp_seconds",
    kind: Kind::Gauge,
    help: "Log time of the latest 4xx/5xx reply from each destination (outbound), in seconds since the epoch.",
    labels: &["source", "mta", "provider", "domain", "class"],
};

pub const CODE_INFO: Spec = Spec {
    name: "smtp_code_info",
    kind: Kind::Gauge,
    help: "What each reply code seen so far means (always 1), to join meanings onto counts.",
    labels: &["code", "class", "subject", "meaning"],
};

pub const LINES: Spec = Spec {
    name: "smtp_status_exporter_lines_total",
    kind: Kind::Counter,
    help: "Log lines read, each in exactly one result: counted, ignored or unrecognised.",
    labels: &["source", "result"],
};

pub const BYTES: Spec = Spec {
    name: "smtp_status_exporter_bytes_read_total",
    kind: Kind::Counter,
    help: "Bytes read from the log source.",
    labels: &["source"],
};

pub const ROTATIONS: Spec = Spec {
    name: "smtp_status_exporter_file_rotations_total",
    kind: Kind::Counter,
    help: "Log file rotations noticed, by kind (rename or truncate).",
    labels: &["source", "kind"],
};

pub const READ_ERRORS: Spec = Spec {
    name: "smtp_status_exporter_read_errors_total",
    kind: Kind::Counter,
    help: "I/O errors while reading the log source (permission, vanished file, ...).",
    labels: &["source"],
};

pub const ROTATED_MISSED: Spec = Spec {
    name: "smtp_status_exporter_rotated_files_missed_total",
    kind: Kind::Counter,
    help: "Rotated log files that held lines not yet counted but were gone when the exporter looked for them at a restart (said in its log too).",
    labels: &["source"],
};

pub const LABEL_OVERFLOW: Spec = Spec {
    name: "smtp_status_exporter_label_overflow_total",
    kind: Kind::Counter,
    help: "Replies whose label value was folded into \"other\" by a cardinality bound.",
    labels: &["label"],
};

pub const LAST_LINE: Spec = Spec {
    name: "smtp_status_exporter_last_line_timestamp_seconds",
    kind: Kind::Gauge,
    help: "Wall-clock time (Unix seconds) at which the last line of the source was read.",
    labels: &["source"],
};

pub const BUILD_INFO: Spec = Spec {
    name: "smtp_status_exporter_build_info",
    kind: Kind::Gauge,
    help: "Version of the exporter (always 1).",
    labels: &["version", "revision", "rustc", "external_url", "scheme"],
};

pub const QUEUE_MESSAGES: Spec = Spec {
    name: "smtp_queue_messages",
    kind: Kind::Gauge,
    help: "Messages in each queue of the MTA, read at scrape time.",
    labels: &["source", "mta", "queue"],
};

pub const QUEUE_OLDEST: Spec = Spec {
    name: "smtp_queue_oldest_message_age_seconds",
    kind: Kind::Gauge,
    help:
        "Age of the oldest message in each queue (0 when the queue is empty), read at scrape time.",
    labels: &["source", "mta", "queue"],
};

pub const QUEUE_AGE: Spec = Spec {
    name: "smtp_queue_message_age_seconds",
    kind: Kind::Histogram,
    help:
        "Ages of the messages in each queue at the time of the scrape (a snapshot, not a counter).",
    labels: &["source", "mta", "queue"],
};

pub const QUEUE_SIZE: Spec = Spec {
    name: "smtp_queue_message_size_bytes",
    kind: Kind::Histogram,
    help:
        "Sizes of the messages in each queue at the time of the scrape (a snapshot, not a counter).",
    labels: &["source", "mta", "queue"],
};

pub const QUEUE_READ_ERRORS: Spec = Spec {
    name: "smtp_status_exporter_queue_read_errors_total",
    kind: Kind::Counter,
    help: "Failed or timed-out reads of the MTA's queue (the queue gauges of that source are left out of that scrape).",
    labels: &["source"],
};

pub const DROPPED: Spec = Spec {
    name: "smtp_status_exporter_dropped_messages_total",
    kind: Kind::Counter,
    help: "Messages a syslog listener received but dropped unread, by reason (queue_full: the parser fell behind; too_large; truncated: cut by the end of a connection).",
    labels: &["source", "reason"],
};

pub const HTTP_REFUSED: Spec = Spec {
    name: "smtp_status_exporter_http_connections_refused_total",
    kind: Kind::Counter,
    help: "Connections closed unserved by a bound, by reason (per_client: the client's address held its share; global: every slot was taken). SECURITY.md says which bounds.",
    labels: &["reason"],
};

/// All families, in exposition order.
pub const ALL: &[Spec] = &[
    REPLIES,
    EXPIRED,
    DELAY,
    LAST_DELIVERED,
    LAST_FAILURE,
    CODE_INFO,
    LINES,
    BYTES,
    ROTATIONS,
    READ_ERRORS,
    ROTATED_MISSED,
    LABEL_OVERFLOW,
    LAST_LINE,
    BUILD_INFO,
    FAILURES,
    QUEUE_MESSAGES,
    QUEUE_OLDEST,
    QUEUE_AGE,
    QUEUE_SIZE,
    QUEUE_READ_ERRORS,
    DROPPED,
    HTTP_REFUSED,
];

/// Upper bounds of the delay histogram: seconds to days, since mail can wait in the queue.
pub const DELAY_BUCKETS: [f64; 14] = [
    0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 14400.0, 86400.0, 432000.0,
];
