//! The store's own tests, and a task maker the pipeline's tests share.

use super::tasks::queue_key;
use super::*;
use crate::task::{CallRecord, Feedback, MediaInfo};
use gas_shared::Tier;

/// A queued image task, for tests.
pub(crate) fn task(id: &str) -> TaskRecord {
    TaskRecord {
        webhook_url: "http://127.0.0.1:1/cb".into(),
        validator: "5Validator".into(),
        ..TaskRecord::accepted(
            id.into(),
            Modality::Image,
            "p".into(),
            serde_json::json!({}),
            Tier::K2,
            (1_000, 9_000),
        )
    }
}

fn call(provider: &str, latency_ms: u64, cost: Option<f64>, error: bool) -> CallRecord {
    CallRecord {
        task_id: "t".into(),
        provider: provider.into(),
        op: "generate".into(),
        model: "m".into(),
        request: serde_json::json!({}),
        status: Some(if error { 500 } else { 200 }),
        error: error.then(|| "HTTP 500".into()),
        latency_ms,
        bytes: 10,
        cost_usd: cost,
        at_ms: 1,
        modality: None,
    }
}

#[tokio::test]
async fn a_task_is_found_in_one_state_only_even_with_a_stale_index_entry() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path()).expect("open");
    store.insert_new(&task("a")).expect("insert");
    let queued_key = queue_key(&task("a"));
    store
        .update("a", OutboxChange::None, |t| t.state = TaskState::Generating)
        .expect("update");
    // What a crash in the middle of the move can leave: the old entry still there.
    store.queue.insert(&queued_key, &[]).expect("stale entry");
    store.flush().expect("flush");
    drop(store);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let store = Store::open(dir.path()).expect("reopen");
    assert_eq!(store.index_disagreements().expect("scan"), 1);
    assert!(store.in_state(TaskState::Queued).expect("scan").is_empty());
    assert_eq!(store.index_disagreements().expect("scan"), 0);
    let generating = store.in_state(TaskState::Generating).expect("scan");
    assert_eq!(generating.len(), 1);
    assert!(
        store.queue.get(&queued_key).expect("get").is_none(),
        "the stale entry is gone"
    );
    let counts = store.counts();
    assert_eq!(counts.get(&TaskState::Queued).copied().unwrap_or(0), 0);
    assert_eq!(counts.get(&TaskState::Generating).copied(), Some(1));
}

#[tokio::test]
async fn provider_usage_adds_up_and_outlives_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let store = Store::open(dir.path()).expect("open");
        for ms in [100, 200, 300, 400] {
            store
                .record_call(&call("openai", ms, Some(0.25), false))
                .expect("record");
        }
        store
            .record_call(&call("openai", 5000, None, true))
            .expect("record");
        store
            .record_call(&call("runway", 50, Some(1.0), false))
            .expect("record");
        let u = &store.provider_usage()["openai"];
        assert_eq!((u.calls, u.errors, u.bytes), (5, 1, 50));
        assert!((u.cost_usd - 1.0).abs() < 1e-9);
        assert_eq!(u.latency_ms(0.5), Some(300));
        assert_eq!(u.latency_ms(0.95), Some(5000));
        store.commit().await.expect("commit");
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let store = Store::open(dir.path()).expect("reopen");
    let usage = store.provider_usage();
    assert_eq!(usage["openai"].calls, 5);
    assert!((usage["runway"].cost_usd - 1.0).abs() < 1e-9);
    assert_eq!(store.calls("t").expect("calls").len(), 6);
}

#[tokio::test]
async fn tasks_outbox_and_feedback_survive_a_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let store = Store::open(dir.path()).expect("open");
        store.insert_new(&task("a")).expect("insert a");
        store.insert_new(&task("b")).expect("insert b");
        store
            .update("b", OutboxChange::Schedule(5_000), |t| {
                t.state = TaskState::Delivering
            })
            .expect("update");
        store
            .record_feedback(&Feedback {
                validator: "5Validator".into(),
                task_id: "b".into(),
                kind: "success".into(),
                attempt: 1,
                status: Some(400),
                body: "duplicate".into(),
                at_ms: 6_000,
            })
            .expect("feedback");
        store.commit().await.expect("commit");
        assert_eq!(store.counts().get(&TaskState::Delivering), Some(&1));
    }
    // sled releases its lock when the last handle drops; give its threads a moment.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let store = Store::open(dir.path()).expect("reopen");
    let queued: Vec<String> = store
        .in_state(TaskState::Queued)
        .expect("queued")
        .into_iter()
        .map(|t| t.task_id)
        .collect();
    assert_eq!(queued, vec!["a".to_string()]);
    assert_eq!(store.counts().get(&TaskState::Delivering), Some(&1));
    let due: Vec<OutboxEntry> = store.outbox().map(|e| e.expect("entry")).collect();
    assert_eq!(
        due,
        vec![OutboxEntry {
            due_ms: 5_000,
            task_id: "b".into()
        }]
    );
    let fb = store.feedback_for("5Validator").expect("feedback");
    assert_eq!(
        (fb.len(), fb[0].status, fb[0].body.as_str()),
        (1, Some(400), "duplicate")
    );
    assert!(store.feedback_for("5Other").expect("none").is_empty());
}

