//! The fault matrix (docs/FAULTS.md): what the real `gas-miner` binary does when a provider or
//! a validator misbehaves, checked from the outside as a validator and an operator see it —
//! the webhooks that arrive (or do not), and the task's record on the admin socket. Rows that
//! other suites already cover (disk full, chain down, validator down, single 429/500 retries,
//! refusals, unsigned media) are cited in the table, not repeated here.

use gas_shared::TaskState;
use gas_shared::admin::{Status, TaskDetail};
use gas_tests::*;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(30);

/// This file's helpers on the shared rig.
trait Faults {
    async fn challenge_to(&self, modality: &str, webhook: &str) -> String;
    async fn challenge(&self, modality: &str) -> String;
    async fn hook(&self, id: &str) -> Webhook;
    async fn delivered_from(&self, id: &str, api: Api) -> Webhook;
    async fn failure(&self, id: &str) -> String;
    fn socket(&self) -> std::path::PathBuf;
    async fn detail(&self, id: &str) -> TaskDetail;
    async fn status(&self) -> Status;
    async fn detail_when(
        &self,
        id: &str,
        what: &str,
        done: impl Fn(&TaskDetail) -> bool,
    ) -> TaskDetail;
    async fn verdicts(&self, id: &str) -> Vec<gas_shared::verdict::Verdict>;
}

impl Faults for Rig {
    /// A signed challenge whose webhook goes to `webhook`; returns the task id.
    async fn challenge_to(&self, modality: &str, webhook: &str) -> String {
        let body =
            json!({"prompt": format!("a {modality} of a lighthouse in fog"), "parameters": {}});
        let (status, reply) = self
            .v
            .challenge(&format!("/gen_{modality}"), &body, webhook)
            .await;
        assert_eq!(status, 201, "{reply}\n{}", self.miner.log());
        reply["task_id"].as_str().expect("task_id").to_string()
    }

    async fn challenge(&self, modality: &str) -> String {
        self.challenge_to(modality, &self.validator.url()).await
    }

    /// The task's webhook as the fake validator received it (signature checked).
    async fn hook(&self, id: &str) -> Webhook {
        let hooks = self
            .validator
            .wait_for(WAIT, "the task's webhook", |h| {
                h.iter().any(|w| w.task_id == id)
            })
            .await;
        let hook = hooks.into_iter().find(|w| w.task_id == id).expect("hook");
        assert_eq!(hook.epistula_error, "", "webhook signature must verify");
        hook
    }

    /// The webhook, which must carry media made by `api` exactly as it made it.
    async fn delivered_from(&self, id: &str, api: Api) -> Webhook {
        let hook = self.hook(id).await;
        assert_eq!(hook.status_header, "completed", "{}", self.miner.log());
        let made = self.providers.produced();
        assert!(
            made.iter()
                .any(|p| p.api == api && p.sha256 == hook.sha256 && p.len as u64 == hook.len),
            "the webhook carries {api:?}'s media, whole and untouched"
        );
        hook
    }

