//! Harness for end-to-end tests and the load generators: the real `gas-miner` binary, started
//! in a temp state dir with a wallet and metagraph made from known mnemonics, fake generation
//! services and a fake validator, all speaking the real protocols over 127.0.0.1.

pub mod fakes;
pub mod fixtures;
pub mod seed;
pub mod soak;
pub mod subtensor;
pub mod term;

pub use fakes::*;
pub use term::{Tmux, available, console_bin};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use gas_miner::epistula::{now_ms, sha256_hex, sign_headers};
use gas_miner::identity::{Hotkey, decode_hex, ss58_decode, verify, write_plain_hotkey};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const MINER_PHRASE: &str =
    "bottom drive obey lake curtain smoke basket hold race lonely fit walk";
pub const VALIDATOR_PHRASE: &str =
    "legal winner thank year wave sausage worth useful legal winner thank yellow";
pub const OUTSIDER_PHRASE: &str =
    "letter advice cage absurd amount doctor acoustic avoid letter advice cage above";
/// A validator key registered with too little stake.
pub const POOR_PHRASE: &str =
    "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";

pub fn key(phrase: &str) -> Hotkey {
    Hotkey::from_mnemonic(phrase).expect("known mnemonic")
}

/// The directory `../shared` when present (CI has it; a fresh clone may not).
pub fn shared_dir() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("GAS_SHARED_DIR").map(PathBuf::from),
        Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared")),
    ];
    candidates
        .into_iter()
        .flatten()
        .find(|p| p.join("vectors").is_dir())
}

/// The built `gas-miner` binary beside this test executable.
pub fn miner_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let mut dir = exe.parent().expect("exe dir").to_path_buf();
    if dir.ends_with("deps") {
        dir.pop();
    }
    let bin = dir.join("gas-miner");
    assert!(
        bin.exists(),
        "{} is missing: build it first with `cargo build --workspace --bins` (cargo test --workspace does this)",
        bin.display()
    );
    bin
}

async fn serve(router: Router, listener: tokio::net::TcpListener) {
    let _ = axum::serve(listener, router).await;
}

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
        }
    }

    pub fn listen(&self, listener: tokio::net::TcpListener) {
        let router = Router::new()
            .route("/generative_callback", post(callback))
            .with_state(self.clone());
        tokio::spawn(serve(router, listener));
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
    (
        StatusCode::OK,
        if failed {
            "Failure recorded"
        } else {
            "Binary content received"
        },
    )
        .into_response()
}

/// A free TCP port on 127.0.0.1 (bound then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// A temp home for one miner: wallet, metagraph file, state dir.
pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub port: u16,
    pub env: Vec<(String, String)>,
}

impl Fixture {
    /// Wallet from the miner mnemonic; metagraph with the validator (50000 TAO), a poor
    /// validator (100 TAO) and the miner; every service pointed at `providers`, OpenRouter
    /// serving images and video disabled unless a test says otherwise.
    pub fn new(providers: &FakeProviders) -> Fixture {
        let dir = tempfile::tempdir().expect("tempdir");
        let wallets = dir.path().join("wallets");
        write_plain_hotkey(&wallets, "miner", "default", MINER_PHRASE).expect("wallet");
        let graph = json!({"netuid": 34, "neurons": [
            {"uid": 0, "hotkey": key(VALIDATOR_PHRASE).ss58(), "stake": 50000.0, "validator_permit": true},
            {"uid": 1, "hotkey": key(POOR_PHRASE).ss58(), "stake": 100.0, "validator_permit": false},
            {"uid": 2, "hotkey": key(MINER_PHRASE).ss58(), "stake": 0.0, "validator_permit": false},
        ]});
        let graph_path = dir.path().join("metagraph.json");
        std::fs::write(&graph_path, graph.to_string()).expect("metagraph");
        let anchors = dir.path().join("trust_anchors");
        std::fs::create_dir_all(&anchors).expect("anchors dir");
        std::fs::write(anchors.join("fake-providers.pem"), providers.anchor_pem()).expect("anchor");
        let port = free_port();
        let p = |x: &Path| x.display().to_string();
        let env = vec![
            ("BT_WALLET_PATH", p(&wallets)),
            ("BT_WALLET_NAME", "miner".into()),
            ("BT_WALLET_HOTKEY", "default".into()),
            ("BT_METAGRAPH_FILE", p(&graph_path)),
            ("BT_AXON_IP", "127.0.0.1".into()),
            ("BT_AXON_PORT", port.to_string()),
            ("MINER_STATE_DIR", p(&dir.path().join("state"))),
            ("IMAGE_SERVICE", "openrouter".into()),
            ("VIDEO_SERVICE", "none".into()),
            ("OPENAI_API_KEY", OPENAI_KEY.into()),
            ("OPEN_ROUTER_API_KEY", OPEN_ROUTER_KEY.into()),
            ("STABILITY_API_KEY", STABILITY_KEY.into()),
            ("RUNWAYML_API_KEY", RUNWAY_KEY.into()),
            ("OPENAI_BASE_URL", providers.openai_url()),
            ("OPEN_ROUTER_BASE_URL", providers.openrouter_url()),
            ("STABILITY_BASE_URL", providers.stability_url()),
            ("RUNWAY_BASE_URL", providers.runway_url()),
            ("MINER_VIDEO_POLL_INTERVAL", "0.1".into()),
            ("GAS_TRUST_ANCHORS", p(&anchors)),
            ("BT_LOGGING_LEVEL", "DEBUG".into()),
            // The fake validators listen on loopback, which webhooks may not reach by default.
            ("MINER_WEBHOOK_ALLOW", "127.0.0.0/8".into()),
        ];
        Fixture {
            dir,
            port,
            env: env.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
        }
    }

