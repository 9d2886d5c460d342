//! A pre-flight verdict: what the miner found when it judged a result the way validators
//! will, kept with the task so an operator can see exactly why media passed or failed.

use crate::Tier;
use serde::{Deserialize, Serialize};

/// The whole judgement of one file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// True when validators should accept it.
    pub passed: bool,
    /// Why it fails, one line per reason (empty when it passes).
    pub reasons: Vec<String>,
    pub media: MediaReport,
    pub c2pa: C2paReport,
    pub freshness: Option<Freshness>,
    /// A near-duplicate of one of the miner's recent deliveries.
    pub duplicate: Option<Duplicate>,
    pub provider: String,
    pub checked_at_ms: i64,
    /// Time spent judging, in ms.
    pub took_ms: u64,
}

/// Decoding and measuring the media.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MediaReport {
    pub content_type: String,
    pub bytes: u64,
    /// Images decoded; videos parsed with at least one frame.
    pub decodes: bool,
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// Video frames (samples of the video track).
    pub frames: Option<u64>,
    pub duration_s: Option<f64>,
    /// The tier validators will credit, from width × height.
    pub measured_tier: Option<Tier>,
    pub requested_tier: Option<Tier>,
    /// Tiers delivered below the request (0 when it reaches it).
    pub shortfall: u8,
    /// 256-bit perceptual hash of an image, hex.
    pub phash: Option<String>,
    pub error: Option<String>,
}

/// One `validation_status` / `validation_results` entry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StatusCode {
    pub code: String,
    pub explanation: Option<String>,
    /// `success`, `informational` or `failure`.
    pub kind: String,
    /// Whether this code alone makes validators refuse the file.
    pub fatal: bool,
}

/// The C2PA part, with the field names of the reference `verify-c2pa` where they exist.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct C2paReport {
    /// Signature, bindings and signer all acceptable (the reference's `verified`).
    pub verified: bool,
    pub signature_valid: bool,
    pub is_self_signed: bool,
    /// The signer is a trusted AI generator (by O= or claim generator).
    pub is_trusted_issuer: bool,
    pub manifest_present: bool,
    /// c2pa's own summary: `Invalid`, `Valid` or `Trusted`.
    pub validation_state: Option<String>,
    pub statuses: Vec<StatusCode>,
    /// The failures that make validators refuse it, as `code: explanation`.
    pub validation_errors: Vec<String>,
    pub hard_binding: Option<String>,
    /// The claim generator (the reference's `issuer`).
    pub issuer: Option<String>,
    /// The signing certificate's organisation, O= (the reference's `cert_issuer`).
    pub cert_issuer: Option<String>,
    pub common_name: Option<String>,
    pub cert_serial_number: Option<String>,
    pub cert_chain: Vec<String>,
    pub alg: Option<String>,
    /// RFC 3339 signing time and where it came from (`signature` or `actions`).
    pub signing_time: Option<String>,
    pub signing_time_source: Option<String>,
    pub ai_generated: bool,
    pub model_name: Option<String>,
    pub error: Option<String>,
}

/// Signing time against the moment the 201 was sent (validators allow 600 s either way).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Freshness {
    pub signed_at_ms: Option<i64>,
    pub sent_at_ms: i64,
    /// Seconds the signature predates the 201 (negative: signed after it).
    pub age_s: Option<f64>,
    pub fresh: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Duplicate {
    pub of_task: String,
    /// Hamming distance between the perceptual hashes (≤ 4 is a duplicate to validators).
    pub distance: u32,
}
