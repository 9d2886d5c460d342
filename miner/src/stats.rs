//! The numbers on the console's dashboard: challenges accepted and tasks finished, pre-flight
//! pass rate and validators' replies by what they mean (passed, taken with the verdict
//! unknown, rejected, ignored, failure reports) over the last hour and day (per-minute
//! buckets), and per validator: challenges accepted and refused, its replies, and the last
//! rejection's reason; per modality, challenges accepted, refused and finished (admission reads
//! the queue's throughput from these), and refusals by reason. Every change is written through to the store's counters, so a restart
//! (or pruning old tasks) loses none of it.
//!
//! Counters written before replies were classified (`v` 0) held one "taken" count for every
//! 2xx: on load they are rebuilt from the stored replies, and what those no longer explain is
//! counted as taken (verdict unknown), never as passed.

use crate::store::Store;
use gas_shared::Modality;
use gas_shared::admin::{
    Rate, Rates, RefusalSummary, Refusals, ReplyRates, Throughput, ValidatorStats,
};
use gas_shared::reply::{ReplyClass, ReplyCounts};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Mutex;

const DAY_MINUTES: i64 = 24 * 60;

/// The counters' format: 2 since replies are classified.
const VERSION: u32 = 2;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Bucket {
    #[serde(default)]
    v: u32,
    accepted: u64,
    finished: u64,
    preflight_passed: u64,
    preflight_total: u64,
    #[serde(default)]
    replies_by_class: ReplyCounts,
    /// Format 0: every 2xx, and every 2xx or final 4xx. Read once, then zero.
    #[serde(default, skip_serializing_if = "is_zero")]
    taken: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    replies: u64,
    /// Per modality: what admission and the queue's throughput are read from.
    #[serde(default)]
    image: ModalityCounts,
    #[serde(default)]
    video: ModalityCounts,
    /// Refusals before the 201, by reason (`admission`'s labels).
    #[serde(default)]
    refused: RefusedCounts,
    /// Provider attempts that ended in the minute, by duration: bin `i` counts those under
    /// 2^i ms (the last bin, everything longer).
    #[serde(default)]
    attempts: Durations,
    /// The same, per provider.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    by_provider: BTreeMap<String, Durations>,
}

/// How long attempts took, in bins doubling in width (under 1 ms, 2 ms, 4 ms … 2^23 ms).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq)]
struct Durations([u32; 24]);

impl Durations {
    fn add(&mut self, ms: u64) {
        let bin = (64 - ms.leading_zeros() as usize).min(23);
        self.0[bin] = self.0[bin].saturating_add(1);
    }

    /// The upper edge of the bin holding the 95th percentile.
    fn p95_ms(&self) -> Option<u64> {
        let n: u64 = self.0.iter().map(|c| u64::from(*c)).sum();
        if n == 0 {
            return None;
        }
        let want = (n * 95).div_ceil(100);
        let mut seen = 0;
        for (i, c) in self.0.iter().enumerate() {
            seen += u64::from(*c);
            if seen >= want {
                return Some(1u64 << i);
            }
        }
        None
    }
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
struct ModalityCounts {
    #[serde(default)]
    accepted: u64,
    #[serde(default)]
    finished: u64,
    #[serde(default)]
    refused: u64,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
struct RefusedCounts {
    #[serde(default)]
    no_service: u64,
    #[serde(default)]
    no_provider: u64,
    #[serde(default)]
    wait: u64,
    #[serde(default)]
    budget: u64,
    #[serde(default)]
    queue_full: u64,
}

impl RefusedCounts {
    fn slot(&mut self, reason: &str) -> &mut u64 {
        match reason {
            crate::admission::NO_PROVIDER => &mut self.no_provider,
            crate::admission::WAIT => &mut self.wait,
            crate::admission::BUDGET => &mut self.budget,
            crate::admission::QUEUE_FULL => &mut self.queue_full,
            _ => &mut self.no_service,
        }
    }

    fn merge(&mut self, o: &RefusedCounts) {
        self.no_service += o.no_service;
        self.no_provider += o.no_provider;
        self.wait += o.wait;
        self.budget += o.budget;
        self.queue_full += o.queue_full;
    }

