//! Stores seeded with many tasks, for the benchmarks that need a miner with history.

use crate::*;
use gas_miner::task::{MediaInfo, Outcome, TaskRecord};
use gas_miner::testing::{OutboxChange, Store};
use gas_shared::admin::VerdictBrief;
use gas_shared::{Modality, TaskState, Tier};

/// Adds `n` finished tasks (a third videos, one in 17 failed C2PA), created 0.8 s apart up
/// to now, as a miner that ran for a while would have them.
pub fn finished_tasks(store: &Store, n: usize) {
    let now = gas_miner::clock::now_ms();
    let validators = [
        key(VALIDATOR_PHRASE).ss58().to_string(),
        key(POOR_PHRASE).ss58().to_string(),
    ];
    for i in 0..n {
        let modality = if i % 3 == 0 {
            Modality::Video
        } else {
            Modality::Image
        };
        let failed = i % 17 == 0;
        let created = now - ((n - i) as i64) * 800;
        let task = TaskRecord {
            v: 1,
            task_id: format!("{:08x}-0000-4000-8000-{:012x}", i, i),
            modality,
            state: TaskState::Queued,
            prompt: format!("seeded prompt number {i}: a harbour at dawn with gulls"),
            parameters: serde_json::json!({"resolution": if modality == Modality::Video { "720p" } else { "2K" }}),
            tier: if modality == Modality::Video {
                Tier::P720
            } else {
                Tier::K2
            },
            webhook_url: "http://127.0.0.1:1/generative_callback".into(),
            validator: validators[i % 2].clone(),
            validator_uid: (i % 2) as u16,
            created_ms: created,
            deadline_ms: created + 7_200_000,
            started_ms: Some(created + 10),
            finished_ms: Some(created + 30_000),
            generation_runs: 1,
            media: Some(MediaInfo {
                file: format!("{i}.png"),
                content_type: "image/png".into(),
                bytes: 1_000_000,
                sha256: "00".repeat(32),
                provider: "openrouter".into(),
                model: "google/gemini-3-pro-image-preview".into(),
            }),
            outcome: Some(if failed {
                Outcome::Failure {
                    message: "openrouter: pre-flight failed: c2pa: Signature validation failed"
                        .into(),
                }
            } else {
                Outcome::Success
            }),
            deliveries: 1,
            last_reply: None,
            verdict: Some(VerdictBrief {
                passed: !failed,
                c2pa_ok: !failed,
                reason: failed.then(|| "c2pa: Signature validation failed".into()),
            }),
            c2pa_failed: failed,
        };
        store.insert_new(&task).expect("insert");
        let done = if failed {
            TaskState::Failed
        } else {
            TaskState::Delivered
        };
        store
            .update(&task.task_id, gas_miner::testing::OutboxChange::None, |t| {
                t.state = done
            })
            .expect("update");
    }
}

/// Adds `n` tasks a crash left unfinished: half queued, half with a result waiting in the
/// outbox for a validator at `webhook_url`; their media files exist.
pub fn unfinished_tasks(store: &Store, n: usize, webhook_url: &str) {
    let now = gas_miner::clock::now_ms();
    let validator = key(VALIDATOR_PHRASE).ss58().to_string();
    for i in 0..n {
        let file = format!("unfinished-{i}.png");
        let waiting = i % 2 == 1;
        if waiting {
            std::fs::write(store.media_dir().join(&file), b"not really a png").expect("media file");
        }
        let task = TaskRecord {
            v: 1,
            task_id: format!("{:08x}-1111-4000-8000-{:012x}", i, i),
            modality: Modality::Image,
            state: TaskState::Queued,
            prompt: format!("unfinished prompt {i}"),
            parameters: serde_json::json!({"resolution": "1K"}),
            tier: Tier::K1,
            webhook_url: webhook_url.into(),
            validator: validator.clone(),
            validator_uid: 0,
            created_ms: now,
            deadline_ms: now + 7_200_000,
            started_ms: None,
            finished_ms: None,
            generation_runs: 0,
            media: waiting.then(|| MediaInfo {
                file: file.clone(),
                content_type: "image/png".into(),
                bytes: 16,
                sha256: "00".repeat(32),
                provider: "openrouter".into(),
                model: "google/gemini-3-pro-image-preview".into(),
            }),
            outcome: waiting.then_some(Outcome::Success),
            deliveries: 0,
            last_reply: None,
            verdict: None,
            c2pa_failed: false,
        };
        store.insert_new(&task).expect("insert");
        if waiting {
            store
                .update(&task.task_id, OutboxChange::Schedule(now), |t| {
                    t.state = TaskState::Delivering
                })
                .expect("update");
        }
    }
}
