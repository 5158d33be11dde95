//! Sources: where lines come from. `replay` reads files once from their first byte; `tail`
//! follows a live log across rotation. Both hand each line to [`ingest`], the one place where
//! lines become events and events become counts.

pub mod identity;
pub mod lines;
pub mod replay;
pub mod tail;

use crate::aggregate::{Aggregator, LineResult, SourceId};
use crate::parse::Format;
use lines::Line;

/// Parses one line of `source` and counts it.
#[inline]
pub fn ingest(agg: &mut Aggregator, source: SourceId, format: Format, line: Line<'_>) {
    match line {
        Line::Complete(l) => {
            agg.record(source, &format.parse(l));
        }
        Line::TooLong => agg.count_line(source, LineResult::Unrecognised),
    }
}

/// Read size: large enough that per-read costs vanish, small enough to stay in cache.
pub const CHUNK: usize = 256 * 1024;
