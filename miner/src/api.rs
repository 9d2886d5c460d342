//! The validator-facing HTTP API: `/gen_image`, `/gen_video`, `/health`, `/miner_info` and
//! `/status/{task_id}`, all behind the Epistula guard, with the reference's status codes and
//! JSON shapes. A challenge is durable on disk before its 201 leaves.

use crate::chain::MetagraphCache;
use crate::clock::now_ms;
use crate::epistula::{ReplayCache, Signer, Verifier};
use crate::identity::Hotkey;
use crate::pipeline::Pipeline;
use crate::store::Store;
use crate::task::TaskRecord;
use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use gas_shared::{Modality, Tier};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Largest request body accepted (ours; the reference has none).
pub const BODY_LIMIT: usize = 1024 * 1024;
/// How much of an oversized body is read and dropped before answering 413.
const DRAIN_LIMIT: usize = 8 * 1024 * 1024;

pub(crate) struct ApiState {
    pub store: Store,
    pub pipeline: Arc<Pipeline>,
    pub metagraph: MetagraphCache,
    pub stats: Arc<crate::stats::Stats>,
    pub key: Arc<Hotkey>,
    pub replay: ReplayCache,
    pub force_validator_permit: bool,
    pub webhook_deadline: Duration,
    pub max_concurrent_tasks: usize,
    pub task_timeout: Duration,
    pub started: Instant,
    pub webhook_guard: crate::netguard::WebhookGuard,
    /// `MINER_ADMISSION_MAX_WAIT`: a challenge whose expected wait is longer is refused.
    pub admission_max_wait: Duration,
    /// `MINER_QUEUE_MAX`.
    pub queue_max: u64,
    /// Requests refused before they are challenges, summed up rather than logged one by one.
    pub rejections: Arc<crate::rejections::Rejections>,
}

pub(crate) fn router(state: Arc<ApiState>) -> Router {
    Router::new()
        .route("/gen_image", post(gen_image))
        .route("/gen_video", post(gen_video))
        .route("/health", get(health))
        .route("/miner_info", get(miner_info))
        .route("/status/{task_id}", get(status))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            epistula_guard,
        ))
        .with_state(state)
}

fn unix_secs() -> f64 {
    now_ms() as f64 / 1000.0
}

fn detail(status: StatusCode, text: &str) -> Response {
    (status, Json(json!({ "detail": text }))).into_response()
}

/// Why a request is refused; answered with the reference's status code and its
/// `{"error", "timestamp"}` body.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ApiError {
    #[error("Invalid JSON body: {0}")]
    InvalidJson(serde_json::Error),
    #[error("Invalid JSON body: expected a JSON object")]
    NotAnObject,
    #[error("Missing required field: prompt")]
    MissingPrompt,
    #[error("Invalid field: prompt must be a string")]
    PromptNotAString,
    #[error("Missing required header: X-Webhook-URL")]
    MissingWebhook,
    #[error("Invalid X-Webhook-URL: {0}")]
    WebhookRefused(crate::netguard::Forbidden),
    #[error("Invalid field: parameters must be a JSON object")]
    ParametersNotAnObject,
    /// The modality has no provider chain.
    #[error("No service available for modality={0}")]
    NoService(Modality),
    #[error("No services available")]
    NoServices,
    /// Admission refused it: no healthy provider, or the queue is too long.
    #[error("{0}")]
    Refused(crate::admission::Refusal),
    /// The challenge could not be made durable, so it is not accepted.
    #[error("Failed to process {modality} request: {source}")]
    NotStored {
        modality: Modality,
        source: crate::store::StoreError,
    },
    #[error("Task not found")]
    TaskNotFound,
    #[error("{0}")]
    Store(#[from] crate::store::StoreError),
}

