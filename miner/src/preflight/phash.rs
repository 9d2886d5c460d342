//! Perceptual hashes of images, computed as validators compute theirs (a 16×16 pHash:
//! grey by ITU-R 601 luma, Lanczos to 64×64, 2-D DCT-II, the 16×16 lowest frequencies against
//! their median), and the miner's memory of what it recently delivered: a new image within
//! Hamming distance 4 of any of the last 1000 deliveries, or 8 of one for the same prompt,
//! would be refused as a duplicate, so it is not sent.

use std::collections::VecDeque;
use std::sync::Mutex;

/// Hashes remembered; validators compare against a miner's last 1000 uploads.
pub const REMEMBERED: usize = 1000;
/// Distance at or under which validators call two images duplicates.
pub const ANY_DISTANCE: u32 = 4;
pub const SAME_PROMPT_DISTANCE: u32 = 8;

pub type Hash = [u8; 32];

/// The 256-bit pHash of an image.
pub fn phash(img: &image::DynamicImage) -> Hash {
    const SIZE: usize = 64;
    const LOW: usize = 16;
    let rgb = img.to_rgb8();
    let grey = image::GrayImage::from_fn(rgb.width(), rgb.height(), |x, y| {
        let p = rgb.get_pixel(x, y).0;
        let l = (u32::from(p[0]) * 299 + u32::from(p[1]) * 587 + u32::from(p[2]) * 114) / 1000;
        image::Luma([l as u8])
    });
    let small = image::imageops::resize(
        &grey,
        SIZE as u32,
        SIZE as u32,
        image::imageops::FilterType::Lanczos3,
    );
    let px: Vec<f64> = small.pixels().map(|p| f64::from(p.0[0])).collect();
    let cos: Vec<f64> = (0..LOW * SIZE)
        .map(|i| {
            let (k, n) = (i / SIZE, i % SIZE);
            (std::f64::consts::PI * k as f64 * (2 * n + 1) as f64 / (2 * SIZE) as f64).cos()
        })
        .collect();
    // DCT down the columns (first LOW rows of output), then along those rows.
    let mut cols = vec![0.0; LOW * SIZE];
    for k in 0..LOW {
        for x in 0..SIZE {
            cols[k * SIZE + x] = (0..SIZE)
                .map(|y| px[y * SIZE + x] * cos[k * SIZE + y])
                .sum();
        }
    }
    let mut low = [0.0f64; LOW * LOW];
    for k in 0..LOW {
        for j in 0..LOW {
            low[k * LOW + j] = (0..SIZE)
                .map(|x| cols[k * SIZE + x] * cos[j * SIZE + x])
                .sum();
        }
    }
    let mut sorted = low;
    sorted.sort_by(f64::total_cmp);
    let median = (sorted[LOW * LOW / 2 - 1] + sorted[LOW * LOW / 2]) / 2.0;
    let mut hash = [0u8; 32];
    for (i, v) in low.iter().enumerate() {
        if *v > median {
            hash[i / 8] |= 0x80 >> (i % 8);
        }
    }
    hash
}

pub fn distance(a: &Hash, b: &Hash) -> u32 {
    a.iter().zip(b).map(|(x, y)| (x ^ y).count_ones()).sum()
}

/// A remembered delivery.
#[derive(Debug, Clone)]
pub struct Seen {
    pub task_id: String,
    pub prompt_key: u64,
    pub hash: Hash,
}

/// The last [`REMEMBERED`] delivered images.
#[derive(Default)]
pub struct Recent(Mutex<VecDeque<Seen>>);

/// A short key for a prompt, to find earlier deliveries for the same one.
pub fn prompt_key(prompt: &str) -> u64 {
    use std::hash::{Hash as _, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    prompt.trim().to_lowercase().hash(&mut h);
    h.finish()
}

impl Recent {
    /// The closest remembered delivery that validators would call a duplicate of `hash`.
    pub fn duplicate_of(&self, hash: &Hash, prompt: u64, task_id: &str) -> Option<(String, u32)> {
        let seen = self.0.lock().unwrap_or_else(|p| p.into_inner());
        seen.iter()
            .filter(|s| s.task_id != task_id)
            .map(|s| (s, distance(&s.hash, hash)))
            .filter(|(s, d)| {
                *d <= ANY_DISTANCE || (s.prompt_key == prompt && *d <= SAME_PROMPT_DISTANCE)
            })
            .min_by_key(|(_, d)| *d)
            .map(|(s, d)| (s.task_id.clone(), d))
    }

    pub fn remember(&self, seen: Seen) {
        let mut all = self.0.lock().unwrap_or_else(|p| p.into_inner());
        all.retain(|s| s.task_id != seen.task_id);
        if all.len() == REMEMBERED {
            all.pop_front();
        }
        all.push_back(seen);
    }

    pub fn len(&self) -> usize {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A picture of bright and dark blobs placed by `seed`, brightened by `shift`.
    fn picture(seed: u64, shift: u8) -> image::DynamicImage {
        let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % 1000) as f64 / 1000.0
        };
        let blobs: Vec<(f64, f64, f64, f64)> = (0..12)
            .map(|_| {
                (
                    next() * 256.0,
                    next() * 256.0,
                    10.0 + next() * 40.0,
                    next() * 2.0 - 1.0,
                )
            })
            .collect();
        image::DynamicImage::ImageRgb8(image::RgbImage::from_fn(256, 256, |x, y| {
            let (x, y) = (f64::from(x), f64::from(y));
            let v: f64 = blobs
                .iter()
                .map(|(bx, by, r, sign)| {
                    let d2 = (x - bx).powi(2) + (y - by).powi(2);
                    sign * 120.0 * (-d2 / (2.0 * r * r)).exp()
                })
                .sum::<f64>()
                + 128.0;
            let v = v.clamp(0.0, 240.0) as u8;
            image::Rgb([v.saturating_add(shift), v.saturating_add(shift), v])
        }))
    }

    #[test]
    fn the_same_picture_slightly_changed_is_near_and_another_is_far() {
        let a = phash(&picture(1, 0));
        let brighter = phash(&picture(1, 6));
        let resized =
            phash(&picture(1, 0).resize_exact(200, 200, image::imageops::FilterType::Triangle));
        let other = phash(&picture(5, 0));
        assert!(
            distance(&a, &brighter) <= ANY_DISTANCE,
            "{}",
            distance(&a, &brighter)
        );
        assert!(
            distance(&a, &resized) <= SAME_PROMPT_DISTANCE,
            "{}",
            distance(&a, &resized)
        );
        assert!(distance(&a, &other) > 40, "{}", distance(&a, &other));
    }

    #[test]
    fn recent_deliveries_catch_duplicates_with_the_prompt_threshold() {
        let recent = Recent::default();
        let mut hash = [0u8; 32];
        recent.remember(Seen {
            task_id: "t1".into(),
            prompt_key: prompt_key("a cat"),
            hash,
        });
        hash[0] = 0b0011_1111; // six bits away
        assert_eq!(recent.duplicate_of(&hash, prompt_key("a dog"), "t2"), None);
        assert_eq!(
            recent.duplicate_of(&hash, prompt_key("A cat "), "t2"),
            Some(("t1".to_string(), 6))
        );
        hash[0] = 0b0000_0011;
        assert_eq!(
            recent.duplicate_of(&hash, prompt_key("a dog"), "t2"),
            Some(("t1".to_string(), 2))
        );
        assert_eq!(
            recent.duplicate_of(&hash, prompt_key("a dog"), "t1"),
            None,
            "a task's own earlier image is no duplicate"
        );
    }
}
