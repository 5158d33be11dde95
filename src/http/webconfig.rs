//! `--web.config.file`: TLS and basic authentication, in the file format of the Prometheus
//! exporter-toolkit, so one file serves this exporter and the node_exporter alike:
//!
//! ```yaml
//! tls_server_config:
//!   cert_file: server.crt          # relative paths are taken from the web config's directory
//!   key_file: server.key
//!   min_version: TLS12             # TLS12 (default) or TLS13
//!   client_auth_type: RequireAndVerifyClientCert
//!   client_ca_file: clients-ca.crt
//! basic_auth_users:
//!   prometheus: $2y$10$...         # bcrypt hash (htpasswd -nBC 10 "" | tr -d ':\n')
//! ```
//!
//! Strict: an unknown field is an error, and so is a field of the toolkit's format this
//! exporter does not implement (it would otherwise be silently weaker than the user meant).
//! The file is read at start (a mistake exits 2 naming the field) and again on SIGHUP, when a
//! mistake keeps the configuration in force and logs why.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use serde::Deserialize;

use super::admission::{Limits, LimitsFile};
use super::auth::Users;
use super::tls;

/// The file as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct File {
    #[serde(default)]
    pub tls_server_config: Option<TlsFile>,
    #[serde(default)]
    pub http_server_config: Option<HttpFile>,
    #[serde(default)]
    pub basic_auth_users: Option<BTreeMap<String, String>>,
    /// This exporter's own section (the toolkit has none like it): see [`LimitsFile`].
    #[serde(default)]
    pub connection_limits: Option<LimitsFile>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsFile {
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    pub client_auth_type: Option<String>,
    pub client_ca_file: Option<PathBuf>,
    pub min_version: Option<String>,
    pub max_version: Option<String>,
    // Fields of the toolkit's format that are refused with a reason rather than as unknown.
    pub cert: Option<serde_yaml::Value>,
    pub key: Option<serde_yaml::Value>,
    pub client_allowed_sans: Option<serde_yaml::Value>,
    pub cipher_suites: Option<serde_yaml::Value>,
    pub curve_preferences: Option<serde_yaml::Value>,
    pub prefer_server_cipher_suites: Option<serde_yaml::Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpFile {
    /// Accepted for files shared with other exporters; this one serves HTTP/1.1 only.
    pub http2: Option<bool>,
    pub headers: Option<serde_yaml::Value>,
}

/// Who may connect and how, as one consistent whole (swapped as one on reload).
#[derive(Default)]
pub struct WebConfig {
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Who must show a client certificate (meaningful with `tls` only).
    pub client_auth: Option<ClientAuth>,
    pub users: Option<Users>,
    /// Connections served at once, per client address, and who is exempt.
    pub limits: Limits,
}

impl std::fmt::Debug for WebConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebConfig")
            .field("tls", &self.tls.is_some())
            .field("users", &self.users.as_ref().map(Users::len))
            .finish()
    }
}

impl WebConfig {
    /// What the log says at start and after a reload.
    pub fn describe(&self) -> String {
        let tls = match (&self.tls, self.client_auth) {
            (None, _) => "plain HTTP",
            (Some(_), Some(ClientAuth::RequireAndVerify)) => "TLS, client certificate required",
            (Some(_), Some(ClientAuth::VerifyIfGiven)) => {
                "TLS, client certificate verified if given"
            }
            (Some(_), _) => "TLS",
        };
        let auth = match &self.users {
            Some(u) => format!(", basic auth ({} user(s))", u.len()),
            None => String::new(),
        };
        let l = &self.limits;
        let exempt = match l.exempt().len() {
            0 => String::new(),
            n => format!(", {n} exempt net(s)"),
        };
        format!(
            "{tls}{auth}; at most {} connections, {} per client address{exempt}",
            l.max(),
            l.per_client()
        )
    }
}

/// Reads, checks and builds the configuration in `path`. The error names the file and field.
pub fn load(path: &Path) -> Result<WebConfig, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("--web.config.file {}: {e}", path.display()))?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let config =
        parse(&text, dir).map_err(|e| format!("--web.config.file {}: {e}", path.display()))?;
    if config.users.is_some() && config.tls.is_none() {
        tracing::warn!(
            "--web.config.file {}: basic_auth_users without tls_server_config: passwords cross \
             the network in clear text; add tls_server_config",
            path.display()
        );
    }
    Ok(config)
}

