//! A fake subtensor node on 127.0.0.1: WebSocket JSON-RPC (jsonrpsee's server) answering what
//! a client needs, from the real finney runtime metadata (`../shared/chain/finney.scale`): the
//! metadata itself, runtime version, block hashes and headers, account nonces, and
//! `state_call` of `NeuronInfoRuntimeApi_get_neurons_lite`, `NeuronInfoRuntimeApi_get_neuron`,
//! `SubnetInfoRuntimeApi_get_metagraph` and `SubnetInfoRuntimeApi_get_subnet_hyperparams`
//! built from neurons the test chooses (with the incentive, emission, last update and weights
//! it sets per uid, and commit-reveal on or off), encoded with the metadata's own types. Submitted extrinsics are decoded with the metadata (every transaction
//! extension in order), their sr25519 signature checked, and a valid `serve_axon` applied.

use gas_miner::identity::{ss58_encode, verify};
use jsonrpsee::server::{RpcModule, Server, ServerHandle};
use jsonrpsee::types::ErrorObjectOwned;
use parity_scale_codec::{Compact, Decode, Encode};
use scale_info::{PortableRegistry, TypeDef, TypeDefPrimitive};
use scale_value::{Composite, Value, ValueDef};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use subxt_metadata::Metadata;

pub const SPEC_VERSION: u32 = 377;
pub const TX_VERSION: u32 = 1;

/// A neuron as the test sets it up.
#[derive(Debug, Clone)]
pub struct FakeNeuron {
    pub uid: u16,
    pub hotkey: [u8; 32],
    pub stake_rao: u64,
    pub validator_permit: bool,
    /// (ip, port, block set at)
    pub axon: Option<(u128, u16, u64)>,
}

/// What the chain holds for a uid beyond [`FakeNeuron`]: the figures the epoch writes and the
/// weights the neuron last set. A uid without an entry has zeros and no weights.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FakeScores {
    /// Out of `u16::MAX`, as the chain stores it.
    pub incentive: u16,
    pub emission_rao: u64,
    pub last_update: u64,
    /// (uid, weight), as set by `set_weights` (a zero weight is not reported, as on chain).
    pub weights: Vec<(u16, u16)>,
}

/// A `serve_axon` the node received, decoded.
#[derive(Debug, Clone)]
pub struct Submitted {
    pub signer: String,
    pub signature_valid: bool,
    pub pallet: u8,
    pub call: u8,
    pub netuid: u16,
    pub version: u32,
    pub ip: u128,
    pub port: u16,
    pub ip_type: u8,
    pub protocol: u8,
    pub nonce: u64,
    /// Identifiers of the transaction extensions found, in order.
    pub extensions: Vec<String>,
}

pub struct NodeState {
    pub netuid: u16,
    pub neurons: Vec<FakeNeuron>,
    pub block: u64,
    pub serving_rate_limit: u64,
    pub nonce: u32,
    pub submitted: Vec<Submitted>,
    pub methods: Vec<String>,
    /// `get_metagraph` answers with an error (a heavy call timing out, say).
    pub fail_metagraph: bool,
    /// Per uid: incentive, emission, last update and weights.
    pub scores: HashMap<u16, FakeScores>,
    /// `CommitRevealWeightsEnabled` for the subnet.
    pub commit_reveal: bool,
}

impl NodeState {
    /// The scores of `uid` (zeros and no weights when the test set none).
    pub fn scores_of(&self, uid: u16) -> FakeScores {
        self.scores.get(&uid).cloned().unwrap_or_default()
    }

    /// The neurons in uid order, as the chain lists them.
    fn by_uid(&self) -> Vec<&FakeNeuron> {
        let mut v: Vec<&FakeNeuron> = self.neurons.iter().collect();
        v.sort_by_key(|n| n.uid);
        v
    }
}

#[derive(Clone)]
pub struct FakeSubtensor {
    pub addr: SocketAddr,
    pub state: Arc<Mutex<NodeState>>,
    handle: Arc<Mutex<Option<ServerHandle>>>,
    md: Arc<Metadata>,
    raw: Arc<Vec<u8>>,
}

