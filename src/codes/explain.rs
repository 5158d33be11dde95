//! `smtp-status-exporter explain CODE...`: what a code means and what to do about it.
//!
//! The arguments may be codes (`550`, `5.1.1`, `"550 5.1.1"`) or whole log lines: every code
//! in them is found (the reply a remote gave, `dsn=`, `reply=`, `smtp;550`), each once, in the
//! order of appearance.

use std::fmt::Write;

use serde::Serialize;

use super::reasons::Reasons;
use super::{describe_basic, describe_enhanced, number_class, subject_label};
use crate::parse::{BasicCode, EnhancedCode};

/// What `explain` accepts, for the message when it finds nothing.
pub const ACCEPTED: &str = "give a basic reply code (550), an enhanced status code (5.7.1), \
     both (\"421 4.7.0\"), or a whole log line that contains them";

/// A code found in the arguments. Basic codes are plain numbers here: `explain` also
/// describes `101` or `471`, which are no valid reply codes and never become labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    Basic(u16),
    Enhanced(EnhancedCode),
}

/// One object of `explain --format json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Explanation {
    pub code: String,
    pub kind: &'static str,
    pub class: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<&'static str>,
    pub known: bool,
    pub meaning: String,
    pub action: String,
    pub source: String,
    /// For a 4xx/5xx code: the reason class (`smtp_failures_total{reason}`) of the whole
    /// argument it was found in, read as a reply (codes and text).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// For a code found in a whole log line: what the line counts as.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub line: Option<LineFacts>,
}

/// What a whole log line yields, as the labels it is counted under (the first recipient's,
/// where it names several).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LineFacts {
    pub direction: String,
    pub outcome: String,
    pub provider: String,
    pub stage: String,
    pub domain: String,
}

#[derive(Debug, Clone, Copy)]
enum Token {
    Code(Found),
    Other,
}

fn token(s: &str) -> Token {
    let b = s.as_bytes();
    if b.len() == 3 && b.iter().all(u8::is_ascii_digit) && (b'1'..=b'5').contains(&b[0]) {
        let n = b.iter().fold(0u16, |acc, d| acc * 10 + u16::from(d - b'0'));
        return Token::Code(Found::Basic(n));
    }
    match EnhancedCode::parse(b) {
        Some(e) => Token::Code(Found::Enhanced(e)),
        None => Token::Other,
    }
}

/// The words of `text` that may be codes, with the punctuation of log lines taken off:
/// `dsn=5.1.1,` gives `5.1.1`, `smtp;550` gives `550`, `550-5.1.1` gives both.
fn tokens(text: &str) -> Vec<Token> {
    let mut out = Vec::new();
    for word in text.split_whitespace() {
        for part in word.split(['=', ';']) {
            let part = part
                .trim_start_matches(['(', '[', '<', '"', '\'', '{'])
                .trim_end_matches([')', ']', '>', ',', ';', ':', '.', '"', '\'', '}']);
            if part.is_empty() {
                continue;
            }
            // A continuation line of a multi-line reply: `550-5.1.1` or `421-Too`.
            match part.split_once('-') {
                Some((code, rest))
                    if code.len() == 3 && code.bytes().all(|c| c.is_ascii_digit()) =>
                {
                    out.push(token(code));
                    if !rest.is_empty() {
                        out.push(token(rest));
                    }
                }
                _ => out.push(token(part)),
            }
        }
    }
    out
}

/// Every code in one argument. An argument made of codes only is taken as it is (`199` too);
/// in a longer text, where any number may appear, a three-digit number counts when the table
/// knows it or an enhanced code of the same class follows it (`559 5.7.1`).
pub fn find_codes(text: &str) -> Vec<Found> {
    let toks = tokens(text);
    let only_codes = !toks.is_empty() && toks.iter().all(|t| matches!(t, Token::Code(_)));
    let mut out: Vec<Found> = Vec::new();
    for (i, t) in toks.iter().enumerate() {
        let Token::Code(found) = *t else { continue };
        let keep = match found {
            Found::Enhanced(_) => true,
            Found::Basic(_) if only_codes => true,
            Found::Basic(n) => {
                super::basic_entry(n).is_some()
                    || (BasicCode::new(n).is_some()
                        && matches!(toks.get(i + 1),
                            Some(Token::Code(Found::Enhanced(e))) if u16::from(e.class_digit()) == n / 100))
            }
        };
        if keep && !out.contains(&found) {
            out.push(found);
        }
    }
    out
}

/// Every code of every argument, each once, in order.
pub fn find_in_args<S: AsRef<str>>(args: &[S]) -> Vec<Found> {
    let mut out = Vec::new();
    for a in args {
        for f in find_codes(a.as_ref()) {
            if !out.contains(&f) {
                out.push(f);
            }
        }
    }
    out
}

