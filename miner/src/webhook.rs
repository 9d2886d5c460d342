//! The webhook outbox: every task in `delivering` has a durable entry keyed by its due time.
//! Each attempt is signed afresh (new uuid and timestamp), media is streamed from its file with
//! a known Content-Length, every reply is stored as that validator's feedback and read for
//! what it means (`gas_shared::reply::ReplyClass`: a v5 202 is "taken, verdict unknown", a
//! v4.9.x 200 "passed Stage A"), and attempts the validator could not take (5xx, 503
//! "Validator could not accept callback", no answer) are retried with backoff and jitter until
//! `MINER_WEBHOOK_DEADLINE`.

use crate::clock::now_ms;
use crate::epistula::sign_headers;
use crate::identity::Hotkey;
use crate::netguard::WebhookGuard;
use crate::store::{OutboxChange, OutboxEntry, Store};
use crate::task::{Feedback, Outcome, Reply, TaskRecord};
use crate::text::{error_chain, truncate};
use gas_shared::TaskState;
use gas_shared::reply::ReplyClass;
use rand::Rng;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, Semaphore};

/// Why the outbox cannot start, or could not record what an attempt did.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WebhookError {
    #[error("cannot build the webhook client: {0}")]
    Client(reqwest::Error),
    /// What an attempt did could not be stored; the delivery is tried again at the next start.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// Webhook attempts in flight at once.
const PARALLEL: usize = 32;

pub(crate) struct Outbox {
    store: Store,
    key: Arc<Hotkey>,
    client: reqwest::Client,
    pub wake: Arc<Notify>,
    stats: Arc<crate::stats::Stats>,
    in_flight: Mutex<HashSet<String>>,
    draining: std::sync::atomic::AtomicBool,
    slots: Arc<Semaphore>,
    guard: WebhookGuard,
}

/// Backoff before attempt `n + 1`: 1 s, 2 s, 4 s … capped at 5 min, ±25 % jitter.
fn backoff(n: u32) -> Duration {
    let base = Duration::from_secs(1u64 << n.min(9)).min(Duration::from_secs(300));
    base.mul_f64(rand::thread_rng().gen_range(0.75..1.25))
}

/// Header values must be visible ASCII: newlines or non-ASCII in a provider's message would
/// make the request invalid.
fn header_safe(text: &str) -> String {
    let clean: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                ' '
            }
        })
        .collect();
    truncate(clean.trim(), 1000)
}

