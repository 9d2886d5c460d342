//! The subnet's API (STANDING.md §1): `GET /api/v1/generator/performance`, which answers a
//! miner with the validators' verdicts on it and its fool-rate gates. It checks each request's
//! Epistula headers as the server does for a miner's own hotkey (signed by the expected
//! hotkey over the empty body, no `Epistula-Signed-For`, no secret signatures, a fresh
//! timestamp) and refuses a bad one with 401 and a text body. The reply is scripted by a
//! [`Mode`]: today's shape, the older one without `history`, an error status, a slow answer,
//! a body that is not JSON.
//!
//! It serves on a thread and runtime of its own, so a plain `#[test]` can run the blocking
//! binary against it.

use crate::{POOR_PHRASE, VALIDATOR_PHRASE, key, python_json};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use gas_miner::clock::now_ms;
use gas_miner::identity::{decode_hex, ss58_decode, verify};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The endpoint.
pub const PATH: &str = "/api/v1/generator/performance";
/// How far a request's timestamp may be from the fake's clock.
const ALLOWED_SKEW_MS: i64 = 5_000;
const DAY_MS: i64 = 86_400_000;

/// What the fake answers a well-signed request with.
#[derive(Debug, Clone, PartialEq)]
pub enum Mode {
    /// Today's shape: `as_of`, `window_days`, verification, the aggregate and `history` for
    /// image (qualified) and video (below threshold) with 7 daily points.
    New,
    /// The older shape: no `history`, no `as_of`, no `window_days`.
    Old,
    /// This status with a text body ([`STATUS_BODY`]).
    Status(u16),
    /// `New`, after this long.
    Slow(Duration),
    /// 200 with a JSON body cut short.
    InvalidJson,
}

/// The text body of a `Mode::Status` answer.
pub const STATUS_BODY: &str = "Internal Server Error: performance store unavailable";
/// The start of the 401 body for a request whose signature is refused.
pub const REFUSED_BODY: &str = "Unauthorized: Epistula check failed";

/// One request as the fake received and answered it.
#[derive(Debug, Clone)]
pub struct Asked {
    /// The query string as sent (`lookback_days=7&modality=image`).
    pub query: String,
    /// Empty when the Epistula check passed; else why it was refused.
    pub refused: String,
    pub status: u16,
    /// The body the fake answered with.
    pub body: String,
}

struct Script {
    miner: String,
    mode: Mode,
    validators: Vec<String>,
    asked: Vec<Asked>,
}

type Shared = Arc<Mutex<Script>>;

