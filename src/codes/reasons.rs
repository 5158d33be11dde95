//! Reason classes: why a 4xx/5xx reply failed, as one of a small, fixed set of words (the
//! `reason` label of `smtp_failures_total`).
//!
//! An ordered rule table, first match wins. A rule names a reason and up to three conditions,
//! all of which must hold: basic codes (`550`), enhanced code patterns (`5.7.26`, `X.2.2` for
//! any class, `X.7.*` for any detail, `5.7.606-649` for a range) and a case-insensitive regex on
//! the reply text as logged. The rules the user writes under `reasons:` in the configuration
//! file come first, then the built-in table (`reasons/builtin.rs`).
//!
//! The order of the built-in table is the design: the strongest evidence first. A blocklist
//! named in the text wins over any code (servers say "blocked using zen.spamhaus.org" with 550,
//! 554 or 5.7.1 alike); then sender authentication, TLS, rate limits and reputation, whose
//! codes (4.7.28, 5.7.26) and words are specific; then content; then the addressing and
//! mailbox codes (5.1.1, 5.2.2); and last a fallback per enhanced-code subject, so every
//! failure lands somewhere, in `other` at worst. Codes only ever decide where the text says
//! nothing more specific, because providers reuse generic codes (5.7.1 for a blocklist, a spam
//! verdict and a relay refusal alike) — but a provider-specific code (Gmail's 4.7.28,
//! Microsoft's 5.7.509) is trusted over generic words in its text.
//!
//! Cost: the built-in regexes are compiled once per process into one `RegexSet`, so a reply
//! text is scanned once whatever the number of rules; only 4xx/5xx replies are classified
//! (`benches/parse.rs` measures it).

use std::sync::LazyLock;

use regex::bytes::{RegexSet, RegexSetBuilder};

use crate::parse::{BasicCode, EnhancedCode};

mod builtin;

use builtin::BUILTIN;
pub use builtin::BUILTIN_REASONS;

/// The id of `other`, where every failure no rule claims lands.
pub const OTHER: ReasonId = ReasonId(0);

/// Index of a reason name in a [`Reasons`] table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReasonId(pub u8);

/// An enhanced code pattern: `None` parts match anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnhancedPattern {
    class: Option<u8>,
    subject: Option<u8>,
    detail: Option<(u16, u16)>,
}

impl EnhancedPattern {
    /// Reads `5.7.26`, `X.2.2` (`X` or `*`: any class), `X.7.*` (any detail), `5.7.606-649`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "{s:?} is not an enhanced code pattern: write CLASS.SUBJECT.DETAIL such as 5.7.26, X.2.2 (X: any class), X.7.* (any detail) or 5.7.606-649"
            )
        };
        let mut parts = s.split('.');
        let (Some(c), Some(sub), Some(d), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        let num = |t: &str, max: u16| -> Option<u16> {
            let ok = !t.is_empty()
                && t.len() <= 3
                && t.bytes().all(|b| b.is_ascii_digit())
                && !(t.len() > 1 && t.starts_with('0'));
            ok.then(|| t.parse().ok()).flatten().filter(|n| *n <= max)
        };
        let class = match c {
            "X" | "x" | "*" => None,
            "2" | "4" | "5" => Some(num(c, 5).ok_or_else(bad)? as u8),
            _ => return Err(bad()),
        };
        let subject = match sub {
            "*" => None,
            _ => Some(num(sub, 7).ok_or_else(bad)? as u8),
        };
        let detail = match d {
            "*" => None,
            _ => Some(match d.split_once('-') {
                Some((lo, hi)) => {
                    let (lo, hi) = (num(lo, 999).ok_or_else(bad)?, num(hi, 999).ok_or_else(bad)?);
                    if lo > hi {
                        return Err(bad());
                    }
                    (lo, hi)
                }
                None => {
                    let n = num(d, 999).ok_or_else(bad)?;
                    (n, n)
                }
            }),
        };
        Ok(EnhancedPattern {
            class,
            subject,
            detail,
        })
    }

    pub fn matches(&self, e: EnhancedCode) -> bool {
        self.class.is_none_or(|c| c == e.class_digit())
            && self.subject.is_none_or(|s| s == e.subject())
            && self
                .detail
                .is_none_or(|(lo, hi)| (lo..=hi).contains(&e.detail()))
    }
}

