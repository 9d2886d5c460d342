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
    /// See the whole loop work on this machine with nothing configured: a made-up validator, local studios, a demo CA
    Demo {
        /// Where the demo keeps its state and socket (wiped at the next demo)
        #[arg(long, default_value_os_t = gas_miner::demo::default_dir())]
        state_dir: PathBuf,
        /// Challenges per minute
        #[arg(long, default_value_t = 20.0)]
        rate: f64,
        /// Stop after this many seconds (default: run until Ctrl-C, or until the console is closed)
        #[arg(long)]
        duration: Option<u64>,
        /// Do not open gas-console in this terminal; print the log instead
        #[arg(long)]
        no_console: bool,
    },
    /// Start the miner in a detached tmux session named gas-miner (checks the configuration first)
    Start(Box<Settings>),
    /// Stop the running miner gracefully: no new challenges, work in flight finished, state flushed
    Stop(PlaceArgs),
    /// Stop, then start again with the env file read anew
    Restart(Box<Settings>),
    /// Is it running? Process, uid, queues, pass rates and the last errors (exit 1 if not running)
    Status(PlaceArgs),
    /// The miner's log files (rotated in <state dir>/logs)
    Logs {
        /// How many lines
        #[arg(short = 'n', long = "lines", default_value_t = 100)]
        lines: usize,
        /// Keep printing what is written
        #[arg(short, long)]
        follow: bool,
        #[command(flatten)]
        place: PlaceArgs,
    },
    /// The configuration (secrets only said to be set), keys per service, the service per modality, trust anchors, chain
    Info(Box<Settings>),
    /// What `start` runs in tmux: the miner, restarted if it dies
    #[command(hide = true)]
    Supervise {
        #[arg(long)]
        launch_env: Option<PathBuf>,
    },
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

/// Where a running miner is found.
#[derive(clap::Args)]
struct PlaceArgs {
    /// State directory (default ~/.local/share/gas-miner)
    #[arg(long, env = "MINER_STATE_DIR")]
    state_dir: Option<String>,
    /// Admin socket (default <state dir>/admin.sock)
    #[arg(long, env = "GAS_ADMIN_SOCKET")]
    admin_socket: Option<String>,
}

impl PlaceArgs {
    fn place(&self) -> gas_miner::cli::Place {
        gas_miner::cli::Place::new(self.state_dir.as_deref(), self.admin_socket.as_deref())
    }
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

/// `--name value` or `--name=value` from argv, before clap runs.
fn arg_value(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    let prefix = format!("{name}=");
    for (i, arg) in args.iter().enumerate() {
        if let Some(v) = arg.strip_prefix(&prefix) {
            return Some(v.to_string());
        }
        if arg == name {
            return args.get(i + 1).cloned();
        }
    }
    None
}

/// The env file must be loaded before clap reads the environment, so find it in argv first.
fn env_file_from_args() -> (PathBuf, bool) {
    if let Some(v) = arg_value("--env-file") {
        return (PathBuf::from(v), true);
    }
    match std::env::var_os("GAS_ENV_FILE") {
        Some(v) => (PathBuf::from(v), true),
        None => (PathBuf::from(".env.gen_miner"), false),
    }
}

fn main() -> ExitCode {
    if let Some(launch) = arg_value("--launch-env")
        && let Err(e) = gas_miner::cli::load_launch_env(std::path::Path::new(&launch))
    {
        eprintln!("gas-miner: {e}");
        return ExitCode::from(2);
    }
    let (env_file, required) = env_file_from_args();
    if let Err(line) = load_env_file(&env_file, required) {
        eprintln!("gas-miner: {line}");
        return ExitCode::from(2);
    }
    let cli = Cli::parse();
    let env_file = cli.env_file.clone();
    match cli.command {
        Command::Run(settings) => run(&settings),
        Command::Demo {
            state_dir,
            rate,
            duration,
            no_console,
        } => demo(
            gas_miner::demo::DemoOptions {
                state_dir,
                rate,
                duration: duration.map(std::time::Duration::from_secs),
            },
            no_console,
        ),
        Command::Start(settings) => exit(gas_miner::cli::start(&settings, &env_file)),
        Command::Stop(place) => exit(gas_miner::cli::stop(&place.place())),
        Command::Restart(settings) => exit(gas_miner::cli::restart(&settings, &env_file)),
        Command::Status(place) => exit(gas_miner::cli::status(&place.place())),
        Command::Logs {
            lines,
            follow,
            place,
        } => exit(gas_miner::cli::logs(&place.place(), lines, follow)),
        Command::Info(settings) => exit(gas_miner::cli::info(&settings, &env_file)),
        // The launch settings were read at the top of main.
        Command::Supervise { launch_env: _ } => exit(gas_miner::cli::supervise(&env_file)),
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
    let Some((logs, log_file)) = init_logging(&config.state_dir, config.log_filter, "", true)
    else {
        return ExitCode::from(2);
    };
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
            let f = gas_miner::daemon::Fatal {
                code: 2,
                message: e.to_string(),
            };
            return failed(&f, &log_file);
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
        Err(f) => failed(&f, &log_file),
    }
}

/// Says why it stopped, on the terminal and in the log file (`start` reads it from there).
fn failed(f: &gas_miner::daemon::Fatal, log_file: &gas_miner::logs::LogFile) -> ExitCode {
    eprintln!("gas-miner: {}", gas_miner::logs::scrub(&f.message));
    log_file.append(&format!("gas-miner: {}", f.message));
    ExitCode::from(f.code.clamp(1, 255) as u8)
}

/// Log lines go to the terminal, the admin socket's ring and the rotating files in
/// `<state dir>/logs`, each prefixed with `tag`; a panic is logged too.
fn init_logging(
    state_dir: &std::path::Path,
    level: &str,
    tag: &'static str,
    to_terminal: bool,
) -> Option<(gas_miner::logs::LogRing, gas_miner::logs::LogFile)> {
    use gas_miner::logs::Tagged;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = tracing_subscriber::EnvFilter::try_from_env("RUST_LOG").unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(format!(
            "{level},sled=warn,hyper=warn,reqwest=warn,c2pa=warn"
        ))
    });
    let logs = gas_miner::logs::LogRing::default();
    let log_file = match gas_miner::logs::LogFile::open(
        &state_dir.join("logs"),
        20 * 1024 * 1024,
        5,
    ) {
        Ok(f) => f,
        Err(e) => {
            eprintln!(
                "gas-miner: state directory {} is not writable ({e}); fix its permissions or set MINER_STATE_DIR elsewhere",
                state_dir.display()
            );
            return None;
        }
    };
    let format = || Tagged(tag, tracing_subscriber::fmt::format());
    tracing_subscriber::registry()
        .with(filter)
        .with(to_terminal.then(|| {
            tracing_subscriber::fmt::layer()
                .event_format(format())
                .with_writer(gas_miner::logs::Stderr)
                .with_ansi(std::io::stderr().is_terminal())
        }))
        .with(
            tracing_subscriber::fmt::layer()
                .event_format(format())
                .with_writer(logs.clone())
                .with_ansi(false),
        )
        .with(
            tracing_subscriber::fmt::layer()
                .event_format(format())
                .with_writer(log_file.clone())
                .with_ansi(false),
        )
        .init();
    gas_miner::logs::install_panic_hook(!to_terminal);
    Some((logs, log_file))
}

