//! Google, called directly. Images (the `google` service): the Gemini API's
//! `POST /models/{model}:generateContent` with the key in `x-goog-api-key` (never in the URL),
//! `imageConfig.imageSize` from the requested tier (1K/2K/4K) and `aspectRatio` 1:1 unless the
//! challenge names one. The answer's image parts are base64; interim "thought" images are
//! skipped and the final image's bytes kept exactly as returned. A refusal (`finishReason`
//! with no image) fails the attempt with Google's reason, unretried, so the next provider is
//! asked. Google's errors are `google.rpc.Status`: a 429 says how long to wait in
//! `RetryInfo.retryDelay` (there is no `Retry-After` header), and a `QuotaFailure` on a
//! per-day quota will not clear before midnight Pacific ([`retry_hint`]).

use super::params::{Params, nearest_ratio, parse_ratio};
use super::prices::{Per, Priced};
use super::{Generated, Http, Job, Plan, Provider, ProviderError, Tuning, parse_json};
use async_trait::async_trait;
use base64::Engine;
use gas_shared::{Modality, Tier};
use serde_json::json;
use std::time::Duration;

/// The Gemini image models served on Google's own API (the `-preview` ids were retired on
/// 2026-06-25).
pub(crate) const IMAGE_MODELS: [&str; 2] = ["gemini-3-pro-image", "gemini-3.1-flash-image"];
pub(crate) const DEFAULT_IMAGE_MODEL: &str = IMAGE_MODELS[0];
const ASPECT_RATIOS: [&str; 10] = [
    "1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9",
];

pub(crate) struct Google {
    http: Http,
    image_model: String,
}

impl Google {
    pub(crate) fn new(base: &str, key: &str, tuning: Tuning, image_model: Option<&str>) -> Google {
        Google {
            http: Http::new("google", "Google", base, key, tuning)
                .with_key_header("x-goog-api-key"),
            image_model: image_model.unwrap_or(DEFAULT_IMAGE_MODEL).to_string(),
        }
    }

    /// The tier as `imageSize`, an allowed aspect ratio (1:1 unless the challenge names one:
    /// validators score the smaller side, so a wide image measures below its size).
    pub(crate) fn image_plan(
        &self,
        prompt: &str,
        parameters: &serde_json::Value,
        tier: Tier,
    ) -> Plan {
        let p = Params(parameters);
        let model = p
            .model()
            .filter(|m| IMAGE_MODELS.contains(m))
            .unwrap_or(&self.image_model)
            .to_string();
        let aspect = nearest_ratio(&ASPECT_RATIOS, p.shape(), "1:1");
        let (size, long) = match tier {
            Tier::K4 => ("4K", 4096.0),
            Tier::K2 => ("2K", 2048.0),
            _ => ("1K", 1024.0),
        };
        let short = long / parse_ratio(aspect).map_or(1.0, |r| if r >= 1.0 { r } else { 1.0 / r });
        let delivers = Tier::of_image(short as u32, short as u32);
        let cost_usd = self.http.tuning.prices.cost(&Priced {
            provider: "google",
            model: &model,
            tier: delivers,
            option: None,
            per: Per::Image,
            seconds: 0,
        });
        Plan {
            params: json!({
                "contents": [{"role": "user", "parts": [{"text": prompt}]}],
                "generationConfig": {
                    "responseModalities": ["TEXT", "IMAGE"],
                    "imageConfig": {"aspectRatio": aspect, "imageSize": size},
                },
            }),
            model,
            delivers,
            cost_usd,
        }
    }

    async fn image(&self, job: &Job<'_>) -> Result<Generated, ProviderError> {
        let model = &job.plan.model;
        let answer = self
            .http
            .post_plan_refusable(
                "generate",
                job,
                &format!("/models/{model}:generateContent"),
                Some(refusal),
            )
            .await?;
        let doc = parse_json("Google", &answer.body)?;
        let bytes = final_image(&doc, model)?;
        let n = job.write_media(&bytes).await?;
        Ok(Generated {
            model: model.clone(),
            bytes: n,
        })
    }
}

/// Why an answer holds no image, if it holds none (a refusal comes as a 200). An answer of
/// more than 64 KiB holds an image and is not read here: only small answers are parsed twice.
fn refusal(body: &[u8]) -> Option<String> {
    if body.len() > 64 * 1024 {
        return None;
    }
    let doc: serde_json::Value = serde_json::from_slice(body).ok()?;
    let model = doc
        .get("modelVersion")
        .and_then(|m| m.as_str())
        .unwrap_or("Gemini");
    final_image(&doc, model).err().map(|e| e.message)
}

