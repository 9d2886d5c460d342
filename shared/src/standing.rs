//! `GET /standing` on the admin socket: what the subnet really pays us and why
//! (STANDING.md). Three sources, each with its age: the subnet's API (validators' verdicts
//! and the fool-rate gate), the chain (incentive and the weights validators set on us), and
//! our own records (the validators' formula on our outcomes: an estimate, always labelled).

use crate::Modality;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StandingView {
    pub now_ms: i64,
    pub api: ApiStanding,
    pub chain: ChainStanding,
    pub estimate: Estimate,
    /// Our own counts per validator joined with the API's pass rate and the weight it sets.
    pub validators: Vec<ValidatorStanding>,
}

/// The subnet API's view of our hotkey, from the last good snapshot.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ApiStanding {
    /// `GAS_API_URL`.
    pub url: String,
    /// When the shown snapshot was fetched (None: never).
    pub fetched_ms: Option<i64>,
    /// When the API was last asked, and why that failed (None: it answered).
    pub tried_ms: Option<i64>,
    pub error: Option<String>,
    /// The last failure was the API refusing our signature (401/403): a key problem, not
    /// missing data.
    #[serde(default)]
    pub signature_refused: bool,
    /// The server's `as_of`, when it sends one.
    pub as_of: Option<String>,
    /// False when the server answered the older shape, without `history`.
    pub history_available: bool,
    /// One card per modality. When the latest answer had no `history`, these come from the
    /// last snapshot that had one, taken at `gates_fetched_ms` (empty when none had).
    pub gates: Vec<Gate>,
    #[serde(default)]
    pub gates_fetched_ms: Option<i64>,
    /// `verification`: every validator's latest summary of our Stage A/B outcomes (~24 h).
    pub pass_rate: Option<f64>,
    pub total_verified: u64,
    pub total_failed: u64,
    pub validator_count: u64,
    /// `verification.by_validator`: each validator's own summary.
    #[serde(default)]
    pub validators: Vec<ApiValidator>,
    /// `fool_aggregate` over the requested lookback.
    pub fool_rate: Option<f64>,
    pub fool_samples: u64,
}

/// One validator's latest summary of our outcomes, as the API gives it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ApiValidator {
    pub hotkey: String,
    pub pass_rate: Option<f64>,
    pub total_verified: u64,
    pub total_failed: u64,
    pub lookback_hours: Option<f64>,
}

/// One modality's fool-rate gate (rolling 7 days).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Gate {
    pub modality: Option<Modality>,
    /// The API's word: qualified, below_threshold, insufficient_samples, no_data,
    /// not_applicable.
    pub status: String,
    pub fool_rate: Option<f64>,
    pub fooled: u64,
    pub evaluations: u64,
    /// 0.02 image, 0.01 video.
    pub threshold: f64,
    /// 20.
    pub minimum_samples: u64,
    pub last_evaluated_at: Option<String>,
    /// The 7-day line: (unix ms, fool rate) oldest first; None where the API had no value.
    pub points: Vec<(i64, Option<f64>)>,
}

impl Gate {
    /// The reference CLI's words for the status.
    pub fn status_words(&self) -> &str {
        status_words(&self.status)
    }

    /// The gate holds: pays this modality.
    pub fn qualified(&self) -> bool {
        self.status == "qualified"
    }
}

/// The reference CLI's words for a gate status.
pub fn status_words(status: &str) -> &str {
    match status {
        "qualified" => "Fool-rate eligible",
        "below_threshold" => "Below threshold",
        "insufficient_samples" => "Insufficient samples",
        "no_data" => "No recent data",
        "not_applicable" => "No generator reward gate",
        other => other,
    }
}

