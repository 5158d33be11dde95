//! End-to-end: `/failures` and the exemplars of `smtp_failures_total` after a REAL Postfix
//! (the private instance of harness/postfix.rs) deferred, bounced and refused mail. What the
//! exporter must show is worked out from Postfix's own log, read here with the test's own
//! patterns (never with the exporter's parser): each failure's queue id, its line's stamp
//! (read in the configured `time_zone:`, this year), its recipient masked. `/failures` must
//! list exactly those, under every filter; a second exporter with `show_addresses: true` in
//! another zone shows the same failures with whole addresses and that zone's offsets; a real
//! Prometheus with exemplar storage must hold, for each failure series, the queue id and time
//! of its latest failure that had a queue id.
//!
//! Run with `sudo scripts/test` (installs Postfix and Prometheus, then runs the ignored tests).

use crate::harness;

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jiff::tz::TimeZone;
use regex::Regex;
use serde_json::Value;

use harness::client::SmtpClient;
use harness::exporter::Exporter;
use harness::hosts::{provider_of, PROVIDER_MX};
use harness::metrics;
use harness::postfix::{PostfixConfig, PostfixInstance};
use harness::prometheus::{url_encode, Prometheus};
use harness::sink::{Script, Sink};
use harness::util::{self, wait_for, TestDir};

/// The sink's domains, one loopback address each; d1 and d2 are reached under providers' MX
/// names (google, microsoft), d3 under its address (other).
const SINKS: [(&str, Ipv4Addr); 3] = [
    ("d1.test", Ipv4Addr::new(127, 0, 0, 2)),
    ("d2.test", Ipv4Addr::new(127, 0, 0, 3)),
    ("d3.test", Ipv4Addr::new(127, 0, 0, 4)),
];
/// Where the delivery status notifications go (the sink accepts them).
const SENDER: (&str, Ipv4Addr) = ("snd.test", Ipv4Addr::new(127, 0, 0, 7));
/// Routed to a closed port: a deferral without a reply code.
const DOWN: &str = "down.test";
/// Accepted by the inbound smtpd and discarded.
const INBOUND: &str = "in.test";
/// A client address the inbound smtpd refuses.
const BLOCKED: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 9);
const REJECT_SUBJECT: &str = "E2E-FAILURES-REJECT";

/// The fields of a JSON failure the test compares with the log, and the filters.
const COMPARED: [&str; 15] = [
    "time",
    "time_source",
    "source",
    "mta",
    "direction",
    "outcome",
    "class",
    "code",
    "enhanced",
    "reason",
    "stage",
    "domain",
    "provider",
    "queue_id",
    "recipient",
];
const FILTERS: [&str; 12] = [
    "source",
    "mta",
    "direction",
    "outcome",
    "class",
    "code",
    "enhanced",
    "reason",
    "stage",
    "domain",
    "provider",
    "queue_id",
];
/// The labels of a `smtp_failures_total` series.
const SERIES: [&str; 8] = [
    "source",
    "mta",
    "direction",
    "class",
    "reason",
    "domain",
    "provider",
    "stage",
];

/// The outbound recipients, one message each so that each failure has a queue id of its own.
/// Two series fail once in each half: their exemplar must be the later failure.
fn outbound_rcpts() -> Vec<String> {
    let s = |script: Script, id: &str, domain: &str| format!("{}@{domain}", script.local_part(id));
    vec![
        s(Script::rcpt(451, Some("4.3.0")), "fa", "d1.test"),
        s(Script::rcpt(550, Some("5.1.1")), "fc", "d2.test"),
        s(Script::rcpt(452, Some("4.2.2")), "fe", "d3.test"),
        s(Script::accept(), "fg", "d1.test"),
        s(Script::rcpt(451, Some("4.3.0")), "fb", "d1.test"),
        s(Script::rcpt(550, Some("5.1.1")), "fd", "d2.test"),
        s(Script::accept().data(554, Some("5.7.1")), "ff", "d3.test"),
        format!("jdoe@{DOWN}"),
    ]
}

