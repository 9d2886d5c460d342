//! Generation services behind one trait, and the behaviour every client shares: a plan decided
//! before any call (model, parameters, the tier it will deliver, an estimated cost); retries
//! with backoff and jitter on 429 (honouring `Retry-After`), 5xx and transport errors, and no
//! retry on other 4xx (content-policy refusals among them); every HTTP call recorded as it
//! happens; downloads streamed to disk; API keys never in an error text.

pub(crate) mod delivered;
pub(crate) mod google;
pub(crate) mod google_auth;
pub(crate) mod health;
mod http;
pub mod openai;
pub mod openrouter;
pub mod params;
pub(crate) mod prices;
pub(crate) mod registry;
pub mod runway;
pub mod stability;
pub(crate) mod vertex;
pub(crate) mod video;

use crate::task::{CallRecord, Checkpoint, TaskRecord};
use async_trait::async_trait;
use gas_shared::{Modality, Tier};
use std::path::Path;
use std::time::Duration;

/// What a provider will ask for one task, decided before any call, so that the pipeline can
/// prefer a provider that reaches the requested tier and operators can see what was asked.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub model: String,
    /// The tier the result should measure at, as validators measure it.
    pub delivers: Tier,
    /// The provider-specific parameters (JSON body or form fields), never the key.
    pub params: serde_json::Value,
    /// List-price estimate of one generation in US dollars.
    pub cost_usd: f64,
}

impl Plan {
    /// Whether this plan reaches the tier the validator asked for.
    pub fn reaches(&self, requested: Tier) -> bool {
        self.delivers >= requested
    }
}

/// What every provider client is given: timeouts, pacing, and the price table its plans are
/// priced from.
#[derive(Debug, Clone)]
pub struct Tuning {
    /// Total time one API request may take (a generation call, one poll).
    pub call_timeout: Duration,
    /// Polling interval for video jobs; `None` uses each provider's recommended pace.
    pub poll_interval: Option<Duration>,
    /// The prices in force (built-in list prices, overridden by `MINER_PRICES_FILE`).
    pub prices: std::sync::Arc<prices::PriceTable>,
}

impl Default for Tuning {
    fn default() -> Tuning {
        Tuning {
            call_timeout: Duration::from_secs(180),
            poll_interval: None,
            prices: std::sync::Arc::new(prices::PriceTable::builtin()),
        }
    }
}

/// The work a provider is given for one attempt.
pub struct Job<'a> {
    pub task: &'a TaskRecord,
    pub plan: &'a Plan,
    /// A temporary file in the media directory; the pipeline fsyncs and renames it.
    pub dest: &'a Path,
    /// Where calls and accepted jobs are written the moment they happen.
    pub journal: &'a dyn Journal,
    /// The provider's job from an earlier run of this task, if one was accepted before a
    /// restart: resume it, never create a second one.
    pub resume: Option<Checkpoint>,
    /// The one probe of a provider whose breaker is half-open (`health`): its billed call is
    /// tried once, not retried.
    pub probe: bool,
}

impl Job<'_> {
    /// Stores a call record at once, so spend is known even if the process dies mid-job.
    pub fn record(&self, mut call: CallRecord) {
        call.modality = Some(self.task.modality);
        tracing::debug!(task_id = %call.task_id, provider = %call.provider, model = %call.model, status = ?call.status, latency_ms = call.latency_ms, bytes = call.bytes, cost_usd = ?call.cost_usd, error = ?call.error, "provider call");
        if let Err(e) = self.journal.record_call(&call) {
            tracing::error!(task_id = %call.task_id, error = %e, "provider call could not be recorded");
        }
    }

    /// Makes the provider's job id durable before anything else happens, so a crash from
    /// here on resumes this job instead of paying for another.
    pub async fn checkpoint(
        &self,
        provider: &str,
        job_id: &str,
        request: serde_json::Value,
    ) -> Result<(), ProviderError> {
        let cp = Checkpoint {
            v: 1,
            task_id: self.task.task_id.clone(),
            provider: provider.to_string(),
            job_id: job_id.to_string(),
            model: self.plan.model.clone(),
            request,
            created_ms: crate::clock::now_ms(),
        };
        self.journal.checkpoint(&cp).await.map_err(|e| {
            ProviderError::new(format!(
                "{provider} job {job_id} was accepted but could not be checkpointed: {e}"
            ))
        })
    }

    /// Writes media that arrived in memory (base64 images, small bodies) to `dest`.
    pub async fn write_media(&self, bytes: &[u8]) -> Result<u64, ProviderError> {
        tokio::fs::write(self.dest, bytes).await.map_err(|e| {
            ProviderError::new(format!(
                "could not write media to {}: {e}; check free space in MINER_STATE_DIR",
                self.dest.display()
            ))
        })?;
        Ok(bytes.len() as u64)
    }
}

/// Where a provider's calls and accepted jobs go as they happen (the miner's store; the
/// providers know nothing of how it keeps them).
#[async_trait]
pub trait Journal: Send + Sync {
    /// Keeps one call record, so spend is known even if the process dies mid-job.
    fn record_call(&self, call: &CallRecord) -> Result<(), JournalError>;
    /// Keeps a provider's accepted job durably (fsynced) before returning.
    async fn checkpoint(&self, cp: &Checkpoint) -> Result<(), JournalError>;
}

/// Why a journal could not keep a record (its text names the storage and the cause).
pub(crate) type JournalError = Box<dyn std::error::Error + Send + Sync>;

/// What a provider made (the bytes are already in `Job::dest`).
#[derive(Debug, Clone)]
pub struct Generated {
    pub model: String,
    pub bytes: u64,
}

/// Why a provider gave nothing; `message` is the provider's own text where it sent one.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProviderError {
    pub message: String,
    /// The provider's HTTP status, when it answered with one.
    pub status: Option<u16>,
    /// The provider's `Retry-After`, when it sent one.
    pub retry_after: Option<Duration>,
    /// No answer at all: a timeout or a connection error (a sign of an outage).
    pub unreachable: bool,
}

impl ProviderError {
    pub fn new(message: impl Into<String>) -> ProviderError {
        ProviderError {
            message: message.into(),
            ..ProviderError::default()
        }
    }
}

#[async_trait]
pub trait Provider: Send + Sync {
    /// The reference's service name (`openrouter`).
    fn name(&self) -> &'static str;
    fn supports(&self, modality: Modality) -> bool;
    /// The request this provider would make for `task`.
    fn plan(&self, task: &TaskRecord) -> Plan;
    async fn generate(&self, job: &Job<'_>) -> Result<Generated, ProviderError>;
    /// Checks, once the miner is up, that the models this provider will ask for are still
    /// offered (the provider's own public list); a built-in default that is gone moves to one
    /// that is listed. What the operator should read, if anything.
    async fn check_models(&self) -> Option<String> {
        None
    }
}

pub(crate) use http::{Call, Http, error_text, parse_json, summary};
