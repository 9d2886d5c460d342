//! The validators' reward formula (VALIDATION.md, Rewards) run on our own outcomes of the
//! last 24 h: `p`, `n`, volume, the multiplier from each delivery's measured tier and C2PA
//! model name, `base`, and the v5 `R` behind the fool-rate gates. Pure arithmetic: the
//! caller gathers the outcomes; `tests/standing/reward.py` is an independent implementation
//! the tests compare it with.
//!
//! What the reference validator does (BitMind-AI/bitmind-subnet `main` at 4.9.9, identical to
//! tag v4.9.8: `gas/evaluation/rewards.py`, `gas/evaluation/resolution_tiers.py`,
//! `gas/cache/db/challenge_store.py`), checked line by line:
//!
//! - Only `verified` and `failed` outcomes are read. `p` and `n` count both; the multiplier
//!   is the mean over the **verified** outcomes only (a failure adds no multiplier term), and
//!   is 1.0 when nothing is verified (so `base` is 0 through the volume).
//! - `volume = min(n, 10) + max(0, log2(max(1, n − 9)))`.
//! - Tiers: the priced tier is `min(observed, requested)`; an unknown observed resolution
//!   prices at the baseline (image 1K, video the baseline price) with no shortfall; a
//!   missing or unreadable requested tier prices at the observed tier alone.
//! - Image: `sqrt(price / 1)` with 1K = 1, 2K = 2, 4K = 4. The model name plays no part, and
//!   there is no undershoot discount on `main` (an unmerged branch, `feat/incentive-hardening`,
//!   adds one, and duration-aware video prices; neither is live in that snapshot).
//! - Video: `sqrt(price / 0.03) × 0.6^shortfall`, shortfall = tiers delivered below the
//!   request (0 when either side is unknown). The price, floored at the baseline:
//!   - no model name (None or empty: the Veo family, whose C2PA names no variant): the Veo
//!     table by tier, 480p 0.07, 720p 0.152, 1080p 0.40;
//!   - a model name: looked up, lowercased, first by equality and then by "the key is
//!     contained in the name", in the table order `dreamina-seedance-2-0-fast` (480p 0.07,
//!     720p 0.152) then `dreamina-seedance-2-0` (480p 0.10, 720p 0.40, 1080p 0.48). A tier the
//!     table lacks (fast at 1080p) pays the table's highest price. The keys are ByteDance's
//!     C2PA `model_name`s, not the OpenRouter ids: a name spelled `seedance-2.0` matches
//!     neither and is priced as an unknown model;
//!   - an unknown model name: its flat price (the same exact-then-contained lookup over
//!     `google/veo-3.1-lite` 0.03, `google/veo-3.1-fast` 0.08, `google/veo-3.1` 0.20; the
//!     baseline when nothing matches) scaled by tier 480p 0.44, 720p 1.0, 1080p 2.25.
//!   - the baseline 0.03 is `google/veo-3.1-lite`; validators lower it (and may add flat
//!     prices) from OpenRouter's public price list at start-up, which we cannot see: an
//!     estimate with the defaults.
//! - `base = p × volume × multiplier`; v4.9.x weights 0.30 image / 0.70 video. The v5
//!   fool-rate gate is not in that snapshot (its newest commit predates v5): the gate and
//!   `R = 0.30·base_image·[image qualified] + 0.70·base_video·[video qualified]` are from
//!   VALIDATION.md.

use gas_shared::standing::{Estimate, ModalityEstimate, SpendLine};
use gas_shared::{Modality, Tier};
use std::collections::BTreeMap;

/// The window the validators read, in hours.
pub(crate) const WINDOW_HOURS: u32 = 24;

/// The share of `R` each modality carries.
const IMAGE_WEIGHT: f64 = 0.30;
const VIDEO_WEIGHT: f64 = 0.70;

/// The cheapest video price validators know without their start-up fetch (USD/s).
const VIDEO_BASELINE: f64 = 0.03;
/// The multiplier kept per video tier delivered below the request.
const UNDERSHOOT_DISCOUNT: f64 = 0.6;

/// Per-tier video prices of the models whose C2PA names them, in the validators' lookup
/// order: the fast variant first, since the full model's key is contained in its name.
const NAMED_VIDEO_PRICES: [(&str, &[(Tier, f64)]); 2] = [
    (
        "dreamina-seedance-2-0-fast",
        &[(Tier::P480, 0.07), (Tier::P720, 0.152)],
    ),
    (
        "dreamina-seedance-2-0",
        &[(Tier::P480, 0.10), (Tier::P720, 0.40), (Tier::P1080, 0.48)],
    ),
];

