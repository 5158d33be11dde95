//! End-to-end: a REAL Exim 4.96 (Debian's `exim4-daemon-light`, unpacked into a private root
//! by scripts/install-test-deps) as a private instance on loopback, relaying to the scripted
//! SMTP sink and refusing scripted clients with its ACLs, while the exporter tails its
//! `mainlog` and its `rejectlog`. Every `smtp_replies_total` series must equal what the sink
//! and the client recorded; the expiries (`retry timeout exceeded`) must be counted in
//! `smtp_expired_total` and nowhere else; the reject log must add nothing.
//!
//! Run with `sudo scripts/test` (installs what it needs, then runs the ignored tests).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::harness;

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use harness::client::{Reply, SmtpClient};
use harness::exim::{self, EximConfig, EximInstance};
use harness::expect::{self, domain_of, Lcg};
use harness::metrics::{self, Labels};
use harness::scenario::{self, Mta, Replay, Want};
use harness::sink::{self, Script, Sink, SinkRecord};
use harness::util::{self, TestDir};

/// Domains served by the sink, one loopback address each.
const SINK_DOMAINS: [(&str, Ipv4Addr); 3] = [
    ("d1.test", Ipv4Addr::new(127, 0, 0, 2)),
    ("d2.test", Ipv4Addr::new(127, 0, 0, 3)),
    ("d3.test", Ipv4Addr::new(127, 0, 0, 4)),
];
/// d1.test's "server" goes by Gmail's MX name (in a hosts file only Exim's processes see):
/// Exim logs `H=gmail-smtp-in.l.google.com [127.0.0.2]`, and its replies count under
/// `provider="google"`; other hosts are loopback addresses, so the recipient domain (none a
/// provider's) decides: `other`.
const GMAIL_MX: (&str, Ipv4Addr) = ("gmail-smtp-in.l.google.com", SINK_DOMAINS[0].1);
/// Served by the sink too, under a retry rule that gives up after 3 s: a recipient deferred
/// there is tried again by the test's queue run and then expires (`retry timeout exceeded`).
const EXP_DOMAIN: (&str, Ipv4Addr) = ("exp.test", Ipv4Addr::new(127, 0, 0, 8));
const EXP_RETRY: &str = "exp.test * F,3s,1s";
/// Every other domain: retry after 15 minutes, give up after an hour — never within the test.
const DEFAULT_RETRY: &str = "* * F,1h,15m";
/// The senders' domain: the bounce messages go back to the sink there.
const SENDER_DOMAIN: (&str, Ipv4Addr) = ("snd.test", Ipv4Addr::new(127, 0, 0, 7));
/// Routed to a port where nothing listens: deferred without a reply code.
const DOWN_DOMAIN: (&str, Ipv4Addr) = ("down.test", Ipv4Addr::new(127, 0, 0, 10));
/// Received for local delivery (`:blackhole:`), behind the ACLs.
const INBOUND_DOMAIN: &str = "in.test";
/// A client the connect ACL refuses, and one the HELO ACL refuses.
const CONNECT_REFUSED: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 11);
const HELO_REFUSED: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 9);
const REJECT_SUBJECT: &str = "E2E-REJECT-CONTENT";
/// What the RCPT ACL says when a client asks to relay: Exim's usual words, no code in them.
const RELAY_DENIED: &str = "relay not permitted";

const OUTBOUND_MESSAGES: usize = 150;

