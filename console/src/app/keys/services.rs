//! The services screen's keys: picking image or video, editing its chain, resetting to the
//! environment's.

use super::{Typed, type_into};
use crate::app::{App, Input, RESET_CONFIRM_MS, Tone};
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
            app.services.typing = Some(Input::new(&current));
        }
        KeyCode::Char('r') => {
            let confirmed = app
                .services
                .reset_asked_ms
                .is_some_and(|at| app.now_ms - at <= RESET_CONFIRM_MS);
            if confirmed {
                app.services.reset_asked_ms = None;
                return vec![Command::SetServices(ServicesUpdate {
                    reset: true,
                    ..ServicesUpdate::default()
                })];
            }
            // A reset changes what both modalities are served by: said first, done on a
            // second `r`.
            app.services.reset_asked_ms = Some(app.now_ms);
            let text = match app.status.as_ref().map(|s| &s.services) {
                Some(s) => format!(
                    "press r again to go back to image {}, video {} (what the miner started with)",
                    chain(&s.started_image),
                    chain(&s.started_video)
                ),
                None => "press r again to go back to what the miner started with".into(),
            };
            app.say(text, Tone::Info);
        }
        _ => {}
    }
    Vec::new()
}

fn chain(names: &[String]) -> String {
    if names.is_empty() {
        "none".into()
    } else {
        names.join(" → ")
    }
}

/// While a chain is typed: Enter sends it for the picked modality, Esc drops it.
pub(super) fn on_typing_key(app: &mut App, k: KeyEvent) -> Vec<Command> {
    let Some(input) = &mut app.services.typing else {
        return Vec::new();
    };
    match type_into(input, k) {
        Typed::Enter => {
            let chain = input.text.trim().to_string();
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
        Typed::Changed | Typed::Still => {}
    }
    Vec::new()
}
