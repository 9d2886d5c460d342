//! The task list, filtered, newest first, the selected row reversed. Drilled into from a
//! provider, its last calls are listed below the tasks (errors included); from a validator,
//! its last refusals (a 503 leaves no task).

use super::Keys;
use super::widgets::{
    BAD, DIM, GOOD, WARN, age, clip, last_column_width, state_style, table, waiting,
};
use crate::app::{App, short_task, state_word};
use gas_shared::admin::{CallSummary, RefusalSummary, TaskSummary};
use gas_shared::{Modality, TaskState};
use ratatui::Frame;
use ratatui::layout::Constraint::{Length, Min};
use ratatui::layout::{Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::widgets::{Cell, Row};

pub const KEYS: Keys = &[
    ("↑↓", "move"),
    ("Enter", "open"),
    ("c", "failed C2PA"),
    ("s", "state"),
    ("m", "modality"),
    ("/", "search"),
    ("x", "clear"),
    ("o", "order"),
    ("e/E", "export CSV/JSON"),
    ("?", "help"),
];

/// While a search is typed (tasks or log).
pub const SEARCH_KEYS: Keys = &[
    ("type", "applies as typed"),
    ("←→ ^U ^W", "edit"),
    ("Enter", "keep"),
    ("Esc", "undo"),
];

/// The verdict column's width.
const VERDICT_WIDTH: usize = 16;

fn verdict_cell(t: &TaskSummary) -> Cell<'static> {
    // A verdict of an earlier attempt says nothing about the one under way.
    if matches!(
        t.state,
        TaskState::Queued | TaskState::Generating | TaskState::Preflight
    ) && t.verdict.as_ref().is_some_and(|v| !v.passed)
    {
        return Cell::from("retrying").style(WARN);
    }
    match &t.verdict {
        Some(v) if v.passed && !t.c2pa_failed => Cell::from("pass").style(GOOD),
        Some(v) if v.passed => Cell::from("pass*").style(WARN),
        Some(v) => Cell::from(clip(
            &format!("FAIL {}", v.reason.as_deref().unwrap_or_default()),
            VERDICT_WIDTH,
        ))
        .style(BAD),
        None => Cell::from("–").style(DIM),
    }
}

/// The validator's last answer to the webhook: a v5 202 took it (verdict unknown), a v4.9.x
/// 200 passed it, a 4xx rejected it; a failure report's 2xx only says it was recorded.
fn reply_cell(t: &TaskSummary) -> Cell<'static> {
    match t.last_status {
        None => Cell::from("–").style(DIM),
        Some(s @ 200) if t.state != TaskState::Failed => Cell::from(s.to_string()).style(GOOD),
        Some(s @ 200..=299) => Cell::from(s.to_string()),
        Some(s) => Cell::from(s.to_string()).style(BAD),
    }
}

/// What the miner counts for the provider or validator a drill-down came from.
fn behind(app: &App) -> String {
    let Some(s) = &app.status else {
        return String::new();
    };
    if let Some(p) = app
        .filter
        .provider
        .as_ref()
        .and_then(|n| s.providers.iter().find(|p| &p.name == n))
    {
        return format!(
            " · {} calls, {} failed, p95 {}",
            p.calls,
            p.errors,
            p.p95_ms.map_or("–".into(), |v| format!("{v} ms"))
        );
    }
    if let Some(v) = app
        .filter
        .validator
        .as_ref()
        .and_then(|h| s.validators.iter().find(|v| &v.hotkey == h))
    {
        let r = &v.replies;
        return format!(
            " · asked {}, refused {} (503s have no task), replies: {} passed, {} taken, {} rejected",
            v.challenges, v.refused, r.passed, r.taken, r.rejected
        );
    }
    String::new()
}

