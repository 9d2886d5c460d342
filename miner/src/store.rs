//! Everything the miner must not forget, in one sled database under `MINER_STATE_DIR`:
//! tasks and their state index, provider calls, providers' job checkpoints, the webhook outbox
//! and validators' replies.
//! Writes that must survive a crash wait for [`Store::commit`], which batches concurrent
//! callers into one fsync (group commit) so accepting stays fast under load.

use gas_shared::{Modality, TaskState, Tier};
use serde::{Deserialize, Serialize};
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use thiserror::Error;
use tokio::sync::{mpsc, oneshot};

/// 2: the queue index carries the modality; tasks are also indexed by time.
const SCHEMA_VERSION: u32 = 2;

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
    Flush(String),
    #[error("state database: {0}")]
    Db(#[from] sled::Error),
    #[error("state database record {key} is unreadable: {detail}")]
    Corrupt { key: String, detail: String },
}

/// How a task ends: media delivered, or a failure report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Outcome {
    Success,
    Failure { message: String },
}

/// The generated file as stored beside the database.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MediaInfo {
    /// File name inside `<state_dir>/media`.
    pub file: String,
    pub content_type: String,
    pub bytes: u64,
    pub sha256: String,
    pub provider: String,
    pub model: String,
}

/// A validator's answer to one webhook attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reply {
    pub status: Option<u16>,
    pub body: String,
    pub at_ms: i64,
}

/// One accepted challenge, from 201 to its last webhook.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskRecord {
    pub v: u32,
    pub task_id: String,
    pub modality: Modality,
    pub state: TaskState,
    pub prompt: String,
    pub parameters: serde_json::Value,
    pub tier: Tier,
    pub webhook_url: String,
    /// The validator's hotkey (`Epistula-Signed-By`): webhooks are signed for it.
    pub validator: String,
    pub validator_uid: u16,
    pub created_ms: i64,
    pub deadline_ms: i64,
    pub started_ms: Option<i64>,
    pub finished_ms: Option<i64>,
    /// How many times generation started (more than one after a restart).
    pub generation_runs: u32,
    pub media: Option<MediaInfo>,
    pub outcome: Option<Outcome>,
    pub deliveries: u32,
    pub last_reply: Option<Reply>,
    /// The latest pre-flight verdict, in short.
    #[serde(default)]
    pub verdict: Option<gas_shared::admin::VerdictBrief>,
    /// Some attempt's media failed C2PA (even if a later one passed).
    #[serde(default)]
    pub c2pa_failed: bool,
}

impl TaskRecord {
    /// A challenge just accepted: queued, nothing done yet, due by `deadline_ms`. Callers set
    /// the webhook and the validator.
    pub fn accepted(
        task_id: String,
        modality: Modality,
        prompt: String,
        parameters: serde_json::Value,
        tier: Tier,
        (created_ms, deadline_ms): (i64, i64),
    ) -> TaskRecord {
        TaskRecord {
            v: 1,
            task_id,
            modality,
            state: TaskState::Queued,
            prompt,
            parameters,
            tier,
            webhook_url: String::new(),
            validator: String::new(),
            validator_uid: 0,
            created_ms,
            deadline_ms,
            started_ms: None,
            finished_ms: None,
            generation_runs: 0,
            media: None,
            outcome: None,
            deliveries: 0,
            last_reply: None,
            verdict: None,
            c2pa_failed: false,
        }
    }

    /// The task as the admin socket lists it.
    pub fn summary(&self) -> gas_shared::admin::TaskSummary {
        gas_shared::admin::TaskSummary {
            task_id: self.task_id.clone(),
            modality: self.modality,
            state: self.state,
            tier: self.tier,
            prompt: crate::providers::truncate(&self.prompt, 120),
            validator: self.validator.clone(),
            provider: self.media.as_ref().map(|m| m.provider.clone()),
            created_ms: self.created_ms,
            finished_ms: self.finished_ms,
            verdict: self.verdict.clone(),
            c2pa_failed: self.c2pa_failed,
            deliveries: self.deliveries,
            last_status: self.last_reply.as_ref().and_then(|r| r.status),
            error: match &self.outcome {
                Some(Outcome::Failure { message }) => {
                    Some(crate::providers::truncate(message, 300))
                }
                _ => None,
            },
        }
    }
}

/// One provider HTTP call, for spend and latency per provider.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallRecord {
    pub task_id: String,
    pub provider: String,
    /// `generate`, `create`, `poll` or `download`.
    #[serde(default)]
    pub op: String,
    pub model: String,
    /// The parameters sent (prompt shortened, never a key).
    pub request: serde_json::Value,
    pub status: Option<u16>,
    pub error: Option<String>,
    pub latency_ms: u64,
    pub bytes: u64,
    /// Estimated list price of what this call bought (set on the billed call only).
    #[serde(default)]
    pub cost_usd: Option<f64>,
    pub at_ms: i64,
}

/// A provider's job accepted for a task: kept from the moment the provider answers until the
/// media is safely on disk, so that a restart resumes the job instead of paying again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub v: u32,
    pub task_id: String,
    pub provider: String,
    pub job_id: String,
    pub model: String,
    pub request: serde_json::Value,
    pub created_ms: i64,
}

/// A validator's reply to one webhook, kept per validator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Feedback {
    pub validator: String,
    pub task_id: String,
    pub kind: String,
    pub attempt: u32,
    pub status: Option<u16>,
    pub body: String,
    pub at_ms: i64,
}

