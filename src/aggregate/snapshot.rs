//! Counters and read positions as one serialisable value, so that both are saved together and
//! a restart neither loses nor re-counts a line.
//!
//! Series are stored by their label values, not by internal ids, so a snapshot stays readable
//! by later versions.

use serde::{Deserialize, Serialize};

use super::{Aggregator, FailureKey, Histogram, Position, Reading, ReplyKey, SourceId};
use crate::codes::providers::ProviderId;
use crate::parse::{BasicCode, Direction, EnhancedCode, Outcome, Stage};

/// Identifies the file as ours, so a foreign JSON file is never taken for state.
pub const MAGIC: &str = "smtp-status-exporter state";
pub const VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Snapshot {
    pub magic: String,
    pub version: u32,
    pub sources: Vec<SourceSnapshot>,
    #[serde(default)]
    pub label_overflow: Vec<(String, u64)>,
    /// When it was taken for the state file, in seconds since the Unix epoch (none in a state
    /// file of an earlier version): after a restart, a rotated file written since then holds
    /// lines no run counted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub saved_unix: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceSnapshot {
    pub name: String,
    /// Where the source reads; a saved position is only used for the same path.
    pub location: String,
    pub position: Option<Position>,
    #[serde(default)]
    pub draining: Vec<Position>,
    /// Journal sources: the cursor of the last entry counted.
    #[serde(default)]
    pub cursor: Option<String>,
    /// Mailbox sources: the Maildir unique names or mbox message keys of the messages already
    /// read. Left out when empty, so the state of log sources is written as before.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<String>,
    pub lines: [u64; 3],
    pub bytes: u64,
    pub rotations: [u64; 2],
    pub read_errors: u64,
    /// Absent in state written before it existed.
    #[serde(default)]
    pub rotated_missed: u64,
    pub expired: u64,
    pub replies: Vec<ReplySnapshot>,
    pub delays: Vec<(String, Histogram)>,
    /// `smtp_failures_total` (absent in state written before it existed).
    #[serde(default)]
    pub failures: Vec<FailureSnapshot>,
    /// Syslog listeners: messages dropped, by reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dropped: Option<[u64; 3]>,
    /// `--log.format auto`: the format detected (the `mta` label), so that a restart before
    /// the next line of that format keeps the label its counters had.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detected: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailureSnapshot {
    pub direction: String,
    /// `4xx` or `5xx`.
    pub class: String,
    pub reason: String,
    /// Absent in state written before the label existed: empty, as the log did not say.
    #[serde(default)]
    pub stage: String,
    pub domain: String,
    /// Absent in state written before the label existed: empty.
    #[serde(default)]
    pub provider: String,
    pub value: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplySnapshot {
    pub direction: String,
    pub outcome: String,
    pub code: String,
    pub enhanced: String,
    pub domain: String,
    /// Absent in state written before the label existed: empty.
    #[serde(default)]
    pub provider: String,
    pub value: u64,
    /// Log time of the series' latest reply (`smtp_last_*_timestamp_seconds`); absent in
    /// state written before it was kept, and where unknown.
    #[serde(default, skip_serializing_if = "is_unknown")]
    pub last: f64,
}

fn is_unknown(t: &f64) -> bool {
    *t == 0.0
}

impl Aggregator {
    /// Everything a restart needs, taken at one instant.
    /// The number of snapshots taken for the state file so far (read with a view of the
    /// counters, under the same lock).
    pub fn marks(&self) -> u64 {
        self.marks
    }

    /// A snapshot for the state file and its mark: it holds everything any view read with
    /// [`Aggregator::marks`] before it showed (counters only grow).
    pub fn marked_snapshot(&mut self) -> (u64, Snapshot) {
        self.marks += 1;
        let mut snap = self.snapshot();
        snap.saved_unix = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .ok()
            .map(|d| d.as_secs_f64());
        (self.marks, snap)
    }

    pub fn snapshot(&self) -> Snapshot {
        let mut sources: Vec<SourceSnapshot> = self
            .sources
            .iter()
            .map(|s| SourceSnapshot {
                name: s.name.clone(),
                location: s.location.clone(),
                position: s.reading.position,
                draining: s.reading.draining.clone(),
                cursor: s.reading.cursor.clone(),
                messages: s.reading.messages.iter().cloned().collect(),
                lines: s.line_counts(),
                bytes: s.bytes,
                rotations: s.rotation_counts(),
                read_errors: s.read_errors,
                rotated_missed: s.rotated_missed,
                expired: s.expired,
                replies: Vec::new(),
                delays: Vec::new(),
                failures: Vec::new(),
                dropped: s.dropped,
                detected: (s.auto == Some(true)).then(|| s.mta.clone()),
            })
            .collect();
        for (k, v) in self.sorted_reply_tallies() {
            if let Some(s) = sources.get_mut(k.source.index()) {
                s.replies.push(ReplySnapshot {
                    direction: k.direction.as_str().to_owned(),
                    outcome: k.outcome.as_str().to_owned(),
                    code: k.code.map(|c| c.to_string()).unwrap_or_default(),
                    enhanced: k.enhanced.map(|c| c.to_string()).unwrap_or_default(),
                    domain: self.domains.name(k.domain).to_owned(),
                    provider: self.provider_name(k.provider).to_owned(),
                    value: v.n,
                    last: v.last,
                });
            }
        }
        for (k, v) in self.sorted_failures() {
            if let Some(s) = sources.get_mut(k.source.index()) {
                s.failures.push(FailureSnapshot {
                    direction: k.direction.as_str().to_owned(),
                    class: format!("{}xx", k.class),
                    reason: self.reason_name(k.reason).to_owned(),
                    stage: k.stage.as_str().to_owned(),
                    domain: self.domains.name(k.domain).to_owned(),
                    provider: self.provider_name(k.provider).to_owned(),
                    value: v,
                });
            }
        }
        let mut delays: Vec<_> = self.delays.iter().collect();
        delays.sort_by_key(|((s, o), _)| (*s, *o));
        for ((src, outcome), h) in delays {
            if let Some(s) = sources.get_mut(src.index()) {
                s.delays.push((outcome.as_str().to_owned(), h.clone()));
            }
        }
        Snapshot {
            magic: MAGIC.to_owned(),
            version: VERSION,
            sources,
            label_overflow: self
                .label_overflow
                .iter()
                .map(|(k, v)| (k.clone(), *v))
                .collect(),
            saved_unix: None,
        }
    }

    /// Restores counters and positions of the sources that are still configured (same name,
    /// same location). Returns the names of saved sources that were not restored.
    pub fn restore(&mut self, snap: &Snapshot) -> Result<Vec<String>, String> {
        let mut dropped = Vec::new();
        // Sources already given their saved counters: none takes a second set by name.
        let mut taken = vec![false; self.sources.len()];
        for saved in &snap.sources {
            let exact = self
                .sources
                .iter()
                .position(|s| s.name == saved.name && s.location == saved.location)
                .map(SourceId);
            let Some(id) = exact.or_else(|| self.renamed(saved, &taken)) else {
                dropped.push(saved.name.clone());
                continue;
            };
            if let Some(t) = taken.get_mut(id.index()) {
                *t = true;
            }
            if let Some(s) = self.source_mut(id) {
                s.name.clone_from(&saved.name);
            }
            self.restore_source(id, saved)
                .map_err(|e| format!("source {:?}: {e}", saved.name))?;
            if let Some(s) = self.source_mut(id) {
                // From the file: a value out of range is no time rather than a panic.
                s.reading.saved_at = snap
                    .saved_unix
                    .and_then(|t| std::time::Duration::try_from_secs_f64(t).ok())
                    .and_then(|d| std::time::UNIX_EPOCH.checked_add(d));
            }
        }
        for (label, n) in &snap.label_overflow {
            *self.label_overflow.entry(label.clone()).or_default() += n;
        }
        Ok(dropped)
    }

    /// The `auto` source of the same file whose name is the default (the MTA's), saved under
    /// another name: the format detected at this start (or not yet) differs from the one the
    /// name was taken from. It keeps the saved name, so the file's counters go on.
    fn renamed(&self, saved: &SourceSnapshot, taken: &[bool]) -> Option<SourceId> {
        let found = self.sources.iter().enumerate().position(|(id, s)| {
            !taken.get(id).copied().unwrap_or(true)
                && s.default_name
                && s.location == saved.location
                && match (s.auto, &saved.detected) {
                    // Not detected yet: the saved detection (if any) is restored with the name.
                    (Some(false), _) => true,
                    // Detected now, not then: the saved counters hold no reply of another MTA.
                    (Some(true), None) => true,
                    (Some(true), Some(mta)) => *mta == s.mta,
                    // A fixed format: its name is the format's; a change of format is a new source.
                    (None, _) => false,
                }
        });
        found.map(SourceId)
    }

    /// A saved provider label: a provider since removed from the configuration is still
    /// counted, as `other`.
    fn restored_provider(&self, name: &str) -> ProviderId {
        self.providers().id(name).unwrap_or(ProviderId::OTHER)
    }

    fn restore_source(&mut self, id: SourceId, saved: &SourceSnapshot) -> Result<(), String> {
        for r in &saved.replies {
            let key = ReplyKey {
                source: id,
                direction: parse_direction(&r.direction)?,
                outcome: parse_outcome(&r.outcome)?,
                code: optional(&r.code, BasicCode::parse, "code")?,
                enhanced: optional(&r.enhanced, EnhancedCode::parse, "enhanced code")?,
                domain: self.domains.restore(&r.domain).id,
                provider: self.restored_provider(&r.provider),
            };
            self.replies.entry(key).or_default().add(r.value, r.last);
        }
        for f in &saved.failures {
            let class = match f.class.as_str() {
                "4xx" => 4,
                "5xx" => 5,
                other => return Err(format!("invalid failure class {other:?}")),
            };
            // A reason of a user rule since removed: still counted, as `other`.
            let reason = self
                .reasons()
                .id_of(&f.reason)
                .unwrap_or(crate::codes::reasons::OTHER);
            let key = FailureKey {
                source: id,
                direction: parse_direction(&f.direction)?,
                class,
                reason,
                stage: Stage::from_label(&f.stage)
                    .ok_or_else(|| format!("invalid stage {:?}", f.stage))?,
                domain: self.domains.restore(&f.domain).id,
                provider: self.restored_provider(&f.provider),
            };
            self.failures.entry(key).or_default().n += f.value;
        }
        for (outcome, h) in &saved.delays {
            let outcome = parse_outcome(outcome)?;
            if h.buckets.len() != super::metrics::DELAY_BUCKETS.len() + 1 {
                return Err("delay histogram has other buckets than this version".into());
            }
            self.delays.insert((id, outcome), h.clone());
        }
        let s = self
            .source_mut(id)
            .ok_or_else(|| "no such source".to_owned())?;
        s.reading = Reading {
            position: saved.position,
            draining: saved.draining.clone(),
            cursor: saved.cursor.clone(),
            messages: saved.messages.iter().cloned().collect(),
            saved_at: None,
        };
        s.restored = true;
        if let (Some(false), Some(mta)) = (s.auto, &saved.detected) {
            // Not detected again from the file's head (rotated since?): keep the label.
            if crate::parse::Format::from_name(mta).is_some() {
                s.mta.clone_from(mta);
                s.auto = Some(true);
            }
        }
        s.restore_counts(saved.lines, saved.rotations);
        s.bytes = saved.bytes;
        s.read_errors = saved.read_errors;
        s.rotated_missed = saved.rotated_missed;
        s.expired = saved.expired;
        if saved.dropped.is_some() {
            s.dropped = saved.dropped;
        }
        Ok(())
    }
}

fn optional<T>(s: &str, parse: fn(&[u8]) -> Option<T>, what: &str) -> Result<Option<T>, String> {
    if s.is_empty() {
        return Ok(None);
    }
    parse(s.as_bytes())
        .map(Some)
        .ok_or_else(|| format!("invalid {what} {s:?}"))
}

fn parse_direction(s: &str) -> Result<Direction, String> {
    Direction::ALL
        .into_iter()
        .find(|d| d.as_str() == s)
        .ok_or_else(|| format!("unknown direction {s:?}"))
}

fn parse_outcome(s: &str) -> Result<Outcome, String> {
    Outcome::ALL
        .into_iter()
        .find(|o| o.as_str() == s)
        .ok_or_else(|| format!("unknown outcome {s:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::Bounds;
    use crate::parse::{Event, Parsed, Recipients, Reply};

    #[test]
    fn snapshot_round_trips_through_json() {
        let mut a = Aggregator::new(
            vec![("postfix".into(), "postfix".into())],
            &Bounds {
                domains_max: 10,
                ..Bounds::default()
            },
        );
        a.sources[0].location = "/var/log/mail.log".into();
        a.record(
            SourceId(0),
            &Parsed::Event(Event::Reply(Reply {
                direction: Direction::Inbound,
                outcome: Outcome::Rejected,
                code: BasicCode::parse(b"554"),
                enhanced: EnhancedCode::parse(b"5.7.1"),
                recipients: Recipients::One(b"x@example.org"),
                delay: Some(3.0),
                text: b"554 5.7.1 Relay access denied",
                relay: crate::parse::Relay::Unknown,
                stage: crate::parse::Stage::Unknown,
                queue_id: &[],
                time: crate::parse::Stamp::None,
            })),
        );
        a.record(SourceId(0), &Parsed::Ignored);
        a.sources[0].reading.position = Some(Position {
            dev: 1,
            ino: 2,
            offset: 300,
            fp_len: 10,
            fp_crc: 7,
        });
        let snap = a.snapshot();
        let json = serde_json::to_string(&snap).unwrap();
        let back: Snapshot = serde_json::from_str(&json).unwrap();

        let mut b = Aggregator::new(
            vec![("postfix".into(), "postfix".into())],
            &Bounds {
                domains_max: 10,
                ..Bounds::default()
            },
        );
        b.sources[0].location = "/var/log/mail.log".into();
        assert_eq!(b.restore(&back), Ok(vec![]));
        assert_eq!(b.snapshot(), snap);
        assert_eq!(snap.sources[0].failures[0].reason, "relay_denied");
        // The time of the save comes back as the time the positions were saved at.
        let mut timed = back.clone();
        timed.saved_unix = Some(1_765_000_000.5);
        let mut c = Aggregator::new(
            vec![("postfix".into(), "postfix".into())],
            &Bounds::default(),
        );
        c.sources[0].location = "/var/log/mail.log".into();
        assert_eq!(c.restore(&timed), Ok(vec![]));
        let at = c.sources[0].reading.saved_at.unwrap();
        assert_eq!(
            at.duration_since(std::time::UNIX_EPOCH).unwrap(),
            std::time::Duration::from_millis(1_765_000_000_500)
        );
        timed.saved_unix = Some(1e300);
        assert_eq!(c.restore(&timed), Ok(vec![]));
        assert_eq!(c.sources[0].reading.saved_at, None);
        // State written before smtp_failures_total existed still loads.
        let old = json.replace(r#","failures":[{"direction":"inbound","class":"5xx","reason":"relay_denied","stage":"","domain":"example.org","provider":"","value":1}]"#, "");
        assert_ne!(old, json);
        let _: Snapshot = serde_json::from_str(&old).unwrap();
        // And state written before `stage` and `provider` existed: both come back empty.
        let older = json
            .replace(r#""stage":"","#, "")
            .replace(r#""provider":"","#, "");
        assert_ne!(older, json);
        let mut d = Aggregator::new(
            vec![("postfix".into(), "postfix".into())],
            &Bounds::default(),
        );
        d.sources[0].location = "/var/log/mail.log".into();
        assert_eq!(
            d.restore(&serde_json::from_str(&older).unwrap()),
            Ok(vec![])
        );
        let restored = &d.snapshot().sources[0];
        assert_eq!(restored.replies[0].provider, "");
        assert_eq!(restored.replies[0].value, 1);
        assert_eq!(
            (
                restored.failures[0].stage.as_str(),
                restored.failures[0].value
            ),
            ("", 1)
        );
    }

    #[test]
    fn a_renamed_source_is_not_restored() {
        let a = Aggregator::new(vec![("old".into(), String::new())], &Bounds::default());
        let mut b = Aggregator::new(vec![("new".into(), String::new())], &Bounds::default());
        assert_eq!(b.restore(&a.snapshot()), Ok(vec!["old".to_owned()]));
    }
}
