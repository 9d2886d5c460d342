//! `gas-miner demo`: the whole loop on one machine with nothing configured. A metagraph with a
//! demo validator, a simulated validator that sends signed challenges of both modalities at a
//! steady pace and judges the webhooks by the real pre-flight rules, and two local "studios"
//! that draw pictures and make short synthetic videos, signed with a CA made at start (trusted
//! in the demo's own state directory only). The primary studio is sometimes flawed (unsigned,
//! signed by an untrusted organisation, briefly unavailable) so the fallback, the pre-flight
//! verdicts and a failure webhook can be seen too. None of it is reachable from `run`.

use crate::config::{Config, Settings};
use crate::daemon::Fatal;
use crate::epistula::{ReplayCache, Verifier, now_ms, sha256_hex, sign_headers};
use crate::identity::Hotkey;
use crate::logs::LogRing;
use crate::pipeline::Chains;
use crate::preflight::Preflight;
use crate::preflight::media::synthetic_mp4;
use crate::preflight::signer::{Claim, Holder, MediaSigner, TestCa};
use crate::providers::{Generated, Job, Plan, Provider, ProviderError};
use crate::store::{CallRecord, TaskRecord};
use async_trait::async_trait;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use gas_shared::{Modality, TaskState, Tier};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Marks a directory as the demo's own, so that it can be wiped at the next demo.
const MARKER: &str = ".gas-miner-demo";
/// The organisation on the demo studios' certificate: one validators trust.
const STUDIO_ORG: &str = "Stability AI (gas-miner demo signer)";
/// The organisation of the flawed signer: not an AI generator validators know.
const ROGUE_ORG: &str = "Pixel Forgery Ltd (gas-miner demo)";

/// What `gas-miner demo` was asked for.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    pub state_dir: PathBuf,
    /// Challenges per minute.
    pub rate: f64,
    /// Stop after this long (none: until Ctrl-C or `gas-miner stop`).
    pub duration: Option<Duration>,
}

/// The default demo state directory: `$TMPDIR/gas-miner-demo` (gas-console finds it there).
pub fn default_dir() -> PathBuf {
    gas_shared::admin::demo_state_dir()
}

/// Makes `dir` an empty demo directory: a leftover demo is wiped, anything else is refused.
pub fn prepare(dir: &Path) -> Result<(), Fatal> {
    let fatal = |code, message: String| Fatal { code, message };
    if dir.exists() {
        let socket = dir.join("admin.sock");
        if std::os::unix::net::UnixStream::connect(&socket).is_ok() {
            return Err(fatal(
                1,
                format!(
                    "a demo already runs in {}; watch it with `gas-console --socket {}`, or stop it with Ctrl-C",
                    dir.display(),
                    socket.display()
                ),
            ));
        }
        let empty = std::fs::read_dir(dir)
            .map(|mut d| d.next().is_none())
            .unwrap_or(false);
        if !empty && !dir.join(MARKER).exists() {
            return Err(fatal(
                2,
                format!(
                    "{} is not empty and not a demo directory; give the demo an empty or new --state-dir",
                    dir.display()
                ),
            ));
        }
        std::fs::remove_dir_all(dir).map_err(|e| {
            fatal(
                1,
                format!(
                    "the last demo's directory {} cannot be cleared: {e}",
                    dir.display()
                ),
            )
        })?;
    }
    std::fs::create_dir_all(dir.join("trust_anchors"))
        .and_then(|()| {
            std::fs::write(
                dir.join(MARKER),
                "made by gas-miner demo; wiped at the next demo\n",
            )
        })
        .map_err(|e| {
            fatal(
                2,
                format!(
                    "demo directory {} cannot be created: {e}; give it a writable --state-dir",
                    dir.display()
                ),
            )
        })
}

/// How the demo went, as the simulated validator saw it.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    pub sent: u64,
    /// Answered 201 with a task id.
    pub accepted: u64,
    /// Refused at the door (anything but 201).
    pub refused: u64,
    /// Media delivered that passed the validator's checks.
    pub passed: u64,
    /// Media delivered that failed them.
    pub rejected: u64,
    /// Failure webhooks (the miner said it could not make it).
    pub failures: u64,
}