/// `../shared/chain/finney.scale`, when `../shared` is present.
pub fn finney_metadata() -> Option<PathBuf> {
    crate::shared_path("chain/finney.scale")
}

/// BLAKE2b-256, written here rather than borrowed from the client under test.
fn blake2_256(data: &[u8]) -> [u8; 32] {
    use blake2::Digest;
    let mut h = blake2::Blake2b::<blake2::digest::consts::U32>::new();
    h.update(data);
    h.finalize().into()
}

pub fn block_hash(n: u64) -> [u8; 32] {
    let mut data = b"block".to_vec();
    data.extend_from_slice(&n.to_le_bytes());
    blake2_256(&data)
}

fn rpc_error(code: i32, message: impl Into<String>) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(code, message.into(), None::<()>)
}

impl FakeSubtensor {
    /// Starts a node for subnet `netuid` with `neurons`, on a free port.
    pub async fn start(metadata: &Path, netuid: u16, neurons: Vec<FakeNeuron>) -> FakeSubtensor {
        let raw = std::fs::read(metadata).expect("metadata file");
        let md = Metadata::decode(&mut &raw[..]).expect("metadata decodes");
        let node = FakeSubtensor {
            addr: "127.0.0.1:0".parse().expect("addr"),
            state: Arc::new(Mutex::new(NodeState {
                netuid,
                neurons,
                block: 5_000_000,
                serving_rate_limit: 50,
                nonce: 0,
                submitted: Vec::new(),
                methods: Vec::new(),
                fail_metagraph: false,
                scores: HashMap::new(),
                commit_reveal: false,
            })),
            handle: Arc::default(),
            md: Arc::new(md),
            raw: Arc::new(raw),
        };
        node.listen("127.0.0.1:0".parse().expect("addr")).await
    }

    /// Serves on `addr` (again, after [`FakeSubtensor::stop`]).
    pub async fn listen(mut self, addr: SocketAddr) -> FakeSubtensor {
        let config = jsonrpsee::server::ServerConfig::builder()
            .max_response_body_size(64 * 1024 * 1024)
            .build();
        let server = Server::builder()
            .set_config(config)
            .build(addr)
            .await
            .expect("bind the fake node");
        self.addr = server.local_addr().expect("addr");
        let handle = server.start(self.module());
        *self.handle.lock().expect("handle") = Some(handle);
        self
    }

    /// Stops answering (the node is down).
    pub fn stop(&self) {
        if let Some(h) = self.handle.lock().expect("handle").take() {
            let _ = h.stop();
        }
    }

