//! The peers' corpus: real MTA log lines that 14 other projects published in their test suites
//! (`shared/corpora/peers/`, read in place beside the repository, never copied into it). Each
//! file of its manifests has a golden file `tests/corpus/<file>.golden`, written after reading
//! the lines, that says what the contract makes of them:
//!
//! - `lines counted=N ignored=N unrecognised=N`: what the file's own `--log.format` makes of its
//!   lines (read through `replay`, the whole pipeline);
//! - `N {label="value",…}`: each series of `smtp_replies_total` (labels but `source` and `mta`),
//!   and `expired N`, with nothing extra;
//! - `excluded L: why` for each line `L` that carries a reply code and is not counted, and
//!   `unrecognised L: why` for each line the parser cannot read. A line on neither list that
//!   carries a code must be counted, and every listed line must still be what its entry says.
//!
//! `auto` must make the same of every line as the file's format (lines of a known MTA that
//! carry no reply are `ignored` in every mode).
//!
//! `CORPUS_DRAFT=DIR` writes what the exporter makes of each file to `DIR/<file>.golden`, with
//! `why` left as `TODO`: a starting point to read the lines against, never a golden file as it
//! is (a `TODO` reason fails the test).

// A test crate: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod exim_exporter;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

mod postfix_peers;
mod sisimai;

use regex::bytes::Regex;
use smtp_status_exporter::aggregate::{Aggregator, Bounds, LineResult, SourceId};
use smtp_status_exporter::parse::{Format, Parser};
use smtp_status_exporter::source::replay::replay_file;

use crate::harness::series;

/// The peers' corpus: `SMTP_CORPORA` or `shared/corpora` beside the repository.
fn corpora() -> PathBuf {
    match std::env::var_os("SMTP_CORPORA") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpora"),
    }
}

/// `(file, format)` of every line of both manifests.
fn manifest(peers: &Path) -> Vec<(String, Format)> {
    let mut out = Vec::new();
    for m in ["MANIFEST.gathered.tsv", "MANIFEST.index.tsv"] {
        let path = peers.join(m);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (the peers' corpus lives in shared/corpora beside the repository; \
                 SMTP_CORPORA names another place)",
                path.display()
            )
        });
        for row in text.lines().skip(1).filter(|l| !l.trim().is_empty()) {
            let mut cols = row.split('\t');
            let (file, format) = (cols.next().unwrap(), cols.next().unwrap());
            let format = Format::from_name(format)
                .unwrap_or_else(|| panic!("{m}: unknown format {format:?} for {file}"));
            out.push((file.to_owned(), format));
        }
    }
    out
}

/// A line that carries a reply code: a basic code (`550`, `250`) standing alone after a space,
/// quote, bracket or `word=`, or an enhanced code (`5.1.1`) not inside a longer dotted number.
/// Some such "codes" are sizes or versions: those lines are `excluded` with that reason.
fn code_bearing() -> Regex {
    Regex::new(
        r#"(?:^|[\s"'(]|[A-Za-z]{2,}=)[245][0-9]{2}(?:[\s-]|$)|(?:^|[^0-9.])[245]\.[0-9]{1,3}\.[0-9]{1,3}(?:[^0-9.]|$)"#,
    )
    .unwrap()
}

/// What one golden file says.
#[derive(Default)]
struct Golden {
    lines: Option<[u64; 3]>,
    series: BTreeMap<String, u64>,
    /// Line number → (`excluded` or `unrecognised`, why).
    listed: BTreeMap<usize, (LineResult, String)>,
}

