//! Provider health through the real `gas-miner` binary: a provider in an outage, or whose key
//! is refused, has its circuit breaker opened; the fallback chain goes straight to the next
//! provider while it is open, lets exactly one probe through after the pause
//! (`MINER_BREAKER_PAUSE`, doubled after a failed probe), and closes it when the provider
//! answers again. The state and its reason show in `/status`, `/metrics` and the log.

use gas_shared::admin::{ProviderStats, Status};
use gas_tests::*;
use serde_json::json;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(40);

/// This file's helpers on the shared rig.
trait Health {
    async fn challenge(&self) -> String;
    async fn delivered_by(&self, ids: &[String], api: Api);
    fn socket(&self) -> std::path::PathBuf;
    async fn status(&self) -> Status;
    async fn openrouter(&self) -> ProviderStats;
    async fn until_probe_due(&self);
    fn openrouter_calls(&self) -> usize;
}

impl Health for Rig {
    async fn challenge(&self) -> String {
        let body = json!({"prompt": "a lighthouse in fog", "parameters": {"resolution": "1K"}});
        let (status, reply) = self
            .v
            .challenge("/gen_image", &body, &self.validator.url())
            .await;
        assert_eq!(status, 201, "{reply}\n{}", self.miner.log());
        reply["task_id"].as_str().expect("task_id").to_string()
    }

    /// Waits for the webhooks of `ids` and checks each carries media `api` made.
    async fn delivered_by(&self, ids: &[String], api: Api) {
        let hooks = self
            .validator
            .wait_for(WAIT, "a webhook for each task", |h| {
                ids.iter().all(|id| h.iter().any(|w| &w.task_id == id))
            })
            .await;
        let made = self.providers.produced();
        for id in ids {
            let hook = hooks.iter().find(|w| &w.task_id == id).expect("hook");
            assert_eq!(hook.status_header, "completed", "{}", self.miner.log());
            assert!(
                made.iter().any(|p| p.api == api && p.sha256 == hook.sha256),
                "task {id} was served by {api:?}\n{}",
                self.miner.log()
            );
        }
    }

    fn socket(&self) -> std::path::PathBuf {
        self.fixture.dir.path().join("state/admin.sock")
    }

    async fn status(&self) -> Status {
        gas_client::get_json(&self.socket(), "GET", "/status", None)
            .await
            .expect("status")
    }

    async fn openrouter(&self) -> ProviderStats {
        self.status()
            .await
            .providers
            .into_iter()
            .find(|p| p.name == "openrouter")
            .expect("openrouter in /status")
    }

    /// Sleeps until OpenRouter's breaker lets its probe through.
    async fn until_probe_due(&self) {
        let s = self.status().await;
        let p = s
            .providers
            .iter()
            .find(|p| p.name == "openrouter")
            .expect("openrouter");
        let until = p.open_until_ms.expect("open until");
        let wait = u64::try_from(until - s.now_ms).unwrap_or(0);
        tokio::time::sleep(Duration::from_millis(wait + 300)).await;
    }

    fn openrouter_calls(&self) -> usize {
        self.providers
            .seen(Api::OpenRouterImage, Some("generate"))
            .len()
    }
}

