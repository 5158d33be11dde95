//! User-defined formats: a name, an optional literal prefilter, and regexes with named groups,
//! declared under `formats:` in the configuration file and compiled once at start.
//!
//! ```yaml
//! formats:
//!   - name: haraka                       # the `mta` label and the name sources use
//!     prefilter: "[outbound] "           # optional: lines without it are ignored at once
//!     patterns:
//!       - regex: 'recipient <(?P<recipient>[^>]*)> (?P<outcome>deferred|rejected): (?P<code>\d{3}(?: \d\.\d{1,3}\.\d{1,3})?)'
//!       - regex: 'delivered file=\S+ domain=(?P<domain>\S+)'
//!         outcome: delivered             # a fixed outcome, for a regex without an `outcome` group
//!     outcomes:                          # captured words → outcomes
//!       rejected: bounced
//! ```
//!
//! Named groups (all optional but the outcome):
//! - `code`: the basic code (`550`); when it captures `550 5.1.1`, the enhanced code too.
//! - `enhanced`: the enhanced code (`5.1.1`); wins over one inside `code`.
//! - `recipient`: the address (or, with `recipient_separator`, several); or `domain`: a bare
//!   domain. One reply per recipient; without either, one reply with an empty domain.
//! - `outcome`: a word mapped through `outcomes:`, else taken when it is itself one of
//!   `delivered`, `deferred`, `bounced`, `rejected`, `warned`, `held`, `discarded`,
//!   `deliverable`, `undeliverable`, `undeliverable-but-not-cached` — or `expired` (an expiry,
//!   never a reply) or `ignored`.
//!   A pattern without an `outcome` group must give `outcome:`.
//! - `direction`: a word mapped through `directions:`, else `outbound` or `inbound`; without
//!   the group, the pattern's `direction:` (default `outbound`).
//! - `text`: the reply text (`550 5.1.1 User unknown`), read by the reason classes of
//!   `smtp_failures_total`; without it, what `code` captured. Never a label value.
//! - `relay`: the host that answered (`gmail-smtp-in.l.google.com`, `mx.example.net
//!   [203.0.113.25]`), read by the provider table for the `provider` label; the text itself
//!   is never a label value.
//! - `stage`: the SMTP command the reply answered, as the log names it (`RCPT`, `RCPT TO`,
//!   `MAIL FROM`, `DATA`, `end of data`, `EHLO`, `CONNECT`, …: [`Stage::of_command`]); a word
//!   that names no command leaves the stage empty, as a line without the group does.
//! - `queue_id`: the MTA's id of the message (`3F2A81C0B2A`), shown on `/failures` and in the
//!   exemplars of `smtp_failures_total`; never a label value.
//! - `time`: when the line was written, read by its shape ([`Stamp::of_text`]): a date first
//!   (`2026-12-07 12:00:00`, `2026-12-07T12:00:00.123+01:00`, an optional zone after it) as
//!   ISO 8601; a month name first (`Dec  7 12:00:00`) as syslog's; digits with an optional
//!   fraction (`1733572800.5`) as seconds since the epoch. A stamp without a zone is local
//!   time. Text of another shape gives the line no time of its own (it is
//!   still counted). Without the group the line's time is when it was read.
//!
//! A captured word that maps to nothing makes the line [`Parsed::Unrecognised`]: no captured
//! text ever becomes a label value. Codes go through the same validation as every parser's
//! (`999` is no code). The first pattern that matches reads the line. A line without the
//! prefilter is [`Parsed::Ignored`]; one with it that no pattern matches is
//! [`Parsed::Unrecognised`]. Without a prefilter, a line no pattern matches is ignored (there
//! is nothing to tell a line of ours from another).
//!
//! Compiled with `regex::bytes` (linear time, no backreferences or look-around: a hostile log
//! line cannot make matching slow). Per line, the prefilter is a `memmem` search and each
//! pattern a match into capture slots owned by the parser: nothing is allocated.

use std::collections::BTreeMap;
use std::sync::Arc;

use memchr::memmem::Finder;
use regex::bytes::{CaptureLocations, Regex};
use serde::Deserialize;

