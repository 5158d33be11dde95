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
