//! The crash soak: the real miner against fake providers and a fake validator, killed with
//! SIGKILL at random moments (while tasks are being generated, videos downloaded, webhooks
//! delivered and the database written) and started again, until every challenge is sent.
//! Then it must hold that every accepted challenge has exactly one terminal outcome in the
//! database, the validator got a webhook for each (the same outcome each time it was
//! re-sent), nothing is left unfinished, and the database opened cleanly at every start.

use crate::*;
use gas_shared::TaskState;
use gas_shared::admin::Status;
use rand::{Rng, SeedableRng};
use serde_json::json;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct SoakOptions {
    /// Challenges to have accepted (201) in all.
    pub challenges: usize,
    /// SIGKILLs spread over the run.
    pub kills: usize,
    /// Seed for the kill moments and the modality mix (printed, so a failing run repeats).
    pub seed: u64,
    /// One in this many challenges asks for a video (slow, downloaded in chunks).
    pub video_every: usize,
    /// How long the validator holds each webhook before answering (kills land mid-delivery).
    pub validator_delay: Duration,
    /// Print progress lines.
    pub verbose: bool,
}

impl Default for SoakOptions {
    fn default() -> SoakOptions {
        SoakOptions {
            challenges: 100,
            kills: 10,
            seed: rand::random(),
            video_every: 4,
            validator_delay: Duration::from_millis(150),
            verbose: false,
        }
    }
}

/// What happened, and what is wrong (empty when the miner lost nothing).
#[derive(Debug, Default)]
pub struct SoakReport {
    pub seed: u64,
    pub accepted: usize,
    pub refused_while_down: usize,
    pub kills: Vec<String>,
    pub starts: usize,
    /// Longest time from starting the binary to it accepting connections.
    pub slowest_start: Duration,
    pub delivered: usize,
    pub failed: usize,
    /// Webhooks the validator got more than once (a kill after it took one, before the miner
    /// recorded the answer): the same outcome again, which a validator ignores.
    pub resent: usize,
    /// Webhooks for tasks whose 201 never reached the challenger (killed between the two).
    pub unannounced: usize,
    pub video_jobs_created: usize,
    pub video_accepted: usize,
    pub elapsed: Duration,
    pub problems: Vec<String>,
    /// The miner's directory (state, logs), kept when something was wrong.
    pub kept: Option<std::path::PathBuf>,
}

impl SoakReport {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

impl std::fmt::Display for SoakReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "crash soak (seed {}): {} challenges accepted, {} SIGKILLs, {} starts (slowest {:.2} s), {:.1} s",
            self.seed,
            self.accepted,
            self.kills.len(),
            self.starts,
            self.slowest_start.as_secs_f64(),
            self.elapsed.as_secs_f64()
        )?;
        for k in &self.kills {
            writeln!(f, "  {k}")?;
        }
        writeln!(
            f,
            "outcomes: {} delivered, {} failed; webhooks re-sent after a kill: {}; for unannounced tasks: {}; refused while down: {}",
            self.delivered, self.failed, self.resent, self.unannounced, self.refused_while_down
        )?;
        writeln!(
            f,
            "video: {} accepted, {} provider jobs created",
            self.video_accepted, self.video_jobs_created
        )?;
        if self.problems.is_empty() {
            write!(
                f,
                "OK: every accepted challenge has one terminal outcome and a webhook"
            )
        } else {
            writeln!(f, "PROBLEMS:")?;
            for p in &self.problems {
                writeln!(f, "  {p}")?;
            }
            if let Some(dir) = &self.kept {
                writeln!(
                    f,
                    "the miner's state and logs are kept in {}",
                    dir.display()
                )?;
            }
            Ok(())
        }
    }
}