/// The subnet's API on 127.0.0.1, for one miner hotkey.
pub struct FakeGasApi {
    addr: SocketAddr,
    script: Shared,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl FakeGasApi {
    /// Serves on a free port of 127.0.0.1, answering requests signed by `miner_ss58` in
    /// `Mode::New`, with two validators' summaries.
    pub fn start(miner_ss58: &str) -> FakeGasApi {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("addr");
        let script: Shared = Arc::new(Mutex::new(Script {
            miner: miner_ss58.to_string(),
            mode: Mode::New,
            validators: vec![
                key(VALIDATOR_PHRASE).ss58().to_string(),
                key(POOR_PHRASE).ss58().to_string(),
            ],
            asked: Vec::new(),
        }));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let router = Router::new()
            .route(PATH, get(performance))
            .with_state(script.clone());
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                let _ = axum::serve(listener, router)
                    .with_graceful_shutdown(async {
                        let _ = stopped.await;
                    })
                    .await;
            });
        });
        FakeGasApi {
            addr,
            script,
            stop: Some(stop),
        }
    }

    /// The base URL, as `GAS_API_URL` takes it.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn set_mode(&self, mode: Mode) {
        self.lock().mode = mode;
    }

    /// The hotkeys of the validators in `verification.by_validator` (one or two).
    pub fn set_validators(&self, hotkeys: &[&str]) {
        self.lock().validators = hotkeys.iter().map(|h| h.to_string()).collect();
    }

    /// Every request so far, oldest first.
    pub fn asked(&self) -> Vec<Asked> {
        self.lock().asked.clone()
    }

    /// The body of the last answer.
    pub fn last_body(&self) -> Option<String> {
        self.lock().asked.last().map(|a| a.body.clone())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Script> {
        self.script.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for FakeGasApi {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

async fn performance(
    State(script): State<Shared>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let query = query.unwrap_or_default();
    let (mode, refused, validators) = {
        let s = script.lock().unwrap_or_else(|p| p.into_inner());
        (
            s.mode.clone(),
            epistula_refusal(&headers, &body, &s.miner),
            s.validators.clone(),
        )
    };
    let modality = query
        .split('&')
        .find_map(|kv| kv.strip_prefix("modality="))
        .map(str::to_string);
    let (status, content_type, text) = if let Some(why) = &refused {
        (401, "text/plain", format!("{REFUSED_BODY}: {why}"))
    } else {
        match &mode {
            Mode::New | Mode::Slow(_) => (
                200,
                "application/json",
                body_text(&new_shape(now_ms(), &validators, modality.as_deref())),
            ),
            Mode::Old => (200, "application/json", body_text(&old_shape(&validators))),
            Mode::Status(code) => (*code, "text/plain", STATUS_BODY.to_string()),
            Mode::InvalidJson => (
                200,
                "application/json",
                r#"{"verification": {"validator_count": 2, "by_validator": [{"validator_hotkey": "#
                    .to_string(),
            ),
        }
    };
    script
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .asked
        .push(Asked {
            query,
            refused: refused.unwrap_or_default(),
            status,
            body: text.clone(),
        });
    if let (Mode::Slow(delay), 200) = (&mode, status) {
        tokio::time::sleep(*delay).await;
    }
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, [(header::CONTENT_TYPE, content_type)], text).into_response()
}

/// JSON as a Python server writes it (`", "` and `": "`), so a client that re-serialises
/// instead of passing the body on is caught.
fn body_text(v: &Value) -> String {
    String::from_utf8(python_json(v)).expect("utf-8 json")
}

/// Why the server would refuse this request (None: it may pass).
fn epistula_refusal(headers: &HeaderMap, body: &[u8], miner: &str) -> Option<String> {
    let get = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    if get("epistula-version") != "2" {
        return Some("Unknown Epistula version".into());
    }
    if headers.contains_key("epistula-signed-for") {
        return Some("Epistula-Signed-For must be absent on a miner's own request".into());
    }
    if (0..3).any(|i| headers.contains_key(format!("epistula-secret-signature-{i}").as_str())) {
        return Some("secret signatures are not expected".into());
    }
    let signer = get("epistula-signed-by");
    if signer != miner {
        return Some(format!(
            "signer {signer} is not the miner hotkey asked about"
        ));
    }
    let stamp = get("epistula-timestamp");
    let Ok(ts) = stamp.parse::<i64>() else {
        return Some("Invalid Timestamp".into());
    };
    if (now_ms() - ts).abs() > ALLOWED_SKEW_MS {
        return Some(format!("timestamp {} ms off", now_ms() - ts));
    }
    let uuid = get("epistula-uuid");
    if uuid::Uuid::parse_str(&uuid).is_err() {
        return Some("Invalid uuid".into());
    }
    let Ok(public) = ss58_decode(&signer) else {
        return Some("Invalid Sender key".into());
    };
    let Ok(signature) = decode_hex(&get("epistula-request-signature")) else {
        return Some("Invalid Signature".into());
    };
    let message = format!("{}.{uuid}.{stamp}.", hex::encode(Sha256::digest(body)));
    if !verify(&public, message.as_bytes(), &signature) {
        return Some("Signature Mismatch".into());
    }
    None
}

/// RFC 3339 of unix milliseconds, as the server writes times.
fn iso(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .expect("time")
        .format(&time::format_description::well_known::Rfc3339)
        .expect("format")
}

/// Each validator's latest summary: the first verified 90 of 100, the second 30 of 40.
fn verification(validators: &[String]) -> Value {
    let figures = [(90u64, 10u64), (30, 10)];
    let by: Vec<Value> = validators
        .iter()
        .zip(figures)
        .map(|(hotkey, (ok, bad))| {
            json!({"validator_hotkey": hotkey, "pass_rate": ok as f64 / (ok + bad) as f64,
                   "total_verified": ok, "total_failed": bad, "lookback_hours": 24})
        })
        .collect();
    let n = by.len();
    let (ok, bad) = figures[..n]
        .iter()
        .fold((0, 0), |(a, b), (o, f)| (a + o, b + f));
    json!({"validator_count": n,
           "aggregate_pass_rate": if ok + bad > 0 { Value::from(ok as f64 / (ok + bad) as f64) } else { Value::Null },
           "total_verified": ok, "total_failed": bad, "total_evaluated": ok + bad,
           "by_validator": by})
}

fn fool_aggregate() -> Value {
    json!({"fool_rate": 6.0 / 280.0, "total_samples": 280, "fooled_count": 6,
           "not_fooled_count": 274, "benchmark_run_count": 13})
}

fn old_shape(validators: &[String]) -> Value {
    json!({"verification": verification(validators), "fool_aggregate": fool_aggregate()})
}

/// Image is qualified (5 fooled of 160, 3.1% over the 2% gate); video is below its 1% gate
/// (1 of 120). Seven daily points, oldest first, video's first day without data.
fn new_shape(now: i64, validators: &[String], modality: Option<&str>) -> Value {
    let today = now.div_euclid(DAY_MS) * DAY_MS;
    let points = |rates: [Option<f64>; 7]| -> Vec<Value> {
        rates
            .iter()
            .enumerate()
            .map(|(i, r)| {
                json!({"at": iso(today - (6 - i as i64) * DAY_MS), "fool_rate": r,
                       "total_samples": if r.is_some() { 20 } else { 0 }})
            })
            .collect()
    };
    let image = json!({
        "current": {"fool_rate": 5.0 / 160.0, "total_samples": 160, "fooled_count": 5,
                    "not_fooled_count": 155, "benchmark_run_count": 9},
        "threshold": 0.02, "minimum_samples": 20, "status": "qualified",
        "last_evaluated_at": iso(now - 3_600_000),
        "points": points([Some(0.018), Some(0.022), Some(0.025), Some(0.027), Some(0.029),
                          Some(0.031), Some(5.0 / 160.0)]),
    });
    let video = json!({
        "current": {"fool_rate": 1.0 / 120.0, "total_samples": 120, "fooled_count": 1,
                    "not_fooled_count": 119, "benchmark_run_count": 4},
        "threshold": 0.01, "minimum_samples": 20, "status": "below_threshold",
        "last_evaluated_at": iso(now - 3_600_000),
        "points": points([None, Some(0.0), Some(0.0), Some(0.005), Some(0.0067), Some(0.0071),
                          Some(1.0 / 120.0)]),
    });
    let mut history = serde_json::Map::new();
    if modality != Some("video") {
        history.insert("image".into(), image);
    }
    if modality != Some("image") {
        history.insert("video".into(), video);
    }
    json!({"as_of": iso(now), "window_days": 7, "verification": verification(validators),
           "fool_aggregate": fool_aggregate(), "history": history})
}
