//! The notices of the big providers in prose, when no report part came with them: Exchange /
//! Microsoft 365 NDRs (layout 2 of the list in [`super`]), Gmail's bounces (layout 3) and
//! Google Groups' refusals (layout 5).

use super::text::{address_after, lone_address, reply_codes};
use super::DsnReply;
use crate::parse::Outcome;

pub(super) const EXCHANGE_MARKERS: [&str; 4] = [
    "Remote Server returned '",
    "Diagnostic information for administrators",
    "More Info for Email Admins",
    "Reported error:",
];

/// The reply on one line of an Exchange notice's administrators' section, if it has one.
fn exchange_reply(line: &str) -> Option<&str> {
    if let Some((_, after)) = line.split_once("Remote Server returned '") {
        // The reply ends at the last quote of the line (the reply may contain quotes).
        return Some(after.rsplit_once('\'').map_or(after, |(r, _)| r));
    }
    if let Some((_, after)) = line.split_once("Reported error:") {
        return Some(after);
    }
    let (_, after) = line.split_once('#')?;
    if after.starts_with('<') {
        // `mx.contoso.com #<mx.contoso.com #5.7.1 smtp;530 5.7.1 Client was not
        // authenticated> #SMTP#`: the remote reply follows `smtp;`.
        let (_, reply) = after.split_once("smtp;")?;
        return Some(reply.split_once('>').map_or(reply, |(r, _)| r));
    }
    // `#550 5.1.1 RESOLVER.ADR.RecipNotFound; not found ##`
    after
        .trim_end()
        .strip_suffix("##")
        .filter(|r| reply_codes(r) != (None, None))
}

/// The remote server an Exchange diagnostic line names before its `#` (`mx.contoso.com
/// #<mx.contoso.com #5.7.1 smtp;530 …> #SMTP#`, `mx.contoso.com #552 5.2.2 … ##`): the host
/// that gave the reply. A line starting with `#` names none (Exchange's own verdict).
fn exchange_host(line: &str) -> Option<&str> {
    let (host, _) = line.split_once(" #")?;
    let host = host.trim();
    (host.contains('.') && !host.contains(char::is_whitespace)).then_some(host)
}

pub(super) fn exchange(text: &str) -> Vec<DsnReply> {
    let outcome = if text.contains("Delivery is delayed") {
        Outcome::Deferred
    } else {
        Outcome::Bounced
    };
    // Replies are read in the administrators' section where there is one: the part for the
    // sender repeats the addresses in prose. The returned headers are not read.
    let section = [
        "Diagnostic information for administrators",
        "More Info for Email Admins",
    ]
    .iter()
    .find_map(|m| text.find(m).and_then(|i| text.get(i..)))
    .unwrap_or(text);
    let section = ["Original message headers", "Original Message Headers"]
        .iter()
        .find_map(|m| section.find(m).and_then(|i| section.get(..i)))
        .unwrap_or(section);
    // Microsoft 365's layout names the recipient once, at the top.
    let named = address_after(text, &["Your message to ", "Delivery has failed to "]);
    let mut out = Vec::new();
    let mut recipient: Option<&str> = None;
    for line in section.lines() {
        if let Some(a) = lone_address(line) {
            recipient = Some(a);
            continue;
        }
        let Some(reply) = exchange_reply(line) else {
            continue;
        };
        let reply = reply.trim();
        let recipient = recipient.take().or(named).unwrap_or_default();
        let mut r = DsnReply::quoted(outcome, recipient, reply.to_owned());
        r.relay = exchange_host(line).unwrap_or_default().to_owned();
        out.push(r);
    }
    out
}

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

/// Google Groups' refusal of a post: no code, written in the sender's language, signed
/// with its help centre's address; the group is named in `X-Failed-Recipients`. The text
/// kept is the sentence that names the group (`… the group you tried to contact (name) may
/// not exist, or you may not have permission to post …`).
pub(super) fn google_groups(text: &str, failed: Option<&str>) -> Option<Vec<DsnReply>> {
    if !text.contains("https://groups.google.com/support") {
        return None;
    }
    let replies: Vec<DsnReply> = failed?
        .split(',')
        .filter_map(|a| lone_address(a.trim()))
        .map(|addr| {
            let group = addr.split('@').next().unwrap_or_default();
            // Full-width parentheses in Japanese and Chinese.
            let named = [format!("({group})"), format!("（{group}）")];
            let sentence = (text.lines())
                .find(|l| named.iter().any(|n| l.contains(n.as_str())))
                .unwrap_or_default();
            DsnReply::quoted(Outcome::Bounced, addr, sentence.trim().to_owned())
        })
        .collect();
    (!replies.is_empty()).then_some(replies)
}
