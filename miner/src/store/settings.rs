//! The `settings` tree (live settings, e.g. the service selection made from the console) and
//! the last good metagraph per chain endpoint in `meta`, for a start with the chain down.

use super::{Store, StoreError, encode};

impl Store {
    /// A live setting (JSON), e.g. the service selection made from the console.
    pub fn setting(&self, name: &str) -> Result<Option<serde_json::Value>, StoreError> {
        Ok(self
            .settings
            .get(name.as_bytes())?
            .and_then(|v| serde_json::from_slice(&v).ok()))
    }

    pub fn set_setting(
        &self,
        name: &str,
        value: Option<&serde_json::Value>,
    ) -> Result<(), StoreError> {
        match value {
            Some(v) => {
                self.settings
                    .insert(name.as_bytes(), serde_json::to_vec(v).unwrap_or_default())?;
            }
            None => {
                self.settings.remove(name.as_bytes())?;
            }
        }
        Ok(())
    }

    /// Keeps the last good metagraph of `netuid` read from `source` (an endpoint), for a
    /// start with the chain unreachable.
    pub fn save_metagraph(
        &self,
        source: &str,
        netuid: u16,
        graph: &impl serde::Serialize,
    ) -> Result<(), StoreError> {
        let key = format!("metagraph/{source}/{netuid}");
        let value = encode(&key, graph)?;
        self.meta.insert(key.as_bytes(), value)?;
        Ok(())
    }

    /// The copy saved from `source` (an endpoint) for `netuid`.
    pub fn load_metagraph<G: serde::de::DeserializeOwned>(
        &self,
        source: &str,
        netuid: u16,
    ) -> Result<Option<G>, StoreError> {
        let key = format!("metagraph/{source}/{netuid}");
        match self.meta.get(key.as_bytes())? {
            Some(v) => serde_json::from_slice(&v)
                .map(Some)
                .map_err(|e| StoreError::Corrupt {
                    key,
                    detail: e.to_string(),
                }),
            None => Ok(None),
        }
    }
}
