//! The `gas-miner` binary: the daemon and its operator commands.

use clap::{Parser, Subcommand};
use gas_miner::cli::{self, CliError};
use gas_miner::config::{Settings, load_env_file};
use std::path::PathBuf;
use std::process::ExitCode;

/// jemalloc, not the system's malloc: under a steady load glibc kept the memory the database
/// freed (RSS 237 MB, 133 MB after a `malloc_trim`), so the miner looked like it grew with its
/// history. jemalloc returns freed pages to the system within about a second (its settings are
/// in `.cargo/config.toml`).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

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
    /// Start the miner in a detached tmux session named gas-miner-NAME (checks the configuration, and that no other miner has its state dir, port or hotkey, first)
    Start(Box<Settings>),
    /// Stop the running miner gracefully: no new challenges, work in flight finished, state flushed
    Stop {
        #[command(flatten)]
        place: PlaceArgs,
        /// Every miner on this box
        #[arg(long, conflicts_with_all = ["name", "state_dir", "admin_socket"])]
        all: bool,
    },
    /// Stop, then start again with the env file read anew
    Restart {
        #[command(flatten)]
        settings: Box<Settings>,
        /// Every miner on this box, each with the env file it was started with
        #[arg(long, conflicts_with_all = ["name", "state_dir"])]
        all: bool,
    },
    /// Is it running? Process, uid, queues, pass rates and the last errors (exit 1 if not running); --all: the fleet table
    Status {
        #[command(flatten)]
        place: PlaceArgs,
        /// Every miner on this box, one row each, totals at the bottom
        #[arg(long, conflicts_with_all = ["name", "state_dir", "admin_socket"])]
        all: bool,
        /// With --all: JSON for scripts
        #[arg(long, requires = "all")]
        json: bool,
    },
    /// Every miner known on this box (started here, or running in a gas-miner tmux session), with its state
    List {
        /// JSON for scripts
        #[arg(long)]
        json: bool,
    },
    /// The miner's log files (rotated in <state dir>/logs)
    Logs {
        /// How many lines
        #[arg(short = 'n', long = "lines", default_value_t = 100)]
        lines: usize,
        /// Keep printing what is written
        #[arg(short, long, conflicts_with = "all")]
        follow: bool,
        #[command(flatten)]
        place: PlaceArgs,
        /// The last lines of every miner on this box, each line led by its name
        #[arg(long, conflicts_with_all = ["name", "state_dir", "admin_socket"])]
        all: bool,
    },
    /// The running miner's tasks, newest first, filtered as in the console: a table, or --csv / --json for scripts
    Tasks {
        /// Only this state: queued, generating, preflight, delivering, delivered, failed, expired
        #[arg(long, value_parser = cli::parse_state)]
        state: Option<gas_shared::TaskState>,
        /// Only this modality: image or video
        #[arg(long, value_parser = cli::parse_modality)]
        modality: Option<gas_shared::Modality>,
        /// Only those this provider made
        #[arg(long)]
        provider: Option<String>,
        /// Only these verdicts: passed, failed or c2pa_failed (any attempt failed C2PA)
        #[arg(long)]
        verdict: Option<String>,
        /// Only those whose id, prompt or validator contains this text
        #[arg(long)]
        search: Option<String>,
        /// At most this many
        #[arg(long, default_value_t = 100)]
        limit: usize,
        /// Print JSON (a list of task summaries)
        #[arg(long, conflicts_with = "csv")]
        json: bool,
        /// Print CSV with a header row
        #[arg(long)]
        csv: bool,
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
        /// Where the miner's stderr goes when it stops (`start` prints it)
        #[arg(long)]
        last_words: Option<PathBuf>,
    },
    /// What the subnet pays us and why: the fool-rate gates and validators' verdicts from the subnet's API, then the chain and our estimate from the running miner
    Perf {
        /// Days the API's fool rate covers (1-90)
        #[arg(long, default_value_t = 7)]
        lookback_days: u32,
        /// Only this modality: image or video
        #[arg(long, value_parser = cli::parse_modality)]
        modality: Option<gas_shared::Modality>,
        /// Print the API's answer exactly as received
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        settings: Box<Settings>,
    },
    /// Everything that must be right before going live, checked online: keys, models, trust anchors, chain and axon, the subnet API, disk, clock; exit 1 if any fails
    Doctor(Box<Settings>),
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
    /// The miner's name (see `gas-miner list`)
    #[arg(long, env = "MINER_NAME", conflicts_with_all = ["state_dir", "admin_socket"])]
    name: Option<String>,
    /// State directory (default ~/.local/share/gas-miner)
    #[arg(long, env = "MINER_STATE_DIR")]
    state_dir: Option<String>,
    /// Admin socket (default <state dir>/admin.sock)
    #[arg(long, env = "GAS_ADMIN_SOCKET")]
    admin_socket: Option<String>,
}

