//! The pages for people as a real browser builds them: the exporter tails a log of REAL Postfix
//! lines (tests/fixtures/postfix/parser-capture.log: deferrals, bounces, NOQUEUE refusals), and
//! headless Chromium (Debian's `chromium`, installed by scripts/install-test-deps) renders
//! `/failures` and `/`. The checks read the DOM Chromium dumped (`--dump-dom`, after its HTML
//! parser has fixed what it fixes: `<tbody>`, unclosed elements, entities), not the bytes the
//! exporter sent, and compare it with what the exporter counted and what `/failures?format=json`
//! says. scripts/screenshot renders docs/img/failures.png the same way.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use scraper::{ElementRef, Html, Selector};
use serde_json::Value;

use crate::harness::exporter::Exporter;
use crate::harness::metrics::series;
use crate::harness::util::{require_tool, run, wait_for, TestDir};

pub(crate) const FIXTURE: &str = "tests/fixtures/postfix/parser-capture.log";
/// `/failures` shows this many rows when the query gives no `limit`.
const DEFAULT_LIMIT: usize = 100;
/// The inputs of the filter form: each filter of `/failures` (the exporter's own list), then
/// `since` and `limit`.
fn form_inputs() -> Vec<&'static str> {
    let filters = smtp_status_exporter::http::failures::FILTERS;
    filters.into_iter().chain(["since", "limit"]).collect()
}
/// The most one Chromium run may take (it takes about 2 s).
const CHROMIUM_TIMEOUT: Duration = Duration::from_secs(60);

pub(crate) fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE)
}

/// An exporter that has counted every line of the fixture, and a headless Chromium to look at
/// its pages with.
pub(crate) struct Site {
    pub(crate) dir: TestDir,
    pub(crate) exporter: Exporter,
    chromium: PathBuf,
    runs: usize,
}

impl Site {
    /// Starts the exporter on an empty log (it reads a new log from its end), appends the
    /// fixture and waits until every line is counted.
    pub(crate) fn start(prefix: &str) -> Site {
        let chromium = require_tool("chromium");
        let dir = TestDir::new(prefix);
        let config = dir.path().join("config.yaml");
        fs::write(&config, "time_zone: UTC\n").unwrap();
        let log = dir.path().join("mail.log");
        fs::write(&log, b"").unwrap();
        let exporter = Exporter::builder(dir.path())
            .log(&log)
            .state(dir.path().join("state.json"))
            .arg("--config.file")
            .arg(&config)
            .start()
            .unwrap_or_else(|e| panic!("{e}"));
        let lines = fs::read(fixture()).unwrap();
        let n = lines.iter().filter(|&&b| b == b'\n').count();
        let mut f = fs::OpenOptions::new().append(true).open(&log).unwrap();
        f.write_all(&lines).unwrap();
        exporter.wait_lines("postfix", n as f64, Duration::from_secs(30));
        Site {
            dir,
            exporter,
            chromium,
            runs: 0,
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.exporter.addr)
    }

    /// `chromium --headless … ARGS… URL` of the exporter's `path`: see [`Site::chromium_at`].
    pub(crate) fn chromium(&mut self, args: &[&str], path: &str) -> PathBuf {
        let url = self.url(path);
        self.chromium_at(args, &url)
    }

    /// `chromium --headless … ARGS… URL`, its stdout into a file of the test's directory;
    /// killed (its whole process group) after [`CHROMIUM_TIMEOUT`]. Returns that file.
    pub(crate) fn chromium_at(&mut self, args: &[&str], path: &str) -> PathBuf {
        self.runs += 1;
        let out = self.dir.path().join(format!("chromium-{}.out", self.runs));
        let err = self.dir.path().join(format!("chromium-{}.err", self.runs));
        // --no-sandbox: the tests run as root (CI), where Chromium's sandbox refuses to start.
        let mut child = Command::new(&self.chromium)
            .args(["--headless", "--no-sandbox", "--disable-gpu"])
            .arg(format!(
                "--user-data-dir={}",
                self.dir.path().join("chromium-profile").display()
            ))
            .args(args)
            .arg(path)
            .stdin(Stdio::null())
            .stdout(fs::File::create(&out).unwrap())
            .stderr(fs::File::create(&err).unwrap())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", self.chromium.display()));
        let start = Instant::now();
        let status = wait_for(CHROMIUM_TIMEOUT, Duration::from_millis(50), || {
            child.try_wait().ok().flatten()
        });
        let Some(status) = status else {
            // Its renderer and helper processes are in its group: none is left behind.
            let _ = run(Command::new("kill").args(["-KILL", "--", &format!("-{}", child.id())]));
            let _ = child.wait();
            panic!(
                "chromium {args:?} {path} did not finish within {CHROMIUM_TIMEOUT:?}; its stderr:\n{}",
                fs::read_to_string(&err).unwrap_or_default()
            );
        };
        assert!(
            status.success(),
            "chromium {args:?} {path} exited with {status} after {:?}; its stderr:\n{}",
            start.elapsed(),
            fs::read_to_string(&err).unwrap_or_default()
        );
        out
    }

