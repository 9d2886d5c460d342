//! `gas-miner run`: wires the parts together (`assemble`) and serves until SIGINT/SIGTERM,
//! then drains. The chain side lives in `chain`, the background chores in `chores`.

mod chain;
mod chores;

use crate::admin::Admin;
use crate::api::{ApiState, router};
use crate::chain::MetagraphCache;
use crate::chain::subtensor::Subtensor;
use crate::clock::now_ms;
use crate::config::Config;
use crate::epistula::ReplayCache;
use crate::identity::Hotkey;
use crate::logs::LogRing;
use crate::pipeline::Pipeline;
use crate::preflight::Preflight;
use crate::providers::registry::Chains;
use crate::standing::Standing;
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

pub(crate) async fn run(config: Config, key: Hotkey, logs: LogRing) -> Result<(), Fatal> {
    let chains = config.provider_chains();
    run_with(config, key, logs, chains, None).await
}

/// How long a stop waits for the work in flight (generations, webhooks) before it leaves the
/// rest to the next start.
const DRAIN: Duration = Duration::from_secs(30);
/// How often refused requests are summed up in the log.
const REJECTIONS_EVERY: Duration = Duration::from_secs(10);

/// `run` with the provider chains given (the demo brings its own), stopping by itself after
/// `until` if given.
pub(crate) async fn run_with(
    config: Config,
    key: Hotkey,
    logs: LogRing,
    chains: Chains,
    until: Option<Duration>,
) -> Result<(), Fatal> {
    let preflight = open_preflight(&config)?;
    tracing::info!(anchors = preflight.trusted().anchors.count(), dir = %config.trust_anchors.display(), "trust anchors loaded");
    let store = open_store(&config, &preflight)?;
    let key = Arc::new(key);
    // Claimed before anything else runs: a live socket means another miner on this state.
    let admin_listener = crate::admin::bind(&config.admin_socket)
        .await
        .map_err(|e| fatal(1, e.to_string()))?;
    let (metagraph, chain) = chain::load_metagraph(&config, &store, &key).await?;
    tokio::spawn(chores::watch_anchors(preflight.clone()));
    if let Some(chain) = &chain {
        tokio::spawn(chain::keep_axon_served(
            chain.clone(),
            key.clone(),
            config.clone(),
        ));
    }
    let Parts {
        store,
        pipeline,
        outbox,
        admin,
        api: state,
        stop: stop_tx,
        standing,
    } = assemble(
        &config,
        key.clone(),
        logs,
        chains,
        store,
        preflight,
        (metagraph, chain),
    )?;
    let stop_rx = stop_tx.subscribe();
    // Beside the miner, never in its way: a slow or absent API only ages the view.
    tokio::spawn(standing.run(config.standing_poll, stop_tx.subscribe()));
    let (broken_tx, broken_rx) = tokio::sync::watch::channel(None::<String>);
    tokio::spawn(chores::watch_store(
        store.clone(),
        broken_tx,
        stop_tx.clone(),
    ));
    let metrics_admin = admin.clone();
    for modality in Modality::ALL {
        let names = pipeline.chain_names(modality);
        if names.is_empty() {
            tracing::info!("POST /gen_{modality} → no service (answers 503)");
        } else {
            tracing::info!("POST /gen_{modality} → {}", names.join(" → "));
        }
    }
    pipeline.check_models();
    let resumed = pipeline.recover().map_err(|e| fatal(1, e.to_string()))?;
    if resumed > 0 {
        tracing::info!(tasks = resumed, "resumed unfinished tasks");
    }
    tokio::spawn(outbox.clone().run());

    let drain_pipeline = pipeline;
    tokio::spawn(chores::log_usage(store.clone(), Duration::from_secs(3600)));
    tokio::spawn(chores::prune_old(store.clone(), config.retention));
    if let Some(addr) = config.metrics_addr {
        let a = metrics_admin.clone();
        crate::metrics::serve_tcp(addr, move || a.metrics_text())
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
    tracing::info!(%addr, hotkey = %key.ss58(), admin_socket = %config.admin_socket.display(), name = %config.name, "gas-miner listening");
    if !config.demo {
        register(&config, key.ss58());
    }
    let signal = stop_tx.clone();
    // A closed terminal ends the demo; a real miner takes SIGHUP as "reload the anchors".
    let hangup_stops = config.demo;
    tokio::spawn(async move {
        match until {
            Some(after) => {
                tokio::select! {
                    () = chores::shutdown_signal(hangup_stops) => {}
                    () = tokio::time::sleep(after) => tracing::info!("the demo's time is up"),
                }
            }
            None => chores::shutdown_signal(hangup_stops).await,
        }
        let _ = signal.send(true);
    });
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    // The admin socket stays up while draining, so `gas-miner stop` and consoles can watch.
    let (done_tx, done_rx) = tokio::sync::watch::channel(false);
    let admin_task = tokio::spawn(crate::admin::serve(admin_listener, admin, stopped(done_rx)));
    tokio::spawn(crate::rejections::report(
        state.rejections.clone(),
        REJECTIONS_EVERY,
    ));
    axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
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

/// Leaves this miner's card in the fleet directory, so that `gas-miner list`, `--name` and
/// the console find it. Not fatal: the miner serves without it.
fn register(config: &Config, hotkey: &str) {
    let card = gas_client::fleet::Card {
        name: config.name.clone(),
        hotkey: hotkey.to_string(),
        wallet: config.wallet_name.clone(),
        wallet_hotkey: config.wallet_hotkey.clone(),
        state_dir: std::path::absolute(&config.state_dir).unwrap_or(config.state_dir.clone()),
        socket: std::path::absolute(&config.admin_socket).unwrap_or(config.admin_socket.clone()),
        port: config.port,
        env_file: config.env_file.clone(),
        pid: std::process::id(),
        started_ms: now_ms(),
        demo: config.demo,
    };
    if let Err(e) = gas_client::fleet::register(&card) {
        tracing::warn!(dir = %gas_client::fleet::dir().display(), error = %e, "this miner could not be listed in the fleet directory: gas-miner list and --name will not find it (set GAS_FLEET_DIR to a writable directory)");
    }
}

/// The trust anchors' judge; without anchors the miner does not start (exit 2).
fn open_preflight(config: &Config) -> Result<Arc<Preflight>, Fatal> {
    Preflight::new(&config.trust_anchors)
        .map(Arc::new)
        .map_err(|e| fatal(2, e.to_string()))
}

/// The state database, with the pre-flight's memory of recent deliveries restored from it.
fn open_store(config: &Config, preflight: &Preflight) -> Result<Store, Fatal> {
    let store = Store::open_with_cache(&config.state_dir, config.db_cache_mb)
        .map_err(|e| fatal(1, e.to_string()))?;
    preflight.restore(
        store
            .recent_phashes()
            .map_err(|e| fatal(1, e.to_string()))?,
    );
    Ok(store)
}

/// The miner's parts on one state directory, wired together: what `run` serves, and what the
/// tests start in-process (`crate::testing`).
pub(crate) struct Parts {
    pub store: Store,
    pub pipeline: Arc<Pipeline>,
    pub outbox: Arc<Outbox>,
    pub admin: Arc<Admin>,
    /// The validator-facing API's state (`crate::api::router`).
    pub api: Arc<ApiState>,
    /// Set to stop: no new challenges, then the drain.
    pub stop: tokio::sync::watch::Sender<bool>,
    /// What the subnet pays us: read beside the miner (`Standing::run`).
    pub standing: Arc<Standing>,
}

/// Wires statistics, the webhook outbox, the pipeline, the admin side (with the service
/// selection saved from gas-console, if any) and the API state around an open store.
pub(crate) fn assemble(
    config: &Config,
    key: Arc<Hotkey>,
    logs: LogRing,
    chains: Chains,
    store: Store,
    preflight: Arc<Preflight>,
    (metagraph, chain): (MetagraphCache, Option<Arc<Subtensor>>),
) -> Result<Parts, Fatal> {
    let stats = Arc::new(Stats::load(store.clone()));
    let standing = Arc::new(Standing::new(
        store.clone(),
        key.clone(),
        &config.gas_api_url,
        chain,
    ));
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
        crate::providers::health::Health::new(config.breaker_pause),
        Arc::new(crate::budget::Budget::new(config.budget)),
        config.tier_retry,
        config.max_concurrent_tasks,
        (config.task_timeout, config.video_timeout),
        outbox.wake.clone(),
        config.save_locally.then(|| config.output_dir.clone()),
    );
    let stop = tokio::sync::watch::channel(false).0;
    let rejections = Arc::new(crate::rejections::Rejections::default());
    let admin = Arc::new(Admin {
        rejections: rejections.clone(),
        stop: stop.clone(),
        demo: config.demo,
        store: store.clone(),
        pipeline: pipeline.clone(),
        preflight,
        metagraph: metagraph.clone(),
        key: key.clone(),
        stats: stats.clone(),
        logs,
        config: config.clone(),
        started_ms: now_ms(),
        socket: config.admin_socket.clone(),
        standing: standing.clone(),
    });
    apply_saved_services(&admin);
    let api = Arc::new(ApiState {
        store: store.clone(),
        pipeline: pipeline.clone(),
        metagraph,
        stats,
        key,
        replay: ReplayCache::default(),
        force_validator_permit: config.force_validator_permit,
        webhook_deadline: config.webhook_deadline,
        max_concurrent_tasks: config.max_concurrent_tasks,
        task_timeout: config.task_timeout,
        started: Instant::now(),
        webhook_guard: config.webhook_guard.clone(),
        admission_max_wait: config.admission_max_wait,
        queue_max: config.queue_max,
        rejections,
    });
    Ok(Parts {
        store,
        pipeline,
        outbox,
        admin,
        api,
        stop,
        standing,
    })
}

/// The service selection saved from gas-console, if one was, used instead of the env file's.
fn apply_saved_services(admin: &Admin) {
    let Ok(Some(saved)) = admin.store.setting(crate::admin::SERVICES_SETTING) else {
        return;
    };
    let chain = |m: &str| {
        saved[m].as_str().map(|s| {
            if s.is_empty() {
                "none".to_string()
            } else {
                s.to_string()
            }
        })
    };
    let update = gas_shared::admin::ServicesUpdate {
        image: chain("image"),
        video: chain("video"),
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