fn parse_golden(text: &str, file: &str) -> Golden {
    let mut g = Golden::default();
    for (n, l) in text.lines().enumerate() {
        let l = l.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let bad = || -> ! { panic!("{file}.golden:{}: cannot read {l:?}", n + 1) };
        let (head, rest) = l.split_once(' ').unwrap_or_else(|| bad());
        match head {
            "lines" => {
                let v: Vec<u64> = rest
                    .split(' ')
                    .map(|kv| {
                        kv.split_once('=')
                            .unwrap_or_else(|| bad())
                            .1
                            .parse()
                            .unwrap()
                    })
                    .collect();
                g.lines = Some(v.try_into().unwrap_or_else(|_| bad()));
            }
            "expired" => {
                g.series.insert("expired".into(), rest.parse().unwrap());
            }
            "excluded" | "unrecognised" => {
                let (line, why) = rest.split_once(':').unwrap_or_else(|| bad());
                let kind = if head == "excluded" {
                    LineResult::Ignored
                } else {
                    LineResult::Unrecognised
                };
                g.listed
                    .insert(line.parse().unwrap(), (kind, why.trim().to_owned()));
            }
            count => {
                g.series.insert(rest.to_owned(), count.parse().unwrap());
            }
        }
    }
    g
}

fn aggregator(format: Format) -> Aggregator {
    let bounds = Bounds {
        domains_max: 1000,
        ..Bounds::default()
    };
    Aggregator::new(vec![(format.name().into(), format.name().into())], &bounds)
}

/// What `parser` makes of each line of `text`, in order (as a file's reader would: one parser
/// for the whole file, so `auto` decides once).
fn per_line(text: &[u8], parser: Parser, path: &Path, format: Format) -> Vec<LineResult> {
    let mut parser = parser.for_path(path);
    let mut agg = aggregator(format);
    let body = text.strip_suffix(b"\n").unwrap_or(text);
    body.split(|&b| b == b'\n')
        .map(|l| {
            let l = l.strip_suffix(b"\r").unwrap_or(l);
            agg.record(SourceId(0), &parser.parse(l))
        })
        .collect()
}

/// Checks one file against its golden file; what differs, one line each.
fn check(peers: &Path, file: &str, format: Format, draft: Option<&Path>) -> String {
    let path = peers.join(file);
    let text = std::fs::read(&path).unwrap();
    let mut agg = aggregator(format);
    replay_file(&path, SourceId(0), &Parser::from(format).into(), &mut agg).unwrap();
    let got = series::render(&agg, &["source", "mta"]);
    let lines = agg.total_lines();
    let fixed = per_line(&text, Parser::from(format), &path, format);
    let auto = per_line(&text, Parser::default(), &path, format);
    let bearing = code_bearing();
    let body = text.strip_suffix(b"\n").unwrap_or(&text);
    let codes: Vec<bool> = body
        .split(|&b| b == b'\n')
        .map(|l| bearing.is_match(l))
        .collect();
    if let Some(dir) = draft {
        write_draft(peers, dir, file, format, lines, &got, &fixed, &codes);
    }
    let golden_path = golden_path(file);
    let Ok(golden) = std::fs::read_to_string(&golden_path) else {
        return format!("{file}: no golden file {}\n", golden_path.display());
    };
    let g = parse_golden(&golden, file);
    let mut out = String::new();
    compare_series(&mut out, file, &g.series, &got);
    if g.lines != Some(lines) {
        let _ = writeln!(out, "{file}: lines want {:?} got {lines:?}", g.lines);
    }
    let tally = fixed.iter().fold([0u64; 3], |mut t, r| {
        t[LineResult::ALL.iter().position(|x| x == r).unwrap()] += 1;
        t
    });
    if tally != lines {
        let _ = writeln!(out, "{file}: line by line {tally:?}, replay {lines:?}");
    }
    check_lines(&mut out, file, &g, &fixed, &auto, &codes);
    out
}

fn golden_path(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/corpus/{file}.golden"))
}

fn compare_series(
    out: &mut String,
    file: &str,
    want: &BTreeMap<String, u64>,
    got: &BTreeMap<String, u64>,
) {
    let keys: std::collections::BTreeSet<_> = want.keys().chain(got.keys()).collect();
    for key in keys {
        let (w, g) = (want.get(key), got.get(key));
        if w != g {
            let _ = writeln!(out, "{file}: want {w:?} got {g:?} {key}");
        }
    }
}

