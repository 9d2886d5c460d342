//! OpenRouter images: `POST /chat/completions` with `modalities: ["image", "text"]` and
//! `image_config.image_size` set to the requested tier (the reference never sends it, so it
//! always delivered 1K). The returned data-URL bytes are kept exactly as they came.

use super::{Call, Generated, Job, Provider, ProviderError, http_client};
use base64::Engine;
use gas_shared::{Modality, Tier};
use serde_json::json;
use std::time::Duration;

pub const DEFAULT_IMAGE_MODEL: &str = "google/gemini-3-pro-image-preview";
const ASPECT_RATIOS: [&str; 10] = [
    "1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9",
];

pub struct OpenRouter {
    base_url: String,
    key: String,
    client: reqwest::Client,
}

impl OpenRouter {
    pub fn new(base_url: &str, key: &str, timeout: Duration) -> OpenRouter {
        OpenRouter {
            base_url: base_url.trim_end_matches('/').to_string(),
            key: key.to_string(),
            client: http_client(timeout),
        }
    }

    /// The body sent for a task: the tier as `image_size`, an allowed aspect ratio (1:1 unless
    /// the challenge names one: validators score the smaller side).
    pub fn image_request(
        prompt: &str,
        parameters: &serde_json::Value,
        tier: Tier,
    ) -> serde_json::Value {
        let param = |name: &str| parameters.get(name).and_then(|v| v.as_str());
        let model = param("model")
            .filter(|m| m.contains('/'))
            .unwrap_or(DEFAULT_IMAGE_MODEL);
        let aspect = param("aspect_ratio")
            .or_else(|| param("ratio"))
            .and_then(|r| ASPECT_RATIOS.into_iter().find(|a| *a == r.trim()))
            .unwrap_or("1:1");
        let size = match tier {
            Tier::K4 => "4K",
            Tier::K2 => "2K",
            _ => "1K",
        };
        json!({
            "model": model,
            "messages": [{"role": "user", "content": prompt}],
            "modalities": ["image", "text"],
            "image_config": {"aspect_ratio": aspect, "image_size": size},
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

#[async_trait::async_trait]
impl Provider for OpenRouter {
    fn name(&self) -> &'static str {
        "openrouter"
    }

    fn supports(&self, modality: Modality) -> bool {
        modality == Modality::Image
    }

    async fn generate(&self, job: &Job<'_>) -> Result<Generated, ProviderError> {
        let task = job.task;
        let body = Self::image_request(&task.prompt, &task.parameters, task.tier);
        let model = body["model"]
            .as_str()
            .unwrap_or(DEFAULT_IMAGE_MODEL)
            .to_string();
        let mut summary = body.clone();
        summary["messages"] =
            json!([{"role": "user", "content": super::truncate(&task.prompt, 200)}]);
        let call = Call {
            provider: self.name(),
            model: &model,
            summary,
            key: &self.key,
            max_tries: 4,
        };
        let url = format!("{}/chat/completions", self.base_url);
        let (_, raw) = call
            .send(job, || {
                self.client.post(&url).bearer_auth(&self.key).json(&body)
            })
            .await?;
        let doc: serde_json::Value = serde_json::from_slice(&raw).map_err(|e| {
            ProviderError::new(format!("OpenRouter answered with malformed JSON: {e}"))
        })?;
        if let Some(err) = doc.get("error") {
            return Err(ProviderError::new(format!(
                "OpenRouter error: {}",
                super::error_text(err.to_string().as_bytes())
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
                .map(|c| super::truncate(c, 300))
                .unwrap_or_else(|| "no text either".into());
            return Err(ProviderError::new(format!(
                "OpenRouter returned no image ({model}): {said}"
            )));
        };
        let bytes = decode_data_url(data_url)?;
        tokio::fs::write(job.dest, &bytes).await.map_err(|e| {
            ProviderError::new(format!(
                "could not write media to {}: {e}",
                job.dest.display()
            ))
        })?;
        Ok(Generated {
            model,
            bytes: bytes.len() as u64,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tier_becomes_image_size_and_ratio_defaults_to_square() {
        for (tier, size) in [(Tier::K1, "1K"), (Tier::K2, "2K"), (Tier::K4, "4K")] {
            let body = OpenRouter::image_request("p", &json!({}), tier);
            assert_eq!(body["image_config"]["image_size"], size);
            assert_eq!(body["image_config"]["aspect_ratio"], "1:1");
            assert_eq!(body["model"], DEFAULT_IMAGE_MODEL);
        }
        let body = OpenRouter::image_request(
            "p",
            &json!({"aspect_ratio": "16:9", "model": "x/y"}),
            Tier::K2,
        );
        assert_eq!(body["image_config"]["aspect_ratio"], "16:9");
        assert_eq!(body["model"], "x/y");
        let body = OpenRouter::image_request("p", &json!({"aspect_ratio": "7:1"}), Tier::K2);
        assert_eq!(body["image_config"]["aspect_ratio"], "1:1");
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
