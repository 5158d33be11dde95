//! The built-in provider table: mailbox providers and filtering gateways by the host names of
//! their MX servers and the mailbox domains they own. docs/providers.md says where each suffix
//! is documented; the user's `providers:` extend or replace entries (`super::Providers`).

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

pub const BUILTIN: &[Builtin] = &[
    Builtin {
        name: "google",
        title: "Google (Gmail, Google Workspace)",
        mx: &["google.com", "googlemail.com"],
        domains: &["gmail.com", "googlemail.com"],
    },
    Builtin {
        name: "microsoft",
        title: "Microsoft (Outlook.com, Hotmail, Microsoft 365 / Exchange Online)",
        mx: &["outlook.com", "mx.microsoft"],
        domains: &[
            "outlook.*",
            "hotmail.*",
            "live.*",
            "msn.com",
            "passport.com",
        ],
    },
    Builtin {
        name: "yahoo",
        title: "Yahoo (Yahoo Mail, AOL)",
        mx: &["yahoodns.net"],
        domains: &["yahoo.*", "ymail.com", "rocketmail.com", "aol.*", "aim.com"],
    },
    Builtin {
        name: "apple",
        title: "Apple (iCloud Mail)",
        mx: &["mail.icloud.com"],
        domains: &["icloud.com", "me.com", "mac.com"],
    },
];