/// Flat (720p) video prices for named models without a per-tier table. The validators'
/// table also lists the two Seedance names, but their per-tier tables always match first.
const FLAT_VIDEO_PRICES: [(&str, f64); 3] = [
    ("google/veo-3.1-lite", 0.03),
    ("google/veo-3.1-fast", 0.08),
    ("google/veo-3.1", 0.20),
];

/// One terminal outcome in the window, as the validators will count it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Outcome {
    pub modality: Modality,
    /// Verified (Stage A and B passed) or failed.
    pub verified: bool,
    /// Judged by a validator (a v4.9.x reply, a failure report, a timeout); else this is
    /// our pre-flight verdict standing in for the unknown one (an estimate).
    pub from_validator: bool,
    pub requested: Tier,
    /// The tier the delivered media measures (None when nothing was delivered).
    pub measured: Option<Tier>,
    /// The C2PA `model_name` of the delivered media (video prices depend on it).
    pub model_name: Option<String>,
    pub provider: String,
    pub model: String,
    /// What the provider calls for this task cost (list price).
    pub cost_usd: f64,
}

impl Outcome {
    /// The tier the validators price: `min(measured, requested)`; None when the measured
    /// tier is unknown (or of the other modality), which prices at the baseline.
    fn priced_tier(&self) -> Option<Tier> {
        let measured = self.measured.filter(|t| t.modality() == self.modality)?;
        if self.requested.modality() != self.modality {
            return Some(measured);
        }
        Some(measured.min(self.requested))
    }

    /// How many tiers below the request the delivery measures (0 when either is unknown).
    fn shortfall(&self) -> u32 {
        match self.measured.filter(|t| t.modality() == self.modality) {
            Some(measured) if self.requested.modality() == self.modality => {
                rank(self.requested).saturating_sub(rank(measured))
            }
            _ => 0,
        }
    }

    /// The multiplier term this outcome adds when verified.
    pub fn multiplier(&self) -> f64 {
        match self.modality {
            Modality::Image => image_price(self.priced_tier()).sqrt(),
            Modality::Video => {
                let price = video_price(self.priced_tier(), self.model_name.as_deref());
                (price / VIDEO_BASELINE).sqrt() * UNDERSHOOT_DISCOUNT.powi(self.shortfall() as i32)
            }
        }
    }
}

/// Outcomes summed by kind (every field but the cost): all the estimate needs, in memory
/// that grows with the kinds delivered (a few dozen), not with the tasks.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Tally {
    groups: Vec<Group>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Group {
    /// The kind; its `cost_usd` is the group's total.
    outcome: Outcome,
    count: u64,
}

impl Outcome {
    fn same_kind(&self, o: &Outcome) -> bool {
        self.modality == o.modality
            && self.verified == o.verified
            && self.from_validator == o.from_validator
            && self.requested == o.requested
            && self.measured == o.measured
            && self.model_name == o.model_name
            && self.provider == o.provider
            && self.model == o.model
    }
}

impl Tally {
    pub(crate) fn add(&mut self, o: &Outcome) {
        self.add_n(o, 1, o.cost_usd);
    }

    fn add_n(&mut self, o: &Outcome, count: u64, cost_usd: f64) {
        match self.groups.iter_mut().find(|g| g.outcome.same_kind(o)) {
            Some(g) => {
                g.count += count;
                g.outcome.cost_usd += cost_usd;
            }
            None => self.groups.push(Group {
                outcome: Outcome {
                    cost_usd,
                    ..o.clone()
                },
                count,
            }),
        }
    }

    /// Takes back an outcome added before (one that was replaced).
    pub(crate) fn remove(&mut self, o: &Outcome) {
        if let Some(i) = self.groups.iter().position(|g| g.outcome.same_kind(o)) {
            let g = &mut self.groups[i];
            g.count = g.count.saturating_sub(1);
            g.outcome.cost_usd -= o.cost_usd;
            if g.count == 0 {
                self.groups.remove(i);
            }
        }
    }

    pub(crate) fn merge(&mut self, other: &Tally) {
        for g in &other.groups {
            self.add_n(&g.outcome, g.count, g.outcome.cost_usd);
        }
    }

    /// How many outcomes are summed.
    #[cfg(test)]
    pub(crate) fn count(&self) -> u64 {
        self.groups.iter().map(|g| g.count).sum()
    }
}

