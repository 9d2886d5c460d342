//! The real miner under test: a temp home for it (`Fixture`: wallet, metagraph, settings
//! pointing at the fakes), the running process (`Miner`), and everything one end-to-end test
//! needs at once (`Rig`).

use crate::{
    Challenger, FakeProviders, FakeValidator, GEMINI_KEY, MINER_PHRASE, OPEN_ROUTER_KEY,
    OPENAI_KEY, POOR_PHRASE, RUNWAY_KEY, STABILITY_KEY, VALIDATOR_PHRASE, install_crypto, key,
};
use gas_miner::clock::now_ms;
use gas_miner::identity::write_plain_hotkey;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

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
            ("GEMINI_API_KEY", GEMINI_KEY.into()),
            ("GEMINI_BASE_URL", providers.google_url()),
            (
                "GOOGLE_APPLICATION_CREDENTIALS",
                p(&providers.vertex_key_file(dir.path())),
            ),
            ("VERTEX_BASE_URL", providers.vertex_url()),
            ("MINER_VIDEO_POLL_INTERVAL", "0.1".into()),
            ("GAS_TRUST_ANCHORS", p(&anchors)),
            ("BT_LOGGING_LEVEL", "DEBUG".into()),
            // The fake validators listen on loopback, which webhooks may not reach by default.
            ("MINER_WEBHOOK_ALLOW", "127.0.0.0/8".into()),
            // Nothing in a test reaches the real subnet API; tests of the standing start a fake.
            ("GAS_API_URL", "http://127.0.0.1:9".into()),
            ("MINER_STANDING_POLL", "0".into()),
        ];
        Fixture {
            dir,
            port,
            env: env.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
        }
    }

    /// The miner's sled database, opened once the miner has stopped (sled allows one
    /// process at a time; a killed miner's lock goes with it).
    pub async fn open_store(&self) -> gas_miner::testing::Store {
        let state = self.dir.path().join("state");
        let mut tries = 0;
        loop {
            match gas_miner::testing::Store::open(&state) {
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
    pub async fn recorded_calls(&self, task_id: &str) -> Vec<gas_miner::task::CallRecord> {
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

    /// The miner's admin socket (in the fixture's state directory).
    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("state/admin.sock")
    }

    /// The running miner's `GET /status`.
    pub async fn status(&self) -> gas_shared::admin::Status {
        gas_client::get_json(&self.socket(), "GET", "/status", None)
            .await
            .expect("GET /status")
    }

    /// Runs `gas-miner <args>` as the operator would beside this miner (its environment and
    /// nothing else): the exit code, and what it printed (stdout, then stderr).
    pub fn cli(&self, args: &[&str]) -> (Option<i32>, String) {
        let out = Command::new(miner_bin())
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .output()
            .expect("gas-miner runs");
        (
            out.status.code(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
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