/// A due webhook delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    pub due_ms: i64,
    pub task_id: String,
}

impl OutboxEntry {
    fn key(&self) -> Vec<u8> {
        let mut k = Vec::with_capacity(8 + self.task_id.len());
        k.extend_from_slice(&(self.due_ms.max(0) as u64).to_be_bytes());
        k.extend_from_slice(self.task_id.as_bytes());
        k
    }

    fn from_key(key: &[u8]) -> Option<OutboxEntry> {
        let due: [u8; 8] = key.get(..8)?.try_into().ok()?;
        Some(OutboxEntry {
            due_ms: u64::from_be_bytes(due) as i64,
            task_id: String::from_utf8(key[8..].to_vec()).ok()?,
        })
    }
}

/// Where the number of pruned tasks of a state and modality is kept (`meta`).
fn pruned_key(state: TaskState, modality: Modality) -> String {
    format!("pruned/{}/{modality}", state.as_str())
}

/// `state ‖ modality ‖ created ‖ id`: tasks of a state, oldest first, and counts by modality
/// from the keys alone.
fn queue_key(task: &TaskRecord) -> Vec<u8> {
    let mut k = Vec::with_capacity(QUEUE_ID_AT + task.task_id.len());
    k.push(task.state.code());
    k.push(modality_code(task.modality));
    k.extend_from_slice(&(task.created_ms.max(0) as u64).to_be_bytes());
    k.extend_from_slice(task.task_id.as_bytes());
    k
}

/// Where the task id starts in a queue key.
const QUEUE_ID_AT: usize = 10;

fn modality_code(m: Modality) -> u8 {
    match m {
        Modality::Image => 0,
        Modality::Video => 1,
    }
}

/// `created ‖ id`: every task, by age.
fn time_key(task: &TaskRecord) -> Vec<u8> {
    let mut k = (task.created_ms.max(0) as u64).to_be_bytes().to_vec();
    k.extend_from_slice(task.task_id.as_bytes());
    k
}

type Waiter = oneshot::Sender<Result<(), String>>;

#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    tasks: sled::Tree,
    queue: sled::Tree,
    attempts: sled::Tree,
    jobs: sled::Tree,
    verdicts: sled::Tree,
    phashes: sled::Tree,
    meta: sled::Tree,
    outbox: sled::Tree,
    feedback: sled::Tree,
    media_dir: PathBuf,
    counts: Arc<Mutex<HashMap<(TaskState, Modality), u64>>>,
    by_time: sled::Tree,
    deliveries: sled::Tree,
    settings: sled::Tree,
    events: tokio::sync::broadcast::Sender<gas_shared::admin::TaskSummary>,
    usage: Arc<Mutex<HashMap<String, Usage>>>,
    counters: sled::Tree,
    committer: mpsc::UnboundedSender<Waiter>,
}

/// What one provider has cost and how it has behaved, over the life of this database
/// (kept in the `counters` tree, so it outlives pruned call records). Latency percentiles
/// are over the most recent calls of this run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    pub calls: u64,
    pub errors: u64,
    pub bytes: u64,
    pub cost_usd: f64,
    pub latency_ms_total: u64,
    #[serde(skip)]
    recent_ms: std::collections::VecDeque<u64>,
}

impl Usage {
    const RECENT: usize = 1000;

    fn add(&mut self, call: &CallRecord) {
        self.calls += 1;
        self.errors += u64::from(call.error.is_some());
        self.bytes += call.bytes;
        self.cost_usd += call.cost_usd.unwrap_or(0.0);
        self.latency_ms_total += call.latency_ms;
        if self.recent_ms.len() == Self::RECENT {
            self.recent_ms.pop_front();
        }
        self.recent_ms.push_back(call.latency_ms);
    }

    /// The `p`-quantile (0..=1) of recent call latencies, in ms.
    pub fn latency_ms(&self, p: f64) -> Option<u64> {
        let mut v: Vec<u64> = self.recent_ms.iter().copied().collect();
        v.sort_unstable();
        let last = v.len().checked_sub(1)?;
        v.get((last as f64 * p.clamp(0.0, 1.0)).round() as usize)
            .copied()
    }
}

/// A change to make to the outbox together with a task update.
pub enum OutboxChange {
    None,
    Schedule(i64),
    Reschedule { from: OutboxEntry, to: i64 },
    Remove(OutboxEntry),
}

impl Store {
    /// Opens (or creates) the database in `state_dir`. Must run inside a tokio runtime.
    pub fn open(state_dir: &Path) -> Result<Store, StoreError> {
        let path = state_dir.join("db");
        std::fs::create_dir_all(state_dir.join("media")).map_err(|e| StoreError::Open {
            path: state_dir.to_path_buf(),
            detail: e.to_string(),
        })?;
        let db = sled::Config::new()
            .path(&path)
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
        let store = Store {
            tasks: db.open_tree("tasks")?,
            queue: db.open_tree("queue")?,
            attempts: db.open_tree("attempts")?,
            jobs: db.open_tree("jobs")?,
            verdicts: db.open_tree("verdicts")?,
            phashes: db.open_tree("phashes")?,
            meta: meta.clone(),
            outbox: db.open_tree("outbox")?,
            feedback: db.open_tree("feedback")?,
            media_dir: state_dir.join("media"),
            counts: Arc::default(),
            by_time: db.open_tree("by_time")?,
            deliveries: db.open_tree("deliveries")?,
            settings: db.open_tree("settings")?,
            events: tokio::sync::broadcast::channel(4096).0,
            usage: Arc::default(),
            counters: db.open_tree("counters")?,
            committer,
            db,
        };
        if found < SCHEMA_VERSION {
            store.reindex()?;
        }
        store.meta.insert("schema", &SCHEMA_VERSION.to_be_bytes())?;
        store.recount()?;
        store.load_usage()?;
        tokio::spawn(group_commit(store.db.clone(), rx));
        Ok(store)
    }

