//! The subtensor client: WebSocket JSON-RPC to `BT_CHAIN_ENDPOINT`. It reads the metagraph
//! (`NeuronInfoRuntimeApi_get_neurons_lite` for the roster, permits and axons;
//! `SubnetInfoRuntimeApi_get_metagraph` for each hotkey's total stake S, the figure validators'
//! stake minimum is measured in) and publishes our axon with a signed `serve_axon`; our
//! standing (incentive, emission, validators' weights on us) is read in `standing.rs`. The
//! connection is made lazily and remade after a failure; callers retry with backoff, and
//! nothing here is on the request path.

use super::codec::{self, ChainState, Val};
use super::{AxonInfo, ChainError, Metagraph, MetagraphSource, Neuron};
use crate::identity::{Hotkey, ss58_encode};
use async_trait::async_trait;
use jsonrpsee::core::client::ClientT;
use jsonrpsee::rpc_params;
use jsonrpsee::ws_client::{WsClient, WsClientBuilder};
use parity_scale_codec::{Decode, Encode};
use std::sync::Arc;
use std::time::Duration;
use subxt_metadata::Metadata;
use tokio::sync::Mutex;

/// rao per TAO.
const RAO: f64 = 1e9;

pub struct Subtensor {
    endpoint: String,
    netuid: u16,
    client: Mutex<Option<Arc<WsClient>>>,
    /// Metadata and the runtime version it belongs to.
    metadata: Mutex<Option<(u32, Arc<Metadata>)>>,
}

/// What serve_axon did.
#[derive(Debug, Clone, PartialEq)]
pub enum ServeOutcome {
    /// The chain already has this axon.
    AlreadyServed,
    /// Submitted; the hash of the extrinsic.
    Submitted(String),
    /// Not submitted, and why (not registered, rate limited, bad address).
    Refused(String),
}

fn hex0x(bytes: &[u8]) -> String {
    format!("0x{}", hex::encode(bytes))
}

fn unhex(text: &str) -> Result<Vec<u8>, ChainError> {
    hex::decode(text.trim_start_matches("0x"))
        .map_err(|e| ChainError::Unreadable(format!("bad hex from the node: {e}")))
}

fn h256(text: &str) -> Result<[u8; 32], ChainError> {
    unhex(text)?.try_into().map_err(|_| {
        ChainError::Unreadable("the node sent a hash that is not 32 bytes".to_string())
    })
}

impl Subtensor {
    pub fn new(endpoint: &str, netuid: u16) -> Subtensor {
        Subtensor {
            endpoint: endpoint.to_string(),
            netuid,
            client: Mutex::new(None),
            metadata: Mutex::new(None),
        }
    }

    pub(super) fn netuid(&self) -> u16 {
        self.netuid
    }

    /// Forgets the connection, so that the next call makes a fresh one.
    pub(super) async fn drop_connection(&self) {
        *self.client.lock().await = None;
    }

    async fn client(&self) -> Result<Arc<WsClient>, ChainError> {
        let mut slot = self.client.lock().await;
        if let Some(c) = slot.as_ref()
            && c.is_connected()
        {
            return Ok(c.clone());
        }
        let c = WsClientBuilder::default()
            .connection_timeout(Duration::from_secs(10))
            .request_timeout(Duration::from_secs(60))
            .max_response_size(64 * 1024 * 1024)
            .build(&self.endpoint)
            .await
            .map_err(|e| ChainError::Connect {
                endpoint: self.endpoint.clone(),
                detail: e.to_string(),
            })?;
        tracing::info!(endpoint = %self.endpoint, "connected to subtensor");
        let c = Arc::new(c);
        *slot = Some(c.clone());
        Ok(c)
    }

    async fn rpc<R: serde::de::DeserializeOwned>(
        &self,
        method: &str,
        params: jsonrpsee::core::params::ArrayParams,
    ) -> Result<R, ChainError> {
        let client = self.client().await?;
        client
            .request(method, params)
            .await
            .map_err(|e| ChainError::Rpc {
                method: method.to_string(),
                endpoint: self.endpoint.clone(),
                detail: e.to_string(),
            })
    }

