//! The console's side of the admin socket: what the UI asks ([`Command`]) and hears
//! ([`NetEvent`]), the `GET /events` stream followed with reconnection, and the commands
//! served one after another. All of it runs on background tasks that send [`NetEvent`]s to
//! the UI loop; drawing never waits for the network. The HTTP itself is gas-client's.

use gas_client::tasks_path;
use gas_shared::admin::{Event, ServicesUpdate, TaskDetail, TaskPage, TaskQuery, TrustReload};
use gas_shared::verdict::Verdict;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::sync::mpsc;

/// What the network side tells the UI.
#[derive(Debug, Clone)]
pub enum NetEvent {
    /// The events stream is open.
    Connected,
    /// The miner could not be reached, or the stream ended; why.
    Disconnected(String),
    Event(Event),
    Tasks(TaskPage),
    Detail(Box<TaskDetail>),
    Verified(String, Box<Verdict>),
    Services(gas_shared::admin::Services),
    TrustReloaded(usize),
    /// A request failed; what to tell the operator.
    Failed(String),
}

/// What the UI asks of the network side.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    LoadTasks(TaskQuery),
    LoadDetail(String),
    Verify(String),
    SetServices(ServicesUpdate),
    ReloadTrust,
}

/// A JSON reply, or the miner's error text.
async fn get_json<T: serde::de::DeserializeOwned>(
    socket: &Path,
    method: &str,
    path: &str,
    body: Option<Vec<u8>>,
) -> Result<T, String> {
    gas_client::get_json(socket, method, path, body)
        .await
        .map_err(|e| e.to_string())
}

/// Follows `GET /events` for as long as the console runs, reconnecting with backoff.
pub async fn follow(socket: PathBuf, tx: mpsc::UnboundedSender<NetEvent>) {
    let mut wait = Duration::from_millis(250);
    loop {
        match stream_events(&socket, &tx).await {
            Ok(()) => {
                let _ = tx.send(NetEvent::Disconnected(
                    "the miner closed the connection".into(),
                ));
            }
            Err(e) => {
                let _ = tx.send(NetEvent::Disconnected(e));
            }
        }
        if tx.is_closed() {
            return;
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(Duration::from_secs(2));
    }
}

async fn stream_events(socket: &Path, tx: &mpsc::UnboundedSender<NetEvent>) -> Result<(), String> {
    let mut events = gas_client::events(socket)
        .await
        .map_err(|e| e.to_string())?;
    let _ = tx.send(NetEvent::Connected);
    while let Some(event) = events.next().await.map_err(|e| e.to_string())? {
        if tx.send(NetEvent::Event(event)).is_err() {
            return Ok(());
        }
    }
    Ok(())
}

/// Runs the UI's commands one after another, replying with events.
pub async fn serve_commands(
    socket: PathBuf,
    mut rx: mpsc::UnboundedReceiver<Command>,
    tx: mpsc::UnboundedSender<NetEvent>,
) {
    while let Some(cmd) = rx.recv().await {
        let event = match cmd {
            Command::LoadTasks(q) => get_json::<TaskPage>(&socket, "GET", &tasks_path(&q), None)
                .await
                .map(NetEvent::Tasks),
            Command::LoadDetail(id) => {
                get_json::<TaskDetail>(&socket, "GET", &format!("/tasks/{id}"), None)
                    .await
                    .map(|d| NetEvent::Detail(Box::new(d)))
            }
            Command::Verify(id) => {
                get_json::<Verdict>(&socket, "POST", &format!("/tasks/{id}/verify"), None)
                    .await
                    .map(|v| NetEvent::Verified(id, Box::new(v)))
            }
            Command::SetServices(update) => {
                let body = serde_json::to_vec(&update).unwrap_or_default();
                get_json(&socket, "PUT", "/services", Some(body))
                    .await
                    .map(NetEvent::Services)
            }
            Command::ReloadTrust => get_json::<TrustReload>(&socket, "POST", "/trust/reload", None)
                .await
                .map(|r| NetEvent::TrustReloaded(r.anchors)),
        };
        let _ = tx.send(event.unwrap_or_else(NetEvent::Failed));
    }
}
