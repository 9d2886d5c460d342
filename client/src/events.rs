//! `GET /events`: the miner's JSON-lines stream of [`Event`]s, read line by line for as long
//! as the miner keeps it open.

use crate::ClientError;
use crate::exchange::{self, Answer};
use bytes::Bytes;
use gas_shared::admin::{ErrorReply, Event};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use std::path::Path;

/// An open events stream; [`EventStream::next`] reads it.
pub struct EventStream {
    body: Incoming,
    /// Bytes of a line not yet ended.
    pending: Vec<u8>,
    _sender: SendRequest<Full<Bytes>>,
}

/// Opens `GET /events`. A refusal says the miner's reason, else `HTTP <status>`.
pub async fn events(socket: &Path) -> Result<EventStream, ClientError> {
    let Answer { sender, response } = exchange::send(socket, "GET", "/events", Bytes::new())
        .await
        .map_err(|f| f.async_error(socket))?;
    if !response.status().is_success() {
        let status = response.status().as_u16();
        let body = response
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let why = serde_json::from_slice::<ErrorReply>(&body)
            .map(|e| e.error)
            .unwrap_or_else(|_| format!("HTTP {status}"));
        return Err(ClientError::Broken(why));
    }
    Ok(EventStream {
        body: response.into_body(),
        pending: Vec::new(),
        _sender: sender,
    })
}

impl EventStream {
    /// The next event, or `None` once the miner ends the stream. Lines that are not an event
    /// this build knows are skipped, as is a last line the stream ends without finishing.
    pub async fn next(&mut self) -> Result<Option<Event>, ClientError> {
        loop {
            while let Some(end) = self.pending.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.pending.drain(..=end).collect();
                if let Ok(event) = serde_json::from_slice::<Event>(&line) {
                    return Ok(Some(event));
                }
            }
            let Some(frame) = self.body.frame().await else {
                return Ok(None);
            };
            let frame =
                frame.map_err(|e| ClientError::Broken(format!("the event stream broke: {e}")))?;
            if let Ok(data) = frame.into_data() {
                self.pending.extend_from_slice(&data);
            }
        }
    }
}
