//! The miner's recent log lines, kept in memory for the admin socket (`GET /logs`, and `log`
//! events for consoles following along), fed by a tracing layer of its own.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;

/// Lines kept for `GET /logs`.
const KEEP: usize = 5000;

#[derive(Clone)]
pub struct LogRing {
    lines: Arc<Mutex<VecDeque<String>>>,
    live: broadcast::Sender<String>,
}

impl Default for LogRing {
    fn default() -> LogRing {
        LogRing {
            lines: Arc::default(),
            live: broadcast::channel(1024).0,
        }
    }
}

impl LogRing {
    pub fn push(&self, line: &str) {
        let line = line.trim_end().to_string();
        if line.is_empty() {
            return;
        }
        {
            let mut lines = self.lines.lock().unwrap_or_else(|p| p.into_inner());
            if lines.len() == KEEP {
                lines.pop_front();
            }
            lines.push_back(line.clone());
        }
        if self.live.receiver_count() > 0 {
            let _ = self.live.send(line);
        }
    }

    /// The last `n` lines, oldest first.
    pub fn tail(&self, n: usize) -> Vec<String> {
        let lines = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        lines
            .iter()
            .skip(lines.len().saturating_sub(n))
            .cloned()
            .collect()
    }

    pub fn subscribe(&self) -> broadcast::Receiver<String> {
        self.live.subscribe()
    }
}

/// A `tracing_subscriber` writer that appends each formatted event to the ring.
pub struct RingWriter(LogRing);

impl std::io::Write for RingWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        for line in String::from_utf8_lossy(buf).lines() {
            self.0.push(line);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogRing {
    type Writer = RingWriter;

    fn make_writer(&'a self) -> RingWriter {
        RingWriter(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tail_keeps_the_newest_lines_in_order() {
        let ring = LogRing::default();
        for i in 0..(KEEP + 10) {
            ring.push(&format!("line {i}\n"));
        }
        let tail = ring.tail(3);
        assert_eq!(
            tail,
            vec![
                format!("line {}", KEEP + 7),
                format!("line {}", KEEP + 8),
                format!("line {}", KEEP + 9)
            ]
        );
        assert_eq!(ring.tail(100_000).len(), KEEP);
    }
}
