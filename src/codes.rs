//! What reply codes mean. This holds the rules the digits alone give (RFC 5321 §4.2 for basic
//! codes, RFC 3463 §3 for the class and subject of enhanced codes); the table of individual
//! codes with their meanings and actions extends it.

use crate::parse::{BasicCode, EnhancedCode};

/// The `class` label: from the basic code, else from the enhanced code's first digit.
pub fn class_label(code: Option<BasicCode>, enhanced: Option<EnhancedCode>) -> &'static str {
    let digit = code
        .map(BasicCode::class_digit)
        .or(enhanced.map(EnhancedCode::class_digit));
    match digit {
        Some(2) => "2xx",
        Some(3) => "3xx",
        Some(4) => "4xx",
        Some(5) => "5xx",
        _ => "",
    }
}

/// The `subject` label from the enhanced code's middle number (RFC 3463 §3.1–3.8).
pub fn subject_label(enhanced: Option<EnhancedCode>) -> &'static str {
    match enhanced.map(EnhancedCode::subject) {
        Some(0) => "other",
        Some(1) => "addressing",
        Some(2) => "mailbox",
        Some(3) => "mail_system",
        Some(4) => "network",
        Some(5) => "protocol",
        Some(6) => "content",
        Some(7) => "policy",
        _ => "",
    }
}

/// What the class digit alone says.
pub fn class_meaning(digit: u8) -> &'static str {
    match digit {
        2 => "success",
        3 => "intermediate: more input expected",
        4 => "transient failure: the sender should retry later",
        5 => "permanent failure: retrying the same message will not help",
        _ => "not a reply class",
    }
}

/// What the middle digit of a basic code says (RFC 5321 §4.2.1).
fn basic_category(code: BasicCode) -> &'static str {
    match (code.get() / 10) % 10 {
        0 => "syntax",
        1 => "information",
        2 => "connection",
        5 => "mail system",
        _ => "unspecified",
    }
}

/// What the subject number of an enhanced code says (RFC 3463 §3).
fn subject_meaning(subject: u8) -> &'static str {
    match subject {
        0 => "other or undefined status",
        1 => "addressing status",
        2 => "mailbox status",
        3 => "mail system status",
        4 => "network and routing status",
        5 => "mail delivery protocol status",
        6 => "message content or media status",
        7 => "security or policy status",
        _ => "unknown subject",
    }
}

/// A one-line meaning for a basic code, from its digits.
pub fn basic_meaning(code: BasicCode) -> String {
    format!(
        "{} ({})",
        class_meaning(code.class_digit()),
        basic_category(code)
    )
}

/// A one-line meaning for an enhanced code, from its digits.
pub fn enhanced_meaning(code: EnhancedCode) -> String {
    format!(
        "{}: {}",
        class_meaning(code.class_digit()),
        subject_meaning(code.subject())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(s: &str) -> Option<EnhancedCode> {
        EnhancedCode::parse(s.as_bytes())
    }
    fn b(s: &str) -> Option<BasicCode> {
        BasicCode::parse(s.as_bytes())
    }

    #[test]
    fn class_prefers_basic_code() {
        assert_eq!(class_label(b("550"), e("4.7.1")), "5xx");
        assert_eq!(class_label(None, e("4.4.1")), "4xx");
        assert_eq!(class_label(b("250"), None), "2xx");
        assert_eq!(class_label(None, None), "");
    }

    #[test]
    fn subjects_follow_rfc3463() {
        let want = [
            "other",
            "addressing",
            "mailbox",
            "mail_system",
            "network",
            "protocol",
            "content",
            "policy",
        ];
        for (i, w) in want.iter().enumerate() {
            assert_eq!(subject_label(e(&format!("5.{i}.0"))), *w);
        }
        assert_eq!(subject_label(None), "");
    }

    #[test]
    fn meanings_from_digits() {
        assert!(basic_meaning(BasicCode::new(421).unwrap()).starts_with("transient"));
        assert!(enhanced_meaning(e("5.7.26").unwrap()).contains("policy"));
    }
}
