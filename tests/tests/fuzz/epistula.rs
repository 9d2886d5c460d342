//! Target 1: Epistula headers. Signed header sets, then edited (removed, replaced, mutated,
//! doubled headers, odd timestamps, the body changed after signing): accepted only when
//! everything is what was signed, fresh and registered, and only once.

use crate::harness::{CASES, SMALL_INPUT_BOUND, corpus, fuzz, guarded, turn};
use crate::setup::keys;
use crate::strategies::{Mutation, mutate, mutations};
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use gas_miner::epistula::{self, ReplayCache, Verifier, sha256_hex, sign_headers};
use gas_miner::identity::decode_hex;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::Value;

/// The headers an Epistula request carries, lowercase, in the order edits refer to them.
const EPISTULA_HEADERS: [&str; 7] = [
    epistula::H_VERSION,
    epistula::H_TIMESTAMP,
    epistula::H_UUID,
    epistula::H_SIGNED_BY,
    epistula::H_SIGNED_FOR,
    epistula::H_SIGNATURE,
    "epistula-secret-signature-0",
];

/// One change to a freshly signed header set.
#[derive(Debug, Clone)]
enum HeaderEdit {
    Remove(usize),
    Set(usize, Vec<u8>),
    Mutate(usize, Vec<Mutation>),
    /// A second value under the same name (the verifier reads the first).
    Append(usize, Vec<u8>),
    /// The body changed after signing.
    Body(Vec<Mutation>),
}

fn odd_value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => select(vec![
            "9223372036854775807", "-9223372036854775808", "9223372036854775808",
            "-9223372036854760808", "+1", "++1", " 1 ", "0", "-0", "1e3", "0x10", "1.5",
            "99999999999999999999999999999", "2", "1", "", " ", "0x", "0x0", "0xzz",
            "5DfhGyQdFobKM8NsWvEeAKk5EQQgYe9AydgJ7rMB6E1EqRzV",
            "5DfhGyQdFobKM8NsWvEeAKk5EQQgYe9AydgJ7rMB6E1EqRzW",
            "1111111111111111111111111111111111111111111111111",
            "00000000-0000-0000-0000-000000000000", "{00000000-0000-0000-0000-000000000000}",
        ])
        .prop_map(|s| s.as_bytes().to_vec()),
        2 => vec(any::<u8>(), 0..80),
        1 => any::<String>().prop_map(String::into_bytes),
        1 => (any::<u8>(), 1usize..65_536).prop_map(|(b, n)| vec![b'a' + b % 26; n]),
        1 => vec(select(b"0123456789abcdefABCDEFx".to_vec()), 0..140),
    ]
}

fn header_edit() -> impl Strategy<Value = HeaderEdit> {
    let which = 0..EPISTULA_HEADERS.len();
    prop_oneof![
        1 => which.clone().prop_map(HeaderEdit::Remove),
        3 => (which.clone(), odd_value()).prop_map(|(i, v)| HeaderEdit::Set(i, v)),
        3 => (which.clone(), mutations(4)).prop_map(|(i, m)| HeaderEdit::Mutate(i, m)),
        1 => (which, odd_value()).prop_map(|(i, v)| HeaderEdit::Append(i, v)),
        1 => mutations(3).prop_map(HeaderEdit::Body),
    ]
}

#[derive(Debug, Clone)]
struct EpistulaCase {
    body: Vec<u8>,
    /// Our clock against the signature's timestamp.
    skew_ms: i64,
    /// Signed by the registered validator, else by a key not in the metagraph.
    registered: bool,
    edits: Vec<HeaderEdit>,
}

fn header_map(pairs: &[(HeaderName, Vec<u8>)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        // Bytes no HTTP peer could send (control characters) are not sendable: skipped.
        if let Ok(v) = HeaderValue::from_bytes(value) {
            map.append(name.clone(), v);
        }
    }
    map
}

/// What a request claims, read as the verifier reads it.
#[derive(Debug, PartialEq)]
struct Claims {
    signed_by: Option<String>,
    uuid: Option<String>,
    timestamp: Option<i64>,
    signature: Option<Vec<u8>>,
}

fn claims(h: &HeaderMap) -> Claims {
    let get = |n: &str| h.get(n).and_then(|v| v.to_str().ok());
    Claims {
        signed_by: get(epistula::H_SIGNED_BY).map(str::to_string),
        uuid: get(epistula::H_UUID).map(str::to_string),
        timestamp: get(epistula::H_TIMESTAMP)
            .and_then(|t| t.trim().trim_start_matches('+').parse().ok()),
        signature: get(epistula::H_SIGNATURE).and_then(|s| decode_hex(s).ok()),
    }
}

