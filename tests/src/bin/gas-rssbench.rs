//! Memory against history: the real miner's resident memory (VmRSS) with 0, 20,000, 50,000
//! and 100,000 finished tasks seeded into its store, each measured after a start, after the
//! console's usual reads (`/status`, the task list, the events snapshot) and again after a
//! restart. With `--cache-mb` the database's page cache is set (`MINER_DB_CACHE_MB`); the
//! target is a flat line within a few MB of the cache, not one that grows with the store.
//!
//! `bench/memory.sh` builds the release binaries and runs this; see BENCHMARKS.md.

use clap::Parser;
use gas_miner::testing::Store;
use gas_tests::*;
use std::time::Duration;

#[derive(Parser)]
#[command(about = "gas-miner's resident memory against the number of stored tasks")]
struct Args {
    /// Stored task counts to measure at (cumulative: each adds to the store)
    #[arg(long, value_delimiter = ',', default_value = "0,20000,50000,100000")]
    tasks: Vec<usize>,
    /// MINER_DB_CACHE_MB for the miner (unset: its default)
    #[arg(long)]
    cache_mb: Option<u64>,
}

/// `VmRSS` of a process, in MB.
fn rss_mb(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))?
                .split_whitespace()
                .nth(1)?
                .parse::<f64>()
                .ok()
        })
        .unwrap_or(0.0)
        / 1024.0
}

/// What the console reads on attach.
async fn browse(socket: &std::path::Path) {
    let _ = gas_client::request(socket, "GET", "/status", None).await;
    let _ = gas_client::request(socket, "GET", "/tasks?limit=500", None).await;
    let _ = gas_client::request(socket, "GET", "/tasks?verdict=c2pa_failed&limit=500", None).await;
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    install_crypto();
    let providers = FakeProviders::start().await;
    let mut fixture = Fixture::new(&providers);
    fixture.set("BT_LOGGING_LEVEL", "WARNING");
    if let Some(mb) = args.cache_mb {
        fixture.set("MINER_DB_CACHE_MB", &mb.to_string());
    }
    let state = fixture.dir.path().join("state");
    let socket = fixture.socket();
    println!(
        "MINER_DB_CACHE_MB={}",
        args.cache_mb
            .map_or("(default)".to_string(), |m| m.to_string())
    );
    println!("stored tasks | after start | after the console's reads | after a restart");
    let mut stored = 0;
    for want in &args.tasks {
        if *want > stored {
            let store = Store::open(&state).map_err(|e| anyhow::anyhow!("{e}"))?;
            gas_tests::seed::finished_tasks(&store, want - stored);
            store.flush().map_err(|e| anyhow::anyhow!("{e}"))?;
            drop(store);
            stored = *want;
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let miner = fixture.start();
        let pid = miner.pid().ok_or_else(|| anyhow::anyhow!("no pid"))?;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let started = rss_mb(pid);
        browse(&socket).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let browsed = rss_mb(pid);
        drop(miner);
        tokio::time::sleep(Duration::from_millis(500)).await;
        let miner = fixture.start();
        let pid = miner.pid().ok_or_else(|| anyhow::anyhow!("no pid"))?;
        tokio::time::sleep(Duration::from_secs(2)).await;
        browse(&socket).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let again = rss_mb(pid);
        drop(miner);
        tokio::time::sleep(Duration::from_millis(500)).await;
        println!("{stored:>12} | {started:>8.1} MB | {browsed:>21.1} MB | {again:>12.1} MB");
    }
    Ok(())
}
