//! gas-console for real: a real miner (with fakes) and the real console in tmux, keys typed,
//! the pane read. The dashboard's numbers move, a failed C2PA task is found with one key and
//! its codes shown, a service change is applied, and a miner restart is survived. The admin
//! socket is checked with `curl --unix-socket` too. Needs tmux (and curl); `.ci/run` installs
//! them, elsewhere the test says SKIPPED.

use gas_tests::*;
use serde_json::{Value, json};
use std::process::Command;
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(30);

/// `curl --unix-socket` against the admin socket: (status, JSON body).
fn curl(socket: &std::path::Path, method: &str, path: &str, body: Option<&str>) -> (u16, Value) {
    let mut cmd = Command::new("curl");
    cmd.args(["-s", "-w", "\n%{http_code}", "--unix-socket"])
        .arg(socket)
        .args(["-X", method, &format!("http://gas-miner{path}")]);
    if let Some(b) = body {
        cmd.args(["-H", "content-type: application/json", "-d", b]);
    }
    let out = cmd.output().expect("curl runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (
        code.trim().parse().unwrap_or(0),
        serde_json::from_str(body).unwrap_or(Value::Null),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn the_console_shows_and_steers_a_running_miner() {
    if !available("tmux") || !available("curl") {
        assert!(
            std::env::var_os("GAS_REQUIRE_TMUX").is_none(),
            "GAS_REQUIRE_TMUX is set but tmux or curl is missing"
        );
        println!("SKIPPED: tmux and curl are needed (apt-get install tmux curl; .ci/run does)");
        return;
    }
    install_crypto();
    let providers = FakeProviders::start().await;
    let validator = FakeValidator::start(&key(VALIDATOR_PHRASE), &key(MINER_PHRASE)).await;
    let fixture = Fixture::new(&providers);
    let mut miner = fixture.start();
    let socket = fixture.dir.path().join("state/admin.sock");
    let v = Challenger::new(&fixture.base(), VALIDATOR_PHRASE);

    // The admin socket answers curl, as scripts use it.
    let (code, status) = curl(&socket, "GET", "/status", None);
    assert_eq!(code, 200, "{status}");
    assert_eq!(status["uid"], 2);
    let (code, refused) = curl(
        &socket,
        "PUT",
        "/services",
        Some(r#"{"video": "stabilityai"}"#),
    );
    assert_eq!(code, 400);
    assert!(
        refused["error"]
            .as_str()
            .is_some_and(|e| e.contains("stabilityai cannot make videos")),
        "{refused}"
    );

    let tmux = Tmux::start(&format!(
        "{} --socket {}",
        console_bin().display(),
        socket.display()
    ));
    tmux.wait_for("the dashboard", |p| {
        p.contains("uid 2") && p.contains("Queue")
    })
    .await;

    // Numbers move: three challenges are accepted and delivered.
    for i in 0..3 {
        let (s, _) = v
            .challenge(
                "/gen_image",
                &json!({"prompt": format!("a kestrel {i}")}),
                &validator.url(),
            )
            .await;
        assert_eq!(s, 201);
    }
    validator
        .wait_for(WAIT, "three webhooks", |h| h.len() >= 3)
        .await;
    tmux.wait_for("the accepted count", |p| p.contains("accepted 3/min"))
        .await;

    // A task whose media fails C2PA, found with one key, its codes shown.
    providers.script(Api::OpenRouterImage, [Reply::Flawed(Defect::Untrusted)]);
    let (_, reply) = v
        .challenge(
            "/gen_image",
            &json!({"prompt": "an untrusted osprey"}),
            &validator.url(),
        )
        .await;
    let id = reply["task_id"].as_str().expect("id").to_string();
    validator
        .wait_for(WAIT, "the failure webhook", |h| {
            h.iter().any(|w| w.task_id == id)
        })
        .await;
    tmux.keys(&["2"]);
    tmux.wait_for("the task list", |p| p.contains("Tasks: all"))
        .await;
    tmux.keys(&["c"]);
    let pane = tmux
        .wait_for("the failed C2PA filter", |p| {
            p.contains("Tasks: failed C2PA (1 shown, newest first)")
        })
        .await;
    // The list shows a task id's end: time-ordered ids share their start.
    assert!(pane.contains(&id[id.len() - 8..]), "{pane}");
    tmux.keys(&["Enter"]);
    tmux.wait_for("the C2PA codes", |p| {
        p.contains("signingCredential.untrusted") && p.contains("signer O=Google LLC")
    })
    .await;

    // A service change, applied live and saved.
    tmux.keys(&["Escape", "3"]);
    tmux.wait_for("the services screen", |p| {
        p.contains("Selection (fallback order)")
    })
    .await;
    tmux.keys(&["e"]);
    for _ in 0.."openrouter".len() {
        tmux.keys(&["BSpace"]);
    }
    tmux.text("stabilityai,openrouter");
    tmux.keys(&["Enter"]);
    tmux.wait_for("the change applied", |p| {
        p.contains("service change applied")
    })
    .await;
    let (_, services) = curl(&socket, "GET", "/services", None);
    assert_eq!(
        services["image"],
        json!(["stabilityai", "openrouter"]),
        "{services}"
    );
    assert_eq!(services["overridden"], true);
    let (s, _) = v
        .challenge(
            "/gen_image",
            &json!({"prompt": "a stable heron"}),
            &validator.url(),
        )
        .await;
    assert_eq!(s, 201);
    let start = Instant::now();
    while providers.requests(Api::Stability).is_empty() {
        assert!(
            start.elapsed() < WAIT,
            "the new selection was not used:\n{}",
            miner.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // The miner restarts: the console says so, reconnects, and the saved selection holds.
    miner.kill9();
    tmux.wait_for("the miner gone", |p| p.contains("miner unreachable"))
        .await;
    let _miner = fixture.start();
    tmux.wait_for("the reconnection", |p| {
        !p.contains("miner unreachable") && (p.contains("reconnected") || p.contains(" live"))
    })
    .await;
    let (_, services) = curl(&socket, "GET", "/services", None);
    assert_eq!(
        services["image"],
        json!(["stabilityai", "openrouter"]),
        "the console's choice survives a restart"
    );
    tmux.keys(&["q"]);
}

/// The Standing screen on a real miner whose validator answers as v5 (202) and whose standing
/// comes from a fake subnet API: the gate words, the fool rates and the validator's pass rate
/// from the API, and the 202s shown as taken, never as passed. At 80×24, as over SSH.
#[tokio::test(flavor = "multi_thread")]
async fn the_standing_screen_shows_the_gates_and_the_api_pass_rate() {
    if !tmux_or_skip() {
        return;
    }
    let api = gasapi::FakeGasApi::start(key(MINER_PHRASE).ss58());
    let r = Rig::start(&[("GAS_API_URL", &api.url()), ("MINER_STANDING_POLL", "1")]).await;
    r.validator.set_v5(true);
    for _ in 0..2 {
        let body = json!({"prompt": "a lighthouse in fog", "parameters": {}});
        let (code, reply) = r.v.challenge("/gen_image", &body, &r.validator.url()).await;
        assert_eq!(code, 201, "{reply}");
    }
    r.validator
        .wait_for(WAIT, "two webhooks", |h| h.len() >= 2)
        .await;
    let socket = r.fixture.dir.path().join("state/admin.sock");
    let tmux = Tmux::start_sized(
        &format!("{} --socket {}", console_bin().display(), socket.display()),
        80,
        24,
    );
    // The dashboard's standing line, once the API has been read.
    tmux.wait_for("the dashboard's standing line", |p| {
        p.contains("Fool-rate eligible") && p.contains("taken")
    })
    .await;
    tmux.keys(&["5"]);
    let pane = tmux
        .wait_for("the gate cards", |p| {
            p.contains("Fool-rate eligible") && p.contains("Below threshold") && p.contains("3.1%")
        })
        .await;
    assert!(pane.contains("needs >2%"), "{pane}");
    // Scroll to the validators: ours, with the API's pass rate (the fake says 90 of 100) beside our
    // own counts, 2 taken and 0 passed.
    let me = key(VALIDATOR_PHRASE).ss58().to_string();
    let short = &me[..6];
    let mut pane = String::new();
    for _ in 0..8 {
        pane = tmux.pane();
        if pane.contains(short) {
            break;
        }
        tmux.keys(&["Down"]);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let row = pane
        .lines()
        .find(|l| l.contains(short))
        .unwrap_or_else(|| panic!("no row for {short}:\n{pane}"));
    assert!(row.contains("90%"), "the API's pass rate: {row}");
}

/// A `gas-miner demo --no-console` on a directory, killed when dropped (a failing test
/// leaves nothing running).
struct Demo(std::process::Child);

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `gas-miner demo --no-console` on `dir`, its log in `dir.log`.
fn demo(dir: &std::path::Path) -> Demo {
    let log = std::fs::File::create(dir.with_extension("log")).expect("demo log");
    Demo(
        Command::new(miner_bin())
            .args(["demo", "--no-console", "--rate", "120", "--state-dir"])
            .arg(dir)
            .stdin(std::process::Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("gas-miner demo"),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn the_demo_s_services_are_restored_after_being_emptied_and_the_console_says_when_the_miner_stops()
 {
    if !tmux_or_skip() {
        return;
    }
    let root = tempfile::tempdir().expect("tempdir");
    let dir = root.path().join("demo");
    let mut miner = demo(&dir);
    let socket = dir.join("admin.sock");
    let tmux = Tmux::start_sized(
        &format!("{} --socket {}", console_bin().display(), socket.display()),
        120,
        40,
    );
    tmux.wait_for("the demo, live", |p| {
        p.contains(" DEMO ") && p.contains("live")
    })
    .await;

    // Image emptied from the console: challenges are refused, and it shows.
    tmux.keys(&["3", "e", "C-u"]);
    tmux.text("none");
    tmux.keys(&["Enter"]);
    tmux.wait_for("image without a service", |p| {
        p.contains("image none (answers 503)")
    })
    .await;
    tmux.keys(&["1"]);
    let pane = tmux
        .wait_for("the refusals on the alert line and in the Rates box", |p| {
            // The alert is that images have no service, or (worse, so first) that every
            // image challenge so far was refused.
            (p.contains("images have no service: their challenges get 503")
                || p.contains("image: every challenge refused for 24 h"))
                && p.contains("refused  ")
        })
        .await;
    assert!(pane.contains("→ 3 Services"), "{pane}");

    // One `r` only says what a reset would do; the second restores the demo's studios.
    tmux.keys(&["3", "r"]);
    tmux.wait_for("the reset explained", |p| {
        p.contains("press r again to go back to image none")
            || p.contains("press r again to go back to image demo-studio → demo-backup")
    })
    .await;
    assert!(tmux.pane().contains("image none (answers 503)"));
    tmux.keys(&["r"]);
    tmux.wait_for("the demo's studios back", |p| {
        p.contains("image demo-studio → demo-backup")
            && p.contains("as the miner started: from the demo's own studios")
    })
    .await;

    // From the dashboard's validator row (below the queue's two rows and the two studios)
    // to its tasks, and into one of them.
    tmux.keys(&["1", "Down", "Down", "Down", "Down", "Enter"]);
    tmux.wait_for("the validator's tasks, and below them its refusals", |p| {
        p.contains("Tasks: validator=5")
            && p.contains("refusals, newest first")
            && p.contains("no_service")
    })
    .await;
    tmux.wait_for("a task in the list", |p| {
        p.contains(" done ") || p.contains(" fail ")
    })
    .await;
    tmux.keys(&["Enter"]);
    tmux.wait_for("the task's detail", |p| {
        p.contains("Timeline") && p.contains(" · lines 1–")
    })
    .await;
    // One Escape at a time: a terminal may read two at once as one escape sequence.
    tmux.keys(&["Escape"]);
    tmux.wait_for("back on the list", |p| p.contains("Tasks: validator=5"))
        .await;
    tmux.keys(&["Escape"]);
    tmux.wait_for("back on the dashboard", |p| {
        p.contains("Validators by asked")
    })
    .await;

    // The charts have the minutes the miner counted: answered, and the refusals above.
    tmux.keys(&["6"]);
    let pane = tmux
        .wait_for("the charts with data", |p| {
            p.contains("Challenges answered 201, per minute · last hour · most ")
                && !p.contains("· most 0 · total 0")
        })
        .await;
    assert!(
        !pane.contains("Refused with 503, per minute · most 0"),
        "{pane}"
    );
    tmux.keys(&["1"]);

    // SIGTERM: it drains, then it is stopped (not "live", not a crash).
    let pid = miner.0.id().to_string();
    Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    tmux.wait_for("draining or stopped", |p| {
        p.contains("draining: finishing") || p.contains("stopped ")
    })
    .await;
    // The demo's videos in flight are finished first: that can take longer than a screen.
    let until = std::time::Instant::now() + Duration::from_secs(120);
    while !tmux.pane().contains("stopped ") {
        assert!(
            std::time::Instant::now() < until,
            "never stopped:\n{}",
            tmux.pane()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let _ = miner.0.wait();

    // A new demo on the socket: live again; SIGKILL: unreachable.
    let mut miner = demo(&dir);
    tmux.wait_for("live again", |p| {
        p.lines().next().is_some_and(|l| l.contains("live"))
    })
    .await;
    miner.0.kill().expect("SIGKILL");
    let _ = miner.0.wait();
    tmux.wait_for("unreachable", |p| p.contains("miner unreachable for"))
        .await;
}
