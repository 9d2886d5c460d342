//! The real chain client against a fake subtensor node on 127.0.0.1 that serves the finney
//! runtime metadata (`../shared/chain/finney.scale`; skipped when absent): the metagraph is
//! decoded (uids, stakes, permits) and re-synced, a `serve_axon` arrives signed by our hotkey
//! with the right arguments and only when needed, an unreachable node at start-up falls back
//! to the saved metagraph and says it is stale, and an unregistered hotkey stops the start.

use gas_miner::chain::codec;
use gas_tests::subtensor::{FakeNeuron, FakeSubtensor, finney_metadata};
use gas_tests::*;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(30);
const EXTERNAL_IP: &str = "203.0.113.9";

fn public(phrase: &str) -> [u8; 32] {
    key(phrase).public_key()
}

fn tao(t: u64) -> u64 {
    t * 1_000_000_000
}

fn neurons(miner_axon: Option<(u128, u16, u64)>) -> Vec<FakeNeuron> {
    vec![
        FakeNeuron {
            uid: 0,
            hotkey: public(VALIDATOR_PHRASE),
            stake_rao: tao(50_000),
            validator_permit: true,
            axon: Some((0x0a00_0001, 10525, 10)),
        },
        FakeNeuron {
            uid: 1,
            hotkey: public(POOR_PHRASE),
            stake_rao: tao(100),
            validator_permit: false,
            axon: None,
        },
        FakeNeuron {
            uid: 2,
            hotkey: public(MINER_PHRASE),
            stake_rao: 0,
            validator_permit: false,
            axon: miner_axon,
        },
    ]
}

/// A node (or `None` when the finney metadata is absent) and a miner fixture using it.
async fn setup(
    miner_axon: Option<(u128, u16, u64)>,
) -> Option<(FakeSubtensor, FakeValidator, Fixture)> {
    let Some(metadata) = finney_metadata() else {
        println!("SKIPPED: ../shared/chain/finney.scale not found (set GAS_SHARED_DIR)");
        return None;
    };
    install_crypto();
    let node = FakeSubtensor::start(&metadata, 34, neurons(miner_axon)).await;
    let providers = FakeProviders::start().await;
    let validator = FakeValidator::start(&key(VALIDATOR_PHRASE), &key(MINER_PHRASE)).await;
    let mut fixture = Fixture::new(&providers);
    fixture.unset("BT_METAGRAPH_FILE");
    fixture.set("BT_CHAIN_ENDPOINT", &node.url());
    fixture.set("BT_NETUID", "34");
    fixture.set("BT_AXON_EXTERNAL_IP", EXTERNAL_IP);
    fixture.set("MINER_METAGRAPH_SYNC", "1");
    Some((node, validator, fixture))
}

fn our_ip() -> u128 {
    u128::from(u32::from(
        EXTERNAL_IP.parse::<std::net::Ipv4Addr>().expect("ip"),
    ))
}

async fn challenge_status(
    fixture: &Fixture,
    phrase: &str,
    validator: &FakeValidator,
) -> (u16, Value) {
    Challenger::new(&fixture.base(), phrase)
        .challenge(
            "/gen_image",
            &json!({"prompt": "a heron"}),
            &validator.url(),
        )
        .await
}

