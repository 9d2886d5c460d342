//! Who may call us: the subnet's metagraph, behind a small trait so the miner does not care
//! whether it came from the chain or from an operator's file. The live copy is re-synced
//! periodically and the last good one keeps serving when a sync fails.

use async_trait::async_trait;
use serde::Deserialize;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// One registered key on the subnet, with its total stake `S` in TAO.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Neuron {
    pub uid: u16,
    pub hotkey: String,
    pub stake: f64,
    #[serde(default)]
    pub validator_permit: bool,
}

/// A snapshot of the subnet's neurons, indexed by hotkey.
#[derive(Debug, Clone, Default)]
pub struct Metagraph {
    pub netuid: u16,
    neurons: Vec<Neuron>,
    by_hotkey: HashMap<String, usize>,
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
            neurons,
            by_hotkey,
        }
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

/// Where metagraph snapshots come from.
#[async_trait]
pub trait MetagraphSource: Send + Sync {
    /// A short name for logs (`file /etc/gas/metagraph.json`, `chain wss://…`).
    fn describe(&self) -> String;
    async fn fetch(&self) -> anyhow::Result<Metagraph>;
}

/// Offline mode: `BT_METAGRAPH_FILE`, `{"netuid": 34, "neurons": [{uid, hotkey, stake,
/// validator_permit}]}` with stake in TAO. Re-read on every sync, so edits apply live.
pub struct MetagraphFile {
    pub path: PathBuf,
}

#[derive(Deserialize)]
struct MetagraphDoc {
    netuid: u16,
    neurons: Vec<Neuron>,
}

impl MetagraphFile {
    pub fn read(&self) -> anyhow::Result<Metagraph> {
        let text = std::fs::read_to_string(&self.path).map_err(|e| {
            anyhow::anyhow!(
                "metagraph file {} could not be read: {e}; create it or point BT_METAGRAPH_FILE at it",
                self.path.display()
            )
        })?;
        let doc: MetagraphDoc = serde_json::from_str(&text).map_err(|e| {
            anyhow::anyhow!(
                "metagraph file {} is not valid: {e} (expected {{\"netuid\": 34, \"neurons\": [{{\"uid\": 0, \"hotkey\": \"5…\", \"stake\": 50000.0, \"validator_permit\": true}}]}})",
                self.path.display()
            )
        })?;
        Ok(Metagraph::new(doc.netuid, doc.neurons))
    }
}

#[async_trait]
impl MetagraphSource for MetagraphFile {
    fn describe(&self) -> String {
        format!("file {}", self.path.display())
    }

    async fn fetch(&self) -> anyhow::Result<Metagraph> {
        self.read()
    }
}

/// The metagraph the API checks against: swapped whole on each successful sync.
#[derive(Clone, Default)]
pub struct MetagraphCache {
    current: Arc<RwLock<Arc<Metagraph>>>,
}

impl MetagraphCache {
    pub fn new(initial: Metagraph) -> MetagraphCache {
        MetagraphCache {
            current: Arc::new(RwLock::new(Arc::new(initial))),
        }
    }

    pub fn get(&self) -> Arc<Metagraph> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn set(&self, graph: Metagraph) {
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(graph);
    }

    /// Re-syncs every `every`, keeping the last good copy when the source fails.
    pub fn spawn_sync(&self, source: Arc<dyn MetagraphSource>, every: Duration) {
        let cache = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.tick().await;
            loop {
                tick.tick().await;
                match source.fetch().await {
                    Ok(graph) => cache.set(graph),
                    Err(e) => tracing::warn!(
                        source = %source.describe(),
                        error = %e,
                        "metagraph sync failed; serving the last good copy"
                    ),
                }
            }
        });
    }
}
