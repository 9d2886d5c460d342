//! The daemon and the chain: the first metagraph (from the chain, a saved copy when it is
//! down, or the offline file), its periodic sync, and keeping our axon served.

use super::{Fatal, fatal};
use crate::chain::subtensor::{ServeOutcome, Subtensor};
use crate::chain::{
    AxonInfo, ChainError, Metagraph, MetagraphCache, MetagraphFile, MetagraphSource,
};
use crate::clock::now_ms;
use crate::config::Config;
use crate::identity::Hotkey;
use crate::store::Store;
use std::sync::Arc;
use std::time::Duration;

/// The first metagraph: from the file, or the chain; with the chain unreachable, the last good
/// copy saved by an earlier run (said to be stale, with its age). Not being registered is a
/// start-up error. Starts the periodic sync; returns the chain client when there is one.
pub(super) async fn load_metagraph(
    config: &Config,
    store: &Store,
    key: &Hotkey,
) -> Result<(MetagraphCache, Option<Arc<Subtensor>>), Fatal> {
    let (source, chain): (Arc<dyn MetagraphSource>, Option<Arc<Subtensor>>) =
        match &config.metagraph_file {
            Some(path) => (Arc::new(MetagraphFile { path: path.clone() }), None),
            None => {
                let chain = Arc::new(Subtensor::new(&config.chain_endpoint, config.netuid));
                (chain.clone(), Some(chain))
            }
        };
    let first = tokio::time::timeout(Duration::from_secs(60), source.fetch())
        .await
        .unwrap_or(Err(ChainError::Timeout(60)));
    let (graph, stale) = match first {
        Ok(graph) => {
            if chain.is_some()
                && let Err(e) = store.save_metagraph(&config.chain_endpoint, graph.netuid, &graph)
            {
                tracing::warn!(error = %e, "metagraph could not be saved");
            }
            (graph, false)
        }
        Err(e) if chain.is_none() => return Err(fatal(2, e.to_string())),
        Err(e) => match store.load_metagraph::<Metagraph>(&config.chain_endpoint, config.netuid) {
            Ok(Some(saved)) => {
                let age_s = (now_ms() - saved.fetched_ms) / 1000;
                tracing::warn!(error = %e, age_s, block = ?saved.block, "the chain is unreachable; serving the last good metagraph, saved {age_s} s ago");
                (saved, true)
            }
            Err(saved) => {
                return Err(fatal(
                    1,
                    format!(
                        "the metagraph cannot be read from {} ({e}) and the saved copy is unreadable ({saved}); check BT_CHAIN_ENDPOINT and the network, or use BT_METAGRAPH_FILE",
                        config.chain_endpoint
                    ),
                ));
            }
            Ok(None) => {
                return Err(fatal(
                    1,
                    format!(
                        "the metagraph cannot be read from {} ({e}) and no earlier copy is saved; check BT_CHAIN_ENDPOINT and the network, or use BT_METAGRAPH_FILE",
                        config.chain_endpoint
                    ),
                ));
            }
        },
    };
    if graph.neuron(key.ss58()).is_none() {
        if chain.is_none() {
            tracing::warn!(hotkey = %key.ss58(), source = %source.describe(), "our hotkey is not in the metagraph file: validators will not find this miner");
        } else {
            return Err(fatal(
                2,
                format!(
                    "hotkey {} ({}/{}) is not registered on subnet {} ({}): register it with `btcli subnet register --netuid {} --wallet.name {} --wallet.hotkey {}`, or check BT_NETUID and BT_WALLET_HOTKEY",
                    key.ss58(),
                    config.wallet_name,
                    config.wallet_hotkey,
                    graph.netuid,
                    source.describe(),
                    graph.netuid,
                    config.wallet_name,
                    config.wallet_hotkey
                ),
            ));
        }
    }
    tracing::info!(uid = graph.neuron(key.ss58()).map(|n| n.uid), netuid = graph.netuid, hotkey = %key.ss58(), neurons = graph.len(), block = ?graph.block, stale, source = %source.describe(), "registered; metagraph loaded");
    let cache = MetagraphCache::new(graph, source.describe(), stale);
    let saver = store.clone();
    let persist = chain.is_some();
    let endpoint = config.chain_endpoint.clone();
    let interval = if chain.is_some() {
        config.metagraph_sync
    } else {
        Duration::from_secs(60)
    };
    cache.spawn_sync(source, interval, move |g| {
        if persist && let Err(e) = saver.save_metagraph(&endpoint, g.netuid, g) {
            tracing::warn!(error = %e, "metagraph could not be saved");
        }
    });
    Ok((cache, chain))
}

/// Keeps our axon published: compares the chain's with ours and submits `serve_axon` only
/// when they differ, saying clearly what happened; retries with backoff while the chain is
/// unreachable, and checks again now and then.
pub(super) async fn keep_axon_served(chain: Arc<Subtensor>, key: Arc<Hotkey>, config: Config) {
    let ip = match config.external_ip {
        Some(ip) => ip,
        None => match discover_public_ip().await {
            Some(ip) => {
                tracing::info!(%ip, "public address discovered");
                ip
            }
            None => {
                tracing::error!(
                    "serve_axon skipped: the public address could not be discovered; set BT_AXON_EXTERNAL_IP"
                );
                return;
            }
        },
    };
    let axon = AxonInfo::ours(ip, config.external_port);
    let mut backoff = Duration::from_secs(5);
    loop {
        let wait = match chain.serve_axon(&key, &axon).await {
            Ok(ServeOutcome::AlreadyServed) => {
                tracing::info!(%axon, "axon on chain matches ours");
                backoff = Duration::from_secs(5);
                Duration::from_secs(1800)
            }
            Ok(ServeOutcome::Submitted(hash)) => {
                tracing::info!(%axon, extrinsic = %hash, "serve_axon submitted; checking it was applied");
                backoff = Duration::from_secs(5);
                Duration::from_secs(30)
            }
            Ok(ServeOutcome::Refused(why)) => {
                tracing::error!(%axon, "serve_axon not sent: {why}");
                Duration::from_secs(600)
            }
            Err(e @ ChainError::InvalidTransaction { .. }) => {
                tracing::error!(%axon, error = %e, "serve_axon was refused by the node; trying again in 10 minutes");
                Duration::from_secs(600)
            }
            Err(e) => {
                tracing::warn!(%axon, error = %e, retry_in_s = backoff.as_secs(), "serve_axon failed");
                let w = backoff;
                backoff = (backoff * 2).min(Duration::from_secs(300));
                w
            }
        };
        tokio::time::sleep(wait).await;
    }
}

/// This machine's public address as the outside sees it (first answer of a few services).
async fn discover_public_ip() -> Option<std::net::IpAddr> {
    let client = crate::tls::http_client()
        .timeout(Duration::from_secs(5))
        .build()
        .ok()?;
    for url in [
        "https://api.ipify.org",
        "https://checkip.amazonaws.com",
        "https://icanhazip.com",
    ] {
        if let Ok(resp) = client.get(url).send().await
            && let Ok(text) = resp.text().await
            && let Ok(ip) = text.trim().parse()
        {
            return Some(ip);
        }
    }
    None
}
