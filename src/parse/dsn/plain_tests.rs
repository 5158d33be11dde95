//! One regression test per layout the issue found unread ("Measured today"), on short
//! excerpts of the layouts, anonymised as Sisimai's corpus is.

use super::{parse, Report};

/// A notice without a report part: headers, then `body`.
fn notice(body: &str) -> Vec<u8> {
    format!("From: MAILER-DAEMON@mx.example.org\nSubject: Mail delivery failed\n\n{body}")
        .into_bytes()
}

/// `outcome code enhanced recipient | text` per reply.
fn read(body: &str) -> Vec<String> {
    match parse(&notice(body)) {
        Report::Replies(v) => v
            .iter()
            .map(|d| {
                format!(
                    "{} {} {} {} | {}",
                    if d.expired {
                        "expired"
                    } else {
                        d.outcome.as_str()
                    },
                    d.code.map_or("-".into(), |c| c.to_string()),
                    d.enhanced.map_or("-".into(), |e| e.to_string()),
                    d.recipient,
                    d.text
                )
            })
            .collect(),
        other => vec![format!("{other:?}")],
    }
}

const EXIM: &str = "\
This message was created automatically by mail delivery software.

A message that you sent could not be delivered to one or more of its
recipients. This is a permanent error. The following address(es) failed:

  kijitora@example.ch
SMTP error from remote mail server after RCPT TO:<kijitora@example.ch>:
host mx1.example.eu [192.0.2.32]: 554 5.7.1 <kijitora@example.ch>:
Recipient address rejected: Access denied
  sabatora@example.jp
retry timeout exceeded

------ This is a copy of the message, including all the headers. ------

Received: from localhost ([127.0.0.1])
";

/// "Exim's own text bounces … are read as 'not a notice'"; "multi-line replies are cut
/// to their first line"; Exim's "retry timeout exceeded" is an expiry.
#[test]
fn exim_text_bounces() {
    assert_eq!(
        read(EXIM),
        vec![
            "bounced 554 5.7.1 kijitora@example.ch | 554 5.7.1 <kijitora@example.ch>: \
             Recipient address rejected: Access denied",
            "expired - - sabatora@example.jp | retry timeout exceeded",
        ]
    );
}

/// mail.ru writes the same list twice, in Russian then in Exim's English: read once.
#[test]
fn mailru_translation_first() {
    let body = "\
К сожалению, Ваше письмо не может быть доставлено одному или нескольким получателям:

  kijitora@example.jp
host mx.example.jp [192.0.2.222]: 550 5.1.1 <kijitora@example.jp>... User Unknown

**********************

This message was created automatically by mail delivery software.

A message that you sent could not be delivered to one or more of its
recipients. This is a permanent error. The following address(es) failed:

  kijitora@example.jp
host mx.example.jp [192.0.2.222]: 550 5.1.1 <kijitora@example.jp>... User Unknown
";
    assert_eq!(
        read(body),
        vec!["bounced 550 5.1.1 kijitora@example.jp | 550 5.1.1 <kijitora@example.jp>... User Unknown"]
    );
}

