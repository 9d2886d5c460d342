//! Reports on a miner: `status` (process, chain, queues, pass rates, the last errors),
//! `info` (the configuration with secrets redacted, keys, services, anchors, chain) and
//! `logs` (the rotated log files, followed across rotations).

use super::{CliError, Place};
use crate::config::Settings;
use crate::identity::{Hotkey, IdentityError};
use gas_client::blocking as client;
use gas_shared::admin::{LogTail, TaskPage};
use std::io::{Read, Seek, Write};
use std::path::Path;
use std::time::Duration;

fn ago(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min", s / 60),
        3600..86_400 => format!("{} h {:02} min", s / 3600, (s % 3600) / 60),
        _ => format!("{} d {} h", s / 86_400, (s % 86_400) / 3600),
    }
}

fn rate(r: &gas_shared::admin::Rate) -> String {
    match r.ratio() {
        Some(x) => format!("{:.0}% of {}", x * 100.0, r.total),
        None => "–".into(),
    }
}

/// Replies by what they mean: a v5 202 is "taken", never a pass.
fn replies(r: &gas_shared::reply::ReplyCounts) -> String {
    if r.total() == 0 {
        return "none".into();
    }
    let verdicts = r.verdicts();
    let mut parts = vec![format!(
        "{} passed of {} judged (v4.9.x)",
        verdicts.passed, verdicts.total
    )];
    if r.taken > 0 {
        parts.push(format!("{} taken, verdict unknown (v5)", r.taken));
    }
    if r.ignored > 0 {
        parts.push(format!("{} ignored", r.ignored));
    }
    if r.failures > 0 {
        let s = if r.failures == 1 { "" } else { "s" };
        parts.push(format!("{} failure report{s}", r.failures));
    }
    parts.join(" · ")
}

/// The standing in one line: each gate as the subnet's API last said, with its age.
fn standing_line(s: Option<&gas_shared::admin::StandingSummary>, now_ms: i64) -> String {
    let Some(s) = s else {
        return "not read yet from the subnet's API (see `gas-miner perf`)".into();
    };
    let mut parts: Vec<String> = s
        .gates
        .iter()
        .map(|(m, status, fool)| {
            format!(
                "{m} {}{}",
                gas_shared::standing::status_words(status),
                fool.map(|f| format!(" (fool rate {:.1}%)", f * 100.0))
                    .unwrap_or_default()
            )
        })
        .collect();
    if s.gates.is_empty() && s.fetched_ms.is_some() {
        parts.push("gates unknown (older API)".into());
    }
    if let Some(p) = s.pass_rate {
        parts.push(format!("API pass rate {:.0}%", p * 100.0));
    }
    if let Some(r) = s.r_estimate {
        parts.push(format!("R ≈ {r:.2} (estimate)"));
    }
    match s.fetched_ms {
        Some(at) => parts.push(format!("as of {} ago", ago(now_ms - at))),
        None => parts.push("never read".into()),
    }
    if let Some(e) = &s.error {
        parts.push(format!("last read failed: {e}"));
    }
    parts.join(" · ")
}