#[tokio::test]
async fn pruning_forgets_old_finished_tasks_and_their_media_but_keeps_the_counts() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let store = Store::open(dir.path()).expect("open");
        let old = |id: &str, state: TaskState| {
            let mut t = task(id);
            t.created_ms = 1_000;
            store.insert_new(&t).expect("insert");
            std::fs::write(store.media_dir().join(format!("{id}.png")), b"png").expect("media");
            store
                .update(id, OutboxChange::None, |t| {
                    t.state = state;
                    t.media = Some(MediaInfo {
                        file: format!("{id}.png"),
                        content_type: "image/png".into(),
                        bytes: 3,
                        sha256: String::new(),
                        provider: "openai".into(),
                        model: "m".into(),
                    });
                })
                .expect("update");
            store
                .record_call(&CallRecord {
                    task_id: id.into(),
                    ..call("openai", 100, Some(0.04), false)
                })
                .expect("call");
        };
        old("old-delivered", TaskState::Delivered);
        old("old-failed", TaskState::Failed);
        old("old-but-generating", TaskState::Generating);
        let mut fresh = task("fresh");
        fresh.created_ms = 50_000;
        store.insert_new(&fresh).expect("insert fresh");
        for (validator, at_ms) in [("5A", 2_000), ("5A", 60_000), ("5B", 3_000), ("5C", 70_000)] {
            store
                .record_feedback(&Feedback {
                    validator: validator.into(),
                    task_id: "fresh".into(),
                    kind: "success".into(),
                    attempt: 1,
                    status: Some(202),
                    body: String::new(),
                    at_ms,
                })
                .expect("feedback");
        }
        let before = store.counts_by_modality();

        assert_eq!(store.prune(10_000).expect("prune"), 2);
        for id in ["old-delivered", "old-failed"] {
            assert!(store.get(id).expect("get").is_none(), "{id} kept");
            assert!(
                store.calls(id).expect("calls").is_empty(),
                "{id}'s calls kept"
            );
            assert!(
                !store.media_dir().join(format!("{id}.png")).exists(),
                "{id}'s media kept"
            );
        }
        assert!(
            store.get("old-but-generating").expect("get").is_some(),
            "unfinished work is never pruned"
        );
        assert!(store.media_dir().join("old-but-generating.png").exists());
        assert!(store.get("fresh").expect("get").is_some());
        assert_eq!(
            store.counts_by_modality(),
            before,
            "the totals did not move"
        );
        assert_eq!(
            store.provider_usage()["openai"].calls,
            3,
            "usage counters kept"
        );
        let replies = |v: &str| -> Vec<i64> {
            store
                .feedback_for(v)
                .expect("feedback")
                .iter()
                .map(|f| f.at_ms)
                .collect()
        };
        assert_eq!(replies("5A"), vec![60_000], "old replies go, new ones stay");
        assert!(replies("5B").is_empty());
        assert_eq!(replies("5C"), vec![70_000]);
        assert_eq!(store.prune(10_000).expect("prune again"), 0);
        store.commit().await.expect("commit");
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let store = Store::open(dir.path()).expect("reopen");
    assert_eq!(
        store.counts().get(&TaskState::Delivered),
        Some(&1),
        "totals outlive a restart"
    );
    assert_eq!(store.counts().get(&TaskState::Failed), Some(&1));
    assert_eq!(store.counts().get(&TaskState::Generating), Some(&1));
}

