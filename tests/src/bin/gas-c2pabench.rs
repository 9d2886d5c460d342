//! Pre-flight speed: C2PA verification of a signed 20 MB MP4 and a signed 10 MB PNG against
//! one SHA-256 pass over the same bytes, on the same machine. Target: verification runs at
//! ≥ 50 % of SHA-256's throughput. Also reports the whole pre-flight (decode, measure,
//! perceptual hash, C2PA, freshness) for the same files.
//!
//! `bench/preflight.sh` builds the release binaries and runs this; see README for numbers.

use clap::Parser;
use gas_miner::preflight::media::synthetic_mp4;
use gas_miner::preflight::signer::{Claim, Holder, TestCa};
use gas_miner::preflight::{Preflight, Trusted};
use gas_miner::task::TaskRecord;
use gas_shared::{Modality, TaskState, Tier};
use sha2::{Digest, Sha256};
use std::path::Path;
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(about = "C2PA verification throughput against SHA-256 over the same bytes")]
struct Args {
    /// Timed repetitions of each measurement; the median is reported
    #[arg(long, default_value_t = 7)]
    runs: usize,
    /// Fail (exit 1) when verification is slower than this fraction of SHA-256
    #[arg(long, default_value_t = 0.5)]
    min_ratio: f64,
    /// Also write the signed files and their trust anchor into this directory
    #[arg(long)]
    keep: Option<std::path::PathBuf>,
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn timed(runs: usize, mut f: impl FnMut()) -> Duration {
    f();
    median(
        (0..runs)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed()
            })
            .collect(),
    )
}

/// An incompressible PNG of about `mb` megabytes.
fn noise_png(mb: usize) -> Vec<u8> {
    let side = ((mb * 1_000_000 / 3) as f64).sqrt() as u32;
    gas_tests::fixtures::noise_png(side, 0x2545_F491_4F6C_DD1D)
}

fn task(modality: Modality) -> TaskRecord {
    let now = gas_miner::clock::now_ms();
    TaskRecord {
        state: TaskState::Preflight,
        webhook_url: "http://127.0.0.1:1/".into(),
        validator: "5V".into(),
        generation_runs: 1,
        ..TaskRecord::accepted(
            uuid::Uuid::new_v4().to_string(),
            modality,
            "bench".into(),
            serde_json::json!({}),
            Tier::default_for(modality),
            (now, now + 7_200_000),
        )
    }
}

fn mbps(bytes: usize, d: Duration) -> f64 {
    bytes as f64 / 1e6 / d.as_secs_f64()
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let dir = tempfile::tempdir()?;
    let ca = TestCa::new("Bench Root").map_err(anyhow::Error::msg)?;
    std::fs::create_dir_all(dir.path().join("anchors"))?;
    std::fs::write(dir.path().join("anchors/root.pem"), &ca.root_pem)?;
    let signer = ca
        .signer(&Holder::valid("Google LLC"))
        .map_err(anyhow::Error::msg)?;
    let claim = Claim {
        generator: "Google Gemini".into(),
        when: time::OffsetDateTime::now_utc(),
        ai_generated: true,
    };
    let mp4 = signer
        .sign(
            &synthetic_mp4(1920, 1080, 240, &vec![0x42; 20_000_000]),
            "video/mp4",
            &claim,
        )
        .map_err(anyhow::Error::msg)?;
    let png = signer
        .sign(&noise_png(10), "image/png", &claim)
        .map_err(anyhow::Error::msg)?;
    let trusted = Trusted::load(&dir.path().join("anchors")).map_err(anyhow::Error::msg)?;
    let preflight = Preflight::new(&dir.path().join("anchors")).map_err(anyhow::Error::msg)?;
    let mut worst: f64 = f64::MAX;
    for (name, mime, modality, bytes) in [
        ("20 MB MP4", "video/mp4", Modality::Video, &mp4),
        ("10 MB PNG", "image/png", Modality::Image, &png),
    ] {
        let path = dir.path().join(name.replace(' ', "_"));
        std::fs::write(&path, bytes)?;
        if let Some(keep) = &args.keep {
            std::fs::create_dir_all(keep.join("anchors"))?;
            std::fs::write(keep.join(name.replace(' ', "_")), bytes)?;
            std::fs::write(keep.join("anchors/root.pem"), &ca.root_pem)?;
        }
        let report = trusted.reader.judge_file(&path, mime);
        anyhow::ensure!(report.verified, "{name} does not verify: {report:?}");
        // The stricter baseline: the bytes already in memory (verification reads the file).
        let sha = timed(args.runs, || {
            std::hint::black_box(Sha256::digest(bytes));
        });
        let sha_file = timed(args.runs, || {
            let data = std::fs::read(&path).expect("read");
            std::hint::black_box(Sha256::digest(&data));
        });
        let c2pa = timed(args.runs, || {
            std::hint::black_box(trusted.reader.judge_file(Path::new(&path), mime));
        });
        let t = task(modality);
        let whole = timed(args.runs, || {
            std::hint::black_box(preflight.judge(&path, &t, "bench"));
        });
        let ratio = sha.as_secs_f64() / c2pa.as_secs_f64();
        worst = worst.min(ratio);
        println!(
            "{name} ({} bytes): SHA-256 {:.1} ms ({:.0} MB/s; {:.1} ms reading the file too); C2PA verification {:.1} ms ({:.0} MB/s) = {:.0} % of SHA-256's throughput; whole pre-flight {:.1} ms",
            bytes.len(),
            sha.as_secs_f64() * 1e3,
            mbps(bytes.len(), sha),
            sha_file.as_secs_f64() * 1e3,
            c2pa.as_secs_f64() * 1e3,
            mbps(bytes.len(), c2pa),
            ratio * 100.0,
            whole.as_secs_f64() * 1e3,
        );
    }
    anyhow::ensure!(
        worst >= args.min_ratio,
        "C2PA verification ran at {:.0} % of SHA-256, under the {:.0} % target",
        worst * 100.0,
        args.min_ratio * 100.0
    );
    Ok(())
}
