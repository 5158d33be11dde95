//! End-to-end: a REAL Sendmail (Debian 12's `sendmail-bin` 8.17.1, unpacked by
//! `scripts/install-test-deps`) as a private daemon on loopback, logging through syslog(3) to
//! the test's own syslog receiver, relaying to the scripted SMTP sink and receiving from the
//! test's client, while the exporter tails the log. Every `smtp_replies_total` series and
//! `smtp_expired_total` must equal what the sink and the client recorded.
//!
//! Run with `sudo scripts/test`. How Sendmail runs without an init system: see
//! tests/it/harness/sendmail.rs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::harness;

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use harness::client::{Reply, SmtpClient, Submission};
use harness::expect::{self, domain_of, Expected, Outbound};
use harness::hosts::{provider_of, PROVIDER_MX};
use harness::metrics::{self, Labels};
use harness::scenario::{self, Mta, Replay, Want};
use harness::sendmail::{
    Milter, SendmailConfig, SendmailInstance, HOSTNAME, MILTER_REJECT_SUBJECT,
};
use harness::sink::{Script, Sink, SinkRecord};
use harness::util::{self, wait_for, TestDir};

/// Sink domains, one loopback address each; the first two reached under providers' MX names.
const SINK_DOMAINS: [(&str, Ipv4Addr); 3] = [
    ("d1.test", Ipv4Addr::new(127, 0, 0, 2)),
    ("d2.test", Ipv4Addr::new(127, 0, 0, 3)),
    ("d3.test", Ipv4Addr::new(127, 0, 0, 4)),
];
/// The senders' domain: delivery status notifications go back to the sink there.
const SENDER_DOMAIN: (&str, Ipv4Addr) = ("snd.test", Ipv4Addr::new(127, 0, 0, 7));
/// Accepted from anyone (access `To:in.test RELAY`) and relayed to the sink.
const INBOUND_DOMAIN: (&str, Ipv4Addr) = ("in.test", Ipv4Addr::new(127, 0, 0, 8));
/// Routed to a closed port.
const DOWN_DOMAIN: &str = "down.test";
/// Not allowed to relay (only 127.0.0.1 is): the inbound client.
const INBOUND_CLIENT: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 10);
/// Refused at connect (access `Connect:127.0.0.9 REJECT`).
const BLOCKED_CLIENT: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 9);
const QUEUE_RETURN_SECS: u64 = 20;
const OUTBOUND_MESSAGES: usize = 60;

/// The replies the sink is scripted to give, with weights. No 421 (Sendmail would then defer
/// the recipients it has not yet sent, which the sink never sees) and no 452.
fn catalogue() -> Vec<(Script, u32)> {
    vec![
        (Script::accept(), 12),
        (Script::rcpt(450, Some("4.2.0")), 1),
        (Script::rcpt(451, Some("4.7.1")), 2),
        (Script::rcpt(550, Some("5.1.1")), 2),
        (Script::rcpt(550, Some("5.1.1")).multiline(), 1),
        (Script::rcpt(552, Some("5.2.2")), 1),
        (Script::rcpt(553, Some("5.1.3")), 1),
        (Script::rcpt(554, Some("5.7.1")), 1),
        // Basic code only: Sendmail logs its own dsn=5.1.1 for a 550 to RCPT (EX_NOUSER).
        (Script::rcpt(550, None), 1),
        (Script::accept().data(554, Some("5.7.1")), 1),
    ]
}

fn outbound_plan() -> Vec<Outbound> {
    let sinks = SINK_DOMAINS.map(|(d, _)| d);
    expect::outbound_plan(
        OUTBOUND_MESSAGES,
        &catalogue(),
        DOWN_DOMAIN,
        &sinks,
        SENDER_DOMAIN.0,
    )
}

/// The label set of one `smtp_replies_total` series.
fn reply_labels(
    direction: &str,
    outcome: &str,
    code: &str,
    enhanced: &str,
    domain: &str,
) -> Labels {
    let mut l = expect::reply_labels("sendmail", direction, outcome, code, enhanced, domain);
    l.insert("provider".into(), provider_of(direction, domain).into());
    l
}

/// What the inbound client did, for the expectations.
struct Inbound {
    /// Sessions of allowed clients.
    submissions: Vec<Submission>,
    /// Replies the blocked client got (one session).
    blocked: Vec<Reply>,
}