/// The ACLs: each `message` is exactly the reply a client gets (Exim takes the code from its
/// start), except the relay refusal, whose 550 is Exim's default for `deny`.
fn acls() -> (Vec<(String, String)>, String) {
    let settings = [
        ("acl_smtp_connect", "acl_connect"),
        ("acl_smtp_helo", "acl_helo"),
        ("acl_smtp_mail", "acl_mail"),
        ("acl_smtp_rcpt", "acl_rcpt"),
        ("acl_smtp_data", "acl_data"),
    ]
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .to_vec();
    let body = format!(
        "acl_connect:
  deny hosts = {CONNECT_REFUSED}
       message = 554 5.7.1 Connection refused by the e2e ACL
  accept
acl_helo:
  deny hosts = {HELO_REFUSED}
       message = 550 5.7.1 HELO refused by the e2e ACL
  accept
acl_mail:
  deny senders = *@blocked.test
       message = 553 5.7.1 Sender refused by the e2e ACL
  accept
acl_rcpt:
  deny domains = +local_domains
       local_parts = nouser
       message = 550 5.1.1 No such mailbox here
  deny domains = +local_domains
       local_parts = policy
       message = 554 5.7.1 Refused by local policy
  defer domains = +local_domains
       local_parts = later
       message = 450 4.2.0 Mailbox busy, try again later
  accept domains = +local_domains
  accept hosts = +relay_from_hosts
         domains = +relay_to_domains
  deny message = {RELAY_DENIED}
acl_data:
  deny condition = ${{if match{{$h_subject:}}{{{REJECT_SUBJECT}}}}}
       message = 550 5.7.1 Message content rejected by the e2e test
  accept
"
    );
    (settings, body)
}

/// The sink's scripted replies, with weights. Not here: 421 (Exim then drops the connection
/// and defers the transaction's other recipients with the same reply, which the sink never
/// gave them) and 452/552 to RCPT (Exim reads them as "too many recipients" and retries the
/// rest in another transaction).
fn catalogue() -> Vec<(Script, u32)> {
    vec![
        (Script::accept(), 14),
        (Script::rcpt(450, Some("4.2.0")), 1),
        (Script::rcpt(451, Some("4.3.0")), 1),
        (Script::rcpt(451, Some("4.7.1")), 1),
        (Script::rcpt(550, Some("5.1.1")), 2),
        (Script::rcpt(550, Some("5.1.1")).multiline(), 1),
        (Script::rcpt(553, Some("5.1.3")), 1),
        (Script::rcpt(554, Some("5.7.1")), 1),
        (Script::rcpt(550, None), 1),
        (Script::rcpt(451, None), 1),
        (Script::accept().data(554, Some("5.7.1")), 1),
    ]
}

struct Outbound {
    id: String,
    sender: String,
    rcpts: Vec<String>,
}

fn outbound_plan() -> Vec<Outbound> {
    let cat = catalogue();
    let mut rng = Lcg(0xe71e_2026);
    let mut nth = 0usize;
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
                    nth += 1;
                    let script = rng.pick(&cat).cloned().unwrap_or_else(Script::accept);
                    let local = script.local_part(&format!("{id}r{i}"));
                    let domain = match rng.below(14) {
                        0 => DOWN_DOMAIN.0.to_owned(),
                        1 | 2 => EXP_DOMAIN.0.to_owned(),
                        k => SINK_DOMAINS[(k % 3) as usize].0.to_owned(),
                    };
                    // Some recipients spell the domain in upper or mixed case.
                    let domain = match nth % 9 {
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

fn exim_config(sink: &Sink, down_port: u16) -> EximConfig {
    let mut routes: Vec<(String, Ipv4Addr, u16)> = SINK_DOMAINS
        .iter()
        .chain([&EXP_DOMAIN, &SENDER_DOMAIN])
        .map(|(d, ip)| ((*d).to_owned(), *ip, sink.port()))
        .collect();
    routes.push((DOWN_DOMAIN.0.to_owned(), DOWN_DOMAIN.1, down_port));
    let (acl_settings, acls) = acls();
    EximConfig {
        routes,
        local_domains: vec![INBOUND_DOMAIN.to_owned()],
        retry: vec![EXP_RETRY.to_owned(), DEFAULT_RETRY.to_owned()],
        acl_settings,
        acls,
        hosts: vec![(GMAIL_MX.0.to_owned(), GMAIL_MX.1)],
    }
}

/// The labels of one `smtp_replies_total` series but `source` (added per source below).
fn reply_labels(
    direction: &str,
    outcome: &str,
    code: &str,
    enhanced: &str,
    (domain, provider): (&str, &str),
) -> Labels {
    let mut l = expect::reply_labels_of("exim", direction, outcome, code, enhanced, domain);
    l.insert("provider".into(), provider.into());
    l
}

/// The provider of a reply the sink gave: Google's from the address named as Gmail's MX.
fn provider_of(r: &SinkRecord) -> &'static str {
    if r.listener == GMAIL_MX.1 {
        "google"
    } else {
        "other"
    }
}

fn with_source(m: &BTreeMap<Labels, f64>, source: &str) -> BTreeMap<Labels, f64> {
    m.iter()
        .map(|(l, v)| {
            let mut l = l.clone();
            l.insert("source".into(), source.into());
            (l, *v)
        })
        .collect()
}

#[derive(Default)]
struct Expected {
    replies: BTreeMap<Labels, f64>,
    expired: f64,
}

impl Expected {
    fn add(&mut self, l: Labels) {
        *self.replies.entry(l).or_default() += 1.0;
    }

    fn sum(&self, direction: &str, outcome: &str) -> f64 {
        self.replies
            .iter()
            .filter(|(l, _)| l["direction"] == direction && l["outcome"] == outcome)
            .map(|(_, v)| v)
            .sum()
    }

    /// In the golden files' form (`COUNT {labels}`, `expired N`), for source `source`.
    fn golden(&self, source: &str) -> String {
        let mut s = format!("expired {}\n", self.expired);
        for (l, v) in with_source(&self.replies, source) {
            let l: Vec<String> = l.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
            s.push_str(&format!("{v} {{{}}}\n", l.join(",")));
        }
        s
    }
}

fn send_outbound(exim: &EximInstance, plan: &[Outbound]) {
    for chunk in plan.chunks(25) {
        let mut c =
            SmtpClient::connect(exim.addr, None).unwrap_or_else(|e| panic!("connect to Exim: {e}"));
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
                "Exim must accept {} whole for relaying: {sub:?}",
                m.id
            );
        }
        let _ = c.quit();
    }
}

