//! Spend budgets: `MINER_BUDGET_USD_PER_DAY` for all spending and `_IMAGE` / `_VIDEO` per
//! modality, each over a rolling 24 hours of estimated call costs (the store keeps them, so a
//! restart forgets nothing). Before a paid call the pipeline asks [`Budget::check_call`]; the
//! admission asks [`Budget::check_admission`], which also counts the tasks already queued, so
//! that a modality at its limit is refused before the 201 instead of accepted and failed.
//! At 80 % of a limit the log warns once (and the console from `/status`).
//!
//! Pure logic over figures the caller holds (the store's [`Spent`]); it imports nothing of
//! the crate.

use gas_shared::Modality;
use gas_shared::admin::BudgetLine;
use std::sync::Mutex;

/// The share of a limit at which the operator is warned.
pub(crate) const WARN_AT: f64 = 0.8;

/// Estimated spend over the last 24 hours, per modality (US$).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Spent {
    pub image: f64,
    pub video: f64,
}

impl Spent {
    fn of(&self, scope: Scope) -> f64 {
        match scope {
            Scope::All => self.image + self.video,
            Scope::Image => self.image,
            Scope::Video => self.video,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    All,
    Image,
    Video,
}

impl Scope {
    const ALL: [Scope; 3] = [Scope::All, Scope::Image, Scope::Video];

    fn var(self) -> &'static str {
        match self {
            Scope::All => "MINER_BUDGET_USD_PER_DAY",
            Scope::Image => "MINER_BUDGET_USD_PER_DAY_IMAGE",
            Scope::Video => "MINER_BUDGET_USD_PER_DAY_VIDEO",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Scope::All => "all",
            Scope::Image => "image",
            Scope::Video => "video",
        }
    }

    /// The scopes whose limit a call of `modality` counts against.
    fn of(modality: Modality) -> [Scope; 2] {
        match modality {
            Modality::Image => [Scope::All, Scope::Image],
            Modality::Video => [Scope::All, Scope::Video],
        }
    }
}

/// The limits as configured (US$ per rolling 24 hours; `None`: no limit).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Limits {
    pub all: Option<f64>,
    pub image: Option<f64>,
    pub video: Option<f64>,
}

impl Limits {
    fn of(&self, scope: Scope) -> Option<f64> {
        match scope {
            Scope::All => self.all,
            Scope::Image => self.image,
            Scope::Video => self.video,
        }
    }
}

/// A limit that a call or a challenge would pass.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct OverBudget {
    pub modality: Modality,
    pub var: &'static str,
    pub limit: f64,
    pub spent: f64,
    /// What was about to be added: one call's cost, or the queued tasks' and one more.
    pub adding: f64,
}

impl std::fmt::Display for OverBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "over budget for modality={}: {}={:.2} US$, {:.2} spent in the last 24 h, ~{:.2} more would pass it (estimated list prices); raise the budget or wait for older spend to leave the window",
            self.modality, self.var, self.limit, self.spent, self.adding
        )
    }
}

pub(crate) struct Budget {
    limits: Limits,
    /// Per scope: whether the 80 % warning was given (cleared when spend falls below again).
    warned: Mutex<[bool; 3]>,
}

impl Budget {
    pub(crate) fn new(limits: Limits) -> Budget {
        Budget {
            limits,
            warned: Mutex::new([false; 3]),
        }
    }

    /// Whether any limit applies to `modality` (else nothing needs checking or pricing).
    pub(crate) fn limits(&self, modality: Modality) -> bool {
        Scope::of(modality)
            .iter()
            .any(|s| self.limits.of(*s).is_some())
    }

    fn check(&self, modality: Modality, spent: &Spent, adding: f64) -> Result<(), OverBudget> {
        for scope in Scope::of(modality) {
            let Some(limit) = self.limits.of(scope) else {
                continue;
            };
            let already = spent.of(scope);
            // At the limit nothing more is spent, even a call the table prices at zero.
            if already >= limit || already + adding > limit + 1e-9 {
                return Err(OverBudget {
                    modality,
                    var: scope.var(),
                    limit,
                    spent: already,
                    adding,
                });
            }
        }
        Ok(())
    }

    /// Before a paid call of `cost`: refused when it would pass a limit.
    pub(crate) fn check_call(
        &self,
        modality: Modality,
        spent: &Spent,
        cost: f64,
    ) -> Result<(), OverBudget> {
        self.check(modality, spent, cost)
    }