impl Tally {
    fn line(&self) -> String {
        let judged = self.passed + self.rejected;
        let rate = if judged == 0 {
            "–".to_string()
        } else {
            format!("{:.0}%", 100.0 * self.passed as f64 / judged as f64)
        };
        format!(
            "DEMO validator: {} challenges sent, {} accepted, {} delivered ({} passed, {} rejected: pass rate {rate}), {} failure webhooks",
            self.sent, self.accepted, judged, self.passed, self.rejected, self.failures
        )
    }
}

/// Runs the demo until `options.duration` passes or it is stopped; returns the tally.
pub async fn run(options: DemoOptions, logs: LogRing) -> Result<Tally, Fatal> {
    let fatal = |code, message: String| Fatal { code, message };
    let dir = &options.state_dir;
    let miner = random_key()?;
    let validator = Arc::new(random_key()?);
    let ca = TestCa::new("gas-miner demo CA").map_err(|e| fatal(1, e))?;
    let anchors = dir.join("trust_anchors");
    std::fs::write(anchors.join("gas-miner-demo-ca.pem"), &ca.root_pem)
        .map_err(|e| fatal(1, format!("demo trust anchor: {e}")))?;
    let studio = Arc::new(
        ca.signer(&Holder::valid(STUDIO_ORG))
            .map_err(|e| fatal(1, e))?,
    );
    let rogue = Arc::new(
        ca.signer(&Holder::valid(ROGUE_ORG))
            .map_err(|e| fatal(1, e))?,
    );
    let metagraph = dir.join("metagraph.json");
    let graph = json!({"netuid": 34, "neurons": [
        {"uid": 0, "hotkey": validator.ss58(), "stake": 50000.0, "validator_permit": true},
        {"uid": 1, "hotkey": miner.ss58(), "stake": 0.0, "validator_permit": false},
    ]});
    std::fs::write(&metagraph, graph.to_string())
        .map_err(|e| fatal(1, format!("demo metagraph: {e}")))?;

    let port = free_port().map_err(|e| fatal(1, format!("no free port for the demo: {e}")))?;
    let settings = Settings {
        state_dir: Some(dir.display().to_string()),
        trust_anchors: Some(anchors.display().to_string()),
        metagraph_file: Some(metagraph.display().to_string()),
        axon_ip: Some("127.0.0.1".into()),
        axon_port: Some(port.to_string()),
        output_dir: Some(dir.join("output").display().to_string()),
        // The made-up validator listens on this machine.
        webhook_allow: Some("127.0.0.1".into()),
        demo: true,
        ..Settings::default()
    };
    let config: Config = settings.resolve().map_err(|p| fatal(2, p.join("; ")))?;

    let mut chains = Chains::new();
    let primary: Arc<dyn Provider> = Arc::new(Studio {
        name: "demo-studio",
        signer: studio.clone(),
        rogue,
        flaws: Flaws {
            outage: 0.05,
            unsigned: 0.08,
            untrusted: 0.08,
        },
    });
    let backup: Arc<dyn Provider> = Arc::new(Studio {
        name: "demo-backup",
        signer: studio.clone(),
        rogue: studio,
        flaws: Flaws {
            outage: 0.0,
            unsigned: 0.12,
            untrusted: 0.0,
        },
    });
    for modality in Modality::ALL {
        chains.insert(modality, vec![primary.clone(), backup.clone()]);
    }

    let judge = Arc::new(Judge {
        key: validator.clone(),
        miner_graph: crate::chain::MetagraphFile {
            path: metagraph.clone(),
        }
        .read()
        .map_err(|e| fatal(1, e.to_string()))?,
        preflight: Preflight::new(&anchors).map_err(|e| fatal(1, e))?,
        replay: ReplayCache::default(),
        sent: Mutex::default(),
        tally: Mutex::default(),
        inbox: dir.join("validator"),
    });
    std::fs::create_dir_all(&judge.inbox)
        .map_err(|e| fatal(1, format!("demo validator inbox: {e}")))?;
    let webhook = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| fatal(1, format!("demo validator cannot listen: {e}")))?;
    let webhook_url = format!(
        "http://{}/generative_callback",
        webhook.local_addr().map_err(|e| fatal(1, e.to_string()))?
    );
    let app = axum::Router::new()
        .route("/generative_callback", axum::routing::post(receive))
        .layer(axum::extract::DefaultBodyLimit::max(64 * 1024 * 1024))
        .with_state(judge.clone());
    tokio::spawn(async move {
        let _ = axum::serve(webhook, app).await;
    });

    let socket = config.admin_socket.clone();
    tracing::warn!(
        "DEMO: nothing here is real: a made-up validator, local studios and a demo CA trusted only in {}",
        dir.display()
    );
    tracing::warn!(
        "DEMO: watch it live in another terminal: gas-console --socket {}",
        socket.display()
    );
    let miner_ss58 = miner.ss58().to_string();
    let challenger = tokio::spawn(challenge_loop(
        judge.clone(),
        format!("http://127.0.0.1:{port}"),
        miner_ss58,
        webhook_url,
        options.rate,
    ));
    let reporter = {
        let judge = judge.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(20)).await;
                tracing::info!("{}", judge.tally().line());
            }
        })
    };
    let result = crate::daemon::run_with(config, miner, logs, chains, options.duration).await;
    challenger.abort();
    reporter.abort();
    result?;
    let tally = judge.tally();
    tracing::info!("{}", tally.line());
    Ok(tally)
}

