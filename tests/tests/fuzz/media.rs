//! Target 6: the media pre-flight on malformed images and videos (PNG, JPEG, WebP, GIF, MP4,
//! WebM seeds, two of them C2PA-signed, with bit flips, cuts, inserted bytes and overwritten
//! size fields): every step agrees, and a signed file whose picture changed never passes.

use crate::harness::{CASES, COVERAGE_CASES, MEDIA_BOUND, corpus, fuzz, guarded, turn};
use crate::setup::task;
use crate::strategies::{mutate, mutations};
use gas_miner::preflight::media::{decode_image, probe_video, synthetic_mp4};
use gas_miner::preflight::signer::Holder;
use gas_miner::preflight::{self, Preflight};
use gas_shared::{Modality, Tier};
use proptest::prelude::*;
use serde_json::json;
use std::sync::{Arc, Mutex};

fn webm(width: u16, height: u16, blocks: usize) -> Vec<u8> {
    fn el(id: &[u8], body: &[u8]) -> Vec<u8> {
        let mut v = id.to_vec();
        v.push(0x80 | body.len() as u8);
        v.extend_from_slice(body);
        v
    }
    let video = el(
        &[0xE0],
        &[
            el(&[0xB0], &width.to_be_bytes()),
            el(&[0xBA], &height.to_be_bytes()),
        ]
        .concat(),
    );
    let entry = el(
        &[0xAE],
        &[el(&[0xD7], &[1]), el(&[0x83], &[1]), video].concat(),
    );
    let tracks = el(&[0x16, 0x54, 0xAE, 0x6B], &entry);
    let block = el(&[0xA3], &[0x81, 0, 0, 0x80, 9]);
    let cluster = el(&[0x1F, 0x43, 0xB6, 0x75], &block.repeat(blocks));
    let segment = el(&[0x18, 0x53, 0x80, 0x67], &[tracks, cluster].concat());
    [
        el(
            &[0x1A, 0x45, 0xDF, 0xA3],
            &[0x42, 0x82, 0x84, b'w', b'e', b'b', b'm'],
        ),
        segment,
    ]
    .concat()
}

/// Recomputes every PNG chunk's CRC, so that a mutation reaches the decoder instead of
/// stopping at the checksum.
fn fix_png_crcs(b: &mut [u8]) {
    if !b.starts_with(b"\x89PNG\r\n\x1a\n") {
        return;
    }
    let mut at = 8;
    while at + 12 <= b.len() {
        let len = u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]) as usize;
        let Some(end) = (at + 8).checked_add(len).filter(|e| e + 4 <= b.len()) else {
            return;
        };
        let crc = gas_tests::fixtures::crc32(&b[at + 4..end]);
        b[end..end + 4].copy_from_slice(&crc.to_be_bytes());
        at = end + 4;
    }
}

/// Where the picture or the video data is: PNG `IDAT` chunk data, MP4 `mdat` box bodies.
fn payload(b: &[u8]) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let be32 = |at: usize| {
        b.get(at..at + 4)
            .map(|w| u32::from_be_bytes([w[0], w[1], w[2], w[3]]))
    };
    if b.starts_with(b"\x89PNG\r\n\x1a\n") {
        let mut at = 8;
        while let Some(len) = be32(at) {
            let end = at + 8 + len as usize;
            if b.get(at + 4..at + 8) == Some(b"IDAT") && end <= b.len() {
                out.push(at + 8..end);
            }
            at = end + 4;
        }
    } else if b.get(4..8) == Some(b"ftyp") {
        let mut at = 0;
        while let Some(size) = be32(at) {
            let size = size as usize;
            if size < 8 || at + size > b.len() {
                break;
            }
            if b.get(at + 4..at + 8) == Some(b"mdat") {
                out.push(at + 8..at + size);
            }
            at += size;
        }
    }
    out
}

struct MediaRig {
    preflight: Preflight,
    seeds: Vec<Vec<u8>>,
    /// Seeds that must pass the whole pre-flight.
    signed: Vec<usize>,
    /// Seeds before this index are valid media (the corpus follows).
    valid: usize,
    _dir: tempfile::TempDir,
}

impl MediaRig {
    fn new() -> MediaRig {
        let dir = tempfile::tempdir().expect("tempdir");
        let (ca, anchors) = gas_tests::fixtures::trusted_ca(dir.path(), "GAS Fuzz Root");
        let preflight = Preflight::new(&anchors).expect("preflight");
        let signer = ca.signer(&Holder::valid("Google LLC")).expect("signer");
        let claim = gas_tests::fixtures::claim("Google Gemini", time::OffsetDateTime::now_utc());
        use gas_tests::fixtures::picture;
        use image::ImageFormat;
        let mut seeds = vec![
            signer
                .sign(&picture(ImageFormat::Png, 3), "image/png", &claim)
                .expect("sign a PNG"),
            signer
                .sign(&synthetic_mp4(640, 480, 24, &[7; 512]), "video/mp4", &claim)
                .expect("sign an MP4"),
        ];
        let signed = vec![0, 1];
        for i in &signed {
            assert!(
                !payload(&seeds[*i]).is_empty(),
                "signed seed {i} has no payload"
            );
        }
        seeds.extend([
            picture(ImageFormat::Png, 5),
            picture(ImageFormat::Jpeg, 6),
            picture(ImageFormat::WebP, 7),
            picture(ImageFormat::Gif, 8),
            synthetic_mp4(1280, 720, 48, &[3; 256]),
            webm(640, 480, 3),
        ]);
        let valid = seeds.len();
        seeds.extend(corpus("media").into_iter().map(|(_, b)| b));
        MediaRig {
            preflight,
            seeds,
            signed,
            valid,
            _dir: dir,
        }
    }
}