pub fn draw(f: &mut Frame, area: Rect, app: &App) {
    if app.status.is_none() && app.tasks.is_empty() {
        return waiting(f, area, app);
    }
    let beside = if app.filter.provider.is_some() {
        app.calls.as_ref().map(Vec::len)
    } else if app.filter.validator.is_some() {
        app.refusals.as_ref().map(Vec::len)
    } else {
        None
    };
    let area = match beside {
        Some(n) => {
            // The tasks keep at least half; the list below shows what fits, newest first.
            let below = (n.max(1) as u16 + 3).min(area.height / 2);
            let [top, bottom] = Layout::vertical([Min(5), Length(below)]).areas(area);
            if app.filter.provider.is_some() {
                draw_calls(f, bottom, app);
            } else {
                draw_refusals(f, bottom, app);
            }
            top
        }
        None => area,
    };
    let columns = [
        ("age", Length(4)),
        ("task", Length(9)),
        ("kind", Length(10)),
        ("state", Length(10)),
        ("provider", Length(11)),
        ("verdict", Length(VERDICT_WIDTH as u16)),
        ("reply", Length(5)),
        ("prompt", Min(10)),
    ];
    let prompt_width = last_column_width(&columns, area.width);
    let height = area.height.saturating_sub(3) as usize;
    let first = app.selected.saturating_sub(height.saturating_sub(1));
    let rows: Vec<Row> = app
        .tasks
        .iter()
        .enumerate()
        .skip(first)
        .take(height)
        .map(|(i, t)| {
            let row = Row::new(vec![
                Cell::from(age(app.now_ms - t.created_ms)),
                Cell::from(short_task(&t.task_id).to_string()),
                Cell::from(format!(
                    "{} {}",
                    if t.modality == Modality::Image {
                        "img"
                    } else {
                        "vid"
                    },
                    t.tier
                )),
                Cell::from(state_word(t.state)).style(state_style(t.state)),
                Cell::from(t.provider.clone().unwrap_or_default()),
                verdict_cell(t),
                reply_cell(t),
                Cell::from(clip(&t.prompt, prompt_width)),
            ]);
            if i == app.selected {
                row.style(Style::new().add_modifier(Modifier::REVERSED))
            } else {
                row
            }
        })
        .collect();
    let title = format!(
        "Tasks: {} ({} shown, {}){}",
        app.filter.describe(),
        app.tasks.len(),
        app.task_order.word(),
        behind(app)
    );
    f.render_widget(table(&title, columns, rows), area);
}

/// The drilled-into provider's last calls, newest first.
fn draw_calls(f: &mut Frame, area: Rect, app: &App) {
    let calls: &[CallSummary] = app.calls.as_deref().unwrap_or_default();
    let model_width: u16 = if area.width >= 120 { 34 } else { 12 };
    let columns = [
        ("age", Length(4)),
        ("task", Length(9)),
        ("call", Length(8)),
        ("model", Length(model_width)),
        ("answer", Length(6)),
        ("took", Length(6)),
        ("cost", Length(6)),
        ("error", Min(10)),
    ];
    let error_width = last_column_width(&columns, area.width);
    let rows: Vec<Row> = calls
        .iter()
        .take(area.height.saturating_sub(3) as usize)
        .map(|c| {
            let failed = c.error.is_some();
            Row::new(vec![
                Cell::from(age(app.now_ms - c.at_ms)),
                Cell::from(short_task(&c.task_id).to_string()),
                Cell::from(c.op.clone()),
                Cell::from(clip(&c.model, usize::from(model_width))),
                Cell::from(c.status.map_or("–".into(), |s| s.to_string())).style(if failed {
                    BAD
                } else {
                    GOOD
                }),
                Cell::from(took(c.latency_ms)),
                Cell::from(c.cost_usd.map_or("–".into(), |usd| format!("${usd:.2}"))),
                Cell::from(clip(c.error.as_deref().unwrap_or(""), error_width)).style(BAD),
            ])
        })
        .collect();
    let failed = calls.iter().filter(|c| c.error.is_some()).count();
    let title = if calls.is_empty() {
        "Its calls: none recorded (the last 50 are kept)".to_string()
    } else {
        format!(
            "Its last {} calls, newest first ({failed} failed; answer: the provider's HTTP status)",
            calls.len()
        )
    };
    f.render_widget(table(&title, columns, rows), area);
}

/// The drilled-into validator's last refusals, newest first.
fn draw_refusals(f: &mut Frame, area: Rect, app: &App) {
    let refusals: &[RefusalSummary] = app.refusals.as_deref().unwrap_or_default();
    let columns = [
        ("age", Length(4)),
        ("kind", Length(5)),
        ("reason", Length(11)),
        ("what the 503 said", Min(10)),
    ];
    let width = last_column_width(&columns, area.width);
    let rows: Vec<Row> = refusals
        .iter()
        .take(area.height.saturating_sub(3) as usize)
        .map(|r| {
            Row::new(vec![
                Cell::from(age(app.now_ms - r.at_ms)),
                Cell::from(if r.modality == Modality::Image {
                    "img"
                } else {
                    "vid"
                }),
                Cell::from(r.reason.clone()).style(BAD),
                Cell::from(clip(&r.detail, width)),
            ])
        })
        .collect();
    let title = if refusals.is_empty() {
        "Its refusals: none kept (the last 20 are kept)".to_string()
    } else {
        format!(
            "Its last {} refusals, newest first (503: no task, costs nothing)",
            refusals.len()
        )
    };
    f.render_widget(table(&title, columns, rows), area);
}

/// A call's duration in at most 6 characters.
fn took(ms: u64) -> String {
    match ms {
        ms if ms < 1000 => format!("{ms}ms"),
        ms if ms < 100_000 => format!("{:.1}s", ms as f64 / 1000.0),
        ms => format!("{}s", ms / 1000),
    }
}
