//! End-to-end: a REAL Postfix (Debian's package) as a private instance on loopback, relaying to
//! a scripted SMTP sink and receiving on its own restricted smtpd, while the exporter tails its
//! log. Every `smtp_replies_total` series must equal what the sink and the client recorded.
//!
//! Run with `sudo scripts/test` (installs Postfix and promtool, then runs the ignored tests).

use crate::harness;

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::Duration;

use harness::client::{SmtpClient, Submission};
use harness::expect::{self, domain_of, Lcg};
use harness::hosts::{provider_of, PROVIDER_MX};
use harness::metrics::{self, Labels};
use harness::postfix::{PostfixConfig, PostfixInstance};
use harness::scenario::{self, delays_per_outbound_reply, Mta, Replay, Want};
use harness::sink::{Script, Sink, SinkRecord, Stage};
use harness::util::{self, wait_for, TestDir};

/// Test domains served by the sink, one loopback address each. The first two are reached
/// under providers' real MX host names (harness/hosts.rs, [`PROVIDER_MX`]): Postfix logs
/// `relay=gmail-smtp-in.l.google.com[127.0.0.2]:PORT`, and the replies get that provider.
const SINK_DOMAINS: [(&str, Ipv4Addr); 5] = [
    ("d1.test", Ipv4Addr::new(127, 0, 0, 2)),
    ("d2.test", Ipv4Addr::new(127, 0, 0, 3)),
    ("d3.test", Ipv4Addr::new(127, 0, 0, 4)),
    ("d4.test", Ipv4Addr::new(127, 0, 0, 5)),
    ("d5.test", Ipv4Addr::new(127, 0, 0, 6)),
];
/// The senders' domain: delivery status notifications go back to the sink there.
const SENDER_DOMAIN: (&str, Ipv4Addr) = ("snd.test", Ipv4Addr::new(127, 0, 0, 7));
/// Routed to a closed port: connection refused, a deferral without a reply code.
const DOWN_DOMAIN: &str = "down.test";
/// Mail received by the private smtpd for these domains goes to `discard:`.
const INBOUND_DOMAIN: &str = "in.test";
const INBOUND_DOMAIN2: &str = "in2.test";
/// A client address the inbound smtpd refuses (check_client_access cidr:).
const BLOCKED_CLIENT: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 9);
/// Subject that the header_checks rule rejects.
const REJECT_SUBJECT: &str = "E2E-REJECT-CONTENT";

const OUTBOUND_MESSAGES: usize = 300;

/// The replies the sink is scripted to give, with weights.
fn catalogue() -> Vec<(Script, u32)> {
    vec![
        (Script::accept(), 14),
        (Script::rcpt(421, Some("4.7.0")), 1),
        (Script::rcpt(450, Some("4.2.0")), 1),
        (Script::rcpt(451, Some("4.3.0")), 1),
        (Script::rcpt(452, Some("4.2.2")), 1),
        (Script::rcpt(550, Some("5.1.1")), 2),
        (Script::rcpt(550, Some("5.1.1")).multiline(), 1),
        (Script::rcpt(552, Some("5.2.2")), 1),
        (Script::rcpt(553, Some("5.1.3")), 1),
        (Script::rcpt(554, Some("5.7.1")), 1),
        // Basic codes only: Postfix then logs dsn=X.0.0.
        (Script::rcpt(550, None), 1),
        (Script::rcpt(451, None), 1),
        // Recipient accepted, end of DATA refused: every accepted recipient of that
        // transaction bounces with this reply.
        (Script::accept().data(554, Some("5.7.1")), 1),
    ]
}

/// One outbound test message.
struct Outbound {
    id: String,
    sender: String,
    rcpts: Vec<String>,
}

