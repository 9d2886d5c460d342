//! Target 2: the challenge JSON, through the real router (Epistula guard, 1 MiB body limit,
//! handler, store), and the parameter parsing every provider plans with.

use crate::harness::{CASES, COVERAGE_CASES, SMALL_INPUT_BOUND, corpus, fuzz, guarded, turn};
use crate::setup::{PROVIDER_KEY, keys, rig_basics, settings, task};
use crate::strategies::{
    JsonEdit, Mutation, edit_json, interesting_text, json_edit, json_key, json_value, mutate,
    mutations,
};
use axum::Router;
use axum::body::Body;
use axum::http::{HeaderValue, Request};
use gas_miner::clock::now_ms;
use gas_miner::epistula::{sha256_hex, sign_headers};
use gas_miner::task::TaskRecord;
use gas_miner::testing::params::{Params, nearest_ratio, parse_ratio};
use gas_miner::testing::{
    BODY_LIMIT, Chains, Generated, InProcess, Job, Plan, Provider, ProviderError, Store, Tuning,
    WebhookGuard,
};
use gas_shared::{Modality, Tier};
use http_body_util::BodyExt;
use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{Value, json};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

/// A provider that never finishes: accepted tasks stay queued, nothing leaves the machine.
struct Idle;

impl Provider for Idle {
    fn name(&self) -> &'static str {
        "idle"
    }

    fn supports(&self, _: Modality) -> bool {
        true
    }

    fn plan(&self, task: &TaskRecord) -> Plan {
        Plan {
            model: "idle".into(),
            delivers: task.tier,
            params: json!({}),
            cost_usd: 0.0,
        }
    }

    // What `#[async_trait]` writes, by hand (this crate does not depend on async-trait).
    fn generate<'a, 'b, 'c, 'async_trait>(
        &'a self,
        _job: &'b Job<'c>,
    ) -> Pin<Box<dyn Future<Output = Result<Generated, ProviderError>> + Send + 'async_trait>>
    where
        'a: 'async_trait,
        'b: 'async_trait,
        'c: 'async_trait,
        Self: 'async_trait,
    {
        Box::pin(std::future::pending())
    }
}

/// The miner's own pieces, in-process: a store in a temp dir, a pipeline with idle
/// providers, and the validator-facing router.
struct ApiRig {
    rt: tokio::runtime::Runtime,
    router: Router,
    store: Store,
    providers: Vec<Arc<dyn Provider>>,
    _miner: InProcess,
    _dir: tempfile::TempDir,
}

impl ApiRig {
    fn new() -> ApiRig {
        let (dir, rt, anchors, k) = rig_basics();
        let mut chains = Chains::new();
        for m in Modality::ALL {
            chains.insert(m, vec![Arc::new(Idle) as Arc<dyn Provider>]);
        }
        let miner = rt
            .block_on(async {
                InProcess::start(
                    &settings(dir.path(), &anchors),
                    gas_tests::key(gas_tests::MINER_PHRASE),
                    k.graph.clone(),
                    Some(chains),
                )
            })
            .unwrap_or_else(|e| panic!("in-process miner: {e}"));
        let router = miner.router();
        let store = miner.store().clone();
        let t = Tuning::default;
        let base = "http://127.0.0.1:9";
        use gas_miner::testing::{openai, openrouter, runway, stability};
        let mut providers: Vec<Arc<dyn Provider>> = vec![
            Arc::new(openai::OpenAi::new(base, PROVIDER_KEY, t(), None, None)),
            Arc::new(openai::OpenAi::new(
                base,
                PROVIDER_KEY,
                t(),
                Some("gpt-image-1-mini"),
                Some("sora-2-pro"),
            )),
            Arc::new(openrouter::OpenRouter::new(
                base,
                PROVIDER_KEY,
                t(),
                None,
                None,
            )),
            Arc::new(stability::Stability::new(base, PROVIDER_KEY, t(), None)),
            Arc::new(runway::Runway::new(base, PROVIDER_KEY, t(), None)),
        ];
        for m in openrouter::VIDEO_MODELS {
            providers.push(Arc::new(openrouter::OpenRouter::new(
                base,
                PROVIDER_KEY,
                t(),
                Some("google/gemini-3-pro-image-preview"),
                Some(m.id),
            )));
        }
        for m in stability::MODELS {
            providers.push(Arc::new(stability::Stability::new(
                base,
                PROVIDER_KEY,
                t(),
                Some(m.0),
            )));
        }
        for m in runway::MODELS {
            providers.push(Arc::new(runway::Runway::new(
                base,
                PROVIDER_KEY,
                t(),
                Some(m.id),
            )));
        }
        ApiRig {
            rt,
            router,
            store,
            providers,
            _miner: miner,
            _dir: dir,
        }
    }