/// One refusal the client got, as the exporter should count it.
#[derive(Debug)]
struct Refusal {
    reply: Reply,
    /// The refused recipient's domain (RCPT only).
    domain: String,
    /// The command refused, as the `stage` label names it.
    stage: &'static str,
}

/// What the client saw inbound: the refusals, and the recipients accepted for local delivery.
#[derive(Default, Debug)]
struct Inbound {
    refusals: Vec<Refusal>,
    delivered: Vec<String>,
}

fn connect(exim: &EximInstance, src: Ipv4Addr) -> SmtpClient {
    let server: SocketAddr = exim.addr;
    SmtpClient::connect(server, Some(src))
        .unwrap_or_else(|e| panic!("connect to Exim from {src}: {e}"))
}

fn send_inbound(exim: &EximInstance) -> Inbound {
    let mut out = Inbound::default();
    let lo = Ipv4Addr::LOCALHOST;
    for k in 0..4 {
        let mut c = connect(exim, lo);
        c.ehlo("client.e2e.test")
            .unwrap_or_else(|e| panic!("EHLO: {e}"));
        let later_domain = if k % 2 == 0 {
            "IN.TEST"
        } else {
            INBOUND_DOMAIN
        };
        let rcpts = vec![
            format!("ok-a{k}@{INBOUND_DOMAIN}"),
            format!("nouser@{INBOUND_DOMAIN}"),
            format!("later@{later_domain}"),
            format!("policy@{INBOUND_DOMAIN}"),
            format!("relay-a{k}@elsewhere.test"),
        ];
        let sender = format!("r250-in-a{k}@{}", SENDER_DOMAIN.0);
        let sub = c
            .send(
                &sender,
                &rcpts,
                &[("Subject", "inbound with refused recipients".into())],
                "Inbound test message.\n",
            )
            .unwrap_or_else(|e| panic!("inbound submission: {e}"));
        let _ = c.quit();
        for (rcpt, reply) in &sub.rcpts {
            if reply.code / 100 == 2 {
                continue;
            }
            out.refusals.push(Refusal {
                reply: reply.clone(),
                domain: domain_of(rcpt),
                stage: "rcpt",
            });
        }
        assert!(sub.queued(), "the accepted recipient is delivered: {sub:?}");
        out.delivered.extend(sub.accepted().map(str::to_owned));
    }
    for k in 0..3 {
        // Refused after DATA: one refusal, naming no recipient.
        let mut c = connect(exim, lo);
        c.ehlo("client.e2e.test")
            .unwrap_or_else(|e| panic!("EHLO: {e}"));
        let sub = c
            .send(
                &format!("r250-in-c{k}@{}", SENDER_DOMAIN.0),
                &[
                    format!("ok-c{k}@{INBOUND_DOMAIN}"),
                    format!("ok-c{k}x@In.Test"),
                ],
                &[("Subject", format!("inbound {REJECT_SUBJECT} {k}"))],
                "Content the ACL refuses.\n",
            )
            .unwrap_or_else(|e| panic!("inbound submission: {e}"));
        let _ = c.quit();
        let data = sub
            .data
            .clone()
            .unwrap_or_else(|| panic!("no DATA reply: {sub:?}"));
        assert_eq!(data.code, 550, "{sub:?}");
        out.refusals.push(Refusal {
            reply: data,
            domain: String::new(),
            stage: "end_of_data",
        });
    }
    for k in 0..2 {
        // A sender the MAIL ACL refuses.
        let mut c = connect(exim, lo);
        c.ehlo("client.e2e.test")
            .unwrap_or_else(|e| panic!("EHLO: {e}"));
        let reply = c
            .command(&format!("MAIL FROM:<x{k}@blocked.test>"))
            .unwrap_or_else(|e| panic!("MAIL: {e}"));
        assert_eq!(reply.code, 553, "{reply:?}");
        let _ = c.quit();
        out.refusals.push(Refusal {
            reply,
            domain: String::new(),
            stage: "mail",
        });
    }
    for _ in 0..2 {
        // A client the HELO ACL refuses.
        let mut c = connect(exim, HELO_REFUSED);
        let reply = c
            .ehlo("client.e2e.test")
            .unwrap_or_else(|e| panic!("EHLO: {e}"));
        assert_eq!(reply.code, 550, "{reply:?}");
        let _ = c.quit();
        out.refusals.push(Refusal {
            reply,
            domain: String::new(),
            stage: "helo",
        });
    }
    for _ in 0..2 {
        // A client the connect ACL refuses: the greeting is the refusal.
        let c = connect(exim, CONNECT_REFUSED);
        assert_eq!(c.greeting.code, 554, "{:?}", c.greeting);
        out.refusals.push(Refusal {
            reply: c.greeting.clone(),
            domain: String::new(),
            stage: "connect",
        });
        let _ = c.quit();
    }
    out
}

