//! The subnet's API (STANDING.md §1): `GET {GAS_API_URL}/api/v1/generator/performance`,
//! signed by our hotkey (Epistula without Signed-For), 120 s timeout.
//!
//! The reply's shape changed over time (`as_of`, `window_days` and `history` came later), so
//! every field is optional here and a number may come as an integer, a float, a numeric
//! string or null. What cannot be read becomes "unknown", never an error; only a body that is
//! not JSON at all is refused.

use crate::clock::now_ms;
use crate::epistula::{sha256_hex, sign_headers};
use crate::identity::Hotkey;
use crate::text::{error_chain, truncate};
use gas_shared::Modality;
use gas_shared::standing::{ApiStanding, ApiValidator, Gate};
use serde::{Deserialize, Deserializer};
use std::time::Duration;

/// The endpoint, below `GAS_API_URL`.
pub(crate) const PATH: &str = "/api/v1/generator/performance";
/// The service can be slow on a cold cache.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(120);
/// How much of a body an error message shows.
const BODY_CHARS: usize = 300;
/// How much of an unreadable 200 body an error message shows.
const JSON_START_CHARS: usize = 200;
/// The gate thresholds when a server does not send them.
const IMAGE_THRESHOLD: f64 = 0.02;
const VIDEO_THRESHOLD: f64 = 0.01;
const MINIMUM_SAMPLES: u64 = 20;

/// The whole reply.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub(crate) struct Performance {
    /// Newer servers only.
    #[serde(deserialize_with = "opt_text")]
    pub(crate) as_of: Option<String>,
    /// Newer servers only.
    #[serde(deserialize_with = "opt_count")]
    pub(crate) window_days: Option<u64>,
    #[serde(deserialize_with = "or_default")]
    pub(crate) verification: Verification,
    /// Fool counts over the requested `lookback_days`.
    #[serde(deserialize_with = "or_default")]
    pub(crate) fool_aggregate: FoolCounts,
    /// Newer servers only: the rolling 7-day gate per modality. None: the key was absent.
    pub(crate) history: Option<History>,
}

/// Every validator's latest uploaded summary of our Stage A/B outcomes (about 24 h).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub(crate) struct Verification {
    #[serde(deserialize_with = "opt_count")]
    pub(crate) validator_count: Option<u64>,
    #[serde(deserialize_with = "opt_rate")]
    pub(crate) aggregate_pass_rate: Option<f64>,
    #[serde(deserialize_with = "count")]
    pub(crate) total_verified: u64,
    #[serde(deserialize_with = "count")]
    pub(crate) total_failed: u64,
    #[serde(deserialize_with = "count")]
    pub(crate) total_evaluated: u64,
    #[serde(deserialize_with = "or_default")]
    pub(crate) by_validator: Vec<ValidatorSummary>,
}

/// One validator's summary.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub(crate) struct ValidatorSummary {
    #[serde(deserialize_with = "text")]
    pub(crate) validator_hotkey: String,
    #[serde(deserialize_with = "opt_rate")]
    pub(crate) pass_rate: Option<f64>,
    #[serde(deserialize_with = "count")]
    pub(crate) total_verified: u64,
    #[serde(deserialize_with = "count")]
    pub(crate) total_failed: u64,
    #[serde(deserialize_with = "opt_rate")]
    pub(crate) lookback_hours: Option<f64>,
}

/// How often the detectors were fooled by our media.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub(crate) struct FoolCounts {
    #[serde(deserialize_with = "opt_rate")]
    pub(crate) fool_rate: Option<f64>,
    #[serde(deserialize_with = "count")]
    pub(crate) total_samples: u64,
    #[serde(deserialize_with = "count")]
    pub(crate) fooled_count: u64,
    #[serde(deserialize_with = "count")]
    pub(crate) not_fooled_count: u64,
    #[serde(deserialize_with = "count")]
    pub(crate) benchmark_run_count: u64,
}

/// `history`: one gate per modality (a server may send only the one asked for).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub(crate) struct History {
    pub(crate) image: Option<GateHistory>,
    pub(crate) video: Option<GateHistory>,
}

