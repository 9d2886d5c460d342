//! Validators' replies read as they mean (PROTOCOL.md §2), through the real `gas-miner`
//! binary: a v5 validator's 202 "Callback accepted" is taken with the verdict unknown and is
//! never shown as a pass (admin status, `/standing`, `/metrics`, `gas-miner status`); a v4.9.x
//! validator's 200 passes and its 400's reason appears on its row.

use gas_shared::admin::Status;
use gas_shared::standing::StandingView;
use gas_tests::*;
use serde_json::json;
use std::process::Command;
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(30);

/// Sends an image challenge whose webhook goes to `webhook`.
async fn challenge(r: &Rig, webhook: &str) {
    let body = json!({"prompt": "a lighthouse in fog", "parameters": {}});
    let (code, reply) = r.v.challenge("/gen_image", &body, webhook).await;
    assert_eq!(code, 201, "{reply}\n{}", r.miner.log());
}

/// Waits until the miner counted `n` final replies over the last day.
async fn replies_counted(r: &Rig, n: u64) -> Status {
    let start = Instant::now();
    loop {
        let s = r.fixture.status().await;
        if s.replies.day.total() >= n {
            return s;
        }
        assert!(
            start.elapsed() < WAIT,
            "timed out waiting for {n} replies: {:?}\n{}",
            s.replies,
            r.miner.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `gas-miner status` as the operator runs it, on the rig's settings.
fn status_cli(r: &Rig) -> String {
    let out = Command::new(miner_bin())
        .arg("status")
        .envs(r.fixture.env.iter().map(|(k, v)| (k, v)))
        .output()
        .expect("gas-miner status");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

#[tokio::test(flavor = "multi_thread")]
async fn a_v5_202_is_taken_with_the_verdict_unknown_never_passed() {
    let r = Rig::start(&[]).await;
    r.validator.set_v5(true);
    challenge(&r, &r.validator.url()).await;
    challenge(&r, &r.validator.url()).await;
    let s = replies_counted(&r, 2).await;
    assert_eq!((s.replies.day.passed, s.replies.day.taken), (0, 2));
    assert_eq!(s.replies.day.verdicts().total, 0, "a 202 is no verdict");
    let me = key(VALIDATOR_PHRASE).ss58().to_string();
    let row = s.validators.iter().find(|v| v.hotkey == me).expect("row");
    assert_eq!((row.replies.passed, row.replies.taken), (0, 2));

    let standing: StandingView =
        gas_client::get_json(&r.fixture.socket(), "GET", "/standing", None)
            .await
            .expect("standing");
    let row = standing
        .validators
        .iter()
        .find(|v| v.hotkey == me)
        .expect("the validator's standing row");
    assert_eq!(
        (row.replies.passed, row.replies.taken, row.asked),
        (0, 2, 2)
    );
    // Our own media passed pre-flight, but that is our verdict, not the validators'.
    let image = &standing.estimate.modalities[0];
    assert_eq!((image.from_validators, image.from_preflight), (0, 2));
    assert!(
        image.p_source().contains("estimate"),
        "{}",
        image.p_source()
    );

    let (_, metrics) = gas_client::request(&r.fixture.socket(), "GET", "/metrics", None)
        .await
        .expect("metrics");
    let metrics = String::from_utf8_lossy(&metrics);
    let line = |outcome: &str, n: u64| {
        format!("gas_webhooks_total{{validator=\"{me}\",outcome=\"{outcome}\"}} {n}")
    };
    for want in [line("passed", 0), line("taken", 2)] {
        assert!(
            metrics.lines().any(|l| l == want),
            "no {want} in\n{metrics}"
        );
    }

    let text = status_cli(&r);
    assert!(
        text.contains("0 passed of 0 judged (v4.9.x) · 2 taken, verdict unknown (v5)"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_v4_pass_counts_and_its_400_reason_shows_on_the_validators_row() {
    let r = Rig::start(&[]).await;
    let flaky = FlakyValidator::start(&key(VALIDATOR_PHRASE), &key(MINER_PHRASE)).await;
    flaky.script([
        Answer::Status(400, "C2PA: signer not trusted"),
        Answer::Pass,
    ]);
    challenge(&r, &flaky.url()).await;
    replies_counted(&r, 1).await;
    challenge(&r, &flaky.url()).await;
    let s = replies_counted(&r, 2).await;
    assert_eq!(
        (
            s.replies.day.passed,
            s.replies.day.rejected,
            s.replies.day.taken
        ),
        (1, 1, 0)
    );
    let me = key(VALIDATOR_PHRASE).ss58().to_string();
    let standing: StandingView =
        gas_client::get_json(&r.fixture.socket(), "GET", "/standing", None)
            .await
            .expect("standing");
    let row = standing
        .validators
        .iter()
        .find(|v| v.hotkey == me)
        .expect("row");
    assert_eq!(
        row.last_rejection.as_deref(),
        Some("C2PA: signer not trusted")
    );
    let image = &standing.estimate.modalities[0];
    assert_eq!((image.verified, image.failed), (1, 1));
    assert_eq!(
        image.from_validators, 2,
        "both verdicts came from the validator"
    );

    let text = status_cli(&r);
    assert!(text.contains("1 passed of 2 judged (v4.9.x)"), "{text}");
    assert!(!text.contains("taken, verdict unknown"), "{text}");
}
