//! A TLS front for the local server, as AWS's endpoints are HTTPS: a CA and a leaf certificate for
//! `localhost` made with `openssl` (RSA-2048, as AWS's are), a rustls acceptor on loopback that
//! forwards each connection to the local server. The bootstrap trusts the CA through
//! `SSL_CERT_FILE` (a bundle of the system's roots and the CA, as on Lambda the system bundle is
//! what the SDK loads), so it verifies the chain and pays the full handshake.

use kyc_local::resources::BoxError;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

/// The front: its endpoint, and the bundle the bootstrap is to trust.
pub struct TlsFront {
    pub endpoint: String,
    pub ca_bundle: PathBuf,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn openssl(dir: &Path, args: &[&str]) -> Result<(), BoxError> {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .map_err(|e| format!("openssl: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "openssl {}: {}",
            args.first().unwrap_or(&""),
            String::from_utf8_lossy(&out.stderr)
        )
        .into())
    }
}

/// A CA and a `localhost` leaf it signed, in `dir` (made once).
fn certificates(dir: &Path) -> Result<(), BoxError> {
    std::fs::create_dir_all(dir)?;
    if dir.join("leaf.pem").exists() {
        return Ok(());
    }
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "3650",
            "-subj",
            "/CN=kyc-bench local CA",
        ],
    )?;
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "leaf.key",
            "-out",
            "leaf.csr",
            "-subj",
            "/CN=localhost",
        ],
    )?;
    std::fs::write(dir.join("leaf.ext"), "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n")?;
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "leaf.pem",
            "-days",
            "3650",
            "-extfile",
            "leaf.ext",
        ],
    )?;
    Ok(())
}

/// The system's CA bundle, where Debian and Amazon Linux keep it.
fn system_bundle() -> String {
    [
        "/etc/ssl/certs/ca-certificates.crt",
        "/etc/pki/tls/certs/ca-bundle.crt",
    ]
    .iter()
    .find_map(|p| std::fs::read_to_string(p).ok())
    .unwrap_or_default()
}

impl TlsFront {
    /// A TLS front on loopback for the plain-HTTP server at `upstream` (`http://127.0.0.1:port`).
    pub async fn start(upstream: &str, dir: &Path) -> Result<Self, BoxError> {
        certificates(dir)?;
        let bundle = dir.join("bundle.pem");
        std::fs::write(
            &bundle,
            format!(
                "{}\n{}",
                system_bundle(),
                std::fs::read_to_string(dir.join("ca.pem"))?
            ),
        )?;
        let certs: Vec<CertificateDer<'static>> =
            CertificateDer::pem_file_iter(dir.join("leaf.pem"))?.collect::<Result<_, _>>()?;
        let key = PrivateKeyDer::from_pem_file(dir.join("leaf.key"))?;
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let upstream = upstream.trim_start_matches("http://").to_owned();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(stream).await else {
                        return;
                    };
                    let Ok(mut plain) = tokio::net::TcpStream::connect(&upstream).await else {
                        return;
                    };
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
                });
            }
        });
        Ok(Self {
            endpoint: format!("https://localhost:{port}"),
            ca_bundle: bundle,
            task,
        })
    }
}
