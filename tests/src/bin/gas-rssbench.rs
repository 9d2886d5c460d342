//! Memory against history: the real miner's resident memory (VmRSS) with 0, 20,000, 50,000
//! and 100,000 finished tasks, each measured after a start, after the console's usual reads
//! (`/status`, the task list, a filtered list) and again after a restart. Two ways to the
//! tasks: seeded into the store between runs (as a store from before this version: the first
//! start counts it once), and accepted through the API by one running miner (signed
//! challenges, each refused by the provider and answered with a failure webhook, so every
//! task leaves its call, reply and outcome behind). With `--cache-mb` the database's page
//! cache is set (`MINER_DB_CACHE_MB`), with `--env` any other setting; the target is a flat
//! line, not one that grows with the store. Each figure is the median of six readings over
//! three seconds; the last restart is then watched idle for 90 s.
//!
//! With `--store DIR` it only restarts three times on a copy of a stopped miner's state directory
//! (one kept with `--keep`, or an operator's).
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
    /// Which way to the tasks: seeded, api, or both
    #[arg(long, default_value = "both")]
    phase: String,
    /// KEY=VALUE set in the miner's environment (repeatable), e.g. allocator settings
    #[arg(long = "env")]
    env: Vec<String>,
    /// Copy the store made through the API here at the end (to inspect it)
    #[arg(long)]
    keep: Option<std::path::PathBuf>,
    /// Only restart on a copy of this state directory (one kept with --keep, or an
    /// operator's stopped miner's), three times
    #[arg(long)]
    store: Option<std::path::PathBuf>,
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

/// The median of six `VmRSS` readings half a second apart: the database writes and cleans
/// its log for a while after a burst, and one reading caught that by chance (±20 MB).
async fn settled_rss_mb(pid: u32) -> f64 {
    let mut samples = Vec::new();
    for _ in 0..6 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        samples.push(rss_mb(pid));
    }
    samples.sort_by(f64::total_cmp);
    (samples[2] + samples[3]) / 2.0
}

/// How long the last restart is watched idle: the database cleans its log after a restart, and
/// before the miner let it free what it replaced, that alone grew the miner by 25 MB a minute.
const IDLE_SECS: u64 = 90;

/// The miner's settings from the command line.
fn configure(fixture: &mut Fixture, args: &Args) -> anyhow::Result<()> {
    if let Some(mb) = args.cache_mb {
        fixture.set("MINER_DB_CACHE_MB", &mb.to_string());
    }
    for kv in &args.env {
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| anyhow::anyhow!("--env {kv}: expected KEY=VALUE"))?;
        fixture.set(k, v);
    }
    Ok(())
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
    println!(
        "MINER_DB_CACHE_MB={}",
        args.cache_mb
            .map_or("(default)".to_string(), |m| m.to_string())
    );
    if let Some(store) = &args.store {
        return restarts_of(&args, store).await;
    }
    if args.phase != "api" {
        seeded(&args).await?;
    }
    if args.phase != "seeded" {
        through_the_api(&args).await?;
    }
    Ok(())
}

/// Tasks seeded into the store between runs.
async fn seeded(args: &Args) -> anyhow::Result<()> {
    let providers = FakeProviders::start().await;
    let mut fixture = Fixture::new(&providers);
    fixture.set("BT_LOGGING_LEVEL", "WARNING");
    configure(&mut fixture, args)?;
    let state = fixture.dir.path().join("state");
    let socket = fixture.socket();
    println!(
        "seeded: stored tasks | first start (counts a seeded store once) | after the console's reads | after a restart"
    );
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
        tokio::time::sleep(Duration::from_secs(1)).await;
        let started = settled_rss_mb(pid).await;
        browse(&socket).await;
        let browsed = settled_rss_mb(pid).await;
        drop(miner);
        tokio::time::sleep(Duration::from_millis(500)).await;
        let (again, again_browsed) = restarted(&fixture).await?;
        println!(
            "{stored:>20} | {started:>8.1} MB | {browsed:>21.1} MB | {again:>12.1} MB ({again_browsed:.1} MB after the console's reads)"
        );
    }
    Ok(())
}

/// Restarts on a copy of a kept store.
async fn restarts_of(args: &Args, store: &std::path::Path) -> anyhow::Result<()> {
    let providers = FakeProviders::start().await;
    let mut fixture = Fixture::new(&providers);
    fixture.set("BT_LOGGING_LEVEL", "WARNING");
    configure(&mut fixture, args)?;
    let state = fixture.dir.path().join("state");
    let status = std::process::Command::new("cp")
        .arg("-a")
        .arg(store)
        .arg(&state)
        .status()?;
    anyhow::ensure!(status.success(), "could not copy {}", store.display());
    println!("restarts on a copy of {}:", store.display());
    for _ in 0..3 {
        let (again, again_browsed, idle) = restarted_then_idle(&fixture, IDLE_SECS).await?;
        let (median, most) = idle.unwrap_or_default();
        println!(
            "{again:.1} MB, {again_browsed:.1} MB after the console's reads; then idle for {IDLE_SECS} s: median {median:.1} MB, highest {most:.1} MB"
        );
    }
    Ok(())
}

