//! The admin socket: HTTP + JSON over a Unix socket (`GAS_ADMIN_SOCKET`, default
//! `<state dir>/admin.sock`), the way dockerd serves docker, so `curl --unix-socket` works for
//! scripts and gas-console attaches to it. Mode 0600 and the peer's uid checked against ours;
//! a stale socket (nobody answering) is replaced, a live one means another miner: refused.
//! Secrets never cross it. Message types: `gas_shared::admin`.

use crate::chain::MetagraphCache;
use crate::config::Config;
use crate::identity::Hotkey;
use crate::logs::LogRing;
use crate::pipeline::Pipeline;
use crate::preflight::Preflight;
use crate::providers::registry::{self, ProviderSettings, select_chain};
use crate::stats::Stats;
use crate::store::Store;
use crate::task::TaskRecord;
use axum::body::{Body, Bytes};
use axum::extract::connect_info::{ConnectInfo, Connected};
use axum::extract::{Path, Query, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use gas_shared::Modality;
use gas_shared::admin::*;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::UnixListener;

/// Everything the admin handlers read or steer.
pub struct Admin {
    pub store: Store,
    pub pipeline: Arc<Pipeline>,
    pub preflight: Arc<Preflight>,
    pub metagraph: MetagraphCache,
    pub key: Arc<Hotkey>,
    pub stats: Arc<Stats>,
    pub logs: LogRing,
    pub config: Config,
    pub started_ms: i64,
    pub socket: PathBuf,
    /// Asks the daemon to drain and stop (`POST /shutdown`, `gas-miner stop`).
    pub stop: tokio::sync::watch::Sender<bool>,
    pub demo: bool,
}

/// Why the admin socket cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum SocketError {
    #[error(
        "admin socket {} is live: another gas-miner is running with it; stop that one, or give this one its own MINER_STATE_DIR or GAS_ADMIN_SOCKET",
        path.display()
    )]
    Live { path: PathBuf },
    #[error("stale admin socket {} cannot be removed: {source}", path.display())]
    Stale {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("admin socket directory {}: {source}", dir.display())]
    Directory {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("admin socket {} cannot be created: {source}", path.display())]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("admin socket {}: {source}", path.display())]
    Mode {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// A service selection that cannot be used: one line per problem.
#[derive(Debug, thiserror::Error)]
#[error("{}", .0.join("; "))]
pub struct SelectionRefused(pub Vec<String>);

/// This process's effective uid (the owner of `/proc/self`).
fn own_uid() -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").ok().map(|m| m.uid())
}

/// Binds the socket: a stale one is removed, a live one is another miner's.
pub async fn bind(path: &std::path::Path) -> Result<UnixListener, SocketError> {
    let path_buf = || path.to_path_buf();
    if path.exists() {
        match tokio::net::UnixStream::connect(path).await {
            Ok(_) => return Err(SocketError::Live { path: path_buf() }),
            Err(_) => {
                tracing::info!(socket = %path.display(), "removing a stale admin socket");
                std::fs::remove_file(path).map_err(|source| SocketError::Stale {
                    path: path_buf(),
                    source,
                })?;
            }
        }
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|source| SocketError::Directory {
            dir: parent.to_path_buf(),
            source,
        })?;
    }
    let listener = UnixListener::bind(path).map_err(|source| SocketError::Create {
        path: path_buf(),
        source,
    })?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(|source| {
        SocketError::Mode {
            path: path_buf(),
            source,
        }
    })?;
    Ok(listener)
}

/// Who is on the other end of a connection.
#[derive(Clone, Copy, Debug)]
pub struct Peer {
    uid: Option<u32>,
}

impl Connected<axum::serve::IncomingStream<'_, UnixListener>> for Peer {
    fn connect_info(stream: axum::serve::IncomingStream<'_, UnixListener>) -> Peer {
        Peer {
            uid: stream.io().peer_cred().ok().map(|c| c.uid()),
        }
    }
}

/// Serves until `shutdown` resolves, then removes the socket.
pub async fn serve(
    listener: UnixListener,
    admin: Arc<Admin>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) {
    let path = admin.socket.clone();
    let app = router(admin).into_make_service_with_connect_info::<Peer>();
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
    {
        tracing::error!(error = %e, "admin socket stopped");
    }
    let _ = std::fs::remove_file(&path);
}

