//! Google's Gemini API as the fake serves it (PROVIDERS.md, "Google, called directly"):
//! `POST /v1beta/models/{model}:generateContent` with the key in `x-goog-api-key` (a key in
//! the URL is a violation), `imageConfig.imageSize` `1K`/`2K`/`4K` (capital K) and the allowed
//! aspect ratios checked; the answer holds a "thought" text and an unsigned interim image
//! (`thought: true`) before the final C2PA-signed image of the size asked. A refusal is a 200
//! with `finishReason: IMAGE_SAFETY` and no image; errors are `google.rpc.Status`, and a 429
//! is scripted with its `RetryInfo` or `QuotaFailure` details. `GET /v1beta/models` lists the
//! image models for `gas-miner doctor`.

use super::studio::{make_png_sized, unsigned_png};
use super::{Api, Reply, Shared, account, arrive, json_reply, lock, made, offered, scripted};
use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::{Value, json};

const MODELS: [&str; 2] = ["gemini-3-pro-image", "gemini-3.1-flash-image"];
const RATIOS: [&str; 10] = [
    "1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9",
];

/// A `google.rpc.Status` error.
pub fn status_error(code: u16, status: &str, message: &str) -> Value {
    json!({"error": {"code": code, "message": message, "status": status}})
}

/// The 429 of a per-minute quota: wait `seconds`, as `RetryInfo` says.
pub fn rate_limited(seconds: f64) -> Reply {
    Reply::Status {
        status: 429,
        body: json!({"error": {"code": 429, "status": "RESOURCE_EXHAUSTED",
            "message": "Quota exceeded for quota metric 'Generate requests' and limit 'per minute'. Please retry.",
            "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": format!("{seconds}s")}]}}),
        retry_after: None,
    }
}

/// The 429 of a per-day quota: nothing more until midnight Pacific.
pub fn out_for_the_day() -> Reply {
    Reply::Status {
        status: 429,
        body: json!({"error": {"code": 429, "status": "RESOURCE_EXHAUSTED",
        "message": "You exceeded your current quota, please check your plan and billing details.",
        "details": [
            {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [
                {"quotaMetric": "generativelanguage.googleapis.com/generate_requests_per_model_per_day",
                 "quotaId": "GenerateRequestsPerDayPerProjectPerModel"}]},
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "20s"}
        ]}}),
        retry_after: None,
    }
}

fn bad(message: &str) -> Response {
    json_reply(400, status_error(400, "INVALID_ARGUMENT", message), None)
}

pub(super) async fn generate(
    State(state): State<Shared>,
    Path(call): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if query.is_some_and(|q| q.contains("key=")) {
        lock(&state)
            .violations
            .push("the Gemini API key was sent in the URL".into());
    }
    let (reply, ok) = arrive(&state, Api::Google, "generate", &headers, &body);
    if !ok {
        return bad("API key not valid. Please pass a valid API key.");
    }
    let Some(model) = call.strip_suffix(":generateContent") else {
        return json_reply(404, status_error(404, "NOT_FOUND", "unknown method"), None);
    };
    if !MODELS.contains(&model) || !offered(&state, model) {
        return json_reply(
            404,
            status_error(
                404,
                "NOT_FOUND",
                &format!(
                    "models/{model} is not found for API version v1beta, or is not supported for generateContent."
                ),
            ),
            None,
        );
    }
    let prompt = body
        .pointer("/contents/0/parts/0/text")
        .and_then(|t| t.as_str())
        .unwrap_or_default();
    let config = body.pointer("/generationConfig/imageConfig");
    let size = config
        .and_then(|c| c.get("imageSize"))
        .and_then(|s| s.as_str())
        .unwrap_or("1K");
    let aspect = config
        .and_then(|c| c.get("aspectRatio"))
        .and_then(|s| s.as_str())
        .unwrap_or("1:1");
    let modalities = body
        .pointer("/generationConfig/responseModalities")
        .and_then(|m| m.as_array())
        .is_some_and(|m| m.iter().any(|x| x == "IMAGE"));
    if prompt.trim().is_empty() {
        return bad("* GenerateContentRequest.contents: contents is not specified");
    }
    if !modalities {
        return bad("responseModalities must include IMAGE for an image model");
    }
    let long: u32 = match size {
        "1K" => 1024,
        "2K" => 2048,
        "4K" => 4096,
        _ => {
            return bad(&format!(
                "Invalid value at 'generation_config.image_config.image_size' ({size}): use 1K, 2K or 4K"
            ));
        }
    };
    if !RATIOS.contains(&aspect) {
        return bad(&format!("Invalid aspect ratio {aspect}"));
    }
    match reply {
        Reply::Ok { .. } | Reply::Hang(_) => {
            made(&state, &reply).await;
            let (w, h) = dimensions(long, aspect);
            let png = make_png_sized(&state, Api::Google, w, h);
            let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
            Json(json!({"candidates": [{
                "content": {"role": "model", "parts": [
                    {"text": "Composing the scene…", "thought": true},
                    {"inlineData": {"mimeType": "image/png", "data": b64(&unsigned_png())}, "thought": true},
                    {"text": "Here is your image."},
                    {"inlineData": {"mimeType": "image/png", "data": b64(&png)}}
                ]},
                "finishReason": "STOP"
            }], "modelVersion": model}))
            .into_response()
        }
        Reply::Refuse => Json(json!({"candidates": [{
            "finishReason": "IMAGE_SAFETY",
            "finishMessage": "Unable to show the generated image: it may violate Google's Generative AI Prohibited Use policy."
        }], "modelVersion": model}))
        .into_response(),
        other => scripted(other),
    }
}

/// The picture's size: the long side `long`, the other by `aspect`.
fn dimensions(long: u32, aspect: &str) -> (u32, u32) {
    let (w, h) = aspect
        .split_once(':')
        .and_then(|(a, b)| Some((a.parse::<f64>().ok()?, b.parse::<f64>().ok()?)))
        .unwrap_or((1.0, 1.0));
    if w >= h {
        (long, (f64::from(long) * h / w).round() as u32)
    } else {
        ((f64::from(long) * w / h).round() as u32, long)
    }
}

pub(super) async fn models(State(state): State<Shared>, headers: HeaderMap) -> Response {
    if !account(&state, Api::Google, "models", &headers) {
        return bad("API key not valid. Please pass a valid API key.");
    }
    let models: Vec<Value> = MODELS
        .iter()
        .filter(|m| offered(&state, m))
        .map(|m| json!({"name": format!("models/{m}"), "supportedGenerationMethods": ["generateContent"]}))
        .collect();
    Json(json!({"models": models})).into_response()
}
