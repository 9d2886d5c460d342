//! The env file (`.env.gen_miner`, as the reference's): read into the process environment
//! before the settings are parsed, never over what the environment already says.

use std::path::{Path, PathBuf};

/// The env file exists but cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("env file {}: {source}; fix the line or point --env-file elsewhere", path.display())]
pub struct EnvFileError {
    path: PathBuf,
    source: dotenvy::Error,
}

/// Loads `path` into the process environment without overriding what is already set, so
/// the environment wins over the file. A missing default file is fine; a broken one is not.
pub fn load_env_file(path: &Path, required: bool) -> Result<(), EnvFileError> {
    match dotenvy::from_path(path) {
        Ok(()) => Ok(()),
        Err(dotenvy::Error::Io(e)) if e.kind() == std::io::ErrorKind::NotFound && !required => {
            Ok(())
        }
        Err(source) => Err(EnvFileError {
            path: path.to_path_buf(),
            source,
        }),
    }
}
