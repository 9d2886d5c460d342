//! The operator commands around the daemon, as the reference's `gascli generator` has them:
//! `start` / `stop` / `restart` (a detached tmux session named `gas-miner`), `status`, `logs`
//! and `info`. Each prints what it did or why it could not, and exits 0 (ok), 1 (a check
//! failed) or 2 (bad usage or configuration).

use crate::client::{self, ClientError};
use crate::config::{Config, Settings};
use crate::identity::{Hotkey, IdentityError};
use gas_shared::admin::{LogTail, Status, TaskPage};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The tmux session `start` makes.
pub const SESSION: &str = "gas-miner";
/// How long `start` waits for the miner to answer (reading the metagraph may take a minute).
const START_WAIT: Duration = Duration::from_secs(90);
/// How long `stop` waits for the drain (30 s of work in flight, then the flush).
const STOP_WAIT: Duration = Duration::from_secs(60);
/// Variables read besides the settings, passed on to the started miner too.
const EXTRA_VARS: &[&str] = &["RUST_LOG", "BT_HOTKEY_PASSWORD", "RUNWAYML_API_SECRET"];

/// Where a miner keeps its state and answers.
#[derive(Debug, Clone)]
pub struct Place {
    pub state_dir: PathBuf,
    pub socket: PathBuf,
}

impl Place {
    pub fn new(state_dir: Option<&str>, socket: Option<&str>) -> Place {
        let state_dir = crate::config::state_dir(state_dir);
        let socket = socket
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(crate::config::expand_home)
            .unwrap_or_else(|| state_dir.join("admin.sock"));
        Place { state_dir, socket }
    }

    fn logs(&self) -> PathBuf {
        self.state_dir.join("logs")
    }

    /// The running miner's status, or why there is none.
    fn status(&self) -> Result<Status, ClientError> {
        client::get_json(&self.socket, "/status")
    }
}

fn say_problems(problems: &[String]) -> i32 {
    for p in problems {
        eprintln!("gas-miner: {p}");
    }
    2
}

/// The configuration and where its miner answers, or the exit status after the problems
/// are printed.
fn resolve(settings: &Settings) -> Result<(Config, Place), i32> {
    let config = settings.resolve().map_err(|p| say_problems(&p))?;
    let place = Place {
        state_dir: config.state_dir.clone(),
        socket: config.admin_socket.clone(),
    };
    Ok((config, place))
}

fn tmux(args: &[&str]) -> std::io::Result<std::process::Output> {
    Command::new("tmux").args(args).output()
}

