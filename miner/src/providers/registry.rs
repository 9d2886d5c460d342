//! The service catalogue: every generation service the miner knows (the reference's names,
//! what each can make, its key, endpoint and model settings, and the models validators
//! reject), reading an operator's fallback chain (`openrouter,stabilityai`), and building the
//! provider clients for a chain. Configuration, the daemon and the admin socket's service
//! editor all go through here, so a service is added in one place.

use super::google::{self, Google};
use super::openai::OpenAi;
use super::openrouter::{self, OpenRouter};
use super::runway::{self, Runway};
use super::stability::{self, Stability};
use super::vertex::{self, Vertex};
use super::{Provider, Tuning};
use crate::secret::Secret;
use gas_shared::Modality;
use std::collections::HashMap;
use std::sync::Arc;

/// The provider clients per modality, in the operator's fallback order.
pub type Chains = HashMap<Modality, Vec<Arc<dyn Provider>>>;

/// The reference's service names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    OpenAi,
    OpenRouter,
    StabilityAi,
    Runway,
    /// Gemini images on Google's own API.
    Google,
    /// Veo on Vertex AI (a service account, not an API key).
    Vertex,
}

impl Service {
    /// Also the order a modality's service is picked in when none is named (the first with
    /// a key): Google, added last, never displaces an existing operator's default.
    pub const ORDER: [Service; 6] = [
        Service::OpenAi,
        Service::OpenRouter,
        Service::StabilityAi,
        Service::Runway,
        Service::Google,
        Service::Vertex,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Service::OpenAi => "openai",
            Service::OpenRouter => "openrouter",
            Service::StabilityAi => "stabilityai",
            Service::Runway => "runway",
            Service::Google => "google",
            Service::Vertex => "vertex",
        }
    }

    /// The official endpoint (overridable for tests and proxies by [`Service::base_url_var`]).
    pub fn default_base_url(self) -> &'static str {
        match self {
            Service::OpenAi => "https://api.openai.com/v1",
            Service::OpenRouter => "https://openrouter.ai/api/v1",
            Service::StabilityAi => "https://api.stability.ai",
            Service::Runway => "https://api.dev.runwayml.com",
            Service::Google => "https://generativelanguage.googleapis.com/v1beta",
            // With the location in front (`us-central1-aiplatform…`); see `config`.
            Service::Vertex => "https://aiplatform.googleapis.com/v1",
        }
    }

    /// The variable that overrides the endpoint.
    pub fn base_url_var(self) -> &'static str {
        match self {
            Service::OpenAi => "OPENAI_BASE_URL",
            Service::OpenRouter => "OPEN_ROUTER_BASE_URL",
            Service::StabilityAi => "STABILITY_BASE_URL",
            Service::Runway => "RUNWAY_BASE_URL",
            Service::Google => "GEMINI_BASE_URL",
            Service::Vertex => "VERTEX_BASE_URL",
        }
    }

    pub fn parse(text: &str) -> Option<Service> {
        Service::ORDER.into_iter().find(|s| s.name() == text)
    }

    pub fn key_var(self) -> &'static str {
        match self {
            Service::OpenAi => "OPENAI_API_KEY",
            Service::OpenRouter => "OPEN_ROUTER_API_KEY",
            Service::StabilityAi => "STABILITY_API_KEY",
            Service::Runway => "RUNWAYML_API_KEY",
            Service::Google => "GEMINI_API_KEY",
            // The service account's key file (its path): Vertex takes OAuth tokens, no key.
            Service::Vertex => "GOOGLE_APPLICATION_CREDENTIALS",
        }
    }

    /// What the service can make, per PROVIDERS.md.
    pub fn can_serve(self, modality: Modality) -> bool {
        matches!(
            (self, modality),
            (Service::OpenAi | Service::OpenRouter, _)
                | (Service::StabilityAi | Service::Google, Modality::Image)
                | (Service::Runway | Service::Vertex, Modality::Video)
        )
    }

    /// The variable that names this service's model for `modality`.
    pub fn model_var(self, modality: Modality) -> &'static str {
        match (self, modality) {
            (Service::OpenAi, Modality::Image) => "OPENAI_IMAGE_MODEL",
            (Service::OpenAi, Modality::Video) => "OPENAI_VIDEO_MODEL",
            (Service::OpenRouter, Modality::Image) => "OPEN_ROUTER_IMAGE_MODEL",
            (Service::OpenRouter, Modality::Video) => "OPEN_ROUTER_VIDEO_MODEL",
            (Service::StabilityAi, _) => "STABILITY_MODEL",
            (Service::Runway, _) => "RUNWAY_MODEL",
            (Service::Google, _) => "GOOGLE_IMAGE_MODEL",
            (Service::Vertex, _) => "VERTEX_VIDEO_MODEL",
        }
    }

    /// Why `model` cannot be used for `modality`, if it cannot.
    fn refuse_model(self, modality: Modality, model: &str) -> Option<String> {
        match (self, modality) {
            (Service::OpenAi, Modality::Image) if !model.starts_with("gpt-image") => Some(
                "only GPT image models (gpt-image-1.5, gpt-image-1-mini, gpt-image-2) are served; DALL-E was retired on 2026-05-12".into(),
            ),
            (Service::OpenAi, Modality::Video) if !matches!(model, "sora-2" | "sora-2-pro") => {
                Some("use sora-2 or sora-2-pro".into())
            }
            (Service::OpenRouter, Modality::Video) if openrouter::video_model(model).is_none() => {
                Some(format!(
                    "not a video model whose C2PA validators can verify; use one of {}",
                    openrouter::VIDEO_MODELS.iter().map(|m| m.id).collect::<Vec<_>>().join(", ")
                ))
            }
            (Service::OpenRouter, Modality::Image) if !model.contains('/') => {
                Some("OpenRouter model ids look like vendor/name (google/gemini-3-pro-image-preview)".into())
            }
            (Service::StabilityAi, _) if !stability::known_model(model) => Some(format!(
                "unknown model; use one of {}",
                stability::MODELS.iter().map(|m| m.0).collect::<Vec<_>>().join(", ")
            )),
            (Service::Google, _) if !google::IMAGE_MODELS.contains(&model) => Some(format!(
                "not a Gemini image model served on Google's API (the -preview ids were retired on 2026-06-25); use one of {}",
                google::IMAGE_MODELS.join(", ")
            )),
            (Service::Vertex, _) if vertex::model(model).is_none() => Some(format!(
                "not a Veo model on Vertex AI; use one of {}",
                vertex::MODELS.iter().map(|m| m.id).collect::<Vec<_>>().join(", ")
            )),
            (Service::Runway, _) if runway::model(model).is_none() => Some(format!(
                "not offered (gen4.5 fails validation: its claim signature does not verify); use one of {}",
                runway::MODELS.iter().map(|m| m.id).collect::<Vec<_>>().join(", ")
            )),
            _ => None,
        }
    }
}

