//! Pre-flight: every result is judged the way validators will judge it before it is sent.
//! The media must be a type they accept for the modality, decode (images) or parse with frames
//! (videos); its size gives the tier they will credit; its C2PA manifest must pass their rules
//! with the subnet's trust anchors; its signing time must be within 600 s of the 201; an image
//! must not be a near-duplicate of a recent delivery. The verdict keeps every finding.

pub mod c2pa;
pub mod media;
pub mod phash;
pub mod signer;
pub mod trust;

use crate::clock::now_ms;
use crate::task::TaskRecord;
use gas_shared::verdict::{Duplicate, Freshness, MediaReport, Verdict};
use gas_shared::{Modality, Tier};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Instant;

/// How far a signing time may be from the 201 (either way), as validators allow.
pub const FRESHNESS_MS: i64 = 600_000;
/// Validators take the 201's time after it reaches them, on their own clock: a signature is
/// judged against a slightly earlier limit here so that it never passes here and fails there.
pub const FRESHNESS_MARGIN_MS: i64 = 5_000;

/// Why the pre-flight cannot judge with its trust anchors, or they cannot be changed. Each
/// message names the directory or file, the cause and the fix.
#[derive(Debug, thiserror::Error)]
pub enum PreflightError {
    #[error("trust anchors directory {} cannot be read ({source}); {}", dir.display(), trust::how_to_get(dir))]
    AnchorsUnreadable {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("no trust anchors in {}: without them no C2PA signature can be judged as validators judge it; {}", dir.display(), trust::how_to_get(dir))]
    NoAnchors { dir: PathBuf },
    /// An anchor file cannot be read.
    #[error("trust anchor {}: {source}", file.display())]
    AnchorUnreadable {
        file: PathBuf,
        source: std::io::Error,
    },
    /// An anchor file holds something that is not a usable certificate.
    #[error("trust anchor {0}; replace or remove the file")]
    BadAnchor(Box<PreflightError>),
    /// A PEM text with a malformed block or certificate, or none at all.
    #[error("{name}: {detail}")]
    Pem { name: String, detail: String },
    #[error("C2PA trust settings were refused: {0}")]
    C2paSettings(String),
    /// The anchors could not be fetched (`trust update`).
    #[error("{0}")]
    Download(String),
    #[error("{url} lists no PEM certificates; nothing was changed")]
    NothingListed { url: String },
    #[error("trust anchors could not be written to {}: {source}", dir.display())]
    Install {
        dir: PathBuf,
        source: Box<PreflightError>,
    },
    #[error("trust anchors could not be {what} in {}: {source}", dir.display())]
    InstallStep {
        what: &'static str,
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("the new anchors were refused: {0}")]
    Refused(Box<PreflightError>),
}

/// The mime type from magic bytes, as validators detect it.
pub fn content_type(head: &[u8]) -> Option<&'static str> {
    let at = |offset: usize, magic: &[u8]| head.get(offset..offset + magic.len()) == Some(magic);
    if at(0, b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if at(0, b"\xff\xd8\xff") {
        Some("image/jpeg")
    } else if at(0, b"RIFF") && at(8, b"WEBP") {
        Some("image/webp")
    } else if at(0, b"GIF87a") || at(0, b"GIF89a") {
        Some("image/gif")
    } else if at(4, b"ftypqt") {
        Some("video/quicktime")
    } else if at(4, b"ftyp") {
        Some("video/mp4")
    } else if at(0, b"\x1a\x45\xdf\xa3") {
        Some("video/webm")
    } else {
        None
    }
}

pub fn extension(content_type: &str) -> &'static str {
    match content_type {
        "image/png" => "png",
        "image/jpeg" => "jpg",
        "image/webp" => "webp",
        "image/gif" => "gif",
        "video/quicktime" => "mov",
        "video/webm" => "webm",
        _ => "mp4",
    }
}

/// Checks the first bytes of a result; `Err` says why it must not be sent.
pub fn check(head: &[u8], modality: Modality) -> Result<&'static str, media::Unusable> {
    if head.is_empty() {
        return Err("the provider returned an empty file".into());
    }
    let Some(ct) = content_type(head) else {
        return Err(format!(
            "the provider returned bytes that are no known image or video format (starting {})",
            hex::encode(&head[..head.len().min(12)])
        )
        .into());
    };
    if !ct.starts_with(modality.as_str()) {
        return Err(format!("a {modality} was asked for but the provider returned {ct}").into());
    }
    Ok(ct)
}

/// The judge: the current trust anchors and the memory of recent deliveries.
pub struct Preflight {
    trust: RwLock<Arc<Trusted>>,
    recent: phash::Recent,
    /// Images: as many at once as there are cores.
    images: Gate,
    /// Videos one at a time: c2pa reads each hashed range of a video whole (up to 256 MB),
    /// so memory would grow with video size × concurrency. Verification runs at over 1 GB/s,
    /// so a queue of videos costs little time.
    videos: Gate,
}

