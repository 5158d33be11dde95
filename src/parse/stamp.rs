//! When a line says it was written: the time stamp as the line gives it, borrowed, unparsed.
//!
//! A parser only points at the stamp; `aggregate::clock` turns it into a time once per
//! distinct stamp (lines of the same second share it), in the configured zone where the stamp
//! has none, so the hot path neither allocates nor parses a date per line.

/// The time stamp of a line, as logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Stamp<'a> {
    /// The line gives no time of its own: the time it was read stands in, marked so.
    #[default]
    None,
    /// A classic syslog stamp, `Mmm dd HH:MM:SS[.frac]` (day as `7`, ` 7` or `07`): no year,
    /// no zone.
    Bsd(&'a [u8]),
    /// `YYYY-MM-DD[T or space]HH:MM:SS[.frac]`, then optionally a zone: `Z`, `±HH:MM`,
    /// `±HHMM`, or one of these after a space (Exim's `log_timezone`, PowerMTA). Without a zone
    /// it is local time.
    Iso(&'a [u8]),
    /// Seconds since the epoch, as decimal text with an optional fraction (KumoMTA).
    Unix(&'a [u8]),
    /// Seconds since the epoch, already read (a mail's `Date:` header).
    Seconds(i64),
}

impl Stamp<'_> {
    /// The bytes that identify the stamp, for caching its resolved time (empty for `None`
    /// and `Seconds`).
    pub fn text(&self) -> &[u8] {
        match self {
            Stamp::Bsd(t) | Stamp::Iso(t) | Stamp::Unix(t) => t,
            Stamp::None | Stamp::Seconds(_) => &[],
        }
    }
}

/// One row of a parser's queue-id-and-time table: a real line, the queue id and the stamp its
/// reply must carry.
#[cfg(test)]
pub(crate) type Origin = (&'static str, &'static str, Stamp<'static>);

/// The queue id and stamp of a parsed reply; `None` for anything else.
#[cfg(test)]
fn origin_of(parsed: super::Parsed<'_>) -> Option<(&[u8], Stamp<'_>)> {
    match parsed {
        super::Parsed::Event(super::Event::Reply(r)) => Some((r.queue_id, r.time)),
        _ => None,
    }
}

/// Checks a parser's table: each line gives a reply with its queue id and stamp, and each line
/// cut short gives the same or no reply (a cut never passes a shortened id or stamp).
#[cfg(test)]
pub(crate) fn check_origins(parse: for<'a> fn(&'a [u8]) -> super::Parsed<'a>, cases: &[Origin]) {
    for (line, id, time) in cases {
        let want = (id.as_bytes(), *time);
        assert_eq!(origin_of(parse(line.as_bytes())), Some(want), "{line}");
        for n in 0..line.len() {
            let got = origin_of(parse(&line.as_bytes()[..n]));
            assert!(got.is_none() || got == Some(want), "{n} of {line}: {got:?}");
        }
    }
}

/// The queue id as a person reads it from a syslog line of Postfix or Sendmail: the word
/// before the first `: ` of the message, unless it is `NOQUEUE` or not a word (a keyword such
/// as `proxy-reject`, or `ruleset=check_relay, …`). A reading independent of the parsers'.
#[cfg(test)]
pub(crate) fn first_word_id(line: &str) -> &str {
    let msg = line.split_once("]: ").map_or("", |(_, m)| m);
    let word = msg.split_once(": ").map_or("", |(w, _)| w);
    if word == "NOQUEUE" || !word.bytes().all(|c| c.is_ascii_alphanumeric()) {
        ""
    } else {
        word
    }
}

/// Checks every reply of a fixture of real syslog lines (`Mmm dd HH:MM:SS host …`, all with a
/// two-digit day): its stamp is the line's first 15 bytes and its queue id what `id_of` (a
/// reading of the line independent of the parser's) finds. Returns how many replies it checked.
#[cfg(test)]
pub(crate) fn check_fixture_origins(
    parse: for<'a> fn(&'a [u8]) -> super::Parsed<'a>,
    log: &str,
    id_of: fn(&str) -> &str,
) -> usize {
    let mut replies = 0;
    for line in log.lines() {
        if let Some((id, time)) = origin_of(parse(line.as_bytes())) {
            let stamp = Stamp::Bsd(&line.as_bytes()[..15]);
            assert_eq!((id, time), (id_of(line).as_bytes(), stamp), "{line}");
            replies += 1;
        }
    }
    replies
}

impl<'a> Stamp<'a> {
    /// A time as a log's field gives it, told by its shape (surrounding white space trimmed):
    /// a date first, `YYYY-MM-DD…`, is [`Stamp::Iso`]; a month name first, `Dec  7 12:00:00`,
    /// [`Stamp::Bsd`]; digits with an optional fraction, [`Stamp::Unix`]. Anything else (an
    /// empty field, another layout) is [`Stamp::None`].
    pub fn of_text(text: &'a [u8]) -> Stamp<'a> {
        let t = text.trim_ascii();
        let digits = |s: &[u8]| !s.is_empty() && s.iter().all(u8::is_ascii_digit);
        if let [y0, y1, y2, y3, b'-', m0, m1, b'-', d0, d1, ..] = t {
            if [y0, y1, y2, y3, m0, m1, d0, d1]
                .iter()
                .all(|c| c.is_ascii_digit())
            {
                return Stamp::Iso(t);
            }
        }
        if let [a, b, c, b' ', ..] = t {
            const MONTHS: [&[u8; 3]; 12] = [
                b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct",
                b"Nov", b"Dec",
            ];
            if MONTHS.iter().any(|m| m.eq_ignore_ascii_case(&[*a, *b, *c])) {
                return Stamp::Bsd(t);
            }
        }
        let (whole, frac) = match memchr::memchr(b'.', t) {
            Some(i) => (&t[..i], Some(&t[i + 1..])),
            None => (t, None),
        };
        if digits(whole) && frac.is_none_or(digits) {
            return Stamp::Unix(t);
        }
        Stamp::None
    }
}

#[cfg(test)]
mod tests {
    use super::Stamp;

    #[test]
    fn of_text_tells_the_layout_by_its_shape() {
        for (text, want) in [
            (
                "2026-12-07 12:00:00-0500",
                Stamp::Iso(b"2026-12-07 12:00:00-0500"),
            ),
            (
                " 2024-03-11T09:14:27.532Z ",
                Stamp::Iso(b"2024-03-11T09:14:27.532Z"),
            ),
            ("Dec  7 12:00:00", Stamp::Bsd(b"Dec  7 12:00:00")),
            ("dec 07 12:00:00.5", Stamp::Bsd(b"dec 07 12:00:00.5")),
            ("1178807903", Stamp::Unix(b"1178807903")),
            ("1710148467.123", Stamp::Unix(b"1710148467.123")),
        ] {
            assert_eq!(Stamp::of_text(text.as_bytes()), want, "{text}");
        }
        for none in [
            "",
            "  ",
            "12/07/2026 12:00",
            "1710148467.",
            ".5",
            "-5",
            "Decx 7",
            "26-12-07",
        ] {
            assert_eq!(Stamp::of_text(none.as_bytes()), Stamp::None, "{none}");
        }
    }
}
