//! The generation pipeline: a durable queue served by `MINER_MAX_CONCURRENT_TASKS` slots that
//! really run at once, each walking its modality's provider chain, writing media to disk,
//! judging it as validators will (pre-flight; failing media goes no further and the next
//! provider is asked), then keeping it (fsync, rename) and handing the result — media or a
//! failure report — to the webhook outbox in the same transaction as the state change.
//!
//! (Over 600 lines only with its unit tests, which stay beside the queue they test.)

use crate::budget::Budget;
use crate::clock::now_ms;
use crate::preflight::{self, Preflight};
use crate::providers::delivered::{Delivered, DeliveryView};
use crate::providers::health::{Health, Permit, Signal};
use crate::providers::registry::Chains;
use crate::providers::{Job, Journal, JournalError, Plan, Provider, ProviderError};
use crate::store::{OutboxChange, Store};
use crate::task::{CallRecord, Checkpoint, MediaInfo, Outcome, TaskRecord};
use gas_shared::{Modality, TaskState, Tier};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::{Notify, Semaphore};

pub(crate) struct Pipeline {
    store: Store,
    /// The provider chain per modality; swapped whole when the operator changes the selection
    /// (tasks already running keep the chain they started with).
    chains: std::sync::RwLock<Chains>,
    /// The chains it started with, which a reset of the selection restores.
    started: Chains,
    preflight: Arc<Preflight>,
    stats: Arc<crate::stats::Stats>,
    /// Each provider and model's breaker: open ones are skipped.
    health: Arc<Health>,
    /// The spend limits: a paid call that would pass one is not made.
    budget: Arc<Budget>,
    /// What each provider's plans really reached, learned from their results.
    delivered: Delivered,
    /// `MINER_TIER_RETRY`: a result short of its tier is made once more by a provider that
    /// reaches it.
    tier_retry: bool,
    slots: Arc<Semaphore>,
    /// How long one provider may take for one task: images, videos.
    timeouts: (Duration, Duration),
    outbox_wake: Arc<Notify>,
    save_to: Option<PathBuf>,
    draining: AtomicBool,
    running: AtomicUsize,
    /// Tasks queued or running in this process: a task is never run twice at once, whatever
    /// asks for it again (a second index entry left by a crash, a retry after an error).
    active: std::sync::Mutex<std::collections::HashSet<String>>,
}

/// Why a task could not be carried a step further; it is tried again later (and at the next
/// start), never dropped.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PipelineError {
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("the task's processing panicked")]
    Panicked,
    #[error("the media check stopped: {0}")]
    Join(#[from] tokio::task::JoinError),
}

