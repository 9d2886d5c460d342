//! The miners on this box: `list`, `status --all` (the fleet table, or JSON for scripts),
//! which miners `--name` and `--all` mean, and the clashes `start` refuses (a state
//! directory, a port or a hotkey another miner has). Miners are known by their cards in the
//! fleet directory (`gas_client::fleet`) and by the `gas-miner-…` tmux sessions; whether one
//! runs is asked of its socket.

use super::tmux::{session, sessions};
use super::{CliError, Place};
use crate::config::Config;
use gas_client::fleet::Card;
use gas_shared::admin::Status;
use serde::Serialize;
use std::path::Path;

/// What a command acts on: one miner, or every miner on the box (`--all`).
pub enum Targets {
    One(Place),
    All,
}

/// The card of the miner that keeps its state in `state_dir`.
pub(super) fn card_of(state_dir: &Path) -> Option<Card> {
    let want = std::path::absolute(state_dir).ok()?;
    gas_client::fleet::cards()
        .into_iter()
        .find(|c| c.state_dir == want)
}

/// A miner on the box and what it says now.
#[derive(Debug, Serialize)]
pub(super) struct Known {
    pub name: String,
    /// `running`, `draining`, `starting` (its tmux session runs, its socket does not answer
    /// yet) or `stopped`.
    pub state: &'static str,
    pub card: Option<Card>,
    pub status: Option<Status>,
}

impl Known {
    pub(super) fn place(&self) -> Option<Place> {
        self.card.as_ref().map(Place::of)
    }
}

/// Every miner on the box, by name: the cards, and tmux sessions without one.
pub(super) fn known() -> Vec<Known> {
    let live = sessions();
    let mut out: Vec<Known> = gas_client::fleet::cards()
        .into_iter()
        .map(|card| {
            let place = Place::of(&card);
            let status = place.status().ok();
            let in_tmux = live.contains(&session(&card.name));
            Known {
                name: card.name.clone(),
                state: state_word(status.as_ref(), in_tmux),
                card: Some(card),
                status,
            }
        })
        .collect();
    for s in live {
        let name = s.trim_start_matches("gas-miner-").to_string();
        if !out.iter().any(|k| k.name == name) {
            out.push(Known {
                name,
                state: "starting",
                card: None,
                status: None,
            });
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

fn state_word(status: Option<&Status>, in_tmux: bool) -> &'static str {
    match status {
        Some(s) if s.phase == "draining" => "draining",
        Some(_) => "running",
        None if in_tmux => "starting",
        None => "stopped",
    }
}

/// `gas-miner list`: every miner known on this box, with its state.
pub fn list(json: bool) -> Result<(), CliError> {
    let known = known();
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&known).unwrap_or_default()
        );
        return Ok(());
    }
    if known.is_empty() {
        println!(
            "no miner known on this box yet ({}): `gas-miner start` lists each one it starts",
            gas_client::fleet::dir().display()
        );
        return Ok(());
    }
    println!(
        "{:<24} {:<9} {:<8} {:<6} {:<8} STATE DIR",
        "NAME", "STATE", "HOTKEY", "PORT", "PID"
    );
    for k in &known {
        let card = k.card.as_ref();
        println!(
            "{:<24} {:<9} {:<8} {:<6} {:<8} {}",
            k.name,
            k.state,
            card.map_or("?".into(), |c| short(&c.hotkey)),
            card.map_or("?".into(), |c| c.port.to_string()),
            k.status.as_ref().map_or("–".into(), |s| s.pid.to_string()),
            card.map_or("(tmux session only)".into(), |c| c
                .state_dir
                .display()
                .to_string()),
        );
    }
    Ok(())
}

fn short(hotkey: &str) -> String {
    hotkey.chars().take(8).collect()
}

