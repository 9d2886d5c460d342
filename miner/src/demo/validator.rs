//! The demo's made-up validator: it sends signed challenges at a steady pace and judges each
//! webhook as a real one would (Epistula checked, the media put through the pre-flight
//! rules), and keeps the tally. It plays both validator generations in turn: as v4.9.x it
//! answers 200 "Binary content received" or 400 with the reasons; as v5 it answers 202
//! "Callback accepted" whatever its verdict (PROTOCOL.md §2), so the miner cannot see it.

use super::Tally;
use crate::clock::now_ms;
use crate::epistula::{ReplayCache, Verifier, sha256_hex, sign_headers};
use crate::identity::Hotkey;
use crate::preflight::Preflight;
use crate::task::TaskRecord;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use gas_shared::{Modality, TaskState, Tier};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The simulated validator's side: what it sent, and how it judges what comes back.
pub(super) struct Judge {
    key: Arc<Hotkey>,
    /// The metagraph as the validator sees it (the miner must be in it).
    miner_graph: crate::chain::Metagraph,
    preflight: Preflight,
    replay: ReplayCache,
    /// task id → (the challenge, when its 201 arrived).
    sent: Mutex<HashMap<String, Sent>>,
    tally: Mutex<Tally>,
    inbox: PathBuf,
    /// Webhooks answered: every other one is answered as a v5 validator would.
    answered: std::sync::atomic::AtomicU64,
}

struct Sent {
    modality: Modality,
    tier: Tier,
    prompt: String,
    at_ms: i64,
}

impl Judge {
    /// A validator with `key`, judging against `miner_graph`'s roster and `preflight`'s
    /// rules, keeping what it receives in `inbox` (made here).
    pub(super) fn new(
        key: Arc<Hotkey>,
        miner_graph: crate::chain::Metagraph,
        preflight: Preflight,
        inbox: PathBuf,
    ) -> std::io::Result<Judge> {
        std::fs::create_dir_all(&inbox)?;
        Ok(Judge {
            key,
            miner_graph,
            preflight,
            replay: ReplayCache::default(),
            sent: Mutex::default(),
            tally: Mutex::default(),
            inbox,
            answered: Default::default(),
        })
    }

    /// The validator's hotkey.
    pub(super) fn hotkey(&self) -> &str {
        self.key.ss58()
    }