use super::{
    leading_reply_codes, BasicCode, Direction, EnhancedCode, Event, Format, Outcome, Parsed,
    Recipients, Relay, Reply, Stage, Stamp,
};

/// A user-defined format as the configuration file writes it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FormatConfig {
    /// The `mta` label of its sources, and the name `format:` and `--log.format` use.
    pub name: String,
    /// A literal every line of the format holds.
    #[serde(default)]
    pub prefilter: Option<String>,
    pub patterns: Vec<PatternConfig>,
    /// Words an `outcome` group captures → outcome (or `expired`, `ignored`).
    #[serde(default)]
    pub outcomes: BTreeMap<String, String>,
    /// Words a `direction` group captures → `outbound` or `inbound`.
    #[serde(default)]
    pub directions: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatternConfig {
    pub regex: String,
    /// The outcome of the lines it matches, for a regex without an `outcome` group.
    #[serde(default)]
    pub outcome: Option<String>,
    /// The direction of the lines it matches, for a regex without a `direction` group
    /// (default `outbound`).
    #[serde(default)]
    pub direction: Option<String>,
    /// The separator of several recipients in the `recipient` group (one character).
    #[serde(default)]
    pub recipient_separator: Option<String>,
}

/// What a line comes to, once its outcome word is mapped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mapped {
    Reply(Outcome),
    Expired,
    Ignored,
}

/// The group names a pattern may use.
const GROUPS: [&str; 11] = [
    "code",
    "enhanced",
    "recipient",
    "domain",
    "outcome",
    "direction",
    "text",
    "relay",
    "stage",
    "queue_id",
    "time",
];

#[derive(Debug)]
struct Pattern {
    re: Regex,
    /// Capture-group index of each of [`GROUPS`].
    groups: [Option<usize>; 11],
    outcome: Option<Mapped>,
    direction: Direction,
    separator: Option<u8>,
}

/// A compiled user-defined format.
#[derive(Debug)]
pub struct CustomFormat {
    name: String,
    prefilter: Option<Finder<'static>>,
    patterns: Vec<Pattern>,
    outcomes: Vec<(Vec<u8>, Mapped)>,
    directions: Vec<(Vec<u8>, Direction)>,
}

fn outcome_word(w: &str) -> Option<Mapped> {
    Some(match w {
        "expired" => Mapped::Expired,
        "ignored" => Mapped::Ignored,
        _ => Mapped::Reply(Outcome::ALL.into_iter().find(|o| o.as_str() == w)?),
    })
}

fn direction_word(w: &str) -> Option<Direction> {
    Direction::ALL.into_iter().find(|d| d.as_str() == w)
}

const OUTCOMES: &str = "delivered, deferred, bounced, rejected, warned, held, discarded, deliverable, undeliverable, undeliverable-but-not-cached, expired or ignored";

