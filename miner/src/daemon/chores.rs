//! The daemon's background chores: the database's health, trust anchors reloaded when they
//! change, hourly pruning and usage lines, and the signals that stop it.

use crate::clock::now_ms;
use crate::preflight::Preflight;
use crate::store::Store;
use std::sync::Arc;
use std::time::Duration;

/// Watches that the state database can still write. sled stops for good after a failed
/// write (a full disk, an I/O error): the miner then stops at once, and a restart recovers
/// everything that was durable, which includes every challenge answered 201. Each second it
/// also lets sled free the pages it replaced while the miner is idle.
pub(super) async fn watch_store(
    store: Store,
    broken: tokio::sync::watch::Sender<Option<String>>,
    stop: tokio::sync::watch::Sender<bool>,
) {
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let s = store.clone();
        let flushed = tokio::task::spawn_blocking(move || {
            s.let_go_of_replaced_pages();
            s.flush()
        });
        if let Ok(Err(e)) = flushed.await {
            tracing::error!(error = %e, "the state database can no longer be written; stopping");
            let _ = broken.send(Some(e.to_string()));
            let _ = stop.send(true);
            return;
        }
    }
}

/// Applies changed trust anchors without a restart: at once on SIGHUP, else within 30 s of
/// the directory changing (`gas-miner trust update`). A broken directory keeps the old set.
pub(super) async fn watch_anchors(preflight: Arc<Preflight>) {
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
pub(super) async fn prune_old(store: Store, keep: Duration) {
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
pub(super) async fn log_usage(store: Store, every: Duration) {
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

pub(super) async fn shutdown_signal(hangup_stops: bool) {
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
