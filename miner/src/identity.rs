//! The miner's identity: its sr25519 hotkey, loaded from a bittensor wallet folder, and SS58
//! addresses (prefix 42) for every key it deals with.
//!
//! Wallet files are read the way `bittensor-wallet` writes them: plain JSON (rebuilt from
//! `secretPhrase`, else `secretSeed`, else `privateKey`, and cross-checked with the stored public
//! key) or `$NACL`-encrypted JSON. Anything else is refused with the format that was found.

use blake2::{Blake2b512, Digest};
use schnorrkel::{ExpansionMode, Keypair, MiniSecretKey, PublicKey, SecretKey, signing_context};
use std::fmt;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Substrate's generic SS58 prefix, used by every Bittensor address.
pub const SS58_PREFIX: u8 = 42;
const SIGNING_CONTEXT: &[u8] = b"substrate";
/// `bittensor-wallet`'s fixed Argon2i salt for `$NACL` files.
const NACL_SALT: [u8; 16] = [
    0x13, 0x71, 0x83, 0xdf, 0xf1, 0x5a, 0x09, 0xbc, 0x9c, 0x90, 0xb5, 0x51, 0x87, 0x39, 0xe9, 0xb1,
];

#[derive(Debug, Error)]
pub enum IdentityError {
    #[error(
        "hotkey file {path} not found: create it with `btcli wallet new_hotkey` or point BT_WALLET_PATH / BT_WALLET_NAME / BT_WALLET_HOTKEY at an existing one"
    )]
    Missing { path: PathBuf },
    #[error("hotkey file {path} could not be read: {source}")]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "hotkey file {path} is in the {found} format, which gas-miner does not read: re-create the hotkey with a current `btcli` (plain JSON or $NACL encryption)"
    )]
    UnsupportedFormat { path: PathBuf, found: &'static str },
    #[error("hotkey file {path} is not valid wallet JSON: {detail}")]
    BadJson { path: PathBuf, detail: String },
    #[error(
        "hotkey file {path} is encrypted and no password was given: set BT_HOTKEY_PASSWORD or run on a terminal to be asked"
    )]
    NoPassword { path: PathBuf },
    #[error("hotkey file {path} could not be decrypted: wrong password (check BT_HOTKEY_PASSWORD)")]
    WrongPassword { path: PathBuf },
    #[error(
        "hotkey file {path}: the secret gives public key {derived} but the file says {stored}; the file is damaged or edited"
    )]
    KeyMismatch {
        path: PathBuf,
        derived: String,
        stored: String,
    },
    #[error("{0}")]
    Key(String),
}

/// The miner's signing key. Debug output shows only the address: the secret never prints.
pub struct Hotkey {
    pair: Keypair,
    ss58: String,
}

impl fmt::Debug for Hotkey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hotkey").field("ss58", &self.ss58).finish()
    }
}

impl Hotkey {
    fn from_pair(pair: Keypair) -> Hotkey {
        let ss58 = ss58_encode(&pair.public.to_bytes());
        Hotkey { pair, ss58 }
    }

    /// The key a BIP-39 phrase gives, as `btcli` and the Python SDK derive it (no password).
    pub fn from_mnemonic(phrase: &str) -> Result<Hotkey, IdentityError> {
        let mnemonic = bip39::Mnemonic::parse_normalized(phrase.trim())
            .map_err(|e| IdentityError::Key(format!("invalid mnemonic: {e}")))?;
        let mini = substrate_bip39::mini_secret_from_entropy(&mnemonic.to_entropy(), "")
            .map_err(|e| IdentityError::Key(format!("mnemonic gives no key: {e:?}")))?;
        let mini = MiniSecretKey::from_bytes(&mini.to_bytes())
            .map_err(|e| IdentityError::Key(format!("mini secret: {e}")))?;
        Ok(Hotkey::from_pair(
            mini.expand_to_keypair(ExpansionMode::Ed25519),
        ))
    }

    /// The key a 32-byte mini secret (`secretSeed`) gives.
    pub fn from_seed(seed: &[u8]) -> Result<Hotkey, IdentityError> {
        let mini = MiniSecretKey::from_bytes(seed)
            .map_err(|e| IdentityError::Key(format!("secretSeed is not a 32-byte seed: {e}")))?;
        Ok(Hotkey::from_pair(
            mini.expand_to_keypair(ExpansionMode::Ed25519),
        ))
    }

