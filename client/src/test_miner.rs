//! A stand-in miner for the tests: a real Unix socket in a temp dir that answers each
//! connection, in turn, with the next canned answer, byte for byte, and keeps what was asked.

use std::io::{Read, Write};
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// A request as it arrived: its first line and its body.
#[derive(Debug, Clone)]
pub struct Asked {
    pub line: String,
    pub body: Vec<u8>,
}

pub struct TestMiner {
    pub socket: PathBuf,
    asked: Arc<Mutex<Vec<Asked>>>,
    _dir: tempfile::TempDir,
}

impl TestMiner {
    pub fn start(answers: Vec<Vec<u8>>) -> TestMiner {
        let dir = tempfile::tempdir().expect("temp dir");
        let socket = dir.path().join("admin.sock");
        let listener = UnixListener::bind(&socket).expect("bind");
        let asked = Arc::new(Mutex::new(Vec::new()));
        let log = asked.clone();
        std::thread::spawn(move || {
            for answer in answers {
                let Ok((mut conn, _)) = listener.accept() else {
                    return;
                };
                if let Some(a) = read_request(&mut conn) {
                    log.lock().expect("log").push(a);
                }
                let _ = conn.write_all(&answer);
            }
        });
        TestMiner {
            socket,
            asked,
            _dir: dir,
        }
    }

    pub fn requests(&self) -> Vec<Asked> {
        self.asked.lock().expect("log").clone()
    }
}

fn read_request(conn: &mut impl Read) -> Option<Asked> {
    let mut raw = Vec::new();
    let mut buf = [0u8; 1024];
    let head_end = loop {
        if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break end;
        }
        let n = conn.read(&mut buf).ok().filter(|n| *n > 0)?;
        raw.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&raw[..head_end]).into_owned();
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    let mut body = raw[head_end + 4..].to_vec();
    while body.len() < length {
        let n = conn.read(&mut buf).ok().filter(|n| *n > 0)?;
        body.extend_from_slice(&buf[..n]);
    }
    Some(Asked {
        line: head.lines().next().unwrap_or_default().to_string(),
        body,
    })
}

/// A whole answer with a JSON (or any) body.
pub fn json(status: u16, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// A chunked answer of these chunks, then the stream's end.
pub fn chunked(chunks: &[&[u8]]) -> Vec<u8> {
    let mut out = b"HTTP/1.1 200 OK\r\ncontent-type: application/x-ndjson\r\ntransfer-encoding: chunked\r\n\r\n".to_vec();
    for c in chunks {
        out.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
        out.extend_from_slice(c);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}
