//! The operator's commands through the real binary, as an operator types them in the
//! directory that holds `.env.gen_miner`: `info`, `start` (a detached tmux session),
//! `status`, `logs` (and `-f`), `restart` (the env file read again), `stop` (drained through
//! the socket); every failure a non-zero exit with a line saying why, and no secret in any of
//! it. Also: SIGTERM drains work in flight, retention prunes while totals survive, Prometheus
//! metrics, an unwritable state directory, and `gas-miner demo` watched in gas-console.
//! The tmux tests need tmux; `.ci/run` installs it, elsewhere they say SKIPPED.

use gas_tests::*;
use serde_json::json;
use std::io::BufRead;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(30);

fn pid_of(status: &str) -> String {
    status
        .split("pid ")
        .nth(1)
        .and_then(|s| s.split([',', ' ', ')']).next())
        .expect("a pid in the status")
        .to_string()
}

/// The dashboard shows the validators' verdicts (v4.9.x) as `passed/judged`, all passed and
/// at least one.
fn all_verdicts_passed(pane: &str) -> bool {
    pane.lines()
        .filter_map(|l| l.split("verdicts").nth(1))
        .flat_map(|rest| rest.split_whitespace())
        .filter_map(|w| w.split_once('/'))
        .any(|(a, b)| a == b && a.parse::<u64>().is_ok_and(|n| n > 0))
}

