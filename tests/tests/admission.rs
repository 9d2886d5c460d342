//! Admission before the 201, through the real `gas-miner` binary (PROTOCOL.md §1: under v5
//! a refused challenge is `no_answer`, an accepted one that fails is a failure): a modality
//! whose every provider has its breaker open, or whose queue would miss
//! `MINER_ADMISSION_MAX_WAIT`, gets 503 with the reason; each refusal is counted by reason
//! and validator in `/status`, `/metrics` and `gas-miner status`, and logged once a minute
//! per reason.

use gas_shared::admin::Status;
use gas_tests::*;
use serde_json::{Value, json};
use std::process::Command;
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(40);

async fn challenge(r: &Rig) -> (u16, Value) {
    let body = json!({"prompt": "a lighthouse in fog", "parameters": {"resolution": "1K"}});
    r.v.challenge("/gen_image", &body, &r.validator.url()).await
}

async fn accepted(r: &Rig) -> String {
    let (code, reply) = challenge(r).await;
    assert_eq!(code, 201, "{reply}\n{}", r.miner.log());
    reply["task_id"].as_str().expect("task_id").to_string()
}

async fn metrics(r: &Rig) -> String {
    let (code, body) = gas_client::request(&r.fixture.socket(), "GET", "/metrics", None)
        .await
        .expect("metrics");
    assert_eq!(code, 200);
    String::from_utf8_lossy(&body).into_owned()
}