impl ApiError {
    fn status(&self) -> StatusCode {
        match self {
            ApiError::NoService(_) | ApiError::NoServices | ApiError::Refused(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::NotStored { .. } | ApiError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::TaskNotFound => StatusCode::NOT_FOUND,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        error(self.status(), self.to_string())
    }
}

fn error(status: StatusCode, text: impl Into<String>) -> Response {
    (
        status,
        Json(json!({ "error": text.into(), "timestamp": unix_secs() })),
    )
        .into_response()
}

/// Body limit, then every Epistula check; the verified signer rides along as an extension.
async fn epistula_guard(
    State(state): State<Arc<ApiState>>,
    request: Request,
    next: Next,
) -> Response {
    let (mut parts, body) = request.into_parts();
    let declared = parts
        .headers
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let source = parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip());
    let Some(bytes) = read_limited(body, declared).await else {
        state
            .rejections
            .refused("Request body too large", source, None);
        return detail(StatusCode::PAYLOAD_TOO_LARGE, "Request body too large");
    };
    let graph = state.metagraph.get();
    let verifier = Verifier {
        own_hotkey: state.key.ss58(),
        metagraph: &graph,
        force_validator_permit: state.force_validator_permit,
        replay: &state.replay,
    };
    match verifier.check(&parts.headers, &bytes, now_ms()) {
        Ok(signer) => {
            parts.extensions.insert(signer);
            next.run(Request::from_parts(parts, axum::body::Body::from(bytes)))
                .await
        }
        Err(rejection) => {
            if rejection.detail == "Signer not in metagraph"
                && verifier.signed_by_claimed_key(&parts.headers, &bytes, now_ms())
            {
                // A real key we do not know: perhaps registered since the last sync.
                state.metagraph.request_sync();
            }
            // One summary line per interval; in full only the first of each reason from a
            // signer the metagraph knows (the one an operator needs).
            let claimed = parts
                .headers
                .get("epistula-signed-by")
                .and_then(|v| v.to_str().ok());
            let validator = claimed.filter(|h| graph.neuron(h).is_some());
            if state
                .rejections
                .refused(&rejection.detail, source, validator)
            {
                tracing::warn!(path = %parts.uri.path(), signer = validator.unwrap_or_default(), status = rejection.status.as_u16(), reason = %rejection.detail, "request from a registered validator refused (the first of this reason; the rest are summed up every 10 s)");
            }
            detail(rejection.status, &rejection.detail)
        }
    }
}

/// The body if it fits in [`BODY_LIMIT`]. An oversized one is still read (and dropped) up
/// to [`DRAIN_LIMIT`] so the client can read our 413 instead of a reset connection; past
/// that the connection is simply closed.
async fn read_limited(body: axum::body::Body, declared: Option<u64>) -> Option<Bytes> {
    use futures_util::StreamExt;
    let mut stream = body.into_data_stream();
    let mut kept = Vec::with_capacity(declared.unwrap_or(0).min(BODY_LIMIT as u64) as usize);
    let mut seen = 0usize;
    let too_big = declared.is_some_and(|n| n > BODY_LIMIT as u64);
    if declared.is_some_and(|n| n > DRAIN_LIMIT as u64) {
        return None;
    }
    loop {
        let next = tokio::time::timeout(Duration::from_secs(10), stream.next()).await;
        let Ok(Some(Ok(chunk))) = next else {
            break;
        };
        seen += chunk.len();
        if seen > DRAIN_LIMIT {
            return None;
        }
        if !too_big && seen <= BODY_LIMIT {
            kept.extend_from_slice(&chunk);
        }
    }
    (!too_big && seen <= BODY_LIMIT).then(|| Bytes::from(kept))
}

async fn gen_image(
    state: State<Arc<ApiState>>,
    signer: Extension<Signer>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    accept(state, signer, headers, body, Modality::Image).await
}

async fn gen_video(
    state: State<Arc<ApiState>>,
    signer: Extension<Signer>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    accept(state, signer, headers, body, Modality::Video).await
}

/// Python's `prompt[:100] + "..."` (by characters).
fn short_prompt(prompt: &str) -> String {
    match prompt.char_indices().nth(100) {
        Some((i, _)) => format!("{}...", &prompt[..i]),
        None => prompt.to_string(),
    }
}

async fn accept(
    State(state): State<Arc<ApiState>>,
    Extension(signer): Extension<Signer>,
    headers: HeaderMap,
    body: Bytes,
    modality: Modality,
) -> Result<Response, ApiError> {
    let doc: Value = serde_json::from_slice(&body).map_err(ApiError::InvalidJson)?;
    let doc = doc.as_object().ok_or(ApiError::NotAnObject)?;
    let prompt = match doc.get("prompt") {
        None | Some(Value::Null) => return Err(ApiError::MissingPrompt),
        Some(Value::String(s)) if s.trim().is_empty() => return Err(ApiError::MissingPrompt),
        Some(Value::String(s)) => s.clone(),
        Some(_) => return Err(ApiError::PromptNotAString),
    };
    let webhook_url = headers
        .get("x-webhook-url")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .ok_or(ApiError::MissingWebhook)?;
    state
        .webhook_guard
        .check_url(webhook_url)
        .map_err(ApiError::WebhookRefused)?;
    let parameters = match doc.get("parameters") {
        None | Some(Value::Null) => json!({}),
        Some(Value::Object(p)) => Value::Object(p.clone()),
        Some(_) => return Err(ApiError::ParametersNotAnObject),
    };
    if !state.pipeline.serves(modality) {
        let reason = crate::admission::NO_SERVICE;
        if state.stats.refused(
            &signer.hotkey,
            modality,
            reason,
            &ApiError::NoService(modality).to_string(),
            now_ms(),
        ) {
            tracing::warn!(validator = %signer.hotkey, %modality, reason, "challenge refused: no service for the modality (logged once a minute per reason)");
        }
        return Err(ApiError::NoService(modality));
    }
    let tier = parameters
        .get("resolution")
        .and_then(|r| r.as_str())
        .and_then(Tier::parse)
        .filter(|t| t.modality() == modality)
        .unwrap_or_else(|| Tier::default_for(modality));
    let created_ms = now_ms();
    let task = TaskRecord {
        webhook_url: webhook_url.to_string(),
        validator: signer.hotkey.clone(),
        validator_uid: signer.uid,
        ..TaskRecord::accepted(
            crate::task::new_task_id(),
            modality,
            prompt,
            parameters,
            tier,
            (
                created_ms,
                created_ms + state.webhook_deadline.as_millis() as i64,
            ),
        )
    };
    if let Err(refusal) = crate::admission::decide(&admission_inputs(&state, &task)) {
        let reason = refusal.label();
        if state.stats.refused(
            &signer.hotkey,
            modality,
            reason,
            &refusal.to_string(),
            now_ms(),
        ) {
            tracing::warn!(validator = %signer.hotkey, %modality, reason, detail = %refusal, "challenge refused before the 201 (logged once a minute per reason)");
        }
        return Err(ApiError::Refused(refusal));
    }
    state.store.insert_new(&task).map_err(|source| {
        tracing::error!(error = %source, "challenge could not be stored");
        ApiError::NotStored { modality, source }
    })?;
    state.store.commit().await.map_err(|source| {
        tracing::error!(error = %source, "challenge could not be made durable");
        ApiError::NotStored { modality, source }
    })?;
    tracing::info!(task_id = %task.task_id, validator = %signer.hotkey, uid = signer.uid, %modality, tier = %tier, "challenge accepted");
    state.stats.challenge(&signer.hotkey, modality, created_ms);
    state.pipeline.enqueue(task.task_id.clone());
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "task_id": task.task_id,
            "status": "submitted",
            "modality": modality,
            "prompt": short_prompt(&task.prompt),
            "webhook_url": task.webhook_url,
            "created_at": created_ms as f64 / 1000.0,
        })),
    )
        .into_response())
}

