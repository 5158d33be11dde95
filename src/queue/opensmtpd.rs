//! The OpenSMTPD queue, as `smtpctl show queue` reports it.
//!
//! `smtpctl show queue` asks the running daemon over its control socket (which answers this
//! only to root); when no daemon answers, smtpctl reads the spool itself (root again) and every
//! envelope shows as `offline`. Like `postqueue -j` for Postfix, it is run as a child at scrape
//! time, under the same timeout and cache (see the module above).
//!
//! The output, one line per ENVELOPE — OpenSMTPD queues one envelope per recipient, so a
//! message to three recipients is three lines (OpenSMTPD 6.8.0p2, Debian 12):
//! ```text
//! 1bf93e70f97eb97f|inet4|mta||sender0@queue.test|rcpt0@down.test|rcpt0@down.test|1795414212|1795414212|0|1|pending|389|Network error on destination MXs
//! ```
//! `|`-separated: envelope id, source (`local`/`inet4`/`inet6`), agent (`mta` relay, `mda`
//! local delivery, `bounce`), flags (`bounce,auth,internal,suspend,hold`), sender, recipient,
//! destination, creation time, expiry time, last try, retry count, run state (`pending` with the
//! seconds until the next try, `inflight` with the seconds since it started, `invalid` with
//! nothing — neither pending nor in flight: the scheduler holds it — or `offline` with nothing),
//! and the last error text, which is not escaped for `|` and so is the rest of the line.
//!
//! Only the run state and the creation time are read. smtpctl gives no sizes: OpenSMTPD
//! queues have no size histogram (see [`Kind::has_sizes`](super::Kind::has_sizes)).

use std::path::{Path, PathBuf};
use std::process::Command;

use super::postfix::Message;

/// The `queue` label values: the envelope's run state (`invalid` shown as `held`).
pub const QUEUES: &[&str] = &["pending", "inflight", "held", "offline"];

/// The command that reads the queue: `smtpctl show queue`.
pub fn command(smtpctl: &Path) -> Command {
    let mut c = Command::new(smtpctl);
    c.args(["show", "queue"]);
    c
}

/// The `smtpctl` to run where none is given: the one in `PATH`, else `/usr/sbin/smtpctl`.
pub fn default_smtpctl() -> PathBuf {
    let in_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("smtpctl"))
            .find(|p| p.is_file())
    });
    // Not found: the reads fail and say so (a self-metric), rather than refusing to start.
    in_path.unwrap_or_else(|| PathBuf::from("/usr/sbin/smtpctl"))
}

/// Reads one line of `smtpctl show queue`. `Ok(None)`: an empty line, or a run state this
/// version does not know (left out rather than guessed).
pub fn parse_line(line: &str) -> Result<Option<Message>, String> {
    let line = line.trim_end();
    if line.is_empty() {
        return Ok(None);
    }
    let bad = |why: &str| {
        let shown: String = line.chars().take(120).collect();
        format!("unreadable smtpctl show queue line ({why}): {shown}")
    };
    // The error text (the 14th field) may itself hold `|`: split off the 13 fields before it.
    let mut f = line.splitn(14, '|');
    let id = f.next().unwrap_or_default();
    if id.len() != 16 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad("no envelope id"));
    }
    let creation = f.nth(6).ok_or_else(|| bad("too few fields"))?;
    let creation: i64 = creation
        .parse()
        .map_err(|_| bad("creation time is not a number"))?;
    let state = f.nth(3).ok_or_else(|| bad("too few fields"))?;
    if f.next().is_none() || f.next().is_none() {
        return Err(bad("too few fields"));
    }
    let queue = match state {
        "pending" => 0,
        "inflight" => 1,
        "invalid" => 2,
        "offline" => 3,
        _ => return Ok(None),
    };
    Ok(Some(Message {
        queue,
        // 0: an envelope written without a creation time; its age would be the epoch's.
        arrival: (creation > 0).then_some(creation),
        size: None,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Captured from `smtpctl show queue` of OpenSMTPD 6.8.0p2 (Debian 12) by
    /// tests/it/opensmtpd_queue.rs: a message to two recipients (two envelopes of one message id)
    /// and one to a single recipient, all deferred by a refused connection.
    const REAL: [&str; 3] = [
        "12877e48b5233ef8|inet4|mta||sender4@queue.test|multi0@down.test|multi0@down.test|1795414212|1795414212|0|1|pending|389|Network error on destination MXs",
        "12877e48ee4e9295|inet4|mta||sender4@queue.test|multi1@down.test|multi1@down.test|1795414212|1795414212|0|1|pending|389|Network error on destination MXs",
        "1bf93e70f97eb97f|inet4|mta||sender0@queue.test|rcpt0@down.test|rcpt0@down.test|1795414212|1795414212|0|1|pending|389|Network error on destination MXs",
    ];

    #[test]
    fn real_lines() {
        for line in REAL {
            assert_eq!(
                parse_line(line),
                Ok(Some(Message {
                    queue: 0,
                    arrival: Some(1_795_414_212),
                    size: None
                })),
                "{line}"
            );
        }
    }

    /// The same, with the daemon stopped: smtpctl (root) read the spool itself.
    const REAL_OFFLINE: &str = "6a592a32c208d19a|inet4|mta||sender4@queue.test|multi0@down.test|multi0@down.test|1795414513|1795414513|0|1|offline||Network error on destination MXs";

    #[test]
    fn real_offline_line() {
        assert_eq!(
            parse_line(REAL_OFFLINE),
            Ok(Some(Message {
                queue: 3,
                arrival: Some(1_795_414_513),
                size: None
            }))
        );
    }

    #[test]
    fn states_and_malformed_lines() {
        let with = |state: &str, err: &str| {
            format!("1bf93e70f97eb97f|local|mda|auth|a@b|c@d|c@d|1795414212|1795500612|1795414300|2|{state}|{err}")
        };
        // (line, queue index or None for left out, Err for unreadable)
        let table: Vec<(String, Result<Option<usize>, ()>)> = vec![
            (with("pending", "120|"), Ok(Some(0))),
            (with("inflight", "3|"), Ok(Some(1))),
            (with("invalid", "|"), Ok(Some(2))),
            (with("offline", "|"), Ok(Some(3))),
            // The error text may hold `|`: it is the rest of the line.
            (with("pending", "5|421 a|b|c"), Ok(Some(0))),
            (with("someday", "|"), Ok(None)),
            (String::new(), Ok(None)),
            (
                "smtpctl: this program must be setgid opensmtpq".into(),
                Err(()),
            ),
            (
                "1bf93e70f97eb97f|inet4|mta||a@b|c@d|c@d|x|1|0|1|pending|1|".into(),
                Err(()),
            ),
            (
                "1bf93e70f97eb97f|inet4|mta||a@b|c@d|c@d|1|1|0|1|pending".into(),
                Err(()),
            ),
            ("1bf93e70f97eb97f|inet4|mta".into(), Err(())),
        ];
        for (line, want) in table {
            let got = parse_line(&line)
                .map(|m| m.map(|m| m.queue))
                .map_err(|_| ());
            assert_eq!(got, want, "{line}");
        }
        // A creation time of 0 gives no age rather than one of 56 years.
        let zero = "1bf93e70f97eb97f|inet4|mta||a@b|c@d|c@d|0|0|0|0|pending|1|";
        assert_eq!(parse_line(zero).unwrap().unwrap().arrival, None);
    }

    #[test]
    fn commands() {
        let c = command(Path::new("/usr/sbin/smtpctl"));
        let args: Vec<_> = c
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(args, ["show", "queue"]);
    }
}
