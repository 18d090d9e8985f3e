//! TLS from a PEM certificate chain and private key.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::{self, ServerConfig};
use tokio_rustls::TlsAcceptor;

use crate::error::{ServeError, TlsProblem};

/// The certificate chain and key a TLS server presents.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// PEM certificate chain, the server's first.
    pub certificate: PathBuf,
    /// PEM private key (PKCS #8, PKCS #1 or SEC1).
    pub key: PathBuf,
}

impl TlsFiles {
    /// The acceptor, or why the files cannot serve: a server never falls back to plain text.
    pub(crate) fn acceptor(&self) -> Result<(TlsAcceptor, Vec<u8>), ServeError> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let pem = std::fs::read(&self.certificate).map_err(|e| cert_error(&self.certificate, e))?;
        let chain = rustls_pemfile::certs(&mut pem.as_slice())
            .collect::<Result<Vec<CertificateDer>, _>>()
            .map_err(|e| cert_error(&self.certificate, e))?;
        if chain.is_empty() {
            return Err(cert_error(
                &self.certificate,
                TlsProblem::Empty("certificate"),
            ));
        }
        let key_error = |problem: TlsProblem| ServeError::Tls {
            what: "key",
            path: self.key.clone(),
            problem,
        };
        let file = File::open(&self.key).map_err(|e| key_error(e.into()))?;
        let key: PrivateKeyDer = rustls_pemfile::private_key(&mut BufReader::new(file))
            .map_err(|e| key_error(e.into()))?
            .ok_or_else(|| key_error(TlsProblem::Empty("private key")))?;
        let config = ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|e| key_error(e.into()))?;
        Ok((TlsAcceptor::from(Arc::new(config)), pem))
    }
}

fn cert_error(path: &Path, problem: impl Into<TlsProblem>) -> ServeError {
    ServeError::Tls {
        what: "certificate",
        path: path.to_path_buf(),
        problem: problem.into(),
    }
}
