//! Target 5: SS58 addresses and hex strings, mutated and arbitrary: round trips, and errors
//! that say something.

use crate::harness::{CASES, SMALL_INPUT_BOUND, fuzz, guarded, turn};
use crate::setup::keys;
use crate::strategies::{interesting_text, mutate, mutations};
use gas_miner::identity::{decode_hex, ss58_decode, ss58_encode};
use proptest::prelude::*;

#[test]
fn fuzz_addresses_and_hex() {
    let _turn = turn();
    let valid = keys().validator.ss58().to_string();
    let text = prop_oneof![
        2 => mutations(4).prop_map(move |m| String::from_utf8_lossy(&mutate(valid.as_bytes(), &m)).into_owned()),
        1 => interesting_text(),
        1 => "[1-9A-HJ-NP-Za-km-z]{0,60}",
        1 => "(0x)?[0-9a-fA-F]{0,130}",
    ];
    fuzz(
        "addresses",
        CASES.addresses,
        (text, any::<[u8; 32]>()),
        |(text, public)| {
            guarded("addresses", SMALL_INPUT_BOUND, move || {
                // Every key's address reads back as that key.
                assert_eq!(ss58_decode(&ss58_encode(&public)), Ok(public));
                match ss58_decode(&text) {
                    Ok(pk) => {
                        assert_eq!(ss58_decode(&ss58_encode(&pk)), Ok(pk));
                    }
                    Err(e) => assert!(!e.to_string().is_empty()),
                }
                match decode_hex(&text) {
                    Ok(bytes) => assert!(
                        hex::encode(&bytes)
                            .eq_ignore_ascii_case(text.strip_prefix("0x").unwrap_or(&text))
                    ),
                    Err(e) => assert!(!e.to_string().is_empty()),
                }
            })
        },
    );
}
