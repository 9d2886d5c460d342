//! The admin protocol: what gas-miner serves on its local socket (HTTP + JSON, `curl
//! --unix-socket` friendly) and gas-console reads. Requests and replies, and the events of
//! `GET /events` (JSON lines: a snapshot first, then deltas; a fresh snapshot whenever the
//! reader fell behind). Secrets never appear here: a service's key is only "set" or not.

use crate::reply::ReplyCounts;
use crate::verdict::Verdict;
use crate::{Modality, TaskState, Tier};
use serde::{Deserialize, Serialize};

/// `GET /status`: everything the dashboard shows.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Status {
    /// The miner's name on the box (`MINER_NAME`, else `<wallet>-<hotkey>`).
    #[serde(default)]
    pub name: String,
    pub version: String,
    pub hotkey: String,
    pub uid: Option<u16>,
    pub netuid: u16,
    pub registered: bool,
    /// Our axon as published on chain (`ip:port`).
    pub axon: Option<String>,
    pub metagraph: MetagraphState,
    pub started_ms: i64,
    pub now_ms: i64,
    pub queue: Vec<QueueCount>,
    pub throughput: Throughput,
    pub preflight: Rates,
    /// Validators' replies to our webhooks over the last hour and day, by what they mean.
    pub replies: ReplyRates,
    pub providers: Vec<ProviderStats>,
    pub validators: Vec<ValidatorStats>,
    pub services: Services,
    pub trust_anchors: usize,
    /// When the newest trust-anchor file was written (unix ms): how old the list is.
    #[serde(default)]
    pub trust_anchors_updated_ms: Option<i64>,
    pub admin_socket: String,
    /// This is `gas-miner demo`: nothing in it is real.
    #[serde(default)]
    pub demo: bool,
    #[serde(default)]
    pub pid: u32,
    /// The standing in one line (None until the first read of the subnet's API).
    #[serde(default)]
    pub standing: Option<StandingSummary>,
    /// Challenges refused (503) before the 201, by reason, and per modality over the day.
    #[serde(default)]
    pub refusals: Refusals,
    /// Estimated spend over the last 24 hours against each budget: `all`, `image`, `video`.
    #[serde(default)]
    pub budget: Vec<BudgetLine>,
    /// `live`, or `draining` once asked to stop (finishing the work in flight, accepting
    /// nothing new). Empty from an older miner: read as `live`.
    #[serde(default)]
    pub phase: String,
    /// Free space where the state directory is, in bytes (None: unknown).
    #[serde(default)]
    pub disk_free_bytes: Option<u64>,
}

/// Spend against one budget (`MINER_BUDGET_USD_PER_DAY[_IMAGE|_VIDEO]`), over a rolling
/// 24 hours, at the price table's estimated list prices.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BudgetLine {
    /// `all`, `image` or `video`.
    pub scope: String,
    /// The setting that limits it.
    pub var: String,
    /// None: no limit set.
    pub limit_usd: Option<f64>,
    pub spent_usd: f64,
}

impl BudgetLine {
    /// Spent ÷ limit, when there is a limit (0 for a zero limit with nothing spent).
    pub fn fraction(&self) -> Option<f64> {
        self.limit_usd.map(|l| {
            if l > 0.0 {
                self.spent_usd / l
            } else if self.spent_usd > 0.0 {
                f64::INFINITY
            } else {
                1.0
            }
        })
    }

    /// At or past the 80 % warning.
    pub fn warns(&self) -> bool {
        self.fraction().is_some_and(|f| f >= 0.8)
    }

    /// At the limit: the modality (or all of them) is refused.
    pub fn reached(&self) -> bool {
        self.limit_usd.is_some_and(|l| self.spent_usd >= l - 1e-9)
    }
}

/// Challenges refused before the 201 (v5 validators record each as `no_answer`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Refusals {
    /// (reason, count) over the last hour and the last 24 hours; reasons: `no_service` (no
    /// chain for the modality), `no_provider` (every breaker of the chain open), `wait` (the
    /// queue would miss `MINER_ADMISSION_MAX_WAIT`).
    pub hour: Vec<(String, u64)>,
    pub day: Vec<(String, u64)>,
    /// (reason, count) since the miner's database was made.
    #[serde(default)]
    pub total: Vec<(String, u64)>,
    /// Per modality over the last 24 hours: (modality, accepted, refused).
    pub day_by_modality: Vec<(crate::Modality, u64, u64)>,
}

