//! End-to-end: `/failures` and the exemplars of `smtp_failures_total` after a REAL Postfix
//! (the private instance of harness/postfix.rs) deferred, bounced and refused mail. What the
//! exporter must show is worked out from Postfix's own log, read here with the test's own
//! patterns (never with the exporter's parser): each failure's queue id, its line's stamp
//! (read in the configured `time_zone:`, this year), its recipient masked. `/failures` must
//! list exactly those, under every filter; a second exporter with `show_addresses: true` in
//! another zone shows the same failures with whole addresses and that zone's offsets; a real
//! Prometheus with exemplar storage must hold, for each failure series, the queue id and time
//! of its latest failure that had a queue id. Run by `sudo scripts/test` (it installs both).

// Test code: a failed expectation is the test's failure, named by its message.
#![allow(clippy::expect_used)]

use crate::harness;

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
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
/// A client address the inbound smtpd refuses (`client_access`).
const BLOCKED: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 9);

/// The filters of `/failures`: the fields the test compares besides `time`, `time_source` and
/// `recipient`.
const FILTERS: &str =
    "source mta direction outcome class code enhanced reason stage domain provider queue_id";
/// The labels of a `smtp_failures_total` series.
const SERIES: &str = "source mta direction class reason domain provider stage";

fn words(s: &'static str) -> impl Iterator<Item = &'static str> {
    s.split(' ')
}

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
    let one = |k: &str, v: &str| vec![(k.to_owned(), v.to_owned())];
    let hosts = PROVIDER_MX.iter().map(|(ip, n)| (*ip, (*n).to_owned()));
    PostfixConfig {
        transports,
        relay_domains: vec![INBOUND.into()],
        client_access: one("127.0.0.9/32", "REJECT Client blocked"),
        recipient_access: one("nouser@in.test", "550 5.1.1 Mailbox does not exist"),
        recipient_warn: vec![],
        header_checks: one("/^Subject:.*E2E-REJECT/", "REJECT Message content rejected"),
        main_cf: vec![],
        hosts: hosts.collect(),
    }
}

/// Submits one message to space-separated recipients on a connection of its own; the reply
/// to the end of DATA, if it was sent.
fn submit(
    server: std::net::SocketAddr,
    from: Option<Ipv4Addr>,
    rcpts: &str,
    subject: &str,
) -> Option<u16> {
    let rcpts: Vec<String> = rcpts.split(' ').map(str::to_owned).collect();
    let mut c = SmtpClient::connect(server, from).unwrap_or_else(|e| panic!("connect: {e}"));
    let _ = c.ehlo("client.e2e.test");
    let sender = "r250-sender@snd.test";
    let headers = [("Subject", subject.to_owned())];
    let sub = c.send(sender, &rcpts, &headers, "A /failures test message.\n");
    let sub = sub.unwrap_or_else(|e| panic!("submitting to {rcpts:?}: {e}"));
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
            let data = submit(pf.submission, None, rcpt, "outbound");
            assert_eq!(data, Some(250), "the submission smtpd must queue {rcpt}");
        }
        pf.wait_queue_empty(Duration::from_secs(60))
            .unwrap_or_else(|e| panic!("{e}"));
        std::thread::sleep(Duration::from_millis(1100));
    }
    let lo = Some(Ipv4Addr::LOCALHOST);
    let to_inbound = |from, rcpts, subject| submit(pf.inbound, from, rcpts, subject);
    assert_eq!(to_inbound(Some(BLOCKED), "ok-b@in.test", "blocked"), None);
    // smtpd makes the queue file at the first accepted RCPT: a refusal after one is logged
    // with the queue id, before one as NOQUEUE. The series of `nouser` gets both, the queued
    // one first: its exemplar must stay the queued one.
    let queued = to_inbound(lo, "ok-d@in.test nouser@in.test", "queued refusal");
    assert_eq!(queued, Some(250));
    let noqueue = "nouser@in.test relay-x@elsewhere.test ok-a@in.test";
    assert_eq!(to_inbound(lo, noqueue, "NOQUEUE"), Some(250));
    assert_eq!(to_inbound(lo, "ok-c@in.test", "E2E-REJECT"), Some(550));
    pf.wait_queue_empty(Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("{e}"));
}