impl PlaceArgs {
    fn place(&self) -> Result<cli::Place, CliError> {
        match &self.name {
            Some(name) => cli::Place::named(name),
            None => Ok(cli::Place::new(
                self.state_dir.as_deref(),
                self.admin_socket.as_deref(),
            )),
        }
    }

    fn targets(&self, all: bool) -> Result<cli::Targets, CliError> {
        Ok(match all {
            true => cli::Targets::All,
            false => cli::Targets::One(self.place()?),
        })
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
    match dispatch() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let said = e.to_string();
            if !said.is_empty() {
                eprintln!("{said}");
            }
            ExitCode::from(e.exit_code())
        }
    }
}

/// Reads the env file and the command line, and runs the command.
fn dispatch() -> Result<(), CliError> {
    if let Some(launch) = arg_value("--launch-env") {
        cli::load_launch_env(std::path::Path::new(&launch))?;
    }
    let (env_file, required) = env_file_from_args();
    load_env_file(&env_file, required).map_err(|e| CliError::Config(vec![e.to_string()]))?;
    let cli = Cli::parse();
    let env_file = cli.env_file.clone();
    match cli.command {
        Command::Run(settings) => cli::run(&settings, &env_file),
        Command::Demo {
            state_dir,
            rate,
            duration,
            no_console,
        } => cli::demo(
            gas_miner::demo::DemoOptions {
                state_dir,
                rate,
                duration: duration.map(std::time::Duration::from_secs),
            },
            no_console,
        ),
        Command::Start(settings) => cli::start(&settings, &env_file),
        Command::Stop { place, all } => cli::stop(&place.targets(all)?),
        Command::Restart { settings, all } => {
            let targets = match (all, &settings.name) {
                (true, _) => Some(cli::Targets::All),
                // A miner named on the command line that is known here: started again as
                // it was started.
                (false, Some(name)) if gas_client::fleet::find(name).is_some() => {
                    Some(cli::Targets::One(cli::Place::named(name)?))
                }
                _ => None,
            };
            cli::restart(&settings, &env_file, targets.as_ref())
        }
        Command::Status { place, all, json } => match all {
            true => cli::status_all(json),
            false => cli::status(&place.place()?),
        },
        Command::List { json } => cli::list(json),
        Command::Logs {
            lines,
            follow,
            place,
            all,
        } => cli::logs(&place.targets(all)?, lines, follow),
        Command::Info(settings) => cli::info(&settings, &env_file),
        Command::Tasks {
            state,
            modality,
            provider,
            verdict,
            search,
            limit,
            json,
            csv,
            place,
        } => cli::tasks(
            &place.place()?,
            &cli::Ask {
                state,
                modality,
                provider,
                verdict,
                search,
                limit,
                format: if json {
                    cli::Format::Json
                } else if csv {
                    cli::Format::Csv
                } else {
                    cli::Format::Table
                },
            },
        ),
        Command::Perf {
            lookback_days,
            modality,
            json,
            settings,
        } => cli::perf(&settings, lookback_days, modality, json),
        Command::Doctor(settings) => cli::doctor(&settings),
        // The launch settings were read at the top.
        Command::Supervise {
            launch_env: _,
            last_words,
        } => cli::supervise(&env_file, last_words.as_deref()),
        Command::VerifyC2pa {
            files,
            verbose,
            json,
            anchors,
        } => cli::verify_c2pa(&files, &anchors.dir(), verbose, json),
        Command::Trust {
            action: TrustAction::Update { from, anchors },
        } => cli::trust_update(&anchors.dir(), &from),
    }
}
