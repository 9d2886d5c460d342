//! OpenRouter. Images: `POST /chat/completions` with `modalities: ["image", "text"]` and
//! `image_config.image_size` set to the requested tier (the reference never sends it, so it
//! always delivered 1K); the returned data-URL bytes are kept exactly as they came. Video:
//! `POST /videos` (202), poll `GET /videos/{id}`, download `GET /videos/{id}/content`, with
//! only the models whose output carries verifiable C2PA, and the resolution snapped up to the
//! tier (the reference snapped a 1080p request on seedance-2.0-fast down to 480p).

use super::params::{Params, at_least, nearest_ratio, parse_ratio, reaching_resolution};
use super::prices::{Per, Priced};
use super::video::{self, VideosApi};
use super::{Generated, Http, Job, Plan, Provider, ProviderError, Tuning, parse_json};
use async_trait::async_trait;
use base64::Engine;
use gas_shared::{Modality, Tier};
use serde_json::json;
use std::time::Duration;

pub const DEFAULT_IMAGE_MODEL: &str = "google/gemini-3-pro-image-preview";
pub const DEFAULT_VIDEO_MODEL: &str = "google/veo-3.1-lite";
const ASPECT_RATIOS: [&str; 10] = [
    "1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9",
];

/// A video model whose output validators can verify, and what it accepts.
pub struct VideoModel {
    pub id: &'static str,
    pub durations: &'static [u32],
    pub ratios: &'static [&'static str],
    /// Ascending; each with its short side in pixels. (Prices: `prices`, by the tier.)
    pub resolutions: &'static [(&'static str, u32)],
}

const VEO_RATIOS: &[&str] = &["16:9", "9:16"];
const SEEDANCE_RATIOS: &[&str] = &["1:1", "3:4", "9:16", "4:3", "16:9", "21:9", "9:21"];
const SEEDANCE_SECONDS: &[u32] = &[4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];

pub const VIDEO_MODELS: [VideoModel; 5] = [
    VideoModel {
        id: "google/veo-3.1-lite",
        durations: &[4, 6, 8],
        ratios: VEO_RATIOS,
        resolutions: &[("720p", 720), ("1080p", 1080)],
    },
    VideoModel {
        id: "google/veo-3.1-fast",
        durations: &[4, 6, 8],
        ratios: VEO_RATIOS,
        resolutions: &[("720p", 720), ("1080p", 1080), ("4K", 2160)],
    },
    VideoModel {
        id: "google/veo-3.1",
        durations: &[4, 6, 8],
        ratios: VEO_RATIOS,
        resolutions: &[("720p", 720), ("1080p", 1080), ("4K", 2160)],
    },
    VideoModel {
        id: "bytedance/seedance-2.0",
        durations: SEEDANCE_SECONDS,
        ratios: SEEDANCE_RATIOS,
        resolutions: &[("480p", 480), ("720p", 720), ("1080p", 1080)],
    },
    VideoModel {
        id: "bytedance/seedance-2.0-fast",
        durations: SEEDANCE_SECONDS,
        ratios: SEEDANCE_RATIOS,
        resolutions: &[("480p", 480), ("720p", 720)],
    },
];

/// The verifiable video model named `id` (case-insensitive).
pub fn video_model(id: &str) -> Option<&'static VideoModel> {
    VIDEO_MODELS.iter().find(|m| m.id.eq_ignore_ascii_case(id))
}

pub struct OpenRouter {
    http: Http,
    videos: VideosApi,
    /// The image model asked for when a challenge names none: the operator's, or the
    /// built-in default, which [`Provider::check_models`] may move to one OpenRouter lists.
    image_model: std::sync::RwLock<String>,
    /// `OPEN_ROUTER_IMAGE_MODEL` chose it (never moved, only reported).
    image_model_chosen: bool,
    video_model: &'static VideoModel,
}

/// The image models to move a retired default to, best first.
const DEFAULT_SUCCESSORS: [&str; 2] =
    ["google/gemini-3-pro-image", "google/gemini-3.1-flash-image"];

impl OpenRouter {
    pub fn new(
        base: &str,
        key: &str,
        tuning: Tuning,
        image_model: Option<&str>,
        video_model_id: Option<&str>,
    ) -> OpenRouter {
        let http = Http::new("openrouter", "OpenRouter", base, key, tuning);
        OpenRouter {
            videos: VideosApi {
                http: http.clone(),
                default_poll: Duration::from_secs(10),
            },
            http,
            image_model: std::sync::RwLock::new(
                image_model.unwrap_or(DEFAULT_IMAGE_MODEL).to_string(),
            ),
            image_model_chosen: image_model.is_some(),
            video_model: video_model_id
                .and_then(video_model)
                .unwrap_or(&VIDEO_MODELS[0]),
        }
    }

