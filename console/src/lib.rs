//! gas-console: the operator's terminal console for a running gas-miner. It attaches to the
//! miner's admin socket (`GAS_ADMIN_SOCKET`, else `<MINER_STATE_DIR>/admin.sock`, found the
//! way the miner finds it, else a running `gas-miner demo`'s), shows what the headless miner is doing, and steers it.
//!
//! `app` holds the state (`App`, in one place) and turns network events and keys into state
//! changes: the global keys first, then the open screen's handler (`app/keys/`, one file per
//! screen). `ui` draws that state, a pure function of it: the frame in `ui/mod.rs`, one file
//! per screen (dashboard, tasks, detail, services, logs, standing, help), what they share in
//! `ui/widgets.rs`. `net` does all I/O on background tasks, through gas-client (the admin
//! socket's HTTP+JSON client). `miners` decides what is watched: one miner, or a fleet of
//! them (`app/fleet.rs` keeps an `App` per miner, `ui/fleet.rs` draws their rows).

pub mod app;
pub mod miners;
pub mod net;
pub mod ui;

use std::path::{Path, PathBuf};

/// The socket path: `--socket`/`GAS_ADMIN_SOCKET`, else `<state dir>/admin.sock`, with the
/// state dir from `--state-dir`/`MINER_STATE_DIR`; both also read from `.env.gen_miner` in
/// the current directory, as the miner does (the environment wins over the file).
pub fn find_socket(socket: Option<&str>, state_dir: Option<&str>, env_file: &Path) -> PathBuf {
    let from_file = |name: &str| -> Option<String> {
        dotenvy::from_path_iter(env_file)
            .ok()?
            .filter_map(Result::ok)
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
            .filter(|v| !v.trim().is_empty())
    };
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/root"));
    let expand = |p: &str| match p.strip_prefix("~/") {
        Some(rest) => home.join(rest),
        None => PathBuf::from(p),
    };
    if let Some(s) = socket
        .map(str::to_string)
        .or_else(|| from_file("GAS_ADMIN_SOCKET"))
    {
        return expand(s.trim());
    }
    match state_dir
        .map(str::to_string)
        .or_else(|| from_file("MINER_STATE_DIR"))
    {
        Some(state) => expand(state.trim()).join("admin.sock"),
        None => {
            // Nothing configured: the usual place, unless only a demo runs here.
            let usual = home.join(".local/share/gas-miner/admin.sock");
            let demo = gas_shared::admin::demo_state_dir().join("admin.sock");
            if !usual.exists() && demo.exists() {
                demo
            } else {
                usual
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_socket_is_found_as_the_miner_finds_it() {
        let dir = std::env::temp_dir().join(format!("gas-console-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let env = dir.join(".env.gen_miner");
        std::fs::write(&env, "MINER_STATE_DIR=/srv/gas\n").expect("env");
        assert_eq!(
            find_socket(None, None, &env),
            PathBuf::from("/srv/gas/admin.sock")
        );
        assert_eq!(
            find_socket(None, Some("/x"), &env),
            PathBuf::from("/x/admin.sock")
        );
        assert_eq!(
            find_socket(Some("/run/a.sock"), Some("/x"), &env),
            PathBuf::from("/run/a.sock")
        );
        std::fs::write(&env, "GAS_ADMIN_SOCKET=/run/b.sock\n").expect("env");
        assert_eq!(find_socket(None, None, &env), PathBuf::from("/run/b.sock"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
