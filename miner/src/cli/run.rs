//! The miner in the foreground: `run` (what systemd and `supervise` start) and `demo` (the
//! whole loop on this machine with made-up parties, and gas-console opened on it).

use super::CliError;
use crate::config::Settings;
use crate::daemon::Fatal;
use crate::demo::DemoOptions;
use crate::identity::Hotkey;
use crate::logs::LogFile;
use std::io::IsTerminal;
use std::path::PathBuf;

/// `gas-miner run`: the miner in the foreground until SIGINT/SIGTERM. `env_file`: the file
/// read before the settings, if it exists.
pub fn run(settings: &Settings, env_file: &std::path::Path) -> Result<(), CliError> {
    let mut config = settings.resolve().map_err(CliError::Config)?;
    config.env_file = env_file
        .is_file()
        .then(|| std::path::absolute(env_file).ok())
        .flatten();
    let (logs, log_file) = crate::logs::init(&config.state_dir, config.log_filter, "", true)
        .map_err(|e| CliError::Config(vec![e.to_string()]))?;
    crate::tls::use_ring();
    let key = Hotkey::load(
        &config.wallet_path,
        &config.wallet_name,
        &config.wallet_hotkey,
        &super::hotkey_password,
    )
    .map_err(|e| {
        let f = Fatal {
            code: 2,
            message: e.to_string(),
        };
        failed(f, &log_file)
    })?;
    let runtime = runtime()?;
    runtime
        .block_on(crate::daemon::run(config, key, logs))
        .map_err(|f| failed(f, &log_file))
}

/// A runtime for a command's async work.
pub(super) fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Runtime::new()
        .map_err(|e| CliError::Failed(format!("cannot start the async runtime: {e}")))
}

/// Writes why it stopped in the log file (`start` reads it from there); the terminal gets it
/// from `main`.
fn failed(f: Fatal, log_file: &LogFile) -> CliError {
    log_file.append(&format!("gas-miner: {}", f.message));
    CliError::Stopped(f)
}

/// The console to open in this terminal for the demo: gas-console beside this binary, when
/// both ends are a terminal.
fn demo_console(no_console: bool) -> Option<PathBuf> {
    if no_console || !std::io::stdin().is_terminal() || !std::io::stdout().is_terminal() {
        return None;
    }
    let console = std::env::current_exe().ok()?.with_file_name("gas-console");
    console.exists().then_some(console)
}

/// `gas-miner demo`: the whole loop on this machine, with gas-console opened on it when
/// this is a terminal.
pub fn demo(options: DemoOptions, no_console: bool) -> Result<(), CliError> {
    crate::demo::prepare(&options.state_dir).map_err(CliError::Demo)?;
    let console = demo_console(no_console);
    // With the console in this terminal, the log goes to the file (and the console's Logs).
    let (logs, log_file) =
        crate::logs::init(&options.state_dir, "info", "[DEMO] ", console.is_none())
            .map_err(|e| CliError::Config(vec![e.to_string()]))?;
    crate::tls::use_ring();
    let runtime = tokio::runtime::Runtime::new().map_err(|e| {
        CliError::Demo(Fatal {
            code: 1,
            message: format!("cannot start the async runtime: {e}"),
        })
    })?;
    let socket = options.state_dir.join("admin.sock");
    eprintln!(
        "=== gas-miner DEMO: a made-up validator, local studios and a demo CA; nothing is real and nothing leaves this machine ==="
    );
    if console.is_none() {
        eprintln!(
            "=== DEMO: watch it with  gas-console --socket {}   (or just gas-console)   ·   stop: Ctrl-C ===",
            socket.display()
        );
    }
    let outcome = runtime.block_on(async {
        let demo = tokio::spawn(crate::demo::run(options, logs));
        if let Some(console) = console {
            let socket = socket.clone();
            let _ = tokio::task::spawn_blocking(move || {
                let began = std::time::Instant::now();
                while std::os::unix::net::UnixStream::connect(&socket).is_err() {
                    if began.elapsed() > std::time::Duration::from_secs(30) {
                        return;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                let _ = std::process::Command::new(console)
                    .arg("--socket")
                    .arg(&socket)
                    .status();
                eprintln!("=== DEMO: console closed; stopping the demo… (log: gas-miner logs --state-dir {}) ===", socket.parent().map(|p| p.display().to_string()).unwrap_or_default());
                let _ = gas_client::blocking::request(
                    &socket,
                    "POST",
                    "/shutdown",
                    None,
                    std::time::Duration::from_secs(5),
                );
            })
            .await;
        }
        demo.await
    });
    match outcome {
        Ok(Ok(tally)) => {
            eprintln!(
                "=== gas-miner DEMO finished: {} challenges, {} refused (503), {} passed, {} rejected, {} failure webhooks ===",
                tally.sent, tally.refused, tally.passed, tally.rejected, tally.failures
            );
            Ok(())
        }
        Ok(Err(f)) => Err(failed(f, &log_file)),
        Err(e) => Err(failed(
            Fatal {
                code: 1,
                message: format!("the demo stopped: {e}"),
            },
            &log_file,
        )),
    }
}
