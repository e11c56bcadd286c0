//! Which media servers a device believes: the CA its provisioning file
//! names (`Provisioning::media_ca`), and nothing else. A device never falls
//! back to a system's roots: a loudspeaker must not play what an impostor
//! holding some public certificate serves it.
//!
//! rustls is the one the MQTT client (rumqttc) already builds, with its
//! `ring` provider; the server's name (DNS name or IP address, from the
//! media URL) is checked against its certificate.

use std::fmt;
use std::sync::Arc;

use hub_proto::Provisioning;
use tokio_rustls::rustls::{ClientConfig, RootCertStore};
use tokio_rustls::TlsConnector;

/// Why a provisioned media CA cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum MediaTrustError {
    /// The text does not read as PEM.
    #[error("media_ca is not PEM: {0}")]
    Pem(std::io::Error),
    /// PEM, but without a certificate in it.
    #[error("media_ca holds no certificate (-----BEGIN CERTIFICATE-----)")]
    Empty,
    /// A certificate that does not parse.
    #[error("media_ca: a certificate cannot be a trust anchor: {0}")]
    Anchor(String),
}

/// The TLS client settings of a device's media downloads; cheap to clone,
/// so a fleet builds them once.
#[derive(Clone)]
pub struct MediaTrust {
    connector: TlsConnector,
}

impl fmt::Debug for MediaTrust {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MediaTrust")
    }
}

impl MediaTrust {
    /// Trusts the certificates of `pem` (one CA, or several) and no other.
    pub fn from_pem(pem: &str) -> Result<Self, MediaTrustError> {
        let mut roots = RootCertStore::empty();
        for cert in rustls_pemfile::certs(&mut pem.as_bytes()) {
            let cert = cert.map_err(MediaTrustError::Pem)?;
            roots
                .add(cert)
                .map_err(|error| MediaTrustError::Anchor(error.to_string()))?;
        }
        if roots.is_empty() {
            return Err(MediaTrustError::Empty);
        }
        let mut config = ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Self {
            connector: TlsConnector::from(Arc::new(config)),
        })
    }

    /// What `provisioning` says to trust: `None` when it names no CA (the
    /// hub serves media over plain HTTP).
    pub fn of(provisioning: &Provisioning) -> Result<Option<Self>, MediaTrustError> {
        provisioning
            .media_ca
            .as_deref()
            .map(Self::from_pem)
            .transpose()
    }

    pub(crate) fn connector(&self) -> &TlsConnector {
        &self.connector
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_media_ca_must_be_pem_certificates() {
        assert!(matches!(
            MediaTrust::from_pem("no certificate here"),
            Err(MediaTrustError::Empty)
        ));
        let not_der = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        let error = MediaTrust::from_pem(not_der).unwrap_err();
        assert!(matches!(error, MediaTrustError::Anchor(_)), "{error}");
        let provisioning = Provisioning::new("mqtt://h:1".into(), "k".into(), vec![]);
        assert!(MediaTrust::of(&provisioning).unwrap().is_none());
        let broken = provisioning.with_media_ca(Some("junk".into()));
        assert!(MediaTrust::of(&broken).is_err());
    }
}
