//! Target 4: wallet files. Hotkey files (plain, edited, mutated, with `$NACL`, `$BT`, Fernet,
//! Ansible prefixes): an error with a message, never a panic, and never a secret shown.

use crate::harness::{
    CASES, NACL_BOUND, NACL_WATCHDOG, SMALL_INPUT_BOUND, WATCHDOG, corpus, fuzz, guarded,
    guarded_within, turn,
};
use crate::strategies::{JsonEdit, Mutation, edit_json, json_edit, mutate, mutations};
use gas_miner::identity::{self, Hotkey, IdentityError, decode_hex, ss58_decode};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{Value, json};
use std::sync::Arc;

/// A wallet file and the secrets it holds (which no error may show).
#[derive(Debug, Clone)]
struct WalletSeed {
    bytes: Vec<u8>,
    secrets: Vec<String>,
}

fn wallet_seeds() -> Vec<WalletSeed> {
    let dir = tempfile::tempdir().expect("tempdir");
    let phrase = gas_tests::MINER_PHRASE;
    identity::write_plain_hotkey(dir.path(), "w", "h", phrase).expect("plain wallet");
    let plain = std::fs::read(dir.path().join("w/hotkeys/h")).expect("read wallet");
    let mut seeds = vec![WalletSeed {
        bytes: plain,
        secrets: vec![phrase.to_string()],
    }];
    // A `secretSeed` wallet and a `privateKey` wallet, as older btcli versions wrote them.
    let seed: Vec<u8> = (0u8..32)
        .map(|i| i.wrapping_mul(37).wrapping_add(11))
        .collect();
    let from_seed = Hotkey::from_seed(&seed).expect("seed key");
    let seed_hex = format!("0x{}", hex::encode(&seed));
    seeds.push(WalletSeed {
        bytes: json!({
            "secretSeed": seed_hex,
            "publicKey": format!("0x{}", hex::encode(from_seed.public_key())),
            "ss58Address": from_seed.ss58(),
        })
        .to_string()
        .into_bytes(),
        secrets: vec![seed_hex[2..].to_string()],
    });
    let mut private: Vec<u8> = (0u8..64)
        .map(|i| i.wrapping_mul(53).wrapping_add(7))
        .collect();
    private[31] &= 0x0F; // a canonical scalar
    let from_private = Hotkey::from_private_key(&private).expect("private key");
    let private_hex = hex::encode(&private);
    seeds.push(WalletSeed {
        bytes: json!({
            "privateKey": format!("0x{private_hex}"),
            "ss58Address": from_private.ss58(),
        })
        .to_string()
        .into_bytes(),
        secrets: vec![private_hex],
    });
    for (_, bytes) in corpus("wallet") {
        seeds.push(WalletSeed {
            bytes,
            secrets: Vec::new(),
        });
    }
    seeds
}

#[derive(Debug, Clone)]
struct WalletCase {
    seed: usize,
    prefix: Option<&'static str>,
    edits: Vec<JsonEdit>,
    mutations: Vec<Mutation>,
}

fn wallet_case(seeds: usize) -> impl Strategy<Value = WalletCase> {
    (
        0..seeds,
        prop::option::weighted(
            0.15,
            select(vec![
                "$NACL",
                "$BT",
                "$BITTENSOR",
                "gAAAAA",
                "$ANSIBLE_VAULT;1.1;AES256\n",
                " \n\t",
                "\u{feff}",
                "[",
                "\"",
            ]),
        ),
        vec(json_edit(), 0..3),
        prop_oneof![2 => Just(Vec::new()), 1 => mutations(5)],
    )
        .prop_map(|(seed, prefix, edits, mutations)| WalletCase {
            seed,
            prefix,
            edits,
            mutations,
        })
}

