//! The `gas-miner` binary: the daemon and its operator commands.

use clap::{Parser, Subcommand};
use gas_miner::config::{Settings, load_env_file};
use gas_miner::identity::Hotkey;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "gas-miner",
    version,
    about = "Generative miner for Bittensor subnet 34 (GAS)"
)]
struct Cli {
    /// Env file read before anything else (the reference's .env.gen_miner); the environment wins over it
    #[arg(
        long,
        global = true,
        env = "GAS_ENV_FILE",
        default_value = ".env.gen_miner"
    )]
    env_file: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the miner in the foreground
    Run(Box<Settings>),
    /// Judge files the way validators do (C2PA with the subnet's trust anchors); exit 1 if any fails
    VerifyC2pa {
        /// Files to check
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Add the common name, model, signing time, certificate chain, every status code and the full manifest report
        #[arg(short, long)]
        verbose: bool,
        /// Print a JSON list of {file, result}
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        anchors: AnchorArgs,
    },
    /// Manage the trust anchors C2PA signatures are checked against
    Trust {
        #[command(subcommand)]
        action: TrustAction,
    },
}

#[derive(Subcommand)]
enum TrustAction {
    /// Download the subnet's current trust anchors into the anchors directory (every certificate is checked before anything is replaced)
    Update {
        /// Where to fetch them: a GitHub directory listing of PEM files, or one PEM bundle
        #[arg(long, default_value = gas_miner::preflight::trust::SUBNET_ANCHORS_URL)]
        from: String,
        #[command(flatten)]
        anchors: AnchorArgs,
    },
}

/// Where the trust anchors are: `--trust-anchors`, else `<state dir>/trust_anchors`.
#[derive(clap::Args)]
struct AnchorArgs {
    /// Directory of PEM trust anchors (default <state dir>/trust_anchors)
    #[arg(long, env = "GAS_TRUST_ANCHORS")]
    trust_anchors: Option<String>,
    /// State directory (default ~/.local/share/gas-miner)
    #[arg(long, env = "MINER_STATE_DIR")]
    state_dir: Option<String>,
}

impl AnchorArgs {
    fn dir(&self) -> PathBuf {
        gas_miner::config::anchors_dir(self.trust_anchors.as_deref(), self.state_dir.as_deref())
    }
}

/// The env file must be loaded before clap reads the environment, so find it in argv first.
fn env_file_from_args() -> (PathBuf, bool) {
    let args: Vec<String> = std::env::args().collect();
    for (i, arg) in args.iter().enumerate() {
        if let Some(v) = arg.strip_prefix("--env-file=") {
            return (PathBuf::from(v), true);
        }
        if arg == "--env-file"
            && let Some(v) = args.get(i + 1)
        {
            return (PathBuf::from(v), true);
        }
    }
    match std::env::var_os("GAS_ENV_FILE") {
        Some(v) => (PathBuf::from(v), true),
        None => (PathBuf::from(".env.gen_miner"), false),
    }
}

fn main() -> ExitCode {
    let (env_file, required) = env_file_from_args();
    if let Err(line) = load_env_file(&env_file, required) {
        eprintln!("gas-miner: {line}");
        return ExitCode::from(2);
    }
    let cli = Cli::parse();
    match cli.command {
        Command::Run(settings) => run(&settings),
        Command::VerifyC2pa {
            files,
            verbose,
            json,
            anchors,
        } => exit(gas_miner::commands::verify_c2pa(
            &files,
            &anchors.dir(),
            verbose,
            json,
        )),
        Command::Trust {
            action: TrustAction::Update { from, anchors },
        } => {
            let _ = rustls::crypto::ring::default_provider().install_default();
            exit(gas_miner::commands::trust_update(&anchors.dir(), &from))
        }
    }
}

fn exit(code: i32) -> ExitCode {
    ExitCode::from(code.clamp(0, 255) as u8)
}

fn run(settings: &Settings) -> ExitCode {
    let config = match settings.resolve() {
        Ok(c) => c,
        Err(problems) => {
            for p in problems {
                eprintln!("gas-miner: {p}");
            }
            return ExitCode::from(2);
        }
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("RUST_LOG").unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(format!(
            "{},sled=warn,hyper=warn,reqwest=warn",
            config.log_filter
        ))
    });
    let logs = gas_miner::logs::LogRing::default();
    let log_file = match gas_miner::logs::LogFile::open(
        &config.state_dir.join("logs"),
        20 * 1024 * 1024,
        5,
    ) {
        Ok(f) => Some(f),
        Err(e) => {
            eprintln!(
                "gas-miner: state directory {} is not writable ({e}); fix its permissions or set MINER_STATE_DIR elsewhere",
                config.state_dir.display()
            );
            return ExitCode::from(2);
        }
    };
    {
        use tracing_subscriber::layer::SubscriberExt;
        use tracing_subscriber::util::SubscriberInitExt;
        tracing_subscriber::registry()
            .with(filter)
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(std::io::stderr)
                    .with_ansi(std::io::stderr().is_terminal()),
            )
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(logs.clone())
                    .with_ansi(false),
            )
            .with(log_file.map(|f| {
                tracing_subscriber::fmt::layer()
                    .with_writer(f)
                    .with_ansi(false)
            }))
            .init();
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    let password = || {
        std::env::var("BT_HOTKEY_PASSWORD").ok().or_else(|| {
            std::io::stdin()
                .is_terminal()
                .then(|| rpassword::prompt_password("hotkey password: ").ok())
                .flatten()
        })
    };
    let key = match Hotkey::load(
        &config.wallet_path,
        &config.wallet_name,
        &config.wallet_hotkey,
        &password,
    ) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("gas-miner: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("gas-miner: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(gas_miner::daemon::run(config, key, logs)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("gas-miner: {}", f.message);
            ExitCode::from(f.code as u8)
        }
    }
}
