//! The built-in provider table: mailbox providers and filtering gateways by the host names of
//! their MX servers and the mailbox domains they own. docs/providers.md says where each suffix
//! is documented; the user's `providers:` extend or replace entries (`super::Providers`).
//!
//! A suffix is a zone the provider owns (all of `mimecast.com` is Mimecast's) or, where the
//! zone is shared with other customers or other uses, the most specific name the provider
//! documents (`cxr.mx.a.cloudfilter.net`, not `cloudfilter.net`). Never a suffix that another
//! company's hosts can end with: matching is at label boundaries, so `mail.com` matches
//! `mx00.mail.com` but not `gmail.com` or `mail.company.com`.

/// One provider: its label value, the suffixes of its MX host names (a suffix matches a whole
/// name or its labels' end: `google.com` matches `aspmx.l.google.com`) and its mailbox
/// domains (matched whole; `hotmail.*` matches `hotmail.` followed by a country suffix such as
/// `com`, `fr` or `co.uk`).
pub struct Builtin {
    pub name: &'static str,
    /// Who it is, for docs and the landing page.
    pub title: &'static str,
    pub mx: &'static [&'static str],
    pub domains: &'static [&'static str],
}

/// In id order: new entries go at the end, so that label ids of saved state stay put.
pub const BUILTIN: &[Builtin] = &[
    Builtin {
        name: "google",
        title: "Google (Gmail, Google Workspace)",
        // 1e100.net: the reverse names of Google's servers, which OpenSMTPD logs as the
        // relay (`relay="142.250.102.27 (mail-xyz.1e100.net)"`) instead of the MX name.
        mx: &["google.com", "googlemail.com", "1e100.net"],
        domains: &["gmail.com", "googlemail.com"],
    },
    Builtin {
        name: "microsoft",
        title: "Microsoft (Outlook.com, Hotmail, Microsoft 365 / Exchange Online)",
        // hotmail.com: the consumer MX before outlook.com (mx1.hotmail.com … mx4), still
        // named in older bounces.
        mx: &["outlook.com", "mx.microsoft", "hotmail.com"],
        domains: &[
            "outlook.*",
            "hotmail.*",
            "live.*",
            "msn.com",
            "passport.com",
            "windowslive.com",
        ],
    },
    Builtin {
        name: "yahoo",
        title: "Yahoo (Yahoo Mail, AOL)",
        // aol.com: AOL's own MX before the move to yahoodns.net (mailin-01.mx.aol.com).
        // Yahoo! JAPAN is another company with its own servers: `yahoo_japan`.
        mx: &["yahoodns.net", "aol.com"],
        domains: &["yahoo.*", "ymail.com", "rocketmail.com", "aol.*", "aim.com"],
    },
    Builtin {
        name: "apple",
        title: "Apple (iCloud Mail)",
        // privaterelay.appleid.com: Hide My Email addresses, relayed by Apple.
        mx: &["mail.icloud.com", "privaterelay.appleid.com"],
        domains: &[
            "icloud.com",
            "me.com",
            "mac.com",
            "privaterelay.appleid.com",
        ],
    },
    Builtin {
        name: "gmx",
        title: "GMX, WEB.DE and mail.com (1&1 Mail & Media, United Internet)",
        mx: &["gmx.net", "gmx.com", "web.de", "mail.com"],
        domains: &[
            "gmx.*",
            "web.de",
            "mail.com",
            "email.com",
            "usa.com",
            "post.com",
            "myself.com",
            "consultant.com",
            "europe.com",
            "asia.com",
            "engineer.com",
            "iname.com",
        ],
    },
    Builtin {
        name: "ionos",
        title: "IONOS (1&1 hosting and mail)",
        // kundenserver.de: 1&1's MX before the IONOS names (mx00.kundenserver.de).
        mx: &[
            "ionos.com",
            "ionos.de",
            "ionos.co.uk",
            "ionos.es",
            "ionos.fr",
            "ionos.it",
            "ionos.mx",
            "ionos.ca",
            "kundenserver.de",
        ],
        domains: &[],
    },
    Builtin {
        name: "telekom",
        title: "Deutsche Telekom (T-Online, magenta.de)",
        mx: &["t-online.de"],
        domains: &["t-online.de", "magenta.de"],
    },
    Builtin {
        name: "orange",
        title: "Orange (orange.fr, Wanadoo)",
        // Not wanadoo.fr: Orange's customers' lines are named there (abo.wanadoo.fr).
        mx: &["orange.fr"],
        domains: &["orange.fr", "wanadoo.fr"],
    },
    Builtin {
        name: "free",
        title: "Free (Iliad, free.fr)",
        mx: &["free.fr"],
        domains: &["free.fr"],
    },
    Builtin {
        name: "sfr",
        title: "SFR (sfr.fr, neuf.fr)",
        mx: &["sfr.fr"],
        domains: &["sfr.fr", "neuf.fr", "cegetel.net", "club-internet.fr"],
    },
    Builtin {
        name: "laposte",
        title: "La Poste (laposte.net)",
        mx: &["laposte.net"],
        domains: &["laposte.net"],
    },
    Builtin {
        name: "italiaonline",
        title: "Italiaonline (Libero, Virgilio)",
        mx: &["libero.it", "virgilio.it"],
        domains: &[
            "libero.it",
            "virgilio.it",
            "inwind.it",
            "iol.it",
            "blu.it",
            "giallo.it",
        ],
    },
    Builtin {
        name: "seznam",
        title: "Seznam.cz",
        mx: &["seznam.cz"],
        domains: &["seznam.cz", "email.cz", "post.cz", "spoluzaci.cz"],
    },
    Builtin {
        name: "yandex",
        title: "Yandex (Yandex Mail, Yandex 360)",
        mx: &["yandex.ru", "yandex.net"],
        domains: &["yandex.*", "ya.ru", "narod.ru"],
    },
    Builtin {
        name: "mailru",
        title: "Mail.ru (VK)",
        mx: &["mail.ru"],
        domains: &["mail.ru", "inbox.ru", "list.ru", "bk.ru", "internet.ru"],
    },
    Builtin {
        name: "zoho",
        title: "Zoho Mail",
        // One zone per Zoho data centre.
        mx: &[
            "zoho.com",
            "zohomail.com",
            "zoho.eu",
            "zoho.in",
            "zoho.com.au",
            "zoho.jp",
            "zohocloud.ca",
            "zoho.sa",
            "zoho.com.cn",
        ],
        domains: &["zohomail.com", "zoho.com", "zohomail.eu", "zohomail.in"],
    },
    Builtin {
        name: "proton",
        title: "Proton Mail",
        mx: &["protonmail.ch"],
        domains: &["proton.me", "protonmail.com", "protonmail.ch", "pm.me"],
    },
    Builtin {
        name: "fastmail",
        title: "Fastmail",
        mx: &["messagingengine.com"],
        domains: &["fastmail.com", "fastmail.fm"],
    },
    Builtin {
        name: "tencent",
        title: "Tencent (QQ Mail, Foxmail, Tencent Exmail)",
        mx: &["qq.com"],
        domains: &["qq.com", "vip.qq.com", "foxmail.com"],
    },
    Builtin {
        name: "netease",
        title: "NetEase (163.com, 126.com, yeah.net)",
        mx: &["netease.com"],
        domains: &[
            "163.com",
            "126.com",
            "yeah.net",
            "188.com",
            "vip.163.com",
            "vip.126.com",
        ],
    },
    Builtin {
        name: "naver",
        title: "Naver Mail",
        mx: &["naver.com"],
        domains: &["naver.com"],
    },
    Builtin {
        name: "docomo",
        title: "NTT Docomo (docomo.ne.jp)",
        mx: &["docomo.ne.jp"],
        domains: &["docomo.ne.jp"],
    },
    Builtin {
        name: "kddi",
        title: "KDDI (au: au.com, ezweb.ne.jp)",
        mx: &["au.com", "ezweb.ne.jp"],
        domains: &["au.com", "ezweb.ne.jp"],
    },
    Builtin {
        name: "comcast",
        title: "Comcast (Xfinity, comcast.net)",
        // The zone: Comcast's MX names have changed (mx1.comcast.net, mx1h1.comcast.net);
        // its customers' lines, also named there, are no mail destinations.
        mx: &["comcast.net"],
        domains: &["comcast.net"],
    },
    Builtin {
        name: "att",
        title: "AT&T (att.net, SBCGlobal, BellSouth)",
        // AT&T's mailboxes take mail at prodigy.net hosts (al-ip4-mx-vip1.prodigy.net).
        mx: &["prodigy.net"],
        domains: &[
            "att.net",
            "sbcglobal.net",
            "bellsouth.net",
            "pacbell.net",
            "swbell.net",
            "ameritech.net",
            "flash.net",
            "prodigy.net",
            "snet.net",
            "wans.net",
            "nvbell.net",
        ],
    },
    Builtin {
        name: "cox",
        title: "Cox (cox.net)",
        // cloudfilter.net hosts other ISPs' mail too: only Cox's name. Not cox.net: Cox's MX
        // were never there, its customers' lines are (ip68-….cox.net).
        mx: &["cxr.mx.a.cloudfilter.net"],
        domains: &["cox.net"],
    },
    Builtin {
        name: "godaddy",
        title: "GoDaddy (Workspace Email, hosting)",
        mx: &["secureserver.net"],
        domains: &[],
    },
    Builtin {
        name: "mimecast",
        title: "Mimecast (email security gateway)",
        mx: &["mimecast.com", "mimecast.co.za", "mimecast-offshore.com"],
        domains: &[],
    },
    Builtin {
        name: "proofpoint",
        title: "Proofpoint (Proofpoint on Demand, Proofpoint Essentials)",
        mx: &["pphosted.com", "ppe-hosted.com"],
        domains: &[],
    },
    Builtin {
        name: "barracuda",
        title: "Barracuda (Email Gateway Defense)",
        mx: &["barracudanetworks.com"],
        domains: &[],
    },
    Builtin {
        name: "cisco",
        title: "Cisco Secure Email (Cloud Gateway, formerly IronPort; Threat Defense)",
        mx: &["iphmx.com", "etd.cisco.com", "etd.cisco"],
        domains: &[],
    },
    Builtin {
        name: "broadcom",
        title: "Broadcom (Symantec Email Security.cloud, MessageLabs)",
        mx: &["messagelabs.com"],
        domains: &[],
    },
    Builtin {
        name: "trendmicro",
        title: "Trend Micro (Email Security, Hosted Email Security)",
        mx: &["trendmicro.com", "trendmicro.eu"],
        domains: &[],
    },
    Builtin {
        name: "sophos",
        title: "Sophos (Sophos Email, Reflexion)",
        mx: &["sophos.com", "reflexion.net"],
        domains: &[],
    },
    Builtin {
        name: "forcepoint",
        title: "Forcepoint (Email Security Cloud, formerly Websense)",
        mx: &["mailcontrol.com"],
        domains: &[],
    },
    Builtin {
        name: "hornetsecurity",
        title: "Hornetsecurity (365 Total Protection, Spam and Malware Protection)",
        // zerospam.ca: Zerospam's customer MX names, routed to Hornetsecurity since 2021.
        mx: &["hornetsecurity.com", "zerospam.ca"],
        domains: &[],
    },
    Builtin {
        name: "mailchannels",
        title: "MailChannels (Inbound filtering)",
        mx: &["mailchannels.net"],
        domains: &[],
    },
    Builtin {
        name: "spamexperts",
        title: "N-able Mail Assure / SpamExperts",
        mx: &[
            "spamexperts.com",
            "spamexperts.eu",
            "spamexperts.net",
            "antispamcloud.com",
        ],
        domains: &[],
    },
    Builtin {
        name: "cloudflare",
        title: "Cloudflare (Email Routing)",
        // Only Email Routing's MX: cloudflare.net names other Cloudflare services.
        mx: &["mx.cloudflare.net"],
        domains: &[],
    },
    Builtin {
        name: "yahoo_japan",
        title: "Yahoo! JAPAN (LY Corporation)",
        // A licensee of the name with its own mail servers: deferrals there are not Yahoo's.
        // Its domain, matched whole, wins over `yahoo.*`.
        mx: &["mail.yahoo.co.jp"],
        domains: &["yahoo.co.jp", "ymail.ne.jp"],
    },
];