/// A service as configured, whether or not it is selected: its key (if any), endpoint and
/// the operator's model choices. The console's service editor chooses among these.
#[derive(Debug, Clone)]
pub struct KeyedService {
    pub service: Service,
    pub key: Option<Secret>,
    pub base_url: String,
    pub image_model: Option<String>,
    pub video_model: Option<String>,
}

/// Reads a fallback chain (`openrouter,stabilityai`, `none`) for `modality`; `Err` holds one
/// line per problem, each naming `var`, the cause and the fix.
pub(crate) fn select_chain(
    catalog: &[KeyedService],
    var: &str,
    text: &str,
    modality: Modality,
) -> Result<Vec<ProviderSettings>, Vec<String>> {
    let names: Vec<String> = text
        .split(',')
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
        .collect();
    let mut problems = Vec::new();
    let mut chain: Vec<ProviderSettings> = Vec::new();
    if names.iter().any(|n| n == "none") {
        if names.len() > 1 {
            problems.push(format!("{var}={}: `none` cannot be combined with services; use either `none` or a service list", names.join(",")));
        }
        return if problems.is_empty() {
            Ok(chain)
        } else {
            Err(problems)
        };
    }
    for name in names {
        let Some(service) = Service::parse(&name) else {
            problems.push(format!(
                "{var}={name}: unknown service; use one of {} or none",
                Service::ORDER.map(Service::name).join(", ")
            ));
            continue;
        };
        if !service.can_serve(modality) {
            let can: Vec<&str> = Service::ORDER
                .into_iter()
                .filter(|s| s.can_serve(modality))
                .map(Service::name)
                .collect();
            problems.push(format!(
                "{var}={name}: {name} cannot make {modality}s; use one of {} or none",
                can.join(", ")
            ));
            continue;
        }
        let Some(entry) = catalog.iter().find(|k| k.service == service) else {
            continue;
        };
        let Some(key) = entry.key.clone() else {
            problems.push(format!(
                "{var}={name}: {} is not set; add your {name} API key to .env.gen_miner",
                service.key_var()
            ));
            continue;
        };
        let model = match modality {
            Modality::Image => entry.image_model.clone(),
            Modality::Video => entry.video_model.clone(),
        };
        if let Some(m) = &model
            && let Some(why) = service.refuse_model(modality, m)
        {
            problems.push(format!("{}={m}: {why}", service.model_var(modality)));
            continue;
        }
        if service == Service::Vertex {
            if let Err(why) =
                super::google_auth::ServiceAccount::load(std::path::Path::new(key.expose()))
            {
                problems.push(format!("{var}={name}: {why}"));
                continue;
            }
            if entry.base_url.contains("/projects//") {
                problems.push(format!(
                    "{var}={name}: GOOGLE_CLOUD_PROJECT is not set and the key file names no project_id; set GOOGLE_CLOUD_PROJECT to the Google Cloud project that runs Vertex AI"
                ));
                continue;
            }
        }
        if chain.iter().any(|c| c.service == service) {
            problems.push(format!(
                "{var}: {name} is listed twice; list each service once"
            ));
            continue;
        }
        chain.push(ProviderSettings {
            service,
            key,
            base_url: entry.base_url.clone(),
            model,
        });
    }
    if problems.is_empty() {
        Ok(chain)
    } else {
        Err(problems)
    }
}

