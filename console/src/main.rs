//! `gas-console`: attach to a running gas-miner's admin socket and watch and steer it; or to
//! several (a fleet) and watch them side by side.

use clap::Parser;
use crossterm::event::{Event as TermEvent, EventStream, KeyEventKind};
use futures_util::StreamExt;
use gas_console::app::App;
use gas_console::app::fleet::Fleet;
use gas_console::miners::{self, Watch};
use gas_console::net::{self, Command, NetEvent};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;

#[derive(Parser)]
#[command(
    name = "gas-console",
    version,
    about = "Terminal console for running gas-miners: one, or a fleet"
)]
struct Cli {
    /// A miner's admin socket (default <state dir>/admin.sock); give it several times to watch a fleet
    #[arg(long, env = "GAS_ADMIN_SOCKET")]
    socket: Vec<String>,
    /// The miner's state directory (default ~/.local/share/gas-miner)
    #[arg(long, env = "MINER_STATE_DIR")]
    state_dir: Option<String>,
    /// A fleet file listing miners' sockets (default ~/.config/gas-console/fleet.toml when it exists)
    #[arg(long)]
    fleet: Option<PathBuf>,
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
    let state_dir = cli.state_dir.clone();
    let watch = miners::choose(
        &cli.socket,
        cli.fleet.as_deref(),
        state_dir.is_some(),
        |s| {
            gas_console::find_socket(
                s,
                state_dir.as_deref(),
                std::path::Path::new(".env.gen_miner"),
            )
        },
    );
    match watch {
        Ok(Watch::One(socket)) => one(socket).await,
        Ok(Watch::Fleet(list)) => fleet(list).await,
        Err(e) => {
            eprintln!("gas-console: {e}");
            ExitCode::from(2)
        }
    }
}

/// One miner, as always.
async fn one(socket: PathBuf) -> ExitCode {
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

/// Several miners: each its own connection and command queue, events tagged with it.
async fn fleet(list: Vec<(String, PathBuf)>) -> ExitCode {
    let (net_tx, mut net_rx) = mpsc::unbounded_channel::<(usize, NetEvent)>();
    let mut cmd_txs = Vec::new();
    for (i, (_, socket)) in list.iter().enumerate() {
        let (tx, mut rx) = mpsc::unbounded_channel::<NetEvent>();
        let (cmd_tx, cmd_rx) = mpsc::unbounded_channel::<Command>();
        tokio::spawn(net::follow(socket.clone(), tx.clone()));
        tokio::spawn(net::serve_commands(socket.clone(), cmd_rx, tx));
        let all = net_tx.clone();
        tokio::spawn(async move {
            while let Some(e) = rx.recv().await {
                if all.send((i, e)).is_err() {
                    return;
                }
            }
        });
        cmd_txs.push(cmd_tx);
    }
    let mut fleet = Fleet::new(list, now_ms());
    let mut terminal = ratatui::init();
    let mut keys = EventStream::new();
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    let send = |cmds: Vec<(usize, Command)>| {
        for (i, c) in cmds {
            if let Some(tx) = cmd_txs.get(i) {
                let _ = tx.send(c);
            }
        }
    };
    loop {
        let drawn = terminal.draw(|f| match fleet.open {
            Some(i) => gas_console::ui::draw(f, &fleet.members[i].app),
            None => gas_console::ui::fleet::draw(f, &fleet),
        });
        if let Err(e) = drawn {
            ratatui::restore();
            eprintln!("gas-console: cannot draw: {e}");
            return ExitCode::from(1);
        }
        tokio::select! {
            key = keys.next() => match key {
                Some(Ok(TermEvent::Key(k))) if k.kind == KeyEventKind::Press => send(fleet.key(k)),
                Some(Ok(_)) => {}
                Some(Err(_)) | None => fleet.quit = true,
            },
            Some((i, event)) = net_rx.recv() => {
                send(fleet.apply(i, event));
                for _ in 0..2000 {
                    match net_rx.try_recv() {
                        Ok((i, e)) => send(fleet.apply(i, e)),
                        Err(_) => break,
                    }
                }
            }
            _ = tick.tick() => send(fleet.tick(now_ms())),
        }
        if fleet.quit {
            break;
        }
    }
    ratatui::restore();
    ExitCode::SUCCESS
}