/// Which regex set a rule's text condition is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Set {
    User,
    Builtin,
}

#[derive(Debug, Clone)]
struct Rule {
    reason: ReasonId,
    codes: Vec<u16>,
    enhanced: Vec<EnhancedPattern>,
    text: Option<(Set, usize)>,
}

impl Rule {
    fn codes_match(&self, code: Option<BasicCode>, enhanced: Option<EnhancedCode>) -> bool {
        (self.codes.is_empty() || code.is_some_and(|c| self.codes.contains(&c.get())))
            && (self.enhanced.is_empty()
                || enhanced.is_some_and(|e| self.enhanced.iter().any(|p| p.matches(e))))
    }
}

/// The built-in rules, compiled once per process.
struct Compiled {
    rules: Vec<Rule>,
    set: RegexSet,
}

static COMPILED: LazyLock<Compiled> = LazyLock::new(compile_builtin);

fn compile_builtin() -> Compiled {
    let mut patterns = Vec::new();
    let mut rules = Vec::new();
    for r in BUILTIN {
        let text = (!r.text.is_empty()).then(|| {
            patterns.push(r.text);
            (Set::Builtin, patterns.len() - 1)
        });
        rules.push(Rule {
            reason: builtin_id(r.reason),
            codes: r.codes.to_vec(),
            // The table's patterns are checked by a unit test.
            enhanced: r
                .enhanced
                .iter()
                .filter_map(|p| EnhancedPattern::parse(p).ok())
                .collect(),
            text,
        });
    }
    // A larger lazy-DFA cache than the default: the set's combined automaton is big, and a
    // cache that keeps being cleared makes each scan several times slower.
    let set = RegexSetBuilder::new(&patterns)
        .case_insensitive(true)
        .unicode(false)
        .dfa_size_limit(16 << 20)
        .build()
        // The table is fixed at build time and tested: it compiles.
        .unwrap_or_else(|_| RegexSet::empty());
    Compiled { rules, set }
}

fn builtin_id(name: &str) -> ReasonId {
    BUILTIN_REASONS
        .iter()
        .position(|n| *n == name)
        .and_then(|i| u8::try_from(i).ok())
        .map_or(OTHER, ReasonId)
}

/// A user rule as the configuration file writes it:
/// ```yaml
/// reasons:
///   - reason: mailbox_full              # a built-in reason, or a name of your own
///     match: 'Postfach voll'            # regex on the reply text, case-insensitive
///   - reason: partner_quarantine
///     match: 'quarantined by partner'
///     enhanced: 5.7.*                   # optional: enhanced code pattern
///     code: 554                         # optional: basic code
/// ```
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserRule {
    pub reason: String,
    #[serde(rename = "match", default)]
    pub text: Option<String>,
    #[serde(default)]
    pub code: Option<u16>,
    #[serde(default)]
    pub enhanced: Option<String>,
}

/// How many distinct reason names a configuration may define besides the built-in ones: the
/// label must stay bounded.
pub const MAX_USER_REASONS: usize = 32;

/// The rule table in force: the user's rules, then the built-in ones.
#[derive(Debug, Clone)]
pub struct Reasons {
    names: Vec<String>,
    user: Vec<Rule>,
    user_set: Option<RegexSet>,
}

impl Default for Reasons {
    fn default() -> Self {
        Reasons {
            names: BUILTIN_REASONS.iter().map(|s| (*s).to_owned()).collect(),
            user: Vec::new(),
            user_set: None,
        }
    }
}

