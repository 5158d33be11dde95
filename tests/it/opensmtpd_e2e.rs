//! End-to-end: a REAL OpenSMTPD (Debian 12's `opensmtpd` 6.8.0p2, unpacked by
//! `scripts/install-test-deps`) as a private daemon on loopback, logging through syslog(3) to
//! the test's own syslog receiver, relaying to the scripted SMTP sink and receiving from the
//! test's client, while the exporter tails the log. Every `smtp_replies_total` series and
//! `smtp_expired_total` must equal what the sink and the client recorded.
//!
//! Run with `sudo scripts/test`. How OpenSMTPD runs without an init system: see
//! tests/it/harness/opensmtpd.rs.

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
use harness::opensmtpd::{OpenSmtpdConfig, OpenSmtpdInstance};
use harness::scenario::{self, delays_per_outbound_reply, Mta, Replay, Want};
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
/// Accepted from any client and relayed to the sink.
const INBOUND_DOMAIN: (&str, Ipv4Addr) = ("in.test", Ipv4Addr::new(127, 0, 0, 8));
/// Routed to a closed port.
const DOWN_DOMAIN: &str = "down.test";
/// Not allowed to relay (only 127.0.0.1 is): the inbound client.
const INBOUND_CLIENT: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 10);
/// `queue ttl`: shorter than OpenSMTPD's first retry (15 min) and than the 15 s it disables a
/// route after a refused connection, so each deferred envelope is tried once, then expires.
const TTL_SECS: u64 = 10;
const OUTBOUND_MESSAGES: usize = 60;

/// The replies the sink is scripted to give, with weights. No 421 (the MTA would then defer
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
        // Basic code only: OpenSMTPD logs the reply as it came, without an enhanced code.
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
    let mut l = expect::reply_labels("opensmtpd", direction, outcome, code, enhanced, domain);
    l.insert("provider".into(), provider_of(direction, domain).into());
    l
}

/// What the inbound client did, for the expectations.
struct Inbound {
    submissions: Vec<Submission>,
    /// Replies to `MAIL FROM` of refused senders.
    refused_senders: Vec<Reply>,
}

fn send_outbound(sm: &OpenSmtpdInstance, plan: &[Outbound]) {
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
                "smtpd must accept {} whole from 127.0.0.1: {sub:?}",
                m.id
            );
        }
        let _ = c.quit();
    }
}

fn send_inbound(sm: &OpenSmtpdInstance) -> Inbound {
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
                ],
                &[("Subject", "inbound".into())],
                "Inbound test message.\n",
            )
            .unwrap();
        let _ = c.quit();
        submissions.push(sub);
    }
    // Refused at MAIL FROM: `smtp failed-command command="MAIL FROM:<…>" …`, no recipient.
    let mut refused_senders = Vec::new();
    for k in 0..2 {
        let mut c = SmtpClient::connect(sm.addr, Some(INBOUND_CLIENT)).unwrap();
        c.ehlo("client.e2e.test").unwrap();
        refused_senders.push(
            c.command(&format!("MAIL FROM:<blocked-{k}@{}>", SENDER_DOMAIN.0))
                .unwrap(),
        );
        let _ = c.quit();
    }
    Inbound {
        submissions,
        refused_senders,
    }
}

/// The replies the configuration asks for; otherwise the test's set-up is wrong.
fn check_inbound_replies(inbound: &Inbound) {
    for sub in &inbound.submissions {
        for (rcpt, reply) in &sub.rcpts {
            let want = if rcpt.starts_with("r250-") {
                "250 2.1.5 Destination address valid: Recipient ok".to_owned()
            } else if rcpt.starts_with("nouser@") {
                "550 5.1.1 Mailbox does not exist".to_owned()
            } else if rcpt.starts_with("later@") {
                "450 4.2.0 Mailbox busy".to_owned()
            } else {
                format!("550 Invalid recipient: <{rcpt}>")
            };
            assert_eq!(reply.text(), want, "RCPT TO:<{rcpt}>");
        }
        assert!(sub.queued(), "{sub:?}");
    }
    for r in &inbound.refused_senders {
        assert_eq!(r.text(), "553 5.7.1 Sender refused by the e2e test");
    }
}