/// What admission decides from, all of it held in memory: the queue's counts, the last
/// hour's finished tasks, the breakers, the latency of the first provider able to serve, and
/// the spend against the budget with what this task's plan (and each queued one) would add.
fn admission_inputs(state: &ApiState, task: &TaskRecord) -> crate::admission::Inputs {
    let modality = task.modality;
    let names = state.pipeline.chain_names(modality);
    let health = state.pipeline.health();
    let providers_able: Vec<bool> = names.iter().map(|n| health.able(n)).collect();
    let serving = names
        .iter()
        .zip(&providers_able)
        .find(|(_, able)| **able)
        .map(|(n, _)| *n);
    let counts = state.store.counts_by_modality();
    let ahead = [
        gas_shared::TaskState::Queued,
        gas_shared::TaskState::Generating,
    ]
    .iter()
    .filter_map(|s| counts.get(&(*s, modality)))
    .sum();
    let budget = state.pipeline.budget();
    let over_budget = budget
        .limits(modality)
        .then(|| {
            budget.check_admission(
                modality,
                &state.store.spent_last_day(now_ms()),
                ahead,
                state.pipeline.expected_cost(task),
            )
        })
        .and_then(Result::err)
        .map(|over| over.to_string());
    crate::admission::Inputs {
        modality,
        providers_able,
        ahead,
        finished_last_hour: state.stats.finished_last_hour(modality, now_ms()),
        history_minutes: state.stats.minutes_covered(now_ms()),
        p95: serving
            .and_then(|n| state.store.provider_latency_ms(n, 0.95))
            .map(Duration::from_millis),
        max_wait: state.admission_max_wait,
        queue_max: state.queue_max,
        over_budget,
    }
}

