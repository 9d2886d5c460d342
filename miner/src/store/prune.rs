//! Retention: finished tasks older than the cutoff go with everything recorded for them and
//! their media; their counts live on in `meta` so totals never shrink (`pruned/…` from before
//! the final states' counts were kept there is read once, when they are first counted).

use super::tasks::queue_key;
use super::{Store, StoreError};
use gas_shared::{Modality, TaskState};

/// Where the number of pruned tasks of a state and modality is kept (`meta`).
pub(super) fn pruned_key(state: TaskState, modality: Modality) -> String {
    format!("pruned/{}/{modality}", state.as_str())
}

impl Store {
    /// Forgets finished tasks created before `cutoff_ms`: their records, calls, verdicts,
    /// deliveries, checkpoints and media files, and validators' replies older than that.
    /// Counters (provider usage, statistics) are kept. Returns how many tasks went.
    pub fn prune(&self, cutoff_ms: i64) -> Result<usize, StoreError> {
        self.prune_spend(crate::clock::now_ms())?;
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
            self.c2pa_failed.remove(&k)?;
            self.outcomes.remove(&k)?;
            self.tasks.remove(id.as_bytes())?;
            // The task still counts: its state's total is kept in `meta` (`tasks`).
            pruned += 1;
        }
        self.prune_feedback(cutoff_ms)?;
        Ok(pruned)
    }

    /// Drops validators' replies from before `cutoff_ms`. They are keyed `validator/time/…`
    /// with the time zero-padded, so each validator's old replies are the start of its range:
    /// only those are read, not every reply kept (100,000 of them took 12–18 MB to read).
    fn prune_feedback(&self, cutoff_ms: i64) -> Result<(), StoreError> {
        let before = format!("{:020}", cutoff_ms.max(0));
        let mut from: Vec<u8> = Vec::new();
        while let Some(first) = self.feedback.range(from.as_slice()..).keys().next() {
            let first = first?;
            let Some(slash) = first.iter().position(|&b| b == b'/') else {
                // Not a reply's key: step past it.
                from = first.to_vec();
                from.push(0);
                continue;
            };
            let prefix = first[..=slash].to_vec();
            let end = [prefix.as_slice(), before.as_bytes()].concat();
            let stale: Vec<sled::IVec> = self
                .feedback
                .range(prefix..end)
                .keys()
                .collect::<Result<_, _>>()?;
            for k in stale {
                self.feedback.remove(k)?;
            }
            // The next validator's replies start past every `validator/…` key.
            from = first[..slash].to_vec();
            from.push(b'/' + 1);
        }
        Ok(())
    }
}
