//! The domain records of one accepted challenge and what happens to it: the task itself,
//! the media made for it, the provider calls and jobs it cost, and the validators' replies
//! to its webhooks. Plain data with serde (the store keeps them as JSON; fields only ever
//! get added, with defaults, so every record written by an older build still reads).

use gas_shared::{Modality, TaskState, Tier};
use serde::{Deserialize, Serialize};

/// How a task ends: media delivered, or a failure report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Outcome {
    Success,
    Failure { message: String },
}

/// The generated file as stored beside the database.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MediaInfo {
    /// File name inside `<state_dir>/media`.
    pub file: String,
    pub content_type: String,
    pub bytes: u64,
    pub sha256: String,
    pub provider: String,
    pub model: String,
}

/// A validator's answer to one webhook attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reply {
    pub status: Option<u16>,
    pub body: String,
    pub at_ms: i64,
}

/// One accepted challenge, from 201 to its last webhook.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskRecord {
    pub v: u32,
    pub task_id: String,
    pub modality: Modality,
    pub state: TaskState,
    pub prompt: String,
    pub parameters: serde_json::Value,
    pub tier: Tier,
    pub webhook_url: String,
    /// The validator's hotkey (`Epistula-Signed-By`): webhooks are signed for it.
    pub validator: String,
    pub validator_uid: u16,
    pub created_ms: i64,
    pub deadline_ms: i64,
    pub started_ms: Option<i64>,
    pub finished_ms: Option<i64>,
    /// How many times generation started (more than one after a restart).
    pub generation_runs: u32,
    pub media: Option<MediaInfo>,
    pub outcome: Option<Outcome>,
    pub deliveries: u32,
    pub last_reply: Option<Reply>,
    /// The latest pre-flight verdict, in short.
    #[serde(default)]
    pub verdict: Option<gas_shared::admin::VerdictBrief>,
    /// Some attempt's media failed C2PA (even if a later one passed).
    #[serde(default)]
    pub c2pa_failed: bool,
}

/// A new task's id: a UUIDv7, which starts with the time, so the store's trees keyed by task
/// id grow at their end. A task's records then go to the few pages already in memory, not to
/// a random old page read back from disk: with random (v4) ids the database's memory grew
/// with the stored history (BENCHMARKS.md "Memory").
pub fn new_task_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

impl TaskRecord {
    /// A challenge just accepted: queued, nothing done yet, due by `deadline_ms`. Callers set
    /// the webhook and the validator.
    pub fn accepted(
        task_id: String,
        modality: Modality,
        prompt: String,
        parameters: serde_json::Value,
        tier: Tier,
        (created_ms, deadline_ms): (i64, i64),
    ) -> TaskRecord {
        TaskRecord {
            v: 1,
            task_id,
            modality,
            state: TaskState::Queued,
            prompt,
            parameters,
            tier,
            webhook_url: String::new(),
            validator: String::new(),
            validator_uid: 0,
            created_ms,
            deadline_ms,
            started_ms: None,
            finished_ms: None,
            generation_runs: 0,
            media: None,
            outcome: None,
            deliveries: 0,
            last_reply: None,
            verdict: None,
            c2pa_failed: false,
        }
    }

    /// The task as the admin socket lists it.
    pub fn summary(&self) -> gas_shared::admin::TaskSummary {
        gas_shared::admin::TaskSummary {
            task_id: self.task_id.clone(),
            modality: self.modality,
            state: self.state,
            tier: self.tier,
            prompt: crate::text::truncate(&self.prompt, 120),
            validator: self.validator.clone(),
            provider: self.media.as_ref().map(|m| m.provider.clone()),
            created_ms: self.created_ms,
            finished_ms: self.finished_ms,
            verdict: self.verdict.clone(),
            c2pa_failed: self.c2pa_failed,
            deliveries: self.deliveries,
            last_status: self.last_reply.as_ref().and_then(|r| r.status),
            error: match &self.outcome {
                Some(Outcome::Failure { message }) => Some(crate::text::truncate(message, 300)),
                _ => None,
            },
        }
    }
}

/// One provider HTTP call, for spend and latency per provider.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallRecord {
    pub task_id: String,
    pub provider: String,
    /// `generate`, `create`, `poll` or `download`.
    #[serde(default)]
    pub op: String,
    pub model: String,
    /// The parameters sent (prompt shortened, never a key).
    pub request: serde_json::Value,
    pub status: Option<u16>,
    pub error: Option<String>,
    pub latency_ms: u64,
    pub bytes: u64,
    /// Estimated list price of what this call bought (set on the billed call only).
    #[serde(default)]
    pub cost_usd: Option<f64>,
    pub at_ms: i64,
    /// The task's modality, for spend per modality (set by the `Job` that records it; absent
    /// in records of builds before spend budgets).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modality: Option<Modality>,
}

/// A provider's job accepted for a task: kept from the moment the provider answers until the
/// media is safely on disk, so that a restart resumes the job instead of paying again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub v: u32,
    pub task_id: String,
    pub provider: String,
    pub job_id: String,
    pub model: String,
    pub request: serde_json::Value,
    pub created_ms: i64,
}

/// A validator's reply to one webhook, kept per validator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Feedback {
    pub validator: String,
    pub task_id: String,
    pub kind: String,
    pub attempt: u32,
    pub status: Option<u16>,
    pub body: String,
    pub at_ms: i64,
}

/// What one provider has cost and how it has behaved, over the life of this database
/// (kept in the `counters` tree, so it outlives pruned call records). Latency percentiles
/// are over the most recent calls of this run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    pub calls: u64,
    pub errors: u64,
    pub bytes: u64,
    pub cost_usd: f64,
    pub latency_ms_total: u64,
    #[serde(skip)]
    recent_ms: std::collections::VecDeque<u64>,
}

impl Usage {
    const RECENT: usize = 1000;

    pub fn add(&mut self, call: &CallRecord) {
        self.calls += 1;
        self.errors += u64::from(call.error.is_some());
        self.bytes += call.bytes;
        self.cost_usd += call.cost_usd.unwrap_or(0.0);
        self.latency_ms_total += call.latency_ms;
        if self.recent_ms.len() == Self::RECENT {
            self.recent_ms.pop_front();
        }
        self.recent_ms.push_back(call.latency_ms);
    }

    /// The `p`-quantile (0..=1) of recent call latencies, in ms.
    pub fn latency_ms(&self, p: f64) -> Option<u64> {
        let mut v: Vec<u64> = self.recent_ms.iter().copied().collect();
        v.sort_unstable();
        let last = v.len().checked_sub(1)?;
        v.get((last as f64 * p.clamp(0.0, 1.0)).round() as usize)
            .copied()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn task_ids_sort_in_the_order_they_were_made() {
        let ids: Vec<String> = (0..1000).map(|_| super::new_task_id()).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted, "later task ids must sort after earlier ones");
        assert!(ids.iter().all(|id| uuid::Uuid::parse_str(id).is_ok()));
    }
}