fn postfix_config(sink: &Sink, closed_port: u16) -> PostfixConfig {
    let nexthop = |ip: Ipv4Addr| match PROVIDER_MX.iter().find(|(a, _)| *a == ip) {
        Some((_, name)) => format!("[{name}]:{}", sink.port()),
        None => sink.nexthop(ip),
    };
    let mut transports: Vec<(String, String)> = SINKS
        .iter()
        .chain([&SENDER])
        .map(|(d, ip)| ((*d).to_owned(), format!("smtp:{}", nexthop(*ip))))
        .collect();
    transports.push((DOWN.into(), format!("smtp:[127.0.0.1]:{closed_port}")));
    transports.push((INBOUND.into(), "discard:".into()));
    let entry = |k: String, v: &str| (k, v.to_owned());
    PostfixConfig {
        transports,
        relay_domains: vec![INBOUND.into()],
        client_access: vec![entry(format!("{BLOCKED}/32"), "REJECT Client blocked")],
        recipient_access: vec![entry(
            format!("nouser@{INBOUND}"),
            "550 5.1.1 Mailbox does not exist",
        )],
        recipient_warn: vec![],
        header_checks: vec![entry(
            format!("/^Subject:.*{REJECT_SUBJECT}/"),
            "REJECT Message content rejected",
        )],
        main_cf: vec![],
        hosts: PROVIDER_MX
            .iter()
            .map(|(ip, n)| (*ip, (*n).to_owned()))
            .collect(),
    }
}

/// Submits one message on its own connection; returns the reply to the end of DATA, if sent.
fn submit(
    server: std::net::SocketAddr,
    from: Option<Ipv4Addr>,
    rcpts: &[String],
    subject: &str,
) -> Option<u16> {
    let mut c = SmtpClient::connect(server, from).unwrap_or_else(|e| panic!("connect: {e}"));
    c.ehlo("client.e2e.test")
        .unwrap_or_else(|e| panic!("EHLO: {e}"));
    let sender = format!("r250-sender@{}", SENDER.0);
    let headers = [
        ("From", format!("<{sender}>")),
        ("To", "undisclosed-recipients:;".into()),
        ("Subject", subject.to_owned()),
    ];
    let sub = c
        .send(
            &sender,
            rcpts,
            &headers,
            "A /failures end-to-end test message.\n",
        )
        .unwrap_or_else(|e| panic!("submitting to {rcpts:?}: {e}"));
    let _ = c.quit();
    sub.data.map(|d| d.code)
}

/// The mail of the test, in three rounds a second apart or more so that the failures have
/// different stamps (for `since`, `limit` and newest first): outbound failures of every kind,
/// then the second failure of two series, then refusals by the inbound smtpd (NOQUEUE and
/// queued) and a message refused by header_checks after it was queued.
fn send_mail(pf: &PostfixInstance) {
    let rcpts = outbound_rcpts();
    let (first, second) = rcpts.split_at(rcpts.len() / 2);
    for round in [first, second] {
        for rcpt in round {
            let data = submit(pf.submission, None, std::slice::from_ref(rcpt), "outbound");
            assert_eq!(
                data,
                Some(250),
                "the submission smtpd must queue mail to {rcpt}"
            );
        }
        pf.wait_queue_empty(Duration::from_secs(60))
            .unwrap_or_else(|e| panic!("{e}"));
        std::thread::sleep(Duration::from_millis(1100));
    }
    let lo = Some(Ipv4Addr::LOCALHOST);
    let nouser = format!("nouser@{INBOUND}");
    // smtpd makes the queue file at the first accepted RCPT: a refusal after one is logged
    // with the queue id, before one as NOQUEUE. The series of `nouser` gets both, the queued
    // one first: its exemplar must stay the queued one.
    let inbound: [(Option<Ipv4Addr>, Vec<String>, &str, Option<u16>); 4] = [
        (
            Some(BLOCKED),
            vec![format!("ok-b@{INBOUND}")],
            "blocked",
            None,
        ),
        (
            lo,
            vec![format!("ok-d@{INBOUND}"), nouser.clone()],
            "queued refusal",
            Some(250),
        ),
        (
            lo,
            vec![
                nouser,
                "relay-x@elsewhere.test".into(),
                format!("ok-a@{INBOUND}"),
            ],
            "refused recipients",
            Some(250),
        ),
        (
            lo,
            vec![format!("ok-c@{INBOUND}")],
            REJECT_SUBJECT,
            Some(550),
        ),
    ];
    for (from, rcpts, subject, want) in inbound {
        assert_eq!(submit(pf.inbound, from, &rcpts, subject), want, "{subject}");
    }
    pf.wait_queue_empty(Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("{e}"));
}

