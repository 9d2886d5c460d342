//! The real `gas-miner` binary against a fake OpenRouter and a fake validator on 127.0.0.1.

use gas_miner::clock::now_ms;
use gas_tests::*;
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::HashSet;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

async fn setup() -> (FakeProviders, FakeValidator, Fixture) {
    install_crypto();
    let provider = FakeProviders::start().await;
    let validator = FakeValidator::start(&key(VALIDATOR_PHRASE), &key(MINER_PHRASE)).await;
    let fixture = Fixture::new(&provider);
    (provider, validator, fixture)
}

fn task_id(reply: &Value) -> String {
    reply["task_id"]
        .as_str()
        .expect("task_id in reply")
        .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn each_image_tier_is_asked_for_and_delivered_signed_and_untouched() {
    let (provider, validator, fixture) = setup().await;
    let miner = fixture.start();
    let v = Challenger::new(&fixture.base(), VALIDATOR_PHRASE);

    let mut ids = Vec::new();
    for tier in ["1K", "2K", "4K"] {
        let body = json!({"prompt": format!("A lighthouse at {tier}"), "parameters": {"resolution": tier}});
        let (status, reply) = v.challenge("/gen_image", &body, &validator.url()).await;
        assert_eq!(status, 201, "{reply}\n{}", miner.log());
        assert_eq!(reply["status"], "submitted");
        assert_eq!(reply["modality"], "image");
        assert!(reply["created_at"].as_f64().is_some());
        ids.push(task_id(&reply));
    }
    let hooks = validator
        .wait_for(WAIT, "three success webhooks", |h| h.len() >= 3)
        .await;
    let images = provider.produced_hashes();
    for hook in &hooks {
        assert!(
            ids.contains(&hook.task_id),
            "unknown task id {}",
            hook.task_id
        );
        assert_eq!(hook.epistula_error, "", "webhook signature must verify");
        assert_eq!(hook.status_header, "completed");
        assert_eq!(hook.content_type, "image/png");
        assert!(
            !hook.chunked,
            "webhooks must carry a Content-Length, not chunked encoding"
        );
        assert!(
            images.contains(&hook.sha256),
            "delivered bytes must be the provider's bytes, unmodified"
        );
    }
    let sizes: HashSet<String> = provider
        .requests(Api::OpenRouterImage)
        .iter()
        .map(|r| {
            assert_eq!(r["image_config"]["aspect_ratio"], "1:1");
            assert_eq!(r["modalities"], json!(["image", "text"]));
            r["image_config"]["image_size"]
                .as_str()
                .expect("image_size")
                .to_string()
        })
        .collect();
    assert_eq!(
        sizes,
        ["1K", "2K", "4K"].into_iter().map(String::from).collect()
    );

    for id in &ids[..2] {
        let task = v.task_in_state(id, "delivered", WAIT).await;
        assert_eq!(task["state"], "delivered", "{task}");
    }
    let task = v.task_in_state(&ids[2], "delivered", WAIT).await;
    assert_eq!(task["state"], "delivered", "{task}");
    assert_eq!(task["status"], "completed");
    assert_eq!(task["resolution"], "4K");
    assert_eq!(task["last_reply"]["status"], 200);
    let (status, info) = v.get("/miner_info").await;
    assert_eq!(status, 200);
    assert_eq!(
        info["miner_type"]
            .as_str()
            .map(str::to_lowercase)
            .as_deref(),
        Some("generator")
    );
    assert_eq!(info["uid"], 2);
    assert_eq!(info["task_stats"]["completed"], 3);
    let (status, health) = v.get("/health").await;
    assert_eq!((status, health["status"].as_str()), (200, Some("healthy")));
    let log = miner.log();
    assert!(
        log.contains("challenge accepted"),
        "the log says what happened:\n{log}"
    );
    for secret in ALL_KEYS {
        assert!(!log.contains(secret), "an API key leaked into the log");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_epistula_rejection_has_the_reference_status_and_text() {
    let (_provider, validator, fixture) = setup().await;
    let miner = fixture.start();
    let v = Challenger::new(&fixture.base(), VALIDATOR_PHRASE);
    let body = python_json(&json!({"prompt": "p", "parameters": {"resolution": "1K"}}));
    let extra = |h: &mut Vec<(String, String)>| {
        h.push(("Content-Type".into(), "application/json".into()));
        h.push(("X-Webhook-URL".into(), validator.url()));
    };
    let replace = |h: &mut Vec<(String, String)>, name: &str, value: Option<&str>| {
        h.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
        if let Some(v) = value {
            h.push((name.into(), v.into()));
        }
    };
    type Tweak<'a> = Box<dyn Fn(&mut Vec<(String, String)>) + 'a>;
    let outsider = key(OUTSIDER_PHRASE).ss58().to_string();
    let cases: Vec<(&str, Tweak, u16, &str)> = vec![
        (
            "wrong version",
            Box::new(|h| replace(h, "Epistula-Version", Some("1"))),
            400,
            "Unknown Epistula version",
        ),
        (
            "no version",
            Box::new(|h| replace(h, "Epistula-Version", None)),
            400,
            "Unknown Epistula version",
        ),
        (
            "signed for another",
            Box::new(|h| replace(h, "Epistula-Signed-For", Some(&outsider))),
            400,
            "Bad Request, message is not intended for self",
        ),
        (
            "no signed-for",
            Box::new(|h| replace(h, "Epistula-Signed-For", None)),
            400,
            "Bad Request, message is not intended for self",
        ),
        (
            "signer not registered",
            Box::new(|h| replace(h, "Epistula-Signed-By", Some(&outsider))),
            401,
            "Signer not in metagraph",
        ),
        (
            "no signer",
            Box::new(|h| replace(h, "Epistula-Signed-By", None)),
            401,
            "Signer not in metagraph",
        ),
        (
            "bad timestamp",
            Box::new(|h| replace(h, "Epistula-Timestamp", Some("yesterday"))),
            400,
            "Invalid Timestamp",
        ),
        (
            "bad uuid",
            Box::new(|h| replace(h, "Epistula-Uuid", Some("not-a-uuid"))),
            400,
            "Invalid uuid",
        ),
        (
            "no signature",
            Box::new(|h| replace(h, "Epistula-Request-Signature", None)),
            400,
            "Invalid Signature",
        ),
        (
            "garbled signature",
            Box::new(|h| replace(h, "Epistula-Request-Signature", Some("0x1234"))),
            400,
            "Invalid Signature",
        ),
        (
            "wrong signature",
            Box::new(|h| {
                replace(
                    h,
                    "Epistula-Request-Signature",
                    Some(&format!("0x{}", "ab".repeat(64))),
                )
            }),
            400,
            "Signature Mismatch",
        ),
    ];
    for (name, tweak, status, detail) in cases {
        let mut h = v.headers(&body, now_ms());
        extra(&mut h);
        tweak(&mut h);
        let (got, reply) = v.send(Method::POST, "/gen_image", body.clone(), &h).await;
        assert_eq!(
            (got, reply["detail"].as_str()),
            (status, Some(detail)),
            "case {name}"
        );
    }
    // Stake below the minimum, timestamps outside ±15 s, a body changed after signing.
    let poor = Challenger::new(&fixture.base(), POOR_PHRASE);
    let mut h = poor.headers(&body, now_ms());
    extra(&mut h);
    let (got, reply) = poor
        .send(Method::POST, "/gen_image", body.clone(), &h)
        .await;
    assert_eq!(
        (got, reply["detail"].as_str()),
        (401, Some("Stake below minimum: 100.0"))
    );
    for (offset, prefix) in [
        (-20_000, "Request is too stale: 20."),
        (20_000, "Request timestamp is in the future: 20."),
    ] {
        let mut h = v.headers(&body, now_ms() + offset);
        extra(&mut h);
        let (got, reply) = v.send(Method::POST, "/gen_image", body.clone(), &h).await;
        assert_eq!(got, 400);
        let d = reply["detail"].as_str().expect("detail");
        assert!(
            d.starts_with(prefix) && d.ends_with("(limit: 15.0s)"),
            "{d}"
        );
    }
    let mut h = v.headers(&body, now_ms());
    extra(&mut h);
    let (got, reply) = v
        .send(
            Method::POST,
            "/gen_image",
            b"{\"prompt\": \"other\"}".to_vec(),
            &h,
        )
        .await;
    assert_eq!(
        (got, reply["detail"].as_str()),
        (400, Some("Signature Mismatch"))
    );
    // A captured request replayed within the window: accepted once, refused after.
    let mut h = v.headers(&body, now_ms());
    extra(&mut h);
    let (first, _) = v.send(Method::POST, "/gen_image", body.clone(), &h).await;
    let (second, reply) = v.send(Method::POST, "/gen_image", body.clone(), &h).await;
    assert_eq!(first, 201);
    assert_eq!(second, 400);
    assert!(
        reply["detail"]
            .as_str()
            .is_some_and(|d| d.starts_with("Replayed request")),
        "{reply}"
    );

    let hooks = validator
        .wait_for(WAIT, "the one accepted task's webhook", |h| !h.is_empty())
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(hooks.len(), 1, "only the one accepted request makes a task");
    let (_, info) = v.get("/miner_info").await;
    assert_eq!(info["task_stats"]["total"], 1, "{}", miner.log());
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_challenges_get_clear_errors_and_make_no_task() {
    let (_provider, validator, fixture) = setup().await;
    let _miner = fixture.start();
    let v = Challenger::new(&fixture.base(), VALIDATOR_PHRASE);
    let post = |body: Vec<u8>, webhook: Option<String>| {
        let mut h = v.headers(&body, now_ms());
        h.push(("Content-Type".into(), "application/json".into()));
        if let Some(w) = webhook {
            h.push(("X-Webhook-URL".into(), w));
        }
        (body, h)
    };
    type Case<'a> = (Vec<u8>, Option<String>, &'a str, u16, &'a str);
    let cases: Vec<Case> = vec![
        (
            b"{not json".to_vec(),
            Some(validator.url()),
            "/gen_image",
            400,
            "Invalid JSON body: ",
        ),
        (
            b"{\"parameters\": {}}".to_vec(),
            Some(validator.url()),
            "/gen_image",
            400,
            "Missing required field: prompt",
        ),
        (
            b"{\"prompt\": \"\"}".to_vec(),
            Some(validator.url()),
            "/gen_image",
            400,
            "Missing required field: prompt",
        ),
        (
            b"{\"prompt\": \"p\"}".to_vec(),
            None,
            "/gen_image",
            400,
            "Missing required header: X-Webhook-URL",
        ),
        (
            b"{\"prompt\": \"p\"}".to_vec(),
            Some("/generative_callback".into()),
            "/gen_image",
            400,
            "Invalid X-Webhook-URL",
        ),
        (
            b"{\"prompt\": \"p\"}".to_vec(),
            Some("ftp://1.2.3.4/x".into()),
            "/gen_image",
            400,
            "Invalid X-Webhook-URL",
        ),
        (
            b"{\"prompt\": \"p\"}".to_vec(),
            Some(validator.url()),
            "/gen_video",
            503,
            "No service available for modality=video",
        ),
    ];
    for (body, webhook, path, status, prefix) in cases {
        let (body, h) = post(body, webhook);
        let (got, reply) = v.send(Method::POST, path, body, &h).await;
        assert_eq!(got, status, "{reply}");
        assert!(
            reply["error"]
                .as_str()
                .is_some_and(|e| e.starts_with(prefix)),
            "{reply} should start with {prefix}"
        );
    }
    let mut big = b"{\"prompt\": \"".to_vec();
    big.resize(1024 * 1024 + 10, b'a');
    big.extend_from_slice(b"\"}");
    let (body, h) = post(big, Some(validator.url()));
    let (got, reply) = v.send(Method::POST, "/gen_image", body, &h).await;
    assert_eq!(
        (got, reply),
        (413, json!({"detail": "Request body too large"}))
    );
    let (got, reply) = v.get(&format!("/status/{}", uuid::Uuid::new_v4())).await;
    assert_eq!(
        (got, reply["error"].as_str()),
        (404, Some("Task not found"))
    );
    let (_, info) = v.get("/miner_info").await;
    assert_eq!(info["task_stats"]["total"], 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn provider_500_and_429_are_retried_then_succeed() {
    let (provider, validator, fixture) = setup().await;
    provider.script(
        Api::OpenRouterImage,
        [
            Reply::Status {
                status: 500,
                body: json!({"error": {"message": "upstream hiccup"}}),
                retry_after: None,
            },
            Reply::Status {
                status: 429,
                body: json!({"error": {"message": "slow down"}}),
                retry_after: Some(1),
            },
        ],
    );
    let miner = fixture.start();
    let v = Challenger::new(&fixture.base(), VALIDATOR_PHRASE);
    let (status, reply) = v
        .challenge(
            "/gen_image",
            &json!({"prompt": "p", "parameters": {"resolution": "2K"}}),
            &validator.url(),
        )
        .await;
    assert_eq!(status, 201);
    let hooks = validator
        .wait_for(WAIT, "a success webhook", |h| !h.is_empty())
        .await;
    assert_eq!(hooks[0].status_header, "completed", "{}", miner.log());
    assert_eq!(hooks[0].task_id, task_id(&reply));
    assert_eq!(
        provider.requests(Api::OpenRouterImage).len(),
        3,
        "500 and 429 retried once each"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refusing_provider_yields_a_failure_webhook_with_its_message() {
    let (provider, validator, fixture) = setup().await;
    provider.script(
        Api::OpenRouterImage,
        [Reply::Status {
            status: 400,
            body: json!({"error": {"message": "Content policy violation: prompt refused"}}),
            retry_after: None,
        }],
    );
    let _miner = fixture.start();
    let v = Challenger::new(&fixture.base(), VALIDATOR_PHRASE);
    let (status, reply) = v
        .challenge("/gen_image", &json!({"prompt": "p"}), &validator.url())
        .await;
    assert_eq!(status, 201);
    let hooks = validator
        .wait_for(WAIT, "a failure webhook", |h| !h.is_empty())
        .await;
    let hook = &hooks[0];
    assert_eq!(hook.epistula_error, "");
    assert_eq!(hook.status_header, "failed");
    assert_eq!(hook.content_type, "application/json");
    assert!(
        hook.error_message
            .as_deref()
            .is_some_and(|m| m.contains("Content policy violation")),
        "{hook:?}"
    );
    let body: Value = serde_json::from_slice(&hook.body).expect("JSON failure body");
    assert_eq!(body["task_id"], task_id(&reply));
    assert_eq!(body["task_status"], "failed");
    assert_eq!(body["modality"], "image");
    assert_eq!(
        provider.requests(Api::OpenRouterImage).len(),
        1,
        "a refusal is not retried"
    );
    let (_, task) = v.get(&format!("/status/{}", task_id(&reply))).await;
    assert_eq!(task["state"], "failed");
}

#[tokio::test(flavor = "multi_thread")]
async fn tasks_really_run_concurrently_up_to_the_slot_count() {
    let (provider, validator, mut fixture) = setup().await;
    fixture.set("MINER_MAX_CONCURRENT_TASKS", "3");
    provider.set_delay(Duration::from_millis(800));
    let _miner = fixture.start();
    let v = Challenger::new(&fixture.base(), VALIDATOR_PHRASE);
    for i in 0..6 {
        let (status, _) = v
            .challenge(
                "/gen_image",
                &json!({"prompt": format!("p{i}")}),
                &validator.url(),
            )
            .await;
        assert_eq!(status, 201);
    }
    validator
        .wait_for(WAIT, "six webhooks", |h| h.len() >= 6)
        .await;
    let max = provider.max_in_flight();
    assert_eq!(max, 3, "three slots must be busy at once, never more");
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_mid_task_then_restart_delivers_every_task() {
    let (provider, validator, mut fixture) = setup().await;
    fixture.set("MINER_MAX_CONCURRENT_TASKS", "2");
    provider.set_delay(Duration::from_secs(3));
    let mut miner = fixture.start();
    let v = Challenger::new(&fixture.base(), VALIDATOR_PHRASE);
    let mut ids = HashSet::new();
    for i in 0..6 {
        let (status, reply) = v
            .challenge(
                "/gen_image",
                &json!({"prompt": format!("crash {i}")}),
                &validator.url(),
            )
            .await;
        assert_eq!(status, 201);
        ids.insert(task_id(&reply));
    }
    while provider.requests(Api::OpenRouterImage).is_empty() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    miner.kill9();
    assert!(
        validator.webhooks().is_empty(),
        "nothing was delivered before the crash"
    );
    provider.set_delay(Duration::from_millis(100));
    let miner = fixture.start();
    let hooks = validator
        .wait_for(WAIT, "a webhook for every accepted task", |h| {
            let got: HashSet<String> = h
                .iter()
                .filter(|w| w.status_header == "completed")
                .map(|w| w.task_id.clone())
                .collect();
            ids.is_subset(&got)
        })
        .await;
    assert!(
        hooks
            .iter()
            .all(|h| h.epistula_error.is_empty() && ids.contains(&h.task_id)),
        "{}",
        miner.log()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_webhook_receiver_that_is_down_gets_the_media_later() {
    install_crypto();
    let provider = FakeProviders::start().await;
    let fixture = Fixture::new(&provider);
    let port = free_port();
    let addr: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
    let validator = FakeValidator::unbound(addr, &key(VALIDATOR_PHRASE), &key(MINER_PHRASE));
    let mut miner = fixture.start();
    let v = Challenger::new(&fixture.base(), VALIDATOR_PHRASE);
    let (status, reply) = v
        .challenge(
            "/gen_image",
            &json!({"prompt": "patience"}),
            &validator.url(),
        )
        .await;
    assert_eq!(status, 201);
    tokio::time::sleep(Duration::from_secs(4)).await;
    let (_, task) = v.get(&format!("/status/{}", task_id(&reply))).await;
    assert_eq!(task["state"], "delivering", "{}", miner.log());
    assert!(
        task["deliveries"].as_u64().is_some_and(|n| n >= 2),
        "retried while down: {task}"
    );
    // A crash while the webhook is still owed: the outbox entry survives it.
    miner.kill9();
    let miner = fixture.start();
    assert_eq!(
        provider.requests(Api::OpenRouterImage).len(),
        1,
        "the media on disk is reused, not generated again"
    );
    validator.listen(
        tokio::net::TcpListener::bind(addr)
            .await
            .expect("bind the validator's port"),
    );
    let hooks = validator
        .wait_for(WAIT, "the late webhook", |h| !h.is_empty())
        .await;
    assert_eq!(hooks[0].task_id, task_id(&reply));
    assert_eq!(
        hooks[0].epistula_error, "",
        "a retry is signed afresh, so its timestamp is fresh"
    );
    let task = v.task_in_state(&task_id(&reply), "delivered", WAIT).await;
    assert_eq!(task["state"], "delivered", "{}", miner.log());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_webhook_never_answered_expires_at_the_deadline() {
    install_crypto();
    let provider = FakeProviders::start().await;
    let mut fixture = Fixture::new(&provider);
    fixture.set("MINER_WEBHOOK_DEADLINE", "3");
    let nobody = format!("http://127.0.0.1:{}/generative_callback", free_port());
    let miner = fixture.start();
    let v = Challenger::new(&fixture.base(), VALIDATOR_PHRASE);
    let (status, reply) = v
        .challenge("/gen_image", &json!({"prompt": "lost cause"}), &nobody)
        .await;
    assert_eq!(status, 201);
    let path = format!("/status/{}", task_id(&reply));
    let start = std::time::Instant::now();
    loop {
        let (_, task) = v.get(&path).await;
        if task["state"] == "expired" {
            assert!(
                task["deliveries"].as_u64().is_some_and(|n| n >= 1),
                "{task}"
            );
            break;
        }
        assert!(
            start.elapsed() < WAIT,
            "never expired: {task}\n{}",
            miner.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