fn random_key() -> Result<Hotkey, Fatal> {
    let seed: [u8; 32] = rand::thread_rng().r#gen();
    Hotkey::from_seed(&seed).map_err(|e| Fatal {
        code: 1,
        message: format!("demo key: {e}"),
    })
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// How often a studio misbehaves, each a probability per generation.
#[derive(Debug, Clone, Copy)]
struct Flaws {
    /// Answers like a busy API (503), making nothing.
    outage: f64,
    /// Delivers media without a C2PA manifest.
    unsigned: f64,
    /// Delivers media signed by an organisation validators do not trust.
    untrusted: f64,
}

/// A local generation service: draws a picture or a short synthetic video and signs it.
struct Studio {
    name: &'static str,
    signer: Arc<MediaSigner>,
    rogue: Arc<MediaSigner>,
    flaws: Flaws,
}

fn size_for(tier: Tier) -> (u32, u32) {
    match tier {
        Tier::K1 => (1024, 1024),
        Tier::K2 => (2048, 2048),
        Tier::K4 => (3840, 3840),
        Tier::P480 => (854, 480),
        Tier::P720 => (1280, 720),
        Tier::P1080 => (1920, 1080),
    }
}

#[async_trait]
impl Provider for Studio {
    fn name(&self) -> &'static str {
        self.name
    }

    fn supports(&self, _modality: Modality) -> bool {
        true
    }

    fn plan(&self, task: &TaskRecord) -> Plan {
        let (width, height) = size_for(task.tier);
        Plan {
            model: match task.modality {
                Modality::Image => "demo-painter-1".into(),
                Modality::Video => "demo-motion-1".into(),
            },
            delivers: task.tier,
            params: json!({"width": width, "height": height, "demo": true}),
            cost_usd: 0.0,
        }
    }

    async fn generate(&self, job: &Job<'_>) -> Result<Generated, ProviderError> {
        let task = job.task;
        let seed = u64::from_le_bytes(
            <sha2::Sha256 as sha2::Digest>::digest(
                format!("{}{}", task.task_id, self.name).as_bytes(),
            )[..8]
                .try_into()
                .unwrap_or_default(),
        );
        let mut rng = StdRng::seed_from_u64(seed);
        let started = std::time::Instant::now();
        let think = match task.modality {
            Modality::Image => rng.gen_range(800..2500),
            Modality::Video => rng.gen_range(2500..6000),
        };
        tokio::time::sleep(Duration::from_millis(think)).await;
        let roll: f64 = rng.r#gen();
        let mut call = CallRecord {
            task_id: task.task_id.clone(),
            provider: self.name.to_string(),
            op: "generate".into(),
            model: job.plan.model.clone(),
            request: job.plan.params.clone(),
            status: Some(200),
            error: None,
            latency_ms: 0,
            bytes: 0,
            cost_usd: Some(0.0),
            at_ms: now_ms(),
        };
        let f = self.flaws;
        if roll < f.outage {
            let message = format!("{} is busy (a simulated outage: HTTP 503)", self.name);
            call.status = Some(503);
            call.error = Some(message.clone());
            call.cost_usd = None;
            call.latency_ms = started.elapsed().as_millis() as u64;
            job.record(call);
            return Err(ProviderError {
                message,
                status: Some(503),
            });
        }
        let signer = if roll < f.outage + f.unsigned {
            None
        } else if roll < f.outage + f.unsigned + f.untrusted {
            Some(self.rogue.clone())
        } else {
            Some(self.signer.clone())
        };
        let (modality, tier) = (task.modality, task.tier);
        let bytes = tokio::task::spawn_blocking(move || {
            make_media(modality, tier, seed, signer.as_deref())
        })
        .await
        .map_err(|e| ProviderError::new(format!("demo studio stopped: {e}")))?
        .map_err(ProviderError::new)?;
        let written = job.write_media(&bytes).await?;
        call.bytes = written;
        call.latency_ms = started.elapsed().as_millis() as u64;
        job.record(call);
        Ok(Generated {
            model: job.plan.model.clone(),
            bytes: written,
        })
    }
}

