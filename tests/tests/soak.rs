//! The crash soak, bounded for CI: the real miner SIGKILLed at random moments while it
//! generates, downloads, writes and delivers; every accepted challenge must still end with
//! exactly one outcome and a webhook. `GAS_SOAK_CHALLENGES`, `GAS_SOAK_KILLS` and
//! `GAS_SOAK_SEED` make it longer or repeat a run; `bench/soak.sh --long` is the manual mode.

use gas_tests::soak::{SoakOptions, run};

fn env_number(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

#[tokio::test(flavor = "multi_thread")]
async fn nothing_accepted_is_lost_when_the_miner_is_killed_at_random_moments() {
    let mut options = SoakOptions::default();
    if let Some(n) = env_number("GAS_SOAK_CHALLENGES") {
        options.challenges = n as usize;
    }
    if let Some(n) = env_number("GAS_SOAK_KILLS") {
        options.kills = n as usize;
    }
    if let Some(seed) = env_number("GAS_SOAK_SEED") {
        options.seed = seed;
    }
    let wanted_kills = options.kills;
    let report = run(options).await;
    println!("{report}");
    assert!(report.ok(), "{report}");
    assert_eq!(report.kills.len(), wanted_kills, "{report}");
    assert_eq!(report.starts, wanted_kills + 1, "{report}");
    assert!(report.accepted > 0 && report.delivered > 0, "{report}");
    // The kills did land while work was in flight, not only between tasks.
    let busy = report.kills.iter().filter(|k| !k.ends_with("idle")).count();
    assert!(busy * 2 >= report.kills.len(), "{report}");
}
