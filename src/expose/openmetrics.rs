//! The OpenMetrics 1.0 text format, written from the same metric families as the classic text
//! format. The `prometheus` crate encodes only the classic format; the differences are small
//! (family names without `_total`, `info` families, canonical `le` values, `# EOF`) and are all
//! here.

use std::fmt::Write;

use prometheus::proto::{LabelPair, Metric, MetricFamily, MetricType};

use crate::aggregate::Exemplar;

/// The exemplars of one counter family: one per series, in the family's order.
#[derive(Debug, Clone, Copy)]
pub struct Exemplars<'a> {
    pub family: &'a str,
    pub each: &'a [Option<Exemplar>],
}

/// Encodes families as an OpenMetrics exposition ending in `# EOF`.
pub fn encode(families: &[MetricFamily], exemplars: &Exemplars<'_>) -> String {
    let mut out = String::with_capacity(4096);
    for f in families {
        let name = f.name();
        let (family_name, kind) = match f.get_field_type() {
            MetricType::COUNTER => (name.strip_suffix("_total").unwrap_or(name), "counter"),
            // A constant-1 gauge named `_info` is what OpenMetrics calls an info family.
            MetricType::GAUGE if name.ends_with("_info") => {
                (name.strip_suffix("_info").unwrap_or(name), "info")
            }
            MetricType::GAUGE => (name, "gauge"),
            MetricType::HISTOGRAM => (name, "histogram"),
            MetricType::SUMMARY => (name, "summary"),
            MetricType::UNTYPED => (name, "unknown"),
        };
        let _ = writeln!(out, "# TYPE {family_name} {kind}");
        let _ = writeln!(out, "# HELP {family_name} {}", escape(f.help()));
        let with_exemplars = (name == exemplars.family).then_some(exemplars.each);
        for (i, m) in f.get_metric().iter().enumerate() {
            match f.get_field_type() {
                MetricType::COUNTER => {
                    sample(
                        &mut out,
                        name,
                        m.get_label(),
                        None,
                        m.get_counter().get_value(),
                    );
                    if let Some(Some(e)) = with_exemplars.and_then(|all| all.get(i)) {
                        exemplar(&mut out, e);
                    }
                }
                MetricType::GAUGE => sample(
                    &mut out,
                    name,
                    m.get_label(),
                    None,
                    m.get_gauge().get_value(),
                ),
                MetricType::HISTOGRAM => histogram(&mut out, name, m),
                // The exporter makes no summaries or untyped metrics.
                MetricType::SUMMARY | MetricType::UNTYPED => {}
            }
        }
    }
    out.push_str("# EOF\n");
    out
}

/// Turns the sample line just written into `… # {queue_id="…"} 1.0 <log time>`: one failure,
/// the latest of the series that had a queue id.
fn exemplar(out: &mut String, e: &Exemplar) {
    if out.ends_with('\n') {
        out.pop();
    }
    let _ = writeln!(
        out,
        " # {{queue_id=\"{}\"}} 1.0 {:.3}",
        escape(e.queue_id.as_str()),
        e.at
    );
}

fn histogram(out: &mut String, name: &str, m: &Metric) {
    let h = m.get_histogram();
    let bucket = format!("{name}_bucket");
    for b in h.get_bucket() {
        let le = number(b.upper_bound());
        sample(
            out,
            &bucket,
            m.get_label(),
            Some(&le),
            b.cumulative_count() as f64,
        );
    }
    sample(
        out,
        &bucket,
        m.get_label(),
        Some("+Inf"),
        h.get_sample_count() as f64,
    );
    sample(
        out,
        &format!("{name}_sum"),
        m.get_label(),
        None,
        h.get_sample_sum(),
    );
    sample(
        out,
        &format!("{name}_count"),
        m.get_label(),
        None,
        h.get_sample_count() as f64,
    );
}

fn sample(out: &mut String, name: &str, labels: &[LabelPair], le: Option<&str>, value: f64) {
    out.push_str(name);
    if !labels.is_empty() || le.is_some() {
        out.push('{');
        let mut first = true;
        let extra = le.map(|v| ("le", v));
        for (k, v) in labels.iter().map(|l| (l.name(), l.value())).chain(extra) {
            if !first {
                out.push(',');
            }
            first = false;
            let _ = write!(out, "{k}=\"{}\"", escape(v));
        }
        out.push('}');
    }
    let _ = writeln!(out, " {}", number(value));
}

/// Canonical numbers: `1.0` rather than `1` for bucket bounds and values alike, `+Inf`, `NaN`.
fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_owned()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.to_owned()
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.1}")
    } else {
        format!("{v}")
    }
}

fn escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '"' => o.push_str("\\\""),
            _ => o.push(c),
        }
    }
    o
}
