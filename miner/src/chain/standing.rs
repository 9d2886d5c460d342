//! The chain's view of what the subnet pays us (STANDING.md §2), read at one finalized
//! block: our incentive and emission, and the weight each permitted validator sets on our
//! uid as a share of its weight row.
//!
//! `SubnetInfoRuntimeApi::get_metagraph` gives every uid's incentive, emission, last update,
//! permit and total stake S, and the subnet's commit-reveal switch, in one call. The weight
//! rows come from `NeuronInfoRuntimeApi::get_neuron` for the permitted validators only: a
//! few dozen small answers, where `get_neurons` would carry every neuron's weights and bonds,
//! and a storage read of `Weights` would tie us to the pallet's key layout and hashers.
//! A runtime without `get_metagraph` is read through `get_neurons_lite` (each neuron's own
//! stake) and `get_subnet_hyperparams` (commit-reveal), as far as it has them.

use super::ChainError;
use super::codec::{self, Val};
use super::subtensor::Subtensor;
use crate::identity::ss58_encode;
use futures_util::{StreamExt, TryStreamExt};
use gas_shared::standing::{ChainStanding, WeightOnUs};
use parity_scale_codec::Encode;
use subxt_metadata::Metadata;

/// A validator whose weights were set more than this many blocks ago is stale (about a day
/// of 12-second blocks).
const STALE_BLOCKS: u64 = 7200;

/// `get_neuron` calls in flight at once.
const IN_FLIGHT: usize = 8;

/// rao per TAO.
const RAO: f64 = 1e9;

/// What one uid holds, as the chain stores it.
#[derive(Debug, Clone, PartialEq)]
struct Member {
    uid: u16,
    hotkey: [u8; 32],
    /// S when the runtime reports it, else the neuron's own stake (rao).
    stake_rao: u128,
    permit: bool,
    /// Out of `u16::MAX`.
    incentive: u16,
    emission_rao: u128,
    last_update: u64,
}

/// The subnet at one block: its members, and whether commit-reveal is on (None: the runtime
/// does not say).
#[derive(Debug, Clone, PartialEq)]
struct Roster {
    members: Vec<Member>,
    commit_reveal: Option<bool>,
}

fn unreadable(call: &str, what: impl std::fmt::Display) -> ChainError {
    ChainError::Unreadable(format!(
        "{call}: {what}; the runtime changed shape, upgrade gas-miner"
    ))
}

fn hotkey_of(v: &Val) -> Option<[u8; 32]> {
    codec::bytes(v).and_then(|b| <[u8; 32]>::try_from(b).ok())
}

fn small<T: TryFrom<u128>>(v: &Val) -> Option<T> {
    codec::number(v).and_then(|n| T::try_from(n).ok())
}

impl Roster {
    /// From `get_metagraph`'s `Some(Metagraph)`: one vector per figure, indexed by uid.
    fn from_metagraph(m: &Val) -> Result<Roster, ChainError> {
        const CALL: &str = "SubnetInfoRuntimeApi::get_metagraph";
        let list = |name: &str| {
            codec::field(m, name)
                .map(codec::items)
                .ok_or_else(|| unreadable(CALL, format!("it has no {name}")))
        };
        let hotkeys = list("hotkeys")?;
        let n = hotkeys.len();
        let column = |name: &str| -> Result<Vec<&Val>, ChainError> {
            let c = list(name)?;
            if c.len() != n {
                return Err(unreadable(
                    CALL,
                    format!("{n} hotkeys but {} {name}", c.len()),
                ));
            }
            Ok(c)
        };
        let (permits, stakes, incentives, emissions, updates) = (
            column("validator_permit")?,
            column("total_stake")?,
            column("incentives")?,
            column("emission")?,
            column("last_update")?,
        );
        let mut members = Vec::with_capacity(n);
        for (i, key) in hotkeys.into_iter().enumerate() {
            let bad = |name: &str| unreadable(CALL, format!("uid {i}'s {name} cannot be read"));
            members.push(Member {
                uid: u16::try_from(i).map_err(|_| unreadable(CALL, "more than 65536 uids"))?,
                hotkey: hotkey_of(key).ok_or_else(|| bad("hotkey"))?,
                stake_rao: codec::number(stakes[i]).ok_or_else(|| bad("total_stake"))?,
                permit: codec::boolean(permits[i]).ok_or_else(|| bad("validator_permit"))?,
                incentive: small(incentives[i]).ok_or_else(|| bad("incentive"))?,
                emission_rao: codec::number(emissions[i]).ok_or_else(|| bad("emission"))?,
                last_update: small(updates[i]).ok_or_else(|| bad("last_update"))?,
            });
        }
        Ok(Roster {
            members,
            commit_reveal: codec::field(m, "commit_reveal_weights_enabled")
                .and_then(codec::boolean),
        })
    }