/// A provider's breaker in one line: `openrouter ok`, or `openrouter OPEN (why), probe in 25 s`.
/// Refusals before the 201 by reason, over the hour and the day.
fn refusals_line(r: &gas_shared::admin::Refusals) -> String {
    let by_reason = |v: &[(String, u64)]| {
        v.iter()
            .map(|(reason, n)| format!("{n} {reason}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if r.day_total() == 0 {
        return "none in the last 24 h (503 before the 201; v5 counts it as no_answer)".into();
    }
    format!(
        "{} in the last hour ({}), {} in 24 h ({})",
        r.hour_total(),
        by_reason(&r.hour),
        r.day_total(),
        by_reason(&r.day)
    )
}

/// One warning per modality whose every challenge of the last day was refused.
fn unanswered_warnings(r: &gas_shared::admin::Refusals) -> Vec<String> {
    r.unanswered()
        .into_iter()
        .map(|m| format!("every {m} challenge of the last 24 h was refused: v5 validators mark the miner unresponsive for {m} (check its providers and the queue)"))
        .collect()
}

/// Estimated spend over the last 24 hours against each budget.
fn budget_line(lines: &[gas_shared::admin::BudgetLine]) -> String {
    let parts: Vec<String> = lines
        .iter()
        .map(|b| match b.limit_usd {
            Some(l) => format!("{} {:.2} of {l:.2} US$", b.scope, b.spent_usd),
            None => format!("{} {:.2} US$ (no limit)", b.scope, b.spent_usd),
        })
        .collect();
    format!(
        "last 24 h, estimated at list prices: {}",
        parts.join("  ·  ")
    )
}

/// What one model's plans at one tier delivered.
fn tier_line(t: &gas_shared::admin::TierDelivery) -> String {
    let learned = if t.reaches < t.planned {
        format!(": planned as {} now", t.reaches)
    } else {
        String::new()
    };
    format!(
        "{} asked {}: {} of {} recent results short{learned}",
        t.model, t.planned, t.short, t.seen
    )
}

fn percent(x: f64) -> String {
    format!("{:.0}%", x * 100.0)
}

fn provider_health(p: &gas_shared::admin::ProviderStats, now_ms: i64) -> String {
    let calls = format!("{} calls, {} failed", p.calls, p.errors);
    if !p.unhealthy() {
        return format!("{:<12} ok  ({calls})", p.name);
    }
    let why = p.health_reason.as_deref().unwrap_or("no reason given");
    let probe = p
        .open_until_ms
        .map(|t| format!(", probe in {}", ago((t - now_ms).max(0))))
        .unwrap_or_default();
    format!(
        "{:<12} {} ({why}){probe}  ({calls})",
        p.name,
        p.health.to_uppercase()
    )
}

/// `gas-miner status`: the process, its place on the chain, queues, pass rates and the last
/// errors; exit 1 when it is not running.
pub fn status(place: &Place) -> Result<(), CliError> {
    let s = match place.status() {
        Ok(s) => s,
        Err(e) => {
            return Err(CliError::Failed(match place.session() {
                Some(session) if place.in_tmux() => format!(
                    "the tmux session {session} exists but the miner does not answer ({e}); it may be starting or restarting: see `gas-miner logs`"
                ),
                _ => format!("not running: {e}; start it with `gas-miner start`"),
            }));
        }
    };
    let session = super::tmux::session(&s.name);
    let in_tmux = if super::tmux::session_exists(&session) == Some(true) {
        format!(", tmux session {session}")
    } else {
        String::new()
    };
    let demo = if s.demo {
        "  *** DEMO: nothing here is real ***"
    } else {
        ""
    };
    println!(
        "gas-miner {} ({}) running: pid {}{in_tmux}, up {}{demo}",
        s.name,
        s.version,
        s.pid,
        ago(s.now_ms - s.started_ms)
    );
    println!(
        "  hotkey {}  uid {}  netuid {}{}",
        s.hotkey,
        s.uid
            .map(|u| u.to_string())
            .unwrap_or_else(|| "none (not registered)".into()),
        s.netuid,
        s.axon
            .as_deref()
            .map(|a| format!("  axon {a}"))
            .unwrap_or_default()
    );
    let m = &s.metagraph;
    println!(
        "  metagraph {}: {} neurons{}, {} old{}",
        m.source,
        m.neurons,
        m.block
            .map(|b| format!(" at block {b}"))
            .unwrap_or_default(),
        ago(m.age_s * 1000),
        if m.stale { " (STALE)" } else { "" }
    );
    let chain = |names: &[String]| {
        if names.is_empty() {
            "none".to_string()
        } else {
            names.join(" → ")
        }
    };
    println!(
        "  services  image {}  ·  video {}{}",
        chain(&s.services.image),
        chain(&s.services.video),
        if s.services.overridden {
            "  (set from gas-console)"
        } else {
            ""
        }
    );
    for modality in gas_shared::Modality::ALL {
        let counts: Vec<String> = s
            .queue
            .iter()
            .filter(|q| q.modality == modality && q.count > 0)
            .map(|q| format!("{} {}", q.state.as_str(), q.count))
            .collect();
        println!(
            "  {modality:<5}     {}",
            if counts.is_empty() {
                "no tasks".to_string()
            } else {
                counts.join(", ")
            }
        );
    }
    println!(
        "  accepted  {} in the last minute, {} in the last hour",
        s.throughput.accepted_last_minute, s.throughput.accepted_last_hour
    );
    println!(
        "  pre-flight passed {} (hour), {} (day)",
        rate(&s.preflight.hour),
        rate(&s.preflight.day),
    );
    for (span, r) in [("hour", &s.replies.hour), ("day", &s.replies.day)] {
        println!("  validators' replies ({span}): {}", replies(r));
    }
    println!("  refused   {}", refusals_line(&s.refusals));
    for line in unanswered_warnings(&s.refusals) {
        println!("  WARNING   {line}");
    }
    println!(
        "  standing  {}",
        standing_line(s.standing.as_ref(), s.now_ms)
    );
    println!("  spend     {}", budget_line(&s.budget));
    for b in s.budget.iter().filter(|b| b.warns()) {
        println!(
            "  WARNING   {} spend is {} of {} ({})",
            b.scope,
            percent(b.fraction().unwrap_or(0.0)),
            b.var,
            if b.reached() {
                "reached: its challenges are refused and no paid call is made"
            } else {
                "at the limit its challenges are refused"
            }
        );
    }
    for p in &s.providers {
        println!("  provider  {}", provider_health(p, s.now_ms));
        // Only the plans some of whose results fell short (the rest reach what they plan).
        for t in p.tiers.iter().filter(|t| t.short > 0) {
            println!("            {}", tier_line(t));
        }
    }
    println!(
        "  trust anchors {}  ·  admin socket {}",
        s.trust_anchors,
        place.socket.display()
    );
    let failed: Option<TaskPage> =
        client::get_json(&place.socket, "/tasks?state=failed&limit=5").ok();
    let errors: Vec<String> = client::get_json::<LogTail>(&place.socket, "/logs?n=2000")
        .map(|t| {
            t.lines
                .into_iter()
                .filter(|l| l.contains(" ERROR ") || l.contains(" WARN "))
                .collect()
        })
        .unwrap_or_default();
    let failed = failed.map(|p| p.tasks).unwrap_or_default();
    if failed.is_empty() && errors.is_empty() {
        println!("  last errors: none");
    } else {
        println!("  last errors:");
        for t in &failed {
            let why = t
                .error
                .clone()
                .or_else(|| t.verdict.as_ref().and_then(|v| v.reason.clone()))
                .unwrap_or_else(|| "failed".into());
            println!(
                "    {} ago  task {} ({} {}): {why}",
                ago(s.now_ms - t.finished_ms.unwrap_or(t.created_ms)),
                t.task_id,
                t.modality,
                t.tier.as_str()
            );
        }
        for line in &errors[errors.len().saturating_sub(5)..] {
            println!("    {line}");
        }
    }
    Ok(())
}

/// `gas-miner logs [-n N] [-f]`: the last lines of the rotated log files in the state
/// directory, then (with `-f`) what is written next, across rotations.
pub fn logs(targets: &super::Targets, lines: usize, follow: bool) -> Result<(), CliError> {
    let place = match targets {
        super::Targets::One(place) => place,
        super::Targets::All => {
            // Each miner's last lines, led by its name.
            let known = super::fleet::known();
            if known.is_empty() {
                return Err(CliError::Failed(format!(
                    "no miner known on this box ({}); start one with `gas-miner start`",
                    gas_client::fleet::dir().display()
                )));
            }
            for k in known {
                let Some(place) = k.place() else { continue };
                for file in crate::logs::LogFile::files(&place.logs()).iter().take(1) {
                    let text = std::fs::read_to_string(file).unwrap_or_default();
                    let all: Vec<&str> = text.lines().collect();
                    for line in &all[all.len().saturating_sub(lines)..] {
                        println!("[{}] {line}", k.name);
                    }
                }
            }
            return Ok(());
        }
    };
    let dir = place.logs();
    let files = crate::logs::LogFile::files(&dir);
    if files.is_empty() {
        return Err(CliError::Failed(format!(
            "no log files in {} yet: the miner writes them once it runs (gas-miner start)",
            dir.display()
        )));
    }
    let mut tail: Vec<String> = Vec::new();
    for file in &files {
        if tail.len() >= lines {
            break;
        }
        let text = std::fs::read(file)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        let mut older: Vec<String> = text.lines().map(str::to_string).collect();
        older.append(&mut tail);
        tail = older;
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for line in &tail[tail.len().saturating_sub(lines)..] {
        if writeln!(out, "{line}").is_err() {
            return Ok(());
        }
    }
    let _ = out.flush();
    if follow {
        follow_file(&dir.join("gas-miner.log"), &mut out);
    }
    Ok(())
}

fn inode(path: &Path) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| m.ino())
}

/// Prints what is appended to `path`, reopening it when it is rotated away, until the reader
/// goes away.
fn follow_file(path: &Path, out: &mut impl Write) {
    use std::os::unix::fs::MetadataExt;
    let open = || {
        let mut f = std::fs::File::open(path).ok()?;
        let end = f.seek(std::io::SeekFrom::End(0)).ok()?;
        let ino = f.metadata().ok()?.ino();
        Some((f, ino, end))
    };
    let mut current = open();
    let mut buf = Vec::new();
    loop {
        if let Some((f, ino, _)) = current.as_mut() {
            buf.clear();
            let _ = f.read_to_end(&mut buf);
            if !buf.is_empty() {
                if out.write_all(&buf).and_then(|()| out.flush()).is_err() {
                    return;
                }
                continue;
            }
            if inode(path).is_some_and(|now| now != *ino) {
                // Rotated: the old file is read to its end above; the new one from its start.
                current = std::fs::File::open(path)
                    .ok()
                    .and_then(|f| Some((f.metadata().ok()?.ino(), f)))
                    .map(|(ino, f)| (f, ino, 0));
                continue;
            }
        } else {
            current = open();
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// `gas-miner info`: the configuration (secrets only said to be set), key status per service,
/// the service per modality, the trust anchors, the chain, and whether it runs.
pub fn info(settings: &Settings, env_file: &Path) -> Result<(), CliError> {
    let read = if env_file.exists() {
        "read"
    } else {
        "not found"
    };
    println!(
        "gas-miner {}  ·  env file {} ({read})",
        env!("CARGO_PKG_VERSION"),
        env_file.display()
    );
    let config = match settings.resolve() {
        Ok(c) => c,
        Err(problems) => {
            // A demo running here has settings of its own: say so rather than fail.
            let place = Place::new(None, None);
            if let Some(s) = place.status().ok().filter(|s| s.demo) {
                println!(
                    "running    a gas-miner demo: pid {}, state {}, socket {} (its settings are its own; `gas-miner status` and `logs` show it)",
                    s.pid,
                    place.state_dir.display(),
                    place.socket.display()
                );
                println!("no real miner is configured here yet:");
                for p in problems {
                    println!("  {p}");
                }
                return Ok(());
            }
            println!("configuration problems:");
            return Err(CliError::Config(problems));
        }
    };
    let mut failed = false;
    let key = Hotkey::load(
        &config.wallet_path,
        &config.wallet_name,
        &config.wallet_hotkey,
        &|| std::env::var("BT_HOTKEY_PASSWORD").ok(),
    );
    let hotkey = match &key {
        Ok(k) => k.ss58().to_string(),
        Err(IdentityError::NoPassword { .. }) => {
            "encrypted; BT_HOTKEY_PASSWORD not set (start asks for it on a terminal)".into()
        }
        Err(e) => {
            failed = true;
            format!("PROBLEM: {e}")
        }
    };
    println!(
        "wallet     {} / {} / {}",
        config.wallet_path.display(),
        config.wallet_name,
        config.wallet_hotkey
    );
    println!("hotkey     {hotkey}");
    match &config.metagraph_file {
        Some(f) => println!(
            "chain      offline: metagraph file {} (never serves the axon)",
            f.display()
        ),
        None => println!(
            "chain      {}  netuid {}",
            config.chain_endpoint, config.netuid
        ),
    }
    println!(
        "axon       listens on {}:{}{}",
        config.bind_ip,
        config.port,
        config
            .external_ip
            .map(|ip| format!(", published as {ip}:{}", config.external_port))
            .unwrap_or_else(|| ", public address found at start".into())
    );
    let names = |c: &[crate::providers::registry::ProviderSettings]| {
        if c.is_empty() {
            "none (challenges answered 503)".to_string()
        } else {
            c.iter()
                .map(|p| match &p.model {
                    Some(m) => format!("{} ({m})", p.service.name()),
                    None => p.service.name().to_string(),
                })
                .collect::<Vec<_>>()
                .join(" → ")
        }
    };
    println!("image      {}", names(&config.image_chain));
    println!("video      {}", names(&config.video_chain));
    for k in &config.catalog {
        println!(
            "key        {:<20} {}",
            k.service.key_var(),
            if k.key.is_some() { "set" } else { "not set" }
        );
    }
    match crate::preflight::Trusted::load(&config.trust_anchors) {
        Ok(t) => println!(
            "trust      {} anchors in {}",
            t.anchors.count(),
            config.trust_anchors.display()
        ),
        Err(e) => {
            failed = true;
            println!("trust      PROBLEM: {e}");
        }
    }
    println!(
        "state      {}  ·  admin socket {}  ·  logs {}",
        config.state_dir.display(),
        config.admin_socket.display(),
        config.state_dir.join("logs").display()
    );
    println!(
        "limits     {} tasks at once  ·  task timeout {} s  ·  video timeout {} s  ·  webhook deadline {} s",
        config.max_concurrent_tasks,
        config.task_timeout.as_secs(),
        config.video_timeout.as_secs(),
        config.webhook_deadline.as_secs()
    );
    println!(
        "keeping    {} days of media and records  ·  metrics {}",
        config.retention.as_secs() / 86_400,
        config
            .metrics_addr
            .map(|a| format!("http://{a}/metrics and on the socket"))
            .unwrap_or_else(|| "on the socket (GET /metrics)".into())
    );
    println!("webhooks   {}", config.webhook_guard);
    let limit = |l: Option<f64>| l.map_or("no limit".to_string(), |l| format!("{l:.2} US$"));
    println!(
        "budget     per rolling 24 h: all {}  ·  image {}  ·  video {}  (MINER_BUDGET_USD_PER_DAY[_IMAGE|_VIDEO])",
        limit(config.budget.all),
        limit(config.budget.image),
        limit(config.budget.video)
    );
    println!(
        "tiers      a result below the asked tier is {}",
        if config.tier_retry {
            "made once more by the next provider that reaches it (MINER_TIER_RETRY=1)"
        } else {
            "delivered as it is (MINER_TIER_RETRY=0)"
        }
    );
    println!(
        "prices     estimated list prices, US$; {}:",
        match &config.prices_file {
            Some(f) => format!("built-in rows overridden by {}", f.display()),
            None => "built-in (override rows with MINER_PRICES_FILE)".into(),
        }
    );
    for line in config.prices.render().lines() {
        println!("           {line}");
    }
    let place = Place::new(
        Some(&config.state_dir.display().to_string()),
        Some(&config.admin_socket.display().to_string()),
    );
    match place.status() {
        Ok(s) => println!(
            "running    yes: pid {}; serving image {} · video {}{}",
            s.pid,
            if s.services.image.is_empty() {
                "none".into()
            } else {
                s.services.image.join(" → ")
            },
            if s.services.video.is_empty() {
                "none".into()
            } else {
                s.services.video.join(" → ")
            },
            if s.services.overridden {
                " (set from gas-console)"
            } else {
                ""
            }
        ),
        Err(_) => println!("running    no"),
    }
    if let Ok(s) = place.status() {
        println!("spent      {}", budget_line(&s.budget));
    }
    if failed {
        Err(CliError::ChecksFailed)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gas_shared::admin::ProviderStats;

    #[test]
    fn refusals_are_shown_by_reason_and_an_unanswered_modality_warned() {
        let r = gas_shared::admin::Refusals {
            hour: vec![("wait".into(), 2)],
            day: vec![("no_provider".into(), 1), ("wait".into(), 3)],
            total: vec![],
            day_by_modality: vec![
                (gas_shared::Modality::Image, 4, 1),
                (gas_shared::Modality::Video, 0, 3),
            ],
        };
        assert_eq!(
            refusals_line(&r),
            "2 in the last hour (2 wait), 4 in 24 h (1 no_provider, 3 wait)"
        );
        let warnings = unanswered_warnings(&r);
        assert_eq!(warnings.len(), 1);
        assert!(
            warnings[0].starts_with("every video challenge"),
            "{warnings:?}"
        );
    }

    #[test]
    fn a_provider_line_says_its_health_and_why_not_ok() {
        let mut p = ProviderStats {
            name: "openrouter".into(),
            calls: 9,
            errors: 4,
            ..ProviderStats::default()
        };
        assert_eq!(
            provider_health(&p, 0),
            "openrouter   ok  (9 calls, 4 failed)",
            "an older miner sends no health: ok"
        );
        p.health = "open".into();
        p.health_reason =
            Some("the API key was refused (HTTP 401): check OPEN_ROUTER_API_KEY (m)".into());
        p.open_until_ms = Some(25_000);
        assert_eq!(
            provider_health(&p, 0),
            "openrouter   OPEN (the API key was refused (HTTP 401): check OPEN_ROUTER_API_KEY (m)), probe in 25 s  (9 calls, 4 failed)"
        );
    }
}
