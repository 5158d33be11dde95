//! Container log wrappers: the line an MTA wrote to its stdout, as the container runtime
//! stored it, unwrapped before the MTA's parser sees it.
//!
//! - **Docker `json-file`** (`/var/lib/docker/containers/ID/ID-json.log`):
//!   `{"log":"Nov 23 … postfix/smtp[1]: …\n","stream":"stdout","time":"2026-11-23T04:35:58.123456789Z"}`.
//!   The `log` string is JSON-unescaped (serde_json; borrowed from the line when it holds no
//!   escape). Docker cuts lines longer than 16 KiB into pieces whose `log` has no trailing
//!   `\n`; the pieces are joined, per stream, until the one that ends with `\n`.
//! - **CRI** (containerd, CRI-O: `/var/log/containers/*.log`, `/var/log/pods/…`):
//!   `2026-11-23T04:35:58.123456789Z stdout F Nov 23 … postfix/smtp[1]: …`. `P` (partial)
//!   pieces are joined, per stream, until the `F` (full) one.
//! - **auto**: each line is looked at: `{` starts a Docker line, `TIME stdout|stderr P|F ` a
//!   CRI line, anything else is read as it is. The default for paths under
//!   `/var/log/containers/` and `/var/log/pods/` and for files named `*-json.log`.
//!
//! One logical line counts once, when its last piece arrives. A wrapper line that cannot be
//! read (bad JSON, no `log` string, a CRI line without its fields) is `unrecognised`; so is a
//! joined line that grows over the line cap. The reply text and the recipients borrow from the
//! unwrapped line, held in a buffer this wrapper owns and reuses.

use std::borrow::Cow;
use std::path::Path;

use serde::Deserialize;

use super::lines::MAX_LINE;

/// `--log.wrapper` / a source's `wrapper:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    None,
    Docker,
    Cri,
    Auto,
}

impl Kind {
    pub fn parse(s: &str) -> Result<Kind, String> {
        match s {
            "none" => Ok(Kind::None),
            "docker" => Ok(Kind::Docker),
            "cri" => Ok(Kind::Cri),
            "auto" => Ok(Kind::Auto),
            _ => Err(format!(
                "unknown log wrapper {s:?}: use docker (Docker's json-file), cri (containerd, CRI-O), auto or none"
            )),
        }
    }

    /// The wrapper when none is configured: `auto` for the container runtimes' log files,
    /// `none` for the rest.
    pub fn default_for(path: &Path) -> Kind {
        let p = path.to_string_lossy();
        let runtime_file = p.starts_with("/var/log/containers/")
            || p.starts_with("/var/log/pods/")
            || p.ends_with("-json.log");
        if runtime_file {
            Kind::Auto
        } else {
            Kind::None
        }
    }

    /// The unwrapping step of a file read through this wrapper; `None` for [`Kind::None`].
    pub fn unwrapper(self) -> Option<Unwrapper> {
        match self {
            Kind::None => None,
            kind => Some(Unwrapper {
                kind,
                pieces: Pieces::default(),
                cap: MAX_LINE,
            }),
        }
    }
}

/// The unwrapping step of one file's line reader: its state is the file's (partial lines), so
/// each file read gets a fresh one.
#[derive(Debug, Clone)]
pub struct Unwrapper {
    kind: Kind,
    pieces: Pieces,
    cap: usize,
}

/// Lines not yet complete, per stream (stdout, stderr), and the buffer a joined or unescaped
/// line is handed out from.
#[derive(Debug, Clone, Default)]
struct Pieces {
    pending: [Vec<u8>; 2],
    /// Inside a line that went over the cap: its pieces are dropped until its end.
    over: [bool; 2],
    out: Vec<u8>,
}

/// What one wrapper line gives.
#[derive(Debug, PartialEq, Eq)]
pub enum Out<'a> {
    /// A whole line for the MTA's parser.
    Line(&'a [u8]),
    /// A piece held until the rest arrives: nothing to count yet.
    Held,
    /// Not a wrapper line, or a joined line over the cap.
    Unrecognised,
}

/// One line of Docker's json-file log; fields other than these are ignored.
#[derive(Deserialize)]
struct DockerLine<'a> {
    #[serde(borrow)]
    log: Cow<'a, str>,
    #[serde(borrow, default)]
    stream: Option<Cow<'a, str>>,
}

impl Unwrapper {
    /// Unwraps one line of the file: the MTA's line, borrowed from `line` or from this
    /// unwrapper's buffer. It returns lines; the reader counts them.
    pub fn unwrap<'a>(&'a mut self, line: &'a [u8]) -> Out<'a> {
        unwrap(self.kind, self.cap, &mut self.pieces, line)
    }
}

