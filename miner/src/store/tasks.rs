//! The `tasks` tree (task id → record) and its two indexes: `queue` (state ‖ modality ‖
//! created ‖ id: tasks of a state, oldest first, and counts from the keys alone) and `by_time`
//! (created ‖ id: every task by age, for listing and pruning), and `c2pa_failed` (created ‖ id
//! of the tasks with an attempt that failed C2PA). The counts per state and
//! modality are kept in memory. Those of the final states are also kept in `meta`, moved in
//! the same transaction as the task, so opening reads them instead of every index key; only
//! the live states (queued, generating, …) are counted from the index at open.

use super::outbox::{OutboxChange, OutboxEntry};
use super::prune::pruned_key;
use super::{SCHEMA_VERSION, Store, StoreError, encode};
use crate::task::TaskRecord;
use gas_shared::{Modality, TaskState};
use sled::Transactional;
use sled::transaction::TransactionalTree;
use sled::transaction::{ConflictableTransactionError, TransactionError};
use std::collections::HashMap;

/// `state ‖ modality ‖ created ‖ id`: tasks of a state, oldest first, and counts by modality
/// from the keys alone.
pub(super) fn queue_key(task: &TaskRecord) -> Vec<u8> {
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
pub(super) fn time_key(task: &TaskRecord) -> Vec<u8> {
    let mut k = (task.created_ms.max(0) as u64).to_be_bytes().to_vec();
    k.extend_from_slice(task.task_id.as_bytes());
    k
}

/// Set in `meta` once the final states' counts are kept there.
const COUNTS_KEPT: &str = "counts_kept";

/// Where a final state's count of tasks of a modality is kept (`meta`).
fn final_count_key(state: TaskState, modality: Modality) -> String {
    format!("count/{}/{modality}", state.as_str())
}

fn read_count(v: Option<sled::IVec>) -> u64 {
    v.and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
        .map_or(0, u64::from_be_bytes)
}

/// The modality a queue key names.
fn modality_of_key(k: &[u8]) -> Modality {
    match k.get(1) {
        Some(1) => Modality::Video,
        _ => Modality::Image,
    }
}

/// Moves a task between final states' kept counts inside the task's own transaction.
fn move_final_count(
    meta: &TransactionalTree,
    modality: Modality,
    from: TaskState,
    to: TaskState,
) -> Result<(), ConflictableTransactionError<()>> {
    for (state, up) in [(from, false), (to, true)] {
        if !state.is_final() {
            continue;
        }
        let key = final_count_key(state, modality);
        let n = read_count(meta.get(key.as_bytes())?);
        let n = if up { n + 1 } else { n.saturating_sub(1) };
        meta.insert(key.as_bytes(), &n.to_be_bytes())?;
    }
    Ok(())
}

impl Store {
    /// Rebuilds the indexes from the task records (after an upgrade of the schema).
    pub(super) fn reindex(&self) -> Result<(), StoreError> {
        self.queue.clear()?;
        self.by_time.clear()?;
        self.c2pa_failed.clear()?;
        let mut n = 0;
        for item in self.tasks.iter() {
            let (k, v) = item?;
            let task = Self::decode(&k, &v)?;
            self.queue.insert(queue_key(&task), &[])?;
            self.by_time.insert(time_key(&task), &[])?;
            if task.c2pa_failed {
                self.c2pa_failed.insert(time_key(&task), &[])?;
            }
            n += 1;
        }
        tracing::info!(
            tasks = n,
            "state database indexes rebuilt for schema {SCHEMA_VERSION}"
        );
        Ok(())
    }

    /// Rebuilds the counts at open: the final states' from `meta`, the live states' from
    /// their part of the index. A store from before the kept counts is counted whole once.
    pub(super) fn recount(&self) -> Result<(), StoreError> {
        if self.meta.get(COUNTS_KEPT)?.is_none() {
            return self.count_everything();
        }
        let mut counts = HashMap::new();
        for state in TaskState::ALL {
            if state.is_final() {
                for modality in Modality::ALL {
                    let n = read_count(self.meta.get(final_count_key(state, modality))?);
                    if n > 0 {
                        counts.insert((state, modality), n);
                    }
                }
            } else {
                for item in self.queue.scan_prefix([state.code()]) {
                    let (k, _) = item?;
                    *counts.entry((state, modality_of_key(&k))).or_insert(0) += 1;
                }
            }
        }
        *self.counts.lock().unwrap_or_else(|p| p.into_inner()) = counts;
        Ok(())
    }

    /// Counts every index entry (and the pruned tasks' totals), then keeps the final states'
    /// counts in `meta` from here on.
    fn count_everything(&self) -> Result<(), StoreError> {
        let mut counts = HashMap::new();
        for item in self.queue.iter() {
            let (k, _) = item?;
            let state = TaskState::ALL
                .into_iter()
                .find(|s| Some(&s.code()) == k.first());
            if let Some(state) = state {
                *counts.entry((state, modality_of_key(&k))).or_insert(0) += 1;
            }
        }
        for state in TaskState::ALL {
            for modality in Modality::ALL {
                if let Some(v) = self.meta.get(pruned_key(state, modality))? {
                    *counts.entry((state, modality)).or_insert(0) += read_count(Some(v));
                }
            }
        }
        for state in TaskState::ALL.into_iter().filter(|s| s.is_final()) {
            for modality in Modality::ALL {
                let n = counts.get(&(state, modality)).copied().unwrap_or(0);
                self.meta
                    .insert(final_count_key(state, modality), &n.to_be_bytes())?;
            }
        }
        self.meta.insert(COUNTS_KEPT, &[1u8])?;
        *self.counts.lock().unwrap_or_else(|p| p.into_inner()) = counts;
        Ok(())
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

    pub fn get(&self, task_id: &str) -> Result<Option<TaskRecord>, StoreError> {
        match self.tasks.get(task_id.as_bytes())? {
            Some(v) => Ok(Some(Self::decode(task_id.as_bytes(), &v)?)),
            None => Ok(None),
        }
    }

    /// Stores a new task and its index entry. Call [`Store::commit`] before answering 201.
    pub fn insert_new(&self, task: &TaskRecord) -> Result<(), StoreError> {
        let value = encode(&task.task_id, task)?;
        // Two plain inserts, no transaction: both precede the fsync the 201 waits for, and a
        // crash between them leaves only an unacknowledged record that nobody waits for.
        self.tasks.insert(task.task_id.as_bytes(), value)?;
        self.queue.insert(queue_key(task), &[])?;
        self.by_time.insert(time_key(task), &[])?;
        if task.c2pa_failed {
            self.c2pa_failed.insert(time_key(task), &[])?;
        }
        if task.state.is_final() {
            let key = final_count_key(task.state, task.modality);
            let n = read_count(self.meta.get(&key)?);
            self.meta.insert(key, &(n + 1).to_be_bytes())?;
        }
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
        let result = (
            &self.tasks,
            &self.queue,
            &self.outbox,
            &self.meta,
            &self.c2pa_failed,
        )
            .transaction(|(tasks, queue, out, meta, c2pa_failed)| {
                let Some(raw) = tasks.get(task_id.as_bytes())? else {
                    return Err(ConflictableTransactionError::Abort(()));
                };
                let mut task: TaskRecord = match serde_json::from_slice(&raw) {
                    Ok(t) => t,
                    Err(_) => return Err(ConflictableTransactionError::Abort(())),
                };
                old_state.set(Some(task.state));
                let before = queue_key(&task);
                let flagged = task.c2pa_failed;
                change(&mut task);
                let after = queue_key(&task);
                if before != after {
                    queue.remove(before.as_slice())?;
                    queue.insert(after.as_slice(), &[])?;
                }
                if task.c2pa_failed != flagged {
                    if task.c2pa_failed {
                        c2pa_failed.insert(time_key(&task), &[])?;
                    } else {
                        c2pa_failed.remove(time_key(&task))?;
                    }
                }
                if let Some(old) = old_state.get()
                    && old != task.state
                {
                    move_final_count(meta, task.modality, old, task.state)?;
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
                    self.uncount(state, modality_of_key(&k));
                    self.queue.remove(&k)?;
                }
            }
        }
        Ok(out)
    }

    /// Tasks created at or after `since_ms`, oldest first.
    pub fn tasks_since(&self, since_ms: i64) -> Result<Vec<TaskRecord>, StoreError> {
        let from = (since_ms.max(0) as u64).to_be_bytes();
        let mut out = Vec::new();
        for item in self.by_time.range(from.as_slice()..) {
            let (k, _) = item?;
            let id = &k[8..];
            if let Some(v) = self.tasks.get(id)? {
                out.push(Self::decode(id, &v)?);
            }
        }
        Ok(out)
    }

    /// The `created ‖ id` keys of the tasks `q` can match, newest first, before `end`: from
    /// the C2PA failures' index, or a state's part of the queue index, so those filters read
    /// the tasks they find and not every stored one; else from `by_time`.
    fn newest_keys<'a>(&'a self, q: &gas_shared::admin::TaskQuery, end: &[u8]) -> NewestFirst<'a> {
        let sources: Vec<KeySource<'a>> = if q.verdict.as_deref() == Some("c2pa_failed") {
            vec![Box::new(self.c2pa_failed.range(..end).keys().rev())]
        } else if let Some(state) = q.state {
            let modalities = match q.modality {
                Some(m) => vec![m],
                None => Modality::ALL.to_vec(),
            };
            modalities
                .into_iter()
                .map(|m| -> KeySource<'a> {
                    let from = [state.code(), modality_code(m)];
                    let mut to = from.to_vec();
                    to.extend_from_slice(end);
                    Box::new(
                        self.queue
                            .range(from.to_vec()..to)
                            .keys()
                            .rev()
                            .map(|k| k.map(|k| k.subslice(2, k.len() - 2))),
                    )
                })
                .collect()
        } else {
            vec![Box::new(self.by_time.range(..end).keys().rev())]
        };
        NewestFirst {
            sources: sources.into_iter().map(Iterator::peekable).collect(),
        }
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
        for k in self.newest_keys(q, &end) {
            let k = k?;
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
}

type KeySource<'a> = Box<dyn Iterator<Item = Result<sled::IVec, sled::Error>> + 'a>;

/// Merges key sources that each run newest first into one that does.
struct NewestFirst<'a> {
    sources: Vec<std::iter::Peekable<KeySource<'a>>>,
}

impl Iterator for NewestFirst<'_> {
    type Item = Result<sled::IVec, sled::Error>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut newest: Option<(usize, sled::IVec)> = None;
        for (i, source) in self.sources.iter_mut().enumerate() {
            match source.peek() {
                Some(Err(_)) => return source.next(),
                Some(Ok(k)) if newest.as_ref().is_none_or(|(_, n)| k > n) => {
                    newest = Some((i, k.clone()));
                }
                _ => {}
            }
        }
        let (i, _) = newest?;
        self.sources[i].next()
    }
}
