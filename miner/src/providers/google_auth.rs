//! Google's OAuth2 for a service account, as Vertex AI wants it: the key file
//! (`GOOGLE_APPLICATION_CREDENTIALS`, the JSON Google hands out), a JWT signed RS256 with its
//! private key (scope `cloud-platform`, audience the key file's `token_uri`, an hour's life),
//! exchanged at that URI (the JWT bearer grant) for an access token. The token is kept until
//! five minutes before it expires and fetched again then, or at once after a 401. The private
//! key and every token are secrets: registered with the log scrubber, never in an error.

use super::ProviderError;
use crate::secret::Secret;
use base64::Engine;
use std::path::Path;
use std::time::{Duration, Instant};

/// The scope Vertex AI's endpoints need.
pub(crate) const SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";
/// A token is fetched again this long before it expires.
const REFRESH_BEFORE: Duration = Duration::from_secs(300);
/// How long an assertion lives (Google's maximum).
const ASSERTION_LIFE_S: i64 = 3600;

/// The parts of a service account's key file the token needs.
#[derive(Clone)]
pub(crate) struct ServiceAccount {
    pub client_email: String,
    private_key: Secret,
    pub token_uri: String,
    pub project_id: Option<String>,
}

impl std::fmt::Debug for ServiceAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAccount")
            .field("client_email", &self.client_email)
            .field("token_uri", &self.token_uri)
            .finish_non_exhaustive()
    }
}

impl ServiceAccount {
    /// Reads and checks the key file; an error names the file, what is wrong and the fix,
    /// never a field's value.
    pub(crate) fn load(path: &Path) -> Result<ServiceAccount, String> {
        let fix = "download a JSON key for the service account (IAM → Service accounts → Keys) and point GOOGLE_APPLICATION_CREDENTIALS at it";
        let text = std::fs::read_to_string(path).map_err(|e| {
            format!(
                "GOOGLE_APPLICATION_CREDENTIALS={}: {e}; {fix}",
                path.display()
            )
        })?;
        let doc: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
            format!(
                "GOOGLE_APPLICATION_CREDENTIALS={}: not JSON (line {}); {fix}",
                path.display(),
                e.line()
            )
        })?;
        let field = |name: &str| {
            doc.get(name)
                .and_then(|v| v.as_str())
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        if field("type").as_deref() != Some("service_account") {
            return Err(format!(
                "GOOGLE_APPLICATION_CREDENTIALS={}: not a service account key (its \"type\" is not \"service_account\"); {fix}",
                path.display()
            ));
        }
        let missing = |name: &str| {
            format!(
                "GOOGLE_APPLICATION_CREDENTIALS={}: the key file has no \"{name}\"; {fix}",
                path.display()
            )
        };
        let private_key = field("private_key").ok_or_else(|| missing("private_key"))?;
        crate::secret::keep_secret(&private_key);
        openssl::pkey::PKey::private_key_from_pem(private_key.as_bytes()).map_err(|_| {
            format!(
                "GOOGLE_APPLICATION_CREDENTIALS={}: its \"private_key\" is not a PEM private key; {fix}",
                path.display()
            )
        })?;
        Ok(ServiceAccount {
            client_email: field("client_email").ok_or_else(|| missing("client_email"))?,
            private_key: Secret::new(&private_key),
            token_uri: field("token_uri")
                .unwrap_or_else(|| "https://oauth2.googleapis.com/token".to_string()),
            project_id: field("project_id"),
        })
    }

    /// The signed JWT asking for `SCOPE`, issued at `now_s` (unix seconds).
    pub(crate) fn assertion(&self, now_s: i64) -> Result<String, String> {
        let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        let header = b64(br#"{"alg":"RS256","typ":"JWT"}"#);
        let claims = b64(serde_json::json!({
            "iss": self.client_email,
            "scope": SCOPE,
            "aud": self.token_uri,
            "iat": now_s,
            "exp": now_s + ASSERTION_LIFE_S,
        })
        .to_string()
        .as_bytes());
        let signing_input = format!("{header}.{claims}");
        let key = openssl::pkey::PKey::private_key_from_pem(self.private_key.expose().as_bytes())
            .map_err(|_| "the service account's private key cannot be read".to_string())?;
        let mut signer = openssl::sign::Signer::new(openssl::hash::MessageDigest::sha256(), &key)
            .map_err(|e| format!("cannot sign the token request: {e}"))?;
        signer
            .update(signing_input.as_bytes())
            .map_err(|e| format!("cannot sign the token request: {e}"))?;
        let signature = signer
            .sign_to_vec()
            .map_err(|e| format!("cannot sign the token request: {e}"))?;
        Ok(format!("{signing_input}.{}", b64(&signature)))
    }
}