/// One failure as the log says the exporter must show it.
#[derive(Debug, Clone)]
struct Expected {
    /// Log order.
    line: usize,
    unix: i64,
    fields: BTreeMap<&'static str, String>,
    /// The recipient as logged.
    rcpt: String,
}

/// The reason class of each failure the test causes, by hand from the replies it scripts.
fn reason(code: &str, enhanced: &str, text: &str, header: bool) -> &'static str {
    if header {
        return "spam_content";
    }
    if text.contains("Connection refused") {
        return "connection_failed";
    }
    if text.contains("Relay access denied") {
        return "relay_denied";
    }
    match (code, enhanced) {
        ("451", _) => "server_error",
        ("452", "4.2.2") => "mailbox_full",
        ("550", _) => "invalid_recipient",
        ("554", "5.7.1") => "policy",
        other => panic!("no expected reason for {other:?} {text:?}: extend the test's table"),
    }
}

fn stage(text: &str, inbound_rcpt: bool) -> &'static str {
    if inbound_rcpt || text.contains("in reply to RCPT TO command") {
        "rcpt"
    } else if text.contains("in reply to end of DATA command") || text.contains("header ") {
        "end_of_data"
    } else if text.contains("connect to ") {
        "connect"
    } else {
        panic!("no expected stage for {text:?}: extend the test's table")
    }
}

/// A syslog stamp (`Dec  7 13:06:57`, no year) as seconds since the epoch: this year, in `zone`.
fn stamp_time(stamp: &str, year: i16, zone: &TimeZone) -> i64 {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let parts: Vec<&str> = stamp.split([' ', ':']).filter(|p| !p.is_empty()).collect();
    let n = |i: usize| {
        parts[i]
            .parse::<i8>()
            .unwrap_or_else(|e| panic!("{stamp:?}: {e}"))
    };
    let month = MONTHS
        .iter()
        .position(|m| *m == parts[0])
        .expect("a month name") as i8
        + 1;
    jiff::civil::date(year, month, n(1))
        .at(n(2), n(3), n(4), 0)
        .to_zoned(zone.clone())
        .unwrap_or_else(|e| panic!("{stamp:?} in {zone:?}: {e}"))
        .timestamp()
        .as_second()
}

fn rfc3339(unix: i64, zone: &TimeZone) -> String {
    let t = jiff::Timestamp::from_second(unix)
        .expect("a time")
        .to_zoned(zone.clone());
    t.strftime("%Y-%m-%dT%H:%M:%S.000%:z").to_string()
}

/// `j…@example.com`: the local part's first character and an ellipsis.
fn masked(addr: &str) -> String {
    let (local, domain) = addr.rsplit_once('@').expect("an address");
    format!("{}…@{domain}", local.chars().next().expect("a local part"))
}