    /// From `get_neurons_lite` (a runtime without `get_metagraph`): each neuron names its
    /// uid; its stake is the sum of its stakers' (alpha only, not S).
    fn from_lite(neurons: &Val) -> Result<Roster, ChainError> {
        const CALL: &str = "NeuronInfoRuntimeApi::get_neurons_lite";
        let mut members = Vec::new();
        for n in codec::items(neurons) {
            let get = |name: &str| {
                codec::field(n, name)
                    .ok_or_else(|| unreadable(CALL, format!("a neuron has no {name}")))
            };
            let bad = |name: &str| unreadable(CALL, format!("a neuron's {name} cannot be read"));
            let stake_rao = codec::items(get("stake")?)
                .into_iter()
                .map(|pair| codec::items(pair).get(1).and_then(|s| codec::number(s)))
                .sum::<Option<u128>>()
                .ok_or_else(|| bad("stake"))?;
            members.push(Member {
                uid: small(get("uid")?).ok_or_else(|| bad("uid"))?,
                hotkey: hotkey_of(get("hotkey")?).ok_or_else(|| bad("hotkey"))?,
                stake_rao,
                permit: codec::boolean(get("validator_permit")?)
                    .ok_or_else(|| bad("validator_permit"))?,
                incentive: small(get("incentive")?).ok_or_else(|| bad("incentive"))?,
                emission_rao: codec::number(get("emission")?).ok_or_else(|| bad("emission"))?,
                last_update: small(get("last_update")?).ok_or_else(|| bad("last_update"))?,
            });
        }
        members.sort_by_key(|m| m.uid);
        Ok(Roster {
            members,
            commit_reveal: None,
        })
    }
}

/// A weight row as `get_neuron` reports it (`None`: no such uid): (uid, weight) pairs.
fn weight_row(v: &Val) -> Result<Vec<(u16, u128)>, ChainError> {
    const CALL: &str = "NeuronInfoRuntimeApi::get_neuron";
    let Some(neuron) = codec::some(v) else {
        return Ok(Vec::new());
    };
    let weights =
        codec::field(neuron, "weights").ok_or_else(|| unreadable(CALL, "it has no weights"))?;
    codec::items(weights)
        .into_iter()
        .map(|pair| {
            let p = codec::items(pair);
            match (
                p.first().and_then(|u| small(u)),
                p.get(1).and_then(|w| codec::number(w)),
            ) {
                (Some(uid), Some(w)) => Ok((uid, w)),
                _ => Err(unreadable(CALL, "a weight is not a (uid, weight) pair")),
            }
        })
        .collect()
}

/// Our share of a weight row: our weight over the row's sum (0 when it sets none on us).
fn share_of(row: &[(u16, u128)], us: u16) -> f64 {
    let total: u128 = row.iter().map(|(_, w)| w).sum();
    let ours: u128 = row.iter().filter(|(u, _)| *u == us).map(|(_, w)| w).sum();
    if total == 0 {
        0.0
    } else {
        ours as f64 / total as f64
    }
}