    pub fn url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    pub fn lock(&self) -> std::sync::MutexGuard<'_, NodeState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn submitted(&self) -> Vec<Submitted> {
        self.lock().submitted.clone()
    }

    /// Sets what the chain holds for `uid`: incentive, emission, last update and weights.
    pub fn set_scores(&self, uid: u16, scores: FakeScores) {
        self.lock().scores.insert(uid, scores);
    }

    /// Turns commit-reveal weights on or off for the subnet.
    pub fn set_commit_reveal(&self, on: bool) {
        self.lock().commit_reveal = on;
    }

    fn module(&self) -> RpcModule<FakeSubtensor> {
        let mut m = RpcModule::new(self.clone());
        let log = |n: &FakeSubtensor, method: &str| n.lock().methods.push(method.to_string());
        m.register_method("state_getMetadata", move |_, n, _| {
            log(n, "state_getMetadata");
            format!("0x{}", hex::encode(n.raw.as_slice()))
        })
        .expect("register");
        m.register_method("state_getRuntimeVersion", move |_, n, _| {
            log(n, "state_getRuntimeVersion");
            serde_json::json!({
                "specName": "node-subtensor", "implName": "node-subtensor", "authoringVersion": 1,
                "specVersion": SPEC_VERSION, "implVersion": 1, "apis": [],
                "transactionVersion": TX_VERSION, "stateVersion": 1,
            })
        })
        .expect("register");
        m.register_method("chain_getBlockHash", move |params, n, _| {
            log(n, "chain_getBlockHash");
            let number: Option<u64> = params.sequence().optional_next().ok().flatten();
            let head = n.lock().block;
            format!("0x{}", hex::encode(block_hash(number.unwrap_or(head))))
        })
        .expect("register");
        m.register_method("chain_getFinalizedHead", move |_, n, _| {
            log(n, "chain_getFinalizedHead");
            let mut s = n.lock();
            s.block += 1;
            format!("0x{}", hex::encode(block_hash(s.block)))
        })
        .expect("register");
        m.register_method("chain_getHeader", move |params, n, _| {
            log(n, "chain_getHeader");
            let hash: Option<String> = params.sequence().optional_next().ok().flatten();
            let head = n.lock().block;
            let number = match hash {
                None => head,
                Some(h) => (head.saturating_sub(256)..=head)
                    .find(|b| format!("0x{}", hex::encode(block_hash(*b))) == h)
                    .ok_or_else(|| rpc_error(-32000, "unknown block"))?,
            };
            Ok::<_, ErrorObjectOwned>(serde_json::json!({
                "parentHash": format!("0x{}", hex::encode(block_hash(number.saturating_sub(1)))),
                "number": format!("0x{number:x}"),
                "stateRoot": format!("0x{}", "00".repeat(32)),
                "extrinsicsRoot": format!("0x{}", "00".repeat(32)),
                "digest": {"logs": []},
            }))
        })
        .expect("register");
        m.register_method("system_accountNextIndex", move |_, n, _| {
            log(n, "system_accountNextIndex");
            n.lock().nonce
        })
        .expect("register");
        m.register_method("state_call", move |params, n, _| {
            let mut seq = params.sequence();
            let method: String = seq.next().map_err(|e| rpc_error(-32602, e.to_string()))?;
            let data: String = seq.next().map_err(|e| rpc_error(-32602, e.to_string()))?;
            log(n, &format!("state_call {method}"));
            let args = hex::decode(data.trim_start_matches("0x"))
                .map_err(|e| rpc_error(-32602, e.to_string()))?;
            let out = n.state_call(&method, &args)?;
            Ok::<_, ErrorObjectOwned>(format!("0x{}", hex::encode(out)))
        })
        .expect("register");
        m.register_method("author_submitExtrinsic", move |params, n, _| {
            log(n, "author_submitExtrinsic");
            let hex_xt: String = params.one().map_err(|e| rpc_error(-32602, e.to_string()))?;
            let bytes = hex::decode(hex_xt.trim_start_matches("0x"))
                .map_err(|e| rpc_error(-32602, e.to_string()))?;
            let sub = n
                .check_extrinsic(&bytes)
                .map_err(|e| rpc_error(1002, format!("Verification Error: {e}")))?;
            let valid = sub.signature_valid;
            n.lock().submitted.push(sub.clone());
            if !valid {
                return Err(rpc_error(
                    1010,
                    "Invalid Transaction: Transaction has a bad signature",
                ));
            }
            n.apply(&sub);
            Ok(format!("0x{}", hex::encode(blake2_256(&bytes))))
        })
        .expect("register");
        m
    }

    fn state_call(&self, method: &str, args: &[u8]) -> Result<Vec<u8>, ErrorObjectOwned> {
        let md = &self.md;
        let api_output = |api: &str, name: &str| {
            md.runtime_api_trait_by_name(api)
                .and_then(|t| t.method_by_name(name))
                .map(|m| m.output_ty())
                .ok_or_else(|| rpc_error(-32000, format!("no {api}::{name}")))
        };
        match method {
            "Metadata_metadata_versions" => Ok(vec![14u32, 15, 16].encode()),
            "Metadata_metadata_at_version" => Ok(Some(self.raw.as_ref().clone()).encode()),
            "NeuronInfoRuntimeApi_get_neurons_lite" => {
                let netuid =
                    u16::decode(&mut &args[..]).map_err(|e| rpc_error(-32602, e.to_string()))?;
                let ty = api_output("NeuronInfoRuntimeApi", "get_neurons_lite")?;
                let s = self.lock();
                let items: Vec<Value> = if netuid == s.netuid {
                    s.by_uid()
                        .into_iter()
                        .map(|n| self.neuron_value(n, netuid, &s.scores_of(n.uid), false))
                        .collect()
                } else {
                    Vec::new()
                };
                self.encode(&Value::unnamed_composite(items), ty)
            }
            "NeuronInfoRuntimeApi_get_neuron" => {
                let (netuid, uid) = <(u16, u16)>::decode(&mut &args[..])
                    .map_err(|e| rpc_error(-32602, e.to_string()))?;
                let ty = api_output("NeuronInfoRuntimeApi", "get_neuron")?;
                let s = self.lock();
                let found = s
                    .neurons
                    .iter()
                    .find(|n| n.uid == uid)
                    .filter(|_| netuid == s.netuid);
                let v = match found {
                    Some(n) => Value::variant(
                        "Some",
                        Composite::Unnamed(vec![self.neuron_value(
                            n,
                            netuid,
                            &s.scores_of(uid),
                            true,
                        )]),
                    ),
                    None => Value::variant("None", Composite::Unnamed(vec![])),
                };
                self.encode(&v, ty)
            }
            "SubnetInfoRuntimeApi_get_subnet_hyperparams" => {
                let netuid =
                    u16::decode(&mut &args[..]).map_err(|e| rpc_error(-32602, e.to_string()))?;
                let ty = api_output("SubnetInfoRuntimeApi", "get_subnet_hyperparams")?;
                let s = self.lock();
                if netuid != s.netuid {
                    return self.encode(&Value::variant("None", Composite::Unnamed(vec![])), ty);
                }
                let mut h = default_value(md.types(), self.some_type(ty));
                set(
                    &mut h,
                    "serving_rate_limit",
                    Value::u128(u128::from(s.serving_rate_limit)),
                );
                set(
                    &mut h,
                    "commit_reveal_weights_enabled",
                    Value::bool(s.commit_reveal),
                );
                set(
                    &mut h,
                    "commit_reveal_period",
                    Value::u128(u128::from(s.commit_reveal)),
                );
                self.encode(&Value::variant("Some", Composite::Unnamed(vec![h])), ty)
            }
            "SubnetInfoRuntimeApi_get_metagraph" if self.lock().fail_metagraph => {
                Err(rpc_error(-32000, "Execution failed: timeout"))
            }
            "SubnetInfoRuntimeApi_get_metagraph" => {
                let netuid =
                    u16::decode(&mut &args[..]).map_err(|e| rpc_error(-32602, e.to_string()))?;
                let ty = api_output("SubnetInfoRuntimeApi", "get_metagraph")?;
                let s = self.lock();
                if netuid != s.netuid {
                    return self.encode(&Value::variant("None", Composite::Unnamed(vec![])), ty);
                }
                let inner = self.some_type(ty);
                let mut g = default_value(md.types(), inner);
                let neurons = s.by_uid();
                let scores: Vec<FakeScores> = neurons.iter().map(|n| s.scores_of(n.uid)).collect();
                // One entry per uid in every per-uid column, as the chain answers; the test's
                // figures where it sets them, zeros elsewhere.
                for name in PER_UID {
                    if let Some(element) = self.sequence_element(inner, name) {
                        set(
                            &mut g,
                            name,
                            Value::unnamed_composite(
                                neurons
                                    .iter()
                                    .map(|_| default_value(md.types(), element))
                                    .collect::<Vec<_>>(),
                            ),
                        );
                    }
                }
                if let Some(axons) = field_mut(&mut g, "axons") {
                    for (a, n) in items_mut(axons).zip(&neurons) {
                        if let Some(axon) = n.axon {
                            fill_axon(a, axon);
                        }
                    }
                }
                let account = |k: &[u8; 32]| Value::unnamed_composite(vec![Value::from_bytes(k)]);
                let wrapped = |n: u128| Value::unnamed_composite(vec![Value::u128(n)]);
                let column =
                    |g: &mut Value, name: &str, f: &dyn Fn(usize, &FakeNeuron) -> Value| {
                        set(
                            g,
                            name,
                            Value::unnamed_composite(
                                neurons
                                    .iter()
                                    .enumerate()
                                    .map(|(i, n)| f(i, n))
                                    .collect::<Vec<_>>(),
                            ),
                        )
                    };
                set(&mut g, "netuid", wrapped(u128::from(netuid)));
                set(&mut g, "block", Value::u128(u128::from(s.block)));
                set(
                    &mut g,
                    "serving_rate_limit",
                    Value::u128(u128::from(s.serving_rate_limit)),
                );
                set(
                    &mut g,
                    "commit_reveal_weights_enabled",
                    Value::bool(s.commit_reveal),
                );
                set(
                    &mut g,
                    "commit_reveal_period",
                    Value::u128(u128::from(s.commit_reveal)),
                );
                set(&mut g, "num_uids", Value::u128(neurons.len() as u128));
                column(&mut g, "hotkeys", &|_, n| account(&n.hotkey));
                column(&mut g, "coldkeys", &|_, n| account(&n.hotkey));
                column(&mut g, "active", &|_, _| Value::bool(true));
                column(&mut g, "validator_permit", &|_, n| {
                    Value::bool(n.validator_permit)
                });
                column(&mut g, "incentives", &|i, _| {
                    Value::u128(u128::from(scores[i].incentive))
                });
                column(&mut g, "emission", &|i, _| {
                    wrapped(u128::from(scores[i].emission_rao))
                });
                column(&mut g, "last_update", &|i, _| {
                    Value::u128(u128::from(scores[i].last_update))
                });
                column(&mut g, "total_stake", &|_, n| {
                    wrapped(u128::from(n.stake_rao))
                });
                // Alpha stake is a part of S: the client must read total_stake, not this.
                column(&mut g, "alpha_stake", &|_, n| {
                    wrapped(u128::from(n.stake_rao / 2))
                });
                self.encode(&Value::variant("Some", Composite::Unnamed(vec![g])), ty)
            }
            other => Err(rpc_error(
                -32000,
                format!("fake node: {other} is not served"),
            )),
        }
    }

    /// The type inside an `Option<T>` type.
    fn some_type(&self, option: u32) -> u32 {
        match &self.md.types().resolve(option).expect("type").type_def {
            TypeDef::Variant(v) => v
                .variants
                .iter()
                .find(|x| x.name == "Some")
                .and_then(|x| x.fields.first())
                .map(|f| f.ty.id)
                .expect("Some(T)"),
            _ => option,
        }
    }

    /// The element type of the sequence field `name` of composite type `ty`.
    fn sequence_element(&self, ty: u32, name: &str) -> Option<u32> {
        let types = self.md.types();
        let TypeDef::Composite(c) = &types.resolve(ty)?.type_def else {
            return None;
        };
        let f = c.fields.iter().find(|f| f.name.as_deref() == Some(name))?;
        match &types.resolve(f.ty.id)?.type_def {
            TypeDef::Sequence(s) => Some(s.type_param.id),
            _ => None,
        }
    }

    /// A `NeuronInfoLite` (`full`: a `NeuronInfo`, with its weight row) as the chain builds
    /// it.
    fn neuron_value(&self, n: &FakeNeuron, netuid: u16, scores: &FakeScores, full: bool) -> Value {
        let method = if full {
            "get_neuron"
        } else {
            "get_neuron_lite"
        };
        let ty = self
            .md
            .runtime_api_trait_by_name("NeuronInfoRuntimeApi")
            .and_then(|t| t.method_by_name(method))
            .map(|m| self.some_type(m.output_ty()))
            .expect("NeuronInfo");
        let mut v = default_value(self.md.types(), ty);
        let account = |k: &[u8; 32]| Value::unnamed_composite(vec![Value::from_bytes(k)]);
        set(&mut v, "hotkey", account(&n.hotkey));
        set(&mut v, "coldkey", account(&n.hotkey));
        set(&mut v, "uid", Value::u128(u128::from(n.uid)));
        set(
            &mut v,
            "netuid",
            Value::unnamed_composite(vec![Value::u128(u128::from(netuid))]),
        );
        set(&mut v, "active", Value::bool(true));
        set(&mut v, "validator_permit", Value::bool(n.validator_permit));
        // Only alpha here: S comes from get_metagraph's total_stake.
        set(
            &mut v,
            "stake",
            Value::unnamed_composite(vec![Value::unnamed_composite(vec![
                account(&n.hotkey),
                Value::unnamed_composite(vec![Value::u128(u128::from(n.stake_rao / 2))]),
            ])]),
        );
        set(
            &mut v,
            "incentive",
            Value::u128(u128::from(scores.incentive)),
        );
        set(
            &mut v,
            "emission",
            Value::unnamed_composite(vec![Value::u128(u128::from(scores.emission_rao))]),
        );
        set(
            &mut v,
            "last_update",
            Value::u128(u128::from(scores.last_update)),
        );
        // The chain reports only the weights above zero.
        set(
            &mut v,
            "weights",
            Value::unnamed_composite(
                scores
                    .weights
                    .iter()
                    .filter(|(_, w)| *w > 0)
                    .map(|(uid, w)| {
                        Value::unnamed_composite(vec![
                            Value::u128(u128::from(*uid)),
                            Value::u128(u128::from(*w)),
                        ])
                    })
                    .collect::<Vec<_>>(),
            ),
        );
        if let Some(axon) = n.axon
            && let Some(a) = field_mut(&mut v, "axon_info")
        {
            fill_axon(a, axon);
        }
        v
    }

    fn encode(&self, v: &Value, ty: u32) -> Result<Vec<u8>, ErrorObjectOwned> {
        let mut out = Vec::new();
        scale_value::scale::encode_as_type(v, ty, self.md.types(), &mut out)
            .map_err(|e| rpc_error(-32000, format!("fake node cannot encode: {e}")))?;
        Ok(out)
    }

    /// Decodes a signed v4 extrinsic with the metadata and checks its signature.
    pub fn check_extrinsic(&self, bytes: &[u8]) -> Result<Submitted, String> {
        let md = &self.md;
        let mut input = bytes;
        let len = Compact::<u32>::decode(&mut input)
            .map_err(|e| e.to_string())?
            .0 as usize;
        if len != input.len() {
            return Err(format!("length prefix {len}, body {}", input.len()));
        }
        let take = |input: &mut &[u8], n: usize| -> Result<Vec<u8>, String> {
            if input.len() < n {
                return Err("extrinsic cut short".into());
            }
            let (a, b) = input.split_at(n);
            *input = b;
            Ok(a.to_vec())
        };
        if take(&mut input, 1)? != [0x84] {
            return Err("not a signed v4 extrinsic".into());
        }
        if take(&mut input, 1)? != [0x00] {
            return Err("address is not MultiAddress::Id".into());
        }
        let signer: [u8; 32] = take(&mut input, 32)?.try_into().map_err(|_| "key")?;
        if take(&mut input, 1)? != [0x01] {
            return Err("signature is not MultiSignature::Sr25519".into());
        }
        let signature = take(&mut input, 64)?;
        let head = self.lock().block;
        let mut extra = Vec::new();
        let mut additional = Vec::new();
        let mut extensions = Vec::new();
        let mut nonce = 0u64;
        // A v4 extrinsic carries the version-0 extension set.
        let version_0 = md
            .extrinsic()
            .transaction_extensions_by_version(0)
            .ok_or("no version-0 extensions")?;
        for ext in version_0 {
            let before = input;
            let v = scale_value::scale::decode_as_type(&mut input, ext.extra_ty(), md.types())
                .map_err(|e| format!("extension {}: {e}", ext.identifier()))?;
            let used = &before[..before.len() - input.len()];
            extra.extend_from_slice(used);
            extensions.push(ext.identifier().to_string());
            match ext.identifier() {
                "CheckSpecVersion" => additional.extend(SPEC_VERSION.encode()),
                "CheckTxVersion" => additional.extend(TX_VERSION.encode()),
                "CheckGenesis" => additional.extend(block_hash(0)),
                "CheckMortality" => {
                    let birth = era_birth(used, head).ok_or("era")?;
                    additional.extend(block_hash(birth));
                }
                "CheckNonce" => nonce = first_number(&v).unwrap_or(0) as u64,
                "CheckMetadataHash" => {
                    // Mode Disabled (0) signs no hash; Enabled would sign Some(hash).
                    if used != [0] {
                        return Err(
                            "CheckMetadataHash: only mode Disabled is accepted by this node".into(),
                        );
                    }
                    additional.push(0);
                }
                other => {
                    if !gas_miner::chain::codec::zero_sized(md.types(), ext.additional_ty()) {
                        return Err(format!("the fake cannot check extension {other}"));
                    }
                }
            }
        }
        let call = input.to_vec();
        let mut payload = call.clone();
        payload.extend_from_slice(&extra);
        payload.extend_from_slice(&additional);
        let message = if payload.len() > 256 {
            blake2_256(&payload).to_vec()
        } else {
            payload
        };
        let signature_valid = verify(&signer, &message, &signature);
        let (pallet, call_index) = (
            call.first().copied().unwrap_or(0),
            call.get(1).copied().unwrap_or(0),
        );
        let variant = md
            .pallet_by_call_index(pallet)
            .and_then(|p| p.call_variant_by_index(call_index))
            .ok_or("unknown call")?;
        let mut args = &call[2..];
        let mut values = Vec::new();
        for f in &variant.fields {
            let v = scale_value::scale::decode_as_type(&mut args, f.ty.id, md.types())
                .map_err(|e| format!("argument {:?}: {e}", f.name))?;
            values.push((
                f.name.clone().unwrap_or_default(),
                first_number(&v).unwrap_or(0),
            ));
        }
        if !args.is_empty() {
            return Err("bytes left after the call".into());
        }
        let arg = |name: &str| {
            values
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| *v)
                .unwrap_or(0)
        };
        Ok(Submitted {
            signer: ss58_encode(&signer),
            signature_valid,
            pallet,
            call: call_index,
            netuid: arg("netuid") as u16,
            version: arg("version") as u32,
            ip: arg("ip"),
            port: arg("port") as u16,
            ip_type: arg("ip_type") as u8,
            protocol: arg("protocol") as u8,
            nonce,
            extensions,
        })
    }

    /// A valid `serve_axon` sets the signer's axon, as the chain would.
    fn apply(&self, sub: &Submitted) {
        let mut s = self.lock();
        s.nonce += 1;
        let block = s.block;
        if let Some(n) = s
            .neurons
            .iter_mut()
            .find(|n| ss58_encode(&n.hotkey) == sub.signer)
        {
            n.axon = Some((sub.ip, sub.port, block));
        }
    }
}