/// Every code-bearing line counted or listed, every unrecognised line listed, every listed
/// line still what its entry says, and `auto` the same as the file's format on every line.
fn check_lines(
    out: &mut String,
    file: &str,
    g: &Golden,
    fixed: &[LineResult],
    auto: &[LineResult],
    codes: &[bool],
) {
    for (i, (&r, &code)) in fixed.iter().zip(codes).enumerate() {
        let n = i + 1;
        let listed = g.listed.get(&n);
        match (r, listed) {
            (LineResult::Counted, Some((k, _))) => {
                let _ = writeln!(out, "{file}:{n}: counted, but listed as {}", k.as_str());
            }
            (LineResult::Unrecognised, None) => {
                let _ = writeln!(out, "{file}:{n}: unrecognised and not listed");
            }
            (LineResult::Ignored, None) if code => {
                let _ = writeln!(out, "{file}:{n}: carries a code, ignored and not listed");
            }
            (r, Some((k, _))) if r != *k => {
                let _ = writeln!(
                    out,
                    "{file}:{n}: {} but listed as {}",
                    r.as_str(),
                    k.as_str()
                );
            }
            _ => {}
        }
        if let Some((_, why)) = listed {
            if why.is_empty() || why.contains("TODO") {
                let _ = writeln!(out, "{file}:{n}: listed without a reason");
            }
        }
        if auto.get(i) != Some(&r) {
            let _ = writeln!(
                out,
                "{file}:{n}: {} but {:?} under auto",
                r.as_str(),
                auto.get(i)
            );
        }
    }
    if let Some((n, _)) = g.listed.range(fixed.len() + 1..).next() {
        let _ = writeln!(
            out,
            "{file}:{n}: listed, but the file has {} lines",
            fixed.len()
        );
    }
}

#[allow(clippy::too_many_arguments)]
fn write_draft(
    peers: &Path,
    dir: &Path,
    file: &str,
    format: Format,
    lines: [u64; 3],
    got: &BTreeMap<String, u64>,
    fixed: &[LineResult],
    codes: &[bool],
) {
    let mut s = format!(
        "# {file}: read with --log.format {}\nlines counted={} ignored={} unrecognised={}\n",
        format.name(),
        lines[0],
        lines[1],
        lines[2]
    );
    for (k, v) in got {
        if k == "expired" {
            let _ = writeln!(s, "expired {v}");
        } else {
            let _ = writeln!(s, "{v} {k}");
        }
    }
    for (i, (&r, &code)) in fixed.iter().zip(codes).enumerate() {
        match r {
            LineResult::Unrecognised => {
                let _ = writeln!(s, "unrecognised {}: TODO", i + 1);
            }
            LineResult::Ignored if code => {
                let _ = writeln!(s, "excluded {}: TODO", i + 1);
            }
            _ => {}
        }
    }
    let path = dir.join(format!("{file}.golden"));
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, s).unwrap();
    // Each line with what it became, to read the file against.
    let text = std::fs::read(peers.join(file)).unwrap();
    let mut listing = String::new();
    for (i, (l, r)) in text.split(|&b| b == b'\n').zip(fixed).enumerate() {
        let mark = if codes[i] { '*' } else { ' ' };
        let _ = writeln!(
            listing,
            "{:5} {mark} {:12} {}",
            i + 1,
            r.as_str(),
            String::from_utf8_lossy(l)
        );
    }
    std::fs::write(dir.join(format!("{file}.lines")), listing).unwrap();
}

#[test]
fn every_corpus_file_is_counted_as_its_golden_file_says() {
    let peers = corpora().join("peers");
    let files = manifest(&peers);
    assert!(
        files.len() >= 30,
        "the manifests list {} files",
        files.len()
    );
    let draft = std::env::var_os("CORPUS_DRAFT").map(PathBuf::from);
    let mut failures = String::new();
    for (file, format) in &files {
        failures += &check(&peers, file, *format, draft.as_deref());
    }
    assert!(
        failures.is_empty(),
        "the corpus differs from its golden files:\n{failures}"
    );
}