/// One failure as the log says the exporter must show it.
#[derive(Debug)]
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
    match (code, enhanced) {
        _ if header => "spam_content",
        _ if text.contains("Connection refused") => "connection_failed",
        _ if text.contains("Relay access denied") => "relay_denied",
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
    let parts: Vec<&str> = stamp.split([' ', ':']).filter(|p| !p.is_empty()).collect();
    let n = |i: usize| parts[i].parse::<i8>().expect("a number");
    let month = "JanFebMarAprMayJunJulAugSepOctNovDec"
        .find(parts[0])
        .expect("a month");
    let month = (month / 3 + 1) as i8;
    jiff::civil::date(year, month, n(1))
        .at(n(2), n(3), n(4), 0)
        .to_zoned(zone.clone())
        .unwrap_or_else(|e| panic!("{stamp:?} in {zone:?}: {e}"))
        .timestamp()
        .as_second()
}

fn rfc3339(unix: i64, zone: &TimeZone) -> String {
    let t = jiff::Timestamp::from_second(unix).expect("a time");
    let t = t.to_zoned(zone.clone());
    t.strftime("%Y-%m-%dT%H:%M:%S.000%:z").to_string()
}

/// `j…@example.com`: the local part's first character and an ellipsis.
fn masked(addr: &str) -> String {
    let (local, domain) = addr.rsplit_once('@').expect("an address");
    format!("{}…@{domain}", local.chars().next().expect("a local part"))
}

/// The failure lines of Postfix's log, by kind, each with `stamp`, `qid`, `rcpt`, `enh` and
/// `text`: smtp(8)/error(8) deferrals and bounces (with `status`), smtpd's refusals (with
/// `code`; NOQUEUE before the first accepted recipient), cleanup's header_checks refusal.
/// `%S` stands for the stamp and the program, `%Q` a queue id, `%E` an enhanced code, `%T`
/// the sender and the recipient.
const PATTERNS: [(&str, &str); 3] = [
    (
        "out",
        concat!(
            r"%S/(?:smtp|error)\[\d+\]: %Q: to=<(?P<rcpt>[^>]+)>,.* dsn=%E, ",
            r"status=(?P<status>deferred|bounced) \((?P<text>.*)\)$"
        ),
    ),
    (
        "smtpd",
        concat!(
            r"%S/smtpd\[\d+\]: (?P<qid>NOQUEUE|[0-9A-F]{6,}): reject: RCPT from \S+: ",
            r"(?P<code>\d{3}) %E (?P<text>.*); %T "
        ),
    ),
    (
        "header",
        r"%S/cleanup\[\d+\]: %Q: reject: (?P<text>header .*); %T .*: %E ",
    ),
];

fn patterns() -> Vec<(&'static str, Regex)> {
    let compile = |(kind, p): &(&'static str, &str)| {
        let p = p
            .replace(
                "%S",
                r"^(?P<stamp>[A-Z][a-z]{2} [ 0-9]\d \d\d:\d\d:\d\d) \S+ postfix",
            )
            .replace("%Q", r"(?P<qid>[0-9A-F]{6,})")
            .replace("%E", r"(?P<enh>\d\.\d{1,3}\.\d{1,3})")
            .replace("%T", r"from=<[^>]*> to=<(?P<rcpt>[^>]+)>");
        (*kind, Regex::new(&p).expect(kind))
    };
    PATTERNS.iter().map(compile).collect()
}

/// Every failure in Postfix's log, in log order, as the exporter must show it with stamps read
/// in `zone` and addresses `whole` or masked.
fn expected_from_log(log: &str, zone: &TimeZone, whole: bool) -> Vec<Expected> {
    let patterns = patterns();
    let year = jiff::Zoned::now().with_time_zone(zone.clone()).year();
    let mut all = Vec::new();
    for (line, l) in log.lines().enumerate() {
        let mut found = patterns
            .iter()
            .filter_map(|(k, p)| Some((*k, p.captures(l)?)));
        let Some((kind, c)) = found.next() else {
            continue;
        };
        let unix = stamp_time(&c["stamp"], year, zone);
        let mut fields = fields_of(kind, &c);
        fields.insert("time", rfc3339(unix, zone));
        let rcpt = c["rcpt"].to_owned();
        let shown = if whole { rcpt.clone() } else { masked(&rcpt) };
        fields.insert("recipient", shown);
        let e = Expected {
            line,
            unix,
            fields,
            rcpt,
        };
        all.push(e);
    }
    all
}