    /// The tier as `image_size`, an allowed aspect ratio (1:1 unless the challenge names one:
    /// validators score the smaller side).
    pub fn image_plan(&self, prompt: &str, parameters: &serde_json::Value, tier: Tier) -> Plan {
        let p = Params(parameters);
        let model = match p
            .model()
            .filter(|m| m.contains('/') && video_model(m).is_none())
        {
            Some(m) => m.to_string(),
            None => self.image_model(),
        };
        let aspect = nearest_ratio(&ASPECT_RATIOS, p.shape(), "1:1");
        let size = match tier {
            Tier::K4 => "4K",
            Tier::K2 => "2K",
            _ => "1K",
        };
        // The Gemini 3 image models honour image_size up to 4K; others are known for 1K only.
        let sized = model.starts_with("google/gemini-3");
        let delivers = if sized {
            // The smaller side decides: a non-square ratio at 2K falls short of 2K.
            let short = match size {
                "4K" => 4096.0,
                "2K" => 2048.0,
                _ => 1024.0,
            } / parse_ratio(aspect).map_or(1.0, |r| if r >= 1.0 { r } else { 1.0 / r });
            Tier::of_image(short as u32, short as u32)
        } else {
            Tier::K1
        };
        let cost_usd = self.http.tuning.prices.cost(&Priced {
            provider: "openrouter",
            model: &model,
            tier: delivers,
            option: None,
            per: Per::Image,
            seconds: 0,
        });
        Plan {
            params: json!({
                "model": model,
                "messages": [{"role": "user", "content": prompt}],
                "modalities": ["image", "text"],
                "image_config": {"aspect_ratio": aspect, "image_size": size},
            }),
            model,
            delivers,
            cost_usd,
        }
    }

    /// `{model, prompt, duration, aspect_ratio, resolution, generate_audio, seed?}` with the
    /// smallest resolution whose measured tier reaches the request.
    pub fn video_plan(&self, prompt: &str, parameters: &serde_json::Value, tier: Tier) -> Plan {
        let p = Params(parameters);
        let model = p.model().and_then(video_model).unwrap_or(self.video_model);
        let aspect = nearest_ratio(model.ratios, p.shape(), "16:9");
        let ratio = parse_ratio(aspect).unwrap_or(16.0 / 9.0);
        let (index, delivers) = reaching_resolution(model.resolutions, ratio, tier);
        let want = p.duration().map(|d| d.ceil() as u32).unwrap_or(0);
        let duration = at_least(model.durations, want);
        let audio = p.flag("generate_audio").unwrap_or(false);
        let mut params = json!({
            "model": model.id,
            "prompt": prompt,
            "duration": duration,
            "aspect_ratio": aspect,
            "resolution": model.resolutions[index].0,
            "generate_audio": audio,
        });
        if let Some(seed) = p.seed() {
            params["seed"] = json!(seed);
        }
        Plan {
            model: model.id.to_string(),
            delivers,
            cost_usd: self.http.tuning.prices.cost(&Priced {
                provider: "openrouter",
                model: model.id,
                tier: delivers,
                option: audio.then_some("audio"),
                per: Per::Second,
                seconds: duration,
            }),
            params,
        }
    }