fn send_outbound(sm: &SendmailInstance, plan: &[Outbound]) {
    for chunk in plan.chunks(20) {
        let mut c = SmtpClient::connect(sm.addr, None).unwrap();
        c.ehlo("client.e2e.test").unwrap();
        for m in chunk {
            let sub = c
                .send(
                    &m.sender,
                    &m.rcpts,
                    &[
                        ("From", format!("<{}>", m.sender)),
                        ("Subject", format!("e2e outbound {}", m.id)),
                        ("Message-ID", format!("<{}@client.e2e.test>", m.id)),
                    ],
                    "Hello from the smtp-status-exporter end-to-end test.\n",
                )
                .unwrap_or_else(|e| panic!("submitting {}: {e}", m.id));
            assert!(
                sub.queued() && sub.rcpts.iter().all(|(_, r)| r.code == 250),
                "sendmail must accept {} whole from 127.0.0.1: {sub:?}",
                m.id
            );
        }
        let _ = c.quit();
    }
}

fn send_inbound(sm: &SendmailInstance) -> Inbound {
    let mut submissions = Vec::new();
    for k in 0..3 {
        let mut c = SmtpClient::connect(sm.addr, Some(INBOUND_CLIENT)).unwrap();
        c.ehlo("client.e2e.test").unwrap();
        let sub = c
            .send(
                &format!("r250-in-{k}@{}", SENDER_DOMAIN.0),
                &[
                    format!("r250-in-a{k}@{}", INBOUND_DOMAIN.0),
                    format!("nouser@{}", INBOUND_DOMAIN.0),
                    format!("later@{}", INBOUND_DOMAIN.0),
                    format!("relay-a{k}@elsewhere.test"),
                    format!("nosuchuser{k}@{HOSTNAME}"),
                    format!("miltrej-a{k}@{}", INBOUND_DOMAIN.0),
                ],
                &[("Subject", "inbound".into())],
                "Inbound test message.\n",
            )
            .unwrap();
        let _ = c.quit();
        submissions.push(sub);
    }
    // Refused by the milter at the end of the message.
    for k in 0..2 {
        let mut c = SmtpClient::connect(sm.addr, Some(INBOUND_CLIENT)).unwrap();
        c.ehlo("client.e2e.test").unwrap();
        let sub = c
            .send(
                &format!("r250-in-m{k}@{}", SENDER_DOMAIN.0),
                &[format!("r250-in-m{k}@{}", INBOUND_DOMAIN.0)],
                &[("Subject", format!("{MILTER_REJECT_SUBJECT} {k}"))],
                "Inbound test message.\n",
            )
            .unwrap();
        let _ = c.quit();
        submissions.push(sub);
    }
    let mut blocked = Vec::new();
    let mut c = SmtpClient::connect(sm.addr, Some(BLOCKED_CLIENT)).unwrap();
    blocked.push(c.greeting.clone());
    for cmd in [
        "EHLO client.e2e.test".to_owned(),
        format!("MAIL FROM:<r250-blocked@{}>", SENDER_DOMAIN.0),
        format!("RCPT TO:<r250-b1@{}>", INBOUND_DOMAIN.0),
        format!("RCPT TO:<r250-b2@{}>", INBOUND_DOMAIN.0),
    ] {
        blocked.push(c.command(&cmd).unwrap());
    }
    let _ = c.quit();
    Inbound {
        submissions,
        blocked,
    }
}

/// The replies the configuration asks for; otherwise the test's set-up is wrong.
fn check_inbound_replies(inbound: &Inbound) {
    for sub in &inbound.submissions {
        for (rcpt, reply) in &sub.rcpts {
            let want = if rcpt.starts_with("r250-") {
                format!("250 2.1.5 <{rcpt}>... Recipient ok")
            } else if rcpt.starts_with("nouser@") {
                format!("550 5.1.1 <{rcpt}>... Mailbox does not exist")
            } else if rcpt.starts_with("later@") {
                format!("450 4.2.0 <{rcpt}>... Mailbox busy")
            } else if rcpt.starts_with("miltrej-") {
                format!("550 5.7.1 <{rcpt}>... Recipient rejected by the e2e milter")
            } else if rcpt.starts_with("relay-") {
                format!("550 5.7.1 <{rcpt}>... Relaying denied. IP name lookup failed [{INBOUND_CLIENT}]")
            } else {
                format!("550 5.1.1 <{rcpt}>... User unknown")
            };
            assert_eq!(reply.text(), want, "RCPT TO:<{rcpt}>");
        }
        let data = sub.data.as_ref().map(|d| d.text()).unwrap_or_default();
        if sub.sender.starts_with("r250-in-m") {
            assert_eq!(data, "554 5.7.1 Message rejected by the e2e milter");
        } else {
            assert!(sub.queued(), "{sub:?}");
        }
    }
    assert!(
        inbound.blocked.iter().any(|r| r.code == 550),
        "the blocked client must be refused: {:?}",
        inbound.blocked
    );
}

