use super::*;

fn host(t: &Providers, raw: &str, domain: &str) -> String {
    t.name(t.of_reply(Relay::Host(raw.as_bytes()), domain.as_bytes()))
        .to_owned()
}

fn user(yaml: &[(&str, &[&str], &[&str])]) -> BTreeMap<String, UserProvider> {
    yaml.iter()
        .map(|(n, mx, d)| {
            (
                (*n).to_owned(),
                UserProvider {
                    mx: mx.iter().map(|s| (*s).to_owned()).collect(),
                    domains: d.iter().map(|s| (*s).to_owned()).collect(),
                },
            )
        })
        .collect()
}

#[test]
fn relay_hosts_as_the_mtas_log_them() {
    let t = Providers::default();
    let table = [
        // Postfix
        (
            "gmail-smtp-in.l.google.com[142.250.102.27]:25",
            "gmail.com",
            "google",
        ),
        (
            "aspmx.l.google.com[142.250.102.27]:25",
            "example.com",
            "google",
        ),
        (
            "contoso-com.mail.protection.outlook.com[52.101.68.1]:25",
            "contoso.com",
            "microsoft",
        ),
        (
            "hotmail-com.olc.protection.outlook.com[52.101.8.33]:25",
            "hotmail.com",
            "microsoft",
        ),
        (
            "mta7.am0.yahoodns.net[67.195.204.77]:25",
            "yahoo.com",
            "yahoo",
        ),
        (
            "mx01.mail.icloud.com[17.57.155.23]:25",
            "icloud.com",
            "apple",
        ),
        (
            "MX01.Mail.ICloud.com[17.57.155.23]:25",
            "icloud.com",
            "apple",
        ),
        // Exim, Sendmail, KumoMTA
        (
            "gmail-smtp-in.l.google.com [142.250.102.27]",
            "gmail.com",
            "google",
        ),
        (
            "gmail-smtp-in.l.google.com. [142.250.102.27]",
            "gmail.com",
            "google",
        ),
        ("gmail-smtp-in.l.google.com.", "gmail.com", "google"),
        // Not a provider's host.
        ("mx.example.net[192.0.2.10]:25", "example.net", "other"),
        ("mx.example.net[192.0.2.10]:25", "gmail.com", "other"),
        ("notgoogle.com[192.0.2.10]:25", "example.net", "other"),
        // Hops of ours: the recipient domain decides.
        ("127.0.0.1[127.0.0.1]:10024", "gmail.com", "google"),
        ("127.0.0.1[127.0.0.1]:10024", "example.net", "other"),
        ("localhost[::1]:10025", "outlook.com", "microsoft"),
        (
            "filter.example.net[127.0.0.1]:10024",
            "yahoo.co.uk",
            "yahoo",
        ),
        ("[192.0.2.5]:587", "gmail.com", "google"),
        ("192.0.2.5[192.0.2.5]:587", "icloud.com", "apple"),
    ];
    for (raw, domain, want) in table {
        assert_eq!(host(&t, raw, domain), want, "{raw} for {domain}");
    }
}

#[test]
fn well_known_domains_without_a_relay() {
    let t = Providers::default();
    let table = [
        ("gmail.com", Some("google")),
        ("GMail.COM.", Some("google")),
        ("hotmail.co.uk", Some("microsoft")),
        ("hotmail.fr", Some("microsoft")),
        ("live.com.au", Some("microsoft")),
        ("yahoo.co.jp", Some("yahoo")),
        ("hotmail.example.org", None),
        ("example.com", None),
        ("", None),
    ];
    for (d, want) in table {
        let got = t.of_domain(d.as_bytes()).map(|p| t.name(p));
        assert_eq!(got, want, "{d}");
    }
    let unknown = t.of_reply(Relay::Unknown, b"example.com");
    assert_eq!(t.name(unknown), "other");
    let local = t.of_reply(Relay::Local, b"example.com");
    assert_eq!(t.name(local), "");
    assert_eq!(t.name(t.of_reply(Relay::Local, b"gmail.com")), "google");
}