    /// The DOM Chromium built of the exporter's `path`, serialised (`--dump-dom`).
    pub(crate) fn dom(&mut self, path: &str) -> String {
        let url = self.url(path);
        self.dom_at(&url)
    }

    /// The DOM Chromium built of `url`, serialised.
    pub(crate) fn dom_at(&mut self, path: &str) -> String {
        let out = self.chromium_at(&["--dump-dom"], path);
        let dom = fs::read_to_string(&out).unwrap();
        assert!(
            dom.contains("</html>"),
            "chromium dumped no document for {path}: {dom:?}"
        );
        dom
    }

    /// `GET path`, which must answer 200 with JSON.
    fn json(&self, path: &str) -> Value {
        let (status, body) = self.exporter.get(path);
        assert_eq!(status, 200, "GET {path}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: {e}: {body}"))
    }

    /// A real browser fits the connection bounds (SECURITY.md): Chromium's parallel and
    /// speculative connections were never refused, and its slow first request (a headless
    /// start takes seconds) was not cut by the 5 s head timeout either, or the pages above
    /// would have failed.
    pub(crate) fn assert_browser_not_refused(&self) {
        let refused = series(
            &self.exporter.samples(),
            "smtp_status_exporter_http_connections_refused_total",
        );
        assert_eq!(refused.len(), 2, "both reasons are served: {refused:?}");
        assert!(refused.values().all(|&n| n == 0.0), "{refused:?}");
    }

    /// Every failure the exporter counted: the sum of `smtp_failures_total`.
    fn failures_counted(&self) -> usize {
        let sum: f64 = series(&self.exporter.samples(), "smtp_failures_total")
            .values()
            .sum();
        sum as usize
    }
}

pub(crate) fn sel(s: &str) -> Selector {
    Selector::parse(s).unwrap_or_else(|e| panic!("selector {s:?}: {e:?}"))
}

/// The text of an element, as a browser's `textContent`.
fn text(e: ElementRef<'_>) -> String {
    e.text().collect()
}

/// The data rows of the table `#failures` (not its header row).
fn rows(doc: &Html) -> Vec<ElementRef<'_>> {
    doc.select(&sel("table#failures tr"))
        .filter(|r| r.select(&sel("td")).next().is_some())
        .collect()
}

/// The one cell of `row` with class `class`.
fn cell<'a>(row: ElementRef<'a>, class: &str) -> ElementRef<'a> {
    let found: Vec<_> = row.select(&sel(&format!("td.{class}"))).collect();
    assert_eq!(found.len(), 1, "td.{class} in {}", row.html());
    found[0]
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} is not a string in {v}"))
}

/// The local parts of the addresses in the log (`to=<…>`, `from=<…>`, and those in reply
/// texts) that the page must not show whole: those of two characters or more with a domain
/// that has a dot (masking keeps the first character, so a one-character local part shows as
/// it is).
fn local_parts(log: &str) -> Vec<String> {
    let boundary = |c: char| c.is_whitespace() || "<>()[]\"',;:=".contains(c);
    let mut found: Vec<String> = Vec::new();
    for (at, _) in log.match_indices('@') {
        let head = &log[..at];
        let local = &head[head.rfind(boundary).map_or(0, |i| i + 1)..];
        let domain = log[at + 1..].split(boundary).next().unwrap_or_default();
        if local.chars().count() >= 2 && domain.contains('.') && !found.iter().any(|l| l == local) {
            found.push(local.to_owned());
        }
    }
    found
}

/// Renders `/failures?QUERY` and checks every row of `table#failures` against
/// `/failures?QUERY&format=json`, in order, and that no address is shown whole. Returns the
/// JSON's failures and the DOM.
fn check_listing(site: &mut Site, query: &str) -> (Vec<Value>, String) {
    let sep = if query.is_empty() { "" } else { "&" };
    let answer = site.json(&format!("/failures?{query}{sep}format=json"));
    let listed = answer["failures"].as_array().unwrap().clone();
    let dom = site.dom(&format!("/failures?{query}"));
    let doc = Html::parse_document(&dom);
    let rows = rows(&doc);
    assert_eq!(
        rows.len(),
        listed.len(),
        "rows of table#failures, ?{query} (E2E_KEEP=1 keeps the DOM in the test's directory)"
    );
    for (i, (row, want)) in rows.iter().zip(&listed).enumerate() {
        check_row(i, *row, want);
    }
    check_masked(&dom, &rows);
    (listed, dom)
}

