//! Several miners at once: one [`App`] per miner, each with its own connection that
//! reconnects on its own (a miner that is down shows as down, and stalls no other), the fleet
//! screen's selection, and which miner's screens are open. Keys and network events are
//! routed to the miner they belong to; commands come back tagged with it.

use super::{App, Phase};
use crate::net::{Command, NetEvent};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use std::path::PathBuf;

/// One miner of the fleet.
pub struct Member {
    pub name: String,
    pub socket: PathBuf,
    pub app: App,
}

pub struct Fleet {
    pub members: Vec<Member>,
    /// The fleet screen's marked row.
    pub selected: usize,
    /// The miner whose screens are shown (`None`: the fleet screen).
    pub open: Option<usize>,
    pub help: bool,
    pub quit: bool,
    pub now_ms: i64,
}

/// Commands for the miner at an index.
pub type Tagged = Vec<(usize, Command)>;

fn tag(i: usize, cmds: Vec<Command>) -> Tagged {
    cmds.into_iter().map(|c| (i, c)).collect()
}

impl Fleet {
    /// The miners, by name and socket.
    pub fn new(miners: Vec<(String, PathBuf)>, now_ms: i64) -> Fleet {
        let members = miners
            .into_iter()
            .map(|(name, socket)| {
                let mut app = App::new(&socket.display().to_string(), now_ms);
                app.fleet_name = Some(name.clone());
                Member { name, socket, app }
            })
            .collect();
        Fleet {
            members,
            selected: 0,
            open: None,
            help: false,
            quit: false,
            now_ms,
        }
    }

    /// A key: on the fleet screen ↑↓ pick, Enter opens, q quits; in a miner's screens its
    /// own keys, and `F` back to the fleet (unless a line is being typed).
    pub fn key(&mut self, k: KeyEvent) -> Tagged {
        if k.modifiers.contains(KeyModifiers::CONTROL) && k.code == KeyCode::Char('c') {
            self.quit = true;
            return Vec::new();
        }
        if let Some(i) = self.open {
            let app = &mut self.members[i].app;
            if k.code == KeyCode::Char('F') && !app.typing() && !app.help && !app.alerts_open {
                self.open = None;
                return Vec::new();
            }
            let cmds = app.key(k);
            if app.quit {
                self.quit = true;
            }
            return tag(i, cmds);
        }
        if self.help {
            self.help = false;
            return Vec::new();
        }
        let last = self.members.len().saturating_sub(1);
        match k.code {
            KeyCode::Char('q') => self.quit = true,
            KeyCode::Char('?') => self.help = true,
            KeyCode::Up | KeyCode::Char('k') => self.selected = self.selected.saturating_sub(1),
            KeyCode::Down | KeyCode::Char('j') => self.selected = (self.selected + 1).min(last),
            KeyCode::Home | KeyCode::Char('g') => self.selected = 0,
            KeyCode::End | KeyCode::Char('G') => self.selected = last,
            KeyCode::Enter if !self.members.is_empty() => self.open = Some(self.selected),
            _ => {}
        }
        Vec::new()
    }

    /// What the network side said about miner `i`.
    pub fn apply(&mut self, i: usize, e: NetEvent) -> Tagged {
        match self.members.get_mut(i) {
            Some(m) => tag(i, m.app.apply(e)),
            None => Vec::new(),
        }
    }

    /// The clock moved on, for every miner.
    pub fn tick(&mut self, now_ms: i64) -> Tagged {
        self.now_ms = now_ms;
        let mut out = Vec::new();
        for (i, m) in self.members.iter_mut().enumerate() {
            out.extend(tag(i, m.app.tick(now_ms)));
        }
        out
    }

    /// How many miners answer now.
    pub fn live(&self) -> usize {
        self.members
            .iter()
            .filter(|m| matches!(m.app.phase(), Phase::Live | Phase::Draining))
            .count()
    }
}
