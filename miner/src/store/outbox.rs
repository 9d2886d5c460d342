//! The `outbox` tree: due time ‖ task id for every webhook still to send. Entries change in
//! the same transaction as their task (see `Store::update`), so a task in `delivering` always
//! has its delivery due.

use super::{Store, StoreError};

/// A due webhook delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    pub due_ms: i64,
    pub task_id: String,
}

impl OutboxEntry {
    pub(super) fn key(&self) -> Vec<u8> {
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

/// A change to make to the outbox together with a task update.
pub enum OutboxChange {
    None,
    Schedule(i64),
    Reschedule { from: OutboxEntry, to: i64 },
    Remove(OutboxEntry),
}

impl Store {
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
}
