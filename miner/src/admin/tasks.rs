//! Tasks: `GET /tasks` (filtered, paged), `GET /tasks/{id}` (calls, verdicts, webhooks,
//! timeline) and `POST /tasks/{id}/verify` (its media judged again).

use super::{Admin, error};
use crate::task::TaskRecord;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use gas_shared::admin::*;
use std::sync::Arc;

impl Admin {
    fn detail(&self, task: &TaskRecord) -> TaskDetail {
        let calls = self.store.calls(&task.task_id).unwrap_or_default();
        let verdicts = self.store.verdicts(&task.task_id).unwrap_or_default();
        let deliveries = self.store.deliveries(&task.task_id).unwrap_or_default();
        let mut timeline = vec![TimelineEntry {
            at_ms: task.created_ms,
            what: format!(
                "challenge accepted from {} ({} {})",
                task.validator, task.modality, task.tier
            ),
        }];
        if let Some(t) = task.started_ms {
            timeline.push(TimelineEntry {
                at_ms: t,
                what: "generation started".into(),
            });
        }
        for c in &calls {
            timeline.push(TimelineEntry {
                at_ms: c.at_ms,
                what: format!(
                    "{} {} {} → {} in {} ms{}",
                    c.provider,
                    c.op,
                    c.model,
                    c.status.map_or("no answer".to_string(), |s| s.to_string()),
                    c.latency_ms,
                    c.error
                        .as_deref()
                        .map(|e| format!(": {e}"))
                        .unwrap_or_default()
                ),
            });
        }
        for v in &verdicts {
            timeline.push(TimelineEntry {
                at_ms: v.checked_at_ms,
                what: if v.passed {
                    format!("pre-flight passed ({})", v.provider)
                } else {
                    format!(
                        "pre-flight failed ({}): {}",
                        v.provider,
                        v.reasons.join("; ")
                    )
                },
            });
        }
        for d in &deliveries {
            timeline.push(TimelineEntry {
                at_ms: d.at_ms,
                what: format!(
                    "{} webhook #{} → {}: {}",
                    d.kind,
                    d.attempt,
                    d.status.map_or("no answer".to_string(), |s| s.to_string()),
                    crate::text::truncate(&d.body, 200)
                ),
            });
        }
        if let Some(t) = task.finished_ms {
            timeline.push(TimelineEntry {
                at_ms: t,
                what: format!("finished: {}", task.state),
            });
        }
        timeline.sort_by_key(|e| e.at_ms);
        TaskDetail {
            summary: task.summary(),
            prompt: task.prompt.clone(),
            parameters: task.parameters.clone(),
            webhook_url: task.webhook_url.clone(),
            timeline,
            calls: calls
                .into_iter()
                .map(|c| CallView {
                    provider: c.provider,
                    op: c.op,
                    model: c.model,
                    status: c.status,
                    error: c.error,
                    latency_ms: c.latency_ms,
                    bytes: c.bytes,
                    cost_usd: c.cost_usd,
                    at_ms: c.at_ms,
                    request: c.request,
                })
                .collect(),
            verdicts,
            deliveries: deliveries
                .into_iter()
                .map(|d| DeliveryView {
                    attempt: d.attempt,
                    kind: d.kind,
                    status: d.status,
                    reply: d.body,
                    at_ms: d.at_ms,
                })
                .collect(),
            media_path: task
                .media
                .as_ref()
                .map(|m| self.store.media_dir().join(&m.file).display().to_string()),
            outcome: match &task.outcome {
                Some(crate::task::Outcome::Failure { message }) => Some(message.clone()),
                Some(crate::task::Outcome::Success) => Some("media delivered as success".into()),
                None => None,
            },
        }
    }
}

pub(super) async fn tasks(State(a): State<Arc<Admin>>, Query(q): Query<TaskQuery>) -> Response {
    let store = a.store.clone();
    match tokio::task::spawn_blocking(move || store.list_tasks(&q)).await {
        Ok(Ok(page)) => Json(page).into_response(),
        Ok(Err(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

pub(super) async fn task(State(a): State<Arc<Admin>>, Path(id): Path<String>) -> Response {
    match a.store.get(&id) {
        Ok(Some(t)) => Json(a.detail(&t)).into_response(),
        Ok(None) => error(StatusCode::NOT_FOUND, format!("no task {id}")),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// Judges a task's stored media again, with the current anchors (recorded as a verdict).
pub(super) async fn verify(State(a): State<Arc<Admin>>, Path(id): Path<String>) -> Response {
    let task = match a.store.get(&id) {
        Ok(Some(t)) => t,
        Ok(None) => return error(StatusCode::NOT_FOUND, format!("no task {id}")),
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    let Some(media) = task.media.clone() else {
        return error(
            StatusCode::CONFLICT,
            format!(
                "task {id} has no media kept (state {}): nothing to verify",
                task.state
            ),
        );
    };
    let path = a.store.media_dir().join(&media.file);
    if !path.exists() {
        return error(
            StatusCode::GONE,
            format!(
                "the media of task {id} ({}) is no longer on disk",
                path.display()
            ),
        );
    }
    let (pf, t) = (a.preflight.clone(), task.clone());
    let verdict = match tokio::task::spawn_blocking(move || pf.judge(&path, &t, "replay")).await {
        Ok(v) => v,
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    let _ = a.store.record_verdict(&id, &verdict);
    Json(verdict).into_response()
}
