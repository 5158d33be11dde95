//! Links to the exporter's `/failures` page, as the alert rules and the dashboards write them:
//! the filters the page takes, and a link's query string split into its parameters, so that
//! tests/it/alert_links.rs and tests/it/dashboards.rs check every link against one list.

/// The query parameters of `/failures` that filter by a label of `smtp_failures_total` or
/// `smtp_replies_total` (an unknown parameter is a 400).
pub const LABEL_FILTERS: [&str; 12] = [
    "source",
    "mta",
    "direction",
    "outcome",
    "class",
    "code",
    "enhanced",
    "reason",
    "stage",
    "domain",
    "provider",
    "queue_id",
];

/// The other parameters: how far back, how many.
pub const OTHER_PARAMETERS: [&str; 2] = ["since", "limit"];

/// The `key=value` pairs of a query string, in order (values as written, not decoded).
pub fn parameters(query: &str) -> Vec<(&str, &str)> {
    query
        .split('&')
        .map(|p| p.split_once('=').unwrap_or((p, "")))
        .collect()
}

/// A `since` value as the page reads it: a number and a unit (`30m`, `1h`, `2d`).
pub fn is_duration(v: &str) -> bool {
    let digits = v.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = &v[digits.len()..];
    !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && ["s", "m", "h", "d"].contains(&unit)
}