/// Unwraps one wrapper line; pieces are held in `pending` (per stream).
fn unwrap<'a>(kind: Kind, cap: usize, pieces: &'a mut Pieces, l: &'a [u8]) -> Out<'a> {
    let kind = match kind {
        Kind::Auto => {
            if l.first() == Some(&b'{') {
                Kind::Docker
            } else if cri_fields(l).is_some() {
                Kind::Cri
            } else {
                return Out::Line(l);
            }
        }
        k => k,
    };
    match kind {
        Kind::Docker => docker(cap, pieces, l),
        Kind::Cri => cri(cap, pieces, l),
        Kind::None | Kind::Auto => Out::Line(l),
    }
}

fn stream_index(stream: &[u8]) -> usize {
    usize::from(stream == b"stderr")
}

fn docker<'a>(cap: usize, p: &'a mut Pieces, l: &'a [u8]) -> Out<'a> {
    let Ok(d) = serde_json::from_slice::<DockerLine<'_>>(l) else {
        return Out::Unrecognised;
    };
    let i = stream_index(d.stream.as_deref().unwrap_or("stdout").as_bytes());
    let piece = d.log.as_bytes();
    let (body, complete) = match piece.strip_suffix(b"\n") {
        Some(b) => (b.strip_suffix(b"\r").unwrap_or(b), true),
        None => (piece, false),
    };
    let (Some(pend), Some(over)) = (p.pending.get_mut(i), p.over.get_mut(i)) else {
        return Out::Unrecognised;
    };
    if complete && pend.is_empty() && !*over {
        if let Cow::Borrowed(s) = &d.log {
            // No escape and nothing held: the line itself, no copy.
            let start = s.as_ptr() as usize - l.as_ptr() as usize;
            return l
                .get(start..start + body.len())
                .map_or(Out::Unrecognised, Out::Line);
        }
    }
    join(cap, (pend, over, &mut p.out), body, complete)
}

/// Adds a piece to the held line of a stream (`pending`, `over`); hands the line out of `out`
/// when `complete`.
fn join<'a>(
    cap: usize,
    (pend, over, out): (&mut Vec<u8>, &mut bool, &'a mut Vec<u8>),
    piece: &[u8],
    complete: bool,
) -> Out<'a> {
    if *over || pend.len() + piece.len() > cap {
        // Over the cap: the whole line is unrecognised, once, when it ends.
        pend.clear();
        *over = !complete;
        return if complete {
            Out::Unrecognised
        } else {
            Out::Held
        };
    }
    if !complete {
        pend.extend_from_slice(piece);
        return Out::Held;
    }
    out.clear();
    out.extend_from_slice(pend);
    out.extend_from_slice(piece);
    pend.clear();
    Out::Line(out)
}

/// `TIME SP STREAM SP TAG SP? CONTENT`: (stream, partial, content).
fn cri_fields(l: &[u8]) -> Option<(&[u8], bool, &[u8])> {
    if !l.first()?.is_ascii_digit() {
        return None;
    }
    let sp1 = memchr::memchr(b' ', l)?;
    let time = l.get(..sp1)?;
    if time.len() < 20 || time.get(4) != Some(&b'-') || time.get(10) != Some(&b'T') {
        return None;
    }
    let rest = l.get(sp1 + 1..)?;
    let sp2 = memchr::memchr(b' ', rest)?;
    let stream = rest.get(..sp2)?;
    if stream != b"stdout" && stream != b"stderr" {
        return None;
    }
    let rest = rest.get(sp2 + 1..)?;
    let (tag, content) = match memchr::memchr(b' ', rest) {
        Some(sp) => (rest.get(..sp)?, rest.get(sp + 1..)?),
        None => (rest, &rest[rest.len()..]),
    };
    // The tag's first field is P or F; more fields may follow after ':'.
    let partial = match tag.split(|&c| c == b':').next()? {
        b"P" => true,
        b"F" => false,
        _ => return None,
    };
    Some((stream, partial, content))
}