/// Access tokens for one service account, fetched when needed and kept until near expiry.
pub(crate) struct TokenSource {
    account: ServiceAccount,
    client: reqwest::Client,
    cached: tokio::sync::Mutex<Option<(Secret, Instant)>>,
}

impl TokenSource {
    pub(crate) fn new(account: ServiceAccount, client: reqwest::Client) -> TokenSource {
        TokenSource {
            account,
            client,
            cached: tokio::sync::Mutex::new(None),
        }
    }

    /// A token good for at least five more minutes (one fetch at a time).
    pub(crate) async fn token(&self) -> Result<Secret, ProviderError> {
        let mut cached = self.cached.lock().await;
        if let Some((token, expires)) = cached.as_ref()
            && Instant::now() + REFRESH_BEFORE < *expires
        {
            return Ok(token.clone());
        }
        let (token, life) = self.fetch().await?;
        *cached = Some((token.clone(), Instant::now() + life));
        Ok(token)
    }

    /// Drops the kept token (Google answered 401: it expired or was revoked early).
    pub(crate) async fn forget(&self) {
        *self.cached.lock().await = None;
    }

    async fn fetch(&self) -> Result<(Secret, Duration), ProviderError> {
        let now_s = crate::clock::now_ms() / 1000;
        let assertion = self.account.assertion(now_s).map_err(ProviderError::new)?;
        let body = format!(
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion={assertion}"
        );
        let resp = self
            .client
            .post(&self.account.token_uri)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .map_err(|e| ProviderError {
                message: format!(
                    "Google's token endpoint {} could not be reached: {}",
                    self.account.token_uri,
                    crate::text::error_chain(&e)
                ),
                unreachable: true,
                ..ProviderError::default()
            })?;
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        let doc: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        let token = doc
            .get("access_token")
            .and_then(|t| t.as_str())
            .filter(|_| status == 200);
        let Some(token) = token else {
            let why = [doc.get("error"), doc.get("error_description")]
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str())
                .collect::<Vec<_>>()
                .join(": ");
            return Err(ProviderError {
                message: format!(
                    "Google refused the service account {}'s token request (HTTP {status}{}): check GOOGLE_APPLICATION_CREDENTIALS and that the account may use Vertex AI",
                    self.account.client_email,
                    if why.is_empty() {
                        String::new()
                    } else {
                        format!(", {why}")
                    }
                ),
                // Not the key of a call: the credentials themselves were refused.
                status: Some(if status == 200 { 502 } else { 401 }),
                ..ProviderError::default()
            });
        };
        crate::secret::keep_secret(token);
        let life = doc
            .get("expires_in")
            .and_then(|e| e.as_u64())
            .map_or(Duration::from_secs(3600), Duration::from_secs);
        Ok((Secret::new(token), life))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A service account key file with a fresh RSA key; returns its path and the public key.
    pub(crate) fn key_file(
        dir: &Path,
        token_uri: &str,
    ) -> (
        std::path::PathBuf,
        openssl::pkey::PKey<openssl::pkey::Public>,
    ) {
        let rsa = openssl::rsa::Rsa::generate(2048).expect("rsa");
        let key = openssl::pkey::PKey::from_rsa(rsa).expect("pkey");
        let pem = String::from_utf8(key.private_key_to_pem_pkcs8().expect("pem")).expect("utf8");
        let public =
            openssl::pkey::PKey::public_key_from_pem(&key.public_key_to_pem().expect("pub"))
                .expect("public");
        let path = dir.join("sa.json");
        std::fs::write(
            &path,
            serde_json::json!({
                "type": "service_account",
                "project_id": "gas-test",
                "private_key_id": "k1",
                "private_key": pem,
                "client_email": "miner@gas-test.iam.gserviceaccount.com",
                "token_uri": token_uri,
            })
            .to_string(),
        )
        .expect("write");
        (path, public)
    }

