//! The task detail's keys: scrolling, going back, verifying again, the media path.

use crate::app::{App, Screen, Tone, short_task};
use crate::net::Command;
use crossterm::event::{KeyCode, KeyEvent};

/// Scrolls, but never past the last line (as last drawn).
fn scroll_to(app: &mut App, to: u16) {
    app.detail_scroll = to.min(app.detail_max_scroll.get());
}

pub(super) fn on_key(app: &mut App, k: KeyEvent) -> Vec<Command> {
    match k.code {
        KeyCode::Esc | KeyCode::Backspace | KeyCode::Left => {
            app.screen = Screen::Tasks;
            app.detail = None;
        }
        KeyCode::Up | KeyCode::Char('k') => app.detail_scroll = app.detail_scroll.saturating_sub(1),
        KeyCode::Down | KeyCode::Char('j') => scroll_to(app, app.detail_scroll.saturating_add(1)),
        KeyCode::PageUp => app.detail_scroll = app.detail_scroll.saturating_sub(10),
        KeyCode::PageDown => scroll_to(app, app.detail_scroll.saturating_add(10)),
        KeyCode::Home | KeyCode::Char('g') => app.detail_scroll = 0,
        KeyCode::End | KeyCode::Char('G') => scroll_to(app, u16::MAX),
        KeyCode::Char('v') => {
            if let Some(d) = &app.detail {
                let id = d.summary.task_id.clone();
                app.say(format!("verifying {} again…", short_task(&id)), Tone::Info);
                return vec![Command::Verify(id)];
            }
        }
        KeyCode::Char('o') => {
            let path = app.detail.as_ref().and_then(|d| d.media_path.clone());
            match path {
                Some(p) => {
                    app.say(
                        format!("media: {p} (printed again when you quit)"),
                        Tone::Info,
                    );
                    app.opened = Some(p);
                }
                None => app.say("this task has no media kept", Tone::Bad),
            }
        }
        KeyCode::Char('r') => {
            if let Some(d) = &app.detail {
                return vec![Command::LoadDetail(d.summary.task_id.clone())];
            }
        }
        _ => {}
    }
    Vec::new()
}
