//! Runway: `POST /v1/text_to_video` → `{id}`, poll `GET /v1/tasks/{id}` (about every 6 s)
//! until `SUCCEEDED` (`output[0]`, a URL fetched without our key) or `FAILED`/`CANCELLED`
//! (`failure`, `failureCode`). Every API call carries `X-Runway-Version: 2024-11-06`.
//! `gen4.5` is not offered: its C2PA claim signature fails validation.

use super::params::{Params, at_least, parse_ratio};
use super::prices::{Per, Priced};
use super::video::{self, JobStatus, VideoApi};
use super::{Generated, Http, Job, Plan, Provider, ProviderError, Tuning, parse_json};
use crate::text::truncate;
use async_trait::async_trait;
use gas_shared::{Modality, Tier};
use serde_json::json;
use std::time::Duration;

pub const DEFAULT_MODEL: &str = "veo3.1_fast";
pub const API_VERSION: &str = "2024-11-06";
const VEO_RATIOS: &[&str] = &["1280:720", "720:1280", "1080:1920", "1920:1080"];

/// A text-to-video model and what it accepts.
pub struct RunwayModel {
    pub id: &'static str,
    pub ratios: &'static [&'static str],
    pub durations: &'static [u32],
    pub audio: bool,
    pub seed: bool,
    pub prompt_chars: usize,
}

const SEEDANCE_SECONDS: &[u32] = &[4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];

pub const MODELS: [RunwayModel; 5] = [
    RunwayModel {
        id: "veo3.1_fast",
        ratios: VEO_RATIOS,
        durations: &[4, 6, 8],
        audio: true,
        seed: false,
        prompt_chars: 1000,
    },
    RunwayModel {
        id: "veo3.1",
        ratios: VEO_RATIOS,
        durations: &[4, 6, 8],
        audio: true,
        seed: false,
        prompt_chars: 1000,
    },
    RunwayModel {
        id: "veo3",
        ratios: VEO_RATIOS,
        durations: &[8],
        audio: false,
        seed: false,
        prompt_chars: 1000,
    },
    RunwayModel {
        id: "seedance2",
        ratios: &[
            "1280:720",
            "720:1280",
            "1080:1080",
            "1080:1920",
            "1920:1080",
        ],
        durations: SEEDANCE_SECONDS,
        audio: true,
        seed: true,
        prompt_chars: 3500,
    },
    RunwayModel {
        // Capped at 720p.
        id: "seedance2_fast",
        ratios: &["1280:720", "720:1280"],
        durations: SEEDANCE_SECONDS,
        audio: true,
        seed: true,
        prompt_chars: 3500,
    },
];

pub fn model(id: &str) -> Option<&'static RunwayModel> {
    MODELS.iter().find(|m| m.id.eq_ignore_ascii_case(id))
}

/// `1920:1080` → the validators' tier for that many pixels.
fn ratio_tier(ratio: &str) -> Tier {
    let (w, h) = ratio.split_once(':').unwrap_or(("0", "0"));
    Tier::of_video(w.parse().unwrap_or(0), h.parse().unwrap_or(0))
}

pub struct Runway {
    http: Http,
    model: &'static RunwayModel,
}

impl Runway {
    pub fn new(base: &str, key: &str, tuning: Tuning, model_id: Option<&str>) -> Runway {
        Runway {
            http: Http::new("runway", "Runway", base, key, tuning)
                .with_headers(&[("X-Runway-Version", API_VERSION)]),
            model: model_id.and_then(model).unwrap_or(&MODELS[0]),
        }
    }

    /// The ratio of the asked shape (landscape unless asked) with the fewest pixels that still
    /// reach the tier; the shortest allowed duration at least the one asked.
    pub fn video_plan(&self, prompt: &str, parameters: &serde_json::Value, tier: Tier) -> Plan {
        let p = Params(parameters);
        let m = p.model().and_then(model).unwrap_or(self.model);
        let want = p.shape().unwrap_or(16.0 / 9.0).ln();
        let distance = |r: &str| parse_ratio(r).map_or(f64::MAX, |x| (x.ln() - want).abs());
        let best = m
            .ratios
            .iter()
            .map(|r| distance(r))
            .fold(f64::MAX, f64::min);
        let mut shaped: Vec<&str> = m
            .ratios
            .iter()
            .copied()
            .filter(|r| distance(r) <= best + 1e-6)
            .collect();
        shaped.sort_by_key(|r| ratio_tier(r));
        let ratio = shaped
            .iter()
            .copied()
            .find(|r| ratio_tier(r) >= tier)
            .or_else(|| shaped.last().copied())
            .unwrap_or("1280:720");
        let duration = at_least(
            m.durations,
            p.duration().map(|d| d.ceil() as u32).unwrap_or(0),
        );
        let audio = m.audio
            && p.flag("generate_audio")
                .or(p.flag("audio"))
                .unwrap_or(false);
        let mut params = json!({
            "model": m.id,
            "promptText": truncate(prompt, m.prompt_chars).trim_end_matches('…'),
            "ratio": ratio,
            "duration": duration,
        });
        if m.audio {
            params["audio"] = json!(audio);
        }
        if m.seed
            && let Some(seed) = p.seed()
        {
            params["seed"] = json!(seed);
        }
        Plan {
            model: m.id.to_string(),
            delivers: ratio_tier(ratio),
            cost_usd: self.http.tuning.prices.cost(&Priced {
                provider: "runway",
                model: m.id,
                tier: ratio_tier(ratio),
                option: audio.then_some("audio"),
                per: Per::Second,
                seconds: duration,
            }),
            params,
        }
    }
}