impl Refusals {
    /// Refusals over the last hour, all reasons.
    pub fn hour_total(&self) -> u64 {
        self.hour.iter().map(|(_, n)| n).sum()
    }

    /// Refusals over the last 24 hours, all reasons.
    pub fn day_total(&self) -> u64 {
        self.day.iter().map(|(_, n)| n).sum()
    }

    /// Modalities whose every challenge of the last 24 hours was refused: v5 validators
    /// mark the miner unresponsive for them.
    pub fn unanswered(&self) -> Vec<crate::Modality> {
        self.day_by_modality
            .iter()
            .filter(|(_, accepted, refused)| *refused > 0 && *accepted == 0)
            .map(|(m, _, _)| *m)
            .collect()
    }
}

/// Replies by class over the last hour and the last 24 hours.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReplyRates {
    pub hour: ReplyCounts,
    pub day: ReplyCounts,
}

/// The dashboard's standing line: each modality's gate and the API's pass rate, with the
/// age of the snapshot they come from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StandingSummary {
    /// (modality, gate status word from the API, fool rate).
    pub gates: Vec<(crate::Modality, String, Option<f64>)>,
    pub pass_rate: Option<f64>,
    /// When the snapshot was fetched; None: never.
    pub fetched_ms: Option<i64>,
    /// Why the last read failed, if it did.
    pub error: Option<String>,
    /// The v5 estimate of `R` (None while a gate is unknown).
    pub r_estimate: Option<f64>,
    /// Our incentive as the chain last said (None: not read, or offline).
    #[serde(default)]
    pub incentive: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MetagraphState {
    pub source: String,
    pub block: Option<u64>,
    pub age_s: i64,
    pub stale: bool,
    pub neurons: usize,
}

/// Tasks in one state for one modality.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueCount {
    pub state: TaskState,
    pub modality: Modality,
    pub count: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Throughput {
    /// Challenges accepted (201) in the last minute and hour.
    pub accepted_last_minute: u64,
    pub accepted_last_hour: u64,
    /// Tasks that reached a final state in the last minute and hour.
    pub finished_last_minute: u64,
    pub finished_last_hour: u64,
}

/// Passed out of judged, over the last hour and the last 24 hours.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Rates {
    pub hour: Rate,
    pub day: Rate,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Rate {
    pub passed: u64,
    pub total: u64,
}

impl Rate {
    /// The share passed, when anything was judged.
    pub fn ratio(&self) -> Option<f64> {
        (self.total > 0).then(|| self.passed as f64 / self.total as f64)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProviderStats {
    pub name: String,
    pub calls: u64,
    pub errors: u64,
    pub p50_ms: Option<u64>,
    pub p95_ms: Option<u64>,
    pub spend_usd: f64,
    /// Its circuit breaker, the worst of its models': `ok`, `open` (skipped by the fallback
    /// chains) or `half-open` (one probe out). Empty from an older miner: read as `ok`.
    #[serde(default)]
    pub health: String,
    /// Why it is not `ok` (e.g. the key variable to check), then the model in brackets.
    #[serde(default)]
    pub health_reason: Option<String>,
    /// When the next probe may go, while open.
    #[serde(default)]
    pub open_until_ms: Option<i64>,
    /// The breaker of each model it was asked for.
    #[serde(default)]
    pub models: Vec<ModelHealth>,
    /// What its plans really delivered, per model and planned tier (recent results).
    #[serde(default)]
    pub tiers: Vec<TierDelivery>,
}

/// What one model's plans at one tier measured at, over its recent results (up to 10, the
/// last day): once most fell short, the plan is taken as reaching only `reaches`, and the
/// chain asks a provider that does reach the tier first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TierDelivery {
    pub model: String,
    pub planned: crate::Tier,
    pub seen: u32,
    /// Results that measured below `planned`.
    pub short: u32,
    /// What the plan is taken to reach now.
    pub reaches: crate::Tier,
}

/// One provider model's circuit breaker.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelHealth {
    pub model: String,
    /// `ok`, `open` or `half-open`.
    pub health: String,
    pub reason: Option<String>,
    pub open_until_ms: Option<i64>,
}