impl std::fmt::Debug for Compiled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} built-in rules", self.rules.len())
    }
}

impl Reasons {
    /// The built-in table with the user's rules before it. An error names the rule
    /// (`reasons[2] (mailbox_full)`) and what is wrong with it.
    pub fn new(user: &[UserRule]) -> Result<Reasons, String> {
        let mut out = Reasons::default();
        let mut patterns = Vec::new();
        for (i, r) in user.iter().enumerate() {
            let at = format!("reasons[{i}] ({})", r.reason);
            let rule = out.user_rule(&at, r, &mut patterns)?;
            out.user.push(rule);
        }
        if !patterns.is_empty() {
            out.user_set = Some(
                RegexSetBuilder::new(&patterns)
                    .case_insensitive(true)
                    .build()
                    .map_err(|e| format!("reasons: {e}"))?,
            );
        }
        Ok(out)
    }

    /// One user rule, checked; its regex, if any, is added to `patterns`. `at` names the rule
    /// in errors.
    fn user_rule(
        &mut self,
        at: &str,
        r: &UserRule,
        patterns: &mut Vec<String>,
    ) -> Result<Rule, String> {
        check_reason_name(&r.reason).map_err(|e| format!("{at}.reason: {e}"))?;
        let id = self.reason_index(at, &r.reason)?;
        let codes = match r.code {
            Some(c) => vec![BasicCode::new(c)
                .ok_or_else(|| {
                    format!("{at}.code: {c} is not a reply code (three digits, 200 to 559)")
                })?
                .get()],
            None => Vec::new(),
        };
        let enhanced = match &r.enhanced {
            Some(p) => vec![EnhancedPattern::parse(p).map_err(|e| format!("{at}.enhanced: {e}"))?],
            None => Vec::new(),
        };
        let text = match &r.text {
            Some(t) => {
                // Checked one by one, so the error names the rule.
                regex::bytes::RegexBuilder::new(t)
                    .case_insensitive(true)
                    .build()
                    .map_err(|e| format!("{at}.match: invalid regex: {e}"))?;
                patterns.push(t.clone());
                Some((Set::User, patterns.len() - 1))
            }
            None => None,
        };
        if codes.is_empty() && enhanced.is_empty() && text.is_none() {
            return Err(format!(
                "{at}: give at least one of match (a regex on the reply text), code or enhanced"
            ));
        }
        Ok(Rule {
            reason: ReasonId(u8::try_from(id).map_err(|_| format!("{at}: too many reasons"))?),
            codes,
            enhanced,
            text,
        })
    }

    /// The index of a reason name, added after the others when new (up to
    /// [`MAX_USER_REASONS`] of them).
    fn reason_index(&mut self, at: &str, name: &str) -> Result<usize, String> {
        if let Some(k) = self.names.iter().position(|n| n == name) {
            return Ok(k);
        }
        if self.names.len() >= BUILTIN_REASONS.len() + MAX_USER_REASONS {
            return Err(format!(
                "{at}.reason: at most {MAX_USER_REASONS} reason names of your own (the reason label must stay bounded)"
            ));
        }
        self.names.push(name.to_owned());
        Ok(self.names.len() - 1)
    }

    /// The reason of a failed reply. Call it for 4xx/5xx replies only: a success has none.
    pub fn classify(
        &self,
        code: Option<BasicCode>,
        enhanced: Option<EnhancedCode>,
        text: &[u8],
    ) -> ReasonId {
        if let Some(set) = &self.user_set {
            let hits = set.matches(text);
            for r in &self.user {
                if r.codes_match(code, enhanced) && r.text.is_none_or(|(_, i)| hits.matched(i)) {
                    return r.reason;
                }
            }
        } else {
            for r in &self.user {
                if r.text.is_none() && r.codes_match(code, enhanced) {
                    return r.reason;
                }
            }
        }
        let builtin = &*COMPILED;
        // One scan of the text for every built-in pattern, only when a rule needs it.
        let mut hits = None;
        for r in &builtin.rules {
            if !r.codes_match(code, enhanced) {
                continue;
            }
            match r.text {
                None => return r.reason,
                Some((_, i)) => {
                    let hits = hits.get_or_insert_with(|| builtin.set.matches(text));
                    if hits.matched(i) {
                        return r.reason;
                    }
                }
            }
        }
        OTHER
    }

