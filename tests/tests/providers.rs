//! Every generation service, through the real `gas-miner` binary, against fakes that speak
//! each API's documented shapes on 127.0.0.1: happy paths for every tier, parameter mapping,
//! fallback chains, retries (429 with Retry-After, 500, timeouts), malformed answers,
//! refusals, failing video jobs, and kill -9 while a paid video job is running.

use gas_tests::*;
use serde_json::{Value, json};
use std::collections::HashSet;
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(40);

/// This file's helpers on the shared rig.
trait Providers {
    async fn challenge(&self, modality: &str, parameters: Value) -> String;
    async fn webhooks_for(&self, ids: &[String]) -> Vec<Webhook>;
    fn assert_delivered_untouched(&self, hooks: &[Webhook], content_type: &str);
    fn assert_no_secrets(&self);
}

impl Providers for Rig {
    /// Sends a challenge; returns its task id.
    async fn challenge(&self, modality: &str, parameters: Value) -> String {
        let body = json!({"prompt": format!("A {modality} of a quiet harbour at dawn"), "parameters": parameters});
        let (status, reply) = self
            .v
            .challenge(&format!("/gen_{modality}"), &body, &self.validator.url())
            .await;
        assert_eq!(status, 201, "{reply}\n{}", self.miner.log());
        reply["task_id"].as_str().expect("task_id").to_string()
    }

    /// Waits for the webhooks of `ids`, checks each is signed, and returns them by id.
    async fn webhooks_for(&self, ids: &[String]) -> Vec<Webhook> {
        let want: HashSet<&String> = ids.iter().collect();
        let hooks = self
            .validator
            .wait_for(WAIT, "a webhook for each task", |h| {
                let got: HashSet<&String> = h.iter().map(|w| &w.task_id).collect();
                want.is_subset(&got)
            })
            .await;
        let mut out = Vec::new();
        for id in ids {
            let hook = hooks
                .iter()
                .find(|h| &h.task_id == id)
                .cloned()
                .expect("hook");
            assert_eq!(hook.epistula_error, "", "webhook signature must verify");
            out.push(hook);
        }
        out
    }

    fn assert_delivered_untouched(&self, hooks: &[Webhook], content_type: &str) {
        let produced = self.providers.produced_hashes();
        for hook in hooks {
            assert_eq!(
                hook.status_header,
                "completed",
                "{hook:?}\n{}",
                self.miner.log()
            );
            assert_eq!(hook.content_type, content_type);
            assert!(!hook.chunked, "webhooks carry a Content-Length");
            assert!(
                produced.contains(&hook.sha256),
                "the provider's bytes, unmodified"
            );
        }
    }

    fn assert_no_secrets(&self) {
        let log = self.miner.log();
        for secret in ALL_KEYS {
            assert!(!log.contains(secret), "an API key leaked into the log");
        }
    }
}

