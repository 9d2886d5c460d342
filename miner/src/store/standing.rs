//! `standing`: timed snapshots of what the subnet's API and the chain said of us, kept for
//! charts (30 days, see `prune_standing`). Keyed `<source>/<unix ms, 20 digits>`; the value
//! is kept as it came (the API's JSON text exactly as received), so a newer build can read
//! more out of an old snapshot.

use super::{Store, StoreError};

fn key(source: &str, at_ms: i64) -> String {
    format!("{source}/{:020}", at_ms.max(0))
}

impl Store {
    /// Keeps one snapshot from `source` (`api`, `chain`) taken at `at_ms`.
    pub fn put_snapshot(&self, source: &str, at_ms: i64, value: &[u8]) -> Result<(), StoreError> {
        self.standing.insert(key(source, at_ms).as_bytes(), value)?;
        Ok(())
    }

    /// The newest snapshot from `source`: (when, value).
    pub fn latest_snapshot(&self, source: &str) -> Result<Option<(i64, Vec<u8>)>, StoreError> {
        let prefix = format!("{source}/");
        Ok(self
            .standing
            .scan_prefix(prefix.as_bytes())
            .next_back()
            .transpose()?
            .and_then(|(k, v)| Some((parse_ms(&k, &prefix)?, v.to_vec()))))
    }

    /// Snapshots from `source` taken at or after `since_ms`, oldest first.
    pub fn snapshots_since(
        &self,
        source: &str,
        since_ms: i64,
    ) -> Result<Vec<(i64, Vec<u8>)>, StoreError> {
        let prefix = format!("{source}/");
        let from = key(source, since_ms);
        let end = format!("{source}0"); // '0' follows '/'
        let mut out = Vec::new();
        for item in self.standing.range(from.as_bytes()..end.as_bytes()) {
            let (k, v) = item?;
            if let Some(ms) = parse_ms(&k, &prefix) {
                out.push((ms, v.to_vec()));
            }
        }
        Ok(out)
    }

    /// Forgets snapshots taken before `cutoff_ms`. Returns how many went.
    pub fn prune_standing(&self, cutoff_ms: i64) -> Result<usize, StoreError> {
        let mut gone = 0;
        for source in ["api", "chain"] {
            let from = format!("{source}/");
            let end = key(source, cutoff_ms);
            let old: Vec<sled::IVec> = self
                .standing
                .range(from.as_bytes()..end.as_bytes())
                .keys()
                .collect::<Result<_, _>>()?;
            for k in old {
                self.standing.remove(k)?;
                gone += 1;
            }
        }
        Ok(gone)
    }
}

fn parse_ms(key: &[u8], prefix: &str) -> Option<i64> {
    std::str::from_utf8(key.strip_prefix(prefix.as_bytes())?)
        .ok()?
        .parse()
        .ok()
}
