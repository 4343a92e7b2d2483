//! TLS for the PostgreSQL protocol: a [`Stream`] that encrypts another.
//!
//! A client asks for TLS with an SSLRequest before its startup packet; when
//! the server has a certificate ([`server_config`]) it answers `S` and both
//! sides switch to TLS on the same socket. [`TlsStream`] runs rustls's
//! state machine over the Env's [`Stream`] rather than over a tokio socket,
//! so the connection code is the same with or without TLS, in production and
//! in the simulator.
//!
//! Invariants: plaintext handed to `write_all` is encrypted and on the socket
//! before it returns (the connection's own buffering decides when to write);
//! `read` returns only authenticated plaintext, and end of stream only after
//! the peer's close_notify or the socket's end.

use std::io::{self, Read, Write};
use std::sync::Arc;

use rustls::ServerConnection;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustydb_core::env::{BoxFuture, Stream};
use rustydb_core::{Error, Result};

/// Ciphertext asked of the socket per read: one TLS record is at most
/// 16 KiB of payload plus its header and tag.
const RECORD_BYTES: usize = 16 * 1024 + 256;

/// The server's TLS settings from a PEM certificate chain and private key
/// (PKCS#8, PKCS#1 or SEC1). TLS 1.2 and 1.3 with rustls's safe defaults; no
/// client certificates.
pub fn server_config(cert_pem: &[u8], key_pem: &[u8]) -> std::result::Result<Arc<rustls::ServerConfig>, String> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| format!("TLS certificate: {e}"))?;
    if certs.is_empty() {
        return Err("TLS certificate: no PEM certificate found".into());
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| format!("TLS private key: {e}"))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("TLS certificate and key: {e}"))?;
    Ok(Arc::new(config))
}

/// The server side of a TLS session over another stream.
pub struct TlsStream {
    inner: Box<dyn Stream>,
    tls: ServerConnection,
    ciphertext: Box<[u8]>,
}

impl TlsStream {
    /// Runs the handshake over `inner`; fails (08P01) if the client does not
    /// complete it.
    pub async fn accept(inner: Box<dyn Stream>, config: Arc<rustls::ServerConfig>) -> Result<TlsStream> {
        let tls = ServerConnection::new(config).map_err(|e| tls_error(&e))?;
        let mut stream = TlsStream { inner, tls, ciphertext: vec![0; RECORD_BYTES].into_boxed_slice() };
        while stream.tls.is_handshaking() {
            stream.send_pending().await?;
            if stream.tls.is_handshaking() && stream.receive().await? == 0 {
                return Err(Error::sql("08P01", "the client closed the connection during the TLS handshake"));
            }
        }
        stream.send_pending().await?;
        Ok(stream)
    }

    /// Writes every TLS record rustls has ready (handshake, alerts, data).
    async fn send_pending(&mut self) -> Result<()> {
        while self.tls.wants_write() {
            let mut out = Vec::new();
            self.tls.write_tls(&mut out).map_err(|e| io_error(&e))?;
            self.inner.write_all(&out).await?;
        }
        Ok(())
    }

    /// Reads ciphertext from the socket and decrypts it; returns how many
    /// bytes arrived (0: the socket ended).
    async fn receive(&mut self) -> Result<usize> {
        let read = self.inner.read(&mut self.ciphertext).await?;
        let mut arrived = &self.ciphertext[..read];
        while !arrived.is_empty() {
            self.tls.read_tls(&mut arrived).map_err(|e| io_error(&e))?;
            if let Err(error) = self.tls.process_new_packets() {
                // Tell the client why before giving up (best effort).
                let _ = self.send_pending().await;
                return Err(tls_error(&error));
            }
        }
        Ok(read)
    }
}

impl Stream for TlsStream {
    fn read<'a>(&'a mut self, buf: &'a mut [u8]) -> BoxFuture<'a, Result<usize>> {
        Box::pin(async move {
            loop {
                match self.tls.reader().read(buf) {
                    Ok(n) => return Ok(n),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => return Err(io_error(&e)),
                }
                self.send_pending().await?;
                if self.receive().await? == 0 {
                    // The socket ended without close_notify: a truncation
                    // attack and a crashed client look the same; both end the
                    // session, which is all the connection needs to know.
                    return Ok(0);
                }
            }
        })
    }

    fn write_all<'a>(&'a mut self, data: &'a [u8]) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            self.tls.writer().write_all(data).map_err(|e| io_error(&e))?;
            self.send_pending().await
        })
    }
}

fn tls_error(error: &rustls::Error) -> Error {
    Error::sql("08P01", format!("TLS: {error}"))
}

fn io_error(error: &io::Error) -> Error {
    Error::sql("08P01", format!("TLS: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_pem_is_a_clear_error() {
        assert!(server_config(b"", b"").unwrap_err().contains("no PEM certificate"));
        let cert = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/data/tls/server.crt")).unwrap();
        assert!(server_config(&cert, b"not a key").unwrap_err().contains("private key"));
        let key = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/data/tls/server.key")).unwrap();
        assert!(server_config(&cert, &key).is_ok());
    }
}