async fn wait_until(what: &str, miner: &Miner, mut ok: impl AsyncFnMut() -> bool) {
    let start = Instant::now();
    while !ok().await {
        assert!(
            start.elapsed() < WAIT,
            "timed out waiting for {what}:\n{}",
            miner.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_chain_metagraph_decides_who_may_call_and_stake_changes_are_picked_up() {
    let Some((node, validator, fixture)) = setup(Some((our_ip(), 0, 1))).await else {
        return;
    };
    // Our axon is on chain at the right address but another port: one serve_axon is due.
    let miner = fixture.start();
    let v = Challenger::new(&fixture.base(), VALIDATOR_PHRASE);
    let (status, info) = v.get("/miner_info").await;
    assert_eq!(status, 200);
    assert_eq!(
        (info["uid"].as_u64(), info["netuid"].as_u64()),
        (Some(2), Some(34))
    );
    assert_eq!(info["registered"], true);
    assert!(
        info["metagraph"]["source"]
            .as_str()
            .is_some_and(|s| s.starts_with("chain ws://")),
        "{info}"
    );
    assert!(
        info["metagraph"]["block"]
            .as_u64()
            .is_some_and(|b| b > 5_000_000),
        "{info}"
    );
    assert_eq!(info["metagraph"]["stale"], false);

    let (status, _) = challenge_status(&fixture, VALIDATOR_PHRASE, &validator).await;
    assert_eq!(status, 201, "a validator with 50000 TAO of S is served");
    let (status, reply) = challenge_status(&fixture, POOR_PHRASE, &validator).await;
    assert_eq!(
        (status, reply["detail"].as_str()),
        (401, Some("Stake below minimum: 100.0")),
        "S comes from the total stake, not the neuron's alpha"
    );

    // The poor validator is staked up, the rich one drained: the next sync sees both.
    {
        let mut s = node.lock();
        s.neurons[1].stake_rao = tao(30_000);
        s.neurons[0].stake_rao = tao(10);
    }
    wait_until("the stake change to reach the miner", &miner, async || {
        challenge_status(&fixture, POOR_PHRASE, &validator).await.0 == 201
    })
    .await;
    let (status, reply) = challenge_status(&fixture, VALIDATOR_PHRASE, &validator).await;
    assert_eq!(
        (status, reply["detail"].as_str()),
        (401, Some("Stake below minimum: 10.0"))
    );
    assert!(
        node.lock()
            .methods
            .iter()
            .any(|m| m == "state_call NeuronInfoRuntimeApi_get_neurons_lite")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_axon_arrives_signed_by_our_hotkey_and_only_when_the_chain_differs() {
    let Some((node, _validator, fixture)) = setup(None).await else {
        return;
    };
    let miner = fixture.start();
    wait_until("a serve_axon extrinsic", &miner, async || {
        !node.submitted().is_empty()
    })
    .await;
    let sub = node.submitted().remove(0);
    assert!(
        sub.signature_valid,
        "sr25519 signature by our hotkey verifies: {sub:?}"
    );
    assert_eq!(sub.signer, key(MINER_PHRASE).ss58());
    assert_eq!((sub.pallet, sub.call), (7, 4), "SubtensorModule.serve_axon");
    assert_eq!(sub.netuid, 34);
    assert_eq!(sub.ip, our_ip());
    assert_eq!(sub.port, fixture.port);
    assert_eq!((sub.ip_type, sub.protocol), (4, 4));
    assert_eq!(sub.version, 1000, "0.1.0 as major·1e6 + minor·1e3 + patch");
    assert_eq!(sub.nonce, 0);
    assert_eq!(
        sub.extensions.last().map(String::as_str),
        Some("CheckMetadataHash"),
        "every extension of the runtime, in order: {:?}",
        sub.extensions
    );
    assert!(
        sub.extensions
            .iter()
            .any(|e| e == "SubtensorTransactionExtension")
    );
    drop(miner);

    // The chain now has our axon: a restart sends nothing.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let miner = fixture.start();
    wait_until("the axon check", &miner, async || {
        miner.log().contains("axon on chain matches ours")
    })
    .await;
    assert_eq!(
        node.submitted().len(),
        1,
        "no extrinsic when the chain already has our axon"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_recent_axon_change_is_rate_limited_and_not_sent() {
    let Some((node, _validator, fixture)) = setup(Some((0x0a00_0002, 9999, 0))).await else {
        return;
    };
    {
        let mut s = node.lock();
        let head = s.block;
        s.neurons[2].axon = Some((0x0a00_0002, 9999, head));
        s.serving_rate_limit = 100_000;
    }
    let miner = fixture.start();
    wait_until("the rate limit to be reported", &miner, async || {
        miner.log().contains("serve_axon not sent: rate limited")
    })
    .await;
    assert!(node.submitted().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn with_the_node_down_the_saved_metagraph_serves_and_is_reported_stale() {
    let Some((node, validator, fixture)) = setup(Some((our_ip(), 0, 0))).await else {
        return;
    };
    let mut miner = fixture.start();
    let v = Challenger::new(&fixture.base(), VALIDATOR_PHRASE);
    assert_eq!(v.get("/miner_info").await.1["metagraph"]["stale"], false);
    // Down while running: requests are still answered at once, from the last good copy.
    node.stop();
    let started = Instant::now();
    let (status, _) = challenge_status(&fixture, VALIDATOR_PHRASE, &validator).await;
    assert_eq!(status, 201);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "a dead node never stalls a request"
    );
    wait_until("the failed sync to be reported", &miner, async || {
        v.get("/miner_info").await.1["metagraph"]["stale"] == true
    })
    .await;
    miner.kill9();

    // Down at start-up: the saved copy is used, and said to be stale.
    let miner = fixture.start();
    assert!(
        miner
            .log()
            .contains("the chain is unreachable; serving the last good metagraph"),
        "{}",
        miner.log()
    );
    let (_, info) = v.get("/miner_info").await;
    assert_eq!(
        (info["metagraph"]["stale"].as_bool(), info["uid"].as_u64()),
        (Some(true), Some(2)),
        "{info}"
    );
    assert_eq!(
        challenge_status(&fixture, VALIDATOR_PHRASE, &validator)
            .await
            .0,
        201
    );

    // Back up on the same address: the next syncs reconnect.
    let _node = node.clone().listen(node.addr).await;
    wait_until("the sync to work again", &miner, async || {
        v.get("/miner_info").await.1["metagraph"]["stale"] == false
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unregistered_hotkey_stops_the_start_with_the_fix() {
    let Some((node, _validator, fixture)) = setup(None).await else {
        return;
    };
    node.lock().neurons.retain(|n| n.uid != 2);
    let out = std::process::Command::new(miner_bin())
        .arg("run")
        .env_clear()
        .env("HOME", fixture.dir.path())
        .envs(fixture.env.iter().map(|(k, v)| (k, v)))
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "hotkey {} (miner/default) is not registered on subnet 34",
            key(MINER_PHRASE).ss58()
        )) && stderr.contains("btcli subnet register --netuid 34"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_newly_registered_validator_is_found_by_an_on_demand_sync() {
    let Some((node, validator, mut fixture)) = setup(Some((our_ip(), 0, 0))).await else {
        return;
    };
    fixture.set("MINER_METAGRAPH_SYNC", "600");
    let miner = fixture.start();
    let (status, reply) = challenge_status(&fixture, OUTSIDER_PHRASE, &validator).await;
    assert_eq!(
        (status, reply["detail"].as_str()),
        (401, Some("Signer not in metagraph"))
    );
    node.lock().neurons.push(FakeNeuron {
        uid: 3,
        hotkey: public(OUTSIDER_PHRASE),
        stake_rao: tao(40_000),
        validator_permit: true,
        axon: None,
    });
    wait_until("the newcomer to be served", &miner, async || {
        challenge_status(&fixture, OUTSIDER_PHRASE, &validator)
            .await
            .0
            == 201
    })
    .await;
}

/// The call bytes match the known encoding of serve_axon (CHAIN.md's example).
#[test]
fn serve_axon_call_bytes_match_the_documented_example() {
    use parity_scale_codec::Encode;
    let Some(path) = finney_metadata() else {
        println!("SKIPPED: ../shared/chain/finney.scale not found (set GAS_SHARED_DIR)");
        return;
    };
    let raw = std::fs::read(path).expect("metadata");
    let md = <subxt_metadata::Metadata as parity_scale_codec::Decode>::decode(&mut &raw[..])
        .expect("decodes");
    let call = codec::call_bytes(
        &md,
        "SubtensorModule",
        "serve_axon",
        &[
            ("netuid", 1u16.encode()),
            ("version", 1u32.encode()),
            ("ip", u128::from(0x0102_0304u32).encode()),
            ("port", 8091u16.encode()),
            ("ip_type", 4u8.encode()),
            ("protocol", 4u8.encode()),
            ("placeholder1", 0u8.encode()),
            ("placeholder2", 0u8.encode()),
        ],
    )
    .expect("call");
    let documented = format!(
        "0704{}{}{}{}{}{}{}{}",
        "0100",
        "01000000",
        format_args!("04030201{}", "00".repeat(12)),
        "9b1f",
        "04",
        "04",
        "00",
        "00"
    );
    assert_eq!(hex::encode(call), documented);
    let wrong = codec::call_bytes(
        &md,
        "SubtensorModule",
        "serve_axon",
        &[("netuid", 1u16.encode())],
    );
    assert!(
        wrong
            .expect_err("refused")
            .to_string()
            .contains("upgrade gas-miner")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_client_decodes_uids_stakes_permits_and_axons() {
    let Some((node, _validator, _fixture)) = setup(Some((our_ip(), 8091, 77))).await else {
        return;
    };
    let client = gas_miner::chain::subtensor::Subtensor::new(&node.url(), 34);
    let (graph, rate_limit) = client.read_metagraph().await.expect("metagraph");
    assert_eq!(graph.netuid, 34);
    assert_eq!(rate_limit, Some(50));
    let got: Vec<(u16, String, f64, bool)> = graph
        .neurons()
        .iter()
        .map(|n| (n.uid, n.hotkey.clone(), n.stake, n.validator_permit))
        .collect();
    assert_eq!(
        got,
        vec![
            (0, key(VALIDATOR_PHRASE).ss58().to_string(), 50_000.0, true),
            (1, key(POOR_PHRASE).ss58().to_string(), 100.0, false),
            (2, key(MINER_PHRASE).ss58().to_string(), 0.0, false),
        ]
    );
    let axon = graph.neurons()[2].axon.clone().expect("axon");
    assert_eq!(
        (axon.to_string(), axon.block),
        (format!("{EXTERNAL_IP}:8091"), 77)
    );
    let other = gas_miner::chain::subtensor::Subtensor::new(&node.url(), 7);
    assert!(
        other
            .read_metagraph()
            .await
            .expect("empty subnet")
            .0
            .is_empty()
    );
}

/// A payload over 256 bytes is signed by its BLAKE2b-256 hash, as Substrate requires.
#[tokio::test(flavor = "multi_thread")]
async fn a_long_call_is_signed_by_its_hash() {
    use parity_scale_codec::Encode;
    let Some((node, _validator, _fixture)) = setup(None).await else {
        return;
    };
    let raw = std::fs::read(finney_metadata().expect("metadata")).expect("read");
    let md = <subxt_metadata::Metadata as parity_scale_codec::Decode>::decode(&mut &raw[..])
        .expect("decodes");
    let remark = vec![7u8; 400];
    let call =
        codec::call_bytes(&md, "System", "remark", &[("remark", remark.encode())]).expect("call");
    let head = node.lock().block;
    let chain = codec::ChainState {
        spec_version: gas_tests::subtensor::SPEC_VERSION,
        transaction_version: gas_tests::subtensor::TX_VERSION,
        genesis: gas_tests::subtensor::block_hash(0),
        block_number: head,
        block_hash: gas_tests::subtensor::block_hash(head),
        nonce: 3,
    };
    let xt = codec::signed_extrinsic(&md, &call, &chain, &key(MINER_PHRASE)).expect("signed");
    let seen = node.check_extrinsic(&xt).expect("decodes");
    assert!(seen.signature_valid, "{seen:?}");
    assert_eq!(seen.nonce, 3);
    let mut tampered = xt.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    assert!(
        !node
            .check_extrinsic(&tampered)
            .expect("decodes")
            .signature_valid
    );
}

/// Without total stake the copy would measure validators by alpha alone: the sync fails and
/// the last good copy stays.
#[tokio::test(flavor = "multi_thread")]
async fn a_failing_total_stake_call_keeps_the_last_good_metagraph() {
    let Some((node, validator, fixture)) = setup(Some((our_ip(), 0, 0))).await else {
        return;
    };
    let miner = fixture.start();
    let v = Challenger::new(&fixture.base(), VALIDATOR_PHRASE);
    node.lock().fail_metagraph = true;
    node.lock().neurons[0].stake_rao = tao(39_000);
    wait_until("the failed sync to be reported", &miner, async || {
        v.get("/miner_info").await.1["metagraph"]["stale"] == true
    })
    .await;
    // 39000 TAO of S is 19500 of alpha: had the alpha been used, this would be refused.
    assert_eq!(
        challenge_status(&fixture, VALIDATOR_PHRASE, &validator)
            .await
            .0,
        201
    );
    assert!(miner.log().contains("get_metagraph"), "{}", miner.log());
}

/// The running miner's chain view (`/standing`): our incentive, the weight our validator sets
/// on us as a share of its row, commit-reveal, and the incentive kept over time.
#[tokio::test(flavor = "multi_thread")]
async fn the_miner_shows_what_the_chain_pays_it() {
    let Some((node, _validator, fixture)) = setup(Some((our_ip(), 0, 1))).await else {
        return;
    };
    node.set_scores(
        2,
        gas_tests::subtensor::FakeScores {
            incentive: 6553,
            emission_rao: 2_000_000_000,
            last_update: 0,
            weights: vec![],
        },
    );
    node.set_scores(
        0,
        gas_tests::subtensor::FakeScores {
            weights: vec![(2, 300), (1, 900)],
            ..Default::default()
        },
    );
    node.set_commit_reveal(true);
    let miner = fixture.start();
    let socket = fixture.dir.path().join("state/admin.sock");
    let refresh = async || -> gas_shared::standing::StandingView {
        gas_client::get_json(&socket, "POST", "/standing/refresh", None)
            .await
            .expect("refresh")
    };
    let s = refresh().await;
    let c = &s.chain;
    assert!(c.available, "{c:?}\n{}", miner.log());
    assert_eq!(c.uid, Some(2));
    assert!((c.incentive.expect("incentive") - 6553.0 / 65535.0).abs() < 1e-9);
    assert_eq!(c.emission_alpha, Some(2.0));
    assert_eq!(c.commit_reveal, Some(true));
    assert_eq!((c.permitted, c.positive), (1, 1));
    assert!((c.weights[0].share - 0.25).abs() < 1e-9, "{:?}", c.weights);
    // Our validator's row in the joined table carries its weight.
    let me = key(VALIDATOR_PHRASE).ss58().to_string();
    let row = s.validators.iter().find(|v| v.hotkey == me).expect("row");
    assert!((row.weight_share.expect("share") - 0.25).abs() < 1e-9);
    // Kept over time: a second read adds a point to the incentive line.
    let s = refresh().await;
    assert_eq!(s.chain.incentive_history.len(), 2, "{:?}", s.chain);
}