    /// The key a 64-byte schnorrkel secret (`privateKey`: scalar ‖ nonce) gives.
    pub fn from_private_key(bytes: &[u8]) -> Result<Hotkey, IdentityError> {
        let secret = SecretKey::from_bytes(bytes)
            .or_else(|_| SecretKey::from_ed25519_bytes(bytes))
            .map_err(|e| IdentityError::Key(format!("privateKey is not a 64-byte key: {e}")))?;
        Ok(Hotkey::from_pair(secret.to_keypair()))
    }

    pub fn ss58(&self) -> &str {
        &self.ss58
    }

    pub fn public_key(&self) -> [u8; 32] {
        self.pair.public.to_bytes()
    }

    /// A randomised sr25519 signature with Substrate's signing context.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.pair
            .sign(signing_context(SIGNING_CONTEXT).bytes(message))
            .to_bytes()
    }

    /// Loads `<wallets>/<name>/hotkeys/<hotkey>`, asking `password` for encrypted files.
    pub fn load(
        wallets: &Path,
        name: &str,
        hotkey: &str,
        password: &dyn Fn() -> Option<String>,
    ) -> Result<Hotkey, IdentityError> {
        let path = wallets.join(name).join("hotkeys").join(hotkey);
        let raw = std::fs::read(&path).map_err(|source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                IdentityError::Missing { path: path.clone() }
            } else {
                IdentityError::Unreadable {
                    path: path.clone(),
                    source,
                }
            }
        })?;
        let json = if let Some(sealed) = raw.strip_prefix(b"$NACL") {
            let password =
                password().ok_or_else(|| IdentityError::NoPassword { path: path.clone() })?;
            crate::secret::keep_secret(&password);
            nacl_open(sealed, &password)
                .ok_or_else(|| IdentityError::WrongPassword { path: path.clone() })?
        } else if raw.starts_with(b"$ANSIBLE_VAULT") {
            return Err(IdentityError::UnsupportedFormat {
                path,
                found: "legacy Ansible Vault",
            });
        } else if raw.starts_with(b"gAAAAA") {
            return Err(IdentityError::UnsupportedFormat {
                path,
                found: "legacy Fernet-encrypted",
            });
        } else if raw.trim_ascii_start().starts_with(b"{") {
            raw
        } else {
            return Err(IdentityError::UnsupportedFormat {
                path,
                found: "unrecognised (neither JSON nor $NACL)",
            });
        };
        keyfile_to_hotkey(&path, &json)
    }
}

/// Opens a `$NACL` payload: 24-byte nonce, then an XSalsa20-Poly1305 box keyed by Argon2i.
fn nacl_open(sealed: &[u8], password: &str) -> Option<Vec<u8>> {
    use crypto_secretbox::aead::{Aead, KeyInit};
    if sealed.len() < 24 + 16 {
        return None;
    }
    let params = argon2::Params::new(512 * 1024, 8, 1, Some(32)).ok()?;
    let kdf = argon2::Argon2::new(argon2::Algorithm::Argon2i, argon2::Version::V0x13, params);
    let mut key = [0u8; 32];
    kdf.hash_password_into(password.as_bytes(), &NACL_SALT, &mut key)
        .ok()?;
    let (nonce, body) = sealed.split_at(24);
    let cipher = crypto_secretbox::XSalsa20Poly1305::new(&key.into());
    cipher
        .decrypt(crypto_secretbox::Nonce::from_slice(nonce), body)
        .ok()
}