#[derive(Debug, Clone)]
pub struct ProviderSettings {
    pub service: Service,
    pub key: Secret,
    pub base_url: String,
    /// The operator's model choice for this modality (else the client's default).
    pub model: Option<String>,
}

/// The clients for one modality's chain.
pub(crate) fn build_chain(
    modality: Modality,
    settings: &[ProviderSettings],
    tuning: &Tuning,
) -> Vec<Arc<dyn Provider>> {
    settings
        .iter()
        .map(|p| {
            let (base, key, model) = (&p.base_url, p.key.expose(), p.model.as_deref());
            let t = tuning.clone();
            let (image, video) = match modality {
                Modality::Image => (model, None),
                Modality::Video => (None, model),
            };
            match p.service {
                Service::OpenAi => {
                    Arc::new(OpenAi::new(base, key, t, image, video)) as Arc<dyn Provider>
                }
                Service::OpenRouter => Arc::new(OpenRouter::new(base, key, t, image, video)),
                Service::StabilityAi => Arc::new(Stability::new(base, key, t, model)),
                Service::Runway => Arc::new(Runway::new(base, key, t, model)),
                Service::Google => Arc::new(Google::new(base, key, t, model)),
                Service::Vertex => Arc::new(Vertex::new(base, key, t, model)),
            }
        })
        .filter(|p| p.supports(modality))
        .collect()
}
