//! The demo's made-up subnet API (STANDING.md §1): `GET /api/v1/generator/performance`
//! answered from what the made-up validator judged, with a made-up fool-rate history (the
//! image gate holds, the video gate does not), so the console's Standing screen has
//! something true to the demo to show. The request's Epistula signature is checked as the
//! real service would (our hotkey, no Signed-For).

use super::validator::Judge;
use crate::clock::now_ms;
use crate::epistula::{H_SIGNATURE, H_SIGNED_BY, H_SIGNED_FOR, H_TIMESTAMP, H_UUID};
use crate::epistula::{sha256_hex, signed_message};
use crate::identity::{decode_hex, ss58_decode, verify};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::sync::Arc;

pub(super) struct Subnet {
    pub(super) judge: Arc<Judge>,
    /// Our miner's hotkey: the only one it answers for.
    pub(super) miner: String,
}

/// Whether the request is signed by `miner` as the API wants: why not, if it is not.
fn signed_by(headers: &HeaderMap, miner: &str) -> Result<(), String> {
    let h = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or("");
    if h(H_SIGNED_BY) != miner {
        return Err(format!("signed by {:?}, not the miner", h(H_SIGNED_BY)));
    }
    if headers.contains_key(H_SIGNED_FOR) {
        return Err("Epistula-Signed-For must not be sent".into());
    }
    let ts: i64 = h(H_TIMESTAMP).parse().map_err(|_| "no timestamp")?;
    if (now_ms() - ts).abs() > 60_000 {
        return Err("timestamp too old".into());
    }
    let message = signed_message(&sha256_hex(b""), h(H_UUID), ts, "");
    let public = ss58_decode(miner).map_err(|e| e.to_string())?;
    let signature = decode_hex(h(H_SIGNATURE)).map_err(|e| e.to_string())?;
    if verify(&public, message.as_bytes(), &signature) {
        Ok(())
    } else {
        Err("bad signature".into())
    }
}

pub(super) async fn performance(State(s): State<Arc<Subnet>>, headers: HeaderMap) -> Response {
    if let Err(why) = signed_by(&headers, &s.miner) {
        return (StatusCode::UNAUTHORIZED, format!("Unauthorized: {why}")).into_response();
    }
    let t = s.judge.tally();
    let judged = t.passed + t.rejected + t.failures;
    let pass_rate = (judged > 0).then(|| t.passed as f64 / judged as f64);
    let now = now_ms();
    let iso = |ms: i64| {
        let secs = ms.div_euclid(1000);
        let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
        let (y, m, d) = civil(days);
        format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
            rest / 3600,
            (rest % 3600) / 60,
            rest % 60
        )
    };
    // Seven daily points; the image gate's line climbs over 2 %, the video's stays under 1 %.
    let points = |base: f64, step: f64| {
        (0..7)
            .map(|i| {
                json!({"at": iso(now - (6 - i) * 86_400_000), "fool_rate": base + step * i as f64})
            })
            .collect::<Vec<_>>()
    };
    let gate = |fooled: u64, total: u64, threshold: f64, status: &str, base, step| {
        json!({
            "current": {"fool_rate": fooled as f64 / total as f64, "total_samples": total,
                        "fooled_count": fooled, "not_fooled_count": total - fooled,
                        "benchmark_run_count": 3},
            "threshold": threshold, "minimum_samples": 20, "status": status,
            "last_evaluated_at": iso(now - 1_800_000),
            "points": points(base, step),
        })
    };
    let body = json!({
        "as_of": iso(now),
        "window_days": 7,
        "verification": {
            "validator_count": 1,
            "aggregate_pass_rate": pass_rate,
            "total_verified": t.passed,
            "total_failed": t.rejected + t.failures,
            "total_evaluated": judged,
            "by_validator": [{
                "validator_hotkey": s.judge.hotkey(),
                "pass_rate": pass_rate,
                "total_verified": t.passed,
                "total_failed": t.rejected + t.failures,
                "lookback_hours": 24,
            }],
        },
        "fool_aggregate": {"fool_rate": 0.031, "total_samples": 120, "fooled_count": 4,
                           "not_fooled_count": 116, "benchmark_run_count": 6},
        "history": {
            "image": gate(3, 96, 0.02, "qualified", 0.012, 0.003),
            "video": gate(0, 24, 0.01, "below_threshold", 0.0, 0.001),
        },
    });
    (StatusCode::OK, axum::Json(body)).into_response()
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian.
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    #[test]
    fn civil_dates() {
        assert_eq!(super::civil(0), (1970, 1, 1));
        assert_eq!(super::civil(20_423), (2025, 12, 1));
        assert_eq!(super::civil(11_016), (2000, 2, 29));
    }
}