    /// Sends a signed POST to the router; returns the status and the body.
    fn post(&self, path: &str, body: Vec<u8>, webhook: Option<&HeaderValue>) -> (u16, Vec<u8>) {
        let k = keys();
        let mut req = Request::builder().method("POST").uri(path);
        for (name, value) in sign_headers(
            &k.validator,
            &sha256_hex(&body),
            Some(k.miner.ss58()),
            now_ms(),
        ) {
            req = req.header(name, value);
        }
        if let Some(w) = webhook {
            req = req.header("x-webhook-url", w.clone());
        }
        req = req.header("content-type", "application/json");
        let req = req.body(Body::from(body)).expect("request");
        let service = hyper_util::service::TowerToHyperService::new(self.router.clone());
        self.rt.block_on(async move {
            let resp = hyper::service::Service::call(&service, req)
                .await
                .expect("the router answers");
            let status = resp.status().as_u16();
            let bytes = resp
                .into_body()
                .collect()
                .await
                .expect("response body")
                .to_bytes()
                .to_vec();
            (status, bytes)
        })
    }
}

#[derive(Debug, Clone)]
enum ChallengeBody {
    Doc(Value),
    Bytes(Vec<u8>),
    Edited(usize, Vec<JsonEdit>),
    Mutated(usize, Vec<Mutation>),
}

#[derive(Debug, Clone)]
struct ChallengeCase {
    video: bool,
    body: ChallengeBody,
    webhook: Option<Vec<u8>>,
}

fn challenge_seeds() -> Vec<Vec<u8>> {
    let mut seeds: Vec<Vec<u8>> = [
        json!({"prompt": "a red kite over a hill", "parameters": {"resolution": "2K", "aspect_ratio": "16:9", "seed": 42}}),
        json!({"prompt": "a wren", "parameters": {"resolution": "720p", "duration": "8s", "ratio": "1280:720", "generate_audio": "true"}}),
        json!({"prompt": "a heron", "parameters": {"width": 1792, "height": 1024, "model": "sd3.5-large", "negative_prompt": "blur"}}),
        json!({"prompt": "an owl"}),
    ]
    .iter()
    .map(gas_tests::python_json)
    .collect();
    seeds.extend(corpus("challenge").into_iter().map(|(_, b)| b));
    seeds
}

fn webhook() -> impl Strategy<Value = Option<Vec<u8>>> {
    prop_oneof![
        6 => Just(Some(b"https://validator.example/hook".to_vec())),
        2 => select(vec![
            "", "http://127.0.0.1:9/x", "https://10.1.2.3/hook", "http://[::1]/", "http://[::ffff:127.0.0.1]/",
            "http://169.254.169.254/latest", "ftp://validator.example/", "validator.example/hook",
            "https://", "http://0/", "http://2130706433/", "https://validator.example:99999/",
            "http://[fe80::1%25eth0]/", "https://xn--nxasmq6b.example/",
        ])
        .prop_map(|s| Some(s.as_bytes().to_vec())),
        1 => vec(any::<u8>(), 0..64).prop_map(Some),
        1 => Just(None),
    ]
}

fn challenge_case(seeds: usize) -> impl Strategy<Value = ChallengeCase> {
    let doc = (
        prop::option::weighted(
            0.8,
            prop_oneof![
                3 => interesting_text().prop_map(Value::String),
                1 => json_value(),
            ],
        ),
        prop::option::weighted(
            0.7,
            prop_oneof![
                3 => btree_map(json_key(), json_value(), 0..5)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
                1 => json_value(),
            ],
        ),
        btree_map(json_key(), json_value(), 0..3),
    )
        .prop_map(|(prompt, parameters, extra)| {
            let mut o: serde_json::Map<String, Value> = extra.into_iter().collect();
            if let Some(p) = prompt {
                o.insert("prompt".into(), p);
            }
            if let Some(p) = parameters {
                o.insert("parameters".into(), p);
            }
            Value::Object(o)
        });
    let body = prop_oneof![
        3 => doc.prop_map(ChallengeBody::Doc),
        1 => json_value().prop_map(ChallengeBody::Doc),
        1 => vec(any::<u8>(), 0..128).prop_map(ChallengeBody::Bytes),
        2 => (0..seeds, vec(json_edit(), 1..4)).prop_map(|(s, e)| ChallengeBody::Edited(s, e)),
        2 => (0..seeds, mutations(6)).prop_map(|(s, m)| ChallengeBody::Mutated(s, m)),
    ];
    (any::<bool>(), body, webhook()).prop_map(|(video, body, webhook)| ChallengeCase {
        video,
        body,
        webhook,
    })
}

