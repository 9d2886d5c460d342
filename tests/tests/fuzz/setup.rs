//! What several targets start from: the keys and the metagraph that registers them, trust
//! anchors holding a test CA, a runtime, and a task record as the miner stores one.

use gas_miner::chain::{Metagraph, Neuron};
use gas_miner::clock::now_ms;
use gas_miner::config::Settings;
use gas_miner::identity::Hotkey;
use gas_miner::task::TaskRecord;
use gas_shared::{Modality, Tier};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

/// The miner, the registered validator, a key nobody registered, and the metagraph of the
/// first two.
pub struct Keys {
    pub miner: Hotkey,
    pub validator: Hotkey,
    pub outsider: Hotkey,
    pub graph: Metagraph,
}

/// Made once per process, for every target.
pub fn keys() -> Arc<Keys> {
    static KEYS: OnceLock<Arc<Keys>> = OnceLock::new();
    KEYS.get_or_init(|| {
        let miner = gas_tests::key(gas_tests::MINER_PHRASE);
        let validator = gas_tests::key(gas_tests::VALIDATOR_PHRASE);
        let outsider = gas_tests::key(gas_tests::OUTSIDER_PHRASE);
        let graph = Metagraph::new(
            34,
            vec![
                Neuron {
                    uid: 0,
                    hotkey: validator.ss58().to_string(),
                    stake: 50_000.0,
                    validator_permit: true,
                    axon: None,
                },
                Neuron {
                    uid: 1,
                    hotkey: miner.ss58().to_string(),
                    stake: 0.0,
                    validator_permit: false,
                    axon: None,
                },
            ],
        );
        Arc::new(Keys {
            miner,
            validator,
            outsider,
            graph,
        })
    })
    .clone()
}

/// The API key every provider here is given; nothing it plans may show it.
pub const PROVIDER_KEY: &str = "sk-fuzz-secret-key-0123456789";

/// The settings of an in-process miner on `dir`: every service keyed (with [`PROVIDER_KEY`])
/// and pointed at a closed local port, so nothing leaves the machine.
pub fn settings(dir: &Path, anchors: &Path) -> Settings {
    let path = |p: &Path| Some(p.display().to_string());
    let closed = || Some("http://127.0.0.1:9".to_string());
    Settings {
        state_dir: path(&dir.join("state")),
        trust_anchors: path(anchors),
        admin_socket: path(&dir.join("admin.sock")),
        openai_api_key: Some(PROVIDER_KEY.into()),
        open_router_api_key: Some(PROVIDER_KEY.into()),
        stability_api_key: Some(PROVIDER_KEY.into()),
        runwayml_api_key: Some(PROVIDER_KEY.into()),
        openai_base_url: closed(),
        open_router_base_url: closed(),
        stability_base_url: closed(),
        runway_base_url: closed(),
        ..Default::default()
    }
}

/// What the in-process rigs start from: a temp dir, a runtime, trust anchors holding the test
/// CA, and the keys.
pub fn rig_basics() -> (
    tempfile::TempDir,
    tokio::runtime::Runtime,
    PathBuf,
    Arc<Keys>,
) {
    gas_tests::install_crypto();
    let dir = tempfile::tempdir().expect("tempdir");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let (_, anchors) = gas_tests::fixtures::trusted_ca(dir.path(), "GAS Fuzz Root");
    (dir, rt, anchors, keys())
}

/// A challenge from the validator as the miner stores it once accepted.
pub fn task(modality: Modality, prompt: &str, parameters: Value, tier: Tier) -> TaskRecord {
    let now = now_ms();
    TaskRecord {
        webhook_url: "https://validator.example/hook".into(),
        validator: keys().validator.ss58().to_string(),
        ..TaskRecord::accepted(
            uuid_like(now),
            modality,
            prompt.to_string(),
            parameters,
            tier,
            (now, now + 3_600_000),
        )
    }
}

/// A task id that looks like a UUID, made from `n`.
pub fn uuid_like(n: i64) -> String {
    format!("00000000-0000-4000-8000-{:012x}", n.rem_euclid(1 << 48))
}
