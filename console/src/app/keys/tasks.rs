//! The task list's keys: moving, opening a task, the filters, and typing a search.

use super::{Typed, type_into};
use crate::app::{App, Filter, Input, Screen, Tone};
use crate::net::Command;
use crossterm::event::{KeyCode, KeyEvent};
use gas_shared::admin::TaskQuery;
use gas_shared::{Modality, TaskState};

pub(super) fn on_key(app: &mut App, k: KeyEvent) -> Vec<Command> {
    let reload = |app: &mut App| app.reload_tasks();
    match k.code {
        KeyCode::Up | KeyCode::Char('k') => app.selected = app.selected.saturating_sub(1),
        KeyCode::Down | KeyCode::Char('j') => {
            app.selected = (app.selected + 1).min(app.tasks.len().saturating_sub(1))
        }
        KeyCode::PageUp => app.selected = app.selected.saturating_sub(10),
        KeyCode::PageDown => {
            app.selected = (app.selected + 10).min(app.tasks.len().saturating_sub(1))
        }
        KeyCode::Home | KeyCode::Char('g') => app.selected = 0,
        KeyCode::End | KeyCode::Char('G') => app.selected = app.tasks.len().saturating_sub(1),
        KeyCode::Enter => {
            if let Some(t) = app.current() {
                let id = t.task_id.clone();
                app.screen = Screen::Detail;
                return vec![Command::LoadDetail(id)];
            }
        }
        KeyCode::Char('c') => {
            app.filter = Filter {
                c2pa_failed: !app.filter.c2pa_failed,
                ..Filter::default()
            };
            return reload(app);
        }
        KeyCode::Char('s') => {
            let order = [
                None,
                Some(TaskState::Queued),
                Some(TaskState::Generating),
                Some(TaskState::Preflight),
                Some(TaskState::Delivering),
                Some(TaskState::Delivered),
                Some(TaskState::Failed),
                Some(TaskState::Expired),
            ];
            let i = order
                .iter()
                .position(|s| *s == app.filter.state)
                .unwrap_or(0);
            app.filter.state = order[(i + 1) % order.len()];
            return reload(app);
        }
        KeyCode::Char('m') => {
            app.filter.modality = match app.filter.modality {
                None => Some(Modality::Image),
                Some(Modality::Image) => Some(Modality::Video),
                Some(Modality::Video) => None,
            };
            return reload(app);
        }
        KeyCode::Char('/') => {
            app.search_input = Some((Input::new(&app.filter.search), app.filter.search.clone()))
        }
        // Back where a drill-down came from, with the filter it had.
        KeyCode::Esc => {
            if let Some((screen, filter)) = app.back.take() {
                app.filter = filter;
                app.screen = screen;
                return reload(app);
            }
        }
        KeyCode::Char('x') => {
            app.filter = Filter::default();
            return reload(app);
        }
        KeyCode::Char('r') => return reload(app),
        KeyCode::Char('o') => {
            app.task_order = app.task_order.next();
            app.task_order.sort(&mut app.tasks);
            app.selected = 0;
        }
        // Every task the filters match (not only those loaded), beside where the console runs.
        KeyCode::Char(c @ ('e' | 'E')) => {
            let json = c == 'E';
            let path = std::path::PathBuf::from(format!(
                "gas-tasks-{}.{}",
                app.now_ms / 1000,
                if json { "json" } else { "csv" }
            ));
            app.say(
                format!(
                    "writing the tasks matching \"{}\" to {}…",
                    app.filter.describe(),
                    path.display()
                ),
                Tone::Info,
            );
            return vec![Command::Export {
                query: TaskQuery {
                    limit: None,
                    ..app.filter.query()
                },
                path,
                json,
            }];
        }
        _ => {}
    }
    Vec::new()
}

/// While a search is typed it applies as it is typed (the list narrows at once and is then
/// reloaded from the miner); Enter keeps it, Esc goes back to the search before.
pub(super) fn on_search_key(app: &mut App, k: KeyEvent) -> Vec<Command> {
    let Some((input, before)) = &mut app.search_input else {
        return Vec::new();
    };
    match type_into(input, k) {
        Typed::Enter => app.search_input = None,
        Typed::Esc => {
            app.filter.search = before.clone();
            app.search_input = None;
            return vec![Command::LoadTasks(app.filter.query())];
        }
        Typed::Changed => {
            app.filter.search = input.text.trim().to_string();
            let filter = app.filter.clone();
            app.tasks.retain(|t| filter.matches(t));
            app.selected = app.selected.min(app.tasks.len().saturating_sub(1));
            return vec![Command::LoadTasks(app.filter.query())];
        }
        Typed::Still => {}
    }
    Vec::new()
}
