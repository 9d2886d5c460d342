//! Validators' replies to webhooks: `feedback` (by validator, for statistics) and
//! `deliveries` (by task, for its timeline); and `counters`, the statistics kept across
//! restarts and pruning (written behind, `behind`).

use super::{Store, StoreError, encode, scan};
use crate::task::Feedback;

impl Store {
    pub fn record_feedback(&self, fb: &Feedback) -> Result<(), StoreError> {
        let key = format!(
            "{}/{:020}/{}",
            fb.validator,
            fb.at_ms,
            self.db.generate_id()?
        );
        let value = encode(&key, fb)?;
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

    /// Every reply from `validator`, oldest first.
    pub fn feedback_for(&self, validator: &str) -> Result<Vec<Feedback>, StoreError> {
        scan(&self.feedback, &format!("{validator}/"))
    }

    /// One counter record, if kept (and readable).
    pub fn counter(&self, key: &str) -> Option<serde_json::Value> {
        let v = match self.behind.get(key) {
            Some(held) => held?,
            None => self.counters.get(key.as_bytes()).ok()??.to_vec(),
        };
        serde_json::from_slice(&v).ok()
    }

    /// Keeps a counter record (JSON) across restarts and pruning. Written behind: it reaches
    /// the disk within half a second, once however often it changes meanwhile.
    pub fn put_counter(&self, key: &str, value: &serde_json::Value) -> Result<(), StoreError> {
        self.behind
            .hold(key, Some(serde_json::to_vec(value).unwrap_or_default()));
        Ok(())
    }

    /// Forgets a counter record (written behind, as [`Store::put_counter`]).
    pub fn remove_counter(&self, key: &str) -> Result<(), StoreError> {
        self.behind.hold(key, None);
        Ok(())
    }

    /// Counter records under `prefix`, in key order: (key, value).
    pub fn counters(&self, prefix: &str) -> Vec<(String, serde_json::Value)> {
        let mut all: std::collections::BTreeMap<String, Vec<u8>> = self
            .counters
            .scan_prefix(prefix.as_bytes())
            .filter_map(Result::ok)
            .map(|(k, v)| (String::from_utf8_lossy(&k).into_owned(), v.to_vec()))
            .collect();
        for (k, held) in self.behind.under(prefix) {
            match held {
                Some(v) => all.insert(k, v),
                None => all.remove(&k),
            };
        }
        all.into_iter()
            .filter_map(|(k, v)| Some((k, serde_json::from_slice(&v).ok()?)))
            .collect()
    }
}
