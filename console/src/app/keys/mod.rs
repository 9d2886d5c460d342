//! Keys. [`App::key`] takes them in one order: Ctrl-C; then a line being typed (the search,
//! a service chain) takes every key; then an open help closes on any key; then the keys that
//! work on every screen (quit, help, screens, trust reload); then the screen's own handler,
//! one module per screen.

mod dashboard;
mod detail;
mod logs;
mod services;
mod standing;
mod tasks;

use super::{App, Input, Screen};
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
        if self.log_search.is_some() {
            return logs::on_search_key(self, k);
        }
        if self.services.typing.is_some() {
            return services::on_typing_key(self, k);
        }
        if self.help
            && matches!(
                k.code,
                KeyCode::Up | KeyCode::Down | KeyCode::PageUp | KeyCode::PageDown
            )
        {
            self.help_scroll = match k.code {
                KeyCode::Up => self.help_scroll.saturating_sub(1),
                KeyCode::PageUp => self.help_scroll.saturating_sub(10),
                KeyCode::Down => (self.help_scroll + 1).min(60),
                _ => (self.help_scroll + 10).min(60),
            };
            return Vec::new();
        }
        if self.help || self.alerts_open {
            self.help = false;
            self.help_scroll = 0;
            self.alerts_open = false;
            return Vec::new();
        }
        match k.code {
            KeyCode::Char('q') => self.quit = true,
            KeyCode::Char('?') => self.help = true,
            KeyCode::Char('!') => self.alerts_open = true,
            KeyCode::Char('1') => return self.open(Screen::Dashboard),
            KeyCode::Char('2') => return self.open(Screen::Tasks),
            KeyCode::Char('3') => return self.open(Screen::Services),
            KeyCode::Char('4') => return self.open(Screen::Logs),
            KeyCode::Char('5') => return self.open(Screen::Standing),
            KeyCode::Char('6') => return self.open(Screen::Charts),
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
                    Screen::Dashboard => dashboard::on_key(self, k),
                    Screen::Tasks => tasks::on_key(self, k),
                    Screen::Detail => detail::on_key(self, k),
                    Screen::Services => services::on_key(self, k),
                    Screen::Logs => logs::on_key(self, k),
                    Screen::Standing => standing::on_key(self, k),
                    Screen::Charts => {
                        match k.code {
                            KeyCode::Char('d') => self.charts_day = !self.charts_day,
                            KeyCode::Char('p') => self.next_chart_provider(),
                            _ => {}
                        }
                        Vec::new()
                    }
                };
            }
        }
        Vec::new()
    }
}

/// What a key did to a line being typed.
#[derive(Debug, PartialEq)]
enum Typed {
    /// Enter: the line is done.
    Enter,
    /// Esc: the line is dropped.
    Esc,
    /// The text changed.
    Changed,
    /// Only the cursor moved, or the key does nothing here.
    Still,
}

/// Edits `input` as a shell line does: characters at the cursor, Backspace/Delete, ←/→,
/// Home/End (Ctrl-A/Ctrl-E), Ctrl-U (clear before the cursor), Ctrl-W (the word before it).
fn type_into(input: &mut Input, k: KeyEvent) -> Typed {
    let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
    let len = input.text.chars().count();
    match k.code {
        KeyCode::Enter => return Typed::Enter,
        KeyCode::Esc => return Typed::Esc,
        KeyCode::Left => input.cursor = input.cursor.saturating_sub(1),
        KeyCode::Right => input.cursor = (input.cursor + 1).min(len),
        KeyCode::Home => input.cursor = 0,
        KeyCode::End => input.cursor = len,
        KeyCode::Char('a') if ctrl => input.cursor = 0,
        KeyCode::Char('e') if ctrl => input.cursor = len,
        KeyCode::Char('u') if ctrl => {
            let (_, after) = input.split();
            input.text = after.to_string();
            input.cursor = 0;
            return Typed::Changed;
        }
        KeyCode::Char('w') if ctrl => {
            let (before, after) = input.split();
            let kept = before.trim_end();
            let kept = kept
                .rfind(|c: char| c.is_whitespace() || c == ',')
                .map_or("", |i| &kept[..=i]);
            let (cursor, text) = (kept.chars().count(), format!("{kept}{after}"));
            input.cursor = cursor;
            input.text = text;
            return Typed::Changed;
        }
        KeyCode::Backspace if input.cursor > 0 => {
            input.cursor -= 1;
            let at = input.at(input.cursor);
            input.text.remove(at);
            return Typed::Changed;
        }
        KeyCode::Delete if input.cursor < len => {
            let at = input.at(input.cursor);
            input.text.remove(at);
            return Typed::Changed;
        }
        KeyCode::Char(c) if !ctrl => {
            let at = input.at(input.cursor);
            input.text.insert(at, c);
            input.cursor += 1;
            return Typed::Changed;
        }
        _ => {}
    }
    Typed::Still
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(input: &mut Input, code: KeyCode, ctrl: bool) -> Typed {
        let mods = if ctrl {
            KeyModifiers::CONTROL
        } else {
            KeyModifiers::NONE
        };
        type_into(input, KeyEvent::new(code, mods))
    }

    #[test]
    fn a_line_is_edited_at_its_cursor() {
        let mut i = Input::new("openrouter,runway");
        press(&mut i, KeyCode::Char('w'), true);
        assert_eq!((i.text.as_str(), i.cursor), ("openrouter,", 11));
        for c in "stabilityai".chars() {
            press(&mut i, KeyCode::Char(c), false);
        }
        press(&mut i, KeyCode::Home, false);
        press(&mut i, KeyCode::Right, false);
        press(&mut i, KeyCode::Delete, false);
        assert_eq!(i.text, "oenrouter,stabilityai");
        press(&mut i, KeyCode::Char('p'), false);
        assert_eq!(i.split(), ("op", "enrouter,stabilityai"));
        press(&mut i, KeyCode::End, false);
        press(&mut i, KeyCode::Left, false);
        press(&mut i, KeyCode::Char('u'), true);
        assert_eq!((i.text.as_str(), i.cursor), ("i", 0));
        assert_eq!(press(&mut i, KeyCode::Enter, false), Typed::Enter);
    }
}