/// The standing of `our_hotkey` in `roster` at block `block`, given each permitted
/// validator's weight row (by uid).
fn standing(
    roster: &Roster,
    our_hotkey: &str,
    netuid: u16,
    block: u64,
    rows: &[(u16, Vec<(u16, u128)>)],
) -> ChainStanding {
    let mut view = ChainStanding {
        available: true,
        block: Some(block),
        read_ms: Some(crate::clock::now_ms()),
        commit_reveal: roster.commit_reveal,
        ..ChainStanding::default()
    };
    let Some(me) = roster
        .members
        .iter()
        .find(|m| ss58_encode(&m.hotkey) == our_hotkey)
    else {
        view.reason = Some(format!(
            "not registered: hotkey {our_hotkey} has no uid on subnet {netuid} at block {block}"
        ));
        return view;
    };
    view.uid = Some(me.uid);
    view.incentive = Some(f64::from(me.incentive) / f64::from(u16::MAX));
    view.emission_alpha = Some(me.emission_rao as f64 / RAO);
    let mut weights: Vec<WeightOnUs> = roster
        .members
        .iter()
        .filter(|m| m.permit)
        .map(|v| {
            let row = rows
                .iter()
                .find(|(uid, _)| *uid == v.uid)
                .map_or(&[][..], |(_, r)| r.as_slice());
            WeightOnUs {
                hotkey: ss58_encode(&v.hotkey),
                uid: v.uid,
                stake_tao: v.stake_rao as f64 / RAO,
                share: share_of(row, me.uid),
                last_update: v.last_update,
                stale: block.saturating_sub(v.last_update) > STALE_BLOCKS,
            }
        })
        .collect();
    weights.sort_by(|a, b| b.stake_tao.total_cmp(&a.stake_tao).then(a.uid.cmp(&b.uid)));
    view.permitted = weights.len();
    view.positive = weights.iter().filter(|w| w.share > 0.0).count();
    view.weights = weights;
    view
}

fn has_api(md: &Metadata, api: &str, method: &str) -> bool {
    md.runtime_api_trait_by_name(api)
        .and_then(|t| t.method_by_name(method))
        .is_some()
}

/// Encodes runtime API arguments, checking each against the type the metadata gives it (a
/// runtime that changed an argument's type is refused rather than sent wrong bytes).
fn arguments(
    md: &Metadata,
    api: &str,
    method: &str,
    args: &[Vec<u8>],
) -> Result<Vec<u8>, ChainError> {
    let m = md
        .runtime_api_trait_by_name(api)
        .and_then(|t| t.method_by_name(method))
        .ok_or_else(|| {
            ChainError::Unreadable(format!(
                "the runtime has no {api}::{method}; upgrade gas-miner"
            ))
        })?;
    let inputs: Vec<_> = m.inputs().collect();
    if inputs.len() != args.len() {
        return Err(unreadable(
            &format!("{api}::{method}"),
            format!("it takes {} arguments, not {}", inputs.len(), args.len()),
        ));
    }
    let mut out = Vec::new();
    for (input, bytes) in inputs.iter().zip(args) {
        codec::decode(md, input.id, bytes).map_err(|e| {
            unreadable(
                &format!("{api}::{method}"),
                format!("argument {}: {e}", input.name),
            )
        })?;
        out.extend_from_slice(bytes);
    }
    Ok(out)
}

impl Subtensor {
    /// Our standing on the subnet at the finalized head (STANDING.md §2); an unregistered
    /// hotkey is an answer (`uid` None, `reason` says so), not an error.
    /// `incentive_history` is left empty: it comes from stored snapshots.
    pub async fn read_standing(&self, our_hotkey: &str) -> Result<ChainStanding, ChainError> {
        match self.standing_at_head(our_hotkey).await {
            Ok(view) => Ok(view),
            Err(e) => {
                self.drop_connection().await;
                Err(e.within(format!(
                    "reading the standing of {our_hotkey} on subnet {}",
                    self.netuid()
                )))
            }
        }
    }