fn outbound_plan() -> Vec<Outbound> {
    let cat = catalogue();
    let mut rng = Lcg(0x5eed_2025);
    let mut nth_rcpt = 0usize;
    (0..OUTBOUND_MESSAGES)
        .map(|m| {
            let id = format!("m{m:04}");
            let n = if rng.below(10) < 6 {
                1
            } else {
                2 + rng.below(3) as usize
            };
            let rcpts = (0..n)
                .map(|i| {
                    nth_rcpt += 1;
                    let script = rng.pick(&cat).cloned().unwrap_or_else(Script::accept);
                    let local = script.local_part(&format!("{id}r{i}"));
                    let domain = if rng.below(14) == 0 {
                        DOWN_DOMAIN.to_owned()
                    } else {
                        SINK_DOMAINS[rng.below(5) as usize].0.to_owned()
                    };
                    // Some recipients spell the domain in upper or mixed case.
                    let domain = match nth_rcpt % 9 {
                        0 => domain.to_ascii_uppercase(),
                        4 => format!("{}{}", domain[..1].to_ascii_uppercase(), &domain[1..]),
                        _ => domain,
                    };
                    format!("{local}@{domain}")
                })
                .collect();
            Outbound {
                sender: format!("r250-sender-{id}@{}", SENDER_DOMAIN.0),
                id,
                rcpts,
            }
        })
        .collect()
}

/// Inbound recipient rules of the private smtpd (`check_recipient_access texthash:`): address →
/// access action, which is also exactly the reply a client sees (after `<address>: Recipient
/// address rejected:`).
const RCPT_ACCESS: [(&str, &str); 3] = [
    ("nouser@in.test", "550 5.1.1 Mailbox does not exist"),
    ("later@in.test", "450 4.2.0 Mailbox busy, try again later"),
    ("policy@in.test", "554 5.7.1 Refused by local policy"),
];
/// Under `warn_if_reject`: logged as `reject_warning` with the reply it would have given
/// (`REJECT` = access_map_reject_code 554, enhanced 5.7.1), and accepted.
const WARN_RCPT: &str = "warnme@in.test";
const WARN_REPLY: (&str, &str) = ("554", "5.7.1");

/// The sink's nexthop for `ip`: under its provider MX name where it has one.
fn nexthop(sink: &Sink, ip: Ipv4Addr) -> String {
    match PROVIDER_MX.iter().find(|(a, _)| *a == ip) {
        Some((_, name)) => format!("[{name}]:{}", sink.port()),
        None => sink.nexthop(ip),
    }
}

fn postfix_config(sink: &Sink, closed_port: u16) -> PostfixConfig {
    let mut transports: Vec<(String, String)> = SINK_DOMAINS
        .iter()
        .chain([&SENDER_DOMAIN])
        .map(|(d, ip)| ((*d).to_owned(), format!("smtp:{}", nexthop(sink, *ip))))
        .collect();
    transports.push((
        DOWN_DOMAIN.into(),
        format!("smtp:[127.0.0.1]:{closed_port}"),
    ));
    transports.push((INBOUND_DOMAIN.into(), "discard:".into()));
    transports.push((INBOUND_DOMAIN2.into(), "discard:".into()));
    PostfixConfig {
        transports,
        relay_domains: vec![INBOUND_DOMAIN.into(), INBOUND_DOMAIN2.into()],
        client_access: vec![(
            format!("{BLOCKED_CLIENT}/32"),
            "REJECT Client blocked by the e2e test".into(),
        )],
        recipient_access: RCPT_ACCESS
            .iter()
            .map(|(a, r)| ((*a).to_owned(), (*r).to_owned()))
            .collect(),
        recipient_warn: vec![(
            WARN_RCPT.into(),
            "REJECT Would be refused (test mode)".into(),
        )],
        header_checks: vec![(
            format!("/^Subject:.*{REJECT_SUBJECT}/"),
            "REJECT Message content rejected by the e2e test".into(),
        )],
        main_cf: vec![],
        hosts: PROVIDER_MX
            .iter()
            .map(|(ip, name)| (*ip, (*name).to_owned()))
            .collect(),
    }
}

/// The label set of one `smtp_replies_total` series.
fn reply_labels(
    direction: &str,
    outcome: &str,
    code: &str,
    enhanced: &str,
    domain: &str,
) -> Labels {
    let mut l = expect::reply_labels("postfix", direction, outcome, code, enhanced, domain);
    l.insert("provider".into(), provider_of(direction, domain).into());
    l
}