/// Parses and builds a web configuration; relative file names are taken from `dir`.
pub fn parse(text: &str, dir: &Path) -> Result<WebConfig, String> {
    build(&read(text)?, dir)
}

/// The file as written (strict: unknown fields are errors).
pub fn read(text: &str) -> Result<File, String> {
    // An empty file is the toolkit's "no TLS, no auth".
    if text.trim().is_empty() {
        return Ok(File::default());
    }
    serde_yaml::from_str(text).map_err(|e| e.to_string())
}

/// Every check that needs no file: the field values and their combinations, the bcrypt hashes.
/// (What [`parse`] does before it reads certificates; the fuzz target of the web config.)
pub fn check(file: &File, dir: &Path) -> Result<Option<TlsSettings>, String> {
    if let Some(u) = &file.basic_auth_users {
        Users::new(u)?;
    }
    if let Some(l) = &file.connection_limits {
        l.check()?;
    }
    file.tls_server_config
        .as_ref()
        .map(|t| check_tls(t, dir))
        .transpose()
}

fn unsupported(field: &str, why: &str) -> String {
    format!("{field}: not supported by smtp-status-exporter ({why}): remove it")
}

fn build(file: &File, dir: &Path) -> Result<WebConfig, String> {
    if let Some(h) = &file.http_server_config {
        if h.headers.is_some() {
            return Err(unsupported(
                "http_server_config.headers",
                "it sets no response headers",
            ));
        }
        if h.http2 == Some(true) {
            tracing::info!("web config: http_server_config.http2 is ignored: HTTP/1.1 is served");
        }
    }
    let (tls, client_auth) = match &file.tls_server_config {
        Some(t) => {
            let settings = check_tls(t, dir)?;
            (
                Some(Arc::new(tls::server_config(&settings)?)),
                Some(settings.client_auth),
            )
        }
        None => (None, None),
    };
    let users = match &file.basic_auth_users {
        Some(u) => Some(Users::new(u)?),
        None => None,
    };
    let limits = match &file.connection_limits {
        Some(l) => l.check()?,
        None => Limits::default(),
    };
    Ok(WebConfig {
        tls,
        client_auth,
        users,
        limits,
    })
}

/// Who must show a client certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    None,
    /// Verified against the client CA when given; a client without one is let in.
    VerifyIfGiven,
    RequireAndVerify,
}

/// `tls_server_config`, checked, with absolute file names.
#[derive(Debug, Clone)]
pub struct TlsSettings {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    pub client_auth: ClientAuth,
    pub client_ca_file: Option<PathBuf>,
    /// Whether TLS 1.2 is offered (TLS 1.3 always is).
    pub tls12: bool,
}

fn version(field: &str, v: &str) -> Result<u8, String> {
    match v {
        "TLS12" => Ok(12),
        "TLS13" => Ok(13),
        "TLS10" | "TLS11" => Err(format!(
            "{field}: {v} is not offered (TLS 1.0 and 1.1 are obsolete): use TLS12 or TLS13"
        )),
        _ => Err(format!(
            "{field}: unknown version {v:?}: use TLS12 or TLS13"
        )),
    }
}

/// Where the TLS fields are, for messages.
const SECTION: &str = "tls_server_config";

fn check_tls(t: &TlsFile, dir: &Path) -> Result<TlsSettings, String> {
    refuse_unsupported(t)?;
    let cert_file = tls_file(dir, "cert_file", &t.cert_file)?
        .ok_or_else(|| format!("{SECTION}.cert_file: missing (the server certificate, PEM)"))?;
    let key_file = tls_file(dir, "key_file", &t.key_file)?
        .ok_or_else(|| format!("{SECTION}.key_file: missing (the server's private key, PEM)"))?;
    let client_ca_file = tls_file(dir, "client_ca_file", &t.client_ca_file)?;
    let client_auth = client_auth(t.client_auth_type.as_deref())?;
    check_client_ca(client_auth, &client_ca_file, t)?;
    Ok(TlsSettings {
        cert_file,
        key_file,
        client_auth,
        client_ca_file,
        tls12: tls12(t)?,
    })
}

