//! Postfix (placeholder until the parser lands).
use super::Parsed;

pub fn parse(_line: &[u8]) -> Parsed<'_> {
    Parsed::Unrecognised
}
