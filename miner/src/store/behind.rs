//! Statistics counters written behind: the records rewritten on every event (a minute's
//! bucket, a validator's totals, a provider's usage and last calls, the last refusals) are
//! held here and written to `counters` by the commit task every [`WRITE_BEHIND`], one
//! version of each per interval. Rewriting a 12 KB record on every call made sled keep
//! every superseded version in memory, and the miner grew with the work it had done.
//! Readers of `counters` see what is held here first.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How often held counters are written and committed: a kill -9 loses at most this much of
/// the statistics (never a task, a delivery or spend, which are written at once).
pub(super) const WRITE_BEHIND: Duration = Duration::from_millis(500);

/// Counter records waiting to be written: the newest value of each key, `None` to remove it.
#[derive(Clone)]
pub(super) struct Behind {
    held: Arc<Mutex<BTreeMap<String, Option<Vec<u8>>>>>,
    counters: sled::Tree,
}

impl Behind {
    pub(super) fn new(counters: sled::Tree) -> Behind {
        Behind {
            held: Arc::default(),
            counters,
        }
    }

    fn held(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Option<Vec<u8>>>> {
        self.held.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Holds `value` (or the removal) for `key`, replacing whatever was held for it.
    pub(super) fn hold(&self, key: &str, value: Option<Vec<u8>>) {
        self.held().insert(key.to_string(), value);
    }

    /// `key`'s held value: `Some(None)` when its removal is held, `None` when nothing is.
    pub(super) fn get(&self, key: &str) -> Option<Option<Vec<u8>>> {
        self.held().get(key).cloned()
    }

    /// What is held under `prefix`, in key order.
    pub(super) fn under(&self, prefix: &str) -> Vec<(String, Option<Vec<u8>>)> {
        self.held()
            .range(prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// Writes everything held to `counters` in one batch; whether there was anything. The
    /// values stay held until the batch is in, so a reader never sees an older one meanwhile.
    pub(super) fn write_out(&self) -> Result<bool, sled::Error> {
        let mut held = self.held();
        if held.is_empty() {
            return Ok(false);
        }
        let mut batch = sled::Batch::default();
        for (k, v) in held.iter() {
            match v {
                Some(v) => batch.insert(k.as_bytes(), v.as_slice()),
                None => batch.remove(k.as_bytes()),
            }
        }
        self.counters.apply_batch(batch)?;
        held.clear();
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_held_value_is_what_is_read_and_written_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = sled::Config::new()
            .path(dir.path())
            .temporary(true)
            .open()
            .expect("db");
        let tree = db.open_tree("counters").expect("tree");
        tree.insert("gone/1", b"old".as_slice()).expect("insert");
        let behind = Behind::new(tree.clone());
        behind.hold("a/1", Some(b"1".to_vec()));
        behind.hold("a/1", Some(b"2".to_vec()));
        behind.hold("gone/1", None);
        assert_eq!(behind.get("a/1"), Some(Some(b"2".to_vec())));
        assert_eq!(behind.get("gone/1"), Some(None));
        assert_eq!(behind.under("a/").len(), 1);
        assert!(tree.get("a/1").expect("get").is_none(), "not written yet");
        assert!(behind.write_out().expect("write"));
        assert_eq!(
            tree.get("a/1").expect("get").as_deref(),
            Some(b"2".as_slice())
        );
        assert!(tree.get("gone/1").expect("get").is_none());
        assert_eq!(behind.get("a/1"), None);
        assert!(!behind.write_out().expect("write"), "nothing left");
    }
}
