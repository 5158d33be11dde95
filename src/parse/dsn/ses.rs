//! Amazon SES notifications delivered by mail (layout 5 of the list in [`super`]): a JSON
//! object in the text, either the notification itself or the SNS envelope that carries it as
//! a string in `"Message"`:
//!
//! ```text
//! {"notificationType":"Bounce","bounce":{"bounceType":"Permanent",
//!  "bouncedRecipients":[{"emailAddress":"kijitora@example.jp","action":"failed",
//!  "status":"5.1.1","diagnosticCode":"smtp; 550 5.1.1 user unknown"}], …}, "mail":{…}}
//! ```
//!
//! `Bounce`: one reply per bounced recipient, the codes of the reply `diagnosticCode` quotes,
//! `status` where it has no enhanced code; `Delivery`: one delivered reply per recipient, with
//! `smtpResponse`. A `Complaint` is a feedback report, not a bounce.

use serde_json::Value;

use super::text::quoted_codes;
use super::DsnReply;
use crate::parse::{EnhancedCode, Outcome};

/// The replies of an SES notification; `None` when the text holds none (or a complaint).
pub(super) fn amazon_ses(text: &str) -> Option<Vec<DsnReply>> {
    if !text.contains("notificationType") {
        return None;
    }
    let start = text.find('{')?;
    // Long lines of the object are wrapped by the mail system: the line breaks are not JSON.
    let joined: String = text.get(start..)?.lines().collect();
    let v = serde_json::Deserializer::from_str(&joined)
        .into_iter::<Value>()
        .next()?
        .ok()?;
    let v = match v.get("Message").and_then(Value::as_str) {
        Some(inner) => serde_json::from_str(inner).ok()?,
        None => v,
    };
    let replies = match v.get("notificationType")?.as_str()? {
        "Bounce" => bounced(v.get("bounce")?),
        "Delivery" => delivered(v.get("delivery")?),
        _ => return None,
    };
    (!replies.is_empty()).then_some(replies)
}

fn bounced(bounce: &Value) -> Vec<DsnReply> {
    let Some(recipients) = bounce.get("bouncedRecipients").and_then(Value::as_array) else {
        return Vec::new();
    };
    let field = |r: &Value, name: &str| r.get(name).and_then(Value::as_str).map(str::to_owned);
    recipients
        .iter()
        .filter_map(|r| {
            let addr = field(r, "emailAddress")?;
            let diag = field(r, "diagnosticCode").unwrap_or_default();
            // `smtp; 550 5.1.1 …`: the reply after the type.
            let text = diag
                .split_once(';')
                .map_or(diag.as_str(), |(_, t)| t)
                .trim()
                .to_owned();
            let (code, enhanced) = quoted_codes(&text);
            let status = field(r, "status").and_then(|s| EnhancedCode::parse(s.as_bytes()));
            Some(DsnReply {
                outcome: Outcome::Bounced,
                code,
                enhanced: enhanced.or(status),
                recipient: addr,
                text,
                relay: String::new(),
                stage: crate::parse::Stage::Unknown,
                expired: false,
                queue_id: String::new(),
                time: None,
            })
        })
        .collect()
}

fn delivered(delivery: &Value) -> Vec<DsnReply> {
    let response = delivery
        .get("smtpResponse")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let Some(recipients) = delivery.get("recipients").and_then(Value::as_array) else {
        return Vec::new();
    };
    recipients
        .iter()
        .filter_map(Value::as_str)
        .map(|addr| DsnReply::quoted(Outcome::Delivered, addr, response.to_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::{parse, Report};

    fn read(body: &str) -> Vec<String> {
        let msg = format!("From: MAILER-DAEMON@email-bounces.amazonses.example\n\n{body}");
        match parse(msg.as_bytes()) {
            Report::Replies(v) => v
                .iter()
                .map(|d| {
                    format!(
                        "{} {} {} {}",
                        d.outcome.as_str(),
                        d.code.map_or("-".into(), |c| c.to_string()),
                        d.enhanced.map_or("-".into(), |e| e.to_string()),
                        d.recipient
                    )
                })
                .collect(),
            other => vec![format!("{other:?}")],
        }
    }

    /// SES's JSON notifications were "not a notice"; a long line wrapped by the mail system.
    #[test]
    fn bounce_delivery_and_the_sns_envelope() {
        let bounce = "{\"notificationType\":\"Bounce\",\"bounce\":{\"bounceType\":\"Permanent\",\
\"bouncedRecipients\":[{\"emailAddress\":\"kijitora@example.jp\",\"action\":\"failed\",\
\"status\":\"5.1.1\",\"diagnosticCode\":\"smtp; 550 5.1.1 user\n unknown\"}]},\"mail\":{}}\n";
        assert_eq!(read(bounce), vec!["bounced 550 5.1.1 kijitora@example.jp"]);
        let delivery = "{\"notificationType\":\"Delivery\",\"delivery\":{\"recipients\":\
[\"a@example.jp\"],\"smtpResponse\":\"250 2.6.0 Message received\"}}";
        assert_eq!(read(delivery), vec!["delivered 250 2.6.0 a@example.jp"]);
        let sns = format!(
            "{{\n  \"Type\" : \"Notification\",\n  \"Message\" : {}\n}}\n--\nunsubscribe\n",
            serde_json::Value::String(bounce.replace('\n', "")),
        );
        assert_eq!(read(&sns), vec!["bounced 550 5.1.1 kijitora@example.jp"]);
        let complaint = "{\"notificationType\":\"Complaint\",\"complaint\":{}}";
        assert_eq!(read(complaint), vec!["NotABounce"]);
    }
}