    pub(super) fn tally(&self) -> Tally {
        self.tally.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn count(&self, f: impl FnOnce(&mut Tally)) {
        f(&mut self.tally.lock().unwrap_or_else(|p| p.into_inner()));
    }
}

const SUBJECTS: &[&str] = &[
    "a lighthouse",
    "a fox",
    "a tram",
    "an old oak",
    "a paper boat",
    "a snow leopard",
    "a glass greenhouse",
    "a street market",
    "a hot-air balloon",
    "a koi pond",
];
const SETTINGS: &[&str] = &[
    "at dawn",
    "in heavy rain",
    "under a violet sky",
    "in a quiet valley",
    "on a neon-lit street",
    "in autumn fog",
    "at golden hour",
];
const STYLES: &[&str] = &[
    "cinematic wide shot",
    "handheld close-up",
    "watercolour",
    "35mm film photograph",
    "aerial drone view",
];

/// Sends one challenge every `60 / rate` seconds (with jitter): mostly images, some videos,
/// tiers drawn as validators draw them.
pub(super) async fn challenge_loop(
    judge: Arc<Judge>,
    base: String,
    miner: String,
    webhook: String,
    rate: f64,
) {
    let client = crate::tls::http_client()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap_or_default();
    let mut rng = StdRng::from_entropy();
    let pace = Duration::from_secs_f64(60.0 / rate.max(0.1));
    tokio::time::sleep(Duration::from_millis(500)).await;
    loop {
        let video = rng.gen_bool(0.3);
        let (modality, tier) = if video {
            let t = rng.gen_range(0..10);
            (
                Modality::Video,
                if t < 4 {
                    Tier::P480
                } else if t < 8 {
                    Tier::P720
                } else {
                    Tier::P1080
                },
            )
        } else {
            (
                Modality::Image,
                if rng.gen_bool(0.65) {
                    Tier::K1
                } else {
                    Tier::K2
                },
            )
        };
        let prompt = format!(
            "{} {}, {}",
            SUBJECTS[rng.gen_range(0..SUBJECTS.len())],
            SETTINGS[rng.gen_range(0..SETTINGS.len())],
            STYLES[rng.gen_range(0..STYLES.len())]
        );
        let body = serde_json::to_vec(
            &json!({"prompt": prompt, "parameters": {"resolution": tier.as_str()}}),
        )
        .unwrap_or_default();
        let mut req = client
            .post(format!("{base}/gen_{modality}"))
            .header("content-type", "application/json")
            .header("x-webhook-url", &webhook);
        for (name, value) in sign_headers(&judge.key, &sha256_hex(&body), Some(&miner), now_ms()) {
            req = req.header(name, value);
        }
        judge.count(|t| t.sent += 1);
        match req.body(body).send().await {
            Ok(resp) if resp.status().as_u16() == 201 => {
                let at_ms = now_ms();
                let id = resp
                    .json::<serde_json::Value>()
                    .await
                    .ok()
                    .and_then(|v| v["task_id"].as_str().map(str::to_string));
                if let Some(id) = id {
                    judge.count(|t| t.accepted += 1);
                    judge.sent.lock().unwrap_or_else(|p| p.into_inner()).insert(
                        id,
                        Sent {
                            modality,
                            tier,
                            prompt,
                            at_ms,
                        },
                    );
                }
            }
            Ok(resp) => {
                judge.count(|t| t.refused += 1);
                tracing::warn!(
                    status = resp.status().as_u16(),
                    "DEMO validator: challenge refused"
                );
            }
            Err(_) => judge.count(|t| t.refused += 1),
        }
        let jitter = rng.gen_range(0.7..1.3);
        tokio::time::sleep(pace.mul_f64(jitter)).await;
    }
}

/// The validator's webhook receiver: Epistula checked as validators check it (stake check
/// off), then the media judged with the validator's own pre-flight: as v4.9.x 200, or 400
/// with reasons; as v5 202 either way.
pub(super) async fn receive(
    State(judge): State<Arc<Judge>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let reply = |status: StatusCode, v: serde_json::Value| (status, axum::Json(v)).into_response();
    let text = |status: StatusCode, t: &str| (status, t.to_string()).into_response();
    let verifier = Verifier {
        own_hotkey: judge.key.ss58(),
        metagraph: &judge.miner_graph,
        force_validator_permit: false,
        replay: &judge.replay,
    };
    if let Err(r) = verifier.check(&headers, &body, now_ms()) {
        tracing::warn!(reason = %r.detail, "DEMO validator: webhook signature refused");
        return reply(r.status, json!({"error": r.detail}));
    }
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    let task_id = header("task-id").to_string();
    let Some(sent) = judge
        .sent
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove(&task_id)
    else {
        return reply(
            StatusCode::BAD_REQUEST,
            json!({"error": format!("unknown task {task_id}")}),
        );
    };
    if header("task-status") != "completed" {
        judge.count(|t| t.failures += 1);
        tracing::info!(
            task_id,
            error = header("error-message"),
            "DEMO validator: the miner reported a failure"
        );
        return text(StatusCode::OK, "Failure recorded");
    }
    let content_type = header("content-type").to_string();
    let path = judge.inbox.join(format!(
        "{task_id}.{}",
        crate::preflight::extension(&content_type)
    ));
    if let Err(e) = std::fs::write(&path, &body) {
        return reply(
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({"error": e.to_string()}),
        );
    }
    let record = TaskRecord {
        state: TaskState::Delivering,
        validator: judge.key.ss58().to_string(),
        ..TaskRecord::accepted(
            task_id.clone(),
            sent.modality,
            sent.prompt,
            json!({"resolution": sent.tier.as_str()}),
            sent.tier,
            (sent.at_ms, sent.at_ms + 7_200_000),
        )
    };
    let j = judge.clone();
    let checked = path.clone();
    let verdict = tokio::task::spawn_blocking(move || {
        let v = j.preflight.judge(&checked, &record, "miner");
        if v.passed {
            j.preflight.remember(&record, &v);
        }
        v
    })
    .await;
    let _ = std::fs::remove_file(&path);
    let v5 = judge
        .answered
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        % 2
        == 1;
    match verdict {
        Ok(v) if v.passed => {
            judge.count(|t| t.passed += 1);
            tracing::info!(
                task_id,
                "DEMO validator: {} {} passed",
                sent.modality,
                sent.tier.as_str()
            );
            if v5 {
                text(StatusCode::ACCEPTED, "Callback accepted")
            } else {
                text(StatusCode::OK, "Binary content received")
            }
        }
        Ok(v) => {
            judge.count(|t| t.rejected += 1);
            let reasons = v.reasons.join("; ");
            tracing::warn!(task_id, reasons, "DEMO validator: delivered media rejected");
            if v5 {
                // v5 judges later and never says.
                text(StatusCode::ACCEPTED, "Callback accepted")
            } else {
                text(StatusCode::BAD_REQUEST, &reasons)
            }
        }
        Err(e) => reply(
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({"error": e.to_string()}),
        ),
    }
}
