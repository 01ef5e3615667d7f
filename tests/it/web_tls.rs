//! The web server over HTTPS: with `[web] tls_cert` and `tls_key` it speaks TLS
//! only, and its cookies carry `Secure`. A bad certificate stops the start with
//! a message naming the file.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{ClientConfig, RootCertStore};

use crate::support::app::spawn_app_with;

/// A self-signed certificate for 127.0.0.1, made with the openssl command.
fn certificate() -> (PathBuf, PathBuf) {
    let dir = std::env::temp_dir().join(format!("vp-test-tls2-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    if !cert.exists() {
        let status = Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
            ])
            .args(["-nodes", "-days", "2", "-subj", "/CN=127.0.0.1"])
            .args(["-addext", "subjectAltName=IP:127.0.0.1"])
            // A server certificate, not an authority (rustls refuses a CA as a
            // server's own certificate).
            .args(["-addext", "basicConstraints=critical,CA:FALSE"])
            .args(["-addext", "extendedKeyUsage=serverAuth"])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .expect("openssl is installed");
        assert!(status.success());
    }
    (cert, key)
}

#[tokio::test]
async fn https_only_with_secure_cookies() {
    let (cert, key) = certificate();
    let app = spawn_app_with(ari_sim::SimConfig::default(), |config| {
        config.web.tls_cert = cert.display().to_string();
        config.web.tls_key = key.display().to_string();
    })
    .await;
    let addr = app.web_url.trim_start_matches("http://").to_owned();

    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(&cert).unwrap())
        .unwrap();
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let client = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let name = ServerName::try_from("127.0.0.1").unwrap();
    let mut tls = TlsConnector::from(Arc::new(client))
        .connect(name, tcp)
        .await
        .expect("a TLS handshake");
    tls.write_all(
        format!("GET /admin/sign-in HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")
            .as_bytes(),
    )
    .await
    .unwrap();
    let mut response = String::new();
    tls.read_to_string(&mut response).await.unwrap_or_default();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    let cookie = response
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("set-cookie: vp_form="))
        .expect("the form binding cookie");
    assert!(
        cookie.contains("; Secure") && cookie.contains("HttpOnly"),
        "{cookie}"
    );

    // Plain HTTP on the same port gets no page.
    let plain = reqwest::get(format!("http://{addr}/healthz")).await;
    assert!(plain.is_err() || !plain.unwrap().status().is_success());
}

#[tokio::test]
async fn a_bad_certificate_stops_the_start_naming_the_file() {
    let dir = std::env::temp_dir().join(format!("vp-test-badtls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, "not a certificate").unwrap();
    std::fs::write(&key, "not a key").unwrap();
    let sim = ari_sim::Simulator::start(ari_sim::SimConfig::default())
        .await
        .unwrap();
    let mut config =
        crate::support::app::test_config(&sim, &crate::support::redis::TestRedis::fresh());
    config.web.tls_cert = cert.display().to_string();
    config.web.tls_key = key.display().to_string();
    let error = match voiceportal::app::App::build(config).await {
        Ok(_) => panic!("a bad certificate was accepted"),
        Err(e) => e.to_string(),
    };
    assert!(
        error.contains("web.tls_cert") && error.contains("cert.pem"),
        "{error}"
    );
}
