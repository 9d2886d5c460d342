//! Group commit: one fsync for every caller waiting when it starts, and how long each took
//! (the disk's share of every 201), for `/metrics` and a warning when the disk stalls. The
//! same task writes the counters held behind (`behind`).

use super::Waiter;
use super::behind::{Behind, WRITE_BEHIND};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Upper bounds of the commit-time histogram, in ms (the last bucket is everything above).
pub(crate) const COMMIT_BUCKETS_MS: [u64; 10] = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000];

/// A commit this slow is logged (at most once a minute): every challenge accepted meanwhile
/// waited for it.
const SLOW: Duration = Duration::from_secs(1);

/// How long the commits took since the miner started.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct CommitTimes {
    pub(crate) count: u64,
    pub(crate) sum_ms: f64,
    pub(crate) max_ms: f64,
    /// Commits at or under each bound of [`COMMIT_BUCKETS_MS`] (cumulative, as Prometheus).
    pub(crate) at_most: [u64; COMMIT_BUCKETS_MS.len()],
}

impl CommitTimes {
    fn add(&mut self, took: Duration) {
        let ms = took.as_secs_f64() * 1000.0;
        self.count += 1;
        self.sum_ms += ms;
        self.max_ms = self.max_ms.max(ms);
        for (bound, n) in COMMIT_BUCKETS_MS.iter().zip(self.at_most.iter_mut()) {
            if ms <= *bound as f64 {
                *n += 1;
            }
        }
    }
}

/// Callers arriving during an fsync wait for the next one. Throughput scales with concurrency
/// while each caller still waits for its own data. Every [`WRITE_BEHIND`] the counters held
/// behind are written and committed too; when the last handle on the store is gone they are
/// written one last time and the task ends.
pub(super) async fn group_commit(
    db: sled::Db,
    mut rx: mpsc::UnboundedReceiver<Waiter>,
    times: Arc<Mutex<CommitTimes>>,
    behind: Behind,
) {
    let mut last_warned: Option<Instant> = None;
    let mut tick = tokio::time::interval(WRITE_BEHIND);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let mut waiters = Vec::new();
        tokio::select! {
            w = rx.recv() => {
                let Some(first) = w else {
                    if let Err(e) = behind.write_out() {
                        tracing::error!(error = %e, "statistics counters could not be written");
                    }
                    let _ = tokio::task::spawn_blocking(move || db.flush()).await;
                    return;
                };
                // Let the runtime run whatever is ready first, so concurrent writers join
                // this fsync: fewer, larger flushes under load, no added delay when idle.
                for _ in 0..4 {
                    tokio::task::yield_now().await;
                }
                waiters.push(first);
            }
            _ = tick.tick() => match behind.write_out() {
                Ok(true) => {}
                Ok(false) => continue,
                Err(e) => {
                    tracing::error!(error = %e, "statistics counters could not be written");
                    continue;
                }
            },
        }
        while let Ok(w) = rx.try_recv() {
            waiters.push(w);
        }
        let db = db.clone();
        let began = Instant::now();
        let result = tokio::task::spawn_blocking(move || db.flush().map(|_| ()))
            .await
            .unwrap_or_else(|e| Err(sled::Error::Io(std::io::Error::other(e))));
        let took = began.elapsed();
        times.lock().unwrap_or_else(|p| p.into_inner()).add(took);
        if took >= SLOW && last_warned.is_none_or(|t| t.elapsed() >= Duration::from_secs(60)) {
            last_warned = Some(Instant::now());
            tracing::warn!(
                took_ms = took.as_millis() as u64,
                waiting = waiters.len(),
                "state database commit (fsync) was slow: every challenge accepted meanwhile waited for it; check the disk (gas_db_commit_seconds in /metrics)"
            );
        }
        if let Err(e) = &result {
            tracing::error!(error = %e, "state database flush failed");
        }
        for w in waiters {
            let _ = w.send(result.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_times_fill_cumulative_buckets_and_keep_the_slowest() {
        let mut t = CommitTimes::default();
        for ms in [0.5, 30.0, 1500.0] {
            t.add(Duration::from_secs_f64(ms / 1000.0));
        }
        assert_eq!(t.count, 3);
        assert_eq!(t.at_most, [1, 1, 1, 1, 1, 2, 2, 2, 2, 2]);
        assert!((t.max_ms - 1500.0).abs() < 0.01);
        assert!((t.sum_ms - 1530.5).abs() < 0.01);
    }
}