pub fn router(admin: Arc<Admin>) -> Router {
    Router::new()
        .route("/status", get(status))
        .route("/tasks", get(tasks))
        .route("/tasks/{id}", get(task))
        .route("/tasks/{id}/verify", post(verify))
        .route("/services", get(services).put(set_services))
        .route("/trust/reload", post(reload_trust))
        .route("/logs", get(logs))
        .route("/events", get(events))
        .route("/shutdown", post(shutdown))
        .route("/metrics", get(metrics))
        .fallback(unknown)
        .layer(axum::middleware::from_fn(same_user))
        .with_state(admin)
}

/// A request for no endpoint: said in the same JSON as every other error.
async fn unknown(method: axum::http::Method, uri: axum::http::Uri) -> Response {
    error(
        StatusCode::NOT_FOUND,
        format!(
            "no admin endpoint {method} {}: see GET /status, /tasks, /tasks/<id>, /services, /logs, /events, /metrics",
            uri.path()
        ),
    )
}

fn error(status: StatusCode, text: impl Into<String>) -> Response {
    (status, Json(ErrorReply { error: text.into() })).into_response()
}

/// Only the user the miner runs as may use the socket (root excepted).
async fn same_user(ConnectInfo(peer): ConnectInfo<Peer>, request: Request, next: Next) -> Response {
    let ours = own_uid();
    match (peer.uid, ours) {
        (Some(p), Some(o)) if p == o || p == 0 => next.run(request).await,
        (p, _) => {
            tracing::warn!(peer_uid = ?p, "admin socket: a connection from another user was refused");
            error(
                StatusCode::FORBIDDEN,
                "this admin socket belongs to another user: run gas-console as the user gas-miner runs as",
            )
        }
    }
}

