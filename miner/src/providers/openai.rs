//! OpenAI: GPT image models (`POST /images/generations`, always base64 in `data[0].b64_json`)
//! and Sora video (`POST /videos`, poll `GET /videos/{id}`, `GET /videos/{id}/content`) for as
//! long as it answers. The reference's `dall-e-3` + `data[0].url` path died with DALL-E on
//! 2026-05-12, so it is not offered. GPT image sizes top out at 1536 px: only the 1K tier.

use super::params::{Params, at_least, nearest_ratio, parse_ratio};
use super::prices::{Per, Priced};
use super::video::{self, VideosApi};
use super::{Generated, Http, Job, Plan, Provider, ProviderError, Tuning, parse_json};
use crate::text::truncate;
use async_trait::async_trait;
use base64::Engine;
use gas_shared::{Modality, Tier};
use serde_json::json;
use std::time::Duration;

pub const DEFAULT_IMAGE_MODEL: &str = "gpt-image-1.5";
pub const DEFAULT_VIDEO_MODEL: &str = "sora-2";
const IMAGE_SIZES: [&str; 3] = ["1024x1024", "1536x1024", "1024x1536"];
const QUALITIES: [&str; 4] = ["low", "medium", "high", "auto"];
const FORMATS: [&str; 3] = ["png", "jpeg", "webp"];
const SORA_SECONDS: [u32; 3] = [4, 8, 12];

pub struct OpenAi {
    http: Http,
    videos: VideosApi,
    image_model: String,
    video_model: String,
}

impl OpenAi {
    pub fn new(
        base: &str,
        key: &str,
        tuning: Tuning,
        image_model: Option<&str>,
        video_model: Option<&str>,
    ) -> OpenAi {
        let http = Http::new("openai", "OpenAI", base, key, tuning);
        OpenAi {
            videos: VideosApi {
                http: http.clone(),
                default_poll: Duration::from_secs(5),
            },
            http,
            image_model: image_model.unwrap_or(DEFAULT_IMAGE_MODEL).to_string(),
            video_model: video_model.unwrap_or(DEFAULT_VIDEO_MODEL).to_string(),
        }
    }

    /// `{model, prompt, size, quality, output_format, n: 1}`: 1:1 unless the challenge names
    /// a shape; `high` quality unless it names one.
    pub fn image_plan(&self, prompt: &str, parameters: &serde_json::Value) -> Plan {
        let p = Params(parameters);
        let model = p
            .model()
            .filter(|m| m.starts_with("gpt-image"))
            .unwrap_or(&self.image_model)
            .to_string();
        let size = p
            .one_of("size", &IMAGE_SIZES)
            .unwrap_or_else(|| nearest_ratio(&IMAGE_SIZES, p.shape(), "1024x1024"));
        let quality = p.one_of("quality", &QUALITIES).unwrap_or("high");
        let format = p
            .one_of("output_format", &FORMATS)
            .or_else(|| p.one_of("format", &FORMATS))
            .unwrap_or("png");
        let option = if size == "1024x1024" {
            quality.to_string()
        } else {
            format!("{quality}-wide")
        };
        Plan {
            cost_usd: self.http.tuning.prices.cost(&Priced {
                provider: "openai",
                model: &model,
                tier: Tier::K1,
                option: Some(&option),
                per: Per::Image,
                seconds: 0,
            }),
            delivers: Tier::K1,
            params: json!({
                "model": model,
                "prompt": prompt,
                "size": size,
                "quality": quality,
                "output_format": format,
                "n": 1,
            }),
            model,
        }
    }

    /// `{model, prompt, size, seconds}`: the smallest size whose pixel count reaches the tier
    /// (sora-2 stops at 1280×720; sora-2-pro adds 1792×1024), landscape unless asked.
    pub fn video_plan(&self, prompt: &str, parameters: &serde_json::Value, tier: Tier) -> Plan {
        let p = Params(parameters);
        let model = p
            .one_of("model", &["sora-2", "sora-2-pro"])
            .unwrap_or(&self.video_model)
            .to_string();
        let sizes: &[&str] = if model == "sora-2-pro" {
            &["1280x720", "720x1280", "1792x1024", "1024x1792"]
        } else {
            &["1280x720", "720x1280"]
        };
        let portrait = p.shape().is_some_and(|r| r < 1.0);
        let fitting: Vec<(&str, Tier)> = sizes
            .iter()
            .copied()
            .filter(|s| parse_ratio(s).is_some_and(|r| (r < 1.0) == portrait))
            .map(|s| (s, size_tier(s)))
            .collect();
        let (size, delivers) = fitting
            .iter()
            .copied()
            .find(|(_, t)| *t >= tier)
            .or_else(|| fitting.last().copied())
            .unwrap_or(("1280x720", Tier::P720));
        let want = p.duration().map(|d| d.ceil() as u32).unwrap_or(4);
        let seconds = at_least(&SORA_SECONDS, want);
        Plan {
            cost_usd: self.http.tuning.prices.cost(&Priced {
                provider: "openai",
                model: &model,
                tier: delivers,
                option: None,
                per: Per::Second,
                seconds,
            }),
            delivers,
            params: json!({
                "model": model,
                "prompt": prompt,
                "size": size,
                "seconds": seconds.to_string(),
            }),
            model,
        }
    }