impl CustomFormat {
    /// Compiles and checks a format; the error names the field to fix (relative to the
    /// format, e.g. `patterns[1].regex: …`).
    pub fn compile(cfg: &FormatConfig) -> Result<CustomFormat, String> {
        if let Some(p) = &cfg.prefilter {
            if p.is_empty() {
                return Err("prefilter: must not be empty (leave it out instead)".into());
            }
        }
        if cfg.patterns.is_empty() {
            return Err("patterns: list at least one pattern with a regex".into());
        }
        let mut outcomes = Vec::new();
        for (word, to) in &cfg.outcomes {
            let m = outcome_word(to)
                .ok_or_else(|| format!("outcomes.{word}: {to:?} is not one of {OUTCOMES}"))?;
            outcomes.push((word.clone().into_bytes(), m));
        }
        let mut directions = Vec::new();
        for (word, to) in &cfg.directions {
            let d = direction_word(to).ok_or_else(|| {
                format!("directions.{word}: {to:?} is not a direction: use outbound or inbound")
            })?;
            directions.push((word.clone().into_bytes(), d));
        }
        let mut patterns = Vec::new();
        for (i, p) in cfg.patterns.iter().enumerate() {
            patterns.push(compile_pattern(p).map_err(|e| format!("patterns[{i}].{e}"))?);
        }
        Ok(CustomFormat {
            name: cfg.name.clone(),
            prefilter: cfg
                .prefilter
                .as_ref()
                .map(|p| Finder::new(p.as_bytes()).into_owned()),
            patterns,
            outcomes,
            directions,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether `name` may name a user-defined format: a usable label value that is no
    /// built-in format's name.
    pub fn check_name(name: &str) -> Result<(), String> {
        if name == "auto" || Format::from_name(name).is_some() {
            return Err(format!(
                "{name:?} is the name of a built-in format: choose another"
            ));
        }
        let ok = !name.is_empty()
            && name.len() <= 64
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if ok {
            Ok(())
        } else {
            Err(format!(
                "{name:?} is not a usable format name: use 1 to 64 letters, digits, '-', '_' or '.'"
            ))
        }
    }

    fn outcome_of(&self, word: &[u8]) -> Option<Mapped> {
        self.outcomes
            .iter()
            .find(|(w, _)| w.as_slice() == word)
            .map(|(_, m)| *m)
            .or_else(|| outcome_word(std::str::from_utf8(word).ok()?))
    }

    fn direction_of(&self, word: &[u8]) -> Option<Direction> {
        self.directions
            .iter()
            .find(|(w, _)| w.as_slice() == word)
            .map(|(_, d)| *d)
            .or_else(|| direction_word(std::str::from_utf8(word).ok()?))
    }
}

fn compile_pattern(p: &PatternConfig) -> Result<Pattern, String> {
    let re = Regex::new(&p.regex).map_err(|e| format!("regex: {e}"))?;
    let mut groups = [None; 11];
    for (i, name) in re.capture_names().enumerate() {
        let Some(name) = name else { continue };
        let k = GROUPS.iter().position(|g| *g == name).ok_or_else(|| {
            format!(
                "regex: the group (?P<{name}>…) means nothing here: name groups {}",
                GROUPS.join(", ")
            )
        })?;
        if let Some(slot) = groups.get_mut(k) {
            *slot = Some(i);
        }
    }
    let [_, _, recipient, domain, outcome_group, direction_group, ..] = groups;
    if recipient.is_some() && domain.is_some() {
        return Err("regex: has both a recipient and a domain group: keep one".into());
    }
    let outcome = match (&p.outcome, outcome_group) {
        (Some(_), Some(_)) => {
            return Err(
                "outcome: the regex has an outcome group already: drop one of the two".into(),
            )
        }
        (Some(o), None) => Some(
            outcome_word(o).ok_or_else(|| format!("outcome: {o:?} is not one of {OUTCOMES}"))?,
        ),
        (None, Some(_)) => None,
        (None, None) => {
            return Err(
                "regex: has no group named outcome: capture the status word with (?P<outcome>…), or give the pattern a fixed outcome:"
                    .into(),
            )
        }
    };
    check_reply_groups(outcome, &groups)?;
    let direction = match (&p.direction, direction_group) {
        (Some(_), Some(_)) => {
            return Err(
                "direction: the regex has a direction group already: drop one of the two".into(),
            )
        }
        (Some(d), None) => direction_word(d).ok_or_else(|| {
            format!("direction: {d:?} is not a direction: use outbound or inbound")
        })?,
        _ => Direction::Outbound,
    };
    let separator = match p.recipient_separator.as_deref() {
        None => None,
        Some(s) if s.len() == 1 && recipient.is_some() => s.bytes().next(),
        Some(_) if recipient.is_none() => {
            return Err("recipient_separator: the regex has no recipient group".into())
        }
        Some(s) => {
            return Err(format!(
                "recipient_separator: {s:?} must be one ASCII character, e.g. \",\""
            ))
        }
    };
    Ok(Pattern {
        re,
        groups,
        outcome,
        direction,
        separator,
    })
}

/// A `relay`, `stage`, `queue_id` or `time` group says something of a reply only: in a
/// pattern whose fixed outcome is `expired` or `ignored` it would be dropped unread, so it is
/// a mistake.
fn check_reply_groups(outcome: Option<Mapped>, groups: &[Option<usize>; 11]) -> Result<(), String> {
    let what = match outcome {
        Some(Mapped::Expired) => "expired",
        Some(Mapped::Ignored) => "ignored",
        _ => return Ok(()),
    };
    for k in 7..11 {
        if let (Some(name), Some(Some(_))) = (GROUPS.get(k), groups.get(k)) {
            return Err(format!(
                "regex: the group (?P<{name}>…) says nothing of an {what} line (outcome: {what}): drop it"
            ));
        }
    }
    Ok(())
}

/// The parser of a user-defined format: the compiled format and capture slots of its own.
#[derive(Debug)]
pub struct CustomParser {
    format: Arc<CustomFormat>,
    slots: Vec<CaptureLocations>,
}

impl Clone for CustomParser {
    fn clone(&self) -> Self {
        CustomParser::new(Arc::clone(&self.format))
    }
}

impl CustomParser {
    pub fn new(format: Arc<CustomFormat>) -> Self {
        let slots = format
            .patterns
            .iter()
            .map(|p| p.re.capture_locations())
            .collect();
        CustomParser { format, slots }
    }

    pub fn name(&self) -> &str {
        &self.format.name
    }

    /// Reads one line (without its newline). Allocation-free; never panics.
    pub fn parse<'a>(&mut self, line: &'a [u8]) -> Parsed<'a> {
        let f = &*self.format;
        if let Some(pre) = &f.prefilter {
            if pre.find(line).is_none() {
                return Parsed::Ignored;
            }
        }
        for (p, locs) in f.patterns.iter().zip(self.slots.iter_mut()) {
            if p.re.captures_read(locs, line).is_none() {
                continue;
            }
            let group = |k: usize| -> Option<&'a [u8]> {
                let i = (*p.groups.get(k)?)?;
                let (s, e) = locs.get(i)?;
                line.get(s..e)
            };
            return read(f, p, group).unwrap_or(Parsed::Unrecognised);
        }
        if f.prefilter.is_some() {
            Parsed::Unrecognised
        } else {
            Parsed::Ignored
        }
    }
}

