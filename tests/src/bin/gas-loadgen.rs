//! Load generator: sends signed challenges to a real `gas-miner` and reports accepted
//! requests/s and accept-latency percentiles, then kills the miner with SIGKILL, restarts it and
//! checks that every accepted challenge is still there (accepted means durable).
//!
//! `bench/accept.sh` builds the release binaries and runs this; see README for the numbers.

use clap::Parser;
use gas_miner::clock::now_ms;
use gas_tests::*;
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(about = "Signed-challenge load generator for gas-miner")]
struct Args {
    /// Challenges in the throughput phase (sent as fast as the miner accepts them)
    #[arg(long, default_value_t = 20_000)]
    burst: usize,
    /// Requests in flight at once in the throughput phase
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Requests per second in the latency phase
    #[arg(long, default_value_t = 1_000)]
    rate: u64,
    /// Length of the latency phase in seconds
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Also read the standing from a fake subnet API every this many seconds while loaded
    /// (default: not at all), to see that it costs the accept path nothing
    #[arg(long)]
    standing_poll: Option<u64>,
    /// Also set an image spend budget of this many US$ per day (high enough never to refuse),
    /// so that every challenge is priced and checked against it before the 201
    #[arg(long)]
    budget: Option<u64>,
}

type Signed = (Vec<u8>, Vec<(String, String)>);

fn signed(v: &Challenger, webhook: &str, i: usize) -> Signed {
    let body = python_json(
        &json!({"prompt": format!("load test challenge {i}"), "parameters": {"resolution": "1K"}}),
    );
    let mut headers = v.headers(&body, now_ms());
    headers.push(("Content-Type".into(), "application/json".into()));
    headers.push(("X-Webhook-URL".into(), webhook.into()));
    (body, headers)
}

