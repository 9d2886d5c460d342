//! What the benchmarks share: percentiles of timings, a timing in milliseconds, the open-loop
//! sender, and the frame-time loop (draws of one screen into ratatui's `TestBackend`).

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::time::{Duration, Instant};

/// The `p`-quantile (0..=1) of `v` (sorted here); zero for none.
pub fn percentile(v: &mut [Duration], p: f64) -> Duration {
    if v.is_empty() {
        return Duration::ZERO;
    }
    v.sort();
    v[((v.len() - 1) as f64 * p.clamp(0.0, 1.0)).round() as usize]
}

/// `1.23 ms`.
pub fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

/// Runs `send(i)` `rate` times a second for `seconds`, each on its own schedule (open loop:
/// a stall is not hidden by the sender waiting for it), and returns each result, in order,
/// with the time from when it was due to when it ended.
pub async fn open_loop<T, F, Fut>(rate: u64, seconds: u64, send: F) -> Vec<(T, Duration)>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let total = (rate * seconds) as usize;
    let interval = Duration::from_secs_f64(1.0 / rate.max(1) as f64);
    let start = Instant::now();
    let mut handles = Vec::with_capacity(total);
    for i in 0..total {
        let due = start + interval * i as u32;
        tokio::time::sleep_until(due.into()).await;
        let sent = send(i);
        handles.push(tokio::spawn(async move {
            let out = sent.await;
            (out, due.elapsed())
        }));
    }
    let mut out = Vec::with_capacity(total);
    for h in handles {
        // A sender that panicked is the benchmark's own bug: say so.
        out.push(h.await.expect("an open-loop request panicked"));
    }
    out
}

/// Draws `draw` `times` times; the median and the p99 of one draw.
pub fn frames(
    terminal: &mut Terminal<TestBackend>,
    times: usize,
    mut draw: impl FnMut(&mut ratatui::Frame),
) -> (Duration, Duration) {
    let mut took = Vec::with_capacity(times);
    for _ in 0..times {
        let t = Instant::now();
        // A test backend cannot fail to draw.
        let _ = terminal.draw(&mut draw);
        took.push(t.elapsed());
    }
    (percentile(&mut took, 0.5), percentile(&mut took, 0.99))
}

/// The console's targets: open in under a second, every frame's p99 under 16 ms.
pub fn console_targets(open: Duration, worst_frame: Duration) -> Result<(), String> {
    println!("slowest p99 frame {} (target < 16 ms)", ms(worst_frame));
    if open >= Duration::from_secs(1) {
        return Err(format!("the console took {} to open", ms(open)));
    }
    if worst_frame >= Duration::from_millis(16) {
        return Err(format!("a frame took {}", ms(worst_frame)));
    }
    Ok(())
}

/// Opens `command` (the console) in tmux `times` times, each until its screen satisfies
/// `ready`; the median time, and every run's (`what` names the screen waited for).
pub fn open_times(
    command: &str,
    (width, height): (u16, u16),
    times: usize,
    what: &str,
    ready: impl Fn(&str) -> bool,
) -> Result<(Duration, Vec<String>), String> {
    let mut opens = Vec::new();
    for _ in 0..times.max(1) {
        let started = Instant::now();
        let term = crate::Tmux::start_sized(command, width, height);
        loop {
            let text = term.pane();
            if ready(&text) {
                break;
            }
            if started.elapsed() > Duration::from_secs(30) {
                return Err(format!("the console never showed {what}:\n{text}"));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        opens.push(started.elapsed());
    }
    let runs = opens.iter().map(|d| ms(*d)).collect();
    Ok((percentile(&mut opens, 0.5), runs))
}