impl<'a> FromIterator<&'a Outcome> for Tally {
    fn from_iter<I: IntoIterator<Item = &'a Outcome>>(outcomes: I) -> Tally {
        let mut tally = Tally::default();
        for o in outcomes {
            tally.add(o);
        }
        tally
    }
}

/// The gates as the subnet's API last said (None: unknown).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Gates {
    pub image: Option<bool>,
    pub video: Option<bool>,
}

impl Gates {
    fn of(self, modality: Modality) -> Option<bool> {
        match modality {
            Modality::Image => self.image,
            Modality::Video => self.video,
        }
    }
}

/// The estimate over `outcomes` (all inside the window already).
pub fn estimate(outcomes: &[Outcome], gates: Gates) -> Estimate {
    estimate_tally(&outcomes.iter().collect(), gates)
}

/// The estimate over the outcomes summed in `tally` (all inside the window already).
pub(crate) fn estimate_tally(tally: &Tally, gates: Gates) -> Estimate {
    let modalities: Vec<ModalityEstimate> = Modality::ALL
        .iter()
        .map(|&m| modality_estimate(m, tally, gates.of(m)))
        .collect();
    let r_ungated = modalities.iter().map(|m| m.weight * m.base).sum();
    let gate_unknown = modalities
        .iter()
        .any(|m| m.base > 0.0 && m.qualified.is_none());
    let r = (!gate_unknown).then(|| {
        modalities
            .iter()
            .filter(|m| m.qualified == Some(true))
            .map(|m| m.weight * m.base)
            .sum()
    });
    Estimate {
        window_hours: WINDOW_HOURS,
        modalities,
        r,
        r_ungated,
        spend: spend_lines(tally),
        spend_per_day: Vec::new(),
    }
}

/// `min(n, 10) + max(0, log2(max(1, n − 9)))`: linear up to ten, logarithmic after.
pub(crate) fn volume(n: u64) -> f64 {
    n.min(10) as f64 + (n.saturating_sub(9).max(1) as f64).log2()
}

fn modality_estimate(
    modality: Modality,
    tally: &Tally,
    qualified: Option<bool>,
) -> ModalityEstimate {
    let mine: Vec<&Group> = tally
        .groups
        .iter()
        .filter(|g| g.outcome.modality == modality)
        .collect();
    let total: u64 = mine.iter().map(|g| g.count).sum();
    let sum = |keep: fn(&Outcome) -> bool| -> u64 {
        mine.iter()
            .filter(|g| keep(&g.outcome))
            .map(|g| g.count)
            .sum()
    };
    let n = sum(|o| o.verified);
    let failed = total - n;
    let from_validators = sum(|o| o.from_validator);
    let p = (total > 0).then(|| n as f64 / total as f64);
    // The validators' mean over verified outcomes; 1.0 with none (base is 0 then anyway).
    let multiplier = if n == 0 {
        1.0
    } else {
        mine.iter()
            .filter(|g| g.outcome.verified)
            .map(|g| g.count as f64 * g.outcome.multiplier())
            .sum::<f64>()
            / n as f64
    };
    let volume = volume(n);
    ModalityEstimate {
        modality: Some(modality),
        verified: n,
        failed,
        from_validators,
        from_preflight: total - from_validators,
        p,
        n,
        volume,
        multiplier,
        base: p.map_or(0.0, |p| p * volume * multiplier),
        qualified,
        weight: match modality {
            Modality::Image => IMAGE_WEIGHT,
            Modality::Video => VIDEO_WEIGHT,
        },
    }
}

/// Spend per (provider, model, tier), the tier being what was delivered (else what was
/// asked), largest spend first.
fn spend_lines(tally: &Tally) -> Vec<SpendLine> {
    #[derive(Default)]
    struct Sum {
        spend: f64,
        verified: u64,
        multipliers: f64,
    }
    let mut sums: BTreeMap<(&str, &str, &str), Sum> = BTreeMap::new();
    for g in &tally.groups {
        let o = &g.outcome;
        let tier = o.measured.unwrap_or(o.requested).as_str();
        let sum = sums
            .entry((o.provider.as_str(), o.model.as_str(), tier))
            .or_default();
        sum.spend += o.cost_usd;
        if o.verified {
            sum.verified += g.count;
            sum.multipliers += g.count as f64 * o.multiplier();
        }
    }
    let mut lines: Vec<SpendLine> = sums
        .into_iter()
        .map(|((provider, model, tier), s)| SpendLine {
            provider: provider.to_string(),
            model: model.to_string(),
            tier: tier.to_string(),
            spend_usd: s.spend,
            verified: s.verified,
            per_verified_usd: (s.verified > 0).then(|| s.spend / s.verified as f64),
            multiplier_per_usd: (s.spend > 0.0).then(|| s.multipliers / s.spend),
        })
        .collect();
    lines.sort_by(|a, b| b.spend_usd.total_cmp(&a.spend_usd));
    lines
}

