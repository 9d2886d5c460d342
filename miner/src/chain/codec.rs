//! The SCALE side of talking to subtensor, driven by the live runtime metadata: runtime API
//! results decoded by their type ids (so a field added by a runtime upgrade is just skipped),
//! and signed extrinsics (v4) whose transaction extensions are taken from the metadata, in
//! its order. Extensions known here are encoded and then checked against their metadata
//! types; an unknown one that carries no data (most subtensor additions) encodes to nothing;
//! an unknown one that carries data is a loud error, never a silently wrong transaction.

use crate::identity::Hotkey;
use blake2::digest::consts::U32;
use blake2::{Blake2b, Digest};
use parity_scale_codec::{Compact, Encode};
use scale_info::{PortableRegistry, TypeDef};
use scale_value::{Composite, Primitive, Value, ValueDef};
use subxt_metadata::Metadata;

pub type Val = Value<u32>;

/// What does not fit the runtime's metadata: a result that does not decode, a call or
/// transaction extension this build does not know how to make.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct CodecError(pub String);

/// Decodes `bytes` as type `ty` of the metadata; all bytes must be used.
pub fn decode(md: &Metadata, ty: u32, bytes: &[u8]) -> Result<Val, CodecError> {
    let mut cursor = bytes;
    let v = scale_value::scale::decode_as_type(&mut cursor, ty, md.types())
        .map_err(|e| CodecError(format!("cannot decode as type {ty}: {e}")))?;
    if !cursor.is_empty() {
        return Err(CodecError(format!(
            "{} bytes left over after type {ty}",
            cursor.len()
        )));
    }
    Ok(v)
}

/// A named field of a composite value.
pub fn field<'a>(v: &'a Val, name: &str) -> Option<&'a Val> {
    match &v.value {
        ValueDef::Composite(Composite::Named(fields)) => {
            fields.iter().find(|(n, _)| n == name).map(|(_, v)| v)
        }
        _ => None,
    }
}

/// The items of a sequence, array or tuple.
pub fn items(v: &Val) -> Vec<&Val> {
    match &v.value {
        ValueDef::Composite(c) => c.values().collect(),
        _ => Vec::new(),
    }
}

/// A number, looking through single-field wrappers (`NetUid(u16)`, `AlphaBalance(u64)`).
pub fn number(v: &Val) -> Option<u128> {
    match &v.value {
        ValueDef::Primitive(Primitive::U128(n)) => Some(*n),
        ValueDef::Composite(c) if c.len() == 1 => number(c.values().next()?),
        _ => None,
    }
}

pub fn boolean(v: &Val) -> Option<bool> {
    match &v.value {
        ValueDef::Primitive(Primitive::Bool(b)) => Some(*b),
        _ => None,
    }
}

/// Raw bytes of a byte array (`AccountId32`, `H256`), looking through wrappers.
pub fn bytes(v: &Val) -> Option<Vec<u8>> {
    match &v.value {
        ValueDef::Composite(c)
            if c.len() == 1 && !matches!(c.values().next()?.value, ValueDef::Primitive(_)) =>
        {
            bytes(c.values().next()?)
        }
        ValueDef::Composite(c) => c
            .values()
            .map(|b| number(b).and_then(|n| u8::try_from(n).ok()))
            .collect(),
        _ => None,
    }
}

/// `Some(inner)` of an `Option`, `None` for `None`.
pub fn some(v: &Val) -> Option<&Val> {
    match &v.value {
        ValueDef::Variant(var) if var.name == "Some" => var.values.values().next(),
        _ => None,
    }
}

/// Whether a type encodes to no bytes at all.
pub fn zero_sized(types: &PortableRegistry, ty: u32) -> bool {
    let Some(t) = types.resolve(ty) else {
        return false;
    };
    match &t.type_def {
        TypeDef::Composite(c) => c.fields.iter().all(|f| zero_sized(types, f.ty.id)),
        TypeDef::Tuple(t) => t.fields.iter().all(|f| zero_sized(types, f.id)),
        TypeDef::Array(a) => a.len == 0 || zero_sized(types, a.type_param.id),
        _ => false,
    }
}

pub fn blake2_256(data: &[u8]) -> [u8; 32] {
    let mut h = Blake2b::<U32>::new();
    h.update(data);
    h.finalize().into()
}

/// What a signature must commit to, read from the chain just before signing.
#[derive(Debug, Clone)]
pub struct ChainState {
    pub spec_version: u32,
    pub transaction_version: u32,
    pub genesis: [u8; 32],
    /// The block the transaction's mortality counts from, and its hash.
    pub block_number: u64,
    pub block_hash: [u8; 32],
    pub nonce: u32,
}

/// Blocks a transaction stays valid for.
pub const MORTAL_PERIOD: u64 = 64;

/// A mortal era of `period` blocks starting at `current` (two bytes), as Substrate encodes it.
pub fn mortal_era(period: u64, current: u64) -> [u8; 2] {
    let period = period.next_power_of_two().clamp(4, 1 << 16);
    let phase = current % period;
    let quantize = (period >> 12).max(1);
    let quantized = phase / quantize * quantize;
    let low = (period.trailing_zeros() - 1).clamp(1, 15) as u16;
    let encoded = low | (((quantized / quantize) as u16) << 4);
    encoded.to_le_bytes()
}

