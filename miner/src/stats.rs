//! The numbers on the console's dashboard: challenges accepted and tasks finished, pre-flight
//! pass rate and validators' acceptance rate over the last hour and day (per-minute buckets),
//! and per-validator challenges, webhooks taken and refused, and the last refusal's reason.
//! Every change is written through to the store's counters, so a restart (or pruning old
//! tasks) loses none of it.

use crate::store::Store;
use gas_shared::admin::{Rate, Rates, Throughput, ValidatorStats};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

const DAY_MINUTES: i64 = 24 * 60;

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
struct Bucket {
    accepted: u64,
    finished: u64,
    preflight_passed: u64,
    preflight_total: u64,
    taken: u64,
    replies: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct PerValidator {
    challenges: u64,
    accepted: u64,
    rejected: u64,
    last_rejection: Option<String>,
}

#[derive(Default)]
struct Inner {
    minutes: BTreeMap<i64, Bucket>,
    validators: HashMap<String, PerValidator>,
}

pub(crate) struct Stats {
    store: Store,
    inner: Mutex<Inner>,
}

fn minute(at_ms: i64) -> i64 {
    at_ms.div_euclid(60_000)
}

impl Stats {
    /// Loads what earlier runs counted.
    pub(crate) fn load(store: Store) -> Stats {
        let mut inner = Inner::default();
        for (k, v) in store.counters("minute/") {
            if let (Ok(m), Ok(b)) = (
                k["minute/".len()..].parse::<i64>(),
                serde_json::from_value(v),
            ) {
                inner.minutes.insert(m, b);
            }
        }
        for (k, v) in store.counters("validator/") {
            if let Ok(p) = serde_json::from_value(v) {
                inner
                    .validators
                    .insert(k["validator/".len()..].to_string(), p);
            }
        }
        Stats {
            store,
            inner: Mutex::new(inner),
        }
    }

    fn with_minute(&self, at_ms: i64, change: impl FnOnce(&mut Bucket)) {
        let m = minute(at_ms);
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let b = inner.minutes.entry(m).or_default();
        change(b);
        let value = serde_json::to_value(*b).unwrap_or_default();
        let _ = self.store.put_counter(&format!("minute/{m}"), &value);
        // Buckets older than a day are dropped.
        while let Some((&old, _)) = inner.minutes.first_key_value() {
            if old > m - DAY_MINUTES {
                break;
            }
            inner.minutes.remove(&old);
            let _ = self.store.remove_counter(&format!("minute/{old}"));
        }
    }

    fn with_validator(&self, hotkey: &str, change: impl FnOnce(&mut PerValidator)) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let v = inner.validators.entry(hotkey.to_string()).or_default();
        change(v);
        let value = serde_json::to_value(&*v).unwrap_or_default();
        let _ = self
            .store
            .put_counter(&format!("validator/{hotkey}"), &value);
    }

    /// A challenge was accepted (201).
    pub(crate) fn challenge(&self, validator: &str, at_ms: i64) {
        self.with_minute(at_ms, |b| b.accepted += 1);
        self.with_validator(validator, |v| v.challenges += 1);
    }

    /// A task reached a final state.
    pub(crate) fn finished(&self, at_ms: i64) {
        self.with_minute(at_ms, |b| b.finished += 1);
    }

    /// A pre-flight verdict was reached.
    pub(crate) fn verdict(&self, passed: bool, at_ms: i64) {
        self.with_minute(at_ms, |b| {
            b.preflight_total += 1;
            b.preflight_passed += u64::from(passed);
        });
    }

    /// A validator answered a success webhook: 2xx took it, 4xx refused it (with a reason).
    pub(crate) fn reply(&self, validator: &str, status: Option<u16>, body: &str, at_ms: i64) {
        let Some(status) = status else {
            return;
        };
        let taken = (200..300).contains(&status);
        let refused = (400..500).contains(&status) && !matches!(status, 408 | 425 | 429);
        if !taken && !refused {
            return;
        }
        self.with_minute(at_ms, |b| {
            b.replies += 1;
            b.taken += u64::from(taken);
        });
        self.with_validator(validator, |v| {
            if taken {
                v.accepted += 1;
            } else {
                v.rejected += 1;
                v.last_rejection = Some(crate::text::truncate(body.trim(), 300));
            }
        });
    }

    /// Counts over the last minute, hour and day, and per validator.
    pub(crate) fn snapshot(&self, now_ms: i64) -> (Throughput, Rates, Rates, Vec<ValidatorStats>) {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let now = minute(now_ms);
        let sum = |since: i64| {
            let mut t = Bucket::default();
            for (_, b) in inner.minutes.range(now - since + 1..) {
                t.accepted += b.accepted;
                t.finished += b.finished;
                t.preflight_passed += b.preflight_passed;
                t.preflight_total += b.preflight_total;
                t.taken += b.taken;
                t.replies += b.replies;
            }
            t
        };
        let (m, h, d) = (sum(1), sum(60), sum(DAY_MINUTES));
        let throughput = Throughput {
            accepted_last_minute: m.accepted,
            accepted_last_hour: h.accepted,
            finished_last_minute: m.finished,
            finished_last_hour: h.finished,
        };
        let rate = |p, t| Rate {
            passed: p,
            total: t,
        };
        let preflight = Rates {
            hour: rate(h.preflight_passed, h.preflight_total),
            day: rate(d.preflight_passed, d.preflight_total),
        };
        let acceptance = Rates {
            hour: rate(h.taken, h.replies),
            day: rate(d.taken, d.replies),
        };
        let mut validators: Vec<ValidatorStats> = inner
            .validators
            .iter()
            .map(|(hotkey, v)| ValidatorStats {
                hotkey: hotkey.clone(),
                uid: None,
                challenges: v.challenges,
                accepted: v.accepted,
                rejected: v.rejected,
                last_rejection: v.last_rejection.clone(),
            })
            .collect();
        validators.sort_by(|a, b| {
            b.challenges
                .cmp(&a.challenges)
                .then(a.hotkey.cmp(&b.hotkey))
        });
        (throughput, preflight, acceptance, validators)
    }
}