/// Bounds how many files are judged at once: judging is CPU work (more at once than cores
/// gains nothing) and each decode or manifest check holds buffers, so this also bounds memory
/// when many large results arrive together.
struct Gate {
    busy: std::sync::Mutex<usize>,
    freed: std::sync::Condvar,
    max: usize,
}

impl Gate {
    fn new(max: usize) -> Gate {
        Gate {
            busy: std::sync::Mutex::new(0),
            freed: std::sync::Condvar::new(),
            max: max.max(1),
        }
    }

    fn enter(&self) -> GateTicket<'_> {
        let mut busy = self.busy.lock().unwrap_or_else(|p| p.into_inner());
        while *busy >= self.max {
            busy = self.freed.wait(busy).unwrap_or_else(|p| p.into_inner());
        }
        *busy += 1;
        GateTicket(self)
    }
}

struct GateTicket<'a>(&'a Gate);

impl Drop for GateTicket<'_> {
    fn drop(&mut self) {
        *self.0.busy.lock().unwrap_or_else(|p| p.into_inner()) -= 1;
        self.0.freed.notify_one();
    }
}

/// Anchors and a reader built on them, swapped together on reload.
pub struct Trusted {
    pub anchors: trust::Anchors,
    pub reader: c2pa::C2paReader,
}

impl Trusted {
    pub fn load(dir: &Path) -> Result<Trusted, PreflightError> {
        let anchors = trust::load(dir)?;
        let reader = c2pa::C2paReader::new(&anchors.pem)?;
        Ok(Trusted { anchors, reader })
    }
}

/// Where a tier stands in its modality (0 = lowest).
fn tier_rank(t: Tier) -> u8 {
    match t {
        Tier::K1 | Tier::P480 => 0,
        Tier::K2 | Tier::P720 => 1,
        Tier::K4 | Tier::P1080 => 2,
    }
}

impl Preflight {
    /// Loads the anchors in `dir`; `Err` says what is wrong and how to fix it.
    pub fn new(dir: &Path) -> Result<Preflight, PreflightError> {
        Ok(Preflight {
            trust: RwLock::new(Arc::new(Trusted::load(dir)?)),
            recent: phash::Recent::default(),
            images: Gate::new(std::thread::available_parallelism().map_or(2, |n| n.get().min(8))),
            videos: Gate::new(1),
        })
    }

