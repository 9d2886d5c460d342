//! Reading a challenge's optional parameters (`model`, `aspect_ratio`/`ratio`,
//! `duration`/`seconds`, `seed`, `width`/`height`, `size`, `quality`, `generate_audio`,
//! `negative_prompt`, `format`) and snapping them onto a provider's allowed values: the
//! smallest allowed value that is at least the request, the nearest shape for ratios.

use gas_shared::Tier;
use serde_json::Value;

/// The validators' tier for a video whose short side is `short` px at shape `ratio` (w/h).
pub fn video_tier(short: u32, ratio: f64) -> Tier {
    let long = (f64::from(short) * if ratio >= 1.0 { ratio } else { 1.0 / ratio }).round();
    Tier::of_video(long as u32, short)
}

/// The first of a video model's `resolutions` (ascending, each with its short side in px)
/// whose measured tier at shape `ratio` reaches `want`, else the largest: its index and the
/// tier it delivers.
pub fn reaching_resolution(resolutions: &[(&str, u32)], ratio: f64, want: Tier) -> (usize, Tier) {
    let tiers: Vec<Tier> = resolutions
        .iter()
        .map(|(_, short)| video_tier(*short, ratio))
        .collect();
    let index = tiers
        .iter()
        .position(|t| *t >= want)
        .unwrap_or(tiers.len().saturating_sub(1));
    (index, tiers.get(index).copied().unwrap_or(want))
}

/// A task's `parameters` object, read leniently: validators' values may be strings or numbers.
pub struct Params<'a>(pub &'a Value);

impl Params<'_> {
    pub fn str(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
    }

    fn number(&self, name: &str) -> Option<f64> {
        match self.0.get(name)? {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().trim_end_matches('s').parse().ok(),
            _ => None,
        }
    }

    /// The model the validator named, if any.
    pub fn model(&self) -> Option<&str> {
        self.str("model")
    }

    /// Seconds asked for (`duration` or `seconds`).
    pub fn duration(&self) -> Option<f64> {
        self.number("duration")
            .or_else(|| self.number("seconds"))
            .filter(|d| d.is_finite() && *d > 0.0)
    }

    pub fn seed(&self) -> Option<u64> {
        self.number("seed")
            .filter(|s| s.is_finite() && *s >= 0.0 && s.fract() == 0.0 && *s < 4.29e9)
            .map(|s| s as u64)
    }

    pub fn flag(&self, name: &str) -> Option<bool> {
        match self.0.get(name)? {
            Value::Bool(b) => Some(*b),
            Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" => Some(true),
                "false" | "0" | "no" => Some(false),
                _ => None,
            },
            _ => None,
        }
    }

    /// The shape asked for, as width / height: `aspect_ratio` or `ratio` (`16:9`, `1280:720`,
    /// `16x9`), else `width` and `height`, else `size` (`1792x1024`).
    pub fn shape(&self) -> Option<f64> {
        let ratio = self.str("aspect_ratio").or_else(|| self.str("ratio"));
        if let Some(r) = ratio.and_then(parse_ratio) {
            return Some(r);
        }
        if let (Some(w), Some(h)) = (self.number("width"), self.number("height"))
            && w > 0.0
            && h > 0.0
        {
            return Some(w / h);
        }
        self.str("size").and_then(parse_ratio)
    }

    /// One of `allowed`, matched case-insensitively.
    pub fn one_of<'b>(&self, name: &str, allowed: &[&'b str]) -> Option<&'b str> {
        let v = self.str(name)?;
        allowed.iter().copied().find(|a| a.eq_ignore_ascii_case(v))
    }
}

/// `16:9`, `1280:720`, `16x9`, `1792x1024` → width / height.
pub fn parse_ratio(text: &str) -> Option<f64> {
    let (w, h) = text.split_once([':', 'x', 'X', '/'])?;
    let w: f64 = w.trim().parse().ok()?;
    let h: f64 = h.trim().parse().ok()?;
    (w > 0.0 && h > 0.0 && w.is_finite() && h.is_finite()).then(|| w / h)
}

/// The allowed ratio whose shape is nearest to `want` (by log distance, so 2:1 and 1:2 are
/// equally far from 1:1); `default` when nothing was asked.
pub fn nearest_ratio<'a>(allowed: &[&'a str], want: Option<f64>, default: &'a str) -> &'a str {
    let Some(want) = want else {
        return default;
    };
    allowed
        .iter()
        .copied()
        .filter_map(|a| parse_ratio(a).map(|r| (a, (r.ln() - want.ln()).abs())))
        .min_by(|x, y| x.1.total_cmp(&y.1))
        .map(|(a, _)| a)
        .unwrap_or(default)
}

/// The smallest allowed value at least `want`, else the largest allowed (`allowed` ascending).
pub fn at_least<T: Copy + PartialOrd>(allowed: &[T], want: T) -> T {
    allowed
        .iter()
        .copied()
        .find(|a| *a >= want)
        .or_else(|| allowed.last().copied())
        .unwrap_or(want)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn shapes_come_from_ratio_dimensions_or_size() {
        assert_eq!(
            Params(&json!({"aspect_ratio": "16:9"})).shape(),
            Some(16.0 / 9.0)
        );
        assert_eq!(Params(&json!({"ratio": "720:1280"})).shape(), Some(0.5625));
        assert_eq!(
            Params(&json!({"width": 1024, "height": 512})).shape(),
            Some(2.0)
        );
        assert_eq!(
            Params(&json!({"size": "1024x1536"})).shape(),
            Some(1024.0 / 1536.0)
        );
        assert_eq!(Params(&json!({"aspect_ratio": "wide"})).shape(), None);
    }

    #[test]
    fn nearest_ratio_keeps_orientation() {
        let allowed = ["1:1", "16:9", "9:16"];
        assert_eq!(nearest_ratio(&allowed, Some(1.5), "1:1"), "16:9");
        assert_eq!(nearest_ratio(&allowed, Some(0.7), "1:1"), "9:16");
        assert_eq!(nearest_ratio(&allowed, Some(1.05), "16:9"), "1:1");
        assert_eq!(nearest_ratio(&allowed, None, "16:9"), "16:9");
    }

    #[test]
    fn at_least_picks_the_smallest_sufficient_value() {
        assert_eq!(at_least(&[4, 6, 8], 5), 6);
        assert_eq!(at_least(&[4, 6, 8], 4), 4);
        assert_eq!(at_least(&[4, 6, 8], 12), 8);
    }

    #[test]
    fn durations_and_seeds_read_strings_and_numbers() {
        let p = json!({"duration": "6s", "seed": 42, "generate_audio": "true"});
        let p = Params(&p);
        assert_eq!(p.duration(), Some(6.0));
        assert_eq!(p.seed(), Some(42));
        assert_eq!(p.flag("generate_audio"), Some(true));
        assert_eq!(Params(&json!({"seconds": 8})).duration(), Some(8.0));
        assert_eq!(Params(&json!({"seed": -1})).seed(), None);
    }
}