/// What the handler must answer: created with exactly this, or refused with this reason.
#[derive(Debug, PartialEq)]
enum Expect {
    Created {
        prompt: String,
        parameters: Value,
        tier: Tier,
    },
    Refused(&'static str),
}

fn expected(body: &[u8], webhook: Option<&HeaderValue>, modality: Modality) -> Expect {
    let Ok(doc) = serde_json::from_slice::<Value>(body) else {
        return Expect::Refused("Invalid JSON body: ");
    };
    let Some(doc) = doc.as_object() else {
        return Expect::Refused("Invalid JSON body: expected a JSON object");
    };
    let prompt = match doc.get("prompt") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
        None | Some(Value::Null) | Some(Value::String(_)) => {
            return Expect::Refused("Missing required field: prompt");
        }
        Some(_) => return Expect::Refused("Invalid field: prompt must be a string"),
    };
    let Some(url) = webhook
        .and_then(|w| w.to_str().ok())
        .filter(|w| !w.is_empty())
    else {
        return Expect::Refused("Missing required header: X-Webhook-URL");
    };
    if WebhookGuard::default().check_url(url).is_err() {
        return Expect::Refused("Invalid X-Webhook-URL: ");
    }
    let parameters = match doc.get("parameters") {
        None | Some(Value::Null) => json!({}),
        Some(p @ Value::Object(_)) => p.clone(),
        Some(_) => return Expect::Refused("Invalid field: parameters must be a JSON object"),
    };
    let tier = parameters
        .get("resolution")
        .and_then(Value::as_str)
        .and_then(Tier::parse)
        .filter(|t| t.modality() == modality)
        .unwrap_or_else(|| Tier::default_for(modality));
    Expect::Created {
        prompt,
        parameters,
        tier,
    }
}

/// Every provider plans any parameters without panicking, within its modality, at a real
/// price, and never puts its key in what it would send.
fn plans_are_sane(rig: &ApiRig, modality: Modality, parameters: &Value, tier: Tier) {
    let t = task(modality, "a fuzzed prompt", parameters.clone(), tier);
    for p in rig.providers.iter().filter(|p| p.supports(modality)) {
        let plan = p.plan(&t);
        assert_eq!(plan.delivers.modality(), modality, "{}: {plan:?}", p.name());
        assert!(
            plan.cost_usd.is_finite() && plan.cost_usd >= 0.0,
            "{}: cost {}",
            p.name(),
            plan.cost_usd
        );
        assert!(!plan.params.to_string().contains(PROVIDER_KEY));
    }
    let params = Params(parameters);
    if let Some(d) = params.duration() {
        assert!(d.is_finite() && d > 0.0, "duration {d}");
    }
    if let Some(s) = params.seed() {
        assert!(s < 4_290_000_000, "seed {s}");
    }
    if let Some(r) = params.shape() {
        assert!(!r.is_nan() && r >= 0.0, "shape {r}");
    }
    let _ = (params.model(), params.flag("generate_audio"));
    let _ = params.one_of("quality", &["low", "medium", "high"]);
    let _ = nearest_ratio(&["1:1", "16:9", "9:16", "3:2"], params.shape(), "1:1");
    for name in ["aspect_ratio", "ratio", "size"] {
        if let Some(r) = params.str(name).and_then(parse_ratio) {
            assert!(!r.is_nan() && r >= 0.0, "{name} gives {r}");
        }
    }
}

fn challenge_body(case: &ChallengeCase, seeds: &[Vec<u8>]) -> Vec<u8> {
    match &case.body {
        ChallengeBody::Doc(v) => serde_json::to_vec(v).expect("serialise"),
        ChallengeBody::Bytes(b) => b.clone(),
        ChallengeBody::Edited(s, edits) => {
            let seed = &seeds[s % seeds.len()];
            match serde_json::from_slice::<Value>(seed) {
                Ok(mut doc) => {
                    for e in edits {
                        doc = edit_json(&doc, e);
                    }
                    serde_json::to_vec(&doc).expect("serialise")
                }
                Err(_) => seed.clone(),
            }
        }
        ChallengeBody::Mutated(s, m) => mutate(&seeds[s % seeds.len()], m),
    }
}