/// The expected counters, from what the sink and the client recorded and Exim's documented
/// behaviour (each rule stated where it is applied). `first` are the sink's records of the
/// deliveries right after reception, `later` those of the test's queue run.
fn expectations(
    plan: &[Outbound],
    first: &[SinkRecord],
    later: &[SinkRecord],
    inbound: &Inbound,
) -> Expected {
    let mut exp = Expected::default();
    // Every reply the sink gave is logged once, for its recipient: `=>`/`->` with the
    // confirmation C="250 …" (log_selector +smtp_confirmation), `==` for 4xx and `**` for 5xx
    // with "SMTP error from remote mail server after RCPT TO:<…>: <reply>" (or "after end of
    // data"); the codes as the sink sent them.
    for r in first.iter().chain(later) {
        let outcome = match r.code / 100 {
            2 => "delivered",
            4 => "deferred",
            _ => "bounced",
        };
        // The line names the sink's host (`H=…`): its provider.
        exp.add(reply_labels(
            "outbound",
            outcome,
            &r.code.to_string(),
            r.enhanced.as_deref().unwrap_or(""),
            (&domain_of(&r.recipient), provider_of(r)),
        ));
    }
    let count = |records: &[SinkRecord], rcpt: &str| {
        // Exim lower-cases the domain of the address it sends.
        records
            .iter()
            .filter(|r| r.recipient.eq_ignore_ascii_case(rcpt))
            .count()
    };
    for m in plan {
        for r in &m.rcpts {
            let domain = domain_of(r);
            let (n1, n2) = (count(first, r), count(later, r));
            if domain == DOWN_DOMAIN.0 {
                // Nothing listens: "defer (111): Connection refused", then (host in its retry
                // wait) "retry time not reached for any host": one `==` without a code at
                // reception and one in the queue run.
                assert_eq!(n1 + n2, 0, "{r} is routed to a closed port");
                for _ in 0..2 {
                    exp.add(reply_labels(
                        "outbound",
                        "deferred",
                        "",
                        "",
                        (&domain, "other"),
                    ));
                }
                continue;
            }
            assert_eq!(n1, 1, "{r} must get exactly one attempt at reception");
            let deferred = first
                .iter()
                .any(|x| x.recipient.eq_ignore_ascii_case(r) && x.code / 100 == 4);
            match (deferred, domain == EXP_DOMAIN.0) {
                // Retry rule F,3s,1s: retried in the queue run (the sink answers again and
                // that reply counts like the first), then `** …: retry timeout exceeded`.
                (true, true) => {
                    assert_eq!(n2, 1, "{r} is tried again in the queue run");
                    exp.expired += 1.0;
                }
                // Retry in 15 minutes: the queue run logs "routing defer (-52): retry time
                // not reached", a deferral without a code.
                (true, false) => {
                    assert_eq!(n2, 0, "{r} waits for its retry time");
                    // No host tried, none named: the domain's provider (none).
                    exp.add(reply_labels(
                        "outbound",
                        "deferred",
                        "",
                        "",
                        (&domain, "other"),
                    ));
                }
                (false, _) => assert_eq!(n2, 0, "{r} was done with at reception"),
            }
        }
    }
    // Inbound: one `rejected …` line per refusal in the main log. The code is logged as the
    // start of the ACL's message; the relay refusal's message has none (the client's 550 is
    // Exim's default for `deny`), so its line has no code.
    for f in &inbound.refusals {
        let text = f.reply.lines.join(" ");
        let (code, enhanced) = if text == RELAY_DENIED {
            (String::new(), String::new())
        } else {
            (
                f.reply.code.to_string(),
                f.reply.enhanced().unwrap_or_default(),
            )
        };
        // Inbound: the client is no destination, no provider.
        exp.add(reply_labels(
            "inbound",
            "rejected",
            &code,
            &enhanced,
            (&f.domain, ""),
        ));
    }
    // Accepted inbound recipients: `=> :blackhole: <ok@in.test> R=local_blackhole`, no code.
    for r in &inbound.delivered {
        exp.add(reply_labels(
            "outbound",
            "delivered",
            "",
            "",
            (&domain_of(r), "other"),
        ));
    }
    exp
}

