//! The Exim queue, as `exim -bpr` lists it.
//!
//! **Why `exim -bpr` as a child process, and not `-bpc` (or both).** `-bpc` prints only the
//! number of messages; the oldest age and the age and size histograms need the per-message
//! lines of the listing anyway, and counting those lines gives the same number `-bpc` gives
//! (both walk the spool's `input` directory, one `-H` file per message; a message whose header
//! file cannot be read is listed with its ID and an error line, and counted). One child per
//! read is half the forks of two, and one snapshot cannot disagree with itself, as a `-bpc`
//! taken a moment before a `-bp` could. `-bpr` is `-bp` without sorting the messages by
//! arrival (Exim's documentation: "this can speed it up when there are lots of messages");
//! the order does not matter here. Measured on a private spool of 1 508 messages (Exim 4.96,
//! median of 15 runs each, interleaved, on a loaded 2-core machine): `-bpc` 14 ms, `-bp` 47 ms,
//! `-bpr` 46 ms — the listing costs about 3.3 times the count, which the gauges cannot do
//! without, and `-bpc` besides it would add 30 %; the sort is not measurable at that size. The listing is Exim's documented interface (spec chapter
//! 5, `-bp`); the spool files' format is internal. `exim -C FILE` reads a private instance's
//! configuration (its `spool_directory`). Exim lists the whole queue only for an admin user
//! (root, the Exim user, or a member of `admin_groups`; `queue_list_requires_admin`): for
//! another user the read fails, which shows as the read-error self-metric.
//!
//! **Queues.** Exim has one spool (`input`); what tells messages apart is whether they are
//! frozen (`*** frozen ***`: not tried again until thawed or `timeout_frozen_after`, the thing
//! an operator must look at). So `queue="input"` counts the messages that are not frozen and
//! `queue="frozen"` the frozen ones; their sum is `exim -bpc`'s count.
//!
//! The output (Exim 4.96, Debian 12; the fixture `tests/fixtures/exim/queue-bp.txt`), per
//! message a line, its recipients (`D` before a delivered one), a blank line:
//! ```text
//! 25m   380 1xVNA1-0000oC-2I <a@src.test>
//!           u1@down.test
//!
//!  3h  3.1K 1xVNA1-0000oH-2M <b@src.test> *** frozen ***
//!           u2@down.test
//! ```
//! The age is whole minutes up to 90 minutes, then hours (rounded) up to 72 hours, then days:
//! the age gauges have that resolution. The size (header and body files) is rounded to one
//! decimal in K or M from 1 KiB on. A message whose header file cannot be read has neither:
//! `      1xVNAC-0000r0-0X` and `    *** spool format error: size=20 ***`.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Exim's "queues": the spool's messages that are not frozen, and the frozen ones.
pub const QUEUES: &[&str] = &["input", "frozen"];
const INPUT: usize = 0;
const FROZEN: usize = 1;

/// The command that reads the queue: `exim [-C FILE] -bpr`.
pub fn command(exim: &Path, config: Option<&Path>) -> Command {
    let mut c = Command::new(exim);
    if let Some(f) = config {
        c.arg("-C").arg(f);
    }
    c.arg("-bpr");
    c
}

/// The `exim` to run where none is given: `exim4` (Debian's name) or `exim` in `PATH`, else
/// `/usr/sbin/exim4` or `/usr/sbin/exim` (often outside a service user's `PATH`).
pub fn default_exim() -> Option<PathBuf> {
    let names = ["exim4", "exim"];
    let in_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .flat_map(|d| names.map(|n| d.join(n)))
            .find(|p| p.is_file())
    });
    in_path.or_else(|| {
        names
            .iter()
            .map(|n| Path::new("/usr/sbin").join(n))
            .find(|p| p.is_file())
    })
}

/// One message of the listing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Message {
    /// Index into [`QUEUES`].
    pub queue: usize,
    /// Seconds on the queue, at the listing's resolution; `None` when not shown.
    pub age: Option<i64>,
    /// Bytes, at the listing's resolution; `None` when not shown.
    pub size: Option<u64>,
}

/// `25m`, `3h`, `2d` → seconds.
fn age(t: &str) -> Option<i64> {
    let (n, unit) = t.split_at(t.len().checked_sub(1)?);
    let unit = match unit {
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => return None,
    };
    if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    n.parse::<i64>().ok()?.checked_mul(unit)
}

/// `380`, `3.1K`, `15K`, `1.2M`, `12M` → bytes.
fn size(t: &str) -> Option<u64> {
    let (n, mult) = match t.as_bytes().last()? {
        b'K' => (&t[..t.len() - 1], 1024.0),
        b'M' => (&t[..t.len() - 1], 1024.0 * 1024.0),
        _ => (t, 1.0),
    };
    if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    let v: f64 = n.parse().ok()?;
    // Rounded as Exim printed it; an approximation by nature.
    Some((v * mult).round() as u64)
}

