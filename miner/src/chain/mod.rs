//! Who may call us: the subnet's metagraph, behind a small trait so the miner does not care
//! whether it came from the chain or from an operator's file. The live copy is re-synced
//! periodically (and at once when an unknown key calls), the last good one keeps serving
//! when a sync fails, and it is saved so that a restart with the chain down still knows
//! whom to serve, saying how old its copy is.

pub mod codec;
/// `Subtensor::read_standing`: what the chain says the subnet pays us (STANDING.md §2).
mod standing;
pub mod subtensor;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio::sync::Notify;

/// One registered key on the subnet, with its total stake `S` in TAO.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Neuron {
    pub uid: u16,
    pub hotkey: String,
    pub stake: f64,
    #[serde(default)]
    pub validator_permit: bool,
    /// Where it serves, as published on chain.
    #[serde(default)]
    pub axon: Option<AxonInfo>,
}

/// An axon as `serve_axon` publishes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AxonInfo {
    pub block: u64,
    pub version: u32,
    pub ip: u128,
    pub port: u16,
    pub ip_type: u8,
    pub protocol: u8,
}

impl AxonInfo {
    /// Our axon at `ip:port`, with this build's version as `major·1e6 + minor·1e3 + patch`.
    pub fn ours(ip: IpAddr, port: u16) -> AxonInfo {
        let v: Vec<u32> = env!("CARGO_PKG_VERSION")
            .split('.')
            .map(|p| p.parse().unwrap_or(0))
            .collect();
        let version = v.first().unwrap_or(&0) * 1_000_000
            + v.get(1).unwrap_or(&0) * 1_000
            + v.get(2).unwrap_or(&0);
        let (ip, ip_type) = match ip {
            IpAddr::V4(a) => (u128::from(u32::from(a)), 4),
            IpAddr::V6(a) => (u128::from(a), 6),
        };
        AxonInfo {
            block: 0,
            version,
            ip,
            port,
            ip_type,
            protocol: 4,
        }
    }

    pub fn ip_addr(&self) -> IpAddr {
        if self.ip_type == 6 {
            IpAddr::from(self.ip.to_be_bytes())
        } else {
            IpAddr::from((self.ip as u32).to_be_bytes())
        }
    }

    /// Same address, port and type (the block and version do not matter).
    pub fn same_address(&self, other: &AxonInfo) -> bool {
        (self.ip, self.port, self.ip_type) == (other.ip, other.port, other.ip_type)
    }

    /// Why the chain would refuse to publish this address, if it would.
    pub fn refusal(&self) -> Option<String> {
        let ip = self.ip_addr();
        if ip.is_loopback() || ip.is_unspecified() {
            return Some(format!(
                "bad address: {ip} cannot be published; set BT_AXON_EXTERNAL_IP to this machine's public address"
            ));
        }
        if self.port == 0 {
            return Some("bad address: port 0 cannot be published; set BT_AXON_PORT".into());
        }
        None
    }
}

impl std::fmt::Display for AxonInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.ip_addr() {
            IpAddr::V6(a) => write!(f, "[{a}]:{}", self.port),
            a => write!(f, "{a}:{}", self.port),
        }
    }
}

/// A snapshot of the subnet's neurons, indexed by hotkey.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(from = "MetagraphDoc", into = "MetagraphDoc")]
pub struct Metagraph {
    pub netuid: u16,
    /// The chain block it was read at (none for a file).
    pub block: Option<u64>,
    /// When it was read (ms since the epoch).
    pub fetched_ms: i64,
    neurons: Vec<Neuron>,
    by_hotkey: HashMap<String, usize>,
}

impl From<MetagraphDoc> for Metagraph {
    fn from(doc: MetagraphDoc) -> Metagraph {
        let mut g = Metagraph::new(doc.netuid, doc.neurons);
        g.block = doc.block;
        g.fetched_ms = doc.fetched_ms;
        g
    }
}

impl From<Metagraph> for MetagraphDoc {
    fn from(g: Metagraph) -> MetagraphDoc {
        MetagraphDoc {
            netuid: g.netuid,
            block: g.block,
            fetched_ms: g.fetched_ms,
            neurons: g.neurons,
        }
    }
}