/// The reason class each failure of this test must get (`smtp_failures_total{reason}`),
/// written by hand from the replies the sink and the private smtpd give (see `phrase` in
/// harness/sink.rs and the access maps above), not computed by the exporter's table.
fn expected_reason(code: &str, enhanced: &str, text: &str) -> &'static str {
    if enhanced == "4.4.1" {
        // Postfix's own "connect to …: Connection refused".
        return "connection_failed";
    }
    if text.contains("Relay access denied") {
        return "relay_denied";
    }
    if text.contains("Message content rejected") {
        return "spam_content";
    }
    match (code, enhanced) {
        // "Too many concurrent connections, try again later"
        ("421", "4.7.0") => "rate_limited",
        // "Mailbox unavailable, try again later" / "Mailbox busy, try again later": a
        // transient mailbox status that says nothing more specific.
        ("450", "4.2.0") => "other",
        // "Local error in processing, try again later"
        ("451", _) => "server_error",
        // "Insufficient system storage" with 4.2.2, "Mailbox full" with 5.2.2
        ("452", "4.2.2") | ("552", "5.2.2") => "mailbox_full",
        // "No such user here", "does not exist", "Mailbox name not allowed" (5.1.3)
        ("550", _) | ("553", "5.1.3") => "invalid_recipient",
        // "Rejected by policy", "Client host rejected", "Refused by local policy",
        // "Would be refused (test mode)"
        ("554", "5.7.1") => "policy",
        other => panic!("no expected reason for {other:?} {text:?}: extend the test's table"),
    }
}

/// The expected counters, built from the test's own records.
#[derive(Default)]
struct Expected {
    replies: BTreeMap<Labels, f64>,
    /// `smtp_failures_total`: every 4xx/5xx reply by its reason.
    failures: BTreeMap<Labels, f64>,
    expired: f64,
    /// Delivery status notifications the sink received (for the progress line).
    notices: usize,
}

impl Expected {
    fn add(&mut self, l: Labels) {
        *self.replies.entry(l).or_default() += 1.0;
    }

    /// A reply and, when it failed, its failure with the reason it must get and the `stage`
    /// Postfix logs it at.
    fn add_reply(&mut self, l: Labels, text: &str, stage: &str) {
        let class = l["class"].clone();
        if class == "4xx" || class == "5xx" {
            let reason = expected_reason(&l["code"], &l["enhanced"], text);
            let f = metrics::labels(&[
                ("source", "postfix"),
                ("mta", "postfix"),
                ("direction", &l["direction"]),
                ("class", &class),
                ("reason", reason),
                ("domain", &l["domain"]),
                ("provider", &l["provider"]),
                ("stage", stage),
            ]);
            *self.failures.entry(f).or_default() += 1.0;
        }
        self.add(l);
    }

    fn sum(&self, direction: &str, outcome: &str) -> f64 {
        self.replies
            .iter()
            .filter(|(l, _)| l["direction"] == direction && l["outcome"] == outcome)
            .map(|(_, v)| v)
            .sum()
    }

    fn dump(&self) -> String {
        let mut s = format!("expired {}\n", self.expired);
        for (l, v) in &self.replies {
            let l: Vec<String> = l.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
            s.push_str(&format!("{v} {{{}}}\n", l.join(",")));
        }
        s
    }
}

fn send_outbound(pf: &PostfixInstance, plan: &[Outbound]) {
    for chunk in plan.chunks(25) {
        let mut c = SmtpClient::connect(pf.submission, None)
            .unwrap_or_else(|e| panic!("connect to the submission smtpd: {e}"));
        c.ehlo("client.e2e.test")
            .unwrap_or_else(|e| panic!("EHLO: {e}"));
        for m in chunk {
            let sub = c
                .send(
                    &m.sender,
                    &m.rcpts,
                    &[
                        ("From", format!("<{}>", m.sender)),
                        ("To", "undisclosed-recipients:;".into()),
                        ("Subject", format!("e2e outbound {}", m.id)),
                        ("Message-ID", format!("<{}@client.e2e.test>", m.id)),
                    ],
                    "Hello from the smtp-status-exporter end-to-end test.\n",
                )
                .unwrap_or_else(|e| panic!("submitting {}: {e}", m.id));
            assert!(
                sub.queued() && sub.rcpts.iter().all(|(_, r)| r.code == 250),
                "the submission smtpd must accept {} whole: {sub:?}",
                m.id
            );
        }
        let _ = c.quit();
    }
}

