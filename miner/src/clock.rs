//! Wall-clock time as the miner records it: milliseconds since the Unix epoch, the unit of
//! every `*_ms` field in the store, the admin protocol and Epistula's timestamps.

use std::time::{SystemTime, UNIX_EPOCH};

/// Now, in milliseconds since the Unix epoch (0 if the clock is before 1970).
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