/// `gas-miner status` as the operator runs it.
fn status_cli(r: &Rig) -> String {
    let out = Command::new(miner_bin())
        .arg("status")
        .envs(r.fixture.env.iter().map(|(k, v)| (k, v)))
        .output()
        .expect("gas-miner status");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Waits until `done` holds for the miner's status.
async fn status_until(r: &Rig, what: &str, done: impl Fn(&Status) -> bool) -> Status {
    let start = Instant::now();
    loop {
        let s = r.fixture.status().await;
        if done(&s) {
            return s;
        }
        assert!(
            start.elapsed() < WAIT,
            "timed out waiting for {what}\n{}",
            r.miner.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_chain_whose_every_breaker_is_open_refuses_with_503_and_accepts_again_after_recovery() {
    let r = Rig::start(&[("MINER_BREAKER_PAUSE", "2")]).await;
    // The only image provider refuses its key once: its breaker opens at once.
    r.providers.script(
        Api::OpenRouterImage,
        [Reply::Status {
            status: 401,
            body: json!({"error": {"message": "No auth credentials found", "code": 401}}),
            retry_after: None,
        }],
    );
    let first = accepted(&r).await;
    r.validator
        .wait_for(WAIT, "the failure webhook", |h| {
            h.iter().any(|w| w.task_id == first)
        })
        .await;
    status_until(&r, "the breaker to open", |s| {
        s.providers
            .iter()
            .any(|p| p.name == "openrouter" && p.health == "open")
    })
    .await;

    let (code, reply) = challenge(&r).await;
    assert_eq!(code, 503, "{reply}");
    let reason = reply["error"].as_str().unwrap_or_default();
    assert!(
        reason.contains("no healthy provider for modality=image"),
        "{reason}"
    );
    let (code, _) = challenge(&r).await;
    assert_eq!(code, 503);

    let s = r.fixture.status().await;
    assert_eq!(s.refusals.hour, vec![("no_provider".to_string(), 2)]);
    let me = key(VALIDATOR_PHRASE).ss58().to_string();
    let row = s.validators.iter().find(|v| v.hotkey == me).expect("row");
    assert_eq!((row.challenges, row.refused), (1, 2));
    let text = metrics(&r).await;
    for line in [
        "gas_challenges_refused_by_reason_total{reason=\"no_provider\"} 2".to_string(),
        format!("gas_challenges_refused_total{{validator=\"{me}\"}} 2"),
    ] {
        assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
    }
    let cli = status_cli(&r);
    assert!(
        cli.contains("refused   2 in the last hour (2 no_provider)"),
        "{cli}"
    );
    let log = r.miner.log();
    let logged = log
        .lines()
        .filter(|l| l.contains("challenge refused before the 201"))
        .count();
    assert!(
        (1..=2).contains(&logged),
        "once a minute per reason: {logged}\n{log}"
    );

    // After the pause the breaker may probe: challenges are accepted, and the provider,
    // back to health, serves them.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let recovered = accepted(&r).await;
    let hooks = r
        .validator
        .wait_for(WAIT, "the recovered task's webhook", |h| {
            h.iter().any(|w| w.task_id == recovered)
        })
        .await;
    let hook = hooks.iter().find(|w| w.task_id == recovered).expect("hook");
    assert_eq!(hook.status_header, "completed", "{}", r.miner.log());
    accepted(&r).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_queue_that_would_miss_the_max_wait_is_refused_naming_the_wait() {
    let r = Rig::start(&[
        ("MINER_MAX_CONCURRENT_TASKS", "1"),
        ("MINER_ADMISSION_MAX_WAIT", "5"),
    ])
    .await;
    // History: five tasks finished in the minute this miner has run.
    for _ in 0..5 {
        accepted(&r).await;
    }
    status_until(&r, "five finished tasks", |s| {
        s.throughput.finished_last_hour >= 5
    })
    .await;

    // The provider slows down: one task is accepted (nothing ahead), and holds the slot.
    r.providers.set_delay(Duration::from_secs(30));
    accepted(&r).await;
    let (code, reply) = challenge(&r).await;
    assert_eq!(code, 503, "{reply}\n{}", r.miner.log());
    let reason = reply["error"].as_str().unwrap_or_default();
    assert!(
        reason.starts_with("refused: the image queue would take ~")
            && reason.contains("(1 ahead at ")
            && reason.contains("/min, p95 ")
            && reason.ends_with("over MINER_ADMISSION_MAX_WAIT=5"),
        "{reason}"
    );
    let (code, _) = challenge(&r).await;
    assert_eq!(code, 503);

    let s = r.fixture.status().await;
    assert_eq!(s.refusals.hour, vec![("wait".to_string(), 2)]);
    assert_eq!(s.refusals.day, vec![("wait".to_string(), 2)]);
    assert!(s.refusals.unanswered().is_empty(), "six were accepted");
    let text = metrics(&r).await;
    let line = "gas_challenges_refused_by_reason_total{reason=\"wait\"} 2";
    assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
    let cli = status_cli(&r);
    assert!(
        cli.contains("refused   2 in the last hour (2 wait)"),
        "{cli}"
    );
    assert!(!cli.contains("WARNING"), "{cli}");
    let log = r.miner.log();
    let logged: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("challenge refused before the 201"))
        .collect();
    assert!((1..=2).contains(&logged.len()), "{log}");
    assert!(logged[0].contains("MINER_ADMISSION_MAX_WAIT=5"), "{log}");
    r.providers.set_delay(Duration::ZERO);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_queue_at_its_hard_cap_is_refused_without_any_history() {
    let r = Rig::start(&[
        ("MINER_MAX_CONCURRENT_TASKS", "1"),
        ("MINER_QUEUE_MAX", "2"),
    ])
    .await;
    // No history, so the wait check has nothing to judge: only the cap stands.
    r.providers.set_delay(Duration::from_secs(30));
    accepted(&r).await;
    accepted(&r).await;
    let (code, reply) = challenge(&r).await;
    assert_eq!(code, 503, "{reply}\n{}", r.miner.log());
    assert_eq!(
        reply["error"],
        "refused: the image queue holds 2 tasks, at MINER_QUEUE_MAX=2"
    );
    let s = r.fixture.status().await;
    assert_eq!(s.refusals.hour, vec![("queue_full".to_string(), 1)]);
    let text = metrics(&r).await;
    let line = "gas_challenges_refused_by_reason_total{reason=\"queue_full\"} 1";
    assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
    r.providers.set_delay(Duration::ZERO);
}
