//! One task in full: its summary, its verdicts (a replayed one first), its timeline, its
//! provider calls and its webhooks.

use super::Keys;
use super::widgets::{BAD, BOLD, DIM, GOOD, age, boxed, clock, state_style};
use crate::app::{App, short, short_task};
use gas_shared::TaskState;
use gas_shared::admin::TaskDetail;
use gas_shared::verdict::Verdict;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

pub const KEYS: Keys = &[
    ("↑↓", "scroll"),
    ("v", "verify again"),
    ("o", "media path"),
    ("Esc", "back"),
    ("?", "help"),
];

fn verdict_lines(v: &Verdict, label: &str, now_ms: i64, out: &mut Vec<Line<'static>>) {
    let c = &v.c2pa;
    out.push(Line::from(vec![
        Span::styled(
            format!(
                "{label} ({}, {} ago): ",
                v.provider,
                age(now_ms - v.checked_at_ms)
            ),
            BOLD,
        ),
        if v.passed {
            Span::styled("PASSED", GOOD)
        } else {
            Span::styled("FAILED", BAD)
        },
    ]));
    for r in &v.reasons {
        out.push(Line::styled(format!("  ✗ {r}"), BAD));
    }
    let m = &v.media;
    out.push(Line::raw(format!(
        "  media {} {} bytes{}  tier {} (asked {}){}",
        m.content_type,
        m.bytes,
        match (m.width, m.height) {
            (Some(w), Some(h)) => format!(" {w}×{h}"),
            _ => String::new(),
        },
        m.measured_tier.map_or("–".into(), |t| t.to_string()),
        m.requested_tier.map_or("–".into(), |t| t.to_string()),
        if m.shortfall > 0 {
            format!("  SHORTFALL {}", m.shortfall)
        } else {
            String::new()
        },
    )));
    if let Some(frames) = m.frames {
        out.push(Line::raw(format!(
            "  frames {frames}{}",
            m.duration_s.map_or(String::new(), |d| format!("  {d:.1}s"))
        )));
    }
    out.push(Line::raw(format!(
        "  C2PA verified {}  signature {}  trusted issuer {}  self-signed {}  state {}",
        c.verified,
        c.signature_valid,
        c.is_trusted_issuer,
        c.is_self_signed,
        c.validation_state.as_deref().unwrap_or("–")
    )));
    out.push(Line::raw(format!(
        "  signer O={}  CN={}",
        c.cert_issuer.as_deref().unwrap_or("–"),
        c.common_name.as_deref().unwrap_or("–")
    )));
    for (i, s) in c.cert_chain.iter().enumerate() {
        out.push(Line::styled(format!("  chain[{i}] {s}"), DIM));
    }
    out.push(Line::raw(format!(
        "  claim generator {}  model {}  ai_generated {}",
        c.issuer.as_deref().unwrap_or("–"),
        c.model_name.as_deref().unwrap_or("–"),
        c.ai_generated
    )));
    let fresh = v.freshness.as_ref();
    out.push(Line::raw(format!(
        "  signed {} (from {})  {}",
        c.signing_time.as_deref().unwrap_or("–"),
        c.signing_time_source.as_deref().unwrap_or("–"),
        match fresh {
            Some(f) if f.fresh => match f.age_s {
                Some(a) if a < 0.0 => format!("fresh (signed {:.0}s after the 201)", -a),
                Some(a) => format!("fresh (signed {a:.0}s before the 201)"),
                None => "fresh".into(),
            },
            Some(f) => format!(
                "NOT FRESH ({})",
                f.age_s
                    .map_or("no time".into(), |a| format!("{a:.0}s before the 201"))
            ),
            None => String::new(),
        }
    )));
    if let Some(e) = &c.error {
        out.push(Line::styled(format!("  error: {e}"), BAD));
    }
    for s in &c.statuses {
        let style = if s.fatal {
            BAD
        } else if s.kind == "success" {
            GOOD
        } else {
            DIM
        };
        out.push(Line::styled(
            format!(
                "  {:<13} {}{}",
                s.kind,
                s.code,
                s.explanation
                    .as_deref()
                    .map(|e| format!(": {e}"))
                    .unwrap_or_default()
            ),
            style,
        ));
    }
    if let Some(d) = &v.duplicate {
        out.push(Line::styled(
            format!(
                "  near-duplicate of {} (distance {})",
                short_task(&d.of_task),
                d.distance
            ),
            BAD,
        ));
    }
}

