//! Feeding the exporter other ways than a log file (through its standard input, started with
//! [`super::exporter::Exporter::fed`], or over a syslog listener), and comparing what it counts
//! with a fixture's `.expected` file.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use super::metrics::{series, Samples};

/// `COUNT {labels}` per series and `expired N`, as `tests/fixtures/*/*.expected` hold them
/// (labels sorted by name).
pub fn expected(path: &Path) -> BTreeMap<String, u64> {
    let text =
        fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (a, b) = l
                .split_once(' ')
                .unwrap_or_else(|| panic!("COUNT LABELS or expired N"));
            if a == "expired" {
                (
                    "expired".to_owned(),
                    b.trim().parse().unwrap_or_else(|e| panic!("{l:?}: {e}")),
                )
            } else {
                (
                    b.trim().to_owned(),
                    a.parse().unwrap_or_else(|e| panic!("{l:?}: {e}")),
                )
            }
        })
        .collect()
}

/// The scrape's `smtp_replies_total` series and `smtp_expired_total` in the form of
/// [`expected`], with the `source` label set to `source_as` (the fixtures name it `postfix`).
pub fn rendered(samples: &Samples, source: &str, source_as: &str) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for (mut labels, v) in series(samples, "smtp_replies_total") {
        if labels.get("source").map(String::as_str) != Some(source) {
            continue;
        }
        labels.insert("source".into(), source_as.into());
        let body: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
        *out.entry(format!("{{{}}}", body.join(","))).or_default() += v as u64;
    }
    let expired: f64 = series(samples, "smtp_expired_total")
        .iter()
        .filter(|(l, _)| l.get("source").map(String::as_str) == Some(source))
        .map(|(_, v)| v)
        .sum();
    out.insert("expired".into(), expired as u64);
    out
}

/// The Postfix fixture every source test feeds: 3083 real lines of Postfix 3.7.11
/// (`tests/fixtures/postfix/README.md`), and what they count.
pub fn postfix_fixture() -> (PathBuf, PathBuf) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/postfix");
    (dir.join("e2e-run.log"), dir.join("e2e-run.expected"))
}

/// Lines of `file` by result (`counted`, `ignored`, `unrecognised`) as `replay` reads the file
/// itself: what any other way in must count too.
pub fn lines_of_file(file: &Path) -> BTreeMap<String, f64> {
    let json = super::exporter::replay_json(&[file]).unwrap_or_else(|e| panic!("{e}"));
    json["lines"]
        .as_object()
        .unwrap_or_else(|| panic!("replay --format json has lines"))
        .iter()
        .map(|(k, v)| (k.clone(), v.as_f64().unwrap_or_else(|| panic!("a number"))))
        .collect()
}
