//! The `outcomes` tree: each finished task's outcome as the standing counted it, keyed like
//! `by_time` (created ‖ id). A changed outcome then replaces the one counted, and a restart
//! finds the tasks not counted yet by walking the two key ranges side by side instead of
//! reading every task. The standing's per-minute sums live in `counters`, written in the
//! same transaction.

use super::tasks::time_key;
use super::{Store, StoreError, encode};
use crate::task::TaskRecord;
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError};

impl Store {
    /// The outcome counted for `task`, if any.
    pub fn counted_outcome<T: serde::de::DeserializeOwned>(
        &self,
        task: &TaskRecord,
    ) -> Result<Option<T>, StoreError> {
        match self.outcomes.get(time_key(task))? {
            Some(v) => serde_json::from_slice(&v)
                .map(Some)
                .map_err(|e| StoreError::Corrupt {
                    key: format!("outcomes/{}", task.task_id),
                    detail: e.to_string(),
                }),
            None => Ok(None),
        }
    }

    /// Keeps `outcome` as the one counted for `task`, and the counters it changed, together.
    pub fn count_outcome(
        &self,
        task: &TaskRecord,
        outcome: &impl serde::Serialize,
        counters: &[(String, serde_json::Value)],
    ) -> Result<(), StoreError> {
        let value = encode(&task.task_id, outcome)?;
        let key = time_key(task);
        (&self.outcomes, &self.counters)
            .transaction(|(outcomes, kept)| {
                outcomes.insert(key.as_slice(), value.as_slice())?;
                for (name, v) in counters {
                    let bytes = serde_json::to_vec(v)
                        .map_err(|_| ConflictableTransactionError::Abort(()))?;
                    kept.insert(name.as_bytes(), bytes)?;
                }
                Ok(())
            })
            .map_err(|e| match e {
                TransactionError::Abort(()) => StoreError::Corrupt {
                    key: task.task_id.clone(),
                    detail: "a counter could not be written".into(),
                },
                TransactionError::Storage(e) => StoreError::Db(e),
            })
    }

    /// The ids of the tasks created at or after `since_ms` with no outcome counted (live
    /// ones included), oldest first.
    pub fn uncounted_since(&self, since_ms: i64) -> Result<Vec<String>, StoreError> {
        let from = (since_ms.max(0) as u64).to_be_bytes();
        let mut counted = self.outcomes.range(from.as_slice()..).keys().peekable();
        let mut out = Vec::new();
        for k in self.by_time.range(from.as_slice()..).keys() {
            let k = k?;
            let mut found = false;
            while let Some(c) = counted.peek() {
                match c {
                    Ok(c) if c.as_ref() < k.as_ref() => {
                        counted.next();
                    }
                    Ok(c) => {
                        found = c.as_ref() == k.as_ref();
                        break;
                    }
                    Err(_) => {
                        if let Some(Err(e)) = counted.next() {
                            return Err(e.into());
                        }
                    }
                }
            }
            if !found {
                out.push(String::from_utf8_lossy(&k[8..]).into_owned());
            }
        }
        Ok(out)
    }
}
