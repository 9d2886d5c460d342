//! Security checks through the real binary: webhooks never reach the operator's own network
//! unless allowed (literal addresses, names resolving there, redirects), the admin socket
//! refuses other users, and no API key, seed or phrase shows in anything the miner says.

use gas_client::{get_json, request};
use gas_shared::TaskState;
use gas_shared::admin::{TaskDetail, TaskPage};
use gas_tests::*;
use serde_json::{Value, json};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(30);

async fn rig(allow: Option<&str>) -> (FakeProviders, FakeValidator, Fixture, Miner) {
    install_crypto();
    let providers = FakeProviders::start().await;
    let validator = FakeValidator::start(&key(VALIDATOR_PHRASE), &key(MINER_PHRASE)).await;
    let mut fixture = Fixture::new(&providers);
    match allow {
        Some(nets) => fixture.set("MINER_WEBHOOK_ALLOW", nets),
        None => fixture.unset("MINER_WEBHOOK_ALLOW"),
    }
    let miner = fixture.start();
    (providers, validator, fixture, miner)
}

/// Waits until the task is finished and returns it.
async fn finished(fixture: &Fixture, task_id: &str) -> TaskDetail {
    let began = Instant::now();
    loop {
        let detail: TaskDetail =
            get_json(&fixture.socket(), "GET", &format!("/tasks/{task_id}"), None)
                .await
                .expect("task detail");
        if detail.summary.state.is_final() {
            return detail;
        }
        assert!(began.elapsed() < WAIT, "task never finished: {detail:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// An HTTP server that counts the requests it gets and answers each with `reply`.
async fn counting_server(
    ip: &str,
    reply: impl Fn() -> axum::response::Response + Clone + Send + Sync + 'static,
) -> (std::net::SocketAddr, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind((ip, 0)).await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let app = axum::Router::new().fallback(move || {
        let reply = reply.clone();
        let counter = counter.clone();
        async move {
            counter.fetch_add(1, Ordering::SeqCst);
            reply()
        }
    });
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, hits)
}

#[tokio::test(flavor = "multi_thread")]
async fn webhooks_to_the_operator_s_own_network_are_refused_unless_allowed() {
    let (_providers, validator, fixture, miner) = rig(None).await;
    let v = Challenger::new(&fixture.base(), VALIDATOR_PHRASE);
    let port = validator.addr.port();
    let body = json!({"prompt": "a lighthouse at dusk"});
    for (url, says) in [
        (
            format!("http://127.0.0.1:{port}/generative_callback"),
            "loopback",
        ),
        (
            format!("http://[::1]:{port}/generative_callback"),
            "loopback",
        ),
        (
            "http://169.254.169.254/latest/meta-data/".to_string(),
            "link-local",
        ),
        (
            "http://10.0.0.1:10525/generative_callback".to_string(),
            "private",
        ),
        ("http://192.168.1.1/admin".to_string(), "private"),
        ("http://0.0.0.0:22/".to_string(), "unspecified"),
        ("file:///etc/passwd".to_string(), "http(s)"),
        ("gopher://203.0.113.9/".to_string(), "http(s)"),
    ] {
        let (status, reply) = v.challenge("/gen_image", &body, &url).await;
        let text = reply.to_string();
        assert_eq!(status, 400, "{url} was accepted: {text}");
        assert!(text.contains(says), "{url}: {text}");
        if says != "http(s)" {
            assert!(
                text.contains("MINER_WEBHOOK_ALLOW"),
                "the fix is named: {text}"
            );
        }
    }
    // A name is judged by what it resolves to, when the miner connects.
    let (status, reply) = v
        .challenge(
            "/gen_image",
            &body,
            &format!("http://localhost:{port}/generative_callback"),
        )
        .await;
    assert_eq!(status, 201, "{reply}");
    let id = reply["task_id"].as_str().expect("task id");
    let task = finished(&fixture, id).await;
    assert_eq!(task.summary.state, TaskState::Failed, "{task:?}");
    let said = &task.deliveries.last().expect("an attempt recorded").reply;
    assert!(
        said.contains("not sent")
            && said.contains("localhost resolves to")
            && said.contains("loopback"),
        "{said}"
    );
    assert_eq!(task.deliveries.len(), 1, "not retried: {task:?}");
    assert!(
        validator.webhooks().is_empty(),
        "nothing reached the validator"
    );
    assert!(
        miner.log().contains("not sent"),
        "the operator can read why in the log"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn allowed_networks_are_reached_and_redirects_are_not_followed() {
    // Only 127.0.0.1 is allowed. The "validator" there redirects (302, which an HTTP client
    // follows as a GET) to 127.0.0.2, which a followed redirect would reach without any
    // check of the allow list.
    let (inner, inner_hits) = counting_server("127.0.0.2", || {
        axum::response::IntoResponse::into_response("internal service")
    })
    .await;
    let target = format!("http://{inner}/secret");
    let (outer, outer_hits) = counting_server("127.0.0.1", move || {
        axum::response::IntoResponse::into_response((
            axum::http::StatusCode::FOUND,
            [("location", target.clone())],
        ))
    })
    .await;
    let (_providers, validator, fixture, _miner) = rig(Some("127.0.0.1")).await;
    let v = Challenger::new(&fixture.base(), VALIDATOR_PHRASE);
    let body = json!({"prompt": "a lighthouse at dusk"});
    let (status, reply) = v
        .challenge(
            "/gen_image",
            &body,
            &format!("http://{outer}/generative_callback"),
        )
        .await;
    assert_eq!(status, 201, "{reply}");
    let task = finished(&fixture, reply["task_id"].as_str().expect("id")).await;
    assert_eq!(outer_hits.load(Ordering::SeqCst), 1, "{task:?}");
    assert_eq!(
        inner_hits.load(Ordering::SeqCst),
        0,
        "the redirect was followed"
    );
    assert_eq!(task.deliveries[0].status, Some(302));
    assert_eq!(
        task.summary.state,
        TaskState::Failed,
        "the validator never got it"
    );
    // The allowed address itself works as any validator would.
    let (status, reply) = v.challenge("/gen_image", &body, &validator.url()).await;
    assert_eq!(status, 201, "{reply}");
    validator
        .wait_for(WAIT, "the webhook on an allowed address", |h| h.len() == 1)
        .await;
    // 127.0.0.2 is loopback too, but not allowed.
    let (status, reply) = v
        .challenge(
            "/gen_image",
            &body,
            &format!("http://{inner}/generative_callback"),
        )
        .await;
    assert_eq!(status, 400, "{reply}");
}

/// Runs `args` as user `nobody` (uid 65534); None where that is impossible (not root).
fn as_nobody(args: &[&str]) -> Option<std::process::Output> {
    if !available("setpriv") || !available("curl") {
        return None;
    }
    use std::os::unix::fs::MetadataExt;
    if std::fs::metadata("/proc/self").map(|m| m.uid()).ok() != Some(0) {
        return None;
    }
    Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .ok()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_admin_socket_refuses_other_users() {
    use std::os::unix::fs::PermissionsExt;
    let (_providers, _validator, fixture, miner) = rig(Some("127.0.0.0/8")).await;
    let sock = fixture.socket();
    let path = sock.display().to_string();
    let curl = [
        "curl",
        "-s",
        "-w",
        "\n%{http_code}",
        "--unix-socket",
        &path,
        "http://x/status",
    ];
    // The way to the socket is open, as on a multi-user box with a careless umask.
    for dir in [
        fixture.dir.path().to_path_buf(),
        fixture.dir.path().join("state"),
    ] {
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    let Some(out) = as_nobody(&curl) else {
        println!("SKIPPED: needs root, setpriv and curl to act as another user");
        return;
    };
    assert!(
        !out.status.success() || !String::from_utf8_lossy(&out.stdout).contains("\"uid\""),
        "mode 0600 keeps other users out: {out:?}"
    );
    // Even with the socket opened to everyone, the miner checks who is calling.
    std::fs::set_permissions(&sock, std::fs::Permissions::from_mode(0o666)).expect("chmod");
    let out = as_nobody(&curl).expect("curl as nobody");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.ends_with("\n403"), "{said}");
    assert!(said.contains("belongs to another user"), "{said}");
    assert!(
        !said.contains("hotkey"),
        "nothing about the miner was told: {said}"
    );
    for path in ["/shutdown", "/tasks", "/metrics"] {
        let out = as_nobody(&[
            "curl",
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-X",
            "POST",
            "--unix-socket",
            &sock.display().to_string(),
            &format!("http://x{path}"),
        ])
        .expect("curl");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "403", "{path}");
    }
    let (status, _) = request(&sock, "GET", "/status", None)
        .await
        .expect("own user");
    assert_eq!(status, 200, "the miner's own user still gets in");
    assert!(
        miner
            .log()
            .contains("a connection from another user was refused")
    );
}

/// The hotkey file's secrets: phrase, seed and private key as written.
fn wallet_secrets(fixture: &Fixture) -> Vec<String> {
    let file = fixture.dir.path().join("wallets/miner/hotkeys/default");
    let doc: Value =
        serde_json::from_slice(&std::fs::read(&file).expect("hotkey file")).expect("json");
    let mut all = vec![MINER_PHRASE.to_string()];
    for field in ["secretPhrase", "secretSeed", "privateKey"] {
        if let Some(s) = doc[field].as_str() {
            all.push(s.to_string());
            all.push(s.trim_start_matches("0x").to_string());
        }
    }
    all
}

#[tokio::test(flavor = "multi_thread")]
async fn no_key_seed_or_phrase_shows_in_logs_admin_replies_webhooks_or_info() {
    install_crypto();
    let providers = FakeProviders::start().await;
    let validator = FakeValidator::start(&key(VALIDATOR_PHRASE), &key(MINER_PHRASE)).await;
    let mut fixture = Fixture::new(&providers);
    fixture.set("IMAGE_SERVICE", "openrouter,openai");
    fixture.set("VIDEO_SERVICE", "runway");
    // Both image keys are refused by the echoes: their breakers open, and admission refuses
    // image challenges (503) until the pause is over.
    fixture.set("MINER_BREAKER_PAUSE", "1");
    let miner = fixture.start();
    let mut secrets: Vec<String> = ALL_KEYS.iter().map(|k| k.to_string()).collect();
    secrets.extend(wallet_secrets(&fixture));

    // Providers that repeat the key they were sent, and plain successes.
    providers.script(Api::OpenRouterImage, [Reply::EchoKey, Reply::EchoKey]);
    providers.script(Api::OpenAiImage, [Reply::EchoKey]);
    let v = Challenger::new(&fixture.base(), VALIDATOR_PHRASE);
    let mut ids = Vec::new();
    for (path, prompt) in [
        ("/gen_image", "an echoed key"),
        ("/gen_image", "a plain success"),
        ("/gen_video", "a short clip"),
    ] {
        let (status, r) = v
            .challenge(path, &json!({"prompt": prompt}), &validator.url())
            .await;
        assert_eq!(status, 201, "{r}");
        ids.push(r["task_id"].as_str().expect("id").to_string());
        if ids.len() == 1 {
            // The scripted echoes are the first image task's alone: the next ones are sent
            // once it is answered, so that none of them reaches a provider first.
            validator
                .wait_for(Duration::from_secs(60), "the first webhook", |h| {
                    !h.is_empty()
                })
                .await;
            tokio::time::sleep(Duration::from_millis(1_200)).await;
        }
    }
    validator
        .wait_for(Duration::from_secs(60), "three webhooks", |h| h.len() >= 3)
        .await;
    let echoed = validator
        .webhooks()
        .into_iter()
        .find(|h| h.task_id == ids[0])
        .expect("the echoed task's webhook");
    assert_eq!(echoed.status_header, "failed", "{echoed:?}");

    // Everything an operator, a console or a validator can see.
    let sock = fixture.socket();
    let mut seen = String::new();
    for hook in validator.webhooks() {
        seen.push_str(&format!(
            "{hook:?}\n{}\n",
            String::from_utf8_lossy(&hook.body)
        ));
    }
    let mut paths = vec![
        "/status".to_string(),
        "/tasks?limit=500".to_string(),
        "/services".to_string(),
        "/logs?n=5000".to_string(),
        "/metrics".to_string(),
    ];
    paths.extend(ids.iter().map(|id| format!("/tasks/{id}")));
    for path in &paths {
        let (status, body) = request(&sock, "GET", path, None).await.expect("admin");
        assert_eq!(status, 200, "{path}");
        seen.push_str(&String::from_utf8_lossy(&body));
    }
    let page: TaskPage = get_json(&sock, "GET", "/tasks?limit=500", None)
        .await
        .expect("tasks");
    assert_eq!(page.tasks.len(), 3);
    for (_, body) in [
        v.get(&format!("/status/{}", ids[0])).await,
        v.get("/health").await,
    ] {
        seen.push_str(&body.to_string());
    }
    for args in [&["info"][..], &["status"][..], &["logs", "-n", "5000"][..]] {
        let out = Command::new(miner_bin())
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", fixture.dir.path())
            .envs(fixture.env.iter().map(|(k, v)| (k, v)))
            .output()
            .expect("gas-miner");
        seen.push_str(&String::from_utf8_lossy(&out.stdout));
        seen.push_str(&String::from_utf8_lossy(&out.stderr));
    }
    seen.push_str(&miner.log());
    for file in gas_miner::testing::LogFile::files(&fixture.dir.path().join("state/logs")) {
        seen.push_str(&std::fs::read_to_string(file).unwrap_or_default());
    }
    assert!(
        seen.contains("Invalid credentials"),
        "the provider's error is kept, minus the key"
    );
    assert!(
        seen.contains("OPEN_ROUTER_API_KEY"),
        "info names the keys it has"
    );
    assert!(
        seen.contains(
            "webhooks   to public http(s) addresses only, and to 127.0.0.0/8 (MINER_WEBHOOK_ALLOW)"
        ),
        "info says where webhooks may go"
    );
    for secret in &secrets {
        assert!(
            !seen.contains(secret.as_str()),
            "a secret ({} chars) leaked",
            secret.len()
        );
    }
}

/// The counts a summary line gives each reason (`8,288 Signature Mismatch from 3 addresses`).
fn summed(log: &str, reason: &str) -> u64 {
    log.lines()
        .filter_map(|l| l.split(" requests refused in the last 10 s: ").nth(1))
        .flat_map(|rest| rest.split(", "))
        .filter(|part| part.contains(reason))
        .filter_map(|part| part.split(' ').next())
        .filter_map(|n| n.replace(',', "").parse::<u64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flood_of_refused_requests_is_summed_up_not_logged_one_by_one() {
    let (_providers, _validator, fixture, miner) = rig(None).await;
    let v = Challenger::new(&fixture.base(), VALIDATOR_PHRASE);
    let stranger = Challenger::new(&fixture.base(), OUTSIDER_PHRASE);
    let body = json!({"prompt": "junk"}).to_string().into_bytes();
    let flood = (0..300).map(|_| v.send(reqwest::Method::POST, "/gen_image", body.clone(), &[]));
    for (status, _) in futures_util::future::join_all(flood).await {
        assert_eq!(status, 400);
    }
    // Signed by the registered validator, then changed: the first is the one to read.
    let now = gas_miner::clock::now_ms();
    let tampered = |i: usize| {
        let headers = v.headers(&body, now + i as i64);
        let mut changed = body.clone();
        changed.push(b' ');
        (changed, headers)
    };
    for i in 0..50 {
        let (b, h) = tampered(i);
        let (status, reply) = v.send(reqwest::Method::POST, "/gen_image", b, &h).await;
        assert_eq!(
            (status, reply["detail"].as_str()),
            (400, Some("Signature Mismatch"))
        );
    }
    // A key nobody registered.
    for _ in 0..20 {
        let h = stranger.headers(&body, gas_miner::clock::now_ms());
        stranger
            .send(reqwest::Method::POST, "/gen_image", body.clone(), &h)
            .await;
    }
    let start = Instant::now();
    while summed(&miner.log(), "Unknown Epistula version") < 300
        || summed(&miner.log(), "Signature Mismatch") < 50
        || summed(&miner.log(), "Signer not in metagraph") < 20
    {
        assert!(
            start.elapsed() < Duration::from_secs(25),
            "no summary yet:\n{}",
            miner.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let log = miner.log();
    assert_eq!(summed(&log, "Unknown Epistula version"), 300, "{log}");
    assert_eq!(summed(&log, "Signature Mismatch"), 50, "{log}");
    assert_eq!(summed(&log, "Signer not in metagraph"), 20, "{log}");
    assert!(
        log.contains("Unknown Epistula version from 1 address"),
        "{log}"
    );
    let full: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("request from a registered validator refused"))
        .collect();
    assert_eq!(
        full.len(),
        1,
        "the first from the validator, once: {full:?}"
    );
    assert!(
        full[0].contains("Signature Mismatch") && full[0].contains(key(VALIDATOR_PHRASE).ss58()),
        "{}",
        full[0]
    );
    let lines = log.lines().filter(|l| l.contains("refused")).count();
    assert!(lines <= 6, "370 refusals made {lines} log lines:\n{log}");
    let (_, metrics) = request(&fixture.socket(), "GET", "/metrics", None)
        .await
        .expect("metrics");
    let metrics = String::from_utf8_lossy(&metrics);
    assert!(
        metrics.contains("gas_requests_refused_total{reason=\"Unknown Epistula version\"} 300")
            && metrics.contains("gas_requests_refused_total{reason=\"Signature Mismatch\"} 50"),
        "{metrics}"
    );
}