    pub fn media_dir(&self) -> &Path {
        &self.media_dir
    }

    fn load_usage(&self) -> Result<(), StoreError> {
        let mut usage = HashMap::new();
        for item in self.counters.scan_prefix(b"provider/") {
            let (k, v) = item?;
            let name = String::from_utf8_lossy(&k["provider/".len()..]).into_owned();
            if let Ok(u) = serde_json::from_slice::<Usage>(&v) {
                usage.insert(name, u);
            }
        }
        *self.usage.lock().unwrap_or_else(|p| p.into_inner()) = usage;
        Ok(())
    }

    /// Calls, errors, bytes, spend and latency per provider.
    pub fn provider_usage(&self) -> HashMap<String, Usage> {
        self.usage.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Rebuilds the indexes from the task records (after an upgrade of the schema).
    fn reindex(&self) -> Result<(), StoreError> {
        self.queue.clear()?;
        self.by_time.clear()?;
        let mut n = 0;
        for item in self.tasks.iter() {
            let (k, v) = item?;
            let task = Self::decode(&k, &v)?;
            self.queue.insert(queue_key(&task), &[])?;
            self.by_time.insert(time_key(&task), &[])?;
            n += 1;
        }
        tracing::info!(
            tasks = n,
            "state database indexes rebuilt for schema {SCHEMA_VERSION}"
        );
        Ok(())
    }

    fn recount(&self) -> Result<(), StoreError> {
        let mut counts = HashMap::new();
        for item in self.queue.iter() {
            let (k, _) = item?;
            let state = TaskState::ALL
                .into_iter()
                .find(|s| Some(&s.code()) == k.first());
            let modality = match k.get(1) {
                Some(1) => Modality::Video,
                _ => Modality::Image,
            };
            if let Some(state) = state {
                *counts.entry((state, modality)).or_insert(0) += 1;
            }
        }
        for state in TaskState::ALL {
            for modality in Modality::ALL {
                if let Some(v) = self.meta.get(pruned_key(state, modality))?
                    && let Ok(n) = <[u8; 8]>::try_from(v.as_ref())
                {
                    *counts.entry((state, modality)).or_insert(0) += u64::from_be_bytes(n);
                }
            }
        }
        *self.counts.lock().unwrap_or_else(|p| p.into_inner()) = counts;
        Ok(())
    }

    /// Task changes as they happen (for the admin socket's events).
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<gas_shared::admin::TaskSummary> {
        self.events.subscribe()
    }

    fn announce(&self, task: &TaskRecord) {
        if self.events.receiver_count() > 0 {
            let _ = self.events.send(task.summary());
        }
    }

    /// Tasks per state and modality.
    pub fn counts_by_modality(&self) -> HashMap<(TaskState, Modality), u64> {
        self.counts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Tasks per state (pruned ones included), kept in memory and rebuilt from the index at
    /// start.
    pub fn counts(&self) -> HashMap<TaskState, u64> {
        let mut out = HashMap::new();
        for ((state, _), n) in self.counts.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            *out.entry(*state).or_insert(0) += n;
        }
        out
    }

    /// Takes back a count made at open for an index entry found stale.
    fn uncount(&self, state: TaskState, modality: Modality) {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = counts.get_mut(&(state, modality)) {
            *n = n.saturating_sub(1);
        }
    }

    fn shift_count(&self, modality: Modality, from: Option<TaskState>, to: TaskState) {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(from) = from
            && let Some(n) = counts.get_mut(&(from, modality))
        {
            *n = n.saturating_sub(1);
        }
        *counts.entry((to, modality)).or_insert(0) += 1;
    }

    /// Waits until everything written before the call is on disk.
    pub async fn commit(&self) -> Result<(), StoreError> {
        let (tx, rx) = oneshot::channel();
        self.committer
            .send(tx)
            .map_err(|_| StoreError::Flush("the commit task has stopped".into()))?;
        match rx.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(detail)) => Err(StoreError::Flush(detail)),
            Err(_) => Err(StoreError::Flush("the commit task has stopped".into())),
        }
    }

    fn decode(key: &[u8], value: &[u8]) -> Result<TaskRecord, StoreError> {
        serde_json::from_slice(value).map_err(|e| StoreError::Corrupt {
            key: String::from_utf8_lossy(key).into_owned(),
            detail: e.to_string(),
        })
    }

    pub fn get(&self, task_id: &str) -> Result<Option<TaskRecord>, StoreError> {
        match self.tasks.get(task_id.as_bytes())? {
            Some(v) => Ok(Some(Self::decode(task_id.as_bytes(), &v)?)),
            None => Ok(None),
        }
    }

    /// Stores a new task and its index entry. Call [`Store::commit`] before answering 201.
    pub fn insert_new(&self, task: &TaskRecord) -> Result<(), StoreError> {
        let value = serde_json::to_vec(task).map_err(|e| StoreError::Corrupt {
            key: task.task_id.clone(),
            detail: e.to_string(),
        })?;
        // Two plain inserts, no transaction: both precede the fsync the 201 waits for, and a
        // crash between them leaves only an unacknowledged record that nobody waits for.
        self.tasks.insert(task.task_id.as_bytes(), value)?;
        self.queue.insert(queue_key(task), &[])?;
        self.by_time.insert(time_key(task), &[])?;
        self.shift_count(task.modality, None, task.state);
        self.announce(task);
        Ok(())
    }

    /// Applies `change` to a task (and the outbox) atomically; returns the new record.
    pub fn update(
        &self,
        task_id: &str,
        outbox: OutboxChange,
        change: impl Fn(&mut TaskRecord),
    ) -> Result<TaskRecord, StoreError> {
        let old_state = std::cell::Cell::new(None);
        let result = (&self.tasks, &self.queue, &self.outbox)
            .transaction(|(tasks, queue, out)| {
                let Some(raw) = tasks.get(task_id.as_bytes())? else {
                    return Err(ConflictableTransactionError::Abort(()));
                };
                let mut task: TaskRecord = match serde_json::from_slice(&raw) {
                    Ok(t) => t,
                    Err(_) => return Err(ConflictableTransactionError::Abort(())),
                };
                old_state.set(Some(task.state));
                let before = queue_key(&task);
                change(&mut task);
                let after = queue_key(&task);
                if before != after {
                    queue.remove(before.as_slice())?;
                    queue.insert(after.as_slice(), &[])?;
                }
                let value = serde_json::to_vec(&task)
                    .map_err(|_| ConflictableTransactionError::Abort(()))?;
                tasks.insert(task_id.as_bytes(), value)?;
                let id = task_id.to_string();
                match &outbox {
                    OutboxChange::None => {}
                    OutboxChange::Schedule(due) => {
                        out.insert(
                            OutboxEntry {
                                due_ms: *due,
                                task_id: id,
                            }
                            .key(),
                            &[],
                        )?;
                    }
                    OutboxChange::Reschedule { from, to } => {
                        out.remove(from.key())?;
                        out.insert(
                            OutboxEntry {
                                due_ms: *to,
                                task_id: id,
                            }
                            .key(),
                            &[],
                        )?;
                    }
                    OutboxChange::Remove(entry) => {
                        out.remove(entry.key())?;
                    }
                }
                Ok(task)
            })
            .map_err(|e| match e {
                TransactionError::Abort(()) => StoreError::Corrupt {
                    key: task_id.to_string(),
                    detail: "task missing or unreadable".into(),
                },
                TransactionError::Storage(e) => StoreError::Db(e),
            })?;
        if let Some(old) = old_state.get()
            && old != result.state
        {
            self.shift_count(result.modality, Some(old), result.state);
        }
        self.announce(&result);
        Ok(result)
    }

    /// Queue index entries that disagree with their task (its state, or no task at all),
    /// found without changing anything: what a crash can leave, for checks after the fact.
    pub fn index_disagreements(&self) -> Result<usize, StoreError> {
        let mut n = 0;
        for item in self.queue.iter() {
            let (k, _) = item?;
            let id = &k[QUEUE_ID_AT.min(k.len())..];
            let agrees = match self.tasks.get(id)? {
                Some(v) => Self::decode(id, &v)?.state.code() == k[0],
                None => false,
            };
            n += usize::from(!agrees);
        }
        Ok(n)
    }

    /// Tasks in `state`, oldest first. An index entry that disagrees with its task (left by a
    /// crash in the middle of a write) is dropped, so no task is ever found in two states.
    pub fn in_state(&self, state: TaskState) -> Result<Vec<TaskRecord>, StoreError> {
        let mut out = Vec::new();
        for item in self.queue.scan_prefix([state.code()]) {
            let (k, _) = item?;
            let id = &k[QUEUE_ID_AT..];
            match self.tasks.get(id)? {
                Some(v) => {
                    let task = Self::decode(id, &v)?;
                    if task.state == state {
                        out.push(task);
                    } else {
                        self.uncount(state, task.modality);
                        tracing::warn!(task_id = %task.task_id, index = %state, actual = %task.state, "stale queue index entry removed");
                        self.queue.remove(&k)?;
                    }
                }
                None => {
                    let modality = match k.get(1) {
                        Some(1) => Modality::Video,
                        _ => Modality::Image,
                    };
                    self.uncount(state, modality);
                    self.queue.remove(&k)?;
                }
            }
        }
        Ok(out)
    }

    /// Outbox entries, earliest due first.
    pub fn outbox(&self) -> impl Iterator<Item = Result<OutboxEntry, StoreError>> + '_ {
        self.outbox.iter().filter_map(|item| match item {
            Ok((k, _)) => OutboxEntry::from_key(&k).map(Ok),
            Err(e) => Some(Err(e.into())),
        })
    }

    pub fn outbox_remove(&self, entry: &OutboxEntry) -> Result<(), StoreError> {
        self.outbox.remove(entry.key())?;
        Ok(())
    }

    pub fn record_call(&self, call: &CallRecord) -> Result<(), StoreError> {
        let key = format!(
            "{}/{:020}/{}",
            call.task_id,
            call.at_ms,
            self.db.generate_id()?
        );
        let value = serde_json::to_vec(call).map_err(|e| StoreError::Corrupt {
            key: key.clone(),
            detail: e.to_string(),
        })?;
        self.attempts.insert(key.as_bytes(), value)?;
        // Written under the lock, so a slower writer never stores an older total.
        let mut usage = self.usage.lock().unwrap_or_else(|p| p.into_inner());
        let u = usage.entry(call.provider.clone()).or_default();
        u.add(call);
        self.counters.insert(
            format!("provider/{}", call.provider).as_bytes(),
            serde_json::to_vec(u).unwrap_or_default(),
        )?;
        Ok(())
    }

    pub fn calls(&self, task_id: &str) -> Result<Vec<CallRecord>, StoreError> {
        scan(&self.attempts, &format!("{task_id}/"))
    }

    /// Stores a provider's job id for a task. Call [`Store::commit`] before relying on it.
    pub fn put_checkpoint(&self, cp: &Checkpoint) -> Result<(), StoreError> {
        let key = format!("{}/{}", cp.task_id, cp.provider);
        let value = serde_json::to_vec(cp).map_err(|e| StoreError::Corrupt {
            key: key.clone(),
            detail: e.to_string(),
        })?;
        self.jobs.insert(key.as_bytes(), value)?;
        Ok(())
    }

    /// Every provider job recorded for a task.
    pub fn checkpoints(&self, task_id: &str) -> Result<Vec<Checkpoint>, StoreError> {
        scan(&self.jobs, &format!("{task_id}/"))
    }

    /// Forgets a task's provider jobs: all of them, or only `provider`'s.
    pub fn clear_checkpoints(
        &self,
        task_id: &str,
        provider: Option<&str>,
    ) -> Result<(), StoreError> {
        if let Some(p) = provider {
            self.jobs.remove(format!("{task_id}/{p}").as_bytes())?;
            return Ok(());
        }
        for item in self.jobs.scan_prefix(format!("{task_id}/").as_bytes()) {
            let (k, _) = item?;
            self.jobs.remove(k)?;
        }
        Ok(())
    }

    /// Keeps a pre-flight verdict with its task (every attempt's, oldest first).
    pub fn record_verdict(
        &self,
        task_id: &str,
        verdict: &gas_shared::verdict::Verdict,
    ) -> Result<(), StoreError> {
        let key = format!(
            "{task_id}/{:020}/{}",
            verdict.checked_at_ms,
            self.db.generate_id()?
        );
        let value = serde_json::to_vec(verdict).map_err(|e| StoreError::Corrupt {
            key: key.clone(),
            detail: e.to_string(),
        })?;
        self.verdicts.insert(key.as_bytes(), value)?;
        Ok(())
    }

    pub fn verdicts(&self, task_id: &str) -> Result<Vec<gas_shared::verdict::Verdict>, StoreError> {
        scan(&self.verdicts, &format!("{task_id}/"))
    }

    /// Keeps the last good metagraph of `netuid`, for a start with the chain unreachable.
    pub fn save_metagraph(
        &self,
        source: &str,
        graph: &crate::chain::Metagraph,
    ) -> Result<(), StoreError> {
        let key = format!("metagraph/{source}/{}", graph.netuid);
        let value = serde_json::to_vec(graph).map_err(|e| StoreError::Corrupt {
            key: key.clone(),
            detail: e.to_string(),
        })?;
        self.meta.insert(key.as_bytes(), value)?;
        Ok(())
    }

    /// The copy saved from `source` (an endpoint) for `netuid`.
    pub fn load_metagraph(
        &self,
        source: &str,
        netuid: u16,
    ) -> Result<Option<crate::chain::Metagraph>, StoreError> {
        let key = format!("metagraph/{source}/{netuid}");
        match self.meta.get(key.as_bytes())? {
            Some(v) => serde_json::from_slice(&v)
                .map(Some)
                .map_err(|e| StoreError::Corrupt {
                    key,
                    detail: e.to_string(),
                }),
            None => Ok(None),
        }
    }

    /// Remembers a delivered image's perceptual hash (the newest `keep` are kept).
    pub fn remember_phash(
        &self,
        task_id: &str,
        prompt_key: u64,
        hash: &[u8],
        keep: usize,
    ) -> Result<(), StoreError> {
        let mut key = (crate::epistula::now_ms().max(0) as u64)
            .to_be_bytes()
            .to_vec();
        key.extend_from_slice(task_id.as_bytes());
        let mut value = prompt_key.to_be_bytes().to_vec();
        value.extend_from_slice(hash);
        self.phashes.insert(key, value)?;
        while self.phashes.len() > keep {
            match self.phashes.pop_min()? {
                Some(_) => {}
                None => break,
            }
        }
        Ok(())
    }

    /// Remembered image hashes, oldest first: (task id, prompt key, hash).
    pub fn recent_phashes(&self) -> Result<Vec<(String, u64, Vec<u8>)>, StoreError> {
        let mut out = Vec::new();
        for item in self.phashes.iter() {
            let (k, v) = item?;
            if k.len() < 8 || v.len() < 8 {
                continue;
            }
            let prompt = u64::from_be_bytes(v[..8].try_into().unwrap_or([0; 8]));
            out.push((
                String::from_utf8_lossy(&k[8..]).into_owned(),
                prompt,
                v[8..].to_vec(),
            ));
        }
        Ok(out)
    }

    pub fn record_feedback(&self, fb: &Feedback) -> Result<(), StoreError> {
        let key = format!(
            "{}/{:020}/{}",
            fb.validator,
            fb.at_ms,
            self.db.generate_id()?
        );
        let value = serde_json::to_vec(fb).map_err(|e| StoreError::Corrupt {
            key: key.clone(),
            detail: e.to_string(),
        })?;
        self.feedback.insert(key.as_bytes(), value.clone())?;
        self.deliveries.insert(
            format!("{}/{:010}/{}", fb.task_id, fb.attempt, fb.at_ms).as_bytes(),
            value,
        )?;
        Ok(())
    }

    /// Every webhook attempt of a task and the validator's reply, oldest first.
    pub fn deliveries(&self, task_id: &str) -> Result<Vec<Feedback>, StoreError> {
        scan(&self.deliveries, &format!("{task_id}/"))
    }

    /// Every reply from every validator (for statistics), oldest first per validator.
    pub fn all_feedback(&self) -> impl Iterator<Item = Feedback> + '_ {
        self.feedback
            .iter()
            .filter_map(Result::ok)
            .filter_map(|(_, v)| serde_json::from_slice(&v).ok())
    }

    /// Every stored verdict's (time, passed) (for statistics).
    pub fn all_verdicts(&self) -> impl Iterator<Item = gas_shared::verdict::Verdict> + '_ {
        self.verdicts
            .iter()
            .filter_map(Result::ok)
            .filter_map(|(_, v)| serde_json::from_slice(&v).ok())
    }

    /// A counter record (JSON) kept across restarts and pruning.
    pub fn put_counter(&self, key: &str, value: &serde_json::Value) -> Result<(), StoreError> {
        self.counters.insert(
            key.as_bytes(),
            serde_json::to_vec(value).unwrap_or_default(),
        )?;
        Ok(())
    }

    pub fn remove_counter(&self, key: &str) -> Result<(), StoreError> {
        self.counters.remove(key.as_bytes())?;
        Ok(())
    }

    /// Counter records under `prefix`: (key, value).
    pub fn counters(&self, prefix: &str) -> Vec<(String, serde_json::Value)> {
        self.counters
            .scan_prefix(prefix.as_bytes())
            .filter_map(Result::ok)
            .filter_map(|(k, v)| {
                Some((
                    String::from_utf8_lossy(&k).into_owned(),
                    serde_json::from_slice(&v).ok()?,
                ))
            })
            .collect()
    }

    /// A live setting (JSON), e.g. the service selection made from the console.
    pub fn setting(&self, name: &str) -> Result<Option<serde_json::Value>, StoreError> {
        Ok(self
            .settings
            .get(name.as_bytes())?
            .and_then(|v| serde_json::from_slice(&v).ok()))
    }

    pub fn set_setting(
        &self,
        name: &str,
        value: Option<&serde_json::Value>,
    ) -> Result<(), StoreError> {
        match value {
            Some(v) => {
                self.settings
                    .insert(name.as_bytes(), serde_json::to_vec(v).unwrap_or_default())?;
            }
            None => {
                self.settings.remove(name.as_bytes())?;
            }
        }
        Ok(())
    }

    /// Forgets finished tasks created before `cutoff_ms`: their records, calls, verdicts,
    /// deliveries, checkpoints and media files, and validators' replies older than that.
    /// Counters (provider usage, statistics) are kept. Returns how many tasks went.
    pub fn prune(&self, cutoff_ms: i64) -> Result<usize, StoreError> {
        let end = (cutoff_ms.max(0) as u64).to_be_bytes();
        let mut pruned = 0;
        let old: Vec<sled::IVec> = self
            .by_time
            .range(..end.as_slice())
            .keys()
            .collect::<Result<_, _>>()?;
        for k in old {
            let id = String::from_utf8_lossy(&k[8..]).into_owned();
            let Some(task) = self.get(&id)? else {
                self.by_time.remove(&k)?;
                continue;
            };
            if !task.state.is_final() {
                continue;
            }
            if let Some(m) = &task.media {
                let _ = std::fs::remove_file(self.media_dir.join(&m.file));
            }
            for tree in [&self.attempts, &self.verdicts, &self.deliveries, &self.jobs] {
                let keys: Vec<sled::IVec> = tree
                    .scan_prefix(format!("{id}/").as_bytes())
                    .keys()
                    .collect::<Result<_, _>>()?;
                for key in keys {
                    tree.remove(key)?;
                }
            }
            self.queue.remove(queue_key(&task))?;
            self.by_time.remove(&k)?;
            self.tasks.remove(id.as_bytes())?;
            // The task still counts: its state's total lives on in `meta`.
            let key = pruned_key(task.state, task.modality);
            let before = self
                .meta
                .get(&key)?
                .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
                .map(u64::from_be_bytes)
                .unwrap_or(0);
            self.meta.insert(key, &(before + 1).to_be_bytes())?;
            pruned += 1;
        }
        // Replies are keyed validator/time/…: drop the old ones.
        let stale: Vec<sled::IVec> = self
            .feedback
            .iter()
            .keys()
            .filter_map(Result::ok)
            .filter(|k| {
                String::from_utf8_lossy(k)
                    .split('/')
                    .nth(1)
                    .and_then(|t| t.parse::<i64>().ok())
                    .is_some_and(|t| t < cutoff_ms)
            })
            .collect();
        for k in stale {
            self.feedback.remove(k)?;
        }
        Ok(pruned)
    }

    /// A page of tasks, newest first, matching `q`.
    pub fn list_tasks(
        &self,
        q: &gas_shared::admin::TaskQuery,
    ) -> Result<gas_shared::admin::TaskPage, StoreError> {
        let limit = q.limit.unwrap_or(50).clamp(1, 1000);
        let needle =
            q.q.as_deref()
                .map(str::to_lowercase)
                .filter(|n| !n.is_empty());
        let matches = |t: &TaskRecord| {
            q.state.is_none_or(|s| t.state == s)
                && q.modality.is_none_or(|m| t.modality == m)
                && q.provider
                    .as_deref()
                    .is_none_or(|p| t.media.as_ref().is_some_and(|m| m.provider == p))
                && match q.verdict.as_deref() {
                    None | Some("") | Some("any") => true,
                    Some("passed") => t.verdict.as_ref().is_some_and(|v| v.passed),
                    Some("failed") => t.verdict.as_ref().is_some_and(|v| !v.passed),
                    Some("c2pa_failed") => t.c2pa_failed,
                    Some(_) => false,
                }
                && needle.as_deref().is_none_or(|n| {
                    t.task_id.contains(n)
                        || t.validator.to_lowercase().contains(n)
                        || t.prompt.to_lowercase().contains(n)
                })
        };
        let end: Vec<u8> = match q
            .before
            .as_deref()
            .and_then(|id| self.get(id).ok().flatten())
        {
            Some(t) => time_key(&t),
            None => vec![0xff; 9],
        };
        let mut tasks = Vec::new();
        let mut next = None;
        for item in self.by_time.range(..end).rev() {
            let (k, _) = item?;
            let id = &k[8..];
            let Some(v) = self.tasks.get(id)? else {
                continue;
            };
            let task = Self::decode(id, &v)?;
            if !matches(&task) {
                continue;
            }
            if tasks.len() == limit {
                next = tasks
                    .last()
                    .map(|t: &gas_shared::admin::TaskSummary| t.task_id.clone());
                break;
            }
            tasks.push(task.summary());
        }
        Ok(gas_shared::admin::TaskPage { tasks, next })
    }

    /// Every reply from `validator`, oldest first.
    pub fn feedback_for(&self, validator: &str) -> Result<Vec<Feedback>, StoreError> {
        scan(&self.feedback, &format!("{validator}/"))
    }

    /// Flushes synchronously; for shutdown.
    pub fn flush(&self) -> Result<(), StoreError> {
        self.db.flush()?;
        Ok(())
    }
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