/// A tier's place within its modality: 0 the cheapest.
fn rank(tier: Tier) -> u32 {
    match tier {
        Tier::K1 | Tier::P480 => 0,
        Tier::K2 | Tier::P720 => 1,
        Tier::K4 | Tier::P1080 => 2,
    }
}

/// An image's relative price by priced tier (1K when unknown).
fn image_price(tier: Option<Tier>) -> f64 {
    match tier {
        Some(Tier::K4) => 4.0,
        Some(Tier::K2) => 2.0,
        _ => 1.0,
    }
}

/// A video's price in USD/s by priced tier and C2PA model name, floored at the baseline.
fn video_price(tier: Option<Tier>, model_name: Option<&str>) -> f64 {
    let Some(tier) = tier else {
        return VIDEO_BASELINE;
    };
    let price = match model_name.filter(|n| !n.is_empty()) {
        None => match tier {
            Tier::P480 => 0.07,
            Tier::P720 => 0.152,
            _ => 0.40,
        },
        Some(name) => {
            let name = name.to_lowercase();
            match lookup(&NAMED_VIDEO_PRICES, &name) {
                Some(table) => table
                    .iter()
                    .find(|(t, _)| *t == tier)
                    .or_else(|| table.iter().max_by(|a, b| a.1.total_cmp(&b.1)))
                    .map_or(VIDEO_BASELINE, |(_, price)| *price),
                None => {
                    let flat = lookup(&FLAT_VIDEO_PRICES, &name).unwrap_or(VIDEO_BASELINE);
                    flat * match tier {
                        Tier::P480 => 0.44,
                        Tier::P1080 => 2.25,
                        _ => 1.0,
                    }
                }
            }
        }
    };
    price.max(VIDEO_BASELINE)
}

