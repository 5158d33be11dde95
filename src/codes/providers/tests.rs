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
        // OpenSMTPD: the reverse name of the address, for a domain hosted at Google.
        ("mail-ej1-f27.1e100.net", "example.com", "google"),
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
        ("yahoo.co.jp", Some("yahoo_japan")),
        ("yahoo.co.uk", Some("yahoo")),
        ("hotmail.example.org", None),
        ("hotmail.online", None),
        ("live.net", None),
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

/// For every built-in provider, MX hosts as logged (Postfix's `name[address]:port` or the bare
/// name of Exim, KumoMTA and `Remote-MTA:`) and one of its mailbox domains ("" for gateways,
/// which own none). Hosts marked "sisimai" are Remote-MTA names of real bounces in
/// shared/corpora/sisimai; the others are the forms the provider's setup page gives.
const EVERY_PROVIDER: &[(&str, &[&str], &str)] = &[
    (
        "google",
        &[
            "smtp.google.com[142.250.153.26]:25",
            "aspmx2.googlemail.com",
            "alt1.gmail-smtp-in.l.google.com",
        ], // sisimai
        "googlemail.com",
    ),
    (
        "microsoft",
        &[
            "outlook-com.olc.protection.outlook.com", // sisimai
            "contoso-com.mail.protection.outlook.com[52.101.68.1]:25",
            "contoso-com.l-v1.mx.microsoft[52.101.42.0]:25",
            "mx3.hotmail.com", // sisimai
        ],
        "outlook.com",
    ),
    (
        "yahoo",
        &["mx-aol.mail.gm0.yahoodns.net", "mta5.am0.yahoodns.net"], // sisimai
        "aol.com",
    ),
    (
        "apple",
        &["mx02.mail.icloud.com", "smtp1.privaterelay.appleid.com"], // sisimai
        "me.com",
    ),
    (
        "gmx",
        &[
            "mx00.emig.gmx.net[212.227.15.9]:25",
            "mx-ha03.web.de",
            "mx-ha.gmx.net",
            "mx01.mail.com",
        ], // sisimai
        "gmx.de",
    ),
    (
        "ionos",
        &["mx00.ionos.de", "mx00.ionos.co.uk", "mx.kundenserver.de"],
        "",
    ),
    ("telekom", &["mx00.t-online.de"], "t-online.de"),
    ("orange", &["smtp-in.orange.fr"], "wanadoo.fr"), // sisimai
    ("free", &["mx1.free.fr"], "free.fr"),            // sisimai
    ("sfr", &["smtp-in.sfr.fr"], "neuf.fr"),          // sisimai
    ("laposte", &["smtpz4.laposte.net"], "laposte.net"), // sisimai
    (
        "italiaonline",
        &["smtp-in.libero.it", "smtp-in.virgilio.it"],
        "virgilio.it",
    ),
    ("seznam", &["mx1.seznam.cz", "mx2.seznam.cz"], "email.cz"),
    (
        "yandex",
        &["mx.yandex.ru", "mx.yandex.net", "mxback5g.mail.yandex.net"],
        "yandex.com.tr",
    ),
    ("mailru", &["mxs.mail.ru", "emx.mail.ru"], "inbox.ru"), // sisimai: mxs
    (
        "zoho",
        &[
            "smtpin.zoho.com",
            "mx.zoho.eu",
            "mx.zoho.com.au",
            "mx.zohocloud.ca",
            "mx1.zohomail.com",
        ],
        "zohomail.com",
    ),
    (
        "proton",
        &["mail.protonmail.ch", "mailsec.protonmail.ch"],
        "pm.me",
    ),
    ("fastmail", &["in1-smtp.messagingengine.com"], "fastmail.fm"),
    ("tencent", &["mx3.qq.com", "mxbiz1.qq.com"], "foxmail.com"), // sisimai: mx3
    (
        "netease",
        &["163mx01.mxmail.netease.com", "126mx00.mxmail.netease.com"],
        "126.com",
    ),
    ("naver", &["mx1.naver.com"], "naver.com"),
    ("docomo", &["mfsmax.docomo.ne.jp."], "docomo.ne.jp"), // sisimai
    ("kddi", &["msmx.au.com", "lsean.ezweb.ne.jp"], "ezweb.ne.jp"), // sisimai
    (
        "comcast",
        &["mx1.comcast.net[76.96.62.116]:25", "mx2h1.comcast.net"],
        "comcast.net",
    ),
    (
        "att",
        &["al-ip4-mx-vip1.prodigy.net", "ff-ip4-mx-vip2.prodigy.net"],
        "sbcglobal.net",
    ),
    ("cox", &["cxr.mx.a.cloudfilter.net"], "cox.net"), // sisimai
    (
        "godaddy",
        &["smtp.secureserver.net", "mailstore1.secureserver.net"],
        "",
    ), // sisimai: smtp
    (
        "mimecast",
        &[
            "us-smtp-inbound-1.mimecast.com", // sisimai
            "za-smtp-inbound-1.mimecast.co.za",
            "je-smtp-inbound-2.mimecast-offshore.com",
        ],
        "",
    ),
    (
        "proofpoint",
        &["mx0a-00123401.pphosted.com", "mx1-us1.ppe-hosted.com"],
        "",
    ),
    (
        "barracuda",
        &[
            "d123456a.ess.barracudanetworks.com",
            "d123456a.ess.de.barracudanetworks.com",
        ],
        "",
    ),
    (
        "cisco",
        &[
            "mx1.hc1234-56.iphmx.com",
            "mx.eu.etd.cisco.com",
            "mx.usgov.etd.cisco",
        ],
        "",
    ),
    (
        "broadcom",
        &["cluster1.eu.messagelabs.com", "cluster9.us.messagelabs.com"],
        "",
    ),
    (
        "trendmicro",
        &[
            "example-com.in.tmes.trendmicro.com",
            "example-com.in.tmes.trendmicro.eu",
        ],
        "",
    ),
    (
        "sophos",
        &[
            "mx-01-eu-central-1.prod.hydra.sophos.com",
            "asp.reflexion.net",
        ],
        "",
    ),
    ("forcepoint", &["cust12345-1.in.mailcontrol.com"], ""),
    (
        "hornetsecurity",
        &["mx01.hornetsecurity.com", "filter1234.zerospam.ca"],
        "",
    ),
    (
        "mailchannels",
        &["mx1.mailchannels.net", "mx2.mailchannels.net"],
        "",
    ),
    (
        "spamexperts",
        &[
            "mx.spamexperts.com",
            "fallbackmx.spamexperts.eu",
            "lastmx.spamexperts.net",
            "filter10.antispamcloud.com",
        ],
        "",
    ),
    ("cloudflare", &["route3.mx.cloudflare.net"], ""), // sisimai
    ("yahoo_japan", &["mx2.mail.yahoo.co.jp"], "yahoo.co.jp"), // sisimai
];