/// One row of the fleet table, for scripts (`status --all --json`).
#[derive(Debug, Serialize)]
pub(super) struct Row {
    pub name: String,
    pub state: &'static str,
    pub hotkey: Option<String>,
    pub uid: Option<u16>,
    pub port: Option<u16>,
    /// Tasks queued or under way.
    pub queue: Option<u64>,
    /// Pre-flight passed of judged, last hour.
    pub preflight_1h: Option<(u64, u64)>,
    /// Validators' verdicts passed of judged (v4.9.x), and v5 202s taken (verdict unknown),
    /// last day.
    pub verdicts_24h: Option<(u64, u64)>,
    pub taken_24h: Option<u64>,
    /// The fool-rate gate per modality, as the subnet's API last said.
    pub gates: Vec<(gas_shared::Modality, String)>,
    pub incentive: Option<f64>,
    /// Estimated spend over the last 24 h (US$).
    pub spend_24h_usd: Option<f64>,
    /// Its most serious problem, if any.
    pub alert: Option<String>,
}

pub(super) fn row(k: &Known) -> Row {
    let s = k.status.as_ref();
    Row {
        name: k.name.clone(),
        state: k.state,
        hotkey: s
            .map(|s| s.hotkey.clone())
            .or_else(|| k.card.as_ref().map(|c| c.hotkey.clone())),
        uid: s.and_then(|s| s.uid),
        port: k.card.as_ref().map(|c| c.port),
        queue: s.map(|s| {
            s.queue
                .iter()
                .filter(|q| !q.state.is_final())
                .map(|q| q.count)
                .sum()
        }),
        preflight_1h: s.map(|s| (s.preflight.hour.passed, s.preflight.hour.total)),
        verdicts_24h: s.map(|s| {
            let v = s.replies.day.verdicts();
            (v.passed, v.total)
        }),
        taken_24h: s.map(|s| s.replies.day.taken),
        gates: s
            .and_then(|s| s.standing.as_ref())
            .map(|st| st.gates.iter().map(|(m, g, _)| (*m, g.clone())).collect())
            .unwrap_or_default(),
        incentive: s
            .and_then(|s| s.standing.as_ref())
            .and_then(|st| st.incentive),
        spend_24h_usd: s.and_then(|s| {
            s.budget
                .iter()
                .find(|b| b.scope == "all")
                .map(|b| b.spent_usd)
        }),
        alert: match s {
            None if k.state == "stopped" => Some("not running".into()),
            None => Some("its socket does not answer yet".into()),
            Some(s) => alert(s),
        },
    }
}

/// A miner's most serious problem, in a few words.
fn alert(s: &Status) -> Option<String> {
    if let Some(m) = s.refusals.unanswered().first() {
        return Some(format!("{m}: every challenge refused for 24 h"));
    }
    if let Some(b) = s.budget.iter().find(|b| b.reached()) {
        return Some(format!("{} budget reached", b.scope));
    }
    if let Some(p) = s.providers.iter().find(|p| p.health == "open") {
        return Some(format!("{} failing", p.name));
    }
    if s.trust_anchors == 0 {
        return Some("no trust anchors".into());
    }
    if s.metagraph.stale {
        return Some("metagraph stale".into());
    }
    for (m, chain) in [("image", &s.services.image), ("video", &s.services.video)] {
        if chain.is_empty() {
            return Some(format!("{m}s have no service"));
        }
    }
    None
}

