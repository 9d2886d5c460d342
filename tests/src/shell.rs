//! An operator's shell for the end-to-end tests of the operator commands: `gas-miner` run as
//! a person types it, in a directory of its own, with a tmux server of its own.

use crate::{Fixture, miner_bin};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// What one command said.
pub struct Said {
    pub code: i32,
    pub out: String,
    pub err: String,
}

impl Said {
    /// What a finished command said.
    pub fn of(out: &std::process::Output) -> Said {
        Said {
            code: out.status.code().unwrap_or(-1),
            out: String::from_utf8_lossy(&out.stdout).into_owned(),
            err: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// stdout, then stderr.
    pub fn all(&self) -> String {
        format!("{}{}", self.out, self.err)
    }
}

impl std::fmt::Debug for Said {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.out, self.err
        )
    }
}

/// An operator's shell in a fixture's directory (its `HOME` and working directory): the
/// settings in `.env.gen_miner` (`new`) or given per command (`bare`), and a tmux server of
/// its own (`TMUX_TMPDIR`), never the machine's.
pub struct Operator {
    pub dir: PathBuf,
    tmux_dir: PathBuf,
    transcript: std::cell::RefCell<String>,
}

impl Operator {
    /// The fixture's settings in `.env.gen_miner`.
    pub fn new(fixture: &Fixture) -> Operator {
        let op = Operator::bare(fixture.dir.path());
        op.write_env(&fixture.env);
        op
    }

    /// No env file: each command gets its settings from `gas_with`'s environment.
    pub fn bare(dir: &Path) -> Operator {
        let tmux_dir = dir.join("tmux");
        std::fs::create_dir_all(&tmux_dir).expect("tmux dir");
        Operator {
            dir: dir.to_path_buf(),
            tmux_dir,
            transcript: Default::default(),
        }
    }

    pub fn write_env(&self, env: &[(String, String)]) {
        let text: String = env.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
        std::fs::write(self.dir.join(".env.gen_miner"), text).expect("env file");
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(miner_bin());
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", &self.dir)
            .env("TMUX_TMPDIR", &self.tmux_dir)
            .current_dir(&self.dir)
            .stdin(Stdio::null());
        cmd
    }

    pub fn gas(&self, args: &[&str]) -> Said {
        self.gas_with(args, &[])
    }

    pub fn gas_with(&self, args: &[&str], env: &[(&str, &str)]) -> Said {
        let out = self
            .command(args)
            .envs(env.iter().copied())
            .output()
            .expect("gas-miner runs");
        let said = Said::of(&out);
        self.transcript
            .borrow_mut()
            .push_str(&format!("$ gas-miner {}\n{said:?}\n", args.join(" ")));
        said
    }

    /// `tmux` on this shell's server.
    pub fn tmux(&self, args: &[&str]) -> std::io::Result<std::process::Output> {
        Command::new("tmux")
            .args(args)
            .env("TMUX_TMPDIR", &self.tmux_dir)
            .env_remove("TMUX")
            .output()
    }

    /// Whether the default miner's tmux session runs.
    pub fn session_exists(&self) -> bool {
        self.session("miner-default")
    }

    /// Whether the tmux session of the miner named `name` runs.
    pub fn session(&self, name: &str) -> bool {
        Command::new("tmux")
            .args(["has-session", "-t", &format!("=gas-miner-{name}")])
            .env("TMUX_TMPDIR", &self.tmux_dir)
            .env_remove("TMUX")
            .output()
            .is_ok_and(|o| o.status.success())
    }

    /// Everything every command printed, and the log files (of the miner in `state`).
    pub fn everything(&self) -> String {
        let mut all = self.transcript.borrow().clone();
        for f in gas_miner::testing::LogFile::files(&self.dir.join("state/logs")) {
            all.push_str(&std::fs::read_to_string(f).unwrap_or_default());
        }
        all
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        // A test that failed half-way leaves no miner behind (closing tmux alone would not
        // stop one: a miner takes SIGHUP as "reload the trust anchors").
        let _ = self.command(&["stop", "--all"]).output();
        let _ = Command::new("tmux")
            .arg("kill-server")
            .env("TMUX_TMPDIR", &self.tmux_dir)
            .env_remove("TMUX")
            .stderr(std::process::Stdio::null())
            .status();
    }
}