    /// `state_call` of a runtime API with SCALE-encoded arguments (at block `at`, else the
    /// best block); the raw result.
    async fn state_call(
        &self,
        method: &str,
        args: &[u8],
        at: Option<&str>,
    ) -> Result<Vec<u8>, ChainError> {
        let out: String = match at {
            Some(at) => {
                self.rpc("state_call", rpc_params![method, hex0x(args), at])
                    .await?
            }
            None => {
                self.rpc("state_call", rpc_params![method, hex0x(args)])
                    .await?
            }
        };
        unhex(&out)
    }

    async fn runtime_version(&self) -> Result<(u32, u32), ChainError> {
        let v: serde_json::Value = self.rpc("state_getRuntimeVersion", rpc_params![]).await?;
        let get = |k: &str| {
            v.get(k)
                .and_then(|x| x.as_u64())
                .map(|x| x as u32)
                .ok_or_else(|| {
                    ChainError::Unreadable(format!("state_getRuntimeVersion has no {k}"))
                })
        };
        Ok((get("specVersion")?, get("transactionVersion")?))
    }

    /// The runtime's versions (spec, transaction) and metadata (V16 or V15, which describe
    /// runtime APIs), read together; the metadata is fetched again only when the spec changes.
    pub async fn metadata(&self) -> Result<(u32, u32, Arc<Metadata>), ChainError> {
        let (spec, tx) = self.runtime_version().await?;
        {
            let cached = self.metadata.lock().await;
            if let Some((v, md)) = cached.as_ref()
                && *v == spec
            {
                return Ok((spec, tx, md.clone()));
            }
        }
        let versions: Vec<u32> = self
            .state_call("Metadata_metadata_versions", &[], None)
            .await
            .ok()
            .and_then(|b| Vec::<u32>::decode(&mut &b[..]).ok())
            .unwrap_or_default();
        let version = [16u32, 15].into_iter().find(|v| versions.contains(v));
        let bytes = match version {
            Some(v) => {
                let raw = self
                    .state_call("Metadata_metadata_at_version", &v.encode(), None)
                    .await?;
                Option::<Vec<u8>>::decode(&mut &raw[..])
                    .ok()
                    .flatten()
                    .ok_or_else(|| ChainError::Unreadable("the node returned no metadata".into()))?
            }
            None => {
                let hex: String = self.rpc("state_getMetadata", rpc_params![]).await?;
                unhex(&hex)?
            }
        };
        let md = Arc::new(Metadata::decode(&mut &bytes[..]).map_err(|e| {
            ChainError::Unreadable(format!("the node's metadata cannot be read: {e}"))
        })?);
        tracing::info!(spec_version = spec, metadata = ?version, "runtime metadata loaded");
        *self.metadata.lock().await = Some((spec, md.clone()));
        Ok((spec, tx, md))
    }

    /// Calls a runtime API method at block `at` and decodes its result with the metadata's
    /// type for it.
    pub(super) async fn runtime_api(
        &self,
        md: &Metadata,
        api: &str,
        method: &str,
        args: &[u8],
        at: &str,
    ) -> Result<Val, ChainError> {
        let m = md
            .runtime_api_trait_by_name(api)
            .and_then(|t| t.method_by_name(method))
            .ok_or_else(|| ChainError::Unreadable(format!("the runtime has no {api}::{method}")))?;
        let out_ty = m.output_ty();
        let raw = self
            .state_call(&format!("{api}_{method}"), args, Some(at))
            .await
            .map_err(|e| e.within(format!("{api}::{method}")))?;
        codec::decode(md, out_ty, &raw)
            .map_err(|e| ChainError::from(e).within(format!("{api}::{method}")))
    }

    /// The finalized head: its number, hash, and hash as the node wrote it.
    pub(super) async fn head(&self) -> Result<(u64, [u8; 32], String), ChainError> {
        let hash: String = self.rpc("chain_getFinalizedHead", rpc_params![]).await?;
        let header: serde_json::Value = self
            .rpc("chain_getHeader", rpc_params![hash.clone()])
            .await?;
        let number = header
            .get("number")
            .and_then(|n| n.as_str())
            .and_then(|n| u64::from_str_radix(n.trim_start_matches("0x"), 16).ok())
            .ok_or_else(|| ChainError::Unreadable("chain_getHeader has no block number".into()))?;
        Ok((number, h256(&hash)?, hash))
    }

