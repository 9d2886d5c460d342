//! Which miners the console watches: `--socket` given more than once; a fleet file
//! (`--fleet FILE`, else `~/.config/gas-console/fleet.toml` when it exists) listing sockets,
//! local or forwarded over SSH; or, with nothing said, every miner this box knows (the cards
//! `gas-miner` leaves in its fleet directory) whose socket is there. One miner is watched as
//! before; several open on the fleet screen.

use serde::Deserialize;
use std::path::{Path, PathBuf};

/// What to watch.
#[derive(Debug, Clone, PartialEq)]
pub enum Watch {
    One(PathBuf),
    /// Several miners: a name and a socket each.
    Fleet(Vec<(String, PathBuf)>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FleetFile {
    #[serde(default)]
    miner: Vec<FleetEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FleetEntry {
    name: Option<String>,
    socket: String,
}

fn home() -> PathBuf {
    std::env::var_os("HOME").map_or_else(|| PathBuf::from("/root"), PathBuf::from)
}

fn expand(p: &str) -> PathBuf {
    match p.trim().strip_prefix("~/") {
        Some(rest) => home().join(rest),
        None => PathBuf::from(p.trim()),
    }
}

/// The fleet file read when none is named.
pub fn default_fleet_file() -> PathBuf {
    std::env::var_os("XDG_CONFIG_HOME")
        .filter(|d| !d.is_empty())
        .map_or_else(|| home().join(".config"), PathBuf::from)
        .join("gas-console/fleet.toml")
}

/// The miners a fleet file lists; an error names the file and what is wrong in it.
pub fn read_fleet_file(path: &Path) -> Result<Vec<(String, PathBuf)>, String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("fleet file {}: {e}", path.display()))?;
    let file: FleetFile = toml::from_str(&text).map_err(|e| {
        format!(
            "fleet file {}: {}; each miner is a [[miner]] table with socket = \"…\" and an optional name = \"…\"",
            path.display(),
            e.to_string().trim()
        )
    })?;
    if file.miner.is_empty() {
        return Err(format!(
            "fleet file {} lists no miner: add a [[miner]] table with socket = \"…\"",
            path.display()
        ));
    }
    Ok(file
        .miner
        .into_iter()
        .map(|m| {
            let socket = expand(&m.socket);
            (m.name.unwrap_or_else(|| name_of(&socket)), socket)
        })
        .collect())
}

/// A socket's name: the card's of the miner that serves it, else its directory's.
fn name_of(socket: &Path) -> String {
    gas_client::fleet::cards()
        .into_iter()
        .find(|c| c.socket == socket)
        .map(|c| c.name)
        .unwrap_or_else(|| {
            socket.parent().and_then(|p| p.file_name()).map_or_else(
                || socket.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            )
        })
}

/// What to watch, from the options. `single` finds one miner's socket as before (used when
/// nothing points at several).
pub fn choose(
    sockets: &[String],
    fleet_file: Option<&Path>,
    state_dir_given: bool,
    single: impl FnOnce(Option<&str>) -> PathBuf,
) -> Result<Watch, String> {
    match sockets {
        [one] => return Ok(Watch::One(single(Some(one)))),
        [_, _, ..] => {
            return Ok(Watch::Fleet(
                sockets
                    .iter()
                    .map(|s| {
                        let socket = expand(s);
                        (name_of(&socket), socket)
                    })
                    .collect(),
            ));
        }
        [] => {}
    }
    if let Some(file) = fleet_file {
        return read_fleet_file(file).map(Watch::Fleet);
    }
    if state_dir_given {
        return Ok(Watch::One(single(None)));
    }
    let default = default_fleet_file();
    if default.exists() {
        return read_fleet_file(&default).map(Watch::Fleet);
    }
    let local: Vec<(String, PathBuf)> = gas_client::fleet::cards()
        .into_iter()
        .filter(|c| c.socket.exists())
        .map(|c| (c.name, c.socket))
        .collect();
    match local.len() {
        0 | 1 => Ok(Watch::One(single(None))),
        _ => Ok(Watch::Fleet(local)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fleet_file_lists_sockets_with_names_and_a_bad_one_says_how_to_fix_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("fleet.toml");
        std::fs::write(
            &file,
            "[[miner]]\nname = \"box2-hk1\"\nsocket = \"/tmp/box2-hk1.sock\"\n\n[[miner]]\nsocket = \"/srv/gas-hk2/admin.sock\"\n",
        )
        .expect("write");
        assert_eq!(
            read_fleet_file(&file).expect("read"),
            vec![
                ("box2-hk1".to_string(), PathBuf::from("/tmp/box2-hk1.sock")),
                (
                    "gas-hk2".to_string(),
                    PathBuf::from("/srv/gas-hk2/admin.sock")
                ),
            ]
        );
        std::fs::write(&file, "[[miner]]\nsockets = \"/x\"\n").expect("write");
        let e = read_fleet_file(&file).expect_err("bad");
        assert!(
            e.contains("fleet.toml") && e.contains("[[miner]] table with socket"),
            "{e}"
        );
        std::fs::write(&file, "").expect("write");
        assert!(
            read_fleet_file(&file)
                .expect_err("empty")
                .contains("lists no miner")
        );
    }

    #[test]
    fn several_sockets_make_a_fleet_and_one_is_watched_alone() {
        let two = ["/a/admin.sock".to_string(), "/b/admin.sock".to_string()];
        let Ok(Watch::Fleet(list)) = choose(&two, None, false, |_| PathBuf::new()) else {
            panic!("a fleet")
        };
        assert_eq!(list[1], ("b".to_string(), PathBuf::from("/b/admin.sock")));
        assert_eq!(
            choose(&two[..1], None, false, |s| PathBuf::from(s.expect("given"))),
            Ok(Watch::One(PathBuf::from("/a/admin.sock")))
        );
    }
}
