//! Driving terminal programs for real: a tmux server of the test's own, keys sent, the pane
//! read back.

use crate::miner_bin;
use std::process::Command;
use std::time::{Duration, Instant};

/// How long a pane may take to show what a test waits for.
const WAIT: Duration = Duration::from_secs(30);

/// A tmux server of its own (never the operator's) with one session, `console`, running a
/// command in a 100×32 pane.
pub struct Tmux {
    pub server: String,
}

impl Tmux {
    pub fn start(cmd: &str) -> Tmux {
        Tmux::start_sized(cmd, 100, 32)
    }

    /// `cmd` in a pane of `width`×`height`.
    pub fn start_sized(cmd: &str, width: u16, height: u16) -> Tmux {
        let server = format!("gas-test-{}", uuid::Uuid::new_v4().simple());
        let (w, h) = (width.to_string(), height.to_string());
        let ok = Command::new("tmux")
            .args([
                "-L",
                &server,
                "new-session",
                "-d",
                "-s",
                "console",
                "-x",
                &w,
                "-y",
                &h,
                cmd,
            ])
            .status()
            .expect("tmux runs");
        assert!(ok.success(), "tmux new-session failed");
        Tmux { server }
    }

    pub fn pane(&self) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.server, "capture-pane", "-p", "-t", "console"])
            .output()
            .expect("capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn keys(&self, keys: &[&str]) {
        for k in keys {
            Command::new("tmux")
                .args(["-L", &self.server, "send-keys", "-t", "console", k])
                .status()
                .expect("send-keys");
            std::thread::sleep(Duration::from_millis(60));
        }
    }

    pub fn text(&self, text: &str) {
        Command::new("tmux")
            .args(["-L", &self.server, "send-keys", "-t", "console", "-l", text])
            .status()
            .expect("send-keys");
    }

    pub async fn wait_for(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let pane = self.pane();
            if pred(&pane) {
                return pane;
            }
            assert!(
                start.elapsed() < WAIT,
                "the console never showed {what}:\n{pane}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.server, "kill-server"])
            .stderr(std::process::Stdio::null())
            .status();
    }
}

/// Whether tmux runs here; when it does not, says the test (or its part) is skipped, unless
/// `GAS_REQUIRE_TMUX` demands it (as `.ci/run` does), which fails instead.
pub fn tmux_or_skip() -> bool {
    if available("tmux") {
        return true;
    }
    assert!(
        std::env::var_os("GAS_REQUIRE_TMUX").is_none(),
        "GAS_REQUIRE_TMUX is set but tmux is missing"
    );
    println!("SKIPPED: tmux is needed (apt-get install tmux; .ci/run does)");
    false
}

/// Whether `tool` runs here.
pub fn available(tool: &str) -> bool {
    Command::new(tool)
        .arg("-V")
        .output()
        .or_else(|_| Command::new(tool).arg("--version").output())
        .is_ok_and(|o| o.status.success())
}

/// The gas-console binary built beside gas-miner.
pub fn console_bin() -> std::path::PathBuf {
    miner_bin().with_file_name("gas-console")
}
