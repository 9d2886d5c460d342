//! The running miner reads its standing from the subnet's API (a fake built from STANDING.md,
//! checking our hotkey's Epistula signature) every `MINER_STANDING_POLL` seconds and on
//! demand, and serves it at `/standing`: the gates, the validators' pass rates beside our own
//! counts, the last good snapshot with its age and the reason when the API fails, a refused
//! signature said as one, an older server's answer without history, and the chain's view
//! unavailable offline. None of it slows the path that answers validators.

use gas_shared::admin::Status;
use gas_shared::standing::StandingView;
use gas_tests::gasapi::{FakeGasApi, Mode};
use gas_tests::*;
use serde_json::json;
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(30);

async fn standing(r: &Rig) -> StandingView {
    gas_client::get_json(&r.fixture.socket(), "GET", "/standing", None)
        .await
        .expect("standing")
}

/// Asks the miner to read the API now; returns what it then shows.
async fn refresh(r: &Rig) -> StandingView {
    gas_client::get_json(&r.fixture.socket(), "POST", "/standing/refresh", None)
        .await
        .expect("refresh")
}

async fn standing_when(r: &Rig, what: &str, done: impl Fn(&StandingView) -> bool) -> StandingView {
    let start = Instant::now();
    loop {
        let s = standing(r).await;
        if done(&s) {
            return s;
        }
        assert!(
            start.elapsed() < WAIT,
            "timed out waiting for {what}: {s:#?}\n{}",
            r.miner.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn rig_with(api: &FakeGasApi, poll: &str) -> Rig {
    Rig::start(&[("GAS_API_URL", &api.url()), ("MINER_STANDING_POLL", poll)]).await
}

#[tokio::test(flavor = "multi_thread")]
async fn the_gates_and_pass_rates_come_from_the_api_signed_by_our_hotkey() {
    let api = FakeGasApi::start(key(MINER_PHRASE).ss58());
    let r = rig_with(&api, "1").await;
    let s = standing_when(&r, "a first snapshot", |s| s.api.fetched_ms.is_some()).await;
    let asked = api.asked();
    assert!(!asked.is_empty());
    assert!(
        asked.iter().all(|a| a.refused.is_empty()),
        "every request is signed by our hotkey without Signed-For: {asked:#?}"
    );
    assert!(asked[0].query.contains("lookback_days=7"), "{asked:#?}");
    assert!(s.api.error.is_none(), "{:?}", s.api.error);
    assert!(s.api.history_available);
    let words: Vec<&str> = s.api.gates.iter().map(|g| g.status_words()).collect();
    assert_eq!(words, ["Fool-rate eligible", "Below threshold"]);
    assert_eq!(
        s.api.gates.iter().map(|g| g.threshold).collect::<Vec<_>>(),
        [0.02, 0.01]
    );
    assert_eq!(s.api.gates[0].points.len(), 7);
    // The validator's pass rate from the API sits beside our own counts of it.
    let me = key(VALIDATOR_PHRASE).ss58().to_string();
    let row = s.validators.iter().find(|v| v.hotkey == me).expect("row");
    assert!(row.api_pass_rate.is_some(), "{row:?}");
    // Offline (BT_METAGRAPH_FILE): the chain's view says why it is missing.
    assert!(!s.chain.available);
    assert!(
        s.chain
            .reason
            .as_deref()
            .unwrap_or("")
            .contains("not available offline"),
        "{:?}",
        s.chain.reason
    );
    // The dashboard's line, and the estimate behind a known gate.
    let status: Status = gas_client::get_json(&r.fixture.socket(), "GET", "/status", None)
        .await
        .expect("status");
    let line = status.standing.expect("a standing summary");
    assert_eq!(line.gates.len(), 2);
    assert_eq!(
        line.r_estimate,
        Some(0.0),
        "no outcomes yet: R is 0, and known"
    );
    // Snapshots are kept: polling goes on.
    let first = s.api.fetched_ms;
    standing_when(&r, "a newer snapshot", |s| s.api.fetched_ms > first).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn when_the_api_fails_the_last_good_snapshot_stays_with_its_age_and_the_reason() {
    let api = FakeGasApi::start(key(MINER_PHRASE).ss58());
    let r = rig_with(&api, "0").await;
    let before = standing(&r).await;
    assert!(
        before.api.fetched_ms.is_none(),
        "poll 0: not read until asked"
    );
    let good = refresh(&r).await;
    let at = good.api.fetched_ms.expect("read on demand");

    api.set_mode(Mode::Status(500));
    let s = refresh(&r).await;
    assert_eq!(
        s.api.fetched_ms,
        Some(at),
        "the last good snapshot is still shown"
    );
    assert_eq!(s.api.gates.len(), 2);
    let error = s.api.error.clone().expect("the reason");
    assert!(error.contains("500"), "{error}");
    assert!(!s.api.signature_refused);
    let status: Status = gas_client::get_json(&r.fixture.socket(), "GET", "/status", None)
        .await
        .expect("status");
    let line = status.standing.expect("summary");
    assert_eq!(line.fetched_ms, Some(at));
    assert!(line.error.is_some_and(|e| e.contains("500")));

    api.set_mode(Mode::InvalidJson);
    let s = refresh(&r).await;
    assert_eq!(s.api.fetched_ms, Some(at));
    assert!(
        s.api
            .error
            .as_deref()
            .unwrap_or("")
            .to_lowercase()
            .contains("json"),
        "{:?}",
        s.api.error
    );

    // An older server: its answer is kept, but the gates shown are the last ones known, aged.
    api.set_mode(Mode::Old);
    let s = refresh(&r).await;
    assert!(s.api.fetched_ms > Some(at));
    assert!(s.api.error.is_none());
    assert!(!s.api.history_available);
    assert_eq!(s.api.gates.len(), 2);
    assert_eq!(s.api.gates_fetched_ms, Some(at));

    // Back to normal: fresh gates again.
    api.set_mode(Mode::New);
    let s = refresh(&r).await;
    assert!(s.api.history_available && s.api.gates_fetched_ms == s.api.fetched_ms);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_signature_is_said_as_one_not_as_missing_data() {
    // The API expects another hotkey: ours is refused with 401.
    let api = FakeGasApi::start(key(POOR_PHRASE).ss58());
    let r = rig_with(&api, "0").await;
    let s = refresh(&r).await;
    assert!(s.api.signature_refused, "{:?}", s.api);
    let error = s.api.error.expect("why");
    assert!(
        error.contains("401") && error.contains("signature"),
        "{error}"
    );
    assert!(
        error.contains(key(MINER_PHRASE).ss58()),
        "names the hotkey: {error}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_api_does_not_slow_the_answers_to_validators() {
    let api = FakeGasApi::start(key(MINER_PHRASE).ss58());
    api.set_mode(Mode::Slow(Duration::from_secs(20)));
    let r = rig_with(&api, "1").await;
    // Wait until the miner is inside a read (the fake records a request as it arrives).
    let start = Instant::now();
    while api.asked().is_empty() {
        assert!(start.elapsed() < WAIT, "the miner never asked the API");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for _ in 0..5 {
        let began = Instant::now();
        let body = json!({"prompt": "a lighthouse", "parameters": {}});
        let (code, reply) = r.v.challenge("/gen_image", &body, &r.validator.url()).await;
        assert_eq!(code, 201, "{reply}");
        assert!(
            began.elapsed() < Duration::from_secs(2),
            "accepted in {:?} while the API is slow",
            began.elapsed()
        );
    }
    // The admin socket answers too, with what it had.
    let began = Instant::now();
    let s = standing(&r).await;
    assert!(began.elapsed() < Duration::from_secs(2));
    assert!(s.api.fetched_ms.is_none());
}