    async fn standing_at_head(&self, our_hotkey: &str) -> Result<ChainStanding, ChainError> {
        let (_, _, md) = self.metadata().await?;
        let (block, _, at) = self.head().await?;
        let netuid = self.netuid();
        let roster = self.roster(&md, netuid, &at).await?;
        let Some(roster) = roster else {
            return Ok(ChainStanding {
                available: true,
                block: Some(block),
                read_ms: Some(crate::clock::now_ms()),
                reason: Some(format!(
                    "not registered: subnet {netuid} does not exist at block {block}; check BT_NETUID"
                )),
                ..ChainStanding::default()
            });
        };
        let registered = roster
            .members
            .iter()
            .any(|m| ss58_encode(&m.hotkey) == our_hotkey);
        let validators: Vec<u16> = if registered {
            roster
                .members
                .iter()
                .filter(|m| m.permit)
                .map(|m| m.uid)
                .collect()
        } else {
            Vec::new()
        };
        let rows: Vec<(u16, Vec<(u16, u128)>)> = futures_util::stream::iter(validators)
            .map(|uid| {
                let (md, at) = (&md, &at);
                async move {
                    let args = arguments(
                        md,
                        "NeuronInfoRuntimeApi",
                        "get_neuron",
                        &[netuid.encode(), uid.encode()],
                    )?;
                    let v = self
                        .runtime_api(md, "NeuronInfoRuntimeApi", "get_neuron", &args, at)
                        .await?;
                    Ok::<_, ChainError>((uid, weight_row(&v)?))
                }
            })
            .buffered(IN_FLIGHT)
            .try_collect()
            .await?;
        Ok(standing(&roster, our_hotkey, netuid, block, &rows))
    }