/// The fields of one failure line but its time and recipient.
fn fields_of(kind: &str, c: &regex::Captures) -> BTreeMap<&'static str, String> {
    let text = &c["text"];
    let enhanced = &c["enh"];
    // smtp(8) logs the remote's reply as `host … said: 451 4.3.0 …`; its own errors have none.
    let said = text.split_once("said: ").and_then(|(_, r)| r.get(..3));
    let code = c.name("code").map(|m| m.as_str()).or(said);
    let code = code.unwrap_or_default();
    let (_, domain) = c["rcpt"].rsplit_once('@').expect("an address");
    let domain = domain.to_ascii_lowercase();
    let direction = if kind == "out" { "outbound" } else { "inbound" };
    let outcome = c.name("status").map_or("rejected", |m| m.as_str());
    let class = if enhanced.starts_with('4') {
        "4xx"
    } else {
        "5xx"
    };
    [
        ("time_source", "log"),
        ("source", "postfix"),
        ("mta", "postfix"),
        ("direction", direction),
        ("outcome", outcome),
        ("class", class),
        ("reason", reason(code, enhanced, text, kind == "header")),
        ("stage", stage(text, kind == "smtpd")),
        ("code", code),
        ("enhanced", enhanced),
        ("provider", provider_of(direction, &domain)),
        ("domain", &domain),
        ("queue_id", c["qid"].trim_start_matches("NOQUEUE")),
    ]
    .into_iter()
    .map(|(k, v)| (k, v.to_owned()))
    .collect()
}

/// The compared fields of the JSON failures, sorted (ties of time have no order to check).
fn rows_of(answer: &Value) -> Vec<BTreeMap<&'static str, String>> {
    let list = answer["failures"].as_array().expect("failures: a list");
    let row = |f: &Value| {
        let fields = words("time time_source recipient").chain(words(FILTERS));
        fields
            .map(|k| (k, f[k].as_str().unwrap_or("<not a string>").to_owned()))
            .collect()
    };
    let mut rows: Vec<_> = list.iter().map(row).collect();
    rows.sort();
    rows
}

/// The failures of an answer must be exactly `want`.
fn same<'a>(answer: &Value, want: impl Iterator<Item = &'a Expected>, query: &str) {
    let mut rows: Vec<_> = want.map(|e| e.fields.clone()).collect();
    rows.sort();
    assert_eq!(rows_of(answer), rows, "/failures?format=json{query}");
}

fn get_json(exp: &Exporter, query: &str) -> Value {
    // limit=1000: all of them, unless the query gives its own.
    let all = ["&limit=1000", ""][usize::from(query.contains("&limit="))];
    let (status, body) = exp.get(&format!("/failures?format=json{all}{query}"));
    assert_eq!(status, 200, "/failures?{query}: {body}");
    let json = serde_json::from_str(&body);
    json.unwrap_or_else(|e| panic!("/failures?{query}: no JSON ({e}): {body}"))
}

/// The whole list: every failure of the log, newest first, nothing else.
fn check_all(exp: &Exporter, want: &[Expected], masked: bool) {
    let all = get_json(exp, "");
    same(&all, want.iter(), "");
    assert_eq!(all["matched"], want.len(), "matched");
    assert_eq!(all["kept"], want.len(), "kept");
    let list = all["failures"].as_array().expect("a list");
    let times: Vec<&str> = list.iter().filter_map(|f| f["time"].as_str()).collect();
    let newest_first = times.windows(2).all(|w| w[0] >= w[1]);
    assert!(newest_first, "newest first: {times:?}");
    for f in list {
        let text = f["text"].as_str().unwrap_or_default();
        assert!(!text.is_empty(), "a failure without its reply text: {f}");
        let local = |e: &Expected| e.rcpt.split('@').next().expect("@").to_owned();
        let whole = want.iter().map(local).find(|l| text.contains(l));
        assert!(!masked || whole.is_none(), "an address whole in {text:?}");
    }
}

