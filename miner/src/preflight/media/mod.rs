//! Does the media open, and how big is it? Images are decoded in full (PNG, JPEG, WebP, GIF),
//! as validators' PIL does; videos are parsed, not decoded: MP4/MOV by their boxes (the video
//! track's sample entry size and sample count), WebM by its EBML elements (pixel size and
//! blocks of the video track). Both walk the file with seeks, so a 50 MB video costs a few
//! reads, never a copy in memory. Malformed input gives an error, never a panic or a hang.

mod bmff;
mod webm;

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

    /// An EBML element with a one-byte size.
    fn el(id: &[u8], body: &[u8]) -> Vec<u8> {
        let mut v = id.to_vec();
        v.push(0x80 | body.len() as u8);
        v.extend_from_slice(body);
        v
    }

    /// A WebM Tracks element with one 640×480 video track, and one SimpleBlock of it.
    fn webm_track_640x480() -> (Vec<u8>, Vec<u8>) {
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
        (tracks, block)
    }

    #[test]
    fn webm_with_unknown_size_clusters_counts_every_block() {
        let (tracks, block) = webm_track_640x480();
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
        let (tracks, block) = webm_track_640x480();
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
