//! Process control: `start` (checks here, then `supervise` in a detached tmux session, and
//! waits until the miner answers or says why it stopped), `supervise` (the miner, restarted
//! when it dies), `stop` (a graceful drain through the socket) and `restart`.

use super::tmux::{SESSION, STOP_WAIT, end_session, session_exists, tmux};
use super::{CliError, Place};
use crate::config::{Config, Settings};
use crate::identity::{Hotkey, IdentityError};
use gas_client::blocking as client;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// How long `start` waits for the miner to answer (reading the metagraph may take a minute).
const START_WAIT: Duration = Duration::from_secs(90);
/// Variables read besides the settings, passed on to the started miner too.
const EXTRA_VARS: &[&str] = &["RUST_LOG", "BT_HOTKEY_PASSWORD", "RUNWAYML_API_SECRET"];

/// The configuration and where its miner answers.
pub(super) fn resolve(settings: &Settings) -> Result<(Config, Place), CliError> {
    let config = settings.resolve().map_err(CliError::Config)?;
    let place = Place {
        state_dir: config.state_dir.clone(),
        socket: config.admin_socket.clone(),
    };
    Ok((config, place))
}

fn own_exe() -> Result<PathBuf, CliError> {
    std::env::current_exe()
        .map_err(|e| CliError::Failed(format!("cannot find its own executable: {e}")))
}

/// The env names the miner reads (every setting's, and a few more).
fn setting_vars() -> Vec<String> {
    use clap::Args;
    let cmd = Settings::augment_args(clap::Command::new("settings"));
    cmd.get_arguments()
        .filter_map(|a| a.get_env())
        .map(|e| e.to_string_lossy().into_owned())
        .chain(EXTRA_VARS.iter().map(|s| s.to_string()))
        .collect()
}

