//! What providers really deliver, through the real `gas-miner` binary: a route that ignores
//! the resolution it is sent (the fake OpenRouter answers 1080p requests with 720p videos)
//! is, after a few results, planned as reaching only 720p, so the chain asks the provider
//! that delivers 1080p first; with `MINER_TIER_RETRY=1` a short result is made once more by
//! that provider and the better one is delivered. Shown in `/status` and `gas-miner status`.

use gas_tests::*;
use serde_json::json;
use std::process::Command;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(60);

async fn rig(retry: bool) -> Rig {
    let r = Rig::start(&[
        ("VIDEO_SERVICE", "openrouter,runway"),
        ("MINER_TIER_RETRY", if retry { "1" } else { "0" }),
    ])
    .await;
    r.providers.set_polls_to_finish(1);
    r.providers.set_video_size(Api::OpenRouterVideo, 1280, 720);
    r
}

/// Sends a 1080p video challenge and waits for its webhook; returns the webhook's SHA-256.
async fn video(r: &Rig, prompt: &str) -> String {
    let body = json!({"prompt": prompt, "parameters": {"resolution": "1080p", "duration": 4}});
    let (code, reply) = r.v.challenge("/gen_video", &body, &r.validator.url()).await;
    assert_eq!(code, 201, "{reply}\n{}", r.miner.log());
    let id = reply["task_id"].as_str().expect("task_id").to_string();
    let hooks = r
        .validator
        .wait_for(WAIT, "the video webhook", |h| {
            h.iter().any(|w| w.task_id == id)
        })
        .await;
    let hook = hooks.into_iter().find(|w| w.task_id == id).expect("hook");
    assert!(hook.error_message.is_none(), "{hook:?}\n{}", r.miner.log());
    hook.sha256
}

fn made_by(r: &Rig, api: Api, sha256: &str) -> bool {
    r.providers
        .produced()
        .iter()
        .any(|p| p.api == api && p.sha256 == sha256)
}

fn jobs(r: &Rig, api: Api) -> usize {
    r.providers.seen(api, Some("create")).len()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_route_that_delivers_less_than_it_is_asked_is_planned_lower_and_the_chain_prefers_one_that_reaches()
 {
    let r = rig(false).await;
    // OpenRouter comes first in the chain and its plan says 1080p: it is asked, and its 720p
    // results are delivered as they are (no retry).
    for i in 0..3 {
        let sha = video(&r, &format!("a tram in the rain {i}")).await;
        assert!(made_by(&r, Api::OpenRouterVideo, &sha));
    }
    assert_eq!(jobs(&r, Api::Runway), 0);
    // Three of three fell short: OpenRouter's 1080p plan is taken as 720p now.
    let s = r.fixture.status().await;
    let or = s
        .providers
        .iter()
        .find(|p| p.name == "openrouter")
        .expect("openrouter");
    let t = or
        .tiers
        .iter()
        .find(|t| t.planned == gas_shared::Tier::P1080)
        .unwrap_or_else(|| panic!("a 1080p line in {:?}", or.tiers));
    assert_eq!(
        (t.seen, t.short, t.reaches),
        (3, 3, gas_shared::Tier::P720),
        "{t:?}"
    );
    let out = Command::new(miner_bin())
        .arg("status")
        .envs(r.fixture.env.iter().map(|(k, v)| (k, v)))
        .output()
        .expect("gas-miner status");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(
            "google/veo-3.1-lite asked 1080p: 3 of 3 recent results short: planned as 720p now"
        ),
        "{text}"
    );

    // The next one goes to Runway, whose plan reaches 1080p and whose results do.
    let sha = video(&r, "a tram in the snow").await;
    assert!(made_by(&r, Api::Runway, &sha), "{}", r.miner.log());
    assert_eq!(jobs(&r, Api::OpenRouterVideo), 3, "OpenRouter not asked");
}

#[tokio::test(flavor = "multi_thread")]
async fn with_tier_retry_a_short_result_is_made_again_by_a_provider_that_reaches_and_the_better_is_sent()
 {
    let r = rig(true).await;
    let sha = video(&r, "a ferry at night").await;
    assert_eq!(jobs(&r, Api::OpenRouterVideo), 1);
    assert_eq!(jobs(&r, Api::Runway), 1, "the retry");
    assert!(
        made_by(&r, Api::Runway, &sha),
        "the 1080p result is the one delivered\n{}",
        r.miner.log()
    );
    // The short one was not kept.
    let media: Vec<String> = std::fs::read_dir(r.fixture.dir.path().join("state/media"))
        .expect("media dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(media.iter().all(|m| !m.starts_with(".held.")), "{media:?}");

    // When the retry is no better, the first result is delivered.
    r.providers.set_video_size(Api::Runway, 1280, 720);
    let sha = video(&r, "a ferry at dawn").await;
    assert_eq!(jobs(&r, Api::Runway), 2);
    assert!(
        made_by(&r, Api::OpenRouterVideo, &sha),
        "the first of two equal results\n{}",
        r.miner.log()
    );
}