fn services(state: &ApiState) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    for modality in Modality::ALL {
        for name in state.pipeline.chain_names(modality) {
            match out.iter_mut().find(|s| s["name"] == name) {
                Some(s) => {
                    if let Some(tasks) = s["supported_tasks"].as_array_mut() {
                        tasks.push(json!(modality));
                    }
                }
                None => out
                    .push(json!({"name": name, "available": true, "supported_tasks": [modality]})),
            }
        }
    }
    out
}

async fn health(State(state): State<Arc<ApiState>>) -> Result<Response, ApiError> {
    let services = services(&state);
    if services.is_empty() {
        return Err(ApiError::NoServices);
    }
    Ok(Json(json!({
        "status": "healthy",
        "services_available": services.len(),
        "services_total": services.len(),
        "timestamp": unix_secs(),
    }))
    .into_response())
}

async fn miner_info(State(state): State<Arc<ApiState>>) -> Response {
    let counts = state.store.counts();
    let mut stats = json!({"total": 0, "pending": 0, "processing": 0, "completed": 0, "failed": 0});
    let mut total = 0;
    for (task_state, n) in counts {
        total += n;
        let key = task_state.reference_status();
        stats[key] = json!(stats[key].as_u64().unwrap_or(0) + n);
    }
    stats["total"] = json!(total);
    let graph = state.metagraph.get();
    let me = graph.neuron(state.key.ss58());
    let sync = state.metagraph.sync_state();
    Json(json!({
        "uid": me.map(|n| n.uid),
        "hotkey": state.key.ss58(),
        "netuid": graph.netuid,
        "registered": me.is_some(),
        "axon": me.and_then(|n| n.axon.as_ref()).map(|a| a.to_string()),
        "metagraph": {
            "source": sync.source,
            "block": sync.block,
            "age_s": (now_ms() - sync.fetched_ms) / 1000,
            "stale": sync.stale,
            "neurons": graph.len(),
        },
        "miner_type": "GENERATOR",
        "services": services(&state),
        "task_stats": stats,
        "config": {
            "max_concurrent_tasks": state.max_concurrent_tasks,
            "task_timeout": state.task_timeout.as_secs(),
            "max_task_age_hours": 24,
            "cleanup_interval": 3600,
            "webhook_deadline": state.webhook_deadline.as_secs(),
        },
        "version": env!("CARGO_PKG_VERSION"),
        "software": "gas-miner",
        "uptime": state.started.elapsed().as_secs_f64(),
    }))
    .into_response()
}

/// The task as `/status` shows it: the reference's fields plus ours; never media bytes.
pub(crate) fn task_view(task: &TaskRecord) -> Value {
    let secs = |ms: Option<i64>| ms.map(|m| m as f64 / 1000.0);
    let error_message = match &task.outcome {
        Some(crate::task::Outcome::Failure { message }) => Some(message.clone()),
        _ => None,
    };
    json!({
        "task_id": task.task_id,
        "modality": task.modality,
        "status": task.state.reference_status(),
        "state": task.state,
        "prompt": task.prompt,
        "parameters": task.parameters,
        "resolution": task.tier,
        "webhook_url": task.webhook_url,
        "signed_by": task.validator,
        "created_at": task.created_ms as f64 / 1000.0,
        "started_at": secs(task.started_ms),
        "completed_at": secs(task.finished_ms),
        "processing_time": task.started_ms.map(|s| (task.finished_ms.unwrap_or_else(now_ms) - s) as f64 / 1000.0),
        "error_message": error_message,
        "result_url": Value::Null,
        "media": task.media,
        "deliveries": task.deliveries,
        "last_reply": task.last_reply,
    })
}

async fn status(
    State(state): State<Arc<ApiState>>,
    Path(task_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    match state.store.get(&task_id)? {
        Some(task) => Ok(Json(task_view(&task))),
        None => Err(ApiError::TaskNotFound),
    }
}
