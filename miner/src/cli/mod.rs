//! The operator commands, as the reference's `gascli generator` has them: process control
//! (`start`, `stop`, `restart`, and `supervise`, what `start` runs in tmux), reports
//! (`status`, `info`, `logs`; `perf`, our standing with the subnet; `doctor`, everything
//! checked online before going live), `verify-c2pa`,
//! `trust update`, and the foreground `run` and `demo`. Each prints what it did and returns
//! why it could not as a [`CliError`]; `main` turns that into the message and the exit status
//! (0 ok, 1 a check failed, 2 bad usage or configuration) in one place.

mod doctor;
mod fleet;
mod perf;
mod process;
mod report;
mod run;
mod tasks;
mod tmux;
mod trust;
mod verify;

pub use doctor::doctor;
pub use fleet::{Targets, list, status_all};
pub use perf::{parse_modality, perf};
pub use process::{load_launch_env, restart, start, stop, supervise};
pub use report::{info, logs, status};
pub use run::{demo, run};
pub use tasks::{Ask, Format, parse_state, tasks};
pub use trust::trust_update;
pub use verify::verify_c2pa;

pub use crate::daemon::Fatal;
use gas_client::ClientError;
use gas_shared::admin::Status;
use std::path::PathBuf;

/// Why a command did not do its job.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Bad usage or configuration, one line per problem (exit 2).
    #[error("{}", prefixed("gas-miner", .0))]
    Config(Vec<String>),
    /// A check failed or the work could not be done (exit 1).
    #[error("gas-miner: {0}")]
    Failed(String),
    /// A check failed and what the command printed already says which (exit 1).
    #[error("")]
    ChecksFailed,
    /// The miner stopped, or could not start, with its own exit status.
    #[error("gas-miner: {}", crate::secret::scrub(&.0.message))]
    Stopped(Fatal),
    /// The demo could not start or stopped, with its own exit status.
    #[error("gas-miner demo: {}", crate::secret::scrub(&.0.message))]
    Demo(Fatal),
}

/// The hotkey's password when it is encrypted: `BT_HOTKEY_PASSWORD`, else asked on the
/// terminal when there is one.
fn hotkey_password() -> Option<String> {
    use std::io::IsTerminal;
    std::env::var("BT_HOTKEY_PASSWORD").ok().or_else(|| {
        std::io::stdin()
            .is_terminal()
            .then(|| rpassword::prompt_password("hotkey password: ").ok())
            .flatten()
    })
}

/// The configured hotkey, its password from the environment or the terminal.
fn load_hotkey(config: &crate::config::Config) -> Result<crate::identity::Hotkey, CliError> {
    crate::identity::Hotkey::load(
        &config.wallet_path,
        &config.wallet_name,
        &config.wallet_hotkey,
        &hotkey_password,
    )
    .map_err(|e| CliError::Config(vec![e.to_string()]))
}

fn prefixed(who: &str, lines: &[String]) -> String {
    lines
        .iter()
        .map(|l| format!("{who}: {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

impl CliError {
    /// The exit status this error deserves.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Config(_) => 2,
            CliError::Failed(_) | CliError::ChecksFailed => 1,
            CliError::Stopped(f) | CliError::Demo(f) => f.code.clamp(1, 255) as u8,
        }
    }
}

impl From<ClientError> for CliError {
    fn from(e: ClientError) -> CliError {
        CliError::Failed(e.to_string())
    }
}

/// Where a miner keeps its state and answers, and its name when known.
#[derive(Debug, Clone)]
pub struct Place {
    pub state_dir: PathBuf,
    pub socket: PathBuf,
    pub name: Option<String>,
}

impl Place {
    /// With neither given, the usual place, unless only a `gas-miner demo` runs here (as
    /// gas-console finds it).
    pub fn new(state_dir: Option<&str>, socket: Option<&str>) -> Place {
        if state_dir.is_none() && socket.is_none() {
            let usual = crate::config::state_dir(None);
            let demo = gas_shared::admin::demo_state_dir();
            if !usual.join("admin.sock").exists() && demo.join("admin.sock").exists() {
                return Place {
                    socket: demo.join("admin.sock"),
                    state_dir: demo,
                    name: Some("demo".into()),
                };
            }
        }
        let state_dir = crate::config::state_dir(state_dir);
        let socket = crate::config::socket_path(socket, &state_dir);
        // The card of the miner that keeps its state there names it.
        let name = fleet::card_of(&state_dir).map(|c| c.name);
        Place {
            state_dir,
            socket,
            name,
        }
    }

    /// The miner named `name` on this box (its card in the fleet directory).
    pub fn named(name: &str) -> Result<Place, CliError> {
        let card = gas_client::fleet::find(name).ok_or_else(|| {
            let known: Vec<String> = gas_client::fleet::cards()
                .into_iter()
                .map(|c| c.name)
                .collect();
            CliError::Failed(format!(
                "no miner named {name} on this box ({}); see `gas-miner list`",
                if known.is_empty() {
                    "none is known yet".to_string()
                } else {
                    format!("known: {}", known.join(", "))
                }
            ))
        })?;
        Ok(Place::of(&card))
    }

    pub(crate) fn of(card: &gas_client::fleet::Card) -> Place {
        Place {
            state_dir: card.state_dir.clone(),
            socket: card.socket.clone(),
            name: Some(card.name.clone()),
        }
    }

    /// Its tmux session, when its name is known.
    fn session(&self) -> Option<String> {
        self.name.as_deref().map(tmux::session)
    }

    /// Whether its tmux session exists.
    fn in_tmux(&self) -> bool {
        self.session()
            .is_some_and(|s| tmux::session_exists(&s) == Some(true))
    }

    fn logs(&self) -> PathBuf {
        self.state_dir.join("logs")
    }

    /// The running miner's status, or why there is none.
    fn status(&self) -> Result<Status, ClientError> {
        gas_client::blocking::get_json(&self.socket, "/status")
    }
}
