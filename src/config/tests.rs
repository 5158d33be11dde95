use super::*;

#[test]
fn failures_and_time_zone_resolve() {
    let c = parse("failures:\n  enabled: false\ntime_zone: Asia/Tokyo\n").expect("valid config");
    assert_eq!(c.recent.keep, 0, "turned off keeps nothing");
    let zone = c
        .zone
        .as_ref()
        .and_then(|z| z.iana_name().map(str::to_owned));
    assert_eq!(zone.as_deref(), Some("Asia/Tokyo"));
    let c = parse("failures:\n  keep: 5000\n  show_addresses: true\n").expect("valid config");
    assert_eq!((c.recent.keep, c.recent.whole_addresses), (5000, true));
    assert_eq!(parse("").map(|c| c.recent.keep).ok(), Some(1000));
}

#[test]
fn empty_and_full_configs_parse() {
    assert!(parse("").is_ok());
    let c = parse(
        "web:\n  listen_address: 127.0.0.1:9978\nsources:\n  - path: /var/log/mail.log\n    format: postfix\ndomains:\n  max: 50\n  keep: [gmail.com]\n  groups:\n    microsoft: [outlook.com, hotmail.com]\n",
    )
    .expect("valid config");
    assert_eq!(c.domains.max, 50);
    assert_eq!(c.sources.len(), 1);
}

/// One test per mistake, each with the words that tell the user what to fix.
#[test]
fn mistakes_are_named() {
    let cases = [
        ("webb: {}\n", "unknown field `webb`"),
        ("web:\n  listen_adress: x\n", "line 2"),
        (
            "sources:\n  - path: /x\n    format: qmail\n",
            "sources[0].format: unknown log format \"qmail\"",
        ),
        ("sources:\n  - path: /a\n  - path: /b\n", "used twice"),
        (
            "sources:\n  - name: \"bad name\"\n    path: /a\n",
            "sources[0].name",
        ),
        ("domains:\n  max: -1\n", "domains.max"),
        ("failures:\n  keep: 10\n", "failures.keep: 10 is out of range"),
        ("failures:\n  per_series: 9\n", "failures.per_series: at most 8"),
        ("failures:\n  series_max: 1000000\n", "failures.series_max: at most"),
        ("failures:\n  text_max: 20000\n", "failures.text_max"),
        ("failures:\n  keeep: 10\n", "unknown field `keeep`"),
        ("failures:\n  show_addresses: maybe\n", "failures.show_addresses"),
        ("time_zone: Europe/Berln\n", "time_zone: unknown zone \"Europe/Berln\""),
        ("web:\n  telemetry_path: /-/x\n", "web.telemetry_path"),
        ("domains:\n  groups:\n    ms: []\n", "domains.groups.ms"),
        (
            "reasons:\n  - reason: quota\n    match: '(unclosed'\n",
            "reasons[0] (quota).match: invalid regex",
        ),
        (
            "reasons:\n  - reason: Mailbox Full\n    match: x\n",
            "reasons[0] (Mailbox Full).reason",
        ),
        (
            "reasons:\n  - reason: x\n    regex: y\n",
            "unknown field `regex`",
        ),
        (
            "sources:\n  - path: /a\n    queue:\n      config_dir: /etc/postfix\n",
            "unknown field `config_dir`",
        ),
        (
            "sources:\n  - path: /a\n    format: exchange\n    queue:\n      postfix_config_dir: /etc/postfix\n",
            "sources[0].queue: only Postfix, Exim and OpenSMTPD queues",
        ),
        (
            "sources:\n  - path: /a\n    format: exim\n    queue:\n      postfix_config_dir: /etc/postfix\n",
            "sources[0].queue.postfix_config_dir: only for a source of postfix",
        ),
        (
            "sources:\n  - path: /a\n    format: postfix\n    queue:\n      exim_config: /etc/exim4/exim4.conf\n",
            "sources[0].queue.exim_config: only for a source of exim",
        ),
        (
            "sources:\n  - path: /a\n    format: postfix\n    queue:\n      smtpctl: /usr/sbin/smtpctl\n",
            "sources[0].queue.smtpctl: only for a source of opensmtpd",
        ),
        ("sources:\n  - path: \"/var/log/[a-\"\n", "invalid glob"),
        (
            "sources:\n  - path: /a\n    instances:\n      postfix-out: postfix\n",
            "used twice",
        ),
        (
            "sources:\n  - path: /a\n    wrapper: podman\n",
            "sources[0].wrapper: unknown log wrapper",
        ),
        (
            "sources:\n  - path: /var/log/containers/x.log\n    instances:\n      postfix-out: out\n",
            "sources[0].instances: not available behind a container log wrapper",
        ),
        (
            "syslog:\n  - listen_address: udp://localhost:514\n",
            "syslog[0].listen_address",
        ),
        (
            "syslog:\n  - listen_address: tcp://127.0.0.1:514\n    queue_size: 0\n",
            "syslog[0].queue_size",
        ),
        (
            "syslog:\n  - listen_address: tcp://127.0.0.1:514\n    max_message_size: 999999999\n",
            "syslog[0].max_message_size",
        ),
        (
            "sources:\n  - path: /a\n    name: syslog\nsyslog:\n  - listen_address: unix:///run/x\n",
            "used twice",
        ),
        ("mailboxes:\n  - path: \"\"\n", "mailboxes[0].path"),
        (
            "mailboxes:\n  - path: /m\n    folder: x\n",
            "unknown field `folder`",
        ),
        (
            "sources:\n  - path: /a\n    name: dsn\nmailboxes:\n  - path: /m\n",
            "mailboxes[0]: the source name \"dsn\" is used twice",
        ),
    ];
    for (text, want) in cases {
        let err = parse(text).expect_err(text);
        assert!(err.contains(want), "{text:?}: {err:?} lacks {want:?}");
    }
}

