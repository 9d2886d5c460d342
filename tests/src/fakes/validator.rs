//! The validator's side: its webhook receiver (`FakeValidator`), which checks Epistula as the
//! real one does and records every webhook, and one that misbehaves as scripted in front of it
//! (`FlakyValidator`: 4xx, 5xx, slow answers).

use super::{header, serve};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use gas_miner::clock::now_ms;
use gas_miner::identity::{Hotkey, decode_hex, ss58_decode, verify};
use sha2::{Digest, Sha256};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A webhook as the fake validator received and judged it.
#[derive(Debug, Clone)]
pub struct Webhook {
    pub task_id: String,
    pub status_header: String,
    pub content_type: String,
    pub error_message: Option<String>,
    /// The body when it is small (≤ 8 MiB); large media is only hashed.
    pub body: Vec<u8>,
    pub sha256: String,
    pub len: u64,
    /// Empty when the Epistula check passed; else why it failed.
    pub epistula_error: String,
    pub chunked: bool,
}

/// A validator's webhook receiver: checks Epistula as the real one does (stake check off).
#[derive(Clone)]
pub struct FakeValidator {
    pub addr: SocketAddr,
    pub received: Arc<Mutex<Vec<Webhook>>>,
    /// How long each webhook is held, after it was taken, before the answer (ms).
    reply_delay: Arc<std::sync::atomic::AtomicU64>,
    /// Webhooks being received or held right now.
    in_flight: Arc<std::sync::atomic::AtomicUsize>,
    hotkey: String,
    miner: String,
    /// Answers as a v5 validator: 202 "Callback accepted", the verdict never sent back.
    v5: Arc<std::sync::atomic::AtomicBool>,
}

impl FakeValidator {
    /// Binds now; accepts webhooks now unless `listen_after` delays serving.
    pub async fn start(validator: &Hotkey, miner: &Hotkey) -> FakeValidator {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let v = FakeValidator::unbound(listener.local_addr().expect("addr"), validator, miner);
        v.listen(listener);
        v
    }

    /// A receiver for `addr` that is not listening yet (the validator is down).
    pub fn unbound(addr: SocketAddr, validator: &Hotkey, miner: &Hotkey) -> FakeValidator {
        FakeValidator {
            addr,
            received: Arc::default(),
            reply_delay: Arc::default(),
            in_flight: Arc::default(),
            hotkey: validator.ss58().to_string(),
            miner: miner.ss58().to_string(),
            v5: Arc::default(),
        }
    }

    pub fn listen(&self, listener: tokio::net::TcpListener) {
        let router = Router::new()
            .route("/generative_callback", post(callback))
            .with_state(self.clone());
        serve(listener, router);
    }

    pub fn url(&self) -> String {
        format!("http://{}/generative_callback", self.addr)
    }

    /// Holds each webhook this long before answering (a slow validator).
    pub fn set_reply_delay(&self, delay: Duration) {
        self.reply_delay.store(
            delay.as_millis() as u64,
            std::sync::atomic::Ordering::SeqCst,
        );
    }

    /// Answers from now on as a v5 validator (202 "Callback accepted" for media, whatever
    /// it is) or as v4.9.x (200 "Binary content received").
    pub fn set_v5(&self, v5: bool) {
        self.v5.store(v5, std::sync::atomic::Ordering::SeqCst);
    }