/// One modality's fool-rate gate over the rolling 7 days.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub(crate) struct GateHistory {
    #[serde(deserialize_with = "or_default")]
    pub(crate) current: FoolCounts,
    #[serde(deserialize_with = "opt_rate")]
    pub(crate) threshold: Option<f64>,
    #[serde(deserialize_with = "opt_count")]
    pub(crate) minimum_samples: Option<u64>,
    /// qualified, below_threshold, insufficient_samples, no_data, not_applicable.
    #[serde(deserialize_with = "text")]
    pub(crate) status: String,
    #[serde(deserialize_with = "opt_text")]
    pub(crate) last_evaluated_at: Option<String>,
    #[serde(deserialize_with = "or_default")]
    pub(crate) points: Vec<Point>,
}

/// One point of the 7-day line.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub(crate) struct Point {
    #[serde(deserialize_with = "text")]
    pub(crate) at: String,
    #[serde(deserialize_with = "opt_rate")]
    pub(crate) fool_rate: Option<f64>,
}

/// A good answer: the body exactly as received, and what it says.
#[derive(Debug, Clone)]
pub(crate) struct Fetched {
    pub(crate) raw: String,
    pub(crate) performance: Performance,
}

/// Why the API gave us no standing.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ApiFailure {
    #[error(
        "the subnet's API at {url} refused our hotkey's signature ({status}: {body}): requests are signed by hotkey {hotkey}; check that BT_WALLET_NAME / BT_WALLET_HOTKEY name the hotkey registered as this miner, and that this machine's clock is right (signatures carry a timestamp)"
    )]
    SignatureRefused {
        status: u16,
        body: String,
        hotkey: String,
        url: String,
    },
    #[error("the subnet's API at {url} answered {status}: {body}; {}", status_fix(*.status))]
    Status {
        status: u16,
        body: String,
        url: String,
    },
    /// Connection, TLS or timeout: the URL and the cause, in one line.
    #[error("{0}")]
    Network(String),
    #[error(
        "the subnet's API at {url} answered 200 but not with valid JSON ({error}); it starts: {start}; check that GAS_API_URL is the subnet's API"
    )]
    Json {
        error: String,
        start: String,
        url: String,
    },
}

fn status_fix(status: u16) -> &'static str {
    match status {
        404 => "check that GAS_API_URL is the subnet's API (default https://gas.bitmind.ai)",
        429 => "it was asked too often: ask it every 10-15 minutes at the most",
        500..=599 => "a problem on the API's side: try again in a few minutes",
        _ => "check GAS_API_URL and try again later",
    }
}