/// The inbound cases, each message on its own connection to the restricted smtpd.
fn send_inbound(pf: &PostfixInstance) -> Vec<(Ipv4Addr, Submission)> {
    let mut out = Vec::new();
    let mut submit = |src: Ipv4Addr, sender: String, rcpts: Vec<String>, subject: &str| {
        let mut c = SmtpClient::connect(pf.inbound, Some(src))
            .unwrap_or_else(|e| panic!("connect to the inbound smtpd from {src}: {e}"));
        c.ehlo("client.e2e.test")
            .unwrap_or_else(|e| panic!("EHLO: {e}"));
        let sub = c
            .send(
                &sender,
                &rcpts,
                &[
                    ("From", format!("<{sender}>")),
                    ("To", "undisclosed-recipients:;".into()),
                    ("Subject", subject.to_owned()),
                ],
                "Inbound test message.\n",
            )
            .unwrap_or_else(|e| panic!("inbound submission from {src}: {e}"));
        let _ = c.quit();
        out.push((src, sub));
    };
    let lo = Ipv4Addr::LOCALHOST;
    for k in 0..3 {
        // A refused client (smtpd_delay_reject: refused at each RCPT, one line per RCPT).
        let mut rcpts = vec![format!("ok-b{k}@{INBOUND_DOMAIN}")];
        if k == 1 {
            rcpts.push(format!("ok-b{k}@{INBOUND_DOMAIN2}"));
        }
        submit(
            BLOCKED_CLIENT,
            format!("r250-in-b{k}@{}", SENDER_DOMAIN.0),
            rcpts,
            "inbound from a blocked client",
        );
    }
    for k in 0..4 {
        let ok_domain = if k % 2 == 0 {
            INBOUND_DOMAIN
        } else {
            INBOUND_DOMAIN2
        };
        submit(
            lo,
            format!("r250-in-a{k}@{}", SENDER_DOMAIN.0),
            vec![
                format!("ok-a{k}@{ok_domain}"),
                "nouser@in.test".into(),
                "later@in.test".into(),
                // Mixed case: access maps fold case; the label is lower-cased.
                if k % 2 == 0 {
                    "policy@In.Test"
                } else {
                    "policy@in.test"
                }
                .into(),
                WARN_RCPT.into(),
                format!("relay-a{k}@elsewhere.test"),
            ],
            "inbound with refused recipients",
        );
        // Refused by header_checks: cleanup logs one reject naming the LAST recipient.
        let mut rcpts = vec![
            format!("ok-c{k}@IN.TEST"),
            format!("ok-c{k}x@{INBOUND_DOMAIN2}"),
        ];
        if k % 2 == 1 {
            rcpts.reverse();
        }
        submit(
            lo,
            format!("r250-in-c{k}@{}", SENDER_DOMAIN.0),
            rcpts,
            &format!("{REJECT_SUBJECT} {k}"),
        );
    }
    out
}

/// The client must have seen the replies the configuration asks for; otherwise the test's
/// Postfix configuration (not the exporter) is wrong.
fn check_inbound_replies(inbound: &[(Ipv4Addr, Submission)]) {
    for (src, sub) in inbound {
        for (rcpt, reply) in &sub.rcpts {
            let lower = rcpt.to_ascii_lowercase();
            let want = if *src == BLOCKED_CLIENT {
                "554 5.7.1 <unknown[127.0.0.9]>: Client host rejected: Client blocked by the e2e test"
                    .to_owned()
            } else if let Some((_, action)) = RCPT_ACCESS.iter().find(|(a, _)| *a == lower) {
                let (code, text) = action.split_at(10);
                format!("{code}<{rcpt}>: Recipient address rejected: {text}")
            } else if domain_of(rcpt) == "elsewhere.test" {
                format!("554 5.7.1 <{rcpt}>: Relay access denied")
            } else {
                "250 2.1.5 Ok".to_owned()
            };
            assert_eq!(reply.text(), want, "RCPT TO:<{rcpt}> from {src}");
        }
        if sub.rcpts.iter().any(|(_, r)| r.code == 250) {
            let data = sub.data.as_ref().map(|d| d.text()).unwrap_or_default();
            let content = sub
                .rcpts
                .iter()
                .any(|(r, _)| r.to_ascii_lowercase().starts_with("ok-c"));
            if content {
                assert_eq!(data, "550 5.7.1 Message content rejected by the e2e test");
            } else {
                assert!(data.starts_with("250 2.0.0 Ok: queued as "), "{data}");
            }
        }
    }
}

