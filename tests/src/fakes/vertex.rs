//! Veo on Vertex AI as the fake serves it (PROVIDERS.md, "Google, called directly"): a
//! service account made at start (its key file written for the miner with `key_file`), a
//! token endpoint that checks the JWT bearer grant as Google does (the signature against the
//! account's public key, the issuer, the `cloud-platform` scope, the audience, the expiry) and
//! issues tokens of a scripted life; `…/models/{model}:predictLongRunning` (the token checked,
//! the instance and parameters checked against the model) → an operation name;
//! `…/models/{model}:fetchPredictOperation` → running, then `done` with the video inline in
//! base64, or `error`, or a safety filter's `raiMediaFilteredCount`. `GET …/models/{model}`
//! answers for `gas-miner doctor`.

use super::jobs::{Polled, create_job, job_media, poll};
use super::{Api, Shared, arrive, json_reply, lock};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::{Duration, Instant};

pub const CLIENT_EMAIL: &str = "gas-miner@gas-test.iam.gserviceaccount.com";
pub const PROJECT: &str = "gas-test";
const SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";
const MODELS: [(&str, &[&str]); 3] = [
    ("veo-3.1-lite-generate-001", &["720p", "1080p"]),
    ("veo-3.1-fast-generate-001", &["720p", "1080p", "4k"]),
    ("veo-3.1-generate-001", &["720p", "1080p", "4k"]),
];

/// The service account and the tokens issued for it.
pub struct Auth {
    private_pem: String,
    public: openssl::pkey::PKey<openssl::pkey::Public>,
    /// Token → when it expires.
    pub issued: HashMap<String, Instant>,
    /// Seconds a new token lives.
    pub life: u64,
    /// Grants refused, and why (a wrong signature, scope, audience…).
    pub refused: Vec<String>,
}

impl Auth {
    pub(super) fn new() -> Auth {
        let rsa = openssl::rsa::Rsa::generate(2048).expect("rsa key");
        let key = openssl::pkey::PKey::from_rsa(rsa).expect("pkey");
        let private_pem =
            String::from_utf8(key.private_key_to_pem_pkcs8().expect("pem")).expect("utf8");
        let public =
            openssl::pkey::PKey::public_key_from_pem(&key.public_key_to_pem().expect("public"))
                .expect("public key");
        Auth {
            private_pem,
            public,
            issued: HashMap::new(),
            life: 3600,
            refused: Vec::new(),
        }
    }

    pub(super) fn key_file(&self, dir: &std::path::Path, token_uri: &str) -> std::path::PathBuf {
        let path = dir.join("vertex-service-account.json");
        std::fs::write(
            &path,
            json!({
                "type": "service_account",
                "project_id": PROJECT,
                "private_key_id": "fake-key-1",
                "private_key": self.private_pem,
                "client_email": CLIENT_EMAIL,
                "client_id": "1",
                "token_uri": token_uri,
            })
            .to_string(),
        )
        .expect("key file");
        path
    }

    pub(super) fn valid(&self, token: &str) -> bool {
        self.issued
            .get(token)
            .is_some_and(|expires| Instant::now() < *expires)
    }

    pub(super) fn revoke(&mut self) {
        for expires in self.issued.values_mut() {
            *expires = Instant::now();
        }
    }

    /// Why `assertion` is refused, if it is.
    fn check(&self, assertion: &str, token_uri: &str) -> Option<String> {
        let parts: Vec<&str> = assertion.split('.').collect();
        if parts.len() != 3 {
            return Some("not a JWT".into());
        }
        let decode = |p: &str| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(p)
                .ok()
        };
        let header: Value = serde_json::from_slice(&decode(parts[0])?).ok()?;
        if header["alg"] != "RS256" {
            return Some(format!("alg {}", header["alg"]));
        }
        let signature = decode(parts[2]).unwrap_or_default();
        let mut verifier =
            openssl::sign::Verifier::new(openssl::hash::MessageDigest::sha256(), &self.public)
                .ok()?;
        verifier
            .update(format!("{}.{}", parts[0], parts[1]).as_bytes())
            .ok()?;
        if !verifier.verify(&signature).unwrap_or(false) {
            return Some("Invalid JWT Signature.".into());
        }
        let claims: Value = serde_json::from_slice(&decode(parts[1])?).ok()?;
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        if claims["iss"] != CLIENT_EMAIL {
            return Some(format!("Invalid issuer {}", claims["iss"]));
        }
        if claims["scope"] != SCOPE {
            return Some(format!("Invalid scope {}", claims["scope"]));
        }
        if claims["aud"] != token_uri {
            return Some(format!("Invalid audience {}", claims["aud"]));
        }
        let (iat, exp) = (claims["iat"].as_i64()?, claims["exp"].as_i64()?);
        if exp <= now || exp - iat > 3600 || iat > now + 60 {
            return Some("Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.".into());
        }
        None
    }
}

fn google_error(code: u16, status: &str, message: &str) -> Response {
    json_reply(
        code,
        json!({"error": {"code": code, "message": message, "status": status}}),
        None,
    )
}

fn unauthenticated() -> Response {
    google_error(
        401,
        "UNAUTHENTICATED",
        "Request had invalid authentication credentials. Expected OAuth 2 access token.",
    )
}

