//! The services: which ones make images and videos, in fallback order, and which are known.

use super::Keys;
use super::widgets::{BAD, BOLD, DIM, GOOD, boxed, table, waiting};
use crate::app::App;
use ratatui::Frame;
use ratatui::layout::Constraint::{Length, Min};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row};

pub const KEYS: Keys = &[
    ("↑↓", "modality"),
    ("e", "edit"),
    ("r r", "reset to the start's"),
    ("?", "help"),
    ("q", "quit"),
];

/// While a chain is typed.
pub const TYPING_KEYS: Keys = &[
    ("type", "e.g. openrouter,stabilityai or none"),
    ("Enter", "apply"),
    ("Esc", "cancel"),
];

fn chain(c: &[String]) -> String {
    if c.is_empty() {
        "none (answers 503)".into()
    } else {
        c.join(" → ")
    }
}

pub fn draw(f: &mut Frame, area: Rect, app: &App) {
    let Some(s) = &app.status else {
        return waiting(f, area, app);
    };
    let sv = &s.services;
    let [sel, known] = Layout::vertical([Constraint::Length(5), Constraint::Min(4)]).areas(area);
    let row = |video: bool, name: &str, c: &[String]| {
        let picked = app.services.video == video;
        Line::from(vec![
            Span::styled(if picked { "▶ " } else { "  " }, BOLD),
            Span::styled(format!("{name:<6}"), BOLD),
            Span::raw(chain(c)),
        ])
    };
    let mut lines = vec![
        row(false, "image", &sv.image),
        row(true, "video", &sv.video),
    ];
    let origin = if s.demo {
        "the demo's own studios"
    } else {
        "the environment (.env.gen_miner, flags)"
    };
    lines.push(Line::styled(
        if sv.overridden {
            format!("  changed from gas-console and saved (r r goes back to {origin})")
        } else {
            format!("  as the miner started: from {origin}")
        },
        DIM,
    ));
    f.render_widget(
        Paragraph::new(lines).block(boxed("Selection (fallback order)")),
        sel,
    );
    let rows: Vec<Row> = sv
        .known
        .iter()
        .map(|k| {
            Row::new(vec![
                Cell::from(k.name.clone()),
                Cell::from(if k.image { "yes" } else { "–" }),
                Cell::from(if k.video { "yes" } else { "–" }),
                if k.local {
                    Cell::from("none needed (the miner's own)").style(GOOD)
                } else if k.key_set {
                    Cell::from("set").style(GOOD)
                } else {
                    Cell::from("missing").style(BAD)
                },
            ])
        })
        .collect();
    let columns = [
        ("service", Length(12)),
        ("image", Length(7)),
        ("video", Length(7)),
        ("API key", Min(8)),
    ];
    f.render_widget(table("Services", columns, rows), known);
}
