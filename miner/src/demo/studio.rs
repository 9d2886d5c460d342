//! The demo's local "studios": generation services that draw a picture or make a short
//! synthetic video for each task and sign it with the demo CA, flawed now and then on purpose
//! (a 503, no manifest, an untrusted signer) so fallback and failures show.

use crate::clock::now_ms;
use crate::preflight::media::synthetic_mp4;
use crate::preflight::signer::{Claim, MediaSigner};
use crate::providers::{Generated, Job, Plan, Provider, ProviderError};
use crate::task::{CallRecord, TaskRecord};
use async_trait::async_trait;
use gas_shared::{Modality, Tier};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

/// How often a studio misbehaves, each a probability per generation.
#[derive(Debug, Clone, Copy)]
pub(super) struct Flaws {
    /// Answers like a busy API (503), making nothing.
    pub(super) outage: f64,
    /// Delivers media without a C2PA manifest.
    pub(super) unsigned: f64,
    /// Delivers media signed by an organisation validators do not trust.
    pub(super) untrusted: f64,
}

/// A local generation service: draws a picture or a short synthetic video and signs it.
pub(super) struct Studio {
    pub(super) name: &'static str,
    pub(super) signer: Arc<MediaSigner>,
    pub(super) rogue: Arc<MediaSigner>,
    pub(super) flaws: Flaws,
}

fn size_for(tier: Tier) -> (u32, u32) {
    match tier {
        Tier::K1 => (1024, 1024),
        Tier::K2 => (2048, 2048),
        Tier::K4 => (3840, 3840),
        Tier::P480 => (854, 480),
        Tier::P720 => (1280, 720),
        Tier::P1080 => (1920, 1080),
    }
}

#[async_trait]
impl Provider for Studio {
    fn name(&self) -> &'static str {
        self.name
    }

    fn supports(&self, _modality: Modality) -> bool {
        true
    }

    fn plan(&self, task: &TaskRecord) -> Plan {
        let (width, height) = size_for(task.tier);
        Plan {
            model: match task.modality {
                Modality::Image => "demo-painter-1".into(),
                Modality::Video => "demo-motion-1".into(),
            },
            delivers: task.tier,
            params: json!({"width": width, "height": height, "demo": true}),
            cost_usd: 0.0,
        }
    }

    async fn generate(&self, job: &Job<'_>) -> Result<Generated, ProviderError> {
        let task = job.task;
        let seed = u64::from_le_bytes(
            <sha2::Sha256 as sha2::Digest>::digest(
                format!("{}{}", task.task_id, self.name).as_bytes(),
            )[..8]
                .try_into()
                .unwrap_or_default(),
        );
        let mut rng = StdRng::seed_from_u64(seed);
        let started = std::time::Instant::now();
        let think = match task.modality {
            Modality::Image => rng.gen_range(800..2500),
            Modality::Video => rng.gen_range(2500..6000),
        };
        tokio::time::sleep(Duration::from_millis(think)).await;
        let roll: f64 = rng.r#gen();
        let mut call = CallRecord {
            task_id: task.task_id.clone(),
            provider: self.name.to_string(),
            op: "generate".into(),
            model: job.plan.model.clone(),
            request: job.plan.params.clone(),
            status: Some(200),
            error: None,
            latency_ms: 0,
            bytes: 0,
            cost_usd: Some(0.0),
            at_ms: now_ms(),
            modality: Some(task.modality),
        };
        let f = self.flaws;
        if roll < f.outage {
            let message = format!("{} is busy (a simulated outage: HTTP 503)", self.name);
            call.status = Some(503);
            call.error = Some(message.clone());
            call.cost_usd = None;
            call.latency_ms = started.elapsed().as_millis() as u64;
            job.record(call);
            return Err(ProviderError {
                message,
                status: Some(503),
                ..ProviderError::default()
            });
        }
        let signer = if roll < f.outage + f.unsigned {
            None
        } else if roll < f.outage + f.unsigned + f.untrusted {
            Some(self.rogue.clone())
        } else {
            Some(self.signer.clone())
        };
        let (modality, tier) = (task.modality, task.tier);
        let bytes = tokio::task::spawn_blocking(move || {
            make_media(modality, tier, seed, signer.as_deref())
        })
        .await
        .map_err(|e| ProviderError::new(format!("demo studio stopped: {e}")))??;
        let written = job.write_media(&bytes).await?;
        call.bytes = written;
        call.latency_ms = started.elapsed().as_millis() as u64;
        job.record(call);
        Ok(Generated {
            model: job.plan.model.clone(),
            bytes: written,
        })
    }
}