/// `providers:` and `own_relays:`: one case per mistake, each naming its YAML path.
#[test]
fn provider_mistakes_are_named() {
    let cases = [
        (
            "providers:\n  Acme:\n    mx: [mx.acme.example]\n",
            "providers.Acme: \"Acme\" is no provider name",
        ),
        (
            "providers:\n  other:\n    mx: [mx.acme.example]\n",
            "providers.other: `other` is the label",
        ),
        (
            "providers:\n  acme: {}\n",
            "providers.acme: lists no `mx` host suffixes and no `domains`",
        ),
        (
            "providers:\n  acme:\n    mx: ['*.acme.example']\n",
            "providers.acme.mx[0] (\"*.acme.example\"): not a host name",
        ),
        (
            "providers:\n  acme:\n    mx: [192.0.2.1]\n",
            "providers.acme.mx[0] (\"192.0.2.1\"): an address is no host-name suffix",
        ),
        (
            "providers:\n  acme:\n    domains: [postmaster@acme.example]\n",
            "providers.acme.domains[0] (\"postmaster@acme.example\"): not a host name",
        ),
        (
            "providers:\n  acme:\n    mx: [acme.example]\n  beta:\n    mx: [acme.example]\n",
            "providers.beta.mx[0]: mx acme.example is also listed under providers.acme",
        ),
        (
            "providers:\n  acme:\n    mx_hosts: [acme.example]\n",
            "unknown field `mx_hosts`",
        ),
        (
            "providers:\n  acme:\n    mx: acme.example\n",
            "providers.acme.mx: invalid type",
        ),
        (
            "own_relays: [\"smarthost example\"]\n",
            "own_relays[0] (\"smarthost example\"): not a host name",
        ),
    ];
    for (text, want) in cases {
        let err = parse(text).expect_err(text);
        assert!(err.contains(want), "{text:?}: {err:?} lacks {want:?}");
    }
}