    fn image_model(&self) -> String {
        self.image_model
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The image models OpenRouter lists (`GET /models`, public), or why it could not be read.
    async fn listed_image_models(&self) -> Result<Vec<String>, String> {
        let resp = self
            .http
            .request(reqwest::Method::GET, "/models")
            .send()
            .await
            .map_err(|e| crate::text::error_chain(&e))?;
        let status = resp.status();
        let body = resp
            .bytes()
            .await
            .map_err(|e| crate::text::error_chain(&e))?;
        if !status.is_success() {
            return Err(format!(
                "HTTP {}: {}",
                status.as_u16(),
                super::error_text(&body)
            ));
        }
        let doc = parse_json("OpenRouter", &body).map_err(|e| e.message)?;
        Ok(doc
            .get("data")
            .and_then(|d| d.as_array())
            .into_iter()
            .flatten()
            .filter(|m| {
                m.pointer("/architecture/output_modalities")
                    .and_then(|o| o.as_array())
                    .is_none_or(|o| o.iter().any(|x| x == "image"))
            })
            .filter_map(|m| m.get("id").and_then(|i| i.as_str()).map(str::to_string))
            .collect())
    }

    async fn image(&self, job: &Job<'_>) -> Result<Generated, ProviderError> {
        let model = &job.plan.model;
        let answer = self
            .http
            .post_plan("generate", job, "/chat/completions")
            .await?;
        let doc = parse_json("OpenRouter", &answer.body)?;
        if let Some(err) = doc.get("error").filter(|e| !e.is_null()) {
            return Err(ProviderError::new(format!(
                "OpenRouter error: {}",
                super::error_text(json!({ "error": err }).to_string().as_bytes())
            )));
        }
        let message = doc.pointer("/choices/0/message");
        let Some(data_url) = message
            .and_then(|m| m.pointer("/images/0/image_url/url"))
            .and_then(|u| u.as_str())
        else {
            let said = message
                .and_then(|m| m.get("content"))
                .and_then(|c| c.as_str())
                .filter(|c| !c.is_empty())
                .map(|c| crate::text::truncate(c, 300))
                .unwrap_or_else(|| "no text either".into());
            return Err(ProviderError::new(format!(
                "OpenRouter returned no image ({model}): {said}"
            )));
        };
        let bytes = decode_data_url(data_url)?;
        let n = job.write_media(&bytes).await?;
        Ok(Generated {
            model: model.clone(),
            bytes: n,
        })
    }
}

/// `data:image/png;base64,<data>` → bytes.
fn decode_data_url(url: &str) -> Result<Vec<u8>, ProviderError> {
    let (head, data) = url.split_once(',').ok_or_else(|| {
        ProviderError::new("OpenRouter returned an image URL that is not a data URL")
    })?;
    if !head.ends_with(";base64") {
        return Err(ProviderError::new(format!(
            "OpenRouter returned an image data URL that is not base64 ({head})"
        )));
    }
    base64::engine::general_purpose::STANDARD
        .decode(data.trim())
        .map_err(|e| ProviderError::new(format!("OpenRouter image data is not valid base64: {e}")))
}

#[async_trait]
impl Provider for OpenRouter {
    fn name(&self) -> &'static str {
        "openrouter"
    }

    fn supports(&self, _modality: Modality) -> bool {
        true
    }

    fn plan(&self, task: &crate::task::TaskRecord) -> Plan {
        match task.modality {
            Modality::Image => self.image_plan(&task.prompt, &task.parameters, task.tier),
            Modality::Video => self.video_plan(&task.prompt, &task.parameters, task.tier),
        }
    }

    async fn generate(&self, job: &Job<'_>) -> Result<Generated, ProviderError> {
        match job.task.modality {
            Modality::Image => self.image(job).await,
            Modality::Video => video::run(&self.videos, job).await,
        }
    }

