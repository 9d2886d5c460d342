//! Our own records read as the validators will count them (VALIDATION.md, Rewards): every
//! task that ended in the window is one outcome, verified or failed, read once as it ends.
//! Where a validator told us (a v4.9.x reply, a recorded failure report, a timeout) that is
//! the verdict; where it did not (a v5 202) our pre-flight verdict stands in for it, marked
//! as an estimate.

use super::estimate::Outcome;
use crate::store::{Store, StoreError};
use crate::task::{Outcome as TaskOutcome, TaskRecord};
use gas_shared::TaskState;
use gas_shared::reply::ReplyClass;

/// The window validators score over.
pub(crate) const WINDOW_MS: i64 = 24 * 3_600_000;

/// How long before it ended a task may have been accepted: the validators' purge (~2 h
/// 22 min) with room to spare. A start looks this far behind the last time every ended task
/// was counted for the ones it missed.
pub(crate) const LONGEST_TASK_MS: i64 = 3 * 3_600_000;

/// A finished task, when it ended, and its outcome.
pub(crate) struct Ended {
    pub task: TaskRecord,
    pub at_ms: i64,
    pub outcome: Outcome,
}

/// What the store keeps of a task's counted outcome (`Store::count_outcome`).
#[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Counted {
    pub at_ms: i64,
    pub outcome: Outcome,
}

/// One task's outcome and when it ended, once it has (None before, or when it is gone).
pub(crate) fn of_task(store: &Store, task_id: &str) -> Result<Option<Ended>, StoreError> {
    let Some(task) = store.get(task_id)? else {
        return Ok(None);
    };
    match task.finished_ms {
        Some(at_ms) if task.state.is_final() => {
            let outcome = outcome(store, &task)?;
            Ok(Some(Ended {
                task,
                at_ms,
                outcome,
            }))
        }
        _ => Ok(None),
    }
}

/// One finished task as an outcome.
fn outcome(store: &Store, task: &TaskRecord) -> Result<Outcome, StoreError> {
    let (verified, from_validator) = judged(task);
    let verdicts = store.verdicts(&task.task_id)?;
    // The delivered media's verdict: the last one that passed, else the last one.
    let verdict = verdicts.iter().rev().find(|v| v.passed).or(verdicts.last());
    let delivered = task.media.is_some() && task.state == TaskState::Delivered;
    let calls = store.calls(&task.task_id)?;
    let cost_usd = calls.iter().filter_map(|c| c.cost_usd).sum();
    let (provider, model) = match (&task.media, calls.last()) {
        (Some(m), _) => (m.provider.clone(), m.model.clone()),
        (None, Some(c)) => (c.provider.clone(), c.model.clone()),
        (None, None) => (String::new(), String::new()),
    };
    Ok(Outcome {
        modality: task.modality,
        verified,
        from_validator,
        requested: task.tier,
        measured: verdict
            .filter(|_| delivered)
            .and_then(|v| v.media.measured_tier),
        model_name: verdict
            .filter(|_| delivered)
            .and_then(|v| v.c2pa.model_name.clone()),
        provider,
        model,
        cost_usd,
    })
}

/// (verified, said by a validator) for a finished task.
fn judged(task: &TaskRecord) -> (bool, bool) {
    let preflight = task.verdict.as_ref().is_some_and(|v| v.passed);
    if matches!(task.outcome, Some(TaskOutcome::Failure { .. })) {
        // A failure report: a failed outcome, whatever the reply.
        return (false, true);
    }
    match task.state {
        // No webhook got through before the deadline: `challenge_timeout`.
        TaskState::Expired | TaskState::Failed => (false, true),
        _ => {
            let Some(reply) = &task.last_reply else {
                return (preflight, false);
            };
            match ReplyClass::of(false, reply.status, &reply.body) {
                ReplyClass::Passed => (true, true),
                ReplyClass::Rejected => (false, true),
                // The validator had forgotten the task: it counts it timed out.
                ReplyClass::Ignored if reply.body.to_ascii_lowercase().contains("not found") => {
                    (false, true)
                }
                _ => (preflight, false),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::Reply;
    use gas_shared::admin::VerdictBrief;
    use gas_shared::{Modality, Tier};

    fn task(state: TaskState, reply: Option<(u16, &str)>, preflight: bool) -> TaskRecord {
        TaskRecord {
            state,
            last_reply: reply.map(|(s, b)| Reply {
                status: Some(s),
                body: b.into(),
                at_ms: 0,
            }),
            verdict: Some(VerdictBrief {
                passed: preflight,
                c2pa_ok: preflight,
                reason: None,
            }),
            ..TaskRecord::accepted(
                "t".into(),
                Modality::Image,
                "p".into(),
                serde_json::json!({}),
                Tier::K1,
                (0, 1),
            )
        }
    }

    #[test]
    fn a_202_is_our_preflight_verdict_and_a_200_the_validators() {
        let d = TaskState::Delivered;
        assert_eq!(
            judged(&task(d, Some((202, "Callback accepted")), true)),
            (true, false)
        );
        assert_eq!(
            judged(&task(d, Some((202, "Callback accepted")), false)),
            (false, false)
        );
        assert_eq!(
            judged(&task(d, Some((200, "Binary content received")), true)),
            (true, true)
        );
        assert_eq!(
            judged(&task(d, Some((400, "duplicate")), true)),
            (false, true)
        );
        assert_eq!(
            judged(&task(
                d,
                Some((200, "Task not found in current session")),
                true
            )),
            (false, true)
        );
        assert_eq!(judged(&task(TaskState::Expired, None, true)), (false, true));
        let mut failed = task(TaskState::Failed, Some((200, "Failure recorded")), false);
        failed.outcome = Some(TaskOutcome::Failure {
            message: "no provider".into(),
        });
        assert_eq!(judged(&failed), (false, true));
    }
}
