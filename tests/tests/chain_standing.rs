//! The chain's view of our standing (STANDING.md §2), read by the real chain client from a
//! fake subtensor node that serves the finney runtime metadata (`../shared/chain/finney.scale`;
//! skipped when absent): our incentive and emission, each permitted validator's weight on us
//! as a share of its row (largest stake first) with its staleness, the counts, commit-reveal
//! on and off, and an unregistered hotkey or subnet answered as such.

use gas_miner::chain::subtensor::Subtensor;
use gas_miner::identity::ss58_encode;
use gas_shared::standing::ChainStanding;
use gas_tests::subtensor::{FakeNeuron, FakeScores, FakeSubtensor, finney_metadata};
use gas_tests::*;

const NETUID: u16 = 34;
/// The fake node's head before the first read.
const HEAD: u64 = 5_000_000;
const US: u16 = 3;

fn tao(t: u64) -> u64 {
    t * 1_000_000_000
}

fn neuron(uid: u16, hotkey: [u8; 32], stake_tao: u64, validator_permit: bool) -> FakeNeuron {
    FakeNeuron {
        uid,
        hotkey,
        stake_rao: tao(stake_tao),
        validator_permit,
        axon: None,
    }
}

fn scores(last_update: u64, weights: Vec<(u16, u16)>) -> FakeScores {
    FakeScores {
        last_update,
        weights,
        ..FakeScores::default()
    }
}

/// uid 0 weights us (a quarter of its row), uid 1 weights only another miner, uid 2 set its
/// weights long ago and none on us, uid 3 is us, uid 4 has stake but no permit (and would
/// give us everything: it must not count).
async fn node() -> Option<FakeSubtensor> {
    let Some(metadata) = finney_metadata() else {
        println!("SKIPPED: ../shared/chain/finney.scale not found (set GAS_SHARED_DIR)");
        return None;
    };
    let node = FakeSubtensor::start(
        &metadata,
        NETUID,
        vec![
            neuron(0, [10; 32], 50_000, true),
            neuron(1, [11; 32], 80_000, true),
            neuron(2, [12; 32], 20_000, true),
            neuron(US, key(MINER_PHRASE).public_key(), 0, false),
            neuron(4, [14; 32], 90_000, false),
        ],
    )
    .await;
    node.set_scores(0, scores(HEAD - 100, vec![(US, 100), (4, 300)]));
    node.set_scores(1, scores(HEAD - 50, vec![(4, 65_535)]));
    node.set_scores(2, scores(HEAD - 7_300, vec![]));
    node.set_scores(
        US,
        FakeScores {
            incentive: 16_384,
            emission_rao: 1_500_000_000,
            last_update: HEAD - 10,
            weights: vec![],
        },
    );
    node.set_scores(4, scores(HEAD - 10, vec![(US, 65_535)]));
    Some(node)
}

async fn read(node: &FakeSubtensor, netuid: u16, phrase: &str) -> ChainStanding {
    Subtensor::new(&node.url(), netuid)
        .read_standing(key(phrase).ss58())
        .await
        .expect("the standing is read")
}

#[tokio::test]
async fn the_chain_says_what_each_permitted_validator_gives_us() {
    let Some(node) = node().await else {
        return;
    };
    let view = read(&node, NETUID, MINER_PHRASE).await;
    let head = node.lock().block;
    assert!(view.available);
    assert_eq!(view.reason, None);
    assert_eq!(view.block, Some(head));
    assert!(view.read_ms.is_some_and(|ms| ms > 0));
    assert_eq!(view.uid, Some(US));
    let incentive = view.incentive.expect("incentive");
    assert!(
        (incentive - 16_384.0 / 65_535.0).abs() < 1e-9,
        "{incentive}"
    );
    assert_eq!(view.emission_alpha, Some(1.5));
    assert_eq!(view.commit_reveal, Some(false));
    let got: Vec<(u16, String, f64, f64, u64, bool)> = view
        .weights
        .iter()
        .map(|w| {
            (
                w.uid,
                w.hotkey.clone(),
                w.stake_tao,
                w.share,
                w.last_update,
                w.stale,
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (1, ss58_encode(&[11; 32]), 80_000.0, 0.0, HEAD - 50, false),
            (0, ss58_encode(&[10; 32]), 50_000.0, 0.25, HEAD - 100, false),
            (2, ss58_encode(&[12; 32]), 20_000.0, 0.0, HEAD - 7_300, true),
        ]
    );
    assert_eq!((view.positive, view.permitted), (1, 3));
    assert!(view.incentive_history.is_empty());
    // One metagraph and one weight row per permitted validator, nothing heavier.
    let methods = node.lock().methods.clone();
    let calls = |m: &str| methods.iter().filter(|x| x.as_str() == m).count();
    assert_eq!(calls("state_call SubnetInfoRuntimeApi_get_metagraph"), 1);
    assert_eq!(calls("state_call NeuronInfoRuntimeApi_get_neuron"), 3);
    assert_eq!(calls("state_call NeuronInfoRuntimeApi_get_neurons"), 0);
}

#[tokio::test]
async fn commit_reveal_is_reported_on_and_off() {
    let Some(node) = node().await else {
        return;
    };
    node.set_commit_reveal(true);
    assert_eq!(
        read(&node, NETUID, MINER_PHRASE).await.commit_reveal,
        Some(true)
    );
    node.set_commit_reveal(false);
    assert_eq!(
        read(&node, NETUID, MINER_PHRASE).await.commit_reveal,
        Some(false)
    );
}

#[tokio::test]
async fn an_unregistered_hotkey_has_no_uid_and_a_reason() {
    let Some(node) = node().await else {
        return;
    };
    let view = read(&node, NETUID, OUTSIDER_PHRASE).await;
    assert!(view.available);
    assert_eq!(view.uid, None);
    assert!(view.block.is_some());
    let reason = view.reason.expect("a reason");
    assert!(reason.contains("not registered"), "{reason}");
    assert!(reason.contains(key(OUTSIDER_PHRASE).ss58()), "{reason}");
    assert_eq!((view.incentive, view.emission_alpha), (None, None));
    assert!(view.weights.is_empty());
    assert_eq!((view.positive, view.permitted), (0, 0));
    // No weight rows are read for a hotkey that has no uid.
    let methods = node.lock().methods.clone();
    assert!(
        !methods
            .iter()
            .any(|m| m == "state_call NeuronInfoRuntimeApi_get_neuron")
    );

    let elsewhere = read(&node, 99, MINER_PHRASE).await;
    assert_eq!(elsewhere.uid, None);
    let reason = elsewhere.reason.expect("a reason");
    assert!(
        reason.contains("not registered") && reason.contains("subnet 99 does not exist"),
        "{reason}"
    );
}

#[tokio::test]
async fn a_failed_read_names_the_call_and_the_hotkey() {
    let Some(node) = node().await else {
        return;
    };
    node.lock().fail_metagraph = true;
    let e = Subtensor::new(&node.url(), NETUID)
        .read_standing(key(MINER_PHRASE).ss58())
        .await
        .expect_err("the metagraph call fails")
        .to_string();
    assert!(e.contains("SubnetInfoRuntimeApi::get_metagraph"), "{e}");
    assert!(e.contains(key(MINER_PHRASE).ss58()), "{e}");
    assert!(e.contains("timeout"), "{e}");
}
