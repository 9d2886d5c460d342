//! Validators' replies to webhooks: `feedback` (by validator, for statistics) and
//! `deliveries` (by task, for its timeline); and `counters`, the statistics kept across
//! restarts and pruning.

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
        let v = self.counters.get(key.as_bytes()).ok()??;
        serde_json::from_slice(&v).ok()
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
}