    /// The failure webhook's error message.
    async fn failure(&self, id: &str) -> String {
        let hook = self.hook(id).await;
        assert_eq!(hook.status_header, "failed", "{}", self.miner.log());
        let body: Value = serde_json::from_slice(&hook.body).expect("JSON failure body");
        body["error_message"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    fn socket(&self) -> std::path::PathBuf {
        self.fixture.dir.path().join("state/admin.sock")
    }

    /// The task as an operator sees it (`gas-console`, `curl /tasks/<id>`).
    async fn detail(&self, id: &str) -> TaskDetail {
        gas_client::get_json(&self.socket(), "GET", &format!("/tasks/{id}"), None)
            .await
            .expect("task detail")
    }

    async fn status(&self) -> Status {
        gas_client::get_json(&self.socket(), "GET", "/status", None)
            .await
            .expect("status")
    }

    /// Polls the task's detail until `done` holds for it.
    async fn detail_when(
        &self,
        id: &str,
        what: &str,
        done: impl Fn(&TaskDetail) -> bool,
    ) -> TaskDetail {
        let start = Instant::now();
        loop {
            let d = self.detail(id).await;
            if done(&d) {
                return d;
            }
            assert!(
                start.elapsed() < WAIT,
                "timed out waiting for {what}: {:#?}\n{}",
                d.deliveries,
                self.miner.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The verdicts pre-flight reached for the task, oldest first.
    async fn verdicts(&self, id: &str) -> Vec<gas_shared::verdict::Verdict> {
        self.detail(id).await.verdicts
    }
}

fn status_reply(status: u16, body: Value) -> Reply {
    Reply::Status {
        status,
        body,
        retry_after: None,
    }
}

// ---------------------------------------------------------------- provider faults

#[tokio::test(flavor = "multi_thread")]
async fn a_provider_failing_with_5xx_on_every_try_falls_back_then_fails_with_its_status() {
    let r = Rig::start(&[("IMAGE_SERVICE", "openai,stabilityai")]).await;
    let overloaded = || {
        status_reply(
            503,
            json!({"error": {"message": "The engine is currently overloaded, please try again later"}}),
        )
    };
    r.providers
        .script(Api::OpenAiImage, (0..4).map(|_| overloaded()));
    let rescued = r.challenge("image").await;
    r.delivered_from(&rescued, Api::Stability).await;
    assert_eq!(
        r.providers.requests(Api::OpenAiImage).len(),
        4,
        "a 5xx is retried (4 tries in all) before the next provider is asked"
    );
    assert_eq!(r.providers.requests(Api::Stability).len(), 1);

    r.providers
        .script(Api::OpenAiImage, (0..4).map(|_| overloaded()));
    r.providers.script(
        Api::Stability,
        (0..4).map(|_| {
            status_reply(
                502,
                json!({"id": "x", "name": "bad_gateway", "errors": ["upstream unavailable"]}),
            )
        }),
    );
    let lost = r.challenge("image").await;
    let message = r.failure(&lost).await;
    assert!(
        message.contains("openai: HTTP 503: The engine is currently overloaded")
            && message.contains("stabilityai: HTTP 502: upstream unavailable")
            && message.matches("(after 4 tries)").count() == 2,
        "the failure webhook names each provider, its status and the retries: {message}"
    );
    let detail = r.detail(&lost).await;
    assert_eq!(detail.summary.state, TaskState::Failed);
    assert_eq!(
        detail
            .calls
            .iter()
            .filter(|c| c.status == Some(503))
            .count(),
        4,
        "every try is on record"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_provider_3xx_or_4xx_is_not_retried_and_a_refused_key_is_named() {
    let r = Rig::start(&[
        ("IMAGE_SERVICE", "stabilityai,openrouter"),
        ("OPEN_ROUTER_API_KEY", "sk-or-revoked-key"),
    ])
    .await;
    // The 402 last: no credit opens Stability's breaker too.
    let cases = [
        (301, "moved", "This endpoint has moved"),
        (404, "not_found", "The requested model does not exist"),
        (422, "invalid_parameters", "prompt: too long"),
        (
            402,
            "payment_required",
            "Your account lacks sufficient credits",
        ),
    ];
    for (n, (status, name, text)) in cases.into_iter().enumerate() {
        r.providers.script(
            Api::Stability,
            [status_reply(
                status,
                json!({"id": "e", "name": name, "errors": [text]}),
            )],
        );
        let id = r.challenge("image").await;
        let message = r.failure(&id).await;
        assert!(
            message.contains(&format!("stabilityai: HTTP {status}: {text}")),
            "{message}"
        );
        // The 401 opens OpenRouter's breaker: the next tasks do not ask it, and say why.
        let refused = if n == 0 {
            "openrouter: HTTP 401: No auth credentials found (the API key was refused: check OPEN_ROUTER_API_KEY)"
        } else {
            "openrouter: not asked (breaker open: the API key was refused (HTTP 401): check OPEN_ROUTER_API_KEY)"
        };
        assert!(
            message.contains(refused) && !message.contains("sk-or-revoked-key"),
            "a refused key says which setting holds it: {message}"
        );
        assert!(!message.contains("after 4 tries"), "{message}");
        assert_eq!(
            (
                r.providers.requests(Api::Stability).len(),
                r.providers.requests(Api::OpenRouterImage).len()
            ),
            (n + 1, 1),
            "HTTP {status} and 401 are asked once each, never again"
        );
    }
    assert!(
        !r.miner.log().contains("sk-or-revoked-key"),
        "the refused key itself never reaches the log"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_provider_that_is_down_is_tried_again_then_the_next_one_serves() {
    let closed = format!("http://127.0.0.1:{}/v1", free_port());
    let r = Rig::start(&[
        ("IMAGE_SERVICE", "openai,stabilityai"),
        ("OPENAI_BASE_URL", &closed),
    ])
    .await;
    let id = r.challenge("image").await;
    r.delivered_from(&id, Api::Stability).await;
    let calls = r.detail(&id).await.calls;
    let refused: Vec<_> = calls.iter().filter(|c| c.provider == "openai").collect();
    assert_eq!(
        refused.len(),
        4,
        "connection refused is tried 4 times: {calls:#?}"
    );
    assert!(
        refused.iter().all(|c| c.status.is_none()
            && c.error
                .as_deref()
                .is_some_and(|e| e.starts_with("could not connect"))),
        "{calls:#?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_provider_that_never_answers_is_abandoned_at_the_task_timeout() {
    let r = Rig::start(&[
        ("IMAGE_SERVICE", "openai,stabilityai"),
        ("MINER_PROVIDER_TIMEOUT", "1"),
        ("MINER_TASK_TIMEOUT", "3"),
    ])
    .await;
    let hang = || Reply::Hang(Duration::from_secs(60));
    r.providers.script(Api::OpenAiImage, (0..4).map(|_| hang()));
    let started = Instant::now();
    let rescued = r.challenge("image").await;
    r.delivered_from(&rescued, Api::Stability).await;
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "the hung provider cost at most MINER_TASK_TIMEOUT ({:?})",
        started.elapsed()
    );
    let calls = r.detail(&rescued).await.calls;
    let timed_out = calls
        .iter()
        .filter(|c| c.provider == "openai" && c.error.as_deref() == Some("timed out"))
        .count();
    assert!(
        timed_out >= 2,
        "each request timed out after MINER_PROVIDER_TIMEOUT and was tried again: {calls:#?}"
    );

    r.providers.script(Api::OpenAiImage, (0..4).map(|_| hang()));
    r.providers.script(Api::Stability, (0..4).map(|_| hang()));
    let lost = r.challenge("image").await;
    let message = r.failure(&lost).await;
    assert_eq!(
        message,
        "openai: no result within MINER_TASK_TIMEOUT (3 s); stabilityai: no result within MINER_TASK_TIMEOUT (3 s)"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_body_cut_short_is_fetched_again_and_never_delivered_half() {
    let r = Rig::start(&[("IMAGE_SERVICE", "stabilityai,openai")]).await;
    // The connection drops before the announced Content-Length: the try failed, ask again.
    r.providers
        .script(Api::Stability, [Reply::Truncated, Reply::Truncated]);
    let retried = r.challenge("image").await;
    r.delivered_from(&retried, Api::Stability).await;
    assert_eq!(r.providers.requests(Api::Stability).len(), 3);
    let calls = r.detail(&retried).await.calls;
    assert_eq!(
        calls
            .iter()
            .filter(|c| c
                .error
                .as_deref()
                .is_some_and(|e| e.starts_with("transport error")))
            .count(),
        2,
        "{calls:#?}"
    );

    // Half the image with a matching length: the transport cannot tell, pre-flight can.
    r.providers.script(Api::Stability, [Reply::ShortMedia]);
    let short = r.challenge("image").await;
    r.delivered_from(&short, Api::OpenAiImage).await;
    let verdicts = r.verdicts(&short).await;
    assert!(
        !verdicts[0].passed
            && verdicts[0].provider == "stabilityai"
            && verdicts[0]
                .reasons
                .iter()
                .any(|x| x.contains("does not decode")),
        "{verdicts:#?}"
    );

    // Cut every time, by both: a failure webhook that says so.
    r.providers
        .script(Api::Stability, (0..4).map(|_| Reply::Truncated));
    r.providers
        .script(Api::OpenAiImage, (0..4).map(|_| Reply::Truncated));
    let lost = r.challenge("image").await;
    let message = r.failure(&lost).await;
    assert!(
        message.contains("stabilityai: transport error")
            && message.contains("openai: transport error")
            && message.matches("(after 4 tries)").count() == 2,
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_video_download_cut_short_is_fetched_again_from_the_same_paid_job() {
    let r = Rig::start(&[("VIDEO_SERVICE", "openrouter,runway")]).await;
    r.providers
        .script_downloads([Reply::Truncated, Reply::Truncated]);
    let id = r.challenge("video").await;
    r.delivered_from(&id, Api::OpenRouterVideo).await;
    assert_eq!(
        r.providers.requests(Api::OpenRouterVideo).len(),
        1,
        "paid once"
    );
    assert_eq!(
        r.providers
            .seen(Api::OpenRouterVideo, Some("download"))
            .len(),
        3
    );
    assert_eq!(r.providers.requests(Api::Runway).len(), 0);

    // Half a video with a matching length: pre-flight refuses it and the next provider serves.
    r.providers.script_downloads([Reply::ShortMedia]);
    let short = r.challenge("video").await;
    r.delivered_from(&short, Api::Runway).await;
    let verdicts = r.verdicts(&short).await;
    assert!(
        !verdicts[0].passed && verdicts[0].provider == "openrouter",
        "{verdicts:#?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn media_of_the_wrong_type_is_refused_by_preflight_and_replaced() {
    let r = Rig::start(&[
        ("IMAGE_SERVICE", "stabilityai,openai"),
        ("VIDEO_SERVICE", "openrouter,runway"),
    ])
    .await;
    let page = b"<!DOCTYPE html><html><body><h1>502 Bad Gateway</h1></body></html>".to_vec();
    // An HTML error page served as 200, once as text/html and once claiming to be a PNG.
    for content_type in ["text/html; charset=utf-8", "image/png"] {
        r.providers.script(
            Api::Stability,
            [Reply::Body {
                content_type: content_type.into(),
                body: page.clone(),
            }],
        );
        let id = r.challenge("image").await;
        r.delivered_from(&id, Api::OpenAiImage).await;
        let verdicts = r.verdicts(&id).await;
        assert!(
            !verdicts[0].passed
                && verdicts[0].reasons.iter().any(|x| {
                    x.contains("no known image or video format (starting 3c21444f43545950")
                }),
            "{content_type}: {verdicts:#?}"
        );
    }
    // A video download that is a picture: the wrong kind for the challenge.
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend_from_slice(&[0u8; 64]);
    r.providers.script_downloads([Reply::Body {
        content_type: "video/mp4".into(),
        body: png,
    }]);
    let id = r.challenge("video").await;
    let hook = r.delivered_from(&id, Api::Runway).await;
    assert_eq!(hook.content_type, "video/mp4");
    let verdicts = r.verdicts(&id).await;
    assert!(
        verdicts[0]
            .reasons
            .iter()
            .any(|x| x.contains("a video was asked for but the provider returned image/png")),
        "{verdicts:#?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn media_changed_after_signing_fails_c2pa_and_is_replaced_or_reported() {
    let r = Rig::start(&[
        ("IMAGE_SERVICE", "openai"),
        ("VIDEO_SERVICE", "runway,openrouter"),
    ])
    .await;
    // A PNG edited after signing still decodes: only its C2PA hard binding gives it away.
    r.providers
        .script(Api::OpenAiImage, [Reply::Flawed(Defect::Edited)]);
    let image = r.challenge("image").await;
    let message = r.failure(&image).await;
    assert!(
        message.starts_with("openai: pre-flight failed: c2pa:") && message.contains("mismatch"),
        "{message}"
    );
    let detail = r.detail(&image).await;
    assert!(detail.summary.c2pa_failed, "listed under failed C2PA");
    let v = &detail.verdicts[0];
    assert!(v.media.decodes && !v.c2pa.verified, "{v:#?}");

    // A video with a byte changed in its frames: refused, and the next provider serves.
    r.providers
        .script(Api::Runway, [Reply::Flawed(Defect::Tampered)]);
    let video = r.challenge("video").await;
    r.delivered_from(&video, Api::OpenRouterVideo).await;
    let detail = r.detail(&video).await;
    assert!(detail.summary.c2pa_failed);
    let v = &detail.verdicts[0];
    assert!(
        v.provider == "runway"
            && !v.passed
            && v.c2pa
                .validation_errors
                .iter()
                .any(|e| e.contains("mismatch")),
        "{v:#?}"
    );
}

// ---------------------------------------------------------------- validator faults

#[tokio::test(flavor = "multi_thread")]
async fn a_validator_answering_5xx_is_retried_until_it_takes_the_media() {
    let r = Rig::start(&[]).await;
    let flaky = FlakyValidator::start(&key(VALIDATOR_PHRASE), &key(MINER_PHRASE)).await;
    flaky.script([
        Answer::Status(500, "Internal Server Error"),
        Answer::Status(503, "Service Unavailable"),
    ]);
    let id = r.challenge_to("image", &flaky.url()).await;
    let detail = r
        .detail_when(&id, "delivery", |d| d.summary.state == TaskState::Delivered)
        .await;
    let statuses: Vec<_> = detail.deliveries.iter().map(|d| d.status).collect();
    assert_eq!(statuses, [Some(500), Some(503), Some(200)]);
    let knocks = flaky.knocks();
    assert_eq!(knocks.len(), 3, "{knocks:#?}");
    assert!(
        knocks
            .iter()
            .all(|k| k.task_id == id && k.status_header == "completed")
    );
    assert!(
        knocks[1].at - knocks[0].at >= Duration::from_millis(700)
            && knocks[2].at - knocks[1].at >= Duration::from_millis(1400),
        "retries back off: {knocks:#?}"
    );
    let got = flaky.inner.webhooks();
    assert_eq!(got.len(), 1, "taken exactly once");
    assert_eq!(got[0].epistula_error, "", "the retry is signed afresh");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_validator_refusal_is_recorded_and_not_retried() {
    let r = Rig::start(&[]).await;
    let flaky = FlakyValidator::start(&key(VALIDATOR_PHRASE), &key(MINER_PHRASE)).await;
    flaky.script([Answer::Status(400, "Duplicate image detected")]);
    let media = r.challenge_to("image", &flaky.url()).await;
    let detail = r
        .detail_when(&media, "the refusal", |d| d.summary.state.is_final())
        .await;
    // The upload happened; the validator's verdict on it is kept with the task.
    assert_eq!(detail.summary.state, TaskState::Delivered);
    assert_eq!(detail.summary.last_status, Some(400));
    assert_eq!(detail.deliveries.len(), 1);
    assert_eq!(detail.deliveries[0].reply, "Duplicate image detected");
    let me = key(VALIDATOR_PHRASE).ss58().to_string();
    let status = r.status().await;
    let row = status
        .validators
        .iter()
        .find(|v| v.hotkey == me)
        .expect("the validator's row");
    assert_eq!(
        (row.replies.passed, row.replies.taken, row.replies.rejected),
        (0, 0, 1)
    );
    assert_eq!(
        row.last_rejection.as_deref(),
        Some("Duplicate image detected")
    );

    // A failure report refused too (the validator does not know the miner).
    r.providers.script(Api::OpenRouterImage, [Reply::Refuse]);
    flaky.script([Answer::Status(401, "Signer not in metagraph")]);
    let failed = r.challenge_to("image", &flaky.url()).await;
    let detail = r
        .detail_when(&failed, "the refusal", |d| d.summary.state.is_final())
        .await;
    assert_eq!(detail.summary.state, TaskState::Failed);
    assert_eq!(detail.summary.last_status, Some(401));

    // Long enough for two more backoffs: nothing is sent again.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let knocks = flaky.knocks();
    assert_eq!(knocks.len(), 2, "one attempt each: {knocks:#?}");
    assert!(flaky.inner.webhooks().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_validator_gets_each_webhook_once() {
    let r = Rig::start(&[]).await;
    let flaky = FlakyValidator::start(&key(VALIDATOR_PHRASE), &key(MINER_PHRASE)).await;
    flaky.script((0..3).map(|_| Answer::Slow(Duration::from_secs(4))));
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(r.challenge_to("image", &flaky.url()).await);
    }
    for id in &ids {
        let d = r
            .detail_when(id, "delivery", |d| d.summary.state == TaskState::Delivered)
            .await;
        assert_eq!(d.deliveries.len(), 1, "{:#?}", d.deliveries);
        assert_eq!(d.deliveries[0].status, Some(200));
    }
    // Another moment for any stray second attempt to show up.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let got = flaky.inner.webhooks();
    assert_eq!(got.len(), 3, "no duplicates: {got:#?}");
    for id in &ids {
        assert_eq!(got.iter().filter(|w| &w.task_id == id).count(), 1);
    }
    assert!(got.iter().all(|w| w.epistula_error.is_empty()));
    assert_eq!(flaky.knocks().len(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tls_failure_is_recorded_retried_and_survived() {
    let r = Rig::start(&[("MINER_WEBHOOK_DEADLINE", "6")]).await;
    let trap = TlsTrap::start();
    // A certificate nobody trusts, and an https:// URL to a plain-HTTP receiver.
    let untrusted = r.challenge_to("image", &trap.url()).await;
    let plain = format!("https://{}/generative_callback", r.validator.addr);
    let mismatch = r.challenge_to("image", &plain).await;
    for (id, needle) in [
        (&untrusted, "invalid peer certificate: UnknownIssuer"),
        (&mismatch, "received corrupt message"),
    ] {
        let d = r
            .detail_when(id, "expiry", |d| d.summary.state == TaskState::Expired)
            .await;
        assert!(d.deliveries.len() >= 2, "retried: {:#?}", d.deliveries);
        for attempt in &d.deliveries {
            assert_eq!(attempt.status, None);
            assert!(
                attempt.reply.starts_with("no answer: ") && attempt.reply.contains(needle),
                "the TLS error is on record: {:#?}",
                d.deliveries
            );
        }
    }
    assert!(trap.connections() >= 2);
    assert!(
        r.validator.webhooks().is_empty(),
        "nothing went out in the clear"
    );
    // Still up and delivering.
    let id = r.challenge("image").await;
    r.delivered_from(&id, Api::OpenRouterImage).await;
}
