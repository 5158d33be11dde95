//! What the end-to-end tests of real MTAs expect: the `smtp_replies_total` labels a reply must
//! get (its class, subject, direction and domain), worked out from what the scripted sink
//! answered and the client was told — never from the exporter — and the seeded, repeatable
//! choice of scripted replies that makes each test's mail.

use std::collections::{BTreeMap, BTreeSet};

use super::metrics::{self, Labels};
use super::sink::Script;

/// A small linear congruential generator: the same mail on every run, no dependency.
pub struct Lcg(pub u64);

impl Lcg {
    pub fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// One of `weighted`, each as likely as its weight; `None` only when all weights are 0.
    pub fn pick<'a, T>(&mut self, weighted: &'a [(T, u32)]) -> Option<&'a T> {
        let total: u32 = weighted.iter().map(|(_, w)| w).sum();
        if total == 0 {
            return None;
        }
        let mut at = self.below(u64::from(total)) as u32;
        weighted.iter().find_map(|(t, w)| {
            if at < *w {
                Some(t)
            } else {
                at -= w;
                None
            }
        })
    }
}

/// The `domain` label of an address: its domain, lower-cased.
pub fn domain_of(addr: &str) -> String {
    addr.rsplit_once('@')
        .map(|(_, d)| d.to_ascii_lowercase())
        .unwrap_or_default()
}

/// The `class` label: from the basic code, else from the enhanced code's first digit.
pub fn class_of(code: &str, enhanced: &str) -> String {
    let digit = code.chars().next().or_else(|| enhanced.chars().next());
    digit.map(|d| format!("{d}xx")).unwrap_or_default()
}

/// The `subject` label: from the enhanced code's middle number.
pub fn subject_of(enhanced: &str) -> &'static str {
    match enhanced.split('.').nth(1) {
        Some("0") => "other",
        Some("1") => "addressing",
        Some("2") => "mailbox",
        Some("3") => "mail_system",
        Some("4") => "network",
        Some("5") => "protocol",
        Some("6") => "content",
        Some("7") => "policy",
        _ => "",
    }
}

/// The labels of one `smtp_replies_total` series but `source`.
pub fn reply_labels_of(
    mta: &str,
    direction: &str,
    outcome: &str,
    code: &str,
    enhanced: &str,
    domain: &str,
) -> Labels {
    metrics::labels(&[
        ("mta", mta),
        ("direction", direction),
        ("outcome", outcome),
        ("class", &class_of(code, enhanced)),
        ("code", code),
        ("enhanced", enhanced),
        ("subject", subject_of(enhanced)),
        ("domain", domain),
    ])
}

/// The labels of one `smtp_replies_total` series of a source named after its MTA.
pub fn reply_labels(
    mta: &str,
    direction: &str,
    outcome: &str,
    code: &str,
    enhanced: &str,
    domain: &str,
) -> Labels {
    let mut l = reply_labels_of(mta, direction, outcome, code, enhanced, domain);
    l.insert("source".into(), mta.into());
    l
}

/// One message a test sends through the MTA to the sink.
pub struct Outbound {
    pub id: String,
    pub sender: String,
    pub rcpts: Vec<String>,
}

/// `messages` messages of one to four recipients each (seeded: the same on every run), each
/// recipient's local part asking the sink for one reply of `catalogue` (by weight), at one of
/// `sinks` or, one in twelve, at `down` (a closed port); every seventh domain upper-cased.
pub fn outbound_plan(
    messages: usize,
    catalogue: &[(Script, u32)],
    down: &str,
    sinks: &[&str],
    sender_domain: &str,
) -> Vec<Outbound> {
    let mut rng = Lcg(0x5e4d_3a11);
    let mut nth = 0usize;
    (0..messages)
        .map(|m| {
            let id = format!("m{m:04}");
            let n = if rng.below(10) < 5 {
                1
            } else {
                2 + rng.below(3) as usize
            };
            let rcpts = (0..n)
                .map(|i| {
                    nth += 1;
                    let script = rng.pick(catalogue).cloned().unwrap_or_else(Script::accept);
                    let local = script.local_part(&format!("{id}r{i}"));
                    let domain = if rng.below(12) == 0 || sinks.is_empty() {
                        down.to_owned()
                    } else {
                        sinks[rng.below(sinks.len() as u64) as usize].to_owned()
                    };
                    let domain = match nth % 7 {
                        0 => domain.to_ascii_uppercase(),
                        _ => domain,
                    };
                    format!("{local}@{domain}")
                })
                .collect();
            Outbound {
                sender: format!("r250-sender-{id}@{sender_domain}"),
                id,
                rcpts,
            }
        })
        .collect()
}

/// The series a test expects of `smtp_replies_total`, and its expiries.
#[derive(Default)]
pub struct Expected {
    pub replies: BTreeMap<Labels, f64>,
    pub expired: f64,
}

impl Expected {
    pub fn add(&mut self, l: Labels) {
        *self.replies.entry(l).or_default() += 1.0;
    }

    /// The replies of one direction and outcome.
    pub fn sum(&self, dir: &str, outcome: &str) -> f64 {
        self.replies
            .iter()
            .filter(|(l, _)| l["direction"] == dir && l["outcome"] == outcome)
            .map(|(_, v)| v)
            .sum()
    }

    /// For a failing assertion's message: `expired N`, then `COUNT {labels}` a line.
    pub fn dump(&self) -> String {
        let mut s = format!("expired {}\n", self.expired);
        for (l, v) in &self.replies {
            let l: Vec<String> = l.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
            s.push_str(&format!("{v} {{{}}}\n", l.join(",")));
        }
        s
    }
}

/// The series whose counts differ, one line each, for a failing assertion's message.
pub fn diff(expected: &BTreeMap<Labels, f64>, got: &BTreeMap<Labels, f64>) -> String {
    let keys: BTreeSet<&Labels> = expected.keys().chain(got.keys()).collect();
    let mut s = String::new();
    for k in keys {
        let (e, g) = (expected.get(k), got.get(k));
        if e != g {
            let l: Vec<String> = k.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
            let show = |v: Option<&f64>| v.map_or("-".to_owned(), |v| v.to_string());
            s.push_str(&format!(
                "  expected {:>5}  got {:>5}  {{{}}}\n",
                show(e),
                show(g),
                l.join(",")
            ));
        }
    }
    s
}

/// The series of `m` with a count (a scraped counter may show zeros the expectation lacks).
pub fn nonzero(m: BTreeMap<Labels, f64>) -> BTreeMap<Labels, f64> {
    m.into_iter().filter(|(_, v)| *v != 0.0).collect()
}

/// One list of `replay --format json` (`replies`, `failures`, …) as labels → value.
pub fn replay_series(v: &serde_json::Value, key: &str) -> Result<BTreeMap<Labels, f64>, String> {
    let arr = v
        .get(key)
        .and_then(|a| a.as_array())
        .ok_or_else(|| format!("replay JSON has no {key:?} array: {v}"))?;
    arr.iter()
        .map(|e| {
            let labels = e
                .get("labels")
                .and_then(|l| l.as_object())
                .ok_or_else(|| format!("entry without labels: {e}"))?
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                .collect();
            let value = e
                .get("value")
                .and_then(|v| v.as_f64())
                .ok_or_else(|| format!("entry without a numeric value: {e}"))?;
            Ok((labels, value))
        })
        .collect()
}