/// Builds the expected counters from what the sink and the client recorded, with Postfix's
/// documented behaviour (each rule is stated where it is applied).
fn expectations(
    plan: &[Outbound],
    records: &[SinkRecord],
    inbound: &[(Ipv4Addr, Submission)],
) -> Expected {
    let mut exp = Expected::default();
    let msg_of: BTreeMap<&str, &str> = plan
        .iter()
        .flat_map(|m| m.rcpts.iter().map(|r| (r.as_str(), m.id.as_str())))
        .collect();

    // Outbound, from the sink's records: smtp(8) logs one status= line per recipient with
    // the reply the sink gave (to RCPT TO, or for an accepted recipient to the end of DATA):
    // the outcome from its class, dsn= its enhanced code or, when it has none, X.0.0 from the
    // basic code, and the recipient's domain (lower-cased in the label).
    for r in records {
        let outcome = match r.code / 100 {
            2 => "delivered",
            4 => "deferred",
            _ => "bounced",
        };
        let dsn = r
            .enhanced
            .clone()
            .unwrap_or_else(|| format!("{}.0.0", r.code / 100));
        let code = r.code.to_string();
        // "(in reply to RCPT TO command)", or "(in reply to end of DATA command)".
        let stage = match r.stage {
            Stage::Rcpt => "rcpt",
            Stage::Data => "end_of_data",
        };
        exp.add_reply(
            reply_labels("outbound", outcome, &code, &dsn, &domain_of(&r.recipient)),
            "",
            stage,
        );
    }

    // Exactly one delivery attempt per recipient (no retries): each reached the sink once,
    // except those routed to the closed port, which are deferred without a reply code
    // (smtp: "connect to …: Connection refused"; once the destination is marked dead, the
    // error agent: "delivery temporarily suspended: connect to …"), both with dsn=4.4.1.
    let mut per_rcpt: BTreeMap<&str, usize> = BTreeMap::new();
    for r in records {
        *per_rcpt.entry(r.recipient.as_str()).or_default() += 1;
    }
    let mut deferred_msgs: BTreeSet<&str> = BTreeSet::new();
    for m in plan {
        for r in &m.rcpts {
            let seen = per_rcpt.get(r.as_str()).copied().unwrap_or(0);
            if domain_of(r) == DOWN_DOMAIN {
                assert_eq!(seen, 0, "{r} is routed to a closed port");
                exp.add_reply(
                    reply_labels("outbound", "deferred", "", "4.4.1", DOWN_DOMAIN),
                    "Connection refused",
                    "connect",
                );
                deferred_msgs.insert(&m.id);
            } else {
                assert_eq!(seen, 1, "{r} must get exactly one delivery attempt");
            }
        }
    }
    for r in records.iter().filter(|r| r.code / 100 == 4) {
        let id = msg_of.get(r.recipient.as_str()).copied();
        deferred_msgs.insert(id.unwrap_or_else(|| panic!("unexpected deferral {r:?}")));
    }
    // maximal_queue_lifetime = 0: qmgr gives up on a message with a deferred recipient right
    // after its first attempt: one "status=expired, returned to sender" per message.
    exp.expired = deferred_msgs.len() as f64;

    // Notices go back to the senders (null sender; the sink accepts them, and they are counted
    // above like any delivery): one for a message's bounced recipients (bounce_flush) and one
    // more when it expires (defer_flush), so a message with both gets two.
    let bounced_msgs: BTreeSet<&str> = records
        .iter()
        .filter(|r| r.code / 100 == 5)
        .filter_map(|r| msg_of.get(r.recipient.as_str()).copied())
        .collect();
    let notices: Vec<&SinkRecord> = records.iter().filter(|r| r.sender.is_empty()).collect();
    assert_eq!(
        notices.len(),
        bounced_msgs.len() + deferred_msgs.len(),
        "one notice per message with bounced recipients, one per expired message"
    );
    assert!(
        notices.iter().all(|r| r.code == 250
            && domain_of(&r.recipient) == SENDER_DOMAIN.0
            && r.recipient.contains("-sender-m")),
        "notices go to the senders and are accepted"
    );
    exp.notices = notices.len();

    // Inbound, from the client's records.
    for (_, sub) in inbound {
        for (rcpt, reply) in &sub.rcpts {
            let domain = domain_of(rcpt);
            if reply.code / 100 != 2 {
                // smtpd "reject: RCPT from …: <code> <enhanced> …; from=<…> to=<rcpt> …",
                // one per refused RCPT (client, relay and recipient restrictions alike).
                let code = reply.code.to_string();
                let enhanced = reply.enhanced().unwrap_or_default();
                exp.add_reply(
                    reply_labels("inbound", "rejected", &code, &enhanced, &domain),
                    &reply.text(),
                    "rcpt",
                );
            } else if rcpt.eq_ignore_ascii_case(WARN_RCPT) {
                // smtpd "reject_warning: RCPT from …: 554 5.7.1 …" and the RCPT is accepted.
                let (code, enhanced) = WARN_REPLY;
                exp.add_reply(
                    reply_labels("inbound", "warned", code, enhanced, &domain),
                    "Would be refused (test mode)",
                    "rcpt",
                );
            }
        }
        match &sub.data {
            Some(d) if d.code / 100 == 2 => {
                // Accepted recipients go to discard(8): "status=sent (in.test)", dsn=2.0.0,
                // no reply code.
                for rcpt in sub.accepted() {
                    let domain = domain_of(rcpt);
                    exp.add(reply_labels("outbound", "delivered", "", "2.0.0", &domain));
                }
            }
            Some(d) => {
                // cleanup(8) "reject: header Subject: … from …; from=<…> to=<rcpt> …: 5.7.1 …"
                // (the client sees 550 5.7.1): the line carries the enhanced code only, and
                // names the LAST recipient the client gave (cleanup_addr.c keeps the latest).
                let last = sub.accepted().last().unwrap_or_default();
                let enhanced = d.enhanced().unwrap_or_default();
                exp.add_reply(
                    reply_labels("inbound", "rejected", "", &enhanced, &domain_of(last)),
                    &d.text(),
                    "end_of_data",
                );
            }
            None => {}
        }
    }
    exp
}

