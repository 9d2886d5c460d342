//! `gas-miner trust update`: the subnet's current trust anchors, fetched and checked before
//! anything is replaced.

use super::CliError;
use crate::preflight;
use std::path::Path;

/// `gas-miner trust update [--from URL]`.
pub fn trust_update(dir: &Path, url: &str) -> Result<(), CliError> {
    let runtime = super::run::runtime()?;
    match runtime.block_on(preflight::trust::update(dir, url)) {
        Ok(subjects) => {
            println!(
                "{} trust anchors installed in {} (a running gas-miner picks them up within 30 s, or at once on SIGHUP):",
                subjects.len(),
                dir.display()
            );
            for s in subjects {
                println!("  {s}");
            }
            Ok(())
        }
        Err(e) => Err(CliError::Failed(format!(
            "trust update failed, nothing was changed: {e}"
        ))),
    }
}