#[tokio::test]
async fn final_counts_are_kept_with_the_task_and_an_older_store_is_counted_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let finish = |store: &Store, id: &str, state: TaskState| {
        store.insert_new(&task(id)).expect("insert");
        store
            .update(id, OutboxChange::None, |t| t.state = state)
            .expect("update");
    };
    {
        let store = Store::open(dir.path()).expect("open");
        finish(&store, "d1", TaskState::Delivered);
        finish(&store, "d2", TaskState::Delivered);
        finish(&store, "f1", TaskState::Failed);
        store.insert_new(&task("q1")).expect("insert");
        // A final task changed again (a late failure report) moves between final counts.
        store
            .update("d2", OutboxChange::None, |t| t.state = TaskState::Failed)
            .expect("update");
        store.flush().expect("flush");
    }
    // The commit task lets go of the database once the last handle is gone.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let kept = |store: &Store, state: TaskState| {
        store
            .meta
            .get(format!("count/{}/image", state.as_str()))
            .expect("get")
            .map(|v| u64::from_be_bytes(v.as_ref().try_into().expect("8 bytes")))
    };
    {
        let store = Store::open(dir.path()).expect("reopen");
        assert_eq!(kept(&store, TaskState::Delivered), Some(1));
        assert_eq!(kept(&store, TaskState::Failed), Some(2));
        let counts = store.counts();
        assert_eq!(counts.get(&TaskState::Delivered), Some(&1));
        assert_eq!(counts.get(&TaskState::Failed), Some(&2));
        assert_eq!(
            counts.get(&TaskState::Queued),
            Some(&1),
            "live states from the index"
        );
        // What a store from before the kept counts holds: no counts, only pruned totals.
        for state in [TaskState::Delivered, TaskState::Failed] {
            store
                .meta
                .remove(format!("count/{}/image", state.as_str()))
                .expect("remove");
        }
        store.meta.remove("counts_kept").expect("remove");
        store
            .meta
            .insert("pruned/delivered/image", &5u64.to_be_bytes())
            .expect("insert");
        store.flush().expect("flush");
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let store = Store::open(dir.path()).expect("reopen the older store");
    assert_eq!(store.counts().get(&TaskState::Delivered), Some(&6));
    assert_eq!(
        kept(&store, TaskState::Delivered),
        Some(6),
        "kept from now on"
    );
    assert_eq!(store.counts().get(&TaskState::Failed), Some(&2));
}

#[tokio::test]
async fn filtered_pages_come_from_the_indexes_newest_first_and_an_older_store_is_indexed_once() {
    use gas_shared::admin::TaskQuery;
    let dir = tempfile::tempdir().expect("tempdir");
    // 30 tasks a second apart; images and videos alternate, every third fails, every fifth
    // has an attempt that failed C2PA (flagged by an update, as the pipeline does).
    let expect = |pick: &dyn Fn(usize) -> bool| -> Vec<String> {
        (1..=30usize)
            .rev()
            .filter(|&i| pick(i))
            .map(|i| format!("t{i:02}"))
            .collect()
    };
    let ids = |store: &Store, q: TaskQuery| -> Vec<String> {
        let mut out = Vec::new();
        let mut before = None;
        loop {
            let page = store
                .list_tasks(&TaskQuery {
                    before: before.clone(),
                    limit: Some(4),
                    ..q.clone()
                })
                .expect("list");
            out.extend(page.tasks.into_iter().map(|t| t.task_id));
            match page.next {
                Some(n) => before = Some(n),
                None => return out,
            }
        }
    };
    let failed = TaskQuery {
        state: Some(TaskState::Failed),
        ..TaskQuery::default()
    };
    let failed_videos = TaskQuery {
        modality: Some(Modality::Video),
        ..failed.clone()
    };
    let c2pa = TaskQuery {
        verdict: Some("c2pa_failed".into()),
        ..TaskQuery::default()
    };
    {
        let store = Store::open(dir.path()).expect("open");
        for i in 1..=30usize {
            let mut t = task(&format!("t{i:02}"));
            t.created_ms = 1_000 * i as i64;
            if i % 2 == 0 {
                t.modality = Modality::Video;
            }
            store.insert_new(&t).expect("insert");
            store
                .update(&t.task_id, OutboxChange::None, |t| {
                    t.state = if i % 3 == 0 {
                        TaskState::Failed
                    } else {
                        TaskState::Delivered
                    };
                    t.c2pa_failed |= i % 5 == 0;
                })
                .expect("update");
        }
        assert_eq!(ids(&store, failed.clone()), expect(&|i| i % 3 == 0));
        assert_eq!(
            ids(&store, failed_videos.clone()),
            expect(&|i| i % 3 == 0 && i % 2 == 0)
        );
        assert_eq!(ids(&store, c2pa.clone()), expect(&|i| i % 5 == 0));
        assert_eq!(store.c2pa_failed.len(), 6, "only the flagged are indexed");
        // Pruning takes the index entries with the tasks.
        assert_eq!(store.prune(10_500).expect("prune"), 10);
        assert_eq!(ids(&store, c2pa.clone()), expect(&|i| i % 5 == 0 && i > 10));
        assert_eq!(
            ids(&store, failed.clone()),
            expect(&|i| i % 3 == 0 && i > 10)
        );
        // What a store from schema 2 holds: no C2PA index.
        store.c2pa_failed.clear().expect("clear");
        store
            .meta
            .insert("schema", &2u32.to_be_bytes())
            .expect("insert");
        store.flush().expect("flush");
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let store = Store::open(dir.path()).expect("reopen the older store");
    assert_eq!(ids(&store, c2pa), expect(&|i| i % 5 == 0 && i > 10));
    assert_eq!(
        ids(&store, failed_videos),
        expect(&|i| i % 3 == 0 && i % 2 == 0 && i > 10)
    );
}