/// The expected counters from what the sink and the client recorded, with Sendmail's
/// documented behaviour (each rule where it is applied).
fn expectations(plan: &[Outbound], records: &[SinkRecord], inbound: &Inbound) -> Expected {
    let mut exp = Expected::default();
    // Outbound, from the sink: one reply per recipient per attempt. A delivered recipient
    // counts with Sendmail's dsn=2.0.0 and no basic code (Sendmail logs `stat=Sent (text)`
    // without the remote code); a refused one with the remote codes (`reply=`, `dsn=`);
    // a 550 without an enhanced code gets Sendmail's dsn=5.1.1.
    for r in records {
        let domain = domain_of(&r.recipient);
        match r.code / 100 {
            2 => exp.add(reply_labels("outbound", "delivered", "", "2.0.0", &domain)),
            c => {
                let outcome = if c == 4 { "deferred" } else { "bounced" };
                let enh = r.enhanced.clone().unwrap_or_else(|| {
                    assert_eq!(
                        r.code, 550,
                        "the catalogue has no other code without enhanced"
                    );
                    "5.1.1".into()
                });
                exp.add(reply_labels(
                    "outbound",
                    outcome,
                    &r.code.to_string(),
                    &enh,
                    &domain,
                ));
            }
        }
    }
    // Every recipient reached the sink once (first attempt) and, if it was deferred, once more
    // in the one queue run; down.test recipients never reach it: two deferrals each,
    // `stat=Deferred: Connection refused by [127.0.0.1]`, dsn=4.4.1, no code.
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for r in records {
        *seen.entry(r.recipient.as_str()).or_default() += 1;
    }
    let deferred_rcpts: BTreeSet<&str> = records
        .iter()
        .filter(|r| r.code / 100 == 4)
        .map(|r| r.recipient.as_str())
        .collect();
    let mut expired_msgs = BTreeSet::new();
    for m in plan {
        for r in &m.rcpts {
            let n = seen.get(r.as_str()).copied().unwrap_or(0);
            if domain_of(r) == DOWN_DOMAIN {
                assert_eq!(n, 0, "{r} is routed to a closed port");
                for _ in 0..2 {
                    exp.add(reply_labels(
                        "outbound",
                        "deferred",
                        "",
                        "4.4.1",
                        DOWN_DOMAIN,
                    ));
                }
                expired_msgs.insert(m.id.as_str());
            } else if deferred_rcpts.contains(r.as_str()) {
                assert_eq!(n, 2, "{r}: a deferred recipient is tried twice");
                expired_msgs.insert(m.id.as_str());
            } else {
                assert_eq!(n, 1, "{r} must get exactly one delivery attempt");
            }
        }
    }
    // The queue run after Timeout.queuereturn gives up on every message with a deferred
    // recipient: one `DSN: Cannot send message for 20 seconds` each.
    exp.expired = expired_msgs.len() as f64;

    // Inbound, from the client: one `ruleset=check_rcpt … reject=` (or `Milter: to=<…>,
    // reject=`) per refused RCPT, with its codes; `<addr>... User unknown` (a local user that
    // does not exist) carries no code. A message the milter refuses at its end: one
    // `Milter: data, reject=…`, naming no recipient.
    for sub in &inbound.submissions {
        for (rcpt, reply) in &sub.rcpts {
            if reply.code / 100 == 2 {
                continue;
            }
            if domain_of(rcpt) == HOSTNAME {
                exp.add(reply_labels("inbound", "rejected", "", "", HOSTNAME));
            } else {
                exp.add(reply_labels(
                    "inbound",
                    "rejected",
                    &reply.code.to_string(),
                    &reply.enhanced().unwrap_or_default(),
                    &domain_of(rcpt),
                ));
            }
        }
        if let Some(d) = sub.data.as_ref().filter(|d| d.code / 100 != 2) {
            exp.add(reply_labels(
                "inbound",
                "rejected",
                &d.code.to_string(),
                &d.enhanced().unwrap_or_default(),
                "",
            ));
        }
    }
    // The blocked client: check_relay refuses the session once (`reject=550 5.7.1 Access
    // denied`, no recipient), however many commands follow.
    exp.add(reply_labels("inbound", "rejected", "550", "5.7.1", ""));
    exp
}

