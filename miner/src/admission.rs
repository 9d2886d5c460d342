//! Admission before the 201: whether a challenge should be refused (503 with a reason)
//! rather than accepted and then failed. Under the v5 protocol a refusal is `no_answer`,
//! left out of the pass rate, while an accepted challenge that fails lowers it.
//!
//! Pure logic over figures the caller already holds in memory (queue counts, the last hour's
//! finished count, the providers' breakers and latencies), so the accept path stays cheap.

use gas_shared::Modality;
use std::time::Duration;

/// Tasks of a modality that must have finished in the last hour before its throughput is
/// trusted for an estimate of the wait.
pub(crate) const MIN_HISTORY: u64 = 5;

/// Why a challenge is refused; `label` is the reason's name in counters and `/metrics`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Refusal {
    /// Every provider of the modality's chain has its breaker open.
    NoHealthyProvider { modality: Modality },
    /// The modality's spend budget (or the whole one) is reached, counting the queue.
    OverBudget { detail: String },
    /// The modality's queue holds `MINER_QUEUE_MAX` tasks already: the hard cap behind the
    /// wait check, which needs an hour's history to judge.
    QueueFull {
        modality: Modality,
        ahead: u64,
        max: u64,
    },
    /// The expected wait is over the limit.
    Wait {
        modality: Modality,
        wait_s: u64,
        ahead: u64,
        per_minute: f64,
        p95_s: u64,
        max_wait_s: u64,
    },
}

impl Refusal {
    /// The reason's name in counters, `/status` and `/metrics`.
    pub(crate) fn label(&self) -> &'static str {
        match self {
            Refusal::NoHealthyProvider { .. } => NO_PROVIDER,
            Refusal::OverBudget { .. } => BUDGET,
            Refusal::QueueFull { .. } => QUEUE_FULL,
            Refusal::Wait { .. } => WAIT,
        }
    }
}

/// Counter name: no provider of the chain could serve.
pub(crate) const NO_PROVIDER: &str = "no_provider";
/// Counter name: a spend budget is reached.
pub(crate) const BUDGET: &str = "budget";
/// Counter name: the queue is at its hard cap.
pub(crate) const QUEUE_FULL: &str = "queue_full";
/// `MINER_QUEUE_MAX` when unset: far beyond what the wait check lets in once it has an
/// hour's history, small enough that the queue's records stay a few MB.
pub(crate) const DEFAULT_QUEUE_MAX: u64 = 2000;
/// Counter name: the queue's wait would be too long.
pub(crate) const WAIT: &str = "wait";
/// Counter name: the modality has no provider chain at all.
pub(crate) const NO_SERVICE: &str = "no_service";

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::NoHealthyProvider { modality } => write!(
                f,
                "refused: no healthy provider for modality={modality} (every breaker of its chain is open)"
            ),
            Refusal::OverBudget { detail } => write!(f, "refused: {detail}"),
            Refusal::QueueFull {
                modality,
                ahead,
                max,
            } => write!(
                f,
                "refused: the {modality} queue holds {ahead} tasks, at MINER_QUEUE_MAX={max}"
            ),
            Refusal::Wait {
                modality,
                wait_s,
                ahead,
                per_minute,
                p95_s,
                max_wait_s,
            } => {
                // Two decimals below one a minute, so a slow queue does not read as 0.0.
                let rate = if *per_minute < 1.0 {
                    format!("{per_minute:.2}")
                } else {
                    format!("{per_minute:.1}")
                };
                write!(
                    f,
                    "refused: the {modality} queue would take ~{wait_s} s ({ahead} ahead at {rate}/min, p95 {p95_s} s), over MINER_ADMISSION_MAX_WAIT={max_wait_s}"
                )
            }
        }
    }
}

/// What the decision is made from, for one modality.
#[derive(Debug, Clone)]
pub(crate) struct Inputs {
    pub modality: Modality,
    /// Whether each provider of the chain can serve now (closed or half-open breaker, or an
    /// open one whose pause is over). An empty chain is the caller's `NoService`.
    pub providers_able: Vec<bool>,
    /// Tasks of the modality queued or generating.
    pub ahead: u64,
    /// Tasks of the modality that finished in the last hour.
    pub finished_last_hour: u64,
    /// The minutes that count covers (1 to 60): less than an hour for a miner started since.
    pub history_minutes: f64,
    /// The p95 task time of the provider expected to serve it, if known.
    pub p95: Option<Duration>,
    /// `MINER_ADMISSION_MAX_WAIT`; zero turns the wait check off.
    pub max_wait: Duration,
    /// `MINER_QUEUE_MAX`: `ahead` at which every challenge is refused.
    pub queue_max: u64,
    /// Why the spend budget refuses it (`budget`'s words), if it does.
    pub over_budget: Option<String>,
}

