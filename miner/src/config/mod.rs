//! Configuration: the settings an operator gives (`settings`, with the env file read first by
//! `env_file`), their resolution into the checked [`Config`] the miner runs with (`resolve`:
//! all problems at once), and where files live (`paths`).

mod env_file;
mod paths;
mod resolve;
mod settings;

pub use env_file::load_env_file;
pub use paths::{anchors_dir, expand_home, socket_path, state_dir};
pub use resolve::DEFAULT_GAS_API_URL;
pub use settings::Settings;

use crate::providers::Tuning;
use crate::providers::registry::{self, Chains, KeyedService, ProviderSettings};
use gas_shared::Modality;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Checked configuration the daemon runs with.
#[derive(Debug, Clone)]
pub struct Config {
    pub image_chain: Vec<ProviderSettings>,
    pub video_chain: Vec<ProviderSettings>,
    /// Every service with its key status, for changing the selection while running.
    pub catalog: Vec<KeyedService>,
    pub wallet_path: PathBuf,
    pub wallet_name: String,
    pub wallet_hotkey: String,
    /// The miner's name on the box (`MINER_NAME`, else `<wallet>-<hotkey>`), made safe for a
    /// file and a tmux session name.
    pub name: String,
    /// The env file read at start, when there was one (`restart --name` reads it again).
    pub env_file: Option<PathBuf>,
    /// MiB of the database's page cache (`MINER_DB_CACHE_MB`).
    pub db_cache_mb: u64,
    pub netuid: u16,
    pub chain_endpoint: String,
    pub bind_ip: IpAddr,
    pub port: u16,
    pub external_ip: Option<IpAddr>,
    pub external_port: u16,
    pub metagraph_sync: Duration,
    pub max_concurrent_tasks: usize,
    pub task_timeout: Duration,
    pub video_timeout: Duration,
    /// The first pause of an open provider breaker (`MINER_BREAKER_PAUSE`).
    pub breaker_pause: Duration,
    /// A challenge whose expected wait is longer is refused (`MINER_ADMISSION_MAX_WAIT`;
    /// zero: no wait check).
    pub admission_max_wait: Duration,
    /// `MINER_QUEUE_MAX`: tasks of one modality queued or generating at most.
    pub queue_max: u64,
    pub output_dir: PathBuf,
    pub state_dir: PathBuf,
    pub trust_anchors: PathBuf,
    pub admin_socket: PathBuf,
    pub save_locally: bool,
    pub log_filter: &'static str,
    pub metagraph_file: Option<PathBuf>,
    pub force_validator_permit: bool,
    pub webhook_deadline: Duration,
    pub provider_timeout: Duration,
    pub video_poll_interval: Option<Duration>,
    /// `gas-miner demo`: local fakes only, said everywhere.
    pub demo: bool,
    /// Finished tasks, their media and records are pruned after this long.
    pub retention: Duration,
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// Where webhooks may go: public addresses and the networks in `MINER_WEBHOOK_ALLOW`.
    pub webhook_guard: crate::netguard::WebhookGuard,
    /// The subnet's API (`GAS_API_URL`), read for our standing.
    pub gas_api_url: String,
    /// How often the standing is read from it; None: only when asked.
    pub standing_poll: Option<Duration>,
    /// Spend limits per rolling 24 hours (`MINER_BUDGET_USD_PER_DAY[_IMAGE|_VIDEO]`).
    pub budget: crate::budget::Limits,
    /// The prices in force: built-in, overridden by `MINER_PRICES_FILE`.
    pub prices: std::sync::Arc<crate::providers::prices::PriceTable>,
    pub prices_file: Option<PathBuf>,
    /// `MINER_TIER_RETRY`: a tier shortfall is made once more by a provider that reaches it.
    pub tier_retry: bool,
}

impl Config {
    pub fn chain(&self, modality: Modality) -> &[ProviderSettings] {
        match modality {
            Modality::Image => &self.image_chain,
            Modality::Video => &self.video_chain,
        }
    }

    /// Timeouts and pacing for every provider client.
    pub fn tuning(&self) -> Tuning {
        Tuning {
            call_timeout: self.provider_timeout,
            poll_interval: self.video_poll_interval,
            prices: self.prices.clone(),
        }
    }

    /// The provider clients of the configured chains.
    pub fn provider_chains(&self) -> Chains {
        let tuning = self.tuning();
        Modality::ALL
            .into_iter()
            .map(|m| (m, registry::build_chain(m, self.chain(m), &tuning)))
            .collect()
    }
}