/// How deep one input got: decoded as an image, parsed as a video, a manifest read, passed.
#[derive(Debug, Default, Clone, Copy)]
struct Depth {
    inputs: usize,
    decoded: usize,
    probed: usize,
    manifests: usize,
    passed: usize,
}

impl std::ops::AddAssign for Depth {
    fn add_assign(&mut self, o: Depth) {
        self.inputs += o.inputs;
        self.decoded += o.decoded;
        self.probed += o.probed;
        self.manifests += o.manifests;
        self.passed += o.passed;
    }
}

/// Every pre-flight step on `bytes`: a verdict always comes, consistent with the steps it is
/// made of; an error always says why.
fn media_round(rig: &MediaRig, bytes: &[u8], must_pass: bool) -> Depth {
    let mut depth = Depth {
        inputs: 1,
        ..Depth::default()
    };
    let head = &bytes[..bytes.len().min(32)];
    let ct = preflight::content_type(head);
    for modality in Modality::ALL {
        match preflight::check(head, modality) {
            Ok(found) => {
                assert_eq!(Some(found), ct);
                assert!(found.starts_with(modality.as_str()));
            }
            Err(e) => assert!(!e.to_string().is_empty()),
        }
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("media");
    std::fs::write(&path, bytes).expect("write media");
    let image = decode_image(&path);
    match &image {
        Ok((m, img)) => {
            assert!(m.width > 0 && m.height > 0);
            assert_eq!((img.width(), img.height()), (m.width, m.height));
            assert!(u64::from(m.width) * u64::from(m.height) <= 16_384 * 16_384);
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
    depth.decoded = usize::from(image.is_ok());
    for container in ["video/mp4", "video/quicktime", "video/webm"] {
        match probe_video(&path, container) {
            Ok(m) => {
                assert!(m.width > 0 && m.height > 0 && m.frames != Some(0), "{m:?}");
                depth.probed = 1;
            }
            Err(e) => assert!(!e.to_string().is_empty()),
        }
    }
    let modality = match ct {
        Some(t) if t.starts_with("video") => Modality::Video,
        _ => Modality::Image,
    };
    let t = task(
        modality,
        "a fuzzed kite",
        json!({}),
        Tier::default_for(modality),
    );
    let verdict = rig.preflight.judge(&path, &t, "fuzz");
    assert_eq!(verdict.passed, verdict.reasons.is_empty());
    assert_eq!(verdict.media.bytes, bytes.len() as u64);
    if verdict.passed {
        assert!(verdict.media.decodes && verdict.c2pa.verified && verdict.c2pa.is_trusted_issuer);
    }
    if modality == Modality::Image && ct.is_some() {
        assert_eq!(verdict.media.decodes, image.is_ok(), "{:?}", verdict.media);
    }
    if must_pass {
        assert!(
            verdict.passed,
            "a valid signed seed fails: {:?}",
            verdict.reasons
        );
    }
    depth.manifests = usize::from(verdict.c2pa.manifest_present);
    depth.passed = usize::from(verdict.passed);
    depth
}

#[test]
fn fuzz_media_preflight() {
    let _turn = turn();
    let rig = Arc::new(MediaRig::new());
    // The valid seeds: each decodes or parses, and the signed ones pass.
    for (i, seed) in rig.seeds[..rig.valid].iter().cloned().enumerate() {
        let r = rig.clone();
        let must_pass = rig.signed.contains(&i);
        let depth = guarded(&format!("media/seed {i}"), MEDIA_BOUND, move || {
            media_round(&r, &seed, must_pass)
        });
        assert!(
            depth.decoded + depth.probed > 0,
            "seed {i} neither decodes nor parses"
        );
    }
    for (name, bytes) in corpus("media") {
        let r = rig.clone();
        guarded(&format!("media/{name}"), MEDIA_BOUND, move || {
            media_round(&r, &bytes, false)
        });
    }
    let (valid, n) = (rig.valid, rig.seeds.len());
    let seed = prop_oneof![3 => 0..valid, 1 => valid..n];
    let reached = Arc::new(Mutex::new(Depth::default()));
    let case = (seed, mutations(4), prop::bool::weighted(0.7));
    fuzz("media", CASES.media, case, |(seed, muts, fix_crcs)| {
        let r = rig.clone();
        let depth = guarded("media", MEDIA_BOUND, move || {
            let mut bytes = mutate(&r.seeds[seed], &muts);
            if fix_crcs {
                fix_png_crcs(&mut bytes);
            }
            let depth = media_round(&r, &bytes, false);
            // Unsigned bytes (the manifest's padding, `ftyp`) may change; the picture or the
            // video data never without failing.
            let original = &r.seeds[seed];
            let tampered = r.signed.contains(&seed)
                && bytes.len() == original.len()
                && payload(original)
                    .into_iter()
                    .any(|p| bytes[p.clone()] != original[p]);
            assert!(
                !(tampered && depth.passed == 1),
                "media changed after signing passes the pre-flight"
            );
            depth
        });
        *reached.lock().unwrap_or_else(|p| p.into_inner()) += depth;
    });
    // A fuzzer whose inputs all die at the magic bytes tests nothing: enough of them must get
    // through each decoder and to the C2PA reader.
    let d = *reached.lock().unwrap_or_else(|p| p.into_inner());
    eprintln!("fuzz media reached: {d:?}");
    if d.inputs >= COVERAGE_CASES {
        assert!(d.decoded * 20 >= d.inputs, "too few decoded: {d:?}");
        assert!(d.probed * 30 >= d.inputs, "too few videos parsed: {d:?}");
        assert!(
            d.manifests * 100 >= d.inputs,
            "too few manifests read: {d:?}"
        );
    }
}
