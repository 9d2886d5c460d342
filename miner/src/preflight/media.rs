//! Does the media open, and how big is it? Images are decoded in full (PNG, JPEG, WebP, GIF),
//! as validators' PIL does; videos are parsed, not decoded: MP4/MOV by their boxes (the video
//! track's sample entry size and sample count), WebM by its EBML elements (pixel size and
//! blocks of the video track). Both walk the file with seeks, so a 50 MB video costs a few
//! reads, never a copy in memory. Malformed input gives an error, never a panic or a hang.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

/// Why a file is not media validators can use: it does not open, decode or parse, or has no
/// picture (the text is the finding a verdict shows).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct Unusable(pub String);

impl From<String> for Unusable {
    fn from(text: String) -> Unusable {
        Unusable(text)
    }
}

impl From<&str> for Unusable {
    fn from(text: &str) -> Unusable {
        Unusable(text.to_string())
    }
}

/// What a file turned out to be.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Measured {
    pub width: u32,
    pub height: u32,
    /// Video frames; `None` for images.
    pub frames: Option<u64>,
    pub duration_s: Option<f64>,
}

/// Largest image decoded (pixels): validators' PIL refuses anything bigger as a decompression
/// bomb (2 × `Image.MAX_IMAGE_PIXELS`), so no memory is spent on it.
const MAX_PIXELS: u64 = 2 * 89_478_485;
/// A complete JPEG spends at least one bit on every 8×8 block (progressive scans included), so
/// it holds at most 512 pixels per byte. The decoder fills a cut-off JPEG with grey instead of
/// failing, so without this a 200-byte file would "decode" as a huge grey picture (1.3 GiB to
/// hash a 16384×16384 one); PIL refuses such a file as truncated.
const MAX_JPEG_PIXELS_PER_BYTE: u64 = 1024;

fn image_reader(path: &Path) -> Result<image::ImageReader<BufReader<File>>, Unusable> {
    let file = File::open(path).map_err(|e| e.to_string())?;
    let mut reader = image::ImageReader::new(BufReader::new(file))
        .with_guessed_format()
        .map_err(|e| e.to_string())?;
    let mut limits = image::Limits::default();
    // Refused before decoding: PIL, which validators use, refuses much the same.
    limits.max_image_width = Some(16_384);
    limits.max_image_height = Some(16_384);
    limits.max_alloc = Some(1024 * 1024 * 1024);
    reader.limits(limits);
    Ok(reader)
}

/// Decodes an image; returns its size and the decoded picture (for the perceptual hash).
pub fn decode_image(path: &Path) -> Result<(Measured, image::DynamicImage), Unusable> {
    // The size the header claims is checked before any pixel is allocated: some decoders
    // allocate the whole picture up front (the GIF one beyond `max_alloc`).
    let header = image_reader(path)?;
    let format = header.format();
    let (width, height) = header
        .into_dimensions()
        .map_err(|e| format!("image does not decode: {e}"))?;
    let pixels = u64::from(width) * u64::from(height);
    if width == 0 || height == 0 || pixels > MAX_PIXELS {
        return Err(format!("image has an unusable size {width}×{height}").into());
    }
    let bytes = std::fs::metadata(path).map_err(|e| e.to_string())?.len();
    if format == Some(image::ImageFormat::Jpeg)
        && pixels > bytes.saturating_mul(MAX_JPEG_PIXELS_PER_BYTE)
    {
        return Err(format!(
            "image does not decode: a {width}×{height} JPEG cannot fit in {bytes} bytes (the file is cut short)"
        ).into());
    }
    let img = image_reader(path)?
        .decode()
        .map_err(|e| format!("image does not decode: {e}"))?;
    let (width, height) = (img.width(), img.height());
    if width == 0 || height == 0 || u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(format!("image has an unusable size {width}×{height}").into());
    }
    Ok((
        Measured {
            width,
            height,
            frames: None,
            duration_s: None,
        },
        img,
    ))
}