/// Draws (or films) one piece of media and signs it with `signer` (none: left unsigned).
fn make_media(
    modality: Modality,
    tier: Tier,
    seed: u64,
    signer: Option<&MediaSigner>,
) -> Result<Vec<u8>, ProviderError> {
    let (width, height) = size_for(tier);
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed);
    let (media, mime, generator) = match modality {
        Modality::Image => {
            let picture = paint(&mut rng, width, height);
            let jpeg = rng.gen_bool(0.3);
            let format = if jpeg {
                image::ImageFormat::Jpeg
            } else {
                image::ImageFormat::Png
            };
            let mut out = std::io::Cursor::new(Vec::new());
            picture
                .write_to(&mut out, format)
                .map_err(|e| ProviderError::new(format!("demo picture: {e}")))?;
            let mime = if jpeg { "image/jpeg" } else { "image/png" };
            (out.into_inner(), mime, "gas-miner demo painter")
        }
        Modality::Video => {
            let mut payload = vec![0u8; rng.gen_range(64..256) * 1024];
            rng.fill(&mut payload[..]);
            let frames = rng.gen_range(96..192);
            (
                synthetic_mp4(width as u16, height as u16, frames, &payload),
                "video/mp4",
                "gas-miner demo motion",
            )
        }
    };
    match signer {
        None => Ok(media),
        Some(s) => s
            .sign(
                &media,
                mime,
                &Claim {
                    generator: generator.into(),
                    when: time::OffsetDateTime::now_utc(),
                    ai_generated: true,
                },
            )
            .map_err(|e| ProviderError::new(e.to_string())),
    }
}

/// An abstract picture: a two-colour gradient sky, a rolling horizon and a handful of
/// discs, rings and panels, all drawn from `rng`, so no two look alike.
pub(crate) fn paint(rng: &mut StdRng, width: u32, height: u32) -> image::RgbImage {
    let colour = |rng: &mut StdRng| [rng.r#gen::<u8>(), rng.r#gen::<u8>(), rng.r#gen::<u8>()];
    let (top, bottom, ground) = (colour(rng), colour(rng), colour(rng));
    let mix = |a: [u8; 3], b: [u8; 3], t: f32| {
        image::Rgb([0, 1, 2].map(|i| (a[i] as f32 + (b[i] as f32 - a[i] as f32) * t) as u8))
    };
    let horizon = height as f32 * rng.gen_range(0.45..0.8);
    let (amp, freq, phase) = (
        height as f32 * rng.gen_range(0.02..0.12),
        rng.gen_range(1.0..6.0) * std::f32::consts::TAU / width as f32,
        rng.gen_range(0.0..std::f32::consts::TAU),
    );
    let mut img = image::RgbImage::from_fn(width, height, |x, y| {
        let ridge = horizon + amp * (x as f32 * freq + phase).sin();
        if (y as f32) < ridge {
            mix(top, bottom, y as f32 / ridge.max(1.0))
        } else {
            mix(
                ground,
                bottom,
                ((y as f32 - ridge) / (height as f32 - ridge).max(1.0)) * 0.5,
            )
        }
    });
    let side = width.min(height) as f32;
    for _ in 0..rng.gen_range(4..12) {
        let c = colour(rng);
        let (cx, cy) = (
            rng.gen_range(0.0..width as f32),
            rng.gen_range(0.0..height as f32),
        );
        let r = side * rng.gen_range(0.04..0.25);
        let kind = rng.gen_range(0..3);
        let (x0, x1) = ((cx - r).max(0.0) as u32, ((cx + r) as u32).min(width));
        let (y0, y1) = ((cy - r).max(0.0) as u32, ((cy + r) as u32).min(height));
        for y in y0..y1 {
            for x in x0..x1 {
                let (dx, dy) = (x as f32 - cx, y as f32 - cy);
                let d = (dx * dx + dy * dy).sqrt();
                let inside = match kind {
                    0 => d <= r,
                    1 => d <= r && d >= r * 0.7,
                    _ => dx.abs() <= r && dy.abs() <= r * 0.6,
                };
                if inside {
                    img.put_pixel(x, y, image::Rgb(c));
                }
            }
        }
    }
    img
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pictures_differ_from_seed_to_seed() {
        let a = paint(&mut StdRng::seed_from_u64(1), 128, 128);
        let b = paint(&mut StdRng::seed_from_u64(2), 128, 128);
        let a2 = paint(&mut StdRng::seed_from_u64(1), 128, 128);
        assert_eq!(a, a2, "a seed draws one picture");
        let differing = a.pixels().zip(b.pixels()).filter(|(p, q)| p != q).count();
        assert!(differing > 128 * 128 / 2, "only {differing} pixels differ");
        let ha = crate::preflight::phash::phash(&image::DynamicImage::ImageRgb8(a));
        let hb = crate::preflight::phash::phash(&image::DynamicImage::ImageRgb8(b));
        let distance: u32 = ha
            .iter()
            .zip(hb.iter())
            .map(|(x, y)| (x ^ y).count_ones())
            .sum();
        assert!(distance > 8, "perceptual hashes too close: {distance}");
    }
}