/// Counts in the main log by kind of line, for the model check (independent of the exporter).
fn mainlog_tally(log: &str) -> BTreeMap<&'static str, usize> {
    let kind = |l: &str, k: &str| l.contains(&format!(" {k} "));
    let mut t = BTreeMap::from([
        ("delivered", 0),
        ("deferred", 0),
        ("bounced", 0),
        ("expired", 0),
        ("rejected", 0),
    ]);
    for l in log.lines() {
        let key = if kind(l, "=>") || kind(l, "->") {
            "delivered"
        } else if kind(l, "==") {
            "deferred"
        } else if kind(l, "**") && l.ends_with(": retry timeout exceeded") {
            "expired"
        } else if kind(l, "**") {
            "bounced"
        } else if l.contains(" rejected ") {
            "rejected"
        } else {
            continue;
        };
        *t.entry(key).or_default() += 1;
    }
    t
}

fn expected_tally(exp: &Expected) -> BTreeMap<&'static str, usize> {
    let n = |d, o| exp.sum(d, o) as usize;
    BTreeMap::from([
        ("delivered", n("outbound", "delivered")),
        ("deferred", n("outbound", "deferred")),
        ("bounced", n("outbound", "bounced")),
        ("expired", exp.expired as usize),
        ("rejected", n("inbound", "rejected")),
    ])
}