/// Every failure in Postfix's log, in log order: smtp(8)/error(8) deferrals and bounces with
/// their queue id, smtpd's NOQUEUE refusals, cleanup's header_checks refusal.
fn expected_from_log(log: &str, zone: &TimeZone, whole: bool) -> Vec<Expected> {
    let stamp = r"^(?P<stamp>[A-Z][a-z]{2} [ 0-9]\d \d\d:\d\d:\d\d) \S+ postfix";
    let enh = r"\d\.\d{1,3}\.\d{1,3}";
    let out = Regex::new(&format!(
        r"{stamp}/(?:smtp|error)\[\d+\]: (?P<qid>[0-9A-F]{{6,}}): to=<(?P<rcpt>[^>]+)>,.* dsn=(?P<enh>{enh}), status=(?P<status>deferred|bounced) \((?P<text>.*)\)$"
    ))
    .expect("regex");
    let smtpd = Regex::new(&format!(
        r"{stamp}/smtpd\[\d+\]: (?P<qid>NOQUEUE|[0-9A-F]{{6,}}): reject: RCPT from \S+: (?P<code>\d{{3}}) (?P<enh>{enh}) (?P<text>.*); from=<[^>]*> to=<(?P<rcpt>[^>]+)>"
    ))
    .expect("regex");
    let header = Regex::new(&format!(
        r"{stamp}/cleanup\[\d+\]: (?P<qid>[0-9A-F]{{6,}}): reject: (?P<text>header .*); from=<[^>]*> to=<(?P<rcpt>[^>]+)> .*: (?P<enh>5\.\d{{1,3}}\.\d{{1,3}}) "
    ))
    .expect("regex");
    let year = jiff::Zoned::now().with_time_zone(zone.clone()).year();
    let code_said = Regex::new(r"said: (\d{3})[ -]").expect("regex");
    let mut all = Vec::new();
    for (line, l) in log.lines().enumerate() {
        let (c, kind) = if let Some(c) = out.captures(l) {
            (c, "out")
        } else if let Some(c) = smtpd.captures(l) {
            (c, "smtpd")
        } else if let Some(c) = header.captures(l) {
            (c, "header")
        } else {
            continue;
        };
        let text = &c["text"];
        let enhanced = c["enh"].to_owned();
        let code = match (kind, c.name("code")) {
            (_, Some(code)) => code.as_str().to_owned(),
            ("out", None) => code_said
                .captures(text)
                .map(|s| s[1].to_owned())
                .unwrap_or_default(),
            _ => String::new(),
        };
        let rcpt = c["rcpt"].to_owned();
        let domain = rcpt
            .rsplit_once('@')
            .expect("an address")
            .1
            .to_ascii_lowercase();
        let direction = if kind == "out" { "outbound" } else { "inbound" };
        let unix = stamp_time(&c["stamp"], year, zone);
        let qid = c["qid"].trim_start_matches("NOQUEUE");
        let fields: BTreeMap<&'static str, String> = [
            ("time", rfc3339(unix, zone)),
            ("time_source", "log".into()),
            ("source", "postfix".into()),
            ("mta", "postfix".into()),
            ("direction", direction.into()),
            (
                "outcome",
                if kind == "out" {
                    &c["status"]
                } else {
                    "rejected"
                }
                .into(),
            ),
            ("class", format!("{}xx", &enhanced[..1])),
            (
                "reason",
                reason(&code, &enhanced, text, kind == "header").into(),
            ),
            ("stage", stage(text, kind == "smtpd").into()),
            ("code", code),
            ("enhanced", enhanced),
            ("provider", provider_of(direction, &domain).into()),
            ("domain", domain),
            ("queue_id", qid.into()),
            (
                "recipient",
                if whole { rcpt.clone() } else { masked(&rcpt) },
            ),
        ]
        .into_iter()
        .collect();
        all.push(Expected {
            line,
            unix,
            fields,
            rcpt,
        });
    }
    all
}

/// The compared fields of the JSON failures, sorted (ties of time have no order to check).
fn rows_of(answer: &Value) -> Vec<BTreeMap<&'static str, String>> {
    let list = answer["failures"].as_array().expect("failures: a list");
    let mut rows: Vec<_> = list
        .iter()
        .map(|f| {
            COMPARED
                .iter()
                .map(|k| (*k, f[*k].as_str().unwrap_or("<not a string>").to_owned()))
                .collect()
        })
        .collect();
    rows.sort();
    rows
}

fn want_rows<'a>(want: impl Iterator<Item = &'a Expected>) -> Vec<BTreeMap<&'static str, String>> {
    let mut rows: Vec<_> = want.map(|e| e.fields.clone()).collect();
    rows.sort();
    rows
}

fn get_json(exp: &Exporter, query: &str) -> Value {
    let limit = if query.contains("&limit=") {
        ""
    } else {
        "&limit=1000"
    };
    let (status, body) = exp.get(&format!("/failures?format=json{limit}{query}"));
    assert_eq!(status, 200, "/failures?{query}: {body}");
    serde_json::from_str(&body)
        .unwrap_or_else(|e| panic!("/failures?{query}: no JSON ({e}): {body}"))
}