/// A matched line; `None` when a captured word maps to nothing.
fn read<'a>(
    f: &CustomFormat,
    p: &Pattern,
    group: impl Fn(usize) -> Option<&'a [u8]>,
) -> Option<Parsed<'a>> {
    let [code, enhanced, recipient, domain, outcome, direction, text, relay, stage, queue_id, time] =
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map(|k| group(k).map(<[u8]>::trim_ascii));
    let mapped = match outcome {
        Some(w) => f.outcome_of(w)?,
        // A pattern with an outcome group whose group did not take part: nothing to say.
        None => p.outcome?,
    };
    let outcome = match mapped {
        Mapped::Ignored => return Some(Parsed::Ignored),
        Mapped::Expired => return Some(Parsed::Event(Event::Expired)),
        Mapped::Reply(o) => o,
    };
    let direction = match direction {
        Some(w) => f.direction_of(w)?,
        None => p.direction,
    };
    let (basic, in_code): (Option<BasicCode>, Option<EnhancedCode>) =
        code.map_or((None, None), leading_reply_codes);
    let enhanced = enhanced.and_then(EnhancedCode::parse).or(in_code);
    let recipients = match (recipient, domain, p.separator) {
        (Some(r), _, Some(sep)) if !r.is_empty() => Recipients::List(r, sep),
        (Some(r), _, None) if !r.is_empty() => Recipients::One(r),
        (_, Some(d), _) if !d.is_empty() => Recipients::Domain(d),
        _ => Recipients::None,
    };
    Some(Parsed::Event(Event::Reply(Reply {
        direction,
        outcome,
        code: basic,
        enhanced,
        recipients,
        delay: None,
        // Without a `text` group, what the `code` group took is all the format says.
        text: text.or(code).unwrap_or_default(),
        relay: relay
            .filter(|r| !r.is_empty())
            .map_or(Relay::Unknown, Relay::Host),
        stage: stage.and_then(Stage::of_command).unwrap_or_default(),
        queue_id: queue_id.unwrap_or_default(),
        time: time.map_or(Stamp::None, Stamp::of_text),
    })))
}

#[cfg(test)]
mod tests;
