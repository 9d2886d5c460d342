//! Harness for end-to-end tests and the load generators: the real `gas-miner` binary, started
//! in a temp state dir with a wallet and metagraph made from known mnemonics, fake generation
//! services and a fake validator, all speaking the real protocols over 127.0.0.1.
//!
//! `rig` starts the miner (`Fixture`, `Miner`, `Rig`), `challenger` talks to it as a validator,
//! `fakes` are the parties it talks to (providers, validators), `fixtures` the C2PA media made
//! at test time, `shell` an operator typing `gas-miner` commands. This file holds the keys every part shares and where `../shared` is.

mod challenger;
pub mod fakes;
pub mod fixtures;
pub mod measure;
mod rig;
pub mod seed;
mod shell;
pub mod soak;
pub mod subtensor;
pub mod term;

pub use challenger::{Challenger, python_json};
pub use fakes::*;
pub use rig::{Fixture, Miner, Rig, free_port, miner_bin};
pub use shell::{Operator, Said};
pub use term::{Tmux, available, console_bin, tmux_or_skip};

use gas_miner::identity::Hotkey;
use std::path::{Path, PathBuf};

pub const MINER_PHRASE: &str =
    "bottom drive obey lake curtain smoke basket hold race lonely fit walk";
pub const VALIDATOR_PHRASE: &str =
    "legal winner thank year wave sausage worth useful legal winner thank yellow";
pub const OUTSIDER_PHRASE: &str =
    "letter advice cage absurd amount doctor acoustic avoid letter advice cage above";
/// A validator key registered with too little stake.
pub const POOR_PHRASE: &str =
    "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";

pub fn key(phrase: &str) -> Hotkey {
    Hotkey::from_mnemonic(phrase).expect("known mnemonic")
}

/// The directory `../shared` when present (CI has it; a fresh clone may not).
pub fn shared_dir() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("GAS_SHARED_DIR").map(PathBuf::from),
        Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared")),
    ];
    candidates
        .into_iter()
        .flatten()
        .find(|p| p.join("vectors").is_dir())
}

/// `../shared/<relative>` when it is there (see [`shared_dir`]).
pub fn shared_path(relative: &str) -> Option<PathBuf> {
    shared_dir()
        .map(|s| s.join(relative))
        .filter(|p| p.exists())
}

pub fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