fn keyfile_to_hotkey(path: &Path, json: &[u8]) -> Result<Hotkey, IdentityError> {
    let bad = |detail: String| IdentityError::BadJson {
        path: path.to_path_buf(),
        detail,
    };
    let doc: serde_json::Value = serde_json::from_slice(json).map_err(|e| bad(e.to_string()))?;
    let field = |name: &str| {
        doc.get(name)
            .and_then(|v| v.as_str())
            .filter(|s| !s.is_empty())
    };
    for secret in ["secretPhrase", "secretSeed", "privateKey"]
        .into_iter()
        .filter_map(field)
    {
        crate::secret::keep_secret(secret);
        crate::secret::keep_secret(secret.trim_start_matches("0x"));
    }
    let hex_field = |name: &str| -> Result<Option<Vec<u8>>, IdentityError> {
        field(name)
            .map(|s| decode_hex(s).map_err(|e| bad(format!("{name}: {e}"))))
            .transpose()
    };
    let key = if let Some(phrase) = field("secretPhrase") {
        Hotkey::from_mnemonic(phrase)?
    } else if let Some(seed) = hex_field("secretSeed")? {
        Hotkey::from_seed(&seed)?
    } else if let Some(secret) = hex_field("privateKey")? {
        Hotkey::from_private_key(&secret)?
    } else {
        return Err(bad(
            "it holds no secretPhrase, secretSeed or privateKey (is this a public-only key file?)"
                .into(),
        ));
    };
    let stored = match (hex_field("publicKey")?, field("ss58Address")) {
        (Some(pk), _) => Some(format!("0x{}", hex::encode(pk))),
        (None, Some(addr)) => Some(
            ss58_decode(addr)
                .map(|pk| format!("0x{}", hex::encode(pk)))
                .map_err(|e| bad(format!("ss58Address: {e}")))?,
        ),
        (None, None) => None,
    };
    let derived = format!("0x{}", hex::encode(key.public_key()));
    if let Some(stored) = stored
        && stored != derived
    {
        return Err(IdentityError::KeyMismatch {
            path: path.to_path_buf(),
            derived,
            stored,
        });
    }
    Ok(key)
}

/// Decodes `0x`-prefixed (or bare) hex.
pub fn decode_hex(text: &str) -> Result<Vec<u8>, hex::FromHexError> {
    hex::decode(text.strip_prefix("0x").unwrap_or(text))
}

fn ss58_checksum(payload: &[u8]) -> [u8; 2] {
    let mut hasher = Blake2b512::new();
    hasher.update(b"SS58PRE");
    hasher.update(payload);
    let digest = hasher.finalize();
    [digest[0], digest[1]]
}

/// `base58(0x2a ‖ pubkey ‖ blake2b-512("SS58PRE" ‖ 0x2a ‖ pubkey)[0..2])`.
pub fn ss58_encode(public: &[u8; 32]) -> String {
    let mut payload = Vec::with_capacity(35);
    payload.push(SS58_PREFIX);
    payload.extend_from_slice(public);
    let checksum = ss58_checksum(&payload);
    payload.extend_from_slice(&checksum);
    bs58::encode(payload).into_string()
}

/// Why a text is not an SS58 account address.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BadAddress {
    #[error("not base58: {0}")]
    NotBase58(String),
    #[error("{0} bytes where an SS58 account address has 35")]
    Length(usize),
    #[error("unsupported SS58 prefix byte {0}")]
    Prefix(u8),
    #[error("checksum does not match")]
    Checksum,
}

/// The 32-byte public key of an SS58 address with a one-byte prefix (any network).
pub fn ss58_decode(address: &str) -> Result<[u8; 32], BadAddress> {
    let raw = bs58::decode(address.trim())
        .into_vec()
        .map_err(|e| BadAddress::NotBase58(e.to_string()))?;
    if raw.len() != 35 {
        return Err(BadAddress::Length(raw.len()));
    }
    if raw[0] >= 64 {
        return Err(BadAddress::Prefix(raw[0]));
    }
    if ss58_checksum(&raw[..33]) != raw[33..35] {
        return Err(BadAddress::Checksum);
    }
    let mut public = [0u8; 32];
    public.copy_from_slice(&raw[1..33]);
    Ok(public)
}

/// Verifies an sr25519 signature by `public` over `message`, also accepting the
/// `<Bytes>…</Bytes>` wrapping that Polkadot wallets add (Python's verifier accepts both).
pub fn verify(public: &[u8; 32], message: &[u8], signature: &[u8]) -> bool {
    let Ok(public) = PublicKey::from_bytes(public) else {
        return false;
    };
    let Ok(signature) = schnorrkel::Signature::from_bytes(signature) else {
        return false;
    };
    let ctx = signing_context(SIGNING_CONTEXT);
    if public.verify(ctx.bytes(message), &signature).is_ok() {
        return true;
    }
    let mut wrapped = Vec::with_capacity(message.len() + 15);
    wrapped.extend_from_slice(b"<Bytes>");
    wrapped.extend_from_slice(message);
    wrapped.extend_from_slice(b"</Bytes>");
    public.verify(ctx.bytes(&wrapped), &signature).is_ok()
}