impl ProviderStats {
    /// Whether its breaker is anything but closed.
    pub fn unhealthy(&self) -> bool {
        !matches!(self.health.as_str(), "" | "ok")
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ValidatorStats {
    pub hotkey: String,
    pub uid: Option<u16>,
    /// Challenges accepted (201) and refused by us.
    pub challenges: u64,
    #[serde(default)]
    pub refused: u64,
    /// Its replies to our webhooks, by what they mean (a 202 is `taken`, never passed).
    #[serde(default)]
    pub replies: ReplyCounts,
    /// The reason of its last rejection (a 400's text).
    pub last_rejection: Option<String>,
}

/// The service selection: a fallback chain per modality, and what is available.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Services {
    pub image: Vec<String>,
    pub video: Vec<String>,
    pub known: Vec<ServiceInfo>,
    /// The selection came from the console (saved), not from the environment.
    pub overridden: bool,
    /// What the miner started with (the environment's chains, or the demo's studios): what
    /// a reset restores.
    #[serde(default)]
    pub started_image: Vec<String>,
    #[serde(default)]
    pub started_video: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServiceInfo {
    pub name: String,
    pub image: bool,
    pub video: bool,
    /// Whether its API key is configured (never the key).
    pub key_set: bool,
    /// A provider the miner brought itself (the demo's studios): no key, nothing paid.
    #[serde(default)]
    pub local: bool,
}

/// `PUT /services`: comma lists like the env variables (`openrouter,stabilityai`, `none`);
/// a missing one stays as it is. `reset: true` goes back to the environment's selection.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServicesUpdate {
    #[serde(default)]
    pub image: Option<String>,
    #[serde(default)]
    pub video: Option<String>,
    #[serde(default)]
    pub reset: bool,
}

/// The short verdict kept with a task.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VerdictBrief {
    pub passed: bool,
    pub c2pa_ok: bool,
    /// The first reason it failed.
    pub reason: Option<String>,
}

/// One line of the task list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskSummary {
    pub task_id: String,
    pub modality: Modality,
    pub state: TaskState,
    pub tier: Tier,
    pub prompt: String,
    pub validator: String,
    pub provider: Option<String>,
    pub created_ms: i64,
    pub finished_ms: Option<i64>,
    pub verdict: Option<VerdictBrief>,
    /// Any attempt of this task failed C2PA.
    pub c2pa_failed: bool,
    pub deliveries: u32,
    pub last_status: Option<u16>,
    pub error: Option<String>,
}

/// `GET /tasks?state=&modality=&provider=&verdict=&q=&limit=&before=`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TaskQuery {
    #[serde(default)]
    pub state: Option<TaskState>,
    #[serde(default)]
    pub modality: Option<Modality>,
    #[serde(default)]
    pub provider: Option<String>,
    /// `passed`, `failed` or `c2pa_failed`.
    #[serde(default)]
    pub verdict: Option<String>,
    /// Text to find in the task id, prompt or validator.
    #[serde(default)]
    pub q: Option<String>,
    #[serde(default)]
    pub limit: Option<usize>,
    /// Cursor: tasks created before this one (from `next`).
    #[serde(default)]
    pub before: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TaskPage {
    pub tasks: Vec<TaskSummary>,
    /// The cursor for the next (older) page.
    pub next: Option<String>,
}

