//! The console's side of the admin socket: what the UI asks ([`Command`]) and hears
//! ([`NetEvent`]), the `GET /events` stream followed with reconnection, and the commands
//! served one after another. All of it runs on background tasks that send [`NetEvent`]s to
//! the UI loop; drawing never waits for the network. The HTTP itself is gas-client's.
//!
//! The standing's two requests run on tasks of their own, beside the others: asking the
//! subnet's API can take two minutes, and nothing else should wait behind it.

use gas_client::tasks_path;
use gas_shared::admin::{
    CallSummary, Event, RefusalSummary, ServicesUpdate, TaskDetail, TaskPage, TaskQuery,
    TrustReload,
};
use gas_shared::standing::StandingView;
use gas_shared::verdict::Verdict;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::sync::mpsc;

/// How long `GET /standing` may take (it only reads what the miner keeps).
const STANDING_WAIT: Duration = Duration::from_secs(20);
/// How long `POST /standing/refresh` may take: the subnet's API is allowed 120 s.
const REFRESH_WAIT: Duration = Duration::from_secs(150);

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
    /// `GET /standing` answered, or why not.
    Standing(Result<Box<StandingView>, String>),
    /// `POST /standing/refresh` answered (the subnet's API was asked), or why not.
    StandingRefreshed(Result<Box<StandingView>, String>),
    /// An export was written: where, and how many tasks.
    Exported(PathBuf, usize),
    /// A provider's last calls, newest first.
    Calls(String, Vec<CallSummary>),
    /// A validator's last refusals, newest first.
    Refusals(String, Vec<RefusalSummary>),
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
    /// `GET /standing`.
    LoadStanding,
    /// `POST /standing/refresh`: the miner asks the subnet's API now.
    RefreshStanding,
    /// A provider's last calls (a drill-down from the dashboard).
    LoadCalls(String),
    /// A validator's last refusals (a drill-down from the dashboard).
    LoadRefusals(String),
    /// Every task the query matches, written to `path` as CSV, or JSON when `json`.
    Export {
        query: TaskQuery,
        path: PathBuf,
        json: bool,
    },
}

/// The most tasks one export writes.
pub const EXPORT_MAX: usize = 100_000;

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

/// A JSON reply within `wait`, or why not.
async fn get_json_within<T: serde::de::DeserializeOwned>(
    socket: &Path,
    method: &str,
    path: &str,
    wait: Duration,
) -> Result<T, String> {
    tokio::time::timeout(wait, get_json(socket, method, path, None))
        .await
        .unwrap_or_else(|_| {
            Err(format!(
                "{method} {path}: the miner did not answer within {} s",
                wait.as_secs()
            ))
        })
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
        let what = match &cmd {
            Command::LoadTasks(_) => "the task list could not be loaded",
            Command::LoadDetail(_) => "the task could not be loaded",
            Command::Verify(_) => "the task could not be verified again",
            Command::SetServices(_) => "the service change was not made",
            Command::ReloadTrust => "the trust anchors were not reloaded",
            Command::Export { .. } => "the export was not written",
            Command::LoadCalls(_) => "the provider's calls could not be loaded",
            Command::LoadRefusals(_) => "the validator's refusals could not be loaded",
            Command::LoadStanding | Command::RefreshStanding => "",
        };
        let event = match cmd {
            Command::LoadStanding => {
                let (socket, tx) = (socket.clone(), tx.clone());
                tokio::spawn(async move {
                    let got = get_json_within(&socket, "GET", "/standing", STANDING_WAIT).await;
                    let _ = tx.send(NetEvent::Standing(got.map(Box::new)));
                });
                continue;
            }
            Command::RefreshStanding => {
                let (socket, tx) = (socket.clone(), tx.clone());
                tokio::spawn(async move {
                    let got =
                        get_json_within(&socket, "POST", "/standing/refresh", REFRESH_WAIT).await;
                    let _ = tx.send(NetEvent::StandingRefreshed(got.map(Box::new)));
                });
                continue;
            }
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
            Command::Export { query, path, json } => export(&socket, &query, &path, json).await,
            Command::LoadCalls(name) => {
                get_json(&socket, "GET", &format!("/providers/{name}/calls"), None)
                    .await
                    .map(|c| NetEvent::Calls(name, c))
            }
            Command::LoadRefusals(hotkey) => get_json(
                &socket,
                "GET",
                &format!("/validators/{hotkey}/refusals"),
                None,
            )
            .await
            .map(|r| NetEvent::Refusals(hotkey, r)),
            Command::ReloadTrust => get_json::<TrustReload>(&socket, "POST", "/trust/reload", None)
                .await
                .map(|r| NetEvent::TrustReloaded(r.anchors)),
        };
        let _ = tx.send(event.unwrap_or_else(|e| NetEvent::Failed(plain(what, &e))));
    }
}

