//! What gas-miner and gas-console both speak: the task life cycle, modalities, resolution
//! tiers and pre-flight verdicts. No I/O lives here, so the console can depend on it without
//! pulling in the miner.

pub mod admin;
pub mod reply;
pub mod standing;
pub mod verdict;

use serde::{Deserialize, Serialize};
use std::fmt;

/// What a validator asked for: a picture or a clip.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Modality {
    Image,
    Video,
}

impl Modality {
    pub const ALL: [Modality; 2] = [Modality::Image, Modality::Video];

    pub fn as_str(self) -> &'static str {
        match self {
            Modality::Image => "image",
            Modality::Video => "video",
        }
    }
}

impl fmt::Display for Modality {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a task is in its life. `Delivered`, `Failed` and `Expired` are final.
///
/// `queued → generating → preflight → delivering → delivered | failed`, or `expired` when the
/// validator's deadline passed before any webhook got an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum TaskState {
    Queued,
    Generating,
    Preflight,
    Delivering,
    Delivered,
    Failed,
    Expired,
}

impl TaskState {
    pub const ALL: [TaskState; 7] = [
        TaskState::Queued,
        TaskState::Generating,
        TaskState::Preflight,
        TaskState::Delivering,
        TaskState::Delivered,
        TaskState::Failed,
        TaskState::Expired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TaskState::Queued => "queued",
            TaskState::Generating => "generating",
            TaskState::Preflight => "preflight",
            TaskState::Delivering => "delivering",
            TaskState::Delivered => "delivered",
            TaskState::Failed => "failed",
            TaskState::Expired => "expired",
        }
    }

    pub fn is_final(self) -> bool {
        matches!(
            self,
            TaskState::Delivered | TaskState::Failed | TaskState::Expired
        )
    }

    /// One byte that orders the durable queue index.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The reference miner's coarser status names, kept on `/status` and `/miner_info` so
    /// tools written for the Python miner keep working.
    pub fn reference_status(self) -> &'static str {
        match self {
            TaskState::Queued => "pending",
            TaskState::Generating | TaskState::Preflight | TaskState::Delivering => "processing",
            TaskState::Delivered => "completed",
            TaskState::Failed | TaskState::Expired => "failed",
        }
    }
}

impl fmt::Display for TaskState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A resolution tier as validators name it: `1K`/`2K`/`4K` for images, `480p`/`720p`/`1080p`
/// for videos. Ordered from cheapest to richest within a modality.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Tier {
    #[serde(rename = "1K")]
    K1,
    #[serde(rename = "2K")]
    K2,
    #[serde(rename = "4K")]
    K4,
    #[serde(rename = "480p")]
    P480,
    #[serde(rename = "720p")]
    P720,
    #[serde(rename = "1080p")]
    P1080,
}

impl Tier {
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::K1 => "1K",
            Tier::K2 => "2K",
            Tier::K4 => "4K",
            Tier::P480 => "480p",
            Tier::P720 => "720p",
            Tier::P1080 => "1080p",
        }
    }

    pub fn modality(self) -> Modality {
        match self {
            Tier::K1 | Tier::K2 | Tier::K4 => Modality::Image,
            Tier::P480 | Tier::P720 | Tier::P1080 => Modality::Video,
        }
    }

    /// Reads a validator's `resolution` parameter, case-insensitively (`4k`, `1080P`).
    pub fn parse(text: &str) -> Option<Tier> {
        match text.trim().to_ascii_lowercase().as_str() {
            "1k" => Some(Tier::K1),
            "2k" => Some(Tier::K2),
            "4k" => Some(Tier::K4),
            "480p" => Some(Tier::P480),
            "720p" => Some(Tier::P720),
            "1080p" => Some(Tier::P1080),
            _ => None,
        }
    }

    /// The tier validators credit an image of `width` × `height`: by its smaller side
    /// (≥ 3500 px is 4K, ≥ 1900 px is 2K, else 1K).
    pub fn of_image(width: u32, height: u32) -> Tier {
        match width.min(height) {
            s if s >= 3500 => Tier::K4,
            s if s >= 1900 => Tier::K2,
            _ => Tier::K1,
        }
    }

    /// The tier validators credit a video of `width` × `height`: by pixel count
    /// (≥ 1,760,000 is 1080p, ≥ 780,000 is 720p, else 480p), so any aspect works.
    pub fn of_video(width: u32, height: u32) -> Tier {
        match u64::from(width) * u64::from(height) {
            p if p >= 1_760_000 => Tier::P1080,
            p if p >= 780_000 => Tier::P720,
            _ => Tier::P480,
        }
    }

    /// The tier a validator assumes when it names none: the lowest of the modality.
    pub fn default_for(modality: Modality) -> Tier {
        match modality {
            Modality::Image => Tier::K1,
            Modality::Video => Tier::P480,
        }
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers_parse_the_validators_names_in_any_case() {
        assert_eq!(Tier::parse("4K"), Some(Tier::K4));
        assert_eq!(Tier::parse(" 1080P "), Some(Tier::P1080));
        assert_eq!(Tier::parse("8K"), None);
        assert_eq!(
            Tier::parse("720p").map(Tier::modality),
            Some(Modality::Video)
        );
    }

    #[test]
    fn measured_tiers_follow_the_validators_thresholds() {
        assert_eq!(
            Tier::of_image(2752, 1536),
            Tier::K1,
            "a 16:9 2K image scores 1K"
        );
        assert_eq!(Tier::of_image(2048, 2048), Tier::K2);
        assert_eq!(Tier::of_image(4096, 4096), Tier::K4);
        assert_eq!(Tier::of_video(1280, 720), Tier::P720);
        assert_eq!(Tier::of_video(720, 720), Tier::P480);
        assert_eq!(Tier::of_video(1792, 1024), Tier::P1080);
        assert_eq!(Tier::of_video(854, 480), Tier::P480);
    }

    #[test]
    fn state_names_round_trip_through_json() {
        for state in TaskState::ALL {
            let json = serde_json::to_string(&state).expect("serialize");
            assert_eq!(json, format!("\"{}\"", state.as_str()));
            let back: TaskState = serde_json::from_str(&json).expect("deserialize");
            assert_eq!(back, state);
        }
        assert!(TaskState::Expired.is_final());
        assert!(!TaskState::Delivering.is_final());
    }
}