/// Draws (or films) one piece of media and signs it with `signer` (none: left unsigned).
fn make_media(
    modality: Modality,
    tier: Tier,
    seed: u64,
    signer: Option<&MediaSigner>,
) -> Result<Vec<u8>, String> {
    let (width, height) = size_for(tier);
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed);
    let (media, mime, generator) = match modality {
        Modality::Image => {
            let picture = paint(&mut rng, width, height);
            let jpeg = rng.gen_bool(0.3);
            let format = if jpeg {
                image::ImageFormat::Jpeg
            } else {
                image::ImageFormat::Png
            };
            let mut out = std::io::Cursor::new(Vec::new());
            picture
                .write_to(&mut out, format)
                .map_err(|e| format!("demo picture: {e}"))?;
            let mime = if jpeg { "image/jpeg" } else { "image/png" };
            (out.into_inner(), mime, "gas-miner demo painter")
        }
        Modality::Video => {
            let mut payload = vec![0u8; rng.gen_range(64..256) * 1024];
            rng.fill(&mut payload[..]);
            let frames = rng.gen_range(96..192);
            (
                synthetic_mp4(width as u16, height as u16, frames, &payload),
                "video/mp4",
                "gas-miner demo motion",
            )
        }
    };
    match signer {
        None => Ok(media),
        Some(s) => s.sign(
            &media,
            mime,
            &Claim {
                generator: generator.into(),
                when: time::OffsetDateTime::now_utc(),
                ai_generated: true,
            },
        ),
    }
}

