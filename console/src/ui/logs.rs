//! The miner's log, newest at the bottom: each line compacted (time of day, one-letter level,
//! the module without its crate's name), wrapped to the width, filtered by level and by a search
//! typed live; Enter opens the task of the marked (bottom) line. Reading the lines is
//! `app::log_lines`'.

use super::Keys;
use super::widgets::{BAD, BOLD, DIM, WARN, boxed};
use crate::app::log_lines::{read, shown};
use crate::app::{App, LogLevel};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

pub const KEYS: Keys = &[
    ("↑↓", "scroll"),
    ("f", "follow"),
    ("l", "level"),
    ("/", "search"),
    ("Enter", "its task"),
    ("?", "help"),
];

pub fn draw(f: &mut Frame, area: Rect, app: &App) {
    let width = usize::from(area.width.saturating_sub(2)).max(1);
    let height = usize::from(area.height.saturating_sub(2));
    let shown = shown(app);
    let end = shown.len().saturating_sub(app.log_scroll);
    // From the marked line up, as many lines as fit once wrapped.
    let mut lines: Vec<Line> = Vec::new();
    let mut used = 0;
    for (n, &i) in shown[..end].iter().enumerate().rev() {
        let r = read(&app.logs[i]);
        let style = match r.level {
            LogLevel::Error => BAD,
            LogLevel::Warn => WARN,
            LogLevel::Debug => DIM,
            LogLevel::Info => Style::default(),
        };
        let marked = n + 1 == end && app.log_scroll > 0;
        let line = Line::from(vec![
            Span::styled(if marked { "▶" } else { " " }, BOLD),
            Span::styled(format!("{} ", r.time), DIM),
            Span::styled(format!("{} ", r.level.letter()), style),
            Span::styled(r.text, style),
        ]);
        let rows = line.width().max(1).div_ceil(width);
        if used + rows > height && !lines.is_empty() {
            break;
        }
        used += rows;
        lines.insert(0, line);
    }
    let mut title = if app.log_scroll == 0 {
        "Logs (following".to_string()
    } else {
        format!("Logs ({} lines up; f follows", app.log_scroll)
    };
    if app.log_filter.level != LogLevel::Debug {
        title.push_str(&format!("; {} and worse", app.log_filter.level.word()));
    }
    if !app.log_filter.query.is_empty() {
        title.push_str(&format!("; \"{}\"", app.log_filter.query));
    }
    title.push_str(&format!("; {} of {} lines)", shown.len(), app.logs.len()));
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(boxed(&title)),
        area,
    );
}
