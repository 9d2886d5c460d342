//! `gas-miner run` with bad configuration: exit 2, one clear line per problem, no secret shown.

use std::process::Command;

fn run_with(env: &[(&str, &str)], dir: &std::path::Path) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_gas-miner"))
        .arg("run")
        .env_clear()
        .env("HOME", dir)
        .envs(env.iter().copied())
        .current_dir(dir)
        .output()
        .expect("run gas-miner");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bad_settings_exit_2_with_one_line_each() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (code, stderr) = run_with(
        &[
            ("IMAGE_SERVICE", "openrouter"),
            ("VIDEO_SERVICE", "stabilityai"),
            ("BT_AXON_PORT", "eighty"),
            ("MINER_MAX_CONCURRENT_TASKS", "0"),
            ("STABILITY_API_KEY", "sk-secret-stability"),
            ("BT_CHAIN_ENDPOINT", "http://x"),
        ],
        dir.path(),
    );
    assert_eq!(code, Some(2), "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    for needle in [
        "IMAGE_SERVICE=openrouter: OPEN_ROUTER_API_KEY is not set",
        "VIDEO_SERVICE=stabilityai: stabilityai cannot make videos",
        "BT_AXON_PORT=eighty",
        "MINER_MAX_CONCURRENT_TASKS=0",
        "BT_CHAIN_ENDPOINT=http://x: not a WebSocket URL",
    ] {
        assert_eq!(
            lines.iter().filter(|l| l.contains(needle)).count(),
            1,
            "{needle:?} once in:\n{stderr}"
        );
    }
    assert!(!stderr.contains("sk-secret"), "a key leaked: {stderr}");
}

#[test]
fn the_operators_env_file_is_read_and_the_environment_wins() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join(".env.gen_miner"),
        "IMAGE_SERVICE=openrouter\nOPEN_ROUTER_API_KEY=sk-or-file\nBT_METAGRAPH_FILE=/nonexistent/m.json\nBT_AXON_PORT=notaport\n",
    )
    .expect("env file");
    let (code, stderr) = run_with(&[("BT_AXON_PORT", "9")], dir.path());
    // The file's values were read (the service resolved, so the wallet is the next problem),
    // and the environment's port replaced the file's bad one.
    assert_eq!(code, Some(2), "{stderr}");
    assert!(!stderr.contains("BT_AXON_PORT"), "{stderr}");
    assert!(
        stderr.contains("hotkey file") && stderr.contains("not found"),
        "{stderr}"
    );
}

#[test]
fn a_missing_wallet_names_the_file_and_the_fix() {
    let dir = tempfile::tempdir().expect("tempdir");
    let graph = dir.path().join("m.json");
    std::fs::write(&graph, r#"{"netuid": 34, "neurons": []}"#).expect("graph");
    let (code, stderr) = run_with(
        &[
            ("OPEN_ROUTER_API_KEY", "sk-or-x"),
            ("BT_METAGRAPH_FILE", graph.to_str().expect("utf8")),
            ("BT_WALLET_NAME", "nosuch"),
        ],
        dir.path(),
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("nosuch/hotkeys/default not found") && stderr.contains("BT_WALLET_PATH"),
        "{stderr}"
    );
}