/// What the table (or the digits) say about one code.
pub fn explain(found: Found) -> Explanation {
    match found {
        Found::Basic(n) => {
            let d = describe_basic(n);
            Explanation {
                code: n.to_string(),
                kind: "basic",
                class: number_class(n),
                subject: None,
                known: d.known,
                meaning: d.meaning.into_owned(),
                action: d.action.into_owned(),
                source: d.source.into_owned(),
                reason: None,
                line: None,
            }
        }
        Found::Enhanced(e) => {
            let d = describe_enhanced(e);
            Explanation {
                code: e.to_string(),
                kind: "enhanced",
                class: super::class_label(None, Some(e)),
                subject: Some(subject_label(Some(e))),
                known: d.known,
                meaning: d.meaning.into_owned(),
                action: d.action.into_owned(),
                source: d.source.into_owned(),
                reason: None,
                line: None,
            }
        }
    }
}

/// The reason class of one argument read as a reply: its first valid basic code, its first
/// enhanced code and its whole text; `None` unless that is a 4xx/5xx failure.
pub fn reason_of(arg: &str, reasons: &Reasons) -> Option<String> {
    let found = find_codes(arg);
    let code = found.iter().find_map(|f| match f {
        Found::Basic(n) => BasicCode::new(*n),
        Found::Enhanced(_) => None,
    });
    let enhanced = found.iter().find_map(|f| match f {
        Found::Enhanced(e) => Some(*e),
        Found::Basic(_) => None,
    });
    let class = code
        .map(BasicCode::class_digit)
        .or(enhanced.map(EnhancedCode::class_digit));
    matches!(class, Some(4 | 5)).then(|| {
        reasons
            .name(reasons.classify(code, enhanced, arg.as_bytes()))
            .to_owned()
    })
}

/// The command: the explanations of every code in `args`, as text or as JSON; `None` when
/// the arguments hold no code. `line_facts` reads an argument as a log line (the caller has
/// the parsers; `None` when it is none).
pub fn run<S: AsRef<str>>(
    args: &[S],
    json: bool,
    reasons: &Reasons,
    line_facts: &dyn Fn(&str) -> Option<LineFacts>,
) -> Option<String> {
    let list: Vec<Explanation> = find_in_args(args)
        .into_iter()
        .map(|f| {
            let mut x = explain(f);
            // The reason of the first argument the code is in, for a failure code.
            let class_fails = matches!(x.class, "4xx" | "5xx");
            let arg = args.iter().find(|a| find_codes(a.as_ref()).contains(&f));
            x.reason = arg
                .filter(|_| class_fails)
                .and_then(|a| reason_of(a.as_ref(), reasons));
            x.line = arg.and_then(|a| line_facts(a.as_ref()));
            x
        })
        .collect();
    if list.is_empty() {
        return None;
    }
    Some(if json {
        render_json(&list)
    } else {
        render_text(&list)
    })
}

pub fn render_json(list: &[Explanation]) -> String {
    let mut s = serde_json::to_string_pretty(list).unwrap_or_else(|_| "[]".to_owned());
    s.push('\n');
    s
}

/// Width the text output wraps at.
const WIDTH: usize = 100;

pub fn render_text(list: &[Explanation]) -> String {
    let mut out = String::new();
    for (i, x) in list.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let digit = x.class.bytes().next().map_or(0, |c| c.wrapping_sub(b'0'));
        let class = if x.class.is_empty() {
            "none".to_owned()
        } else {
            format!("{} ({})", x.class, super::class_meaning(digit))
        };
        let _ = match x.subject {
            Some(s) => writeln!(out, "{}: enhanced code, class {class}, subject {s}", x.code),
            None => writeln!(out, "{}: basic code, class {class}", x.code),
        };
        if !x.known {
            let _ = writeln!(out, "  not in the table: this is what the digits tell");
        }
        wrapped(&mut out, "meaning:    ", &x.meaning);
        wrapped(&mut out, "what to do: ", &x.action);
        wrapped(&mut out, "source:     ", &x.source);
        if let Some(r) = &x.reason {
            wrapped(
                &mut out,
                "reason:     ",
                &format!(
                    "{r} (the reason class of the whole reply, as smtp_failures_total counts it)"
                ),
            );
        }
        if let Some(l) = &x.line {
            let or_none = |s: &str| {
                if s.is_empty() {
                    "none".to_owned()
                } else {
                    s.to_owned()
                }
            };
            wrapped(
                &mut out,
                "the line:   ",
                &format!(
                    "{} {}, domain {}, provider {}, stage {}",
                    l.direction,
                    l.outcome,
                    or_none(&l.domain),
                    or_none(&l.provider),
                    if l.stage.is_empty() {
                        "not logged".to_owned()
                    } else {
                        l.stage.clone()
                    },
                ),
            );
        }
    }
    out
}