/// Signs, edits, and checks: a request is accepted only when everything it claims is what
/// was signed, only once, and only when fresh.
fn epistula_case(case: &EpistulaCase, overrides: Option<&serde_json::Map<String, Value>>) {
    let k = keys();
    let signer = if case.registered {
        &k.validator
    } else {
        &k.outsider
    };
    let signed_at = gas_miner::clock::now_ms();
    let now = signed_at + case.skew_ms;
    let signed: Vec<(HeaderName, Vec<u8>)> = sign_headers(
        signer,
        &sha256_hex(&case.body),
        Some(k.miner.ss58()),
        signed_at,
    )
    .into_iter()
    .map(|(n, v)| {
        (
            HeaderName::from_bytes(n.to_ascii_lowercase().as_bytes()).expect("header name"),
            v.into_bytes(),
        )
    })
    .collect();
    let mut pairs = signed.clone();
    let mut body = case.body.clone();
    let slot = |pairs: &[(HeaderName, Vec<u8>)], i: usize| {
        pairs
            .iter()
            .position(|(n, _)| n.as_str() == EPISTULA_HEADERS[i])
    };
    for edit in &case.edits {
        match edit {
            HeaderEdit::Remove(i) => pairs.retain(|(n, _)| n.as_str() != EPISTULA_HEADERS[*i]),
            HeaderEdit::Set(i, v) => match slot(&pairs, *i) {
                Some(at) => pairs[at].1 = v.clone(),
                None => pairs.push((HeaderName::from_static(EPISTULA_HEADERS[*i]), v.clone())),
            },
            HeaderEdit::Mutate(i, m) => {
                if let Some(at) = slot(&pairs, *i) {
                    pairs[at].1 = mutate(&pairs[at].1, m);
                }
            }
            HeaderEdit::Append(i, v) => {
                pairs.push((HeaderName::from_static(EPISTULA_HEADERS[*i]), v.clone()))
            }
            HeaderEdit::Body(m) => body = mutate(&body, m),
        }
    }
    if let Some(overrides) = overrides {
        for (name, value) in overrides {
            if name == "$body" {
                body = value.as_str().unwrap_or_default().as_bytes().to_vec();
                continue;
            }
            if name.starts_with('$') {
                continue;
            }
            let name = HeaderName::from_bytes(name.as_bytes()).expect("corpus header name");
            pairs.retain(|(n, _)| *n != name);
            if let Some(v) = value.as_str() {
                pairs.push((name, v.as_bytes().to_vec()));
            }
        }
    }
    let original = header_map(&signed);
    let edited = header_map(&pairs);
    let replay = ReplayCache::default();
    let verifier = Verifier {
        own_hotkey: k.miner.ss58(),
        metagraph: &k.graph,
        force_validator_permit: true,
        replay: &replay,
    };
    let fresh = case.skew_ms.abs() <= epistula::ALLOWED_DELTA_MS;
    let same = claims(&edited) == claims(&original) && body == case.body;

    let verdict = verifier.check(&edited, &body, now);
    let proven = verifier.signed_by_claimed_key(&edited, &body, now);
    match &verdict {
        Ok(who) => {
            assert!(
                same && fresh && case.registered,
                "accepted a request that is not what was signed: {:?} vs {:?}",
                claims(&edited),
                claims(&original)
            );
            assert_eq!(who.hotkey, k.validator.ss58());
            assert_eq!(
                edited
                    .get(epistula::H_SIGNED_FOR)
                    .and_then(|v| v.to_str().ok()),
                Some(k.miner.ss58())
            );
        }
        Err(r) => {
            assert!(!r.detail.is_empty());
            assert!(
                r.status.is_client_error(),
                "{} for {:?}",
                r.status,
                r.detail
            );
        }
    }
    if proven {
        // Only the signed message proves the key: same signer, uuid, time, body, signature.
        let (a, b) = (claims(&edited), claims(&original));
        assert!(
            a.signed_by == b.signed_by
                && a.uuid == b.uuid
                && a.timestamp == b.timestamp
                && a.signature == b.signature
                && body == case.body
                && fresh,
            "signed_by_claimed_key accepted {a:?} for {b:?}"
        );
    }

    // The untouched request: accepted once when fresh and registered (not again if the edited
    // one, necessarily the same request, already was), and refused with the right reason.
    let again = verifier.check(&original, &case.body, now);
    match (case.registered, fresh, verdict.is_ok()) {
        (true, true, false) => {
            let signer = again.expect("a correctly signed fresh request is accepted");
            assert_eq!(signer.uid, 0);
        }
        (true, true, true) => {
            let r = again.expect_err("the same request twice");
            assert!(r.detail.starts_with("Replayed request"), "{}", r.detail);
        }
        (true, false, _) => {
            let r = again.expect_err("stale or future");
            assert!(
                r.detail.contains("too stale") || r.detail.contains("in the future"),
                "{}",
                r.detail
            );
        }
        (false, _, _) => {
            let r = again.expect_err("not in the metagraph");
            assert_eq!(r.detail, "Signer not in metagraph");
            assert_eq!(
                verifier.signed_by_claimed_key(&original, &case.body, now),
                fresh,
                "an unknown but honest caller proves its key when fresh"
            );
        }
    }
}

fn epistula_case_strategy() -> impl Strategy<Value = EpistulaCase> {
    (
        prop_oneof![
            Just(br#"{"prompt": "a kite"}"#.to_vec()),
            vec(any::<u8>(), 0..256),
        ],
        prop_oneof![
            4 => -14_000i64..14_000,
            1 => select(vec![-15_001i64, -15_000, 15_000, 15_001, -86_400_000, 86_400_000]),
        ],
        prop::bool::weighted(0.85),
        vec(header_edit(), 0..4),
    )
        .prop_map(|(body, skew_ms, registered, edits)| EpistulaCase {
            body,
            skew_ms,
            registered,
            edits,
        })
}

#[test]
fn fuzz_epistula_headers() {
    let _turn = turn();
    for (name, bytes) in corpus("epistula") {
        let doc: Value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("corpus epistula/{name}: {e}"));
        let overrides = doc
            .as_object()
            .cloned()
            .expect("an object of header overrides");
        let registered = !overrides.contains_key("$outsider");
        guarded(&format!("epistula/{name}"), SMALL_INPUT_BOUND, move || {
            let case = EpistulaCase {
                body: br#"{"prompt": "a kite"}"#.to_vec(),
                skew_ms: 0,
                registered,
                edits: Vec::new(),
            };
            epistula_case(&case, Some(&overrides));
        });
    }
    fuzz(
        "epistula",
        CASES.epistula,
        epistula_case_strategy(),
        |case| {
            guarded("epistula", SMALL_INPUT_BOUND, move || {
                epistula_case(&case, None)
            })
        },
    );
}