impl Metagraph {
    pub fn new(netuid: u16, neurons: Vec<Neuron>) -> Metagraph {
        let by_hotkey = neurons
            .iter()
            .enumerate()
            .map(|(i, n)| (n.hotkey.clone(), i))
            .collect();
        Metagraph {
            netuid,
            block: None,
            fetched_ms: crate::clock::now_ms(),
            neurons,
            by_hotkey,
        }
    }

    pub fn neurons(&self) -> &[Neuron] {
        &self.neurons
    }

    pub fn neuron(&self, hotkey: &str) -> Option<&Neuron> {
        self.by_hotkey.get(hotkey).map(|&i| &self.neurons[i])
    }

    pub fn len(&self) -> usize {
        self.neurons.len()
    }

    pub fn is_empty(&self) -> bool {
        self.neurons.is_empty()
    }
}

/// Why the chain (or the metagraph file standing in for it) gave no answer.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    /// The node could not be reached.
    #[error("cannot connect to {endpoint}: {detail}")]
    Connect { endpoint: String, detail: String },
    /// A call failed on the node, or got no answer in time.
    #[error("{method} on {endpoint}: {detail}")]
    Rpc {
        method: String,
        endpoint: String,
        detail: String,
    },
    /// The node answered something this build cannot read.
    #[error("{0}")]
    Unreadable(String),
    /// What failed inside a larger step (`NeuronInfoRuntimeApi::get_neurons_lite: …`).
    #[error("{step}: {source}")]
    In {
        step: String,
        source: Box<ChainError>,
    },
    /// The node refused our signed `serve_axon` as an invalid transaction.
    #[error(
        "INVALID TRANSACTION: the node refused serve_axon (spec_version {spec_version}); if this persists the runtime changed and gas-miner needs an upgrade: {source}"
    )]
    InvalidTransaction {
        spec_version: u32,
        source: Box<ChainError>,
    },
    #[error(
        "metagraph file {} could not be read: {source}; create it or point BT_METAGRAPH_FILE at it",
        path.display()
    )]
    FileUnreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "metagraph file {} is not valid: {source} (expected {{\"netuid\": 34, \"neurons\": [{{\"uid\": 0, \"hotkey\": \"5…\", \"stake\": 50000.0, \"validator_permit\": true}}]}})",
        path.display()
    )]
    FileInvalid {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("no answer within {0} s")]
    Timeout(u64),
}

impl ChainError {
    /// This error as the cause of a failed `step`.
    pub fn within(self, step: impl Into<String>) -> ChainError {
        ChainError::In {
            step: step.into(),
            source: Box::new(self),
        }
    }
}

impl From<codec::CodecError> for ChainError {
    fn from(e: codec::CodecError) -> ChainError {
        ChainError::Unreadable(e.0)
    }
}

/// Where metagraph snapshots come from.
#[async_trait]
pub trait MetagraphSource: Send + Sync {
    /// A short name for logs (`file /etc/gas/metagraph.json`, `chain wss://…`).
    fn describe(&self) -> String;
    async fn fetch(&self) -> Result<Metagraph, ChainError>;
}

/// Offline mode: `BT_METAGRAPH_FILE`, `{"netuid": 34, "neurons": [{uid, hotkey, stake,
/// validator_permit}]}` with stake in TAO. Re-read on every sync, so edits apply live.
pub struct MetagraphFile {
    pub path: PathBuf,
}

/// The metagraph as a file or a saved copy holds it.
#[derive(Serialize, Deserialize)]
struct MetagraphDoc {
    netuid: u16,
    #[serde(default)]
    block: Option<u64>,
    #[serde(default)]
    fetched_ms: i64,
    neurons: Vec<Neuron>,
}