/// A client for the API: the crate's TLS stack and a 120 s timeout.
pub(crate) fn client() -> reqwest::Client {
    crate::tls::http_client()
        .connect_timeout(Duration::from_secs(15))
        .timeout(TIMEOUT)
        .user_agent(concat!("gas-miner/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_default()
}

/// The endpoint's URL for these parameters.
pub(crate) fn url(base_url: &str, lookback_days: u32, modality: Option<Modality>) -> String {
    let mut url = format!(
        "{}{PATH}?lookback_days={lookback_days}",
        base_url.trim_end_matches('/')
    );
    if let Some(m) = modality {
        url.push_str("&modality=");
        url.push_str(m.as_str());
    }
    url
}

/// Asks the API for our hotkey's performance, signed by `key` over the empty body.
pub(crate) async fn fetch(
    client: &reqwest::Client,
    base_url: &str,
    key: &Hotkey,
    lookback_days: u32,
    modality: Option<Modality>,
) -> Result<Fetched, ApiFailure> {
    let url = url(base_url, lookback_days, modality);
    let network = |e: reqwest::Error| {
        ApiFailure::Network(format!(
            "the subnet's API at {url} could not be reached: {}; check GAS_API_URL and this machine's network (the API may take up to {} s on a cold cache)",
            error_chain(&e),
            TIMEOUT.as_secs()
        ))
    };
    let mut request = client.get(&url);
    for (name, value) in sign_headers(key, &sha256_hex(b""), None, now_ms()) {
        request = request.header(name, value);
    }
    let response = request.send().await.map_err(network)?;
    let status = response.status().as_u16();
    let bytes = response.bytes().await.map_err(network)?;
    let raw = String::from_utf8_lossy(&bytes).into_owned();
    match status {
        200 => match serde_json::from_str::<Performance>(&raw) {
            Ok(performance) => Ok(Fetched { raw, performance }),
            Err(e) => Err(ApiFailure::Json {
                error: e.to_string(),
                start: truncate(&raw, JSON_START_CHARS),
                url,
            }),
        },
        401 | 403 => Err(ApiFailure::SignatureRefused {
            status,
            body: body_text(&raw),
            hotkey: key.ss58().to_string(),
            url,
        }),
        _ => Err(ApiFailure::Status {
            status,
            body: body_text(&raw),
            url,
        }),
    }
}

/// A body as one short line for a message.
fn body_text(raw: &str) -> String {
    let line = raw.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.is_empty() {
        "(empty body)".into()
    } else {
        truncate(&line, BODY_CHARS)
    }
}

/// The API's answer as the shared standing, fetched at `fetched_ms` from `url`.
pub(crate) fn view(p: &Performance, fetched_ms: i64, url: &str) -> ApiStanding {
    let v = &p.verification;
    let judged = v.total_verified + v.total_failed;
    let pass_rate = v
        .aggregate_pass_rate
        .or_else(|| (judged > 0).then(|| v.total_verified as f64 / judged as f64));
    let gates = p
        .history
        .as_ref()
        .map(|h| {
            [(Modality::Image, &h.image), (Modality::Video, &h.video)]
                .into_iter()
                .filter_map(|(m, g)| g.as_ref().map(|g| gate(m, g)))
                .collect()
        })
        .unwrap_or_default();
    ApiStanding {
        url: url.to_string(),
        fetched_ms: Some(fetched_ms),
        tried_ms: None,
        error: None,
        signature_refused: false,
        as_of: p.as_of.clone(),
        history_available: p.history.is_some(),
        gates_fetched_ms: None,
        gates,
        pass_rate,
        total_verified: v.total_verified,
        total_failed: v.total_failed,
        validator_count: v.validator_count.unwrap_or(v.by_validator.len() as u64),
        validators: v
            .by_validator
            .iter()
            .map(|b| ApiValidator {
                hotkey: b.validator_hotkey.clone(),
                pass_rate: b.pass_rate,
                total_verified: b.total_verified,
                total_failed: b.total_failed,
                lookback_hours: b.lookback_hours,
            })
            .collect(),
        fool_rate: p.fool_aggregate.fool_rate,
        fool_samples: p.fool_aggregate.total_samples,
    }
}

fn gate(modality: Modality, g: &GateHistory) -> Gate {
    let mut points: Vec<(i64, Option<f64>)> = g
        .points
        .iter()
        .filter_map(|p| Some((parse_time_ms(&p.at)?, p.fool_rate)))
        .collect();
    points.sort_by_key(|(at, _)| *at);
    Gate {
        modality: Some(modality),
        status: g.status.clone(),
        fool_rate: g.current.fool_rate,
        fooled: g.current.fooled_count,
        evaluations: g.current.total_samples,
        threshold: g.threshold.unwrap_or(match modality {
            Modality::Image => IMAGE_THRESHOLD,
            Modality::Video => VIDEO_THRESHOLD,
        }),
        minimum_samples: g.minimum_samples.unwrap_or(MINIMUM_SAMPLES),
        last_evaluated_at: g.last_evaluated_at.clone(),
        points,
    }
}

/// Unix milliseconds of an ISO-8601 time as Python's `isoformat()` writes it: RFC 3339, a
/// time without an offset (taken as UTC), a space for the `T`, or a bare date (midnight UTC).
pub(crate) fn parse_time_ms(text: &str) -> Option<i64> {
    use time::format_description::well_known::Rfc3339;
    let text = text.trim();
    let mut t = if text.len() == 10 {
        format!("{text}T00:00:00")
    } else {
        text.replacen(' ', "T", 1)
    };
    let (_, clock) = t.split_once('T')?;
    let has_offset = clock.ends_with(['Z', 'z']) || clock.contains(['+', '-']);
    if !has_offset {
        t.push('Z');
    }
    let at = time::OffsetDateTime::parse(&t, &Rfc3339).ok()?;
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).ok()
}

/// A number as the API may send it: integer, float, numeric string, or null / anything
/// else (None).
fn number(value: serde_json::Value) -> Option<f64> {
    match value {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|x: &f64| x.is_finite())
}

fn opt_rate<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    Ok(number(serde_json::Value::deserialize(d)?))
}

fn opt_count<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Ok(number(serde_json::Value::deserialize(d)?).map(|x| x.max(0.0).round() as u64))
}

