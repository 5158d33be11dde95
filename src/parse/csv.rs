//! CSV rows as RFC 4180 has them, for the header-driven formats (Exchange message tracking,
//! PowerMTA accounting): fields separated by commas, a field in double quotes may hold commas
//! and doubled quotes (`"two inches,""2"""`).
//!
//! Nothing is copied: a field is handed out as a slice of the line — the bytes between the
//! quotes for a quoted field, with its doubled quotes left doubled (no field the parsers read
//! needs them undone: codes lead their field, and the domain of an address follows its last
//! `@`). Columns are found by the names of the header row, once per file; reading a row then
//! costs one pass over its bytes.

/// Calls `on_field(index, content)` for each field of `row` and returns how many fields it has,
/// or `None` when the row is not valid CSV (an unterminated quoted field, or bytes after a
/// closing quote).
pub fn split<'a>(row: &'a [u8], mut on_field: impl FnMut(usize, &'a [u8])) -> Option<usize> {
    let mut i = 0;
    let mut idx = 0;
    loop {
        if row.get(i) == Some(&b'"') {
            let start = i + 1;
            let mut j = start;
            let end = loop {
                let q = j + memchr::memchr(b'"', row.get(j..)?)?;
                if row.get(q + 1) == Some(&b'"') {
                    j = q + 2;
                } else {
                    break q;
                }
            };
            on_field(idx, row.get(start..end)?);
            match row.get(end + 1) {
                None => return Some(idx + 1),
                Some(b',') => {
                    i = end + 2;
                    idx += 1;
                }
                Some(_) => return None,
            }
        } else {
            let rest = row.get(i..)?;
            match memchr::memchr(b',', rest) {
                Some(k) => {
                    on_field(idx, &rest[..k]);
                    i += k + 1;
                    idx += 1;
                }
                None => {
                    on_field(idx, rest);
                    return Some(idx + 1);
                }
            }
        }
    }
}

/// Where the fields a parser reads are in the rows of one file, from its header.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Columns {
    /// For each column of the header: 0 when unread, else 1 + the index of the wanted field.
    slot_of: Box<[u8]>,
    /// Which wanted fields the header has (bit k: field k).
    present: u32,
}

impl Columns {
    /// The columns of a header whose names are `names` (the fields of the header row), for the
    /// fields `wanted` (names compared without regard to ASCII case). `None` when the header
    /// is not valid CSV.
    pub fn from_header(header: &[u8], wanted: &[&str]) -> Option<Columns> {
        let mut slot_of = Vec::new();
        let mut present = 0u32;
        split(header, |_, name| {
            let name = name.trim_ascii();
            let slot = wanted
                .iter()
                .position(|w| w.as_bytes().eq_ignore_ascii_case(name))
                .filter(|k| present & (1 << k) == 0);
            match slot {
                Some(k) => {
                    present |= 1 << k;
                    slot_of.push(k as u8 + 1);
                }
                None => slot_of.push(0),
            }
        })?;
        Some(Columns {
            slot_of: slot_of.into_boxed_slice(),
            present,
        })
    }

    /// Whether a header has been read.
    pub fn known(&self) -> bool {
        !self.slot_of.is_empty()
    }

    /// Whether the header has the `k`th wanted field.
    pub fn has(&self, k: usize) -> bool {
        self.present & (1 << k) != 0
    }

    /// The wanted fields of `row` (empty where the header lacks one). `None` when the row is
    /// not valid CSV or has another number of fields than the header.
    pub fn read<'a, const K: usize>(&self, row: &'a [u8]) -> Option<[&'a [u8]; K]> {
        let mut out: [&'a [u8]; K] = [&[]; K];
        let n = split(row, |i, field| {
            if let Some(&slot) = self.slot_of.get(i) {
                if let Some(o) = usize::from(slot)
                    .checked_sub(1)
                    .and_then(|k| out.get_mut(k))
                {
                    *o = field;
                }
            }
        })?;
        (n == self.slot_of.len()).then_some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(row: &str) -> Option<Vec<String>> {
        let mut v = Vec::new();
        let n = split(row.as_bytes(), |_, f| {
            v.push(String::from_utf8_lossy(f).into_owned())
        })?;
        assert_eq!(n, v.len());
        Some(v)
    }

    #[test]
    fn rfc_4180_rows() {
        let cases: &[(&str, Option<&[&str]>)] = &[
            ("a,b,c", Some(&["a", "b", "c"])),
            ("", Some(&[""])),
            (",", Some(&["", ""])),
            ("a,,c,", Some(&["a", "", "c", ""])),
            (
                "d,\"PIPELINING,SIZE\",x",
                Some(&["d", "PIPELINING,SIZE", "x"]),
            ),
            ("two inches,\"2\"\"\"", Some(&["two inches", "2\"\""])),
            ("\"\",\"\"", Some(&["", ""])),
            ("\"a,b\"", Some(&["a,b"])),
            ("\"unterminated,b", None),
            ("\"a\"b,c", None),
            ("\"a\"\"", None),
            ("x\"y,z", Some(&["x\"y", "z"])),
        ];
        for (row, want) in cases {
            let got = fields(row);
            let want = want.map(|w| w.iter().map(|s| s.to_string()).collect::<Vec<_>>());
            assert_eq!(got, want, "{row:?}");
        }
    }

    #[test]
    fn columns_by_name() {
        let c = Columns::from_header(b"type,Rcpt ,x,dsnStatus,rcpt", &["rcpt", "dsnstatus", "no"])
            .unwrap();
        assert!(c.known() && c.has(0) && c.has(1) && !c.has(2));
        let [rcpt, status, none] = c.read::<3>(b"d,a@b,\"1,2\",5.1.1,second").unwrap();
        assert_eq!((rcpt, status, none), (&b"a@b"[..], &b"5.1.1"[..], &b""[..]));
        assert_eq!(c.read::<3>(b"d,a@b,x,5.1.1"), None);
        assert_eq!(c.read::<3>(b"d,a@b,x,5.1.1,y,z"), None);
        assert!(!Columns::default().known());
    }
}