#[test]
fn every_builtin_provider_by_its_mx_and_its_domain() {
    let t = Providers::default();
    for (name, hosts, domain) in EVERY_PROVIDER {
        for raw in *hosts {
            // A custom domain hosted there: the relay decides, not the recipient domain.
            assert_eq!(host(&t, raw, "example.net"), *name, "{raw}");
            assert_eq!(host(&t, raw, "gmail.com"), *name, "{raw} for gmail.com");
        }
        if !domain.is_empty() {
            let got = t.of_domain(domain.as_bytes()).map(|p| t.name(p));
            assert_eq!(got, Some(*name), "{domain}");
            assert_eq!(host(&t, "127.0.0.1[127.0.0.1]:10024", domain), *name);
        }
    }
    for b in BUILTIN {
        assert!(
            EVERY_PROVIDER.iter().any(|(n, _, _)| *n == b.name),
            "{} has no row in EVERY_PROVIDER",
            b.name
        );
    }
}

#[test]
fn near_misses_are_no_provider() {
    let t = Providers::default();
    let hosts = [
        "google.com.evil.example",
        "aspmx.l.google.com.example.net[192.0.2.1]:25",
        "notyahoodns.net",
        "yahoodns.net.example.org",
        "mail.company.com",
        "gmail.com.example.org",
        "fakemimecast.com",
        "mimecast.com.attacker.example",
        "pphosted.com.example.net",
        "myiphmx.com",
        "protection-outlook.com",
        "mx.microsoft.example",
        "mx.a.cloudfilter.net",
        "ip68-1-2-3.ph.ph.cox.net",
        "www.cloudflare.net",
        "lfbn-idf1-1-1.w90-1.abo.wanadoo.fr",
        "notau.com",
        "yandex.example.com",
        "mail.ru.example.com",
        "qq.com.cn",
    ];
    for raw in hosts {
        assert_eq!(host(&t, raw, "example.net"), "other", "{raw}");
    }
    let domains = [
        "hotmail.example.org",
        "gmx.example.org",
        "yandex.example.com",
        "outlook.company.com",
        "gmail.co",
        "notgmail.com",
        "mymail.ru",
        "qq.com.cn",
        "mail.com.example",
        "protonmail.example",
        "fastmail.example.com",
        "yahoo.example.net",
    ];
    for d in domains {
        assert_eq!(t.of_domain(d.as_bytes()), None, "{d}");
    }
}

#[test]
fn builtin_table_is_well_formed() {
    // Ids are positions: the first entries keep theirs.
    let first: Vec<&str> = BUILTIN.iter().take(4).map(|b| b.name).collect();
    assert_eq!(first, ["google", "microsoft", "yahoo", "apple"]);
    let mut names = BTreeMap::new();
    let mut mx = BTreeMap::new();
    let mut domains = BTreeMap::new();
    for b in BUILTIN {
        check_name(b.name).expect("a label value");
        assert!(!b.title.is_empty() && !b.mx.is_empty(), "{}", b.name);
        assert!(names.insert(b.name, ()).is_none(), "{} twice", b.name);
        for s in b.mx {
            assert_eq!(host_suffix(s, false).as_deref(), Ok(*s), "{}: {s}", b.name);
            // A bare top-level domain would take every host under it.
            assert!(s.contains('.'), "{}: {s}", b.name);
            let other = mx.insert(*s, b.name);
            assert!(other.is_none(), "mx {s}: {} and {other:?}", b.name);
        }
        for d in b.domains {
            assert_eq!(host_suffix(d, true).as_deref(), Ok(*d), "{}: {d}", b.name);
            let other = domains.insert(*d, b.name);
            assert!(other.is_none(), "domain {d}: {} and {other:?}", b.name);
        }
    }
    let t = Providers::default();
    let table: Vec<&str> = t.names().collect();
    assert_eq!(table.len(), BUILTIN.len() + 1);
    assert_eq!(table[0], "other");
}

#[test]
fn docs_list_every_builtin_provider_and_suffix() {
    let doc = include_str!("../../../docs/providers.md");
    for b in BUILTIN {
        let row = format!("| `{}` |", b.name);
        assert!(
            doc.contains(&row),
            "docs/providers.md has no row for {}",
            b.name
        );
        for s in b.mx.iter().chain(b.domains) {
            assert!(
                doc.contains(&format!("`{s}`")),
                "docs/providers.md lacks {s}"
            );
        }
    }
}