impl MetagraphFile {
    pub fn read(&self) -> Result<Metagraph, ChainError> {
        let text =
            std::fs::read_to_string(&self.path).map_err(|source| ChainError::FileUnreadable {
                path: self.path.clone(),
                source,
            })?;
        let doc: MetagraphDoc =
            serde_json::from_str(&text).map_err(|source| ChainError::FileInvalid {
                path: self.path.clone(),
                source,
            })?;
        Ok(Metagraph::new(doc.netuid, doc.neurons))
    }
}

/// How fresh the metagraph in use is.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SyncState {
    pub source: String,
    pub block: Option<u64>,
    pub fetched_ms: i64,
    /// The last sync failed (the copy in use is older than it should be).
    pub stale: bool,
    pub last_error: Option<String>,
}

#[async_trait]
impl MetagraphSource for MetagraphFile {
    fn describe(&self) -> String {
        format!("file {}", self.path.display())
    }

    async fn fetch(&self) -> Result<Metagraph, ChainError> {
        self.read()
    }
}

/// The metagraph the API checks against: swapped whole on each successful sync.
#[derive(Clone, Default)]
pub struct MetagraphCache {
    current: Arc<RwLock<Arc<Metagraph>>>,
    state: Arc<Mutex<SyncState>>,
    wake: Arc<Notify>,
}

/// Shortest time between two syncs asked for by unknown callers.
const ON_DEMAND_GAP: Duration = Duration::from_secs(15);

impl MetagraphCache {
    pub fn new(initial: Metagraph, source: String, stale: bool) -> MetagraphCache {
        let state = SyncState {
            source,
            block: initial.block,
            fetched_ms: initial.fetched_ms,
            stale,
            last_error: None,
        };
        MetagraphCache {
            current: Arc::new(RwLock::new(Arc::new(initial))),
            state: Arc::new(Mutex::new(state)),
            wake: Arc::default(),
        }
    }

    pub fn get(&self) -> Arc<Metagraph> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn sync_state(&self) -> SyncState {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Asks for a sync now (a caller we do not know may have just registered).
    pub fn request_sync(&self) {
        self.wake.notify_one();
    }

    fn set(&self, graph: Metagraph) {
        {
            let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
            s.block = graph.block;
            s.fetched_ms = graph.fetched_ms;
            s.stale = false;
            s.last_error = None;
        }
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(graph);
    }

    fn failed(&self, error: String) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        s.stale = true;
        s.last_error = Some(error);
    }

    /// Re-syncs every `every` (and on request, at most every 15 s), keeping the last good
    /// copy when the source fails and retrying sooner with backoff; each good copy is handed
    /// to `saved` (to persist it).
    pub fn spawn_sync(
        &self,
        source: Arc<dyn MetagraphSource>,
        every: Duration,
        saved: impl Fn(&Metagraph) + Send + Sync + 'static,
    ) {
        let cache = self.clone();
        tokio::spawn(async move {
            let mut wait = every;
            let mut failures = 0u32;
            let mut last = tokio::time::Instant::now();
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    // While the source is failing, the backoff rules; asks wait for it.
                    _ = cache.wake.notified(), if failures == 0 => {
                        let since = last.elapsed();
                        if since < ON_DEMAND_GAP {
                            tokio::time::sleep(ON_DEMAND_GAP - since).await;
                        }
                    }
                }
                last = tokio::time::Instant::now();
                match source.fetch().await {
                    Ok(graph) => {
                        if failures > 0 {
                            tracing::info!(source = %source.describe(), neurons = graph.len(), block = ?graph.block, "metagraph sync works again");
                        }
                        failures = 0;
                        wait = every;
                        saved(&graph);
                        cache.set(graph);
                    }
                    Err(e) => {
                        failures += 1;
                        // 5 s, 10 s, 20 s … up to the normal interval.
                        wait = (Duration::from_secs(5) * 2u32.pow(failures.min(8) - 1)).min(every);
                        let age_s = (crate::clock::now_ms() - cache.get().fetched_ms) / 1000;
                        tracing::warn!(
                            source = %source.describe(),
                            error = %e,
                            age_s,
                            retry_in_s = wait.as_secs(),
                            "metagraph sync failed; serving the last good copy"
                        );
                        cache.failed(e.to_string());
                    }
                }
            }
        });
    }
}