/// The call bytes of `Pallet.call(args…)`, checking the call exists with the argument names
/// given (a runtime that renamed or reordered them is refused rather than mis-encoded).
pub fn call_bytes(
    md: &Metadata,
    pallet: &str,
    call: &str,
    args: &[(&str, Vec<u8>)],
) -> Result<Vec<u8>, CodecError> {
    let p = md
        .pallet_by_name(pallet)
        .ok_or_else(|| CodecError(format!("the runtime has no {pallet} pallet")))?;
    let variant = p
        .call_variant_by_name(call)
        .ok_or_else(|| CodecError(format!("the runtime has no {pallet}.{call} call")))?;
    let names: Vec<&str> = variant
        .fields
        .iter()
        .map(|f| f.name.as_deref().unwrap_or(""))
        .collect();
    let ours: Vec<&str> = args.iter().map(|(n, _)| *n).collect();
    if names != ours {
        return Err(CodecError(format!(
            "{pallet}.{call} takes ({}) in this runtime, this gas-miner sends ({}); upgrade gas-miner",
            names.join(", "),
            ours.join(", ")
        )));
    }
    let mut out = vec![p.call_index(), variant.index];
    for ((name, bytes), f) in args.iter().zip(&variant.fields) {
        decode(md, f.ty.id, bytes).map_err(|e| {
            CodecError(format!(
                "{pallet}.{call} argument {name}: {e}; upgrade gas-miner"
            ))
        })?;
        out.extend_from_slice(bytes);
    }
    Ok(out)
}

/// A signed v4 extrinsic of `call` by `signer`, its transaction extensions as the metadata
/// lists them.
pub fn signed_extrinsic(
    md: &Metadata,
    call: &[u8],
    chain: &ChainState,
    signer: &Hotkey,
) -> Result<Vec<u8>, CodecError> {
    let mut extra = Vec::new();
    let mut additional = Vec::new();
    let types = md.types();
    if !md.extrinsic().supported_versions().contains(&4) {
        return Err(CodecError(
            "this runtime no longer accepts v4 extrinsics; upgrade gas-miner".into(),
        ));
    }
    // A v4 extrinsic always carries the version-0 set of transaction extensions.
    let extensions = md
        .extrinsic()
        .transaction_extensions_by_version(0)
        .ok_or_else(|| {
            CodecError(
                "the runtime lists no version-0 transaction extensions; upgrade gas-miner".into(),
            )
        })?;
    for ext in extensions {
        let name = ext.identifier();
        let (x, a): (Vec<u8>, Vec<u8>) = match name {
            "CheckNonZeroSender" | "CheckWeight" => (vec![], vec![]),
            "CheckSpecVersion" => (vec![], chain.spec_version.encode()),
            "CheckTxVersion" => (vec![], chain.transaction_version.encode()),
            "CheckGenesis" => (vec![], chain.genesis.to_vec()),
            "CheckMortality" | "CheckEra" => (
                mortal_era(MORTAL_PERIOD, chain.block_number).to_vec(),
                chain.block_hash.to_vec(),
            ),
            "CheckNonce" => (Compact(chain.nonce).encode(), vec![]),
            "ChargeTransactionPayment" => (Compact(0u128).encode(), vec![]),
            // Mode::Disabled, and no metadata hash.
            "CheckMetadataHash" => (vec![0], vec![0]),
            other
                if zero_sized(types, ext.extra_ty()) && zero_sized(types, ext.additional_ty()) =>
            {
                tracing::debug!(extension = other, "transaction extension carries no data");
                (vec![], vec![])
            }
            other => {
                return Err(CodecError(format!(
                    "the runtime requires transaction extension {other}, which carries data this gas-miner cannot fill in; upgrade gas-miner"
                )));
            }
        };
        decode(md, ext.extra_ty(), &x).map_err(|e| {
            CodecError(format!(
                "transaction extension {name} changed shape ({e}); upgrade gas-miner"
            ))
        })?;
        decode(md, ext.additional_ty(), &a).map_err(|e| {
            CodecError(format!(
                "transaction extension {name} changed shape ({e}); upgrade gas-miner"
            ))
        })?;
        extra.extend(x);
        additional.extend(a);
    }
    let mut payload = Vec::with_capacity(call.len() + extra.len() + additional.len());
    payload.extend_from_slice(call);
    payload.extend_from_slice(&extra);
    payload.extend_from_slice(&additional);
    let signature = if payload.len() > 256 {
        signer.sign(&blake2_256(&payload))
    } else {
        signer.sign(&payload)
    };
    let mut body = vec![0x84, 0x00];
    body.extend_from_slice(&signer.public_key());
    body.push(0x01);
    body.extend_from_slice(&signature);
    body.extend_from_slice(&extra);
    body.extend_from_slice(call);
    let mut out = Compact(body.len() as u32).encode();
    out.extend(body);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mortal_eras_encode_as_substrate_does() {
        // period 64 at block 42: low = 5, phase 42.
        assert_eq!(mortal_era(64, 42), ((42u16 << 4) | 5).to_le_bytes());
        assert_eq!(
            mortal_era(64, 64 * 1000 + 7),
            ((7u16 << 4) | 5).to_le_bytes()
        );
    }
}