/// Every filter, each value the log has and one it has not, against the subset of the log.
fn check_filters(exp: &Exporter, want: &[Expected]) {
    for field in words(FILTERS) {
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
            same(&got, sub.iter().copied(), &query);
            assert_eq!(got["matched"], sub.len(), "matched of /failures?{query}");
        }
    }
    // A repeated filter is any of its values; different filters all hold.
    let qids = want.iter().map(|e| e.fields["queue_id"].as_str());
    let qids: Vec<&str> = qids.filter(|q| !q.is_empty()).take(2).collect();
    assert_eq!(qids.len(), 2, "the log has two queued failures at least");
    let query = format!("&queue_id={}&queue_id={}", qids[0], qids[1]);
    let sub = want
        .iter()
        .filter(|e| qids.contains(&&*e.fields["queue_id"]));
    same(&get_json(exp, &query), sub, &query);
    let query = "&direction=outbound&class=4xx";
    let outbound = |e: &&Expected| e.fields["direction"] == "outbound";
    let sub = want
        .iter()
        .filter(outbound)
        .filter(|e| e.fields["class"] == "4xx");
    same(&get_json(exp, query), sub, query);
}

/// `since` (RFC 3339 in two spellings, and a duration) and `limit`.
fn check_since_and_limit(exp: &Exporter, want: &[Expected]) {
    let times: BTreeSet<i64> = want.iter().map(|e| e.unix).collect();
    assert!(times.len() >= 3, "each round its own stamp: {times:?}");
    let cut = *times.iter().nth(times.len() / 2).expect("times");
    let later: Vec<&Expected> = want.iter().filter(|e| e.unix >= cut).collect();
    for zone in ["UTC", "Asia/Kolkata"] {
        let tz = TimeZone::get(zone).expect("a zone");
        let since = rfc3339(cut, &tz).replace(".000", "");
        let got = get_json(exp, &format!("&since={}", url_encode(&since)));
        same(&got, later.iter().copied(), &format!("&since={since}"));
    }
    let got = get_json(exp, "&since=1d");
    same(&got, want.iter(), "&since=1d");
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
        let n = want.iter().filter(|e| e.fields["class"].starts_with(class));
        assert_eq!(rows, n.count(), "rows of class {class}xx on the page");
    }
    let qids = want.iter().map(|e| &e.fields["queue_id"]);
    for qid in qids.filter(|q| !q.is_empty()) {
        assert!(page.contains(&format!(">{qid}<")), "{qid} not on the page");
    }
}

/// Per failure series, the latest failure (in log order) that had a queue id: its queue id
/// and time. Series whose failures had none (NOQUEUE) have no exemplar.
fn expected_exemplars(want: &[Expected]) -> Vec<(Vec<String>, (String, i64))> {
    let mut latest: BTreeMap<Vec<String>, &Expected> = BTreeMap::new();
    for e in want.iter().filter(|e| !e.fields["queue_id"].is_empty()) {
        let key = words(SERIES).map(|l| e.fields[l].clone()).collect();
        if latest.get(&key).is_none_or(|prev| prev.line < e.line) {
            latest.insert(key, e);
        }
    }
    let exemplar = |e: &Expected| (e.fields["queue_id"].clone(), e.unix * 1000);
    latest.into_iter().map(|(k, e)| (k, exemplar(e))).collect()
}

const PROMETHEUS_YML: &str = "\
global: {scrape_interval: 1s, scrape_timeout: 1s}
scrape_configs: [{job_name: smtp, static_configs: [{targets: [TARGET]}]}]
";

