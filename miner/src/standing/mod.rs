//! Standing: what the subnet really pays us and why (STANDING.md). `api` reads the subnet's
//! API (verdicts and the fool-rate gate) signed by our hotkey; `estimate` runs the
//! validators' formula on our own outcomes (`outcomes`); the chain's view comes from
//! `chain`. [`Standing`] reads the API and the chain every `MINER_STANDING_POLL` seconds and
//! on demand, keeps each snapshot in the store (30 days, for charts) and serves the joined
//! view. It runs beside the miner, never on the path that answers validators: when the API
//! is down, the last good snapshot is shown with its age and the reason, and nothing else
//! is affected.

pub(crate) mod api;
pub(crate) mod estimate;
pub(crate) mod outcomes;

use crate::chain::subtensor::Subtensor;
use crate::clock::now_ms;
use crate::identity::Hotkey;
use crate::store::Store;
use estimate::Tally;
use gas_shared::Modality;
use gas_shared::admin::{StandingSummary, ValidatorStats};
use gas_shared::standing::{ApiStanding, ChainStanding, StandingView, ValidatorStanding};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Snapshots are kept this long.
const KEEP_MS: i64 = 30 * 86_400_000;

/// The lookback asked of the API: the gate's own window.
const LOOKBACK_DAYS: u32 = 7;

/// What the last reads said, beside the stored snapshots.
#[derive(Default)]
struct Last {
    api_tried_ms: Option<i64>,
    api_error: Option<String>,
    signature_refused: bool,
    chain_error: Option<String>,
    summary: Option<StandingSummary>,
    /// The estimate as of the last summary (for metrics, which are scraped often).
    estimate: gas_shared::standing::Estimate,
}

/// Our outcomes of the last 24 h summed per minute of ending, kept up to date task by task
/// as tasks end. The store keeps the sums (`outcome_1m/…` counters) and each task's counted
/// outcome (`outcomes`), so a start reads at most 1,440 sums and the few tasks that ended
/// unseen, never every task: memory follows the kinds of outcome, not the tasks.
#[derive(Default)]
struct Window {
    loaded: bool,
    /// Minute of ending → the outcomes that ended in it.
    minutes: BTreeMap<i64, Tally>,
}

/// Where a minute's sum is kept (`counters`).
fn minute_key(minute: i64) -> String {
    format!("{MINUTE_PREFIX}{minute:012}")
}

const MINUTE_PREFIX: &str = "outcome_1m/";

/// `counters`: every task that ended before this time has been counted.
const COUNTED_THROUGH: &str = "outcomes_counted_through";

pub(crate) struct Standing {
    store: Store,
    window: Mutex<Window>,
    /// Task ids as they end; read by `absorb`.
    finals: Mutex<tokio::sync::broadcast::Receiver<String>>,
    key: Arc<Hotkey>,
    url: String,
    client: reqwest::Client,
    /// None offline (`BT_METAGRAPH_FILE`): no chain to read.
    chain: Option<Arc<Subtensor>>,
    last: Mutex<Last>,
    /// One read at a time (a poll and a console's refresh may meet).
    reading: tokio::sync::Mutex<()>,
}

impl Standing {
    pub(crate) fn new(
        store: Store,
        key: Arc<Hotkey>,
        url: &str,
        chain: Option<Arc<Subtensor>>,
    ) -> Standing {
        Standing {
            finals: Mutex::new(store.subscribe_finals()),
            window: Mutex::default(),
            store,
            key,
            url: url.trim_end_matches('/').to_string(),
            client: api::client(),
            chain,
            last: Mutex::default(),
            reading: tokio::sync::Mutex::new(()),
        }
    }

