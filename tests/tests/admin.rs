//! The admin socket through the real binary: mode 0600, a stale socket replaced and a live one
//! refused, every endpoint answering, and `GET /events` giving a reader that fell behind a
//! fresh snapshot instead of silently skipping changes.

use gas_client::{get_json, request};
use gas_shared::admin::*;
use gas_tests::*;
use serde_json::json;
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

async fn rig() -> (FakeProviders, FakeValidator, Fixture, Miner) {
    install_crypto();
    let providers = FakeProviders::start().await;
    let validator = FakeValidator::start(&key(VALIDATOR_PHRASE), &key(MINER_PHRASE)).await;
    let mut fixture = Fixture::new(&providers);
    // The flood below queues far more than the fakes finish an hour: admission's wait check
    // would (rightly) refuse most of it, and these tests are about the admin socket.
    fixture.set("MINER_ADMISSION_MAX_WAIT", "0");
    let miner = fixture.start();
    (providers, validator, fixture, miner)
}

#[tokio::test(flavor = "multi_thread")]
async fn every_endpoint_answers_with_the_shared_types() {
    let (providers, validator, fixture, _miner) = rig().await;
    let socket = fixture.dir.path().join("state/admin.sock");
    let mode = std::fs::metadata(&socket)
        .expect("socket")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600, "only the miner's user may connect");
    let v = Challenger::new(&fixture.base(), VALIDATOR_PHRASE);
    providers.script(Api::OpenRouterImage, [Reply::Flawed(Defect::Stale)]);
    let (_, r) = v
        .challenge(
            "/gen_image",
            &json!({"prompt": "a stale wren"}),
            &validator.url(),
        )
        .await;
    let stale = r["task_id"].as_str().expect("id").to_string();
    // The scripted flaw goes to whichever call arrives first: the fresh challenge is sent only
    // once the stale one's call was made.
    let began = std::time::Instant::now();
    while providers.requests(Api::OpenRouterImage).is_empty() {
        assert!(
            began.elapsed() < WAIT,
            "the stale task never called the provider"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let (_, r) = v
        .challenge(
            "/gen_image",
            &json!({"prompt": "a fresh wren"}),
            &validator.url(),
        )
        .await;
    let fresh = r["task_id"].as_str().expect("id").to_string();
    validator
        .wait_for(WAIT, "both webhooks", |h| h.len() >= 2)
        .await;

    // The validator has both webhooks; the miner counts each reply once its answer is back.
    let began = std::time::Instant::now();
    let status: Status = loop {
        let status: Status = get_json(&socket, "GET", "/status", None)
            .await
            .expect("status");
        if status.replies.hour.total() >= 2 || began.elapsed() > WAIT {
            break status;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(
        (status.uid, status.netuid, status.registered),
        (Some(2), 34, true)
    );
    assert_eq!(status.throughput.accepted_last_minute, 2);
    assert_eq!(
        (status.preflight.hour.passed, status.preflight.hour.total),
        (1, 2)
    );
    assert_eq!(status.validators[0].challenges, 2);
    assert_eq!(
        status.validators[0].replies.passed, 1,
        "the success webhook passed Stage A (v4.9.x: 200 \"Binary content received\")"
    );
    assert_eq!(status.providers[0].name, "openrouter");
    assert_eq!(status.services.image, vec!["openrouter"]);
    assert_eq!(status.trust_anchors, 1);

    let page: TaskPage = get_json(&socket, "GET", "/tasks?verdict=c2pa_failed", None)
        .await
        .expect("tasks");
    assert_eq!(
        page.tasks
            .iter()
            .map(|t| t.task_id.clone())
            .collect::<Vec<_>>(),
        vec![stale.clone()]
    );
    let page: TaskPage = get_json(&socket, "GET", "/tasks?limit=1", None)
        .await
        .expect("tasks");
    assert_eq!(page.tasks[0].task_id, fresh, "newest first");
    let next: TaskPage = get_json(
        &socket,
        "GET",
        &format!("/tasks?limit=1&before={}", page.next.expect("cursor")),
        None,
    )
    .await
    .expect("page 2");
    assert_eq!(next.tasks[0].task_id, stale);
    let found: TaskPage = get_json(&socket, "GET", "/tasks?q=fresh%20wren", None)
        .await
        .expect("search");
    assert_eq!(found.tasks.len(), 1);

    let detail: TaskDetail = get_json(&socket, "GET", &format!("/tasks/{stale}"), None)
        .await
        .expect("detail");
    assert!(
        detail.verdicts[0]
            .reasons
            .iter()
            .any(|r| r.starts_with("freshness: signed 9")),
        "{:?}",
        detail.verdicts
    );
    assert_eq!(detail.deliveries[0].kind, "failure");
    assert!(detail.calls.iter().any(|c| c.op == "generate"));
    assert!(
        detail
            .timeline
            .iter()
            .any(|e| e.what.starts_with("pre-flight failed"))
    );

    let replay: gas_shared::verdict::Verdict =
        get_json(&socket, "POST", &format!("/tasks/{fresh}/verify"), None)
            .await
            .expect("replay");
    assert!(replay.passed && replay.provider == "replay", "{replay:?}");
    let nothing = get_json::<gas_shared::verdict::Verdict>(
        &socket,
        "POST",
        &format!("/tasks/{stale}/verify"),
        None,
    )
    .await;
    assert!(
        nothing
            .expect_err("no media")
            .to_string()
            .contains("has no media kept")
    );

    let reload: TrustReload = get_json(&socket, "POST", "/trust/reload", None)
        .await
        .expect("reload");
    assert_eq!(reload.anchors, 1);
    let logs: LogTail = get_json(&socket, "GET", "/logs?n=5000", None)
        .await
        .expect("logs");
    assert!(logs.lines.iter().any(|l| l.contains("challenge accepted")));
    let bad = get_json::<Services>(
        &socket,
        "PUT",
        "/services",
        Some(br#"{"image": "runway"}"#.to_vec()),
    )
    .await;
    assert!(
        bad.expect_err("refused")
            .to_string()
            .contains("runway cannot make images")
    );
    let (code, _) = request(&socket, "GET", "/tasks/nope", None)
        .await
        .expect("reply");
    assert_eq!(code, 404);
    let text = serde_json::to_string(&status).expect("json");
    for secret in ALL_KEYS {
        assert!(!text.contains(secret), "a key crossed the admin socket");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stale_socket_is_replaced_and_a_live_one_refused() {
    install_crypto();
    let providers = FakeProviders::start().await;
    let mut fixture = Fixture::new(&providers);
    let path = fixture.dir.path().join("run/admin.sock");
    std::fs::create_dir_all(path.parent().expect("dir")).expect("dir");
    fixture.set("GAS_ADMIN_SOCKET", &path.display().to_string());
    // Left behind by a crash: the file exists, nobody listens.
    drop(std::os::unix::net::UnixListener::bind(&path).expect("bind"));
    let miner = fixture.start();
    let s: Status = get_json(&path, "GET", "/status", None)
        .await
        .expect("the miner took it over");
    assert_eq!(s.admin_socket, path.display().to_string());
    drop(miner);

    // Someone is listening there: another miner's socket is never stolen.
    let _live = tokio::net::UnixListener::bind({
        let _ = std::fs::remove_file(&path);
        &path
    })
    .expect("bind");
    let mut other = Fixture::new(&providers);
    other.set("GAS_ADMIN_SOCKET", &path.display().to_string());
    let out = std::process::Command::new(miner_bin())
        .arg("run")
        .env_clear()
        .env("HOME", other.dir.path())
        .envs(other.env.iter().map(|(k, v)| (k, v)))
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("is live: another gas-miner is running with it"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reader_that_falls_behind_gets_a_fresh_snapshot() {
    use http_body_util::BodyExt;
    use hyper_util::rt::TokioIo;
    let (_providers, validator, fixture, _miner) = rig().await;
    let socket = fixture.dir.path().join("state/admin.sock");
    let stream = tokio::net::UnixStream::connect(&socket)
        .await
        .expect("connect");
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(conn);
    let req = hyper::Request::builder()
        .uri("/events")
        .header("host", "gas-miner")
        .body(http_body_util::Full::new(bytes::Bytes::new()))
        .expect("request");
    let resp = sender.send_request(req).await.expect("events");
    let mut body = resp.into_body();
    // Far more task changes than the feed buffers, while this reader reads nothing.
    let v = std::sync::Arc::new(Challenger::new(&fixture.base(), VALIDATOR_PHRASE));
    let url = validator.url();
    let statuses: Vec<u16> = futures_util::stream::iter((0..1500).map(|i| {
        let (v, url) = (v.clone(), url.clone());
        async move {
            v.challenge("/gen_image", &json!({"prompt": format!("flood {i}")}), &url)
                .await
                .0
        }
    }))
    .buffer_unordered(32)
    .collect()
    .await;
    assert!(statuses.iter().all(|s| *s == 201));
    // Now read: after the first snapshot there must be a second one (the lag).
    let mut pending = Vec::new();
    let mut snapshots = 0;
    let start = std::time::Instant::now();
    while snapshots < 2 {
        assert!(
            start.elapsed() < WAIT,
            "no fresh snapshot after falling behind"
        );
        let Some(Ok(frame)) = body.frame().await else {
            break;
        };
        if let Ok(data) = frame.into_data() {
            pending.extend_from_slice(&data);
        }
        while let Some(end) = pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            if let Ok(Event::Snapshot { .. }) = serde_json::from_slice::<Event>(&line) {
                snapshots += 1;
            }
        }
    }
    assert_eq!(snapshots, 2);
}

use futures_util::StreamExt;