    /// The label value of a reason.
    pub fn name(&self, id: ReasonId) -> &str {
        self.names
            .get(usize::from(id.0))
            .map_or("other", String::as_str)
    }

    /// The id of a reason name (for restoring saved counters); `None` when this table does
    /// not have it (a user rule since removed).
    pub fn id_of(&self, name: &str) -> Option<ReasonId> {
        self.names
            .iter()
            .position(|n| n == name)
            .and_then(|i| u8::try_from(i).ok())
            .map(ReasonId)
    }

    /// The reason of a failure at `stage`: an unknown-recipient reply after the message
    /// (DATA or its end) comes from a filter, not from an address that does not exist — the
    /// server took the address at RCPT TO — so it is `filtered`, as Sisimai reads it.
    pub fn at_stage(&self, id: ReasonId, stage: crate::parse::Stage) -> ReasonId {
        use crate::parse::Stage;
        let after_rcpt = matches!(stage, Stage::Data | Stage::EndOfData);
        match (self.name(id), after_rcpt) {
            ("invalid_recipient", true) => self.id_of("filtered").unwrap_or(id),
            _ => id,
        }
    }

    /// Every reason name, built-in first.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.names.iter().map(String::as_str)
    }
}

/// Recent classifications, keyed by the exact codes and text: in a deferral storm the same
/// reply comes back for every message (`421 4.7.0 [TSS04] Messages from 192.0.2.10 temporarily
/// deferred …`, Postfix's `delivery temporarily suspended: connect to …`), and a lookup (a hash
/// and a compare of the text) costs a fraction of a scan. Bounded: at most [`Memo::MAX`]
/// entries of at most [`Memo::MAX_TEXT`] bytes, cleared when full; longer texts are not kept.
#[derive(Debug, Default)]
pub struct Memo {
    map: rustc_hash::FxHashMap<u64, MemoEntry>,
}

#[derive(Debug)]
struct MemoEntry {
    code: Option<BasicCode>,
    enhanced: Option<EnhancedCode>,
    text: Box<[u8]>,
    reason: ReasonId,
}

impl Memo {
    pub const MAX: usize = 4096;
    pub const MAX_TEXT: usize = 512;

    /// [`Reasons::classify`], remembered.
    pub fn classify(
        &mut self,
        reasons: &Reasons,
        code: Option<BasicCode>,
        enhanced: Option<EnhancedCode>,
        text: &[u8],
    ) -> ReasonId {
        if text.len() > Self::MAX_TEXT {
            return reasons.classify(code, enhanced, text);
        }
        let key = {
            use std::hash::{Hash, Hasher};
            let mut h = rustc_hash::FxHasher::default();
            (code, enhanced, text).hash(&mut h);
            h.finish()
        };
        if let Some(e) = self.map.get(&key) {
            if e.code == code && e.enhanced == enhanced && *e.text == *text {
                return e.reason;
            }
        }
        let reason = reasons.classify(code, enhanced, text);
        if self.map.len() >= Self::MAX {
            self.map.clear();
        }
        self.map.insert(
            key,
            MemoEntry {
                code,
                enhanced,
                text: text.into(),
                reason,
            },
        );
        reason
    }
}

/// A reason name is a label value: lower-case letters, digits and `_`, starting with a letter.
pub fn check_reason_name(name: &str) -> Result<(), String> {
    let ok = (1..=40).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{name:?} is not a usable reason name: use 1 to 40 lower-case letters, digits or '_', starting with a letter (e.g. mailbox_full)"
        ))
    }
}

#[cfg(test)]
mod tests;
