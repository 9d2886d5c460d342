//! The log's keys: scrolling up from the newest line, and following again.

use crate::app::App;
use crate::net::Command;
use crossterm::event::{KeyCode, KeyEvent};

pub(super) fn on_key(app: &mut App, k: KeyEvent) -> Vec<Command> {
    match k.code {
        KeyCode::Up | KeyCode::Char('k') => {
            app.log_scroll = (app.log_scroll + 1).min(app.logs.len().saturating_sub(1))
        }
        KeyCode::Down | KeyCode::Char('j') => app.log_scroll = app.log_scroll.saturating_sub(1),
        KeyCode::PageUp => {
            app.log_scroll = (app.log_scroll + 20).min(app.logs.len().saturating_sub(1))
        }
        KeyCode::PageDown => app.log_scroll = app.log_scroll.saturating_sub(20),
        KeyCode::End | KeyCode::Char('f') => app.log_scroll = 0,
        _ => {}
    }
    Vec::new()
}
