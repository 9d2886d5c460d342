//! gas-client: talking HTTP+JSON to a running gas-miner's admin socket. The socket is a Unix
//! socket that answers HTTP/1, one request per connection; what travels over it is
//! `gas_shared::admin`'s types. It is the one HTTP exchange for everything that steers a
//! miner from outside: gas-console, and the miner's own operator commands (`status`, `stop`,
//! `start`, the demo).
//!
//! The async calls ([`request`], [`get_json`], [`events`]) are for a tokio program (the
//! console); [`blocking`] runs the same exchange for synchronous code (the CLI). Each side
//! words a failure as its callers always have: the async one "cannot reach the miner at …",
//! the blocking one "no miner answers on …".

pub mod blocking;
mod events;
mod exchange;
pub mod fleet;
mod tasks;
#[cfg(test)]
mod test_miner;

pub use events::{EventStream, events};
pub use tasks::{PAGE, all_tasks, tasks_csv, tasks_path};

use bytes::Bytes;
use gas_shared::admin::ErrorReply;
use std::path::Path;

/// Why a request got no usable answer. Displays as just its message, ready for an operator.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Nothing listens on the socket (no file, or nobody accepts): the miner is not running.
    #[error("{0}")]
    NotRunning(String),
    /// Connected, but the exchange failed, or the miner's answer was an error or unreadable.
    #[error("{0}")]
    Broken(String),
}

/// One request to the socket; returns the status and the body, whatever the status.
pub async fn request(
    socket: &Path,
    method: &str,
    path: &str,
    body: Option<Vec<u8>>,
) -> Result<(u16, Bytes), ClientError> {
    exchange::exchange(socket, method, path, Bytes::from(body.unwrap_or_default()))
        .await
        .map_err(|f| f.async_error(socket))
}

/// A 2xx answer's JSON, parsed; otherwise the miner's error text (its `ErrorReply.error`, or
/// the body as it came), after the method and path.
pub async fn get_json<T: serde::de::DeserializeOwned>(
    socket: &Path,
    method: &str,
    path: &str,
    body: Option<Vec<u8>>,
) -> Result<T, ClientError> {
    let (status, bytes) = request(socket, method, path, body).await?;
    if !(200..300).contains(&status) {
        let why = serde_json::from_slice::<ErrorReply>(&bytes)
            .map(|e| e.error)
            .unwrap_or_else(|_| String::from_utf8_lossy(&bytes).into_owned());
        return Err(ClientError::Broken(format!("{method} {path}: {why}")));
    }
    serde_json::from_slice(&bytes)
        .map_err(|e| ClientError::Broken(format!("{method} {path}: unreadable reply: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_miner::{TestMiner, chunked, json};
    use gas_shared::admin::{Event, TrustReload};

    #[tokio::test]
    async fn a_real_socket_answers_requests_json_and_events() {
        let stream = chunked(&[
            b"{\"type\":\"log\",\"line\":\"first\"}\n{\"type\":\"log\",",
            b"\"line\":\"second\"}\nnot an event\n",
            b"{\"type\":\"log\",\"line\":\"third\"}\n{\"type\":\"log\",\"li",
        ]);
        let miner = TestMiner::start(vec![
            json(202, r#"{"anchors":3}"#),
            json(200, r#"{"anchors":9}"#),
            json(404, r#"{"error":"no task nope: check the id"}"#),
            json(200, "not json"),
            stream,
        ]);
        let (status, body) = request(&miner.socket, "POST", "/trust/reload", Some(b"{}".to_vec()))
            .await
            .expect("answer");
        assert_eq!((status, &body[..]), (202, &br#"{"anchors":3}"#[..]));
        let reload: TrustReload = get_json(&miner.socket, "GET", "/trust", None)
            .await
            .expect("json");
        assert_eq!(reload.anchors, 9);
        let missing = get_json::<TrustReload>(&miner.socket, "GET", "/tasks/nope", None).await;
        assert_eq!(
            missing.expect_err("404").to_string(),
            "GET /tasks/nope: no task nope: check the id"
        );
        let garbled = get_json::<TrustReload>(&miner.socket, "GET", "/status", None).await;
        assert!(
            garbled
                .expect_err("not json")
                .to_string()
                .starts_with("GET /status: unreadable reply: "),
        );

        let mut stream = events(&miner.socket).await.expect("events");
        let mut lines = Vec::new();
        while let Some(event) = stream.next().await.expect("stream") {
            match event {
                Event::Log { line } => lines.push(line),
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(lines, ["first", "second", "third"]);

        let asked = miner.requests();
        assert_eq!(
            asked.iter().map(|r| r.line.as_str()).collect::<Vec<_>>(),
            [
                "POST /trust/reload HTTP/1.1",
                "GET /trust HTTP/1.1",
                "GET /tasks/nope HTTP/1.1",
                "GET /status HTTP/1.1",
                "GET /events HTTP/1.1",
            ]
        );
        assert_eq!(asked[0].body, b"{}");
    }

    #[tokio::test]
    async fn nobody_listening_is_not_running() {
        let dir = tempfile::tempdir().expect("dir");
        let socket = dir.path().join("admin.sock");
        let err = request(&socket, "GET", "/status", None)
            .await
            .expect_err("nobody there");
        assert!(matches!(err, ClientError::NotRunning(_)), "{err:?}");
        assert!(
            err.to_string()
                .starts_with(&format!("cannot reach the miner at {}: ", socket.display())),
            "{err}"
        );
        let err = events(&socket).await.err().expect("nobody there");
        assert!(matches!(err, ClientError::NotRunning(_)), "{err:?}");
    }

    #[tokio::test]
    async fn a_refused_event_stream_says_why() {
        let miner = TestMiner::start(vec![
            json(
                403,
                r#"{"error":"this admin socket belongs to another user"}"#,
            ),
            json(500, "oops"),
        ]);
        let err = events(&miner.socket).await.err().expect("refused");
        assert_eq!(err.to_string(), "this admin socket belongs to another user");
        let err = events(&miner.socket).await.err().expect("refused");
        assert_eq!(err.to_string(), "HTTP 500");
    }
}
