//! Optional TLS on the server's own port (`--tls-cert` / `--tls-key`):
//! HTTPS and WSS on the same listener, with a certificate that can be
//! replaced while the server runs.
//!
//! rustls with the ring provider. The certificate lives behind a resolver
//! ([`Reloadable`]) rather than inside the `ServerConfig`, so a reload swaps
//! one `Arc` under a short lock: handshakes already done keep their session
//! (existing connections stay up), the next handshake gets the new
//! certificate. A reload that fails (unreadable file, key not matching the
//! certificate) keeps the previous certificate and says why.
//!
//! Connections over TLS take axum's WebSocket path, not the direct-write
//! path (`direct.rs`): a direct write hands pre-encoded frames to the
//! kernel, and TLS must encrypt every record in the session's order
//! (docs/operations.md#tls).

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// The certificate and key files of the server's TLS (both PEM).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain, leaf first (`--tls-cert`).
    pub cert: PathBuf,
    /// The private key of the leaf: PKCS#8, PKCS#1 (RSA) or SEC1 (EC) (`--tls-key`).
    pub key: PathBuf,
}

/// The cause inside a [`TlsError`] (a PEM or rustls error).
type Source = Box<dyn std::error::Error + Send + Sync>;

/// Why the TLS certificate could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// The certificate file cannot be read or is not PEM.
    #[error("TLS: {}: {source}", .path.display())]
    Certificate {
        /// `--tls-cert`.
        path: PathBuf,
        /// The reader's error.
        source: Source,
    },
    /// The certificate file holds no `CERTIFICATE` block.
    #[error("TLS: {}: no CERTIFICATE block", .path.display())]
    NoCertificate {
        /// `--tls-cert`.
        path: PathBuf,
    },
    /// The key file cannot be read, is not PEM, or holds no private key.
    #[error("TLS: {}: {source}", .path.display())]
    Key {
        /// `--tls-key`.
        path: PathBuf,
        /// The reader's error.
        source: Source,
    },
    /// The private key is not the certificate's.
    #[error("TLS: {} and {}: the private key does not match the certificate", .cert.display(), .key.display())]
    KeyMismatch {
        /// `--tls-cert`.
        cert: PathBuf,
        /// `--tls-key`.
        key: PathBuf,
    },
    /// rustls refuses the certificate and key for another reason.
    #[error("TLS: {} and {}: {source}", .cert.display(), .key.display())]
    Rejected {
        /// `--tls-cert`.
        cert: PathBuf,
        /// `--tls-key`.
        key: PathBuf,
        /// rustls's error.
        source: rustls::Error,
    },
    /// The TLS configuration cannot be built (no protocol version the
    /// crypto provider supports).
    #[error("TLS: {0}")]
    Config(rustls::Error),
}

/// The crypto provider of both the server and (in tests) its clients.
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Reads and checks the certificate chain and key.
fn load(files: &TlsFiles, provider: &CryptoProvider) -> Result<CertifiedKey, TlsError> {
    let certificate = |e: rustls_pki_types::pem::Error| TlsError::Certificate {
        path: files.cert.clone(),
        source: Box::new(e),
    };
    let chain = CertificateDer::pem_file_iter(&files.cert)
        .map_err(certificate)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(certificate)?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate {
            path: files.cert.clone(),
        });
    }
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| TlsError::Key {
        path: files.key.clone(),
        source: Box::new(e),
    })?;
    let (cert, key_path) = (files.cert.clone(), files.key.clone());
    CertifiedKey::from_der(chain, key, provider).map_err(|e| match e {
        rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch) => {
            TlsError::KeyMismatch {
                cert,
                key: key_path,
            }
        }
        source => TlsError::Rejected {
            cert,
            key: key_path,
            source,
        },
    })
}

/// The current certificate, replaceable while the server runs.
#[derive(Debug)]
pub(crate) struct Reloadable {
    files: TlsFiles,
    provider: Arc<CryptoProvider>,
    current: RwLock<Arc<CertifiedKey>>,
}

impl Reloadable {
    /// Loads the files once; an error here stops the server from starting.
    pub(crate) fn load(files: &TlsFiles) -> Result<Arc<Self>, TlsError> {
        let provider = provider();
        let key = load(files, &provider)?;
        Ok(Arc::new(Self {
            files: files.clone(),
            provider,
            current: RwLock::new(Arc::new(key)),
        }))
    }

    /// Re-reads the files; on error the previous certificate stays.
    pub(crate) fn reload(&self) -> Result<(), TlsError> {
        let key = load(&self.files, &self.provider)?;
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(key);
        Ok(())
    }

    /// The rustls configuration that serves the current certificate.
    pub(crate) fn server_config(self: &Arc<Self>) -> Result<Arc<ServerConfig>, TlsError> {
        let mut config = ServerConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(TlsError::Config)?
            .with_no_client_auth()
            .with_cert_resolver(self.clone());
        // HTTP/1.1 only (hyper's http1 server); announced so that clients
        // offering h2 first still agree on it.
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }

    /// The files, for logs.
    pub(crate) fn cert_path(&self) -> &Path {
        &self.files.cert
    }
}

impl ResolvesServerCert for Reloadable {
    fn resolve(&self, _client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
        )
    }
}

/// Reloads the certificate on every SIGHUP until `shutdown`.
#[cfg(unix)]
pub(crate) async fn reload_on_sighup(
    tls: Arc<Reloadable>,
    shutdown: tokio_util::sync::CancellationToken,
) {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hup = match signal(SignalKind::hangup()) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for SIGHUP: the TLS certificate will not be reloaded");
            return;
        }
    };
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            received = hup.recv() => {
                if received.is_none() {
                    return;
                }
                match tls.reload() {
                    Ok(()) => tracing::info!(cert = %tls.cert_path().display(), "SIGHUP: TLS certificate reloaded"),
                    Err(e) => tracing::error!(error = %e, "SIGHUP: TLS certificate NOT reloaded, the previous one stays in use"),
                }
            }
        }
    }
}