/// An abstract picture: a two-colour gradient sky, a rolling horizon and a handful of
/// discs, rings and panels, all drawn from `rng`, so no two look alike.
pub fn paint(rng: &mut StdRng, width: u32, height: u32) -> image::RgbImage {
    let colour = |rng: &mut StdRng| [rng.r#gen::<u8>(), rng.r#gen::<u8>(), rng.r#gen::<u8>()];
    let (top, bottom, ground) = (colour(rng), colour(rng), colour(rng));
    let mix = |a: [u8; 3], b: [u8; 3], t: f32| {
        image::Rgb([0, 1, 2].map(|i| (a[i] as f32 + (b[i] as f32 - a[i] as f32) * t) as u8))
    };
    let horizon = height as f32 * rng.gen_range(0.45..0.8);
    let (amp, freq, phase) = (
        height as f32 * rng.gen_range(0.02..0.12),
        rng.gen_range(1.0..6.0) * std::f32::consts::TAU / width as f32,
        rng.gen_range(0.0..std::f32::consts::TAU),
    );
    let mut img = image::RgbImage::from_fn(width, height, |x, y| {
        let ridge = horizon + amp * (x as f32 * freq + phase).sin();
        if (y as f32) < ridge {
            mix(top, bottom, y as f32 / ridge.max(1.0))
        } else {
            mix(
                ground,
                bottom,
                ((y as f32 - ridge) / (height as f32 - ridge).max(1.0)) * 0.5,
            )
        }
    });
    let side = width.min(height) as f32;
    for _ in 0..rng.gen_range(4..12) {
        let c = colour(rng);
        let (cx, cy) = (
            rng.gen_range(0.0..width as f32),
            rng.gen_range(0.0..height as f32),
        );
        let r = side * rng.gen_range(0.04..0.25);
        let kind = rng.gen_range(0..3);
        let (x0, x1) = ((cx - r).max(0.0) as u32, ((cx + r) as u32).min(width));
        let (y0, y1) = ((cy - r).max(0.0) as u32, ((cy + r) as u32).min(height));
        for y in y0..y1 {
            for x in x0..x1 {
                let (dx, dy) = (x as f32 - cx, y as f32 - cy);
                let d = (dx * dx + dy * dy).sqrt();
                let inside = match kind {
                    0 => d <= r,
                    1 => d <= r && d >= r * 0.7,
                    _ => dx.abs() <= r && dy.abs() <= r * 0.6,
                };
                if inside {
                    img.put_pixel(x, y, image::Rgb(c));
                }
            }
        }
    }
    img
}

/// The simulated validator's side: what it sent, and how it judges what comes back.
struct Judge {
    key: Arc<Hotkey>,
    /// The metagraph as the validator sees it (the miner must be in it).
    miner_graph: crate::chain::Metagraph,
    preflight: Preflight,
    replay: ReplayCache,
    /// task id → (the challenge, when its 201 arrived).
    sent: Mutex<HashMap<String, Sent>>,
    tally: Mutex<Tally>,
    inbox: PathBuf,
}

struct Sent {
    modality: Modality,
    tier: Tier,
    prompt: String,
    at_ms: i64,
}

impl Judge {
    fn tally(&self) -> Tally {
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
async fn challenge_loop(
    judge: Arc<Judge>,
    base: String,
    miner: String,
    webhook: String,
    rate: f64,
) {
    let client = reqwest::Client::builder()
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
/// off), then the media judged with the validator's own pre-flight: 200, or 400 with reasons.
async fn receive(
    State(judge): State<Arc<Judge>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> (StatusCode, axum::Json<serde_json::Value>) {
    let reply = |status: StatusCode, v: serde_json::Value| (status, axum::Json(v));
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
        return reply(StatusCode::OK, json!({"status": "received"}));
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
    match verdict {
        Ok(v) if v.passed => {
            judge.count(|t| t.passed += 1);
            tracing::info!(
                task_id,
                "DEMO validator: {} {} passed",
                sent.modality,
                sent.tier.as_str()
            );
            reply(StatusCode::OK, json!({"status": "accepted"}))
        }
        Ok(v) => {
            judge.count(|t| t.rejected += 1);
            let reasons = v.reasons.join("; ");
            tracing::warn!(task_id, reasons, "DEMO validator: delivered media rejected");
            reply(StatusCode::BAD_REQUEST, json!({"error": reasons}))
        }
        Err(e) => reply(
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({"error": e.to_string()}),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pictures_differ_from_seed_to_seed() {
        let a = paint(&mut StdRng::seed_from_u64(1), 128, 128);
        let b = paint(&mut StdRng::seed_from_u64(2), 128, 128);
        let a2 = paint(&mut StdRng::seed_from_u64(1), 128, 128);
        assert_eq!(a, a2, "a seed draws one picture");
        let differing = a.pixels().zip(b.pixels()).filter(|(p, q)| p != q).count();
        assert!(differing > 128 * 128 / 2, "only {differing} pixels differ");
        let ha = crate::preflight::phash::phash(&image::DynamicImage::ImageRgb8(a));
        let hb = crate::preflight::phash::phash(&image::DynamicImage::ImageRgb8(b));
        let distance: u32 = ha
            .iter()
            .zip(hb.iter())
            .map(|(x, y)| (x ^ y).count_ones())
            .sum();
        assert!(distance > 8, "perceptual hashes too close: {distance}");
    }
}