/// The expected counters from what the sink and the client recorded, with OpenSMTPD's
/// documented behaviour (each rule where it is applied).
fn expectations(
    plan: &[Outbound],
    records: &[SinkRecord],
    inbound: &Inbound,
    log: &str,
) -> Expected {
    let mut exp = Expected::default();
    // Outbound, from the sink: one `mta delivery` line per recipient per attempt, `stat=` the
    // reply as the sink sent it (codes as they are: no enhanced code where it sent none).
    for r in records {
        let outcome = match r.code / 100 {
            2 => "delivered",
            4 => "deferred",
            _ => "bounced",
        };
        let code = r.code.to_string();
        let enh = r.enhanced.clone().unwrap_or_default();
        let enh = if r.code == 250 {
            "2.0.0".to_owned()
        } else {
            enh
        };
        exp.add(reply_labels(
            "outbound",
            outcome,
            &code,
            &enh,
            &domain_of(&r.recipient),
        ));
    }
    // Each recipient reached the sink exactly once (a deferred one is not tried again before
    // `queue ttl`). down.test recipients never reach it: after the refused connection
    // OpenSMTPD disables the route and holds their envelopes; when the ttl runs out they
    // expire, and depending on timing the held envelope is first flushed with one
    // `mta delivery … result="TempFail" stat="Network error on destination MXs"` (no code) or
    // not at all. Which of the two happened is read from the MTA's own log, per recipient. Every
    // envelope deferred or never delivered expires: one `Expire for` line each.
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for r in records {
        *seen.entry(r.recipient.as_str()).or_default() += 1;
    }
    let deferred: BTreeSet<&str> = records
        .iter()
        .filter(|r| r.code / 100 == 4)
        .map(|r| r.recipient.as_str())
        .collect();
    for m in plan {
        for r in &m.rcpts {
            let n = seen.get(r.as_str()).copied().unwrap_or(0);
            if domain_of(r) == DOWN_DOMAIN {
                assert_eq!(n, 0, "{r} is routed to a closed port");
                exp.expired += 1.0;
                let flushed = log
                    .lines()
                    .filter(|l| {
                        l.contains(&format!(" to=<{r}> "))
                            && l.ends_with(
                                "result=\"TempFail\" stat=\"Network error on destination MXs\"",
                            )
                    })
                    .count();
                assert!(flushed <= 1, "{r}: {flushed} network-error lines");
                for _ in 0..flushed {
                    exp.add(reply_labels("outbound", "deferred", "", "", DOWN_DOMAIN));
                }
            } else {
                assert_eq!(n, 1, "{r} must get exactly one delivery attempt");
                if deferred.contains(r.as_str()) {
                    exp.expired += 1.0;
                }
            }
        }
    }
    // Inbound, from the client: one `smtp failed-command` per refused RCPT, with its codes.
    for sub in &inbound.submissions {
        for (rcpt, reply) in &sub.rcpts {
            if reply.code / 100 != 2 {
                exp.add(reply_labels(
                    "inbound",
                    "rejected",
                    &reply.code.to_string(),
                    &reply.enhanced().unwrap_or_default(),
                    &domain_of(rcpt),
                ));
            }
        }
    }
    for r in &inbound.refused_senders {
        exp.add(reply_labels(
            "inbound",
            "rejected",
            &r.code.to_string(),
            &r.enhanced().unwrap_or_default(),
            "",
        ));
    }
    exp
}

/// Counts in the log by kind of line (independent of the exporter), to tell a wrong model
/// from an exporter bug.
fn log_tally(log: &str) -> BTreeMap<&'static str, usize> {
    let mut t = BTreeMap::from([
        ("Ok", 0),
        ("TempFail", 0),
        ("PermFail", 0),
        ("expired", 0),
        ("failed-command", 0),
    ]);
    for l in log.lines() {
        if l.contains(" mta delivery ") {
            for k in ["Ok", "TempFail", "PermFail"] {
                if l.contains(&format!(" result=\"{k}\" ")) {
                    *t.get_mut(k).unwrap() += 1;
                }
            }
        } else if l.contains(": relay: Expire for ") {
            *t.get_mut("expired").unwrap() += 1;
        } else if l.contains(" smtp failed-command ") {
            *t.get_mut("failed-command").unwrap() += 1;
        }
    }
    t
}

fn expected_tally(exp: &Expected) -> BTreeMap<&'static str, usize> {
    let n = |d, o| exp.sum(d, o) as usize;
    BTreeMap::from([
        ("Ok", n("outbound", "delivered")),
        ("TempFail", n("outbound", "deferred")),
        ("PermFail", n("outbound", "bounced")),
        ("expired", exp.expired as usize),
        ("failed-command", n("inbound", "rejected")),
    ])
}

/// The private OpenSMTPD in the shared scenario.
struct OpenSmtpd(OpenSmtpdInstance);

