//! OpenAI as the fake serves it: `images/generations` (`b64_json`) and Sora `videos` jobs, with
//! OpenAI's allowed values and error shape, and `GET /models` (the key's model list).

use super::jobs::{Polled, create_job, poll};
use super::{Api, Seen, Shared, account, arrive, image_reply, json_reply, lock, offered};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::time::Instant;

fn error(status: u16, message: &str, param: Option<&str>, code: &str) -> Response {
    json_reply(
        status,
        json!({"error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}}),
        None,
    )
}

fn unauthorized() -> Response {
    error(
        401,
        "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.",
        None,
        "invalid_api_key",
    )
}

pub(super) async fn image(
    State(state): State<Shared>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let (reply, ok) = arrive(&state, Api::OpenAiImage, "generate", &headers, &body);
    if !ok {
        return unauthorized();
    }
    let s = |k: &str| body.get(k).and_then(|v| v.as_str()).unwrap_or("");
    if !s("model").starts_with("gpt-image") {
        return error(
            400,
            &format!("The model '{}' does not exist.", s("model")),
            Some("model"),
            "model_not_found",
        );
    }
    if !["1024x1024", "1536x1024", "1024x1536", "auto"].contains(&s("size")) {
        return error(
            400,
            &format!(
                "Invalid value: '{}'. Supported values are: '1024x1024', '1024x1536', '1536x1024', and 'auto'.",
                s("size")
            ),
            Some("size"),
            "invalid_value",
        );
    }
    if !["low", "medium", "high", "auto"].contains(&s("quality")) || body["n"] != 1 {
        return error(
            400,
            "Invalid quality or n",
            Some("quality"),
            "invalid_value",
        );
    }
    let refused = || {
        json_reply(
            400,
            json!({"error": {"message": "Your request was rejected by the safety system. If you believe this is an error, contact us.", "type": "image_generation_user_error", "param": null, "code": "moderation_blocked"}}),
            None,
        )
    };
    image_reply(&state, Api::OpenAiImage, reply, refused, |png| {
        use base64::Engine;
        Json(json!({
            "created": gas_miner::clock::now_ms() / 1000,
            "data": [{"b64_json": base64::engine::general_purpose::STANDARD.encode(&png)}],
            "output_format": "png", "quality": s("quality"), "size": s("size"),
            "usage": {"input_tokens": 12, "output_tokens": 4160, "total_tokens": 4172},
        }))
        .into_response()
    })
    .await
}

fn sora_object(id: &str, status: &str, body: &Value, error: Option<&str>) -> Value {
    json!({
        "id": id, "object": "video", "model": body["model"], "status": status,
        "progress": if status == "completed" { 100 } else { 0 },
        "created_at": gas_miner::clock::now_ms() / 1000, "completed_at": null, "expires_at": null,
        "size": body["size"], "seconds": body["seconds"], "remixed_from_video_id": null,
        "error": error.map(|m| json!({"code": "video_generation_failed", "message": m})),
    })
}

pub(super) async fn video_create(
    State(state): State<Shared>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let (reply, ok) = arrive(&state, Api::OpenAiVideo, "create", &headers, &body);
    if !ok {
        return unauthorized();
    }
    let s = |k: &str| body.get(k).and_then(|v| v.as_str()).unwrap_or("");
    let sizes: &[&str] = match s("model") {
        "sora-2" => &["720x1280", "1280x720"],
        "sora-2-pro" => &["720x1280", "1280x720", "1024x1792", "1792x1024"],
        other => {
            return error(
                400,
                &format!("The model '{other}' does not exist."),
                Some("model"),
                "model_not_found",
            );
        }
    };
    if !sizes.contains(&s("size")) {
        return error(
            400,
            &format!("Invalid size '{}' for {}", s("size"), s("model")),
            Some("size"),
            "invalid_value",
        );
    }
    if !["4", "8", "12"].contains(&s("seconds")) {
        return error(
            400,
            "Invalid value for 'seconds': expected one of '4', '8', '12' (a string).",
            Some("seconds"),
            "invalid_value",
        );
    }
    let refused = || {
        error(
            400,
            "Your request was blocked by our moderation system.",
            None,
            "moderation_blocked",
        )
    };
    create_job(&state, Api::OpenAiVideo, reply, "video_", refused, |id| {
        remember_body(&state, &id, &body);
        Json(sora_object(&id, "queued", &body, None)).into_response()
    })
    .await
}

/// Keeps a job's request beside it (Sora echoes it on every poll).
fn remember_body(state: &Shared, id: &str, body: &Value) {
    lock(state).seen.push(Seen {
        api: Api::OpenAiVideo,
        op: "job-body",
        body: json!({"id": id, "body": body}),
        at: Instant::now(),
        authorization: None,
    });
}

pub(super) async fn video_get(
    State(state): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    // The job's request, which every answer echoes.
    let body = || {
        lock(&state)
            .seen
            .iter()
            .rev()
            .find(|s| s.op == "job-body" && s.body["id"] == id.as_str())
            .map(|s| s.body["body"].clone())
            .unwrap_or_default()
    };
    match poll(&state, Api::OpenAiVideo, &headers, &id, unauthorized) {
        Polled::Answered(answer) => answer,
        Polled::Unknown => error(
            404,
            &format!("Video with id '{id}' not found."),
            None,
            "not_found",
        ),
        Polled::Running => Json(sora_object(&id, "in_progress", &body(), None)).into_response(),
        Polled::Completed => Json(sora_object(&id, "completed", &body(), None)).into_response(),
        Polled::Failed(why) => {
            Json(sora_object(&id, "failed", &body(), Some(&why))).into_response()
        }
    }
}

/// `GET /models`: the models the key may use; 401 for any other key.
pub(super) async fn models(State(state): State<Shared>, headers: HeaderMap) -> Response {
    if !account(&state, Api::OpenAiImage, "models", &headers) {
        return unauthorized();
    }
    let data: Vec<Value> = [
        "gpt-image-1",
        "gpt-image-1.5",
        "gpt-image-1-mini",
        "gpt-image-2",
        "sora-2",
        "sora-2-pro",
        "gpt-4o",
    ]
    .into_iter()
    .filter(|id| offered(&state, id))
    .map(|id| json!({"id": id, "object": "model", "created": 1_700_000_000, "owned_by": "openai"}))
    .collect();
    Json(json!({"object": "list", "data": data})).into_response()
}
