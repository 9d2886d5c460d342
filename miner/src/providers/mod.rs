//! Generation services behind one trait, and the HTTP behaviour every client shares: retries
//! with backoff and jitter on 429 (honouring `Retry-After`), 5xx and transport errors; no
//! retry on other 4xx; every call recorded; API keys never in an error text.

pub mod openrouter;

use crate::store::{CallRecord, TaskRecord};
use async_trait::async_trait;
use bytes::Bytes;
use gas_shared::Modality;
use rand::Rng;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The work a provider is given: the task, and where to write the media it gets.
pub struct Job<'a> {
    pub task: &'a TaskRecord,
    /// A temporary file in the media directory; the pipeline fsyncs and renames it.
    pub dest: &'a Path,
    pub calls: &'a CallLog,
}

/// What a provider made (the bytes are already in `Job::dest`).
#[derive(Debug, Clone)]
pub struct Generated {
    pub model: String,
    pub bytes: u64,
}

/// Why a provider gave nothing; `message` is the provider's own text where it sent one.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderError {
    pub message: String,
}

impl ProviderError {
    pub fn new(message: impl Into<String>) -> ProviderError {
        ProviderError {
            message: message.into(),
        }
    }
}

#[async_trait]
pub trait Provider: Send + Sync {
    /// The reference's service name (`openrouter`).
    fn name(&self) -> &'static str;
    fn supports(&self, modality: Modality) -> bool;
    async fn generate(&self, job: &Job<'_>) -> Result<Generated, ProviderError>;
}

/// Provider calls made during one job, persisted by the pipeline afterwards.
#[derive(Default)]
pub struct CallLog(Mutex<Vec<CallRecord>>);

impl CallLog {
    pub fn push(&self, call: CallRecord) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(call);
    }

    pub fn take(&self) -> Vec<CallRecord> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// Removes every occurrence of `secret` from `text`.
pub fn redact(text: &str, secret: &str) -> String {
    if secret.len() < 4 {
        return text.to_string();
    }
    text.replace(secret, "***")
}

/// The provider's own words from an error body: `error.message`, `message`, `detail`, else
/// the start of the text.
pub fn error_text(body: &[u8]) -> String {
    if let Ok(doc) = serde_json::from_slice::<serde_json::Value>(body) {
        let candidates = [
            doc.pointer("/error/message"),
            doc.get("error").filter(|e| e.is_string()),
            doc.get("message"),
            doc.get("detail"),
            doc.get("failure"),
            doc.pointer("/errors/0"),
        ];
        for c in candidates.into_iter().flatten() {
            match c {
                serde_json::Value::String(s) if !s.is_empty() => return truncate(s, 500),
                serde_json::Value::Null => {}
                other => return truncate(&other.to_string(), 500),
            }
        }
    }
    truncate(String::from_utf8_lossy(body).trim(), 500)
}

pub fn truncate(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}

/// How long to wait before retry `attempt` (0-based): the server's `Retry-After` when it
/// gave one (capped), else exponential backoff with jitter.
fn retry_delay(attempt: u32, retry_after: Option<Duration>) -> Duration {
    if let Some(d) = retry_after {
        return d.min(Duration::from_secs(60));
    }
    let base = Duration::from_millis(500 * 2u64.pow(attempt.min(6)));
    let jitter = rand::thread_rng().gen_range(0.5..1.0);
    base.mul_f64(jitter).min(Duration::from_secs(30))
}

fn parse_retry_after(value: Option<&reqwest::header::HeaderValue>) -> Option<Duration> {
    let text = value?.to_str().ok()?.trim();
    if let Ok(secs) = text.parse::<f64>() {
        return Some(Duration::from_secs_f64(secs.max(0.0)));
    }
    let when = httpdate::parse_http_date(text).ok()?;
    Some(
        when.duration_since(std::time::SystemTime::now())
            .unwrap_or_default(),
    )
}

/// One logical request to a provider, retried as the shared policy says.
pub struct Call<'a> {
    pub provider: &'static str,
    pub model: &'a str,
    /// What was sent, for the call records (never the key).
    pub summary: serde_json::Value,
    pub key: &'a str,
    pub max_tries: u32,
}

