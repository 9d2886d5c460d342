//! The services screen's keys: picking image or video, editing its chain, resetting to the
//! environment's.

use super::{Typed, type_into};
use crate::app::App;
use crate::net::Command;
use crossterm::event::{KeyCode, KeyEvent};
use gas_shared::admin::ServicesUpdate;

pub(super) fn on_key(app: &mut App, k: KeyEvent) -> Vec<Command> {
    match k.code {
        KeyCode::Up | KeyCode::Down | KeyCode::Char('j') | KeyCode::Char('k') => {
            app.services.video = !app.services.video
        }
        KeyCode::Enter | KeyCode::Char('e') => {
            let current = app
                .status
                .as_ref()
                .map(|s| {
                    if app.services.video {
                        s.services.video.join(",")
                    } else {
                        s.services.image.join(",")
                    }
                })
                .unwrap_or_default();
            app.services.typing = Some(current);
        }
        KeyCode::Char('r') => {
            return vec![Command::SetServices(ServicesUpdate {
                reset: true,
                ..ServicesUpdate::default()
            })];
        }
        _ => {}
    }
    Vec::new()
}

/// While a chain is typed: Enter sends it for the picked modality, Esc drops it.
pub(super) fn on_typing_key(app: &mut App, k: KeyEvent) -> Vec<Command> {
    let Some(text) = &mut app.services.typing else {
        return Vec::new();
    };
    match type_into(text, k.code) {
        Typed::Enter => {
            let chain = text.trim().to_string();
            app.services.typing = None;
            let update = if app.services.video {
                ServicesUpdate {
                    video: Some(chain),
                    ..ServicesUpdate::default()
                }
            } else {
                ServicesUpdate {
                    image: Some(chain),
                    ..ServicesUpdate::default()
                }
            };
            return vec![Command::SetServices(update)];
        }
        Typed::Esc => app.services.typing = None,
        Typed::Still => {}
    }
    Vec::new()
}