    #[test]
    fn the_assertion_is_an_rs256_jwt_google_can_verify() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (path, public) = key_file(dir.path(), "https://oauth2.googleapis.com/token");
        let account = ServiceAccount::load(&path).expect("loads");
        assert_eq!(account.project_id.as_deref(), Some("gas-test"));
        let jwt = account.assertion(1_800_000_000).expect("signed");
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3);
        let decode = |p: &str| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(p)
                .expect("base64url")
        };
        let claims: serde_json::Value = serde_json::from_slice(&decode(parts[1])).expect("json");
        assert_eq!(claims["iss"], "miner@gas-test.iam.gserviceaccount.com");
        assert_eq!(claims["scope"], SCOPE);
        assert_eq!(claims["aud"], "https://oauth2.googleapis.com/token");
        assert_eq!(claims["exp"].as_i64(), Some(1_800_000_000 + 3600));
        let mut verifier =
            openssl::sign::Verifier::new(openssl::hash::MessageDigest::sha256(), &public)
                .expect("verifier");
        verifier
            .update(format!("{}.{}", parts[0], parts[1]).as_bytes())
            .expect("update");
        assert!(
            verifier.verify(&decode(parts[2])).expect("verify"),
            "signature checks out"
        );
        assert!(
            !format!("{account:?}").contains("PRIVATE KEY"),
            "Debug hides the key"
        );
    }

    /// A token endpoint that checks the grant and the assertion's signature, and hands out
    /// tokens living `life` seconds; it counts what it issued.
    async fn token_endpoint(
        public: openssl::pkey::PKey<openssl::pkey::Public>,
        life: u64,
    ) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let issued = std::sync::Arc::new(AtomicUsize::new(0));
        let count = issued.clone();
        let app = axum::Router::new().route(
            "/token",
            axum::routing::post(move |body: String| {
                let (public, count) = (public.clone(), count.clone());
                async move {
                    let assertion = body
                        .strip_prefix("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=")
                        .unwrap_or_default();
                    let parts: Vec<&str> = assertion.split('.').collect();
                    let signed = parts.len() == 3 && {
                        let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD
                            .decode(parts[2])
                            .unwrap_or_default();
                        let mut v = openssl::sign::Verifier::new(
                            openssl::hash::MessageDigest::sha256(),
                            &public,
                        )
                        .expect("verifier");
                        v.update(format!("{}.{}", parts[0], parts[1]).as_bytes())
                            .expect("update");
                        v.verify(&sig).unwrap_or(false)
                    };
                    if !signed {
                        return (
                            axum::http::StatusCode::BAD_REQUEST,
                            axum::Json(serde_json::json!({"error": "invalid_grant", "error_description": "Invalid JWT Signature."})),
                        );
                    }
                    let n = count.fetch_add(1, Ordering::SeqCst) + 1;
                    (
                        axum::http::StatusCode::OK,
                        axum::Json(serde_json::json!({"access_token": format!("ya29.test-token-{n:04}"), "expires_in": life, "token_type": "Bearer"})),
                    )
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}/token", listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        (url, issued)
    }

    #[tokio::test]
    async fn tokens_are_kept_until_near_expiry_fetched_again_then_and_after_a_401() {
        use std::sync::atomic::Ordering;
        let dir = tempfile::tempdir().expect("tempdir");
        // The endpoint's URL is known once it listens; the key file is written for it.
        let rsa = openssl::rsa::Rsa::generate(2048).expect("rsa");
        let key = openssl::pkey::PKey::from_rsa(rsa).expect("pkey");
        let public =
            openssl::pkey::PKey::public_key_from_pem(&key.public_key_to_pem().expect("pub"))
                .expect("public");
        let (url, issued) = token_endpoint(public, 3600).await;
        let path = dir.path().join("sa.json");
        let pem = String::from_utf8(key.private_key_to_pem_pkcs8().expect("pem")).expect("utf8");
        std::fs::write(
            &path,
            serde_json::json!({"type": "service_account", "private_key": pem, "client_email": "m@p.iam.gserviceaccount.com", "token_uri": url}).to_string(),
        )
        .expect("write");
        let source = TokenSource::new(
            ServiceAccount::load(&path).expect("loads"),
            crate::tls::http_client().build().expect("client"),
        );
        let a = source.token().await.expect("token");
        let b = source.token().await.expect("token");
        assert_eq!(a.expose(), b.expose(), "kept");
        assert_eq!(issued.load(Ordering::SeqCst), 1);
        source.forget().await;
        let c = source.token().await.expect("token");
        assert_ne!(a.expose(), c.expose(), "fetched again after a 401");
        assert_eq!(
            crate::secret::scrub(&format!("sent {}", c.expose())),
            "sent ***",
            "a token never reaches a log"
        );

        // Tokens that live less than the refresh margin are fetched for every use.
        let (short_url, short_issued) = {
            let public =
                openssl::pkey::PKey::public_key_from_pem(&key.public_key_to_pem().expect("pub"))
                    .expect("public");
            token_endpoint(public, 120).await
        };
        std::fs::write(
            &path,
            serde_json::json!({"type": "service_account", "private_key": pem, "client_email": "m@p.iam.gserviceaccount.com", "token_uri": short_url}).to_string(),
        )
        .expect("write");
        let short = TokenSource::new(
            ServiceAccount::load(&path).expect("loads"),
            crate::tls::http_client().build().expect("client"),
        );
        short.token().await.expect("token");
        short.token().await.expect("token");
        assert_eq!(
            short_issued.load(Ordering::SeqCst),
            2,
            "near expiry: fetched again"
        );

        // A key the endpoint does not know: refused, named, nothing secret said.
        let (path2, _) = key_file(dir.path(), &url);
        let stranger = TokenSource::new(
            ServiceAccount::load(&path2).expect("loads"),
            crate::tls::http_client().build().expect("client"),
        );
        let e = stranger.token().await.expect_err("refused");
        assert_eq!(e.status, Some(401));
        assert!(
            e.message.contains("miner@gas-test.iam.gserviceaccount.com")
                && e.message.contains("invalid_grant: Invalid JWT Signature."),
            "{}",
            e.message
        );
    }

    #[test]
    fn a_bad_key_file_says_what_is_wrong_without_showing_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sa.json");
        let e = ServiceAccount::load(&path).expect_err("missing");
        assert!(
            e.starts_with(&format!(
                "GOOGLE_APPLICATION_CREDENTIALS={}",
                path.display()
            )),
            "{e}"
        );
        std::fs::write(
            &path,
            r#"{"type": "authorized_user", "client_secret": "s3cr3t-value"}"#,
        )
        .expect("w");
        let e = ServiceAccount::load(&path).expect_err("user creds");
        assert!(
            e.contains("not a service account key") && !e.contains("s3cr3t"),
            "{e}"
        );
        std::fs::write(
            &path,
            r#"{"type": "service_account", "client_email": "a@b", "private_key": "-----BEGIN PRIVATE KEY-----\nnot-a-key-at-all\n-----END PRIVATE KEY-----\n"}"#,
        )
        .expect("w");
        let e = ServiceAccount::load(&path).expect_err("bad pem");
        assert!(
            e.contains("is not a PEM private key") && !e.contains("not-a-key-at-all"),
            "{e}"
        );
    }
}
