//! The log's keys: scrolling up from the newest line and following again, the level filter,
//! a search typed live, and opening the task of the marked line.

use super::{Typed, type_into};
use crate::app::{App, Input, Screen, Tone};
use crate::net::Command;
use crossterm::event::{KeyCode, KeyEvent};

pub(super) fn on_key(app: &mut App, k: KeyEvent) -> Vec<Command> {
    let shown = crate::app::log_lines::shown(app).len();
    let last = shown.saturating_sub(1);
    match k.code {
        KeyCode::Up | KeyCode::Char('k') => app.log_scroll = (app.log_scroll + 1).min(last),
        KeyCode::Down | KeyCode::Char('j') => app.log_scroll = app.log_scroll.saturating_sub(1),
        KeyCode::PageUp => app.log_scroll = (app.log_scroll + 20).min(last),
        KeyCode::PageDown => app.log_scroll = app.log_scroll.saturating_sub(20),
        KeyCode::End | KeyCode::Char('G') | KeyCode::Char('f') => app.log_scroll = 0,
        KeyCode::Home | KeyCode::Char('g') => app.log_scroll = last,
        KeyCode::Char('l') => {
            app.log_filter.level = app.log_filter.level.next_filter();
            app.log_scroll = 0;
        }
        KeyCode::Char('/') => {
            app.log_search = Some((
                Input::new(&app.log_filter.query),
                app.log_filter.query.clone(),
            ))
        }
        KeyCode::Enter => {
            let shown = crate::app::log_lines::shown(app);
            let marked = shown
                .len()
                .checked_sub(app.log_scroll + 1)
                .and_then(|n| shown.get(n))
                .map(|&i| app.logs[i].clone());
            match marked.as_deref().and_then(crate::app::log_lines::task_of) {
                Some(id) => {
                    let id = id.to_string();
                    app.screen = Screen::Detail;
                    return vec![Command::LoadDetail(id)];
                }
                None => app.say(
                    "the marked line (▶, the bottom one) names no task; scroll to one that does",
                    Tone::Info,
                ),
            }
        }
        _ => {}
    }
    Vec::new()
}

/// While a log search is typed it applies at once; Enter keeps it, Esc restores the last.
pub(super) fn on_search_key(app: &mut App, k: KeyEvent) -> Vec<Command> {
    let Some((input, before)) = &mut app.log_search else {
        return Vec::new();
    };
    match type_into(input, k) {
        Typed::Enter => app.log_search = None,
        Typed::Esc => {
            app.log_filter.query = before.clone();
            app.log_search = None;
        }
        Typed::Changed => {
            app.log_filter.query = input.text.trim().to_string();
            app.log_scroll = 0;
        }
        Typed::Still => {}
    }
    Vec::new()
}
