//! The miner's log, newest at the bottom, errors and warnings coloured.

use super::Keys;
use super::widgets::{BAD, WARN, boxed};
use crate::app::App;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::Line;
use ratatui::widgets::Paragraph;

pub const KEYS: Keys = &[
    ("↑↓", "scroll"),
    ("f", "follow"),
    ("?", "help"),
    ("q", "quit"),
];

pub fn draw(f: &mut Frame, area: Rect, app: &App) {
    let height = area.height.saturating_sub(2) as usize;
    let end = app.logs.len().saturating_sub(app.log_scroll);
    let start = end.saturating_sub(height);
    let lines: Vec<Line> = app
        .logs
        .range(start..end)
        .map(|l| {
            let style = if l.contains(" ERROR ") {
                BAD
            } else if l.contains(" WARN ") {
                WARN
            } else {
                Style::default()
            };
            Line::styled(l.clone(), style)
        })
        .collect();
    let title = if app.log_scroll == 0 {
        "Logs (following)".to_string()
    } else {
        format!("Logs ({} lines up; f follows)", app.log_scroll)
    };
    f.render_widget(Paragraph::new(lines).block(boxed(&title)), area);
}