/// Runs the soak; panics only when the rig itself cannot be built.
pub async fn run(options: SoakOptions) -> SoakReport {
    install_crypto();
    let began = Instant::now();
    let mut rng = rand::rngs::StdRng::seed_from_u64(options.seed);
    let mut report = SoakReport {
        seed: options.seed,
        ..SoakReport::default()
    };
    let providers = FakeProviders::start().await;
    providers.set_delay(Duration::from_millis(300));
    providers.set_polls_to_finish(3);
    providers.set_video_bytes(2 * 1024 * 1024);
    providers.set_chunk_pause(Duration::from_millis(40));
    let validator = FakeValidator::start(&key(VALIDATOR_PHRASE), &key(MINER_PHRASE)).await;
    validator.set_reply_delay(options.validator_delay);
    let mut fixture = Fixture::new(&providers);
    fixture.set("VIDEO_SERVICE", "runway");
    fixture.set("MINER_MAX_CONCURRENT_TASKS", "16");
    fixture.set("BT_LOGGING_LEVEL", "INFO");
    let challenger = Challenger::new(&fixture.base(), VALIDATOR_PHRASE);
    let socket = fixture.dir.path().join("state/admin.sock");

    let mut accepted: BTreeMap<String, bool> = BTreeMap::new(); // task id → is video
    let mut miner = start(&fixture, &mut report);
    let pace = Duration::from_millis(60);
    // Kill moments: spread over the time sending takes, at random.
    let sending = pace * options.challenges as u32 + Duration::from_secs(2);
    let mut kill_at: Vec<Duration> = (0..options.kills)
        .map(|_| sending.mul_f64(rng.gen_range(0.05..1.0)))
        .collect();
    kill_at.sort();
    let sending_began = Instant::now();
    let mut n = 0usize;
    while accepted.len() < options.challenges || !kill_at.is_empty() {
        if kill_at
            .first()
            .is_some_and(|at| sending_began.elapsed() >= *at)
        {
            kill_at.remove(0);
            let snapshot = phases(&socket, &providers, &validator).await;
            miner.kill9();
            let line = format!(
                "kill {} at {:.1} s: {snapshot}",
                report.kills.len() + 1,
                began.elapsed().as_secs_f64()
            );
            if options.verbose {
                println!("{line}");
            }
            report.kills.push(line);
            // Sometimes the miner stays down a while: validators keep trying meanwhile.
            if rng.gen_bool(0.3) {
                tokio::time::sleep(Duration::from_millis(rng.gen_range(100..800))).await;
            }
            miner = start(&fixture, &mut report);
            continue;
        }
        if accepted.len() < options.challenges {
            n += 1;
            let video = options.video_every > 0 && rng.gen_range(0..options.video_every) == 0;
            let (path, body) = if video {
                (
                    "/gen_video",
                    json!({"prompt": format!("soak clip {n}"), "parameters": {"resolution": "480p"}}),
                )
            } else {
                (
                    "/gen_image",
                    json!({"prompt": format!("soak picture {n}"), "parameters": {"resolution": "1K"}}),
                )
            };
            match challenger
                .try_challenge(path, &body, &validator.url())
                .await
            {
                Ok((201, reply)) => {
                    if let Some(id) = reply["task_id"].as_str() {
                        accepted.insert(id.to_string(), video);
                    }
                }
                _ => report.refused_while_down += 1,
            }
        }
        tokio::time::sleep(pace).await;
    }
    report.accepted = accepted.len();
    report.video_accepted = accepted.values().filter(|v| **v).count();

    // The last miner finishes everything, then stops as an operator would stop it.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let got: HashSet<String> = validator
            .webhooks()
            .into_iter()
            .map(|h| h.task_id)
            .collect();
        let missing = accepted.keys().filter(|id| !got.contains(*id)).count();
        if missing == 0 {
            break;
        }
        if Instant::now() > deadline {
            report
                .problems
                .push(format!("{missing} accepted challenges never got a webhook within 120 s of the last one sent"));
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // What the operator's dashboard says must agree: nothing in progress once the last
    // answers are recorded (the validator holds each webhook a moment after taking it).
    let settled = Instant::now() + Duration::from_secs(10);
    loop {
        let open: Vec<String> =
            match gas_client::get_json::<Status>(&socket, "GET", "/status", None).await {
                Ok(status) => status
                    .queue
                    .iter()
                    .filter(|q| !q.state.is_final() && q.count > 0)
                    .map(|q| format!("{} {:?} {:?}", q.count, q.modality, q.state))
                    .collect(),
                Err(e) => vec![format!("no status: {e}")],
            };
        if open.is_empty() {
            break;
        }
        if Instant::now() > settled {
            report.problems.push(format!(
                "with everything delivered, /status still counts tasks in progress 10 s later: {}",
                open.join(", ")
            ));
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let code = miner.terminate();
    if code != Some(0) {
        report.problems.push(format!(
            "the final SIGTERM ended the miner with {code:?}:\n{}",
            miner.log()
        ));
    }
    check_store(&fixture, &accepted, &mut report);
    check_webhooks(&validator, &accepted, &mut report);
    report.video_jobs_created = providers.jobs_created();
    report.elapsed = began.elapsed();
    if !report.ok() {
        drop(miner);
        report.kept = Some(fixture.dir.keep());
    }
    report
}

/// Starts the miner (the harness waits until it listens, and fails loudly with its log if
/// the database does not open) and notes how long that took.
fn start(fixture: &Fixture, report: &mut SoakReport) -> Miner {
    let t = Instant::now();
    let miner = fixture.start();
    report.starts += 1;
    report.slowest_start = report.slowest_start.max(t.elapsed());
    miner
}

/// What was going on when the kill came: tasks per state, webhooks held by the validator.
async fn phases(
    socket: &std::path::Path,
    providers: &FakeProviders,
    validator: &FakeValidator,
) -> String {
    let mut parts = Vec::new();
    if let Ok(status) = gas_client::get_json::<Status>(socket, "GET", "/status", None).await {
        let mut by_state: BTreeMap<String, u64> = BTreeMap::new();
        for q in status.queue.iter().filter(|q| !q.state.is_final()) {
            *by_state
                .entry(format!("{:?}", q.state).to_lowercase())
                .or_default() += q.count;
        }
        for (state, count) in by_state.into_iter().filter(|(_, c)| *c > 0) {
            parts.push(format!("{count} {state}"));
        }
    }
    let downloading = providers.downloads_in_progress();
    if downloading > 0 {
        parts.push(format!("{downloading} video downloads streaming"));
    }
    let held = validator.in_flight();
    if held > 0 {
        parts.push(format!("{held} webhooks mid-delivery"));
    }
    if parts.is_empty() {
        "idle".to_string()
    } else {
        parts.join(", ")
    }
}

fn check_store(fixture: &Fixture, accepted: &BTreeMap<String, bool>, report: &mut SoakReport) {
    let store = match gas_miner::testing::Store::open(&fixture.dir.path().join("state")) {
        Ok(s) => s,
        Err(e) => {
            report
                .problems
                .push(format!("the database did not open after the soak: {e}"));
            return;
        }
    };
    // Before anything reads the queues (reading them repairs what it finds).
    match store.index_disagreements() {
        Ok(0) => {}
        Ok(n) => report.problems.push(format!(
            "{n} queue index entries disagree with their task (the index and the task were not written together)"
        )),
        Err(e) => report.problems.push(format!("the queue index is unreadable: {e}")),
    }
    for (id, _) in accepted.iter() {
        match store.get(id) {
            Ok(Some(task)) => match task.state {
                TaskState::Delivered => report.delivered += 1,
                TaskState::Failed => report.failed += 1,
                other => report.problems.push(format!(
                    "task {id} ended the soak {other:?}, not delivered or failed"
                )),
            },
            Ok(None) => report.problems.push(format!(
                "task {id} was accepted (201) but is not in the database"
            )),
            Err(e) => report.problems.push(format!("task {id} unreadable: {e}")),
        }
    }
    for state in TaskState::ALL.into_iter().filter(|s| !s.is_final()) {
        if let Ok(left) = store.in_state(state)
            && !left.is_empty()
        {
            report
                .problems
                .push(format!("{} tasks left {state:?}", left.len()));
        }
    }
    let pending = store.outbox().count();
    if pending > 0 {
        report
            .problems
            .push(format!("{pending} webhooks still in the outbox"));
    }
}

fn check_webhooks(
    validator: &FakeValidator,
    accepted: &BTreeMap<String, bool>,
    report: &mut SoakReport,
) {
    let mut by_task: HashMap<String, Vec<Webhook>> = HashMap::new();
    for hook in validator.webhooks() {
        by_task.entry(hook.task_id.clone()).or_default().push(hook);
    }
    for (id, hooks) in &by_task {
        if !accepted.contains_key(id) {
            report.unannounced += 1;
        }
        report.resent += hooks.len() - 1;
        let outcomes: HashSet<&str> = hooks.iter().map(|h| h.status_header.as_str()).collect();
        if outcomes.len() > 1 {
            report.problems.push(format!(
                "task {id} was reported both ways: {:?}",
                hooks
                    .iter()
                    .map(|h| (h.status_header.as_str(), h.error_message.as_deref()))
                    .collect::<Vec<_>>()
            ));
        }
        let media: HashSet<&str> = hooks
            .iter()
            .filter(|h| h.status_header == "completed")
            .map(|h| h.sha256.as_str())
            .collect();
        if media.len() > 1 {
            report.problems.push(format!(
                "task {id} was delivered with different media each time"
            ));
        }
        if let Some(bad) = hooks.iter().find(|h| !h.epistula_error.is_empty()) {
            report.problems.push(format!(
                "task {id}: a webhook failed Epistula: {}",
                bad.epistula_error
            ));
        }
    }
}