/// The chain's view: what validators actually pay us.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChainStanding {
    /// False offline (`BT_METAGRAPH_FILE`) or before the first read; `reason` says why.
    pub available: bool,
    pub reason: Option<String>,
    pub block: Option<u64>,
    /// When the metagraph behind these figures was read.
    pub read_ms: Option<i64>,
    pub uid: Option<u16>,
    /// Our incentive, 0..1 (`I[uid]`).
    pub incentive: Option<f64>,
    /// Our emission per tempo, in the subnet's alpha (the chain's `emission` / 1e9), not TAO.
    pub emission_alpha: Option<f64>,
    pub commit_reveal: Option<bool>,
    /// Validators with a permit, top by stake first.
    pub weights: Vec<WeightOnUs>,
    /// How many permitted validators give us a positive weight.
    pub positive: usize,
    pub permitted: usize,
    /// Incentive over time: (unix ms, incentive), oldest first, up to 30 days.
    pub incentive_history: Vec<(i64, f64)>,
}

/// The weight one permitted validator sets on our uid.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WeightOnUs {
    pub hotkey: String,
    pub uid: u16,
    pub stake_tao: f64,
    /// Our share of its weight row, 0..1 (row-normalised: not incentive).
    pub share: f64,
    pub last_update: u64,
    /// Its weights are older than ~7200 blocks.
    pub stale: bool,
}

/// The validators' formula on our own outcomes of the last 24 h. Every figure here is an
/// estimate; `p_source` says what `p` is made of.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    pub window_hours: u32,
    pub modalities: Vec<ModalityEstimate>,
    /// v5 `R = 0.30·base_image·[image qualified] + 0.70·base_video·[video qualified]`;
    /// None while a gate is unknown (no API snapshot).
    pub r: Option<f64>,
    /// v5 `R` as if both gates held.
    pub r_ungated: f64,
    /// What was spent per provider, model and tier, and what it bought.
    pub spend: Vec<SpendLine>,
    /// Spend per day, oldest first (unix ms of the day's start, USD), up to 30 days.
    pub spend_per_day: Vec<(i64, f64)>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ModalityEstimate {
    pub modality: Option<Modality>,
    pub verified: u64,
    pub failed: u64,
    /// How many of the outcomes were judged by a validator (v4.9.x replies, failure
    /// reports, timeouts); the rest are our pre-flight verdict.
    pub from_validators: u64,
    pub from_preflight: u64,
    pub p: Option<f64>,
    pub n: u64,
    pub volume: f64,
    pub multiplier: f64,
    pub base: f64,
    /// From the API's gate (None: unknown).
    pub qualified: Option<bool>,
    /// 0.30 image, 0.70 video.
    pub weight: f64,
}

impl ModalityEstimate {
    /// What `p` is made of, in words.
    pub fn p_source(&self) -> String {
        match (self.from_validators, self.from_preflight) {
            (0, 0) => "no outcomes".into(),
            (_, 0) => format!("{} validators' verdicts", self.from_validators),
            (0, pre) => format!("{pre} pre-flight verdicts (estimate)"),
            (v, pre) => format!("{v} validators' verdicts + {pre} pre-flight (estimate)"),
        }
    }
}

/// Spend on one provider, model and tier over the window, and what it bought.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SpendLine {
    pub provider: String,
    pub model: String,
    pub tier: String,
    pub spend_usd: f64,
    pub verified: u64,
    /// Spend per verified outcome (None when none verified).
    pub per_verified_usd: Option<f64>,
    /// Sum of the multipliers credited per dollar (None when nothing was spent).
    pub multiplier_per_usd: Option<f64>,
}

/// One validator: our own counts beside what the API and the chain say of it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ValidatorStanding {
    pub hotkey: String,
    pub uid: Option<u16>,
    /// Challenges: accepted (201) and refused by us.
    pub asked: u64,
    pub refused: u64,
    pub replies: crate::reply::ReplyCounts,
    pub last_rejection: Option<String>,
    /// The API's pass rate for this validator, and what it is made of.
    pub api_pass_rate: Option<f64>,
    pub api_verified: u64,
    pub api_failed: u64,
    /// Our share of its weight row.
    pub weight_share: Option<f64>,
}
