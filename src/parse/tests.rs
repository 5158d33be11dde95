use super::*;

#[test]
fn basic_codes_are_validated() {
    for (s, ok) in [
        ("250", true),
        ("550", true),
        ("421", true),
        ("354", true),
        ("199", false),
        ("999", false),
        ("560", false),
        ("55", false),
        ("5500", false),
        ("5a0", false),
    ] {
        assert_eq!(BasicCode::parse(s.as_bytes()).is_some(), ok, "{s}");
    }
}

#[test]
fn enhanced_codes_are_validated() {
    for (s, ok) in [
        ("5.1.1", true),
        ("4.7.28", true),
        ("5.7.509", true),
        ("2.0.0", true),
        ("9.99.999", false),
        ("5.8.1", false),
        ("5.1.1000", false),
        ("5.01.1", false),
        ("3.1.1", false),
        ("5.1", false),
        ("5.1.", false),
        ("5..1", false),
    ] {
        assert_eq!(EnhancedCode::parse(s.as_bytes()).is_some(), ok, "{s}");
    }
}

#[test]
fn leading_codes() {
    let cases: &[(&str, Option<u16>, Option<&str>)] = &[
        ("550 5.1.1 <a@b>: no", Some(550), Some("5.1.1")),
        ("550-5.1.1 The email account", Some(550), Some("5.1.1")),
        ("421 Too busy", Some(421), None),
        ("5.7.1 message content rejected", None, Some("5.7.1")),
        ("delivered to mailbox", None, None),
        ("2500 nope", None, None),
        ("999 9.9.9 fake", None, None),
        // An invalid basic code does not hide a valid enhanced one (Exim's test suite
        // configures `590 5.4.3`).
        ("590 5.4.3 Main and extended code", None, Some("5.4.3")),
        ("123 1.2.3 Reasons", None, None),
    ];
    for (text, code, enh) in cases {
        let (c, e) = leading_reply_codes(text.as_bytes());
        assert_eq!(c.map(BasicCode::get), *code, "{text}");
        assert_eq!(e.map(|e| e.to_string()).as_deref(), *enh, "{text}");
    }
}

#[test]
fn recipients_iterate_domains() {
    let d: Vec<_> = Recipients::List(b"a@x.org,<b@Y.com>, c", b',')
        .domains()
        .collect();
    assert_eq!(d, vec![&b"x.org"[..], b"Y.com", b""]);
    assert_eq!(Recipients::None.count(), 1);
    assert_eq!(Recipients::One(b"u@d").count(), 1);
}
