//! `gas-miner run`: wires the parts together and serves until SIGINT/SIGTERM.

use crate::admin::Admin;
use crate::api::{ApiState, router};
use crate::chain::subtensor::{ServeOutcome, Subtensor};
use crate::chain::{AxonInfo, ChainError, Metagraph, MetagraphCache, MetagraphFile, MetagraphSource};
use crate::config::Config;
use crate::clock::now_ms;
use crate::epistula::ReplayCache;
use crate::identity::Hotkey;
use crate::logs::LogRing;
use crate::pipeline::Pipeline;
use crate::providers::registry::Chains;
use crate::preflight::Preflight;
use crate::stats::Stats;
use crate::store::Store;
use crate::webhook::Outbox;
use gas_shared::Modality;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A start-up failure or a reason to stop, and the exit status it deserves (2: configuration,
/// 1: anything else).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Fatal {
    pub code: i32,
    pub message: String,
}

fn fatal(code: i32, message: impl Into<String>) -> Fatal {
    Fatal {
        code,
        message: message.into(),
    }
}

pub async fn run(config: Config, key: Hotkey, logs: LogRing) -> Result<(), Fatal> {
    let chains = config.provider_chains();
    run_with(config, key, logs, chains, None).await
}

/// How long a stop waits for the work in flight (generations, webhooks) before it leaves the
/// rest to the next start.
const DRAIN: Duration = Duration::from_secs(30);