/// The private Exim in the shared scenario: it follows the main log (source `exim-1`) and the
/// reject log (`exim-2`, which Exim creates at its first refusal).
/// The second field: the failures expected by direction and stage, from the last run.
struct Exim(EximInstance, BTreeMap<(String, String), f64>);

/// `smtp_failures_total` by direction and stage: every 4xx/5xx reply the sink gave (to RCPT,
/// or to the end of the data) and every refusal of the client's with a code, at the command
/// refused.
fn failure_stages(run: &EximRun) -> BTreeMap<(String, String), f64> {
    let mut out = BTreeMap::new();
    for r in run.first.iter().chain(&run.later) {
        if r.code / 100 == 2 {
            continue;
        }
        let stage = match r.stage {
            sink::Stage::Rcpt => "rcpt",
            sink::Stage::Data => "end_of_data",
        };
        *out.entry(("outbound".into(), stage.into())).or_default() += 1.0;
    }
    for f in run.inbound.refusals.iter() {
        if f.reply.lines.join(" ") != RELAY_DENIED {
            *out.entry(("inbound".into(), f.stage.into())).or_default() += 1.0;
        }
    }
    out
}

/// What was sent, what the client was told, and what the sink recorded on the first attempts
/// and on the queue run.
struct EximRun {
    plan: Vec<Outbound>,
    inbound: Inbound,
    first: Vec<SinkRecord>,
    later: Vec<SinkRecord>,
}

impl Exim {
    fn reject_lines(&self) -> usize {
        std::fs::read_to_string(self.0.rejectlog_path())
            .unwrap_or_default()
            .lines()
            .count()
    }
}