/// The last image part that is not a "thought", decoded; else why there is none (Google's
/// `finishReason` and message, or the block reason of the prompt).
pub(crate) fn final_image(doc: &serde_json::Value, model: &str) -> Result<Vec<u8>, ProviderError> {
    let candidate = doc.pointer("/candidates/0");
    let image = candidate
        .and_then(|c| c.pointer("/content/parts"))
        .and_then(|p| p.as_array())
        .into_iter()
        .flatten()
        .filter(|part| part.get("thought").and_then(|t| t.as_bool()) != Some(true))
        .filter_map(|part| part.get("inlineData"))
        .filter(|d| {
            d.get("mimeType")
                .and_then(|m| m.as_str())
                .is_some_and(|m| m.starts_with("image/"))
        })
        .filter_map(|d| d.get("data").and_then(|x| x.as_str()))
        .next_back();
    let Some(data) = image else {
        let reason = candidate
            .and_then(|c| c.get("finishReason"))
            .and_then(|r| r.as_str())
            .or_else(|| {
                doc.pointer("/promptFeedback/blockReason")
                    .and_then(|r| r.as_str())
            })
            .unwrap_or("no image part");
        let said = candidate
            .and_then(|c| c.get("finishMessage"))
            .and_then(|m| m.as_str())
            .map(|m| format!(": {}", crate::text::truncate(m, 300)))
            .unwrap_or_default();
        return Err(ProviderError {
            message: format!("Google made no image ({model}): finishReason {reason}{said}"),
            // A refusal: answered, not retried, the next provider is asked.
            status: Some(422),
            ..ProviderError::default()
        });
    };
    base64::engine::general_purpose::STANDARD
        .decode(data.trim())
        .map_err(|e| ProviderError::new(format!("Google image data is not valid base64: {e}")))
}

/// How long a Google error says to wait, read from its body (`google.rpc.Status`): the
/// `RetryInfo.retryDelay` of a 429 (`"45.8s"`), or, for a `QuotaFailure` on a per-day quota,
/// the time until midnight Pacific (taken as UTC−8; in summer it clears an hour earlier)
/// with words saying so.
pub(crate) fn retry_hint(body: &[u8], now_ms: i64) -> Option<(Duration, Option<String>)> {
    let doc: serde_json::Value = serde_json::from_slice(body).ok()?;
    let details = doc.pointer("/error/details")?.as_array()?;
    let kind = |d: &serde_json::Value, name: &str| {
        d.get("@type")
            .and_then(|t| t.as_str())
            .is_some_and(|t| t.ends_with(name))
    };
    let per_day = details
        .iter()
        .filter(|d| kind(d, "QuotaFailure"))
        .flat_map(|d| {
            d.get("violations")
                .and_then(|v| v.as_array())
                .into_iter()
                .flatten()
        })
        .filter_map(|v| v.get("quotaId").and_then(|q| q.as_str()))
        .find(|q| q.contains("PerDay"));
    if let Some(quota) = per_day {
        const DAY_MS: i64 = 86_400_000;
        const PACIFIC_MIDNIGHT_UTC_MS: i64 = 8 * 3_600_000;
        let next = (now_ms - PACIFIC_MIDNIGHT_UTC_MS).div_euclid(DAY_MS) * DAY_MS
            + DAY_MS
            + PACIFIC_MIDNIGHT_UTC_MS;
        let wait = Duration::from_millis((next - now_ms).max(60_000) as u64);
        return Some((
            wait,
            Some(format!(
                "out of quota for the day ({quota}): no more until midnight Pacific, in {} h",
                wait.as_secs().div_ceil(3600)
            )),
        ));
    }
    let delay = details
        .iter()
        .filter(|d| kind(d, "RetryInfo"))
        .find_map(|d| d.get("retryDelay").and_then(|r| r.as_str()))?;
    let secs: f64 = delay.trim().trim_end_matches('s').parse().ok()?;
    secs.is_finite()
        .then(|| (Duration::from_secs_f64(secs.clamp(0.0, 86_400.0)), None))
}