#[test]
fn user_providers_extend_and_replace() {
    let t = Providers::new(
        &user(&[
            ("acme", &["mx.acme-hosting.example"], &["acme.example"]),
            ("google", &["google.com"], &[]),
            ("gateway", &["mimecast.com", "eu.example-filter.net"], &[]),
        ]),
        &["smarthost.example.org".to_owned(), "192.0.2.25".to_owned()],
    )
    .expect("valid");
    assert_eq!(
        host(&t, "in1.mx.acme-hosting.example[192.0.2.1]:25", "x.example"),
        "acme"
    );
    assert_eq!(t.name(t.of_domain(b"acme.example").expect("acme")), "acme");
    // google replaced: its domains are the user's (none).
    assert_eq!(t.of_domain(b"gmail.com"), None);
    assert_eq!(
        host(&t, "aspmx.l.google.com[1.2.3.4]:25", "x.example"),
        "google"
    );
    assert_eq!(
        host(&t, "eu-smtp-1.mimecast.com[1.2.3.4]:25", "x.example"),
        "gateway"
    );
    // Own relays fall back to the domain.
    assert_eq!(
        host(&t, "smarthost.example.org[192.0.2.25]:587", "outlook.com"),
        "microsoft"
    );
    assert_eq!(
        host(&t, "relay.example.com[192.0.2.25]:25", "icloud.com"),
        "apple"
    );
    assert_eq!(
        host(&t, "relay.example.com[192.0.2.26]:25", "icloud.com"),
        "other"
    );
}

#[test]
fn user_mistakes_name_the_path_and_the_fix() {
    let cases: &[(BTreeMap<String, UserProvider>, &[&str], &str)] = &[
        (
            user(&[("Acme", &["a.example"], &[])]),
            &[],
            "providers.Acme: \"Acme\" is no provider name",
        ),
        (
            user(&[("other", &["a.example"], &[])]),
            &[],
            "providers.other: `other` is the label",
        ),
        (
            user(&[("acme", &[], &[])]),
            &[],
            "providers.acme: lists no `mx`",
        ),
        (
            user(&[("acme", &[".a.example"], &[])]),
            &[],
            "providers.acme.mx[0] (\".a.example\"): not a host name",
        ),
        (
            user(&[("acme", &["*.a.example"], &[])]),
            &[],
            "providers.acme.mx[0] (\"*.a.example\"): not a host name",
        ),
        (
            user(&[("acme", &["192.0.2.1"], &[])]),
            &[],
            "providers.acme.mx[0] (\"192.0.2.1\"): an address is no host-name suffix",
        ),
        (
            user(&[("acme", &[], &["user@a.example"])]),
            &[],
            "providers.acme.domains[0] (\"user@a.example\"): not a host name",
        ),
        (
            user(&[("acme", &["a.example"], &[]), ("beta", &["a.example"], &[])]),
            &[],
            "providers.beta.mx[0]: mx a.example is also listed under providers.acme",
        ),
        (
            user(&[]),
            &["smart host"],
            "own_relays[0] (\"smart host\"): not a host name",
        ),
    ];
    for (u, own, want) in cases {
        let own: Vec<String> = own.iter().map(|s| (*s).to_owned()).collect();
        let err = Providers::new(u, &own).expect_err(want);
        assert!(err.starts_with(want), "{err}\n  wanted: {want}");
    }
}

#[test]
fn hosts_split_as_logged() {
    let table: &[(&str, &str, &str)] = &[
        ("a.example[192.0.2.1]:25", "a.example", "192.0.2.1"),
        ("a.example. [192.0.2.1]", "a.example", "192.0.2.1"),
        ("[192.0.2.1]:25", "", "192.0.2.1"),
        ("a.example:25", "a.example", ""),
        ("2001:db8::1", "", "2001:db8::1"),
        (
            "a.example [IPv6:2001:db8::1]",
            "a.example",
            "IPv6:2001:db8::1",
        ),
    ];
    for (raw, name, addr) in table {
        let (n, a) = split_host(raw.as_bytes());
        assert_eq!((n, a), (name.as_bytes(), addr.as_bytes()), "{raw}");
    }
}
