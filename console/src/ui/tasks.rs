//! The task list, filtered, newest first, the selected row reversed.

use super::Keys;
use super::widgets::{
    BAD, DIM, GOOD, WARN, age, clip, last_column_width, state_style, table, waiting,
};
use crate::app::{App, short, state_word};
use gas_shared::admin::TaskSummary;
use gas_shared::{Modality, TaskState};
use ratatui::Frame;
use ratatui::layout::Constraint::{Length, Min};
use ratatui::layout::Rect;
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

pub fn draw(f: &mut Frame, area: Rect, app: &App) {
    if app.status.is_none() && app.tasks.is_empty() {
        return waiting(f, area, app);
    }
    let columns = [
        ("age", Length(4)),
        ("task", Length(9)),
        ("kind", Length(10)),
        ("state", Length(10)),
        ("provider", Length(11)),
        ("verdict", Length(VERDICT_WIDTH as u16)),
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
                Cell::from(short(&t.task_id).to_string()),
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
        "Tasks: {} ({} shown, {})",
        app.filter.describe(),
        app.tasks.len(),
        app.task_order.word()
    );
    f.render_widget(table(&title, columns, rows), area);
}