/// The whole list: every failure of the log, newest first, nothing else.
fn check_all(exp: &Exporter, want: &[Expected], masked: bool) {
    let all = get_json(exp, "");
    assert_eq!(
        rows_of(&all),
        want_rows(want.iter()),
        "GET /failures?format=json, whole"
    );
    assert_eq!(all["matched"], want.len(), "matched");
    assert_eq!(all["kept"], want.len(), "kept");
    let list = all["failures"].as_array().expect("a list");
    let times: Vec<&str> = list.iter().filter_map(|f| f["time"].as_str()).collect();
    assert!(
        times.windows(2).all(|w| w[0] >= w[1]),
        "newest first: {times:?}"
    );
    for f in list {
        let text = f["text"].as_str().unwrap_or_default();
        assert!(!text.is_empty(), "a failure without its reply text: {f}");
        for e in want.iter().filter(|_| masked) {
            let local = e.rcpt.split('@').next().unwrap_or_default();
            assert!(
                !text.contains(local),
                "the text shows {} whole: {text:?}",
                e.rcpt
            );
        }
    }
}

/// Every filter, each value the log has and one it has not, against the subset of the log.
fn check_filters(exp: &Exporter, want: &[Expected]) {
    for field in FILTERS {
        let values: BTreeSet<&str> = want.iter().map(|e| e.fields[field].as_str()).collect();
        // class takes 4xx or 5xx only: anything else is a bad query (400), not an empty list.
        let absent = if field == "class" {
            let (status, body) = exp.get("/failures?format=json&class=no-such-value");
            assert_eq!(status, 400, "class=no-such-value: {body}");
            None
        } else {
            Some("no-such-value")
        };
        for v in values.iter().copied().chain(absent) {
            let query = format!("&{field}={}", url_encode(v));
            let got = get_json(exp, &query);
            let sub: Vec<&Expected> = want.iter().filter(|e| e.fields[field] == v).collect();
            assert_eq!(
                rows_of(&got),
                want_rows(sub.iter().copied()),
                "/failures?{query}"
            );
            assert_eq!(got["matched"], sub.len(), "matched of /failures?{query}");
        }
    }
    // A repeated filter is any of its values; different filters all hold.
    let qids: Vec<&str> = want
        .iter()
        .map(|e| e.fields["queue_id"].as_str())
        .filter(|q| !q.is_empty())
        .take(2)
        .collect();
    assert_eq!(qids.len(), 2, "the log has two queued failures at least");
    let got = get_json(exp, &format!("&queue_id={}&queue_id={}", qids[0], qids[1]));
    let sub = want
        .iter()
        .filter(|e| qids.contains(&e.fields["queue_id"].as_str()));
    assert_eq!(rows_of(&got), want_rows(sub), "two queue ids");
    let got = get_json(exp, "&direction=outbound&class=4xx");
    let sub = want
        .iter()
        .filter(|e| e.fields["direction"] == "outbound" && e.fields["class"] == "4xx");
    assert_eq!(rows_of(&got), want_rows(sub), "outbound deferrals");
}

/// `since` (RFC 3339 in two spellings, and a duration) and `limit`.
fn check_since_and_limit(exp: &Exporter, want: &[Expected]) {
    let times: BTreeSet<i64> = want.iter().map(|e| e.unix).collect();
    assert!(
        times.len() >= 3,
        "the rounds of mail must have stamps of their own: {times:?}"
    );
    let cut = *times.iter().nth(times.len() / 2).expect("times");
    let later: Vec<&Expected> = want.iter().filter(|e| e.unix >= cut).collect();
    for zone in ["UTC", "Asia/Kolkata"] {
        let tz = TimeZone::get(zone).expect("a zone");
        let since = rfc3339(cut, &tz).replace(".000", "");
        let got = get_json(exp, &format!("&since={}", url_encode(&since)));
        assert_eq!(
            rows_of(&got),
            want_rows(later.iter().copied()),
            "since={since}"
        );
    }
    let got = get_json(exp, "&since=1d");
    assert_eq!(rows_of(&got), want_rows(want.iter()), "since=1d");
    let newest = *times.iter().next_back().expect("times");
    let all = get_json(exp, "");
    let all = all["failures"].as_array().expect("a list");
    for n in [1, 3] {
        let got = get_json(exp, &format!("&limit={n}"));
        let list = got["failures"].as_array().expect("a list");
        assert_eq!(list.as_slice(), &all[..n], "limit={n}: the newest {n}");
        assert_eq!(got["matched"], want.len(), "matched of limit={n}");
    }
    let first = all[0]["time"].as_str().unwrap_or_default();
    assert_eq!(first, rfc3339(newest, &TimeZone::UTC), "the newest first");
}