/// Counts in the log by kind of line (independent of the exporter), to tell a wrong model
/// from an exporter bug.
fn log_tally(log: &str) -> BTreeMap<&'static str, usize> {
    // Delivery status lines: not `Milter: to=…`, not `stat=queued`, not the fate of a message
    // the milter refused (no mailer, no dsn).
    let to_lines = |l: &&str| {
        l.contains(": to=")
            && !l.contains(": Milter: ")
            && !l.ends_with("stat=queued")
            && (l.contains(", mailer=") || l.contains(", dsn="))
    };
    let rcpts = |l: &str| {
        let list = l.split(": to=").nth(1).unwrap_or("");
        let list = list.split(", ").next().unwrap_or("");
        list.split(',').count()
    };
    let mut t = BTreeMap::from([
        ("sent", 0),
        ("deferred", 0),
        ("bounced", 0),
        ("expired", 0),
        ("reject", 0),
        ("user_unknown", 0),
    ]);
    for l in log.lines() {
        if to_lines(&l) {
            let k = if l.contains(", stat=Sent") {
                "sent"
            } else if l.contains(", stat=Deferred") || l.contains(", dsn=4.") {
                "deferred"
            } else {
                "bounced"
            };
            *t.get_mut(k).unwrap() += rcpts(l);
        } else if l.contains(": DSN: Cannot send message for ") {
            *t.get_mut("expired").unwrap() += 1;
        } else if (l.contains(": ruleset=check_") || l.contains(": Milter: "))
            && l.contains(", reject=")
        {
            *t.get_mut("reject").unwrap() += 1;
        } else if l.ends_with(">... User unknown") {
            *t.get_mut("user_unknown").unwrap() += 1;
        }
    }
    t
}

fn expected_tally(exp: &Expected) -> BTreeMap<&'static str, usize> {
    let n = |d, o| exp.sum(d, o) as usize;
    let unknown = exp
        .replies
        .iter()
        .filter(|(l, _)| l["direction"] == "inbound" && l["code"].is_empty())
        .map(|(_, v)| *v as usize)
        .sum::<usize>();
    BTreeMap::from([
        ("sent", n("outbound", "delivered")),
        ("deferred", n("outbound", "deferred")),
        ("bounced", n("outbound", "bounced")),
        ("expired", exp.expired as usize),
        ("reject", n("inbound", "rejected") - unknown),
        ("user_unknown", unknown),
    ])
}

/// The private Sendmail in the shared scenario, with the test's milter it consults.
struct Sendmail {
    sm: SendmailInstance,
    _milter: Milter,
}