    /// The metagraph of our subnet, at the finalized head, and the serving rate limit.
    pub async fn read_metagraph(&self) -> Result<(Metagraph, Option<u64>), ChainError> {
        let (_, _, md) = self.metadata().await?;
        let (block, _, at) = self.head().await?;
        let netuid = self.netuid.encode();
        let lite = self
            .runtime_api(
                &md,
                "NeuronInfoRuntimeApi",
                "get_neurons_lite",
                &netuid,
                &at,
            )
            .await?;
        // S per hotkey (alpha plus weighted TAO), as the validators' SDK reads it. A runtime
        // without the API falls back to each neuron's own stake; a failed call fails the sync
        // (the last good copy keeps serving) rather than replace S with a smaller figure.
        let has_totals = md
            .runtime_api_trait_by_name("SubnetInfoRuntimeApi")
            .and_then(|t| t.method_by_name("get_metagraph"))
            .is_some();
        let totals = if has_totals {
            let v = self
                .runtime_api(&md, "SubnetInfoRuntimeApi", "get_metagraph", &netuid, &at)
                .await?;
            match codec::some(&v) {
                Some(m) => Some(SubnetTotals::read(m)?),
                None if codec::items(&lite).is_empty() => None,
                None => {
                    return Err(ChainError::Unreadable(format!(
                        "get_metagraph knows no subnet {} although it has neurons",
                        self.netuid
                    )));
                }
            }
        } else {
            tracing::warn!(
                "this runtime has no SubnetInfoRuntimeApi::get_metagraph; stake is each neuron's own"
            );
            None
        };
        let mut neurons = Vec::new();
        for n in codec::items(&lite) {
            let hotkey = field(n, "hotkey")
                .and_then(codec::bytes)
                .and_then(|b| <[u8; 32]>::try_from(b).ok())
                .ok_or_else(|| ChainError::Unreadable("a neuron without a hotkey".into()))?;
            let own_stake: u128 = field(n, "stake")
                .map(codec::items)
                .unwrap_or_default()
                .into_iter()
                .filter_map(|pair| codec::items(pair).get(1).and_then(|s| codec::number(s)))
                .sum();
            let stake_rao = totals
                .as_ref()
                .and_then(|t| t.stake_of(&hotkey))
                .unwrap_or(own_stake);
            neurons.push(Neuron {
                uid: field(n, "uid").and_then(codec::number).unwrap_or(0) as u16,
                hotkey: ss58_encode(&hotkey),
                stake: stake_rao as f64 / RAO,
                validator_permit: field(n, "validator_permit")
                    .and_then(codec::boolean)
                    .unwrap_or(false),
                axon: field(n, "axon_info").map(axon_info),
            });
        }
        let mut graph = Metagraph::new(self.netuid, neurons);
        graph.block = Some(block);
        Ok((graph, totals.and_then(|t| t.serving_rate_limit)))
    }