async fn post(client: &reqwest::Client, url: &str, (body, headers): Signed) -> bool {
    let mut req = client.post(url).body(body);
    for (k, v) in headers {
        req = req.header(k, v);
    }
    matches!(req.send().await, Ok(r) if r.status().as_u16() == 201)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// The miner's own account of its group commits (`gas_db_commit_seconds`).
async fn commit_summary(socket: &std::path::Path) -> String {
    let Ok((_, body)) = gas_client::request(socket, "GET", "/metrics", None).await else {
        return "unavailable".into();
    };
    let text = String::from_utf8_lossy(&body);
    let value = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.trim().parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    let count = value("gas_db_commit_seconds_count");
    let within_50 = value("gas_db_commit_seconds_bucket{le=\"0.05\"}");
    let within_20 = value("gas_db_commit_seconds_bucket{le=\"0.02\"}");
    format!(
        "{count:.0} commits, mean {:.2} ms, {:.0} over 20 ms, {:.0} over 50 ms, slowest {:.1} ms",
        value("gas_db_commit_seconds_sum") * 1000.0 / count.max(1.0),
        count - within_20,
        count - within_50,
        value("gas_db_commit_max_seconds") * 1000.0
    )
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    install_crypto();
    // The provider holds every generation for a minute, so the pipeline stays out of the way
    // and the numbers are those of the accept path: verify, store, fsync, 201.
    let provider = FakeProviders::start().await;
    provider.set_delay(Duration::from_secs(60));
    let validator = FakeValidator::start(&key(VALIDATOR_PHRASE), &key(MINER_PHRASE)).await;
    let fixture = Fixture::new(&provider);
    let mut fixture = fixture;
    fixture.set("BT_LOGGING_LEVEL", "WARNING");
    // The queue grows to tens of thousands on purpose: once a few tasks finish, admission
    // would (rightly) refuse the rest for their wait or the queue's cap, and this measures
    // the accept path.
    fixture.set("MINER_ADMISSION_MAX_WAIT", "0");
    fixture.set("MINER_QUEUE_MAX", "1000000");
    let api = args.standing_poll.map(|every| {
        let api = gasapi::FakeGasApi::start(key(MINER_PHRASE).ss58());
        fixture.set("GAS_API_URL", &api.url());
        fixture.set("MINER_STANDING_POLL", &every.to_string());
        println!("standing read from a fake subnet API every {every} s");
        api
    });
    if let Some(usd) = args.budget {
        fixture.set("MINER_BUDGET_USD_PER_DAY_IMAGE", &usd.to_string());
        println!("image budget {usd} US$ per day: every challenge priced and checked");
    }
    let mut miner = fixture.start();
    let v = Arc::new(Challenger::new(&fixture.base(), VALIDATOR_PHRASE));
    let url = format!("{}/gen_image", fixture.base());
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .build()?;
    println!(
        "gas-loadgen: miner {} on {} cores",
        miner_bin().display(),
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0)
    );

    // Throughput: pre-signed (as many validators would send), then sent as fast as accepted.
    let requests: Vec<Signed> = (0..args.burst)
        .map(|i| signed(&v, &validator.url(), i))
        .collect();
    let requests = Arc::new(std::sync::Mutex::new(requests.into_iter()));
    let accepted = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let workers: Vec<_> = (0..args.concurrency)
        .map(|_| {
            let (requests, accepted, client, url) = (
                requests.clone(),
                accepted.clone(),
                client.clone(),
                url.clone(),
            );
            tokio::spawn(async move {
                loop {
                    let Some(r) = requests.lock().expect("queue").next() else {
                        break;
                    };
                    if post(&client, &url, r).await {
                        accepted.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.await?;
    }
    let elapsed = start.elapsed();
    let burst_ok = accepted.load(Ordering::Relaxed);
    println!(
        "throughput: {burst_ok}/{} accepted (201, durable) in {:.2} s = {:.0} challenges/s at concurrency {}",
        args.burst,
        elapsed.as_secs_f64(),
        burst_ok as f64 / elapsed.as_secs_f64(),
        args.concurrency
    );

    // Latency: open loop at a fixed rate, each measured from its scheduled send time.
    let total = (args.rate * args.seconds) as usize;
    let interval = Duration::from_secs_f64(1.0 / args.rate as f64);
    let results = gas_tests::measure::open_loop(args.rate, args.seconds, |i| {
        let r = signed(&v, &validator.url(), args.burst + i);
        let (client, url) = (client.clone(), url.clone());
        async move { post(&client, &url, r).await }
    })
    .await;
    let mut latencies = Vec::with_capacity(total);
    let mut rate_ok = 0;
    // Requests over 50 ms by the second they were due in: one cluster is one stall.
    let mut slow: std::collections::BTreeMap<u64, (usize, Duration)> = Default::default();
    for (i, (ok, d)) in results.into_iter().enumerate() {
        rate_ok += ok as usize;
        latencies.push(d);
        if d > Duration::from_millis(50) {
            let second = (interval * i as u32).as_secs();
            let e = slow.entry(second).or_default();
            e.0 += 1;
            e.1 = e.1.max(d);
        }
    }
    latencies.sort();
    let commits = commit_summary(&fixture.socket()).await;
    if let Some(api) = &api {
        println!(
            "the miner read its standing {} times while loaded",
            api.asked().len()
        );
    }
    println!(
        "latency at {} req/s for {} s: {rate_ok}/{total} accepted; p50 {} p90 {} p99 {} max {}",
        args.rate,
        args.seconds,
        ms(percentile(&latencies, 0.5)),
        ms(percentile(&latencies, 0.9)),
        ms(percentile(&latencies, 0.99)),
        ms(percentile(&latencies, 1.0)),
    );

    let bounds = [5u64, 10, 20, 50, 100, 200];
    let mut lower = 0;
    let mut parts = Vec::new();
    for b in bounds {
        let n = latencies
            .iter()
            .filter(|d| **d > Duration::from_millis(lower) && **d <= Duration::from_millis(b))
            .count();
        parts.push(format!("≤{b} ms {n}"));
        lower = b;
    }
    let over = latencies
        .iter()
        .filter(|d| **d > Duration::from_millis(lower))
        .count();
    parts.push(format!(">{lower} ms {over}"));
    println!("distribution: {}", parts.join(", "));
    if slow.is_empty() {
        println!("stalls: no request took over 50 ms");
    } else {
        println!(
            "stalls (seconds with requests over 50 ms): {}",
            slow.iter()
                .map(|(s, (n, max))| format!("{s} s: {n} (longest {})", ms(*max)))
                .collect::<Vec<_>>()
                .join("; ")
        );
    }
    println!("the miner's commits (fsyncs), from its /metrics: {commits}");

    // Durability: kill -9, restart, count what the miner remembers.
    miner.kill9();
    let _miner = fixture.start();
    let (_, info) = v.get("/miner_info").await;
    let remembered = info["task_stats"]["total"].as_u64().unwrap_or(0) as usize;
    let want = burst_ok + rate_ok;
    println!(
        "durability: after kill -9 and restart the miner holds {remembered} tasks; {want} were accepted"
    );
    anyhow::ensure!(remembered == want, "accepted challenges were lost");
    Ok(())
}