/// Writes a plain (unencrypted) `bittensor-wallet` hotkey file for `phrase`: what `btcli`
/// writes with `--no-use-password`. Used by tests, benchmarks and the demo.
pub fn write_plain_hotkey(
    wallets: &Path,
    name: &str,
    hotkey: &str,
    phrase: &str,
) -> Result<Hotkey, IdentityError> {
    let key = Hotkey::from_mnemonic(phrase)?;
    let dir = wallets.join(name).join("hotkeys");
    let io = |source| IdentityError::Unreadable {
        path: dir.clone(),
        source,
    };
    std::fs::create_dir_all(&dir).map_err(io)?;
    let public = format!("0x{}", hex::encode(key.public_key()));
    let doc = serde_json::json!({
        "secretPhrase": phrase,
        "publicKey": public,
        "accountId": public,
        "ss58Address": key.ss58(),
        "cryptoType": 1,
    });
    std::fs::write(dir.join(hotkey), doc.to_string()).map_err(io)?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINER_PHRASE: &str =
        "bottom drive obey lake curtain smoke basket hold race lonely fit walk";
    const MINER_SS58: &str = "5DfhGyQdFobKM8NsWvEeAKk5EQQgYe9AydgJ7rMB6E1EqRzV";

    #[test]
    fn mnemonic_gives_the_address_btcli_gives() {
        let key = Hotkey::from_mnemonic(MINER_PHRASE).expect("key");
        assert_eq!(key.ss58(), MINER_SS58);
        assert_eq!(ss58_decode(MINER_SS58).expect("decode"), key.public_key());
    }

    #[test]
    fn ss58_rejects_a_changed_character() {
        let mut bad = MINER_SS58.to_string();
        bad.replace_range(10..11, "Z");
        assert!(ss58_decode(&bad).is_err());
        assert!(ss58_decode("not-an-address").is_err());
    }

    #[test]
    fn signatures_verify_and_tampering_fails() {
        let key = Hotkey::from_mnemonic(MINER_PHRASE).expect("key");
        let sig = key.sign(b"abc");
        assert!(verify(&key.public_key(), b"abc", &sig));
        assert!(!verify(&key.public_key(), b"abd", &sig));
    }

    #[test]
    fn written_plain_hotkey_loads_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        write_plain_hotkey(dir.path(), "w", "h", MINER_PHRASE).expect("write");
        let key = Hotkey::load(dir.path(), "w", "h", &|| None).expect("load");
        assert_eq!(key.ss58(), MINER_SS58);
        assert!(!format!("{key:?}").contains("bottom"));
    }

    #[test]
    fn legacy_and_unknown_formats_are_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let hotkeys = dir.path().join("w/hotkeys");
        std::fs::create_dir_all(&hotkeys).expect("mkdir");
        for (content, found) in [
            (&b"$ANSIBLE_VAULT;1.1;AES256"[..], "Ansible Vault"),
            (&b"gAAAAABlegacy"[..], "Fernet"),
            (&b"\x00\x01binary"[..], "unrecognised"),
        ] {
            std::fs::write(hotkeys.join("h"), content).expect("write");
            let err = Hotkey::load(dir.path(), "w", "h", &|| None).expect_err("refused");
            assert!(err.to_string().contains(found), "{err}");
        }
    }

    #[test]
    fn mismatched_public_key_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let hotkeys = dir.path().join("w/hotkeys");
        std::fs::create_dir_all(&hotkeys).expect("mkdir");
        let doc = serde_json::json!({"secretPhrase": MINER_PHRASE, "publicKey": format!("0x{}", "11".repeat(32))});
        std::fs::write(hotkeys.join("h"), doc.to_string()).expect("write");
        let err = Hotkey::load(dir.path(), "w", "h", &|| None).expect_err("mismatch");
        assert!(matches!(err, IdentityError::KeyMismatch { .. }), "{err}");
    }
}
