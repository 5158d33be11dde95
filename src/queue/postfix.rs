//! The Postfix queue, as `postqueue -j` reports it.
//!
//! **Why `postqueue -j` as a child process, and not the `showq` socket.** Both give the same
//! data (`postqueue` is a thin client of `showq`), but:
//! - `postqueue -j`'s output is a documented interface (postqueue(1): one JSON object per
//!   message, "the object members have string values unless indicated otherwise", new members
//!   may be added), stable across Postfix versions. What flows over `public/showq` is Postfix's
//!   internal attribute protocol, undocumented and free to change between releases.
//! - `postqueue` finds the queue through the configuration (`-c DIR` for a non-default
//!   instance reads that instance's `main.cf`, its `queue_directory`, its `showq` service
//!   name), is set-gid `postdrop` so it works for an unprivileged exporter user, and when the
//!   mail system is down it falls back to reading the queue directly for root. Talking to the
//!   socket ourselves would mean re-implementing all of that.
//! - The price is a fork and exec per read; the reader caches a result for a short while
//!   (`--queue.cache`) and kills a child that does not answer in time (`--queue.timeout`), so a
//!   scrape never waits for longer than that, and several Prometheus servers scraping at once
//!   share one read.
//!
//! The output, one line per message (Postfix 3.7.11, Debian 12):
//! ```text
//! {"queue_name": "deferred", "queue_id": "4FC1998C5B1", "arrival_time": 1763865180, "message_size": 512, "forced_expire": false, "sender": "someone@e2e.test", "recipients": [{"address": "u@down.test", "delay_reason": "connect to 127.0.0.1[127.0.0.1]:39147: Connection refused"}]}
//! ```
//! Only `queue_name`, `arrival_time` and `message_size` are read; the rest is skipped, never
//! built. An empty queue prints nothing.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;

/// Postfix's queues (`queue_name` values), in the order mail passes through them.
pub const QUEUES: &[&str] = &["maildrop", "incoming", "active", "deferred", "hold"];

/// The command that reads the queue: `postqueue [-c DIR] -j`.
pub fn command(postqueue: &Path, config_dir: Option<&Path>) -> Command {
    let mut c = Command::new(postqueue);
    if let Some(d) = config_dir {
        c.arg("-c").arg(d);
    }
    c.arg("-j");
    c
}

/// The `postqueue` to run where none is given: the one in `PATH`, else Debian's and most
/// distributions' `/usr/sbin/postqueue` (often outside a service user's `PATH`).
pub fn default_postqueue() -> Option<PathBuf> {
    let in_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("postqueue"))
            .find(|p| p.is_file())
    });
    in_path.or_else(|| {
        let p = PathBuf::from("/usr/sbin/postqueue");
        p.is_file().then_some(p)
    })
}

/// Whether a default Postfix is installed here: its configuration exists.
pub fn default_instance_exists() -> bool {
    Path::new("/etc/postfix/main.cf").is_file()
}

#[derive(Deserialize)]
struct Entry<'a> {
    #[serde(borrow)]
    queue_name: &'a str,
    #[serde(default)]
    arrival_time: Option<i64>,
    #[serde(default)]
    message_size: Option<u64>,
}

/// One message of the queue.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Message {
    /// Index into [`QUEUES`].
    pub queue: usize,
    /// Unix seconds.
    pub arrival: Option<i64>,
    pub size: Option<u64>,
}

/// Reads one line of `postqueue -j`. `Ok(None)`: an empty line, or a queue this version does
/// not know (a later Postfix may add one; its messages are left out rather than guessed).
pub fn parse_line(line: &str) -> Result<Option<Message>, String> {
    let line = line.trim();
    if line.is_empty() {
        return Ok(None);
    }
    let e: Entry<'_> = serde_json::from_str(line).map_err(|err| {
        let shown: String = line.chars().take(120).collect();
        format!("unreadable postqueue -j line ({err}): {shown}")
    })?;
    Ok(QUEUES
        .iter()
        .position(|q| *q == e.queue_name)
        .map(|queue| Message {
            queue,
            arrival: e.arrival_time,
            size: e.message_size,
        }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines() {
        let line = r#"{"queue_name": "deferred", "queue_id": "4FC1998C5B1", "arrival_time": 1763865180, "message_size": 512, "forced_expire": false, "sender": "someone@e2e.test", "recipients": [{"address": "u@down.test", "delay_reason": "connect to 127.0.0.1[127.0.0.1]:39147: Connection refused"}]}"#;
        assert_eq!(
            parse_line(line),
            Ok(Some(Message {
                queue: 3,
                arrival: Some(1_763_865_180),
                size: Some(512)
            }))
        );
        let hold = r#"{"queue_name": "hold", "queue_id": "A", "arrival_time": 1, "message_size": 2, "recipients": []}"#;
        assert_eq!(parse_line(hold).unwrap().unwrap().queue, 4);
        assert_eq!(parse_line(""), Ok(None));
        assert_eq!(
            parse_line(r#"{"queue_name": "corrupt", "queue_id": "A"}"#),
            Ok(None)
        );
        assert!(parse_line("postqueue: fatal: nope").is_err());
        assert!(parse_line(r#"{"queue_id": "A"}"#).is_err());
    }

    #[test]
    fn commands() {
        let c = command(
            Path::new("/usr/sbin/postqueue"),
            Some(Path::new("/etc/postfix-out")),
        );
        let args: Vec<_> = c
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(args, ["-c", "/etc/postfix-out", "-j"]);
    }
}
