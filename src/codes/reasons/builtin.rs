//! The built-in rule table of the reason classes, in order, and the reason names it uses.
//! The rules the user writes come before it; [`super::Reasons`] is the engine that applies
//! both.

/// The reason names of the built-in table, in a fixed order (their index is their id). User
/// rules may add names of their own after them.
pub const BUILTIN_REASONS: &[&str] = &[
    "other",
    "invalid_recipient",
    "mailbox_disabled",
    "mailbox_full",
    "message_too_large",
    "blocklisted",
    "reputation",
    "spam_content",
    "virus",
    "authentication_failed",
    "reverse_dns",
    "smtp_auth",
    "rate_limited",
    "greylisted",
    "tls_required",
    "tls_failed",
    "dns_failure",
    "connection_failed",
    "relay_denied",
    "policy",
    "protocol_error",
    "message_format",
    "server_error",
    // Classes of the field's taxonomies (Sisimai's `rejected`, `filtered`, `notaccept`, and a
    // loop) added later: after the first ones, so no id changes.
    "sender_rejected",
    "filtered",
    "not_accepting",
    "routing_loop",
    // Our own blocklist lookups refused (the DNSBL answered about the query, not the client).
    "dnsbl_unusable",
];

/// One rule of the built-in table.
pub(super) struct BuiltinRule {
    pub(super) reason: &'static str,
    pub(super) codes: &'static [u16],
    pub(super) enhanced: &'static [&'static str],
    /// A regex on the reply text, matched case-insensitively; empty: no text condition.
    pub(super) text: &'static str,
}

const fn text(reason: &'static str, text: &'static str) -> BuiltinRule {
    BuiltinRule {
        reason,
        codes: &[],
        enhanced: &[],
        text,
    }
}

