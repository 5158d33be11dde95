//! The rustls server configuration of `tls_server_config`: certificate chain and key from PEM
//! files, TLS 1.2 and 1.3 (or 1.3 only), and client certificates verified against a CA.
//!
//! The `ring` provider is named explicitly rather than installed process-wide, so nothing
//! depends on which crypto provider another crate happens to enable.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};

use super::webconfig::{ClientAuth, TlsSettings};

const P: &str = "tls_server_config";

fn certs(field: &str, path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let what = format!("{P}.{field} {}", path.display());
    // Read first, so a missing or unreadable file says so rather than "no certificate".
    let pem = std::fs::read(path).map_err(|e| format!("{what}: {e}"))?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{what}: not PEM certificates: {e}"))?;
    if certs.is_empty() {
        return Err(format!(
            "{what}: no certificate in it (expected PEM `-----BEGIN CERTIFICATE-----` blocks)"
        ));
    }
    Ok(certs)
}

fn key(path: &Path) -> Result<PrivateKeyDer<'static>, String> {
    let what = format!("{P}.key_file {}", path.display());
    let pem = std::fs::read(path).map_err(|e| format!("{what}: {e}"))?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| {
        format!("{what}: no private key in it (expected a PEM PKCS#8, PKCS#1 or SEC1 key): {e}")
    })
}

/// Builds the server side of TLS from checked settings; errors name the field and file.
pub fn server_config(t: &TlsSettings) -> Result<ServerConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let versions: &[&rustls::SupportedProtocolVersion] = if t.tls12 {
        &[&rustls::version::TLS13, &rustls::version::TLS12]
    } else {
        &[&rustls::version::TLS13]
    };
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(versions)
        .map_err(|e| format!("{P}: {e}"))?;
    let builder = match (t.client_auth, &t.client_ca_file) {
        (ClientAuth::None, _) | (_, None) => builder.with_no_client_auth(),
        (mode, Some(ca)) => {
            let mut roots = RootCertStore::empty();
            for c in certs("client_ca_file", ca)? {
                roots.add(c).map_err(|e| {
                    format!("{P}.client_ca_file {}: unusable CA: {e}", ca.display())
                })?;
            }
            let v = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            let v = if mode == ClientAuth::VerifyIfGiven {
                v.allow_unauthenticated()
            } else {
                v
            };
            let verifier = v
                .build()
                .map_err(|e| format!("{P}.client_ca_file {}: {e}", ca.display()))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let chain = certs("cert_file", &t.cert_file)?;
    let key = key(&t.key_file)?;
    let mut config = builder.with_single_cert(chain, key).map_err(|e| {
        format!(
            "{P}.cert_file {} and key_file {}: {e} (does the key belong to the certificate?)",
            t.cert_file.display(),
            t.key_file.display()
        )
    })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}