/// `run` with the provider chains given (the demo brings its own), stopping by itself after
/// `until` if given.
pub async fn run_with(
    config: Config,
    key: Hotkey,
    logs: LogRing,
    chains: Chains,
    until: Option<Duration>,
) -> Result<(), Fatal> {
    let preflight =
        Arc::new(Preflight::new(&config.trust_anchors).map_err(|e| fatal(2, e.to_string()))?);
    tracing::info!(anchors = preflight.trusted().anchors.count(), dir = %config.trust_anchors.display(), "trust anchors loaded");
    let store = Store::open(&config.state_dir).map_err(|e| fatal(1, e.to_string()))?;
    preflight.restore(
        store
            .recent_phashes()
            .map_err(|e| fatal(1, e.to_string()))?,
    );
    let key = Arc::new(key);
    // Claimed before anything else runs: a live socket means another miner on this state.
    let admin_listener = crate::admin::bind(&config.admin_socket)
        .await
        .map_err(|e| fatal(1, e.to_string()))?;
    let (metagraph, chain) = load_metagraph(&config, &store, &key).await?;
    let stats = Arc::new(Stats::load(store.clone()));
    tokio::spawn(watch_anchors(preflight.clone()));
    if let Some(chain) = chain {
        tokio::spawn(keep_axon_served(chain, key.clone(), config.clone()));
    }
    let outbox = Outbox::new(
        store.clone(),
        key.clone(),
        Arc::default(),
        stats.clone(),
        config.webhook_guard.clone(),
    )
    .map_err(|e| fatal(1, e.to_string()))?;
    let pipeline = Pipeline::new(
        store.clone(),
        chains,
        preflight.clone(),
        stats.clone(),
        config.max_concurrent_tasks,
        (config.task_timeout, config.video_timeout),
        outbox.wake.clone(),
        config.save_locally.then(|| config.output_dir.clone()),
    );
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let (broken_tx, broken_rx) = tokio::sync::watch::channel(None::<String>);
    tokio::spawn(watch_store(store.clone(), broken_tx, stop_tx.clone()));
    let admin = Arc::new(Admin {
        stop: stop_tx.clone(),
        demo: config.demo,
        store: store.clone(),
        pipeline: pipeline.clone(),
        preflight: preflight.clone(),
        metagraph: metagraph.clone(),
        key: key.clone(),
        stats: stats.clone(),
        logs,
        config: config.clone(),
        started_ms: now_ms(),
        socket: config.admin_socket.clone(),
    });
    let metrics_admin = admin.clone();
    if let Ok(Some(saved)) = store.setting(crate::admin::SERVICES_SETTING) {
        let update = gas_shared::admin::ServicesUpdate {
            image: saved["image"].as_str().map(|s| {
                if s.is_empty() {
                    "none".into()
                } else {
                    s.to_string()
                }
            }),
            video: saved["video"].as_str().map(|s| {
                if s.is_empty() {
                    "none".into()
                } else {
                    s.to_string()
                }
            }),
            reset: false,
        };
        match admin.apply_services(&update) {
            Ok(()) => tracing::warn!(
                "using the service selection saved from gas-console (its Services screen can reset it to .env.gen_miner's)"
            ),
            Err(e) => {
                tracing::error!(error = %e, "the service selection saved from gas-console no longer works; using .env.gen_miner's")
            }
        }
    }
    for modality in Modality::ALL {
        let names = pipeline.chain_names(modality);
        if names.is_empty() {
            tracing::info!("POST /gen_{modality} → no service (answers 503)");
        } else {
            tracing::info!("POST /gen_{modality} → {}", names.join(" → "));
        }
    }
    let resumed = pipeline.recover().map_err(|e| fatal(1, e.to_string()))?;
    if resumed > 0 {
        tracing::info!(tasks = resumed, "resumed unfinished tasks");
    }
    tokio::spawn(outbox.clone().run());

    let drain_pipeline = pipeline.clone();
    let state = Arc::new(ApiState {
        store: store.clone(),
        pipeline,
        metagraph,
        stats,
        key: key.clone(),
        replay: ReplayCache::default(),
        force_validator_permit: config.force_validator_permit,
        webhook_deadline: config.webhook_deadline,
        max_concurrent_tasks: config.max_concurrent_tasks,
        task_timeout: config.task_timeout,
        started: Instant::now(),
        webhook_guard: config.webhook_guard.clone(),
    });
    tokio::spawn(log_usage(store.clone(), Duration::from_secs(3600)));
    tokio::spawn(prune_old(store.clone(), config.retention));
    if let Some(addr) = config.metrics_addr {
        let a = metrics_admin.clone();
        crate::metrics::serve_tcp(addr, move || {
            crate::metrics::render(&a.status(), a.pipeline.running())
        })
        .await
        .map_err(|e| fatal(1, e.to_string()))?;
    }
    let sweeper = state.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(10)).await;
            sweeper.replay.sweep(now_ms());
        }
    });
    let addr = std::net::SocketAddr::new(config.bind_ip, config.port);
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
        fatal(
            1,
            format!("cannot listen on {addr}: {e}; pick another BT_AXON_PORT or stop what uses it"),
        )
    })?;
    tracing::info!(%addr, hotkey = %key.ss58(), admin_socket = %config.admin_socket.display(), "gas-miner listening");
    let signal = stop_tx.clone();
    let _ = &metrics_admin;
    // A closed terminal ends the demo; a real miner takes SIGHUP as "reload the anchors".
    let hangup_stops = config.demo;
    tokio::spawn(async move {
        match until {
            Some(after) => {
                tokio::select! {
                    () = shutdown_signal(hangup_stops) => {}
                    () = tokio::time::sleep(after) => tracing::info!("the demo's time is up"),
                }
            }
            None => shutdown_signal(hangup_stops).await,
        }
        let _ = signal.send(true);
    });
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    // The admin socket stays up while draining, so `gas-miner stop` and consoles can watch.
    let (done_tx, done_rx) = tokio::sync::watch::channel(false);
    let admin_task = tokio::spawn(crate::admin::serve(admin_listener, admin, stopped(done_rx)));
    axum::serve(listener, router(state))
        .with_graceful_shutdown(stopped(stop_rx))
        .await
        .map_err(|e| fatal(1, format!("server stopped: {e}")))?;
    if let Some(why) = broken_rx.borrow().clone() {
        return Err(fatal(
            1,
            format!(
                "the state database in {} can no longer be written ({why}); stopped so that a restart recovers every accepted task from disk: free space or fix the disk (gas-miner start and systemd restart it by themselves)",
                config.state_dir.display()
            ),
        ));
    }
    let started = Instant::now();
    tracing::info!(
        generations = drain_pipeline.running(),
        deliveries = outbox.in_flight(),
        "stopping: no new challenges; finishing the work in flight (up to {} s)",
        DRAIN.as_secs()
    );
    let generations = drain_pipeline.drain(DRAIN).await;
    let deliveries = outbox.drain(DRAIN.saturating_sub(started.elapsed())).await;
    store.flush().map_err(|e| fatal(1, e.to_string()))?;
    tracing::info!(
        generations_left = generations,
        deliveries_left = deliveries,
        took_ms = started.elapsed().as_millis() as u64,
        "stopped: state flushed; anything left resumes at the next start"
    );
    let _ = done_tx.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(5), admin_task).await;
    Ok(())
}

