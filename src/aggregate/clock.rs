//! The log's own clock: turns a line's [`Stamp`] into seconds since the epoch.
//!
//! A stamp without a zone is read in the configured zone (`time_zone:`, default the system's);
//! a classic syslog stamp, which has no year either, gets the year that puts it at most a day
//! ahead of now (so a line of 31 December read on 1 January is last year's). Lines of the same
//! second share their stamp's text, so the last one resolved is kept and most lines cost a
//! comparison of a few bytes. A stamp that cannot be read falls back to the read time, marked
//! as such, like a format without a time.

use jiff::civil::DateTime;
use jiff::fmt::strtime;
use jiff::tz::TimeZone;
use jiff::Timestamp;

use crate::parse::Stamp;

/// How far ahead of now a year-less stamp may be: clocks of log writer and reader differ.
const AHEAD: f64 = 86_400.0;

/// The longest stamp text remembered for the next line.
const CACHED: usize = 48;

/// A line's time, resolved.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LogTime {
    /// Seconds since the epoch.
    pub unix: f64,
    /// Whether the line gave no readable time and the time it was read stands in.
    pub read: bool,
}

/// Resolves stamps; one per aggregator.
#[derive(Debug, Clone)]
pub struct LogClock {
    zone: TimeZone,
    /// The text of the last stamp resolved, its kind and its time.
    last: [u8; CACHED],
    last_len: usize,
    last_kind: u8,
    last_unix: f64,
}

impl LogClock {
    pub fn new(zone: TimeZone) -> Self {
        LogClock {
            zone,
            last: [0; CACHED],
            last_len: 0,
            last_kind: 0,
            last_unix: 0.0,
        }
    }

    /// The zone of stamps that give none.
    pub fn zone(&self) -> &TimeZone {
        &self.zone
    }

    /// The time of `stamp`; `now` (seconds since the epoch) is asked only when needed.
    pub fn resolve(&mut self, stamp: Stamp<'_>, now: impl Fn() -> f64) -> LogTime {
        let kind = match stamp {
            Stamp::None => return read_time(now()),
            Stamp::Seconds(s) => return at(s as f64),
            Stamp::Bsd(_) => 1,
            Stamp::Iso(_) => 2,
            Stamp::Unix(_) => 3,
        };
        let text = stamp.text();
        if kind == self.last_kind && self.last.get(..self.last_len) == Some(text) {
            return at(self.last_unix);
        }
        let found = match stamp {
            Stamp::Bsd(t) => self.bsd(t, now()),
            Stamp::Iso(t) => self.iso(t),
            Stamp::Unix(t) => std::str::from_utf8(t)
                .ok()
                .and_then(|s| s.parse::<f64>().ok())
                .filter(|s| s.is_finite()),
            Stamp::None | Stamp::Seconds(_) => None,
        };
        let Some(unix) = found else {
            return read_time(now());
        };
        if let Some(slot) = self.last.get_mut(..text.len()) {
            slot.copy_from_slice(text);
            self.last_len = text.len();
            self.last_kind = kind;
            self.last_unix = unix;
        }
        at(unix)
    }

    /// `Mmm dd HH:MM:SS[.frac]`, in the configured zone, the latest year that is at most a day
    /// ahead of `now` (going back past years where the date does not exist: 29 February).
    fn bsd(&self, text: &[u8], now: f64) -> Option<f64> {
        let text = std::str::from_utf8(text).ok()?;
        let mut tm = strtime::parse("%b %e %H:%M:%S%.f", text).ok()?;
        let this_year = Timestamp::from_second(now as i64)
            .ok()?
            .to_zoned(self.zone.clone())
            .year();
        (0..8).find_map(|back| {
            tm.set_year(Some(this_year - back)).ok()?;
            let unix = self.local(tm.to_datetime().ok()?)?;
            (unix <= now + AHEAD).then_some(unix)
        })
    }

    /// `YYYY-MM-DD[T ]HH:MM:SS[.frac]` with an optional zone (also after a space).
    fn iso(&self, text: &[u8]) -> Option<f64> {
        let mut buf = [0u8; CACHED];
        let text = join_zone(text, &mut buf)?;
        let text = std::str::from_utf8(text).ok()?;
        if let Ok(t) = text.parse::<Timestamp>() {
            return Some(seconds(t));
        }
        self.local(text.parse::<DateTime>().ok()?)
    }

    /// A wall-clock time of the configured zone (the earlier one where clocks go back).
    fn local(&self, dt: DateTime) -> Option<f64> {
        Some(seconds(dt.to_zoned(self.zone.clone()).ok()?.timestamp()))
    }
}

fn at(unix: f64) -> LogTime {
    LogTime { unix, read: false }
}

fn read_time(unix: f64) -> LogTime {
    LogTime { unix, read: true }
}

fn seconds(t: Timestamp) -> f64 {
    t.as_second() as f64 + f64::from(t.subsec_nanosecond()) / 1e9
}