    /// The image model against OpenRouter's public list: a retired default moves to a listed
    /// successor; a retired model the operator chose is reported with what is offered.
    async fn check_models(&self) -> Option<String> {
        let model = self.image_model();
        let listed = match self.listed_image_models().await {
            Ok(listed) => listed,
            Err(e) => {
                return Some(format!(
                    "OpenRouter's model list (GET /models) could not be read ({e}); the image model {model} is used unchecked"
                ));
            }
        };
        if listed.iter().any(|m| m.eq_ignore_ascii_case(&model)) {
            return None;
        }
        let offered: Vec<&str> = listed
            .iter()
            .filter(|m| m.starts_with("google/gemini-3"))
            .chain(listed.iter().filter(|m| !m.starts_with("google/gemini-3")))
            .take(5)
            .map(String::as_str)
            .collect();
        if self.image_model_chosen {
            return Some(format!(
                "OPEN_ROUTER_IMAGE_MODEL={model} is not in OpenRouter's model list (GET /models); offered for images: {}; set OPEN_ROUTER_IMAGE_MODEL to one of them (gas-miner doctor fails until then)",
                offered.join(", ")
            ));
        }
        let successor = DEFAULT_SUCCESSORS
            .iter()
            .find(|s| listed.iter().any(|m| m == *s))
            .map(|s| s.to_string())
            .or_else(|| {
                listed
                    .iter()
                    .find(|m| m.starts_with("google/gemini-3"))
                    .cloned()
            });
        match successor {
            Some(new) => {
                *self.image_model.write().unwrap_or_else(|p| p.into_inner()) = new.clone();
                Some(format!(
                    "OpenRouter no longer lists the default image model {model}; asking for {new} instead (offered for images: {}); set OPEN_ROUTER_IMAGE_MODEL to choose",
                    offered.join(", ")
                ))
            }
            None => Some(format!(
                "OpenRouter no longer lists the default image model {model} and lists no Gemini 3 image model; offered for images: {}; set OPEN_ROUTER_IMAGE_MODEL to one of them",
                offered.join(", ")
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn or(video: Option<&str>) -> OpenRouter {
        OpenRouter::new("http://x", "k", Tuning::default(), None, video)
    }

    #[test]
    fn tier_becomes_image_size_and_ratio_defaults_to_square() {
        for (tier, size) in [(Tier::K1, "1K"), (Tier::K2, "2K"), (Tier::K4, "4K")] {
            let plan = or(None).image_plan("p", &json!({}), tier);
            assert_eq!(plan.params["image_config"]["image_size"], size);
            assert_eq!(plan.params["image_config"]["aspect_ratio"], "1:1");
            assert_eq!(plan.params["model"], DEFAULT_IMAGE_MODEL);
            assert_eq!(plan.delivers, tier);
        }
        let plan = or(None).image_plan(
            "p",
            &json!({"aspect_ratio": "16:9", "model": "x/y"}),
            Tier::K2,
        );
        assert_eq!(plan.params["image_config"]["aspect_ratio"], "16:9");
        assert_eq!(plan.params["model"], "x/y");
        assert_eq!(
            plan.delivers,
            Tier::K1,
            "an unknown model is trusted for 1K only"
        );
        let wide = or(None).image_plan("p", &json!({"aspect_ratio": "16:9"}), Tier::K2);
        assert_eq!(wide.delivers, Tier::K1, "a 16:9 2K image measures 1K");
        let odd = or(None).image_plan("p", &json!({"aspect_ratio": "7:7"}), Tier::K2);
        assert_eq!(odd.params["image_config"]["aspect_ratio"], "1:1");
    }

    #[test]
    fn video_resolution_is_the_smallest_that_reaches_the_tier() {
        // (model, requested, resolution sent, tier delivered)
        let cases = [
            ("google/veo-3.1-lite", Tier::P480, "720p", Tier::P720),
            ("google/veo-3.1-lite", Tier::P720, "720p", Tier::P720),
            ("google/veo-3.1-lite", Tier::P1080, "1080p", Tier::P1080),
            ("google/veo-3.1-fast", Tier::P1080, "1080p", Tier::P1080),
            ("google/veo-3.1", Tier::P480, "720p", Tier::P720),
            ("bytedance/seedance-2.0", Tier::P480, "480p", Tier::P480),
            ("bytedance/seedance-2.0", Tier::P720, "720p", Tier::P720),
            ("bytedance/seedance-2.0", Tier::P1080, "1080p", Tier::P1080),
            (
                "bytedance/seedance-2.0-fast",
                Tier::P480,
                "480p",
                Tier::P480,
            ),
            (
                "bytedance/seedance-2.0-fast",
                Tier::P1080,
                "720p",
                Tier::P720,
            ),
        ];
        for (model, tier, resolution, delivers) in cases {
            let plan = or(Some(model)).video_plan("p", &json!({}), tier);
            assert_eq!(
                (plan.params["resolution"].as_str(), plan.delivers),
                (Some(resolution), delivers),
                "{model} at {tier}"
            );
            assert_eq!(plan.params["aspect_ratio"], "16:9");
            assert_eq!(plan.params["duration"], 4);
            assert_eq!(plan.params["generate_audio"], false);
            assert!(plan.cost_usd > 0.0);
        }
        assert!(
            !or(Some("bytedance/seedance-2.0-fast"))
                .video_plan("p", &json!({}), Tier::P1080)
                .reaches(Tier::P1080)
        );
    }

    #[test]
    fn video_parameters_are_honoured_within_the_models_limits() {
        let plan = or(None).video_plan(
            "p",
            &json!({"model": "bytedance/seedance-2.0", "duration": 7.5, "aspect_ratio": "1:1", "seed": 7, "generate_audio": true}),
            Tier::P720,
        );
        assert_eq!(plan.model, "bytedance/seedance-2.0");
        assert_eq!(plan.params["duration"], 8);
        assert_eq!(plan.params["aspect_ratio"], "1:1");
        // 720×720 measures 480p, so a square 720p request needs 1080p.
        assert_eq!(plan.params["resolution"], "1080p");
        assert_eq!(plan.params["seed"], 7);
        assert_eq!(plan.params["generate_audio"], true);
        let veo = or(None).video_plan(
            "p",
            &json!({"duration": 30, "ratio": "9:16", "model": "kling/x"}),
            Tier::P480,
        );
        assert_eq!(
            veo.model, DEFAULT_VIDEO_MODEL,
            "unverifiable models are never asked for"
        );
        assert_eq!(veo.params["duration"], 8);
        assert_eq!(veo.params["aspect_ratio"], "9:16");
    }

    #[test]
    fn data_urls_decode_untouched() {
        assert_eq!(
            decode_data_url("data:image/png;base64,AAEC").expect("ok"),
            vec![0, 1, 2]
        );
        assert!(decode_data_url("https://x/y.png").is_err());
    }
}
