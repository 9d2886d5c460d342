//! Epistula v2, both directions: the headers a signed request carries, signing our webhooks,
//! and the miner-side check of a validator's request with the reference's order, status codes
//! and texts — plus what the reference lacks, a replay cache.

use crate::chain::Metagraph;
use crate::identity::{Hotkey, decode_hex, ss58_decode, verify};
use axum::http::{HeaderMap, StatusCode};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;

pub const VERSION: &str = "2";
/// How far a request's timestamp may be from our clock, either way.
pub const ALLOWED_DELTA_MS: i64 = 15_000;
/// The reference's minimum validator stake (the metagraph's total stake S).
pub const MIN_VALIDATOR_STAKE: f64 = 20_000.0;

pub const H_VERSION: &str = "epistula-version";
pub const H_TIMESTAMP: &str = "epistula-timestamp";
pub const H_UUID: &str = "epistula-uuid";
pub const H_SIGNED_BY: &str = "epistula-signed-by";
pub const H_SIGNED_FOR: &str = "epistula-signed-for";
pub const H_SIGNATURE: &str = "epistula-request-signature";

pub fn sha256_hex(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

/// `"{sha256_hex(body)}.{uuid}.{timestamp}.{signed_for or ''}"`.
pub fn signed_message(
    body_sha256_hex: &str,
    uuid: &str,
    timestamp: i64,
    signed_for: &str,
) -> String {
    format!("{body_sha256_hex}.{uuid}.{timestamp}.{signed_for}")
}

/// Python's `str(float)` for the whole-number floats Epistula's secret signatures use.
fn py_float(value: i64) -> String {
    format!("{value}.0")
}

/// The full Epistula header set for a request whose body hashes to `body_sha256_hex`,
/// freshly timestamped and with a new uuid: call it once per attempt.
pub fn sign_headers(
    key: &Hotkey,
    body_sha256_hex: &str,
    signed_for: Option<&str>,
    timestamp_ms: i64,
) -> Vec<(&'static str, String)> {
    let uuid = uuid::Uuid::new_v4().to_string();
    let target = signed_for.unwrap_or("");
    let message = signed_message(body_sha256_hex, &uuid, timestamp_ms, target);
    let mut headers = vec![
        ("Epistula-Version", VERSION.to_string()),
        ("Epistula-Timestamp", timestamp_ms.to_string()),
        ("Epistula-Uuid", uuid),
        ("Epistula-Signed-By", key.ss58().to_string()),
        (
            "Epistula-Request-Signature",
            format!("0x{}", hex::encode(key.sign(message.as_bytes()))),
        ),
    ];
    if let Some(target) = signed_for {
        headers.push(("Epistula-Signed-For", target.to_string()));
        // ceil(ts / 1e4) * 1e4, printed as Python prints a float.
        let interval = (timestamp_ms + 9_999).div_euclid(10_000) * 10_000;
        let names = [
            "Epistula-Secret-Signature-0",
            "Epistula-Secret-Signature-1",
            "Epistula-Secret-Signature-2",
        ];
        for (name, i) in names
            .into_iter()
            .zip([interval - 1, interval, interval + 1])
        {
            let text = format!("{}.{target}", py_float(i));
            headers.push((
                name,
                format!("0x{}", hex::encode(key.sign(text.as_bytes()))),
            ));
        }
    }
    headers
}

/// Why a request was refused: the status and the FastAPI-style `detail` text.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    pub status: StatusCode,
    pub detail: String,
}

impl Rejection {
    fn new(status: StatusCode, detail: impl Into<String>) -> Rejection {
        Rejection {
            status,
            detail: detail.into(),
        }
    }
    fn bad(detail: impl Into<String>) -> Rejection {
        Rejection::new(StatusCode::BAD_REQUEST, detail)
    }
}

/// Who signed an accepted request.
#[derive(Debug, Clone, PartialEq)]
pub struct Signer {
    pub hotkey: String,
    pub uid: u16,
    pub stake: f64,
}

/// Uuids seen in the last window, so a captured request cannot be replayed while its
/// timestamp is still fresh.
#[derive(Default)]
pub struct ReplayCache {
    seen: Mutex<HashMap<String, i64>>,
}

