//! `gas-miner perf`: what the subnet pays us and why, as the reference's
//! `gascli generator perf` shows it. The subnet's API is asked directly, signed by our
//! hotkey (the fool-rate gates per modality and each validator's verdicts); the chain's view
//! and our own estimate come from the running miner's admin socket, when it runs.

use super::CliError;
use crate::config::Settings;
use crate::identity::Hotkey;
use crate::standing::api::{self, Fetched};
use gas_shared::Modality;
use gas_shared::standing::{ApiStanding, Gate, StandingView, status_words};
use std::io::Write;

/// What `lookback_days` the API takes.
const LOOKBACK_DAYS: std::ops::RangeInclusive<u32> = 1..=90;
/// The trend shows this many daily points at the most.
const TREND_POINTS: usize = 7;

/// `--modality image|video`, for clap.
pub fn parse_modality(text: &str) -> Result<Modality, String> {
    Modality::ALL
        .into_iter()
        .find(|m| m.as_str() == text.trim().to_ascii_lowercase())
        .ok_or_else(|| format!("`{text}` is not a modality: use image or video"))
}

/// `gas-miner perf [--lookback-days N] [--modality image|video] [--json]`.
pub fn perf(
    settings: &Settings,
    lookback_days: u32,
    modality: Option<Modality>,
    json: bool,
) -> Result<(), CliError> {
    if !LOOKBACK_DAYS.contains(&lookback_days) {
        return Err(CliError::Config(vec![format!(
            "--lookback-days {lookback_days} is out of range: the subnet's API takes {} to {} days",
            LOOKBACK_DAYS.start(),
            LOOKBACK_DAYS.end()
        )]));
    }
    let config = settings.resolve().map_err(CliError::Config)?;
    let key = super::load_hotkey(&config)?;
    let runtime = super::run::runtime()?;
    let client = api::client();
    let fetched = runtime
        .block_on(api::fetch(
            &client,
            &config.gas_api_url,
            &key,
            lookback_days,
            modality,
        ))
        .map_err(|e| CliError::Failed(e.to_string()))?;
    if json {
        let mut out = std::io::stdout().lock();
        let _ = out
            .write_all(fetched.raw.as_bytes())
            .and_then(|()| out.flush());
        return Ok(());
    }
    let now = crate::clock::now_ms();
    let url = api::url(&config.gas_api_url, lookback_days, modality);
    print_api(&key, &fetched, now, &url, lookback_days, modality);
    println!();
    match gas_client::blocking::get_json::<StandingView>(&config.admin_socket, "/standing") {
        Ok(view) => print_from_miner(&view),
        Err(gas_client::ClientError::NotRunning(why)) => {
            println!("chain view and estimate: the miner is not running ({why})")
        }
        Err(gas_client::ClientError::Broken(why)) => println!(
            "chain view and estimate: the running miner did not give them ({why}); is it an older build? restart it with `gas-miner restart`"
        ),
    }
    Ok(())
}

fn print_api(
    key: &Hotkey,
    fetched: &Fetched,
    now_ms: i64,
    url: &str,
    lookback_days: u32,
    modality: Option<Modality>,
) {
    let p = &fetched.performance;
    let view = api::view(p, now_ms, url);
    println!(
        "hotkey {}  ·  subnet API {}{}",
        key.ss58(),
        url.split('?').next().unwrap_or(url),
        view.as_of
            .as_deref()
            .map(|a| format!("  ·  as of {a}"))
            .unwrap_or_default()
    );
    println!();
    print_gates(&view, modality);
    println!();
    print_verification(&view);
    println!(
        "fool rate over {lookback_days} days{}: {}",
        modality.map(|m| format!(" ({m})")).unwrap_or_default(),
        match view.fool_rate {
            Some(r) => format!(
                "{} ({} fooled of {} samples, {} benchmark runs)",
                pct(r),
                p.fool_aggregate.fooled_count,
                view.fool_samples,
                p.fool_aggregate.benchmark_run_count
            ),
            None => format!("none yet ({} samples)", view.fool_samples),
        }
    );
}

fn print_gates(view: &ApiStanding, modality: Option<Modality>) {
    if !view.history_available {
        println!("fool-rate gates: history unavailable (older API)");
        return;
    }
    let gates: Vec<&Gate> = view
        .gates
        .iter()
        .filter(|g| modality.is_none() || g.modality == modality)
        .collect();
    if gates.is_empty() {
        println!("fool-rate gates: the API sent none");
    }
    for g in gates {
        let name = g.modality.map(|m| m.as_str()).unwrap_or("?");
        println!(
            "{name:<6} {}  (gate: fool rate >{} and {} evaluations minimum)",
            status_words(&g.status),
            pct(g.threshold),
            g.minimum_samples
        );
        println!(
            "  fool rate     {}",
            match g.fool_rate {
                Some(r) => format!(
                    "{} ({} fooled), {} {}",
                    pct(r),
                    g.fooled,
                    if r > g.threshold {
                        "above"
                    } else {
                        "not above"
                    },
                    pct(g.threshold)
                ),
                None => "none yet".into(),
            }
        );
        println!(
            "  evaluations   {}, minimum {}: {}",
            g.evaluations,
            g.minimum_samples,
            if g.evaluations >= g.minimum_samples {
                "enough"
            } else {
                "too few yet"
            }
        );
        let recent = &g.points[g.points.len().saturating_sub(TREND_POINTS)..];
        if recent.is_empty() {
            println!("  7-day trend   no points yet");
        } else {
            let values: Vec<Option<f64>> = recent.iter().map(|(_, v)| *v).collect();
            println!(
                "  7-day trend   {}  {}  (gate {})",
                sparkline(&values, g.threshold),
                values
                    .iter()
                    .map(|v| v.map(pct).unwrap_or_else(|| "–".into()))
                    .collect::<Vec<_>>()
                    .join(" "),
                pct(g.threshold)
            );
        }
        if let Some(at) = &g.last_evaluated_at {
            println!("  evaluated     {at}");
        }
    }
}

