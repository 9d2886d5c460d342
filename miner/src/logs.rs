//! The miner's recent log lines, kept in memory for the admin socket (`GET /logs`, and `log`
//! events for consoles following along), fed by a tracing layer of its own.

use crate::secret::{scrub, scrub_bytes};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;

/// Lines kept for `GET /logs`.
const KEEP: usize = 5000;

/// Logs a panic (scrubbed, like every line) instead of Rust's default hook, which would print
/// the message to stderr as it is; `echo` also prints it, scrubbed, when stderr is not
/// already a log destination.
pub fn install_panic_hook(echo: bool) {
    std::panic::set_hook(Box::new(move |info| {
        tracing::error!("panic: {info}");
        if echo {
            eprintln!("{}", scrub(&format!("gas-miner panicked: {info}")));
        }
    }));
}

/// Standard error, scrubbed: the terminal's copy of the log.
pub(crate) struct Stderr;

impl std::io::Write for Stderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        std::io::stderr().write_all(&scrub_bytes(buf))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Stderr {
    type Writer = Stderr;

    fn make_writer(&'a self) -> Stderr {
        Stderr
    }
}

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
        for line in String::from_utf8_lossy(&scrub_bytes(buf)).lines() {
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

/// The log file in the state directory (`logs/gas-miner.log`), rotated by size: when it
/// passes `max_bytes` it becomes `gas-miner.log.1` (older ones shift up to `.N`, the oldest
/// dropped), so months of running never fill the disk.
#[derive(Clone)]
pub struct LogFile {
    inner: Arc<Mutex<LogFileInner>>,
}

struct LogFileInner {
    path: std::path::PathBuf,
    file: Option<std::fs::File>,
    size: u64,
    max_bytes: u64,
    keep: usize,
}

impl LogFile {
    /// Opens (appends to) `<dir>/gas-miner.log`.
    pub fn open(dir: &std::path::Path, max_bytes: u64, keep: usize) -> std::io::Result<LogFile> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join("gas-miner.log");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)?;
        let size = file.metadata()?.len();
        Ok(LogFile {
            inner: Arc::new(Mutex::new(LogFileInner {
                path,
                file: Some(file),
                size,
                max_bytes,
                keep,
            })),
        })
    }

    /// Writes one line straight to the file (for what must be there even without tracing).
    pub fn append(&self, line: &str) {
        use std::io::Write;
        let _ = LogFileWriter(self.clone()).write_all(format!("{}\n", line.trim_end()).as_bytes());
    }

    /// The files, newest first (`gas-miner.log`, `.1`, `.2`, …) that exist.
    pub fn files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
        let base = dir.join("gas-miner.log");
        std::iter::once(base.clone())
            .chain((1..100).map(|i| dir.join(format!("gas-miner.log.{i}"))))
            .take_while(|p| p.exists() || *p == base)
            .filter(|p| p.exists())
            .collect()
    }
}

impl LogFileInner {
    fn rotate(&mut self) -> std::io::Result<()> {
        self.file = None;
        let name = |i: usize| {
            if i == 0 {
                self.path.clone()
            } else {
                self.path.with_extension(format!("log.{i}"))
            }
        };
        let _ = std::fs::remove_file(name(self.keep));
        for i in (0..self.keep).rev() {
            let _ = std::fs::rename(name(i), name(i + 1));
        }
        self.file = Some(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)?,
        );
        self.size = 0;
        Ok(())
    }
}

pub struct LogFileWriter(LogFile);

