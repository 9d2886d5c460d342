//! Where things are on disk: `~` expanded, the state directory, the trust anchors and the
//! admin socket, each from its setting or its default. The operator commands and the daemon
//! find a miner's files the same way.

use std::path::{Path, PathBuf};

pub(super) fn home() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/root"))
}

/// `~/x` → `$HOME/x`.
pub fn expand_home(text: &str) -> PathBuf {
    match text.strip_prefix("~/") {
        Some(rest) => home().join(rest),
        None if text == "~" => home(),
        None => PathBuf::from(text),
    }
}

/// `MINER_STATE_DIR`, else `~/.local/share/gas-miner`.
pub fn state_dir(given: Option<&str>) -> PathBuf {
    given
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(expand_home)
        .unwrap_or_else(|| home().join(".local/share/gas-miner"))
}

/// `GAS_TRUST_ANCHORS`, else `<state dir>/trust_anchors`.
pub fn anchors_dir(given: Option<&str>, state: Option<&str>) -> PathBuf {
    given
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(expand_home)
        .unwrap_or_else(|| state_dir(state).join("trust_anchors"))
}

/// Where the socket is: `GAS_ADMIN_SOCKET`, else `<state dir>/admin.sock`.
pub fn socket_path(given: Option<&str>, state_dir: &Path) -> PathBuf {
    given
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(expand_home)
        .unwrap_or_else(|| state_dir.join("admin.sock"))
}