#[async_trait]
impl VideoApi for Runway {
    fn service(&self) -> &'static str {
        "runway"
    }

    fn poll_every(&self) -> Duration {
        self.http
            .tuning
            .poll_interval
            .unwrap_or(Duration::from_secs(6))
    }

    async fn create(&self, job: &Job<'_>) -> Result<String, ProviderError> {
        let answer = self
            .http
            .post_plan("create", job, "/v1/text_to_video")
            .await?;
        let raw = answer.body;
        let doc = parse_json("Runway", &raw)?;
        doc.get("id")
            .and_then(|v| v.as_str())
            .map(str::to_string)
            .ok_or_else(|| ProviderError::new("Runway accepted the video task but sent no id"))
    }

    async fn status(&self, job: &Job<'_>, id: &str) -> Result<JobStatus, ProviderError> {
        let doc = self
            .http
            .get_json(job, &format!("/v1/tasks/{id}"), json!({"id": id}))
            .await?;
        Ok(match doc.get("status").and_then(|s| s.as_str()) {
            Some("SUCCEEDED") => match doc.pointer("/output/0").and_then(|u| u.as_str()) {
                Some(url) => JobStatus::Succeeded {
                    url: Some(url.to_string()),
                },
                None => JobStatus::Failed("task SUCCEEDED without an output URL".into()),
            },
            Some(s @ ("FAILED" | "CANCELLED")) => {
                let failure = doc
                    .get("failure")
                    .and_then(|f| f.as_str())
                    .unwrap_or(s)
                    .to_string();
                JobStatus::Failed(match doc.get("failureCode").and_then(|c| c.as_str()) {
                    Some(code) => format!("{failure} ({code})"),
                    None => failure,
                })
            }
            _ => JobStatus::Running,
        })
    }

    async fn fetch(
        &self,
        job: &Job<'_>,
        _id: &str,
        url: Option<&str>,
    ) -> Result<u64, ProviderError> {
        let url = url.ok_or_else(|| ProviderError::new("Runway gave no output URL"))?;
        // The output URL is a signed link on a storage host: it gets no API key.
        self.http.download_link(job, url).await
    }
}

#[async_trait]
impl Provider for Runway {
    fn name(&self) -> &'static str {
        "runway"
    }

    fn supports(&self, modality: Modality) -> bool {
        modality == Modality::Video
    }

    fn plan(&self, task: &crate::task::TaskRecord) -> Plan {
        self.video_plan(&task.prompt, &task.parameters, task.tier)
    }

    async fn generate(&self, job: &Job<'_>) -> Result<Generated, ProviderError> {
        video::run(self, job).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runway(model: Option<&str>) -> Runway {
        Runway::new("http://x", "k", Tuning::default(), model)
    }

    #[test]
    fn every_tier_maps_to_the_smallest_reaching_ratio() {
        // (model, requested, ratio sent, delivered)
        let cases = [
            ("veo3.1_fast", Tier::P480, "1280:720", Tier::P720),
            ("veo3.1_fast", Tier::P720, "1280:720", Tier::P720),
            ("veo3.1_fast", Tier::P1080, "1920:1080", Tier::P1080),
            ("veo3.1", Tier::P1080, "1920:1080", Tier::P1080),
            ("veo3", Tier::P480, "1280:720", Tier::P720),
            ("seedance2", Tier::P1080, "1920:1080", Tier::P1080),
            ("seedance2_fast", Tier::P1080, "1280:720", Tier::P720),
        ];
        for (model, tier, ratio, delivers) in cases {
            let plan = runway(Some(model)).video_plan("p", &json!({}), tier);
            assert_eq!(
                (plan.params["ratio"].as_str(), plan.delivers),
                (Some(ratio), delivers),
                "{model} at {tier}"
            );
            assert_eq!(plan.params["model"], model);
        }
        let veo3 = runway(Some("veo3")).video_plan("p", &json!({}), Tier::P480);
        assert_eq!(veo3.params["duration"], 8, "veo3 only makes 8 s");
        assert!(veo3.params.get("audio").is_none());
    }

    #[test]
    fn shape_duration_seed_and_audio_follow_the_model() {
        let plan = runway(None).video_plan(
            "p",
            &json!({"aspect_ratio": "9:16", "duration": 5, "seed": 3, "generate_audio": true}),
            Tier::P1080,
        );
        assert_eq!(plan.params["ratio"], "1080:1920");
        assert_eq!(plan.params["duration"], 6);
        assert_eq!(plan.params["audio"], true);
        assert!(plan.params.get("seed").is_none(), "Veo takes no seed");
        assert!((plan.cost_usd - 0.90).abs() < 1e-9, "{}", plan.cost_usd);
        let sd = runway(Some("seedance2")).video_plan(
            "p",
            &json!({"ratio": "1:1", "seed": 3}),
            Tier::P720,
        );
        assert_eq!(sd.params["ratio"], "1080:1080");
        assert_eq!(sd.params["seed"], 3);
        assert_eq!(sd.delivers, Tier::P720);
        let long = "x".repeat(2000);
        let plan = runway(None).video_plan(&long, &json!({}), Tier::P480);
        assert_eq!(plan.params["promptText"].as_str().map(str::len), Some(1000));
    }
}