/// Accept (`Ok`) or refuse with the reason.
///
/// The wait is `ahead ÷ throughput + p95`, throughput being the last hour's finished tasks of
/// the modality over the minutes of that hour the miner's statistics cover (a miner started
/// ten minutes ago is not judged as if it had been idle for fifty). With fewer than [`MIN_HISTORY`] of them the wait is unknown, and unknown is
/// not "too long": the challenge is not refused for its wait.
pub(crate) fn decide(i: &Inputs) -> Result<(), Refusal> {
    if !i.providers_able.is_empty() && !i.providers_able.iter().any(|able| *able) {
        return Err(Refusal::NoHealthyProvider {
            modality: i.modality,
        });
    }
    if let Some(detail) = &i.over_budget {
        return Err(Refusal::OverBudget {
            detail: detail.clone(),
        });
    }
    if i.ahead >= i.queue_max {
        return Err(Refusal::QueueFull {
            modality: i.modality,
            ahead: i.ahead,
            max: i.queue_max,
        });
    }
    if i.max_wait.is_zero() || i.finished_last_hour < MIN_HISTORY {
        return Ok(());
    }
    let per_minute = i.finished_last_hour as f64 / i.history_minutes.clamp(1.0, 60.0);
    let p95_s = i.p95.map(|d| d.as_secs()).unwrap_or(0);
    let wait_s = (i.ahead as f64 / per_minute * 60.0).round() as u64 + p95_s;
    if wait_s > i.max_wait.as_secs() {
        return Err(Refusal::Wait {
            modality: i.modality,
            wait_s,
            ahead: i.ahead,
            per_minute,
            p95_s,
            max_wait_s: i.max_wait.as_secs(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs() -> Inputs {
        Inputs {
            modality: Modality::Image,
            providers_able: vec![true],
            ahead: 40,
            finished_last_hour: 60,
            history_minutes: 60.0,
            p95: Some(Duration::from_secs(60)),
            max_wait: Duration::from_secs(1800),
            queue_max: DEFAULT_QUEUE_MAX,
            over_budget: None,
        }
    }

    #[test]
    fn the_hard_cap_refuses_even_without_the_history_the_wait_needs() {
        let full = Inputs {
            finished_last_hour: 0,
            ahead: 2000,
            ..inputs()
        };
        let err = decide(&full).expect_err("refused");
        assert_eq!(err.label(), QUEUE_FULL);
        assert_eq!(
            err.to_string(),
            "refused: the image queue holds 2000 tasks, at MINER_QUEUE_MAX=2000"
        );
        let below = Inputs {
            ahead: 1999,
            ..full
        };
        assert_eq!(decide(&below), Ok(()));
    }

    #[test]
    fn a_long_queue_is_refused_with_its_wait_named() {
        let err = decide(&inputs()).expect_err("refused");
        assert_eq!(err.label(), WAIT);
        assert_eq!(
            err.to_string(),
            "refused: the image queue would take ~2460 s (40 ahead at 1.0/min, p95 60 s), over MINER_ADMISSION_MAX_WAIT=1800"
        );
    }

    #[test]
    fn a_budget_reached_refuses_before_the_wait_is_weighed() {
        let i = Inputs {
            ahead: 0,
            over_budget: Some("over budget for modality=image: …".into()),
            ..inputs()
        };
        let err = decide(&i).expect_err("refused");
        assert_eq!(err.label(), BUDGET);
        assert_eq!(
            err.to_string(),
            "refused: over budget for modality=image: …"
        );
    }

    #[test]
    fn a_young_miner_is_judged_on_the_minutes_it_has_run_not_a_whole_hour() {
        // 60 finished in the 10 minutes since the start: 6 a minute, not 1.
        let young = Inputs {
            history_minutes: 10.0,
            ..inputs()
        };
        assert_eq!(decide(&young), Ok(()), "40 ahead at 6/min is ~7 min");
        let err = decide(&inputs()).expect_err("the same figures over an hour");
        assert_eq!(err.label(), WAIT);
    }

    #[test]
    fn a_short_queue_is_accepted() {
        let i = Inputs {
            ahead: 10,
            ..inputs()
        };
        assert_eq!(decide(&i), Ok(()));
    }

    #[test]
    fn too_little_history_or_a_zero_limit_never_refuses_on_the_wait() {
        let few = Inputs {
            finished_last_hour: MIN_HISTORY - 1,
            ahead: 1_900,
            ..inputs()
        };
        assert_eq!(decide(&few), Ok(()));
        let off = Inputs {
            max_wait: Duration::ZERO,
            ..inputs()
        };
        assert_eq!(decide(&off), Ok(()));
    }

    #[test]
    fn a_chain_with_every_breaker_open_is_refused_and_one_able_provider_is_enough() {
        let down = Inputs {
            providers_able: vec![false, false],
            ahead: 0,
            ..inputs()
        };
        let err = decide(&down).expect_err("refused");
        assert_eq!(err.label(), NO_PROVIDER);
        assert!(err.to_string().contains("modality=image"), "{err}");
        let one = Inputs {
            providers_able: vec![false, true],
            ahead: 0,
            ..inputs()
        };
        assert_eq!(decide(&one), Ok(()));
    }
}
