//! Keys. [`App::key`] takes them in one order: Ctrl-C; then a line being typed (the search,
//! a service chain) takes every key; then an open help closes on any key; then the keys that
//! work on every screen (quit, help, screens, trust reload); then the screen's own handler,
//! one module per screen.

mod detail;
mod logs;
mod services;
mod standing;
mod tasks;

use super::{App, Screen};
use crate::net::Command;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

impl App {
    /// Handles a key; returns commands for the network side.
    pub fn key(&mut self, k: KeyEvent) -> Vec<Command> {
        if k.modifiers.contains(KeyModifiers::CONTROL) && k.code == KeyCode::Char('c') {
            self.quit = true;
            return Vec::new();
        }
        if self.search_input.is_some() {
            return tasks::on_search_key(self, k);
        }
        if self.services.typing.is_some() {
            return services::on_typing_key(self, k);
        }
        if self.help {
            self.help = false;
            return Vec::new();
        }
        match k.code {
            KeyCode::Char('q') => self.quit = true,
            KeyCode::Char('?') => self.help = true,
            KeyCode::Char('1') => return self.open(Screen::Dashboard),
            KeyCode::Char('2') => return self.open(Screen::Tasks),
            KeyCode::Char('3') => return self.open(Screen::Services),
            KeyCode::Char('4') => return self.open(Screen::Logs),
            KeyCode::Char('5') => return self.open(Screen::Standing),
            KeyCode::Tab => {
                let i = Screen::TABS
                    .iter()
                    .position(|s| s.title() == self.screen.title())
                    .unwrap_or(0);
                return self.open(Screen::TABS[(i + 1) % Screen::TABS.len()]);
            }
            KeyCode::Char('t') => return vec![Command::ReloadTrust],
            _ => {
                return match self.screen {
                    // The dashboard only shows: it has no keys of its own.
                    Screen::Dashboard => Vec::new(),
                    Screen::Tasks => tasks::on_key(self, k),
                    Screen::Detail => detail::on_key(self, k),
                    Screen::Services => services::on_key(self, k),
                    Screen::Logs => logs::on_key(self, k),
                    Screen::Standing => standing::on_key(self, k),
                };
            }
        }
        Vec::new()
    }
}

/// What a key did to a line being typed.
enum Typed {
    /// Enter: the line is done.
    Enter,
    /// Esc: the line is dropped.
    Esc,
    /// Still typing (a character added or removed, or a key that does nothing here).
    Still,
}

fn type_into(text: &mut String, code: KeyCode) -> Typed {
    match code {
        KeyCode::Enter => Typed::Enter,
        KeyCode::Esc => Typed::Esc,
        KeyCode::Backspace => {
            text.pop();
            Typed::Still
        }
        KeyCode::Char(c) => {
            text.push(c);
            Typed::Still
        }
        _ => Typed::Still,
    }
}
