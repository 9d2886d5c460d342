//! Everything the miner must not forget, in one sled database under `MINER_STATE_DIR`. The
//! store only stores: the records are `crate::task`'s, and each tree has its own file here:
//! tasks and their state index (`tasks`), the webhook outbox (`outbox`), provider calls and
//! job checkpoints (`calls`), pre-flight verdicts and image hashes (`verdicts`), validators'
//! replies and statistics counters (`feedback`), live settings and the saved metagraph
//! (`settings`), snapshots of our standing from the subnet's API and the chain (`standing`),
//! each finished task's outcome as the standing counted it (`outcomes`),
//! spend per modality over the last day for the budgets (`spend`), and retention (`prune`). This file opens the database and commits.
//! Writes that must survive a crash wait for [`Store::commit`], which batches concurrent
//! callers into one fsync (group commit, `commits`) so accepting stays fast under load. The
//! statistics counters rewritten on every event are written behind (`behind`), by the same
//! task, every half second.

mod behind;
mod calls;
mod commits;
mod feedback;
mod outbox;
mod outcomes;
mod prune;
mod settings;
mod spend;
mod standing;
mod tasks;
#[cfg(test)]
pub(crate) mod tests;
mod verdicts;

pub(crate) use commits::{COMMIT_BUCKETS_MS, CommitTimes};
pub use outbox::OutboxChange;
pub(crate) use outbox::OutboxEntry;

use crate::task::{TaskRecord, Usage};
use gas_shared::{Modality, TaskState};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use thiserror::Error;
use tokio::sync::{mpsc, oneshot};

/// 2: the queue index carries the modality; tasks are also indexed by time.
/// 3: tasks whose media failed C2PA are indexed by time (`c2pa_failed`).
const SCHEMA_VERSION: u32 = 3;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error(
        "state database {path} is in use by another process: stop the other gas-miner using this MINER_STATE_DIR, or give this one its own"
    )]
    Locked { path: PathBuf },
    #[error(
        "state database {path} could not be opened: {detail}; check the directory exists, is writable and the disk has room"
    )]
    Open { path: PathBuf, detail: String },
    #[error(
        "state database {path} was written by a newer gas-miner (schema {found}, this build reads {SCHEMA_VERSION}); upgrade gas-miner"
    )]
    NewerSchema { path: PathBuf, found: u32 },
    #[error(
        "state database could not be written to disk: {0}; check free space and the disk's health"
    )]
    Flush(sled::Error),
    #[error(
        "state database could not be written to disk: the commit task has stopped; check free space and the disk's health"
    )]
    CommitStopped,
    #[error("state database: {0}")]
    Db(#[from] sled::Error),
    #[error("state database record {key} is unreadable: {detail}")]
    Corrupt { key: String, detail: String },
}

type Waiter = oneshot::Sender<Result<(), sled::Error>>;

/// Free space (for this user) on the disk holding `path`, if it can be read.
pub(crate) fn free_bytes(path: &Path) -> Option<u64> {
    let s = rustix::fs::statvfs(path).ok()?;
    Some(s.f_bavail.saturating_mul(s.f_frsize))
}

#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    tasks: sled::Tree,
    queue: sled::Tree,
    attempts: sled::Tree,
    jobs: sled::Tree,
    verdicts: sled::Tree,
    phashes: sled::Tree,
    outcomes: sled::Tree,
    meta: sled::Tree,
    outbox: sled::Tree,
    feedback: sled::Tree,
    media_dir: PathBuf,
    counts: Arc<Mutex<HashMap<(TaskState, Modality), u64>>>,
    by_time: sled::Tree,
    /// `created ‖ id` of every task with an attempt that failed C2PA: the console's filter
    /// reads these, not every stored task.
    c2pa_failed: sled::Tree,
    deliveries: sled::Tree,
    settings: sled::Tree,
    events: tokio::sync::broadcast::Sender<gas_shared::admin::TaskSummary>,
    /// The ids of tasks as they reach a final state (for the standing's window).
    finals: tokio::sync::broadcast::Sender<String>,
    usage: Arc<Mutex<HashMap<String, Usage>>>,
    /// Each provider's most recent calls, newest last (also in `counters`).
    recent_calls:
        Arc<Mutex<HashMap<String, std::collections::VecDeque<gas_shared::admin::CallSummary>>>>,
    spend: Arc<Mutex<spend::SpendWindow>>,
    counters: sled::Tree,
    /// Counter records not yet written to `counters`.
    behind: behind::Behind,
    standing: sled::Tree,
    committer: mpsc::UnboundedSender<Waiter>,
    commit_times: Arc<Mutex<CommitTimes>>,
}