#[tokio::test(flavor = "multi_thread")]
async fn start_status_logs_restart_stop_and_info_as_an_operator_types_them() {
    if !tmux_or_skip() {
        return;
    }
    install_crypto();
    let providers = FakeProviders::start().await;
    let validator = FakeValidator::start(&key(VALIDATOR_PHRASE), &key(MINER_PHRASE)).await;
    let mut fixture = Fixture::new(&providers);
    let op = Operator::new(&fixture);

    // Before anything runs: each command says what is wrong, with exit 1.
    let s = op.gas(&["status"]);
    assert!(s.code == 1 && s.err.contains("not running"), "{s:?}");
    let s = op.gas(&["stop"]);
    assert!(s.code == 1 && s.err.contains("not running"), "{s:?}");
    let s = op.gas(&["logs"]);
    assert!(s.code == 1 && s.err.contains("no log files"), "{s:?}");
    // A bad setting is refused before any session is made (exit 2, the setting named).
    let s = op.gas_with(&["start"], &[("BT_AXON_PORT", "eighty")]);
    assert!(
        s.code == 2 && s.err.contains("BT_AXON_PORT=eighty"),
        "{s:?}"
    );
    assert!(!op.session_exists());

    let s = op.gas(&["info"]);
    assert_eq!(s.code, 0, "{s:?}");
    for want in [
        "OPENAI_API_KEY       set",
        "image      openrouter",
        "video      none",
        "1 anchors",
        "offline: metagraph file",
        key(MINER_PHRASE).ss58(),
        "running    no",
    ] {
        assert!(s.out.contains(want), "info lacks {want:?}: {s:?}");
    }

    let s = op.gas(&["start"]);
    assert_eq!(s.code, 0, "{s:?}");
    assert!(s.out.contains("started in tmux session gas-miner"), "{s:?}");
    assert!(op.session_exists(), "the tmux session runs");
    assert!(
        !op.dir.join("state/launch.env").exists(),
        "the launch settings (secrets) are read once and deleted"
    );
    let s = op.gas(&["start"]);
    assert!(s.code == 1 && s.err.contains("already runs"), "{s:?}");

    let v = Challenger::new(&fixture.base(), VALIDATOR_PHRASE);
    let (code, r) = v
        .challenge("/gen_image", &json!({"prompt": "a wren"}), &validator.url())
        .await;
    assert_eq!(code, 201, "{r}");
    let first = r["task_id"].as_str().expect("id").to_string();
    validator
        .wait_for(WAIT, "the webhook", |h| !h.is_empty())
        .await;

    let s = op.gas(&["status"]);
    assert_eq!(s.code, 0, "{s:?}");
    for want in [
        "running: pid",
        "tmux session gas-miner",
        "uid 2",
        "image     delivered 1",
        "services  image openrouter",
    ] {
        assert!(s.out.contains(want), "status lacks {want:?}: {s:?}");
    }
    let first_pid = pid_of(&s.out);

    let s = op.gas(&["logs", "-n", "3"]);
    assert_eq!(s.code, 0, "{s:?}");
    assert_eq!(s.out.lines().count(), 3, "{s:?}");
    let s = op.gas(&["logs", "-n", "100000"]);
    assert!(
        s.out.contains("gas-miner listening") && s.out.contains(&first),
        "{s:?}"
    );

    // logs -f prints what is written next.
    let mut follow = op
        .command(&["logs", "-n", "0", "-f"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("logs -f");
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = follow.stdout.take().expect("stdout");
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (_, r) = v
        .challenge(
            "/gen_image",
            &json!({"prompt": "a robin"}),
            &validator.url(),
        )
        .await;
    let second = r["task_id"].as_str().expect("id").to_string();
    let began = Instant::now();
    loop {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(line) if line.contains(&second) => break,
            _ => assert!(began.elapsed() < WAIT, "logs -f never showed task {second}"),
        }
    }
    let _ = follow.kill();
    let _ = follow.wait();

    // restart reads the env file again.
    fixture.set("IMAGE_SERVICE", "stabilityai");
    op.write_env(&fixture.env);
    let s = op.gas(&["restart"]);
    assert_eq!(s.code, 0, "{s:?}");
    assert!(
        s.out.contains("stopped") && s.out.contains("started"),
        "{s:?}"
    );
    let s = op.gas(&["status"]);
    assert_eq!(s.code, 0, "{s:?}");
    assert!(
        s.out.contains("services  image stabilityai"),
        "the env file was read again: {s:?}"
    );
    assert_ne!(pid_of(&s.out), first_pid, "a new process");
    assert!(
        s.out.contains("image     delivered 2"),
        "nothing lost: {s:?}"
    );

    let s = op.gas(&["stop"]);
    assert_eq!(s.code, 0, "{s:?}");
    assert!(s.out.contains("stopped after"), "{s:?}");
    assert!(!op.session_exists(), "the session is gone");
    let s = op.gas(&["status"]);
    assert!(s.code == 1 && s.err.contains("not running"), "{s:?}");
    let logs = op.gas(&["logs", "-n", "100000"]).out;
    assert!(logs.contains("stopped: state flushed"), "{logs}");

    let everything = op.everything();
    for secret in ALL_KEYS {
        assert!(!everything.contains(secret), "a key leaked:\n{everything}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn start_says_why_the_miner_could_not_start() {
    if !tmux_or_skip() {
        return;
    }
    install_crypto();
    let providers = FakeProviders::start().await;
    let fixture = Fixture::new(&providers);
    let op = Operator::new(&fixture);
    let _taken = std::net::TcpListener::bind(("127.0.0.1", fixture.port)).expect("hold the port");
    let began = Instant::now();
    let s = op.gas(&["start"]);
    assert_eq!(s.code, 1, "{s:?}");
    assert!(
        s.err.contains("stopped while starting") && s.err.contains("cannot listen on"),
        "{s:?}"
    );
    assert!(
        began.elapsed() < Duration::from_secs(20),
        "it said so at once"
    );
    assert!(!op.session_exists(), "no session left behind");
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_finishes_the_work_in_flight_before_exiting() {
    install_crypto();
    let providers = FakeProviders::start().await;
    let validator = FakeValidator::start(&key(VALIDATOR_PHRASE), &key(MINER_PHRASE)).await;
    let mut fixture = Fixture::new(&providers);
    let metrics = free_port();
    fixture.set("MINER_METRICS_ADDR", &format!("127.0.0.1:{metrics}"));
    let mut miner = fixture.start();
    providers.set_delay(Duration::from_secs(3));
    let v = Challenger::new(&fixture.base(), VALIDATOR_PHRASE);
    let (code, r) = v
        .challenge(
            "/gen_image",
            &json!({"prompt": "a slow heron"}),
            &validator.url(),
        )
        .await;
    assert_eq!(code, 201, "{r}");
    let id = r["task_id"].as_str().expect("id").to_string();
    let began = Instant::now();
    while providers.seen(Api::OpenRouterImage, None).is_empty() {
        assert!(began.elapsed() < WAIT, "the provider was never called");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    miner.send_term();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let late = v
        .client
        .post(format!("{}/gen_image", fixture.base()))
        .body("{}")
        .send()
        .await;
    assert!(
        late.is_err(),
        "a stopping miner takes no new challenges: {late:?}"
    );
    assert!(
        validator.webhooks().is_empty(),
        "still generating when the signal came"
    );
    let code = tokio::task::spawn_blocking(move || {
        let code = miner.wait_exit();
        (code, miner.log())
    })
    .await
    .expect("wait");
    let (code, log) = code;
    assert_eq!(code, Some(0), "{log}");
    let hooks = validator.webhooks();
    assert_eq!(
        hooks.len(),
        1,
        "the generation in flight was finished and delivered:\n{log}"
    );
    assert_eq!(
        (hooks[0].task_id.as_str(), hooks[0].status_header.as_str()),
        (id.as_str(), "completed")
    );
    assert!(log.contains("stopping: no new challenges"), "{log}");
    assert!(
        log.contains("stopped: state flushed") && log.contains("generations_left=0"),
        "{log}"
    );
    let task = fixture
        .open_store()
        .await
        .get(&id)
        .expect("get")
        .expect("task");
    assert_eq!(task.state, gas_shared::TaskState::Delivered);
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_are_served_on_the_socket_and_the_configured_address() {
    install_crypto();
    let providers = FakeProviders::start().await;
    let validator = FakeValidator::start(&key(VALIDATOR_PHRASE), &key(MINER_PHRASE)).await;
    let mut fixture = Fixture::new(&providers);
    let port = free_port();
    fixture.set("MINER_METRICS_ADDR", &format!("127.0.0.1:{port}"));
    let _miner = fixture.start();
    let v = Challenger::new(&fixture.base(), VALIDATOR_PHRASE);
    v.challenge(
        "/gen_image",
        &json!({"prompt": "a metered finch"}),
        &validator.url(),
    )
    .await;
    validator
        .wait_for(WAIT, "the webhook", |h| !h.is_empty())
        .await;
    let over_tcp = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .expect("metrics over TCP");
    assert_eq!(over_tcp.status().as_u16(), 200);
    let text = over_tcp.text().await.expect("text");
    let validator_hotkey = key(VALIDATOR_PHRASE).ss58().to_string();
    for want in [
        "gas_tasks{state=\"delivered\",modality=\"image\"} 1".to_string(),
        "gas_provider_calls_total{provider=\"openrouter\"} 1".to_string(),
        format!("gas_webhooks_total{{validator=\"{validator_hotkey}\",outcome=\"passed\"}} 1"),
        format!("gas_webhooks_total{{validator=\"{validator_hotkey}\",outcome=\"taken\"}} 0"),
        "gas_preflight_verdicts{window=\"1h\",result=\"passed\"} 1".to_string(),
        "gas_demo 0".to_string(),
    ] {
        assert!(text.contains(&want), "metrics lack {want}:\n{text}");
    }
    let socket = fixture.dir.path().join("state/admin.sock");
    let (status, body) = gas_client::request(&socket, "GET", "/metrics", None)
        .await
        .expect("metrics on the socket");
    assert_eq!(status, 200);
    assert!(
        String::from_utf8_lossy(&body)
            .contains("gas_tasks{state=\"delivered\",modality=\"image\"} 1")
    );
    for secret in ALL_KEYS {
        assert!(!text.contains(secret));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn retention_prunes_old_tasks_and_media_while_the_totals_survive() {
    install_crypto();
    let providers = FakeProviders::start().await;
    let validator = FakeValidator::start(&key(VALIDATOR_PHRASE), &key(MINER_PHRASE)).await;
    let mut fixture = Fixture::new(&providers);
    fixture.set("MINER_RETENTION_DAYS", "1");
    let v = Challenger::new(&fixture.base(), VALIDATOR_PHRASE);
    let new_id = {
        let _miner = fixture.start();
        let (_, r) = v
            .challenge(
                "/gen_image",
                &json!({"prompt": "a new gull"}),
                &validator.url(),
            )
            .await;
        validator
            .wait_for(WAIT, "the webhook", |h| h.len() == 1)
            .await;
        let id = r["task_id"].as_str().expect("id").to_string();
        // The validator holds the webhook before the miner has its answer: the task is
        // final on the miner's side only a moment later, and the copies below must be final.
        let socket = fixture.dir.path().join("state/admin.sock");
        let began = Instant::now();
        loop {
            let d: gas_shared::admin::TaskDetail =
                gas_client::get_json(&socket, "GET", &format!("/tasks/{id}"), None)
                    .await
                    .expect("task");
            if d.summary.state.is_final() {
                break;
            }
            assert!(began.elapsed() < WAIT, "the task never became final: {d:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        id
    };
    // Two more delivered tasks, three days old, as if the miner had run for days.
    let media: Vec<PathBuf> = {
        let store = fixture.open_store().await;
        let recent = store.get(&new_id).expect("get").expect("task");
        let recent_media = recent.media.clone().expect("media");
        let mut media = Vec::new();
        for n in 0..2 {
            let mut old = recent.clone();
            old.task_id = uuid::Uuid::new_v4().to_string();
            old.created_ms = gas_miner::clock::now_ms() - 3 * 86_400_000 - n;
            let file = format!("{}.png", old.task_id);
            std::fs::copy(
                store.media_dir().join(&recent_media.file),
                store.media_dir().join(&file),
            )
            .expect("copy media");
            media.push(store.media_dir().join(&file));
            old.media = Some(gas_miner::task::MediaInfo {
                file,
                ..recent_media.clone()
            });
            store.insert_new(&old).expect("insert");
        }
        store.commit().await.expect("commit");
        media
    };
    assert!(media.iter().all(|m| m.exists()));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let _miner = fixture.start();
    let socket = fixture.dir.path().join("state/admin.sock");
    let began = Instant::now();
    loop {
        let page: gas_shared::admin::TaskPage =
            gas_client::get_json(&socket, "GET", "/tasks", None)
                .await
                .expect("tasks");
        if page.tasks.len() == 1 {
            assert_eq!(page.tasks[0].task_id, new_id, "the new one stays");
            break;
        }
        assert!(began.elapsed() < WAIT, "nothing was pruned: {page:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(media.iter().all(|m| !m.exists()), "old media deleted");
    let status: gas_shared::admin::Status = gas_client::get_json(&socket, "GET", "/status", None)
        .await
        .expect("status");
    let delivered: u64 = status
        .queue
        .iter()
        .filter(|q| q.state == gas_shared::TaskState::Delivered)
        .map(|q| q.count)
        .sum();
    assert_eq!(delivered, 3, "the totals count pruned tasks too");
    let (_, r) = v
        .challenge(
            "/gen_image",
            &json!({"prompt": "a newer gull"}),
            &validator.url(),
        )
        .await;
    assert!(r["task_id"].is_string(), "still working after pruning: {r}");
}

#[test]
fn an_unusable_state_directory_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, "x").expect("file");
    let state = file.join("state");
    let out = Command::new(miner_bin())
        .args(["run"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", dir.path())
        .env("MINER_STATE_DIR", &state)
        .env("OPENAI_API_KEY", OPENAI_KEY)
        .env("BT_METAGRAPH_FILE", dir.path().join("m.json"))
        .current_dir(dir.path())
        .output()
        .expect("runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!(
            "state directory {} is not writable",
            state.display()
        )) && err.contains("MINER_STATE_DIR"),
        "{err}"
    );
    assert!(!err.contains(OPENAI_KEY));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_demo_runs_the_whole_loop_and_the_console_shows_it() {
    if !tmux_or_skip() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let home = dir.path().join("home");
    let tmp = dir.path().join("tmp");
    std::fs::create_dir_all(&home).expect("home");
    std::fs::create_dir_all(&tmp).expect("tmp");
    let log = dir.path().join("demo.out");
    let mut demo = Command::new(miner_bin())
        .args(["demo", "--rate", "60", "--duration", "60"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", &home)
        .env("TMPDIR", &tmp)
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log"))
        .spawn()
        .expect("demo runs");
    let socket = tmp.join("gas-miner-demo/admin.sock");
    let began = Instant::now();
    while !socket.exists() {
        assert!(began.elapsed() < WAIT, "the demo never opened its socket");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A newcomer types just `gas-console`: it finds the demo by itself.
    let console = Tmux::start(&format!(
        "env HOME={} TMPDIR={} {}",
        home.display(),
        tmp.display(),
        console_bin().display()
    ));
    let pane = console
        .wait_for("demo tasks delivered and passing", |p| {
            p.contains(" DEMO ") && p.contains("verdicts") && p.contains("demo-studio")
        })
        .await;
    assert!(
        began.elapsed() < Duration::from_secs(60),
        "within a minute:\n{pane}"
    );
    let mut status: gas_shared::admin::Status =
        gas_client::get_json(&socket, "GET", "/status", None)
            .await
            .expect("status");
    assert!(status.demo, "the demo says it is one");
    let began_replies = Instant::now();
    while status.replies.hour.total() == 0 {
        assert!(
            began_replies.elapsed() < WAIT,
            "no webhook answered in the demo: {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
        status = gas_client::get_json(&socket, "GET", "/status", None)
            .await
            .expect("status");
    }
    // The demo's made-up subnet API tells the standing: its screen shows the gates.
    console.keys(&["5"]);
    console
        .wait_for("the demo's standing", |p| p.contains("Fool-rate eligible"))
        .await;
    console.keys(&["q"]);
    // The terminal the demo was started in closes (an SSH session ends): the demo stops
    // rather than running on unseen; only a real miner takes SIGHUP as "reload the anchors".
    let hup = Command::new("kill")
        .args(["-HUP", &demo.id().to_string()])
        .status()
        .expect("kill");
    assert!(hup.success());
    let hung_up = Instant::now();
    let code = tokio::task::spawn_blocking(move || demo.wait().expect("wait").code())
        .await
        .expect("join");
    let out = std::fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(code, Some(0), "{out}");
    // The drain finishes the generations in flight (several, slow in a debug build on a
    // busy machine): the signal, not the demo's own end 60 s after start, stopped it.
    assert!(
        !out.contains("the demo's time is up") && hung_up.elapsed() < Duration::from_secs(40),
        "SIGHUP stopped the demo only after {:?} (its own end was 60 s after start):\n{out}",
        hung_up.elapsed()
    );
    let plain: Vec<&str> = out
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.contains("DEMO"))
        .collect();
    assert!(
        plain.is_empty(),
        "every line says DEMO, not these: {plain:#?}"
    );
    let finished = out
        .lines()
        .find(|l| l.contains("DEMO finished"))
        .unwrap_or_else(|| panic!("no summary:\n{out}"));
    let passed: u64 = finished
        .split(", ")
        .find_map(|p| p.strip_suffix(" passed"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    assert!(passed >= 1, "{finished}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_readme_s_first_command_opens_the_demo_in_the_console() {
    if !tmux_or_skip() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    // In a terminal, `gas-miner demo` alone: the console opens on the demo at once.
    let term = Tmux::start(&format!(
        "env TMPDIR={} {} demo --rate 60; sleep 60",
        dir.path().display(),
        miner_bin().display()
    ));
    let began = Instant::now();
    let pane = term
        .wait_for("the demo in the console, tasks passing", |p| {
            p.contains(" DEMO ") && all_verdicts_passed(p)
        })
        .await;
    assert!(began.elapsed() < Duration::from_secs(60), "{pane}");
    term.keys(&["q"]);
    let pane = term
        .wait_for("the demo stopping with the console", |p| {
            p.contains("DEMO finished")
        })
        .await;
    assert!(pane.contains("console closed"), "{pane}");
}

#[test]
fn the_annotated_example_env_file_is_understood_as_written() {
    let example =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/.env.gen_miner.example");
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::copy(&example, dir.path().join(".env.gen_miner")).expect("copy the example");
    let out = Command::new(miner_bin())
        .arg("info")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", dir.path())
        .env("OPEN_ROUTER_API_KEY", OPEN_ROUTER_KEY)
        .current_dir(dir.path())
        .output()
        .expect("info runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_ne!(out.status.code(), Some(2), "{text}");
    for want in [
        "(read)",
        "image      openrouter",
        "video      openrouter",
        "OPEN_ROUTER_API_KEY  set",
        "chain      wss://entrypoint-finney.opentensor.ai:443  netuid 34",
        "listens on 0.0.0.0:8091",
        "5 tasks at once",
        "keeping    14 days",
        // Nothing installed yet: said plainly, exit 1.
        "hotkey     PROBLEM",
        "trust      PROBLEM",
    ] {
        assert!(text.contains(want), "info lacks {want:?}:\n{text}");
    }
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(!text.contains(OPEN_ROUTER_KEY));
}

/// A small tmpfs mounted for one test (needs the right to mount: root in CI).
struct SmallDisk {
    path: PathBuf,
    _dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(megabytes: u32) -> Option<SmallDisk> {
        let dir = tempfile::tempdir().ok()?;
        let path = dir.path().join("disk");
        std::fs::create_dir_all(&path).ok()?;
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={megabytes}m"), "tmpfs"])
            .arg(&path)
            .output()
            .is_ok_and(|o| o.status.success());
        ok.then_some(SmallDisk { path, _dir: dir })
    }

    /// Fills the disk to the last byte; returns the filler to delete.
    fn fill(&self) -> PathBuf {
        use std::io::Write;
        let filler = self.path.join("filler");
        let mut f = std::fs::File::create(&filler).expect("filler");
        let chunk = vec![0u8; 64 * 1024];
        while f.write_all(&chunk).is_ok() {}
        let mut byte = [0u8; 1];
        while f.write_all(&byte[..]).is_ok() {
            byte[0] = 1;
        }
        filler
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_disk_gives_clear_errors_loses_no_accepted_task_and_corrupts_nothing() {
    let Some(disk) = SmallDisk::mount(64) else {
        println!("SKIPPED: mounting a small tmpfs needs root (CI has it)");
        return;
    };
    install_crypto();
    let providers = FakeProviders::start().await;
    let validator = FakeValidator::start(&key(VALIDATOR_PHRASE), &key(MINER_PHRASE)).await;
    let mut fixture = Fixture::new(&providers);
    fixture.set(
        "MINER_STATE_DIR",
        &disk.path.join("state").display().to_string(),
    );
    let mut miner = fixture.start();
    let v = Challenger::new(&fixture.base(), VALIDATOR_PHRASE);
    let (code, _) = v
        .challenge("/gen_image", &json!({"prompt": "before"}), &validator.url())
        .await;
    assert_eq!(code, 201);
    validator
        .wait_for(WAIT, "the first webhook", |h| h.len() == 1)
        .await;

    let filler = disk.fill();
    let mut accepted = Vec::new();
    for i in 0..6 {
        let Ok((code, r)) = v
            .try_challenge(
                "/gen_image",
                &json!({"prompt": format!("full {i}")}),
                &validator.url(),
            )
            .await
        else {
            break; // the miner has stopped (below)
        };
        match code {
            201 => accepted.push(r["task_id"].as_str().expect("id").to_string()),
            500 | 503 => {
                let text = r.to_string();
                assert!(
                    text.contains("space")
                        || text.contains("No space")
                        || text.contains("os error 28"),
                    "a refusal says the disk is full: {text}"
                );
            }
            other => panic!("unexpected {other}: {r}"),
        }
    }
    // sled cannot write again after a failed write: the miner stops at once, saying why
    // (a supervisor, tmux's or systemd's, starts it again).
    let (code, log) = tokio::task::spawn_blocking(move || (miner.wait_exit(), miner.log()))
        .await
        .expect("join");
    assert_eq!(code, Some(1), "{log}");
    assert!(
        log.contains("can no longer be written") && log.contains("No space left on device"),
        "{log}"
    );
    assert!(!log.contains("panicked"), "{log}");
    // Once there is room, the restarted miner finishes every challenge that got its 201.
    std::fs::remove_file(filler).expect("free the disk");
    let mut miner = fixture.start();
    let expected = 1 + accepted.len();
    let began = Instant::now();
    while validator.webhooks().len() < expected {
        if began.elapsed() > WAIT {
            let log = miner.log();
            panic!(
                "no webhook for some of {accepted:?}; the miner said:\n{}",
                &log[log.len().saturating_sub(6000)..]
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let hooks = validator.webhooks();
    for id in &accepted {
        let hook = hooks
            .iter()
            .find(|h| &h.task_id == id)
            .expect("its webhook");
        assert_eq!(hook.status_header, "completed", "made once there was room");
    }
    let (code, r) = v
        .challenge("/gen_image", &json!({"prompt": "after"}), &validator.url())
        .await;
    assert_eq!(code, 201, "working again once there is room: {r}");
    validator
        .wait_for(WAIT, "the webhook after", |h| h.len() > expected)
        .await;
    assert_eq!(miner.terminate(), Some(0), "{}", miner.log());
    // The database opens again, with every task in a final state.
    let store = fixture.open_store().await;
    let unfinished: Vec<_> = [
        gas_shared::TaskState::Queued,
        gas_shared::TaskState::Generating,
        gas_shared::TaskState::Preflight,
        gas_shared::TaskState::Delivering,
    ]
    .into_iter()
    .flat_map(|s| store.in_state(s).expect("index"))
    .collect();
    assert!(unfinished.is_empty(), "{unfinished:?}");
}
