//! The Standing screen's keys: scrolling a section at a time, and asking the subnet's API
//! now (in the background: the answer can take two minutes).

use crate::app::App;
use crate::net::Command;
use crossterm::event::{KeyCode, KeyEvent};

pub(super) fn on_key(app: &mut App, k: KeyEvent) -> Vec<Command> {
    // The drawing stops scrolling earlier when the rest fits on the screen.
    let last = app.standing.sections().saturating_sub(1);
    let scroll = &mut app.standing.scroll;
    match k.code {
        KeyCode::Up | KeyCode::Char('k') => *scroll = scroll.saturating_sub(1),
        KeyCode::Down | KeyCode::Char('j') => *scroll = (*scroll + 1).min(last),
        KeyCode::PageUp => *scroll = scroll.saturating_sub(3),
        KeyCode::PageDown => *scroll = (*scroll + 3).min(last),
        KeyCode::Home => *scroll = 0,
        KeyCode::End => *scroll = last,
        KeyCode::Char('r') => return app.refresh_standing(),
        _ => {}
    }
    Vec::new()
}
