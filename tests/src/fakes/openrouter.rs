//! OpenRouter as the fake serves it: chat completions that answer with an image, and `/videos`
//! jobs (202, poll, `/content`) for the models it serves with verifiable C2PA; the public
//! model lists (`/models` with each model's output modalities, `/videos/models`) and the
//! key's own record (`/key`).

use super::jobs::{Polled, create_job, poll};
use super::{Api, Shared, account, arrive, coded_error as error, image_reply, offered};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

fn unauthorized() -> Response {
    error(401, "No auth credentials found")
}

pub(super) async fn chat(
    State(state): State<Shared>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let (reply, ok) = arrive(&state, Api::OpenRouterImage, "generate", &headers, &body);
    if !ok {
        return unauthorized();
    }
    let size = body
        .pointer("/image_config/image_size")
        .and_then(|v| v.as_str())
        .unwrap_or("1K")
        .to_string();
    let aspect = body
        .pointer("/image_config/aspect_ratio")
        .and_then(|v| v.as_str())
        .unwrap_or("1:1");
    let model = body
        .get("model")
        .and_then(|m| m.as_str())
        .unwrap_or_default();
    if !offered(&state, model) {
        return error(404, &format!("No endpoints found for {model}."));
    }
    if !["0.5K", "1K", "2K", "4K"].contains(&size.as_str())
        || ![
            "1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9",
        ]
        .contains(&aspect)
    {
        return error(400, "Invalid image_config");
    }
    let refused = || {
        error(
            403,
            "Your input was flagged by the provider's moderation: violence",
        )
    };
    image_reply(&state, Api::OpenRouterImage, reply, refused, |png| {
        use base64::Engine;
        let url = format!(
            "data:image/png;base64,{}",
            base64::engine::general_purpose::STANDARD.encode(&png)
        );
        Json(json!({"id": "gen-1", "choices": [{"message": {"role": "assistant", "content": "", "images": [{"type": "image_url", "image_url": {"url": url}}]}}]})).into_response()
    })
    .await
}

/// The video models OpenRouter serves with verifiable C2PA, as the fake checks them.
fn video_model(
    model: &str,
) -> Option<(
    &'static [u32],
    &'static [&'static str],
    &'static [&'static str],
)> {
    const VEO: &[&str] = &["16:9", "9:16"];
    const SEED: &[&str] = &["1:1", "3:4", "9:16", "4:3", "16:9", "21:9", "9:21"];
    const SEED_S: &[u32] = &[4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
    match model {
        "google/veo-3.1" | "google/veo-3.1-fast" => {
            Some((&[4, 6, 8], VEO, &["720p", "1080p", "4K"]))
        }
        "google/veo-3.1-lite" => Some((&[4, 6, 8], VEO, &["720p", "1080p"])),
        "bytedance/seedance-2.0" => Some((SEED_S, SEED, &["480p", "720p", "1080p"])),
        "bytedance/seedance-2.0-fast" => Some((SEED_S, SEED, &["480p", "720p"])),
        _ => None,
    }
}

pub(super) async fn video_create(
    State(state): State<Shared>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let (reply, ok) = arrive(&state, Api::OpenRouterVideo, "create", &headers, &body);
    if !ok {
        return unauthorized();
    }
    let model = body["model"].as_str().unwrap_or("");
    let Some((durations, ratios, resolutions)) = video_model(model) else {
        return error(
            400,
            &format!("Model {model} not found or not a video model"),
        );
    };
    let duration = body["duration"].as_u64().unwrap_or(0) as u32;
    let ratio = body["aspect_ratio"].as_str().unwrap_or("");
    let resolution = body["resolution"].as_str().unwrap_or("");
    if !durations.contains(&duration)
        || !ratios.contains(&ratio)
        || !resolutions.contains(&resolution)
        || body["prompt"].as_str().is_none_or(str::is_empty)
    {
        return error(
            400,
            &format!(
                "Unsupported parameters for {model}: duration {duration}, aspect_ratio {ratio}, resolution {resolution}"
            ),
        );
    }
    let accepted = |id: String| {
        (
            StatusCode::ACCEPTED,
            Json(json!({"id": id, "polling_url": format!("/api/v1/videos/{id}"), "status": "pending"})),
        )
            .into_response()
    };
    let refused = || error(403, "Prompt flagged by moderation");
    create_job(
        &state,
        Api::OpenRouterVideo,
        reply,
        "job-",
        refused,
        accepted,
    )
    .await
}

pub(super) async fn video_get(
    State(state): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let polling_url = format!("/api/v1/videos/{id}");
    match poll(&state, Api::OpenRouterVideo, &headers, &id, unauthorized) {
        Polled::Answered(answer) => answer,
        Polled::Unknown => error(404, "Video generation job not found"),
        Polled::Running => {
            Json(json!({"id": id, "polling_url": polling_url, "status": "in_progress"}))
                .into_response()
        }
        Polled::Completed => Json(json!({
            "id": id, "polling_url": polling_url, "status": "completed", "generation_id": "gen-xyz",
            "unsigned_urls": [format!("https://storage.example/{id}.mp4")], "usage": {"cost": 0.12, "is_byok": false},
        }))
        .into_response(),
        Polled::Failed(why) => Json(
            json!({"id": id, "polling_url": polling_url, "status": "failed", "error": why}),
        )
        .into_response(),
    }
}

/// What `GET /models` lists: each id with the modalities it outputs.
const MODELS: [(&str, &[&str]); 6] = [
    ("google/gemini-3-pro-image-preview", &["image", "text"]),
    ("google/gemini-3-pro-image", &["image", "text"]),
    ("google/gemini-3.1-flash-image", &["image", "text"]),
    ("openai/gpt-5-image", &["image", "text"]),
    ("openai/gpt-4o", &["text"]),
    ("google/veo-3.1-lite", &["video"]),
];

/// What `GET /videos/models` lists.
const VIDEO_MODELS: [&str; 5] = [
    "google/veo-3.1",
    "google/veo-3.1-fast",
    "google/veo-3.1-lite",
    "bytedance/seedance-2.0",
    "bytedance/seedance-2.0-fast",
];

/// `GET /models`: public, no key needed.
pub(super) async fn models(State(state): State<Shared>, headers: HeaderMap) -> Response {
    account(&state, Api::OpenRouterImage, "models", &headers);
    let data: Vec<Value> = MODELS
        .iter()
        .filter(|(id, _)| offered(&state, id))
        .map(|(id, out)| {
            json!({"id": id, "name": id, "architecture": {
                "input_modalities": ["text"], "output_modalities": out}})
        })
        .collect();
    Json(json!({ "data": data })).into_response()
}

/// `GET /videos/models`: public, with the prices validators read.
pub(super) async fn video_models(State(state): State<Shared>, headers: HeaderMap) -> Response {
    account(&state, Api::OpenRouterVideo, "models", &headers);
    let data: Vec<Value> = VIDEO_MODELS
        .iter()
        .filter(|id| offered(&state, id))
        .map(|id| json!({"id": id, "pricing": {"per_second": "0.05"}}))
        .collect();
    Json(json!({ "data": data })).into_response()
}

/// `GET /key`: the calling key's label and usage; 401 for any other key.
pub(super) async fn key(State(state): State<Shared>, headers: HeaderMap) -> Response {
    if !account(&state, Api::OpenRouterImage, "account", &headers) {
        return unauthorized();
    }
    Json(json!({"data": {"label": "sk-or-...key", "usage": 1.25, "limit": null, "is_free_tier": false}}))
        .into_response()
}