    fn named(&self) -> Vec<(String, u64)> {
        [
            (crate::admission::NO_SERVICE, self.no_service),
            (crate::admission::NO_PROVIDER, self.no_provider),
            (crate::admission::WAIT, self.wait),
            (crate::admission::BUDGET, self.budget),
            (crate::admission::QUEUE_FULL, self.queue_full),
        ]
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(r, n)| (r.to_string(), n))
        .collect()
    }
}

impl Bucket {
    fn of(&mut self, modality: Modality) -> &mut ModalityCounts {
        match modality {
            Modality::Image => &mut self.image,
            Modality::Video => &mut self.video,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct PerValidator {
    #[serde(default)]
    v: u32,
    challenges: u64,
    #[serde(default)]
    refused: u64,
    #[serde(default)]
    replies_by_class: ReplyCounts,
    last_rejection: Option<String>,
    /// Format 0: every 2xx, and every final 4xx. Read once, then zero.
    #[serde(default, skip_serializing_if = "is_zero")]
    accepted: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    rejected: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Accepted and finished tasks per second over the last 60 seconds, so that "per minute"
/// is the last 60 seconds, not the clock's current minute (which starts again at zero).
struct LastMinute {
    /// Per slot (second % 60): the second it counts, then accepted and finished.
    slots: [(i64, u64, u64); 60],
}

impl Default for LastMinute {
    fn default() -> LastMinute {
        LastMinute {
            slots: [(i64::MIN, 0, 0); 60],
        }
    }
}

impl LastMinute {
    fn slot(&mut self, at_ms: i64) -> &mut (i64, u64, u64) {
        let second = at_ms.div_euclid(1000);
        let slot = &mut self.slots[second.rem_euclid(60) as usize];
        if slot.0 != second {
            *slot = (second, 0, 0);
        }
        slot
    }

    /// (accepted, finished) in the 60 seconds up to `now_ms`.
    fn sum(&self, now_ms: i64) -> (u64, u64) {
        let now = now_ms.div_euclid(1000);
        self.slots
            .iter()
            .filter(|(second, _, _)| *second > now - 60 && *second <= now)
            .fold((0, 0), |(a, f), (_, x, y)| (a + x, f + y))
    }
}

#[derive(Default)]
struct Inner {
    minutes: BTreeMap<i64, Bucket>,
    last_minute: LastMinute,
    validators: HashMap<String, PerValidator>,
    /// The minute each refusal reason was last logged: one line per reason per minute.
    logged: HashMap<&'static str, i64>,
    /// Refusals by reason since the database was made (`/metrics`' counter).
    refused_total: BTreeMap<String, u64>,
    /// Each validator's most recent refusals, newest last.
    recent_refusals: HashMap<String, VecDeque<RefusalSummary>>,
}

/// How many refusals are kept per validator.
const RECENT_REFUSALS: usize = 20;

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
        for (k, v) in store.counters("refusals_recent/") {
            if let Ok(list) = serde_json::from_value(v) {
                inner
                    .recent_refusals
                    .insert(k["refusals_recent/".len()..].to_string(), list);
            }
        }
        for (k, v) in store.counters("refused/") {
            if let Some(n) = v.as_u64() {
                inner
                    .refused_total
                    .insert(k["refused/".len()..].to_string(), n);
            }
        }
        if inner.minutes.values().any(|b| b.v < VERSION)
            || inner.validators.values().any(|v| v.v < VERSION)
        {
            migrate(&store, &mut inner);
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
        b.v = VERSION;
        change(b);
        let value = serde_json::to_value(&*b).unwrap_or_default();
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
        v.v = VERSION;
        change(v);
        let value = serde_json::to_value(&*v).unwrap_or_default();
        let _ = self
            .store
            .put_counter(&format!("validator/{hotkey}"), &value);
    }

    /// A challenge was accepted (201).
    pub(crate) fn challenge(&self, validator: &str, modality: Modality, at_ms: i64) {
        self.with_minute(at_ms, |b| {
            b.accepted += 1;
            b.of(modality).accepted += 1;
        });
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .last_minute
            .slot(at_ms)
            .1 += 1;
        self.with_validator(validator, |v| v.challenges += 1);
    }

    /// A task reached a final state.
    pub(crate) fn finished(&self, modality: Modality, at_ms: i64) {
        self.with_minute(at_ms, |b| {
            b.finished += 1;
            b.of(modality).finished += 1;
        });
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .last_minute
            .slot(at_ms)
            .2 += 1;
    }

    /// Tasks of `modality` that reached a final state in the last hour: the queue's
    /// throughput, read from memory on every challenge.
    pub(crate) fn finished_last_hour(&self, modality: Modality, now_ms: i64) -> u64 {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let now = minute(now_ms);
        inner
            .minutes
            .range(now - 59..)
            .map(|(_, b)| match modality {
                Modality::Image => b.image.finished,
                Modality::Video => b.video.finished,
            })
            .sum()
    }

    /// How many minutes of the last hour the statistics cover (1 to 60): since the oldest
    /// minute counted in it. A miner started ten minutes ago has ten minutes of throughput,
    /// not an hour's.
    pub(crate) fn minutes_covered(&self, now_ms: i64) -> f64 {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let now = minute(now_ms);
        let Some((&oldest, _)) = inner.minutes.range(now - 59..).next() else {
            return 60.0;
        };
        ((now_ms - oldest * 60_000) as f64 / 60_000.0).clamp(1.0, 60.0)
    }

    /// An attempt at `provider` ended after `ms` (whatever its result).
    pub(crate) fn attempt(&self, provider: &str, ms: u64, at_ms: i64) {
        self.with_minute(at_ms, |b| {
            b.attempts.add(ms);
            match b.by_provider.get_mut(provider) {
                Some(d) => d.add(ms),
                None => {
                    let mut d = Durations::default();
                    d.add(ms);
                    b.by_provider.insert(provider.to_string(), d);
                }
            }
        });
    }

    /// The per-minute points since `since_ms`, oldest first, with `spend` per minute.
    pub(crate) fn minutes(
        &self,
        since_ms: i64,
        spend: &std::collections::BTreeMap<i64, f64>,
    ) -> Vec<gas_shared::admin::MinutePoint> {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let from = minute(since_ms);
        let mut points: std::collections::BTreeMap<i64, gas_shared::admin::MinutePoint> = inner
            .minutes
            .range(from..)
            .map(|(m, b)| {
                (
                    *m,
                    gas_shared::admin::MinutePoint {
                        minute: *m,
                        accepted: b.accepted,
                        refused: b.image.refused + b.video.refused,
                        finished: b.finished,
                        preflight_passed: b.preflight_passed,
                        preflight_total: b.preflight_total,
                        attempt_p95_ms: b.attempts.p95_ms(),
                        provider_p95_ms: b
                            .by_provider
                            .iter()
                            .filter_map(|(p, d)| Some((p.clone(), d.p95_ms()?)))
                            .collect(),
                        spend_usd: 0.0,
                    },
                )
            })
            .collect();
        for (m, usd) in spend.range(from..) {
            points
                .entry(*m)
                .or_insert(gas_shared::admin::MinutePoint {
                    minute: *m,
                    ..Default::default()
                })
                .spend_usd = *usd;
        }
        points.into_values().collect()
    }

    /// A pre-flight verdict was reached.
    pub(crate) fn verdict(&self, passed: bool, at_ms: i64) {
        self.with_minute(at_ms, |b| {
            b.preflight_total += 1;
            b.preflight_passed += u64::from(passed);
        });
    }

    /// We refused a validator's challenge for `reason` (an `admission` label): it costs
    /// nothing, unlike an accepted challenge that fails. Returns whether this is the reason's
    /// first refusal this minute, i.e. whether to log it. `detail` is what the 503 said; the
    /// validator's last [`RECENT_REFUSALS`] are kept with it.
    pub(crate) fn refused(
        &self,
        validator: &str,
        modality: Modality,
        reason: &'static str,
        detail: &str,
        at_ms: i64,
    ) -> bool {
        self.with_minute(at_ms, |b| {
            *b.refused.slot(reason) += 1;
            b.of(modality).refused += 1;
        });
        self.with_validator(validator, |v| v.refused += 1);
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let total = inner.refused_total.entry(reason.to_string()).or_default();
        *total += 1;
        let _ = self
            .store
            .put_counter(&format!("refused/{reason}"), &serde_json::json!(*total));
        let recent = inner
            .recent_refusals
            .entry(validator.to_string())
            .or_default();
        if recent.len() == RECENT_REFUSALS {
            recent.pop_front();
        }
        recent.push_back(RefusalSummary {
            at_ms,
            modality,
            reason: reason.to_string(),
            detail: crate::text::truncate(detail, 300),
        });
        let value = serde_json::to_value(&*recent).unwrap_or_default();
        let _ = self
            .store
            .put_counter(&format!("refusals_recent/{validator}"), &value);
        let m = minute(at_ms);
        inner.logged.insert(reason, m) != Some(m)
    }

    /// A validator's most recent refusals, newest first.
    pub(crate) fn recent_refusals(&self, validator: &str) -> Vec<RefusalSummary> {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner
            .recent_refusals
            .get(validator)
            .map(|r| r.iter().rev().cloned().collect())
            .unwrap_or_default()
    }

    /// Refusals by reason over the last hour and day, and per modality over the day.
    pub(crate) fn refusals(&self, now_ms: i64) -> Refusals {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let now = minute(now_ms);
        let (mut hour, mut day) = (RefusedCounts::default(), RefusedCounts::default());
        let (mut image, mut video) = (ModalityCounts::default(), ModalityCounts::default());
        for (m, b) in inner.minutes.range(now - DAY_MINUTES + 1..) {
            if *m > now - 60 {
                hour.merge(&b.refused);
            }
            day.merge(&b.refused);
            for (total, one) in [(&mut image, &b.image), (&mut video, &b.video)] {
                total.accepted += one.accepted;
                total.refused += one.refused;
            }
        }
        Refusals {
            total: inner
                .refused_total
                .iter()
                .map(|(r, n)| (r.clone(), *n))
                .collect(),
            hour: hour.named(),
            day: day.named(),
            day_by_modality: vec![
                (Modality::Image, image.accepted, image.refused),
                (Modality::Video, video.accepted, video.refused),
            ],
        }
    }

    /// A validator answered a webhook; `class` says what the answer means. Retries and
    /// undelivered webhooks are not replies to count.
    pub(crate) fn reply(&self, validator: &str, class: ReplyClass, body: &str, at_ms: i64) {
        if matches!(class, ReplyClass::Retry | ReplyClass::Undelivered) {
            return;
        }
        self.with_minute(at_ms, |b| b.replies_by_class.add(class));
        self.with_validator(validator, |v| {
            v.replies_by_class.add(class);
            if class == ReplyClass::Rejected {
                v.last_rejection = Some(crate::text::truncate(body.trim(), 300));
            }
        });
    }

    /// Counts over the last minute, hour and day, and per validator.
    pub(crate) fn snapshot(
        &self,
        now_ms: i64,
    ) -> (Throughput, Rates, ReplyRates, Vec<ValidatorStats>) {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let now = minute(now_ms);
        let sum = |since: i64| {
            let mut t = Bucket::default();
            for (_, b) in inner.minutes.range(now - since + 1..) {
                t.accepted += b.accepted;
                t.finished += b.finished;
                t.preflight_passed += b.preflight_passed;
                t.preflight_total += b.preflight_total;
                t.replies_by_class.merge(&b.replies_by_class);
            }
            t
        };
        let (h, d) = (sum(60), sum(DAY_MINUTES));
        let (accepted_last_minute, finished_last_minute) = inner.last_minute.sum(now_ms);
        let throughput = Throughput {
            accepted_last_minute,
            accepted_last_hour: h.accepted,
            finished_last_minute,
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
        let replies = ReplyRates {
            hour: h.replies_by_class,
            day: d.replies_by_class,
        };
        let mut validators: Vec<ValidatorStats> = inner
            .validators
            .iter()
            .map(|(hotkey, v)| ValidatorStats {
                hotkey: hotkey.clone(),
                uid: None,
                challenges: v.challenges,
                refused: v.refused,
                replies: v.replies_by_class,
                last_rejection: v.last_rejection.clone(),
            })
            .collect();
        validators.sort_by(|a, b| {
            b.challenges
                .cmp(&a.challenges)
                .then(a.hotkey.cmp(&b.hotkey))
        });
        (throughput, preflight, replies, validators)
    }
}

/// Rebuilds reply counts written before replies were classified, from the replies the store
/// still holds; what they no longer explain (pruned) stays counted, as taken or rejected.
fn migrate(store: &Store, inner: &mut Inner) {
    let mut by_minute: BTreeMap<i64, ReplyCounts> = BTreeMap::new();
    let mut by_validator: HashMap<String, (ReplyCounts, Option<String>)> = HashMap::new();
    for fb in store.all_feedback() {
        let class = ReplyClass::of(fb.kind == "failure", fb.status, &fb.body);
        by_minute.entry(minute(fb.at_ms)).or_default().add(class);
        let entry = by_validator.entry(fb.validator.clone()).or_default();
        entry.0.add(class);
        if class == ReplyClass::Rejected {
            entry.1 = Some(crate::text::truncate(fb.body.trim(), 300));
        }
    }
    for (m, b) in inner.minutes.iter_mut().filter(|(_, b)| b.v < VERSION) {
        let mut counts = by_minute.remove(m).unwrap_or_default();
        let taken = counts.passed + counts.taken + counts.ignored + counts.failures;
        counts.taken += b.taken.saturating_sub(taken);
        let refused = b.replies.saturating_sub(b.taken);
        counts.rejected += refused.saturating_sub(counts.rejected);
        b.v = VERSION;
        b.replies_by_class = counts;
        b.taken = 0;
        b.replies = 0;
        let value = serde_json::to_value(&*b).unwrap_or_default();
        let _ = store.put_counter(&format!("minute/{m}"), &value);
    }
    for (hotkey, v) in inner.validators.iter_mut().filter(|(_, v)| v.v < VERSION) {
        let (mut counts, last) = by_validator.remove(hotkey).unwrap_or_default();
        let taken = counts.passed + counts.taken + counts.ignored + counts.failures;
        counts.taken += v.accepted.saturating_sub(taken);
        counts.rejected += v.rejected.saturating_sub(counts.rejected);
        v.v = VERSION;
        v.replies_by_class = counts;
        v.last_rejection = v.last_rejection.take().or(last);
        v.accepted = 0;
        v.rejected = 0;
        let value = serde_json::to_value(&*v).unwrap_or_default();
        let _ = store.put_counter(&format!("validator/{hotkey}"), &value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::Feedback;

    fn reply(validator: &str, kind: &str, status: u16, body: &str, at_ms: i64) -> Feedback {
        Feedback {
            validator: validator.into(),
            task_id: format!("t{at_ms}"),
            kind: kind.into(),
            attempt: 1,
            status: Some(status),
            body: body.into(),
            at_ms,
        }
    }

    #[tokio::test]
    async fn counters_from_before_classification_are_read_in_the_new_terms() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("store");
        // Early in a minute, so that every reply below falls in it.
        let now = minute(crate::clock::now_ms()) * 60_000 + 1_000;
        let m = minute(now);
        // As the last build wrote them: every 2xx "taken", one refusal; three replies of the
        // four are still stored (one was pruned).
        let old_minute = serde_json::json!({"accepted": 4, "finished": 4, "preflight_passed": 4,
            "preflight_total": 4, "taken": 4, "replies": 5});
        store
            .put_counter(&format!("minute/{m}"), &old_minute)
            .expect("counter");
        let old_validator = serde_json::json!({"challenges": 5, "accepted": 4, "rejected": 1,
            "last_rejection": "duplicate"});
        store
            .put_counter("validator/5V", &old_validator)
            .expect("counter");
        for fb in [
            reply("5V", "success", 200, "Binary content received", now),
            reply("5V", "success", 202, "Callback accepted", now + 1),
            reply("5V", "success", 400, "duplicate", now + 2),
            reply(
                "5V",
                "success",
                503,
                "Validator could not accept callback",
                now + 3,
            ),
        ] {
            store.record_feedback(&fb).expect("feedback");
        }
        let stats = Stats::load(store.clone());
        let (_, _, replies, validators) = stats.snapshot(now);
        let want = ReplyCounts {
            passed: 1,
            // One 202 stored, and two 2xx no longer stored: taken, never passed.
            taken: 3,
            rejected: 1,
            ..ReplyCounts::default()
        };
        assert_eq!(replies.day, want);
        assert_eq!(validators[0].replies, want);
        assert_eq!(validators[0].challenges, 5);
        assert_eq!(validators[0].last_rejection.as_deref(), Some("duplicate"));
        // Rewritten once: a second load reads the same.
        drop(stats);
        let (_, _, again, _) = Stats::load(store).snapshot(now);
        assert_eq!(again.day, want);
    }

    #[tokio::test]
    async fn a_202_counts_as_taken_and_a_refused_challenge_as_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let stats = Stats::load(Store::open(dir.path()).expect("store"));
        let now = crate::clock::now_ms();
        stats.challenge("5V", Modality::Image, now);
        assert!(stats.refused("5V", Modality::Video, crate::admission::WAIT, "busy", now));
        assert!(
            !stats.refused(
                "5V",
                Modality::Video,
                crate::admission::WAIT,
                "busy too",
                now + 1
            ),
            "logged once a minute"
        );
        let recent = stats.recent_refusals("5V");
        assert_eq!(
            recent.iter().map(|r| r.detail.as_str()).collect::<Vec<_>>(),
            ["busy too", "busy"],
            "newest first"
        );
        assert_eq!(
            Stats::load(stats.store.clone()).recent_refusals("5V"),
            recent,
            "kept across a restart"
        );
        stats.reply("5V", ReplyClass::Taken, "Callback accepted", now);
        stats.reply("5V", ReplyClass::Retry, "busy", now);
        let (_, _, replies, validators) = stats.snapshot(now);
        assert_eq!((replies.hour.passed, replies.hour.taken), (0, 1));
        assert_eq!(replies.hour.verdicts().total, 0, "a 202 is no verdict");
        assert_eq!((validators[0].challenges, validators[0].refused), (1, 2));
        let refusals = stats.refusals(now);
        assert_eq!(refusals.hour, vec![("wait".to_string(), 2)]);
        assert_eq!(refusals.total, vec![("wait".to_string(), 2)]);
        assert_eq!(refusals.unanswered(), vec![Modality::Video]);
        stats.finished(Modality::Image, now);
        assert_eq!(stats.finished_last_hour(Modality::Image, now), 1);
        assert_eq!(stats.finished_last_hour(Modality::Video, now), 0);
        for i in 0..30 {
            stats.refused(
                "5W",
                Modality::Image,
                crate::admission::BUDGET,
                "x",
                now + i,
            );
        }
        assert_eq!(
            stats.recent_refusals("5W").len(),
            RECENT_REFUSALS,
            "bounded"
        );
    }

    #[tokio::test]
    async fn the_charts_minutes_carry_each_providers_p95_across_a_restart() {
        let dir = tempfile::tempdir().expect("tempdir");
        let stats = Stats::load(Store::open(dir.path()).expect("store"));
        let now = crate::clock::now_ms();
        for _ in 0..19 {
            stats.attempt("openrouter", 3_000, now);
        }
        stats.attempt("runway", 70_000, now);
        let point = |stats: &Stats| {
            stats
                .minutes(now - 60_000, &BTreeMap::new())
                .pop()
                .expect("a point")
        };
        let p = point(&stats);
        // 3 s falls in the bin up to 4096 ms; 70 s in the one up to 131072 ms.
        assert_eq!(p.attempt_p95_ms, Some(4_096), "19 of 20 took 3 s");
        assert_eq!(
            p.provider_p95_ms.into_iter().collect::<Vec<_>>(),
            [
                ("openrouter".to_string(), 4_096),
                ("runway".to_string(), 131_072)
            ]
        );
        let again = Stats::load(stats.store.clone());
        assert_eq!(
            point(&again).provider_p95_ms.len(),
            2,
            "kept in the counters"
        );
    }

    #[tokio::test]
    async fn the_hour_covers_only_the_minutes_the_miner_has_counted() {
        let dir = tempfile::tempdir().expect("tempdir");
        let stats = Stats::load(Store::open(dir.path()).expect("store"));
        let now = 1_800_000_000_000i64;
        assert_eq!(stats.minutes_covered(now), 60.0, "nothing counted: an hour");
        stats.finished(Modality::Image, now - 10 * 60_000);
        let covered = stats.minutes_covered(now);
        assert!((10.0..11.0).contains(&covered), "{covered}");
        stats.finished(Modality::Image, now - 90 * 60_000);
        assert!(
            (10.0..11.0).contains(&stats.minutes_covered(now)),
            "older than the hour does not count"
        );
        assert_eq!(stats.minutes_covered(now + 120 * 60_000), 60.0);
    }

    #[test]
    fn per_minute_counts_are_the_last_sixty_seconds_not_the_clock_minute() {
        let mut m = LastMinute::default();
        // Three at 12:00:50, two at 12:01:05: at 12:01:10 all five are in the last minute,
        // although the clock's minute has only two.
        let base = 1_800_000_000_000i64 - 1_800_000_000_000i64.rem_euclid(60_000);
        for _ in 0..3 {
            m.slot(base + 50_000).1 += 1;
        }
        for _ in 0..2 {
            m.slot(base + 65_000).1 += 1;
        }
        m.slot(base + 65_000).2 += 1;
        assert_eq!(m.sum(base + 70_000), (5, 1));
        assert_eq!(
            m.sum(base + 111_000),
            (2, 1),
            "the first three are over 60 s old"
        );
        assert_eq!(m.sum(base + 200_000), (0, 0));
    }

    #[test]
    fn attempt_durations_give_a_p95_within_a_factor_of_two() {
        let mut d = Durations::default();
        assert_eq!(d.p95_ms(), None);
        for _ in 0..95 {
            d.add(900);
        }
        for _ in 0..5 {
            d.add(40_000);
        }
        assert_eq!(d.p95_ms(), Some(1024), "95 of 100 under 1.024 s");
        d.add(40_000);
        assert_eq!(d.p95_ms(), Some(65_536));
    }
}
