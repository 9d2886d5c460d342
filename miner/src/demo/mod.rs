//! `gas-miner demo`: the whole loop on one machine with nothing configured. A metagraph with a
//! demo validator, a simulated validator that sends signed challenges of both modalities at a
//! steady pace and judges the webhooks by the real pre-flight rules, and two local "studios"
//! that draw pictures and make short synthetic videos, signed with a CA made at start (trusted
//! in the demo's own state directory only). The primary studio is sometimes flawed (unsigned,
//! signed by an untrusted organisation, briefly unavailable) so the fallback, the pre-flight
//! verdicts and a failure webhook can be seen too. The validator answers as v4.9.x and v5 in
//! turn, and a made-up subnet API (`subnet`) tells the standing. None of it is reachable
//! from `run`.

mod studio;
mod subnet;
mod validator;

use crate::config::{Config, Settings};
use crate::daemon::Fatal;
use crate::identity::Hotkey;
use crate::logs::LogRing;
use crate::preflight::Preflight;
use crate::preflight::signer::{Holder, TestCa};
use crate::providers::Provider;
use crate::providers::registry::Chains;
use gas_shared::Modality;
use rand::Rng;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use studio::{Flaws, Studio};
use validator::{Judge, challenge_loop, receive};

/// Marks a directory as the demo's own, so that it can be wiped at the next demo.
const MARKER: &str = ".gas-miner-demo";
/// The organisation on the demo studios' certificate: one validators trust.
const STUDIO_ORG: &str = "Stability AI (gas-miner demo signer)";
/// The organisation of the flawed signer: not an AI generator validators know.
const ROGUE_ORG: &str = "Pixel Forgery Ltd (gas-miner demo)";

/// What `gas-miner demo` was asked for.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    pub state_dir: PathBuf,
    /// Challenges per minute.
    pub rate: f64,
    /// Stop after this long (none: until Ctrl-C or `gas-miner stop`).
    pub duration: Option<Duration>,
}

/// The default demo state directory: `$TMPDIR/gas-miner-demo` (gas-console finds it there).
pub fn default_dir() -> PathBuf {
    gas_shared::admin::demo_state_dir()
}

/// Makes `dir` an empty demo directory: a leftover demo is wiped, anything else is refused.
pub fn prepare(dir: &Path) -> Result<(), Fatal> {
    let fatal = |code, message: String| Fatal { code, message };
    if dir.exists() {
        let socket = dir.join("admin.sock");
        if std::os::unix::net::UnixStream::connect(&socket).is_ok() {
            return Err(fatal(
                1,
                format!(
                    "a demo already runs in {}; watch it with `gas-console --socket {}`, or stop it with Ctrl-C",
                    dir.display(),
                    socket.display()
                ),
            ));
        }
        let empty = std::fs::read_dir(dir)
            .map(|mut d| d.next().is_none())
            .unwrap_or(false);
        if !empty && !dir.join(MARKER).exists() {
            return Err(fatal(
                2,
                format!(
                    "{} is not empty and not a demo directory; give the demo an empty or new --state-dir",
                    dir.display()
                ),
            ));
        }
        std::fs::remove_dir_all(dir).map_err(|e| {
            fatal(
                1,
                format!(
                    "the last demo's directory {} cannot be cleared: {e}",
                    dir.display()
                ),
            )
        })?;
    }
    std::fs::create_dir_all(dir.join("trust_anchors"))
        .and_then(|()| {
            std::fs::write(
                dir.join(MARKER),
                "made by gas-miner demo; wiped at the next demo\n",
            )
        })
        .map_err(|e| {
            fatal(
                2,
                format!(
                    "demo directory {} cannot be created: {e}; give it a writable --state-dir",
                    dir.display()
                ),
            )
        })
}

/// How the demo went, as the simulated validator saw it.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    pub sent: u64,
    /// Answered 201 with a task id.
    pub accepted: u64,
    /// Refused at the door (anything but 201).
    pub refused: u64,
    /// Media delivered that passed the validator's checks.
    pub passed: u64,
    /// Media delivered that failed them.
    pub rejected: u64,
    /// Failure webhooks (the miner said it could not make it).
    pub failures: u64,
}

impl Tally {
    fn line(&self) -> String {
        let judged = self.passed + self.rejected;
        let rate = if judged == 0 {
            "–".to_string()
        } else {
            format!("{:.0}%", 100.0 * self.passed as f64 / judged as f64)
        };
        format!(
            "DEMO validator: {} challenges sent, {} accepted, {} refused (503: no_answer under v5), {} delivered ({} passed, {} rejected: pass rate {rate}), {} failure webhooks",
            self.sent,
            self.accepted,
            self.refused,
            judged,
            self.passed,
            self.rejected,
            self.failures
        )
    }
}