fn count_lines(log: &str, pred: impl Fn(&str) -> bool) -> usize {
    log.lines().filter(|l| pred(l)).count()
}

/// Counts in the maillog by kind of line, for the model check (independent of the exporter).
fn maillog_tally(log: &str) -> BTreeMap<&'static str, usize> {
    let status = |s: &'static str| {
        let pat = format!(", status={s} (");
        move |l: &str| l.contains(": to=<") && l.contains(&pat)
    };
    BTreeMap::from([
        ("sent", count_lines(log, status("sent"))),
        ("deferred", count_lines(log, status("deferred"))),
        ("bounced", count_lines(log, status("bounced"))),
        (
            "expired",
            count_lines(log, |l| l.contains(", status=expired, returned to sender")),
        ),
        ("reject", count_lines(log, |l| l.contains(": reject: "))),
        (
            "reject_warning",
            count_lines(log, |l| l.contains(": reject_warning: ")),
        ),
    ])
}

fn expected_tally(exp: &Expected) -> BTreeMap<&'static str, usize> {
    let n = |d, o| exp.sum(d, o) as usize;
    BTreeMap::from([
        ("sent", n("outbound", "delivered")),
        ("deferred", n("outbound", "deferred")),
        ("bounced", n("outbound", "bounced")),
        ("expired", exp.expired as usize),
        ("reject", n("inbound", "rejected")),
        ("reject_warning", n("inbound", "warned")),
    ])
}

/// The private Postfix in the shared scenario.
struct Postfix(PostfixInstance);

