//! Static checks of PromQL text (rules, alert templates, dashboard panels) against the one list
//! of metrics the exporter serves (`src/aggregate/metrics.rs`): every metric name an expression
//! names must exist, and every label it groups, joins or matches on must be one of theirs. A
//! renamed metric or label then fails the build before any server runs.

use std::collections::BTreeSet;

use smtp_status_exporter::aggregate::metrics::{Kind, ALL};

/// Every series name the exporter serves (histograms with `_bucket`, `_sum`, `_count`), plus
/// Prometheus' own `up`.
pub fn metric_names() -> BTreeSet<String> {
    let mut names = BTreeSet::from(["up".to_owned()]);
    for spec in ALL {
        match spec.kind {
            Kind::Histogram => {
                for suffix in ["_bucket", "_sum", "_count"] {
                    names.insert(format!("{}{suffix}", spec.name));
                }
            }
            Kind::Counter | Kind::Gauge => {
                names.insert(spec.name.to_owned());
            }
        }
    }
    names
}

/// Every label a series can carry: the exporter's, the scrape's (`job`, `instance`), `le` of
/// histogram buckets and `__name__`.
pub fn label_names() -> BTreeSet<String> {
    let mut labels: BTreeSet<String> = ["job", "instance", "le", "__name__"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    for spec in ALL {
        labels.extend(spec.labels.iter().map(|l| (*l).to_owned()));
    }
    labels
}

/// Identifiers as PromQL reads them (`[A-Za-z_:][A-Za-z0-9_:]*`), in order, strings included
/// (alert templates hold queries inside strings).
pub fn identifiers(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for c in text.chars() {
        let continues = c.is_ascii_alphanumeric() || c == '_' || c == ':';
        let starts = c.is_ascii_alphabetic() || c == '_' || c == ':';
        if (cur.is_empty() && starts) || (!cur.is_empty() && continues) {
            cur.push(c);
        } else if !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Whether a name has the `level:metric:operations` shape of a recording rule.
pub fn is_recording_name(name: &str) -> bool {
    let parts: Vec<&str> = name.split(':').collect();
    parts.len() == 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        })
}

/// The label names in the label lists of `by`, `without`, `on`, `ignoring`, `group_left` and
/// `group_right`, and on the left of the matchers of `{…}` selectors (`{{…}}` template actions
/// are skipped).
pub fn label_references(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    while i < chars.len() {
        let c = chars[i];
        if c == '{' && chars.get(i + 1) == Some(&'{') {
            // A Go template action: skip to its end.
            while i + 1 < chars.len() && !(chars[i] == '}' && chars[i + 1] == '}') {
                i += 1;
            }
            i += 2;
            continue;
        }
        if c == '{' {
            // A selector: name op "value", … up to the closing brace.
            i += 1;
            loop {
                while i < chars.len() && (chars[i] == ' ' || chars[i] == ',' || chars[i] == '\n') {
                    i += 1;
                }
                if i >= chars.len() || chars[i] == '}' {
                    break;
                }
                let start = i;
                while i < chars.len() && ident(chars[i]) {
                    i += 1;
                }
                if i > start {
                    out.push(chars[start..i].iter().collect());
                }
                // Skip the operator and the value (quoted, or a template's %q).
                while i < chars.len() && chars[i] != ',' && chars[i] != '}' {
                    if chars[i] == '"' || chars[i] == '`' {
                        let q = chars[i];
                        i += 1;
                        while i < chars.len() && chars[i] != q {
                            if chars[i] == '\\' {
                                i += 1;
                            }
                            i += 1;
                        }
                    }
                    i += 1;
                }
            }
            i += 1;
            continue;
        }
        if ident(c) && (i == 0 || !ident(chars[i - 1])) {
            let start = i;
            while i < chars.len() && ident(chars[i]) {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let mut j = i;
            while j < chars.len() && chars[j] == ' ' {
                j += 1;
            }
            let grouping = matches!(
                word.as_str(),
                "by" | "without" | "on" | "ignoring" | "group_left" | "group_right"
            );
            if grouping && chars.get(j) == Some(&'(') {
                let end = chars[j..]
                    .iter()
                    .position(|&c| c == ')')
                    .map_or(chars.len(), |p| j + p);
                let list: String = chars[j + 1..end].iter().collect();
                out.extend(
                    list.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned),
                );
                i = end;
            }
            continue;
        }
        i += 1;
    }
    out
}

/// What in `text` is not served by the exporter: metric names (tokens starting with `smtp_`)
/// not in [`metric_names`], recording-rule names not in `recorded`, labels not in
/// [`label_names`]. Empty when all is well.
pub fn unknown_names(text: &str, recorded: &BTreeSet<String>) -> Vec<String> {
    let metrics = metric_names();
    let labels = label_names();
    let mut bad = Vec::new();
    for id in identifiers(text) {
        if is_recording_name(&id) {
            if !recorded.contains(&id) {
                bad.push(format!("recording rule `{id}` (not defined)"));
            }
        } else if id.starts_with("smtp_") && !id.contains(':') && !metrics.contains(&id) {
            bad.push(format!("metric `{id}`"));
        }
    }
    for l in label_references(text) {
        if !labels.contains(&l) {
            bad.push(format!("label `{l}`"));
        }
    }
    bad.sort();
    bad.dedup();
    bad
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_labels_of_groupings_and_selectors_but_not_templates() {
        let e = r#"sum by (code, enhanced) (rate(smtp_replies_total{instance=%q, domain!~"|other"}[5m])) * on (enhanced) group_left (meaning) x {{ $labels.source }}"#;
        assert_eq!(
            label_references(e),
            ["code", "enhanced", "instance", "domain", "enhanced", "meaning"]
        );
        assert!(unknown_names(e, &BTreeSet::new()).is_empty());
        assert_eq!(
            unknown_names("sum by (enhance) (smtp_replie_total)", &BTreeSet::new()),
            ["label `enhance`", "metric `smtp_replie_total`"]
        );
    }
}