/// Loads `bytes` as a hotkey file: an error is an `Err` that shows no secret; a key is one the
/// file's own public key (if it states one) agrees with.
fn wallet_round(bytes: Vec<u8>, secrets: &[String], password: Option<&'static str>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let hotkeys = dir.path().join("w/hotkeys");
    std::fs::create_dir_all(&hotkeys).expect("mkdir");
    std::fs::write(hotkeys.join("h"), &bytes).expect("write wallet");
    let asked = std::sync::atomic::AtomicBool::new(false);
    let ask = || {
        asked.store(true, std::sync::atomic::Ordering::SeqCst);
        password.map(str::to_string)
    };
    let loaded = Hotkey::load(dir.path(), "w", "h", &ask);
    assert_eq!(
        asked.load(std::sync::atomic::Ordering::SeqCst),
        bytes.starts_with(b"$NACL"),
        "a password is asked for exactly for $NACL files"
    );
    match loaded {
        Ok(key) => {
            let doc: Value = serde_json::from_slice(&bytes).expect("only JSON loads here");
            let stated = doc
                .get("publicKey")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(|pk| decode_hex(pk).expect("a loaded file's public key is hex"))
                .or_else(|| {
                    doc.get("ss58Address")
                        .and_then(Value::as_str)
                        .filter(|s| !s.is_empty())
                        .map(|a| ss58_decode(a).expect("a loaded file's address").to_vec())
                });
            if let Some(stated) = stated {
                assert_eq!(stated, key.public_key(), "the key the file says it holds");
            }
            let shown = format!("{key:?}");
            for s in secrets {
                assert!(
                    !leaks(&shown, s),
                    "Debug of a key shows its secret: {shown}"
                );
            }
        }
        Err(e) => {
            let (text, debug) = (e.to_string(), format!("{e:?}"));
            assert!(!text.is_empty());
            for s in secrets {
                assert!(!leaks(&text, s), "error shows a secret: {text}");
                assert!(!leaks(&debug, s), "error shows a secret: {debug}");
            }
            if bytes.starts_with(b"$NACL") {
                assert!(
                    matches!(
                        e,
                        IdentityError::NoPassword { .. } | IdentityError::WrongPassword { .. }
                    ),
                    "{e}"
                );
            }
        }
    }
}

fn apply_wallet_case(case: &WalletCase, seeds: &[WalletSeed]) -> Vec<u8> {
    let seed = &seeds[case.seed % seeds.len()];
    let mut bytes = seed.bytes.clone();
    if !case.edits.is_empty()
        && let Ok(mut doc) = serde_json::from_slice::<Value>(&bytes)
    {
        for e in &case.edits {
            doc = edit_json(&doc, e);
        }
        bytes = serde_json::to_vec(&doc).expect("serialise");
    }
    bytes = mutate(&bytes, &case.mutations);
    if let Some(p) = case.prefix {
        bytes.splice(0..0, p.bytes());
    }
    bytes
}

#[test]
fn fuzz_wallet_files() {
    let _turn = turn();
    let seeds = Arc::new(wallet_seeds());
    // The valid wallets load, as the key they state.
    for seed in seeds.iter().filter(|s| !s.secrets.is_empty()) {
        let bytes = seed.bytes.clone();
        let secrets = seed.secrets.clone();
        guarded("wallet/valid", SMALL_INPUT_BOUND, move || {
            let dir = tempfile::tempdir().expect("tempdir");
            std::fs::create_dir_all(dir.path().join("w/hotkeys")).expect("mkdir");
            std::fs::write(dir.path().join("w/hotkeys/h"), &bytes).expect("write");
            Hotkey::load(dir.path(), "w", "h", &|| None).expect("a valid wallet loads");
            wallet_round(bytes, &secrets, None);
        });
    }
    for (name, bytes) in corpus("wallet") {
        // `$NACL` files big enough to be opened cost bittensor's Argon2i (512 MiB, about 3 s):
        // once each, with a wrong password, which must still be an answer and not a hang.
        let password = name.contains("nacl").then_some("not the password");
        let (bound, deadline) = if password.is_some() {
            (NACL_BOUND, NACL_WATCHDOG)
        } else {
            (SMALL_INPUT_BOUND, WATCHDOG)
        };
        let secrets = vec![gas_tests::MINER_PHRASE.to_string()];
        guarded_within(&format!("wallet/{name}"), bound, deadline, move || {
            wallet_round(bytes, &secrets, password)
        });
    }
    fuzz("wallet", CASES.wallet, wallet_case(seeds.len()), |case| {
        let seeds = seeds.clone();
        guarded("wallet", SMALL_INPUT_BOUND, move || {
            let bytes = apply_wallet_case(&case, &seeds);
            let secrets = seeds[case.seed % seeds.len()].secrets.clone();
            wallet_round(bytes, &secrets, None)
        })
    });
}

/// Whether `text` shows any 8-character piece of `secret` (a leak, however partial).
fn leaks(text: &str, secret: &str) -> bool {
    let chars: Vec<char> = secret.chars().collect();
    chars
        .windows(8)
        .any(|w| text.contains(&w.iter().collect::<String>()))
}