    /// Every uid of the subnet at block `at` (None: no such subnet).
    async fn roster(
        &self,
        md: &Metadata,
        netuid: u16,
        at: &str,
    ) -> Result<Option<Roster>, ChainError> {
        if has_api(md, "SubnetInfoRuntimeApi", "get_metagraph") {
            let args = arguments(
                md,
                "SubnetInfoRuntimeApi",
                "get_metagraph",
                &[netuid.encode()],
            )?;
            let v = self
                .runtime_api(md, "SubnetInfoRuntimeApi", "get_metagraph", &args, at)
                .await?;
            return codec::some(&v).map(Roster::from_metagraph).transpose();
        }
        let args = arguments(
            md,
            "NeuronInfoRuntimeApi",
            "get_neurons_lite",
            &[netuid.encode()],
        )?;
        let lite = self
            .runtime_api(md, "NeuronInfoRuntimeApi", "get_neurons_lite", &args, at)
            .await?;
        let mut roster = Roster::from_lite(&lite)?;
        if has_api(md, "SubnetInfoRuntimeApi", "get_subnet_hyperparams") {
            let args = arguments(
                md,
                "SubnetInfoRuntimeApi",
                "get_subnet_hyperparams",
                &[netuid.encode()],
            )?;
            let v = self
                .runtime_api(
                    md,
                    "SubnetInfoRuntimeApi",
                    "get_subnet_hyperparams",
                    &args,
                    at,
                )
                .await?;
            match codec::some(&v) {
                Some(h) => {
                    roster.commit_reveal =
                        codec::field(h, "commit_reveal_weights_enabled").and_then(codec::boolean)
                }
                None => return Ok(None),
            }
        }
        Ok(Some(roster))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use scale_value::Value;

    fn account(byte: u8) -> Value {
        Value::unnamed_composite(vec![Value::from_bytes([byte; 32])])
    }

    fn member(uid: u16, permit: bool, stake_tao: u128, last_update: u64) -> Member {
        Member {
            uid,
            hotkey: [uid as u8 + 1; 32],
            stake_rao: stake_tao * 1_000_000_000,
            permit,
            incentive: 0,
            emission_rao: 0,
            last_update,
        }
    }

    #[test]
    fn shares_are_row_normalised_and_zero_without_a_weight() {
        assert_eq!(share_of(&[(2, 1), (3, 3)], 2), 0.25);
        assert_eq!(share_of(&[(3, 3)], 2), 0.0);
        assert_eq!(share_of(&[], 2), 0.0);
    }

    #[test]
    fn validators_come_by_stake_with_shares_staleness_and_counts() {
        let mut us = member(5, false, 0, 0);
        us.incentive = u16::MAX / 2;
        us.emission_rao = 2_500_000_000;
        let roster = Roster {
            members: vec![
                member(0, true, 100, 9_000),
                member(1, true, 300, 1_000),
                member(2, false, 1_000, 9_000),
                member(3, true, 200, 9_500),
                us.clone(),
            ],
            commit_reveal: Some(true),
        };
        let rows = vec![
            (0, vec![(5, 1), (7, 1)]),
            (1, vec![(7, 10)]),
            (3, vec![(5, 40), (6, 60)]),
        ];
        let key = ss58_encode(&us.hotkey);
        let view = standing(&roster, &key, 34, 10_000, &rows);
        assert!(view.available);
        assert_eq!(view.uid, Some(5));
        assert_eq!(view.block, Some(10_000));
        assert_eq!(view.commit_reveal, Some(true));
        assert!((view.incentive.expect("incentive") - 0.5).abs() < 1e-4);
        assert_eq!(view.emission_alpha, Some(2.5));
        let got: Vec<(u16, f64, bool)> = view
            .weights
            .iter()
            .map(|w| (w.uid, w.share, w.stale))
            .collect();
        assert_eq!(got, vec![(1, 0.0, true), (3, 0.4, false), (0, 0.5, false)]);
        assert_eq!((view.positive, view.permitted), (2, 3));
        assert!(view.incentive_history.is_empty());
    }

    #[test]
    fn an_unknown_hotkey_is_not_registered() {
        let roster = Roster {
            members: vec![member(0, true, 100, 0)],
            commit_reveal: None,
        };
        let view = standing(&roster, "5Nobody", 34, 7, &[]);
        assert!(view.available);
        assert_eq!(view.uid, None);
        assert!(
            view.reason
                .as_deref()
                .is_some_and(|r| r.contains("not registered"))
        );
        assert!(view.weights.is_empty() && view.incentive.is_none());
    }

    #[test]
    fn a_lite_roster_reads_each_neurons_own_figures() {
        let neuron = |uid: u128, byte: u8, permit: bool| {
            Value::named_composite(vec![
                ("hotkey", account(byte)),
                ("uid", Value::u128(uid)),
                (
                    "stake",
                    Value::unnamed_composite(vec![
                        Value::unnamed_composite(vec![account(9), Value::u128(7)]),
                        Value::unnamed_composite(vec![account(8), Value::u128(3)]),
                    ]),
                ),
                ("validator_permit", Value::bool(permit)),
                ("incentive", Value::u128(65535)),
                ("emission", Value::u128(42)),
                ("last_update", Value::u128(99)),
            ])
        };
        let list = Value::unnamed_composite(vec![neuron(1, 2, false), neuron(0, 1, true)])
            .map_context(|_| 0u32);
        let roster = Roster::from_lite(&list).expect("reads");
        assert_eq!(roster.commit_reveal, None);
        assert_eq!(
            roster.members.first(),
            Some(&Member {
                uid: 0,
                hotkey: [1; 32],
                stake_rao: 10,
                permit: true,
                incentive: 65535,
                emission_rao: 42,
                last_update: 99,
            })
        );
        assert_eq!(roster.members.len(), 2);
    }

    #[test]
    fn a_metagraph_with_a_short_column_is_refused() {
        let m = Value::named_composite(vec![
            (
                "hotkeys",
                Value::unnamed_composite(vec![account(1), account(2)]),
            ),
            (
                "validator_permit",
                Value::unnamed_composite(vec![Value::bool(true)]),
            ),
        ])
        .map_context(|_| 0u32);
        let e = Roster::from_metagraph(&m).expect_err("refused").to_string();
        assert!(e.contains("2 hotkeys but 1 validator_permit"), "{e}");
        assert!(e.contains("upgrade gas-miner"), "{e}");
    }
}
