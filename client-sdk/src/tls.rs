//! [`Tls`]: who the client trusts on `wss://` and `https://`.
//!
//! rustls with the ring provider, and the Mozilla root store compiled in
//! (`webpki-roots`) rather than the platform's: the same roots on every
//! machine, including minimal container images that ship no
//! `/etc/ssl/certs` at all, where a platform-store client fails with an
//! empty trust store. A private CA (a company PKI, a test CA) is added with
//! [`Tls::with_ca_pem`] / [`Tls::with_ca_file`]; the public roots stay.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;

/// TLS trust settings for [`ClientBuilder::tls`](crate::ClientBuilder::tls)
/// and [`Publisher::tls`](crate::Publisher::tls). Cheap to clone.
///
/// Without one, `wss://` and `https://` already work against servers with a
/// certificate from a public CA ([`Tls::default`]).
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use brain_ws_client::{Client, Publisher, Tls};
///
/// let tls = Tls::default().with_ca_file("/etc/brain/ca.pem")?;
/// let client = Client::builder("wss://brain.internal").tls(tls.clone()).connect().await?;
/// let publisher = Publisher::new("https://brain.internal").tls(&tls)?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Tls {
    roots: RootCertStore,
    insecure: bool,
    config: Arc<ClientConfig>,
}

/// Why a [`Tls`] could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// The CA file could not be read.
    #[error("cannot read CA file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The PEM text holds no `CERTIFICATE` block, or a malformed one.
    #[error("CA PEM: {0}")]
    Pem(String),
    /// A certificate in the PEM is not a usable trust anchor.
    #[error("CA certificate refused: {0}")]
    Certificate(String),
}

impl Default for Tls {
    /// The public roots of `webpki-roots`, full certificate verification.
    fn default() -> Self {
        let roots = RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        let config = build(&roots, false);
        Self {
            roots,
            insecure: false,
            config,
        }
    }
}

impl fmt::Debug for Tls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tls")
            .field("roots", &self.roots.len())
            .field("accepts_invalid_certificates", &self.insecure)
            .finish()
    }
}

impl Tls {
    /// Also trusts every `CERTIFICATE` in `pem` (one or more PEM blocks).
    ///
    /// ```
    /// let err = brain_ws_client::Tls::default().with_ca_pem(b"not a pem").unwrap_err();
    /// assert!(err.to_string().contains("no CERTIFICATE"));
    /// ```
    pub fn with_ca_pem(mut self, pem: &[u8]) -> Result<Self, TlsError> {
        let mut added = 0;
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(|e| TlsError::Pem(e.to_string()))?;
            self.roots
                .add(cert)
                .map_err(|e| TlsError::Certificate(e.to_string()))?;
            added += 1;
        }
        if added == 0 {
            return Err(TlsError::Pem("no CERTIFICATE block found".into()));
        }
        self.config = build(&self.roots, self.insecure);
        Ok(self)
    }

    /// Also trusts every certificate in the PEM file at `path`.
    pub fn with_ca_file(self, path: impl AsRef<Path>) -> Result<Self, TlsError> {
        let path = path.as_ref();
        let pem = std::fs::read(path).map_err(|source| TlsError::Read {
            path: path.display().to_string(),
            source,
        })?;
        self.with_ca_pem(&pem)
    }

    /// **For test set-ups only**: accepts any server certificate, expired,
    /// self-signed or for another host, so the connection is encrypted but
    /// not authenticated and anyone on the path can read and change it.
    /// Logged as a warning on every use.
    pub fn dangerous_accept_invalid_certificates(mut self) -> Self {
        self.insecure = true;
        self.config = build(&self.roots, true);
        self
    }

    /// Whether [`Tls::dangerous_accept_invalid_certificates`] is set.
    pub fn accepts_invalid_certificates(&self) -> bool {
        self.insecure
    }

    /// The rustls configuration, for other clients that should trust the
    /// same (it speaks HTTP/1.1 only: no ALPN).
    pub fn client_config(&self) -> Arc<ClientConfig> {
        if self.insecure {
            tracing::warn!(
                "TLS certificate verification is OFF (dangerous_accept_invalid_certificates): test set-ups only"
            );
        }
        self.config.clone()
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn build(roots: &RootCertStore, insecure: bool) -> Arc<ClientConfig> {
    let provider = provider();
    // Fails only for a provider without cipher suites for TLS 1.2/1.3;
    // ring has both.
    #[allow(clippy::expect_used)]
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions");
    let config = if insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnything(
                provider.signature_verification_algorithms,
            )))
            .with_no_client_auth()
    } else {
        builder
            .with_root_certificates(roots.clone())
            .with_no_client_auth()
    };
    Arc::new(config)
}

/// The verifier of [`Tls::dangerous_accept_invalid_certificates`]: any
/// certificate, but the handshake signatures are still checked (so the
/// session keys are at least the peer's).
#[derive(Debug)]
struct AcceptAnything(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for AcceptAnything {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}

/// The rustls error behind a failed connection, when the failure was the
/// server's certificate: walks the error's sources (tokio-rustls wraps it
/// in an `io::Error`, reqwest in its own error).
pub(crate) fn certificate_problem(err: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut current = Some(err);
    while let Some(e) = current {
        if let Some(rustls_err) = e.downcast_ref::<rustls::Error>() {
            return certificate_message(rustls_err);
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && let Some(inner) = io.get_ref()
        {
            // An io::Error's payload is not its `source()`.
            if let Some(found) = certificate_problem(inner) {
                return Some(found);
            }
        }
        current = e.source();
    }
    None
}

fn certificate_message(err: &rustls::Error) -> Option<String> {
    match err {
        rustls::Error::InvalidCertificate(reason) => Some(format!(
            "the server's TLS certificate was refused ({reason:?}); if it is signed by a private CA, pass that CA (Tls::with_ca_file)"
        )),
        rustls::Error::NoCertificatesPresented => {
            Some("the server presented no TLS certificate".into())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_ca_input_is_refused_with_the_reason() {
        let err = Tls::default().with_ca_pem(b"").expect_err("empty");
        assert_eq!(err.to_string(), "CA PEM: no CERTIFICATE block found");
        let err = Tls::default()
            .with_ca_file("/nonexistent/ca.pem")
            .expect_err("missing");
        assert!(
            err.to_string()
                .starts_with("cannot read CA file /nonexistent/ca.pem: "),
            "{err}"
        );
        let garbage = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        let err = Tls::default().with_ca_pem(garbage).expect_err("garbage");
        assert!(
            err.to_string().starts_with("CA certificate refused"),
            "{err}"
        );
    }
}