/// Watches that the state database can still write. sled stops for good after a failed
/// write (a full disk, an I/O error): the miner then stops at once, and a restart recovers
/// everything that was durable, which includes every challenge answered 201.
async fn watch_store(
    store: Store,
    broken: tokio::sync::watch::Sender<Option<String>>,
    stop: tokio::sync::watch::Sender<bool>,
) {
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let s = store.clone();
        if let Ok(Err(e)) = tokio::task::spawn_blocking(move || s.flush()).await {
            tracing::error!(error = %e, "the state database can no longer be written; stopping");
            let _ = broken.send(Some(e.to_string()));
            let _ = stop.send(true);
            return;
        }
    }
}

/// The first metagraph: from the file, or the chain; with the chain unreachable, the last good
/// copy saved by an earlier run (said to be stale, with its age). Not being registered is a
/// start-up error. Starts the periodic sync; returns the chain client when there is one.
async fn load_metagraph(
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
        .unwrap_or_else(|_| Err(ChainError::Timeout(60)));
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
async fn keep_axon_served(chain: Arc<Subtensor>, key: Arc<Hotkey>, config: Config) {
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

/// Applies changed trust anchors without a restart: at once on SIGHUP, else within 30 s of
/// the directory changing (`gas-miner trust update`). A broken directory keeps the old set.
async fn watch_anchors(preflight: Arc<Preflight>) {
    let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
    loop {
        let forced = tokio::select! {
            _ = async {
                match hup.as_mut() {
                    Some(h) => { h.recv().await; }
                    None => std::future::pending::<()>().await,
                }
            } => true,
            _ = tokio::time::sleep(Duration::from_secs(30)) => false,
        };
        let outcome = if forced {
            Some(preflight.reload())
        } else {
            preflight.reload_if_changed()
        };
        match outcome {
            Some(Ok(n)) => tracing::info!(anchors = n, "trust anchors reloaded"),
            Some(Err(e)) => {
                tracing::error!(error = %e, "trust anchors not reloaded; the previous set stays in force")
            }
            None => {}
        }
    }
}

/// Prunes finished tasks older than `keep`, now (after a minute) and then hourly.
async fn prune_old(store: Store, keep: Duration) {
    // Soon after start (recovery first), then hourly.
    tokio::time::sleep(Duration::from_secs(5)).await;
    loop {
        let cutoff = now_ms() - keep.as_millis() as i64;
        let s = store.clone();
        match tokio::task::spawn_blocking(move || s.prune(cutoff)).await {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => tracing::info!(
                tasks = n,
                keep_days = keep.as_secs() / 86_400,
                "pruned old tasks and their media (counters kept)"
            ),
            Ok(Err(e)) => tracing::warn!(error = %e, "pruning failed; will try again in an hour"),
            Err(e) => tracing::warn!(error = %e, "pruning failed; will try again in an hour"),
        }
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
}

/// Every `every`, one log line per provider that was called since the last: calls, errors,
/// latency and estimated spend, so an operator reading logs sees what the miner costs.
async fn log_usage(store: Store, every: Duration) {
    let mut last: std::collections::HashMap<String, u64> = Default::default();
    loop {
        tokio::time::sleep(every).await;
        for (provider, u) in store.provider_usage() {
            if last.get(&provider) == Some(&u.calls) {
                continue;
            }
            last.insert(provider.clone(), u.calls);
            tracing::info!(
                provider = %provider,
                calls = u.calls,
                errors = u.errors,
                p50_ms = u.latency_ms(0.5),
                p95_ms = u.latency_ms(0.95),
                spend_usd = format!("{:.2}", u.cost_usd),
                "provider usage since the database was created (estimated list prices)"
            );
        }
    }
}

async fn shutdown_signal(hangup_stops: bool) {
    use tokio::signal::unix::SignalKind;
    let wait_for = |kind: SignalKind| async move {
        match tokio::signal::unix::signal(kind) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    let hangup = async {
        if hangup_stops {
            wait_for(SignalKind::hangup()).await
        } else {
            std::future::pending::<()>().await
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = wait_for(SignalKind::terminate()) => {}
        _ = hangup => {}
    }
}