#[test]
#[ignore = "needs chromium: run by scripts/test"]
fn failures_page_in_chromium_lists_every_failure_the_log_holds() {
    let mut site = Site::start("sse-pages-");
    let counted = site.failures_counted();
    let answer = site.json("/failures?format=json");
    // `keep` (1000) holds every failure of the fixture: all are kept and match.
    assert!(
        counted > DEFAULT_LIMIT,
        "the fixture's failures counted: {counted}"
    );
    assert_eq!(answer["kept"], counted, "{answer}");
    assert_eq!(answer["matched"], counted, "{answer}");

    let (listed, dom) = check_listing(&mut site, "");
    assert_eq!(listed.len(), DEFAULT_LIMIT, "without a limit");
    check_form(&Html::parse_document(&dom));
    let (listed, _) = check_listing(&mut site, "limit=1000");
    assert_eq!(listed.len(), counted, "?limit=1000: every failure counted");
    let queued = listed.iter().filter(|f| f["queue_id"] != "").count();
    assert!(
        queued > 0 && queued < listed.len(),
        "the fixture has failures with a queue id and NOQUEUE refusals: {queued} of {} queued",
        listed.len()
    );
    site.assert_browser_not_refused();
}

/// The cells that show a field of the JSON as it is, by class (`text`: the reply).
const PLAIN_CELLS: [(&str, &str); 9] = [
    ("time", "time"),
    ("source", "source"),
    ("provider", "provider"),
    ("domain", "domain"),
    ("reason", "reason"),
    ("stage", "stage"),
    ("queue_id", "queue_id"),
    ("recipient", "recipient"),
    ("text", "text"),
];

/// Row `i` shows failure `want` of the JSON: its class, every cell's text as the browser reads
/// it (an unescaped `<` in a reply would turn into an element and lose text), and the code's
/// meaning on hover.
fn check_row(i: usize, row: ElementRef<'_>, want: &Value) {
    let class = str_of(want, "class");
    assert_eq!(
        row.value().attr("class"),
        Some(&format!("c{}", &class[..1])[..]),
        "row {i}: {}",
        row.html()
    );
    for (class, field) in PLAIN_CELLS {
        let td = cell(row, class);
        assert_eq!(text(td), str_of(want, field), "row {i}: {}", td.html());
    }
    let meaning = str_of(want, "meaning");
    assert!(!meaning.is_empty(), "row {i}: no meaning in {want}");
    for field in ["code", "enhanced"] {
        let td = cell(row, field);
        let value = str_of(want, field);
        assert_eq!(text(td), value, "row {i}: {}", td.html());
        if value.is_empty() {
            continue;
        }
        let abbr: Vec<_> = td.select(&sel("abbr[title]")).collect();
        assert_eq!(abbr.len(), 1, "row {i}: no title on {}", td.html());
        assert_eq!(abbr[0].value().attr("title"), Some(meaning), "row {i}");
    }
}

