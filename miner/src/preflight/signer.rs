//! C2PA signing with certificate authorities made on the spot: the demo's local provider signs
//! what it draws with a CA it makes at start (trusted in the demo only), and tests make the
//! fixtures they judge: trusted, untrusted chain, untrusted organisation, expired certificate,
//! stale signing time. Never used by `gas-miner run`.

use c2pa::{Builder, Context, SigningAlg, create_signer};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use std::io::Cursor;
use time::{Duration, OffsetDateTime};

/// A root certificate authority: its PEM is what a verifier trusts.
pub struct TestCa {
    pub root_pem: String,
    params: CertificateParams,
    key: KeyPair,
}

/// What a signing certificate says about its holder, and when it is valid.
#[derive(Debug, Clone)]
pub struct Holder {
    pub organisation: String,
    pub common_name: String,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
}

impl Holder {
    /// A certificate for `organisation`, valid from a day ago for a year.
    pub fn valid(organisation: &str) -> Holder {
        let now = OffsetDateTime::now_utc();
        Holder {
            organisation: organisation.to_string(),
            common_name: format!("{organisation} Media Signing"),
            not_before: now - Duration::days(1),
            not_after: now + Duration::days(365),
        }
    }
}

/// A leaf certificate chain and its key, ready to sign media.
pub struct MediaSigner {
    chain_pem: String,
    key_pem: String,
}

/// What to put in a manifest besides the signature.
#[derive(Debug, Clone)]
pub struct Claim {
    /// `claim_generator_info[0].name`, e.g. "Google Gemini".
    pub generator: String,
    /// The `when` of the `c2pa.created` action: the signing time validators read.
    pub when: OffsetDateTime,
    /// Mark the media as made by a trained algorithm.
    pub ai_generated: bool,
}

/// A step of making a test CA, a certificate or a signature failed.
#[derive(Debug, thiserror::Error)]
#[error("{what}: {detail}")]
pub struct SignerError {
    what: &'static str,
    detail: String,
}

fn err(what: &'static str, e: impl std::fmt::Display) -> SignerError {
    SignerError {
        what,
        detail: e.to_string(),
    }
}

impl TestCa {
    /// A self-signed root CA named `name`.
    pub fn new(name: &str) -> Result<TestCa, SignerError> {
        let key = KeyPair::generate().map_err(|e| err("CA key", e))?;
        let mut params = CertificateParams::new(Vec::<String>::new()).map_err(|e| err("CA", e))?;
        params.distinguished_name.push(DnType::CommonName, name);
        params
            .distinguished_name
            .push(DnType::OrganizationName, format!("{name} Authority"));
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let now = OffsetDateTime::now_utc();
        params.not_before = now - Duration::days(2);
        params.not_after = now + Duration::days(3650);
        let cert = params.self_signed(&key).map_err(|e| err("CA", e))?;
        Ok(TestCa {
            root_pem: cert.pem(),
            params,
            key,
        })
    }

    /// A signing certificate for `holder`, issued by this CA: `CA:FALSE`, key usage
    /// digitalSignature, extended key usage emailProtection (what C2PA signers carry).
    pub fn signer(&self, holder: &Holder) -> Result<MediaSigner, SignerError> {
        let key = KeyPair::generate().map_err(|e| err("signer key", e))?;
        let mut params =
            CertificateParams::new(Vec::<String>::new()).map_err(|e| err("signer", e))?;
        params
            .distinguished_name
            .push(DnType::CommonName, holder.common_name.clone());
        params
            .distinguished_name
            .push(DnType::OrganizationName, holder.organisation.clone());
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::EmailProtection];
        params.use_authority_key_identifier_extension = true;
        params.not_before = holder.not_before;
        params.not_after = holder.not_after;
        let issuer = Issuer::from_params(&self.params, &self.key);
        let cert = params
            .signed_by(&key, &issuer)
            .map_err(|e| err("signer", e))?;
        Ok(MediaSigner {
            chain_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}

impl MediaSigner {
    /// Returns `media` with a C2PA manifest embedded: a `c2pa.created` action at
    /// `claim.when`, signed with this certificate (ES256, no timestamp authority).
    pub fn sign(&self, media: &[u8], mime: &str, claim: &Claim) -> Result<Vec<u8>, SignerError> {
        let signer = create_signer::from_keys(
            self.chain_pem.as_bytes(),
            self.key_pem.as_bytes(),
            SigningAlg::Es256,
            None,
        )
        .map_err(|e| err("signer", e))?;
        let when = claim
            .when
            .format(&time::format_description::well_known::Rfc3339)
            .map_err(|e| err("time", e))?;
        let mut action = serde_json::json!({"action": "c2pa.created", "when": when});
        if claim.ai_generated {
            action["digitalSourceType"] = serde_json::json!(
                "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
            );
        }
        let definition = serde_json::json!({
            "claim_generator_info": [{"name": claim.generator, "version": "1.0"}],
            "title": "generated media",
            "assertions": [{"label": "c2pa.actions", "data": {"actions": [action]}}],
        });
        let context = Context::new()
            .with_settings(
                serde_json::json!({
                    "verify": {"verify_after_sign": false},
                    "builder": {"thumbnail": {"enabled": false}},
                })
                .to_string(),
            )
            .map_err(|e| err("c2pa settings", e))?;
        let mut builder = Builder::from_context(context)
            .with_definition(definition.to_string())
            .map_err(|e| err("manifest", e))?;
        let mut source = Cursor::new(media);
        let mut dest = Cursor::new(Vec::with_capacity(media.len() + 32 * 1024));
        builder
            .sign(signer.as_ref(), mime, &mut source, &mut dest)
            .map_err(|e| err("c2pa sign", e))?;
        Ok(dest.into_inner())
    }
}
