//! The miners on this box: every `gas-miner run` leaves a card in the fleet directory
//! (`GAS_FLEET_DIR`, else `~/.local/share/gas-miner-fleet`), one JSON file per miner name,
//! saying where its state, socket and port are and which hotkey it serves. `gas-miner list`,
//! `status --all`, `--name`, the clash checks of `start` and gas-console's fleet read them.
//! A card outlives its miner (a stopped miner is still known); whether one runs is asked of
//! its socket, never read from the card.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// One miner as it last started.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Card {
    /// `--name` (`MINER_NAME`), else `<wallet>-<hotkey>`.
    pub name: String,
    /// Its hotkey's SS58 address.
    pub hotkey: String,
    pub wallet: String,
    pub wallet_hotkey: String,
    pub state_dir: PathBuf,
    pub socket: PathBuf,
    /// The validators' port (`BT_AXON_PORT`).
    pub port: u16,
    /// The env file it was started with, if one was read (what `restart --name` reads again).
    #[serde(default)]
    pub env_file: Option<PathBuf>,
    pub pid: u32,
    pub started_ms: i64,
    #[serde(default)]
    pub demo: bool,
}

/// Where the cards are.
pub fn dir() -> PathBuf {
    if let Some(d) = std::env::var_os("GAS_FLEET_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("/root"), PathBuf::from);
    home.join(".local/share/gas-miner-fleet")
}

/// A name as it may appear in a file name and a tmux session: letters, digits, `-` and `_`
/// kept, anything else `_`.
pub fn clean_name(name: &str) -> String {
    name.trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Writes (or replaces) `card` in `dir`, whole or not at all.
pub fn register_in(dir: &Path, card: &Card) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join(format!("{}.json", clean_name(&card.name)));
    let tmp = dir.join(format!(".{}.json.tmp", clean_name(&card.name)));
    let text = serde_json::to_vec_pretty(card).map_err(std::io::Error::other)?;
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, &path)
}

/// Writes `card` in the fleet directory.
pub fn register(card: &Card) -> std::io::Result<()> {
    register_in(&dir(), card)
}

/// Every card in `dir`, by name; unreadable files are skipped.
pub fn cards_in(dir: &Path) -> Vec<Card> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut cards: Vec<Card> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.extension().is_some_and(|x| x == "json")
                && !p
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .filter_map(|p| serde_json::from_slice::<Card>(&std::fs::read(p).ok()?).ok())
        .collect();
    cards.sort_by(|a, b| a.name.cmp(&b.name));
    cards
}

/// Every card in the fleet directory, by name.
pub fn cards() -> Vec<Card> {
    cards_in(&dir())
}

/// The card named `name`.
pub fn find(name: &str) -> Option<Card> {
    cards().into_iter().find(|c| c.name == name)
}

/// Forgets the card named `name` (a miner removed from the box).
pub fn forget(name: &str) -> std::io::Result<()> {
    std::fs::remove_file(dir().join(format!("{}.json", clean_name(name))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cards_are_written_whole_read_back_by_name_and_names_are_made_safe() {
        let dir = tempfile::tempdir().expect("tempdir");
        let card = |name: &str, port| Card {
            name: name.into(),
            hotkey: "5F…".into(),
            state_dir: PathBuf::from(format!("/srv/{name}")),
            socket: PathBuf::from(format!("/srv/{name}/admin.sock")),
            port,
            ..Card::default()
        };
        register_in(dir.path(), &card("b-hot", 8092)).expect("write");
        register_in(dir.path(), &card("a-hot", 8091)).expect("write");
        // Written again: replaced, not doubled.
        register_in(dir.path(), &card("a-hot", 8093)).expect("write");
        std::fs::write(dir.path().join("junk.json"), "{not json").expect("junk");
        let cards = cards_in(dir.path());
        assert_eq!(
            cards
                .iter()
                .map(|c| (c.name.as_str(), c.port))
                .collect::<Vec<_>>(),
            [("a-hot", 8093), ("b-hot", 8092)]
        );
        assert_eq!(clean_name(" my wallet/hot.1 "), "my_wallet_hot_1");
        assert!(cards_in(&dir.path().join("none")).is_empty());
    }
}