/// The detail screen's text (also used to size scrolling).
pub fn detail_text(d: &TaskDetail, app: &App) -> Vec<Line<'static>> {
    let t = &d.summary;
    let mut out = vec![
        Line::from(vec![
            Span::styled(format!("{}  ", t.task_id), BOLD),
            Span::styled(t.state.as_str().to_string(), state_style(t.state)),
            Span::raw(format!(
                "  {} {}  from {}",
                t.modality,
                t.tier,
                short(&t.validator)
            )),
        ]),
        Line::raw(format!("prompt: {}", d.prompt)),
        Line::raw(format!(
            "parameters: {}  webhook: {}",
            d.parameters, d.webhook_url
        )),
    ];
    if let Some(o) = &d.outcome {
        out.push(Line::styled(
            format!("outcome: {o}"),
            if t.state == TaskState::Failed {
                BAD
            } else {
                Style::default()
            },
        ));
    }
    if let Some(p) = &d.media_path {
        out.push(Line::raw(format!("media: {p}")));
    }
    out.push(Line::raw(""));
    if let Some(v) = &app.replayed {
        verdict_lines(v, "Verified again just now", app.now_ms, &mut out);
        out.push(Line::raw(""));
    }
    // The pipeline's own verdicts, one per attempt (the replay is stored too: shown above).
    let attempts: Vec<&Verdict> = d
        .verdicts
        .iter()
        .filter(|v| {
            app.replayed
                .as_ref()
                .is_none_or(|r| r.checked_at_ms != v.checked_at_ms)
        })
        .collect();
    let working = matches!(
        t.state,
        TaskState::Queued | TaskState::Generating | TaskState::Preflight
    );
    if attempts.is_empty() {
        out.push(Line::styled("Pre-flight: not judged yet", DIM));
    }
    for (i, v) in attempts.iter().enumerate().rev() {
        let label = if working && i + 1 == attempts.len() {
            format!(
                "Pre-flight of attempt {} of {} (earlier: a new attempt is under way)",
                i + 1,
                attempts.len()
            )
        } else if attempts.len() == 1 {
            "Pre-flight".to_string()
        } else {
            format!("Pre-flight of attempt {} of {}", i + 1, attempts.len())
        };
        verdict_lines(v, &label, app.now_ms, &mut out);
        if i > 0 {
            out.push(Line::raw(""));
        }
    }
    out.push(Line::raw(""));
    out.push(Line::styled("Timeline", BOLD));
    for e in &d.timeline {
        out.push(Line::raw(format!("  {} {}", clock(e.at_ms), e.what)));
    }
    section(
        &mut out,
        "Provider calls",
        d.calls.iter().map(|c| {
            format!(
                "  {} {} {} {} {}ms {}B{}{}",
                c.provider,
                c.op,
                c.model,
                c.status.map_or("–".into(), |s| s.to_string()),
                c.latency_ms,
                c.bytes,
                c.cost_usd.map_or(String::new(), |x| format!(" ${x:.3}")),
                c.error
                    .as_deref()
                    .map(|e| format!(" {e}"))
                    .unwrap_or_default()
            )
        }),
    );
    section(
        &mut out,
        "Webhooks",
        d.deliveries.iter().map(|w| {
            let class = gas_shared::reply::ReplyClass::of(w.kind == "failure", w.status, &w.reply);
            format!(
                "  #{} {} → {} ({}): {}",
                w.attempt,
                w.kind,
                w.status.map_or("no answer".into(), |s| s.to_string()),
                class.label(),
                w.reply
            )
        }),
    );
    out
}

/// A titled section after a blank line; nothing at all when it has no lines.
fn section(out: &mut Vec<Line<'static>>, title: &'static str, lines: impl Iterator<Item = String>) {
    let mut lines = lines.peekable();
    if lines.peek().is_none() {
        return;
    }
    out.push(Line::raw(""));
    out.push(Line::styled(title, BOLD));
    out.extend(lines.map(Line::raw));
}

pub fn draw(f: &mut Frame, area: Rect, app: &App) {
    let Some(d) = &app.detail else {
        let text = app
            .current()
            .map(|t| format!("Loading {}…", t.task_id))
            .unwrap_or_else(|| "No task selected".into());
        f.render_widget(Paragraph::new(text).block(boxed("Task")), area);
        return;
    };
    let lines = detail_text(d, app);
    // Wrapped height, so that scrolling stops at the last line and the title says where.
    let width = usize::from(area.width.saturating_sub(2)).max(1);
    let total: usize = lines.iter().map(|l| l.width().max(1).div_ceil(width)).sum();
    let height = usize::from(area.height.saturating_sub(2));
    let max = total.saturating_sub(height) as u16;
    app.detail_max_scroll.set(max);
    let scroll = app.detail_scroll.min(max);
    let title = format!(
        "Task {} · lines {}–{} of {total}",
        short_task(&d.summary.task_id),
        usize::from(scroll) + 1,
        (usize::from(scroll) + height).min(total)
    );
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((scroll, 0))
            .block(boxed(&title)),
        area,
    );
}
