//! The miner as its own tests and benchmarks reach it (the `gas-tests` crate), and nothing
//! else: the rest of the crate's inside is `pub(crate)`.
//!
//! - [`InProcess`]: a miner's parts started in-process on a state directory, wired as `run`
//!   wires them (store, pre-flight, statistics, pipeline, the admin side, the API state),
//!   without the chain, the axon or a running outbox: the validator-facing router to send
//!   requests through, and the admin socket to serve. As pueue's tests start its daemon.
//! - The state database ([`Store`]) to seed a state directory before a start, or to read
//!   what a stopped miner left.
//! - The provider clients and their trait, to check what each would ask for, and to stand a
//!   provider of a test's own in a chain.
//! - Log files and the secret-scrubbing panic hook, to check that nothing leaks.

pub use crate::api::BODY_LIMIT;
pub use crate::daemon::Fatal;
pub use crate::logs::{LogFile, LogRing, install_panic_hook};
pub use crate::netguard::WebhookGuard;
pub use crate::providers::registry::Chains;
pub use crate::providers::{
    Generated, Job, Plan, Provider, ProviderError, Tuning, openai, openrouter, params, runway,
    stability,
};
pub use crate::secret::keep_secret;
/// The validators' reward formula on a list of outcomes (the standing estimate), to compare
/// with an independent implementation.
pub use crate::standing::estimate::{Gates, Outcome as RewardOutcome, estimate};
pub use crate::store::{OutboxChange, Store, StoreError};

use crate::chain::{Metagraph, MetagraphCache};
use crate::config::{Config, Settings};
use crate::daemon::{Parts, assemble};
use crate::identity::Hotkey;
use gas_shared::Modality;
use std::sync::Arc;

/// A miner's parts on a state directory, in this process.
pub struct InProcess {
    config: Config,
    parts: Parts,
}

impl InProcess {
    /// Starts on `settings` (state dir, trust anchors, admin socket, services) as hotkey
    /// `key`, with validators checked against `graph`. `chains` replaces the configured
    /// provider clients when given. Must be called inside a tokio runtime.
    pub fn start(
        settings: &Settings,
        key: Hotkey,
        graph: Metagraph,
        chains: Option<Chains>,
    ) -> Result<InProcess, Fatal> {
        let config = settings.resolve().map_err(|problems| Fatal {
            code: 2,
            message: problems.join("; "),
        })?;
        let preflight = crate::preflight::Preflight::new(&config.trust_anchors)
            .map(Arc::new)
            .map_err(|e| Fatal {
                code: 2,
                message: e.to_string(),
            })?;
        let store = Store::open(&config.state_dir).map_err(|e| Fatal {
            code: 1,
            message: e.to_string(),
        })?;
        let chains = chains.unwrap_or_else(|| config.provider_chains());
        let metagraph = MetagraphCache::new(graph, "in-process".into(), false);
        let parts = assemble(
            &config,
            Arc::new(key),
            LogRing::default(),
            chains,
            store,
            preflight,
            (metagraph, None),
        )?;
        Ok(InProcess { config, parts })
    }

    /// The validator-facing API (`/gen_image`, `/gen_video`, …) behind the Epistula guard.
    pub fn router(&self) -> axum::Router {
        crate::api::router(self.parts.api.clone())
    }

    /// The state database.
    pub fn store(&self) -> &Store {
        &self.parts.store
    }

    /// Serves the admin socket (the settings' `GAS_ADMIN_SOCKET`) in the background.
    pub async fn serve_admin(&self) -> Result<(), crate::admin::SocketError> {
        let listener = crate::admin::bind(&self.config.admin_socket).await?;
        tokio::spawn(crate::admin::serve(
            listener,
            self.parts.admin.clone(),
            std::future::pending(),
        ));
        Ok(())
    }

    /// Adds a line to the log the admin socket shows.
    pub fn log(&self, line: &str) {
        self.parts.admin.logs.push(line);
    }

    /// The services the settings name for `modality`, in fallback order.
    pub fn configured_services(&self, modality: Modality) -> Vec<String> {
        self.config
            .chain(modality)
            .iter()
            .map(|p| p.service.name().to_string())
            .collect()
    }
}
