//! ISO base media (MP4, MOV): boxes of `size:u32 type:[u8;4]` (size 1: a 64-bit size follows,
//! 0: to the end of the enclosing box).

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