/// Runs the demo until `options.duration` passes or it is stopped; returns the tally.
pub async fn run(options: DemoOptions, logs: LogRing) -> Result<Tally, Fatal> {
    let fatal = |code, message: String| Fatal { code, message };
    let dir = &options.state_dir;
    let miner = random_key()?;
    let validator = Arc::new(random_key()?);
    let ca = TestCa::new("gas-miner demo CA").map_err(|e| fatal(1, e.to_string()))?;
    let anchors = dir.join("trust_anchors");
    std::fs::write(anchors.join("gas-miner-demo-ca.pem"), &ca.root_pem)
        .map_err(|e| fatal(1, format!("demo trust anchor: {e}")))?;
    let studio = Arc::new(
        ca.signer(&Holder::valid(STUDIO_ORG))
            .map_err(|e| fatal(1, e.to_string()))?,
    );
    let rogue = Arc::new(
        ca.signer(&Holder::valid(ROGUE_ORG))
            .map_err(|e| fatal(1, e.to_string()))?,
    );
    let metagraph = dir.join("metagraph.json");
    let graph = json!({"netuid": 34, "neurons": [
        {"uid": 0, "hotkey": validator.ss58(), "stake": 50000.0, "validator_permit": true},
        {"uid": 1, "hotkey": miner.ss58(), "stake": 0.0, "validator_permit": false},
    ]});
    std::fs::write(&metagraph, graph.to_string())
        .map_err(|e| fatal(1, format!("demo metagraph: {e}")))?;

    let port = free_port().map_err(|e| fatal(1, format!("no free port for the demo: {e}")))?;
    // The made-up validator's webhook receiver and the made-up subnet API share one port.
    let webhook = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| fatal(1, format!("demo validator cannot listen: {e}")))?;
    let validator_addr = webhook.local_addr().map_err(|e| fatal(1, e.to_string()))?;
    let settings = Settings {
        state_dir: Some(dir.display().to_string()),
        trust_anchors: Some(anchors.display().to_string()),
        metagraph_file: Some(metagraph.display().to_string()),
        axon_ip: Some("127.0.0.1".into()),
        axon_port: Some(port.to_string()),
        output_dir: Some(dir.join("output").display().to_string()),
        // The made-up validator listens on this machine.
        webhook_allow: Some("127.0.0.1".into()),
        gas_api_url: Some(format!("http://{validator_addr}")),
        standing_poll: Some("30".into()),
        name: Some("demo".into()),
        demo: true,
        ..Settings::default()
    };
    let config: Config = settings.resolve().map_err(|p| fatal(2, p.join("; ")))?;

    let mut chains = Chains::new();
    let primary: Arc<dyn Provider> = Arc::new(Studio {
        name: "demo-studio",
        signer: studio.clone(),
        rogue,
        flaws: Flaws {
            outage: 0.05,
            unsigned: 0.08,
            untrusted: 0.08,
        },
    });
    let backup: Arc<dyn Provider> = Arc::new(Studio {
        name: "demo-backup",
        signer: studio.clone(),
        rogue: studio,
        flaws: Flaws {
            outage: 0.0,
            unsigned: 0.12,
            untrusted: 0.0,
        },
    });
    for modality in Modality::ALL {
        chains.insert(modality, vec![primary.clone(), backup.clone()]);
    }

    let judge = Arc::new(
        Judge::new(
            validator.clone(),
            crate::chain::MetagraphFile {
                path: metagraph.clone(),
            }
            .read()
            .map_err(|e| fatal(1, e.to_string()))?,
            Preflight::new(&anchors).map_err(|e| fatal(1, e.to_string()))?,
            dir.join("validator"),
        )
        .map_err(|e| fatal(1, format!("demo validator inbox: {e}")))?,
    );
    let webhook_url = format!("http://{validator_addr}/generative_callback");
    let subnet = Arc::new(subnet::Subnet {
        judge: judge.clone(),
        miner: miner.ss58().to_string(),
    });
    let app = axum::Router::new()
        .route("/generative_callback", axum::routing::post(receive))
        .layer(axum::extract::DefaultBodyLimit::max(64 * 1024 * 1024))
        .with_state(judge.clone())
        .merge(
            axum::Router::new()
                .route(
                    "/api/v1/generator/performance",
                    axum::routing::get(subnet::performance),
                )
                .with_state(subnet),
        );
    tokio::spawn(async move {
        let _ = axum::serve(webhook, app).await;
    });

    let socket = config.admin_socket.clone();
    tracing::warn!(
        "DEMO: nothing here is real: a made-up validator, local studios and a demo CA trusted only in {}",
        dir.display()
    );
    tracing::warn!(
        "DEMO: watch it live in another terminal: gas-console --socket {}",
        socket.display()
    );
    let miner_ss58 = miner.ss58().to_string();
    let challenger = tokio::spawn(challenge_loop(
        judge.clone(),
        format!("http://127.0.0.1:{port}"),
        miner_ss58,
        webhook_url,
        options.rate,
    ));
    let reporter = {
        let judge = judge.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(20)).await;
                tracing::info!("{}", judge.tally().line());
            }
        })
    };
    let result = crate::daemon::run_with(config, miner, logs, chains, options.duration).await;
    challenger.abort();
    reporter.abort();
    result?;
    let tally = judge.tally();
    tracing::info!("{}", tally.line());
    Ok(tally)
}

fn random_key() -> Result<Hotkey, Fatal> {
    let seed: [u8; 32] = rand::thread_rng().r#gen();
    Hotkey::from_seed(&seed).map_err(|e| Fatal {
        code: 1,
        message: format!("demo key: {e}"),
    })
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}