/// Parses a video by its container (`video/mp4`, `video/quicktime`, `video/webm`).
pub fn probe_video(path: &Path, content_type: &str) -> Result<Measured, Unusable> {
    let file = File::open(path).map_err(|e| e.to_string())?;
    let len = file.metadata().map_err(|e| e.to_string())?.len();
    let mut src = Source {
        r: BufReader::with_capacity(64 * 1024, file),
        pos: 0,
    };
    let m = if content_type == "video/webm" {
        webm::probe(&mut src, len)?
    } else {
        bmff::probe(&mut src, len)?
    };
    if m.width == 0 || m.height == 0 {
        return Err("video track has no picture size".into());
    }
    if m.frames == Some(0) {
        return Err("video track has no frames".into());
    }
    Ok(m)
}

/// A buffered file that knows where it is, so short forward moves keep the buffer.
struct Source {
    r: BufReader<File>,
    pos: u64,
}

impl Source {
    fn goto(&mut self, at: u64) -> Result<(), Unusable> {
        if at >= self.pos && at - self.pos < 1 << 20 {
            self.r
                .seek_relative((at - self.pos) as i64)
                .map_err(|e| e.to_string())?;
        } else {
            self.r
                .seek(SeekFrom::Start(at))
                .map_err(|e| e.to_string())?;
        }
        self.pos = at;
        Ok(())
    }

    fn read(&mut self, n: usize) -> Result<Vec<u8>, Unusable> {
        let mut buf = vec![0u8; n];
        self.r
            .read_exact(&mut buf)
            .map_err(|e| format!("file ends early: {e}"))?;
        self.pos += n as u64;
        Ok(buf)
    }

    /// One byte, or `None` at the end of the file.
    fn byte(&mut self) -> Result<Option<u8>, Unusable> {
        let mut b = [0u8; 1];
        match self.r.read(&mut b).map_err(|e| e.to_string())? {
            0 => Ok(None),
            _ => {
                self.pos += 1;
                Ok(Some(b[0]))
            }
        }
    }
}

fn be_u32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn be_u64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

fn be_u16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

/// Elements or boxes visited before a file is called malformed.
const MAX_ELEMENTS: u64 = 2_000_000;

/// ISO base media (MP4, MOV): boxes of `size:u32 type:[u8;4]` (size 1: a 64-bit size follows,
/// 0: to the end of the enclosing box).
mod bmff {
    use super::*;

