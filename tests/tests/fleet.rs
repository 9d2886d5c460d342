//! A fleet on one box, as an operator runs it: three real miners with their own hotkeys,
//! ports and state directories, started with `gas-miner start` (the configuration in the
//! environment only, no env file), listed by `list` and `status --all`, one stopped by name
//! while the others keep answering; a second miner with another's port, state directory or
//! hotkey refused, naming the other; a miner that stops while starting has its real reason
//! printed by `start`; and one gas-console watching the three.
//! Needs tmux; `.ci/run` installs it, elsewhere it says SKIPPED.

use gas_shared::admin::Status;
use gas_tests::*;
use serde_json::{Value, json};
use std::path::Path;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);
/// A valid BIP-39 phrase (a test vector) for a fourth hotkey.
const FOURTH_PHRASE: &str = "zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo wrong";

/// The three miners' hotkeys: (hotkey name, phrase).
const HOTKEYS: [(&str, &str); 3] = [
    ("hk1", MINER_PHRASE),
    ("hk2", OUTSIDER_PHRASE),
    ("hk3", POOR_PHRASE),
];

/// One miner's settings: the fixture's, with its own hotkey, port and state directory.
fn settings(f: &Fixture, hotkey: &str, port: u16, state: &Path) -> Vec<(String, String)> {
    let mut env = f.env.clone();
    let mut set = |k: &str, v: String| {
        env.retain(|(name, _)| name != k);
        env.push((k.to_string(), v));
    };
    set("BT_WALLET_HOTKEY", hotkey.to_string());
    set("BT_AXON_PORT", port.to_string());
    set("MINER_STATE_DIR", state.display().to_string());
    set("BT_LOGGING_LEVEL", "INFO".into());
    env
}