    fn last(&self) -> std::sync::MutexGuard<'_, Last> {
        self.last.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Reads the API and the chain now, keeps what they said, and refreshes the summary.
    pub(crate) async fn read_now(self: &Arc<Self>) {
        let _one = self.reading.lock().await;
        let at = now_ms();
        let fetched = api::fetch(&self.client, &self.url, &self.key, LOOKBACK_DAYS, None).await;
        {
            let mut last = self.last();
            last.api_tried_ms = Some(at);
            match &fetched {
                Ok(_) => {
                    last.api_error = None;
                    last.signature_refused = false;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "standing: the subnet's API could not be read; showing the last good snapshot");
                    last.api_error = Some(e.to_string());
                    last.signature_refused = matches!(e, api::ApiFailure::SignatureRefused { .. });
                }
            }
        }
        if let Ok(f) = fetched
            && let Err(e) = self.store.put_snapshot("api", at, f.raw.as_bytes())
        {
            tracing::warn!(error = %e, "standing: the API's snapshot could not be kept");
        }
        if let Some(chain) = &self.chain {
            let read = tokio::time::timeout(
                Duration::from_secs(120),
                chain.read_standing(self.key.ss58()),
            )
            .await
            .unwrap_or(Err(crate::chain::ChainError::Timeout(120)));
            match read {
                Ok(view) => {
                    self.last().chain_error = None;
                    let kept = serde_json::to_vec(&view).unwrap_or_default();
                    if let Err(e) = self.store.put_snapshot("chain", at, &kept) {
                        tracing::warn!(error = %e, "standing: the chain's snapshot could not be kept");
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "standing: the chain's view could not be read");
                    self.last().chain_error = Some(e.to_string());
                }
            }
        }
        if let Err(e) = self.store.prune_standing(at - KEEP_MS) {
            tracing::warn!(error = %e, "standing: old snapshots could not be pruned");
        }
        self.summarise_aside().await;
    }

    /// `summarise` on a blocking thread: it reads the store, which must not hold up the
    /// runtime that answers validators.
    async fn summarise_aside(self: &Arc<Self>) {
        let me = self.clone();
        let _ = tokio::task::spawn_blocking(move || me.summarise(now_ms())).await;
    }

    /// Reads every `poll` (None: only when asked) until `stop`; refreshes the summary every
    /// minute in between, as our own outcomes change.
    pub(crate) async fn run(
        self: Arc<Self>,
        poll: Option<Duration>,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) {
        // The window is loaded and the first summary made off the start-up path.
        self.summarise_aside().await;
        let mut next_read = poll.map(|_| tokio::time::Instant::now());
        loop {
            let tick = tokio::time::Instant::now() + Duration::from_secs(60);
            let wake = next_read.map_or(tick, |n| n.min(tick));
            tokio::select! {
                _ = tokio::time::sleep_until(wake) => {}
                _ = stop.changed() => return,
            }
            if let (Some(due), Some(every)) = (next_read, poll)
                && tokio::time::Instant::now() >= due
            {
                self.read_now().await;
                next_read = Some(tokio::time::Instant::now() + every);
            } else {
                self.summarise_aside().await;
            }
        }
    }

    /// The dashboard's line (None until the API was first asked).
    pub(crate) fn summary(&self) -> Option<StandingSummary> {
        self.last().summary.clone()
    }

    fn summarise(&self, now: i64) {
        let api = self.api_view();
        let estimate = self.estimate(now, &api);
        let incentive = self
            .store
            .latest_snapshot("chain")
            .ok()
            .flatten()
            .and_then(|(_, raw)| serde_json::from_slice::<ChainStanding>(&raw).ok())
            .and_then(|c| c.incentive);
        let summary =
            (api.fetched_ms.is_some() || api.tried_ms.is_some()).then(|| StandingSummary {
                gates: api
                    .gates
                    .iter()
                    .filter_map(|g| Some((g.modality?, g.status.clone(), g.fool_rate)))
                    .collect(),
                pass_rate: api.pass_rate,
                fetched_ms: api.fetched_ms,
                error: api.error.clone(),
                r_estimate: estimate.r,
                incentive,
            });
        let mut last = self.last();
        last.summary = summary;
        last.estimate = estimate;
    }

    /// The API's last good snapshot, with the last try's failure.
    fn api_view(&self) -> ApiStanding {
        let mut view = match self.store.latest_snapshot("api") {
            Ok(Some((at, raw))) => match serde_json::from_slice::<api::Performance>(&raw) {
                Ok(p) => api::view(&p, at, &self.url),
                Err(e) => ApiStanding {
                    url: self.url.clone(),
                    error: Some(format!("the kept snapshot is unreadable: {e}")),
                    ..ApiStanding::default()
                },
            },
            Ok(None) => ApiStanding {
                url: self.url.clone(),
                ..ApiStanding::default()
            },
            Err(e) => ApiStanding {
                url: self.url.clone(),
                error: Some(e.to_string()),
                ..ApiStanding::default()
            },
        };
        if view.fetched_ms.is_some() && !view.history_available {
            // An older server: the gates of the last answer that had them, with their age.
            let older = self
                .store
                .snapshots_since("api", crate::clock::now_ms() - KEEP_MS)
                .unwrap_or_default();
            let with_history = older.into_iter().rev().find_map(|(at, raw)| {
                let p = serde_json::from_slice::<api::Performance>(&raw).ok()?;
                let v = api::view(&p, at, &self.url);
                v.history_available.then_some((at, v.gates))
            });
            if let Some((at, gates)) = with_history {
                view.gates = gates;
                view.gates_fetched_ms = Some(at);
            }
        } else {
            view.gates_fetched_ms = view.fetched_ms;
        }
        let last = self.last();
        view.tried_ms = last.api_tried_ms;
        if last.api_error.is_some() {
            view.error = last.api_error.clone();
            view.signature_refused = last.signature_refused;
        }
        view
    }

    /// The chain's last reading with the incentive over time, or why there is none.
    fn chain_view(&self, now: i64) -> ChainStanding {
        if self.chain.is_none() {
            return ChainStanding {
                available: false,
                reason: Some(
                    "not available offline (BT_METAGRAPH_FILE): the chain's view needs BT_CHAIN_ENDPOINT"
                        .into(),
                ),
                ..ChainStanding::default()
            };
        }
        let mut view = match self.store.latest_snapshot("chain") {
            Ok(Some((_, raw))) => serde_json::from_slice(&raw).unwrap_or_default(),
            _ => ChainStanding::default(),
        };
        if let Some(e) = &self.last().chain_error {
            view.reason = Some(match view.read_ms {
                Some(_) => format!("the last read failed ({e}); showing the one before"),
                None => e.clone(),
            });
        } else if view.read_ms.is_none() {
            view.reason = Some("not read yet".into());
        }
        view.incentive_history = self
            .store
            .snapshots_since("chain", now - KEEP_MS)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(at, raw)| {
                let c: ChainStanding = serde_json::from_slice(&raw).ok()?;
                Some((at, c.incentive?))
            })
            .collect();
        view
    }

    fn estimate(&self, now: i64, api: &ApiStanding) -> gas_shared::standing::Estimate {
        let gate = |m: Modality| {
            api.gates
                .iter()
                .find(|g| g.modality == Some(m))
                .map(|g| g.qualified())
        };
        let gates = estimate::Gates {
            image: gate(Modality::Image),
            video: gate(Modality::Video),
        };
        let outcomes = self.outcomes(now);
        let mut estimate = estimate::estimate_tally(&outcomes, gates);
        estimate.spend_per_day = self.store.spend_per_day(now - KEEP_MS).unwrap_or_default();
        estimate
    }

    /// Our outcomes of the 24 h before `now`, summed: the window brought up to date with the
    /// tasks that ended since it was last (after a start or a missed announcement, with those
    /// the store has not counted, from a little before the last time all were).
    fn outcomes(&self, now: i64) -> Tally {
        let mut ended = Vec::new();
        let mut missed = false;
        {
            let mut rx = self.finals.lock().unwrap_or_else(|p| p.into_inner());
            loop {
                match rx.try_recv() {
                    Ok(id) => ended.push(id),
                    Err(tokio::sync::broadcast::error::TryRecvError::Lagged(_)) => missed = true,
                    Err(_) => break,
                }
            }
        }
        let mut window = self.window.lock().unwrap_or_else(|p| p.into_inner());
        if !window.loaded {
            window.minutes = self
                .store
                .counters(MINUTE_PREFIX)
                .into_iter()
                .filter_map(|(k, v)| {
                    let minute = k[MINUTE_PREFIX.len()..].parse::<i64>().ok()?;
                    Some((minute, serde_json::from_value(v).ok()?))
                })
                .collect();
            window.loaded = true;
            missed = true;
        }
        if missed {
            let through = self
                .store
                .counter(COUNTED_THROUGH)
                .and_then(|v| v.as_i64())
                .unwrap_or(now - outcomes::WINDOW_MS);
            match self
                .store
                .uncounted_since(through - outcomes::LONGEST_TASK_MS)
            {
                Ok(ids) => ended.extend(ids),
                Err(e) => tracing::warn!(error = %e, "standing: our outcomes could not be read"),
            }
        }
        for id in ended {
            if let Err(e) = self.count(&mut window, now, &id) {
                tracing::warn!(error = %e, task_id = %id, "standing: an outcome could not be counted");
            }
        }
        let first = (now - outcomes::WINDOW_MS).div_euclid(60_000);
        while let Some((&m, _)) = window.minutes.first_key_value()
            && m < first
        {
            window.minutes.remove(&m);
            let _ = self.store.remove_counter(&minute_key(m));
        }
        let _ = self
            .store
            .put_counter(COUNTED_THROUGH, &serde_json::json!(now));
        let mut all = Tally::default();
        for tally in window.minutes.values() {
            all.merge(tally);
        }
        all
    }

    /// Counts one task's outcome once it has ended inside the window, replacing the one
    /// counted for it before (a validator's later word changes it).
    fn count(
        &self,
        window: &mut Window,
        now: i64,
        task_id: &str,
    ) -> Result<(), crate::store::StoreError> {
        let Some(ended) = outcomes::of_task(&self.store, task_id)? else {
            return Ok(());
        };
        if ended.at_ms < now - outcomes::WINDOW_MS {
            return Ok(());
        }
        let counted = outcomes::Counted {
            at_ms: ended.at_ms,
            outcome: ended.outcome,
        };
        let before: Option<outcomes::Counted> = self.store.counted_outcome(&ended.task)?;
        if before.as_ref() == Some(&counted) {
            return Ok(());
        }
        let mut touched = Vec::new();
        if let Some(before) = before {
            let m = before.at_ms.div_euclid(60_000);
            if let Some(tally) = window.minutes.get_mut(&m) {
                tally.remove(&before.outcome);
                touched.push(m);
            }
        }
        let m = counted.at_ms.div_euclid(60_000);
        window.minutes.entry(m).or_default().add(&counted.outcome);
        touched.push(m);
        let sums: Vec<(String, serde_json::Value)> = touched
            .into_iter()
            .map(|m| {
                let tally = window.minutes.get(&m).cloned().unwrap_or_default();
                (
                    minute_key(m),
                    serde_json::to_value(tally).unwrap_or_default(),
                )
            })
            .collect();
        self.store.count_outcome(&ended.task, &counted, &sums)
    }

    /// Everything the Standing screen shows; `validators` are our own counts. The estimate
    /// is worked out afresh, or, when `cached`, taken from the last minute's summary.
    pub(crate) fn view(
        &self,
        now: i64,
        validators: Vec<ValidatorStats>,
        cached: bool,
    ) -> StandingView {
        let api = self.api_view();
        let chain = self.chain_view(now);
        let estimate = if cached {
            self.last().estimate.clone()
        } else {
            self.estimate(now, &api)
        };
        let validators = join(validators, &api, &chain);
        StandingView {
            now_ms: now,
            api,
            chain,
            estimate,
            validators,
        }
    }
}