/// The fields of the Prometheus web configuration that this exporter does not honour, each
/// refused with why, rather than ignored.
fn refuse_unsupported(t: &TlsFile) -> Result<(), String> {
    let refused = [
        (
            "cert",
            t.cert.is_some(),
            "give the certificate as cert_file",
        ),
        ("key", t.key.is_some(), "give the key as key_file"),
        (
            "client_allowed_sans",
            t.client_allowed_sans.is_some(),
            "client certificates are checked against client_ca_file only",
        ),
        (
            "cipher_suites",
            t.cipher_suites.is_some(),
            "rustls offers only its own safe suites",
        ),
        (
            "curve_preferences",
            t.curve_preferences.is_some(),
            "rustls chooses among its own safe groups",
        ),
        (
            "prefer_server_cipher_suites",
            t.prefer_server_cipher_suites.is_some(),
            "rustls always prefers the server's order",
        ),
    ];
    for (field, present, why) in refused {
        if present {
            return Err(unsupported(&format!("{SECTION}.{field}"), why));
        }
    }
    Ok(())
}

/// A file name of `tls_server_config`, relative to the web configuration file's directory.
fn tls_file(dir: &Path, field: &str, p: &Option<PathBuf>) -> Result<Option<PathBuf>, String> {
    match p {
        Some(p) if p.as_os_str().is_empty() => Err(format!("{SECTION}.{field}: empty file name")),
        Some(p) => Ok(Some(dir.join(p))),
        None => Ok(None),
    }
}

/// `client_auth_type`; the two kinds that do not verify the certificate are refused.
fn client_auth(v: Option<&str>) -> Result<ClientAuth, String> {
    match v {
        None | Some("") | Some("NoClientCert") => Ok(ClientAuth::None),
        Some("VerifyClientCertIfGiven") => Ok(ClientAuth::VerifyIfGiven),
        Some("RequireAndVerifyClientCert") => Ok(ClientAuth::RequireAndVerify),
        Some(v @ ("RequestClientCert" | "RequireAnyClientCert")) => Err(unsupported(
            &format!("{SECTION}.client_auth_type {v}"),
            "a client certificate not verified against a CA proves nothing; use \
             RequireAndVerifyClientCert or VerifyClientCertIfGiven with client_ca_file",
        )),
        Some(v) => Err(format!(
            "{SECTION}.client_auth_type: unknown value {v:?}: use NoClientCert, \
             VerifyClientCertIfGiven or RequireAndVerifyClientCert"
        )),
    }
}

/// A client CA goes with a verifying `client_auth_type`, and only with one.
fn check_client_ca(
    client_auth: ClientAuth,
    client_ca_file: &Option<PathBuf>,
    t: &TlsFile,
) -> Result<(), String> {
    match (client_auth, client_ca_file) {
        (ClientAuth::None, Some(_)) => Err(format!(
            "{SECTION}.client_ca_file is set but client_auth_type is NoClientCert: set \
             client_auth_type to RequireAndVerifyClientCert (or remove client_ca_file)"
        )),
        (ClientAuth::VerifyIfGiven | ClientAuth::RequireAndVerify, None) => Err(format!(
            "{SECTION}.client_ca_file: missing: client_auth_type {} needs the CA that signs the \
             client certificates",
            t.client_auth_type.as_deref().unwrap_or_default()
        )),
        _ => Ok(()),
    }
}

/// `min_version` and `max_version`: whether TLS 1.2 is offered (TLS 1.3 always is).
fn tls12(t: &TlsFile) -> Result<bool, String> {
    let min = match &t.min_version {
        Some(v) => version(&format!("{SECTION}.min_version"), v)?,
        None => 12,
    };
    let max = match &t.max_version {
        Some(v) => version(&format!("{SECTION}.max_version"), v)?,
        None => 13,
    };
    if min > max {
        return Err(format!(
            "{SECTION}.min_version is above max_version: no TLS version is left"
        ));
    }
    if max < 13 {
        return Err(unsupported(
            &format!("{SECTION}.max_version TLS12"),
            "TLS 1.3 is always offered",
        ));
    }
    Ok(min <= 12)
}

