//! `gas-console`: attach to a running gas-miner's admin socket and watch and steer it.

use clap::Parser;
use crossterm::event::{Event as TermEvent, EventStream, KeyEventKind};
use futures_util::StreamExt;
use gas_console::app::App;
use gas_console::net::{self, Command, NetEvent};
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;

#[derive(Parser)]
#[command(
    name = "gas-console",
    version,
    about = "Terminal console for a running gas-miner"
)]
struct Cli {
    /// The miner's admin socket (default <state dir>/admin.sock)
    #[arg(long, env = "GAS_ADMIN_SOCKET")]
    socket: Option<String>,
    /// The miner's state directory (default ~/.local/share/gas-miner)
    #[arg(long, env = "MINER_STATE_DIR")]
    state_dir: Option<String>,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let socket = gas_console::find_socket(
        cli.socket.as_deref(),
        cli.state_dir.as_deref(),
        std::path::Path::new(".env.gen_miner"),
    );
    let (net_tx, mut net_rx) = mpsc::unbounded_channel::<NetEvent>();
    let (cmd_tx, cmd_rx) = mpsc::unbounded_channel::<Command>();
    tokio::spawn(net::follow(socket.clone(), net_tx.clone()));
    tokio::spawn(net::serve_commands(socket.clone(), cmd_rx, net_tx));
    let mut app = App::new(&socket.display().to_string(), now_ms());
    let mut terminal = ratatui::init();
    let mut keys = EventStream::new();
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    let send = |cmds: Vec<Command>| {
        for c in cmds {
            let _ = cmd_tx.send(c);
        }
    };
    loop {
        if let Err(e) = terminal.draw(|f| gas_console::ui::draw(f, &app)) {
            ratatui::restore();
            eprintln!("gas-console: cannot draw: {e}");
            return ExitCode::from(1);
        }
        tokio::select! {
            key = keys.next() => match key {
                Some(Ok(TermEvent::Key(k))) if k.kind == KeyEventKind::Press => send(app.key(k)),
                Some(Ok(_)) => {}
                Some(Err(_)) | None => app.quit = true,
            },
            Some(event) = net_rx.recv() => {
                send(app.apply(event));
                // A burst of events is drawn once.
                for _ in 0..500 {
                    match net_rx.try_recv() {
                        Ok(e) => send(app.apply(e)),
                        Err(_) => break,
                    }
                }
            }
            _ = tick.tick() => send(app.tick(now_ms())),
        }
        if app.quit {
            break;
        }
    }
    ratatui::restore();
    if let Some(p) = &app.opened {
        println!("{p}");
    }
    ExitCode::SUCCESS
}