    /// The miner's sled database, opened once the miner has stopped (sled allows one
    /// process at a time; a killed miner's lock goes with it).
    pub async fn open_store(&self) -> gas_miner::store::Store {
        let state = self.dir.path().join("state");
        let mut tries = 0;
        loop {
            match gas_miner::store::Store::open(&state) {
                Ok(store) => return store,
                Err(_) if tries < 50 => {
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("state database did not open: {e}"),
            }
        }
    }

    /// The provider calls the miner recorded for `task_id`.
    pub async fn recorded_calls(&self, task_id: &str) -> Vec<gas_miner::store::CallRecord> {
        self.open_store().await.calls(task_id).expect("calls")
    }

    /// The pre-flight verdicts the miner stored for `task_id`, oldest first.
    pub async fn recorded_verdicts(&self, task_id: &str) -> Vec<gas_shared::verdict::Verdict> {
        self.open_store().await.verdicts(task_id).expect("verdicts")
    }

    /// Removes a setting (e.g. `BT_METAGRAPH_FILE`, to use the chain).
    pub fn unset(&mut self, name: &str) {
        self.env.retain(|(k, _)| k != name);
    }

    pub fn set(&mut self, name: &str, value: &str) {
        self.env.retain(|(k, _)| k != name);
        self.env.push((name.into(), value.into()));
    }

    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Starts `gas-miner run` and waits until it accepts connections.
    pub fn start(&self) -> Miner {
        let log_path = self.dir.path().join(format!("miner-{}.log", now_ms()));
        let log = std::fs::File::create(&log_path).expect("log file");
        let child = Command::new(miner_bin())
            .arg("run")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log.try_clone().expect("log"))
            .spawn()
            .expect("spawn gas-miner");
        let mut miner = Miner {
            child: Some(child),
            log_path,
        };
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if let Some(status) = miner
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!(
                    "gas-miner exited with {status} before listening:\n{}",
                    miner.log()
                );
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "gas-miner did not listen within 20 s:\n{}",
                miner.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        miner
    }
}

/// A running miner; killed (SIGKILL) when dropped.
pub struct Miner {
    child: Option<Child>,
    pub log_path: PathBuf,
}

impl Miner {
    /// The process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// `kill -9`: no chance to flush or say goodbye.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM, without waiting.
    pub fn send_term(&self) {
        if let Some(pid) = self.pid() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(pid.to_string())
                .status();
        }
    }

    /// Waits for the exit status.
    pub fn wait_exit(&mut self) -> Option<i32> {
        self.child.take()?.wait().ok().and_then(|s| s.code())
    }

    /// SIGTERM, then waits for the exit status; a miner still running 60 s later is killed
    /// (None), so that a hang fails the test instead of stalling it.
    pub fn terminate(&mut self) -> Option<i32> {
        let mut c = self.child.take()?;
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(c.id().to_string())
            .status();
        let began = Instant::now();
        while began.elapsed() < Duration::from_secs(60) {
            if let Ok(Some(status)) = c.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = c.kill();
        let _ = c.wait();
        None
    }
}