/// Sends one challenge and checks the answer against [`expected`]; an accepted one must be
/// stored exactly as sent.
fn challenge_round(
    rig: &ApiRig,
    video: bool,
    body: Vec<u8>,
    webhook: Option<Vec<u8>>,
) -> &'static str {
    let modality = if video {
        Modality::Video
    } else {
        Modality::Image
    };
    let webhook = webhook.and_then(|w| HeaderValue::from_bytes(&w).ok());
    let want = expected(&body, webhook.as_ref(), modality);
    let (status, reply) = rig.post(&format!("/gen_{modality}"), body, webhook.as_ref());
    let reply: Value = serde_json::from_slice(&reply).expect("every answer is JSON");
    match want {
        Expect::Refused(why) => {
            assert_eq!(status, 400, "{reply} (expected: {why})");
            let error = reply["error"].as_str().expect("an error text");
            assert!(error.starts_with(why), "{error:?} should start {why:?}");
            why
        }
        Expect::Created {
            prompt,
            parameters,
            tier,
        } => {
            assert_eq!(status, 201, "{reply}");
            assert_eq!(reply["status"], "submitted");
            let id = reply["task_id"].as_str().expect("task_id");
            let stored = rig.store.get(id).expect("store").expect("stored");
            assert_eq!(stored.prompt, prompt);
            // Exactly, floats included (serde_json's `float_roundtrip`).
            assert_eq!(stored.parameters, parameters);
            assert_eq!(stored.tier, tier);
            assert_eq!(stored.modality, modality);
            assert_eq!(stored.validator, keys().validator.ss58());
            plans_are_sane(rig, modality, &parameters, tier);
            "created"
        }
    }
}

#[test]
fn fuzz_challenge_json() {
    let _turn = turn();
    let rig = Arc::new(ApiRig::new());
    let hook = Some(b"https://validator.example/hook".to_vec());
    for (name, bytes) in corpus("challenge") {
        for video in [false, true] {
            let (rig, hook) = (rig.clone(), hook.clone());
            let bytes = bytes.clone();
            guarded(&format!("challenge/{name}"), SMALL_INPUT_BOUND, move || {
                challenge_round(&rig, video, bytes, hook)
            });
        }
    }
    // The body limit, at its edge: a valid challenge padded to exactly 1 MiB is taken, one
    // byte more is refused before any parsing.
    let limit = BODY_LIMIT;
    let mut padded = br#"{"prompt": "a padded kite"}"#.to_vec();
    padded.resize(limit, b' ');
    let (r, h) = (rig.clone(), hook.clone());
    let edge = padded.clone();
    guarded("challenge/at-the-limit", SMALL_INPUT_BOUND, move || {
        challenge_round(&r, false, edge, h)
    });
    padded.push(b' ');
    let r = rig.clone();
    let (status, _) = guarded("challenge/over-the-limit", SMALL_INPUT_BOUND, move || {
        r.post("/gen_image", padded, None)
    });
    assert_eq!(status, 413);

    let seeds = Arc::new(challenge_seeds());
    let answers = Mutex::new(std::collections::BTreeMap::<&str, usize>::new());
    fuzz(
        "challenge",
        CASES.challenge,
        challenge_case(seeds.len()),
        |case| {
            let (rig, seeds) = (rig.clone(), seeds.clone());
            let answer = guarded("challenge", SMALL_INPUT_BOUND, move || {
                let body = challenge_body(&case, &seeds);
                challenge_round(&rig, case.video, body, case.webhook.clone())
            });
            *answers
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .entry(answer)
                .or_default() += 1;
        },
    );
    // Every answer must be reached, acceptance included, or the generator is too narrow.
    let answers = answers.into_inner().unwrap_or_else(|p| p.into_inner());
    eprintln!("fuzz challenge answers: {answers:?}");
    if answers.values().sum::<usize>() >= COVERAGE_CASES {
        assert!(
            answers.get("created").copied().unwrap_or(0) >= 10,
            "{answers:?}"
        );
        assert!(answers.len() >= 6, "too few kinds of answer: {answers:?}");
    }
    // Arbitrary parameters straight into every provider's planner, also as a video.
    fuzz(
        "challenge-params",
        CASES.challenge_params,
        (json_value(), any::<bool>()),
        |(p, video)| {
            let rig = rig.clone();
            guarded("challenge-params", SMALL_INPUT_BOUND, move || {
                let modality = if video {
                    Modality::Video
                } else {
                    Modality::Image
                };
                let tiers = match modality {
                    Modality::Image => [Tier::K1, Tier::K2, Tier::K4],
                    Modality::Video => [Tier::P480, Tier::P720, Tier::P1080],
                };
                for tier in tiers {
                    plans_are_sane(&rig, modality, &p, tier);
                }
            })
        },
    );
}
