//! The task list for scripts and spreadsheets: `gas-miner tasks` with the console's filters as
//! a table, CSV or JSON, and the console's `e` / `E` writing every task its filters match.

use gas_shared::admin::TaskSummary;
use gas_tests::*;
use serde_json::json;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(40);

/// `gas-miner tasks <args>` beside the rig's miner.
fn tasks_cli(r: &Rig, args: &[&str]) -> (Option<i32>, String) {
    let mut all = vec!["tasks"];
    all.extend_from_slice(args);
    r.fixture.cli(&all)
}

#[tokio::test(flavor = "multi_thread")]
async fn failed_tasks_are_listed_for_scripts_and_exported_from_the_console() {
    let r = Rig::start(&[]).await;
    // Two delivered, one refused by the provider (a failure webhook).
    r.providers.script(Api::OpenRouterImage, [Reply::Refuse]);
    for i in 0..3 {
        let (code, reply) =
            r.v.challenge(
                "/gen_image",
                &json!({"prompt": format!("a lantern, \"number\" {i}")}),
                &r.validator.url(),
            )
            .await;
        assert_eq!(code, 201, "{reply}");
        r.validator
            .wait_for(WAIT, "its webhook", |h| h.len() > i)
            .await;
    }
    // The miner has the answers once the states say so.
    let start = std::time::Instant::now();
    loop {
        let (_, text) = tasks_cli(&r, &["--json"]);
        let all: Vec<TaskSummary> = serde_json::from_str(&text).unwrap_or_default();
        if all.iter().all(|t| t.state.is_final()) && all.len() == 3 {
            break;
        }
        assert!(start.elapsed() < WAIT, "{text}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let (code, text) = tasks_cli(&r, &["--state", "failed", "--json"]);
    assert_eq!(code, Some(0), "{text}");
    let failed: Vec<TaskSummary> = serde_json::from_str(&text).expect("a JSON list");
    assert_eq!(failed.len(), 1, "{text}");
    assert!(
        failed[0]
            .error
            .as_deref()
            .is_some_and(|e| e.contains("moderation")),
        "{failed:?}"
    );

    let (_, csv) = tasks_cli(&r, &["--csv"]);
    let rows: Vec<&str> = csv.lines().collect();
    assert!(rows[0].starts_with("task_id,created_ms,"), "{csv}");
    assert_eq!(rows.len(), 4, "a header and three tasks:\n{csv}");
    assert!(
        csv.contains("\"a lantern, \"\"number\"\" 2\""),
        "quoted as CSV:\n{csv}"
    );

    let (_, table) = tasks_cli(&r, &["--state", "delivered"]);
    assert!(table.contains("2 tasks, newest first"), "{table}");
    let (code, text) = tasks_cli(&r, &["--state", "lost"]);
    assert_eq!(code, Some(2), "{text}");
    assert!(
        text.contains("unknown state `lost`; use one of queued,"),
        "{text}"
    );

    if !tmux_or_skip() {
        return;
    }
    let here = tempfile::tempdir().expect("tempdir");
    let socket = r.fixture.socket();
    let tmux = Tmux::start_sized(
        &format!(
            "cd {} && {} --socket {}",
            here.path().display(),
            console_bin().display(),
            socket.display()
        ),
        120,
        40,
    );
    tmux.wait_for("the dashboard", |p| p.contains("Queue"))
        .await;
    // The failed ones only, as CSV.
    tmux.keys(&["2", "s", "s", "s", "s", "s", "s"]);
    tmux.wait_for("the failed filter", |p| p.contains("Tasks: state=fail"))
        .await;
    tmux.keys(&["e"]);
    let pane = tmux
        .wait_for("the export written", |p| {
            p.contains("1 task written to gas-tasks-")
        })
        .await;
    let file = std::fs::read_dir(here.path())
        .expect("dir")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "csv"))
        .unwrap_or_else(|| panic!("no CSV beside the console:\n{pane}"));
    let text = std::fs::read_to_string(&file).expect("csv");
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(text.contains(",failed,"), "{text}");
}
