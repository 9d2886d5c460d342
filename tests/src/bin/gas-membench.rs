//! Memory benchmark for large media: a real `gas-miner` makes N videos at once through a fake
//! OpenRouter that streams each one (50 MB by default), or a fake Vertex AI that answers the
//! finished operation with the video inline in base64 (`--service vertex`: 67 MB of JSON per
//! 50 MB video), and delivers them to a fake validator that hashes every webhook body as it
//! streams in. The miner's resident memory is sampled
//! throughout and its kernel-recorded peak (VmHWM) is reported: downloads go to disk and
//! webhooks stream from disk, so the peak must not grow with video size.
//!
//! `bench/video-memory.sh` builds the release binaries and runs this; see README for numbers.

use clap::Parser;
use gas_tests::*;
use serde_json::json;
use std::collections::HashSet;
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(about = "Peak RSS of gas-miner while downloading and delivering large videos")]
struct Args {
    /// Videos made and delivered at once
    #[arg(long, default_value_t = 20)]
    videos: usize,
    /// Size of each video in MB (10^6 bytes)
    #[arg(long, default_value_t = 50)]
    mb: usize,
    /// Repetitions (a fresh miner each); the median is reported
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Fail (exit 1) when the median peak RSS exceeds this many MB
    #[arg(long, default_value_t = 250)]
    limit_mb: u64,
    /// The video service: openrouter (a download) or vertex (base64 inside the answer)
    #[arg(long, default_value = "openrouter")]
    service: String,
}

/// `VmRSS` or `VmHWM` of a process, in kB.
fn proc_kb(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

struct Run {
    peak_kb: u64,
    parallel: usize,
    idle_kb: u64,
    seconds: f64,
}

async fn run_once(args: &Args) -> anyhow::Result<Run> {
    let providers = FakeProviders::start().await;
    let bytes = args.mb * 1_000_000;
    providers.set_video_bytes(bytes);
    // Jobs finish together once all exist, and each download is paced (about 1 s for 50 MB),
    // so every download and delivery is in flight at the same time.
    providers.set_polls_to_finish(u32::MAX);
    providers.set_chunk_pause(Duration::from_micros(1200));
    let validator = FakeValidator::start(&key(VALIDATOR_PHRASE), &key(MINER_PHRASE)).await;
    let mut fixture = Fixture::new(&providers);
    fixture.set("VIDEO_SERVICE", &args.service);
    fixture.set("MINER_MAX_CONCURRENT_TASKS", &args.videos.to_string());
    fixture.set("MINER_VIDEO_POLL_INTERVAL", "0.2");
    fixture.set("BT_LOGGING_LEVEL", "WARNING");
    let miner = fixture.start();
    let pid = miner
        .pid()
        .ok_or_else(|| anyhow::anyhow!("miner has no pid"))?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let idle_kb = proc_kb(pid, "VmRSS:").unwrap_or(0);
    let v = Challenger::new(&fixture.base(), VALIDATOR_PHRASE);
    let started = Instant::now();
    let mut ids = HashSet::new();
    let sends = (0..args.videos).map(|i| {
        let body = json!({"prompt": format!("memory bench video {i}"), "parameters": {"resolution": "720p"}});
        let (v, url) = (&v, validator.url());
        async move { v.challenge("/gen_video", &body, &url).await }
    });
    for (status, reply) in futures_util::future::join_all(sends).await {
        anyhow::ensure!(status == 201, "challenge refused: {status} {reply}");
        ids.insert(reply["task_id"].as_str().unwrap_or_default().to_string());
    }
    while providers.jobs_created() < args.videos {
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(300),
            "only {} video jobs were created",
            providers.jobs_created()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    providers.finish_jobs();
    let hooks = validator
        .wait_for(Duration::from_secs(600), "every video delivered", |h| {
            h.iter().filter(|w| ids.contains(&w.task_id)).count() >= ids.len()
        })
        .await;
    let seconds = started.elapsed().as_secs_f64();
    let peak_kb = proc_kb(pid, "VmHWM:").unwrap_or(0);
    let produced = providers.produced_hashes();
    for hook in &hooks {
        anyhow::ensure!(
            hook.status_header == "completed" && hook.epistula_error.is_empty(),
            "bad webhook: {} {}",
            hook.status_header,
            hook.epistula_error
        );
        anyhow::ensure!(
            hook.len as usize >= bytes && produced.contains(&hook.sha256),
            "a delivered video differs from the provider's"
        );
    }
    drop(miner);
    Ok(Run {
        peak_kb,
        parallel: providers.max_downloads(),
        idle_kb,
        seconds,
    })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    install_crypto();
    let mut runs = Vec::new();
    for i in 0..args.runs.max(1) {
        let r = run_once(&args).await?;
        println!(
            "run {}: {} videos × {} MB from {} ({} downloads at once) delivered in {:.1} s; miner RSS idle {:.1} MB, peak {:.1} MB",
            i + 1,
            args.videos,
            args.mb,
            args.service,
            r.parallel,
            r.seconds,
            r.idle_kb as f64 / 1024.0,
            r.peak_kb as f64 / 1024.0
        );
        runs.push(r);
    }
    let peak = median(runs.iter().map(|r| r.peak_kb as f64 / 1024.0).collect());
    let secs = median(runs.iter().map(|r| r.seconds).collect());
    println!(
        "median peak RSS {peak:.1} MB (limit {} MB); median time {secs:.1} s for {} MB of video",
        args.limit_mb,
        args.videos * args.mb
    );
    anyhow::ensure!(
        peak <= args.limit_mb as f64,
        "peak RSS {peak:.1} MB is over the {} MB limit",
        args.limit_mb
    );
    Ok(())
}
