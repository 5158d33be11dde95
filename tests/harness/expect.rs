//! What the end-to-end tests of real MTAs expect: the `smtp_replies_total` labels a reply must
//! get (DESIGN.md §2), worked out from what the scripted sink answered and the client was told
//! — never from the exporter — and the seeded, repeatable choice of scripted replies that makes
//! each test's mail.

use super::metrics::{self, Labels};

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
