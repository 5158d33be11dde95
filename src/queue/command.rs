//! Runs a queue reader's command as a child process and reads its listing, killing it at the
//! deadline.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ChildStderr, ChildStdout, ExitStatus, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::{Kind, Reading};

/// Runs the reader's command and reads its output, giving up after `timeout` (the child is
/// killed). Blocking: call it off the async runtime.
pub fn read(kind: &Kind, timeout: Duration) -> Result<Reading, String> {
    let deadline = Instant::now() + timeout;
    let mut child = kind
        .command()
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", kind.describe()))?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    // The output is read on threads of their own, so that a child that stops answering can
    // be killed at the deadline (and a full stderr pipe never stalls it).
    let rx = read_listing(kind, child.stdout.take(), now);
    let erx = read_stderr(child.stderr.take());
    let kill = |child: &mut Child, what: &str| {
        let _ = child.kill();
        let _ = child.wait();
        format!("{} {what} within {timeout:?}: killed", kind.describe())
    };
    let reading = match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        Ok(r) => r,
        Err(_) => return Err(kill(&mut child, "gave no complete answer")),
    };
    let status = match wait_exit(&mut child, kind, deadline) {
        Ok(Some(s)) => s,
        Ok(None) => return Err(kill(&mut child, "did not exit")),
        Err(e) => return Err(e),
    };
    let stderr = erx
        .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        .unwrap_or_default();
    if !status.success() {
        let why = if stderr.is_empty() {
            "no message".to_owned()
        } else {
            stderr.lines().last().unwrap_or_default().to_owned()
        };
        return Err(format!("{} failed ({status}): {why}", kind.describe()));
    }
    reading
}

/// Parses the listing on a thread of its own; the reading (or why there is none) arrives on
/// the channel when the output ends.
fn read_listing(
    kind: &Kind,
    stdout: Option<ChildStdout>,
    now: i64,
) -> Receiver<Result<Reading, String>> {
    let (tx, rx) = channel();
    let parser = kind.clone();
    std::thread::spawn(move || {
        let mut reading = Reading::empty(parser.queues());
        let result = (|| {
            let out = stdout.ok_or("no standard output")?;
            for line in BufReader::new(out).lines() {
                let line = line.map_err(|e| format!("reading the output: {e}"))?;
                if let Some(m) = parser.parse_line(&line, now)? {
                    reading.add(m, now);
                }
            }
            Ok::<_, String>(())
        })();
        let _ = tx.send(result.map(|()| reading));
    });
    rx
}

/// Keeps the first 4 KiB of the child's standard error, for the message of a failed read.
fn read_stderr(stderr: Option<ChildStderr>) -> Receiver<String> {
    let (etx, erx) = channel();
    std::thread::spawn(move || {
        let mut text = Vec::new();
        if let Some(mut e) = stderr {
            let _ = (&mut e).take(4096).read_to_end(&mut text);
            // Drain the rest so the child never blocks on a full pipe.
            let _ = std::io::copy(&mut e, &mut std::io::sink());
        }
        let _ = etx.send(String::from_utf8_lossy(&text).trim().to_owned());
    });
    erx
}

/// The child's exit status; `None` if it has not exited by the deadline.
fn wait_exit(
    child: &mut Child,
    kind: &Kind,
    deadline: Instant,
) -> Result<Option<ExitStatus>, String> {
    loop {
        match child.try_wait() {
            Ok(Some(s)) => return Ok(Some(s)),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            Ok(None) => return Ok(None),
            Err(e) => return Err(format!("{}: {e}", kind.describe())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A command that does not answer is killed at the deadline, and the error says so.
    #[test]
    fn a_hanging_reader_is_given_up() {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("postqueue");
        std::fs::write(&script, "#!/bin/sh\nexec sleep 300\n").unwrap();
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let kind = Kind::Postfix {
            postqueue: script,
            config_dir: None,
        };
        // A test forking elsewhere in this process may still hold the script open for writing
        // for a moment (ETXTBSY): try again then.
        let mut e = String::new();
        for _ in 0..50 {
            e = read(&kind, Duration::from_millis(300)).unwrap_err();
            if !e.contains("Text file busy") {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(e.contains("killed"), "{e}");
    }

    #[test]
    fn failing_readers_are_named() {
        let kind = Kind::Postfix {
            postqueue: "/bin/sleep".into(),
            config_dir: None,
        };
        // `sleep -j` fails at once: an error, with the command named.
        let e = read(&kind, Duration::from_secs(20)).unwrap_err();
        assert!(e.contains("/bin/sleep -j failed"), "{e}");
        let missing = Kind::Postfix {
            postqueue: "/nonexistent/postqueue".into(),
            config_dir: None,
        };
        let e = read(&missing, Duration::from_secs(20)).unwrap_err();
        assert!(e.contains("cannot run /nonexistent/postqueue"), "{e}");
    }
}
