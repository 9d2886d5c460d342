//! An HTTPS endpoint whose certificate nobody trusts (`TlsTrap`): a validator URL every webhook
//! attempt must give up on during the handshake.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// A throwaway self-signed server certificate for 127.0.0.1 (P-256, CA:FALSE, valid from 2000
/// to 2126 whatever the test machine's clock says): no verifier trusts its issuer, the point.
const SELF_SIGNED_CERT: &str = "-----BEGIN CERTIFICATE-----
MIIBgTCCASigAwIBAgIUd1c+d0haniVEtGMubwttWWf7LLEwCgYIKoZIzj0EAwIw
HDEaMBgGA1UEAwwRdmFsaWRhdG9yLmludmFsaWQwIBcNMDAwMTAxMDAwMDAwWhgP
MjEyNjAxMDEwMDAwMDBaMBwxGjAYBgNVBAMMEXZhbGlkYXRvci5pbnZhbGlkMFkw
EwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE6Ehb5VYPYfLoCzx93AT6ebsyMB7Nuljb
cZQSIsERFG/3gJ40v5wwa0DmwLJvuk/IgaVqUKbO46InoaAfp87A2qNGMEQwDwYD
VR0RBAgwBocEfwAAATAMBgNVHRMBAf8EAjAAMA4GA1UdDwEB/wQEAwIHgDATBgNV
HSUEDDAKBggrBgEFBQcDATAKBggqhkjOPQQDAgNHADBEAiAsJMpzSiCP3+he1YNj
GV+vQXv3WrIF/v3jIuXpeeGA3wIgF19IkBrD5yL6vVfF7QN4q9dCFgn+Ux1mJ4vz
gI0vo/g=
-----END CERTIFICATE-----
";
const SELF_SIGNED_KEY: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgTdREl3oeZ7aPom9W
apDdqwRwFNqE9dxHKQhkk+aQgfuhRANCAAToSFvlVg9h8ugLPH3cBPp5uzIwHs26
WNtxlBIiwREUb/eAnjS/nDBrQObAsm+6T8iBpWpQps7joiehoB+nzsDa
-----END PRIVATE KEY-----
";

/// An HTTPS endpoint on 127.0.0.1 with a self-signed certificate: every TLS client that checks
/// certificates gives up during the handshake. Counts the connections it is offered.
pub struct TlsTrap {
    pub addr: SocketAddr,
    connections: Arc<std::sync::atomic::AtomicUsize>,
}

impl TlsTrap {
    pub fn start() -> TlsTrap {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let cert = CertificateDer::from_pem_slice(SELF_SIGNED_CERT.as_bytes()).expect("cert");
        let key = PrivateKeyDer::from_pem_slice(SELF_SIGNED_KEY.as_bytes()).expect("key");
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .expect("TLS config");
        let config = Arc::new(config);
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let connections = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = connections.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut tcp) = stream else { continue };
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let config = config.clone();
                std::thread::spawn(move || {
                    let _ = tcp.set_read_timeout(Some(Duration::from_secs(5)));
                    let Ok(mut tls) = rustls::ServerConnection::new(config) else {
                        return;
                    };
                    // Until the client gives up on our certificate (or, never, succeeds).
                    while tls.is_handshaking() {
                        if tls.complete_io(&mut tcp).is_err() {
                            break;
                        }
                    }
                });
            }
        });
        TlsTrap { addr, connections }
    }

    pub fn url(&self) -> String {
        format!("https://{}/generative_callback", self.addr)
    }

    /// TCP connections offered so far (one per webhook attempt).
    pub fn connections(&self) -> usize {
        self.connections.load(std::sync::atomic::Ordering::SeqCst)
    }
}