    /// Before the 201: refused when the tasks already queued (`ahead`) and this one, at
    /// `typical_cost` each, would pass a limit. With no typical cost known yet, only a limit
    /// already reached refuses.
    pub(crate) fn check_admission(
        &self,
        modality: Modality,
        spent: &Spent,
        ahead: u64,
        typical_cost: f64,
    ) -> Result<(), OverBudget> {
        self.check(modality, spent, (ahead + 1) as f64 * typical_cost)
    }

    /// Spend against each limit, for `/status` (a line per scope, with or without a limit).
    pub(crate) fn lines(&self, spent: &Spent) -> Vec<BudgetLine> {
        Scope::ALL
            .into_iter()
            .map(|scope| BudgetLine {
                scope: scope.name().to_string(),
                var: scope.var().to_string(),
                limit_usd: self.limits.of(scope),
                spent_usd: spent.of(scope),
            })
            .collect()
    }

    /// The warnings to log now: a scope that crossed 80 % of its limit since the last call
    /// (once; again only after it fell below).
    pub(crate) fn crossings(&self, spent: &Spent) -> Vec<String> {
        let mut warned = self.warned.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = Vec::new();
        for (i, scope) in Scope::ALL.into_iter().enumerate() {
            let Some(limit) = self.limits.of(scope) else {
                continue;
            };
            let s = spent.of(scope);
            let high = s >= limit * WARN_AT;
            if high && !warned[i] {
                out.push(format!(
                    "{} spend is at {:.0}% of {}={:.2} US$ ({:.2} in the last 24 h, estimated list prices); at the limit its challenges are refused",
                    scope.name(),
                    if limit > 0.0 { s / limit * 100.0 } else { 100.0 },
                    scope.var(),
                    limit,
                    s
                ));
            }
            warned[i] = high;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget() -> Budget {
        Budget::new(Limits {
            all: Some(10.0),
            image: Some(2.0),
            video: None,
        })
    }

    #[test]
    fn a_call_that_would_pass_a_limit_is_refused_naming_it() {
        let b = budget();
        let spent = Spent {
            image: 1.9,
            video: 3.0,
        };
        assert!(b.check_call(Modality::Image, &spent, 0.05).is_ok());
        let over = b
            .check_call(Modality::Image, &spent, 0.134)
            .expect_err("over");
        assert_eq!(over.var, "MINER_BUDGET_USD_PER_DAY_IMAGE");
        assert!(over.to_string().contains("1.90 spent"), "{over}");
        // Video has no limit of its own, but all spending has.
        let busy = Spent {
            image: 1.0,
            video: 8.9,
        };
        assert!(b.check_call(Modality::Video, &busy, 0.1).is_ok());
        let over = b.check_call(Modality::Video, &busy, 1.2).expect_err("all");
        assert_eq!(over.var, "MINER_BUDGET_USD_PER_DAY");
    }

    #[test]
    fn at_the_limit_even_a_free_call_is_refused() {
        let b = budget();
        let spent = Spent {
            image: 2.0,
            video: 0.0,
        };
        assert!(b.check_call(Modality::Image, &spent, 0.0).is_err());
        assert!(b.check_admission(Modality::Image, &spent, 0, 0.0).is_err());
    }

    #[test]
    fn admission_counts_the_tasks_already_queued() {
        let b = budget();
        let spent = Spent {
            image: 1.5,
            video: 0.0,
        };
        assert!(b.check_admission(Modality::Image, &spent, 2, 0.1).is_ok());
        assert!(b.check_admission(Modality::Image, &spent, 5, 0.1).is_err());
    }

    #[test]
    fn the_warning_is_given_once_per_crossing() {
        let b = budget();
        let low = Spent {
            image: 1.0,
            video: 0.0,
        };
        let high = Spent {
            image: 1.7,
            video: 0.0,
        };
        assert!(b.crossings(&low).is_empty());
        let w = b.crossings(&high);
        assert_eq!(w.len(), 1);
        assert!(w[0].contains("85%") && w[0].contains("MINER_BUDGET_USD_PER_DAY_IMAGE"));
        assert!(b.crossings(&high).is_empty(), "once");
        assert!(b.crossings(&low).is_empty());
        assert_eq!(b.crossings(&high).len(), 1, "again after falling below");
    }
}
