//! What `/failures` may show of an address: `j…@example.com` unless the configuration says
//! whole addresses may be shown. Texts are copied into reused buffers, capped, as UTF-8.

/// Appends `raw` to `out` as text, at most `max` bytes of it (cut at a character), invalid
/// UTF-8 shown as U+FFFD, control characters as spaces; `…` marks a cut.
pub fn push_capped(out: &mut String, raw: &[u8], max: usize) {
    let start = out.len();
    for chunk in raw.utf8_chunks() {
        let valid = chunk.valid();
        let room = max - (out.len() - start);
        if valid.len() > room {
            let mut cut = room;
            while !valid.is_char_boundary(cut) {
                cut -= 1;
            }
            push_clean(out, valid.get(..cut).unwrap_or_default());
            out.push('…');
            return;
        }
        push_clean(out, valid);
        if !chunk.invalid().is_empty() {
            if out.len() - start + 3 > max {
                out.push('…');
                return;
            }
            out.push('\u{FFFD}');
        }
    }
}

/// Appends `s` with control characters (a tab, an escape) as spaces.
fn push_clean(out: &mut String, s: &str) {
    if s.chars().any(char::is_control) {
        out.extend(s.chars().map(|c| if c.is_control() { ' ' } else { c }));
    } else {
        out.push_str(s);
    }
}

/// Masks the local part of every address in `text` (in place, from `from` on): the first
/// character is kept, the rest becomes `…`.
pub fn mask_addresses(text: &mut String, from: usize) {
    let mut at = from;
    while let Some(i) = text.get(at..).and_then(|t| t.find('@')) {
        let sign = at + i;
        let local_start = text
            .get(..sign)
            .and_then(|head| head.rfind(is_boundary).map(|b| b + 1))
            .unwrap_or(0)
            .max(from);
        let domain_ok = text
            .get(sign + 1..)
            .and_then(|t| t.split(is_boundary).next())
            .is_some_and(|d| d.contains('.') && !d.starts_with('.'));
        let local = text.get(local_start..sign).unwrap_or_default();
        match local.chars().next() {
            Some(first) if domain_ok && local.len() > first.len_utf8() => {
                let keep = local_start + first.len_utf8();
                text.replace_range(keep..sign, "…");
                at = keep + '…'.len_utf8() + 1;
            }
            _ => at = sign + 1,
        }
    }
}

/// Characters that end an address in a reply text or log field.
fn is_boundary(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '<' | '>' | '(' | ')' | '[' | ']' | '"' | '\'' | ',' | ';' | ':' | '=' | '…'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn masked(s: &str) -> String {
        let mut out = String::new();
        push_capped(&mut out, s.as_bytes(), 1000);
        mask_addresses(&mut out, 0);
        out
    }

    #[test]
    fn local_parts_are_masked_wherever_they_stand() {
        for (text, want) in [
            ("john@example.com", "j…@example.com"),
            ("<john.doe@example.com>", "<j…@example.com>"),
            (
                "550 5.1.1 <jane@example.org>: Recipient address rejected: User unknown in virtual mailbox table",
                "550 5.1.1 <j…@example.org>: Recipient address rejected: User unknown in virtual mailbox table",
            ),
            (
                "to=<a@x.org>, orig_to=<bob@y.net>",
                "to=<a@x.org>, orig_to=<b…@y.net>",
            ),
            ("The email account that you tried to reach does not exist. b3si1 - gsmtp", "The email account that you tried to reach does not exist. b3si1 - gsmtp"),
            ("user@localhost said no", "user@localhost said no"),
            ("ünïcode@exämple.de", "ü…@exämple.de"),
            ("@example.com", "@example.com"),
            ("x@@y.com", "x…@y.com"),
        ] {
            assert_eq!(masked(text), want, "{text}");
        }
    }

    #[test]
    fn texts_are_capped_at_a_character_and_kept_readable() {
        let mut out = String::new();
        push_capped(&mut out, "ääää".as_bytes(), 5);
        assert_eq!(out, "ää…");
        out.clear();
        push_capped(&mut out, b"a\xffb\tc", 100);
        assert_eq!(out, "a\u{FFFD}b c");
        out.clear();
        let long = vec![b'x'; 2048];
        push_capped(&mut out, &long, 400);
        assert_eq!(out.len(), 400 + '…'.len_utf8());
    }
}
