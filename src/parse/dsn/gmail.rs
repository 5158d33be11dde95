//! Gmail human-readable bounces (layout 3 of the list in [`super`]).

use super::{address_after, lone_address, DsnReply};
use crate::parse::Outcome;

/// The sentences after which Gmail puts the remote reply, on the same line or the next ones.
pub(super) const GMAIL_MARKERS: [&str; 3] = [
    "The response from the remote server was:",
    "The error that the other server returned was:",
    "The response was:",
];

/// Gmail's bounce says in words whether it will retry.
fn gmail_outcome(text: &str) -> Outcome {
    if [
        "temporary problem",
        "temporary failure",
        "will retry",
        "has been delayed",
    ]
    .iter()
    .any(|m| text.contains(m))
    {
        Outcome::Deferred
    } else {
        Outcome::Bounced
    }
}

/// The recipient Gmail names in its sentence, or on a line of its own after "Delivery to the
/// following recipient …".
fn gmail_recipient(text: &str) -> &str {
    address_after(
        text,
        &[
            "wasn't delivered to ",
            "problem delivering your message to ",
        ],
    )
    .or_else(|| {
        let (_, after) = text.split_once("Delivery to the following recipient")?;
        after.lines().skip(1).find_map(lone_address)
    })
    .unwrap_or_default()
}

pub(super) fn gmail(text: &str) -> Vec<DsnReply> {
    let outcome = gmail_outcome(text);
    let recipient = gmail_recipient(text);
    let mut out = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let Some((_, same_line)) = GMAIL_MARKERS.iter().find_map(|m| line.split_once(m)) else {
            continue;
        };
        // The reply: the rest of the line, or the non-empty lines that follow, joined (a
        // multi-line reply is one).
        let mut parts: Vec<&str> = Vec::new();
        let same_line = same_line.trim();
        if !same_line.is_empty() {
            parts.push(same_line);
        }
        let follow: Vec<&str> = lines
            .by_ref()
            .map(str::trim)
            .skip_while(|l| l.is_empty() && parts.is_empty())
            .take_while(|l| !l.is_empty())
            .collect();
        parts.extend(follow);
        let reply = parts.join(" ");
        if reply.is_empty() {
            continue;
        }
        out.push(DsnReply::quoted(outcome, recipient, reply));
    }
    out
}