fn server_error() -> Reply {
    Reply::Status {
        status: 500,
        body: json!({"error": {"message": "Internal Server Error", "code": 500}}),
        retry_after: None,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_outage_opens_the_breaker_the_chain_skips_it_one_probe_goes_and_recovery_closes_it() {
    let r = Rig::start(&[
        ("IMAGE_SERVICE", "openrouter,openai"),
        ("MINER_BREAKER_PAUSE", "4"),
    ])
    .await;
    // Three tasks' worth of 500s (each attempt tried 4 times), and one for the first probe.
    r.providers.script(
        Api::OpenRouterImage,
        std::iter::repeat_n(server_error(), 13),
    );
    let mut first = Vec::new();
    for _ in 0..3 {
        first.push(r.challenge().await);
    }
    r.delivered_by(&first, Api::OpenAiImage).await;
    assert_eq!(r.openrouter_calls(), 12, "three attempts of four tries");
    let p = r.openrouter().await;
    assert_eq!(p.health, "open", "{p:?}");
    let reason = p.health_reason.clone().unwrap_or_default();
    assert!(
        reason.contains("3 outages in a row") && reason.contains("HTTP 500"),
        "{reason}"
    );
    assert_eq!(p.models.len(), 1);
    assert_eq!(p.models[0].health, "open");

    // While open: straight to OpenAI, not one call to OpenRouter.
    let skipped = r.challenge().await;
    r.delivered_by(&[skipped], Api::OpenAiImage).await;
    let s = r.status().await;
    let p = s
        .providers
        .iter()
        .find(|p| p.name == "openrouter")
        .expect("openrouter");
    assert!(
        p.open_until_ms.unwrap_or(0) > s.now_ms,
        "the test outran the pause; still open"
    );
    assert_eq!(r.openrouter_calls(), 12, "no call while open");

    // After the pause: exactly one probe, one call (still a 500), and it opens again for
    // twice the pause.
    r.until_probe_due().await;
    let probed = r.challenge().await;
    r.delivered_by(&[probed], Api::OpenAiImage).await;
    assert_eq!(r.openrouter_calls(), 13, "exactly one probe call");
    let s = r.status().await;
    let p = s
        .providers
        .iter()
        .find(|p| p.name == "openrouter")
        .expect("openrouter");
    assert_eq!(p.health, "open", "{p:?}");
    let left = p.open_until_ms.unwrap_or(0) - s.now_ms;
    assert!(
        left > 5_000 && left <= 8_000,
        "the pause doubled to 8 s ({left} ms left)"
    );
    let skipped = r.challenge().await;
    r.delivered_by(&[skipped], Api::OpenAiImage).await;
    assert_eq!(r.openrouter_calls(), 13);

    // The provider is back: the next probe succeeds, the breaker closes, OpenRouter serves.
    r.until_probe_due().await;
    let recovered = r.challenge().await;
    r.delivered_by(&[recovered], Api::OpenRouterImage).await;
    let p = r.openrouter().await;
    assert_eq!(p.health, "ok", "{p:?}");
    assert_eq!(p.health_reason, None);
    let again = r.challenge().await;
    r.delivered_by(&[again], Api::OpenRouterImage).await;
    assert_eq!(r.openrouter_calls(), 15);

    // One log line per state change, not one per call.
    let log = r.miner.log();
    let count = |what: &str| log.lines().filter(|l| l.contains(what)).count();
    assert_eq!(count("provider breaker open"), 2, "{log}");
    assert_eq!(count("provider breaker half-open"), 2, "{log}");
    assert_eq!(count("provider breaker closed"), 1, "{log}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_key_opens_the_breaker_at_once_naming_the_key_in_status_and_metrics() {
    let r = Rig::start(&[("IMAGE_SERVICE", "openrouter,openai")]).await;
    r.providers.script(
        Api::OpenRouterImage,
        [Reply::Status {
            status: 401,
            body: json!({"error": {"message": "No auth credentials found", "code": 401}}),
            retry_after: None,
        }],
    );
    let first = r.challenge().await;
    r.delivered_by(&[first], Api::OpenAiImage).await;
    assert_eq!(r.openrouter_calls(), 1, "a 401 is not retried");
    let p = r.openrouter().await;
    assert_eq!(p.health, "open", "{p:?}");
    let reason = p.health_reason.clone().unwrap_or_default();
    assert!(reason.contains("OPEN_ROUTER_API_KEY"), "{reason}");
    assert!(p.open_until_ms.is_some());

    // The default pause (30 s): the next task goes straight to OpenAI.
    let second = r.challenge().await;
    r.delivered_by(&[second], Api::OpenAiImage).await;
    assert_eq!(r.openrouter_calls(), 1, "no call while open");

    let (code, body) = gas_client::request(&r.socket(), "GET", "/metrics", None)
        .await
        .expect("metrics");
    assert_eq!(code, 200);
    let text = String::from_utf8_lossy(&body);
    let model = &p.models[0].model;
    for (state, value) in [("open", 1), ("ok", 0), ("half-open", 0)] {
        let line = format!(
            "gas_provider_health{{provider=\"openrouter\",model=\"{model}\",state=\"{state}\"}} {value}"
        );
        assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
    }
    let log = r.miner.log();
    assert!(
        log.lines()
            .any(|l| l.contains("provider breaker open") && l.contains("OPEN_ROUTER_API_KEY")),
        "{log}"
    );
    for secret in ALL_KEYS {
        assert!(!log.contains(secret), "an API key leaked into the log");
    }
}