/// `GET /tasks/{id}`: everything known about one task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskDetail {
    pub summary: TaskSummary,
    pub prompt: String,
    pub parameters: serde_json::Value,
    pub webhook_url: String,
    pub timeline: Vec<TimelineEntry>,
    pub calls: Vec<CallView>,
    pub verdicts: Vec<Verdict>,
    pub deliveries: Vec<DeliveryView>,
    /// Where the media is on the miner's disk.
    pub media_path: Option<String>,
    pub outcome: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelineEntry {
    pub at_ms: i64,
    pub what: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallView {
    pub provider: String,
    pub op: String,
    pub model: String,
    pub status: Option<u16>,
    pub error: Option<String>,
    pub latency_ms: u64,
    pub bytes: u64,
    pub cost_usd: Option<f64>,
    pub at_ms: i64,
    pub request: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryView {
    pub attempt: u32,
    pub kind: String,
    pub status: Option<u16>,
    pub reply: String,
    pub at_ms: i64,
}

/// `GET /logs?n=`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LogTail {
    pub lines: Vec<String>,
}

/// `POST /trust/reload`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrustReload {
    pub anchors: usize,
}

/// One line of `GET /events`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Event {
    /// The whole picture: sent first, and again whenever the reader fell behind.
    Snapshot {
        status: Box<Status>,
        tasks: Vec<TaskSummary>,
    },
    /// A task was accepted or changed.
    Task(Box<TaskSummary>),
    /// Fresh counters (about once a second).
    Status(Box<Status>),
    /// A line of the miner's log.
    Log { line: String },
    /// Per-minute counters for the charts: the last day's once after the snapshot, then the
    /// minutes that changed (a point replaces the one of the same minute). A struct variant:
    /// an internally tagged newtype cannot hold a list.
    Minutes { points: Vec<MinutePoint> },
}

/// One minute of the miner's work, for the console's charts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MinutePoint {
    /// Unix time in minutes.
    pub minute: i64,
    /// Challenges answered 201, and 503.
    pub accepted: u64,
    pub refused: u64,
    pub finished: u64,
    pub preflight_passed: u64,
    pub preflight_total: u64,
    /// The 95th percentile of the provider attempts that ended in the minute (from a
    /// histogram with bins doubling in width: an upper bound within a factor of 2).
    pub attempt_p95_ms: Option<u64>,
    /// The same, per provider (those with an attempt in the minute).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub provider_p95_ms: std::collections::BTreeMap<String, u64>,
    /// Estimated spend of the calls made in the minute (US$, list prices).
    pub spend_usd: f64,
}

/// A challenge the miner refused with 503 (it costs nothing, and leaves no task): the most
/// recent of each validator's are kept (`GET /validators/{hotkey}/refusals`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RefusalSummary {
    pub at_ms: i64,
    pub modality: Modality,
    /// The reason's label, as in `/metrics` (`no_service`, `no_provider`, `wait`, `budget`).
    pub reason: String,
    /// What the 503 said.
    pub detail: String,
}

/// One call to a provider, the most recent first (`GET /providers/{name}/calls`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CallSummary {
    pub at_ms: i64,
    pub task_id: String,
    /// `generate`, `create`, `poll` or `download`.
    pub op: String,
    pub model: String,
    pub status: Option<u16>,
    pub error: Option<String>,
    pub latency_ms: u64,
    /// Estimated list price (on the billed call only).
    pub cost_usd: Option<f64>,
}

/// Every error reply: what went wrong and what to do.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ErrorReply {
    pub error: String,
}

/// Where `gas-miner demo` keeps its state (and its admin socket) unless told otherwise:
/// `$TMPDIR/gas-miner-demo`. gas-console attaches there when no miner is configured.
pub fn demo_state_dir() -> std::path::PathBuf {
    std::env::temp_dir().join("gas-miner-demo")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every kind of event the stream carries is written and read back as one JSON line.
    #[test]
    fn every_event_goes_through_json() {
        let events = [
            Event::Snapshot {
                status: Box::default(),
                tasks: Vec::new(),
            },
            Event::Status(Box::default()),
            Event::Log {
                line: "a line".into(),
            },
            Event::Minutes {
                points: vec![MinutePoint {
                    minute: 29_000_000,
                    accepted: 3,
                    provider_p95_ms: [("runway".to_string(), 8_192)].into(),
                    ..MinutePoint::default()
                }],
            },
        ];
        for event in events {
            let text = serde_json::to_string(&event).expect("written");
            assert!(!text.contains('\n'), "{text}");
            let back: Event = serde_json::from_str(&text).expect("read back");
            assert_eq!(back, event);
        }
    }
}
