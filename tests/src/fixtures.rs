//! C2PA fixture files made at test time, each with the verdict validators must reach: signed
//! by a "Google LLC" certificate from a CA made here (trusted: PNG, JPEG, MP4), and every way
//! to fail (no manifest, bytes changed after signing, an untrusted chain, an organisation that
//! is no AI generator, an expired certificate). Also the pieces they are made of, for tests
//! that make their own: pictures, a trusted test CA, claims, the PNG CRC-32.

use gas_miner::preflight::media::synthetic_mp4;
use gas_miner::preflight::signer::{Claim, Holder, MediaSigner, TestCa};
use std::path::{Path, PathBuf};
use time::{Duration, OffsetDateTime};

pub struct FixtureSet {
    pub dir: tempfile::TempDir,
    /// A directory holding the test root: the anchors to verify with.
    pub anchors: PathBuf,
    /// (file, passes, what it is)
    pub files: Vec<(PathBuf, bool, &'static str)>,
}

/// An AI-generated claim by `generator`, made at `when`.
pub fn claim(generator: &str, when: OffsetDateTime) -> Claim {
    Claim {
        generator: generator.into(),
        when,
        ai_generated: true,
    }
}

/// A test root CA called `name`, and the trust anchors that hold it: `<dir>/anchors`.
pub fn trusted_ca(dir: &Path, name: &str) -> (TestCa, PathBuf) {
    let ca = TestCa::new(name).expect("test CA");
    let anchors = dir.join("anchors");
    std::fs::create_dir_all(&anchors).expect("anchors dir");
    std::fs::write(anchors.join("root.pem"), &ca.root_pem).expect("anchor");
    (ca, anchors)
}

/// A small picture in `format` (content varies with `seed`).
pub fn picture(format: image::ImageFormat, seed: u8) -> Vec<u8> {
    picture_sized(format, 96, 64, seed)
}

/// A `width`×`height` picture in `format` (content varies with `seed`).
pub fn picture_sized(format: image::ImageFormat, width: u32, height: u32, seed: u8) -> Vec<u8> {
    let img = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([
            (x as u8).wrapping_mul(seed),
            (y as u8).wrapping_add(seed),
            seed,
        ])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, format).expect("encode picture");
    out.into_inner()
}

/// A `side`×`side` picture of xorshift noise from `seed` (not 0), as PNG: it does not
/// compress, and pictures from different seeds are far apart to a perceptual hash.
pub fn noise_png(side: u32, mut seed: u64) -> Vec<u8> {
    let img = image::RgbImage::from_fn(side, side, |_, _| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let b = seed.to_le_bytes();
        image::Rgb([b[0], b[1], b[2]])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)
        .expect("png encodes");
    out.into_inner()
}

/// The CRC-32 PNG chunks carry.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for b in bytes {
        crc ^= u32::from(*b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A PNG changed after signing that still decodes: a text chunk added before IEND.
pub fn tamper_png(signed: &[u8]) -> Vec<u8> {
    let mut out = signed.to_vec();
    let iend = out.len() - 12;
    let mut chunk = 4u32.to_be_bytes().to_vec();
    chunk.extend_from_slice(b"tEXtab\0c");
    let crc = crc32(&chunk[4..]);
    chunk.extend_from_slice(&crc.to_be_bytes());
    out.splice(iend..iend, chunk);
    out
}

/// Every fixture, written into a fresh directory. Takes about 3 s (the expired certificate
/// must outlive its signing).
pub fn c2pa_fixtures() -> FixtureSet {
    let dir = tempfile::tempdir().expect("tempdir");
    let (ca, anchors) = trusted_ca(dir.path(), "GAS Fixture Root");
    let google: MediaSigner = ca.signer(&Holder::valid("Google LLC")).expect("signer");
    let png = image::ImageFormat::Png;
    let gemini = claim("Google Gemini", OffsetDateTime::now_utc());
    let mut files = Vec::new();
    let mut put = |name: &str, bytes: Vec<u8>, pass: bool, what: &'static str| {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).expect("write fixture");
        files.push((p, pass, what));
    };
    // Made first so that its certificate has expired by the time the set is returned.
    let short_lived = ca
        .signer(&Holder {
            not_after: OffsetDateTime::now_utc() + Duration::seconds(2),
            ..Holder::valid("Google LLC")
        })
        .expect("signer");
    let signed_expired = short_lived
        .sign(&picture(png, 9), "image/png", &gemini)
        .expect("sign");
    let signed_png = google
        .sign(&picture(png, 3), "image/png", &gemini)
        .expect("sign");
    put("trusted.png", signed_png.clone(), true, "trusted PNG");
    put(
        "trusted.jpg",
        google
            .sign(&picture(image::ImageFormat::Jpeg, 4), "image/jpeg", &gemini)
            .expect("sign"),
        true,
        "trusted JPEG",
    );
    let mp4 = google
        .sign(
            &synthetic_mp4(1280, 720, 48, &[3; 8192]),
            "video/mp4",
            &gemini,
        )
        .expect("sign");
    put("trusted.mp4", mp4.clone(), true, "trusted MP4");
    put("unsigned.png", picture(png, 5), false, "no manifest");
    put(
        "tampered.png",
        tamper_png(&signed_png),
        false,
        "PNG changed after signing",
    );
    let mut cut = mp4;
    let mdat = cut.windows(4).position(|w| w == b"mdat").expect("mdat box");
    cut[mdat + 100] ^= 0xff;
    put("tampered.mp4", cut, false, "MP4 changed after signing");
    let stranger = TestCa::new("Stranger Root")
        .and_then(|c| c.signer(&Holder::valid("Google LLC")))
        .expect("stranger");
    put(
        "untrusted-chain.png",
        stranger
            .sign(&picture(png, 6), "image/png", &gemini)
            .expect("sign"),
        false,
        "chain to an unknown root",
    );
    put(
        "untrusted-org.png",
        ca.signer(&Holder::valid("Acme Pictures"))
            .expect("signer")
            .sign(
                &picture(png, 7),
                "image/png",
                &claim("Acme Studio", OffsetDateTime::now_utc()),
            )
            .expect("sign"),
        false,
        "organisation that is no AI generator",
    );
    let wait = std::time::Duration::from_millis(3200);
    std::thread::sleep(wait);
    put("expired.png", signed_expired, false, "expired certificate");
    FixtureSet {
        dir,
        anchors,
        files,
    }
}