/// The page lists the same failures (light: each queue id, the rows by class).
fn check_page(exp: &Exporter, want: &[Expected]) {
    let (status, page) = exp.get("/failures?limit=1000");
    assert_eq!(status, 200, "{page}");
    for class in ["4", "5"] {
        let rows = page.matches(&format!("<tr class=\"c{class}\"")).count();
        let n = want
            .iter()
            .filter(|e| e.fields["class"].starts_with(class))
            .count();
        assert_eq!(rows, n, "rows of class {class}xx on the page");
    }
    for e in want.iter().filter(|e| !e.fields["queue_id"].is_empty()) {
        assert!(
            page.contains(&format!(">{}<", e.fields["queue_id"])),
            "{} not on the page",
            e.fields["queue_id"]
        );
    }
}

/// Per failure series, the latest failure (in log order) that had a queue id: its queue id
/// and time. Series whose failures had none (NOQUEUE) have no exemplar.
fn expected_exemplars(want: &[Expected]) -> BTreeMap<Vec<String>, (String, i64)> {
    let mut latest: BTreeMap<Vec<String>, &Expected> = BTreeMap::new();
    for e in want.iter().filter(|e| !e.fields["queue_id"].is_empty()) {
        let key = SERIES.iter().map(|l| e.fields[l].clone()).collect();
        if latest.get(&key).map_or(true, |prev| prev.line < e.line) {
            latest.insert(key, e);
        }
    }
    latest
        .into_iter()
        .map(|(k, e)| (k, (e.fields["queue_id"].clone(), e.unix)))
        .collect()
}