impl Mta for Sendmail {
    const NAME: &'static str = "Sendmail";
    const DIR_PREFIX: &'static str = "sse-sendmail-e2e-";
    const KEEPS: &'static str = "maillog, expected.txt, scrape.txt";
    const SOURCES: &'static [&'static str] = &["sendmail"];
    type Run = (Vec<Outbound>, Inbound);

    fn require() {
        util::require_tool("unshare");
        util::require_tool("m4");
    }

    fn sink_addrs() -> Vec<Ipv4Addr> {
        SINK_DOMAINS
            .iter()
            .chain([&SENDER_DOMAIN, &INBOUND_DOMAIN])
            .map(|(_, ip)| *ip)
            .collect()
    }

    fn start(dir: &TestDir, sink: &Sink) -> Sendmail {
        let milter = Milter::start(&dir.subdir("milter"))
            .unwrap_or_else(|e| panic!("starting the test milter: {e}"));
        let cfg = SendmailConfig {
            sink_port: sink.port(),
            sink_routes: SINK_DOMAINS
                .iter()
                .chain([&SENDER_DOMAIN, &INBOUND_DOMAIN])
                .map(|(d, ip)| ((*d).to_owned(), *ip))
                .collect(),
            down_domains: vec![DOWN_DOMAIN.into()],
            closed_port: util::closed_port(),
            access: vec![
                ("Connect:127.0.0.1".into(), "RELAY".into()),
                (format!("Connect:{BLOCKED_CLIENT}"), "REJECT".into()),
                (
                    format!("To:nouser@{}", INBOUND_DOMAIN.0),
                    "ERROR:550 5.1.1 Mailbox does not exist".into(),
                ),
                (
                    format!("To:later@{}", INBOUND_DOMAIN.0),
                    "ERROR:450 4.2.0 Mailbox busy".into(),
                ),
                (format!("To:{}", INBOUND_DOMAIN.0), "RELAY".into()),
            ],
            queue_return_secs: QUEUE_RETURN_SECS,
            milter: Some(milter.socket.clone()),
            sink_names: PROVIDER_MX
                .iter()
                .map(|(ip, name)| (*ip, (*name).to_owned()))
                .collect(),
        };
        let sm = SendmailInstance::start(&dir.subdir("sendmail"), &cfg)
            .unwrap_or_else(|e| panic!("starting the private sendmail: {e}"));
        Sendmail {
            sm,
            _milter: milter,
        }
    }

    fn logs(&self) -> Vec<PathBuf> {
        vec![self.sm.log_path().to_path_buf()]
    }

    fn exporter_args(&self) -> &'static [&'static str] {
        &["--log.format", "sendmail"]
    }

    fn log(&self) -> String {
        self.sm.log()
    }

    /// First attempts: every recipient (and every notice for a bounce) has its line; then the
    /// queue lifetime runs out for every message, and one queue run empties the queue.
    fn send_and_drain(&mut self, sink: &Sink, phase: &dyn Fn(&str)) -> Self::Run {
        let sm = &mut self.sm;
        let plan = outbound_plan();
        send_outbound(sm, &plan);
        let inbound = send_inbound(sm);
        let submitted = Instant::now();
        check_inbound_replies(&inbound);
        phase("mail submitted");

        let all_rcpts: Vec<String> = plan.iter().flat_map(|m| m.rcpts.iter().cloned()).collect();
        let first_done = wait_for(Duration::from_secs(120), Duration::from_millis(250), || {
            let log = sm.log();
            all_rcpts
                .iter()
                .all(|r| log.contains(&format!("<{r}>")))
                .then_some(())
        });
        assert!(
            first_done.is_some(),
            "not every recipient was tried:\n{}",
            sm.log()
        );
        let wait = Duration::from_secs(QUEUE_RETURN_SECS + 3).saturating_sub(submitted.elapsed());
        wait_for(
            wait + Duration::from_secs(5),
            Duration::from_millis(250),
            || {
                (sink.open_sessions() == 0
                    && submitted.elapsed() >= Duration::from_secs(QUEUE_RETURN_SECS + 3))
                .then_some(())
            },
        );
        sm.run_queue().unwrap_or_else(|e| panic!("{e}"));
        let drained = wait_for(Duration::from_secs(60), Duration::from_millis(250), || {
            (sm.queue_len() == 0 && sink.open_sessions() == 0).then_some(())
        });
        assert!(
            drained.is_some(),
            "the queue did not drain: {} left",
            sm.queue_len()
        );
        (plan, inbound)
    }

    fn log_tally(log: &str) -> BTreeMap<&'static str, usize> {
        log_tally(log)
    }

    fn want(&self, (plan, inbound): &Self::Run, sink: &Sink, log: &str) -> Want {
        let exp = expectations(plan, &sink.records(), inbound);
        Want {
            delays: Some(delays_per_to_line(log)),
            tally: expected_tally(&exp),
            expected_txt: exp.dump(),
            failures: None,
            expired: exp.expired,
            replies: exp.replies,
        }
    }

    fn expired_labels() -> Labels {
        metrics::labels(&[("source", "sendmail"), ("mta", "sendmail")])
    }

    fn replays(&self, want: &Want) -> Vec<Replay> {
        vec![Replay {
            replies_sum: Some(want.total_replies()),
            no_unrecognised: true,
            ..Replay::of("replay", &["--log.format", "sendmail"], self.logs())
        }]
    }

    fn stop(&mut self) {
        self.sm.stop();
    }
}

/// Every `to=` status line gives `delay=`: one observation per line (a line may name several
/// recipients), counted here from the log by outcome.
fn delays_per_to_line(log: &str) -> BTreeMap<Labels, f64> {
    let mut lines_by_outcome: BTreeMap<&str, f64> = BTreeMap::new();
    for l in log.lines() {
        if l.contains(": to=")
            && !l.contains(": Milter: ")
            && !l.ends_with("stat=queued")
            && (l.contains(", mailer=") || l.contains(", dsn="))
        {
            let o = if l.contains(", stat=Sent") {
                "delivered"
            } else if l.contains(", stat=Deferred") || l.contains(", dsn=4.") {
                "deferred"
            } else {
                "bounced"
            };
            *lines_by_outcome.entry(o).or_default() += 1.0;
        }
    }
    lines_by_outcome
        .iter()
        .map(|(o, n)| {
            let l = metrics::labels(&[("source", "sendmail"), ("mta", "sendmail"), ("outcome", o)]);
            (l, *n)
        })
        .collect()
}

#[test]
#[ignore = "needs root and Debian's sendmail-bin unpacked by scripts/install-test-deps: run by scripts/test"]
fn sendmail_real_mta_end_to_end() {
    let _heavy = harness::heavy();
    scenario::run::<Sendmail>();
}