impl Admin {
    pub fn status(&self) -> Status {
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
        let (throughput, preflight, acceptance, mut validators) = self.stats.snapshot(now);
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
            })
            .collect();
        providers.sort_by(|a, b| a.name.cmp(&b.name));
        Status {
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
            acceptance,
            providers,
            validators,
            services: self.services(),
            trust_anchors: self.preflight.trusted().anchors.count(),
            admin_socket: self.socket.display().to_string(),
            demo: self.demo,
            pid: std::process::id(),
        }
    }

    fn services(&self) -> Services {
        Services {
            image: names(self.pipeline.chain_names(Modality::Image)),
            video: names(self.pipeline.chain_names(Modality::Video)),
            known: self
                .config
                .catalog
                .iter()
                .map(|k| ServiceInfo {
                    name: k.service.name().to_string(),
                    image: k.service.can_serve(Modality::Image),
                    video: k.service.can_serve(Modality::Video),
                    key_set: k.key.is_some(),
                })
                .collect(),
            overridden: self
                .store
                .setting(SERVICES_SETTING)
                .ok()
                .flatten()
                .is_some(),
        }
    }

    /// Applies a selection (`image`/`video` as comma lists) to new tasks; `Err` says why not.
    pub fn apply_services(&self, update: &ServicesUpdate) -> Result<(), SelectionRefused> {
        let mut chains = Vec::new();
        let mut problems = Vec::new();
        for (modality, text, var) in [
            (Modality::Image, &update.image, "image"),
            (Modality::Video, &update.video, "video"),
        ] {
            let Some(text) = text else {
                continue;
            };
            let text = if text.trim().is_empty() { "none" } else { text };
            match select_chain(&self.config.catalog, var, text, modality) {
                Ok(chain) => chains.push((
                    modality,
                    registry::build_chain(modality, &chain, &self.config.tuning()),
                )),
                Err(p) => problems.extend(p),
            }
        }
        if !problems.is_empty() {
            return Err(SelectionRefused(problems));
        }
        for (modality, chain) in chains {
            let names: Vec<&str> = chain.iter().map(|p| p.name()).collect();
            tracing::info!(
                "service selection for {modality}s: {}",
                if names.is_empty() {
                    "none".to_string()
                } else {
                    names.join(" → ")
                }
            );
            self.pipeline.set_chain(modality, chain);
        }
        Ok(())
    }

    fn detail(&self, task: &TaskRecord) -> TaskDetail {
        let calls = self.store.calls(&task.task_id).unwrap_or_default();
        let verdicts = self.store.verdicts(&task.task_id).unwrap_or_default();
        let deliveries = self.store.deliveries(&task.task_id).unwrap_or_default();
        let mut timeline = vec![TimelineEntry {
            at_ms: task.created_ms,
            what: format!(
                "challenge accepted from {} ({} {})",
                task.validator, task.modality, task.tier
            ),
        }];
        if let Some(t) = task.started_ms {
            timeline.push(TimelineEntry {
                at_ms: t,
                what: "generation started".into(),
            });
        }
        for c in &calls {
            timeline.push(TimelineEntry {
                at_ms: c.at_ms,
                what: format!(
                    "{} {} {} → {} in {} ms{}",
                    c.provider,
                    c.op,
                    c.model,
                    c.status.map_or("no answer".to_string(), |s| s.to_string()),
                    c.latency_ms,
                    c.error
                        .as_deref()
                        .map(|e| format!(": {e}"))
                        .unwrap_or_default()
                ),
            });
        }
        for v in &verdicts {
            timeline.push(TimelineEntry {
                at_ms: v.checked_at_ms,
                what: if v.passed {
                    format!("pre-flight passed ({})", v.provider)
                } else {
                    format!(
                        "pre-flight failed ({}): {}",
                        v.provider,
                        v.reasons.join("; ")
                    )
                },
            });
        }
        for d in &deliveries {
            timeline.push(TimelineEntry {
                at_ms: d.at_ms,
                what: format!(
                    "{} webhook #{} → {}: {}",
                    d.kind,
                    d.attempt,
                    d.status.map_or("no answer".to_string(), |s| s.to_string()),
                    crate::text::truncate(&d.body, 200)
                ),
            });
        }
        if let Some(t) = task.finished_ms {
            timeline.push(TimelineEntry {
                at_ms: t,
                what: format!("finished: {}", task.state),
            });
        }
        timeline.sort_by_key(|e| e.at_ms);
        TaskDetail {
            summary: task.summary(),
            prompt: task.prompt.clone(),
            parameters: task.parameters.clone(),
            webhook_url: task.webhook_url.clone(),
            timeline,
            calls: calls
                .into_iter()
                .map(|c| CallView {
                    provider: c.provider,
                    op: c.op,
                    model: c.model,
                    status: c.status,
                    error: c.error,
                    latency_ms: c.latency_ms,
                    bytes: c.bytes,
                    cost_usd: c.cost_usd,
                    at_ms: c.at_ms,
                    request: c.request,
                })
                .collect(),
            verdicts,
            deliveries: deliveries
                .into_iter()
                .map(|d| DeliveryView {
                    attempt: d.attempt,
                    kind: d.kind,
                    status: d.status,
                    reply: d.body,
                    at_ms: d.at_ms,
                })
                .collect(),
            media_path: task
                .media
                .as_ref()
                .map(|m| self.store.media_dir().join(&m.file).display().to_string()),
            outcome: match &task.outcome {
                Some(crate::task::Outcome::Failure { message }) => Some(message.clone()),
                Some(crate::task::Outcome::Success) => Some("media delivered as success".into()),
                None => None,
            },
        }
    }
}

/// The setting that holds the console's service selection.
pub const SERVICES_SETTING: &str = "services";

fn names(list: Vec<&'static str>) -> Vec<String> {
    list.into_iter().map(str::to_string).collect()
}

/// Drains and stops, as SIGTERM does: no new challenges, work in flight finished (or left to
/// the next start), state flushed.
async fn shutdown(State(a): State<Arc<Admin>>) -> Response {
    tracing::info!("stop asked on the admin socket");
    let _ = a.stop.send(true);
    (
        StatusCode::ACCEPTED,
        Json(serde_json::json!({"stopping": true, "pid": std::process::id()})),
    )
        .into_response()
}

async fn metrics(State(a): State<Arc<Admin>>) -> Response {
    (
        [("content-type", crate::metrics::CONTENT_TYPE)],
        crate::metrics::render(&a.status(), a.pipeline.running()),
    )
        .into_response()
}

async fn status(State(a): State<Arc<Admin>>) -> Json<Status> {
    Json(a.status())
}