fn with(env: &[(String, String)]) -> Vec<(&str, &str)> {
    env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

async fn status_of(socket: &Path) -> Option<Status> {
    gas_client::get_json(socket, "GET", "/status", None)
        .await
        .ok()
}

#[tokio::test(flavor = "multi_thread")]
async fn three_miners_on_one_box_started_listed_stopped_by_name_and_watched_in_one_console() {
    if !tmux_or_skip() {
        return;
    }
    install_crypto();
    let providers = FakeProviders::start().await;
    let validator = FakeValidator::start(&key(VALIDATOR_PHRASE), &key(MINER_PHRASE)).await;
    let fixture = Fixture::new(&providers);
    let dir = fixture.dir.path().to_path_buf();
    // Three hotkeys (and a fourth) in the wallet, all registered.
    let wallets = dir.join("wallets");
    let mut neurons = vec![
        json!({"uid": 0, "hotkey": key(VALIDATOR_PHRASE).ss58(), "stake": 50000.0, "validator_permit": true}),
    ];
    for (i, (name, phrase)) in HOTKEYS
        .iter()
        .chain([("hk4", FOURTH_PHRASE)].iter())
        .enumerate()
    {
        gas_miner::identity::write_plain_hotkey(&wallets, "miner", name, phrase).expect("wallet");
        neurons.push(json!({"uid": 10 + i, "hotkey": key(phrase).ss58(), "stake": 0.0, "validator_permit": false}));
    }
    std::fs::write(
        dir.join("metagraph.json"),
        json!({"netuid": 34, "neurons": neurons}).to_string(),
    )
    .expect("metagraph");
    let op = Operator::bare(&dir);
    assert!(!dir.join(".env.gen_miner").exists());

    // `start` three times, the configuration in the environment only.
    let mut miners = Vec::new();
    for (name, _) in HOTKEYS {
        let port = free_port();
        let state = dir.join(format!("state-{name}"));
        let env = settings(&fixture, name, port, &state);
        let s = op.gas_with(&["start"], &with(&env));
        assert_eq!(s.code, 0, "{s:?}");
        assert!(
            s.out.contains(&format!(
                "gas-miner miner-{name} started in tmux session gas-miner-miner-{name}"
            )),
            "{s:?}"
        );
        miners.push((format!("miner-{name}"), port, state, env));
    }
    for (name, ..) in &miners {
        assert!(op.session(name), "session of {name}");
    }

    // `list` and `status --all` show all three running.
    let s = op.gas(&["list"]);
    assert_eq!(s.code, 0, "{s:?}");
    for (name, port, state, _) in &miners {
        let row = s
            .out
            .lines()
            .find(|l| l.starts_with(name.as_str()))
            .unwrap_or_else(|| panic!("{name} in {s:?}"));
        assert!(
            row.contains("running") && row.contains(&port.to_string()),
            "{row}"
        );
        assert!(row.contains(&state.display().to_string()), "{row}");
    }
    let s = op.gas(&["status", "--all"]);
    assert_eq!(s.code, 0, "{s:?}");
    assert!(s.out.contains("total: 3 miners, 3 running"), "{s:?}");
    let s = op.gas(&["status", "--all", "--json"]);
    let rows: Value = serde_json::from_str(&s.out).expect("JSON");
    let rows = rows.as_array().expect("a list");
    assert_eq!(rows.len(), 3, "{s:?}");
    for (row, (name, _)) in rows.iter().zip(HOTKEYS) {
        assert_eq!(row["name"], format!("miner-{name}"));
        assert_eq!(row["state"], "running");
        assert_eq!(
            row["hotkey"],
            key(HOTKEYS.iter().find(|h| h.0 == name).expect("hk").1)
                .ss58()
                .to_string()
        );
    }

    // Another miner with one of theirs: refused before any session, naming the other.
    let other_state = dir.join("state-hk4");
    let fourth = |port: u16, state: &Path| {
        let mut env = settings(&fixture, "hk4", port, state);
        env.push(("MINER_NAME".into(), "fourth".into()));
        env
    };
    let s = op.gas_with(&["start"], &with(&fourth(miners[0].1, &other_state)));
    assert!(
        s.code == 2
            && s.err
                .contains(&format!("port {} is taken by miner miner-hk1", miners[0].1)),
        "{s:?}"
    );
    let s = op.gas_with(&["start"], &with(&fourth(free_port(), &miners[1].2)));
    assert!(
        s.code == 2 && s.err.contains("belongs to miner miner-hk2"),
        "{s:?}"
    );
    let mut same_hotkey = settings(&fixture, "hk3", free_port(), &other_state);
    same_hotkey.push(("MINER_NAME".into(), "twin".into()));
    let s = op.gas_with(&["start"], &with(&same_hotkey));
    assert!(
        s.code == 2
            && s.err.contains(&format!(
                "hotkey {} is already served by miner miner-hk3",
                key(POOR_PHRASE).ss58()
            )),
        "{s:?}"
    );
    assert!(!op.session("fourth") && !op.session("twin"));

    // One gas-console for the three (found on the box, nothing named).
    let console = Tmux::start_sized(
        &format!("HOME={} {}", dir.display(), console_bin().display()),
        140,
        30,
    );
    let pane = console
        .wait_for("the fleet's three rows", |p| {
            p.contains("Fleet: 3 miners, 3 answering")
                && miners
                    .iter()
                    .all(|(name, ..)| p.lines().any(|l| l.contains(name) && l.contains("live")))
        })
        .await;
    assert!(pane.contains("total"), "{pane}");
    // Enter opens the first miner's screens; F comes back.
    console.keys(&["Enter"]);
    console
        .wait_for("miner-hk1's dashboard", |p| {
            p.contains(" miner-hk1 ") && p.contains("F fleet") && p.contains("Queue")
        })
        .await;
    console.keys(&["F"]);
    console
        .wait_for("the fleet again", |p| p.contains("Fleet: 3 miners"))
        .await;

    // `stop --name` one: it stops, the others keep answering, and the console says so.
    let s = op.gas(&["stop", "--name", "miner-hk2"]);
    assert_eq!(s.code, 0, "{s:?}");
    assert!(!op.session("miner-hk2"));
    for (name, _, state, _) in &miners {
        let up = status_of(&state.join("admin.sock")).await;
        assert_eq!(up.is_some(), name != "miner-hk2", "{name}");
    }
    let s = op.gas(&["list"]);
    assert!(
        s.out
            .lines()
            .any(|l| l.starts_with("miner-hk2") && l.contains("stopped")),
        "{s:?}"
    );
    console
        .wait_for("miner-hk2 stopped in its row", |p| {
            p.lines()
                .any(|l| l.contains("miner-hk2") && l.contains("stopped"))
                && p.contains("2 answering")
        })
        .await;

    // miner-hk1 works on: a challenge to it shows in its row while miner-hk2's stays down.
    let v = Challenger::new(
        &format!("http://127.0.0.1:{}", miners[0].1),
        VALIDATOR_PHRASE,
    );
    let (code, reply) = v
        .challenge(
            "/gen_image",
            &json!({"prompt": "a lighthouse in fog"}),
            &validator.url(),
        )
        .await;
    assert_eq!(code, 201, "{reply}");
    validator
        .wait_for(WAIT, "the webhook", |h| !h.is_empty())
        .await;
    console
        .wait_for("miner-hk1's pre-flight counted", |p| {
            p.lines()
                .any(|l| l.contains("miner-hk1") && l.contains("live") && l.contains("1/1"))
        })
        .await;

    // One killed outright (supervisor and miner): down, the others still live.
    let (_, _, state3, _) = &miners[2];
    let pid = status_of(&state3.join("admin.sock"))
        .await
        .expect("miner-hk3 answers")
        .pid;
    kill_session_hard(&op, "miner-hk3", pid);
    console
        .wait_for("miner-hk3 down, miner-hk1 live", |p| {
            p.lines()
                .any(|l| l.contains("miner-hk3") && l.contains("DOWN"))
                && p.lines()
                    .any(|l| l.contains("miner-hk1") && l.contains("live"))
        })
        .await;
    drop(console);
    let s = op.gas(&["stop", "--all"]);
    assert_eq!(s.code, 0, "{s:?}");
    assert!(!op.session("miner-hk1"));
}

/// SIGKILL to a started miner's supervisor (the pane) and to the miner itself.
fn kill_session_hard(op: &Operator, name: &str, miner_pid: u32) {
    let out = op
        .tmux(&[
            "list-panes",
            "-t",
            &format!("=gas-miner-{name}"),
            "-F",
            "#{pane_pid}",
        ])
        .expect("tmux");
    let pane = String::from_utf8_lossy(&out.stdout).trim().to_string();
    for pid in [pane, miner_pid.to_string()] {
        let _ = std::process::Command::new("kill")
            .args(["-KILL", &pid])
            .status();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn start_prints_why_a_miner_stopped_while_starting_even_before_it_had_a_log() {
    if !tmux_or_skip() {
        return;
    }
    install_crypto();
    let providers = FakeProviders::start().await;
    let fixture = Fixture::new(&providers);
    let op = Operator::bare(fixture.dir.path());
    // A state directory whose `logs` is a file: only the running miner finds out.
    let state = fixture.dir.path().join("state");
    std::fs::create_dir_all(&state).expect("state");
    std::fs::write(state.join("logs"), "not a directory").expect("file");
    let s = op.gas_with(&["start"], &with(&fixture.env));
    assert_eq!(s.code, 1, "{s:?}");
    assert!(s.err.contains("stopped while starting"), "{s:?}");
    let reason = s
        .err
        .lines()
        .skip_while(|l| !l.contains("its last words"))
        .nth(1)
        .unwrap_or_default()
        .to_string();
    assert!(
        reason.contains(&state.display().to_string()) && reason.contains("File exists"),
        "the miner's own words, naming the place: {s:?}"
    );
    assert!(!op.session_exists(), "no session left behind");
}
