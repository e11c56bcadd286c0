//! The media server's certificate (`link.media_tls`), read once when the
//! hub starts: every problem is a start-up error naming the file, so an
//! operator never learns of a wrong key from devices failing to download.
//!
//! rustls is the one already built for the broker (rumqttd, rumqttc), with
//! its `ring` provider; PEM is read with the same `rustls-pemfile`.

use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio_rustls::rustls::crypto::ring::{default_provider, sign::any_supported_type};
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::ServerConfig;

use crate::link::settings::MediaTls;

/// Signed with the server's key and checked against its certificate.
const PROBE: &[u8] = b"nguon media server key check";

#[derive(Debug, thiserror::Error)]
pub enum MediaTlsError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not PEM: {source}")]
    Pem {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0} holds no PEM certificate (-----BEGIN CERTIFICATE-----)")]
    NoCertificate(PathBuf),
    #[error("{0} holds no PEM private key (PKCS#8, PKCS#1 or SEC1)")]
    NoKey(PathBuf),
    #[error("{path}: the private key cannot be used: {reason}")]
    UnusableKey { path: PathBuf, reason: String },
    #[error("{path}: the first certificate cannot be read: {reason}")]
    BadCertificate { path: PathBuf, reason: String },
    #[error("the key in {key} does not belong to the certificate in {cert}")]
    Mismatch { cert: PathBuf, key: PathBuf },
    #[error("{cert} with {key}: {reason}")]
    Refused {
        cert: PathBuf,
        key: PathBuf,
        reason: String,
    },
}