/// Whether the `gas-miner` tmux session exists (`None`: tmux is not installed).
fn session_exists() -> Option<bool> {
    tmux(&["has-session", "-t", &format!("={SESSION}")])
        .ok()
        .map(|o| o.status.success())
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
pub fn load_launch_env(path: &Path) -> Result<(), String> {
    let loaded = dotenvy::from_path_override(path);
    let _ = std::fs::remove_file(path);
    loaded.map_err(|e| {
        format!(
            "launch settings {}: {e}; start again with gas-miner start",
            path.display()
        )
    })
}

/// The hotkey must open before the miner goes where nobody can type its password; returns
/// the password asked for, if one was.
fn check_hotkey(config: &Config) -> Result<Option<String>, String> {
    let asked = std::cell::RefCell::new(None);
    let password = || {
        let p = std::env::var("BT_HOTKEY_PASSWORD").ok().or_else(|| {
            use std::io::IsTerminal;
            std::io::stdin()
                .is_terminal()
                .then(|| rpassword::prompt_password("hotkey password: ").ok())
                .flatten()
        });
        asked.borrow_mut().clone_from(&p);
        p
    };
    Hotkey::load(
        &config.wallet_path,
        &config.wallet_name,
        &config.wallet_hotkey,
        &password,
    )
    .map_err(|e| e.to_string())?;
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
pub fn start(settings: &Settings, env_file: &Path) -> i32 {
    let (config, place) = match resolve(settings) {
        Ok(x) => x,
        Err(code) => return code,
    };
    match session_exists() {
        None => {
            eprintln!(
                "gas-miner: tmux is not installed; install it (apt-get install tmux), or run `gas-miner run` under systemd (assets/gas-miner.service)"
            );
            return 1;
        }
        Some(true) => {
            eprintln!(
                "gas-miner: a tmux session named {SESSION} already runs; see it with `gas-miner status`, stop it with `gas-miner stop`"
            );
            return 1;
        }
        Some(false) => {}
    }
    if let Ok(s) = place.status() {
        eprintln!(
            "gas-miner: a miner (pid {}) already answers on {}, outside tmux; stop it first",
            s.pid,
            place.socket.display()
        );
        return 1;
    }
    let launch = match check_hotkey(&config).and_then(|password| {
        write_launch_env(&config.state_dir, password.as_deref()).map_err(|e| {
            format!(
                "state directory {} is not writable ({e}); fix its permissions or set MINER_STATE_DIR elsewhere",
                config.state_dir.display()
            )
        })
    }) {
        Ok(path) => path,
        Err(e) => {
            eprintln!("gas-miner: {e}");
            return 2;
        }
    };
    let exe = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("gas-miner: cannot find its own executable: {e}");
            return 1;
        }
    };
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
            eprintln!(
                "gas-miner: tmux could not start the session: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            );
            return 1;
        }
        Err(e) => {
            let _ = std::fs::remove_file(&launch);
            eprintln!("gas-miner: tmux could not be run: {e}");
            return 1;
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
            return 0;
        }
        let said = log_since(&place, offset, 20);
        if said.iter().any(|l| l.starts_with("gas-miner: ")) || session_exists() != Some(true) {
            end_session();
            eprintln!("gas-miner: the miner stopped while starting; its last words:");
            for line in said {
                eprintln!("  {line}");
            }
            eprintln!("  (all of it: gas-miner logs)");
            return 1;
        }
        if began.elapsed() > START_WAIT {
            eprintln!(
                "gas-miner: no answer on {} after {} s; it still runs in tmux session {SESSION}: look with `gas-miner logs` or `tmux attach -t {SESSION}`",
                place.socket.display(),
                START_WAIT.as_secs()
            );
            return 1;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// `gas-miner supervise` (what `start` runs in tmux): runs `gas-miner run` and runs it again
/// if it dies, with growing pauses; a clean stop or a configuration error ends it.
/// (`main` has read the launch settings `start` left before this runs.)
pub fn supervise(env_file: &Path) -> i32 {
    let exe = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("gas-miner: cannot find its own executable: {e}");
            return 1;
        }
    };
    let mut pause = Duration::from_secs(2);
    loop {
        let began = Instant::now();
        let status = Command::new(&exe)
            .arg("--env-file")
            .arg(env_file)
            .arg("run")
            .status();
        match status {
            Ok(s) if s.success() => return 0,
            Ok(s) if s.code() == Some(2) => {
                eprintln!("gas-miner: not restarting: fix the configuration, then gas-miner start");
                return 2;
            }
            Ok(s) => eprintln!(
                "gas-miner: the miner exited ({s}); restarting in {} s",
                pause.as_secs()
            ),
            Err(e) => {
                eprintln!("gas-miner: cannot run the miner: {e}");
                return 1;
            }
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
pub fn stop(place: &Place) -> i32 {
    let status = match place.status() {
        Ok(s) => s,
        Err(e) => {
            if session_exists() == Some(true) {
                end_session();
                println!(
                    "gas-miner: the miner did not answer ({e}); it was sent SIGTERM and its tmux session {SESSION} is closed"
                );
                return 0;
            }
            eprintln!("gas-miner: not running: {e}");
            return 1;
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
            eprintln!(
                "gas-miner: the miner refused to stop: {code} {}",
                String::from_utf8_lossy(&body)
            );
            return 1;
        }
        Err(e) => {
            eprintln!("gas-miner: {e}");
            return 1;
        }
    }
    println!(
        "gas-miner: stopping (pid {}): finishing the work in flight…",
        status.pid
    );
    let began = Instant::now();
    let proc_dir = PathBuf::from(format!("/proc/{}", status.pid));
    while proc_dir.exists() || session_exists() == Some(true) {
        if began.elapsed() > STOP_WAIT {
            eprintln!(
                "gas-miner: still stopping after {} s (pid {}); see `gas-miner logs`",
                STOP_WAIT.as_secs(),
                status.pid
            );
            return 1;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    println!(
        "gas-miner: stopped after {:.1} s",
        began.elapsed().as_secs_f64()
    );
    0
}

/// Ends the tmux session of a miner that does not answer: SIGTERM to its process group
/// (the supervisor and the miner, which drains as it can), then the session itself. Closing
/// the session alone would only send SIGHUP, which the miner takes as "reload the anchors".
fn end_session() {
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

/// `gas-miner restart`: stop (if running), then start, reading the env file again.
pub fn restart(settings: &Settings, env_file: &Path) -> i32 {
    let place = match resolve(settings) {
        Ok((_, place)) => place,
        Err(code) => return code,
    };
    if (place.status().is_ok() || session_exists() == Some(true)) && stop(&place) != 0 {
        return 1;
    }
    start(settings, env_file)
}

fn ago(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min", s / 60),
        3600..86_400 => format!("{} h {:02} min", s / 3600, (s % 3600) / 60),
        _ => format!("{} d {} h", s / 86_400, (s % 86_400) / 3600),
    }
}

fn rate(r: &gas_shared::admin::Rate) -> String {
    match r.ratio() {
        Some(x) => format!("{:.0}% of {}", x * 100.0, r.total),
        None => "–".into(),
    }
}

/// `gas-miner status`: the process, its place on the chain, queues, pass rates and the last
/// errors; exit 1 when it is not running.
pub fn status(place: &Place) -> i32 {
    let s = match place.status() {
        Ok(s) => s,
        Err(e) => {
            if session_exists() == Some(true) {
                eprintln!(
                    "gas-miner: the tmux session {SESSION} exists but the miner does not answer ({e}); it may be starting or restarting: see `gas-miner logs`"
                );
            } else {
                eprintln!("gas-miner: not running: {e}; start it with `gas-miner start`");
            }
            return 1;
        }
    };
    let in_tmux = if session_exists() == Some(true) {
        format!(", tmux session {SESSION}")
    } else {
        String::new()
    };
    let demo = if s.demo {
        "  *** DEMO: nothing here is real ***"
    } else {
        ""
    };
    println!(
        "gas-miner {} running: pid {}{in_tmux}, up {}{demo}",
        s.version,
        s.pid,
        ago(s.now_ms - s.started_ms)
    );
    println!(
        "  hotkey {}  uid {}  netuid {}{}",
        s.hotkey,
        s.uid
            .map(|u| u.to_string())
            .unwrap_or_else(|| "none (not registered)".into()),
        s.netuid,
        s.axon
            .as_deref()
            .map(|a| format!("  axon {a}"))
            .unwrap_or_default()
    );
    let m = &s.metagraph;
    println!(
        "  metagraph {}: {} neurons{}, {} old{}",
        m.source,
        m.neurons,
        m.block
            .map(|b| format!(" at block {b}"))
            .unwrap_or_default(),
        ago(m.age_s * 1000),
        if m.stale { " (STALE)" } else { "" }
    );
    let chain = |names: &[String]| {
        if names.is_empty() {
            "none".to_string()
        } else {
            names.join(" → ")
        }
    };
    println!(
        "  services  image {}  ·  video {}{}",
        chain(&s.services.image),
        chain(&s.services.video),
        if s.services.overridden {
            "  (set from gas-console)"
        } else {
            ""
        }
    );
    for modality in gas_shared::Modality::ALL {
        let counts: Vec<String> = s
            .queue
            .iter()
            .filter(|q| q.modality == modality && q.count > 0)
            .map(|q| format!("{} {}", q.state.as_str(), q.count))
            .collect();
        println!(
            "  {modality:<5}     {}",
            if counts.is_empty() {
                "no tasks".to_string()
            } else {
                counts.join(", ")
            }
        );
    }
    println!(
        "  accepted  {} in the last minute, {} in the last hour",
        s.throughput.accepted_last_minute, s.throughput.accepted_last_hour
    );
    println!(
        "  pre-flight passed {} (hour), {} (day)  ·  validators took {} (hour), {} (day)",
        rate(&s.preflight.hour),
        rate(&s.preflight.day),
        rate(&s.acceptance.hour),
        rate(&s.acceptance.day)
    );
    println!(
        "  trust anchors {}  ·  admin socket {}",
        s.trust_anchors,
        place.socket.display()
    );
    let failed: Option<TaskPage> =
        client::get_json(&place.socket, "/tasks?state=failed&limit=5").ok();
    let errors: Vec<String> = client::get_json::<LogTail>(&place.socket, "/logs?n=2000")
        .map(|t| {
            t.lines
                .into_iter()
                .filter(|l| l.contains(" ERROR ") || l.contains(" WARN "))
                .collect()
        })
        .unwrap_or_default();
    let failed = failed.map(|p| p.tasks).unwrap_or_default();
    if failed.is_empty() && errors.is_empty() {
        println!("  last errors: none");
    } else {
        println!("  last errors:");
        for t in &failed {
            let why = t
                .error
                .clone()
                .or_else(|| t.verdict.as_ref().and_then(|v| v.reason.clone()))
                .unwrap_or_else(|| "failed".into());
            println!(
                "    {} ago  task {} ({} {}): {why}",
                ago(s.now_ms - t.finished_ms.unwrap_or(t.created_ms)),
                t.task_id,
                t.modality,
                t.tier.as_str()
            );
        }
        for line in &errors[errors.len().saturating_sub(5)..] {
            println!("    {line}");
        }
    }
    0
}

/// `gas-miner logs [-n N] [-f]`: the last lines of the rotated log files in the state
/// directory, then (with `-f`) what is written next, across rotations.
pub fn logs(place: &Place, lines: usize, follow: bool) -> i32 {
    let dir = place.logs();
    let files = crate::logs::LogFile::files(&dir);
    if files.is_empty() {
        eprintln!(
            "gas-miner: no log files in {} yet: the miner writes them once it runs (gas-miner start)",
            dir.display()
        );
        return 1;
    }
    let mut tail: Vec<String> = Vec::new();
    for file in &files {
        if tail.len() >= lines {
            break;
        }
        let text = std::fs::read(file)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        let mut older: Vec<String> = text.lines().map(str::to_string).collect();
        older.append(&mut tail);
        tail = older;
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for line in &tail[tail.len().saturating_sub(lines)..] {
        if writeln!(out, "{line}").is_err() {
            return 0;
        }
    }
    let _ = out.flush();
    if !follow {
        return 0;
    }
    follow_file(&dir.join("gas-miner.log"), &mut out)
}

fn inode(path: &Path) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| m.ino())
}

/// Prints what is appended to `path`, reopening it when it is rotated away.
fn follow_file(path: &Path, out: &mut impl Write) -> i32 {
    use std::os::unix::fs::MetadataExt;
    let open = || {
        let mut f = std::fs::File::open(path).ok()?;
        let end = f.seek(std::io::SeekFrom::End(0)).ok()?;
        let ino = f.metadata().ok()?.ino();
        Some((f, ino, end))
    };
    let mut current = open();
    let mut buf = Vec::new();
    loop {
        if let Some((f, ino, _)) = current.as_mut() {
            buf.clear();
            let _ = f.read_to_end(&mut buf);
            if !buf.is_empty() {
                if out.write_all(&buf).and_then(|()| out.flush()).is_err() {
                    return 0;
                }
                continue;
            }
            if inode(path).is_some_and(|now| now != *ino) {
                // Rotated: the old file is read to its end above; the new one from its start.
                current = std::fs::File::open(path)
                    .ok()
                    .and_then(|f| Some((f.metadata().ok()?.ino(), f)))
                    .map(|(ino, f)| (f, ino, 0));
                continue;
            }
        } else {
            current = open();
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// `gas-miner info`: the configuration (secrets only said to be set), key status per service,
/// the service per modality, the trust anchors, the chain, and whether it runs.
pub fn info(settings: &Settings, env_file: &Path) -> i32 {
    let read = if env_file.exists() {
        "read"
    } else {
        "not found"
    };
    println!(
        "gas-miner {}  ·  env file {} ({read})",
        env!("CARGO_PKG_VERSION"),
        env_file.display()
    );
    let config = match settings.resolve() {
        Ok(c) => c,
        Err(problems) => {
            println!("configuration problems:");
            return say_problems(&problems);
        }
    };
    let mut failed = false;
    let key = Hotkey::load(
        &config.wallet_path,
        &config.wallet_name,
        &config.wallet_hotkey,
        &|| std::env::var("BT_HOTKEY_PASSWORD").ok(),
    );
    let hotkey = match &key {
        Ok(k) => k.ss58().to_string(),
        Err(IdentityError::NoPassword { .. }) => {
            "encrypted; BT_HOTKEY_PASSWORD not set (start asks for it on a terminal)".into()
        }
        Err(e) => {
            failed = true;
            format!("PROBLEM: {e}")
        }
    };
    println!(
        "wallet     {} / {} / {}",
        config.wallet_path.display(),
        config.wallet_name,
        config.wallet_hotkey
    );
    println!("hotkey     {hotkey}");
    match &config.metagraph_file {
        Some(f) => println!(
            "chain      offline: metagraph file {} (never serves the axon)",
            f.display()
        ),
        None => println!(
            "chain      {}  netuid {}",
            config.chain_endpoint, config.netuid
        ),
    }
    println!(
        "axon       listens on {}:{}{}",
        config.bind_ip,
        config.port,
        config
            .external_ip
            .map(|ip| format!(", published as {ip}:{}", config.external_port))
            .unwrap_or_else(|| ", public address found at start".into())
    );
    let names = |c: &[crate::config::ProviderSettings]| {
        if c.is_empty() {
            "none (challenges answered 503)".to_string()
        } else {
            c.iter()
                .map(|p| match &p.model {
                    Some(m) => format!("{} ({m})", p.service.name()),
                    None => p.service.name().to_string(),
                })
                .collect::<Vec<_>>()
                .join(" → ")
        }
    };
    println!("image      {}", names(&config.image_chain));
    println!("video      {}", names(&config.video_chain));
    for k in &config.catalog {
        println!(
            "key        {:<20} {}",
            k.service.key_var(),
            if k.key.is_some() { "set" } else { "not set" }
        );
    }
    match crate::preflight::Trusted::load(&config.trust_anchors) {
        Ok(t) => println!(
            "trust      {} anchors in {}",
            t.anchors.count(),
            config.trust_anchors.display()
        ),
        Err(e) => {
            failed = true;
            println!("trust      PROBLEM: {e}");
        }
    }
    println!(
        "state      {}  ·  admin socket {}  ·  logs {}",
        config.state_dir.display(),
        config.admin_socket.display(),
        config.state_dir.join("logs").display()
    );
    println!(
        "limits     {} tasks at once  ·  task timeout {} s  ·  video timeout {} s  ·  webhook deadline {} s",
        config.max_concurrent_tasks,
        config.task_timeout.as_secs(),
        config.video_timeout.as_secs(),
        config.webhook_deadline.as_secs()
    );
    println!(
        "keeping    {} days of media and records  ·  metrics {}",
        config.retention.as_secs() / 86_400,
        config
            .metrics_addr
            .map(|a| format!("http://{a}/metrics and on the socket"))
            .unwrap_or_else(|| "on the socket (GET /metrics)".into())
    );
    println!("webhooks   {}", config.webhook_guard);
    let place = Place::new(
        Some(&config.state_dir.display().to_string()),
        Some(&config.admin_socket.display().to_string()),
    );
    match place.status() {
        Ok(s) => println!(
            "running    yes: pid {}; serving image {} · video {}{}",
            s.pid,
            if s.services.image.is_empty() {
                "none".into()
            } else {
                s.services.image.join(" → ")
            },
            if s.services.video.is_empty() {
                "none".into()
            } else {
                s.services.video.join(" → ")
            },
            if s.services.overridden {
                " (set from gas-console)"
            } else {
                ""
            }
        ),
        Err(_) => println!("running    no"),
    }
    i32::from(failed)
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