impl Pipeline {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        store: Store,
        chains: Chains,
        preflight: Arc<Preflight>,
        stats: Arc<crate::stats::Stats>,
        health: Arc<Health>,
        budget: Arc<Budget>,
        tier_retry: bool,
        slots: usize,
        timeouts: (Duration, Duration),
        outbox_wake: Arc<Notify>,
        save_to: Option<PathBuf>,
    ) -> Arc<Pipeline> {
        Arc::new(Pipeline {
            store,
            started: chains.clone(),
            chains: std::sync::RwLock::new(chains),
            preflight,
            stats,
            health,
            budget,
            delivered: Delivered::default(),
            tier_retry,
            slots: Arc::new(Semaphore::new(slots)),
            timeouts,
            outbox_wake,
            save_to,
            draining: AtomicBool::new(false),
            running: AtomicUsize::new(0),
            active: std::sync::Mutex::default(),
        })
    }

    pub(crate) fn serves(&self, modality: Modality) -> bool {
        self.chain(modality).is_some_and(|c| !c.is_empty())
    }

    pub(crate) fn chain_names(&self, modality: Modality) -> Vec<&'static str> {
        self.chain(modality)
            .map(|c| c.iter().map(|p| p.name()).collect())
            .unwrap_or_default()
    }

    fn chain(&self, modality: Modality) -> Option<Vec<Arc<dyn Provider>>> {
        self.chains
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&modality)
            .cloned()
    }

    /// Checks every provider of the chains in use against its own model list, in the
    /// background, and logs what needs the operator.
    pub(crate) fn check_models(&self) {
        let mut seen = std::collections::HashSet::new();
        for modality in Modality::ALL {
            for provider in self.chain(modality).unwrap_or_default() {
                // One client per modality: each is checked (an image client and a video one
                // of the same service are different objects).
                let key = (provider.name(), modality);
                if !seen.insert(key) {
                    continue;
                }
                tokio::spawn(async move {
                    if let Some(words) = provider.check_models().await {
                        tracing::warn!(provider = provider.name(), "{words}");
                    }
                });
            }
        }
    }

    /// The chain `modality` started with (before any change from the console).
    pub(crate) fn started_chain(&self, modality: Modality) -> Vec<Arc<dyn Provider>> {
        self.started.get(&modality).cloned().unwrap_or_default()
    }

    /// Uses `chain` for new tasks of `modality` from now on.
    pub(crate) fn set_chain(&self, modality: Modality, chain: Vec<Arc<dyn Provider>>) {
        self.chains
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(modality, chain);
    }

    /// Queues a task; it runs when a slot frees (first come, first served).
    pub(crate) fn enqueue(self: &Arc<Self>, task_id: String) {
        if !self.claim(&task_id) {
            tracing::debug!(task_id = %task_id, "already queued or running");
            return;
        }
        self.enqueue_try(task_id, 0);
    }

    fn claim(&self, task_id: &str) -> bool {
        self.active
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(task_id.to_string())
    }

    fn release(&self, task_id: &str) {
        self.active
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(task_id);
    }

    /// Runs a task; when the state database fails under it (a full disk, say), it is tried
    /// again later with growing pauses, so it still ends in a webhook once the disk has room.
    fn enqueue_try(self: &Arc<Self>, task_id: String, tries: u32) {
        if self.draining.load(Ordering::SeqCst) {
            // Stays queued on disk; the next start runs it.
            self.release(&task_id);
            return;
        }
        let this = self.clone();
        tokio::spawn(async move {
            let Ok(slot) = this.slots.clone().acquire_owned().await else {
                this.release(&task_id);
                return;
            };
            if this.draining.load(Ordering::SeqCst) {
                this.release(&task_id);
                return;
            }
            this.running.fetch_add(1, Ordering::SeqCst);
            // A panic in a task is an error like any other: counted out, retried later.
            let result = match futures_util::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(
                this.run(&task_id),
            ))
            .await
            {
                Ok(result) => result,
                Err(_) => Err(PipelineError::Panicked),
            };
            this.running.fetch_sub(1, Ordering::SeqCst);
            drop(slot);
            if result.is_ok() {
                this.release(&task_id);
            }
            if let Err(e) = result {
                let pause = Duration::from_secs(2u64 << tries.min(6));
                tracing::error!(task_id = %task_id, error = %e, retry_in_s = pause.as_secs(), "task could not be processed; trying again (and at the next start)");
                tokio::time::sleep(pause).await;
                this.enqueue_try(task_id, tries + 1);
            }
        });
    }

    /// Stops starting tasks and waits (up to `limit`) for those running to finish; returns how
    /// many were still running. They are safe either way: queued ones stay queued, video jobs
    /// are checkpointed, and the next start picks everything up.
    pub(crate) async fn drain(&self, limit: Duration) -> usize {
        self.draining.store(true, Ordering::SeqCst);
        let until = tokio::time::Instant::now() + limit;
        loop {
            let n = self.running.load(Ordering::SeqCst);
            if n == 0 || tokio::time::Instant::now() >= until {
                return n;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The providers' breakers.
    pub(crate) fn health(&self) -> &Health {
        &self.health
    }

    /// Whether it was asked to stop (it finishes what runs and starts nothing new).
    pub(crate) fn draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }

    /// The spend limits.
    pub(crate) fn budget(&self) -> &Budget {
        &self.budget
    }

    /// What `task` is expected to cost: the price of the plan of the first provider that
    /// would be asked (0 with no chain).
    pub(crate) fn expected_cost(&self, task: &TaskRecord) -> f64 {
        self.attempt_order(task, &[])
            .into_iter()
            .find(|(p, _)| self.health.able(p.name()))
            .map_or(0.0, |(_, plan)| plan.cost_usd)
    }

    /// What each provider's plans reached, per model and planned tier.
    pub(crate) fn deliveries(&self) -> Vec<DeliveryView> {
        self.delivered.views(now_ms())
    }

    /// Generations in progress.
    pub(crate) fn running(&self) -> usize {
        self.running.load(Ordering::SeqCst)
    }

    /// Picks up everything a previous run left unfinished: queued and interrupted tasks run
    /// again (a result already on disk is reused); outbox entries are served by the outbox.
    pub(crate) fn recover(self: &Arc<Self>) -> Result<usize, crate::store::StoreError> {
        let mut n = 0;
        for state in [
            TaskState::Queued,
            TaskState::Generating,
            TaskState::Preflight,
        ] {
            for task in self.store.in_state(state)? {
                tracing::info!(task_id = %task.task_id, state = %state, "resuming task after restart");
                self.enqueue(task.task_id);
                n += 1;
            }
        }
        Ok(n)
    }

    async fn run(&self, task_id: &str) -> Result<(), PipelineError> {
        let Some(task) = self.store.get(task_id)? else {
            return Ok(());
        };
        if task.state.is_final() || task.state == TaskState::Delivering {
            return Ok(());
        }
        if now_ms() > task.deadline_ms {
            self.store.update(task_id, OutboxChange::None, |t| {
                t.state = TaskState::Expired;
                t.finished_ms = Some(now_ms());
            })?;
            tracing::warn!(task_id, "task expired before it could run");
            return Ok(());
        }
        if let Some(media) = &task.media
            && self.store.media_dir().join(&media.file).exists()
        {
            // A crash after the file was saved: never pay twice for it, but never send it
            // unjudged either (a previous version may have kept it before judging).
            if self.store.verdicts(task_id)?.iter().any(|v| v.passed)
                || self.rejudge(&task, media).await?
            {
                self.hand_to_outbox(task_id, Outcome::Success).await?;
                return Ok(());
            }
        }
        let task = self.store.update(task_id, OutboxChange::None, |t| {
            t.state = TaskState::Generating;
            t.started_ms.get_or_insert(now_ms());
            t.generation_runs += 1;
        })?;
        self.store.commit().await?;
        let checkpoints = self.store.checkpoints(task_id)?;
        let mut errors = Vec::new();
        // With MINER_TIER_RETRY, a result short of the tier waits here while a provider that
        // reaches it is asked; the better of the two is delivered.
        let mut held: Option<(MediaInfo, Tier)> = None;
        let order = self.attempt_order(&task, &checkpoints);
        for (at, (provider, plan)) in order.iter().enumerate() {
            if held.is_some() && !self.reaches(provider.as_ref(), plan, task.tier) {
                continue;
            }
            let mut resume = checkpoints
                .iter()
                .find(|c| c.provider == provider.name())
                .cloned();
            // A near-duplicate of a recent delivery is made again once before moving on.
            for attempt in 0..2 {
                // A resumed job is paid for already; anything else is checked against the
                // budget first (before the breaker, so a probe is never taken and unused).
                if resume.is_none() {
                    let spent = self.store.spent_last_day(now_ms());
                    if let Err(over) = self.budget.check_call(task.modality, &spent, plan.cost_usd)
                    {
                        tracing::warn!(task_id, provider = provider.name(), model = %plan.model, reason = %over, "provider not asked: over budget");
                        errors.push(format!("{}: not asked ({over})", provider.name()));
                        break;
                    }
                }
                let permit = match self
                    .health
                    .admit(provider.name(), &plan.model, resume.is_some())
                {
                    Ok(permit) => permit,
                    Err(why) => {
                        tracing::info!(task_id, provider = provider.name(), model = %plan.model, reason = %why, "provider skipped");
                        errors.push(format!("{}: not asked ({why})", provider.name()));
                        break;
                    }
                };
                // DEBUG: at INFO a task says when it is accepted, when its media is ready (or
                // why a provider failed) and how its webhook went; three lines, not five.
                tracing::debug!(task_id, provider = provider.name(), model = %plan.model, requested = %task.tier, delivers = %plan.delivers, cost_usd = plan.cost_usd, resume = resume.is_some(), attempt = attempt + 1, probe = permit.probe(), "asking provider");
                let result = self
                    .try_provider(provider.as_ref(), &task, plan, resume.take(), permit)
                    .await;
                for warning in self.budget.crossings(&self.store.spent_last_day(now_ms())) {
                    tracing::warn!(warning = %warning, "spend budget");
                }
                match result {
                    Ok((media, measured)) => {
                        tracing::info!(task_id, provider = provider.name(), model = %plan.model, bytes = media.bytes, tier = ?measured, "media ready and passed pre-flight");
                        let retried = held.is_some();
                        let (media, measured) = match held.take() {
                            Some(first) => self.better_of(task_id, first, (media, measured)).await,
                            None => (media, measured),
                        };
                        let retry_with = order[at + 1..]
                            .iter()
                            .find(|(p, plan)| self.reaches(p.as_ref(), plan, task.tier));
                        if self.tier_retry
                            && measured < task.tier
                            && !retried
                            && let Some((next, _)) = retry_with
                        {
                            tracing::info!(task_id, provider = provider.name(), measured = %measured, requested = %task.tier, next = next.name(), "result short of the tier; MINER_TIER_RETRY asks a provider that reaches it");
                            held = Some((self.hold(&media).await, measured));
                            break;
                        }
                        return self.deliver(task_id, media).await;
                    }
                    Err(Attempt { error, duplicate }) => {
                        tracing::warn!(task_id, provider = provider.name(), error = %error.message, "no usable result; trying again or the next provider");
                        // That job is over: a restart must not resume it.
                        self.store
                            .clear_checkpoints(task_id, Some(provider.name()))?;
                        errors.push(format!("{}: {}", provider.name(), error.message));
                        if !duplicate {
                            break;
                        }
                    }
                }
            }
        }
        if let Some((media, _)) = held {
            let media = self.unhold(media).await;
            return self.deliver(task_id, media).await;
        }
        let message = if errors.is_empty() {
            format!("No service available for modality={}", task.modality)
        } else {
            errors.join("; ")
        };
        self.hand_to_outbox(task_id, Outcome::Failure { message })
            .await?;
        Ok(())
    }

    /// Judges media kept before a restart; when it fails, it is removed and the task made
    /// again. Returns whether it passed.
    async fn rejudge(&self, task: &TaskRecord, media: &MediaInfo) -> Result<bool, PipelineError> {
        let path = self.store.media_dir().join(&media.file);
        let (preflight, t, p, provider) = (
            self.preflight.clone(),
            task.clone(),
            path.clone(),
            media.provider.clone(),
        );
        let verdict =
            tokio::task::spawn_blocking(move || preflight.judge(&p, &t, &provider)).await?;
        self.keep_verdict(task, &verdict);
        if verdict.passed {
            self.remember(task, &verdict);
            return Ok(true);
        }
        tracing::warn!(task_id = %task.task_id, reasons = ?verdict.reasons, "kept media fails pre-flight; making it again");
        let _ = tokio::fs::remove_file(&path).await;
        self.store
            .update(&task.task_id, OutboxChange::None, |t| t.media = None)?;
        Ok(false)
    }

    /// Stores a verdict, counts it, and keeps its short form with the task.
    fn keep_verdict(&self, task: &TaskRecord, v: &gas_shared::verdict::Verdict) {
        if let Err(e) = self.store.record_verdict(&task.task_id, v) {
            tracing::error!(task_id = %task.task_id, error = %e, "pre-flight verdict could not be stored");
        }
        self.stats.verdict(v.passed, v.checked_at_ms);
        let c2pa_checked = v.media.error.is_none();
        let c2pa_ok = v.c2pa.verified
            && v.c2pa.is_trusted_issuer
            && v.freshness.as_ref().is_none_or(|f| f.fresh);
        let brief = gas_shared::admin::VerdictBrief {
            passed: v.passed,
            c2pa_ok,
            reason: v.reasons.first().cloned(),
        };
        let updated = self.store.update(&task.task_id, OutboxChange::None, |t| {
            t.verdict = Some(brief.clone());
            t.c2pa_failed |= c2pa_checked && !c2pa_ok;
        });
        if let Err(e) = updated {
            tracing::error!(task_id = %task.task_id, error = %e, "verdict summary could not be stored");
        }
    }

    /// Remembers a delivered image's hash, in memory and on disk.
    fn remember(&self, task: &TaskRecord, verdict: &gas_shared::verdict::Verdict) {
        if let Some((prompt_key, hash)) = self.preflight.remember(task, verdict)
            && let Err(e) = self.store.remember_phash(
                &task.task_id,
                prompt_key,
                &hash,
                preflight::phash::REMEMBERED,
            )
        {
            tracing::warn!(task_id = %task.task_id, error = %e, "image hash could not be stored");
        }
    }

    /// Whether `provider`'s plan is taken to reach `tier`, by what its results measured.
    fn reaches(&self, provider: &dyn Provider, plan: &Plan, tier: Tier) -> bool {
        self.delivered
            .reaches(provider.name(), &plan.model, plan.delivers, now_ms())
            >= tier
    }

    /// Puts a kept result aside (`.held.<file>`) while a better one is tried.
    async fn hold(&self, media: &MediaInfo) -> MediaInfo {
        let dir = self.store.media_dir();
        let aside = format!(".held.{}", media.file);
        if let Err(e) = tokio::fs::rename(dir.join(&media.file), dir.join(&aside)).await {
            tracing::warn!(file = %media.file, error = %e, "could not put a short result aside; it is delivered if nothing better comes");
            return media.clone();
        }
        MediaInfo {
            file: aside,
            ..media.clone()
        }
    }

    /// Brings a result put aside back under its own name.
    async fn unhold(&self, media: MediaInfo) -> MediaInfo {
        let Some(name) = media.file.strip_prefix(".held.") else {
            return media;
        };
        let dir = self.store.media_dir();
        if let Err(e) = tokio::fs::rename(dir.join(&media.file), dir.join(name)).await {
            tracing::error!(file = %media.file, error = %e, "could not bring a held result back");
        }
        MediaInfo {
            file: name.to_string(),
            ..media
        }
    }

    /// The higher-tier of a held result and a new one (the held one on a tie); the other's
    /// file is removed.
    async fn better_of(
        &self,
        task_id: &str,
        held: (MediaInfo, Tier),
        new: (MediaInfo, Tier),
    ) -> (MediaInfo, Tier) {
        let dir = self.store.media_dir();
        if new.1 > held.1 {
            tracing::info!(task_id, kept = %new.0.provider, tier = %new.1, dropped = %held.0.provider, "the retry reached a higher tier; delivering it");
            let _ = tokio::fs::remove_file(dir.join(&held.0.file)).await;
            return new;
        }
        tracing::info!(task_id, kept = %held.0.provider, tier = %held.1, dropped = %new.0.provider, "the retry was no better; delivering the first result");
        let _ = tokio::fs::remove_file(dir.join(&new.0.file)).await;
        (self.unhold(held.0).await, held.1)
    }

    /// The chain in the order to try it: a provider whose job survived a restart first (it is
    /// already paid for), then those whose plan reaches the requested tier, then the rest,
    /// each group in the operator's order. A provider whose breaker is open is skipped when its
    /// turn comes (`Health::admit`; half-open lets one task through).
    fn attempt_order(
        &self,
        task: &TaskRecord,
        checkpoints: &[Checkpoint],
    ) -> Vec<(Arc<dyn Provider>, Plan)> {
        let chain = self.chain(task.modality).unwrap_or_default();
        let mut planned: Vec<(Arc<dyn Provider>, Plan)> = chain
            .into_iter()
            .map(|p| {
                let plan = p.plan(task);
                (p, plan)
            })
            .collect();
        planned.sort_by_key(|(p, plan)| {
            let resumed = checkpoints.iter().any(|c| c.provider == p.name());
            (!resumed, !self.reaches(p.as_ref(), plan, task.tier))
        });
        planned
    }

    async fn try_provider(
        &self,
        provider: &dyn Provider,
        task: &TaskRecord,
        plan: &Plan,
        resume: Option<Checkpoint>,
        permit: Permit,
    ) -> Result<(MediaInfo, Tier), Attempt> {
        let dir = self.store.media_dir();
        let tmp = dir.join(format!(".{}.{}.part", task.task_id, provider.name()));
        let job = Job {
            task,
            plan,
            dest: &tmp,
            journal: &self.store,
            resume,
            probe: permit.probe(),
        };
        let (limit, var) = match task.modality {
            Modality::Image => (self.timeouts.0, "MINER_TASK_TIMEOUT"),
            Modality::Video => (self.timeouts.1, "MINER_VIDEO_TIMEOUT"),
        };
        let began = std::time::Instant::now();
        let result = tokio::time::timeout(limit, provider.generate(&job)).await;
        self.stats.attempt(
            provider.name(),
            began.elapsed().as_millis() as u64,
            now_ms(),
        );
        let generated = match result {
            Ok(Ok(g)) => {
                // Whatever pre-flight says of it, the provider works.
                permit.report(Signal::Healthy);
                g
            }
            Ok(Err(e)) => {
                permit.report(Signal::of(provider.name(), &e));
                let _ = tokio::fs::remove_file(&tmp).await;
                return Err(e.into());
            }
            Err(_) => {
                let _ = tokio::fs::remove_file(&tmp).await;
                let e = ProviderError {
                    unreachable: true,
                    ..ProviderError::new(format!("no result within {var} ({} s)", limit.as_secs()))
                };
                permit.report(Signal::of(provider.name(), &e));
                return Err(e.into());
            }
        };
        let job = Finalize {
            tmp: tmp.clone(),
            dir: dir.to_path_buf(),
            task: task.clone(),
            provider: provider.name().to_string(),
            save_to: self.save_to.clone(),
            preflight: self.preflight.clone(),
        };
        let (outcome, verdict) = tokio::task::spawn_blocking(move || job.run())
            .await
            .unwrap_or_else(|e| {
                (
                    Err(ProviderError::new(format!("media check panicked: {e}"))),
                    None,
                )
            });
        if outcome.is_err() {
            let _ = tokio::fs::remove_file(&tmp).await;
        }
        if let Some(v) = &verdict {
            self.keep_verdict(task, v);
            if v.passed {
                tracing::debug!(task_id = %task.task_id, provider = provider.name(), c2pa_issuer = ?v.c2pa.cert_issuer, tier = ?v.media.measured_tier, took_ms = v.took_ms, "pre-flight passed");
            } else {
                tracing::info!(task_id = %task.task_id, provider = provider.name(), reasons = ?v.reasons, c2pa_issuer = ?v.c2pa.cert_issuer, tier = ?v.media.measured_tier, took_ms = v.took_ms, "pre-flight failed");
            }
            if v.passed && outcome.is_ok() {
                self.remember(task, v);
            }
        }
        let measured = verdict.as_ref().and_then(|v| v.media.measured_tier);
        if let Some(m) = measured {
            self.delivered
                .record(provider.name(), &plan.model, plan.delivers, m, now_ms());
        }
        let duplicate = verdict
            .as_ref()
            .is_some_and(|v| v.duplicate.is_some() && v.reasons.len() == 1);
        outcome
            .map(|(file, content_type, bytes, sha256)| {
                (
                    MediaInfo {
                        file,
                        content_type: content_type.to_string(),
                        bytes,
                        sha256,
                        provider: provider.name().to_string(),
                        model: generated.model,
                    },
                    measured.unwrap_or(plan.delivers),
                )
            })
            .map_err(|error| Attempt { error, duplicate })
    }

    /// Keeps passing media with the task and schedules its webhook.
    async fn deliver(&self, task_id: &str, media: MediaInfo) -> Result<(), PipelineError> {
        self.store.update(task_id, OutboxChange::None, |t| {
            t.state = TaskState::Preflight;
            t.media = Some(media.clone());
        })?;
        self.hand_to_outbox(task_id, Outcome::Success).await
    }

    /// Moves the task to `delivering` and schedules its webhook, atomically and durably.
    async fn hand_to_outbox(&self, task_id: &str, outcome: Outcome) -> Result<(), PipelineError> {
        self.store
            .update(task_id, OutboxChange::Schedule(now_ms()), |t| {
                t.state = TaskState::Delivering;
                t.outcome = Some(outcome.clone());
            })?;
        self.store.commit().await?;
        self.outbox_wake.notify_one();
        // The outcome is durable (media on disk, or a failure to report): no job to resume.
        self.store.clear_checkpoints(task_id, None)?;
        Ok(())
    }
}

/// The store keeps what providers record as they work.
#[async_trait::async_trait]
impl Journal for Store {
    fn record_call(&self, call: &CallRecord) -> Result<(), JournalError> {
        Ok(Store::record_call(self, call)?)
    }

    async fn checkpoint(&self, cp: &Checkpoint) -> Result<(), JournalError> {
        self.put_checkpoint(cp)?;
        Ok(self.commit().await?)
    }
}

/// Why one provider attempt gave nothing usable.
struct Attempt {
    error: ProviderError,
    /// Only a near-duplicate of a recent delivery: worth making again.
    duplicate: bool,
}

impl From<ProviderError> for Attempt {
    fn from(error: ProviderError) -> Attempt {
        Attempt {
            error,
            duplicate: false,
        }
    }
}

/// What was made, as kept: file name, content type, size and SHA-256.
type Kept = (String, &'static str, u64, String);

/// The blocking half of an attempt: hash and type the file, judge it, and keep it (fsync,
/// rename to `<task>.<ext>`, optional copy) only if it passed.
struct Finalize {
    tmp: PathBuf,
    dir: PathBuf,
    task: TaskRecord,
    provider: String,
    save_to: Option<PathBuf>,
    preflight: Arc<Preflight>,
}

impl Finalize {
    fn run(
        self,
    ) -> (
        Result<Kept, ProviderError>,
        Option<gas_shared::verdict::Verdict>,
    ) {
        let verdict = self.preflight.judge(&self.tmp, &self.task, &self.provider);
        if !verdict.passed {
            let why = format!("pre-flight failed: {}", verdict.reasons.join("; "));
            return (Err(ProviderError::new(why)), Some(verdict));
        }
        let (content_type, bytes, sha256) = match hash_and_type(&self.tmp, self.task.modality) {
            Ok(v) => v,
            Err(e) => return (Err(e), Some(verdict)),
        };
        (
            self.keep(content_type)
                .map(|name| (name, content_type, bytes, sha256)),
            Some(verdict),
        )
    }

    fn keep(&self, content_type: &str) -> Result<String, ProviderError> {
        let io = |what: &str, e: std::io::Error| {
            ProviderError::new(format!("{what} {}: {e}", self.tmp.display()))
        };
        let task_id = &self.task.task_id;
        std::fs::File::open(&self.tmp)
            .and_then(|f| f.sync_all())
            .map_err(|e| io("could not fsync", e))?;
        let name = format!("{task_id}.{}", preflight::extension(content_type));
        let dest = self.dir.join(&name);
        std::fs::rename(&self.tmp, &dest).map_err(|e| io("could not rename", e))?;
        if let Ok(d) = std::fs::File::open(&self.dir) {
            let _ = d.sync_all();
        }
        if let Some(out) = &self.save_to {
            let target = out.join(self.task.modality.as_str());
            if let Err(e) = std::fs::create_dir_all(&target)
                .and_then(|_| std::fs::copy(&dest, target.join(&name)))
            {
                tracing::warn!(task_id, error = %e, dir = %target.display(), "MINER_SAVE_LOCALLY copy failed");
            }
        }
        Ok(name)
    }
}

/// The content type (from magic bytes, checked against the modality), size and SHA-256.
fn hash_and_type(
    tmp: &Path,
    modality: Modality,
) -> Result<(&'static str, u64, String), ProviderError> {
    let io = |what: &str, e: std::io::Error| {
        ProviderError::new(format!("{what} {}: {e}", tmp.display()))
    };
    let mut file = std::fs::File::open(tmp).map_err(|e| io("could not open", e))?;
    let mut hasher = Sha256::new();
    let mut head = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut bytes = 0u64;
    loop {
        let n = file.read(&mut buf).map_err(|e| io("could not read", e))?;
        if n == 0 {
            break;
        }
        if head.len() < 32 {
            head.extend_from_slice(&buf[..n.min(32 - head.len())]);
        }
        hasher.update(&buf[..n]);
        bytes += n as u64;
    }
    let content_type =
        preflight::check(&head, modality).map_err(|e| ProviderError::new(e.to_string()))?;
    Ok((content_type, bytes, hex::encode(hasher.finalize())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::Generated;

    /// Counts its calls; each takes a moment and ends in a refusal.
    struct Counting(Arc<AtomicUsize>);

    #[async_trait::async_trait]
    impl Provider for Counting {
        fn name(&self) -> &'static str {
            "counting"
        }

        fn supports(&self, _: Modality) -> bool {
            true
        }

        fn plan(&self, task: &TaskRecord) -> Plan {
            Plan {
                model: "m".into(),
                delivers: task.tier,
                params: serde_json::json!({}),
                cost_usd: 0.0,
            }
        }

        async fn generate(&self, _: &Job<'_>) -> Result<Generated, ProviderError> {
            self.0.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(300)).await;
            Err(ProviderError {
                message: "refused".into(),
                status: Some(400),
                ..ProviderError::default()
            })
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_task_asked_for_twice_runs_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let anchors = dir.path().join("anchors");
        std::fs::create_dir_all(&anchors).expect("anchors");
        let ca = crate::preflight::signer::TestCa::new("Pipeline Test Root").expect("ca");
        std::fs::write(anchors.join("root.pem"), &ca.root_pem).expect("anchor");
        let store = Store::open(&dir.path().join("state")).expect("store");
        let mut task = crate::store::tests::task("twice");
        task.deadline_ms = now_ms() + 60_000;
        store.insert_new(&task).expect("insert");
        let calls = Arc::new(AtomicUsize::new(0));
        let provider: Arc<dyn Provider> = Arc::new(Counting(calls.clone()));
        let pipeline = Pipeline::new(
            store.clone(),
            std::collections::HashMap::from([(Modality::Image, vec![provider])]),
            Arc::new(Preflight::new(&anchors).expect("preflight")),
            Arc::new(crate::stats::Stats::load(store.clone())),
            Health::new(Duration::from_secs(30)),
            Arc::new(Budget::new(crate::budget::Limits::default())),
            false,
            4,
            (Duration::from_secs(5), Duration::from_secs(5)),
            Arc::default(),
            None,
        );
        // As after a crash: found queued, and found again by the next scan once it moved on.
        pipeline.enqueue("twice".into());
        tokio::time::sleep(Duration::from_millis(50)).await;
        pipeline.enqueue("twice".into());
        let began = std::time::Instant::now();
        while store.get("twice").expect("get").map(|t| t.state) != Some(TaskState::Delivering) {
            assert!(began.elapsed() < Duration::from_secs(10), "never finished");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(
            calls.load(Ordering::SeqCst),
            1,
            "one run, one provider call"
        );
        assert_eq!(pipeline.running(), 0);
        assert!(
            pipeline.claim("twice"),
            "released when done, so it may be asked for again"
        );
    }
}
