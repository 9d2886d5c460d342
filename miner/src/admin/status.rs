//! What the miner is doing: `GET /status` (and its Prometheus form, `/metrics`), `/logs`,
//! the `/events` stream (a snapshot, then changes), and `POST /shutdown`.

use super::Admin;
use crate::providers::health::BreakerView;
use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use gas_shared::Modality;
use gas_shared::admin::*;
use std::sync::Arc;
use std::time::Duration;

impl Admin {
    /// `/metrics`: the status and the standing in Prometheus' text format.
    pub(crate) fn metrics_text(&self) -> String {
        let mut text = crate::metrics::render(
            &self.status(),
            self.pipeline.running(),
            &self.standing_view(true),
        );
        text.push_str(&crate::metrics::requests_refused(&self.rejections.totals()));
        let t = self.store.commit_times();
        let at_most: Vec<(u64, u64)> = crate::store::COMMIT_BUCKETS_MS
            .into_iter()
            .zip(t.at_most)
            .collect();
        text.push_str(&crate::metrics::commit_times(
            &at_most, t.count, t.sum_ms, t.max_ms,
        ));
        text
    }

    pub(crate) fn status(&self) -> Status {
        let now = crate::clock::now_ms();
        let graph = self.metagraph.get();
        let me = graph.neuron(self.key.ss58());
        let sync = self.metagraph.sync_state();
        let mut queue: Vec<QueueCount> = self
            .store
            .counts_by_modality()
            .into_iter()
            .map(|((state, modality), count)| QueueCount {
                state,
                modality,
                count,
            })
            .collect();
        queue.sort_by_key(|q| (q.state, q.modality == Modality::Video));
        let (throughput, preflight, replies, mut validators) = self.stats.snapshot(now);
        for v in &mut validators {
            v.uid = graph.neuron(&v.hotkey).map(|n| n.uid);
        }
        let mut providers: Vec<ProviderStats> = self
            .store
            .provider_usage()
            .into_iter()
            .map(|(name, u)| ProviderStats {
                p50_ms: u.latency_ms(0.5),
                p95_ms: u.latency_ms(0.95),
                name,
                calls: u.calls,
                errors: u.errors,
                spend_usd: u.cost_usd,
                health: "ok".to_string(),
                ..ProviderStats::default()
            })
            .collect();
        add_health(&mut providers, self.pipeline.health().views());
        for d in self.pipeline.deliveries() {
            let tier = TierDelivery {
                model: d.model,
                planned: d.planned,
                seen: d.seen as u32,
                short: d.short as u32,
                reaches: d.reaches,
            };
            match providers.iter_mut().find(|p| p.name == d.provider) {
                Some(p) => p.tiers.push(tier),
                None => providers.push(ProviderStats {
                    name: d.provider,
                    health: "ok".to_string(),
                    tiers: vec![tier],
                    ..ProviderStats::default()
                }),
            }
        }
        providers.sort_by(|a, b| a.name.cmp(&b.name));
        Status {
            name: self.config.name.clone(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            hotkey: self.key.ss58().to_string(),
            uid: me.map(|n| n.uid),
            netuid: graph.netuid,
            registered: me.is_some(),
            axon: me.and_then(|n| n.axon.as_ref()).map(|a| a.to_string()),
            metagraph: MetagraphState {
                source: sync.source,
                block: sync.block,
                age_s: (now - sync.fetched_ms) / 1000,
                stale: sync.stale,
                neurons: graph.len(),
            },
            started_ms: self.started_ms,
            now_ms: now,
            queue,
            throughput,
            preflight,
            replies,
            providers,
            validators,
            services: self.services(),
            trust_anchors: self.preflight.trusted().anchors.count(),
            trust_anchors_updated_ms: self.preflight.trusted().anchors.updated_ms(),
            admin_socket: self.socket.display().to_string(),
            demo: self.demo,
            pid: std::process::id(),
            standing: self.standing.summary(),
            refusals: self.stats.refusals(now),
            budget: self
                .pipeline
                .budget()
                .lines(&self.store.spent_last_day(now)),
            disk_free_bytes: self.store.free_bytes(),
            phase: if self.pipeline.draining() || *self.stop.borrow() {
                "draining"
            } else {
                "live"
            }
            .to_string(),
        }
    }
}

/// Puts each breaker under its provider; a provider shows its worst model's state.
fn add_health(providers: &mut Vec<ProviderStats>, views: Vec<BreakerView>) {
    let rank = |state: &str| match state {
        "open" => 2,
        "half-open" => 1,
        _ => 0,
    };
    for v in views {
        let at = match providers.iter().position(|p| p.name == v.provider) {
            Some(at) => at,
            None => {
                providers.push(ProviderStats {
                    name: v.provider.clone(),
                    health: "ok".to_string(),
                    ..ProviderStats::default()
                });
                providers.len() - 1
            }
        };
        let p = &mut providers[at];
        if rank(v.state) > rank(&p.health) {
            p.health = v.state.to_string();
            p.health_reason = v.reason.as_ref().map(|r| format!("{r} ({})", v.model));
            p.open_until_ms = v.open_until_ms;
        }
        p.models.push(ModelHealth {
            model: v.model,
            health: v.state.to_string(),
            reason: v.reason,
            open_until_ms: v.open_until_ms,
        });
    }
}

/// Drains and stops, as SIGTERM does: no new challenges, work in flight finished (or left to
/// the next start), state flushed.
pub(super) async fn shutdown(State(a): State<Arc<Admin>>) -> Response {
    tracing::info!("stop asked on the admin socket");
    let _ = a.stop.send(true);
    (
        StatusCode::ACCEPTED,
        Json(serde_json::json!({"stopping": true, "pid": std::process::id()})),
    )
        .into_response()
}

pub(super) async fn metrics(State(a): State<Arc<Admin>>) -> Response {
    (
        [("content-type", crate::metrics::CONTENT_TYPE)],
        a.metrics_text(),
    )
        .into_response()
}

pub(super) async fn status(State(a): State<Arc<Admin>>) -> Json<Status> {
    Json(a.status())
}

#[derive(serde::Deserialize)]
pub(super) struct LogQuery {
    n: Option<usize>,
}

pub(super) async fn logs(State(a): State<Arc<Admin>>, Query(q): Query<LogQuery>) -> Json<LogTail> {
    Json(LogTail {
        lines: a.logs.tail(q.n.unwrap_or(200).min(5000)),
    })
}

fn line(event: &Event) -> Bytes {
    let mut v = serde_json::to_vec(event).unwrap_or_else(|e| {
        // A type the stream cannot carry: a bug, said where it can be found.
        tracing::error!(error = %e, "an admin event could not be written as JSON");
        Vec::new()
    });
    v.push(b'\n');
    Bytes::from(v)
}

/// The charts' points from `since_ms` on.
fn minutes_since(a: &Admin, since_ms: i64) -> Event {
    Event::Minutes {
        points: a
            .stats
            .minutes(since_ms, &a.store.spend_per_minute(since_ms)),
    }
}

fn snapshot(a: &Admin) -> Event {
    let tasks = a
        .store
        .list_tasks(&TaskQuery {
            limit: Some(200),
            ..TaskQuery::default()
        })
        .map(|p| p.tasks)
        .unwrap_or_default();
    Event::Snapshot {
        status: Box::new(a.status()),
        tasks,
    }
}

/// JSON lines: a snapshot, then task changes, log lines and counters every second; a reader
/// that falls behind is sent a fresh snapshot instead of the deltas it missed.
pub(super) async fn events(State(a): State<Arc<Admin>>) -> Response {
    struct Feed {
        admin: Arc<Admin>,
        tasks: tokio::sync::broadcast::Receiver<TaskSummary>,
        logs: tokio::sync::broadcast::Receiver<String>,
        tick: tokio::time::Interval,
        first: bool,
        /// Ticks since the charts' points were last sent.
        ticks: u32,
        /// The day's points went out after the snapshot.
        minutes_sent: bool,
    }
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let feed = Feed {
        tasks: a.store.subscribe(),
        logs: a.logs.subscribe(),
        admin: a,
        tick,
        first: true,
        ticks: 0,
        minutes_sent: false,
    };
    use tokio::sync::broadcast::error::RecvError;
    let stream = futures_util::stream::unfold(feed, |mut f| async move {
        if f.first {
            f.first = false;
            f.tick.tick().await;
            let snap = snapshot(&f.admin);
            return Some((Ok::<_, std::convert::Infallible>(line(&snap)), f));
        }
        if !f.minutes_sent {
            f.minutes_sent = true;
            let day = minutes_since(&f.admin, crate::clock::now_ms() - 86_400_000);
            return Some((Ok(line(&day)), f));
        }
        let event = tokio::select! {
            t = f.tasks.recv() => match t {
                Ok(t) => Event::Task(Box::new(t)),
                Err(RecvError::Lagged(_)) => {
                    f.tasks = f.tasks.resubscribe();
                    snapshot(&f.admin)
                }
                Err(RecvError::Closed) => return None,
            },
            l = f.logs.recv() => match l {
                Ok(line) => Event::Log { line },
                Err(RecvError::Lagged(_)) => {
                    f.logs = f.logs.resubscribe();
                    snapshot(&f.admin)
                }
                Err(RecvError::Closed) => return None,
            },
            _ = f.tick.tick() => {
                f.ticks += 1;
                // Every fifth second, the minutes that may have changed: this one and the last.
                if f.ticks % 5 == 0 {
                    minutes_since(&f.admin, crate::clock::now_ms() - 60_000)
                } else {
                    Event::Status(Box::new(f.admin.status()))
                }
            }
        };
        Some((Ok(line(&event)), f))
    });
    Response::builder()
        .header("content-type", "application/x-ndjson")
        .body(Body::from_stream(stream))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}