/// The TLS settings of the media server: `tls.cert` presented with
/// `tls.key`, HTTP/1.1 only (what devices and the server speak).
pub fn server_config(tls: &MediaTls) -> Result<Arc<ServerConfig>, MediaTlsError> {
    let chain = certificates(&tls.cert)?;
    let key = private_key(&tls.key)?;
    check_key_matches(&chain[0], &key, tls)?;
    let mut config = ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|error| MediaTlsError::Refused {
            cert: tls.cert.clone(),
            key: tls.key.clone(),
            reason: error.to_string(),
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The CA devices are told to trust for media (`tls.ca`), as PEM text, if
/// the configuration names one.
pub fn provisioned_ca(tls: Option<&MediaTls>) -> Result<Option<String>, MediaTlsError> {
    let Some(path) = tls.and_then(|tls| tls.ca.as_deref()) else {
        return Ok(None);
    };
    certificates(path)?;
    let text = std::fs::read_to_string(path).map_err(|source| MediaTlsError::Read {
        path: path.to_owned(),
        source,
    })?;
    Ok(Some(text))
}

/// Every certificate in the PEM file at `path`; at least one.
fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, MediaTlsError> {
    let mut reader = open(path)?;
    let chain = rustls_pemfile::certs(&mut reader)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| MediaTlsError::Pem {
            path: path.to_owned(),
            source,
        })?;
    if chain.is_empty() {
        return Err(MediaTlsError::NoCertificate(path.to_owned()));
    }
    Ok(chain)
}

/// The first private key in the PEM file at `path`.
fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, MediaTlsError> {
    rustls_pemfile::private_key(&mut open(path)?)
        .map_err(|source| MediaTlsError::Pem {
            path: path.to_owned(),
            source,
        })?
        .ok_or_else(|| MediaTlsError::NoKey(path.to_owned()))
}

fn open(path: &Path) -> Result<BufReader<std::fs::File>, MediaTlsError> {
    std::fs::File::open(path)
        .map(BufReader::new)
        .map_err(|source| MediaTlsError::Read {
            path: path.to_owned(),
            source,
        })
}

/// Whether `key` is the private half of `cert`'s public key: a signature
/// made with it must verify with the certificate. rustls 0.22 would take a
/// mismatched pair and fail every handshake.
fn check_key_matches(
    cert: &CertificateDer<'_>,
    key: &PrivateKeyDer<'_>,
    tls: &MediaTls,
) -> Result<(), MediaTlsError> {
    let unusable = |reason: String| MediaTlsError::UnusableKey {
        path: tls.key.clone(),
        reason,
    };
    let signing = any_supported_type(key).map_err(|error| unusable(error.to_string()))?;
    let algorithms = default_provider().signature_verification_algorithms;
    let schemes: Vec<_> = algorithms
        .mapping
        .iter()
        .map(|(scheme, _)| *scheme)
        .collect();
    let signer = signing
        .choose_scheme(&schemes)
        .ok_or_else(|| unusable("no signature scheme TLS can use".into()))?;
    let signature = signer
        .sign(PROBE)
        .map_err(|error| unusable(error.to_string()))?;
    let end_entity =
        webpki::EndEntityCert::try_from(cert).map_err(|error| MediaTlsError::BadCertificate {
            path: tls.cert.clone(),
            reason: format!("{error:?}"),
        })?;
    let scheme = signer.scheme();
    let verifies = algorithms
        .mapping
        .iter()
        .filter(|(candidate, _)| *candidate == scheme)
        .flat_map(|(_, verifiers)| verifiers.iter())
        .any(|verifier| {
            end_entity
                .verify_signature(*verifier, PROBE, &signature)
                .is_ok()
        });
    if !verifies {
        return Err(MediaTlsError::Mismatch {
            cert: tls.cert.clone(),
            key: tls.key.clone(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `openssl` in `dir`, as an operator would make a certificate.
    fn openssl(dir: &Path, args: &[&str]) {
        let out = std::process::Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl runs (apt-get install openssl)");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A self-signed certificate and its key, named `name`.pem and `name`.key.
    fn self_signed(dir: &Path, name: &str, algorithm: &[&str]) -> MediaTls {
        let (cert, key) = (format!("{name}.pem"), format!("{name}.key"));
        let mut args = vec!["req", "-x509", "-nodes", "-days", "2", "-subj", "/CN=media"];
        args.extend_from_slice(algorithm);
        args.extend_from_slice(&["-keyout", &key, "-out", &cert]);
        openssl(dir, &args);
        MediaTls {
            cert: dir.join(cert),
            key: dir.join(key),
            ca: Some(dir.join(format!("{name}.pem"))),
        }
    }

    #[test]
    fn a_certificate_with_its_key_makes_a_server_and_its_ca_is_provisioned() {
        let dir = tempfile::tempdir().unwrap();
        let rsa = self_signed(dir.path(), "rsa", &["-newkey", "rsa:2048"]);
        let config = server_config(&rsa).unwrap();
        assert_eq!(config.alpn_protocols, [b"http/1.1".to_vec()]);
        let ec = self_signed(
            dir.path(),
            "ec",
            &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"],
        );
        server_config(&ec).unwrap();
        let ca = provisioned_ca(Some(&ec)).unwrap().unwrap();
        assert!(ca.starts_with("-----BEGIN CERTIFICATE-----"), "{ca}");
        let without = MediaTls { ca: None, ..ec };
        assert_eq!(provisioned_ca(Some(&without)).unwrap(), None);
        assert_eq!(provisioned_ca(None).unwrap(), None);
    }

    #[test]
    fn bad_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let good = self_signed(dir.path(), "good", &["-newkey", "rsa:2048"]);
        let other = self_signed(dir.path(), "other", &["-newkey", "rsa:2048"]);
        let garbage = dir.path().join("garbage.pem");
        std::fs::write(&garbage, "not a certificate\n").unwrap();
        let missing = dir.path().join("missing.pem");
        let error = |tls: MediaTls| server_config(&tls).expect_err("refused").to_string();

        let swapped = error(MediaTls {
            key: other.key.clone(),
            ..good.clone()
        });
        assert!(
            swapped.contains("other.key") && swapped.contains("good.pem"),
            "{swapped}"
        );
        assert!(swapped.contains("does not belong"), "{swapped}");
        let no_cert = error(MediaTls {
            cert: garbage.clone(),
            ..good.clone()
        });
        assert!(
            no_cert.contains("garbage.pem") && no_cert.contains("no PEM certificate"),
            "{no_cert}"
        );
        let no_key = error(MediaTls {
            key: good.cert.clone(),
            ..good.clone()
        });
        assert!(
            no_key.contains("good.pem") && no_key.contains("no PEM private key"),
            "{no_key}"
        );
        let unreadable = error(MediaTls {
            cert: missing.clone(),
            ..good.clone()
        });
        assert!(
            unreadable.contains("cannot read") && unreadable.contains("missing.pem"),
            "{unreadable}"
        );
        let bad_ca = provisioned_ca(Some(&MediaTls {
            ca: Some(garbage),
            ..good
        }))
        .expect_err("refused")
        .to_string();
        assert!(bad_ca.contains("garbage.pem"), "{bad_ca}");
    }
}