/// `POST /token`: the JWT bearer grant.
pub(super) async fn token(
    State(state): State<Shared>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    let token_uri = format!("http://{host}/vertex/token");
    let fields: HashMap<&str, &str> = body
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .collect();
    let mut s = lock(&state);
    let why = if fields.get("grant_type")
        != Some(&"urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer")
    {
        Some("unsupported grant_type".to_string())
    } else {
        s.vertex.check(
            fields.get("assertion").copied().unwrap_or_default(),
            &token_uri,
        )
    };
    if let Some(why) = why {
        s.vertex.refused.push(why.clone());
        return json_reply(
            400,
            json!({"error": "invalid_grant", "error_description": why}),
            None,
        );
    }
    let token = format!("ya29.fake-{}", uuid::Uuid::new_v4().simple());
    let life = s.vertex.life;
    s.vertex
        .issued
        .insert(token.clone(), Instant::now() + Duration::from_secs(life));
    Json(json!({"access_token": token, "expires_in": life, "token_type": "Bearer"})).into_response()
}

/// `GET …/models/{model}`: the model's page, for a valid token.
pub(super) async fn model(
    State(state): State<Shared>,
    Path((_, _, model)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    let (_, ok) = arrive(&state, Api::Vertex, "models", &headers, &Value::Null);
    if !ok {
        return unauthenticated();
    }
    if !MODELS.iter().any(|(m, _)| *m == model) {
        return google_error(
            404,
            "NOT_FOUND",
            &format!("Publisher Model `{model}` not found."),
        );
    }
    Json(json!({"name": format!("publishers/google/models/{model}")})).into_response()
}

/// `POST …/models/{model}:predictLongRunning` and `…:fetchPredictOperation`.
pub(super) async fn call(
    State(state): State<Shared>,
    Path((project, location, call)): Path<(String, String, String)>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let Some((model, method)) = call.split_once(':') else {
        return google_error(404, "NOT_FOUND", "unknown method");
    };
    let Some((_, resolutions)) = MODELS.iter().find(|(m, _)| *m == model) else {
        return google_error(
            404,
            "NOT_FOUND",
            &format!("Publisher Model `{model}` not found."),
        );
    };
    let prefix = format!(
        "projects/{project}/locations/{location}/publishers/google/models/{model}/operations/"
    );
    match method {
        "predictLongRunning" => {
            let (reply, ok) = arrive(&state, Api::Vertex, "create", &headers, &body);
            if !ok {
                return unauthenticated();
            }
            let p = &body["parameters"];
            let prompt = body.pointer("/instances/0/prompt").and_then(|p| p.as_str());
            let resolution = p["resolution"].as_str().unwrap_or("720p");
            if prompt.is_none_or(str::is_empty)
                || !resolutions.contains(&resolution)
                || !matches!(p["durationSeconds"].as_u64(), Some(4 | 6 | 8))
                || !matches!(p["aspectRatio"].as_str(), Some("16:9" | "9:16"))
                || p["sampleCount"].as_u64().is_some_and(|n| n != 1)
            {
                return google_error(
                    400,
                    "INVALID_ARGUMENT",
                    &format!("Unsupported parameters for {model}: {p}"),
                );
            }
            let accepted =
                |id: String| Json(json!({"name": format!("{prefix}{id}")})).into_response();
            // A refusal is accepted, then filtered: the operation ends without a video.
            let refused = || google_error(500, "INTERNAL", "unused");
            let reply = match reply {
                super::Reply::Refuse => super::Reply::JobFails("rai-filtered".into()),
                other => other,
            };
            create_job(&state, Api::Vertex, reply, "vtx-", refused, accepted).await
        }
        "fetchPredictOperation" => {
            let name = body["operationName"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let id = name.strip_prefix(&prefix).unwrap_or_default().to_string();
            match poll(&state, Api::Vertex, &headers, &id, unauthenticated) {
                Polled::Answered(r) => r,
                Polled::Unknown => google_error(404, "NOT_FOUND", &format!("Operation {name} not found.")),
                Polled::Running => Json(json!({"name": name})).into_response(),
                Polled::Failed(why) if why == "rai-filtered" => Json(json!({"name": name, "done": true, "response": {
                    "@type": "type.googleapis.com/cloud.ai.large_models.vision.GenerateVideoResponse",
                    "raiMediaFilteredCount": 1,
                    "raiMediaFilteredReasons": ["The prompt could not be submitted: it names a real person."]
                }})).into_response(),
                Polled::Failed(why) => Json(json!({"name": name, "done": true, "error": {"code": 13, "message": why}})).into_response(),
                Polled::Completed => {
                    let media = job_media(&state, &id).unwrap_or_default();
                    let b64 = base64::engine::general_purpose::STANDARD.encode(&media);
                    Json(json!({"name": name, "done": true, "response": {
                        "@type": "type.googleapis.com/cloud.ai.large_models.vision.GenerateVideoResponse",
                        "videos": [{"mimeType": "video/mp4", "bytesBase64Encoded": b64}]
                    }}))
                    .into_response()
                }
            }
        }
        _ => google_error(404, "NOT_FOUND", "unknown method"),
    }
}