/// An Exim message ID: base-62 parts of 6, 6 and 2 characters (to 4.96) or 6, 11 and 4
/// (4.97 on).
fn is_message_id(t: &str) -> bool {
    let mut parts = t.split('-');
    let lens: [usize; 3] = match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(a), Some(b), Some(c), None)
            if [a, b, c]
                .iter()
                .all(|p| p.bytes().all(|b| b.is_ascii_alphanumeric())) =>
        {
            [a.len(), b.len(), c.len()]
        }
        _ => return false,
    };
    lens == [6, 6, 2] || lens == [6, 11, 4]
}

/// Reads one line of `exim -bp`/`-bpr`. `Ok(Some)`: a message line; `Ok(None)`: a recipient,
/// a blank line or an indented error note (`*** spool format error ***`), which belong to the
/// message line before them. `Err`: an unindented line that is not a message line (not Exim's
/// listing).
pub fn parse_line(line: &str) -> Result<Option<Message>, String> {
    let mut tokens = line.split_ascii_whitespace().peekable();
    let Some(&first) = tokens.peek() else {
        return Ok(None);
    };
    let age = age(first);
    if age.is_some() {
        tokens.next();
    }
    let size = tokens.peek().and_then(|t| size(t));
    if size.is_some() {
        tokens.next();
    }
    if tokens.next().is_some_and(is_message_id) {
        let queue = if line.trim_end().ends_with("*** frozen ***") {
            FROZEN
        } else {
            INPUT
        };
        return Ok(Some(Message { queue, age, size }));
    }
    if line.starts_with(|c: char| c.is_ascii_whitespace()) {
        return Ok(None);
    }
    let shown: String = line.chars().take(120).collect();
    Err(format!("unreadable exim -bp line: {shown}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(queue: usize, age: Option<i64>, size: Option<u64>) -> Option<Message> {
        Some(Message { queue, age, size })
    }

    /// Lines of `tests/fixtures/exim/queue-bp.txt` (Exim 4.96, Debian 12), each kind once.
    #[test]
    fn lines() {
        let cases: &[(&str, Option<Message>)] = &[
            (
                "25m   380 1xVNA1-0000oC-2I <a@src.test>",
                m(INPUT, Some(1500), Some(380)),
            ),
            (
                " 3h  3.1K 1xVNA1-0000oH-2M <b@src.test> *** frozen ***",
                m(FROZEN, Some(10800), Some(3174)),
            ),
            (
                "48h  1.2M 1xVNA1-0000oM-2S <c@src.test>",
                m(INPUT, Some(172_800), Some(1_258_291)),
            ),
            (
                " 2h   15K 1xVNA1-0000oR-2Z <d@src.test>",
                m(INPUT, Some(7200), Some(15360)),
            ),
            (
                "130d   12M 1xVNA1-0000oW-2d <e@src.test>",
                m(INPUT, Some(11_232_000), Some(12_582_912)),
            ),
            (
                " 0m   543 1xVNA2-0000ob-07 <>",
                m(INPUT, Some(0), Some(543)),
            ),
            (
                "90m   768 1xVNA2-0000og-0D <f@src.test> *** frozen ***",
                m(FROZEN, Some(5400), Some(768)),
            ),
            // Its header file unreadable: no age, no size, no sender; still a message.
            ("      1xVNAC-0000r0-0X", m(INPUT, None, None)),
            // 4.97's longer IDs.
            (
                " 5m  2.9K 1vABCD-00000000123-ABCD <x@y.test>",
                m(INPUT, Some(300), Some(2970)),
            ),
            ("    *** spool format error: size=20 ***", None),
            ("          u1@down.test", None),
            ("        D u8@local.test", None),
            ("", None),
        ];
        for (line, want) in cases {
            assert_eq!(parse_line(line), Ok(*want), "{line:?}");
        }
        for bad in [
            "exim: permission denied",
            "25m 380 not-an-id <a@b>",
            "1xVNA1-0000oC-2 <a@b>",
        ] {
            assert!(parse_line(bad).is_err(), "{bad:?}");
        }
    }

    /// The whole capture: as many messages as `exim -bpc` said (8), two of them frozen.
    #[test]
    fn the_capture() {
        let capture = include_str!("../../tests/fixtures/exim/queue-bp.txt");
        let msgs: Vec<Message> = capture
            .lines()
            .filter_map(|l| parse_line(l).unwrap())
            .collect();
        assert_eq!(msgs.len(), 8);
        assert_eq!(msgs.iter().filter(|m| m.queue == FROZEN).count(), 2);
    }

    #[test]
    fn commands() {
        let c = command(
            Path::new("/usr/sbin/exim4"),
            Some(Path::new("/x/exim.conf")),
        );
        let args: Vec<_> = c
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(args, ["-C", "/x/exim.conf", "-bpr"]);
    }
}
