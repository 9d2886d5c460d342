//! What needs the operator now, most serious first, each with the key that leads to it: the
//! alert line under every screen shows the first and how many more there are.

use super::widgets::{BAD, DIM, GOOD, WARN, boxed};
use crate::app::{App, Phase};
use gas_shared::admin::Status;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Wrap};

/// Free space in the state directory under which the operator is warned.
pub const LOW_DISK_BYTES: u64 = 2 * 1024 * 1024 * 1024;

/// Days after which the trust anchors are called stale: the subnet changes its list a few
/// times a year, and a signer it added is one our pre-flight would fail.
pub const STALE_ANCHORS_DAYS: i64 = 30;

/// One alert: how serious (`BAD` before `WARN`), its words, and where to look.
pub struct Alert {
    pub style: Style,
    pub text: String,
    pub key: &'static str,
}

fn bad(text: String, key: &'static str) -> Alert {
    Alert {
        style: BAD,
        text,
        key,
    }
}

fn warn(text: String, key: &'static str) -> Alert {
    Alert {
        style: WARN,
        text,
        key,
    }
}

/// Every alert that holds now, most serious first.
pub fn all(app: &App) -> Vec<Alert> {
    let mut out = Vec::new();
    match app.phase() {
        Phase::Stopped => out.push(bad(
            "the miner stopped (as asked); what is shown is its last word".into(),
            "gas-miner start",
        )),
        Phase::Draining => out.push(warn(
            "the miner is draining: finishing the work in flight, accepting nothing new".into(),
            "gas-miner logs",
        )),
        Phase::Silent(s) => out.push(bad(
            format!("the miner has sent nothing for {s} s (hung or overloaded?)"),
            "gas-miner logs",
        )),
        _ => {}
    }
    let Some(s) = &app.status else {
        return out;
    };
    for m in s.refusals.unanswered() {
        out.push(bad(
            format!("{m}: every challenge refused for 24 h; v5 marks the miner unresponsive"),
            "3 Services",
        ));
    }
    budget(s, true, &mut out);
    for p in s.providers.iter().filter(|p| p.health == "open") {
        out.push(bad(
            format!(
                "{} is failing: {}",
                p.name,
                p.health_reason.as_deref().unwrap_or("its breaker is open")
            ),
            "1 Dashboard",
        ));
    }
    if s.trust_anchors == 0 {
        out.push(bad(
            "no trust anchors: every result fails the C2PA check".into(),
            "gas-miner trust update, then t",
        ));
    }
    if let Some(days) = s
        .trust_anchors_updated_ms
        .map(|at| (s.now_ms - at) / 86_400_000)
        .filter(|d| *d >= STALE_ANCHORS_DAYS)
        .filter(|_| s.trust_anchors > 0)
    {
        out.push(warn(
            format!(
                "the trust anchors were last updated {days} days ago: the subnet's list may have changed"
            ),
            "gas-miner trust update, then t",
        ));
    }
    if let Some(free) = s.disk_free_bytes.filter(|b| *b < LOW_DISK_BYTES) {
        out.push(bad(
            format!(
                "{:.1} GiB free in the state directory: the store and media need room",
                free as f64 / (1u64 << 30) as f64
            ),
            "gas-miner doctor",
        ));
    }
    if s.metagraph.stale {
        out.push(warn(
            format!(
                "the metagraph is stale ({} s old): new validators cannot be checked",
                s.metagraph.age_s
            ),
            "gas-miner logs",
        ));
    }
    budget(s, false, &mut out);
    // Perhaps on purpose (an image-only miner), so after what is surely wrong.
    for (m, chain) in [("image", &s.services.image), ("video", &s.services.video)] {
        if chain.is_empty() {
            out.push(warn(
                format!("{m}s have no service: their challenges get 503"),
                "3 Services",
            ));
        }
    }
    for p in &s.providers {
        for t in p.tiers.iter().filter(|t| t.reaches < t.planned) {
            out.push(warn(
                format!(
                    "{} {} delivers {} when asked {} ({} of {} short): the chain asks others first",
                    p.name, t.model, t.reaches, t.planned, t.short, t.seen
                ),
                "1 Dashboard",
            ));
        }
    }
    let r = &s.refusals;
    if r.day_total() > 0 && r.unanswered().is_empty() {
        let reasons: Vec<String> = r.day.iter().map(|(why, n)| format!("{n} {why}")).collect();
        out.push(warn(
            format!(
                "refused with 503: {} in 1h, {} in 24h ({})",
                r.hour_total(),
                r.day_total(),
                reasons.join(", ")
            ),
            "1 Dashboard",
        ));
    }
    out
}

/// The budgets at or past 80 % of their limit: `reached` ones (BAD) or the others (WARN),
/// the fullest first.
fn budget(s: &Status, reached: bool, out: &mut Vec<Alert>) {
    let mut lines: Vec<_> = s
        .budget
        .iter()
        .filter(|b| b.warns() && b.reached() == reached)
        .collect();
    lines.sort_by(|a, b| {
        b.fraction()
            .unwrap_or(0.0)
            .total_cmp(&a.fraction().unwrap_or(0.0))
    });
    for b in lines {
        let what = if reached {
            "reached: challenges get 503, no paid call"
        } else {
            "503 once the next would pass it"
        };
        let text = format!(
            "{} budget {:.0}%: ${:.2} of ${:.2} in 24h (est.); {what} ({})",
            b.scope,
            b.fraction().unwrap_or(0.0).min(9.99) * 100.0,
            b.spent_usd,
            b.limit_usd.unwrap_or(0.0),
            b.var,
        );
        out.push(if reached {
            bad(text, "gas-miner status")
        } else {
            warn(text, "gas-miner status")
        });
    }
}

/// The alert line: the first alert, how many more, and its key.
pub fn line(app: &App) -> Option<Line<'static>> {
    let alerts = all(app);
    let first = alerts.first()?;
    let more = if alerts.len() > 1 {
        format!(" (+{} more: !)", alerts.len() - 1)
    } else {
        String::new()
    };
    Some(Line::from(vec![
        Span::styled(format!(" {}", first.text), first.style),
        Span::styled(format!("  → {}{more}", first.key), first.style),
    ]))
}

/// Every alert, over the screen (`!`); any key closes it.
pub fn draw(f: &mut Frame, app: &App) {
    let area = f.area();
    let alerts = all(app);
    let w = area.width.min(100);
    let h = (alerts.len() as u16 * 2 + 3).clamp(5, area.height);
    let r = Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    );
    let mut text: Vec<Line> = Vec::new();
    if alerts.is_empty() {
        text.push(Line::styled("Nothing needs you now.", GOOD));
    }
    for a in &alerts {
        text.push(Line::from(vec![
            Span::styled(format!("• {}", a.text), a.style),
            Span::styled(format!("  → {}", a.key), DIM),
        ]));
    }
    text.push(Line::styled("Any key closes this list.", DIM));
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(text)
            .wrap(Wrap { trim: false })
            .block(boxed("Alerts, most serious first")),
        r,
    );
}
