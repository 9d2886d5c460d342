//! The dashboard's keys: ↑↓ walk down the queue's rows, the providers and the validators as
//! one list; ←→ pick the queue's state column; Enter opens the tasks behind the row or cell
//! (Esc on the list comes back); `o` orders the validators.

use crate::app::{App, DashFocus, Filter, Panel, QUEUE_STATES, Screen, ordered_validators};
use crate::net::Command;
use crossterm::event::{KeyCode, KeyEvent};
use gas_shared::Modality;

pub(super) fn on_key(app: &mut App, k: KeyEvent) -> Vec<Command> {
    let Some(s) = &app.status else {
        return Vec::new();
    };
    let rows = |panel: Panel| match panel {
        Panel::Queue => 2,
        Panel::Providers => s.providers.len(),
        Panel::Validators => s.validators.len(),
    };
    let order = [Panel::Queue, Panel::Providers, Panel::Validators];
    let at = order.iter().position(|p| *p == app.dash.panel).unwrap_or(0);
    let d = app.dash;
    match k.code {
        KeyCode::Down | KeyCode::Char('j') => {
            if d.row + 1 < rows(d.panel) {
                app.dash.row += 1;
            } else if let Some(next) = order[at + 1..].iter().find(|p| rows(**p) > 0) {
                app.dash = DashFocus {
                    panel: *next,
                    row: 0,
                    col: d.col,
                };
            }
        }
        KeyCode::Up | KeyCode::Char('k') => {
            if d.row > 0 {
                app.dash.row -= 1;
            } else if let Some(prev) = order[..at].iter().rev().find(|p| rows(**p) > 0) {
                app.dash = DashFocus {
                    panel: *prev,
                    row: rows(*prev) - 1,
                    col: d.col,
                };
            }
        }
        KeyCode::Left | KeyCode::Char('h') if d.panel == Panel::Queue => {
            app.dash.col = d.col.saturating_sub(1)
        }
        KeyCode::Right | KeyCode::Char('l') if d.panel == Panel::Queue => {
            app.dash.col = (d.col + 1).min(QUEUE_STATES.len() - 1)
        }
        KeyCode::Char('o') => app.validator_order = app.validator_order.next(),
        KeyCode::Enter => {
            let filter = match d.panel {
                Panel::Queue => Filter {
                    state: Some(QUEUE_STATES[d.col.min(QUEUE_STATES.len() - 1)]),
                    modality: Some(if d.row == 0 {
                        Modality::Image
                    } else {
                        Modality::Video
                    }),
                    ..Filter::default()
                },
                Panel::Providers => match s.providers.get(d.row) {
                    Some(p) => Filter {
                        provider: Some(p.name.clone()),
                        ..Filter::default()
                    },
                    None => return Vec::new(),
                },
                Panel::Validators => match ordered_validators(s, app.validator_order).get(d.row) {
                    Some(v) => Filter {
                        validator: Some(v.hotkey.clone()),
                        ..Filter::default()
                    },
                    None => return Vec::new(),
                },
            };
            app.back = Some((Screen::Dashboard, app.filter.clone()));
            app.filter = filter;
            app.tasks.clear();
            app.calls = None;
            app.refusals = None;
            app.selected = 0;
            app.screen = Screen::Tasks;
            return app.reload_tasks();
        }
        _ => {}
    }
    Vec::new()
}
