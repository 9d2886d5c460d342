//! Restart recovery benchmark: a state database with N finished tasks (100,000 by default)
//! and some a crash left unfinished (queued, or waiting in the outbox), then the real miner
//! started on a fresh copy of it several times. Measured from the process start to (1) the
//! port accepting connections and (2) a signed challenge answered 201, plus how long until
//! every unfinished task was finished. Target from the issues: ready within 2 s.
//!
//! `bench/restart.sh` builds the release binaries and runs this.

use clap::Parser;
use gas_miner::testing::Store;
use gas_shared::TaskState;
use gas_tests::*;
use serde_json::json;
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(about = "gas-miner restart time with a large store and unfinished work")]
struct Args {
    /// Finished tasks in the store
    #[arg(long, default_value_t = 100_000)]
    tasks: usize,
    /// Tasks left unfinished by a crash (half queued, half waiting in the outbox)
    #[arg(long, default_value_t = 1_000)]
    unfinished: usize,
    /// Restarts measured (the median is reported)
    #[arg(long, default_value_t = 5)]
    runs: usize,
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    install_crypto();
    let providers = FakeProviders::start().await;
    let validator = FakeValidator::start(&key(VALIDATOR_PHRASE), &key(MINER_PHRASE)).await;
    let mut fixture = Fixture::new(&providers);
    fixture.set("BT_LOGGING_LEVEL", "WARNING");
    fixture.set("MINER_MAX_CONCURRENT_TASKS", "64");
    let state = fixture.dir.path().join("state");
    let seeded = fixture.dir.path().join("seeded");
    let t = Instant::now();
    {
        let store = Store::open(&seeded).map_err(|e| anyhow::anyhow!("{e}"))?;
        gas_tests::seed::finished_tasks(&store, args.tasks);
        gas_tests::seed::unfinished_tasks(&store, args.unfinished, &validator.url());
        store.flush().map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    println!(
        "seeded {} finished and {} unfinished tasks in {:.1} s",
        args.tasks,
        args.unfinished,
        t.elapsed().as_secs_f64()
    );
    let challenger = Challenger::new(&fixture.base(), VALIDATOR_PHRASE);
    let (mut listening, mut ready, mut drained) = (Vec::new(), Vec::new(), Vec::new());
    for run in 1..=args.runs.max(1) {
        let _ = std::fs::remove_dir_all(&state);
        let copied = std::process::Command::new("cp")
            .arg("-a")
            .arg(&seeded)
            .arg(&state)
            .status()?;
        anyhow::ensure!(copied.success(), "could not copy the seeded state");
        validator.received.lock().expect("received").clear();
        let began = Instant::now();
        let mut miner = fixture.start();
        let up = began.elapsed();
        let (code, reply) = challenger
            .challenge(
                "/gen_image",
                &json!({"prompt": "the first challenge after a restart"}),
                &validator.url(),
            )
            .await;
        anyhow::ensure!(
            code == 201,
            "challenge refused after restart: {code} {reply}"
        );
        let answered = began.elapsed();
        // Every unfinished task ends: the queued ones generated and delivered, the waiting
        // ones delivered (plus the new challenge).
        let want = args.unfinished + 1;
        loop {
            if validator.webhooks().len() >= want {
                break;
            }
            anyhow::ensure!(
                began.elapsed() < Duration::from_secs(300),
                "only {} of {want} webhooks after 300 s",
                validator.webhooks().len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let all_done = began.elapsed();
        let code = miner.terminate();
        anyhow::ensure!(code == Some(0), "the miner stopped with {code:?}");
        {
            let store = Store::open(&state).map_err(|e| anyhow::anyhow!("{e}"))?;
            let counts = store.counts();
            let left: u64 = TaskState::ALL
                .iter()
                .filter(|s| !s.is_final())
                .map(|s| counts.get(s).copied().unwrap_or(0))
                .sum();
            anyhow::ensure!(left == 0, "{left} tasks left unfinished");
        }
        println!(
            "run {run}: listening {}, first challenge accepted {}, {} unfinished tasks finished {}",
            secs(up),
            secs(answered),
            args.unfinished,
            secs(all_done)
        );
        listening.push(up);
        ready.push(answered);
        drained.push(all_done);
    }
    println!(
        "restart with {} stored tasks: listening median {}, first challenge accepted median {} (target <= 2 s); {} unfinished tasks finished median {}",
        args.tasks,
        secs(median(listening)),
        secs(median(ready)),
        args.unfinished,
        secs(median(drained))
    );
    Ok(())
}
