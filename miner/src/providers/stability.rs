//! Stability AI: `POST /v2beta/stable-image/generate/{sd3|ultra|core}` as multipart form data
//! with `accept: image/*`; a 200 body is the image itself. Output is about one megapixel, so
//! only the 1K tier. A `finish-reason: CONTENT_FILTERED` answer is a blurred image: refused,
//! never delivered.

use super::params::{Params, nearest_ratio};
use super::prices::{Per, Priced};
use super::{Call, Generated, Http, Job, Plan, Provider, ProviderError, Tuning, summary};
use async_trait::async_trait;
use gas_shared::{Modality, Tier};
use serde_json::json;

pub const DEFAULT_MODEL: &str = "sd3.5-medium";
const ASPECT_RATIOS: [&str; 9] = [
    "16:9", "1:1", "21:9", "2:3", "3:2", "4:5", "5:4", "9:16", "9:21",
];
const FORMATS: [&str; 3] = ["png", "jpeg", "webp"];

/// Models this client can ask for: (name, endpoint). Their prices are in `prices`.
pub const MODELS: [(&str, &str); 7] = [
    ("sd3.5-large", "sd3"),
    ("sd3.5-large-turbo", "sd3"),
    ("sd3.5-medium", "sd3"),
    ("sd3.5-flash", "sd3"),
    ("ultra", "ultra"),
    ("core", "core"),
    ("sd3", "sd3"),
];

pub fn known_model(name: &str) -> bool {
    MODELS.iter().any(|(m, _)| m.eq_ignore_ascii_case(name))
}

pub struct Stability {
    http: Http,
    model: String,
}

impl Stability {
    pub fn new(base: &str, key: &str, tuning: Tuning, model: Option<&str>) -> Stability {
        Stability {
            http: Http::new("stabilityai", "Stability AI", base, key, tuning),
            model: model.unwrap_or(DEFAULT_MODEL).to_ascii_lowercase(),
        }
    }

    /// The form fields (as JSON, for the records) and the endpoint they go to.
    pub fn image_plan(&self, prompt: &str, parameters: &serde_json::Value) -> Plan {
        let p = Params(parameters);
        let named = p.model().map(str::to_ascii_lowercase);
        let model = named
            .filter(|m| known_model(m))
            .unwrap_or_else(|| self.model.clone());
        let (_, endpoint) = MODELS
            .iter()
            .find(|(m, _)| *m == model)
            .copied()
            .unwrap_or(MODELS[2]);
        let mut params = json!({
            "endpoint": endpoint,
            "prompt": prompt,
            "output_format": p.one_of("output_format", &FORMATS)
                .or_else(|| p.one_of("format", &FORMATS))
                .unwrap_or("png"),
            "aspect_ratio": nearest_ratio(&ASPECT_RATIOS, p.shape(), "1:1"),
        });
        if endpoint == "sd3" {
            params["model"] = json!(model);
        }
        if let Some(n) = p.str("negative_prompt") {
            params["negative_prompt"] = json!(n);
        }
        if let Some(seed) = p.seed() {
            params["seed"] = json!(seed.to_string());
        }
        let cost_usd = self.http.tuning.prices.cost(&Priced {
            provider: "stabilityai",
            model: &model,
            tier: Tier::K1,
            option: None,
            per: Per::Image,
            seconds: 0,
        });
        Plan {
            model,
            delivers: Tier::K1,
            params,
            cost_usd,
        }
    }

    fn form(params: &serde_json::Value) -> reqwest::multipart::Form {
        let mut form = reqwest::multipart::Form::new();
        if let Some(fields) = params.as_object() {
            for (name, value) in fields {
                if name == "endpoint" {
                    continue;
                }
                let text = match value {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                form = form.text(name.clone(), text);
            }
        }
        form
    }
}

#[async_trait]
impl Provider for Stability {
    fn name(&self) -> &'static str {
        "stabilityai"
    }

    fn supports(&self, modality: Modality) -> bool {
        modality == Modality::Image
    }

    fn plan(&self, task: &crate::task::TaskRecord) -> Plan {
        self.image_plan(&task.prompt, &task.parameters)
    }

    async fn generate(&self, job: &Job<'_>) -> Result<Generated, ProviderError> {
        let params = &job.plan.params;
        let endpoint = params["endpoint"].as_str().unwrap_or("sd3");
        let path = format!("/v2beta/stable-image/generate/{endpoint}");
        let call = Call {
            summary: summary(params),
            cost_usd: Some(job.plan.cost_usd),
            ..self.http.call("generate", job)
        };
        let answer = call
            .send(job, || {
                self.http
                    .request(reqwest::Method::POST, &path)
                    .header("accept", "image/*")
                    .multipart(Self::form(params))
            })
            .await?;
        let header = |name: &str| {
            answer
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string()
        };
        // A JSON body on a 200 carries `finish_reason` itself, or is an error in disguise.
        let json: Option<serde_json::Value> = header("content-type")
            .starts_with("application/json")
            .then(|| serde_json::from_slice(&answer.body).unwrap_or_default());
        let finish = match &json {
            Some(doc) => doc["finish_reason"].as_str().unwrap_or("").to_string(),
            None => header("finish-reason"),
        };
        if finish.eq_ignore_ascii_case("CONTENT_FILTERED") {
            return Err(ProviderError::new(
                "Stability AI filtered the image (finish-reason CONTENT_FILTERED): the output is blurred and would not pass",
            ));
        }
        if json.is_some() {
            return Err(ProviderError::new(format!(
                "Stability AI answered with JSON instead of an image: {}",
                super::error_text(&answer.body)
            )));
        }
        let body = answer.body;
        let n = job.write_media(&body).await?;
        Ok(Generated {
            model: job.plan.model.clone(),
            bytes: n,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stability(model: Option<&str>) -> Stability {
        Stability::new("http://x", "k", Tuning::default(), model)
    }

    #[test]
    fn every_tier_gets_a_square_1k_request_on_the_right_endpoint() {
        for tier in ["1K", "2K", "4K"] {
            let plan = stability(None).image_plan("p", &json!({"resolution": tier}));
            assert_eq!(plan.params["endpoint"], "sd3");
            assert_eq!(plan.params["model"], DEFAULT_MODEL);
            assert_eq!(plan.params["aspect_ratio"], "1:1");
            assert_eq!(plan.params["output_format"], "png");
            assert_eq!(plan.delivers, Tier::K1);
        }
        let ultra = stability(Some("ultra")).image_plan(
            "p",
            &json!({"aspect_ratio": "16:9", "seed": 5, "negative_prompt": "blur"}),
        );
        assert_eq!(ultra.params["endpoint"], "ultra");
        assert!(
            ultra.params.get("model").is_none(),
            "ultra takes no model field"
        );
        assert_eq!(ultra.params["aspect_ratio"], "16:9");
        assert_eq!(ultra.params["seed"], "5");
        assert_eq!(ultra.params["negative_prompt"], "blur");
        assert!((ultra.cost_usd - 0.08).abs() < 1e-9);
    }
}
