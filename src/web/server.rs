//! Listening: plain HTTP, or HTTPS with the certificate and key of `[web]`.
//!
//! The socket is bound when the service is built, so a port in use or a bad
//! certificate stops the start with a clear message, and a test can bind port 0
//! and learn the port before serving. TLS handshakes run in their own tasks, with
//! a time limit, so one slow or silent client cannot hold up the others.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tracing::debug;

use crate::config::WebConfig;

/// Longest a client may take to complete the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Handshaken connections waiting for the server to take them.
const ACCEPT_QUEUE: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum BindError {
    #[error("cannot listen on web.listen {addr}: {source}")]
    Listen { addr: String, source: io::Error },
    #[error("cannot read the TLS certificate web.tls_cert {path}: {reason}")]
    Certificate { path: String, reason: String },
    #[error("cannot read the TLS key web.tls_key {path}: {reason}")]
    Key { path: String, reason: String },
    #[error("the TLS certificate and key do not work together: {0}")]
    Tls(String),
}

/// One accepted connection, plain or TLS.
pub trait Connection: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Connection for T {}

/// The address of the client of a request, for rate limits and the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub SocketAddr);

impl Connected<IncomingStream<'_, WebListener>> for ClientAddr {
    fn connect_info(stream: IncomingStream<'_, WebListener>) -> ClientAddr {
        ClientAddr(*stream.remote_addr())
    }
}

/// The bound socket.
pub enum WebListener {
    Plain(TcpListener),
    Tls {
        local: SocketAddr,
        ready: mpsc::Receiver<(Box<dyn Connection>, SocketAddr)>,
        /// Accepts and handshakes in the background; stops with the listener.
        _acceptor: AbortOnDrop,
    },
}

pub struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl WebListener {
    /// Binds `config.listen`, with TLS when a certificate is configured.
    pub async fn bind(config: &WebConfig) -> Result<WebListener, BindError> {
        let tcp = TcpListener::bind(&config.listen)
            .await
            .map_err(|source| BindError::Listen {
                addr: config.listen.clone(),
                source,
            })?;
        if !config.tls() {
            return Ok(WebListener::Plain(tcp));
        }
        let acceptor = tls_acceptor(config)?;
        let local = tcp.local_addr().map_err(|source| BindError::Listen {
            addr: config.listen.clone(),
            source,
        })?;
        let (tx, ready) = mpsc::channel(ACCEPT_QUEUE);
        let task = tokio::spawn(accept_tls(tcp, acceptor, tx));
        Ok(WebListener::Tls {
            local,
            ready,
            _acceptor: AbortOnDrop(task),
        })
    }
}

impl Listener for WebListener {
    type Io = Box<dyn Connection>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self {
            WebListener::Plain(tcp) => {
                let (stream, addr) = Listener::accept(tcp).await;
                (Box::new(stream), addr)
            }
            WebListener::Tls { ready, .. } => match ready.recv().await {
                Some(connection) => connection,
                // The acceptor only stops when the listener is dropped, so this
                // is never reached while serving; wait rather than spin.
                None => std::future::pending().await,
            },
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        match self {
            WebListener::Plain(tcp) => tcp.local_addr(),
            WebListener::Tls { local, .. } => Ok(*local),
        }
    }
}

async fn accept_tls(
    mut tcp: TcpListener,
    acceptor: TlsAcceptor,
    ready: mpsc::Sender<(Box<dyn Connection>, SocketAddr)>,
) {
    loop {
        let (stream, addr): (TcpStream, SocketAddr) = Listener::accept(&mut tcp).await;
        let (acceptor, ready) = (acceptor.clone(), ready.clone());
        tokio::spawn(async move {
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => {
                    let _ = ready.send((Box::new(tls), addr)).await;
                }
                Ok(Err(e)) => debug!(client = %addr, error = %e, "TLS handshake failed"),
                Err(_) => debug!(client = %addr, "TLS handshake timed out"),
            }
        });
    }
}

fn tls_acceptor(config: &WebConfig) -> Result<TlsAcceptor, BindError> {
    let certificates: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(&config.tls_cert)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|e| BindError::Certificate {
                path: config.tls_cert.clone(),
                reason: e.to_string(),
            })?;
    if certificates.is_empty() {
        return Err(BindError::Certificate {
            path: config.tls_cert.clone(),
            reason: "no certificate in the file".into(),
        });
    }
    let key = PrivateKeyDer::from_pem_file(&config.tls_key).map_err(|e| BindError::Key {
        path: config.tls_key.clone(),
        reason: e.to_string(),
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| BindError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certificates, key)
        .map_err(|e| BindError::Tls(e.to_string()))?;
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(tls)))
}
