//! Spend per modality per minute (`counters`, `spend_1m/<modality>/<start ms>`), held in
//! memory for the last 24 hours, so a spend budget is checked without a scan, the charts have
//! spend per minute, and both survive restarts. Built from the stored call records (their estimated cost) the first
//! time a database written before budgets is opened.

use super::{Store, StoreError};
use crate::budget::Spent;
use crate::task::CallRecord;
use gas_shared::Modality;
use std::collections::BTreeMap;

/// One bucket's span.
pub(crate) const BUCKET_MS: i64 = 60_000;
/// The budgets' window.
const WINDOW_MS: i64 = 86_400_000;
/// Set once the buckets have been built from the call records.
const BUILT: &str = "spend_1m_built";

/// Spend per modality, in buckets of [`BUCKET_MS`] by their start (unix ms).
#[derive(Debug, Default)]
pub(crate) struct SpendWindow(BTreeMap<(i64, Modality), f64>);

fn bucket_of(at_ms: i64) -> i64 {
    at_ms.div_euclid(BUCKET_MS) * BUCKET_MS
}

fn key(modality: Modality, bucket: i64) -> String {
    format!("spend_1m/{modality}/{:020}", bucket.max(0))
}

impl Store {
    /// Reads the last day's buckets into memory, building them from the call records the
    /// first time (a store from before budgets still counts the day it already spent).
    pub(super) fn load_spend(&self, now_ms: i64) -> Result<(), StoreError> {
        if self.counters.get(BUILT)?.is_none() {
            self.build_spend(now_ms)?;
            self.counters.insert(BUILT, &[1u8])?;
        }
        let mut window = SpendWindow::default();
        for modality in Modality::ALL {
            let from = key(modality, bucket_of(now_ms - WINDOW_MS));
            let end = format!("spend_1m/{modality}0");
            for item in self.counters.range(from.as_bytes()..end.as_bytes()) {
                let (k, v) = item?;
                let bucket = std::str::from_utf8(&k)
                    .ok()
                    .and_then(|k| k.rsplit('/').next())
                    .and_then(|b| b.parse::<i64>().ok());
                if let (Some(bucket), Ok(usd)) = (bucket, serde_json::from_slice::<f64>(&v)) {
                    window.0.insert((bucket, modality), usd);
                }
            }
        }
        *self.spend.lock().unwrap_or_else(|p| p.into_inner()) = window;
        Ok(())
    }

    fn build_spend(&self, now_ms: i64) -> Result<(), StoreError> {
        let since = now_ms - WINDOW_MS;
        for item in self.attempts.iter() {
            let (_, v) = item?;
            let Ok(call) = serde_json::from_slice::<CallRecord>(&v) else {
                continue;
            };
            if call.at_ms < since || call.cost_usd.is_none_or(|c| c <= 0.0) {
                continue;
            }
            let modality = match call.modality {
                Some(m) => Some(m),
                None => self.get(&call.task_id)?.map(|t| t.modality),
            };
            if let Some(modality) = modality {
                self.add_spend(modality, call.at_ms, call.cost_usd.unwrap_or(0.0))?;
            }
        }
        Ok(())
    }

    /// Counts a billed call's estimated cost in its bucket, on disk and in memory.
    pub(super) fn add_spend(
        &self,
        modality: Modality,
        at_ms: i64,
        usd: f64,
    ) -> Result<(), StoreError> {
        let bucket = bucket_of(at_ms);
        // Under the lock, so two writers never store an older total.
        let mut window = self.spend.lock().unwrap_or_else(|p| p.into_inner());
        let total = window.0.entry((bucket, modality)).or_insert(0.0);
        *total += usd;
        self.counters.insert(
            key(modality, bucket).as_bytes(),
            serde_json::to_vec(&*total).unwrap_or_default(),
        )?;
        let old = bucket_of(at_ms - WINDOW_MS - BUCKET_MS);
        window.0.retain(|(b, _), _| *b >= old);
        Ok(())
    }

    /// Estimated spend per modality over the 24 hours before `now_ms` (whole minutes: the
    /// oldest one counts until its end leaves the window).
    pub fn spent_last_day(&self, now_ms: i64) -> Spent {
        let since = now_ms - WINDOW_MS;
        let window = self.spend.lock().unwrap_or_else(|p| p.into_inner());
        let mut spent = Spent::default();
        for ((bucket, modality), usd) in window.0.range((bucket_of(since), Modality::Image)..) {
            if bucket + BUCKET_MS <= since {
                continue;
            }
            match modality {
                Modality::Image => spent.image += usd,
                Modality::Video => spent.video += usd,
            }
        }
        spent
    }

    /// Spend per minute (unix minutes; both modalities) since `since_ms`, for the charts.
    pub fn spend_per_minute(&self, since_ms: i64) -> std::collections::BTreeMap<i64, f64> {
        let window = self.spend.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = std::collections::BTreeMap::new();
        for ((bucket, _), usd) in window.0.range((bucket_of(since_ms), Modality::Image)..) {
            *out.entry(bucket / 60_000).or_insert(0.0) += usd;
        }
        out
    }

    /// Forgets buckets older than two days (the window needs one).
    pub(super) fn prune_spend(&self, now_ms: i64) -> Result<(), StoreError> {
        for modality in Modality::ALL {
            let from = key(modality, 0);
            let to = key(modality, bucket_of(now_ms - 2 * WINDOW_MS));
            let old: Vec<sled::IVec> = self
                .counters
                .range(from.as_bytes()..to.as_bytes())
                .keys()
                .collect::<Result<_, _>>()?;
            for k in old {
                self.counters.remove(k)?;
            }
        }
        Ok(())
    }
}