/// `gas-miner status --all`: one row per miner, totals at the bottom (or JSON).
pub fn status_all(json: bool) -> Result<(), CliError> {
    let known = known();
    let rows: Vec<Row> = known.iter().map(row).collect();
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&rows).unwrap_or_default()
        );
        return Ok(());
    }
    if rows.is_empty() {
        return Err(CliError::Failed(format!(
            "no miner known on this box ({}); start one with `gas-miner start`",
            gas_client::fleet::dir().display()
        )));
    }
    println!(
        "{:<20} {:<9} {:<8} {:>4} {:>5} {:>11} {:>11} {:>6} {:<20} {:>9} {:>8}  ALERT",
        "NAME",
        "STATE",
        "HOTKEY",
        "UID",
        "QUEUE",
        "PREFLIGHT1H",
        "VERDICTS24H",
        "TAKEN",
        "GATES",
        "INCENTIVE",
        "SPEND24H"
    );
    let pair = |p: Option<(u64, u64)>| p.map_or("–".into(), |(a, b)| format!("{a}/{b}"));
    for r in &rows {
        let gates: Vec<String> = r
            .gates
            .iter()
            .map(|(m, g)| format!("{}:{}", &m.to_string()[..1], gate_word(g)))
            .collect();
        println!(
            "{:<20} {:<9} {:<8} {:>4} {:>5} {:>11} {:>11} {:>6} {:<20} {:>9} {:>8}  {}",
            r.name,
            r.state,
            r.hotkey.as_deref().map_or("?".into(), short),
            r.uid.map_or("–".into(), |u| u.to_string()),
            r.queue.map_or("–".into(), |q| q.to_string()),
            pair(r.preflight_1h),
            pair(r.verdicts_24h),
            r.taken_24h.map_or("–".into(), |t| t.to_string()),
            if gates.is_empty() {
                "–".into()
            } else {
                gates.join(" ")
            },
            r.incentive.map_or("–".into(), |i| format!("{i:.4}")),
            r.spend_24h_usd.map_or("–".into(), |u| format!("${u:.2}")),
            r.alert.as_deref().unwrap_or("")
        );
    }
    let running = rows.iter().filter(|r| r.state == "running").count();
    let sum = |f: &dyn Fn(&Row) -> Option<u64>| rows.iter().filter_map(f).sum::<u64>();
    println!(
        "total: {} miners, {running} running · queue {} · pre-flight 1h {}/{} · verdicts 24h {}/{} · taken {} · spend 24h ${:.2} (est.)",
        rows.len(),
        sum(&|r| r.queue),
        sum(&|r| r.preflight_1h.map(|p| p.0)),
        sum(&|r| r.preflight_1h.map(|p| p.1)),
        sum(&|r| r.verdicts_24h.map(|p| p.0)),
        sum(&|r| r.verdicts_24h.map(|p| p.1)),
        sum(&|r| r.taken_24h),
        rows.iter().filter_map(|r| r.spend_24h_usd).sum::<f64>(),
    );
    Ok(())
}

/// A gate status from the API in one word.
fn gate_word(status: &str) -> &'static str {
    match status {
        "qualified" => "paid",
        "below_threshold" => "below",
        "insufficient_samples" => "few",
        "no_data" => "none",
        "not_applicable" => "n/a",
        _ => "?",
    }
}

/// The other miner that has this one's state directory, port or hotkey, if any: `start`
/// refuses to run beside it. A stopped miner's state directory is still its own.
pub(super) fn clash(config: &Config, hotkey: &str) -> Result<(), CliError> {
    let state_dir = std::path::absolute(&config.state_dir).unwrap_or(config.state_dir.clone());
    for k in known() {
        let Some(card) = &k.card else { continue };
        if card.name == config.name {
            continue;
        }
        let running = k.status.is_some() || k.state == "starting";
        let who = format!(
            "miner {} (hotkey {}, {}, state dir {})",
            card.name,
            short(&card.hotkey),
            k.state,
            card.state_dir.display()
        );
        if card.state_dir == state_dir {
            return Err(CliError::Config(vec![format!(
                "state directory {} belongs to {who}; give this miner its own MINER_STATE_DIR (e.g. ~/.local/share/gas-miner-{})",
                state_dir.display(),
                config.name
            )]));
        }
        if running && card.port == config.port {
            return Err(CliError::Config(vec![format!(
                "port {} is taken by {who}; give this miner another BT_AXON_PORT",
                config.port
            )]));
        }
        if running && card.hotkey == hotkey {
            return Err(CliError::Config(vec![format!(
                "hotkey {hotkey} is already served by {who}; one hotkey is one miner (validators would see two answering as one uid)"
            )]));
        }
    }
    Ok(())
}