/// The console to open in this terminal for the demo: gas-console beside this binary, when
/// both ends are a terminal.
fn demo_console(no_console: bool) -> Option<PathBuf> {
    if no_console || !std::io::stdin().is_terminal() || !std::io::stdout().is_terminal() {
        return None;
    }
    let console = std::env::current_exe().ok()?.with_file_name("gas-console");
    console.exists().then_some(console)
}

fn demo(options: gas_miner::demo::DemoOptions, no_console: bool) -> ExitCode {
    if let Err(f) = gas_miner::demo::prepare(&options.state_dir) {
        eprintln!("gas-miner demo: {}", f.message);
        return ExitCode::from(f.code.clamp(1, 255) as u8);
    }
    let console = demo_console(no_console);
    // With the console in this terminal, the log goes to the file (and the console's Logs).
    let Some((logs, log_file)) =
        init_logging(&options.state_dir, "info", "[DEMO] ", console.is_none())
    else {
        return ExitCode::from(2);
    };
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("gas-miner demo: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let socket = options.state_dir.join("admin.sock");
    eprintln!(
        "=== gas-miner DEMO: a made-up validator, local studios and a demo CA; nothing is real and nothing leaves this machine ==="
    );
    if console.is_none() {
        eprintln!(
            "=== DEMO: watch it with  gas-console --socket {}   (or just gas-console)   ·   stop: Ctrl-C ===",
            socket.display()
        );
    }
    let outcome = runtime.block_on(async {
        let demo = tokio::spawn(gas_miner::demo::run(options, logs));
        if let Some(console) = console {
            let socket = socket.clone();
            let _ = tokio::task::spawn_blocking(move || {
                let began = std::time::Instant::now();
                while std::os::unix::net::UnixStream::connect(&socket).is_err() {
                    if began.elapsed() > std::time::Duration::from_secs(30) {
                        return;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                let _ = std::process::Command::new(console)
                    .arg("--socket")
                    .arg(&socket)
                    .status();
                eprintln!("=== DEMO: console closed; stopping the demo… (log: gas-miner logs --state-dir {}) ===", socket.parent().map(|p| p.display().to_string()).unwrap_or_default());
                let _ = gas_miner::client::request(
                    &socket,
                    "POST",
                    "/shutdown",
                    None,
                    std::time::Duration::from_secs(5),
                );
            })
            .await;
        }
        demo.await
    });
    match outcome {
        Ok(Ok(tally)) => {
            eprintln!(
                "=== gas-miner DEMO finished: {} challenges, {} passed, {} rejected, {} failure webhooks ===",
                tally.sent, tally.passed, tally.rejected, tally.failures
            );
            ExitCode::SUCCESS
        }
        Ok(Err(f)) => failed(&f, &log_file),
        Err(e) => failed(
            &gas_miner::daemon::Fatal {
                code: 1,
                message: format!("the demo stopped: {e}"),
            },
            &log_file,
        ),
    }
}