/// A real Prometheus with exemplar storage scrapes the exporter (OpenMetrics, negotiated)
/// and must hold exactly the expected exemplars.
fn check_exemplars(dir: &TestDir, exp: &Exporter, want: &[Expected]) {
    let config = PROMETHEUS_YML.replace("TARGET", &exp.addr.to_string());
    let flags = ["--enable-feature=exemplar-storage"];
    let prom = Prometheus::start_with(&dir.subdir("prometheus"), &config, &flags);
    let prom = prom.unwrap_or_else(|e| panic!("{e}"));
    let scraped = prom.wait_for_samples("smtp_failures_total", Duration::from_secs(30));
    scraped.unwrap_or_else(|e| panic!("{e}"));
    let start = want.iter().map(|e| e.unix).min().expect("failures") as f64 - 60.0;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock");
    let end = now.as_secs_f64() + 86_400.0;
    let wanted = expected_exemplars(want);
    let mut got = Vec::new();
    let found = wait_for(Duration::from_secs(20), Duration::from_millis(200), || {
        let series = prom.exemplars("smtp_failures_total", start, end);
        let series = series.unwrap_or_else(|e| panic!("{e}"));
        got = series.iter().flat_map(exemplars_of).collect();
        got.sort();
        got.dedup();
        (got.len() >= wanted.len()).then_some(())
    });
    let log = prom.log_tail(10);
    let what = format!("exemplars by series ({SERIES}); all found: {found:?}; its log:\n{log}");
    assert_eq!(got, wanted, "{what}");
}

/// The exemplars of one series Prometheus answers, each as series → (queue id, ms).
fn exemplars_of(s: &Value) -> Vec<(Vec<String>, (String, i64))> {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    let key: Vec<String> = words(SERIES).map(|l| text(&s["seriesLabels"][l])).collect();
    let all = s["exemplars"].as_array().into_iter().flatten();
    all.map(|x| {
        let ms = (x["timestamp"].as_f64().unwrap_or_default() * 1000.0).round() as i64;
        (key.clone(), (text(&x["labels"]["queue_id"]), ms))
    })
    .collect()
}

fn start_exporter(dir: &TestDir, name: &str, pf: &PostfixInstance, yaml: &str) -> Exporter {
    let d = dir.subdir(name);
    let config = d.join("config.yaml");
    std::fs::write(&config, yaml).expect("write the config");
    let args = [OsStr::new("--config.file"), config.as_os_str()];
    let b = Exporter::builder(&d).log(pf.maillog_path()).args(&args);
    let started = b.state(d.join("state.json")).start();
    started.unwrap_or_else(|e| panic!("the exporter ({name}): {e}"))
}

/// Waits until the exporter has read every line written since it started.
fn wait_caught_up(exp: &Exporter, lines: usize) {
    let read = || -> f64 {
        let samples = exp.samples();
        metrics::series(&samples, "smtp_status_exporter_lines_total")
            .values()
            .sum()
    };
    let poll = || (read() >= lines as f64).then_some(());
    let done = wait_for(Duration::from_secs(30), Duration::from_millis(100), poll);
    let stderr = exp.stderr_tail(20);
    assert!(
        done.is_some(),
        "{} of {lines} lines read; stderr:\n{stderr}",
        read()
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
    let cfg = postfix_config(&sink, util::closed_port());
    let pf = PostfixInstance::start(&dir.subdir("postfix"), &cfg);
    let mut pf = pf.unwrap_or_else(|e| panic!("the private Postfix: {e}"));
    let before = quiet_log(&pf);
    let masked = start_exporter(&dir, "masked", &pf, "time_zone: UTC\n");
    let whole = "time_zone: Asia/Kolkata\nfailures:\n  show_addresses: true\n";
    let whole = start_exporter(&dir, "whole", &pf, whole);
    send_mail(&pf);
    let lines = quiet_log(&pf) - before;
    pf.stop().unwrap_or_else(|e| panic!("{e}"));
    let log = pf.maillog();
    let utc = expected_from_log(&log, &TimeZone::UTC, false);
    // The model of the log first, so that a wrong model shows as such.
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    for e in &utc {
        let queued = ["queued", "NOQUEUE"][usize::from(e.fields["queue_id"].is_empty())];
        *kinds
            .entry(format!("{} {queued}", e.fields["outcome"]))
            .or_default() += 1;
    }
    let want = concat!(
        r#"{"bounced queued": 3, "deferred queued": 4, "#,
        r#""rejected NOQUEUE": 3, "rejected queued": 2}"#
    );
    assert_eq!(format!("{kinds:?}"), want, "failures in the log:\n{log}");

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