impl std::io::Write for LogFileWriter {
    fn write(&mut self, given: &[u8]) -> std::io::Result<usize> {
        let buf = &*scrub_bytes(given);
        let mut inner = self.0.inner.lock().unwrap_or_else(|p| p.into_inner());
        if inner.size + buf.len() as u64 > inner.max_bytes {
            // A full disk must not take the miner down with it: logging is best effort.
            let _ = inner.rotate();
        }
        if let Some(f) = inner.file.as_mut()
            && f.write_all(buf).is_ok()
        {
            inner.size += buf.len() as u64;
        }
        Ok(given.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogFile {
    type Writer = LogFileWriter;

    fn make_writer(&'a self) -> LogFileWriter {
        LogFileWriter(self.clone())
    }
}

/// A log line format with a fixed prefix (`[DEMO] ` for the demo, so that no line of it can be
/// mistaken for a real miner's).
pub(crate) struct Tagged<F>(pub &'static str, pub F);

impl<S, N, F> tracing_subscriber::fmt::FormatEvent<S, N> for Tagged<F>
where
    F: tracing_subscriber::fmt::FormatEvent<S, N>,
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    N: for<'a> tracing_subscriber::fmt::FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &tracing_subscriber::fmt::FmtContext<'_, S, N>,
        mut writer: tracing_subscriber::fmt::format::Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        writer.write_str(self.0)?;
        self.1.format_event(ctx, writer, event)
    }
}

/// The state directory cannot take the log files.
#[derive(Debug, thiserror::Error)]
#[error(
    "state directory {} is not writable ({source}); fix its permissions or set MINER_STATE_DIR elsewhere",
    dir.display()
)]
pub(crate) struct UnwritableState {
    dir: std::path::PathBuf,
    source: std::io::Error,
}

/// Log lines go to the terminal, the admin socket's ring and the rotating files in
/// `<state dir>/logs`, each prefixed with `tag`; a panic is logged too.
pub(crate) fn init(
    state_dir: &std::path::Path,
    level: &str,
    tag: &'static str,
    to_terminal: bool,
) -> Result<(LogRing, LogFile), UnwritableState> {
    use std::io::IsTerminal;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = tracing_subscriber::EnvFilter::try_from_env("RUST_LOG").unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(format!(
            "{level},sled=warn,hyper=warn,reqwest=warn,c2pa=warn"
        ))
    });
    let logs = LogRing::default();
    let log_file =
        LogFile::open(&state_dir.join("logs"), 20 * 1024 * 1024, 5).map_err(|source| {
            UnwritableState {
                dir: state_dir.to_path_buf(),
                source,
            }
        })?;
    let format = || Tagged(tag, tracing_subscriber::fmt::format());
    tracing_subscriber::registry()
        .with(filter)
        .with(to_terminal.then(|| {
            tracing_subscriber::fmt::layer()
                .event_format(format())
                .with_writer(Stderr)
                .with_ansi(std::io::stderr().is_terminal())
        }))
        .with(
            tracing_subscriber::fmt::layer()
                .event_format(format())
                .with_writer(logs.clone())
                .with_ansi(false),
        )
        .with(
            tracing_subscriber::fmt::layer()
                .event_format(format())
                .with_writer(log_file.clone())
                .with_ansi(false),
        )
        .init();
    install_panic_hook(!to_terminal);
    Ok((logs, log_file))
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

    #[test]
    fn kept_secrets_never_reach_a_log_line() {
        use crate::secret::keep_secret;
        use std::io::Write;
        keep_secret("sk-logs-test-secret-1234");
        keep_secret("short");
        let ring = LogRing::default();
        RingWriter(ring.clone())
            .write_all(
                b"provider said: Incorrect API key provided: sk-logs-test-secret-1234 (short)\n",
            )
            .expect("write");
        let line = ring.tail(1).remove(0);
        assert_eq!(
            line,
            "provider said: Incorrect API key provided: *** (short)"
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let file = LogFile::open(dir.path(), 1 << 20, 1).expect("open");
        file.append("panic: key=sk-logs-test-secret-1234 in a message");
        let text = std::fs::read_to_string(dir.path().join("gas-miner.log")).expect("read");
        assert_eq!(text, "panic: key=*** in a message\n");
    }
}

#[cfg(test)]
mod file_tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn the_file_rotates_by_size_and_keeps_a_few() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = LogFile::open(dir.path(), 100, 2).expect("open");
        for i in 0..20 {
            LogFileWriter(log.clone())
                .write_all(format!("line {i:02} padding padding\n").as_bytes())
                .expect("write");
        }
        let files = LogFile::files(dir.path());
        assert_eq!(files.len(), 3, "{files:?}");
        let newest = std::fs::read_to_string(&files[0]).expect("read");
        assert!(newest.contains("line 19"), "{newest}");
        assert!(std::fs::metadata(&files[0]).expect("meta").len() <= 100);
    }
}