/// `text` with the space before a trailing `±HHMM` zone (Exim, PowerMTA) removed, in `buf`.
fn join_zone<'b>(text: &'b [u8], buf: &'b mut [u8; CACHED]) -> Option<&'b [u8]> {
    let n = text.len();
    let spaced =
        n > 6 && text.get(n - 6) == Some(&b' ') && matches!(text.get(n - 5), Some(b'+' | b'-'));
    if !spaced {
        return Some(text);
    }
    let head = text.get(..n - 6)?;
    let zone = text.get(n - 5..)?;
    let out = buf.get_mut(..n - 1)?;
    let (a, b) = out.split_at_mut(head.len());
    a.copy_from_slice(head);
    b.copy_from_slice(zone);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc() -> LogClock {
        LogClock::new(TimeZone::UTC)
    }

    fn berlin() -> LogClock {
        LogClock::new(TimeZone::get("Europe/Berlin").expect("bundled zone"))
    }

    /// 2026-12-07T12:00:00Z
    const NOW: f64 = 1_796_644_800.0;

    #[test]
    fn stamps_with_a_zone_ignore_the_configured_one() {
        let mut c = berlin();
        for (text, want) in [
            ("2026-12-07T12:00:00Z", NOW),
            ("2026-12-07T13:00:00+01:00", NOW),
            ("2026-12-07 13:00:00 +0100", NOW),
            ("2026-12-07 07:00:00-0500", NOW),
            ("2026-12-07T12:00:00.250000Z", NOW + 0.25),
        ] {
            let t = c.resolve(Stamp::Iso(text.as_bytes()), || NOW);
            assert_eq!(t, at(want), "{text}");
        }
    }

    #[test]
    fn stamps_without_a_zone_are_local() {
        assert_eq!(
            berlin().resolve(Stamp::Iso(b"2026-12-07 13:00:00"), || NOW),
            at(NOW)
        );
        assert_eq!(
            utc().resolve(Stamp::Iso(b"2026-12-07 12:00:00.5"), || NOW),
            at(NOW + 0.5)
        );
        // Summer time: Berlin is two hours ahead in July.
        let july = berlin().resolve(Stamp::Bsd(b"Jul  1 14:00:00"), || NOW);
        let want = "2026-07-01T12:00:00Z"
            .parse::<Timestamp>()
            .map(seconds)
            .ok();
        assert_eq!(Some(july.unix), want);
    }

    #[test]
    fn a_syslog_stamp_gets_the_year_that_is_at_most_a_day_ahead() {
        let mut c = utc();
        for (text, want) in [
            ("Dec  7 12:00:00", "2026-12-07T12:00:00Z"),
            ("Dec 07 12:00:00", "2026-12-07T12:00:00Z"),
            ("Dec 8 11:59:59", "2026-12-08T11:59:59Z"),
            ("Dec  8 12:00:01", "2025-12-08T12:00:01Z"),
            ("Dec 31 23:59:59", "2025-12-31T23:59:59Z"),
            ("Jan  1 00:00:00", "2026-01-01T00:00:00Z"),
            ("Feb 29 10:00:00", "2024-02-29T10:00:00Z"),
            ("Dec  7 12:00:00.125", "2026-12-07T12:00:00.125Z"),
        ] {
            let t = c.resolve(Stamp::Bsd(text.as_bytes()), || NOW);
            let want = want.parse::<Timestamp>().map(seconds).ok();
            assert_eq!(Some(t.unix), want, "{text}");
            assert!(!t.read);
        }
        // Read on 1 January, a line of 31 December is last year's.
        let new_year = 1_798_761_600.0; // 2027-01-01T00:00:00Z
        let t = utc().resolve(Stamp::Bsd(b"Dec 31 23:59:00"), || new_year);
        assert_eq!(t.unix, new_year - 60.0);
    }

    #[test]
    fn no_stamp_or_a_garbled_one_is_the_read_time_marked() {
        let mut c = utc();
        for stamp in [
            Stamp::None,
            Stamp::Bsd(b"Foo 99 12:00:00"),
            Stamp::Iso(b"2026-13-40T25:00:00Z"),
            Stamp::Unix(b"soon"),
            Stamp::Unix(b"inf"),
            Stamp::Bsd(b"\xff\xfe"),
        ] {
            assert_eq!(c.resolve(stamp, || NOW), read_time(NOW), "{stamp:?}");
        }
        assert_eq!(
            c.resolve(Stamp::Unix(b"1796644800.5"), || 0.0),
            at(NOW + 0.5)
        );
        assert_eq!(c.resolve(Stamp::Seconds(1_796_644_800), || 0.0), at(NOW));
    }

    #[test]
    fn the_same_stamp_is_resolved_once() {
        let mut c = utc();
        let first = c.resolve(Stamp::Bsd(b"Dec  7 11:00:00"), || NOW);
        // A second line of the same second needs no clock: the cached time is kept.
        let again = c.resolve(Stamp::Bsd(b"Dec  7 11:00:00"), || panic!("clock asked"));
        assert_eq!(first, again);
        // Same text, another kind: not confused.
        let other = c.resolve(Stamp::Unix(b"12"), || NOW);
        assert_eq!(other, at(12.0));
    }
}
