//! Console benchmark with a big store: seeds a miner's state with N tasks (100,000 by
//! default), starts the real miner on it, then measures (1) how long the real gas-console
//! takes, in tmux, from launch to a dashboard showing the miner's numbers, and (2) how long
//! one frame takes to draw (median and p99 of many draws of each screen) from the state the
//! console builds out of the miner's own snapshot. Also times the admin socket's answers.
//!
//! `bench/console.sh` builds the release binaries and runs this; see README for numbers.

use clap::Parser;
use gas_client::get_json;
use gas_console::app::{App, Screen};
use gas_console::net::NetEvent;
use gas_miner::testing::Store;
use gas_shared::admin::{Event, Status, TaskDetail, TaskPage};
use gas_tests::measure::{console_targets, frames, ms, open_times};
use gas_tests::*;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(about = "gas-console open time and frame time with a large store")]
struct Args {
    /// Tasks in the store
    #[arg(long, default_value_t = 100_000)]
    tasks: usize,
    /// Draws per screen for the frame-time figures
    #[arg(long, default_value_t = 500)]
    draws: usize,
    /// Times the console is opened (the median is reported)
    #[arg(long, default_value_t = 3)]
    opens: usize,
}

async fn timed<T>(f: impl std::future::Future<Output = T>) -> (T, Duration) {
    let t = Instant::now();
    let v = f.await;
    (v, t.elapsed())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    install_crypto();
    let providers = FakeProviders::start().await;
    let mut fixture = Fixture::new(&providers);
    fixture.set("BT_LOGGING_LEVEL", "WARNING");
    let state = fixture.dir.path().join("state");
    let t = Instant::now();
    {
        let store = Store::open(&state).map_err(|e| anyhow::anyhow!("{e}"))?;
        gas_tests::seed::finished_tasks(&store, args.tasks);
        store.flush().map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    println!(
        "seeded {} tasks in {:.1} s",
        args.tasks,
        t.elapsed().as_secs_f64()
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let t = Instant::now();
    let _miner = fixture.start();
    println!(
        "miner listening {:.2} s after start with {} tasks",
        t.elapsed().as_secs_f64(),
        args.tasks
    );
    let socket = state.join("admin.sock");

    let (status, d) = timed(get_json::<Status>(&socket, "GET", "/status", None)).await;
    let status = status.map_err(anyhow::Error::msg)?;
    println!("GET /status: {}", ms(d));
    let (page, d) = timed(get_json::<TaskPage>(
        &socket,
        "GET",
        "/tasks?limit=500",
        None,
    ))
    .await;
    let page = page.map_err(anyhow::Error::msg)?;
    println!("GET /tasks?limit=500: {}", ms(d));
    let (failed, d) = timed(get_json::<TaskPage>(
        &socket,
        "GET",
        "/tasks?verdict=c2pa_failed&limit=500",
        None,
    ))
    .await;
    println!(
        "GET /tasks?verdict=c2pa_failed&limit=500: {} ({} found)",
        ms(d),
        failed.map(|p| p.tasks.len()).unwrap_or(0)
    );
    let (detail, d) = timed(get_json::<TaskDetail>(
        &socket,
        "GET",
        &format!("/tasks/{}", page.tasks[0].task_id),
        None,
    ))
    .await;
    println!("GET /tasks/<id>: {}", ms(d));

    // (1) Opening the real console in tmux, to a dashboard with the miner's numbers.
    let console = miner_bin().with_file_name("gas-console");
    let biggest = gas_console::ui::compact(status.queue.iter().map(|q| q.count).max().unwrap_or(0));
    let (open, runs) = open_times(
        &format!("{} --socket {}", console.display(), socket.display()),
        (120, 40),
        args.opens,
        "the dashboard",
        |text| text.contains("uid 2") && text.contains(&biggest),
    )
    .map_err(anyhow::Error::msg)?;
    println!(
        "console open to a dashboard with data: median {} (runs: {}; target < 1 s)",
        ms(open),
        runs.join(", ")
    );

    // (2) Frame time, from the state the console builds out of the miner's snapshot.
    let mut app = App::new(&socket.display().to_string(), status.now_ms);
    app.apply(NetEvent::Connected);
    app.apply(NetEvent::Event(Event::Snapshot {
        status: Box::new(status.clone()),
        tasks: page.tasks.clone(),
    }));
    for i in 0..3000 {
        app.apply(NetEvent::Event(Event::Log {
            line: format!("2026-11-25T12:00:00Z  INFO gas_miner::pipeline: line {i}"),
        }));
    }
    if let Ok(d) = detail {
        app.apply(NetEvent::Detail(Box::new(d)));
    }
    // A full day of minutes for the charts.
    let now_minute = status.now_ms.div_euclid(60_000);
    app.apply(NetEvent::Event(Event::Minutes {
        points: (0..24 * 60)
            .map(|ago| gas_shared::admin::MinutePoint {
                minute: now_minute - ago,
                accepted: 40 + (ago % 9) as u64,
                refused: (ago % 13 == 0) as u64,
                finished: 40,
                preflight_passed: 38,
                preflight_total: 40,
                attempt_p95_ms: Some(8_192),
                provider_p95_ms: [
                    ("openrouter".to_string(), 8_192),
                    ("runway".to_string(), 4_096),
                ]
                .into(),
                spend_usd: 1.2,
            })
            .collect(),
    }));
    let mut worst = Duration::ZERO;
    for (w, h) in [(80u16, 24u16), (200, 60)] {
        let mut terminal = Terminal::new(TestBackend::new(w, h))?;
        for screen in [
            Screen::Dashboard,
            Screen::Tasks,
            Screen::Detail,
            Screen::Services,
            Screen::Logs,
            Screen::Charts,
        ] {
            app.screen = screen;
            let (p50, p99) = frames(&mut terminal, args.draws, |f| {
                gas_console::ui::draw(f, &app)
            });
            worst = worst.max(p99);
            println!(
                "frame {w}×{h} {screen:?}: median {} p99 {}",
                ms(p50),
                ms(p99)
            );
        }
    }
    console_targets(open, worst).map_err(anyhow::Error::msg)
}