/// The birth block of a mortal era (2 bytes) seen at block `current`.
fn era_birth(era: &[u8], current: u64) -> Option<u64> {
    if era == [0] {
        return Some(0);
    }
    let encoded = u16::from_le_bytes(era.try_into().ok()?);
    let period = 2u64 << (encoded % (1 << 4));
    let quantize = (period >> 12).max(1);
    let phase = u64::from(encoded >> 4) * quantize;
    Some((current.max(phase) - phase) / period * period + phase)
}

fn first_number(v: &Value<u32>) -> Option<u128> {
    gas_miner::chain::codec::number(v)
}

fn field_mut<'a>(v: &'a mut Value, name: &str) -> Option<&'a mut Value> {
    match &mut v.value {
        ValueDef::Composite(Composite::Named(fields)) => {
            fields.iter_mut().find(|(n, _)| n == name).map(|(_, v)| v)
        }
        _ => None,
    }
}

/// The columns of `get_metagraph` that hold one entry per uid.
const PER_UID: [&str; 18] = [
    "hotkeys",
    "coldkeys",
    "identities",
    "axons",
    "active",
    "validator_permit",
    "pruning_score",
    "last_update",
    "emission",
    "dividends",
    "incentives",
    "consensus",
    "trust",
    "rank",
    "block_at_registration",
    "alpha_stake",
    "tao_stake",
    "total_stake",
];

