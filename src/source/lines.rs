//! Splitting a byte stream into lines: whole lines inside a chunk are handed out without a
//! copy, a partial last line is held until its newline arrives, and a line longer than the cap
//! is reported once as too long and skipped to its end, so memory stays bounded.

/// One item of a byte stream.
#[derive(Debug, PartialEq, Eq)]
pub enum Line<'a> {
    /// A complete line without its `\n` (and without a `\r` before it).
    Complete(&'a [u8]),
    /// A line longer than the cap: its bytes are dropped, it is counted as unrecognised.
    TooLong,
}

/// The default cap: far above any MTA line (syslog daemons cut at 8 KiB by default).
pub const MAX_LINE: usize = 64 * 1024;

#[derive(Debug)]
pub struct LineSplitter {
    partial: Vec<u8>,
    max: usize,
    /// Inside a too-long line that was already reported: drop bytes up to the next newline.
    discarding: bool,
}

impl Default for LineSplitter {
    fn default() -> Self {
        Self::new(MAX_LINE)
    }
}

impl LineSplitter {
    pub fn new(max: usize) -> Self {
        LineSplitter {
            partial: Vec::new(),
            max,
            discarding: false,
        }
    }

    /// Bytes held back as an unfinished line (read, but not yet counted).
    pub fn pending(&self) -> usize {
        self.partial.len()
    }

    /// Starts in the middle of a line (following a file from its end): drop bytes up to the
    /// next newline without reporting them.
    pub fn skip_to_next_line(&mut self) {
        self.partial.clear();
        self.discarding = true;
    }

    /// Feeds a chunk; `on_line` is called for each line it completes.
    pub fn feed(&mut self, chunk: &[u8], mut on_line: impl FnMut(Line<'_>)) {
        let mut rest = chunk;
        if self.discarding {
            match memchr::memchr(b'\n', rest) {
                Some(i) => {
                    rest = &rest[i + 1..];
                    self.discarding = false;
                }
                None => return,
            }
        }
        if !self.partial.is_empty() {
            match memchr::memchr(b'\n', rest) {
                Some(i) => {
                    if self.partial.len() + i > self.max {
                        on_line(Line::TooLong);
                    } else {
                        self.partial.extend_from_slice(&rest[..i]);
                        on_line(Line::Complete(strip_cr(&self.partial)));
                    }
                    self.partial.clear();
                    rest = &rest[i + 1..];
                }
                None => {
                    self.hold(rest, &mut on_line);
                    return;
                }
            }
        }
        let mut start = 0;
        for i in memchr::memchr_iter(b'\n', rest) {
            let line = &rest[start..i];
            start = i + 1;
            if line.len() > self.max {
                on_line(Line::TooLong);
            } else {
                on_line(Line::Complete(strip_cr(line)));
            }
        }
        self.hold(&rest[start..], &mut on_line);
    }

    fn hold(&mut self, tail: &[u8], on_line: &mut impl FnMut(Line<'_>)) {
        if self.partial.len() + tail.len() > self.max {
            on_line(Line::TooLong);
            self.partial.clear();
            self.discarding = true;
        } else {
            self.partial.extend_from_slice(tail);
        }
    }

    /// The stream has ended for good (a replayed file, a rotated file read to its end): a held
    /// last line without its newline is handed out as it is.
    pub fn finish(&mut self, mut on_line: impl FnMut(Line<'_>)) {
        if !self.partial.is_empty() {
            on_line(Line::Complete(strip_cr(&self.partial)));
        }
        self.partial.clear();
        self.discarding = false;
    }

    /// Forgets a held partial line (the file was truncated under it). Returns whether one was
    /// dropped, so the caller can count it.
    pub fn reset(&mut self) -> bool {
        let had = !self.partial.is_empty();
        self.partial.clear();
        self.discarding = false;
        had
    }
}

fn strip_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(s: &mut LineSplitter, chunks: &[&[u8]]) -> Vec<Option<Vec<u8>>> {
        let mut out = Vec::new();
        for c in chunks {
            s.feed(c, |l| {
                out.push(match l {
                    Line::Complete(b) => Some(b.to_vec()),
                    Line::TooLong => None,
                })
            });
        }
        out
    }

    #[test]
    fn every_split_point_gives_the_same_lines() {
        let text = b"one\ntwo\r\n\nth\xc3\xa9ree\nfour";
        let want = vec![
            Some(b"one".to_vec()),
            Some(b"two".to_vec()),
            Some(b"".to_vec()),
            Some("théree".as_bytes().to_vec()),
        ];
        for a in 0..=text.len() {
            for b in a..=text.len() {
                let mut s = LineSplitter::new(100);
                let got = collect(&mut s, &[&text[..a], &text[a..b], &text[b..]]);
                assert_eq!(got, want, "split at {a},{b}");
                assert_eq!(s.pending(), 4);
            }
        }
    }

    #[test]
    fn long_lines_are_reported_once_and_skipped() {
        let mut s = LineSplitter::new(8);
        let long = [b'x'; 30];
        let got = collect(&mut s, &[b"ok\n", &long[..10], &long[10..], b"\nafter\n"]);
        assert_eq!(
            got,
            vec![Some(b"ok".to_vec()), None, Some(b"after".to_vec())]
        );
        let got = collect(&mut s, &[b"0123456789abc\nshort\n"]);
        assert_eq!(got, vec![None, Some(b"short".to_vec())]);
        assert_eq!(s.pending(), 0);
    }

    #[test]
    fn finish_hands_out_the_last_line() {
        let mut s = LineSplitter::new(100);
        assert!(collect(&mut s, &[b"no newline"]).is_empty());
        let mut last = Vec::new();
        s.finish(|l| {
            if let Line::Complete(b) = l {
                last = b.to_vec()
            }
        });
        assert_eq!(last, b"no newline");
    }

    #[test]
    fn skip_to_next_line_drops_a_partial_first_line() {
        let mut s = LineSplitter::new(100);
        s.skip_to_next_line();
        let got = collect(&mut s, &[b"f of a line\nwhole\n"]);
        assert_eq!(got, vec![Some(b"whole".to_vec())]);
    }
}