fn cri<'a>(cap: usize, p: &'a mut Pieces, l: &'a [u8]) -> Out<'a> {
    let Some((stream, partial, content)) = cri_fields(l) else {
        return Out::Unrecognised;
    };
    let i = stream_index(stream);
    let (Some(pend), Some(over)) = (p.pending.get_mut(i), p.over.get_mut(i)) else {
        return Out::Unrecognised;
    };
    if !partial && pend.is_empty() && !*over {
        return Out::Line(content);
    }
    join(cap, (pend, over, &mut p.out), content, !partial)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds lines through the wrapper; the lines handed to the MTA's parser, `?` for an
    /// unrecognised wrapper line.
    fn run(kind: Kind, cap: usize, lines: &[&str]) -> Vec<String> {
        let mut pieces = Pieces::default();
        let mut out = Vec::new();
        for l in lines {
            match unwrap(kind, cap, &mut pieces, l.as_bytes()) {
                Out::Line(m) => out.push(String::from_utf8_lossy(m).into_owned()),
                Out::Held => {}
                Out::Unrecognised => out.push("?".into()),
            }
        }
        out
    }

    #[test]
    fn docker_lines_are_unescaped_and_joined() {
        let got = run(
            Kind::Docker,
            MAX_LINE,
            &[
                r#"{"log":"Nov 23 04:35:58 mx postfix/smtp[1]: a \"q\" \u00e9\n","stream":"stdout","time":"2026-11-23T04:35:58.1Z"}"#,
                r#"{"log":"plain\n","stream":"stdout","time":"t"}"#,
                r#"{"log":"first half, ","stream":"stdout","time":"t"}"#,
                r#"{"log":"an stderr line\n","stream":"stderr","time":"t"}"#,
                r#"{"log":"second half\r\n","stream":"stdout","time":"t"}"#,
                r#"{"stream":"stdout"}"#,
                r#"not json"#,
            ],
        );
        assert_eq!(
            got,
            vec![
                "Nov 23 04:35:58 mx postfix/smtp[1]: a \"q\" é",
                "plain",
                "an stderr line",
                "first half, second half",
                "?",
                "?"
            ]
        );
    }

    #[test]
    fn cri_lines_are_joined_until_full() {
        let got = run(
            Kind::Cri,
            MAX_LINE,
            &[
                "2026-11-23T04:35:58.123456789Z stdout F Nov 23 04:35:58 mx postfix/qmgr[1]: x",
                "2026-11-23T04:35:58.123456789Z stdout P part one, ",
                "2026-11-23T04:35:58.123456789Z stderr F err",
                "2026-11-23T04:35:58.123456789Z stdout P part two, ",
                "2026-11-23T04:35:58.123456789Z stdout F end",
                "2026-11-23T04:35:58.123456789Z stdout F",
                "2026-11-23T04:35:58Z stdin F x",
                "garbage",
            ],
        );
        assert_eq!(
            got,
            vec![
                "Nov 23 04:35:58 mx postfix/qmgr[1]: x",
                "err",
                "part one, part two, end",
                "",
                "?",
                "?"
            ]
        );
    }

    #[test]
    fn auto_tells_the_formats_and_raw_lines_apart() {
        let got = run(
            Kind::Auto,
            MAX_LINE,
            &[
                r#"{"log":"docker\n","stream":"stdout"}"#,
                "2026-11-23T04:35:58.1Z stdout F cri",
                "Nov 23 04:35:58 mx postfix/smtp[1]: raw",
                "2026-11-23T04:35:58.1+00:00 mx postfix/smtp[1]: rfc3339 raw",
            ],
        );
        assert_eq!(
            got,
            vec![
                "docker",
                "cri",
                "Nov 23 04:35:58 mx postfix/smtp[1]: raw",
                "2026-11-23T04:35:58.1+00:00 mx postfix/smtp[1]: rfc3339 raw"
            ]
        );
    }

    #[test]
    fn joined_lines_over_the_cap_are_one_unrecognised_line() {
        let got = run(
            Kind::Cri,
            10,
            &[
                "2026-11-23T04:35:58.1Z stdout P 0123456",
                "2026-11-23T04:35:58.1Z stdout P 789abc",
                "2026-11-23T04:35:58.1Z stdout P def",
                "2026-11-23T04:35:58.1Z stdout F end",
                "2026-11-23T04:35:58.1Z stdout F after",
            ],
        );
        assert_eq!(got, vec!["?", "after"]);
    }

    #[test]
    fn defaults_by_path() {
        assert_eq!(
            Kind::default_for(Path::new("/var/log/containers/postfix_mail_smtp-abc.log")),
            Kind::Auto
        );
        assert_eq!(
            Kind::default_for(Path::new("/var/lib/docker/containers/ab/ab-json.log")),
            Kind::Auto
        );
        assert_eq!(
            Kind::default_for(Path::new("/var/log/mail.log")),
            Kind::None
        );
    }
}