impl Drop for Miner {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Everything one end-to-end test needs: fake providers and validator, a fixture with `env`
/// set on top of its defaults, the real miner running on it, and a validator's challenger.
pub struct Rig {
    pub providers: FakeProviders,
    pub validator: FakeValidator,
    pub fixture: Fixture,
    pub miner: Miner,
    pub v: Challenger,
}

impl Rig {
    pub async fn start(env: &[(&str, &str)]) -> Rig {
        install_crypto();
        let providers = FakeProviders::start().await;
        let validator = FakeValidator::start(&key(VALIDATOR_PHRASE), &key(MINER_PHRASE)).await;
        let mut fixture = Fixture::new(&providers);
        for (k, v) in env {
            fixture.set(k, v);
        }
        let miner = fixture.start();
        let v = Challenger::new(&fixture.base(), VALIDATOR_PHRASE);
        Rig {
            providers,
            validator,
            fixture,
            miner,
            v,
        }
    }
}

/// Signs and sends like a validator. `tweak` may change headers after signing.
pub struct Challenger {
    pub client: reqwest::Client,
    pub key: Hotkey,
    pub miner: String,
    pub base: String,
}

impl Challenger {
    pub fn new(base: &str, phrase: &str) -> Challenger {
        Challenger {
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("client"),
            key: key(phrase),
            miner: key(MINER_PHRASE).ss58().to_string(),
            base: base.to_string(),
        }
    }

    pub fn headers(&self, body: &[u8], ts: i64) -> Vec<(String, String)> {
        sign_headers(&self.key, &sha256_hex(body), Some(&self.miner), ts)
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect()
    }

    /// POSTs `body` to `path` with `headers` as given.
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Vec<u8>,
        headers: &[(String, String)],
    ) -> (u16, Value) {
        let mut req = self
            .client
            .request(method, format!("{}{path}", self.base))
            .body(body);
        for (k, v) in headers {
            req = req.header(k, v);
        }
        self.try_send(req).await.expect("request reached the miner")
    }

    async fn try_send(&self, req: reqwest::RequestBuilder) -> Result<(u16, Value), reqwest::Error> {
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let text = resp.text().await?;
        Ok((
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        ))
    }

    /// A correctly signed challenge, or the transport error (a miner that is stopping).
    pub async fn try_challenge(
        &self,
        path: &str,
        body: &Value,
        webhook: &str,
    ) -> Result<(u16, Value), reqwest::Error> {
        let bytes = python_json(body);
        let mut req = self
            .client
            .post(format!("{}{path}", self.base))
            .header("Content-Type", "application/json")
            .header("X-Webhook-URL", webhook);
        for (k, v) in self.headers(&bytes, now_ms()) {
            req = req.header(k, v);
        }
        self.try_send(req.body(bytes)).await
    }

    /// A correctly signed challenge with the webhook header.
    pub async fn challenge(&self, path: &str, body: &Value, webhook: &str) -> (u16, Value) {
        let bytes = python_json(body);
        let mut headers = self.headers(&bytes, now_ms());
        headers.push(("Content-Type".into(), "application/json".into()));
        headers.push(("X-Webhook-URL".into(), webhook.into()));
        self.send(reqwest::Method::POST, path, bytes, &headers)
            .await
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let headers = self.headers(b"", now_ms());
        self.send(reqwest::Method::GET, path, Vec::new(), &headers)
            .await
    }
}

/// JSON as Python's `json.dumps` writes it (`", "` and `": "` separators).
pub fn python_json(v: &Value) -> Vec<u8> {
    fn write(v: &Value, out: &mut String) {
        match v {
            Value::Object(m) => {
                out.push('{');
                for (i, (k, val)) in m.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    out.push_str(&Value::String(k.clone()).to_string());
                    out.push_str(": ");
                    write(val, out);
                }
                out.push('}');
            }
            Value::Array(a) => {
                out.push('[');
                for (i, val) in a.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    write(val, out);
                }
                out.push(']');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let mut s = String::new();
    write(v, &mut s);
    s.into_bytes()
}

/// `../shared/<relative>` when it is there (see [`shared_dir`]).
pub fn shared_path(relative: &str) -> Option<PathBuf> {
    shared_dir()
        .map(|s| s.join(relative))
        .filter(|p| p.exists())
}

pub fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