/// RSS after a start, and after the console's reads.
async fn restarted(fixture: &Fixture) -> anyhow::Result<(f64, f64)> {
    let (started, browsed, _) = restarted_then_idle(fixture, 0).await?;
    Ok((started, browsed))
}

/// [`restarted`], then the median and highest of one reading a second while the miner sits
/// idle for `idle_secs` (the database cleans its log in the background after a restart).
async fn restarted_then_idle(
    fixture: &Fixture,
    idle_secs: u64,
) -> anyhow::Result<(f64, f64, Option<(f64, f64)>)> {
    let miner = fixture.start();
    let pid = miner.pid().ok_or_else(|| anyhow::anyhow!("no pid"))?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let started = settled_rss_mb(pid).await;
    browse(&fixture.socket()).await;
    let browsed = settled_rss_mb(pid).await;
    let mut idle = Vec::new();
    for _ in 0..idle_secs {
        tokio::time::sleep(Duration::from_secs(1)).await;
        idle.push(rss_mb(pid));
    }
    idle.sort_by(f64::total_cmp);
    let idle = (!idle.is_empty()).then(|| (idle[idle.len() / 2], idle[idle.len() - 1]));
    drop(miner);
    tokio::time::sleep(Duration::from_millis(500)).await;
    Ok((started, browsed, idle))
}

/// Finished tasks by the miner's own count.
async fn finished(fixture: &Fixture) -> u64 {
    fixture
        .status()
        .await
        .queue
        .iter()
        .filter(|q| q.state.is_final())
        .map(|q| q.count)
        .sum()
}

/// Tasks accepted through the API by one running miner.
async fn through_the_api(args: &Args) -> anyhow::Result<()> {
    let providers = FakeProviders::start().await;
    let validator = FakeValidator::start(&key(VALIDATOR_PHRASE), &key(MINER_PHRASE)).await;
    let mut fixture = Fixture::new(&providers);
    fixture.set("BT_LOGGING_LEVEL", "WARNING");
    configure(&mut fixture, args)?;
    let most = args.tasks.iter().copied().max().unwrap_or(0);
    providers.script(
        Api::OpenRouterImage,
        std::iter::repeat_with(|| Reply::Status {
            status: 400,
            body: serde_json::json!({"error": {"message": "Content policy violation: prompt refused"}}),
            retry_after: None,
        })
        .take(most + 1000),
    );
    let miner = fixture.start();
    let pid = miner.pid().ok_or_else(|| anyhow::anyhow!("no pid"))?;
    let v = std::sync::Arc::new(Challenger::new(&fixture.base(), VALIDATOR_PHRASE));
    let hook = validator.url();
    println!(
        "through the API: tasks accepted and finished | RSS | after the console's reads | (rate)"
    );
    let mut accepted = 0usize;
    let mut refused = 0usize;
    for want in &args.tasks {
        let began = std::time::Instant::now();
        let from = accepted;
        while accepted < *want {
            let batch = (*want - accepted).min(500);
            let replies = futures_util::future::join_all((0..batch).map(|i| {
                let (v, hook) = (v.clone(), hook.clone());
                let body = serde_json::json!({"prompt": format!("a harbour at dawn, number {}", accepted + i)});
                async move { v.challenge("/gen_image", &body, &hook).await.0 }
            }))
            .await;
            accepted += replies.iter().filter(|s| **s == 201).count();
            refused += replies.iter().filter(|s| **s == 503).count();
            // Keep the queue short: this measures history, not live work.
            while finished(&fixture).await + 100 < accepted as u64 {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        while finished(&fixture).await < accepted as u64 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let rate = (accepted - from) as f64 / began.elapsed().as_secs_f64().max(0.001);
        tokio::time::sleep(Duration::from_secs(1)).await;
        let rss = settled_rss_mb(pid).await;
        browse(&fixture.socket()).await;
        let browsed = settled_rss_mb(pid).await;
        println!("{accepted:>46} | {rss:>6.1} MB | {browsed:>21.1} MB | ({rate:.0} tasks/s)");
    }
    drop(miner);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (again, again_browsed, idle) = restarted_then_idle(&fixture, IDLE_SECS).await?;
    println!(
        "after a restart with {accepted} stored: {again:.1} MB, {again_browsed:.1} MB after the console's reads ({refused} challenges refused with 503 on the way and sent again)"
    );
    if let Some((median, most)) = idle {
        println!("  then idle for {IDLE_SECS} s: median {median:.1} MB, highest {most:.1} MB");
    }
    if let Some(to) = &args.keep {
        let status = std::process::Command::new("cp")
            .arg("-a")
            .arg(fixture.dir.path().join("state"))
            .arg(to)
            .status()?;
        anyhow::ensure!(
            status.success(),
            "could not copy the store to {}",
            to.display()
        );
        println!("store kept in {}", to.display());
    }
    Ok(())
}