    async fn image(&self, job: &Job<'_>) -> Result<Generated, ProviderError> {
        let answer = self
            .http
            .post_plan("generate", job, "/images/generations")
            .await?;
        let doc = parse_json("OpenAI", &answer.body)?;
        let Some(b64) = doc.pointer("/data/0/b64_json").and_then(|v| v.as_str()) else {
            return Err(ProviderError::new(format!(
                "OpenAI returned no image data ({}): {}",
                job.plan.model,
                truncate(&doc.to_string(), 200)
            )));
        };
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .map_err(|e| {
                ProviderError::new(format!("OpenAI image data is not valid base64: {e}"))
            })?;
        let n = job.write_media(&bytes).await?;
        Ok(Generated {
            model: job.plan.model.clone(),
            bytes: n,
        })
    }
}

/// Pixel count of `WxH` as the validators' video tier.
fn size_tier(size: &str) -> Tier {
    let (w, h) = size.split_once('x').unwrap_or(("0", "0"));
    Tier::of_video(w.parse().unwrap_or(0), h.parse().unwrap_or(0))
}

#[async_trait]
impl Provider for OpenAi {
    fn name(&self) -> &'static str {
        "openai"
    }

    fn supports(&self, _modality: Modality) -> bool {
        true
    }

    fn plan(&self, task: &crate::task::TaskRecord) -> Plan {
        match task.modality {
            Modality::Image => self.image_plan(&task.prompt, &task.parameters),
            Modality::Video => self.video_plan(&task.prompt, &task.parameters, task.tier),
        }
    }

    async fn generate(&self, job: &Job<'_>) -> Result<Generated, ProviderError> {
        match job.task.modality {
            Modality::Image => self.image(job).await,
            Modality::Video => video::run(&self.videos, job).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn openai() -> OpenAi {
        OpenAi::new("http://x", "k", Tuning::default(), None, None)
    }

    #[test]
    fn every_image_tier_asks_for_a_square_1k_and_says_so() {
        for tier in [Tier::K1, Tier::K2, Tier::K4] {
            let plan = openai().image_plan("p", &json!({"resolution": tier.as_str()}));
            assert_eq!(plan.params["size"], "1024x1024");
            assert_eq!(plan.params["model"], DEFAULT_IMAGE_MODEL);
            assert_eq!(plan.params["n"], 1);
            assert_eq!(plan.delivers, Tier::K1);
            assert_eq!(plan.reaches(tier), tier == Tier::K1);
        }
        let plan = openai().image_plan(
            "p",
            &json!({"aspect_ratio": "9:16", "quality": "low", "model": "dall-e-3"}),
        );
        assert_eq!(plan.params["size"], "1024x1536");
        assert_eq!(plan.params["quality"], "low");
        assert_eq!(
            plan.model, DEFAULT_IMAGE_MODEL,
            "dead models are not asked for"
        );
    }

    #[test]
    fn sora_sizes_reach_the_tier_when_the_model_can() {
        let o = openai();
        for (tier, size, delivers) in [
            (Tier::P480, "1280x720", Tier::P720),
            (Tier::P720, "1280x720", Tier::P720),
            (Tier::P1080, "1280x720", Tier::P720),
        ] {
            let plan = o.video_plan("p", &json!({}), tier);
            assert_eq!(
                (plan.params["size"].as_str(), plan.delivers),
                (Some(size), delivers)
            );
            assert_eq!(plan.params["seconds"], "4");
        }
        let pro = o.video_plan(
            "p",
            &json!({"model": "sora-2-pro", "duration": 6}),
            Tier::P1080,
        );
        assert_eq!(pro.params["size"], "1792x1024");
        assert_eq!(pro.params["seconds"], "8");
        assert_eq!(pro.delivers, Tier::P1080);
        let tall = o.video_plan("p", &json!({"aspect_ratio": "9:16"}), Tier::P720);
        assert_eq!(tall.params["size"], "720x1280");
    }
}