impl Mta for Exim {
    const NAME: &'static str = "Exim";
    const DIR_PREFIX: &'static str = "sse-exim-e2e-";
    const KEEPS: &'static str =
        "log/mainlog, log/rejectlog, expected.txt, scrape.txt, exporter.stderr";
    const SOURCES: &'static [&'static str] = &["exim-1", "exim-2"];
    type Run = EximRun;

    fn require() {
        exim::binary();
        eprintln!("{}", exim::version());
    }

    fn sink_addrs() -> Vec<Ipv4Addr> {
        SINK_DOMAINS
            .iter()
            .chain([&EXP_DOMAIN, &SENDER_DOMAIN])
            .map(|(_, ip)| *ip)
            .collect()
    }

    fn start(dir: &TestDir, sink: &Sink) -> Exim {
        let down_port = util::free_port(DOWN_DOMAIN.1);
        let exim = EximInstance::start(&dir.subdir("exim"), &exim_config(sink, down_port))
            .unwrap_or_else(|e| panic!("starting the private Exim: {e}"));
        Exim(exim, BTreeMap::new())
    }

    fn logs(&self) -> Vec<PathBuf> {
        vec![self.0.mainlog_path(), self.0.rejectlog_path()]
    }

    fn exporter_args(&self) -> &'static [&'static str] {
        &["--log.format", "exim"]
    }

    fn log(&self) -> String {
        self.0.mainlog()
    }

    /// Every message is delivered (or deferred) right after reception; then, past exp.test's
    /// 3 s retry cutoff, one queue run: exp.test's deferred recipients are tried again and
    /// expire; every other deferred address is not yet due.
    fn send_and_drain(&mut self, sink: &Sink, phase: &dyn Fn(&str)) -> EximRun {
        let exim = &mut self.0;
        let plan = outbound_plan();
        send_outbound(exim, &plan);
        phase(&format!("{} outbound messages submitted", plan.len()));
        let inbound = send_inbound(exim);
        phase(&format!("{} inbound refusals", inbound.refusals.len()));
        exim.wait_idle(Duration::from_secs(120))
            .unwrap_or_else(|e| panic!("{e}"));
        let first = sink.records();
        phase(&format!(
            "first attempts done: {} sink records",
            first.len()
        ));
        std::thread::sleep(Duration::from_secs(5));
        exim.queue_run().unwrap_or_else(|e| panic!("{e}"));
        exim.wait_idle(Duration::from_secs(60))
            .unwrap_or_else(|e| panic!("{e}"));
        let all = sink.records();
        let later = all[first.len()..].to_vec();
        phase(&format!(
            "queue run done: {} more sink records, {} messages still queued",
            later.len(),
            exim.queue_len().unwrap_or(usize::MAX)
        ));
        let run = EximRun {
            plan,
            inbound,
            first,
            later,
        };
        self.1 = failure_stages(&run);
        run
    }

    fn log_tally(log: &str) -> BTreeMap<&'static str, usize> {
        mainlog_tally(log)
    }

    fn want(&self, run: &EximRun, _sink: &Sink, _log: &str) -> Want {
        let exp = expectations(&run.plan, &run.first, &run.later, &run.inbound);
        Want {
            replies: with_source(&exp.replies, "exim-1"),
            failures: None,
            expired: exp.expired,
            delays: None,
            tally: expected_tally(&exp),
            expected_txt: exp.golden("exim-1"),
        }
    }

    fn check_log(&self, run: &EximRun, want: &Want, _log: &str) {
        assert!(want.expired > 0.0 && want.sum("outbound", "deferred") > 0.0);
        assert!(self.reject_lines() > 0, "Exim wrote no reject log");
        if let Ok(p) = std::env::var("E2E_SAVE_EXPECTED") {
            let exp = expectations(&run.plan, &run.first, &run.later, &run.inbound);
            std::fs::write(&p, exp.golden("exim")).unwrap_or_else(|e| panic!("{p}: {e}"));
        }
    }

    fn expired_labels() -> Labels {
        metrics::labels(&[("source", "exim-1"), ("mta", "exim")])
    }

    fn caught_up(&self, s: &metrics::Samples, _want: &Want, lines_new: f64) -> bool {
        let lines_of = |source: &str| -> f64 {
            metrics::series(s, "smtp_status_exporter_lines_total")
                .iter()
                .filter(|(l, _)| l["source"] == source)
                .map(|(_, v)| v)
                .sum()
        };
        lines_of("exim-1") >= lines_new && lines_of("exim-2") >= self.reject_lines() as f64
    }

    /// The reject log is read — every line of it — and counts nothing (nothing of
    /// `smtp_replies_total` may come from its source `exim-2`: the whole-map comparison).
    fn check_scrape(&self, samples: &metrics::Samples, failures: &mut Vec<String>) {
        let lines = metrics::series(samples, "smtp_status_exporter_lines_total");
        let n = self.reject_lines() as f64;
        let get = |result: &str| {
            lines
                .get(&metrics::labels(&[
                    ("source", "exim-2"),
                    ("result", result),
                ]))
                .copied()
        };
        if get("ignored") != Some(n) || get("counted") != Some(0.0) {
            failures.push(format!(
                "the reject log ({n} lines) must be read as ignored lines only: {lines:?}"
            ));
        }
        let mut stages = BTreeMap::new();
        for (l, v) in metrics::series(samples, "smtp_failures_total") {
            *stages
                .entry((l["direction"].clone(), l["stage"].clone()))
                .or_default() += v;
        }
        stages.retain(|_, v| *v != 0.0);
        if stages != self.1 {
            failures.push(format!(
                "smtp_failures_total by direction and stage: expected {:?}, got {stages:?}",
                self.1
            ));
        }
    }

    /// Replay of both files gives the same counts (one source, `exim`); and with
    /// `--log.format auto` (the default) the main log is detected as Exim's.
    fn replays(&self, want: &Want) -> Vec<Replay> {
        let replies = with_source(&want.replies, "exim");
        vec![
            Replay {
                replies: Some(replies.clone()),
                expired: Some(want.expired),
                ..Replay::of("replay", &["--log.format", "exim"], self.logs())
            },
            Replay {
                replies: Some(replies),
                ..Replay::of(
                    "replay with auto detection",
                    &[],
                    vec![self.0.mainlog_path()],
                )
            },
        ]
    }

    fn stop(&mut self) {
        self.0.stop();
    }
}

#[test]
#[ignore = "needs root and Exim unpacked by scripts/install-test-deps: run by scripts/test"]
fn exim_real_mta_end_to_end() {
    let _heavy = harness::heavy();
    scenario::run::<Exim>();
}
