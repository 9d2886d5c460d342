//! A small blocking client for the admin socket, for the operator commands (`stop`, `status`,
//! `info`) and the demo: one HTTP/1.1 request per connection, read to the end.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

/// Why a request got no answer.
#[derive(Debug)]
pub enum ClientError {
    /// Nothing listens on the socket (no file, or nobody accepts).
    NotRunning(String),
    /// Connected, but the exchange failed.
    Broken(String),
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientError::NotRunning(s) | ClientError::Broken(s) => f.write_str(s),
        }
    }
}

/// Sends one request; returns the status and the body.
pub fn request(
    socket: &Path,
    method: &str,
    path: &str,
    body: Option<&[u8]>,
    timeout: Duration,
) -> Result<(u16, Vec<u8>), ClientError> {
    let mut stream = UnixStream::connect(socket).map_err(|e| {
        ClientError::NotRunning(format!("no miner answers on {} ({e})", socket.display()))
    })?;
    let broken =
        |e: std::io::Error| ClientError::Broken(format!("admin socket {}: {e}", socket.display()));
    stream.set_read_timeout(Some(timeout)).map_err(broken)?;
    stream.set_write_timeout(Some(timeout)).map_err(broken)?;
    let body = body.unwrap_or_default();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nhost: gas-miner\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).map_err(broken)?;
    stream.write_all(body).map_err(broken)?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).map_err(broken)?;
    parse_response(&raw).ok_or_else(|| {
        ClientError::Broken(format!(
            "admin socket {}: not an HTTP answer",
            socket.display()
        ))
    })
}

/// A GET answered 200 with JSON, parsed.
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

fn parse_response(raw: &[u8]) -> Option<(u16, Vec<u8>)> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let chunked = lines.any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    let rest = &raw[end + 4..];
    Some((
        status,
        if chunked {
            dechunk(rest)?
        } else {
            rest.to_vec()
        },
    ))
}

fn dechunk(mut rest: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = rest.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&rest[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(rest.get(..size)?);
        rest = rest.get(size + 2..)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_chunked_answers_are_read() {
        let plain = b"HTTP/1.1 202 Accepted\r\ncontent-length: 2\r\n\r\nok";
        assert_eq!(parse_response(plain), Some((202, b"ok".to_vec())));
        let chunked =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        assert_eq!(parse_response(chunked), Some((200, b"abcde".to_vec())));
        assert_eq!(parse_response(b"garbage"), None);
    }
}