impl Call<'_> {
    /// Sends `build()` until it succeeds, a non-retryable status arrives, or tries run out.
    /// Returns the successful status and body.
    pub async fn send(
        &self,
        job: &Job<'_>,
        build: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<(u16, Bytes), ProviderError> {
        let mut last = String::new();
        for attempt in 0..self.max_tries {
            let started = Instant::now();
            let result = build().send().await;
            let (status, retry_after, body) = match result {
                Ok(resp) => {
                    let status = resp.status();
                    let retry_after = parse_retry_after(resp.headers().get("retry-after"));
                    match resp.bytes().await {
                        Ok(body) => (Some(status), retry_after, Ok(body)),
                        Err(e) => (Some(status), retry_after, Err(e)),
                    }
                }
                Err(e) => (None, None, Err(e)),
            };
            let latency_ms = started.elapsed().as_millis() as u64;
            let mut record = CallRecord {
                task_id: job.task.task_id.clone(),
                provider: self.provider.to_string(),
                model: self.model.to_string(),
                request: self.summary.clone(),
                status: status.map(|s| s.as_u16()),
                error: None,
                latency_ms,
                bytes: 0,
                at_ms: crate::epistula::now_ms(),
            };
            let retryable;
            match (status, body) {
                (Some(s), Ok(body)) if s.is_success() => {
                    record.bytes = body.len() as u64;
                    job.calls.push(record);
                    return Ok((s.as_u16(), body));
                }
                (Some(s), Ok(body)) => {
                    last = format!("HTTP {}: {}", s.as_u16(), error_text(&body));
                    retryable = s.as_u16() == 429 || s.is_server_error() || s.as_u16() == 408;
                }
                (None, Ok(_)) => {
                    last = "no response".to_string();
                    retryable = true;
                }
                (_, Err(e)) => {
                    last = if e.is_timeout() {
                        "timed out".to_string()
                    } else if e.is_connect() {
                        format!("could not connect: {}", source_chain(&e))
                    } else {
                        format!("transport error: {}", source_chain(&e))
                    };
                    retryable = true;
                }
            }
            last = redact(&last, self.key);
            record.error = Some(last.clone());
            job.calls.push(record);
            tracing::warn!(task_id = %job.task.task_id, provider = self.provider, attempt = attempt + 1, error = %last, "provider call failed");
            if !retryable {
                return Err(ProviderError::new(last));
            }
            if attempt + 1 < self.max_tries {
                tokio::time::sleep(retry_delay(attempt, retry_after)).await;
            }
        }
        Err(ProviderError::new(format!(
            "{last} (after {} tries)",
            self.max_tries
        )))
    }
}

/// An error with its causes (keys are redacted by the caller).
fn source_chain(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// A reqwest client with the connect and total timeouts a provider call may take.
pub fn http_client(total: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(total)
        .user_agent(concat!("gas-miner/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_error_text_is_found_in_the_usual_shapes() {
        assert_eq!(
            error_text(br#"{"error":{"message":"quota exceeded","code":429}}"#),
            "quota exceeded"
        );
        assert_eq!(error_text(br#"{"detail":"bad prompt"}"#), "bad prompt");
        assert_eq!(error_text(b"plain words"), "plain words");
    }

    #[test]
    fn retry_after_seconds_are_honoured_and_capped() {
        let v = reqwest::header::HeaderValue::from_static("2");
        assert_eq!(parse_retry_after(Some(&v)), Some(Duration::from_secs(2)));
        assert_eq!(
            retry_delay(0, Some(Duration::from_secs(600))),
            Duration::from_secs(60)
        );
        let d = retry_delay(1, None);
        assert!(
            d >= Duration::from_millis(500) && d <= Duration::from_millis(1000),
            "{d:?}"
        );
    }

    #[test]
    fn keys_are_redacted() {
        assert_eq!(
            redact("bad key sk-or-v1-abc", "sk-or-v1-abc"),
            "bad key ***"
        );
    }
}