    pub fn trusted(&self) -> Arc<Trusted> {
        self.trust.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Reads the anchor directory again; on error the current anchors stay in force.
    pub fn reload(&self) -> Result<usize, PreflightError> {
        let dir = self.trusted().anchors.dir.clone();
        let fresh = Trusted::load(&dir)?;
        let n = fresh.anchors.count();
        *self.trust.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(fresh);
        Ok(n)
    }

    /// Reloads when the directory's files changed; returns the new count if it did.
    pub fn reload_if_changed(&self) -> Option<Result<usize, PreflightError>> {
        trust::changed(&self.trusted().anchors).then(|| self.reload())
    }

    /// Remembers a delivered image so a later near-copy is caught; returns what to persist
    /// (prompt key and hash) when there is an image hash.
    pub fn remember(&self, task: &TaskRecord, verdict: &Verdict) -> Option<(u64, phash::Hash)> {
        let hash = verdict.media.phash.as_deref().and_then(parse_hash)?;
        let prompt_key = phash::prompt_key(&task.prompt);
        self.recent.remember(phash::Seen {
            task_id: task.task_id.clone(),
            prompt_key,
            hash,
        });
        Some((prompt_key, hash))
    }

    /// Restores remembered deliveries (after a restart).
    pub fn restore(&self, seen: impl IntoIterator<Item = (String, u64, Vec<u8>)>) {
        for (task_id, prompt_key, hash) in seen {
            if let Ok(hash) = hash.try_into() {
                self.recent.remember(phash::Seen {
                    task_id,
                    prompt_key,
                    hash,
                });
            }
        }
    }

    /// Judges the file at `path`, made by `provider` for `task` (blocking: run it off the
    /// async threads).
    pub fn judge(&self, path: &Path, task: &TaskRecord, provider: &str) -> Verdict {
        let _turn = match task.modality {
            Modality::Image => self.images.enter(),
            Modality::Video => self.videos.enter(),
        };
        let started = Instant::now();
        let mut v = Verdict {
            provider: provider.to_string(),
            checked_at_ms: now_ms(),
            ..Verdict::default()
        };
        let mut head = [0u8; 32];
        let n = std::fs::File::open(path)
            .and_then(|mut f| f.read(&mut head))
            .unwrap_or(0);
        v.media.bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        v.media.requested_tier = Some(task.tier);
        match check(&head[..n], task.modality) {
            Ok(ct) => {
                v.media.content_type = ct.to_string();
                self.measure(path, task, &mut v.media);
                let trusted = self.trusted();
                v.c2pa = trusted.reader.judge_file(path, ct);
            }
            Err(e) => v.media.error = Some(e.to_string()),
        }
        v.freshness = Some(freshness(v.c2pa.signing_time.as_deref(), task.created_ms));
        if let Some(hash) = v.media.phash.as_deref().and_then(parse_hash)
            && let Some((of_task, distance)) =
                self.recent
                    .duplicate_of(&hash, phash::prompt_key(&task.prompt), &task.task_id)
        {
            v.duplicate = Some(Duplicate { of_task, distance });
        }
        v.reasons = reasons(&v);
        v.passed = v.reasons.is_empty();
        v.took_ms = started.elapsed().as_millis() as u64;
        v
    }

    fn measure(&self, path: &Path, task: &TaskRecord, m: &mut MediaReport) {
        let measured = match task.modality {
            Modality::Image => media::decode_image(path).map(|(size, img)| {
                m.phash = Some(hex::encode(phash::phash(&img)));
                size
            }),
            Modality::Video => media::probe_video(path, &m.content_type),
        };
        match measured {
            Ok(size) => {
                m.decodes = true;
                m.width = Some(size.width);
                m.height = Some(size.height);
                m.frames = size.frames;
                m.duration_s = size.duration_s;
                let tier = match task.modality {
                    Modality::Image => Tier::of_image(size.width, size.height),
                    Modality::Video => Tier::of_video(size.width, size.height),
                };
                m.measured_tier = Some(tier);
                m.shortfall = tier_rank(task.tier).saturating_sub(tier_rank(tier));
            }
            Err(e) => m.error = Some(e.0),
        }
    }
}

fn parse_hash(text: &str) -> Option<phash::Hash> {
    hex::decode(text).ok()?.try_into().ok()
}

/// Signing time against the 201: validators accept `sent − 600 s ≤ t ≤ now + 600 s`.
pub fn freshness(signing_time: Option<&str>, sent_at_ms: i64) -> Freshness {
    let signed_at_ms = signing_time.and_then(c2pa::parse_time_ms);
    Freshness {
        signed_at_ms,
        sent_at_ms,
        age_s: signed_at_ms.map(|t| (sent_at_ms - t) as f64 / 1000.0),
        fresh: signed_at_ms.is_some_and(|t| {
            t >= sent_at_ms - FRESHNESS_MS + FRESHNESS_MARGIN_MS && t <= now_ms() + FRESHNESS_MS
        }),
    }
}

/// Why validators would refuse it, one line each, in their order of checking.
fn reasons(v: &Verdict) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(e) = &v.media.error {
        out.push(format!("media: {e}"));
    }
    if let Some(d) = &v.duplicate {
        out.push(format!(
            "duplicate: within Hamming distance {} of the image delivered for task {}",
            d.distance, d.of_task
        ));
    }
    if v.media.error.is_none() && !(v.c2pa.verified && v.c2pa.is_trusted_issuer) {
        out.push(format!(
            "c2pa: {}",
            v.c2pa.error.as_deref().unwrap_or("not verified")
        ));
    }
    if v.c2pa.verified
        && let Some(f) = &v.freshness
        && !f.fresh
    {
        out.push(match f.age_s {
            None => "freshness: the manifest has no signing time".to_string(),
            Some(age) if age > 0.0 => format!(
                "freshness: signed {age:.0} s before the challenge was accepted (limit 600 s)"
            ),
            Some(age) => format!("freshness: signed {:.0} s in the future", -age),
        });
    }
    out
}

#[cfg(test)]
mod freshness_tests {
    use super::*;

    #[test]
    fn the_window_is_600_s_before_the_201_with_a_margin_and_600_s_ahead() {
        let sent = now_ms();
        let at = |offset_ms: i64| {
            let t = time::OffsetDateTime::from_unix_timestamp_nanos(
                i128::from(sent + offset_ms) * 1_000_000,
            )
            .expect("time");
            freshness(
                t.format(&time::format_description::well_known::Rfc3339)
                    .ok()
                    .as_deref(),
                sent,
            )
        };
        assert!(at(-10_000).fresh, "signed 10 s before the 201");
        assert!(at(-594_000).fresh);
        assert!(
            !at(-598_000).fresh,
            "inside the margin: validators may see it stale"
        );
        assert!(!at(-601_000).fresh);
        assert!(at(300_000).fresh, "clock ahead by 5 min");
        assert!(!at(700_000).fresh, "more than 600 s in the future");
        let none = freshness(None, sent);
        assert!(!none.fresh && none.age_s.is_none());
        assert_eq!(at(-120_000).age_s, Some(120.0));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_bytes_name_the_type() {
        assert_eq!(content_type(b"\x89PNG\r\n\x1a\n...."), Some("image/png"));
        assert_eq!(content_type(b"\x00\x00\x00\x18ftypmp42"), Some("video/mp4"));
        assert_eq!(content_type(b"RIFF\0\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(content_type(b"hello"), None);
    }

    #[test]
    fn wrong_modality_and_garbage_are_refused() {
        assert!(check(b"\x89PNG\r\n\x1a\n", Modality::Video).is_err());
        assert!(check(b"<html>", Modality::Image).is_err());
        assert!(check(b"", Modality::Image).is_err());
        assert_eq!(
            check(b"\xff\xd8\xff\xe0", Modality::Image),
            Ok("image/jpeg")
        );
    }
}