impl Outbox {
    pub(crate) fn new(
        store: Store,
        key: Arc<Hotkey>,
        wake: Arc<Notify>,
        stats: Arc<crate::stats::Stats>,
        guard: WebhookGuard,
    ) -> Result<Arc<Outbox>, WebhookError> {
        // No proxy (one would resolve names itself, past the guard) and no redirects (they
        // could point anywhere); names resolve through the guard.
        let client = crate::tls::http_client()
            .no_proxy()
            .dns_resolver(Arc::new(guard.clone()))
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(300))
            .user_agent(concat!("gas-miner/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(WebhookError::Client)?;
        Ok(Arc::new(Outbox {
            store,
            key,
            client,
            wake,
            stats,
            in_flight: Mutex::default(),
            draining: std::sync::atomic::AtomicBool::new(false),
            slots: Arc::new(Semaphore::new(PARALLEL)),
            guard,
        }))
    }

    /// Stops sending new attempts and waits (up to `limit`) for those in flight; returns how
    /// many were still in flight. Pending deliveries stay in the durable outbox.
    pub(crate) async fn drain(&self, limit: std::time::Duration) -> usize {
        self.draining
            .store(true, std::sync::atomic::Ordering::SeqCst);
        self.wake.notify_one();
        let until = tokio::time::Instant::now() + limit;
        loop {
            let n = self.in_flight();
            if n == 0 || tokio::time::Instant::now() >= until {
                return n;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// Webhook attempts in progress.
    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .len()
    }

    /// Runs until drained: dispatches due entries, sleeps until the next one or a wake-up.
    pub(crate) async fn run(self: Arc<Self>) {
        loop {
            if self.draining.load(std::sync::atomic::Ordering::SeqCst) {
                return;
            }
            let mut next_due = None;
            let now = now_ms();
            // Only the due head of the outbox is read; a long tail of future retries costs nothing.
            let mut due = Vec::new();
            for entry in self.store.outbox().filter_map(Result::ok) {
                if entry.due_ms > now {
                    next_due = Some(entry.due_ms);
                    break;
                }
                due.push(entry);
                if due.len() >= 4 * PARALLEL {
                    break;
                }
            }
            for entry in due {
                let fresh = self
                    .in_flight
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(entry.task_id.clone());
                if !fresh {
                    continue;
                }
                let Ok(slot) = self.slots.clone().acquire_owned().await else {
                    return;
                };
                let this = self.clone();
                tokio::spawn(async move {
                    let id = entry.task_id.clone();
                    if let Err(e) = this.attempt(entry).await {
                        tracing::error!(task_id = %id, error = %e, "webhook bookkeeping failed; will retry at next start");
                    }
                    this.in_flight
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .remove(&id);
                    drop(slot);
                    this.wake.notify_one();
                });
            }
            let sleep = match next_due {
                Some(due) => Duration::from_millis((due - now).clamp(1, 60_000) as u64),
                None => Duration::from_secs(60),
            };
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(sleep) => {}
            }
        }
    }

    async fn attempt(&self, entry: OutboxEntry) -> Result<(), WebhookError> {
        let Some(task) = self.store.get(&entry.task_id)? else {
            self.store.outbox_remove(&entry)?;
            return Ok(());
        };
        if task.state != TaskState::Delivering {
            self.store.outbox_remove(&entry)?;
            return Ok(());
        }
        let now = now_ms();
        if now > task.deadline_ms {
            self.store
                .update(&task.task_id, OutboxChange::Remove(entry), |t| {
                    t.state = TaskState::Expired;
                    t.finished_ms = Some(now);
                })?;
            self.stats.finished(task.modality, now);
            tracing::warn!(task_id = %task.task_id, "webhook deadline passed; task expired undelivered");
            return Ok(());
        }
        let attempt = task.deliveries + 1;
        let (kind, reply, forbidden) = self.send(&task).await;
        let status = reply.status;
        let failure = matches!(task.outcome, Some(Outcome::Failure { .. }));
        // The validator is named on the task's "challenge accepted" line.
        let said = status.map_or_else(|| "no answer".to_string(), |s| s.to_string());
        tracing::info!(task_id = %task.task_id, kind, attempt, status = %said, reply = %truncate(&reply.body, 200), "webhook sent");
        self.store.record_feedback(&Feedback {
            validator: task.validator.clone(),
            task_id: task.task_id.clone(),
            kind: kind.to_string(),
            attempt,
            status,
            body: reply.body.clone(),
            at_ms: reply.at_ms,
        })?;
        let done_state = if failure {
            TaskState::Failed
        } else {
            TaskState::Delivered
        };
        // Never sent (the guard refused the target) or redirected: not delivered, not retried.
        let class = if forbidden {
            ReplyClass::Undelivered
        } else {
            ReplyClass::of(failure, status, &reply.body)
        };
        let (change, state) = match class {
            ReplyClass::Passed
            | ReplyClass::Taken
            | ReplyClass::Rejected
            | ReplyClass::Ignored
            | ReplyClass::Recorded => (OutboxChange::Remove(entry), done_state),
            ReplyClass::Undelivered => (OutboxChange::Remove(entry), TaskState::Failed),
            ReplyClass::Retry => {
                let due =
                    (now_ms() + backoff(task.deliveries).as_millis() as i64).min(task.deadline_ms);
                if due <= now_ms() {
                    (OutboxChange::Remove(entry), TaskState::Expired)
                } else {
                    (
                        OutboxChange::Reschedule {
                            from: entry,
                            to: due,
                        },
                        TaskState::Delivering,
                    )
                }
            }
        };
        self.stats
            .reply(&task.validator, class, &reply.body, reply.at_ms);
        self.store.update(&task.task_id, change, |t| {
            t.deliveries = attempt;
            t.last_reply = Some(reply.clone());
            t.state = state;
            if state.is_final() {
                t.finished_ms = Some(now_ms());
            }
        })?;
        if state.is_final() {
            self.stats.finished(task.modality, now_ms());
        }
        self.store.commit().await?;
        Ok(())
    }

    /// One signed POST; returns its kind, the validator's reply (status None: no answer) and
    /// whether the guard refused the target, in which case nothing was sent.
    async fn send(&self, task: &TaskRecord) -> (&'static str, Reply, bool) {
        let at_ms = now_ms();
        let not_sent = |kind, why: String| {
            let body = format!("not sent: {why}");
            let reply = Reply {
                status: None,
                body,
                at_ms,
            };
            (kind, reply, true)
        };
        if let Err(why) = self.guard.check_url(&task.webhook_url) {
            let kind = match task.outcome {
                Some(Outcome::Success) => "success",
                _ => "failure",
            };
            return not_sent(kind, why.to_string());
        }
        let request = match &task.outcome {
            Some(Outcome::Success) => self.success_request(task).await.map(|r| ("success", r)),
            Some(Outcome::Failure { message }) => {
                Ok(("failure", self.failure_request(task, message)))
            }
            None => Ok((
                "failure",
                self.failure_request(
                    task,
                    "internal error: task reached delivery without an outcome",
                ),
            )),
        };
        let (kind, request) = match request {
            Ok(r) => r,
            Err(e) => {
                // The media vanished from disk: tell the validator rather than stay silent.
                let message = format!("media file lost before delivery: {e}");
                ("failure", self.failure_request(task, &message))
            }
        };
        let reply = match request.send().await {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let body = resp.text().await.unwrap_or_default();
                Reply {
                    status: Some(status),
                    body: truncate(&body, 2000),
                    at_ms,
                }
            }
            Err(e) => {
                if let Some(why) = crate::netguard::is_forbidden(&e) {
                    return not_sent(kind, why.to_string());
                }
                Reply {
                    status: None,
                    body: format!(
                        "no answer: {}",
                        if e.is_timeout() {
                            "timed out".to_string()
                        } else {
                            error_chain(&e)
                        }
                    ),
                    at_ms,
                }
            }
        };
        (kind, reply, false)
    }

    fn signed(&self, task: &TaskRecord, body_sha256: &str) -> reqwest::RequestBuilder {
        let mut req = self
            .client
            .post(&task.webhook_url)
            .header("task-id", &task.task_id);
        for (name, value) in sign_headers(&self.key, body_sha256, Some(&task.validator), now_ms()) {
            req = req.header(name, value);
        }
        req
    }

    async fn success_request(&self, task: &TaskRecord) -> std::io::Result<reqwest::RequestBuilder> {
        let media = task
            .media
            .as_ref()
            .ok_or_else(|| std::io::Error::other("no media recorded"))?;
        let file = tokio::fs::File::open(self.store.media_dir().join(&media.file)).await?;
        let len = file.metadata().await?.len();
        let stream = tokio_util::io::ReaderStream::with_capacity(file, 64 * 1024);
        Ok(self
            .signed(task, &media.sha256)
            .header("task-status", "completed")
            .header("content-type", &media.content_type)
            .header("content-length", len)
            .body(reqwest::Body::wrap_stream(stream)))
    }

    fn failure_request(&self, task: &TaskRecord, message: &str) -> reqwest::RequestBuilder {
        let body = serde_json::to_vec(&serde_json::json!({
            "task_id": task.task_id,
            "task_status": "failed",
            "error_message": message,
            "modality": task.modality,
        }))
        .unwrap_or_default();
        self.signed(task, &crate::epistula::sha256_hex(&body))
            .header("task-status", "failed")
            .header("error-message", header_safe(message))
            .header("content-type", "application/json")
            .body(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_end_delivery_and_outages_retry() {
        let class = |status| ReplyClass::of(false, status, "");
        assert!(class(Some(200)).is_final());
        assert!(class(Some(202)).is_final());
        assert_eq!(class(Some(400)), ReplyClass::Rejected);
        assert_eq!(class(Some(302)), ReplyClass::Undelivered);
        assert!(!class(Some(429)).is_final());
        assert!(!class(Some(502)).is_final());
        assert!(!class(Some(503)).is_final());
        assert!(!class(None).is_final());
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        assert!(backoff(0) <= Duration::from_millis(1250));
        assert!(backoff(3) >= Duration::from_secs(6));
        assert!(backoff(30) <= Duration::from_secs(375));
    }

    #[test]
    fn error_messages_become_valid_headers() {
        assert_eq!(header_safe("line one\nline two é"), "line one line two");
    }
}
