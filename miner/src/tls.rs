//! The one TLS stack: rustls with ring, for every HTTPS client the miner makes (providers,
//! webhooks, trust-anchor downloads, address discovery) and the chain's WebSocket. OpenSSL is
//! used only inside c2pa, as the validators' c2pa-python does.

/// An HTTP client builder whose TLS uses ring (installed as the process default first).
pub(crate) fn http_client() -> reqwest::ClientBuilder {
    use_ring();
    reqwest::Client::builder()
}

/// Makes ring the process's rustls provider, once; later calls do nothing.
pub(crate) fn use_ring() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