/// Our counts per validator beside the API's pass rate and the weight it sets on us; a
/// validator only the API or the chain knows gets a row too.
fn join(
    ours: Vec<ValidatorStats>,
    api: &ApiStanding,
    chain: &ChainStanding,
) -> Vec<ValidatorStanding> {
    let mut rows: Vec<ValidatorStanding> = ours
        .into_iter()
        .map(|v| ValidatorStanding {
            hotkey: v.hotkey,
            uid: v.uid,
            asked: v.challenges + v.refused,
            refused: v.refused,
            replies: v.replies,
            last_rejection: v.last_rejection,
            ..ValidatorStanding::default()
        })
        .collect();
    let row = |rows: &mut Vec<ValidatorStanding>, hotkey: &str| -> usize {
        match rows.iter().position(|r| r.hotkey == hotkey) {
            Some(i) => i,
            None => {
                rows.push(ValidatorStanding {
                    hotkey: hotkey.to_string(),
                    ..ValidatorStanding::default()
                });
                rows.len() - 1
            }
        }
    };
    for v in &api.validators {
        let i = row(&mut rows, &v.hotkey);
        rows[i].api_pass_rate = v.pass_rate;
        rows[i].api_verified = v.total_verified;
        rows[i].api_failed = v.total_failed;
    }
    for w in &chain.weights {
        let i = row(&mut rows, &w.hotkey);
        rows[i].uid = rows[i].uid.or(Some(w.uid));
        rows[i].weight_share = Some(w.share);
    }
    rows.sort_by(|a, b| {
        (b.asked, b.api_verified + b.api_failed)
            .cmp(&(a.asked, a.api_verified + a.api_failed))
            .then(a.hotkey.cmp(&b.hotkey))
    });
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    fn standing(store: Store) -> Standing {
        let key = Hotkey::from_seed(&[7u8; 32]).expect("key");
        Standing::new(store, Arc::new(key), "http://127.0.0.1:9", None)
    }

    #[tokio::test]
    async fn an_older_servers_answer_keeps_the_last_known_gates_with_their_age() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("store");
        let now = now_ms();
        let new = serde_json::json!({"verification": {}, "history": {"image": {
            "current": {"fool_rate": 0.03, "total_samples": 40, "fooled_count": 1},
            "threshold": 0.02, "minimum_samples": 20, "status": "qualified", "points": []}}});
        let old = serde_json::json!({"verification": {"total_verified": 3}});
        store
            .put_snapshot("api", now - 60_000, new.to_string().as_bytes())
            .expect("put");
        store
            .put_snapshot("api", now - 1_000, old.to_string().as_bytes())
            .expect("put");
        let view = standing(store).api_view();
        assert_eq!(view.fetched_ms, Some(now - 1_000));
        assert!(!view.history_available);
        assert_eq!(view.total_verified, 3);
        assert_eq!(view.gates.len(), 1, "{view:?}");
        assert_eq!(view.gates_fetched_ms, Some(now - 60_000));
    }

    #[tokio::test]
    async fn the_window_counts_each_ended_task_once_across_changes_and_restarts() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("store");
        let now = now_ms();
        let ended = |id: &str| {
            let mut t = crate::store::tests::task(id);
            t.created_ms = now - 60_000;
            store.insert_new(&t).expect("insert");
            store
                .update(id, crate::store::OutboxChange::None, |t| {
                    t.state = gas_shared::TaskState::Expired;
                    t.finished_ms = Some(now - 1_000);
                })
                .expect("update");
        };
        ended("a");
        let s = standing(store.clone());
        assert_eq!(s.outcomes(now).count(), 1, "counted at the first look");
        ended("b");
        let outcomes = s.outcomes(now);
        assert_eq!(outcomes.count(), 2, "the task that just ended is in");
        let e = estimate::estimate_tally(&outcomes, estimate::Gates::default());
        assert_eq!(e.modalities[0].failed, 2, "{e:?}");
        assert_eq!(e.modalities[0].from_validators, 2);
        // A validator's later word replaces the outcome counted, never adds a second.
        store
            .update("a", crate::store::OutboxChange::None, |t| {
                t.state = gas_shared::TaskState::Delivered;
                t.last_reply = Some(crate::task::Reply {
                    status: Some(200),
                    body: "Binary content received".into(),
                    at_ms: now - 500,
                });
            })
            .expect("update");
        let e = estimate::estimate_tally(&s.outcomes(now), estimate::Gates::default());
        assert_eq!((e.modalities[0].verified, e.modalities[0].failed), (1, 1));
        // A task that ends while nobody counts (a crash before its turn) is found by the
        // next start, which reads the kept sums back without counting anyone twice.
        ended("c");
        let again = standing(store.clone());
        let e = estimate::estimate_tally(&again.outcomes(now), estimate::Gates::default());
        assert_eq!((e.modalities[0].verified, e.modalities[0].failed), (1, 2));
        // A day later both have left the window.
        assert_eq!(s.outcomes(now + outcomes::WINDOW_MS + 120_000).count(), 0);
    }

    #[tokio::test]
    async fn offline_the_chain_view_says_why_it_is_missing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = standing(Store::open(dir.path()).expect("store"));
        let chain = s.chain_view(now_ms());
        assert!(!chain.available);
        assert!(chain.reason.expect("reason").contains("offline"));
    }
}
