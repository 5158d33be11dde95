//! Entries of `journalctl -o json` rebuilt as syslog lines, and counted.

use super::*;

// ---------------------------------------------------------------------------------------------
// One entry of `journalctl -o json`.

/// The fields of an entry that a line is rebuilt from. Strings borrow from the JSON line where
/// they need no unescaping.
#[derive(Debug, Default, Deserialize)]
pub(super) struct Entry<'a> {
    #[serde(rename = "__CURSOR", borrow, default)]
    pub(super) cursor: Option<Cow<'a, str>>,
    #[serde(rename = "__REALTIME_TIMESTAMP", borrow, default)]
    pub(super) realtime: Option<Cow<'a, str>>,
    #[serde(rename = "_HOSTNAME", borrow, default)]
    pub(super) hostname: Field<'a>,
    #[serde(rename = "SYSLOG_IDENTIFIER", borrow, default)]
    pub(super) identifier: Field<'a>,
    #[serde(rename = "_COMM", borrow, default)]
    pub(super) comm: Field<'a>,
    #[serde(rename = "_PID", borrow, default)]
    pub(super) pid: Field<'a>,
    #[serde(rename = "SYSLOG_PID", borrow, default)]
    pub(super) syslog_pid: Field<'a>,
    #[serde(rename = "MESSAGE", borrow, default)]
    pub(super) message: Field<'a>,
}

/// One field's value as journalctl prints it.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) enum Field<'a> {
    #[default]
    Missing,
    /// Over journalctl's size limit for a field (4096 bytes without `--all`).
    Null,
    Text(Cow<'a, str>),
    /// Not UTF-8 (or not printable): its bytes.
    Bytes(Vec<u8>),
    /// Several values, or something journalctl does not print: not one usable value.
    Unusable,
}

impl Field<'_> {
    fn bytes(&self) -> Option<&[u8]> {
        match self {
            Field::Text(t) => Some(t.as_bytes()),
            Field::Bytes(b) => Some(b),
            Field::Missing | Field::Null | Field::Unusable => None,
        }
    }

    /// The value, when it can stand as one word of a syslog header.
    fn word(&self) -> Option<&[u8]> {
        self.bytes()
            .filter(|b| !b.is_empty() && !b.iter().any(|c| c.is_ascii_whitespace() || *c < 0x20))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Field<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(FieldVisitor)
    }
}

pub(super) struct FieldVisitor;

impl<'de> Visitor<'de> for FieldVisitor {
    type Value = Field<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a journal field: a string, an array of bytes or null")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Field::Text(Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Field::Text(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Field::Text(Cow::Owned(v)))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Field::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Field::Null)
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Field::Unusable)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Field::Unusable)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Field::Unusable)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Field::Unusable)
    }
    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Field::Unusable)
    }
    /// An array of numbers is one value's bytes; an array of strings or arrays is a field with
    /// several values.
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut bytes = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(MAX_LINE));
        let mut usable = true;
        while let Some(e) = seq.next_element::<Element>()? {
            match e {
                Element::Byte(b) if usable => bytes.push(b),
                _ => usable = false,
            }
        }
        Ok(if usable {
            Field::Bytes(bytes)
        } else {
            Field::Unusable
        })
    }
}

/// One element of an array value: a byte, or anything else.
pub(super) enum Element {
    Byte(u8),
    Other,
}

impl<'de> Deserialize<'de> for Element {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ElementVisitor)
    }
}

pub(super) struct ElementVisitor;