/// The page cache sled keeps when none is configured (`MINER_DB_CACHE_MB`); sled's own
/// default is 1 GiB, which a miner fills with what it has stored and never gives back. sled
/// counts it in on-disk bytes and exceeds it under writes, so it is kept small: under a
/// sustained load 8 MiB left the miner at 80–116 MB, 16 and 32 MiB at 100–160 MB
/// (BENCHMARKS.md "Memory"), and live work reads recent records only.
pub(crate) const DEFAULT_CACHE_MB: u64 = 8;

impl Store {
    /// Opens (or creates) the database in `state_dir` with the default cache. Must run
    /// inside a tokio runtime.
    pub fn open(state_dir: &Path) -> Result<Store, StoreError> {
        Store::open_with_cache(state_dir, DEFAULT_CACHE_MB)
    }

    /// [`Store::open`] with a page cache of `cache_mb` MiB.
    pub fn open_with_cache(state_dir: &Path, cache_mb: u64) -> Result<Store, StoreError> {
        let path = state_dir.join("db");
        std::fs::create_dir_all(state_dir.join("media")).map_err(|e| StoreError::Open {
            path: state_dir.to_path_buf(),
            detail: e.to_string(),
        })?;
        let db = sled::Config::new()
            .path(&path)
            .cache_capacity(cache_mb.max(1) * 1024 * 1024)
            .mode(sled::Mode::HighThroughput)
            .flush_every_ms(Some(1000))
            .open()
            .map_err(|e| match &e {
                sled::Error::Io(io)
                    if io.kind() == std::io::ErrorKind::WouldBlock
                        || io.to_string().contains("lock") =>
                {
                    StoreError::Locked { path: path.clone() }
                }
                _ => StoreError::Open {
                    path: path.clone(),
                    detail: e.to_string(),
                },
            })?;
        let meta = db.open_tree("meta")?;
        let found = match meta.get("schema")? {
            Some(v) => u32::from_be_bytes(v.as_ref().try_into().unwrap_or([0, 0, 0, 0])),
            None => SCHEMA_VERSION,
        };
        if found > SCHEMA_VERSION {
            return Err(StoreError::NewerSchema { path, found });
        }
        let (committer, rx) = mpsc::unbounded_channel();
        let counters = db.open_tree("counters")?;
        let store = Store {
            tasks: db.open_tree("tasks")?,
            queue: db.open_tree("queue")?,
            attempts: db.open_tree("attempts")?,
            jobs: db.open_tree("jobs")?,
            verdicts: db.open_tree("verdicts")?,
            phashes: db.open_tree("phashes")?,
            outcomes: db.open_tree("outcomes")?,
            meta: meta.clone(),
            outbox: db.open_tree("outbox")?,
            feedback: db.open_tree("feedback")?,
            media_dir: state_dir.join("media"),
            counts: Arc::default(),
            by_time: db.open_tree("by_time")?,
            c2pa_failed: db.open_tree("c2pa_failed")?,
            deliveries: db.open_tree("deliveries")?,
            settings: db.open_tree("settings")?,
            events: tokio::sync::broadcast::channel(4096).0,
            finals: tokio::sync::broadcast::channel(4096).0,
            usage: Arc::default(),
            recent_calls: Arc::default(),
            spend: Arc::default(),
            behind: behind::Behind::new(counters.clone()),
            counters,
            standing: db.open_tree("standing")?,
            committer,
            commit_times: Arc::default(),
            db,
        };
        if found < SCHEMA_VERSION {
            store.reindex()?;
        }
        store.meta.insert("schema", &SCHEMA_VERSION.to_be_bytes())?;
        store.recount()?;
        store.load_usage()?;
        store.load_spend(crate::clock::now_ms())?;
        tokio::spawn(commits::group_commit(
            store.db.clone(),
            rx,
            store.commit_times.clone(),
            store.behind.clone(),
        ));
        Ok(store)
    }