/// "qmail (`… said: 550 … (#5.5.0)`, 25 of 25)": the basic code after `said:`, the
/// enhanced code qmail appends.
#[test]
fn qmail() {
    let body = "\
Hi. This is the qmail-send program at mx4.example.jp.
I'm afraid I wasn't able to deliver your message to the following addresses.
This is a permanent error; I've given up. Sorry it didn't work out.

<kijitora@example.ne.jp>:
Sorry, no SMTP connection got far enough; most progress was RCPT TO response; remote host 192.0.2.32 said: 550 Unknown user kijitora@example.ne.jp
. (#5.5.0)

--- Below this line is a copy of the message.

Return-Path: <nekochan@example.jp>
";
    assert_eq!(
        read(body),
        vec!["bounced 550 5.5.0 kijitora@example.ne.jp | 550 Unknown user kijitora@example.ne.jp . (#5.5.0)"]
    );
}

/// Yahoo (qmail's words), the reply on the line after "Remote host said:".
#[test]
fn yahoo() {
    let body = "\
Sorry, we were unable to deliver your message to the following address.

<kijitora@example.co.jp>:
Remote host said:
550 5.2.1 <kijitora@example.co.jp>... User Unknown
[RCPT_TO]

--- Below this line is a copy of the message.
";
    assert_eq!(
        read(body),
        vec!["bounced 550 5.2.1 kijitora@example.co.jp | 550 5.2.1 <kijitora@example.co.jp>... User Unknown [RCPT_TO]"]
    );
}

/// Postfix's notice when its report part is missing: the reply folded over lines, the
/// recipient named again inside it.
#[test]
fn postfix_without_a_report_part() {
    let body = "\
This is the mail system at host mx.example.jp.

<kijitora@example.or.jp>: host
mx.example.or.jp[192.0.2.22] said: 550
<kijitora@example.or.jp>: User unknown (in reply to RCPT TO command)
";
    assert_eq!(
        read(body),
        vec!["bounced 550 - kijitora@example.or.jp | 550 <kijitora@example.or.jp>: User unknown (in reply to RCPT TO command)"]
    );
}

/// DragonFly: the recipient inside a sentence, a multi-line reply kept whole.
#[test]
fn dragonfly() {
    let body = "\
This is the DragonFly Mail Agent v0.13 at df.example.jp.

There was an error delivering your mail to <kijitora@example.com>.

mx.example.com [192.0.2.27] did not like our final DATA:
550-5.7.26 Unauthenticated email from example.jp is not accepted due to domain's
550 5.7.26 DMARC policy.

Message headers follow.
";
    assert_eq!(
        read(body),
        vec![
            "bounced 550 5.7.26 kijitora@example.com | 550-5.7.26 Unauthenticated email \
              from example.jp is not accepted due to domain's 550 5.7.26 DMARC policy."
        ]
    );
}

/// "OpenSMTPD's real reply is only in the human-readable part (we report 5.0.0 for
/// all)": its report part says `Status: 5.0.0` and nothing else.
#[test]
fn opensmtpd_reply_from_its_notification_part() {
    let msg = "From: MAILER-DAEMON@df.example.jp\n\
Content-Type: multipart/mixed; boundary=\"b\"\n\n--b\nContent-Type: text/plain\n\n\
userunknown@example.net: 550 5.1.1 <userunknown@example.net>: Recipient address rejected: User unknown\n\
mailboxfull@example.net: 552 5.2.2 Mailbox full\n\n\
--b\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; df.example.jp\n\n\
Final-Recipient: rfc822; userunknown@example.net\nAction: failed\nStatus: 5.0.0\n\n\
Final-Recipient: rfc822; mailboxfull@example.net\nAction: failed\nStatus: 5.0.0\n\n--b--\n";
    let Report::Replies(v) = parse(msg.as_bytes()) else {
        panic!()
    };
    let got: Vec<_> = v
        .iter()
        .map(|r| {
            format!(
                "{:?} {:?}",
                r.code.map(|c| c.get()),
                r.enhanced.map(|e| e.to_string())
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![r#"Some(550) Some("5.1.1")"#, r#"Some(552) Some("5.2.2")"#]
    );
}

/// A Sendmail transcript: one reply, not the replies that follow it; a notice forwarded
/// as a quotation (`> `) is read as the notice.
#[test]
fn a_transcript_reply_ends_where_the_next_starts() {
    let body = "\
> ----- The following addresses had permanent fatal errors -----
> <kijitora@example.org>
>
>    ----- Transcript of session follows -----
> >>> RCPT To:<kijitora@example.org>
> <<< 550 <kijitora@example.org>, User Unknown
> While talking to mx2.example.org:
> >>> QUIT
";
    assert_eq!(
        read(body),
        vec!["bounced 550 - kijitora@example.org | 550 <kijitora@example.org>, User Unknown"]
    );
}

/// Gmail's older delay warning: deferred, no code; words before the list that say the
/// notice gave up on time make each recipient listed an expiry.
#[test]
fn delay_warnings_and_expiries_said_before_the_list() {
    let body = "\
THIS IS A WARNING MESSAGE ONLY.

Delivery to the following recipient has been delayed:

     kijitora@example.com

Message will be retried for 2 more day(s)
";
    assert_eq!(
        read(body),
        vec!["deferred - - kijitora@example.com | Message will be retried for 2 more day(s)"]
    );
    let body = "\
Your message was not delivered within 0 days and 1 hours.
Remote host is not responding.

The following recipients did not receive this message:
<kijitora@example.ne.jp>
";
    assert_eq!(read(body), vec!["expired - - kijitora@example.ne.jp | "]);
}

/// Exchange 2003 (no code: the recipient and Exchange's words).
#[test]
fn exchange_2003() {
    let body = "\
Your message

  To:      shironeko@example.com
  Subject: Nyaan

did not reach the following recipient(s):

kijitora@example.jp on Thu, 29 Apr 2010 00:00:00 -0000
The recipient name is not recognized
";
    assert_eq!(
        read(body),
        vec!["bounced - - kijitora@example.jp | The recipient name is not recognized"]
    );
}

/// Zoho: `ERROR_CODE :550, ERROR_CODE :5.1.1` on the recipient's line; its warning.
#[test]
fn zoho() {
    let body = "\
This message was created automatically by mail delivery software.
A message that you sent could not be delivered to one or more of its recipients.

kijitora@example.co.jp Invalid Address, ERROR_CODE :550, ERROR_CODE :5.1.1 <kijitora@example.co.jp>... User Unknown
";
    assert_eq!(
        read(body),
        vec!["bounced 550 5.1.1 kijitora@example.co.jp | 550 5.1.1 <kijitora@example.co.jp>... User Unknown (Invalid Address)"]
    );
    let body = "\
THIS IS A WARNING MESSAGE ONLY.

----- The following addresses had fatal errors -----
[Status: Error, Address: <kijitora@example.co.jp>, ResponseCode 421, , Host not reachable.]

Message will be retried for 4 more day(s)
";
    assert_eq!(
        read(body),
        vec!["deferred 421 - kijitora@example.co.jp | 421 Host not reachable."]
    );
}

/// Google Groups: the group from `X-Failed-Recipients`, no code.
#[test]
fn google_groups() {
    let msg = "From: Mail Delivery Subsystem <mailer-daemon@googlemail.example>\n\
X-Failed-Recipients: libsisimai@googlegroups.example\n\n\
Hello kijitora@example.jp,\n\n\
We're writing to let you know that the group you tried to contact (libsisimai) may not exist.\n\n\
If you have questions, visit the Help Center at https://groups.google.com/support/.\n";
    let Report::Replies(v) = parse(msg.as_bytes()) else {
        panic!()
    };
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].recipient, "libsisimai@googlegroups.example");
    assert_eq!((v[0].code, v[0].enhanced), (None, None));
    assert!(v[0].text.contains("(libsisimai) may not exist"));
}

/// A person's mail that names an address and quotes a code is not a notice.
#[test]
fn a_mail_is_not_a_notice() {
    let body = "Hi,\n\nkijitora@example.jp: 550 is what their server said.\n";
    assert_eq!(read(body), vec!["NotABounce"]);
}

/// Sendmail's transcript names each recipient on a line of its own with the reply after the
/// address (`554 <addr>... 550 Host unknown`): every recipient is read, not only the first.
#[test]
fn sendmail_transcript_lines_name_every_recipient() {
    let body = "\
The original message was received at Thu, 29 Apr 2010 23:34:45 +0900
from localhost [127.0.0.1]

   ----- The following addresses had permanent fatal errors -----
<a@example.net>
<b@example.org>

   ----- Transcript of session follows -----
554 <a@example.net>... 550 Host unknown
550 5.1.1 <b@example.org>... User unknown
";
    assert_eq!(
        read(body),
        vec![
            "bounced 550 - a@example.net | 550 Host unknown",
            "bounced 550 5.1.1 b@example.org | 550 5.1.1 <b@example.org>... User unknown",
        ]
    );
}

/// A notice that gave up on time but says so only in its subject, and Gmail's permanent
/// failure of a destination that refused its connections (given only when its retries ran
/// out): expiries, while Gmail's delay warning with the same words stays a deferral.
#[test]
fn notices_that_gave_up_on_time_are_expiries() {
    let sendmail = b"From: MAILER-DAEMON@mx.example.org\n\
Subject: Returned mail: Cannot send message for 4 days\n\n\
   ----- The following addresses had permanent fatal errors -----\n\
<a@example.net>\n\
    (reason: 421 example.net (smtp)... Deferred: Connection timed out)\n";
    let gmail = |kind: &str, head: &str| {
        format!(
            "From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>\n\
Subject: Delivery Status Notification\n\n\
{head}\n\n     a@example.net\n\n\
Technical details of {kind} failure: \n\
The recipient server did not accept our requests to connect. Learn more at \
http://support.google.com/mail/bin/answer.py?answer=7720\n"
        )
    };
    let expired = |msg: &[u8]| -> Vec<(&'static str, bool)> {
        match parse(msg) {
            Report::Replies(v) => v.iter().map(|r| (r.outcome.as_str(), r.expired)).collect(),
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(expired(sendmail), vec![("bounced", true)]);
    let failed = gmail(
        "permanent",
        "Delivery to the following recipient failed permanently:",
    );
    assert_eq!(expired(failed.as_bytes()), vec![("bounced", true)]);
    let delayed = gmail(
        "temporary",
        "Delivery to the following recipient has been delayed:",
    );
    assert_eq!(expired(delayed.as_bytes()), vec![("deferred", false)]);
}