    /// Containers walked into on the way to the video track.
    const CONTAINERS: [&[u8; 4]; 6] = [b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts"];
    /// Boxes read whole (all small).
    const LEAVES: [&[u8; 4]; 6] = [b"hdlr", b"stsd", b"stsz", b"stz2", b"mdhd", b"tkhd"];

    #[derive(Default)]
    struct Track {
        video: bool,
        width: u32,
        height: u32,
        samples: u64,
        timescale: u32,
        duration: u64,
    }

    #[derive(Default)]
    struct Walk {
        tracks: Vec<Track>,
        mdat_bytes: u64,
        fragment_samples: u64,
        boxes: u64,
    }

    pub(super) fn probe(r: &mut Source, len: u64) -> Result<Measured, Unusable> {
        let mut w = Walk::default();
        walk(r, 0, len, 0, *b"file", &mut w)?;
        let track = w
            .tracks
            .iter()
            .find(|t| t.video)
            .ok_or("no video track (moov/trak with a `vide` handler)")?;
        if w.mdat_bytes == 0 {
            return Err("no media data (mdat is missing or empty)".into());
        }
        let frames = if track.samples > 0 {
            track.samples
        } else {
            w.fragment_samples
        };
        Ok(Measured {
            width: track.width,
            height: track.height,
            frames: Some(frames),
            duration_s: (track.timescale > 0)
                .then(|| track.duration as f64 / f64::from(track.timescale)),
        })
    }

    fn walk(
        r: &mut Source,
        start: u64,
        end: u64,
        depth: u32,
        parent: [u8; 4],
        w: &mut Walk,
    ) -> Result<(), Unusable> {
        if depth > 16 {
            return Err("boxes nested too deep".into());
        }
        let mut at = start;
        while end - at >= 8 {
            w.boxes += 1;
            if w.boxes > MAX_ELEMENTS {
                return Err("too many boxes".into());
            }
            r.goto(at)?;
            let head = r.read(8)?;
            let mut size = u64::from(be_u32(&head, 0).unwrap_or(0));
            let kind: [u8; 4] = head[4..8].try_into().unwrap_or(*b"    ");
            let mut header = 8;
            if size == 1 {
                if end - at < 16 {
                    return Err("a 64-bit box size runs past the end".into());
                }
                size = be_u64(&r.read(8)?, 0).unwrap_or(0);
                header = 16;
            } else if size == 0 {
                size = end - at;
            }
            if size < header || size > end - at {
                return Err(format!(
                    "box `{}` at byte {at} claims {size} bytes, past the end of its parent",
                    String::from_utf8_lossy(&kind)
                )
                .into());
            }
            let body_start = at + header;
            let body_len = size - header;
            let stop = at + size;
            match &kind {
                b"mdat" => w.mdat_bytes = w.mdat_bytes.saturating_add(body_len),
                b"trak" => {
                    w.tracks.push(Track::default());
                    walk(r, body_start, stop, depth + 1, kind, w)?;
                }
                b"moof" | b"traf" => walk(r, body_start, stop, depth + 1, kind, w)?,
                b"trun" if body_len >= 8 => {
                    let b = r.read(8)?;
                    w.fragment_samples = w
                        .fragment_samples
                        .saturating_add(u64::from(be_u32(&b, 4).unwrap_or(0)));
                }
                k if CONTAINERS.contains(&k) => walk(r, body_start, stop, depth + 1, kind, w)?,
                // Only the media handler (directly under mdia) says what the track is; MOV
                // files also have a data handler (`url `) inside minf.
                b"hdlr" if &parent != b"mdia" => {}
                k if LEAVES.contains(&k) && body_len <= 1 << 20 => {
                    let body = r.read(body_len as usize)?;
                    if let Some(t) = w.tracks.last_mut() {
                        leaf(k, &body, t);
                    }
                }
                _ => {}
            }
            at = stop;
        }
        Ok(())
    }

    fn leaf(kind: &[u8; 4], b: &[u8], t: &mut Track) {
        match kind {
            // version/flags(4) pre_defined(4) handler_type(4)
            b"hdlr" => t.video = b.get(8..12) == Some(b"vide"),
            // version/flags(4) count(4), then entries: size(4) format(4) reserved(6)
            // data_ref(2) pre_defined/reserved(16) width(2) height(2)
            b"stsd" => {
                if let (Some(w), Some(h)) = (be_u16(b, 8 + 32), be_u16(b, 8 + 34)) {
                    t.width = u32::from(w);
                    t.height = u32::from(h);
                }
            }
            // version/flags(4) sample_size(4) sample_count(4)
            b"stsz" => t.samples = u64::from(be_u32(b, 8).unwrap_or(0)),
            // version/flags(4) reserved(3) field_size(1) sample_count(4)
            b"stz2" => t.samples = u64::from(be_u32(b, 8).unwrap_or(0)),
            b"mdhd" => {
                let (ts, dur) = if b.first() == Some(&1) {
                    (be_u32(b, 20), be_u64(b, 24))
                } else {
                    (be_u32(b, 12), be_u32(b, 16).map(u64::from))
                };
                t.timescale = ts.unwrap_or(0);
                t.duration = dur.unwrap_or(0);
            }
            // Display size (16.16 fixed point) at the end; used when stsd gave none.
            b"tkhd" if t.width == 0 && b.len() >= 84 => {
                let n = b.len();
                t.width = be_u32(b, n - 8).unwrap_or(0) >> 16;
                t.height = be_u32(b, n - 4).unwrap_or(0) >> 16;
            }
            _ => {}
        }
    }
}

/// Matroska / WebM: EBML elements of `id:vint size:vint`.
mod webm {
    use super::*;