    pub fn media_dir(&self) -> &Path {
        &self.media_dir
    }

    /// Free space (for this user) on the state directory's disk, if it can be read.
    pub fn free_bytes(&self) -> Option<u64> {
        free_bytes(&self.media_dir)
    }

    /// Waits until everything written before the call is on disk.
    pub async fn commit(&self) -> Result<(), StoreError> {
        let (tx, rx) = oneshot::channel();
        self.committer
            .send(tx)
            .map_err(|_| StoreError::CommitStopped)?;
        match rx.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(StoreError::Flush(e)),
            Err(_) => Err(StoreError::CommitStopped),
        }
    }

    /// How long the commits (fsyncs) took since the store was opened.
    pub(crate) fn commit_times(&self) -> CommitTimes {
        self.commit_times
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Task changes as they happen (for the admin socket's events).
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<gas_shared::admin::TaskSummary> {
        self.events.subscribe()
    }

    /// The ids of tasks as they reach a final state, from now on.
    pub fn subscribe_finals(&self) -> tokio::sync::broadcast::Receiver<String> {
        self.finals.subscribe()
    }

    fn announce(&self, task: &TaskRecord) {
        if self.events.receiver_count() > 0 {
            let _ = self.events.send(task.summary());
        }
        if task.state.is_final() && self.finals.receiver_count() > 0 {
            let _ = self.finals.send(task.task_id.clone());
        }
    }

    fn decode(key: &[u8], value: &[u8]) -> Result<TaskRecord, StoreError> {
        serde_json::from_slice(value).map_err(|e| StoreError::Corrupt {
            key: String::from_utf8_lossy(key).into_owned(),
            detail: e.to_string(),
        })
    }

    /// Writes the counters held behind and flushes synchronously; for shutdown.
    pub fn flush(&self) -> Result<(), StoreError> {
        self.behind.write_out()?;
        self.db.flush()?;
        Ok(())
    }

    /// Lets sled free the pages it replaced; call about once a second. sled frees a replaced
    /// page only after enough reads have passed (epoch-based reclamation: a thread collects
    /// every 128th time it enters the database), and its log cleaner replaces pages on its
    /// own, two of up to 460 KB a second for minutes after a restart. An idle miner read too
    /// little, so they piled up for a minute at a time (25 MB with 100,000 stored tasks,
    /// BENCHMARKS.md "Memory"). 256 reads of one small key take well under a millisecond.
    pub fn let_go_of_replaced_pages(&self) {
        for _ in 0..RECLAIMING_READS {
            let _ = self.meta.get("schema");
        }
    }
}

/// Reads that make sure every collection sled's epochs wait for has come round (two at 128).
const RECLAIMING_READS: usize = 256;

/// A record as JSON, or why it cannot be (the key names it in the error).
fn encode(key: &str, value: &impl serde::Serialize) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(value).map_err(|e| StoreError::Corrupt {
        key: key.to_string(),
        detail: e.to_string(),
    })
}

/// Every record under `prefix`, in key order.
fn scan<T: serde::de::DeserializeOwned>(
    tree: &sled::Tree,
    prefix: &str,
) -> Result<Vec<T>, StoreError> {
    let mut out = Vec::new();
    for item in tree.scan_prefix(prefix.as_bytes()) {
        let (k, v) = item?;
        out.push(serde_json::from_slice(&v).map_err(|e| StoreError::Corrupt {
            key: String::from_utf8_lossy(&k).into_owned(),
            detail: e.to_string(),
        })?);
    }
    Ok(out)
}