/// Fetches every task `query` matches and writes them to `path`.
async fn export(
    socket: &Path,
    query: &TaskQuery,
    path: &Path,
    json: bool,
) -> Result<NetEvent, String> {
    let tasks = gas_client::all_tasks(socket, query, EXPORT_MAX)
        .await
        .map_err(|e| e.to_string())?;
    let text = if json {
        serde_json::to_string_pretty(&tasks).map_err(|e| e.to_string())?
    } else {
        gas_client::tasks_csv(&tasks)
    };
    tokio::fs::write(path, text)
        .await
        .map_err(|e| format!("{} cannot be written: {e}", path.display()))?;
    Ok(NetEvent::Exported(path.to_path_buf(), tasks.len()))
}

/// An error for the operator: what did not happen, then the miner's words without the
/// request line (`PUT /services: `) they came with.
fn plain(what: &str, error: &str) -> String {
    let words = error
        .split_once(": ")
        .filter(|(request, _)| {
            ["GET ", "POST ", "PUT ", "DELETE "]
                .iter()
                .any(|m| request.starts_with(m))
        })
        .map_or(error, |(_, rest)| rest);
    format!("{what}: {words}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::UnixListener;

    /// A miner on a socket that answers `/standing/refresh` after `slow`, and anything else
    /// at once; each connection on a task of its own, as the real one does.
    fn slow_miner(socket: &Path, slow: Duration) -> tokio::task::JoinHandle<()> {
        let listener = UnixListener::bind(socket).expect("bind");
        tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match conn.read(&mut buf).await {
                            Ok(n) if n > 0 => head.extend_from_slice(&buf[..n]),
                            _ => return,
                        }
                    }
                    let head = String::from_utf8_lossy(&head);
                    let body = if head.starts_with("POST /standing/refresh") {
                        tokio::time::sleep(slow).await;
                        serde_json::to_string(&StandingView::default()).unwrap_or_default()
                    } else {
                        r#"{"tasks":[],"next":null}"#.to_string()
                    };
                    let answer = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: \
                         {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = conn.write_all(answer.as_bytes()).await;
                });
            }
        })
    }

    #[tokio::test]
    async fn asking_the_subnets_api_holds_up_no_other_command() {
        let dir = std::env::temp_dir().join(format!("gas-console-net-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let socket = dir.join("admin.sock");
        let _ = std::fs::remove_file(&socket);
        let miner = slow_miner(&socket, Duration::from_millis(600));
        let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
        let (tx, mut rx) = mpsc::unbounded_channel();
        tokio::spawn(serve_commands(socket.clone(), cmd_rx, tx));
        cmd_tx.send(Command::RefreshStanding).expect("send");
        cmd_tx
            .send(Command::LoadTasks(TaskQuery::default()))
            .expect("send");
        let first = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await;
        assert!(
            matches!(first, Ok(Some(NetEvent::Tasks(_)))),
            "the task list came first: {first:?}"
        );
        let second = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await;
        assert!(
            matches!(second, Ok(Some(NetEvent::StandingRefreshed(Ok(_))))),
            "then the API's answer: {second:?}"
        );
        miner.abort();
        let _ = std::fs::remove_dir_all(&dir);
    }
}
