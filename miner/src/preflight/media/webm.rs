//! Matroska / WebM: EBML elements of `id:vint size:vint`.

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