impl Mta for Postfix {
    const NAME: &'static str = "Postfix";
    const DIR_PREFIX: &'static str = "sse-postfix-e2e-";
    const KEEPS: &'static str = "maillog, expected.txt, scrape.txt, exporter.stderr";
    const SOURCES: &'static [&'static str] = &["postfix"];
    type Run = (Vec<Outbound>, Vec<(Ipv4Addr, Submission)>);

    fn require() {
        util::require_tool("postfix");
    }

    fn sink_addrs() -> Vec<Ipv4Addr> {
        let mut sink_addrs: Vec<Ipv4Addr> = SINK_DOMAINS.iter().map(|(_, ip)| *ip).collect();
        sink_addrs.push(SENDER_DOMAIN.1);
        sink_addrs
    }

    fn start(dir: &TestDir, sink: &Sink) -> Postfix {
        let closed = util::closed_port();
        let pf = PostfixInstance::start(&dir.subdir("postfix"), &postfix_config(sink, closed))
            .unwrap_or_else(|e| panic!("starting the private Postfix: {e}"));
        Postfix(pf)
    }

    fn logs(&self) -> Vec<PathBuf> {
        vec![self.0.maillog_path().to_path_buf()]
    }

    fn exporter_args(&self) -> &'static [&'static str] {
        &[]
    }

    fn log(&self) -> String {
        self.0.maillog()
    }

    /// Start-up lines (postlogd writes asynchronously) must have stopped arriving.
    fn before_exporter(&mut self) {
        let mut last_len = usize::MAX;
        let quiet = wait_for(Duration::from_secs(5), Duration::from_millis(300), || {
            let n = self.0.maillog().len();
            let q = (n == last_len).then_some(());
            last_len = n;
            q
        });
        assert!(quiet.is_some(), "the maillog did not stop growing");
    }

    /// Every message tried once, then delivered, bounced or expired; notices sent.
    fn send_and_drain(&mut self, _sink: &Sink, phase: &dyn Fn(&str)) -> Self::Run {
        let plan = outbound_plan();
        send_outbound(&self.0, &plan);
        phase(&format!("{} outbound messages submitted", plan.len()));
        let inbound = send_inbound(&self.0);
        check_inbound_replies(&inbound);
        phase(&format!("{} inbound messages tried", inbound.len()));
        self.0
            .wait_queue_empty(Duration::from_secs(90))
            .unwrap_or_else(|e| panic!("{e}"));
        (plan, inbound)
    }

    fn log_tally(log: &str) -> BTreeMap<&'static str, usize> {
        maillog_tally(log)
    }

    fn want(&self, (plan, inbound): &Self::Run, sink: &Sink, _log: &str) -> Want {
        let exp = expectations(plan, &sink.records(), inbound);
        Want {
            delays: Some(delays_per_outbound_reply(
                &exp.replies,
                "postfix",
                "postfix",
            )),
            tally: expected_tally(&exp),
            expected_txt: exp.dump(),
            failures: Some(exp.failures),
            expired: exp.expired,
            replies: exp.replies,
        }
    }

    fn expired_labels() -> Labels {
        metrics::labels(&[("source", "postfix"), ("mta", "postfix")])
    }

    /// Every line read since the exporter started.
    fn caught_up(&self, samples: &metrics::Samples, _want: &Want, lines_new: f64) -> bool {
        let read: f64 = metrics::series(samples, "smtp_status_exporter_lines_total")
            .values()
            .sum();
        read >= lines_new
    }

    fn replays(&self, want: &Want) -> Vec<Replay> {
        vec![Replay {
            replies: Some(want.replies.clone()),
            failures: want.failures.clone(),
            expired: Some(want.expired),
            no_unrecognised: true,
            ..Replay::of("`replay --format json`", &[], self.logs())
        }]
    }

    fn stop(&mut self) {
        self.0.stop().unwrap_or_else(|e| panic!("{e}"));
    }
}

#[test]
#[ignore = "needs root and a real Postfix: run by scripts/test"]
fn postfix_real_mta_end_to_end() {
    let _heavy = harness::heavy();
    scenario::run::<Postfix>();
}