impl<'de> Visitor<'de> for ElementVisitor {
    type Value = Element;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a byte")
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Element, E> {
        Ok(u8::try_from(v).map_or(Element::Other, Element::Byte))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Element, E> {
        Ok(u8::try_from(v).map_or(Element::Other, Element::Byte))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Element, E> {
        Ok(Element::Other)
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Element, E> {
        Ok(Element::Other)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Element, E> {
        Ok(Element::Other)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Element, E> {
        Ok(Element::Other)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Element, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Element::Other)
    }
    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Element, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Element::Other)
    }
}

/// Rebuilds `e` as `<time> <host> <tag>[<pid>]: <message>` in `out` (cleared first). Returns
/// `false` when the entry has no usable `MESSAGE`. Fields that cannot stand in a header are left
/// out (host, pid) or replaced (`_COMM` for a missing identifier, as `journalctl -o short` does).
pub(super) fn rebuild(out: &mut Vec<u8>, e: &Entry<'_>) -> bool {
    let Some(message) = e.message.bytes() else {
        return false;
    };
    out.clear();
    let micros = e
        .realtime
        .as_deref()
        .and_then(|t| t.parse::<u64>().ok())
        .unwrap_or(0);
    write_rfc3339(out, micros);
    out.push(b' ');
    if let Some(host) = e.hostname.word() {
        out.extend_from_slice(host);
        out.push(b' ');
    }
    let tag = e.identifier.word().or_else(|| e.comm.word());
    out.extend_from_slice(tag.unwrap_or(b"unknown"));
    let pid = [&e.pid, &e.syslog_pid]
        .into_iter()
        .filter_map(Field::bytes)
        .find(|p| !p.is_empty() && p.iter().all(u8::is_ascii_digit));
    if let Some(pid) = pid {
        out.push(b'[');
        out.extend_from_slice(pid);
        out.push(b']');
    }
    out.extend_from_slice(b": ");
    out.extend_from_slice(message);
    true
}

/// Microseconds since the epoch as `YYYY-MM-DDTHH:MM:SS.ffffffZ`.
pub(super) fn write_rfc3339(out: &mut Vec<u8>, micros: u64) {
    let at = UNIX_EPOCH
        .checked_add(Duration::from_micros(micros))
        .unwrap_or(UNIX_EPOCH);
    let start = out.len();
    if write!(out, "{}", humantime::format_rfc3339_micros(at)).is_err() {
        // Past year 9999: not a time a journal holds; keep the header readable.
        out.truncate(start);
        let _ = write!(out, "{}", humantime::format_rfc3339_micros(UNIX_EPOCH));
    }
}

// ---------------------------------------------------------------------------------------------
// Counting entries.

/// Turns journalctl's output into counted lines. Knows nothing of processes, so it is tested on
/// bytes alone.
#[derive(Debug)]
pub(super) struct EntryCounter {
    source: SourceId,
    parser: Parser,
    splitter: LineSplitter,
    /// The rebuilt syslog line, reused.
    line: Vec<u8>,
    /// The cursor journalctl was started at: the first entry is dropped when it is that one
    /// (already counted).
    skip: Option<String>,
}

impl EntryCounter {
    pub(super) fn new(source: SourceId, parser: impl Into<Parser>) -> Self {
        EntryCounter {
            source,
            parser: parser.into(),
            splitter: LineSplitter::new(MAX_JSON_LINE),
            line: Vec::with_capacity(1024),
            skip: None,
        }
    }

    /// A new journalctl started at `cursor`: forget a partial line of the previous one (its
    /// entry comes again, from the cursor).
    pub(super) fn restart(&mut self, cursor: Option<String>) {
        self.splitter.reset();
        self.skip = cursor;
    }

    /// Counts the whole entries in `chunk`; the caller holds the aggregator's lock.
    pub(super) fn consume(&mut self, g: &mut Aggregator, chunk: &[u8]) {
        g.add_bytes(self.source, chunk.len() as u64);
        let mut lines = 0u64;
        let source = self.source;
        let (line, skip, parser) = (&mut self.line, &mut self.skip, &mut self.parser);
        self.splitter.feed(chunk, |l| {
            lines += 1;
            match l {
                Line::Complete(json) => count_entry(g, source, parser, line, skip, json),
                Line::TooLong => {
                    skip.take();
                    g.count_line(source, LineResult::Unrecognised);
                }
            }
        });
        if lines > 0 {
            g.set_last_line(source, Counters::now());
        }
    }
}

/// Counts one JSON line of journalctl and records its cursor, under the same lock.
pub(super) fn count_entry(
    g: &mut Aggregator,
    source: SourceId,
    parser: &mut Parser,
    line: &mut Vec<u8>,
    skip: &mut Option<String>,
    json: &[u8],
) {
    let skip = skip.take();
    let Ok(entry) = serde_json::from_slice::<Entry<'_>>(json) else {
        g.count_line(source, LineResult::Unrecognised);
        return;
    };
    if skip.is_some() && entry.cursor.as_deref() == skip.as_deref() {
        return;
    }
    if !rebuild(line, &entry) {
        g.count_line(source, LineResult::Unrecognised);
    } else if line.len() > MAX_LINE {
        // As a line of a file over the cap.
        ingest(g, source, parser, Line::TooLong);
    } else {
        ingest(g, source, parser, Line::Complete(line));
    }
    if let (Some(c), Some(s)) = (&entry.cursor, g.source_mut(source)) {
        // Reuses the saved cursor's allocation.
        let saved = s.reading.cursor.get_or_insert_with(String::new);
        saved.clear();
        saved.push_str(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::{Event, Parsed, Stamp};

    /// A Postfix entry rebuilt as a line gives its reply the entry's own time, as the RFC 3339
    /// stamp written in front of it, and its queue id.
    #[test]
    fn a_rebuilt_postfix_line_carries_the_entry_time() {
        // 1 700 000 000.123456 s after the epoch is 2023-11-14 22:13:20.123456 UTC.
        let json = r#"{"__REALTIME_TIMESTAMP":"1700000000123456","_HOSTNAME":"mx","SYSLOG_IDENTIFIER":"postfix/smtp","_PID":"10731","MESSAGE":"1B0E698C15E: to=<nouser1@remote.example>, relay=127.0.0.1[127.0.0.1]:12600, delay=0.06, delays=0.01/0.01/0/0.03, dsn=5.1.1, status=bounced (host 127.0.0.1[127.0.0.1] said: 550 5.1.1 <nouser1>: Recipient address rejected: User unknown in virtual mailbox table (in reply to RCPT TO command))"}"#;
        let entry: Entry<'_> = serde_json::from_str(json).expect("entry");
        let mut line = Vec::new();
        assert!(rebuild(&mut line, &entry));
        let mut written = Vec::new();
        write_rfc3339(&mut written, 1_700_000_000_123_456);
        assert_eq!(written, b"2023-11-14T22:13:20.123456Z");
        let Parsed::Event(Event::Reply(r)) = crate::parse::postfix::parse(&line) else {
            panic!("not a reply: {}", String::from_utf8_lossy(&line))
        };
        assert_eq!(r.time, Stamp::Iso(&written));
        assert_eq!(r.queue_id, b"1B0E698C15E");
    }
}
