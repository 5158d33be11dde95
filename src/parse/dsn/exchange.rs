//! Exchange / Microsoft 365 human-readable NDRs (layout 2 of the list in [`super`]).

use super::{address_after, lone_address, DsnReply};
use crate::parse::{leading_reply_codes, Outcome};

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
        .filter(|r| leading_reply_codes(r.as_bytes()) != (None, None))
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
        out.push(DsnReply::quoted(outcome, recipient, reply.to_owned()));
    }
    out
}
