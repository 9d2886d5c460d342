//! Requests refused before they are challenges (no or bad Epistula headers, an unknown or
//! under-staked signer, a bad signature, stale or future timestamps, a replay, a body too big):
//! counted per reason and per source address, and written to the log as one summary line per
//! interval ("12,431 requests refused in the last 10 s: 8,288 Signature Mismatch from 3
//! addresses, …"), never one line each, so a flood of junk cannot rotate the useful lines away.
//! The first refusal of each reason from a registered validator is still logged in full: that
//! is the one an operator needs. The counts since start are in `/metrics`.

use std::collections::{BTreeMap, HashSet};
use std::net::IpAddr;
use std::sync::Mutex;

/// Source addresses remembered per reason and interval (a flood from more still counts).
const MAX_SOURCES: usize = 10_000;
/// (reason, validator) pairs already logged in full.
const MAX_TOLD: usize = 10_000;

#[derive(Default)]
struct Tally {
    count: u64,
    sources: HashSet<IpAddr>,
    /// More addresses than were remembered.
    more_sources: bool,
}

#[derive(Default)]
struct Inner {
    window: BTreeMap<String, Tally>,
    totals: BTreeMap<String, u64>,
    told: HashSet<(String, String)>,
}

#[derive(Default)]
pub(crate) struct Rejections {
    inner: Mutex<Inner>,
}

/// A refusal's reason without its particulars: the text before the first `:` ("Request is
/// too stale: 31.0s old" → "Request is too stale"), so that the reasons stay few.
pub(crate) fn reason_of(detail: &str) -> &str {
    detail.split(':').next().unwrap_or(detail).trim()
}

impl Rejections {
    /// Counts one refusal; returns whether to log it in full: the first of its reason from
    /// `validator`, a signer the metagraph knows.
    pub(crate) fn refused(
        &self,
        detail: &str,
        source: Option<IpAddr>,
        validator: Option<&str>,
    ) -> bool {
        let reason = reason_of(detail);
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        *inner.totals.entry(reason.to_string()).or_default() += 1;
        let tally = inner.window.entry(reason.to_string()).or_default();
        tally.count += 1;
        if let Some(ip) = source {
            if tally.sources.len() < MAX_SOURCES {
                tally.sources.insert(ip);
            } else if !tally.sources.contains(&ip) {
                tally.more_sources = true;
            }
        }
        match validator {
            Some(v) if inner.told.len() < MAX_TOLD => {
                inner.told.insert((reason.to_string(), v.to_string()))
            }
            _ => false,
        }
    }

    /// The interval's summary, `None` when nothing was refused; starts the next interval.
    pub(crate) fn summary(&self, interval_s: u64) -> Option<String> {
        let window = {
            let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
            std::mem::take(&mut inner.window)
        };
        if window.is_empty() {
            return None;
        }
        let total: u64 = window.values().map(|t| t.count).sum();
        let mut parts: Vec<(u64, String)> = window
            .into_iter()
            .map(|(reason, t)| {
                let n = t.sources.len();
                let from = match (n, t.more_sources) {
                    (0, _) => String::new(),
                    (1, false) => " from 1 address".into(),
                    (n, false) => format!(" from {} addresses", thousands(n as u64)),
                    (n, true) => format!(" from more than {} addresses", thousands(n as u64)),
                };
                (t.count, format!("{} {reason}{from}", thousands(t.count)))
            })
            .collect();
        parts.sort_by_key(|p| std::cmp::Reverse(p.0));
        Some(format!(
            "{} request{} refused in the last {interval_s} s: {}",
            thousands(total),
            if total == 1 { "" } else { "s" },
            parts
                .into_iter()
                .map(|(_, p)| p)
                .collect::<Vec<_>>()
                .join(", ")
        ))
    }

    /// Refusals by reason since the miner started (`/metrics`).
    pub(crate) fn totals(&self) -> Vec<(String, u64)> {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.totals.iter().map(|(r, n)| (r.clone(), *n)).collect()
    }
}

/// `12431` → `12,431`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Logs the summary every `every` for as long as the miner runs.
pub(crate) async fn report(rejections: std::sync::Arc<Rejections>, every: std::time::Duration) {
    loop {
        tokio::time::sleep(every).await;
        if let Some(line) = rejections.summary(every.as_secs().max(1)) {
            tracing::warn!("{line}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_is_one_line_per_interval_with_counts_by_reason_and_source() {
        let r = Rejections::default();
        let ip = |n: u8| Some(IpAddr::from([10, 0, 0, n]));
        for i in 0..8288u32 {
            assert!(!r.refused("Signature Mismatch", ip((i % 3) as u8), None));
        }
        for _ in 0..4143 {
            r.refused(
                "Request is too stale: 31.0s old (limit: 15.0s)",
                ip(9),
                None,
            );
        }
        assert_eq!(
            r.summary(10).as_deref(),
            Some(
                "12,431 requests refused in the last 10 s: 8,288 Signature Mismatch from 3 addresses, 4,143 Request is too stale from 1 address"
            )
        );
        assert_eq!(r.summary(10), None, "a quiet interval says nothing");
        assert_eq!(
            r.totals(),
            vec![
                ("Request is too stale".to_string(), 4143),
                ("Signature Mismatch".to_string(), 8288)
            ]
        );
    }

    #[test]
    fn the_first_of_each_reason_from_a_registered_validator_is_told_in_full() {
        let r = Rejections::default();
        assert!(r.refused("Signature Mismatch", None, Some("5V")));
        assert!(!r.refused("Signature Mismatch", None, Some("5V")), "once");
        assert!(
            r.refused("Replayed request: uuid x", None, Some("5V")),
            "another reason"
        );
        assert!(
            r.refused("Signature Mismatch", None, Some("5W")),
            "another validator"
        );
        assert!(
            !r.refused("Signature Mismatch", None, None),
            "an unknown signer never"
        );
    }
}
