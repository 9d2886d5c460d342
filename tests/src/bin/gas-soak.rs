//! The crash soak from the command line: the real miner, fake providers and a fake
//! validator, SIGKILLs at random moments and restarts, then the check that nothing accepted
//! was lost (see `gas_tests::soak`). `bench/soak.sh` builds it and runs the long mode.

use clap::Parser;
use gas_tests::soak::{SoakOptions, run};
use std::process::ExitCode;
use std::time::Duration;

#[derive(Parser)]
#[command(
    about = "SIGKILL the real gas-miner at random moments and check that nothing accepted is lost"
)]
struct Args {
    /// Challenges to have accepted
    #[arg(long, default_value_t = 100)]
    challenges: usize,
    /// SIGKILLs spread over the run
    #[arg(long, default_value_t = 10)]
    kills: usize,
    /// Seed for the kill moments (default: random, printed)
    #[arg(long)]
    seed: Option<u64>,
    /// The long run for manual use: 2,000 challenges and 150 kills
    #[arg(long)]
    long: bool,
    /// Milliseconds the fake validator holds each webhook before answering
    #[arg(long, default_value_t = 150)]
    validator_delay_ms: u64,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let (challenges, kills) = if args.long {
        (2000, 150)
    } else {
        (args.challenges, args.kills)
    };
    let mut options = SoakOptions {
        challenges,
        kills,
        validator_delay: Duration::from_millis(args.validator_delay_ms),
        verbose: true,
        ..SoakOptions::default()
    };
    if let Some(seed) = args.seed {
        options.seed = seed;
    }
    println!(
        "crash soak: {challenges} challenges, {kills} SIGKILLs, seed {} (repeat with --seed {})",
        options.seed, options.seed
    );
    let report = run(options).await;
    println!("{report}");
    if report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