fn print_verification(view: &ApiStanding) {
    println!("verification: each validator's latest summary of our outcomes (about 24 h)");
    println!(
        "  aggregate of {} validator{}  pass rate {}  ·  verified {}  ·  failed {}",
        view.validator_count,
        if view.validator_count == 1 { "" } else { "s" },
        view.pass_rate.map(pct).unwrap_or_else(|| "–".into()),
        view.total_verified,
        view.total_failed
    );
    for v in &view.validators {
        println!(
            "  {}  pass rate {}  ·  verified {}  ·  failed {}{}",
            v.hotkey,
            v.pass_rate.map(pct).unwrap_or_else(|| "–".into()),
            v.total_verified,
            v.total_failed,
            v.lookback_hours
                .map(|h| format!("  ·  over {h} h"))
                .unwrap_or_default()
        );
    }
}

/// The chain's view and our estimate, as the running miner has them.
fn print_from_miner(view: &StandingView) {
    let c = &view.chain;
    if c.available {
        println!(
            "chain: uid {}  ·  incentive {}  ·  emission {}{}",
            c.uid
                .map(|u| u.to_string())
                .unwrap_or_else(|| "none (not registered)".into()),
            c.incentive
                .map(|i| format!("{i:.6}"))
                .unwrap_or_else(|| "–".into()),
            c.emission_alpha
                .map(|e| format!("{e:.6} α per tempo"))
                .unwrap_or_else(|| "–".into()),
            c.block
                .map(|b| format!("  ·  block {b}"))
                .unwrap_or_default()
        );
        println!(
            "  {} of {} permitted validators set a positive weight on us (row shares, not incentive){}",
            c.positive,
            c.permitted,
            if c.commit_reveal == Some(true) {
                "; commit-reveal is on: weights on chain lag by the reveal period"
            } else {
                ""
            }
        );
    } else {
        println!(
            "chain: unavailable ({})",
            c.reason.as_deref().unwrap_or("not read yet")
        );
    }
    let e = &view.estimate;
    println!(
        "estimate: the validators' formula on our own outcomes of the last {} h (an estimate, not what the chain pays)",
        e.window_hours
    );
    for m in &e.modalities {
        println!(
            "  {:<6} p {}  ·  n {}  ·  multiplier {:.2}  ·  base {:.4}  ·  gate {}  ({})",
            m.modality.map(|m| m.as_str()).unwrap_or("?"),
            m.p.map(|p| format!("{p:.3}")).unwrap_or_else(|| "–".into()),
            m.n,
            m.multiplier,
            m.base,
            match m.qualified {
                Some(true) => "holds",
                Some(false) => "shut",
                None => "unknown",
            },
            m.p_source()
        );
    }
    println!(
        "  R estimate {}  ·  if both gates held {:.4}",
        e.r.map(|r| format!("{r:.4}"))
            .unwrap_or_else(|| "unknown (no gate from the API yet)".into()),
        e.r_ungated
    );
}

/// A share as a percentage with one decimal.
fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

/// One character per value, from ▁ (0) to █ (the largest value, or `floor_top` when that is
/// larger, so a flat line under the gate stays low); a space where the value is unknown.
fn sparkline(values: &[Option<f64>], floor_top: f64) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let top = values.iter().flatten().copied().fold(floor_top, f64::max);
    values
        .iter()
        .map(|v| match v {
            None => ' ',
            Some(_) if top <= 0.0 => BARS[0],
            Some(x) => {
                let level = (x.max(0.0) / top * (BARS.len() - 1) as f64).round() as usize;
                BARS[level.min(BARS.len() - 1)]
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sparkline_scales_to_the_largest_value_or_the_gate() {
        assert_eq!(sparkline(&[Some(0.0), Some(0.02), Some(0.04)], 0.02), "▁▅█");
        assert_eq!(sparkline(&[Some(0.01), None, Some(0.01)], 0.02), "▅ ▅");
        assert_eq!(sparkline(&[Some(0.0), Some(0.0)], 0.0), "▁▁");
        assert_eq!(sparkline(&[], 0.02), "");
    }

    #[test]
    fn modalities_are_read_in_any_case() {
        assert_eq!(parse_modality("Video"), Ok(Modality::Video));
        assert!(parse_modality("audio").is_err());
    }
}
