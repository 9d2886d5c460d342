//! Parity with the Python `bittensor-wallet` package, using the vectors in `../shared/vectors`
//! (made with the real library). Skipped, saying so, where `../shared` is absent.

use gas_miner::chain::{Metagraph, Neuron};
use gas_miner::epistula::{ReplayCache, Verifier, sha256_hex, sign_headers};
use gas_miner::identity::{Hotkey, decode_hex, ss58_decode, verify};
use serde_json::Value;
use std::path::PathBuf;

fn vectors() -> Option<PathBuf> {
    let dir = std::env::var_os("GAS_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared"))
        .join("vectors");
    if dir.join("epistula.json").is_file() {
        Some(dir)
    } else {
        eprintln!(
            "SKIPPED: {} not found (set GAS_SHARED_DIR to the shared/ folder to run the Python parity vectors)",
            dir.display()
        );
        None
    }
}

fn doc(dir: &std::path::Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("epistula.json")).expect("read"))
        .expect("json")
}

#[test]
fn keys_from_the_vector_mnemonics_match_python() {
    let Some(dir) = vectors() else { return };
    let doc = doc(&dir);
    for (name, k) in doc["keys"].as_object().expect("keys") {
        let key = Hotkey::from_mnemonic(k["mnemonic"].as_str().expect("mnemonic")).expect("key");
        assert_eq!(key.ss58(), k["ss58"], "{name}");
        assert_eq!(
            format!("0x{}", hex::encode(key.public_key())),
            k["public_key"],
            "{name}"
        );
    }
    let plain = &doc["plain_signature"];
    let public = ss58_decode(doc["keys"]["miner"]["ss58"].as_str().expect("ss58")).expect("decode");
    let sig = decode_hex(plain["signature"].as_str().expect("sig")).expect("hex");
    assert!(verify(
        &public,
        plain["message_utf8"].as_str().expect("msg").as_bytes(),
        &sig
    ));
    assert!(!verify(&public, b"abd", &sig));
}

fn verifier_check(
    doc: &Value,
    request: &str,
    headers: &[(String, String)],
    body: &[u8],
    now: i64,
) -> Result<(), String> {
    let validator = doc["keys"]["validator"]["ss58"]
        .as_str()
        .expect("ss58")
        .to_string();
    let miner = doc["keys"]["miner"]["ss58"].as_str().expect("ss58");
    let graph = Metagraph::new(
        34,
        vec![Neuron {
            uid: 3,
            hotkey: validator,
            stake: 30000.0,
            validator_permit: true,
            axon: None,
        }],
    );
    let replay = ReplayCache::default();
    let v = Verifier {
        own_hotkey: miner,
        metagraph: &graph,
        force_validator_permit: true,
        replay: &replay,
    };
    let mut map = axum::http::HeaderMap::new();
    for (k, val) in headers {
        map.insert(
            axum::http::HeaderName::from_bytes(k.to_ascii_lowercase().as_bytes()).expect("name"),
            val.parse().expect("value"),
        );
    }
    v.check(&map, body, now)
        .map(|_| ())
        .map_err(|r| format!("{request}: {} {}", r.status, r.detail))
}

#[test]
fn requests_signed_by_python_verify_and_ours_verify_the_same_way() {
    let Some(dir) = vectors() else { return };
    let doc = doc(&dir);
    for request in ["gen_video_request", "miner_info_request"] {
        let r = &doc[request];
        let body = r["body_utf8"].as_str().expect("body").as_bytes();
        let ts = r["timestamp_ms"].as_i64().expect("ts");
        let headers: Vec<(String, String)> = r["headers"]
            .as_object()
            .expect("headers")
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().expect("str").to_string()))
            .collect();
        let get = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .expect(name)
        };
        assert_eq!(
            format!(
                "{}.{}.{}.{}",
                sha256_hex(body),
                get("Epistula-Uuid"),
                ts,
                get("Epistula-Signed-For")
            ),
            r["signed_message"].as_str().expect("msg")
        );
        verifier_check(&doc, request, &headers, body, ts + 1000)
            .expect("python's request verifies");
        assert!(verifier_check(&doc, request, &headers, b"tampered", ts + 1000).is_err());
        assert!(
            verifier_check(&doc, request, &headers, body, ts + 16_000)
                .expect_err("stale")
                .contains("too stale")
        );
        // Ours, from the same key, under the same rules.
        let validator =
            Hotkey::from_mnemonic(doc["keys"]["validator"]["mnemonic"].as_str().expect("m"))
                .expect("key");
        let ours: Vec<(String, String)> = sign_headers(
            &validator,
            &sha256_hex(body),
            Some(&get("Epistula-Signed-For")),
            ts,
        )
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        verifier_check(&doc, request, &ours, body, ts).expect("our request verifies");
        let names: Vec<&str> = ours.iter().map(|(k, _)| k.as_str()).collect();
        for (k, _) in &headers {
            if k.starts_with("Epistula") {
                assert!(names.contains(&k.as_str()), "we send {k} as Python does");
            }
        }
    }
}

#[test]
fn wallet_files_written_by_python_load() {
    let Some(dir) = vectors() else { return };
    let doc = doc(&dir);
    let wallets = dir.join("wallets");
    let miner_ss58 = doc["keys"]["miner"]["ss58"].as_str().expect("ss58");
    let plain = Hotkey::load(&wallets, "miner", "default", &|| None).expect("plain hotkey");
    assert_eq!(plain.ss58(), miner_ss58);
    let password = doc["wallets"]["encrypted_hotkey"]["password"]
        .as_str()
        .expect("pw")
        .to_string();
    let locked = Hotkey::load(&wallets, "locked", "default", &|| Some(password.clone()))
        .expect("encrypted hotkey");
    let file: Value = serde_json::from_slice(
        &std::fs::read(wallets.join("miner/hotkeys/default")).expect("read"),
    )
    .expect("json");
    assert!(locked.ss58().starts_with('5'));
    assert!(!file.is_null());
    let wrong = Hotkey::load(&wallets, "locked", "default", &|| Some("hunter3".into()))
        .expect_err("wrong password");
    assert!(wrong.to_string().contains("wrong password"), "{wrong}");
    let none = Hotkey::load(&wallets, "locked", "default", &|| None).expect_err("no password");
    assert!(none.to_string().contains("BT_HOTKEY_PASSWORD"), "{none}");
}

#[test]
fn each_secret_field_alone_rebuilds_the_python_key() {
    let Some(dir) = vectors() else { return };
    let file: Value = serde_json::from_slice(
        &std::fs::read(dir.join("wallets/miner/hotkeys/default")).expect("read"),
    )
    .expect("json");
    let want = file["ss58Address"].as_str().expect("ss58");
    let seed = decode_hex(file["secretSeed"].as_str().expect("seed")).expect("hex");
    assert_eq!(Hotkey::from_seed(&seed).expect("seed key").ss58(), want);
    let private = decode_hex(file["privateKey"].as_str().expect("pk")).expect("hex");
    assert_eq!(
        Hotkey::from_private_key(&private)
            .expect("private key")
            .ss58(),
        want
    );
}
