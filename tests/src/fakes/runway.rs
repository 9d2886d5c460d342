//! Runway as the fake serves it: `text_to_video` + `tasks`, finished videos at an output URL
//! on a storage host that must never get the API key; the organization's record
//! (`GET /v1/organization`: credits, tier, usage).

use super::jobs::{Polled, create_job, poll, stream_video};
use super::{Api, Seen, Shared, account, arrive, header, json_reply, lock};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::time::Instant;

fn error(status: u16, message: &str) -> Response {
    json_reply(status, json!({"error": message}), None)
}

fn unauthorized() -> Response {
    error(401, "Invalid API key")
}

pub(super) async fn create(
    State(state): State<Shared>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let (reply, ok) = arrive(&state, Api::Runway, "create", &headers, &body);
    if !ok {
        return unauthorized();
    }
    if header(&headers, "x-runway-version").as_deref() != Some("2024-11-06") {
        return error(
            400,
            "Missing or invalid X-Runway-Version header; use 2024-11-06",
        );
    }
    const VEO: &[&str] = &["1280:720", "720:1280", "1080:1920", "1920:1080"];
    const SEED: &[&str] = &[
        "1280:720",
        "720:1280",
        "1080:1080",
        "1080:1920",
        "1920:1080",
    ];
    let model = body["model"].as_str().unwrap_or("");
    let (ratios, durations): (&[&str], std::ops::RangeInclusive<u64>) = match model {
        "veo3.1" | "veo3.1_fast" => (VEO, 4..=8),
        "veo3" => (VEO, 8..=8),
        "seedance2" | "seedance2_fast" => (SEED, 4..=15),
        other => return error(400, &format!("Invalid model: {other}")),
    };
    let duration = body["duration"].as_u64().unwrap_or(0);
    let veo_durations_ok = !model.starts_with("veo3.1") || [4, 6, 8].contains(&duration);
    if !ratios.contains(&body["ratio"].as_str().unwrap_or(""))
        || !durations.contains(&duration)
        || !veo_durations_ok
        || body["promptText"]
            .as_str()
            .is_none_or(|p| p.is_empty() || p.chars().count() > 3500)
        || (model.starts_with("veo") && body.get("seed").is_some())
    {
        return error(400, &format!("Validation of body failed for {model}"));
    }
    let refused = || error(400, "Prompt text did not pass content moderation");
    create_job(&state, Api::Runway, reply, "", refused, |id| {
        Json(json!({ "id": id })).into_response()
    })
    .await
}

pub(super) async fn task(
    State(state): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let created = "2026-11-25T12:00:00.000Z";
    match poll(&state, Api::Runway, &headers, &id, unauthorized) {
        Polled::Answered(answer) => answer,
        Polled::Unknown => error(404, "Task not found"),
        Polled::Running => {
            Json(json!({"id": id, "createdAt": created, "status": "RUNNING", "progress": 0.4}))
                .into_response()
        }
        Polled::Completed => {
            let port = header(&headers, "host").unwrap_or_default();
            Json(json!({
                "id": id, "createdAt": created, "status": "SUCCEEDED",
                "output": [format!("http://{port}/storage/{id}.mp4?_jwt=signed-link")],
            }))
            .into_response()
        }
        Polled::Failed(why) => Json(json!({
            "id": id, "createdAt": created, "status": "FAILED",
            "failure": why, "failureCode": "SAFETY.INPUT.TEXT",
        }))
        .into_response(),
    }
}

/// Runway's output host: a signed link that must never receive the API key.
pub(super) async fn storage(
    State(state): State<Shared>,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> Response {
    let id = file.trim_end_matches(".mp4").to_string();
    let authorization = header(&headers, "authorization");
    {
        let mut s = lock(&state);
        if let Some(a) = &authorization {
            s.violations.push(format!(
                "the storage host received an Authorization header: {a}"
            ));
        }
        s.seen.push(Seen {
            api: Api::Runway,
            op: "download",
            body: json!({"id": id}),
            at: Instant::now(),
            authorization,
        });
    }
    stream_video(&state, &id).unwrap_or_else(|| StatusCode::NOT_FOUND.into_response())
}

/// `GET /v1/organization`: the credit balance and tier; 401 for any other key.
pub(super) async fn organization(State(state): State<Shared>, headers: HeaderMap) -> Response {
    if !account(&state, Api::Runway, "account", &headers) {
        return unauthorized();
    }
    if header(&headers, "x-runway-version").as_deref() != Some("2024-11-06") {
        return error(
            400,
            "Missing or invalid X-Runway-Version header; use 2024-11-06",
        );
    }
    Json(json!({"creditBalance": 1000, "tier": {"maxMonthlyCreditSpend": 10000}, "usage": {"models": {}}}))
        .into_response()
}