/// The items of a list value, to fill in.
fn items_mut(list: &mut Value) -> std::slice::IterMut<'_, Value> {
    match &mut list.value {
        ValueDef::Composite(Composite::Unnamed(items)) => items.iter_mut(),
        _ => Default::default(),
    }
}

/// An `AxonInfo` at (ip, port, block set at), IPv4.
fn fill_axon(axon: &mut Value, (ip, port, block): (u128, u16, u64)) {
    set(axon, "block", Value::u128(u128::from(block)));
    set(axon, "version", Value::u128(1));
    set(axon, "ip", Value::u128(ip));
    set(axon, "port", Value::u128(u128::from(port)));
    set(axon, "ip_type", Value::u128(4));
    set(axon, "protocol", Value::u128(4));
}

fn set(v: &mut Value, name: &str, new: Value) {
    if let Some(f) = field_mut(v, name) {
        *f = new;
    }
}

/// A value of type `ty` with every number zero, every list empty and every enum its first
/// variant: the base the fake fills in.
pub fn default_value(types: &PortableRegistry, ty: u32) -> Value {
    let Some(t) = types.resolve(ty) else {
        return Value::unnamed_composite(vec![]);
    };
    match &t.type_def {
        TypeDef::Composite(c) => {
            if c.fields.iter().all(|f| f.name.is_some()) && !c.fields.is_empty() {
                Value::named_composite(
                    c.fields
                        .iter()
                        .map(|f| {
                            (
                                f.name.clone().unwrap_or_default(),
                                default_value(types, f.ty.id),
                            )
                        })
                        .collect::<Vec<_>>(),
                )
            } else {
                Value::unnamed_composite(
                    c.fields
                        .iter()
                        .map(|f| default_value(types, f.ty.id))
                        .collect::<Vec<_>>(),
                )
            }
        }
        TypeDef::Variant(v) => {
            let first = v.variants.iter().min_by_key(|x| x.index);
            match first {
                Some(x) => Value::variant(
                    x.name.clone(),
                    Composite::Unnamed(
                        x.fields
                            .iter()
                            .map(|f| default_value(types, f.ty.id))
                            .collect(),
                    ),
                ),
                None => Value::unnamed_composite(vec![]),
            }
        }
        TypeDef::Sequence(_) => Value::unnamed_composite(vec![]),
        TypeDef::Array(a) => Value::unnamed_composite(
            (0..a.len)
                .map(|_| default_value(types, a.type_param.id))
                .collect::<Vec<_>>(),
        ),
        TypeDef::Tuple(t) => Value::unnamed_composite(
            t.fields
                .iter()
                .map(|f| default_value(types, f.id))
                .collect::<Vec<_>>(),
        ),
        TypeDef::Primitive(p) => match p {
            TypeDefPrimitive::Bool => Value::bool(false),
            TypeDefPrimitive::Char => Value::char('a'),
            TypeDefPrimitive::Str => Value::string(""),
            TypeDefPrimitive::I8
            | TypeDefPrimitive::I16
            | TypeDefPrimitive::I32
            | TypeDefPrimitive::I64
            | TypeDefPrimitive::I128
            | TypeDefPrimitive::I256 => Value::i128(0),
            _ => Value::u128(0),
        },
        TypeDef::Compact(c) => default_value(types, c.type_param.id),
        TypeDef::BitSequence(_) => Value::bit_sequence(scale_value::BitSequence::new()),
    }
}
