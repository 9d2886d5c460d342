//! The one HTTP exchange over the socket, and why it failed, still unworded: the async API
//! and [`crate::blocking`] each say it as their callers always have.

use crate::ClientError;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use std::path::Path;

/// Why an exchange got no answer.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Nothing accepts on the socket.
    Unreachable(std::io::Error),
    /// The request cannot be written as HTTP (a bad method or path).
    Invalid(hyper::http::Error),
    /// Connected, but the HTTP exchange failed.
    Http(hyper::Error),
}

/// The request sent and the answer's head; the body still to read. The sender keeps the
/// connection's request side open for as long as the body is read.
pub(crate) struct Answer {
    pub sender: SendRequest<Full<Bytes>>,
    pub response: hyper::Response<Incoming>,
}

/// Connects, sends one request and waits for the answer's head.
pub(crate) async fn send(
    socket: &Path,
    method: &str,
    path: &str,
    body: Bytes,
) -> Result<Answer, Failure> {
    let stream = tokio::net::UnixStream::connect(socket)
        .await
        .map_err(Failure::Unreachable)?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(Failure::Http)?;
    tokio::spawn(conn);
    let req = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header("host", "gas-miner")
        .header("content-type", "application/json")
        .body(Full::new(body))
        .map_err(Failure::Invalid)?;
    let response = sender.send_request(req).await.map_err(Failure::Http)?;
    Ok(Answer { sender, response })
}

/// One whole exchange: the status and the body, read to its end.
pub(crate) async fn exchange(
    socket: &Path,
    method: &str,
    path: &str,
    body: Bytes,
) -> Result<(u16, Bytes), Failure> {
    let Answer { sender, response } = send(socket, method, path, body).await?;
    let status = response.status().as_u16();
    let bytes = response
        .into_body()
        .collect()
        .await
        .map_err(Failure::Http)?
        .to_bytes();
    drop(sender);
    Ok((status, bytes))
}

impl Failure {
    /// As the async API (the console) says it.
    pub(crate) fn async_error(self, socket: &Path) -> ClientError {
        match self {
            Failure::Unreachable(e) => ClientError::NotRunning(format!(
                "cannot reach the miner at {}: {e}",
                socket.display()
            )),
            Failure::Invalid(e) => ClientError::Broken(e.to_string()),
            Failure::Http(e) => ClientError::Broken(e.to_string()),
        }
    }

    /// As the blocking API (the CLI) says it.
    pub(crate) fn blocking_error(self, socket: &Path) -> ClientError {
        let broken = |why: &dyn std::fmt::Display| {
            ClientError::Broken(format!("admin socket {}: {why}", socket.display()))
        };
        match self {
            Failure::Unreachable(e) => {
                ClientError::NotRunning(format!("no miner answers on {} ({e})", socket.display()))
            }
            Failure::Invalid(e) => broken(&e),
            Failure::Http(e) if e.is_parse() || e.is_incomplete_message() => {
                broken(&"not an HTTP answer")
            }
            Failure::Http(e) => match io_cause(&e) {
                Some(io) => broken(io),
                None => broken(&e),
            },
        }
    }
}

/// The I/O error under a hyper error, if that is what it was (a reset, a timeout).
fn io_cause(e: &hyper::Error) -> Option<&std::io::Error> {
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        if let Some(io) = c.downcast_ref::<std::io::Error>() {
            return Some(io);
        }
        cause = c.source();
    }
    None
}
