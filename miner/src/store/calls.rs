//! The `attempts` tree (every provider call, by task) with the per-provider usage totals and
//! last calls in `counters` (written behind: they change on every call), and the `jobs` tree:
//! providers' job ids checkpointed so that a restart resumes a paid job instead of paying
//! again.

use super::{Store, StoreError, encode, scan};
use crate::task::{CallRecord, Checkpoint, Usage};
use gas_shared::admin::CallSummary;
use std::collections::HashMap;

const DAY_MS: i64 = 86_400_000;

/// How many calls are kept per provider for its drill-down.
const RECENT_CALLS: usize = 50;

fn spend_day_key(day_ms: i64) -> String {
    format!("spend_day/{:020}", day_ms.max(0))
}

impl Store {
    pub(super) fn load_usage(&self) -> Result<(), StoreError> {
        let mut usage = HashMap::new();
        for item in self.counters.scan_prefix(b"provider/") {
            let (k, v) = item?;
            let name = String::from_utf8_lossy(&k["provider/".len()..]).into_owned();
            if let Ok(u) = serde_json::from_slice::<Usage>(&v) {
                usage.insert(name, u);
            }
        }
        *self.usage.lock().unwrap_or_else(|p| p.into_inner()) = usage;
        let mut recent = HashMap::new();
        for item in self.counters.scan_prefix(b"calls_recent/") {
            let (k, v) = item?;
            let name = String::from_utf8_lossy(&k["calls_recent/".len()..]).into_owned();
            if let Ok(list) = serde_json::from_slice(&v) {
                recent.insert(name, list);
            }
        }
        *self.recent_calls.lock().unwrap_or_else(|p| p.into_inner()) = recent;
        Ok(())
    }

    /// `provider`'s most recent calls (at most 50, kept across restarts and pruning), newest
    /// first.
    pub fn recent_calls(&self, provider: &str) -> Vec<CallSummary> {
        self.recent_calls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(provider)
            .map(|r| r.iter().rev().cloned().collect())
            .unwrap_or_default()
    }

    /// Calls, errors, bytes, spend and latency per provider.
    pub fn provider_usage(&self) -> HashMap<String, Usage> {
        self.usage.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The `p`-quantile of `provider`'s recent call latencies, without copying the usage.
    pub fn provider_latency_ms(&self, provider: &str, p: f64) -> Option<u64> {
        self.usage
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(provider)
            .and_then(|u| u.latency_ms(p))
    }

    pub fn record_call(&self, call: &CallRecord) -> Result<(), StoreError> {
        let key = format!(
            "{}/{:020}/{}",
            call.task_id,
            call.at_ms,
            self.db.generate_id()?
        );
        let value = encode(&key, call)?;
        self.attempts.insert(key.as_bytes(), value)?;
        // Written under the lock, so a slower writer never stores an older total.
        let mut usage = self.usage.lock().unwrap_or_else(|p| p.into_inner());
        let u = usage.entry(call.provider.clone()).or_default();
        u.add(call);
        self.behind.hold(
            &format!("provider/{}", call.provider),
            Some(serde_json::to_vec(u).unwrap_or_default()),
        );
        drop(usage);
        let mut recent = self.recent_calls.lock().unwrap_or_else(|p| p.into_inner());
        let list = recent.entry(call.provider.clone()).or_default();
        if list.len() == RECENT_CALLS {
            list.pop_front();
        }
        list.push_back(CallSummary {
            at_ms: call.at_ms,
            task_id: call.task_id.clone(),
            op: call.op.clone(),
            model: call.model.clone(),
            status: call.status,
            error: call.error.as_deref().map(|e| crate::text::truncate(e, 300)),
            latency_ms: call.latency_ms,
            cost_usd: call.cost_usd,
        });
        self.behind.hold(
            &format!("calls_recent/{}", call.provider),
            Some(serde_json::to_vec(list).unwrap_or_default()),
        );
        drop(recent);
        if let (Some(cost), Some(modality)) = (call.cost_usd.filter(|c| *c > 0.0), call.modality) {
            self.add_spend(modality, call.at_ms, cost)?;
        }
        if let Some(cost) = call.cost_usd.filter(|c| *c > 0.0) {
            let key = spend_day_key(call.at_ms.div_euclid(DAY_MS) * DAY_MS);
            let before = self
                .counters
                .get(key.as_bytes())?
                .and_then(|v| serde_json::from_slice::<f64>(&v).ok())
                .unwrap_or(0.0);
            self.counters.insert(
                key.as_bytes(),
                serde_json::to_vec(&(before + cost)).unwrap_or_default(),
            )?;
        }
        Ok(())
    }

    /// Spend per UTC day since `since_ms`: (the day's start, unix ms; USD), oldest first.
    /// Kept in `counters`, so pruning calls does not lose it.
    pub fn spend_per_day(&self, since_ms: i64) -> Result<Vec<(i64, f64)>, StoreError> {
        let mut out = Vec::new();
        let from = spend_day_key(since_ms.div_euclid(DAY_MS) * DAY_MS);
        for item in self
            .counters
            .range(from.as_bytes()..b"spend_day0".as_slice())
        {
            let (k, v) = item?;
            let day = std::str::from_utf8(&k["spend_day/".len()..])
                .ok()
                .and_then(|d| d.parse::<i64>().ok());
            if let (Some(day), Ok(usd)) = (day, serde_json::from_slice::<f64>(&v)) {
                out.push((day, usd));
            }
        }
        Ok(out)
    }

    pub fn calls(&self, task_id: &str) -> Result<Vec<CallRecord>, StoreError> {
        scan(&self.attempts, &format!("{task_id}/"))
    }

    /// Stores a provider's job id for a task. Call [`Store::commit`] before relying on it.
    pub fn put_checkpoint(&self, cp: &Checkpoint) -> Result<(), StoreError> {
        let key = format!("{}/{}", cp.task_id, cp.provider);
        let value = encode(&key, cp)?;
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
}