#[async_trait]
impl Provider for Google {
    fn name(&self) -> &'static str {
        "google"
    }

    fn supports(&self, modality: Modality) -> bool {
        modality == Modality::Image
    }

    fn plan(&self, task: &crate::task::TaskRecord) -> Plan {
        self.image_plan(&task.prompt, &task.parameters, task.tier)
    }

    async fn generate(&self, job: &Job<'_>) -> Result<Generated, ProviderError> {
        self.image(job).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn google(model: Option<&str>) -> Google {
        Google::new("http://x", "k", Tuning::default(), model)
    }

    #[test]
    fn the_tier_is_the_image_size_and_a_wide_ratio_measures_smaller() {
        for (tier, size, usd) in [
            (Tier::K1, "1K", 0.134),
            (Tier::K2, "2K", 0.134),
            (Tier::K4, "4K", 0.24),
        ] {
            let plan = google(None).image_plan("a heron", &json!({}), tier);
            let config = &plan.params["generationConfig"]["imageConfig"];
            assert_eq!(
                (config["imageSize"].as_str(), config["aspectRatio"].as_str()),
                (Some(size), Some("1:1"))
            );
            assert_eq!(plan.params["contents"][0]["parts"][0]["text"], "a heron");
            assert_eq!(plan.model, "gemini-3-pro-image");
            assert_eq!(plan.delivers, tier);
            assert!(
                (plan.cost_usd - usd).abs() < 1e-9,
                "{tier}: {}",
                plan.cost_usd
            );
        }
        let wide = google(None).image_plan("p", &json!({"aspect_ratio": "16:9"}), Tier::K4);
        assert_eq!(
            wide.params["generationConfig"]["imageConfig"]["aspectRatio"],
            "16:9"
        );
        assert_eq!(wide.delivers, Tier::K2, "a 16:9 4K image is 2304 px high");
        let flash = google(Some("gemini-3.1-flash-image")).image_plan("p", &json!({}), Tier::K2);
        assert_eq!(flash.model, "gemini-3.1-flash-image");
        let asked =
            google(None).image_plan("p", &json!({"model": "gemini-3.1-flash-image"}), Tier::K1);
        assert_eq!(
            asked.model, "gemini-3.1-flash-image",
            "a challenge may name a known model"
        );
        let unknown = google(None).image_plan("p", &json!({"model": "imagen-4"}), Tier::K1);
        assert_eq!(
            unknown.model, "gemini-3-pro-image",
            "an unknown one is not sent"
        );
    }

    #[test]
    fn the_final_image_is_kept_thoughts_skipped_and_a_refusal_says_why() {
        let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
        let doc = json!({"candidates": [{"content": {"parts": [
            {"text": "thinking", "thought": true},
            {"inlineData": {"mimeType": "image/png", "data": b64(b"draft")}, "thought": true},
            {"text": "here it is"},
            {"inlineData": {"mimeType": "image/png", "data": b64(b"final")}},
        ]}, "finishReason": "STOP"}]});
        assert_eq!(final_image(&doc, "m").expect("image"), b"final");
        let refused = json!({"candidates": [{"finishReason": "IMAGE_SAFETY", "finishMessage": "the prompt asks for a real person"}]});
        let e = final_image(&refused, "gemini-3-pro-image").expect_err("refused");
        assert_eq!(
            e.message,
            "Google made no image (gemini-3-pro-image): finishReason IMAGE_SAFETY: the prompt asks for a real person"
        );
        assert_eq!(e.status, Some(422));
        let blocked = json!({"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}});
        assert!(
            final_image(&blocked, "m")
                .expect_err("blocked")
                .message
                .contains("PROHIBITED_CONTENT")
        );
    }

    #[test]
    fn a_429_says_its_wait_in_the_body_and_a_daily_quota_waits_for_midnight_pacific() {
        let retry = json!({"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "message": "Quota exceeded", "details": [
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "45.8s"}
        ]}});
        let (wait, words) = retry_hint(retry.to_string().as_bytes(), 0).expect("hint");
        assert_eq!((wait, words), (Duration::from_millis(45_800), None));
        // 2026-12-01 20:00 UTC is 12:00 Pacific: twelve hours to go.
        let noon_pacific = 1_796_155_200_000;
        let daily = json!({"error": {"code": 429, "details": [
            {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [
                {"quotaId": "GenerateRequestsPerDayPerProjectPerModel", "quotaMetric": "generate_requests"}
            ]},
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "30s"}
        ]}});
        let (wait, words) = retry_hint(daily.to_string().as_bytes(), noon_pacific).expect("hint");
        assert_eq!(wait, Duration::from_secs(12 * 3600));
        assert!(
            words
                .expect("words")
                .contains("out of quota for the day (GenerateRequestsPerDayPerProjectPerModel)")
        );
        assert!(retry_hint(b"not json", 0).is_none());
    }
}
