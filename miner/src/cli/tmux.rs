//! The tmux session a started miner runs in (`gas-miner-<name>`): whether it exists, and
//! ending it when the miner does not answer.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// How long `stop` waits for the drain (30 s of work in flight, then the flush).
pub(super) const STOP_WAIT: Duration = Duration::from_secs(60);

/// The tmux session `start` makes for the miner named `name`.
pub(crate) fn session(name: &str) -> String {
    format!("gas-miner-{name}")
}

pub(super) fn tmux(args: &[&str]) -> std::io::Result<std::process::Output> {
    Command::new("tmux").args(args).output()
}

/// Whether the tmux session exists (`None`: tmux is not installed).
pub(super) fn session_exists(session: &str) -> Option<bool> {
    tmux(&["has-session", "-t", &format!("={session}")])
        .ok()
        .map(|o| o.status.success())
}

/// The `gas-miner-…` sessions of this tmux server.
pub(super) fn sessions() -> Vec<String> {
    tmux(&["list-sessions", "-F", "#{session_name}"])
        .ok()
        .filter(|o| o.status.success())
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .filter(|l| l.starts_with("gas-miner-"))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// Ends the tmux session of a miner that does not answer: SIGTERM to its process group
/// (the supervisor and the miner, which drains as it can), then the session itself. Closing
/// the session alone would only send SIGHUP, which the miner takes as "reload the anchors".
pub(super) fn end_session(session: &str) {
    let pane = tmux(&[
        "list-panes",
        "-t",
        &format!("={session}"),
        "-F",
        "#{pane_pid}",
    ])
    .ok()
    .and_then(|o| {
        String::from_utf8_lossy(&o.stdout)
            .trim()
            .parse::<u32>()
            .ok()
    });
    if let Some(pid) = pane {
        let _ = Command::new("kill")
            .args(["-TERM", "--", &format!("-{pid}")])
            .status();
        let began = Instant::now();
        while Path::new(&format!("/proc/{pid}")).exists() && began.elapsed() < STOP_WAIT {
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    let _ = tmux(&["kill-session", "-t", &format!("={session}")]);
}
