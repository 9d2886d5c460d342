//! The tmux session a started miner runs in: whether it exists, and ending it when the miner
//! does not answer.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// The tmux session `start` makes.
pub(crate) const SESSION: &str = "gas-miner";
/// How long `stop` waits for the drain (30 s of work in flight, then the flush).
pub(super) const STOP_WAIT: Duration = Duration::from_secs(60);

pub(super) fn tmux(args: &[&str]) -> std::io::Result<std::process::Output> {
    Command::new("tmux").args(args).output()
}

/// Whether the `gas-miner` tmux session exists (`None`: tmux is not installed).
pub(super) fn session_exists() -> Option<bool> {
    tmux(&["has-session", "-t", &format!("={SESSION}")])
        .ok()
        .map(|o| o.status.success())
}

/// Ends the tmux session of a miner that does not answer: SIGTERM to its process group
/// (the supervisor and the miner, which drains as it can), then the session itself. Closing
/// the session alone would only send SIGHUP, which the miner takes as "reload the anchors".
pub(super) fn end_session() {
    let pane = tmux(&[
        "list-panes",
        "-t",
        &format!("={SESSION}"),
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
    let _ = tmux(&["kill-session", "-t", &format!("={SESSION}")]);
}
