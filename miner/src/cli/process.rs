//! Process control: `start` (checks here, then `supervise` in a detached tmux session, and
//! waits until the miner answers or says why it stopped), `supervise` (the miner, restarted
//! when it dies), `stop` (a graceful drain through the socket) and `restart`.

use super::tmux::{STOP_WAIT, end_session, session, session_exists, tmux};
use super::{CliError, Place, Targets};
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
        name: Some(config.name.clone()),
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
/// its address and the password asked for, if one was.
fn check_hotkey(config: &Config) -> Result<(String, Option<String>), IdentityError> {
    let asked = std::cell::RefCell::new(None);
    let password = || {
        let p = super::hotkey_password();
        asked.borrow_mut().clone_from(&p);
        p
    };
    let key = Hotkey::load(
        &config.wallet_path,
        &config.wallet_name,
        &config.wallet_hotkey,
        &password,
    )?;
    Ok((key.ss58().to_string(), asked.into_inner()))
}

/// Where `supervise` leaves what the miner said on stderr when it stopped: the reason of a
/// miner that stopped before it had a log (a bad env file, a setting only it checks).
fn last_words_path(state_dir: &Path) -> PathBuf {
    state_dir.join("last-words.txt")
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
/// `gas-miner run` in a detached tmux session named after the miner (`gas-miner-<name>`) and
/// waits until it answers on its socket. Refused beside another miner with its state
/// directory, port or hotkey.
pub fn start(settings: &Settings, env_file: &Path) -> Result<(), CliError> {
    let (config, place) = resolve(settings)?;
    let session = session(&config.name);
    match session_exists(&session) {
        None => {
            return Err(CliError::Failed(
                "tmux is not installed; install it (apt-get install tmux), or run `gas-miner run` under systemd (assets/gas-miner@.service)".into(),
            ));
        }
        Some(true) => {
            return Err(CliError::Failed(format!(
                "miner {} already runs in tmux session {session}; see it with `gas-miner status --name {}`, stop it with `gas-miner stop --name {}`",
                config.name, config.name, config.name
            )));
        }
        Some(false) => {}
    }
    let (hotkey, password) =
        check_hotkey(&config).map_err(|e| CliError::Config(vec![e.to_string()]))?;
    super::fleet::clash(&config, &hotkey)?;
    if let Ok(s) = place.status() {
        return Err(CliError::Failed(format!(
            "a miner (pid {}) already answers on {}, outside tmux; stop it first",
            s.pid,
            place.socket.display()
        )));
    }
    let launch = write_launch_env(&config.state_dir, password.as_deref()).map_err(|e| {
        CliError::Config(vec![format!(
            "state directory {} is not writable ({e}); fix its permissions or set MINER_STATE_DIR elsewhere",
            config.state_dir.display()
        )])
    })?;
    let exe = own_exe()?;
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    // Only a file that exists is handed on: the configuration may be in the environment alone.
    let env_file = Some(cwd.join(env_file)).filter(|f| f.is_file());
    let last_words = last_words_path(&config.state_dir);
    let _ = std::fs::remove_file(&last_words);
    let offset = log_size(&place);
    let (exe, launch, cwd_text) = (
        exe.display().to_string(),
        launch.display().to_string(),
        cwd.display().to_string(),
    );
    let env_file = env_file.map(|f| f.display().to_string());
    let last_words_text = last_words.display().to_string();
    let mut args = vec![
        "new-session",
        "-d",
        "-s",
        &session,
        "-c",
        &cwd_text,
        "-x",
        "200",
        "-y",
        "50",
        &exe,
    ];
    if let Some(f) = &env_file {
        args.extend(["--env-file", f]);
    }
    args.extend([
        "supervise",
        "--launch-env",
        &launch,
        "--last-words",
        &last_words_text,
    ]);
    match tmux(&args) {
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
                "gas-miner {} started in tmux session {session} (pid {}, hotkey {}, uid {}){}",
                config.name,
                s.pid,
                s.hotkey,
                s.uid
                    .map(|u| u.to_string())
                    .unwrap_or_else(|| "none".into()),
                if s.demo { " [DEMO]" } else { "" }
            );
            println!(
                "  follow it:  gas-console   ·   gas-miner logs -f --name {}   ·   tmux attach -t {session}",
                config.name
            );
            println!("  stop it:    gas-miner stop --name {}", config.name);
            return Ok(());
        }
        let said = log_since(&place, offset, 20);
        let gone = session_exists(&session) != Some(true);
        if said.iter().any(|l| l.starts_with("gas-miner: ")) || gone {
            end_session(&session);
            let mut why = String::from("the miner stopped while starting; its last words:");
            // What it wrote on stderr (before it had a log), then its log.
            let stderr = std::fs::read_to_string(&last_words).unwrap_or_default();
            let mut words: Vec<String> = stderr.lines().map(str::to_string).collect();
            words.extend(said.into_iter().filter(|l| !stderr.contains(l.as_str())));
            if words.is_empty() {
                words.push(
                    "(nothing: see `tmux` or run `gas-miner run` in this shell to see it fail)"
                        .into(),
                );
            }
            for line in words {
                why.push_str(&format!("\n  {line}"));
            }
            why.push_str(&format!(
                "\n  (all of it: gas-miner logs --name {})",
                config.name
            ));
            return Err(CliError::Failed(why));
        }
        if began.elapsed() > START_WAIT {
            return Err(CliError::Failed(format!(
                "no answer on {} after {} s; it still runs in tmux session {session}: look with `gas-miner logs --name {}` or `tmux attach -t {session}`",
                place.socket.display(),
                START_WAIT.as_secs(),
                config.name
            )));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// `gas-miner supervise` (what `start` runs in tmux): runs `gas-miner run` and runs it again
/// if it dies, with growing pauses; a clean stop or a configuration error ends it. What the
/// miner says on stderr goes to the pane and, when it stops, to `last_words` (what `start`
/// prints). (`main` has read the launch settings `start` left before this runs.)
pub fn supervise(env_file: &Path, last_words: Option<&Path>) -> Result<(), CliError> {
    let exe = own_exe()?;
    let mut pause = Duration::from_secs(2);
    loop {
        let began = Instant::now();
        let mut cmd = Command::new(&exe);
        if env_file.is_file() {
            cmd.arg("--env-file").arg(env_file);
        }
        let status = cmd
            .arg("run")
            .stderr(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                let said = echo_stderr(&mut child);
                let status = child.wait()?;
                let said = said.join().unwrap_or_default();
                if let (false, Some(path)) = (status.success(), last_words) {
                    let _ = std::fs::create_dir_all(path.parent().unwrap_or(Path::new(".")));
                    let _ = std::fs::write(path, said.join("\n") + "\n");
                }
                Ok(status)
            });
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

/// Copies the child's stderr to ours as it comes; the thread returns its last 30 lines.
fn echo_stderr(child: &mut std::process::Child) -> std::thread::JoinHandle<Vec<String>> {
    let stderr = child.stderr.take();
    std::thread::spawn(move || {
        let mut last = std::collections::VecDeque::new();
        let Some(stderr) = stderr else {
            return Vec::new();
        };
        for line in std::io::BufRead::lines(std::io::BufReader::new(stderr)) {
            let Ok(line) = line else { break };
            eprintln!("{line}");
            if last.len() == 30 {
                last.pop_front();
            }
            last.push_back(line);
        }
        last.into()
    })
}

/// `gas-miner stop`: one miner, or every miner on the box (`--all`).
pub fn stop(targets: &Targets) -> Result<(), CliError> {
    match targets {
        Targets::One(place) => stop_one(place),
        Targets::All => {
            let mut failed = Vec::new();
            let running: Vec<_> = super::fleet::known()
                .into_iter()
                .filter(|k| k.state != "stopped")
                .collect();
            if running.is_empty() {
                println!("gas-miner: no miner runs on this box (see `gas-miner list`)");
            }
            for k in running {
                let Some(place) = k.place() else { continue };
                println!("{}:", k.name);
                if let Err(e) = stop_one(&place) {
                    eprintln!("{e}");
                    failed.push(k.name);
                }
            }
            match failed.is_empty() {
                true => Ok(()),
                false => Err(CliError::Failed(format!(
                    "not stopped: {}",
                    failed.join(", ")
                ))),
            }
        }
    }
}

/// Asks the miner to stop through its socket (it stops accepting, finishes the deliveries
/// and generations in flight, checkpoints and flushes), then waits for it.
fn stop_one(place: &Place) -> Result<(), CliError> {
    let status = match place.status() {
        Ok(s) => s,
        Err(e) => {
            if let Some(session) = place.session().filter(|_| place.in_tmux()) {
                end_session(&session);
                println!(
                    "gas-miner: the miner did not answer ({e}); it was sent SIGTERM and its tmux session {session} is closed"
                );
                return Ok(());
            }
            return Err(CliError::Failed(format!("not running: {e}")));
        }
    };
    let session = place
        .session()
        .unwrap_or_else(|| super::tmux::session(&status.name));
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
        "gas-miner: stopping {} (pid {}): finishing the work in flight…",
        status.name, status.pid
    );
    let began = Instant::now();
    let proc_dir = PathBuf::from(format!("/proc/{}", status.pid));
    while proc_dir.exists() || session_exists(&session) == Some(true) {
        if began.elapsed() > STOP_WAIT {
            return Err(CliError::Failed(format!(
                "still stopping after {} s (pid {}); see `gas-miner logs --name {}`",
                STOP_WAIT.as_secs(),
                status.pid,
                status.name
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

/// `gas-miner restart`: stop (if running), then start, reading the env file again. With
/// `--name` or `--all`, each miner is started again as `start` would in its own shell: with
/// the env file it was started with, its name and its state directory.
pub fn restart(
    settings: &Settings,
    env_file: &Path,
    targets: Option<&Targets>,
) -> Result<(), CliError> {
    let cards: Vec<gas_client::fleet::Card> = match targets {
        None => {
            let (_, place) = resolve(settings)?;
            if place.status().is_ok() || place.in_tmux() {
                stop_one(&place)?;
            }
            return start(settings, env_file);
        }
        Some(Targets::One(place)) => {
            let name = place.name.clone().unwrap_or_default();
            vec![gas_client::fleet::find(&name).ok_or_else(|| {
                CliError::Failed(format!(
                    "no miner named {name:?} on this box; see `gas-miner list`"
                ))
            })?]
        }
        Some(Targets::All) => gas_client::fleet::cards(),
    };
    let mut failed = Vec::new();
    for card in cards {
        let place = Place::of(&card);
        println!("{}:", card.name);
        if (place.status().is_ok() || place.in_tmux())
            && let Err(e) = stop_one(&place)
        {
            eprintln!("{e}");
            failed.push(card.name);
            continue;
        }
        let mut cmd = Command::new(own_exe()?);
        if let Some(f) = &card.env_file {
            cmd.arg("--env-file").arg(f);
        }
        let ok = cmd
            .arg("start")
            .env("MINER_NAME", &card.name)
            .env("MINER_STATE_DIR", &card.state_dir)
            .env("BT_WALLET_NAME", &card.wallet)
            .env("BT_WALLET_HOTKEY", &card.wallet_hotkey)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            failed.push(card.name);
        }
    }
    match failed.is_empty() {
        true => Ok(()),
        false => Err(CliError::Failed(format!(
            "not restarted: {}",
            failed.join(", ")
        ))),
    }
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