    const SEGMENT: u64 = 0x1853_8067;
    const INFO: u64 = 0x1549_A966;
    const TIMESCALE: u64 = 0x2A_D7B1;
    const DURATION: u64 = 0x4489;
    const TRACKS: u64 = 0x1654_AE6B;
    const TRACK_ENTRY: u64 = 0xAE;
    const TRACK_NUMBER: u64 = 0xD7;
    const TRACK_TYPE: u64 = 0x83;
    const VIDEO: u64 = 0xE0;
    const PIXEL_WIDTH: u64 = 0xB0;
    const PIXEL_HEIGHT: u64 = 0xBA;
    const CLUSTER: u64 = 0x1F43_B675;
    const BLOCK_GROUP: u64 = 0xA0;
    const BLOCK: u64 = 0xA1;
    const SIMPLE_BLOCK: u64 = 0xA3;
    /// Children of a Segment: one of these ends an unknown-size Cluster.
    const SEGMENT_CHILDREN: [u64; 8] = [
        CLUSTER,
        INFO,
        TRACKS,
        0x114D_9B74, // SeekHead
        0x1C53_BB6B, // Cues
        0x1043_A770, // Chapters
        0x1941_A469, // Attachments
        0x1254_C367, // Tags
    ];

    #[derive(Default)]
    struct Walk {
        timescale: u64,
        duration: Option<f64>,
        /// (number, is video, width, height)
        tracks: Vec<(u64, bool, u32, u32)>,
        /// Blocks of the video track.
        video_blocks: u64,
        elements: u64,
    }

    /// A variable-length integer; `id` keeps the marker bit. `None` at the end of input.
    fn vint(r: &mut Source, id: bool) -> Result<Option<(u64, usize, bool)>, Unusable> {
        let Some(first) = r.byte()? else {
            return Ok(None);
        };
        let n = first.leading_zeros() as usize + 1;
        if n > 8 {
            return Err("invalid EBML number".into());
        }
        let rest = r.read(n - 1)?;
        let mut value = if id {
            u64::from(first)
        } else {
            u64::from(first) & ((1u64 << (8 - n)) - 1)
        };
        for b in &rest {
            value = (value << 8) | u64::from(*b);
        }
        let all_ones = !id && value == (1u64 << (7 * n)) - 1;
        Ok(Some((value, n, all_ones)))
    }

    fn uint(b: &[u8]) -> u64 {
        b.iter().take(8).fold(0, |v, x| (v << 8) | u64::from(*x))
    }

    pub(super) fn probe(r: &mut Source, len: u64) -> Result<Measured, Unusable> {
        let mut w = Walk {
            timescale: 1_000_000,
            ..Walk::default()
        };
        walk(r, 0, len, 0, None, None, &mut w)?;
        let (_, _, width, height) = w
            .tracks
            .iter()
            .find(|t| t.1)
            .copied()
            .ok_or("no video track in the WebM tracks")?;
        Ok(Measured {
            width,
            height,
            frames: Some(w.video_blocks),
            duration_s: w.duration.map(|d| d * w.timescale as f64 / 1_000_000_000.0),
        })
    }

