//! The same exchange for synchronous code (the miner's operator commands and its demo): each
//! call runs it to the end on a small current-thread tokio runtime, with a deadline.

use crate::ClientError;
use crate::exchange;
use bytes::Bytes;
use std::future::Future;
use std::path::Path;
use std::time::Duration;

/// Sends one request; returns the status and the body, whatever the status. `timeout` bounds
/// the whole exchange.
pub fn request(
    socket: &Path,
    method: &str,
    path: &str,
    body: Option<&[u8]>,
    timeout: Duration,
) -> Result<(u16, Vec<u8>), ClientError> {
    let body = Bytes::copy_from_slice(body.unwrap_or_default());
    let answer = run(socket, async {
        tokio::time::timeout(timeout, exchange::exchange(socket, method, path, body)).await
    })?;
    match answer {
        Ok(Ok((status, bytes))) => Ok((status, bytes.to_vec())),
        Ok(Err(failure)) => Err(failure.blocking_error(socket)),
        Err(_) => Err(ClientError::Broken(format!(
            "admin socket {}: no answer within {timeout:?}",
            socket.display()
        ))),
    }
}

/// A GET answered 200 with JSON, parsed (10 s at the most).
pub fn get_json<T: serde::de::DeserializeOwned>(
    socket: &Path,
    path: &str,
) -> Result<T, ClientError> {
    let (status, body) = request(socket, "GET", path, None, Duration::from_secs(10))?;
    if status != 200 {
        return Err(ClientError::Broken(format!(
            "GET {path}: {status} {}",
            String::from_utf8_lossy(&body)
        )));
    }
    serde_json::from_slice(&body)
        .map_err(|e| ClientError::Broken(format!("GET {path}: unexpected answer: {e}")))
}

/// Runs `work` on a runtime of its own, on a thread of its own: a caller that is itself inside
/// a tokio runtime (where starting another one on the same thread panics) blocks like any
/// other.
fn run<T: Send>(socket: &Path, work: impl Future<Output = T> + Send) -> Result<T, ClientError> {
    std::thread::scope(|s| {
        let worker = s.spawn(|| {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| {
                    ClientError::Broken(format!(
                        "admin socket {}: cannot start an async runtime: {e}",
                        socket.display()
                    ))
                })?;
            Ok(runtime.block_on(work))
        });
        worker
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_miner::{TestMiner, json};

    const SECOND: Duration = Duration::from_secs(1);

    #[test]
    fn plain_and_chunked_answers_are_read() {
        let miner = TestMiner::start(vec![
            b"HTTP/1.1 202 Accepted\r\ncontent-length: 2\r\n\r\nok".to_vec(),
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
                .to_vec(),
            b"garbage".to_vec(),
        ]);
        let socket = &miner.socket;
        assert_eq!(
            request(socket, "POST", "/shutdown", None, SECOND).expect("plain"),
            (202, b"ok".to_vec())
        );
        assert_eq!(
            request(socket, "GET", "/x", None, SECOND).expect("chunked"),
            (200, b"abcde".to_vec())
        );
        let err = request(socket, "GET", "/x", None, SECOND).expect_err("garbage");
        assert!(matches!(err, ClientError::Broken(_)), "{err:?}");
        assert_eq!(
            err.to_string(),
            format!("admin socket {}: not an HTTP answer", socket.display())
        );
    }

    #[test]
    fn get_json_wants_a_200_with_json() {
        let miner = TestMiner::start(vec![
            json(200, r#"{"anchors":4}"#),
            json(503, r#"{"error":"busy"}"#),
            json(200, "<html>"),
        ]);
        let s = &miner.socket;
        let reload: gas_shared::admin::TrustReload = get_json(s, "/trust").expect("json");
        assert_eq!(reload.anchors, 4);
        let busy = get_json::<gas_shared::admin::TrustReload>(s, "/status").expect_err("503");
        assert_eq!(busy.to_string(), r#"GET /status: 503 {"error":"busy"}"#);
        let html = get_json::<gas_shared::admin::TrustReload>(s, "/status").expect_err("html");
        assert!(
            html.to_string()
                .starts_with("GET /status: unexpected answer: "),
            "{html}"
        );
    }

    #[test]
    fn nobody_listening_is_not_running_and_silence_times_out() {
        let dir = tempfile::tempdir().expect("dir");
        let socket = dir.path().join("admin.sock");
        let err = request(&socket, "GET", "/status", None, SECOND).expect_err("nobody");
        assert!(matches!(err, ClientError::NotRunning(_)), "{err:?}");
        assert!(
            err.to_string()
                .starts_with(&format!("no miner answers on {} (", socket.display())),
            "{err}"
        );

        let _listener = std::os::unix::net::UnixListener::bind(&socket).expect("bind");
        let short = Duration::from_millis(200);
        let err = request(&socket, "GET", "/status", None, short).expect_err("silence");
        assert_eq!(
            err.to_string(),
            format!("admin socket {}: no answer within 200ms", socket.display())
        );
    }

    #[tokio::test]
    async fn works_inside_a_runtime_too() {
        let miner = TestMiner::start(vec![json(200, r#"{"anchors":1}"#)]);
        let reload: gas_shared::admin::TrustReload =
            get_json(&miner.socket, "/trust").expect("json");
        assert_eq!(reload.anchors, 1);
    }
}
