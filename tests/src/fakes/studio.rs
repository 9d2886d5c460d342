//! The fakes' media: pictures and videos C2PA-signed as a real AI company's would be, and every
//! way a test can ask for them to be wrong (`Defect`).

use super::{Api, Produced, Shared, lock};
use axum::body::Bytes;
use gas_miner::preflight::signer::{Holder, MediaSigner, TestCa};
use sha2::{Digest, Sha256};

/// How media comes out of the fake: every service's output is C2PA-signed by a "Google LLC"
/// certificate from a CA made at start (its root is what the miner must trust), unless a
/// scripted defect says otherwise.
pub struct Studio {
    pub root_pem: String,
    signer: MediaSigner,
    /// The same organisation, from a CA nobody trusts.
    stranger: MediaSigner,
}

impl Studio {
    pub(super) fn new() -> Studio {
        let ca = TestCa::new("Fake Provider Root").expect("test CA");
        let stranger = TestCa::new("Stranger Root")
            .and_then(|c| c.signer(&Holder::valid("Google LLC")))
            .expect("stranger CA");
        Studio {
            signer: ca.signer(&Holder::valid("Google LLC")).expect("signer"),
            root_pem: ca.root_pem,
            stranger,
        }
    }

    /// Signs `media` as `defect` says (`None`: properly).
    pub fn sign(&self, media: &[u8], mime: &str, defect: Option<&Defect>) -> Vec<u8> {
        let mut claim = crate::fixtures::claim("Google Gemini", time::OffsetDateTime::now_utc());
        let signer = match defect {
            Some(Defect::Unsigned) => return media.to_vec(),
            Some(Defect::Untrusted) => &self.stranger,
            Some(Defect::Stale) => {
                claim.when -= time::Duration::seconds(900);
                &self.signer
            }
            _ => &self.signer,
        };
        let mut signed = signer.sign(media, mime, &claim).expect("c2pa signing");
        if defect == Some(&Defect::Tampered) {
            // Changed after signing: flip a byte in the middle of the media.
            let i = signed.len() / 2;
            signed[i] ^= 0x55;
        }
        if defect == Some(&Defect::Edited) {
            signed = edited(signed);
        }
        signed
    }
}

/// Something wrong with the media a fake hands out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Defect {
    /// No C2PA manifest at all.
    Unsigned,
    /// Signed, then changed.
    Tampered,
    /// Signed 900 s before the challenge.
    Stale,
    /// Signed by a CA the miner does not trust.
    Untrusted,
    /// The very image this API handed out last time.
    Repeat,
    /// Signed, then edited so that it still decodes: a PNG gets a text chunk before `IEND`
    /// (what a metadata editor does); other media get a byte changed, as `Tampered`.
    Edited,
}

/// Media changed after signing in a way every decoder accepts.
fn edited(mut media: Vec<u8>) -> Vec<u8> {
    const IEND: usize = 12;
    if !media.starts_with(b"\x89PNG") || media.len() < 8 + IEND {
        let i = media.len() / 2;
        media[i] ^= 0x55;
        return media;
    }
    let data: &[u8] = b"Comment\0edited after signing";
    let mut chunk = (data.len() as u32).to_be_bytes().to_vec();
    chunk.extend_from_slice(b"tEXt");
    chunk.extend_from_slice(data);
    chunk.extend_from_slice(&crate::fixtures::crc32(&chunk[4..]).to_be_bytes());
    let at = media.len() - IEND;
    media.splice(at..at, chunk);
    media
}

/// A noise picture (distinct per call, so perceptual hashes differ), as PNG.
fn noise_png(size: u32) -> Vec<u8> {
    let seed = u64::from_le_bytes(
        uuid::Uuid::new_v4().as_bytes()[..8]
            .try_into()
            .unwrap_or([7; 8]),
    ) | 1;
    crate::fixtures::noise_png(size, seed)
}

/// A signed picture for `api` (or a flawed one), recorded as produced.
pub(super) fn make_png(state: &Shared, api: Api, defect: Option<Defect>) -> Vec<u8> {
    let studio = lock(state).studio.clone();
    let bytes = match defect {
        Some(Defect::Repeat) => {
            let last = lock(state).last_image.get(&api).cloned();
            last.unwrap_or_else(|| studio.sign(&noise_png(128), "image/png", None))
        }
        d => studio.sign(&noise_png(128), "image/png", d.as_ref()),
    };
    let mut s = lock(state);
    s.last_image.insert(api, bytes.clone());
    s.produced.push(Produced {
        api,
        sha256: hex::encode(Sha256::digest(&bytes)),
        len: bytes.len(),
    });
    bytes
}

/// A signed `width`×`height` picture for `api`, of noise in 32 px blocks (distinct per call
/// for the perceptual hash, yet small as PNG even at 4K), recorded as produced.
pub(super) fn make_png_sized(state: &Shared, api: Api, width: u32, height: u32) -> Vec<u8> {
    let studio = lock(state).studio.clone();
    let cells = noise_png(width.div_ceil(32).max(1));
    let small = image::load_from_memory(&cells).expect("noise decodes");
    let big = small.resize_exact(
        width.div_ceil(32) * 32,
        height.div_ceil(32) * 32,
        image::imageops::FilterType::Nearest,
    );
    let big = big.crop_imm(0, 0, width, height);
    let mut png = std::io::Cursor::new(Vec::new());
    big.write_to(&mut png, image::ImageFormat::Png)
        .expect("png encodes");
    let bytes = studio.sign(&png.into_inner(), "image/png", None);
    let mut s = lock(state);
    s.produced.push(Produced {
        api,
        sha256: hex::encode(Sha256::digest(&bytes)),
        len: bytes.len(),
    });
    bytes
}

/// A picture nobody signed (a model's interim "thought" image).
pub(super) fn unsigned_png() -> Vec<u8> {
    noise_png(64)
}

/// A signed video of `(width, height)` and about `payload` bytes (or a flawed one).
pub(super) fn make_video(
    studio: &Studio,
    payload: usize,
    (width, height): (u16, u16),
    defect: Option<Defect>,
) -> Bytes {
    let mp4 = gas_miner::preflight::media::synthetic_mp4(width, height, 96, &vec![0x5a; payload]);
    Bytes::from(studio.sign(&mp4, "video/mp4", defect.as_ref()))
}
