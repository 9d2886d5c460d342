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
use crate::stats::Stats;
use crate::store::Store;
use axum::extract::Request;
use axum::extract::connect_info::{ConnectInfo, Connected};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use gas_shared::admin::*;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::net::UnixListener;

mod recent;
mod services;
mod standing;
mod status;
mod tasks;

/// Everything the admin handlers read or steer.
pub(crate) struct Admin {
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
    /// What the subnet pays us (`GET /standing`).
    pub standing: Arc<crate::standing::Standing>,
    /// Requests refused before they were challenges (`/metrics`).
    pub rejections: Arc<crate::rejections::Rejections>,
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
pub(crate) struct SelectionRefused(pub Vec<String>);

/// This process's effective uid (the owner of `/proc/self`).
fn own_uid() -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").ok().map(|m| m.uid())
}

/// Binds the socket: a stale one is removed, a live one is another miner's.
pub(crate) async fn bind(path: &std::path::Path) -> Result<UnixListener, SocketError> {
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
pub(crate) struct Peer {
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
pub(crate) async fn serve(
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

pub(crate) fn router(admin: Arc<Admin>) -> Router {
    Router::new()
        .route("/status", get(status::status))
        .route("/tasks", get(tasks::tasks))
        .route("/tasks/{id}", get(tasks::task))
        .route("/tasks/{id}/verify", post(tasks::verify))
        .route(
            "/services",
            get(services::services).put(services::set_services),
        )
        .route("/trust/reload", post(services::reload_trust))
        .route("/logs", get(status::logs))
        .route("/events", get(status::events))
        .route("/shutdown", post(status::shutdown))
        .route("/metrics", get(status::metrics))
        .route("/standing", get(standing::standing))
        .route("/standing/refresh", post(standing::refresh))
        .route("/providers/{name}/calls", get(recent::calls))
        .route("/validators/{hotkey}/refusals", get(recent::refusals))
        .fallback(unknown)
        .layer(axum::middleware::from_fn(same_user))
        .with_state(admin)
}

/// A request for no endpoint: said in the same JSON as every other error.
async fn unknown(method: axum::http::Method, uri: axum::http::Uri) -> Response {
    error(
        StatusCode::NOT_FOUND,
        format!(
            "no admin endpoint {method} {}: see GET /status, /tasks, /tasks/<id>, /services, /standing, /logs, /events, /metrics",
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

/// The setting that holds the console's service selection.
pub(crate) const SERVICES_SETTING: &str = "services";

fn names(list: Vec<&'static str>) -> Vec<String> {
    list.into_iter().map(str::to_string).collect()
}
