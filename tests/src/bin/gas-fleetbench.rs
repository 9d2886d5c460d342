//! Fleet console benchmark: seeds N miners' stores with M tasks each (10 × 10,000 by
//! default), starts the N real miners, then measures (1) how long the real gas-console, given
//! the N sockets, takes in tmux to a fleet screen with every miner answering, and (2) how long
//! one frame of the fleet screen, and of one miner's dashboard inside it, takes to draw from
//! the state the console builds out of the miners' own snapshots.
//!
//! `bench/fleet-console.sh` builds the release binaries and runs this; see BENCHMARKS.md.

use clap::Parser;
use gas_client::get_json;
use gas_console::app::fleet::Fleet;
use gas_console::net::NetEvent;
use gas_miner::testing::Store;
use gas_shared::admin::{Event, Status, TaskPage};
use gas_tests::measure::{console_targets, frames, ms, open_times};
use gas_tests::*;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(about = "gas-console's fleet screen: open time and frame time over many miners")]
struct Args {
    /// Miners
    #[arg(long, default_value_t = 10)]
    miners: usize,
    /// Tasks in each miner's store
    #[arg(long, default_value_t = 10_000)]
    tasks: usize,
    /// Draws per screen for the frame-time figures
    #[arg(long, default_value_t = 500)]
    draws: usize,
    /// Times the console is opened (the median is reported)
    #[arg(long, default_value_t = 3)]
    opens: usize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    install_crypto();
    let providers = FakeProviders::start().await;
    let mut fixtures = Vec::new();
    let t = Instant::now();
    for _ in 0..args.miners {
        let mut f = Fixture::new(&providers);
        f.set("BT_LOGGING_LEVEL", "WARNING");
        {
            let store =
                Store::open(&f.dir.path().join("state")).map_err(|e| anyhow::anyhow!("{e}"))?;
            gas_tests::seed::finished_tasks(&store, args.tasks);
            store.flush().map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        fixtures.push(f);
    }
    println!(
        "seeded {} stores of {} tasks in {:.1} s",
        args.miners,
        args.tasks,
        t.elapsed().as_secs_f64()
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let _miners: Vec<Miner> = fixtures.iter().map(Fixture::start).collect();
    let sockets: Vec<std::path::PathBuf> = fixtures.iter().map(Fixture::socket).collect();
    let mut snapshots = Vec::new();
    for s in &sockets {
        let status: Status = get_json(s, "GET", "/status", None)
            .await
            .map_err(anyhow::Error::msg)?;
        let page: TaskPage = get_json(s, "GET", "/tasks?limit=200", None)
            .await
            .map_err(anyhow::Error::msg)?;
        snapshots.push((status, page.tasks));
    }
    println!("{} miners answering", snapshots.len());

    // (1) The real console in tmux, given every socket, to a fleet screen with all answering.
    let console = miner_bin().with_file_name("gas-console");
    let options: Vec<String> = sockets
        .iter()
        .map(|s| format!("--socket {}", s.display()))
        .collect();
    let want = format!("Fleet: {} miners, {} answering", args.miners, args.miners);
    let (open, runs) = open_times(
        &format!("{} {}", console.display(), options.join(" ")),
        (160, 48),
        args.opens,
        "the fleet",
        |text| text.contains(&want),
    )
    .map_err(anyhow::Error::msg)?;
    println!(
        "console open to a fleet screen with {} miners answering: median {} (runs: {}; target < 1 s)",
        args.miners,
        ms(open),
        runs.join(", ")
    );

    // (2) Frame time of the fleet screen and of one miner's dashboard in it.
    let now = snapshots[0].0.now_ms;
    let mut fleet = Fleet::new(
        sockets
            .iter()
            .enumerate()
            .map(|(i, s)| (format!("miner-{i}"), s.clone()))
            .collect(),
        now,
    );
    for (i, (status, tasks)) in snapshots.into_iter().enumerate() {
        fleet.apply(i, NetEvent::Connected);
        fleet.apply(
            i,
            NetEvent::Event(Event::Snapshot {
                status: Box::new(status),
                tasks,
            }),
        );
    }
    let mut worst = Duration::ZERO;
    for (w, h) in [(80u16, 24u16), (200, 60)] {
        let mut terminal = Terminal::new(TestBackend::new(w, h))?;
        for open in [None, Some(0)] {
            fleet.open = open;
            let (p50, p99) = frames(&mut terminal, args.draws, |f| match fleet.open {
                Some(i) => gas_console::ui::draw(f, &fleet.members[i].app),
                None => gas_console::ui::fleet::draw(f, &fleet),
            });
            worst = worst.max(p99);
            println!(
                "frame {w}×{h} {}: median {} p99 {}",
                if open.is_some() {
                    "one miner's dashboard"
                } else {
                    "fleet screen"
                },
                ms(p50),
                ms(p99)
            );
        }
    }
    console_targets(open, worst).map_err(anyhow::Error::msg)
}
