//! Talking to the miner's admin socket: one HTTP/1 request per connection over the Unix
//! socket, and the `GET /events` stream read line by line. All of it runs on background
//! tasks that send [`NetEvent`]s to the UI loop; drawing never waits for the network.

use bytes::Bytes;
use gas_shared::admin::{
    ErrorReply, Event, ServicesUpdate, TaskDetail, TaskPage, TaskQuery, TrustReload,
};
use gas_shared::verdict::Verdict;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
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

/// One request to the socket: (status, body).
pub async fn request(
    socket: &Path,
    method: &str,
    path: &str,
    body: Option<Vec<u8>>,
) -> Result<(u16, Bytes), String> {
    let stream = tokio::net::UnixStream::connect(socket)
        .await
        .map_err(|e| format!("cannot reach the miner at {}: {e}", socket.display()))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let req = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header("host", "gas-miner")
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.unwrap_or_default())))
        .map_err(|e| e.to_string())?;
    let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let bytes = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    Ok((status, bytes))
}

/// A JSON reply, or the miner's error text.
pub async fn get_json<T: serde::de::DeserializeOwned>(
    socket: &Path,
    method: &str,
    path: &str,
    body: Option<Vec<u8>>,
) -> Result<T, String> {
    let (status, bytes) = request(socket, method, path, body).await?;
    if !(200..300).contains(&status) {
        let why = serde_json::from_slice::<ErrorReply>(&bytes)
            .map(|e| e.error)
            .unwrap_or_else(|_| String::from_utf8_lossy(&bytes).into_owned());
        return Err(format!("{method} {path}: {why}"));
    }
    serde_json::from_slice(&bytes).map_err(|e| format!("{method} {path}: unreadable reply: {e}"))
}

/// `GET /tasks` with the query's filters.
pub fn tasks_path(q: &TaskQuery) -> String {
    let mut parts = Vec::new();
    let mut add = |k: &str, v: String| parts.push(format!("{k}={}", encode(&v)));
    if let Some(s) = q.state {
        add("state", s.as_str().to_string());
    }
    if let Some(m) = q.modality {
        add("modality", m.as_str().to_string());
    }
    if let Some(p) = &q.provider {
        add("provider", p.clone());
    }
    if let Some(v) = &q.verdict {
        add("verdict", v.clone());
    }
    if let Some(t) = &q.q {
        add("q", t.clone());
    }
    if let Some(l) = q.limit {
        add("limit", l.to_string());
    }
    if let Some(b) = &q.before {
        add("before", b.clone());
    }
    if parts.is_empty() {
        "/tasks".into()
    } else {
        format!("/tasks?{}", parts.join("&"))
    }
}

/// Percent-encoding of a query value.
fn encode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
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
    let stream = tokio::net::UnixStream::connect(socket)
        .await
        .map_err(|e| format!("cannot reach the miner at {}: {e}", socket.display()))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let req = hyper::Request::builder()
        .uri("/events")
        .header("host", "gas-miner")
        .body(Full::new(Bytes::new()))
        .map_err(|e| e.to_string())?;
    let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
    if !resp.status().is_success() {
        let status = resp.status().as_u16();
        let body = resp
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let why = serde_json::from_slice::<ErrorReply>(&body)
            .map(|e| e.error)
            .unwrap_or_else(|_| format!("HTTP {status}"));
        return Err(why);
    }
    let _ = tx.send(NetEvent::Connected);
    let mut body = resp.into_body();
    let mut pending: Vec<u8> = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| format!("the event stream broke: {e}"))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        pending.extend_from_slice(&data);
        while let Some(end) = pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            if let Ok(event) = serde_json::from_slice::<Event>(&line)
                && tx.send(NetEvent::Event(event)).is_err()
            {
                return Ok(());
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_queries_become_escaped_paths() {
        let q = TaskQuery {
            verdict: Some("c2pa_failed".into()),
            q: Some("a heron & co".into()),
            limit: Some(100),
            ..TaskQuery::default()
        };
        assert_eq!(
            tasks_path(&q),
            "/tasks?verdict=c2pa_failed&q=a%20heron%20%26%20co&limit=100"
        );
        assert_eq!(tasks_path(&TaskQuery::default()), "/tasks");
    }
}