fn count<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    Ok(opt_count(d)?.unwrap_or(0))
}

/// A string, or None for null or anything else.
fn opt_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(s) => Some(s),
        _ => None,
    })
}

fn text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(opt_text(d)?.unwrap_or_default())
}

/// null reads as the default.
fn or_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NEW: &str = r#"{
      "as_of": "2026-09-20T12:00:00.123456+00:00", "window_days": 7,
      "verification": {"validator_count": 2, "aggregate_pass_rate": 0.75,
        "total_verified": 120, "total_failed": 40.0, "total_evaluated": 160,
        "by_validator": [
          {"validator_hotkey": "5Val1", "pass_rate": 0.9, "total_verified": 90,
           "total_failed": 10, "lookback_hours": 24},
          {"validator_hotkey": "5Val2", "pass_rate": null, "total_verified": "30",
           "total_failed": 30, "lookback_hours": 23.5}]},
      "fool_aggregate": {"fool_rate": 0.025, "total_samples": 200, "fooled_count": 5,
        "not_fooled_count": 195, "benchmark_run_count": 12},
      "history": {
        "image": {"current": {"fool_rate": 0.03125, "total_samples": 160, "fooled_count": 5,
            "not_fooled_count": 155, "benchmark_run_count": 9},
          "threshold": 0.02, "minimum_samples": 20, "status": "qualified",
          "last_evaluated_at": "2026-09-20T11:00:00Z",
          "points": [{"at": "2026-09-15T00:00:00Z", "fool_rate": 0.02, "total_samples": 20},
                     {"at": "2026-09-14T00:00:00Z", "fool_rate": 0.01},
                     {"at": "2026-09-16", "fool_rate": null},
                     {"at": "not a time", "fool_rate": 0.5}]},
        "video": {"current": {"fool_rate": null, "total_samples": 4, "fooled_count": 0,
            "not_fooled_count": 4, "benchmark_run_count": 1},
          "status": "insufficient_samples", "last_evaluated_at": null, "points": null}
      }
    }"#;

    const OLD: &str = r#"{
      "verification": {"validator_count": 1, "aggregate_pass_rate": 1,
        "total_verified": 10, "total_failed": 0, "total_evaluated": 10,
        "by_validator": [{"validator_hotkey": "5Val1", "pass_rate": 1,
          "total_verified": 10, "total_failed": 0, "lookback_hours": 24}]},
      "fool_aggregate": {"fool_rate": null, "total_samples": 0, "fooled_count": 0,
        "not_fooled_count": 0, "benchmark_run_count": 0}
    }"#;

    #[test]
    fn the_new_shape_is_read_with_its_history() {
        let p: Performance = serde_json::from_str(NEW).expect("new shape");
        assert_eq!(p.window_days, Some(7));
        assert_eq!(p.verification.total_failed, 40);
        assert_eq!(p.verification.by_validator[1].total_verified, 30);
        assert_eq!(p.verification.by_validator[1].pass_rate, None);
        assert_eq!(p.verification.by_validator[0].lookback_hours, Some(24.0));
        let v = view(&p, 1_000, "https://api.example");
        assert!(v.history_available);
        assert_eq!(v.fetched_ms, Some(1_000));
        assert_eq!(v.as_of.as_deref(), Some("2026-09-20T12:00:00.123456+00:00"));
        assert_eq!(v.pass_rate, Some(0.75));
        assert_eq!(
            (v.total_verified, v.total_failed, v.validator_count),
            (120, 40, 2)
        );
        assert_eq!((v.fool_rate, v.fool_samples), (Some(0.025), 200));
        assert_eq!(v.validators.len(), 2);
        assert_eq!(v.validators[0].hotkey, "5Val1");
        assert_eq!(v.validators[0].pass_rate, Some(0.9));
        assert_eq!(v.validators[1].total_verified, 30);
        assert_eq!(v.gates.len(), 2);
        let image = &v.gates[0];
        assert_eq!(image.modality, Some(Modality::Image));
        assert!(image.qualified());
        assert_eq!(image.status_words(), "Fool-rate eligible");
        assert_eq!(
            (image.fool_rate, image.fooled, image.evaluations),
            (Some(0.03125), 5, 160)
        );
        assert_eq!((image.threshold, image.minimum_samples), (0.02, 20));
        let day = 86_400_000;
        let sep14 = parse_time_ms("2026-09-14T00:00:00Z").expect("time");
        assert_eq!(
            image.points,
            vec![
                (sep14, Some(0.01)),
                (sep14 + day, Some(0.02)),
                (sep14 + 2 * day, None)
            ],
            "oldest first; an unreadable time is dropped"
        );
        let video = &v.gates[1];
        assert_eq!(video.modality, Some(Modality::Video));
        assert_eq!(video.status_words(), "Insufficient samples");
        assert_eq!(video.fool_rate, None);
        assert_eq!(
            (video.threshold, video.minimum_samples),
            (0.01, 20),
            "defaults"
        );
        assert!(video.points.is_empty());
    }

    #[test]
    fn the_old_shape_has_no_history_but_its_verification() {
        let p: Performance = serde_json::from_str(OLD).expect("old shape");
        assert_eq!(p.history, None);
        assert_eq!(p.as_of, None);
        let v = view(&p, 5, "u");
        assert!(!v.history_available);
        assert!(v.gates.is_empty());
        assert_eq!(v.pass_rate, Some(1.0));
        assert_eq!((v.total_verified, v.validator_count), (10, 1));
        assert_eq!(v.fool_rate, None);
    }

    #[test]
    fn missing_and_null_parts_are_unknown_not_errors() {
        let p: Performance =
            serde_json::from_str(r#"{"verification": null, "history": {}}"#).expect("lenient");
        let v = view(&p, 0, "u");
        assert!(v.history_available);
        assert!(v.gates.is_empty());
        assert_eq!(v.pass_rate, None);
        let p: Performance = serde_json::from_str(
            r#"{"verification": {"total_verified": 3, "total_failed": 1,
                "by_validator": [{"validator_hotkey": "a"}]}}"#,
        )
        .expect("lenient");
        let v = view(&p, 0, "u");
        assert_eq!(v.pass_rate, Some(0.75), "computed from the totals");
        assert_eq!(v.validator_count, 1, "counted from the list");
        assert!(serde_json::from_str::<Performance>("<html>").is_err());
    }

    #[test]
    fn iso_times_as_python_writes_them() {
        let base = 1_789_905_600_000; // 2026-09-20T12:00:00Z
        assert_eq!(parse_time_ms("2026-09-20T12:00:00Z"), Some(base));
        assert_eq!(parse_time_ms("2026-09-20T12:00:00+00:00"), Some(base));
        assert_eq!(parse_time_ms("2026-09-20T12:00:00"), Some(base));
        assert_eq!(parse_time_ms("2026-09-20 12:00:00.250"), Some(base + 250));
        assert_eq!(parse_time_ms("2026-09-20T14:00:00+02:00"), Some(base));
        assert_eq!(parse_time_ms("2026-09-20"), Some(base - 12 * 3_600_000));
        assert_eq!(parse_time_ms("yesterday"), None);
    }

    #[test]
    fn the_url_carries_the_lookback_and_the_modality() {
        assert_eq!(
            url("https://gas.bitmind.ai/", 7, None),
            "https://gas.bitmind.ai/api/v1/generator/performance?lookback_days=7"
        );
        assert_eq!(
            url("http://127.0.0.1:9", 30, Some(Modality::Video)),
            "http://127.0.0.1:9/api/v1/generator/performance?lookback_days=30&modality=video"
        );
    }

    #[test]
    fn failures_name_the_thing_the_cause_and_the_fix() {
        let refused = ApiFailure::SignatureRefused {
            status: 401,
            body: "bad signature".into(),
            hotkey: "5Miner".into(),
            url: "u".into(),
        };
        let text = refused.to_string();
        assert!(matches!(refused, ApiFailure::SignatureRefused { .. }));
        for part in ["refused our hotkey's signature", "401", "5Miner", "clock"] {
            assert!(text.contains(part), "{text}");
        }
        let status = ApiFailure::Status {
            status: 503,
            body: body_text("  upstream\n down "),
            url: "u".into(),
        };
        assert!(
            status.to_string().contains("503: upstream down; "),
            "{status}"
        );
        assert_eq!(body_text(""), "(empty body)");
        assert_eq!(body_text(&"x".repeat(400)).chars().count(), BODY_CHARS + 1);
    }
}