const fn enh(reason: &'static str, enhanced: &'static [&'static str]) -> BuiltinRule {
    BuiltinRule {
        reason,
        codes: &[],
        enhanced,
        text: "",
    }
}

/// The built-in rules, in order. Each text was written against real replies of the large
/// providers and common blocklists (see the table of provider replies in the tests of `reasons`).
/// Providers' own codes (Yahoo's `[TS0x]`, Microsoft's 5.7.606–649, Cox's `AUP#…` from its
/// postmaster error-code page) are read with the words of the class they document.
pub(super) static BUILTIN: &[BuiltinRule] = &[
    // A DNSBL that refuses our resolver's queries answers with a "listing" that says so
    // (Spamhaus's 127.255.255.252–255: open resolver, excessive queries, typing error;
    // URIBL's "query refused"): not the client's fault but our server's DNS setup, refusing
    // everyone's mail. Before the blocklist rule, whose words the same reply holds.
    text(
        "dnsbl_unusable",
        r"error: open resolver|error: excessive number of queries|error: typing error in dnsbl name|spamhaus\.org/returnc/|uribl\.com/refused|\bquery refused\b|127\.255\.255\.25[2-5]",
    ),
    // DNS blocklists and providers' own block lists, named in the text.
    text(
        "blocklisted",
        r"blocked using|block ?list|blacklist|\bdnsbl\b|\brbl\b|spamhaus|barracuda|spamcop|sorbs\.net|uceprotect|abuseat\.org|\bsurbl\b|\bpsbl\b|banned sending ip|\(S3150\)|\[TSS09\]|\[TS03\]|listed (?:at|on|in|by) [a-z0-9.-]{1,60}\.(?:org|net|com)|aup#(?:cxbl|cdrbl|ipbl[01]{4})|client host blocked",
    ),
    // Microsoft: 5.7.511 banned sender, 5.7.606–649 banned sending IP.
    enh("blocklisted", &["5.7.511", "5.7.606-649"]),
    // Sender authentication: SPF, DKIM, DMARC (RFC 7372 codes, Microsoft's 5.7.509).
    enh(
        "authentication_failed",
        &[
            "X.7.20", "X.7.21", "X.7.22", "X.7.23", "X.7.24", "X.7.26", "5.7.509",
        ],
    ),
    // A verdict beats the advice after it ("rejected due to spam classification. To address
    // this issue: set up SPF records"): the words of a verdict first.
    text(
        "spam_content",
        r"(?:rejected|blocked|flagged|classified) (?:due to |as |for )?(?:being )?spam|spam classification",
    ),
    // Header errors that providers give with 5.7.1 and a word on spam.
    text(
        "message_format",
        r"not rfc ?5322 compliant|rfc ?5322 (?:non-?)?complian|multiple (?:\d{3}[ -][245]\.\d{1,3}\.\d{1,3} )?(?:addresses in from|[a-z-]{1,20} headers)|duplicate header|header error",
    ),
    // Microsoft's 5.7.512: the message must be RFC 5322 section 3.6.2 compliant.
    enh("message_format", &["5.7.512"]),
    text(
        "authentication_failed",
        r"\b(?:spf|dkim|dmarc)\b|sender is unauthenticated|does not have authentication information|unauthenticated (?:e-?mail|mail|sender)|sender policy framework|sender authentication",
    ),
    enh("reverse_dns", &["X.7.25"]),
    text(
        "reverse_dns",
        r"\bptr record|reverse (?:dns|lookup|hostname|mapping)|\brdns\b|fcrdns|cannot find your (?:reverse )?hostname|ip name lookup failed|mismatches client ip",
    ),
    text("greylisted", r"gr[ae]y-?list"),
    text(
        "tls_required",
        r"starttls|tls (?:is )?(?:required|mandatory)|requires? (?:a )?tls|encryption (?:is )?(?:required|needed)",
    ),
    enh("tls_required", &["X.7.10", "X.7.11"]),
    text(
        "tls_failed",
        r"does not support tls|tls (?:handshake|negotiation|session) fail|handshake fail|cannot start tls|certificate verification|untrusted certificate|certificate (?:has )?expired",
    ),
    // Provider-specific rate-limit codes: Gmail 4.7.28, Microsoft 4.7.650 and 4.7.500.
    enh("rate_limited", &["4.7.28", "4.7.500", "4.7.650"]),
    enh("reputation", &["5.7.708"]),
    text(
        "reputation",
        r"reputation|traffic not accepted from this ip|sender score",
    ),
    text(
        "virus",
        r"virus|malware|infected|security issue|dangerous (?:content|attachment)|(?:banned|blocked|prohibited) (?:file )?attachment|executable",
    ),
    enh("spam_content", &["5.7.350"]),
    text(
        "spam_content",
        r"spam|unsolicited|\bjunk\b|bulk mail|content (?:filter|rejected|not acceptable)|message content|phish",
    ),
    // X.7.13 is a disabled account of a client that authenticated, but servers also give it
    // to a disabled recipient: the words decide first.
    text(
        "mailbox_disabled",
        r"disabled (?:recipient|account|mailbox|user)",
    ),
    // Microsoft's 5.7.57: not authenticated to send anonymous mail (its submission).
    enh("smtp_auth", &["X.7.8", "X.7.12", "X.7.13", "5.7.57"]),
    BuiltinRule {
        reason: "smtp_auth",
        codes: &[530, 535, 538],
        enhanced: &[],
        text: "",
    },
    text(
        "smtp_auth",
        r"smtp authentication|authentication (?:failed|failure|required|credentials)|username and password not accepted|invalid credentials|must (?:authenticate|be authenticated)",
    ),
    enh("message_too_large", &["X.3.4", "X.2.3"]),
    text(
        "message_too_large",
        r"size limit|message size|(?:message|mail) (?:is )?too (?:large|big)|exceeds? (?:the )?(?:maximum|max|fixed) (?:message )?size",
    ),
    text(
        "rate_limited",
        r"rate.?limit|too many (?:connections|messages|recipients|concurrent|sessions|mails|emails)|too much mail|throttl|unexpected volume|\[TSS?0[1-4]\]|receiving mail (?:at a rate|too quickly)|server busy|sending (?:quota|limit|rate)|too fast|slow down|frequency limit|aup#cx(?:mxrt|cnct)",
    ),
    enh("mailbox_full", &["X.2.2"]),
    text(
        "mailbox_full",
        r"mailbox (?:is )?full|over ?quota|quota exceeded|exceeded (?:the |its |their )?(?:storage |mailbox )?quota|insufficient (?:user )?(?:storage|disk space) for",
    ),
    // Microsoft: 5.4.1 "Recipient address rejected: Access denied" (directory-based edge
    // blocking: the recipient does not exist), not a network failure.
    BuiltinRule {
        reason: "invalid_recipient",
        codes: &[],
        enhanced: &["5.4.1"],
        text: r"recipient address rejected",
    },
    text(
        "relay_denied",
        r"relay(?:ing)? (?:access )?(?:denied|not (?:permitted|allowed))|not permitted to relay|unable to relay|we do not relay|not configured to relay",
    ),
    enh("relay_denied", &["5.7.64"]),
    // Our sender refused (its address or domain), not the recipient: before the words on
    // DNS and unknown users that such replies also carry.
    text(
        "sender_rejected",
        r"sender (?:address )?(?:rejected|refused|denied|verify failed|verification failed)|domain of sender address|sender domain (?:must exist|does not exist|not found)|unverified sender|purported responsible address|invalid sender|sender address has null mx|aup#cxsndr",
    ),
    // A domain that says it takes no mail (RFC 7505's null MX).
    text(
        "not_accepting",
        r"null mx|does not accept mail|doesn'?t receive e-?mail|accepts no mail",
    ),
    // X.7.27 is RFC 7505's "Sender address has null MX": ours, not the recipient's.
    enh("sender_rejected", &["X.1.7", "X.1.8", "X.7.27"]),
    text(
        "routing_loop",
        r"routing loop|mail(?:ing)? loop|loop(?:ing)? detected|too many hops|hop count exceeded|forwarding loop",
    ),
    enh("routing_loop", &["X.4.6"]),
    text(
        "filtered",
        r"message filtered|recipient preferences|(?:rejected|blocked|refused) by (?:the )?(?:recipient|user)'?s? (?:filter|rules|settings)",
    ),
    text(
        "dns_failure",
        r"name service error|host not found|domain not found|host or domain name not found|nxdomain|no mx|dns (?:error|failure|lookup)|mx lookup|unable to resolve|unresolvable|servfail|no such domain|host unknown|domain (?:is )?not reachable|unrout(?:e)?able|dns query failed",
    ),
    text(
        "invalid_recipient",
        r"user unknown|unknown user|user not (?:found|exist)|user does not exist|address rejected\.?\s*$|no such (?:user|mailbox|recipient|address)|(?:mailbox|account|recipient|user|address)(?: that you tried to reach)? (?:does not|doesn't) exist|recipient not found|recipientnotfound|invalid (?:recipient|mailbox)|mailbox not found|unknown (?:recipient|mailbox|or illegal alias)|doesn't have an? [a-z0-9.-]{1,60} account|not a valid (?:mailbox|recipient)|undeliverable address",
    ),
    enh("invalid_recipient", &["X.1.1", "X.1.3", "X.1.6", "X.1.0"]),
    // RFC 7505's null MX code; Microsoft also gives it to unknown recipients, with words that
    // the rule above reads first.
    enh("not_accepting", &["X.1.10"]),
    // RFC 5321's words for 550 (Microsoft answers unknown recipients with them); with a
    // 4xx, "mailbox unavailable" is a passing state that says nothing more.
    BuiltinRule {
        reason: "invalid_recipient",
        codes: &[],
        enhanced: &["5.*.*"],
        text: r"mailbox unavailable",
    },
    enh("dns_failure", &["X.1.2", "X.4.3", "X.4.4"]),
    text(
        "mailbox_disabled",
        r"(?:account|mailbox|user|address) (?:is |has been )?(?:temporar(?:il)?y )?(?:disabled|inactive|suspended|deactivated|locked|frozen)|account (?:is |has been )?blocked|temporar(?:il)?y locked|inactive (?:e-?mail address|account|user|mailbox)",
    ),
    enh("mailbox_disabled", &["X.2.1"]),
    text(
        "connection_failed",
        r"connection (?:refused|timed out|reset|closed|dropped)|timed out|lost connection|network is unreachable|no route to host|(?:could|unable to) not connect|unable to connect",
    ),
    // Microsoft's 5.4.310–312 (the destination's DNS) and 5.4.316 (connection refused).
    enh("dns_failure", &["5.4.310-312"]),
    enh("connection_failed", &["X.4.1", "X.4.2", "X.4.0", "5.4.316"]),
    text(
        "server_error",
        r"temporary (?:server|system|local) (?:error|problem|failure)|internal (?:server )?error|local error in processing|insufficient system storage|insufficient disk space|queue file write error|service currently unavailable",
    ),
    enh("server_error", &["X.3.*"]),
    text(
        "protocol_error",
        r"too many errors|syntax error|protocol violation|parameter not implemented|command (?:not )?(?:recognized|unrecognized|not implemented)|bad sequence|improper use of smtp|pipelining",
    ),
    enh("protocol_error", &["X.5.*"]),
    enh("message_format", &["X.6.*"]),
    enh("policy", &["X.7.*"]),
    text(
        "policy",
        r"policy|access denied|not allowed|prohibited|refused",
    ),
];