/// The web configuration in force, and where it is read from again on SIGHUP.
#[derive(Debug, Default)]
pub struct WebHandle {
    path: Option<PathBuf>,
    current: RwLock<Arc<WebConfig>>,
}

impl WebHandle {
    /// Reads `path` (none: plain HTTP, no auth). A mistake is returned for the caller to exit 2.
    pub fn open(path: Option<PathBuf>) -> Result<WebHandle, String> {
        let config = match &path {
            Some(p) => load(p)?,
            None => WebConfig::default(),
        };
        Ok(WebHandle {
            path,
            current: RwLock::new(Arc::new(config)),
        })
    }

    pub fn current(&self) -> Arc<WebConfig> {
        Arc::clone(&self.current.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// Reads the file and its certificates again. On a mistake the configuration in force
    /// stays, and the error says why.
    pub fn reload(&self) -> Result<Option<String>, String> {
        let Some(path) = &self.path else {
            return Ok(None);
        };
        let config = load(path)?;
        let said = config.describe();
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(config);
        Ok(Some(said))
    }

    /// Reloads on every SIGHUP, for as long as the runtime runs.
    pub fn reload_on_sighup(self: &Arc<Self>) -> std::io::Result<()> {
        use tokio::signal::unix::{signal, SignalKind};
        let mut hup = signal(SignalKind::hangup())?;
        let me = Arc::clone(self);
        tokio::spawn(async move {
            while hup.recv().await.is_some() {
                let me = Arc::clone(&me);
                // Reading files and keys: off the async workers.
                let done = tokio::task::spawn_blocking(move || me.reload()).await;
                match done {
                    Ok(Ok(Some(said))) => tracing::info!("SIGHUP: web config reloaded: {said}"),
                    Ok(Ok(None)) => {
                        tracing::info!("SIGHUP: no --web.config.file to reload")
                    }
                    Ok(Err(e)) => {
                        tracing::error!("SIGHUP: {e}; the web config in force is kept")
                    }
                    Err(e) => tracing::error!("SIGHUP: reload failed: {e}"),
                }
            }
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(yaml: &str) -> String {
        match parse(yaml, Path::new("/nonexistent")) {
            Ok(c) => panic!("{yaml:?} was accepted: {c:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn empty_is_plain_http() {
        let c = parse("", Path::new(".")).unwrap();
        assert!(c.tls.is_none() && c.users.is_none());
        assert_eq!(
            c.describe(),
            "plain HTTP; at most 128 connections, 64 per client address"
        );
        let c = parse(
            "connection_limits:\n  per_client: 8\n  exempt: [192.0.2.10, \"2001:db8::/48\"]\n",
            Path::new("."),
        )
        .unwrap();
        assert_eq!(
            c.describe(),
            "plain HTTP; at most 128 connections, 8 per client address, 2 exempt net(s)"
        );
    }

    /// One case per mistake, each with the words the user must see.
    #[test]
    fn mistakes_name_the_field() {
        let cases = [
            ("tls_server_config:\n  certfile: a\n", "unknown field `certfile`"),
            ("tls_server_config:\n  key_file: k\n", "tls_server_config.cert_file: missing"),
            ("tls_server_config:\n  cert_file: c\n", "tls_server_config.key_file: missing"),
            (
                "tls_server_config:\n  cert_file: c\n  key_file: k\n  min_version: TLS10\n",
                "tls_server_config.min_version: TLS10 is not offered",
            ),
            (
                "tls_server_config:\n  cert_file: c\n  key_file: k\n  min_version: tls1.2\n",
                "tls_server_config.min_version: unknown version",
            ),
            (
                "tls_server_config:\n  cert_file: c\n  key_file: k\n  client_auth_type: Maybe\n",
                "tls_server_config.client_auth_type: unknown value",
            ),
            (
                "tls_server_config:\n  cert_file: c\n  key_file: k\n  client_auth_type: RequireAnyClientCert\n  client_ca_file: ca\n",
                "tls_server_config.client_auth_type RequireAnyClientCert: not supported",
            ),
            (
                "tls_server_config:\n  cert_file: c\n  key_file: k\n  client_auth_type: RequireAndVerifyClientCert\n",
                "tls_server_config.client_ca_file: missing",
            ),
            (
                "tls_server_config:\n  cert_file: c\n  key_file: k\n  client_ca_file: ca\n",
                "client_ca_file is set but client_auth_type is NoClientCert",
            ),
            (
                "tls_server_config:\n  cert_file: c\n  key_file: k\n  cipher_suites: [TLS_AES_128_GCM_SHA256]\n",
                "tls_server_config.cipher_suites: not supported",
            ),
            (
                "tls_server_config:\n  cert_file: c\n  key_file: k\n  min_version: TLS13\n  max_version: TLS12\n",
                "min_version is above max_version",
            ),
            (
                "tls_server_config:\n  cert_file: c\n  key_file: k\n",
                "tls_server_config.cert_file /nonexistent/c",
            ),
            ("basic_auth_users:\n  alice: secret\n", "basic_auth_users.alice"),
            ("basic_auth_users:\n  \"\": $2y$04$abc\n", "basic_auth_users: empty user name"),
            ("basic_auth_users: [a]\n", "basic_auth_users"),
            ("http_server_config:\n  headers: {X: y}\n", "http_server_config.headers"),
            ("tls_server_config: 7\n", "tls_server_config"),
            ("nonsense\n", "expected struct"),
            ("webb: {}\n", "unknown field `webb`"),
            (
                "connection_limits:\n  per_client: 0\n",
                "connection_limits.per_client: 0 is out of range",
            ),
            (
                "connection_limits:\n  max_connections: 10\n  per_client: 64\n",
                "connection_limits.per_client: 64 is out of range: give 1 to max_connections (10)",
            ),
            (
                "connection_limits:\n  max_connections: 100000\n",
                "connection_limits.max_connections: 100000 is out of range",
            ),
            (
                "connection_limits:\n  exempt: [10.0.0.0/8, prometheus.example]\n",
                "connection_limits.exempt[1]: \"prometheus.example\" is neither an address nor a net",
            ),
            (
                "connection_limits:\n  exempt: [10.0.0.0/33]\n",
                "connection_limits.exempt[0]",
            ),
            ("connection_limits:\n  perclient: 3\n", "unknown field `perclient`"),
        ];
        for (yaml, want) in cases {
            let got = err(yaml);
            assert!(got.contains(want), "{yaml:?}: {got:?} lacks {want:?}");
        }
    }

    /// The example in deploy/ (and the README) is a valid file, and its password is the one
    /// its comment says.
    #[test]
    fn shipped_example_checks() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/web-config.example.yml");
        let file = read(&std::fs::read_to_string(path).unwrap()).unwrap();
        let tls = check(&file, Path::new("/")).unwrap().unwrap();
        assert_eq!(tls.client_auth, ClientAuth::RequireAndVerify);
        let hash = &file.basic_auth_users.unwrap()["prometheus"];
        assert!(bcrypt::verify("change-me", hash).unwrap());
    }

    #[test]
    fn reload_keeps_the_config_in_force_on_a_mistake() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("web.yml");
        let hash = bcrypt::hash("pw", 4).unwrap();
        std::fs::write(&path, format!("basic_auth_users:\n  alice: '{hash}'\n")).unwrap();
        let h = WebHandle::open(Some(path.clone())).unwrap();
        assert_eq!(h.current().users.as_ref().unwrap().len(), 1);
        std::fs::write(&path, "basic_auth_users:\n  alice: notahash\n").unwrap();
        let e = h.reload().unwrap_err();
        assert!(e.contains("basic_auth_users.alice"), "{e}");
        assert_eq!(h.current().users.as_ref().unwrap().len(), 1);
        std::fs::write(&path, "").unwrap();
        let said = h.reload().unwrap();
        assert!(said
            .as_deref()
            .is_some_and(|s| s.starts_with("plain HTTP;")));
        assert!(h.current().users.is_none());
    }
}
