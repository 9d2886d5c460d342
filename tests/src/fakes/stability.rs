//! Stability AI as the fake serves it: multipart `stable-image/generate/{sd3,ultra,core}`
//! answered with the image itself, with Stability's allowed values and error shape, and the
//! account's credit balance (`GET /v1/user/balance`).

use super::studio::make_png;
use super::{
    Api, Reply, Shared, account, arrive, cut_short, first_half, header, image_reply, json_reply,
};
use axum::extract::{Multipart, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

fn error(status: u16, name: &str, error: &str) -> Response {
    json_reply(
        status,
        json!({"id": uuid::Uuid::new_v4().simple().to_string(), "name": name, "errors": [error]}),
        None,
    )
}

pub(super) async fn generate(
    State(state): State<Shared>,
    Path(endpoint): Path<String>,
    headers: HeaderMap,
    mut form: Multipart,
) -> Response {
    let mut fields = serde_json::Map::new();
    loop {
        match form.next_field().await {
            Ok(Some(field)) => {
                let name = field.name().unwrap_or("").to_string();
                let value = field.text().await.unwrap_or_default();
                fields.insert(name, json!(value));
            }
            Ok(None) => break,
            Err(e) => {
                return error(400, "bad_request", &format!("malformed multipart: {e}"));
            }
        }
    }
    fields.insert("endpoint".into(), json!(endpoint));
    let body = Value::Object(fields);
    let (reply, ok) = arrive(&state, Api::Stability, "generate", &headers, &body);
    if !ok {
        return error(
            401,
            "unauthorized",
            "authorization: invalid or missing API key",
        );
    }
    let f = |k: &str| body.get(k).and_then(|v| v.as_str()).unwrap_or("");
    let accept = header(&headers, "accept").unwrap_or_default();
    let models_ok = match endpoint.as_str() {
        "sd3" => [
            "sd3.5-large",
            "sd3.5-large-turbo",
            "sd3.5-medium",
            "sd3.5-flash",
            "",
        ]
        .contains(&f("model")),
        "ultra" | "core" => true,
        _ => return error(404, "not_found", "unknown endpoint"),
    };
    let aspect_ok = [
        "16:9", "1:1", "21:9", "2:3", "3:2", "4:5", "5:4", "9:16", "9:21", "",
    ]
    .contains(&f("aspect_ratio"));
    if f("prompt").is_empty()
        || !models_ok
        || !aspect_ok
        || !["png", "jpeg", "webp", ""].contains(&f("output_format"))
    {
        return error(
            400,
            "invalid_parameters",
            "prompt, model, aspect_ratio or output_format: invalid value",
        );
    }
    if !(accept == "image/*" || accept == "application/json") {
        return error(
            400,
            "invalid_accept",
            "accept: must be image/* or application/json",
        );
    }
    let refused = || {
        error(
            403,
            "content_moderation",
            "Your request was flagged by our content moderation system, as a result your request was denied and you were not charged.",
        )
    };
    let image = |png: Vec<u8>| {
        (
            StatusCode::OK,
            [
                ("content-type", "image/png"),
                ("finish-reason", "SUCCESS"),
                ("seed", "12345"),
            ],
            png,
        )
            .into_response()
    };
    match reply {
        Reply::Truncated => cut_short("image/png", make_png(&state, Api::Stability, None)),
        Reply::ShortMedia => first_half("image/png", make_png(&state, Api::Stability, None)),
        other => image_reply(&state, Api::Stability, other, refused, image).await,
    }
}

/// `GET /v1/user/balance`: the account's credits; 401 for any other key.
pub(super) async fn balance(State(state): State<Shared>, headers: HeaderMap) -> Response {
    if !account(&state, Api::Stability, "account", &headers) {
        return json_reply(
            401,
            json!({"name": "unauthorized", "message": "Missing or invalid API key"}),
            None,
        );
    }
    json_reply(200, json!({"credits": 42.5}), None)
}
