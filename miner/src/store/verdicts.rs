//! The `verdicts` tree (every pre-flight verdict, by task) and `phashes` (the perceptual
//! hashes of recent deliveries, for the near-duplicate check after a restart).

use super::{Store, StoreError, encode, scan};

impl Store {
    /// Keeps a pre-flight verdict with its task (every attempt's, oldest first).
    pub fn record_verdict(
        &self,
        task_id: &str,
        verdict: &gas_shared::verdict::Verdict,
    ) -> Result<(), StoreError> {
        let key = format!(
            "{task_id}/{:020}/{}",
            verdict.checked_at_ms,
            self.db.generate_id()?
        );
        let value = encode(&key, verdict)?;
        self.verdicts.insert(key.as_bytes(), value)?;
        Ok(())
    }

    pub fn verdicts(&self, task_id: &str) -> Result<Vec<gas_shared::verdict::Verdict>, StoreError> {
        scan(&self.verdicts, &format!("{task_id}/"))
    }

    /// Every stored verdict's (time, passed) (for statistics).
    pub fn all_verdicts(&self) -> impl Iterator<Item = gas_shared::verdict::Verdict> + '_ {
        self.verdicts
            .iter()
            .filter_map(Result::ok)
            .filter_map(|(_, v)| serde_json::from_slice(&v).ok())
    }

    /// Remembers a delivered image's perceptual hash (the newest `keep` are kept).
    pub fn remember_phash(
        &self,
        task_id: &str,
        prompt_key: u64,
        hash: &[u8],
        keep: usize,
    ) -> Result<(), StoreError> {
        let mut key = (crate::clock::now_ms().max(0) as u64)
            .to_be_bytes()
            .to_vec();
        key.extend_from_slice(task_id.as_bytes());
        let mut value = prompt_key.to_be_bytes().to_vec();
        value.extend_from_slice(hash);
        self.phashes.insert(key, value)?;
        while self.phashes.len() > keep {
            match self.phashes.pop_min()? {
                Some(_) => {}
                None => break,
            }
        }
        Ok(())
    }

    /// Remembered image hashes, oldest first: (task id, prompt key, hash).
    pub fn recent_phashes(&self) -> Result<Vec<(String, u64, Vec<u8>)>, StoreError> {
        let mut out = Vec::new();
        for item in self.phashes.iter() {
            let (k, v) = item?;
            if k.len() < 8 || v.len() < 8 {
                continue;
            }
            let prompt = u64::from_be_bytes(v[..8].try_into().unwrap_or([0; 8]));
            out.push((
                String::from_utf8_lossy(&k[8..]).into_owned(),
                prompt,
                v[8..].to_vec(),
            ));
        }
        Ok(out)
    }
}
