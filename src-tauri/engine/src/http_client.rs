//! The HTTP client every step of every run shares: built once, the first time a
//! step needs it, so a plan of logic steps never loads TLS roots; and a plan
//! whose requests are all plain `http` never loads them either ([`SystemRoots`]).

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// The HTTP client every step of every run shares, built the first time a step
/// needs it: a plan of logic steps never loads TLS roots.
#[derive(Clone, Default)]
pub struct HttpClient(Arc<OnceLock<reqwest::Client>>);

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HttpClient")
    }
}

impl std::ops::Deref for HttpClient {
    type Target = reqwest::Client;
    fn deref(&self) -> &reqwest::Client {
        self.0.get_or_init(default_http_client)
    }
}

/// The HTTP client's settings: a bounded connect time (reqwest has no default
/// timeout). Reading is bounded by each request's idle timeout and the step's
/// timeout ([`crate::request`]); the read timeout here only backs them up.
/// Redirects are not followed by the client: [`crate::request::Request`] follows
/// them itself, so that a credential never follows one to another origin
/// (reqwest strips `Authorization` across hosts, but not `X-API-Key`, a secret
/// query parameter, or anything on an http → https upgrade).
///
/// TLS is reqwest's own choice (rustls with aws-lc, TLS 1.2 and 1.3, the
/// system's roots through the platform verifier), except that the roots are
/// read at the first certificate to check ([`SystemRoots`]), not when the
/// client is built: reading and parsing them was the largest single cost of a
/// CLI run whose steps call plain `http` URLs.
pub fn default_http_client() -> reqwest::Client {
    let builder = reqwest::Client::builder();
    let builder = match tls_config() {
        Ok(tls) => builder.tls_backend_preconfigured(tls),
        // Not expected (the versions are rustls' own defaults): reqwest's default then.
        Err(e) => {
            tracing::warn!(error = %e, "TLS set-up failed; the HTTP client's default is used");
            builder
        }
    };
    builder
        .connect_timeout(Duration::from_secs(10))
        .read_timeout(Duration::from_secs(900))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("Flowpilot/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_default()
}

/// The TLS settings of [`default_http_client`]: what reqwest would build, with
/// the system's roots read late.
fn tls_config() -> Result<rustls::ClientConfig, rustls::Error> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(SystemRoots::new(provider)))
        .with_no_client_auth();
    // The client speaks HTTP/1.1 only (reqwest's `http2` feature is off).
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// Checks a server's certificate against the system's trusted roots (and
/// `SSL_CERT_FILE`, where set) with the platform verifier, which reads them
/// when it is made: here, at the first certificate to check, once per
/// process. A handshake's signatures are checked with the crypto provider's
/// algorithms, as the platform verifier checks them, without the roots.
#[derive(Debug)]
pub struct SystemRoots {
    provider: Arc<CryptoProvider>,
    verifier: OnceLock<Result<rustls_platform_verifier::Verifier, rustls::Error>>,
}

impl SystemRoots {
    pub fn new(provider: Arc<CryptoProvider>) -> Self {
        Self {
            provider,
            verifier: OnceLock::new(),
        }
    }

    /// Whether the roots have been read (they are at the first certificate checked).
    pub fn roots_read(&self) -> bool {
        self.verifier.get().is_some()
    }

    fn verifier(&self) -> Result<&rustls_platform_verifier::Verifier, rustls::Error> {
        self.verifier
            .get_or_init(|| rustls_platform_verifier::Verifier::new(self.provider.clone()))
            .as_ref()
            .map_err(Clone::clone)
    }
}

impl ServerCertVerifier for SystemRoots {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.verifier()?
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_roots_are_read_at_the_first_certificate_not_before() {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let roots = SystemRoots::new(provider);
        assert!(!roots.roots_read(), "made");
        assert!(!roots.supported_verify_schemes().is_empty());
        assert!(
            !roots.roots_read(),
            "asked for its signature schemes (every handshake's first question)"
        );

        let name = ServerName::try_from("example.invalid").unwrap();
        let garbage = CertificateDer::from(vec![1u8, 2, 3]);
        let checked = roots.verify_server_cert(&garbage, &[], &name, &[], UnixTime::now());
        assert!(checked.is_err(), "{checked:?}");
        assert!(roots.roots_read(), "a certificate to check reads them");
        // Read once: the second check gives the same kind of answer from the same roots.
        assert!(
            roots
                .verify_server_cert(&garbage, &[], &name, &[], UnixTime::now())
                .is_err()
        );
    }

    #[test]
    fn the_client_builds_with_its_own_tls_settings() {
        let config = tls_config().unwrap();
        assert_eq!(config.alpn_protocols, vec![b"http/1.1".to_vec()]);
        let _client = default_http_client();
    }
}
