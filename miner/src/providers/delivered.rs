//! What providers really deliver: per provider, model and planned tier, the tiers their recent
//! results measured at. Some routes ignore the size they are sent (asked 4K, got 1K); once
//! most of a plan's recent results fell short, the plan is taken as reaching only what they
//! measured, so the pipeline tries a provider that does reach the tier first. Kept in memory
//! for the last day (a restart learns again from the next results).

use gas_shared::Tier;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

/// Results remembered per provider, model and planned tier.
const KEPT: usize = 10;
/// Results needed before a plan is doubted.
pub(crate) const MIN_SEEN: usize = 3;
/// Results older than this are forgotten.
const MAX_AGE_MS: i64 = 86_400_000;

type Key = (String, String, Tier);

#[derive(Default)]
pub(crate) struct Delivered {
    seen: Mutex<HashMap<Key, VecDeque<(i64, Tier)>>>,
}

/// One provider, model and planned tier, as `/status` shows it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DeliveryView {
    pub provider: String,
    pub model: String,
    pub planned: Tier,
    pub seen: usize,
    pub short: usize,
    /// What the plan is taken to reach now (below `planned` once learned).
    pub reaches: Tier,
}

/// The tier most recent results reached: the median, so one odd result moves nothing.
fn median(results: &VecDeque<(i64, Tier)>) -> Option<Tier> {
    let mut tiers: Vec<Tier> = results.iter().map(|(_, t)| *t).collect();
    tiers.sort();
    // The lower median: with an even count, a tie between short and full counts as short.
    tiers.get((tiers.len().max(1) - 1) / 2).copied()
}

impl Delivered {
    /// Records that a result of `provider`'s `model`, planned at `planned`, measured `measured`.
    pub(crate) fn record(
        &self,
        provider: &str,
        model: &str,
        planned: Tier,
        measured: Tier,
        now_ms: i64,
    ) {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        let results = seen
            .entry((provider.to_string(), model.to_string(), planned))
            .or_default();
        results.push_back((now_ms, measured));
        while results.len() > KEPT {
            results.pop_front();
        }
    }

    /// What a plan of `provider`'s `model` at `planned` is taken to reach: `planned`, or what
    /// most of its recent results measured when that is lower.
    pub(crate) fn reaches(&self, provider: &str, model: &str, planned: Tier, now_ms: i64) -> Tier {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        let key = (provider.to_string(), model.to_string(), planned);
        let Some(results) = seen.get_mut(&key) else {
            return planned;
        };
        results.retain(|(at, _)| now_ms - at < MAX_AGE_MS);
        if results.len() < MIN_SEEN {
            return planned;
        }
        median(results).map_or(planned, |m| m.min(planned))
    }

    /// Every plan with results, for `/status`.
    pub(crate) fn views(&self, now_ms: i64) -> Vec<DeliveryView> {
        let keys: Vec<Key> = self
            .seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .keys()
            .cloned()
            .collect();
        let mut out: Vec<DeliveryView> = keys
            .into_iter()
            .filter_map(|(provider, model, planned)| {
                let reaches = self.reaches(&provider, &model, planned, now_ms);
                let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
                let results = seen.get(&(provider.clone(), model.clone(), planned))?;
                (!results.is_empty()).then(|| DeliveryView {
                    seen: results.len(),
                    short: results.iter().filter(|(_, t)| *t < planned).count(),
                    provider,
                    model,
                    planned,
                    reaches,
                })
            })
            .collect();
        out.sort_by(|a, b| {
            (&a.provider, &a.model, a.planned).cmp(&(&b.provider, &b.model, b.planned))
        });
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plan_is_doubted_only_once_most_of_its_recent_results_fell_short() {
        let d = Delivered::default();
        let r = |d: &Delivered| d.reaches("openrouter", "m", Tier::K4, 10_000);
        d.record("openrouter", "m", Tier::K4, Tier::K1, 1);
        d.record("openrouter", "m", Tier::K4, Tier::K1, 2);
        assert_eq!(r(&d), Tier::K4, "two results are not enough");
        d.record("openrouter", "m", Tier::K4, Tier::K4, 3);
        assert_eq!(r(&d), Tier::K1, "two of three short");
        for at in 4..8 {
            d.record("openrouter", "m", Tier::K4, Tier::K4, at);
        }
        assert_eq!(r(&d), Tier::K4, "five of seven full: trusted again");
        let views = d.views(10_000);
        assert_eq!(views.len(), 1);
        assert_eq!((views[0].seen, views[0].short), (7, 2));
    }

    #[test]
    fn old_results_are_forgotten() {
        let d = Delivered::default();
        for at in 0..3 {
            d.record("runway", "veo3", Tier::P1080, Tier::P720, at);
        }
        assert_eq!(d.reaches("runway", "veo3", Tier::P1080, 10), Tier::P720);
        assert_eq!(
            d.reaches("runway", "veo3", Tier::P1080, MAX_AGE_MS + 10),
            Tier::P1080
        );
    }
}