/// The validators' name lookup: an equal key first, then the first key (in table order)
/// contained in the lowercased name.
fn lookup<T: Copy>(table: &[(&str, T)], lower_name: &str) -> Option<T> {
    table
        .iter()
        .find(|(key, _)| *key == lower_name)
        .or_else(|| table.iter().find(|(key, _)| lower_name.contains(key)))
        .map(|(_, value)| *value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(
        modality: Modality,
        verified: bool,
        requested: Tier,
        measured: Option<Tier>,
        model_name: Option<&str>,
    ) -> Outcome {
        Outcome {
            modality,
            verified,
            from_validator: false,
            requested,
            measured,
            model_name: model_name.map(str::to_string),
            provider: "openrouter".into(),
            model: "m".into(),
            cost_usd: 0.5,
        }
    }

    fn video(requested: Tier, measured: Tier, name: Option<&str>) -> Outcome {
        outcome(Modality::Video, true, requested, Some(measured), name)
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn volume_is_linear_to_ten_then_logarithmic() {
        assert_eq!(volume(0), 0.0);
        assert_eq!(volume(3), 3.0);
        assert_eq!(volume(10), 10.0);
        assert!(close(volume(11), 11.0));
        assert!(close(volume(25), 14.0));
    }

    #[test]
    fn image_tier_is_capped_by_the_request_and_the_smaller_measure() {
        let m = |req, got| outcome(Modality::Image, true, req, Some(got), None).multiplier();
        assert!(
            close(m(Tier::K2, Tier::K4), 2f64.sqrt()),
            "overshoot pays the request"
        );
        assert!(
            close(m(Tier::K4, Tier::K2), 2f64.sqrt()),
            "undershoot pays what came"
        );
        assert!(close(m(Tier::K4, Tier::K4), 2.0));
        assert!(close(m(Tier::K1, Tier::K4), 1.0));
        let unknown = outcome(Modality::Image, true, Tier::K4, None, None);
        assert!(close(unknown.multiplier(), 1.0));
    }

    #[test]
    fn video_prices_follow_the_c2pa_name_and_discount_the_shortfall() {
        let full = Some("dreamina-seedance-2-0-260128");
        let fast = Some("Dreamina-Seedance-2-0-Fast-260128");
        assert!(close(
            video(Tier::P1080, Tier::P1080, full).multiplier(),
            4.0
        ));
        assert!(close(
            video(Tier::P1080, Tier::P1080, None).multiplier(),
            (0.40f64 / 0.03).sqrt()
        ));
        assert!(close(
            video(Tier::P1080, Tier::P720, None).multiplier(),
            (0.152f64 / 0.03).sqrt() * 0.6
        ));
        assert!(close(
            video(Tier::P1080, Tier::P480, full).multiplier(),
            (0.10f64 / 0.03).sqrt() * 0.36
        ));
        assert!(close(
            video(Tier::P720, Tier::P720, fast).multiplier(),
            (0.152f64 / 0.03).sqrt()
        ));
        // Fast has no 1080p price: its highest one.
        assert!(close(
            video(Tier::P1080, Tier::P1080, fast).multiplier(),
            (0.152f64 / 0.03).sqrt()
        ));
        // Overshoot pays the request, with no shortfall.
        assert!(close(
            video(Tier::P480, Tier::P1080, full).multiplier(),
            (0.10f64 / 0.03).sqrt()
        ));
        // Names the tables do not know: the baseline, scaled up at 1080p only.
        assert!(close(
            video(Tier::P720, Tier::P720, Some("seedance-2.0")).multiplier(),
            1.0
        ));
        assert!(close(
            video(Tier::P1080, Tier::P1080, Some("RunwayML")).multiplier(),
            2.25f64.sqrt()
        ));
        assert!(close(
            video(Tier::P720, Tier::P720, Some("google/veo-3.1-fast")).multiplier(),
            (0.08f64 / 0.03).sqrt()
        ));
    }

    #[test]
    fn base_and_r_follow_the_gates() {
        let mut outcomes: Vec<Outcome> = (0..5)
            .map(|_| video(Tier::P1080, Tier::P1080, Some("dreamina-seedance-2-0")))
            .collect();
        outcomes.push(outcome(
            Modality::Image,
            true,
            Tier::K1,
            Some(Tier::K1),
            None,
        ));
        outcomes.push(outcome(Modality::Image, false, Tier::K2, None, None));

        let e = estimate(&outcomes, Gates::default());
        assert_eq!(e.window_hours, 24);
        let [image, video] = &e.modalities[..] else {
            panic!("two modalities: {:?}", e.modalities);
        };
        assert_eq!(image.modality, Some(Modality::Image));
        assert_eq!((image.verified, image.failed, image.n), (1, 1, 1));
        assert_eq!(image.p, Some(0.5));
        assert!(close(image.base, 0.5));
        assert!(close(video.base, 20.0), "p 1 × volume 5 × multiplier 4");
        assert!(close(e.r_ungated, 0.3 * 0.5 + 0.7 * 20.0));
        assert_eq!(e.r, None, "gates unknown");

        let e = estimate(
            &outcomes,
            Gates {
                image: Some(false),
                video: Some(true),
            },
        );
        assert!(close(e.r.expect("gates known"), 14.0));

        let videos_only = &outcomes[..5];
        let e = estimate(
            videos_only,
            Gates {
                image: None,
                video: Some(false),
            },
        );
        assert_eq!(
            e.r,
            Some(0.0),
            "an unknown gate on a zero base does not matter"
        );
    }

    #[test]
    fn nothing_in_the_window_is_zero_with_both_modalities() {
        let e = estimate(&[], Gates::default());
        assert_eq!(e.modalities.len(), 2);
        assert!(e.modalities.iter().all(|m| m.p.is_none() && m.base == 0.0));
        assert_eq!(e.r, Some(0.0));
        assert_eq!(e.r_ungated, 0.0);
        assert!(e.spend.is_empty());
    }

    #[test]
    fn spend_is_grouped_by_delivered_tier_and_sorted() {
        let mut a = video(Tier::P1080, Tier::P1080, Some("dreamina-seedance-2-0"));
        a.cost_usd = 2.0;
        let mut b = a.clone();
        b.verified = false;
        let mut c = outcome(Modality::Image, false, Tier::K2, None, None);
        c.provider = "openai".into();
        c.cost_usd = 0.0;
        let lines = spend_lines(&[c, a, b].iter().collect());
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].tier, "1080p");
        assert!(close(lines[0].spend_usd, 4.0));
        assert_eq!(lines[0].verified, 1);
        assert_eq!(lines[0].per_verified_usd, Some(4.0));
        assert!(close(lines[0].multiplier_per_usd.expect("spent"), 1.0));
        assert_eq!(lines[1].tier, "2K", "nothing delivered: the requested tier");
        assert_eq!(lines[1].per_verified_usd, None);
        assert_eq!(lines[1].multiplier_per_usd, None);
    }
}