/// A value for an env file that dotenv reads back as it was.
fn env_quote(value: &str) -> String {
    if !value.contains('\'') && !value.contains('\n') {
        return format!("'{value}'");
    }
    let mut out = String::from("\"");
    for c in value.chars() {
        match c {
            '\\' | '"' | '$' => {
                out.push('\\');
                out.push(c);
            }
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Writes the settings of this shell (the env file already read into it) to a private file
/// the started miner reads once and deletes: a tmux server started earlier would otherwise
/// hand the miner its own old environment, and secrets never go on a command line.
fn write_launch_env(state_dir: &Path, password: Option<&str>) -> std::io::Result<PathBuf> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::create_dir_all(state_dir)?;
    let path = state_dir.join("launch.env");
    let _ = std::fs::remove_file(&path);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)?;
    let mut text = String::new();
    for name in setting_vars() {
        let value = match (name.as_str(), password) {
            ("BT_HOTKEY_PASSWORD", Some(p)) => Some(p.to_string()),
            _ => std::env::var(&name).ok(),
        };
        if let Some(v) = value {
            text.push_str(&format!("{name}={}\n", env_quote(&v)));
        }
    }
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    Ok(path)
}

/// Reads the file `start` wrote into this process's environment (over what a tmux server
/// may have passed down) and deletes it.
pub fn load_launch_env(path: &Path) -> Result<(), CliError> {
    let loaded = dotenvy::from_path_override(path);
    let _ = std::fs::remove_file(path);
    loaded.map_err(|e| {
        CliError::Config(vec![format!(
            "launch settings {}: {e}; start again with gas-miner start",
            path.display()
        )])
    })
}

/// The hotkey must open before the miner goes where nobody can type its password; returns
/// the password asked for, if one was.
fn check_hotkey(config: &Config) -> Result<Option<String>, IdentityError> {
    let asked = std::cell::RefCell::new(None);
    let password = || {
        let p = super::hotkey_password();
        asked.borrow_mut().clone_from(&p);
        p
    };
    Hotkey::load(
        &config.wallet_path,
        &config.wallet_name,
        &config.wallet_hotkey,
        &password,
    )?;
    Ok(asked.into_inner())
}

fn log_size(place: &Place) -> u64 {
    std::fs::metadata(place.logs().join("gas-miner.log"))
        .map(|m| m.len())
        .unwrap_or(0)
}

/// The log lines written since `offset` (the last `max`).
fn log_since(place: &Place, offset: u64, max: usize) -> Vec<String> {
    let mut text = String::new();
    if let Ok(mut f) = std::fs::File::open(place.logs().join("gas-miner.log")) {
        let _ = f.seek(std::io::SeekFrom::Start(offset));
        let _ = f.read_to_string(&mut text);
    }
    let lines: Vec<String> = text.lines().map(str::to_string).collect();
    lines[lines.len().saturating_sub(max)..].to_vec()
}

/// `gas-miner start`: checks the configuration here (where errors can be read), then runs
/// `gas-miner run` in a detached tmux session and waits until it answers on its socket.
pub fn start(settings: &Settings, env_file: &Path) -> Result<(), CliError> {
    let (config, place) = resolve(settings)?;
    match session_exists() {
        None => {
            return Err(CliError::Failed(
                "tmux is not installed; install it (apt-get install tmux), or run `gas-miner run` under systemd (assets/gas-miner.service)".into(),
            ));
        }
        Some(true) => {
            return Err(CliError::Failed(format!(
                "a tmux session named {SESSION} already runs; see it with `gas-miner status`, stop it with `gas-miner stop`"
            )));
        }
        Some(false) => {}
    }
    if let Ok(s) = place.status() {
        return Err(CliError::Failed(format!(
            "a miner (pid {}) already answers on {}, outside tmux; stop it first",
            s.pid,
            place.socket.display()
        )));
    }
    let password = check_hotkey(&config).map_err(|e| CliError::Config(vec![e.to_string()]))?;
    let launch = write_launch_env(&config.state_dir, password.as_deref()).map_err(|e| {
        CliError::Config(vec![format!(
            "state directory {} is not writable ({e}); fix its permissions or set MINER_STATE_DIR elsewhere",
            config.state_dir.display()
        )])
    })?;
    let exe = own_exe()?;
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    let env_file = cwd.join(env_file);
    let offset = log_size(&place);
    let (exe, env_file, launch) = (
        exe.display().to_string(),
        env_file.display().to_string(),
        launch.display().to_string(),
    );
    let made = tmux(&[
        "new-session",
        "-d",
        "-s",
        SESSION,
        "-c",
        &cwd.display().to_string(),
        "-x",
        "200",
        "-y",
        "50",
        &exe,
        "--env-file",
        &env_file,
        "supervise",
        "--launch-env",
        &launch,
    ]);
    match made {
        Ok(o) if o.status.success() => {}
        Ok(o) => {
            let _ = std::fs::remove_file(&launch);
            return Err(CliError::Failed(format!(
                "tmux could not start the session: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            )));
        }
        Err(e) => {
            let _ = std::fs::remove_file(&launch);
            return Err(CliError::Failed(format!("tmux could not be run: {e}")));
        }
    }
    let began = Instant::now();
    loop {
        if let Ok(s) = place.status() {
            println!(
                "gas-miner started in tmux session {SESSION} (pid {}, hotkey {}, uid {}){}",
                s.pid,
                s.hotkey,
                s.uid
                    .map(|u| u.to_string())
                    .unwrap_or_else(|| "none".into()),
                if s.demo { " [DEMO]" } else { "" }
            );
            println!(
                "  follow it:  gas-console   ·   gas-miner logs -f   ·   tmux attach -t {SESSION}"
            );
            println!("  stop it:    gas-miner stop");
            return Ok(());
        }
        let said = log_since(&place, offset, 20);
        if said.iter().any(|l| l.starts_with("gas-miner: ")) || session_exists() != Some(true) {
            end_session();
            let mut why = String::from("the miner stopped while starting; its last words:");
            for line in said {
                why.push_str(&format!("\n  {line}"));
            }
            why.push_str("\n  (all of it: gas-miner logs)");
            return Err(CliError::Failed(why));
        }
        if began.elapsed() > START_WAIT {
            return Err(CliError::Failed(format!(
                "no answer on {} after {} s; it still runs in tmux session {SESSION}: look with `gas-miner logs` or `tmux attach -t {SESSION}`",
                place.socket.display(),
                START_WAIT.as_secs()
            )));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// `gas-miner supervise` (what `start` runs in tmux): runs `gas-miner run` and runs it again
/// if it dies, with growing pauses; a clean stop or a configuration error ends it.
/// (`main` has read the launch settings `start` left before this runs.)
pub fn supervise(env_file: &Path) -> Result<(), CliError> {
    let exe = own_exe()?;
    let mut pause = Duration::from_secs(2);
    loop {
        let began = Instant::now();
        let status = Command::new(&exe)
            .arg("--env-file")
            .arg(env_file)
            .arg("run")
            .status();
        match status {
            Ok(s) if s.success() => return Ok(()),
            Ok(s) if s.code() == Some(2) => {
                return Err(CliError::Config(vec![
                    "not restarting: fix the configuration, then gas-miner start".into(),
                ]));
            }
            Ok(s) => eprintln!(
                "gas-miner: the miner exited ({s}); restarting in {} s",
                pause.as_secs()
            ),
            Err(e) => return Err(CliError::Failed(format!("cannot run the miner: {e}"))),
        }
        if began.elapsed() > Duration::from_secs(300) {
            pause = Duration::from_secs(2);
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_secs(60));
    }
}

/// `gas-miner stop`: asks the miner to stop through its socket (it stops accepting, finishes
/// the deliveries and generations in flight, checkpoints and flushes), then waits for it.
pub fn stop(place: &Place) -> Result<(), CliError> {
    let status = match place.status() {
        Ok(s) => s,
        Err(e) => {
            if session_exists() == Some(true) {
                end_session();
                println!(
                    "gas-miner: the miner did not answer ({e}); it was sent SIGTERM and its tmux session {SESSION} is closed"
                );
                return Ok(());
            }
            return Err(CliError::Failed(format!("not running: {e}")));
        }
    };
    match client::request(
        &place.socket,
        "POST",
        "/shutdown",
        None,
        Duration::from_secs(10),
    ) {
        Ok((202, _)) => {}
        Ok((code, body)) => {
            return Err(CliError::Failed(format!(
                "the miner refused to stop: {code} {}",
                String::from_utf8_lossy(&body)
            )));
        }
        Err(e) => return Err(e.into()),
    }
    println!(
        "gas-miner: stopping (pid {}): finishing the work in flight…",
        status.pid
    );
    let began = Instant::now();
    let proc_dir = PathBuf::from(format!("/proc/{}", status.pid));
    while proc_dir.exists() || session_exists() == Some(true) {
        if began.elapsed() > STOP_WAIT {
            return Err(CliError::Failed(format!(
                "still stopping after {} s (pid {}); see `gas-miner logs`",
                STOP_WAIT.as_secs(),
                status.pid
            )));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    println!(
        "gas-miner: stopped after {:.1} s",
        began.elapsed().as_secs_f64()
    );
    Ok(())
}

/// `gas-miner restart`: stop (if running), then start, reading the env file again.
pub fn restart(settings: &Settings, env_file: &Path) -> Result<(), CliError> {
    let (_, place) = resolve(settings)?;
    if place.status().is_ok() || session_exists() == Some(true) {
        stop(&place)?;
    }
    start(settings, env_file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn launch_values_read_back_as_written() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("x.env");
        let values = ["plain", "it's $HOME \"quoted\" \\ back", "sk-a'b"];
        let text: String = values
            .iter()
            .enumerate()
            .map(|(i, v)| format!("GAS_TEST_LAUNCH_{i}={}\n", env_quote(v)))
            .collect();
        std::fs::write(&path, text).expect("write");
        let read: Vec<(String, String)> = dotenvy::from_path_iter(&path)
            .expect("read")
            .map(|r| r.expect("line"))
            .collect();
        for (i, v) in values.iter().enumerate() {
            assert_eq!(read[i], (format!("GAS_TEST_LAUNCH_{i}"), v.to_string()));
        }
    }

    #[test]
    fn every_setting_is_passed_on() {
        let vars = setting_vars();
        for name in [
            "OPENAI_API_KEY",
            "MINER_STATE_DIR",
            "BT_METAGRAPH_FILE",
            "BT_HOTKEY_PASSWORD",
        ] {
            assert!(
                vars.iter().any(|v| v == name),
                "{name} missing from {vars:?}"
            );
        }
    }
}