/// A real Prometheus with exemplar storage scrapes the exporter (OpenMetrics, negotiated)
/// and must hold exactly the expected exemplars.
fn check_exemplars(dir: &TestDir, exp: &Exporter, want: &[Expected]) {
    let config = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n\
         scrape_configs:\n  - job_name: smtp\n    static_configs:\n      - targets: [\"{}\"]\n",
        exp.addr
    );
    let prom = Prometheus::start_with(
        &dir.subdir("prometheus"),
        &config,
        &["--enable-feature=exemplar-storage"],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    prom.wait_for_samples("smtp_failures_total", Duration::from_secs(30))
        .unwrap_or_else(|e| panic!("{e}"));
    let start = want.iter().map(|e| e.unix).min().expect("failures") as f64 - 60.0;
    let end = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64()
        + 86_400.0;
    let wanted = expected_exemplars(want);
    let mut got: BTreeMap<Vec<String>, BTreeSet<(String, i64)>> = BTreeMap::new();
    let found = wait_for(Duration::from_secs(20), Duration::from_millis(200), || {
        got.clear();
        for s in prom
            .exemplars("smtp_failures_total", start, end)
            .unwrap_or_else(|e| panic!("{e}"))
        {
            let key: Vec<String> = SERIES
                .iter()
                .map(|l| s["seriesLabels"][l].as_str().unwrap_or_default().to_owned())
                .collect();
            for x in s["exemplars"].as_array().into_iter().flatten() {
                let qid = x["labels"]["queue_id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                let ms = (x["timestamp"].as_f64().unwrap_or_default() * 1000.0).round() as i64;
                got.entry(key.clone()).or_default().insert((qid, ms));
            }
        }
        (got.len() >= wanted.len()).then_some(())
    });
    let want_ms: BTreeMap<Vec<String>, BTreeSet<(String, i64)>> = wanted
        .iter()
        .map(|(k, (q, t))| (k.clone(), BTreeSet::from([(q.clone(), t * 1000)])))
        .collect();
    assert_eq!(got, want_ms, "exemplars of smtp_failures_total by series ({SERIES:?}); found in time: {found:?}; prometheus' log:\n{}", prom.log_tail(10));
}

fn start_exporter(dir: &TestDir, name: &str, pf: &PostfixInstance, yaml: &str) -> Exporter {
    let d = dir.subdir(name);
    let config = d.join("config.yaml");
    std::fs::write(&config, yaml).expect("write the config");
    Exporter::builder(&d)
        .log(pf.maillog_path())
        .state(d.join("state.json"))
        .arg("--config.file")
        .arg(&config)
        .start()
        .unwrap_or_else(|e| panic!("the exporter ({name}): {e}"))
}

/// Waits until the exporter has read every line written since it started.
fn wait_caught_up(exp: &Exporter, lines: usize) {
    let read = || -> f64 {
        metrics::series(&exp.samples(), "smtp_status_exporter_lines_total")
            .values()
            .sum()
    };
    let done = wait_for(Duration::from_secs(30), Duration::from_millis(100), || {
        (read() >= lines as f64).then_some(())
    });
    assert!(
        done.is_some(),
        "the exporter read {} of {lines} lines; stderr:\n{}",
        read(),
        exp.stderr_tail(20)
    );
}

/// Waits until the log stops growing (postlogd writes asynchronously); its line count.
fn quiet_log(pf: &PostfixInstance) -> usize {
    let mut last = usize::MAX;
    let quiet = wait_for(Duration::from_secs(10), Duration::from_millis(300), || {
        let n = pf.maillog().lines().count();
        let q = (n == last).then_some(n);
        last = n;
        q
    });
    quiet.expect("the maillog did not stop growing")
}

#[test]
#[ignore = "needs root, prometheus and a real Postfix: run by scripts/test"]
fn failures_and_exemplars_after_a_real_postfix() {
    let _heavy = harness::heavy();
    util::require_root();
    util::require_tool("postfix");
    util::require_tool("prometheus");
    let dir = TestDir::new("sse-failures-e2e-");
    let mut addrs: Vec<Ipv4Addr> = SINKS.iter().map(|(_, ip)| *ip).collect();
    addrs.push(SENDER.1);
    let sink = Sink::start(&addrs).unwrap_or_else(|e| panic!("the sink: {e}"));
    let mut pf = PostfixInstance::start(
        &dir.subdir("postfix"),
        &postfix_config(&sink, util::closed_port()),
    )
    .unwrap_or_else(|e| panic!("the private Postfix: {e}"));
    let before = quiet_log(&pf);
    let masked = start_exporter(&dir, "masked", &pf, "time_zone: UTC\n");
    let whole = start_exporter(
        &dir,
        "whole",
        &pf,
        "time_zone: Asia/Kolkata\nfailures:\n  show_addresses: true\n",
    );

    send_mail(&pf);
    pf.wait_queue_empty(Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("{e}"));
    let lines = quiet_log(&pf) - before;
    pf.stop().unwrap_or_else(|e| panic!("{e}"));
    let log = pf.maillog();
    let utc = expected_from_log(&log, &TimeZone::UTC, false);
    let kinds = |p: fn(&Expected) -> bool| utc.iter().filter(|e| p(e)).count();
    assert!(
        kinds(|e| e.fields["outcome"] == "deferred") >= 3,
        "deferrals in the log:\n{log}"
    );
    assert!(
        kinds(|e| e.fields["outcome"] == "bounced") >= 3,
        "bounces in the log:\n{log}"
    );
    assert_eq!(
        kinds(|e| e.fields["queue_id"].is_empty()),
        3,
        "NOQUEUE refusals in the log:\n{log}"
    );
    assert_eq!(
        kinds(|e| e.fields["reason"] == "spam_content"),
        1,
        "the header refusal:\n{log}"
    );

    for exp in [&masked, &whole] {
        wait_caught_up(exp, lines);
    }
    check_all(&masked, &utc, true);
    check_filters(&masked, &utc);
    check_since_and_limit(&masked, &utc);
    check_page(&masked, &utc);
    let kolkata = TimeZone::get("Asia/Kolkata").expect("the zone");
    check_all(&whole, &expected_from_log(&log, &kolkata, true), false);
    check_exemplars(&dir, &masked, &utc);
}