/// No address of the log is shown whole anywhere in the DOM, and each recipient cell shows its
/// masked form `j…@example.com`.
fn check_masked(dom: &str, rows: &[ElementRef<'_>]) {
    let log = fs::read_to_string(fixture()).unwrap();
    let locals = local_parts(&log);
    assert!(locals.len() > 20, "addresses of the log: {locals:?}");
    for local in &locals {
        assert!(
            !dom.contains(&format!("{local}@")),
            "the address {local}@… of the log is shown whole in the DOM"
        );
    }
    let recipients: Vec<String> = rows.iter().map(|r| text(cell(*r, "recipient"))).collect();
    let shown: Vec<&String> = recipients.iter().filter(|r| !r.is_empty()).collect();
    assert!(shown.len() > 10, "recipient cells: {recipients:?}");
    let mut masked = 0;
    for r in shown {
        let local: Vec<char> = r.split('@').next().unwrap_or_default().chars().collect();
        // A one-character local part has nothing to hide: it is shown as it is.
        assert!(
            local.len() == 1 || (local.len() == 2 && local[1] == '…'),
            "recipient cell {r:?} is not masked as j…@domain"
        );
        masked += usize::from(local.len() == 2);
    }
    assert!(masked > 10, "masked recipient cells: {recipients:?}");
}

/// The filter form has one input per filter, and `since` and `limit`.
fn check_form(doc: &Html) {
    let forms: Vec<_> = doc.select(&sel("form")).collect();
    assert_eq!(forms.len(), 1, "forms of the page");
    for name in form_inputs() {
        let inputs = forms[0]
            .select(&sel(&format!("input[name=\"{name}\"]")))
            .count();
        assert_eq!(inputs, 1, "input name={name} in the filter form");
    }
    let names = forms[0].select(&sel("input")).count();
    assert_eq!(names, form_inputs().len(), "inputs of the filter form");
}

#[test]
#[ignore = "needs chromium: run by scripts/test"]
fn failures_page_in_chromium_filtered_by_class_shows_only_that_class() {
    let mut site = Site::start("sse-pages-5xx-");
    let counted = site.failures_counted();
    let (listed, dom) = check_listing(&mut site, "class=5xx&limit=1000");
    assert!(
        !listed.is_empty() && listed.len() < counted,
        "the fixture has 5xx and 4xx failures: {} 5xx of {counted}",
        listed.len()
    );
    let doc = Html::parse_document(&dom);
    for (i, row) in rows(&doc).into_iter().enumerate() {
        assert_eq!(row.value().attr("class"), Some("c5"), "row {i}");
        let code = text(cell(row, "code"));
        assert!(code.is_empty() || code.starts_with('5'), "row {i}: {code}");
    }
    // The form shows the filter in force.
    let class = doc
        .select(&sel("form input[name=\"class\"]"))
        .next()
        .and_then(|i| i.value().attr("value"));
    assert_eq!(class, Some("5xx"));
    site.assert_browser_not_refused();
}

#[test]
#[ignore = "needs chromium: run by scripts/test"]
fn status_page_in_chromium_links_to_the_failures() {
    let mut site = Site::start("sse-pages-status-");
    let base = site.url("/");
    let dom = site.dom("/");
    let doc = Html::parse_document(&dom);
    let links: Vec<_> = doc.select(&sel("a#failures")).collect();
    assert_eq!(links.len(), 1, "a#failures on the status page:\n{dom}");
    let href = links[0].value().attr("href").unwrap_or_default();
    // Resolved against the page's URL as the browser does (WHATWG URL).
    let target = url::Url::parse(&base).unwrap().join(href).unwrap();
    assert_eq!(target.path(), "/failures", "a#failures href={href:?}");
    let page = site.dom(target.path());
    let doc = Html::parse_document(&page);
    let h1: Vec<String> = doc.select(&sel("h1")).map(text).collect();
    assert_eq!(h1, ["Recent failures"], "{target}");
    assert!(!rows(&doc).is_empty(), "{target}: no rows");
    site.assert_browser_not_refused();
}

/// Width and height from a PNG's header (its first chunk, IHDR), or why it is no PNG.
pub(crate) fn png_size(png: &[u8]) -> Result<(u32, u32), String> {
    const SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";
    if png.get(..8) != Some(SIGNATURE) {
        return Err(format!("no PNG signature: {:?}", png.get(..8)));
    }
    if png.get(12..16) != Some(b"IHDR") {
        return Err(format!("first chunk is not IHDR: {:?}", png.get(12..16)));
    }
    let be = |at: usize| -> Result<u32, String> {
        let b: [u8; 4] = png
            .get(at..at + 4)
            .and_then(|s| s.try_into().ok())
            .ok_or("IHDR cut short")?;
        Ok(u32::from_be_bytes(b))
    };
    Ok((be(16)?, be(20)?))
}

#[test]
#[ignore = "needs chromium: run by scripts/test"]
fn failures_page_screenshot_is_a_png_of_the_window() {
    let mut site = Site::start("sse-pages-png-");
    let png = site.dir.path().join("failures.png");
    let shot = format!("--screenshot={}", png.display());
    site.chromium(
        &[
            &shot,
            "--window-size=1920,1000",
            "--force-device-scale-factor=1",
            "--hide-scrollbars",
        ],
        "/failures",
    );
    let bytes = fs::read(&png).unwrap_or_else(|e| panic!("{}: {e}", png.display()));
    assert_eq!(png_size(&bytes), Ok((1920, 1000)), "{}", png.display());
    // A blank window compresses to a few KB; a table of failures does not.
    assert!(
        bytes.len() > 30_000,
        "{} is {} bytes",
        png.display(),
        bytes.len()
    );
}

#[test]
fn png_size_reads_the_header_and_refuses_what_is_no_png() {
    let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
    png.extend(1400u32.to_be_bytes());
    png.extend(900u32.to_be_bytes());
    assert_eq!(png_size(&png), Ok((1400, 900)));
    assert!(png_size(&png[..20]).is_err());
    assert!(png_size(b"GIF89a\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0").is_err());
    let mut other = png.clone();
    other[12..16].copy_from_slice(b"IDAT");
    assert!(png_size(&other).is_err());
}

#[test]
fn local_parts_are_those_masking_hides() {
    let log =
        "to=<jürgen@bücher.example>, from=<x@b.example> 550 5.1.1 <Victim@ELSEWHERE.EXAMPLE>: \
               no; rgen@b to=<jürgen@bücher.example>";
    assert_eq!(local_parts(log), ["jürgen", "Victim"]);
}