async fn tasks(State(a): State<Arc<Admin>>, Query(q): Query<TaskQuery>) -> Response {
    let store = a.store.clone();
    match tokio::task::spawn_blocking(move || store.list_tasks(&q)).await {
        Ok(Ok(page)) => Json(page).into_response(),
        Ok(Err(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn task(State(a): State<Arc<Admin>>, Path(id): Path<String>) -> Response {
    match a.store.get(&id) {
        Ok(Some(t)) => Json(a.detail(&t)).into_response(),
        Ok(None) => error(StatusCode::NOT_FOUND, format!("no task {id}")),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// Judges a task's stored media again, with the current anchors (recorded as a verdict).
async fn verify(State(a): State<Arc<Admin>>, Path(id): Path<String>) -> Response {
    let task = match a.store.get(&id) {
        Ok(Some(t)) => t,
        Ok(None) => return error(StatusCode::NOT_FOUND, format!("no task {id}")),
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    let Some(media) = task.media.clone() else {
        return error(
            StatusCode::CONFLICT,
            format!(
                "task {id} has no media kept (state {}): nothing to verify",
                task.state
            ),
        );
    };
    let path = a.store.media_dir().join(&media.file);
    if !path.exists() {
        return error(
            StatusCode::GONE,
            format!(
                "the media of task {id} ({}) is no longer on disk",
                path.display()
            ),
        );
    }
    let (pf, t) = (a.preflight.clone(), task.clone());
    let verdict = match tokio::task::spawn_blocking(move || pf.judge(&path, &t, "replay")).await {
        Ok(v) => v,
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    let _ = a.store.record_verdict(&id, &verdict);
    Json(verdict).into_response()
}

async fn services(State(a): State<Arc<Admin>>) -> Json<Services> {
    Json(a.services())
}

async fn set_services(State(a): State<Arc<Admin>>, Json(update): Json<ServicesUpdate>) -> Response {
    if update.reset {
        let env = ServicesUpdate {
            image: Some(names_or_none(&a.config.image_chain)),
            video: Some(names_or_none(&a.config.video_chain)),
            reset: false,
        };
        if let Err(e) = a.apply_services(&env) {
            return error(StatusCode::BAD_REQUEST, e.to_string());
        }
        let _ = a.store.set_setting(SERVICES_SETTING, None);
        return Json(a.services()).into_response();
    }
    if let Err(e) = a.apply_services(&update) {
        return error(StatusCode::BAD_REQUEST, format!("selection refused: {e}"));
    }
    let current = a.services();
    let saved =
        serde_json::json!({"image": current.image.join(","), "video": current.video.join(",")});
    if let Err(e) = a.store.set_setting(SERVICES_SETTING, Some(&saved)) {
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("applied but not saved: {e}"),
        );
    }
    Json(a.services()).into_response()
}

fn names_or_none(chain: &[ProviderSettings]) -> String {
    if chain.is_empty() {
        "none".into()
    } else {
        chain
            .iter()
            .map(|p| p.service.name())
            .collect::<Vec<_>>()
            .join(",")
    }
}

async fn reload_trust(State(a): State<Arc<Admin>>) -> Response {
    match a.preflight.reload() {
        Ok(n) => {
            tracing::info!(anchors = n, "trust anchors reloaded from the admin socket");
            Json(TrustReload { anchors: n }).into_response()
        }
        Err(e) => error(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("anchors not reloaded (the previous set stays): {e}"),
        ),
    }
}

#[derive(serde::Deserialize)]
struct LogQuery {
    n: Option<usize>,
}

async fn logs(State(a): State<Arc<Admin>>, Query(q): Query<LogQuery>) -> Json<LogTail> {
    Json(LogTail {
        lines: a.logs.tail(q.n.unwrap_or(200).min(5000)),
    })
}

fn line(event: &Event) -> Bytes {
    let mut v = serde_json::to_vec(event).unwrap_or_default();
    v.push(b'\n');
    Bytes::from(v)
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
async fn events(State(a): State<Arc<Admin>>) -> Response {
    struct Feed {
        admin: Arc<Admin>,
        tasks: tokio::sync::broadcast::Receiver<TaskSummary>,
        logs: tokio::sync::broadcast::Receiver<String>,
        tick: tokio::time::Interval,
        first: bool,
    }
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let feed = Feed {
        tasks: a.store.subscribe(),
        logs: a.logs.subscribe(),
        admin: a,
        tick,
        first: true,
    };
    use tokio::sync::broadcast::error::RecvError;
    let stream = futures_util::stream::unfold(feed, |mut f| async move {
        if f.first {
            f.first = false;
            f.tick.tick().await;
            let snap = snapshot(&f.admin);
            return Some((Ok::<_, std::convert::Infallible>(line(&snap)), f));
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
            _ = f.tick.tick() => Event::Status(Box::new(f.admin.status())),
        };
        Some((Ok(line(&event)), f))
    });
    Response::builder()
        .header("content-type", "application/x-ndjson")
        .body(Body::from_stream(stream))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}