impl ReplayCache {
    /// Records `uuid` until `expires_ms`; false if it was already there and still live.
    fn insert(&self, uuid: &str, now_ms: i64, expires_ms: i64) -> bool {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if seen.len() > 4096 && seen.len().is_power_of_two() {
            seen.retain(|_, exp| *exp > now_ms);
        }
        match seen.get(uuid) {
            Some(exp) if *exp > now_ms => false,
            _ => {
                seen.insert(uuid.to_string(), expires_ms);
                true
            }
        }
    }

    /// Drops expired entries; called periodically so the map stays small when idle.
    pub fn sweep(&self, now_ms: i64) {
        self.seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|_, exp| *exp > now_ms);
    }
}

/// What the miner checks a request against.
pub struct Verifier<'a> {
    pub own_hotkey: &'a str,
    pub metagraph: &'a Metagraph,
    pub force_validator_permit: bool,
    pub replay: &'a ReplayCache,
}

impl Verifier<'_> {
    /// Runs every check of PROTOCOL.md §3 in the reference's order.
    pub fn check(&self, headers: &HeaderMap, body: &[u8], now: i64) -> Result<Signer, Rejection> {
        let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        if get(H_VERSION) != Some(VERSION) {
            return Err(Rejection::bad("Unknown Epistula version"));
        }
        let signed_for = get(H_SIGNED_FOR);
        if signed_for != Some(self.own_hotkey) {
            return Err(Rejection::bad(
                "Bad Request, message is not intended for self",
            ));
        }
        let signed_by = get(H_SIGNED_BY).unwrap_or("");
        let Some(neuron) = self.metagraph.neuron(signed_by) else {
            return Err(Rejection::new(
                StatusCode::UNAUTHORIZED,
                "Signer not in metagraph",
            ));
        };
        if self.force_validator_permit && neuron.stake < MIN_VALIDATOR_STAKE {
            return Err(Rejection::new(
                StatusCode::UNAUTHORIZED,
                format!("Stake below minimum: {}", py_repr(neuron.stake)),
            ));
        }
        let signature = get(H_SIGNATURE).ok_or_else(|| Rejection::bad("Invalid Signature"))?;
        let timestamp: i64 = get(H_TIMESTAMP)
            .and_then(|t| t.trim().trim_start_matches('+').parse().ok())
            .ok_or_else(|| Rejection::bad("Invalid Timestamp"))?;
        let public = ss58_decode(signed_by).map_err(|_| Rejection::bad("Invalid Sender key"))?;
        let uuid = get(H_UUID)
            .filter(|u| uuid::Uuid::parse_str(u).is_ok())
            .ok_or_else(|| Rejection::bad("Invalid uuid"))?;
        // In i128: a timestamp at either end of i64 is refused, not an overflow.
        let age_ms = i128::from(now) - i128::from(timestamp);
        if age_ms > i128::from(ALLOWED_DELTA_MS) {
            let secs = age_ms as f64 / 1000.0;
            return Err(Rejection::bad(format!(
                "Request is too stale: {secs:.1}s old (limit: 15.0s)"
            )));
        }
        if -age_ms > i128::from(ALLOWED_DELTA_MS) {
            let secs = -age_ms as f64 / 1000.0;
            return Err(Rejection::bad(format!(
                "Request timestamp is in the future: {secs:.1}s ahead (limit: 15.0s)"
            )));
        }
        let signature = decode_hex(signature)
            .ok()
            .filter(|s| s.len() == 64)
            .ok_or_else(|| Rejection::bad("Invalid Signature"))?;
        let message = signed_message(&sha256_hex(body), uuid, timestamp, self.own_hotkey);
        if !verify(&public, message.as_bytes(), &signature) {
            return Err(Rejection::bad("Signature Mismatch"));
        }
        // Only a correctly signed request may occupy the cache, and it stays there until its
        // timestamp could no longer pass the staleness check.
        if !self
            .replay
            .insert(uuid, now, timestamp + ALLOWED_DELTA_MS + 1_000)
        {
            return Err(Rejection::bad(format!(
                "Replayed request: Epistula-Uuid {uuid} was already accepted; sign every request with a fresh uuid"
            )));
        }
        Ok(Signer {
            hotkey: signed_by.to_string(),
            uid: neuron.uid,
            stake: neuron.stake,
        })
    }
}