/// `  label text...`, continued lines indented under the text.
fn wrapped(out: &mut String, label: &str, text: &str) {
    let indent = 2 + label.len();
    let mut line = format!("  {label}");
    let mut empty = true;
    for word in text.split_whitespace() {
        if !empty && line.len() + 1 + word.len() > WIDTH {
            let _ = writeln!(out, "{line}");
            line = " ".repeat(indent);
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(word);
        empty = false;
    }
    let _ = writeln!(out, "{}", line.trim_end());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(text: &str) -> Vec<String> {
        find_codes(text)
            .into_iter()
            .map(|f| match f {
                Found::Basic(n) => n.to_string(),
                Found::Enhanced(e) => e.to_string(),
            })
            .collect()
    }

    #[test]
    fn plain_codes() {
        assert_eq!(codes("550"), ["550"]);
        assert_eq!(codes("5.1.1"), ["5.1.1"]);
        assert_eq!(codes("550 5.1.1"), ["550", "5.1.1"]);
        assert_eq!(codes("4.7.28"), ["4.7.28"]);
        // Not a valid reply code, but explained all the same.
        assert_eq!(codes("101"), ["101"]);
        assert_eq!(codes("199"), ["199"]);
        assert!(codes("999").is_empty());
        assert!(codes("hello").is_empty());
        assert!(codes("5.8.1").is_empty());
    }

    #[test]
    fn codes_in_log_lines() {
        let postfix = "Nov 23 02:12:58 mx postfix/smtp[10732]: 1CA9A98C: to=<u@example.net>, \
            relay=mx.example.net[192.0.2.1]:25, delay=0.3, delays=0.01/0.02/0.1/0.2, dsn=5.1.1, \
            status=bounced (host mx.example.net[192.0.2.1] said: 550-5.1.1 The email account \
            that you tried to reach does not exist. 550 5.1.1 Please check (in reply to RCPT TO command))";
        assert_eq!(codes(postfix), ["5.1.1", "550"]);
        let reject = "Nov 23 02:12:58 mx postfix/smtpd[1]: NOQUEUE: reject: RCPT from \
            x[203.0.113.9]: 554 5.7.1 Service unavailable; Client host [203.0.113.9] blocked; \
            from=<a@b> to=<c@d> proto=ESMTP helo=<x>";
        assert_eq!(codes(reject), ["554", "5.7.1"]);
        // A number of the text is no code; an unknown code followed by its enhanced code is.
        assert_eq!(
            codes("Too many recipients (max 300) 452 4.5.3"),
            ["452", "4.5.3"]
        );
        assert_eq!(codes("said: 559 5.7.1 go away"), ["559", "5.7.1"]);
        assert_eq!(
            codes("dsnDiag=smtp;550 5.7.509 Access denied"),
            ["550", "5.7.509"]
        );
    }

    #[test]
    fn explanations() {
        let x = explain(Found::Enhanced(EnhancedCode::parse(b"5.7.26").unwrap()));
        assert_eq!(
            (x.kind, x.class, x.subject),
            ("enhanced", "5xx", Some("policy"))
        );
        assert!(x.known && !x.action.is_empty());
        let x = explain(Found::Basic(111));
        assert_eq!((x.kind, x.class, x.subject), ("basic", "1xx", None));
        assert!(x.known);
        let x = explain(Found::Basic(599));
        assert!(!x.known && x.meaning.starts_with("permanent"));
        let json = render_json(&[x]);
        assert!(json.contains("\"known\": false") && !json.contains("subject"));
    }

    #[test]
    fn reasons_of_whole_replies() {
        let r = Reasons::default();
        let spamhaus = "550 5.7.1 Service unavailable; client host blocked using Spamhaus";
        assert_eq!(reason_of(spamhaus, &r).as_deref(), Some("blocklisted"));
        assert_eq!(reason_of("250 2.0.0 Ok", &r), None);
        let json = run(&[spamhaus], true, &r, &|_| None).unwrap();
        let v: Vec<serde_json::Value> = serde_json::from_str(&json).unwrap();
        assert_eq!(v.len(), 2);
        assert!(v.iter().all(|x| x["reason"] == "blocklisted"), "{json}");
        let text = run(&[spamhaus], false, &r, &|_| None).unwrap();
        assert!(text.contains("reason:     blocklisted"), "{text}");
    }

    #[test]
    fn nothing_found() {
        let r = Reasons::default();
        assert!(run(&["nothing here"], false, &r, &|_| None).is_none());
        let text = run(&["550", "550 5.1.1"], false, &r, &|_| None).unwrap();
        assert_eq!(text.matches("550: basic code").count(), 1, "{text}");
        assert!(text.contains("5.1.1: enhanced code"));
    }
}