/// One fsync for every caller waiting when it starts; callers arriving during it wait for the
/// next one. Throughput scales with concurrency while each caller still waits for its own data.
async fn group_commit(db: sled::Db, mut rx: mpsc::UnboundedReceiver<Waiter>) {
    while let Some(first) = rx.recv().await {
        // Let the runtime run whatever is ready first, so concurrent writers join this fsync:
        // fewer, larger flushes under load, no added delay when idle.
        for _ in 0..4 {
            tokio::task::yield_now().await;
        }
        let mut waiters = vec![first];
        while let Ok(w) = rx.try_recv() {
            waiters.push(w);
        }
        let db = db.clone();
        let result =
            tokio::task::spawn_blocking(move || db.flush().map(|_| ()).map_err(|e| e.to_string()))
                .await
                .unwrap_or_else(|e| Err(e.to_string()));
        if let Err(e) = &result {
            tracing::error!(error = %e, "state database flush failed");
        }
        for w in waiters {
            let _ = w.send(result.clone());
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A queued image task, for tests.
    pub(crate) fn task(id: &str) -> TaskRecord {
        TaskRecord {
            webhook_url: "http://127.0.0.1:1/cb".into(),
            validator: "5Validator".into(),
            ..TaskRecord::accepted(
                id.into(),
                Modality::Image,
                "p".into(),
                serde_json::json!({}),
                Tier::K2,
                (1_000, 9_000),
            )
        }
    }

    fn call(provider: &str, latency_ms: u64, cost: Option<f64>, error: bool) -> CallRecord {
        CallRecord {
            task_id: "t".into(),
            provider: provider.into(),
            op: "generate".into(),
            model: "m".into(),
            request: serde_json::json!({}),
            status: Some(if error { 500 } else { 200 }),
            error: error.then(|| "HTTP 500".into()),
            latency_ms,
            bytes: 10,
            cost_usd: cost,
            at_ms: 1,
        }
    }

    #[tokio::test]
    async fn a_task_is_found_in_one_state_only_even_with_a_stale_index_entry() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("open");
        store.insert_new(&task("a")).expect("insert");
        let queued_key = queue_key(&task("a"));
        store
            .update("a", OutboxChange::None, |t| t.state = TaskState::Generating)
            .expect("update");
        // What a crash in the middle of the move can leave: the old entry still there.
        store.queue.insert(&queued_key, &[]).expect("stale entry");
        store.flush().expect("flush");
        drop(store);
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let store = Store::open(dir.path()).expect("reopen");
        assert_eq!(store.index_disagreements().expect("scan"), 1);
        assert!(store.in_state(TaskState::Queued).expect("scan").is_empty());
        assert_eq!(store.index_disagreements().expect("scan"), 0);
        let generating = store.in_state(TaskState::Generating).expect("scan");
        assert_eq!(generating.len(), 1);
        assert!(
            store.queue.get(&queued_key).expect("get").is_none(),
            "the stale entry is gone"
        );
        let counts = store.counts();
        assert_eq!(counts.get(&TaskState::Queued).copied().unwrap_or(0), 0);
        assert_eq!(counts.get(&TaskState::Generating).copied(), Some(1));
    }

    #[tokio::test]
    async fn provider_usage_adds_up_and_outlives_a_restart() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let store = Store::open(dir.path()).expect("open");
            for ms in [100, 200, 300, 400] {
                store
                    .record_call(&call("openai", ms, Some(0.25), false))
                    .expect("record");
            }
            store
                .record_call(&call("openai", 5000, None, true))
                .expect("record");
            store
                .record_call(&call("runway", 50, Some(1.0), false))
                .expect("record");
            let u = &store.provider_usage()["openai"];
            assert_eq!((u.calls, u.errors, u.bytes), (5, 1, 50));
            assert!((u.cost_usd - 1.0).abs() < 1e-9);
            assert_eq!(u.latency_ms(0.5), Some(300));
            assert_eq!(u.latency_ms(0.95), Some(5000));
            store.commit().await.expect("commit");
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let store = Store::open(dir.path()).expect("reopen");
        let usage = store.provider_usage();
        assert_eq!(usage["openai"].calls, 5);
        assert!((usage["runway"].cost_usd - 1.0).abs() < 1e-9);
        assert_eq!(store.calls("t").expect("calls").len(), 6);
    }

    #[tokio::test]
    async fn tasks_outbox_and_feedback_survive_a_reopen() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let store = Store::open(dir.path()).expect("open");
            store.insert_new(&task("a")).expect("insert a");
            store.insert_new(&task("b")).expect("insert b");
            store
                .update("b", OutboxChange::Schedule(5_000), |t| {
                    t.state = TaskState::Delivering
                })
                .expect("update");
            store
                .record_feedback(&Feedback {
                    validator: "5Validator".into(),
                    task_id: "b".into(),
                    kind: "success".into(),
                    attempt: 1,
                    status: Some(400),
                    body: "duplicate".into(),
                    at_ms: 6_000,
                })
                .expect("feedback");
            store.commit().await.expect("commit");
            assert_eq!(store.counts().get(&TaskState::Delivering), Some(&1));
        }
        // sled releases its lock when the last handle drops; give its threads a moment.
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let store = Store::open(dir.path()).expect("reopen");
        let queued: Vec<String> = store
            .in_state(TaskState::Queued)
            .expect("queued")
            .into_iter()
            .map(|t| t.task_id)
            .collect();
        assert_eq!(queued, vec!["a".to_string()]);
        assert_eq!(store.counts().get(&TaskState::Delivering), Some(&1));
        let due: Vec<OutboxEntry> = store.outbox().map(|e| e.expect("entry")).collect();
        assert_eq!(
            due,
            vec![OutboxEntry {
                due_ms: 5_000,
                task_id: "b".into()
            }]
        );
        let fb = store.feedback_for("5Validator").expect("feedback");
        assert_eq!(
            (fb.len(), fb[0].status, fb[0].body.as_str()),
            (1, Some(400), "duplicate")
        );
        assert!(store.feedback_for("5Other").expect("none").is_empty());
    }

    #[tokio::test]
    async fn pruning_forgets_old_finished_tasks_and_their_media_but_keeps_the_counts() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let store = Store::open(dir.path()).expect("open");
            let old = |id: &str, state: TaskState| {
                let mut t = task(id);
                t.created_ms = 1_000;
                store.insert_new(&t).expect("insert");
                std::fs::write(store.media_dir().join(format!("{id}.png")), b"png").expect("media");
                store
                    .update(id, OutboxChange::None, |t| {
                        t.state = state;
                        t.media = Some(MediaInfo {
                            file: format!("{id}.png"),
                            content_type: "image/png".into(),
                            bytes: 3,
                            sha256: String::new(),
                            provider: "openai".into(),
                            model: "m".into(),
                        });
                    })
                    .expect("update");
                store
                    .record_call(&CallRecord {
                        task_id: id.into(),
                        ..call("openai", 100, Some(0.04), false)
                    })
                    .expect("call");
            };
            old("old-delivered", TaskState::Delivered);
            old("old-failed", TaskState::Failed);
            old("old-but-generating", TaskState::Generating);
            let mut fresh = task("fresh");
            fresh.created_ms = 50_000;
            store.insert_new(&fresh).expect("insert fresh");
            let before = store.counts_by_modality();

            assert_eq!(store.prune(10_000).expect("prune"), 2);
            for id in ["old-delivered", "old-failed"] {
                assert!(store.get(id).expect("get").is_none(), "{id} kept");
                assert!(
                    store.calls(id).expect("calls").is_empty(),
                    "{id}'s calls kept"
                );
                assert!(
                    !store.media_dir().join(format!("{id}.png")).exists(),
                    "{id}'s media kept"
                );
            }
            assert!(
                store.get("old-but-generating").expect("get").is_some(),
                "unfinished work is never pruned"
            );
            assert!(store.media_dir().join("old-but-generating.png").exists());
            assert!(store.get("fresh").expect("get").is_some());
            assert_eq!(
                store.counts_by_modality(),
                before,
                "the totals did not move"
            );
            assert_eq!(
                store.provider_usage()["openai"].calls,
                3,
                "usage counters kept"
            );
            assert_eq!(store.prune(10_000).expect("prune again"), 0);
            store.commit().await.expect("commit");
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let store = Store::open(dir.path()).expect("reopen");
        assert_eq!(
            store.counts().get(&TaskState::Delivered),
            Some(&1),
            "totals outlive a restart"
        );
        assert_eq!(store.counts().get(&TaskState::Failed), Some(&1));
        assert_eq!(store.counts().get(&TaskState::Generating), Some(&1));
    }
}