impl Mta for OpenSmtpd {
    const NAME: &'static str = "OpenSMTPD";
    const DIR_PREFIX: &'static str = "sse-opensmtpd-e2e-";
    const KEEPS: &'static str = "maillog, expected.txt, scrape.txt";
    const SOURCES: &'static [&'static str] = &["opensmtpd"];
    type Run = (Vec<Outbound>, Inbound);

    fn require() {
        util::require_tool("unshare");
    }

    fn sink_addrs() -> Vec<Ipv4Addr> {
        SINK_DOMAINS
            .iter()
            .chain([&SENDER_DOMAIN, &INBOUND_DOMAIN])
            .map(|(_, ip)| *ip)
            .collect()
    }

    fn start(dir: &TestDir, sink: &Sink) -> OpenSmtpd {
        let cfg = OpenSmtpdConfig {
            sink_port: sink.port(),
            sink_routes: SINK_DOMAINS
                .iter()
                .chain([&SENDER_DOMAIN, &INBOUND_DOMAIN])
                .map(|(d, ip)| ((*d).to_owned(), *ip))
                .collect(),
            down_domains: vec![DOWN_DOMAIN.into()],
            closed_port: util::closed_port(),
            open_domains: vec![INBOUND_DOMAIN.0.into()],
            rcpt_rejects: vec![
                ("^nouser@".into(), "550 5.1.1 Mailbox does not exist".into()),
                ("^later@".into(), "450 4.2.0 Mailbox busy".into()),
            ],
            mail_rejects: vec![(
                "^blocked-".into(),
                "553 5.7.1 Sender refused by the e2e test".into(),
            )],
            ttl_secs: TTL_SECS,
            sink_names: PROVIDER_MX
                .iter()
                .map(|(ip, name)| (*ip, (*name).to_owned()))
                .collect(),
        };
        let sm = OpenSmtpdInstance::start(&dir.subdir("opensmtpd"), &cfg)
            .unwrap_or_else(|e| panic!("starting the private OpenSMTPD: {e}"));
        OpenSmtpd(sm)
    }

    fn logs(&self) -> Vec<PathBuf> {
        vec![self.0.log_path().to_path_buf()]
    }

    fn exporter_args(&self) -> &'static [&'static str] {
        &["--log.format", "opensmtpd"]
    }

    fn log(&self) -> String {
        self.0.log()
    }

    /// Every envelope delivered, bounced or expired; the notices sent.
    fn send_and_drain(&mut self, sink: &Sink, phase: &dyn Fn(&str)) -> Self::Run {
        let sm = &self.0;
        let plan = outbound_plan();
        send_outbound(sm, &plan);
        let inbound = send_inbound(sm);
        let submitted = Instant::now();
        check_inbound_replies(&inbound);
        phase("mail submitted");
        let drained = wait_for(
            Duration::from_secs(120 + TTL_SECS),
            Duration::from_millis(250),
            || {
                (submitted.elapsed() > Duration::from_secs(TTL_SECS)
                    && sm.queue_files() == 0
                    && sink.open_sessions() == 0)
                    .then_some(())
            },
        );
        assert!(
            drained.is_some(),
            "the queue did not drain: {} files left\n{}",
            sm.queue_files(),
            sm.log()
        );
        (plan, inbound)
    }

    fn log_tally(log: &str) -> BTreeMap<&'static str, usize> {
        log_tally(log)
    }

    /// The model depends on the log (the ids OpenSMTPD gave): it is worked out again until
    /// model and log agree.
    fn want(&self, (plan, inbound): &Self::Run, sink: &Sink, log: &str) -> Want {
        let exp = expectations(plan, &sink.records(), inbound, log);
        Want {
            delays: Some(delays_per_outbound_reply(
                &exp.replies,
                "opensmtpd",
                "opensmtpd",
            )),
            tally: expected_tally(&exp),
            expected_txt: exp.dump(),
            failures: None,
            expired: exp.expired,
            replies: exp.replies,
        }
    }

    fn expired_labels() -> Labels {
        metrics::labels(&[("source", "opensmtpd"), ("mta", "opensmtpd")])
    }

    fn replays(&self, want: &Want) -> Vec<Replay> {
        vec![Replay {
            replies_sum: Some(want.total_replies()),
            no_unrecognised: true,
            ..Replay::of("replay", &["--log.format", "opensmtpd"], self.logs())
        }]
    }

    fn stop(&mut self) {
        self.0.stop();
    }
}

#[test]
#[ignore = "needs root and Debian's opensmtpd unpacked by scripts/install-test-deps: run by scripts/test"]
fn opensmtpd_real_mta_end_to_end() {
    let _heavy = harness::heavy();
    scenario::run::<OpenSmtpd>();
}