    /// Publishes `axon` for `key` unless the chain already has it, or would refuse it.
    pub async fn serve_axon(
        &self,
        key: &Hotkey,
        axon: &AxonInfo,
    ) -> Result<ServeOutcome, ChainError> {
        if let Some(why) = axon.refusal() {
            return Ok(ServeOutcome::Refused(why));
        }
        let (graph, rate_limit) = self.read_metagraph().await?;
        let Some(me) = graph.neuron(key.ss58()) else {
            return Ok(ServeOutcome::Refused(format!(
                "hotkey {} is not registered on subnet {}",
                key.ss58(),
                self.netuid
            )));
        };
        if me.axon.as_ref().is_some_and(|a| a.same_address(axon)) {
            return Ok(ServeOutcome::AlreadyServed);
        }
        let (block, block_hash, _) = self.head().await?;
        if let (Some(limit), Some(last)) = (rate_limit, me.axon.as_ref().map(|a| a.block))
            && last > 0
            && block < last + limit
        {
            return Ok(ServeOutcome::Refused(format!(
                "rate limited: the axon was last set at block {last} and may change again at block {} (now {block})",
                last + limit
            )));
        }
        let (spec_version, transaction_version, md) = self.metadata().await?;
        let call = codec::call_bytes(
            &md,
            "SubtensorModule",
            "serve_axon",
            &[
                ("netuid", self.netuid.encode()),
                ("version", axon.version.encode()),
                ("ip", axon.ip.encode()),
                ("port", axon.port.encode()),
                ("ip_type", axon.ip_type.encode()),
                ("protocol", axon.protocol.encode()),
                ("placeholder1", 0u8.encode()),
                ("placeholder2", 0u8.encode()),
            ],
        )?;
        let genesis: String = self.rpc("chain_getBlockHash", rpc_params![0]).await?;
        let nonce: u32 = self
            .rpc("system_accountNextIndex", rpc_params![key.ss58()])
            .await?;
        let chain = ChainState {
            spec_version,
            transaction_version,
            genesis: h256(&genesis)?,
            block_number: block,
            block_hash,
            nonce,
        };
        let xt = codec::signed_extrinsic(&md, &call, &chain, key)?;
        tracing::info!(spec_version, nonce, block, axon = %axon, "submitting serve_axon");
        let hash: String = self
            .rpc("author_submitExtrinsic", rpc_params![hex0x(&xt)])
            .await
            .map_err(|e| {
                let text = e.to_string();
                if text.contains("1010") || text.contains("Invalid Transaction") {
                    ChainError::InvalidTransaction {
                        spec_version,
                        source: Box::new(e),
                    }
                } else {
                    e
                }
            })?;
        Ok(ServeOutcome::Submitted(hash))
    }
}

/// What `get_metagraph` adds to the roster: each hotkey's total stake S (rao) and the
/// subnet's serving rate limit (blocks between axon changes).
struct SubnetTotals {
    hotkeys: Vec<Vec<u8>>,
    total_stake: Vec<u128>,
    serving_rate_limit: Option<u64>,
}

impl SubnetTotals {
    fn read(m: &Val) -> Result<SubnetTotals, ChainError> {
        let list = |name: &str| field(m, name).map(codec::items).unwrap_or_default();
        let hotkeys: Option<Vec<Vec<u8>>> = list("hotkeys").into_iter().map(codec::bytes).collect();
        let total_stake: Option<Vec<u128>> =
            list("total_stake").into_iter().map(codec::number).collect();
        let (Some(hotkeys), Some(total_stake)) = (hotkeys, total_stake) else {
            return Err(ChainError::Unreadable(
                "get_metagraph: hotkeys or total_stake cannot be read".into(),
            ));
        };
        if hotkeys.len() != total_stake.len() {
            return Err(ChainError::Unreadable(format!(
                "get_metagraph: {} hotkeys but {} stakes",
                hotkeys.len(),
                total_stake.len()
            )));
        }
        Ok(SubnetTotals {
            hotkeys,
            total_stake,
            serving_rate_limit: field(m, "serving_rate_limit")
                .and_then(codec::number)
                .map(|n| n as u64),
        })
    }

    fn stake_of(&self, hotkey: &[u8; 32]) -> Option<u128> {
        let i = self
            .hotkeys
            .iter()
            .position(|k| k.as_slice() == hotkey.as_slice())?;
        self.total_stake.get(i).copied()
    }
}

fn field<'a>(v: &'a Val, name: &str) -> Option<&'a Val> {
    codec::field(v, name)
}

fn axon_info(v: &Val) -> AxonInfo {
    let n = |name: &str| field(v, name).and_then(codec::number).unwrap_or(0);
    AxonInfo {
        block: n("block") as u64,
        version: n("version") as u32,
        ip: n("ip"),
        port: n("port") as u16,
        ip_type: n("ip_type") as u8,
        protocol: n("protocol") as u8,
    }
}

#[async_trait]
impl MetagraphSource for Subtensor {
    fn describe(&self) -> String {
        format!("chain {} netuid {}", self.endpoint, self.netuid)
    }

    async fn fetch(&self) -> Result<Metagraph, ChainError> {
        match self.read_metagraph().await {
            Ok((graph, _)) => Ok(graph),
            Err(e) => {
                // Drop the connection so the next try makes a fresh one.
                self.drop_connection().await;
                Err(e)
            }
        }
    }
}