    /// Webhooks being received or held right now.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(std::sync::atomic::Ordering::SeqCst)
    }

    pub fn webhooks(&self) -> Vec<Webhook> {
        self.received.lock().expect("received").clone()
    }

    /// Waits until `pred` holds for the received webhooks, or panics after `limit`.
    pub async fn wait_for(
        &self,
        limit: Duration,
        what: &str,
        pred: impl Fn(&[Webhook]) -> bool,
    ) -> Vec<Webhook> {
        let start = Instant::now();
        loop {
            let got = self.webhooks();
            if pred(&got) {
                return got;
            }
            assert!(
                start.elapsed() < limit,
                "timed out after {limit:?} waiting for {what}; received {got:#?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn check_epistula(&self, headers: &HeaderMap, body_sha256: &str) -> String {
        let get = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or("");
        if get("epistula-signed-for") != self.hotkey {
            return "signed for someone else".into();
        }
        if get("epistula-signed-by") != self.miner {
            return "signer is not the miner".into();
        }
        let Ok(ts) = get("epistula-timestamp").parse::<i64>() else {
            return "bad timestamp".into();
        };
        if (now_ms() - ts).abs() > 15_000 {
            return format!("timestamp {} ms off", now_ms() - ts);
        }
        let Ok(public) = ss58_decode(get("epistula-signed-by")) else {
            return "bad signer".into();
        };
        let Ok(sig) = decode_hex(get("epistula-request-signature")) else {
            return "bad signature hex".into();
        };
        let message = format!(
            "{}.{}.{}.{}",
            body_sha256,
            get("epistula-uuid"),
            ts,
            self.hotkey
        );
        if !verify(&public, message.as_bytes(), &sig) {
            return "signature mismatch".into();
        }
        String::new()
    }
}

/// Bodies larger than this are hashed as they stream in but not kept.
const KEEP_BODY: usize = 8 * 1024 * 1024;

async fn callback(State(v): State<FakeValidator>, headers: HeaderMap, body: Body) -> Response {
    use std::sync::atomic::Ordering;
    /// Counts the request out however it ends (a miner killed mid-request drops it).
    struct Held(Arc<std::sync::atomic::AtomicUsize>);
    impl Drop for Held {
        fn drop(&mut self) {
            self.0.fetch_sub(1, Ordering::SeqCst);
        }
    }
    v.in_flight.fetch_add(1, Ordering::SeqCst);
    let _held = Held(v.in_flight.clone());
    let reply = receive(&v, headers, body).await;
    let delay = v.reply_delay.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    reply
}

async fn receive(v: &FakeValidator, headers: HeaderMap, body: Body) -> Response {
    use futures_util::StreamExt;
    let mut hasher = Sha256::new();
    let mut kept = Vec::new();
    let mut len = 0u64;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let Ok(chunk) = chunk else {
            return (StatusCode::BAD_REQUEST, "body cut short").into_response();
        };
        hasher.update(&chunk);
        len += chunk.len() as u64;
        if kept.len() + chunk.len() <= KEEP_BODY {
            kept.extend_from_slice(&chunk);
        }
    }
    let sha256 = hex::encode(hasher.finalize());
    let get = |n: &str| {
        headers
            .get(n)
            .and_then(|x| x.to_str().ok())
            .map(str::to_string)
    };
    let hook = Webhook {
        task_id: get("task-id").unwrap_or_default(),
        status_header: get("task-status").unwrap_or_default(),
        content_type: get("content-type").unwrap_or_default(),
        error_message: get("error-message"),
        epistula_error: v.check_epistula(&headers, &sha256),
        chunked: get("transfer-encoding").is_some_and(|t| t.contains("chunked")),
        body: if len as usize <= KEEP_BODY {
            kept
        } else {
            Vec::new()
        },
        sha256,
        len,
    };
    let failed = hook.status_header == "failed";
    let bad = !hook.epistula_error.is_empty();
    v.received.lock().expect("received").push(hook);
    if bad {
        return (StatusCode::BAD_REQUEST, "Epistula check failed").into_response();
    }
    if failed {
        (StatusCode::OK, "Failure recorded").into_response()
    } else if v.v5.load(std::sync::atomic::Ordering::SeqCst) {
        (StatusCode::ACCEPTED, "Callback accepted").into_response()
    } else {
        (StatusCode::OK, "Binary content received").into_response()
    }
}

/// How a `FlakyValidator` answers one webhook.
#[derive(Debug, Clone)]
pub enum Answer {
    /// Handed to the real receiver (Epistula checked, recorded), its reply returned.
    Pass,
    /// This status and text; the webhook is read and dropped.
    Status(u16, &'static str),
    /// Handed on only after this pause (a validator under load).
    Slow(Duration),
}

/// One webhook attempt as it reached a `FlakyValidator`.
#[derive(Debug, Clone)]
pub struct Knock {
    pub at: Instant,
    pub task_id: String,
    /// The `task-status` header: `completed` or `failed`.
    pub status_header: String,
    /// What the validator answered (`None`: the forward to the receiver failed).
    pub answered: Option<u16>,
}

/// A validator whose webhook receiver misbehaves as scripted, in front of a `FakeValidator`
/// (`inner`) that judges and records what is passed on. Unscripted webhooks pass.
#[derive(Clone)]
pub struct FlakyValidator {
    pub addr: SocketAddr,
    pub inner: FakeValidator,
    script: Arc<Mutex<VecDeque<Answer>>>,
    knocks: Arc<Mutex<Vec<Knock>>>,
    client: reqwest::Client,
}

impl FlakyValidator {
    pub async fn start(validator: &Hotkey, miner: &Hotkey) -> FlakyValidator {
        let inner = FakeValidator::start(validator, miner).await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let v = FlakyValidator {
            addr: listener.local_addr().expect("addr"),
            inner,
            script: Arc::default(),
            knocks: Arc::default(),
            client: reqwest::Client::new(),
        };
        let router = Router::new()
            .route("/generative_callback", post(flaky_callback))
            .with_state(v.clone());
        serve(listener, router);
        v
    }

    pub fn url(&self) -> String {
        format!("http://{}/generative_callback", self.addr)
    }

    /// Answers for the next webhooks, in order of arrival.
    pub fn script(&self, answers: impl IntoIterator<Item = Answer>) {
        self.script
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend(answers);
    }

    /// Every attempt that reached this validator, whatever it was answered.
    pub fn knocks(&self) -> Vec<Knock> {
        self.knocks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

async fn flaky_callback(
    State(v): State<FlakyValidator>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let at = Instant::now();
    let answer = v
        .script
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .pop_front()
        .unwrap_or(Answer::Pass);
    let (status, text) = match answer {
        Answer::Status(status, text) => (Some(status), text.to_string()),
        Answer::Pass | Answer::Slow(_) => {
            if let Answer::Slow(pause) = answer {
                tokio::time::sleep(pause).await;
            }
            let mut req = v.client.post(v.inner.url()).body(body);
            for (name, value) in &headers {
                if !matches!(
                    name.as_str(),
                    "host" | "content-length" | "transfer-encoding"
                ) {
                    req = req.header(name, value);
                }
            }
            match req.send().await {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    (Some(status), resp.text().await.unwrap_or_default())
                }
                Err(e) => (None, e.to_string()),
            }
        }
    };
    v.knocks
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(Knock {
            at,
            task_id: header(&headers, "task-id").unwrap_or_default(),
            status_header: header(&headers, "task-status").unwrap_or_default(),
            answered: status,
        });
    let code = status
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::BAD_GATEWAY);
    (code, text).into_response()
}