impl Verifier<'_> {
    /// Whether the request is fresh and truly signed by the key it names, metagraph aside:
    /// an unknown caller who proves its key may be newly registered (worth a sync); one who
    /// cannot is not worth any work.
    pub fn signed_by_claimed_key(&self, headers: &HeaderMap, body: &[u8], now: i64) -> bool {
        let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let (Some(by), Some(sig), Some(ts), Some(uuid)) = (
            get(H_SIGNED_BY),
            get(H_SIGNATURE),
            get(H_TIMESTAMP).and_then(|t| t.trim().parse::<i64>().ok()),
            get(H_UUID),
        ) else {
            return false;
        };
        let (Ok(public), Ok(sig)) = (ss58_decode(by), decode_hex(sig)) else {
            return false;
        };
        (i128::from(ts) - i128::from(now)).abs() <= i128::from(ALLOWED_DELTA_MS)
            && verify(
                &public,
                signed_message(&sha256_hex(body), uuid, ts, self.own_hotkey).as_bytes(),
                &sig,
            )
    }
}

/// Python's `repr(float)` for the stakes it prints (`100.0`, `19999.5`).
fn py_repr(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e16 {
        format!("{value:.1}")
    } else {
        format!("{value}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::{Metagraph, Neuron};
    use crate::clock::now_ms;

    const MINER: &str = "bottom drive obey lake curtain smoke basket hold race lonely fit walk";
    const VALIDATOR: &str =
        "legal winner thank year wave sausage worth useful legal winner thank yellow";

    fn graph(stake: f64, validator: &Hotkey) -> Metagraph {
        Metagraph::new(
            34,
            vec![Neuron {
                uid: 7,
                hotkey: validator.ss58().to_string(),
                stake,
                validator_permit: true,
                axon: None,
            }],
        )
    }

    fn header_map(pairs: &[(&'static str, String)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, v.parse().expect("header value"));
        }
        map
    }

    #[test]
    fn our_signed_request_passes_every_check_once() {
        let miner = Hotkey::from_mnemonic(MINER).expect("miner");
        let validator = Hotkey::from_mnemonic(VALIDATOR).expect("validator");
        let graph = graph(50_000.0, &validator);
        let replay = ReplayCache::default();
        let verifier = Verifier {
            own_hotkey: miner.ss58(),
            metagraph: &graph,
            force_validator_permit: true,
            replay: &replay,
        };
        let body = br#"{"prompt": "x"}"#;
        let now = now_ms();
        let headers = header_map(&sign_headers(
            &validator,
            &sha256_hex(body),
            Some(miner.ss58()),
            now,
        ));
        let signer = verifier.check(&headers, body, now).expect("accepted");
        assert_eq!(signer.uid, 7);
        let again = verifier
            .check(&headers, body, now)
            .expect_err("replay refused");
        assert!(
            again.detail.starts_with("Replayed request"),
            "{}",
            again.detail
        );
        let tampered = verifier
            .check(
                &header_map(&sign_headers(
                    &validator,
                    &sha256_hex(b"{}"),
                    Some(miner.ss58()),
                    now,
                )),
                body,
                now,
            )
            .expect_err("tampered");
        assert_eq!(tampered.detail, "Signature Mismatch");
    }

    #[test]
    fn secret_signatures_sign_the_python_float_intervals() {
        let validator = Hotkey::from_mnemonic(VALIDATOR).expect("validator");
        let headers = sign_headers(
            &validator,
            &sha256_hex(b""),
            Some("5Target"),
            1_764_000_000_000,
        );
        let sig0 = headers
            .iter()
            .find(|(k, _)| *k == "Epistula-Secret-Signature-0")
            .map(|(_, v)| decode_hex(v).expect("hex"))
            .expect("sig0");
        assert!(verify(
            &validator.public_key(),
            b"1763999999999.0.5Target",
            &sig0
        ));
    }

    #[test]
    fn stake_prints_as_python_does() {
        assert_eq!(py_repr(100.0), "100.0");
        assert_eq!(py_repr(19999.5), "19999.5");
    }
}