    /// Walks `start..end`; returns where it stopped. Inside an unknown-size `Cluster`
    /// (`unknown_cluster`), a sibling-level element ends it.
    fn walk(
        r: &mut Source,
        start: u64,
        end: u64,
        depth: u32,
        track: Option<usize>,
        unknown_cluster: Option<()>,
        w: &mut Walk,
    ) -> Result<u64, Unusable> {
        if depth > 12 {
            return Err("elements nested too deep".into());
        }
        let mut at = start;
        while at < end {
            w.elements += 1;
            if w.elements > MAX_ELEMENTS {
                return Err("too many elements".into());
            }
            r.goto(at)?;
            let Some((id, id_len, _)) = vint(r, true)? else {
                break;
            };
            if unknown_cluster.is_some() && SEGMENT_CHILDREN.contains(&id) {
                return Ok(at);
            }
            let Some((size, size_len, unknown)) = vint(r, false)? else {
                return Err("element cut short".into());
            };
            let body = at + (id_len + size_len) as u64;
            if !unknown && size > end.saturating_sub(body) {
                return Err(format!("element {id:#x} at byte {at} runs past its parent").into());
            }
            let stop = if unknown { end } else { body + size };
            let small = |r: &mut Source| r.read(size.min(64) as usize);
            let mut next = stop;
            match id {
                SEGMENT | INFO | TRACKS | BLOCK_GROUP | VIDEO => {
                    next = walk(r, body, stop, depth + 1, track, None, w)?;
                }
                CLUSTER => {
                    let marker = unknown.then_some(());
                    next = walk(r, body, stop, depth + 1, track, marker, w)?;
                }
                TRACK_ENTRY => {
                    if w.tracks.len() >= 128 {
                        return Err("too many tracks".into());
                    }
                    w.tracks.push((0, false, 0, 0));
                    let i = w.tracks.len() - 1;
                    next = walk(r, body, stop, depth + 1, Some(i), None, w)?;
                }
                TIMESCALE => w.timescale = uint(&small(r)?).max(1),
                DURATION => {
                    let b = small(r)?;
                    w.duration = match b.len() {
                        4 => Some(f64::from(f32::from_be_bytes([b[0], b[1], b[2], b[3]]))),
                        8 => be_u64(&b, 0).map(f64::from_bits),
                        _ => None,
                    };
                }
                TRACK_NUMBER | TRACK_TYPE | PIXEL_WIDTH | PIXEL_HEIGHT => {
                    let v = uint(&small(r)?);
                    if let Some(t) = track.and_then(|i| w.tracks.get_mut(i)) {
                        match id {
                            TRACK_NUMBER => t.0 = v,
                            TRACK_TYPE => t.1 = v == 1,
                            PIXEL_WIDTH => t.2 = v.min(u64::from(u32::MAX)) as u32,
                            _ => t.3 = v.min(u64::from(u32::MAX)) as u32,
                        }
                    }
                }
                SIMPLE_BLOCK | BLOCK => {
                    if let Some((number, _, _)) = vint(r, false)?
                        && w.tracks.iter().any(|t| t.1 && t.0 == number)
                    {
                        w.video_blocks += 1;
                    }
                }
                _ if unknown => {
                    return Err(format!("element {id:#x} at byte {at} has an unknown size").into());
                }
                _ => {}
            }
            at = next;
        }
        Ok(at)
    }
}

fn mp4_box(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let mut b = ((body.len() + 8) as u32).to_be_bytes().to_vec();
    b.extend_from_slice(kind);
    b.extend_from_slice(body);
    b
}

/// A structurally valid MP4 (for fakes and tests): one video track of `width`×`height` with
/// `frames` samples, and `payload` as its media data. Parses; does not play.
pub fn synthetic_mp4(width: u16, height: u16, frames: u32, payload: &[u8]) -> Vec<u8> {
    let hdlr = mp4_box(
        b"hdlr",
        &[0, 0, 0, 0, 0, 0, 0, 0, b'v', b'i', b'd', b'e', 0, 0, 0, 0],
    );
    let mut entry = vec![0u8; 78];
    entry[24..26].copy_from_slice(&width.to_be_bytes());
    entry[26..28].copy_from_slice(&height.to_be_bytes());
    let mut stsd = vec![0, 0, 0, 0, 0, 0, 0, 1];
    stsd.extend(mp4_box(b"avc1", &entry));
    let mut stsz = vec![0u8; 8];
    stsz.extend_from_slice(&frames.to_be_bytes());
    let mut mdhd = vec![0u8; 24];
    mdhd[12..16].copy_from_slice(&24u32.to_be_bytes());
    mdhd[16..20].copy_from_slice(&frames.to_be_bytes());
    let stbl = mp4_box(
        b"stbl",
        &[mp4_box(b"stsd", &stsd), mp4_box(b"stsz", &stsz)].concat(),
    );
    let mdia = mp4_box(
        b"mdia",
        &[mp4_box(b"mdhd", &mdhd), hdlr, mp4_box(b"minf", &stbl)].concat(),
    );
    let moov = mp4_box(b"moov", &mp4_box(b"trak", &mdia));
    [
        mp4_box(b"ftyp", b"isom\0\0\0\0isommp42"),
        moov,
        mp4_box(b"mdat", payload),
    ]
    .concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe_bytes(bytes: &[u8], ct: &str) -> Result<Measured, Unusable> {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("v");
        std::fs::write(&p, bytes).expect("write");
        probe_video(&p, ct)
    }

    #[test]
    fn mp4_size_and_frames_come_from_the_video_track() {
        let m = probe_bytes(&synthetic_mp4(1280, 720, 96, &[7; 100]), "video/mp4").expect("parses");
        assert_eq!((m.width, m.height, m.frames), (1280, 720, Some(96)));
        let none = probe_bytes(&synthetic_mp4(1280, 720, 0, &[7; 100]), "video/mp4");
        assert!(
            none.expect_err("no frames")
                .to_string()
                .contains("no frames")
        );
    }

    #[test]
    fn truncated_and_garbage_videos_are_errors_not_panics() {
        let full = synthetic_mp4(640, 480, 3, &[7; 100]);
        for cut in [10, 40, full.len() - 3] {
            assert!(
                probe_bytes(&full[..cut], "video/mp4").is_err(),
                "cut at {cut}"
            );
        }
        assert!(probe_bytes(b"\0\0\0\x18ftypmp42 garbage garbage", "video/mp4").is_err());
        assert!(probe_bytes(&[0x1a, 0x45, 0xdf, 0xa3, 0xff, 0xff], "video/webm").is_err());
    }

    #[test]
    fn hostile_box_sizes_are_errors() {
        // A 64-bit size that would overflow `at + size`.
        let mut huge = mp4_box(b"ftyp", b"isom\0\0\0\0");
        huge.extend_from_slice(&1u32.to_be_bytes());
        huge.extend_from_slice(b"moov");
        huge.extend_from_slice(&u64::MAX.to_be_bytes());
        assert!(probe_bytes(&huge, "video/mp4").is_err());
        // A size smaller than its own header.
        let tiny = [&4u32.to_be_bytes()[..], b"moov"].concat();
        assert!(probe_bytes(&tiny, "video/mp4").is_err());
        // Boxes nested past any real file.
        let mut deep = mp4_box(b"mdat", &[1]);
        for _ in 0..40 {
            deep = mp4_box(b"moov", &deep);
        }
        assert!(
            probe_bytes(&deep, "video/mp4")
                .expect_err("deep")
                .to_string()
                .contains("too deep")
        );
    }

    #[test]
    fn a_mov_data_handler_does_not_hide_the_video_track() {
        let mp4 = synthetic_mp4(1280, 720, 24, &[5; 64]);
        // Put a QuickTime data handler (`url `) inside minf, as ffmpeg's MOV muxer does.
        let data_hdlr = mp4_box(
            b"hdlr",
            &[
                0, 0, 0, 0, b'd', b'h', b'l', b'r', b'u', b'r', b'l', b' ', 0, 0, 0, 0,
            ],
        );
        let minf = mp4.windows(4).position(|w| w == b"minf").expect("minf") - 4;
        let minf_size = u32::from_be_bytes(mp4[minf..minf + 4].try_into().expect("4")) as usize;
        let mut mov = mp4[..minf + minf_size].to_vec();
        mov.extend_from_slice(&data_hdlr);
        mov.extend_from_slice(&mp4[minf + minf_size..]);
        // Grow every enclosing box (moov, trak, mdia, minf) by the inserted bytes.
        for name in [b"moov", b"trak", b"mdia", b"minf"] {
            let at = mov.windows(4).position(|w| w == name).expect("box") - 4;
            let size =
                u32::from_be_bytes(mov[at..at + 4].try_into().expect("4")) + data_hdlr.len() as u32;
            mov[at..at + 4].copy_from_slice(&size.to_be_bytes());
        }
        let m = probe_bytes(&mov, "video/quicktime").expect("parses");
        assert_eq!((m.width, m.frames), (1280, Some(24)));
    }

    #[test]
    fn webm_with_unknown_size_clusters_counts_every_block() {
        fn el(id: &[u8], body: &[u8]) -> Vec<u8> {
            let mut v = id.to_vec();
            v.push(0x80 | body.len() as u8);
            v.extend_from_slice(body);
            v
        }
        let video = el(
            &[0xE0],
            &[el(&[0xB0], &[0x02, 0x80]), el(&[0xBA], &[0x01, 0xE0])].concat(),
        );
        let entry = el(
            &[0xAE],
            &[el(&[0xD7], &[1]), el(&[0x83], &[1]), video].concat(),
        );
        let tracks = el(&[0x16, 0x54, 0xAE, 0x6B], &entry);
        let block = el(&[0xA3], &[0x81, 0, 0, 0x80, 9]);
        let mut segment_body = tracks;
        for _ in 0..30 {
            // Cluster ID, then an all-ones (unknown) size.
            segment_body.extend_from_slice(&[0x1F, 0x43, 0xB6, 0x75, 0xFF]);
            segment_body.extend_from_slice(&block);
        }
        let mut file = el(
            &[0x1A, 0x45, 0xDF, 0xA3],
            &[0x42, 0x82, 0x84, b'w', b'e', b'b', b'm'],
        );
        file.extend_from_slice(&[0x18, 0x53, 0x80, 0x67, 0xFF]);
        file.extend_from_slice(&segment_body);
        let m = probe_bytes(&file, "video/webm").expect("parses");
        assert_eq!((m.width, m.height, m.frames), (640, 480, Some(30)));
    }

    #[test]
    fn webm_size_and_blocks_of_the_video_track() {
        fn el(id: &[u8], body: &[u8]) -> Vec<u8> {
            let mut v = id.to_vec();
            v.push(0x80 | body.len() as u8);
            v.extend_from_slice(body);
            v
        }
        let video = el(
            &[0xE0],
            &[el(&[0xB0], &[0x02, 0x80]), el(&[0xBA], &[0x01, 0xE0])].concat(),
        );
        let entry = el(
            &[0xAE],
            &[el(&[0xD7], &[1]), el(&[0x83], &[1]), video].concat(),
        );
        let tracks = el(&[0x16, 0x54, 0xAE, 0x6B], &entry);
        let block = el(&[0xA3], &[0x81, 0, 0, 0x80, 9]);
        let cluster = el(&[0x1F, 0x43, 0xB6, 0x75], &[block.clone(), block].concat());
        let segment = el(&[0x18, 0x53, 0x80, 0x67], &[tracks, cluster].concat());
        let file = [
            el(
                &[0x1A, 0x45, 0xDF, 0xA3],
                &[0x42, 0x82, 0x84, b'w', b'e', b'b', b'm'],
            ),
            segment,
        ]
        .concat();
        let m = probe_bytes(&file, "video/webm").expect("parses");
        assert_eq!((m.width, m.height, m.frames), (640, 480, Some(2)));
    }
}