fn error_of(hook: &Webhook) -> String {
    serde_json::from_slice::<Value>(&hook.body).expect("JSON failure body")["error_message"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn openai_images_are_1k_gpt_image_requests_delivered_from_base64() {
    let r = Rig::start(&[("IMAGE_SERVICE", "openai")]).await;
    let mut ids = Vec::new();
    for tier in ["1K", "2K", "4K"] {
        ids.push(r.challenge("image", json!({"resolution": tier})).await);
    }
    ids.push(
        r.challenge(
            "image",
            json!({"resolution": "1K", "aspect_ratio": "16:9", "quality": "low"}),
        )
        .await,
    );
    let hooks = r.webhooks_for(&ids).await;
    r.assert_delivered_untouched(&hooks, "image/png");
    let requests = r.providers.requests(Api::OpenAiImage);
    assert_eq!(requests.len(), 4);
    let sizes: Vec<&str> = requests.iter().filter_map(|b| b["size"].as_str()).collect();
    assert_eq!(sizes.iter().filter(|s| **s == "1024x1024").count(), 3);
    assert!(
        sizes.contains(&"1536x1024"),
        "16:9 asks for the landscape size"
    );
    for body in &requests {
        assert_eq!(body["model"], "gpt-image-1.5");
        assert_eq!(body["n"], 1);
        assert_eq!(body["output_format"], "png");
    }
    r.assert_no_secrets();
}

#[tokio::test(flavor = "multi_thread")]
async fn stability_images_are_multipart_with_the_model_and_a_square_ratio() {
    let r = Rig::start(&[
        ("IMAGE_SERVICE", "stabilityai"),
        ("STABILITY_MODEL", "sd3.5-large"),
    ])
    .await;
    let a = r.challenge("image", json!({"resolution": "2K"})).await;
    let b = r
        .challenge(
            "image",
            json!({"model": "ultra", "seed": 9, "negative_prompt": "text"}),
        )
        .await;
    let hooks = r.webhooks_for(&[a, b]).await;
    r.assert_delivered_untouched(&hooks, "image/png");
    let requests = r.providers.requests(Api::Stability);
    let sd3 = requests
        .iter()
        .find(|b| b["endpoint"] == "sd3")
        .expect("an sd3 request");
    assert_eq!(sd3["model"], "sd3.5-large");
    assert_eq!(sd3["aspect_ratio"], "1:1");
    assert_eq!(sd3["output_format"], "png");
    let ultra = requests
        .iter()
        .find(|b| b["endpoint"] == "ultra")
        .expect("the challenge's model is honoured");
    assert_eq!(ultra["seed"], "9");
    assert_eq!(ultra["negative_prompt"], "text");
    r.assert_no_secrets();
}

#[tokio::test(flavor = "multi_thread")]
async fn openrouter_videos_reach_each_tier_and_every_call_is_recorded() {
    let mut r = Rig::start(&[("VIDEO_SERVICE", "openrouter")]).await;
    let mut ids = Vec::new();
    for tier in ["480p", "720p", "1080p"] {
        ids.push(r.challenge("video", json!({"resolution": tier})).await);
    }
    let seedance = r
        .challenge(
            "video",
            json!({"resolution": "480p", "model": "bytedance/seedance-2.0", "duration": 5, "seed": 11}),
        )
        .await;
    ids.push(seedance.clone());
    let hooks = r.webhooks_for(&ids).await;
    r.assert_delivered_untouched(&hooks, "video/mp4");
    let seedance_len = hooks
        .iter()
        .find(|h| h.task_id == seedance)
        .map(|h| h.len)
        .expect("seedance hook");
    let requests = r.providers.requests(Api::OpenRouterVideo);
    let mut veo: Vec<&str> = requests
        .iter()
        .filter(|b| b["model"] == "google/veo-3.1-lite")
        .filter_map(|b| b["resolution"].as_str())
        .collect();
    veo.sort();
    assert_eq!(
        veo,
        vec!["1080p", "720p", "720p"],
        "veo-3.1-lite has no 480p: 480p and 720p ask 720p, 1080p asks 1080p"
    );
    let sd = requests
        .iter()
        .find(|b| b["model"] == "bytedance/seedance-2.0")
        .expect("seedance");
    assert_eq!(
        (
            sd["resolution"].as_str(),
            sd["duration"].as_u64(),
            sd["seed"].as_u64()
        ),
        (Some("480p"), Some(5), Some(11))
    );
    for s in r.providers.seen(Api::OpenRouterVideo, Some("download")) {
        assert_eq!(
            s.authorization.as_deref(),
            Some(&*format!("Bearer {OPEN_ROUTER_KEY}"))
        );
    }
    r.assert_no_secrets();
    r.miner.kill9();
    let calls = r.fixture.recorded_calls(&seedance).await;
    let ops: Vec<&str> = calls.iter().map(|c| c.op.as_str()).collect();
    assert_eq!(ops.first(), Some(&"create"), "{ops:?}");
    assert_eq!(ops.last(), Some(&"download"), "{ops:?}");
    assert!(ops.iter().filter(|o| **o == "poll").count() >= 3, "{ops:?}");
    let create = &calls[0];
    assert_eq!(
        (create.provider.as_str(), create.status),
        ("openrouter", Some(202))
    );
    assert_eq!(create.model, "bytedance/seedance-2.0");
    assert_eq!(create.request["resolution"], "480p");
    assert!(
        create.cost_usd.is_some_and(|c| c > 0.0),
        "the billed call carries its cost"
    );
    let download = calls.last().expect("download");
    assert_eq!(download.bytes, seedance_len, "bytes recorded");
    assert!(calls.iter().all(|c| c.error.is_none()));
    let recorded = serde_json::to_string(&calls).expect("json");
    assert!(!recorded.contains(OPEN_ROUTER_KEY), "no key in the records");
}

#[tokio::test(flavor = "multi_thread")]
async fn runway_videos_map_tiers_to_ratios_and_fetch_output_without_the_key() {
    let r = Rig::start(&[("VIDEO_SERVICE", "runway")]).await;
    let mut ids = Vec::new();
    for tier in ["480p", "720p", "1080p"] {
        ids.push(r.challenge("video", json!({"resolution": tier})).await);
    }
    let hooks = r.webhooks_for(&ids).await;
    r.assert_delivered_untouched(&hooks, "video/mp4");
    let mut ratios: Vec<String> = r
        .providers
        .requests(Api::Runway)
        .iter()
        .map(|b| {
            assert_eq!(b["model"], "veo3.1_fast");
            assert_eq!(b["duration"], 4);
            b["ratio"].as_str().expect("ratio").to_string()
        })
        .collect();
    ratios.sort();
    assert_eq!(ratios, vec!["1280:720", "1280:720", "1920:1080"]);
    assert_eq!(r.providers.seen(Api::Runway, Some("download")).len(), 3);
    assert_eq!(
        r.providers.violations(),
        Vec::<String>::new(),
        "the storage host must get no key"
    );
    r.assert_no_secrets();
}

#[tokio::test(flavor = "multi_thread")]
async fn sora_videos_are_made_while_the_api_answers() {
    let r = Rig::start(&[
        ("VIDEO_SERVICE", "openai"),
        ("OPENAI_VIDEO_MODEL", "sora-2-pro"),
    ])
    .await;
    let a = r.challenge("video", json!({"resolution": "1080p"})).await;
    let b = r
        .challenge(
            "video",
            json!({"resolution": "720p", "aspect_ratio": "9:16", "duration": 8}),
        )
        .await;
    let hooks = r.webhooks_for(&[a, b]).await;
    r.assert_delivered_untouched(&hooks, "video/mp4");
    let mut asked: Vec<(String, String)> = r
        .providers
        .requests(Api::OpenAiVideo)
        .iter()
        .map(|b| {
            (
                b["size"].as_str().unwrap_or("").to_string(),
                b["seconds"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    asked.sort();
    assert_eq!(
        asked,
        vec![
            ("1792x1024".to_string(), "4".to_string()),
            ("720x1280".to_string(), "8".to_string())
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tier_the_first_provider_cannot_reach_goes_to_one_that_can() {
    let r = Rig::start(&[("IMAGE_SERVICE", "openai,openrouter")]).await;
    let big = r.challenge("image", json!({"resolution": "4K"})).await;
    r.webhooks_for(std::slice::from_ref(&big)).await;
    assert_eq!(
        r.providers.requests(Api::OpenAiImage).len(),
        0,
        "OpenAI tops out at 1K"
    );
    let or = r.providers.requests(Api::OpenRouterImage);
    assert_eq!(or.len(), 1);
    assert_eq!(or[0]["image_config"]["image_size"], "4K");
    let small = r.challenge("image", json!({"resolution": "1K"})).await;
    r.webhooks_for(&[small]).await;
    assert_eq!(
        r.providers.requests(Api::OpenAiImage).len(),
        1,
        "the first in the chain serves what it can reach"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refusal_is_not_retried_the_next_provider_serves_and_all_words_are_reported() {
    let r = Rig::start(&[("IMAGE_SERVICE", "openai,stabilityai")]).await;
    r.providers.script(Api::OpenAiImage, [Reply::Refuse]);
    let rescued = r.challenge("image", json!({"resolution": "1K"})).await;
    let hooks = r.webhooks_for(std::slice::from_ref(&rescued)).await;
    r.assert_delivered_untouched(&hooks, "image/png");
    assert_eq!(r.providers.requests(Api::OpenAiImage).len(), 1, "no retry");
    assert_eq!(r.providers.requests(Api::Stability).len(), 1);

    r.providers.script(Api::OpenAiImage, [Reply::Refuse]);
    r.providers.script(Api::Stability, [Reply::Refuse]);
    let lost = r.challenge("image", json!({"resolution": "1K"})).await;
    let hook = r.webhooks_for(&[lost]).await.remove(0);
    assert_eq!(hook.status_header, "failed");
    let message = error_of(&hook);
    assert!(
        message.contains("openai: HTTP 400: Your request was rejected by the safety system"),
        "{message}"
    );
    assert!(
        message.contains("stabilityai: HTTP 403: Your request was flagged"),
        "{message}"
    );
    assert_eq!(r.providers.requests(Api::OpenAiImage).len(), 2);
    assert_eq!(r.providers.requests(Api::Stability).len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn rate_limits_honour_retry_after_and_server_errors_are_retried() {
    let r = Rig::start(&[("IMAGE_SERVICE", "stabilityai")]).await;
    r.providers.script(
        Api::Stability,
        [
            Reply::Status {
                status: 429,
                body: json!({"id": "x", "name": "rate_limit_exceeded", "errors": ["You have exceeded the rate limit of 150 requests within a 10 second period"]}),
                retry_after: Some(2),
            },
            Reply::Status {
                status: 500,
                body: json!({"id": "y", "name": "internal_error", "errors": ["An unexpected server error occurred"]}),
                retry_after: None,
            },
        ],
    );
    let id = r.challenge("image", json!({})).await;
    let hooks = r.webhooks_for(&[id]).await;
    r.assert_delivered_untouched(&hooks, "image/png");
    let seen = r.providers.seen(Api::Stability, Some("generate"));
    assert_eq!(seen.len(), 3, "429, 500, then success");
    let gap = seen[1].at - seen[0].at;
    assert!(
        gap >= Duration::from_millis(1900),
        "Retry-After: 2 was honoured (waited {gap:?})"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hung_call_times_out_and_is_retried() {
    let r = Rig::start(&[("IMAGE_SERVICE", "openai"), ("MINER_PROVIDER_TIMEOUT", "1")]).await;
    r.providers
        .script(Api::OpenAiImage, [Reply::Hang(Duration::from_secs(20))]);
    let started = Instant::now();
    let id = r.challenge("image", json!({})).await;
    let hooks = r.webhooks_for(&[id]).await;
    r.assert_delivered_untouched(&hooks, "image/png");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "the hung call was abandoned"
    );
    assert_eq!(r.providers.requests(Api::OpenAiImage).len(), 2);
    assert!(r.miner.log().contains("timed out"), "{}", r.miner.log());
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_json_fails_over_and_is_reported_when_nothing_is_left() {
    let r = Rig::start(&[("IMAGE_SERVICE", "openrouter,openai")]).await;
    r.providers.script(Api::OpenRouterImage, [Reply::Malformed]);
    let rescued = r.challenge("image", json!({"resolution": "1K"})).await;
    let hooks = r.webhooks_for(std::slice::from_ref(&rescued)).await;
    r.assert_delivered_untouched(&hooks, "image/png");
    r.providers.script(Api::OpenRouterImage, [Reply::Malformed]);
    r.providers.script(Api::OpenAiImage, [Reply::Malformed]);
    let lost = r.challenge("image", json!({"resolution": "1K"})).await;
    let hook = r.webhooks_for(&[lost]).await.remove(0);
    assert_eq!(hook.status_header, "failed");
    let message = error_of(&hook);
    assert!(
        message.contains("openrouter: OpenRouter answered with malformed JSON")
            && message.contains("openai: OpenAI answered with malformed JSON"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_video_job_falls_back_or_reports_the_providers_reason() {
    let r = Rig::start(&[("VIDEO_SERVICE", "runway,openrouter")]).await;
    r.providers.script(
        Api::Runway,
        [Reply::JobFails(
            "Prompt text did not pass moderation".into(),
        )],
    );
    let rescued = r.challenge("video", json!({"resolution": "720p"})).await;
    let hooks = r.webhooks_for(std::slice::from_ref(&rescued)).await;
    r.assert_delivered_untouched(&hooks, "video/mp4");
    assert_eq!(r.providers.requests(Api::OpenRouterVideo).len(), 1);

    r.providers.script(
        Api::Runway,
        [Reply::JobFails(
            "Prompt text did not pass moderation".into(),
        )],
    );
    r.providers.script(
        Api::OpenRouterVideo,
        [Reply::JobFails(
            "Provider returned error: content blocked".into(),
        )],
    );
    let lost = r.challenge("video", json!({"resolution": "720p"})).await;
    let hook = r.webhooks_for(&[lost]).await.remove(0);
    assert_eq!(hook.status_header, "failed");
    let message = error_of(&hook);
    assert!(
        message.contains("Prompt text did not pass moderation (SAFETY.INPUT.TEXT)")
            && message.contains("Provider returned error: content blocked"),
        "{message}"
    );
    assert_eq!(
        r.providers.requests(Api::Runway).len(),
        2,
        "a failed job is not re-created"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_while_a_video_job_polls_resumes_that_job_and_never_creates_another() {
    let mut r = Rig::start(&[("VIDEO_SERVICE", "openrouter")]).await;
    r.providers.set_polls_to_finish(10_000);
    let id = r.challenge("video", json!({"resolution": "1080p"})).await;
    let start = Instant::now();
    while r.providers.seen(Api::OpenRouterVideo, Some("poll")).len() < 2 {
        assert!(start.elapsed() < WAIT, "never polled:\n{}", r.miner.log());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    r.miner.kill9();
    r.providers.finish_jobs();
    let miner = r.fixture.start();
    let hook = r.webhooks_for(std::slice::from_ref(&id)).await.remove(0);
    assert_eq!(hook.status_header, "completed", "{}", miner.log());
    assert_eq!(
        r.providers.requests(Api::OpenRouterVideo).len(),
        1,
        "exactly one paid job"
    );
    assert!(
        r.providers.produced_hashes().contains(&hook.sha256),
        "the resumed job's video was delivered"
    );
    assert!(
        miner.log().contains("resuming the provider's job"),
        "{}",
        miner.log()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_mid_download_downloads_again_from_the_same_job() {
    let mut r = Rig::start(&[("VIDEO_SERVICE", "runway")]).await;
    r.providers.set_video_bytes(4 * 1024 * 1024);
    r.providers.set_chunk_pause(Duration::from_millis(40));
    let id = r.challenge("video", json!({"resolution": "720p"})).await;
    let start = Instant::now();
    while r.providers.seen(Api::Runway, Some("download")).is_empty() {
        assert!(
            start.elapsed() < WAIT,
            "never downloaded:\n{}",
            r.miner.log()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    r.miner.kill9();
    r.providers.set_chunk_pause(Duration::ZERO);
    let miner = r.fixture.start();
    let hook = r.webhooks_for(std::slice::from_ref(&id)).await.remove(0);
    assert_eq!(hook.status_header, "completed", "{}", miner.log());
    assert!(
        hook.len > 4 * 1024 * 1024 && r.providers.produced_hashes().contains(&hook.sha256),
        "the whole video, not the cut one"
    );
    assert_eq!(r.providers.requests(Api::Runway).len(), 1, "one paid job");
    assert_eq!(r.providers.seen(Api::Runway, Some("download")).len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_key_echoed_by_a_provider_never_leaves_the_miner() {
    let mut r = Rig::start(&[("IMAGE_SERVICE", "openai")]).await;
    r.providers.script(Api::OpenAiImage, [Reply::EchoKey]);
    let id = r.challenge("image", json!({})).await;
    let hook = r.webhooks_for(std::slice::from_ref(&id)).await.remove(0);
    assert_eq!(hook.status_header, "failed");
    let message = error_of(&hook);
    assert!(
        message.contains("Invalid credentials: Bearer ***"),
        "{message}"
    );
    let header = hook.error_message.clone().unwrap_or_default();
    for secret in ALL_KEYS {
        assert!(
            !message.contains(secret) && !header.contains(secret),
            "key in the webhook"
        );
    }
    r.assert_no_secrets();
    r.miner.kill9();
    let calls = serde_json::to_string(&r.fixture.recorded_calls(&id).await).expect("json");
    assert!(calls.contains("Bearer ***"), "{calls}");
    assert!(!calls.contains(OPENAI_KEY), "key in the call records");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_creation_that_may_have_reached_the_provider_is_not_sent_again() {
    let r = Rig::start(&[
        ("VIDEO_SERVICE", "runway,openrouter"),
        ("MINER_PROVIDER_TIMEOUT", "1"),
    ])
    .await;
    r.providers
        .script(Api::Runway, [Reply::Hang(Duration::from_secs(3))]);
    let id = r.challenge("video", json!({"resolution": "720p"})).await;
    let hooks = r.webhooks_for(&[id]).await;
    r.assert_delivered_untouched(&hooks, "video/mp4");
    assert_eq!(
        r.providers.seen(Api::Runway, Some("create")).len(),
        1,
        "a timed-out creation may have been accepted: never sent twice"
    );
    assert_eq!(r.providers.requests(Api::OpenRouterVideo).len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_finished_video_that_fails_to_download_is_fetched_again_not_paid_again() {
    let r = Rig::start(&[("VIDEO_SERVICE", "openrouter,runway")]).await;
    r.providers.set_outages(6, 0);
    let id = r.challenge("video", json!({"resolution": "720p"})).await;
    let hooks = r.webhooks_for(&[id]).await;
    r.assert_delivered_untouched(&hooks, "video/mp4");
    assert_eq!(r.providers.requests(Api::OpenRouterVideo).len(), 1);
    assert_eq!(
        r.providers.requests(Api::Runway).len(),
        0,
        "no second provider paid"
    );
    assert_eq!(
        r.providers
            .seen(Api::OpenRouterVideo, Some("download"))
            .len(),
        7
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_status_outage_keeps_polling_the_same_job() {
    let r = Rig::start(&[("VIDEO_SERVICE", "openrouter,runway")]).await;
    r.providers.set_outages(0, 14);
    let id = r.challenge("video", json!({"resolution": "720p"})).await;
    let hooks = r.webhooks_for(&[id]).await;
    r.assert_delivered_untouched(&hooks, "video/mp4");
    assert_eq!(r.providers.requests(Api::OpenRouterVideo).len(), 1);
    assert_eq!(r.providers.requests(Api::Runway).len(), 0);
    assert!(r.providers.seen(Api::OpenRouterVideo, Some("poll")).len() >= 15);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_job_is_not_created_again_after_a_restart() {
    let mut r = Rig::start(&[("VIDEO_SERVICE", "runway,openrouter")]).await;
    r.providers.script(
        Api::Runway,
        [Reply::JobFails(
            "Prompt text did not pass moderation".into(),
        )],
    );
    let id = r.challenge("video", json!({"resolution": "720p"})).await;
    let start = Instant::now();
    r.providers.set_polls_to_finish(10_000);
    // Killed once the fallback's job is checkpointed: a job the provider accepted in the
    // instant before a kill, not yet on disk, is created again by design (see BENCHMARKS.md's
    // soak), which is not what this test is about.
    while !r.miner.log().lines().any(|l| {
        l.contains("video job accepted and checkpointed") && l.contains("provider=\"openrouter\"")
    }) {
        assert!(
            start.elapsed() < WAIT,
            "never fell back:\n{}",
            r.miner.log()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    r.miner.kill9();
    r.providers.finish_jobs();
    let miner = r.fixture.start();
    let hook = r.webhooks_for(&[id]).await.remove(0);
    assert_eq!(hook.status_header, "completed", "{}", miner.log());
    assert_eq!(
        r.providers.requests(Api::Runway).len(),
        1,
        "the failed job stays failed"
    );
    assert_eq!(
        r.providers.requests(Api::OpenRouterVideo).len(),
        1,
        "the running job is resumed"
    );
}

/// The pre-flight's measured tier of each task, from the miner's task detail.
async fn measured_tiers(r: &Rig, ids: &[String]) -> Vec<Option<gas_shared::Tier>> {
    let mut out = Vec::new();
    for id in ids {
        let d: gas_shared::admin::TaskDetail =
            gas_client::get_json(&r.fixture.socket(), "GET", &format!("/tasks/{id}"), None)
                .await
                .expect("task detail");
        out.push(d.verdicts.last().and_then(|v| v.media.measured_tier));
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn google_images_reach_each_tier_skip_thought_images_and_keep_the_key_out_of_the_url() {
    let r = Rig::start(&[("IMAGE_SERVICE", "google")]).await;
    let mut ids = Vec::new();
    for tier in ["1K", "2K", "4K"] {
        ids.push(r.challenge("image", json!({"resolution": tier})).await);
    }
    let wide = r
        .challenge("image", json!({"resolution": "2K", "aspect_ratio": "16:9"}))
        .await;
    ids.push(wide);
    let hooks = r.webhooks_for(&ids).await;
    // The final, signed image each time (the unsigned "thought" image before it would fail
    // the pre-flight), its bytes as Google sent them.
    r.assert_delivered_untouched(&hooks, "image/png");
    use gas_shared::Tier;
    assert_eq!(
        measured_tiers(&r, &ids).await,
        [
            Some(Tier::K1),
            Some(Tier::K2),
            Some(Tier::K4),
            Some(Tier::K1)
        ],
        "asked 4K, measured 4K; a 16:9 2K image is 1152 px high"
    );
    let requests = r.providers.requests(Api::Google);
    let sizes: Vec<(&str, &str)> = requests
        .iter()
        .map(|b| {
            let c = &b["generationConfig"]["imageConfig"];
            (
                c["imageSize"].as_str().unwrap_or_default(),
                c["aspectRatio"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    let mut sizes = sizes;
    sizes.sort();
    assert_eq!(
        sizes,
        [("1K", "1:1"), ("2K", "16:9"), ("2K", "1:1"), ("4K", "1:1")]
    );
    for body in &requests {
        assert_eq!(
            body["generationConfig"]["responseModalities"],
            json!(["TEXT", "IMAGE"])
        );
    }
    let seen = r.providers.seen(Api::Google, Some("generate"));
    assert!(
        seen.iter()
            .all(|s| s.authorization.as_deref() == Some(GEMINI_KEY))
    );
    assert!(
        r.providers.violations().is_empty(),
        "{:?}",
        r.providers.violations()
    );
    r.assert_no_secrets();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_google_refusal_goes_to_the_next_provider_with_googles_reason_recorded() {
    let r = Rig::start(&[("IMAGE_SERVICE", "google,openrouter")]).await;
    r.providers.script(Api::Google, [Reply::Refuse]);
    let id = r.challenge("image", json!({"resolution": "1K"})).await;
    let hooks = r.webhooks_for(std::slice::from_ref(&id)).await;
    r.assert_delivered_untouched(&hooks, "image/png");
    assert_eq!(
        r.providers.requests(Api::Google).len(),
        1,
        "a refusal is not retried"
    );
    assert_eq!(r.providers.requests(Api::OpenRouterImage).len(), 1);
    let calls: Vec<gas_shared::admin::CallSummary> =
        gas_client::get_json(&r.fixture.socket(), "GET", "/providers/google/calls", None)
            .await
            .expect("google's calls");
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0].task_id, id);
    assert!(
        calls[0]
            .error
            .as_deref()
            .is_some_and(|e| e.contains("finishReason IMAGE_SAFETY")),
        "{calls:?}"
    );
    assert_eq!(calls[0].cost_usd, None, "a refusal is not billed");
}

#[tokio::test(flavor = "multi_thread")]
async fn google_429s_wait_as_retry_info_says_and_a_daily_quota_opens_the_breaker() {
    let r = Rig::start(&[("IMAGE_SERVICE", "google,openrouter")]).await;
    // A per-minute quota: RetryInfo says 1.5 s (there is no Retry-After header).
    r.providers
        .script(Api::Google, [gas_tests::fakes::google::rate_limited(1.5)]);
    let id = r.challenge("image", json!({"resolution": "1K"})).await;
    r.webhooks_for(std::slice::from_ref(&id)).await;
    let tries = r.providers.seen(Api::Google, Some("generate"));
    assert_eq!(tries.len(), 2, "asked again after the wait, and served");
    let waited = tries[1].at - tries[0].at;
    assert!(
        waited >= Duration::from_millis(1400),
        "waited {waited:?}, as RetryInfo said"
    );
    assert!(r.providers.requests(Api::OpenRouterImage).is_empty());

    // A per-day quota: no retry loop; the breaker opens until midnight Pacific and the next
    // provider serves, now and for the next challenge.
    r.providers
        .script(Api::Google, [gas_tests::fakes::google::out_for_the_day()]);
    let a = r.challenge("image", json!({"resolution": "1K"})).await;
    r.webhooks_for(std::slice::from_ref(&a)).await;
    let b = r.challenge("image", json!({"resolution": "1K"})).await;
    r.webhooks_for(std::slice::from_ref(&b)).await;
    assert_eq!(
        r.providers.seen(Api::Google, Some("generate")).len(),
        3,
        "one try on the daily quota, none after"
    );
    assert_eq!(r.providers.requests(Api::OpenRouterImage).len(), 2);
    let s = r.fixture.status().await;
    let google = s
        .providers
        .iter()
        .find(|p| p.name == "google")
        .expect("google in /status");
    assert_eq!(google.health, "open", "{google:?}");
    let why = google.health_reason.clone().unwrap_or_default();
    assert!(
        why.contains("out of quota") && why.contains("midnight Pacific"),
        "{why}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_retired_openrouter_default_image_model_moves_to_a_listed_one_and_a_chosen_one_is_reported()
 {
    install_crypto();
    let providers = FakeProviders::start().await;
    providers.retire_model("google/gemini-3-pro-image-preview");
    let validator = FakeValidator::start(&key(VALIDATOR_PHRASE), &key(MINER_PHRASE)).await;
    let fixture = Fixture::new(&providers);
    let miner = fixture.start();
    let v = Challenger::new(&fixture.base(), VALIDATOR_PHRASE);
    let r = Rig {
        providers,
        validator,
        fixture,
        miner,
        v,
    };
    let start = Instant::now();
    while !r
        .miner
        .log()
        .contains("asking for google/gemini-3-pro-image instead")
    {
        assert!(start.elapsed() < WAIT, "{}", r.miner.log());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let id = r.challenge("image", json!({"resolution": "2K"})).await;
    let hooks = r.webhooks_for(&[id]).await;
    r.assert_delivered_untouched(&hooks, "image/png");
    let requests = r.providers.requests(Api::OpenRouterImage);
    assert_eq!(requests.len(), 1, "the retired id is never asked for");
    assert_eq!(requests[0]["model"], "google/gemini-3-pro-image");

    // A model the operator chose is theirs: reported with what is offered, not moved.
    let mut chosen = Fixture::new(&r.providers);
    chosen.set(
        "OPEN_ROUTER_IMAGE_MODEL",
        "google/gemini-3-pro-image-preview",
    );
    let miner = chosen.start();
    let start = Instant::now();
    while !miner.log().contains("OPEN_ROUTER_IMAGE_MODEL=google/gemini-3-pro-image-preview is not in OpenRouter's model list") {
        assert!(start.elapsed() < WAIT, "{}", miner.log());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        miner.log().contains(
            "offered for images: google/gemini-3-pro-image, google/gemini-3.1-flash-image"
        ),
        "{}",
        miner.log()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn vertex_videos_come_from_a_service_account_token_and_an_inline_base64_video() {
    let r = Rig::start(&[("VIDEO_SERVICE", "vertex")]).await;
    let mut ids = Vec::new();
    for tier in ["480p", "720p", "1080p"] {
        ids.push(r.challenge("video", json!({"resolution": tier})).await);
    }
    let hooks = r.webhooks_for(&ids).await;
    r.assert_delivered_untouched(&hooks, "video/mp4");
    let mut sent: Vec<(String, u64)> = r
        .providers
        .requests(Api::Vertex)
        .iter()
        .map(|b| {
            let p = &b["parameters"];
            (
                p["resolution"].as_str().unwrap_or_default().to_string(),
                p["durationSeconds"].as_u64().unwrap_or_default(),
            )
        })
        .collect();
    sent.sort();
    assert_eq!(
        sent,
        [("1080p".into(), 8), ("720p".into(), 4), ("720p".into(), 4)],
        "Lite: 480p and 720p ask 720p; 1080p asks 1080p at 8 s"
    );
    assert_eq!(
        r.providers.vertex_tokens_issued(),
        1,
        "one token, kept for every call"
    );
    assert!(
        r.providers.lock_refused().is_empty(),
        "every grant was valid: {:?}",
        r.providers.lock_refused()
    );
    r.assert_no_secrets();
    let log = r.miner.log();
    assert!(!log.contains("ya29.fake-"), "no token in the log");
}

#[tokio::test(flavor = "multi_thread")]
async fn vertex_survives_a_revoked_token_and_kill_9_while_polling_without_a_second_job() {
    let mut r = Rig::start(&[("VIDEO_SERVICE", "vertex")]).await;
    r.providers.set_polls_to_finish(10_000);
    let id = r.challenge("video", json!({"resolution": "720p"})).await;
    let start = Instant::now();
    while r.providers.seen(Api::Vertex, Some("poll")).len() < 2 {
        assert!(start.elapsed() < WAIT, "never polled:\n{}", r.miner.log());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The token is revoked mid-job: the next poll gets 401, a new token is fetched.
    r.providers.revoke_vertex_tokens();
    let polled = r.providers.seen(Api::Vertex, Some("poll")).len();
    while r.providers.seen(Api::Vertex, Some("poll")).len() < polled + 3 {
        assert!(start.elapsed() < WAIT, "{}", r.miner.log());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(r.providers.vertex_tokens_issued(), 2, "{}", r.miner.log());
    r.miner.kill9();
    r.providers.finish_jobs();
    let miner = r.fixture.start();
    let hook = r.webhooks_for(std::slice::from_ref(&id)).await.remove(0);
    assert_eq!(hook.status_header, "completed", "{}", miner.log());
    assert_eq!(
        r.providers.requests(Api::Vertex).len(),
        1,
        "exactly one paid operation"
    );
    assert!(
        miner.log().contains("resuming the provider's job"),
        "{}",
        miner.log()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_vertex_safety_filter_or_failed_operation_goes_to_the_next_provider() {
    let r = Rig::start(&[("VIDEO_SERVICE", "vertex,openrouter")]).await;
    r.providers.script(Api::Vertex, [Reply::Refuse]);
    let filtered = r.challenge("video", json!({"resolution": "720p"})).await;
    let hooks = r.webhooks_for(std::slice::from_ref(&filtered)).await;
    r.assert_delivered_untouched(&hooks, "video/mp4");
    r.providers.script(
        Api::Vertex,
        [Reply::JobFails(
            "Video generation failed: internal error".into(),
        )],
    );
    let failed = r.challenge("video", json!({"resolution": "720p"})).await;
    r.webhooks_for(std::slice::from_ref(&failed)).await;
    assert_eq!(r.providers.requests(Api::Vertex).len(), 2);
    assert_eq!(
        r.providers.requests(Api::OpenRouterVideo).len(),
        2,
        "OpenRouter served both"
    );
    let log = r.miner.log();
    assert!(
        log.contains("Google's safety filter withheld the video")
            && log.contains("Video generation failed: internal error"),
        "{log}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn with_vertex_down_the_chain_delivers_through_openrouter() {
    let r = Rig::start(&[
        ("VIDEO_SERVICE", "vertex,openrouter"),
        ("VERTEX_BASE_URL", "http://127.0.0.1:9/v1"),
    ])
    .await;
    let id = r.challenge("video", json!({"resolution": "720p"})).await;
    let hooks = r.webhooks_for(&[id]).await;
    r.assert_delivered_untouched(&hooks, "video/mp4");
    assert_eq!(r.providers.requests(Api::OpenRouterVideo).len(), 1);
}
