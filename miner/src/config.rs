//! Settings: the reference's `.env.gen_miner` variable names, read from the environment and the
//! env file, each also a clap flag (a flag wins over the environment, the environment over the
//! file). Every value is checked at start; all problems are reported together, one line each.

use clap::Args;
use gas_shared::Modality;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const DEFAULT_OPENAI_BASE_URL: &str = "https://api.openai.com/v1";
pub const DEFAULT_OPEN_ROUTER_BASE_URL: &str = "https://openrouter.ai/api/v1";
pub const DEFAULT_STABILITY_BASE_URL: &str = "https://api.stability.ai";
pub const DEFAULT_RUNWAY_BASE_URL: &str = "https://api.dev.runwayml.com";

/// Raw settings as given. Values stay strings here so that every bad one can be reported at
/// once instead of clap stopping at the first.
///
/// No Debug: the API keys are here as given.
#[derive(Clone, Default, Args)]
pub struct Settings {
    /// Image service or fallback chain: openai | openrouter | stabilityai | none (e.g. "openrouter,stabilityai")
    #[arg(long, env = "IMAGE_SERVICE")]
    pub image_service: Option<String>,
    /// Video service or fallback chain: openai | openrouter | runway | none
    #[arg(long, env = "VIDEO_SERVICE")]
    pub video_service: Option<String>,
    #[arg(long, env = "OPENAI_API_KEY", hide_env_values = true)]
    pub openai_api_key: Option<String>,
    #[arg(long, env = "OPEN_ROUTER_API_KEY", hide_env_values = true)]
    pub open_router_api_key: Option<String>,
    #[arg(long, env = "STABILITY_API_KEY", hide_env_values = true)]
    pub stability_api_key: Option<String>,
    #[arg(long, env = "RUNWAYML_API_KEY", hide_env_values = true)]
    pub runwayml_api_key: Option<String>,
    /// OpenAI image model (default gpt-image-1.5)
    #[arg(long, env = "OPENAI_IMAGE_MODEL")]
    pub openai_image_model: Option<String>,
    /// OpenAI video model: sora-2 or sora-2-pro (default sora-2)
    #[arg(long, env = "OPENAI_VIDEO_MODEL")]
    pub openai_video_model: Option<String>,
    /// OpenRouter image model (default google/gemini-3-pro-image-preview)
    #[arg(long, env = "OPEN_ROUTER_IMAGE_MODEL")]
    pub open_router_image_model: Option<String>,
    /// OpenRouter video model with verifiable C2PA (default google/veo-3.1-lite)
    #[arg(long, env = "OPEN_ROUTER_VIDEO_MODEL")]
    pub open_router_video_model: Option<String>,
    /// Stability AI model: sd3.5-large, sd3.5-medium, sd3.5-large-turbo, sd3.5-flash, ultra, core (default sd3.5-medium)
    #[arg(long, env = "STABILITY_MODEL")]
    pub stability_model: Option<String>,
    /// Runway video model: veo3.1_fast, veo3.1, veo3, seedance2, seedance2_fast (default veo3.1_fast)
    #[arg(long, env = "RUNWAY_MODEL")]
    pub runway_model: Option<String>,
    /// Seconds one provider API request may take before it is retried (default 180)
    #[arg(long, env = "MINER_PROVIDER_TIMEOUT")]
    pub provider_timeout: Option<String>,
    /// Seconds between status polls of a video job (default: each provider's own pace, 5-10 s)
    #[arg(long, env = "MINER_VIDEO_POLL_INTERVAL")]
    pub video_poll_interval: Option<String>,
    #[arg(long, env = "OPENAI_BASE_URL")]
    pub openai_base_url: Option<String>,
    #[arg(long, env = "OPEN_ROUTER_BASE_URL")]
    pub open_router_base_url: Option<String>,
    #[arg(long, env = "STABILITY_BASE_URL")]
    pub stability_base_url: Option<String>,
    #[arg(long, env = "RUNWAY_BASE_URL")]
    pub runway_base_url: Option<String>,
    /// Wallet name under the wallets root (default "default")
    #[arg(long, env = "BT_WALLET_NAME")]
    pub wallet_name: Option<String>,
    /// Hotkey name inside the wallet (default "default")
    #[arg(long, env = "BT_WALLET_HOTKEY")]
    pub wallet_hotkey: Option<String>,
    /// Wallets root (default ~/.bittensor/wallets)
    #[arg(long, env = "BT_WALLET_PATH")]
    pub wallet_path: Option<String>,
    /// Subnet id: 34 on finney, 379 on testnet
    #[arg(long, env = "BT_NETUID")]
    pub netuid: Option<String>,
    #[arg(long, env = "BT_CHAIN_ENDPOINT")]
    pub chain_endpoint: Option<String>,
    /// Port validators reach us on (default 8091)
    #[arg(long, env = "BT_AXON_PORT")]
    pub axon_port: Option<String>,
    /// Address to bind (default 0.0.0.0)
    #[arg(long, env = "BT_AXON_IP")]
    pub axon_ip: Option<String>,
    /// Public address to publish on chain (default: discovered)
    #[arg(long, env = "BT_AXON_EXTERNAL_IP")]
    pub axon_external_ip: Option<String>,
    /// Public port to publish on chain, when a NAT maps it (default BT_AXON_PORT)
    #[arg(long, env = "BT_AXON_EXTERNAL_PORT")]
    pub axon_external_port: Option<String>,
    /// Also serve Prometheus /metrics on this TCP address, e.g. 127.0.0.1:9108 (default off)
    #[arg(long, env = "MINER_METRICS_ADDR")]
    pub metrics_addr: Option<String>,
    /// Networks webhooks may reach although not public, e.g. 10.0.0.0/8,127.0.0.1 (default none)
    #[arg(long, env = "MINER_WEBHOOK_ALLOW")]
    pub webhook_allow: Option<String>,
    /// Days finished tasks, their media and records are kept (default 14; counters are kept forever)
    #[arg(long, env = "MINER_RETENTION_DAYS")]
    pub retention_days: Option<String>,
    /// Seconds between metagraph syncs with the chain (default 120)
    #[arg(long, env = "MINER_METAGRAPH_SYNC")]
    pub metagraph_sync: Option<String>,
    /// Generation tasks that run at once (default 5)
    #[arg(long, env = "MINER_MAX_CONCURRENT_TASKS")]
    pub max_concurrent_tasks: Option<String>,
    /// Seconds one provider may take for one image task (default 300)
    #[arg(long, env = "MINER_TASK_TIMEOUT")]
    pub task_timeout: Option<String>,
    /// Seconds one provider may take for one video job, polling included (default 1800)
    #[arg(long, env = "MINER_VIDEO_TIMEOUT")]
    pub video_timeout: Option<String>,
    /// Where MINER_SAVE_LOCALLY copies media (default ./miner_generated_content)
    #[arg(long, env = "MINER_OUTPUT_DIR")]
    pub output_dir: Option<String>,
    /// Database, media and admin socket (default ~/.local/share/gas-miner)
    #[arg(long, env = "MINER_STATE_DIR")]
    pub state_dir: Option<String>,
    /// Also copy every generated file to MINER_OUTPUT_DIR/<image|video>/
    #[arg(long, env = "MINER_SAVE_LOCALLY")]
    pub save_locally: Option<String>,
    /// DEBUG, INFO, WARNING or ERROR (default INFO)
    #[arg(long, env = "BT_LOGGING_LEVEL")]
    pub logging_level: Option<String>,
    /// Admin socket for gas-console and scripts (default <state dir>/admin.sock)
    #[arg(long, env = "GAS_ADMIN_SOCKET")]
    pub admin_socket: Option<String>,
    /// Directory of PEM trust anchors for C2PA checks (default <state dir>/trust_anchors)
    #[arg(long, env = "GAS_TRUST_ANCHORS")]
    pub trust_anchors: Option<String>,
    /// Offline mode: read the metagraph from this JSON file instead of the chain
    #[arg(long, env = "BT_METAGRAPH_FILE")]
    pub metagraph_file: Option<String>,
    /// Accept validators below the 20000 stake minimum (as the reference's flag)
    #[arg(long, env = "MINER_NO_FORCE_VALIDATOR_PERMIT", num_args = 0..=1, default_missing_value = "true")]
    pub no_force_validator_permit: Option<String>,
    /// Seconds after the 201 during which a webhook is retried (default 7200)
    #[arg(long, env = "MINER_WEBHOOK_DEADLINE")]
    pub webhook_deadline: Option<String>,
    /// `gas-miner demo` brings its own studios: no service needs configuring.
    #[arg(skip)]
    pub demo: bool,
}

/// The reference's service names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    OpenAi,
    OpenRouter,
    StabilityAi,
    Runway,
}

impl Service {
    pub const ORDER: [Service; 4] = [
        Service::OpenAi,
        Service::OpenRouter,
        Service::StabilityAi,
        Service::Runway,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Service::OpenAi => "openai",
            Service::OpenRouter => "openrouter",
            Service::StabilityAi => "stabilityai",
            Service::Runway => "runway",
        }
    }

    fn parse(text: &str) -> Option<Service> {
        Service::ORDER.into_iter().find(|s| s.name() == text)
    }

    pub fn key_var(self) -> &'static str {
        match self {
            Service::OpenAi => "OPENAI_API_KEY",
            Service::OpenRouter => "OPEN_ROUTER_API_KEY",
            Service::StabilityAi => "STABILITY_API_KEY",
            Service::Runway => "RUNWAYML_API_KEY",
        }
    }

    /// What the service can make, per PROVIDERS.md.
    pub fn can_serve(self, modality: Modality) -> bool {
        matches!(
            (self, modality),
            (Service::OpenAi | Service::OpenRouter, _)
                | (Service::StabilityAi, Modality::Image)
                | (Service::Runway, Modality::Video)
        )
    }

    /// The variable that names this service's model for `modality`.
    fn model_var(self, modality: Modality) -> &'static str {
        match (self, modality) {
            (Service::OpenAi, Modality::Image) => "OPENAI_IMAGE_MODEL",
            (Service::OpenAi, Modality::Video) => "OPENAI_VIDEO_MODEL",
            (Service::OpenRouter, Modality::Image) => "OPEN_ROUTER_IMAGE_MODEL",
            (Service::OpenRouter, Modality::Video) => "OPEN_ROUTER_VIDEO_MODEL",
            (Service::StabilityAi, _) => "STABILITY_MODEL",
            (Service::Runway, _) => "RUNWAY_MODEL",
        }
    }

    /// Why `model` cannot be used for `modality`, if it cannot.
    fn refuse_model(self, modality: Modality, model: &str) -> Option<String> {
        use crate::providers::{openrouter, runway, stability};
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
            (Service::Runway, _) if runway::model(model).is_none() => Some(format!(
                "not offered (gen4.5 fails validation: its claim signature does not verify); use one of {}",
                runway::MODELS.iter().map(|m| m.id).collect::<Vec<_>>().join(", ")
            )),
            _ => None,
        }
    }
}

/// An API key. Debug and Display print only that it is set.
#[derive(Clone, PartialEq)]
pub struct Secret(String);

impl Secret {
    /// Wraps `value`, which from now on no log line of this process shows.
    pub fn new(value: &str) -> Secret {
        crate::logs::keep_secret(value);
        Secret(value.to_string())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
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
pub fn select_chain(
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
            problems.push(format!("{var}={name}: unknown service; use one of openai, openrouter, stabilityai, runway or none"));
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

/// Checked configuration the daemon runs with.
#[derive(Debug, Clone)]
pub struct Config {
    pub image_chain: Vec<ProviderSettings>,
    pub video_chain: Vec<ProviderSettings>,
    /// Every service with its key status, for changing the selection while running.
    pub catalog: Vec<KeyedService>,
    pub wallet_path: PathBuf,
    pub wallet_name: String,
    pub wallet_hotkey: String,
    pub netuid: u16,
    pub chain_endpoint: String,
    pub bind_ip: IpAddr,
    pub port: u16,
    pub external_ip: Option<IpAddr>,
    pub external_port: u16,
    pub metagraph_sync: Duration,
    pub max_concurrent_tasks: usize,
    pub task_timeout: Duration,
    pub video_timeout: Duration,
    pub output_dir: PathBuf,
    pub state_dir: PathBuf,
    pub trust_anchors: PathBuf,
    pub admin_socket: PathBuf,
    pub save_locally: bool,
    pub log_filter: &'static str,
    pub metagraph_file: Option<PathBuf>,
    pub force_validator_permit: bool,
    pub webhook_deadline: Duration,
    pub provider_timeout: Duration,
    pub video_poll_interval: Option<Duration>,
    /// `gas-miner demo`: local fakes only, said everywhere.
    pub demo: bool,
    /// Finished tasks, their media and records are pruned after this long.
    pub retention: Duration,
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// Where webhooks may go: public addresses and the networks in `MINER_WEBHOOK_ALLOW`.
    pub webhook_guard: crate::netguard::WebhookGuard,
}

impl Config {
    pub fn chain(&self, modality: Modality) -> &[ProviderSettings] {
        match modality {
            Modality::Image => &self.image_chain,
            Modality::Video => &self.video_chain,
        }
    }
}

fn home() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/root"))
}

/// `~/x` → `$HOME/x`.
pub fn expand_home(text: &str) -> PathBuf {
    match text.strip_prefix("~/") {
        Some(rest) => home().join(rest),
        None if text == "~" => home(),
        None => PathBuf::from(text),
    }
}

/// `MINER_STATE_DIR`, else `~/.local/share/gas-miner`.
pub fn state_dir(given: Option<&str>) -> PathBuf {
    given
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(expand_home)
        .unwrap_or_else(|| home().join(".local/share/gas-miner"))
}

/// `GAS_TRUST_ANCHORS`, else `<state dir>/trust_anchors`.
pub fn anchors_dir(given: Option<&str>, state: Option<&str>) -> PathBuf {
    given
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(expand_home)
        .unwrap_or_else(|| state_dir(state).join("trust_anchors"))
}

fn parse_bool(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" | "" => Some(false),
        _ => None,
    }
}

fn non_empty(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// Collects problems so the operator sees all of them in one run.
#[derive(Default)]
struct Problems(Vec<String>);

impl Problems {
    fn number<T: std::str::FromStr + PartialOrd + std::fmt::Display>(
        &mut self,
        var: &str,
        value: &Option<String>,
        default: T,
        min: T,
        what: &str,
    ) -> T {
        let Some(text) = non_empty(value) else {
            return default;
        };
        match text.parse::<T>() {
            Ok(n) if n >= min => n,
            _ => {
                self.0.push(format!(
                    "{var}={text}: not {what}; set a whole number of at least {min} (default {default})"
                ));
                default
            }
        }
    }

    fn flag(&mut self, var: &str, value: &Option<String>) -> bool {
        let Some(text) = value.as_deref() else {
            return false;
        };
        parse_bool(text).unwrap_or_else(|| {
            self.0.push(format!(
                "{var}={text}: not a yes/no value; use true or false"
            ));
            false
        })
    }

    fn url(&mut self, var: &str, value: &Option<String>, default: &str) -> String {
        let Some(text) = non_empty(value) else {
            return default.to_string();
        };
        match reqwest::Url::parse(text) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => {
                text.trim_end_matches('/').to_string()
            }
            _ => {
                self.0.push(format!(
                    "{var}={text}: not an absolute http(s) URL; unset it to use {default}"
                ));
                default.to_string()
            }
        }
    }
}

impl Settings {
    /// Checks every value; `Err` holds one line per problem (name, cause, fix).
    pub fn resolve(&self) -> Result<Config, Vec<String>> {
        let mut p = Problems::default();
        let keys = [
            (
                Service::OpenAi,
                &self.openai_api_key,
                &self.openai_base_url,
                "OPENAI_BASE_URL",
                DEFAULT_OPENAI_BASE_URL,
            ),
            (
                Service::OpenRouter,
                &self.open_router_api_key,
                &self.open_router_base_url,
                "OPEN_ROUTER_BASE_URL",
                DEFAULT_OPEN_ROUTER_BASE_URL,
            ),
            (
                Service::StabilityAi,
                &self.stability_api_key,
                &self.stability_base_url,
                "STABILITY_BASE_URL",
                DEFAULT_STABILITY_BASE_URL,
            ),
            (
                Service::Runway,
                &self.runwayml_api_key,
                &self.runway_base_url,
                "RUNWAY_BASE_URL",
                DEFAULT_RUNWAY_BASE_URL,
            ),
        ];
        let runway_alias = std::env::var("RUNWAYML_API_SECRET").ok();
        let mut providers = Vec::new();
        for (service, key, base, base_var, default_base) in keys {
            let base_url = p.url(base_var, base, default_base);
            let key = non_empty(key).or(if service == Service::Runway {
                runway_alias
                    .as_deref()
                    .map(str::trim)
                    .filter(|k| !k.is_empty())
            } else {
                None
            });
            providers.push((service, key.map(Secret::new), base_url));
        }
        let models = [
            ("OPENAI_IMAGE_MODEL", &self.openai_image_model),
            ("OPENAI_VIDEO_MODEL", &self.openai_video_model),
            ("OPEN_ROUTER_IMAGE_MODEL", &self.open_router_image_model),
            ("OPEN_ROUTER_VIDEO_MODEL", &self.open_router_video_model),
            ("STABILITY_MODEL", &self.stability_model),
            ("RUNWAY_MODEL", &self.runway_model),
        ];
        let explicit =
            non_empty(&self.image_service).is_some() || non_empty(&self.video_service).is_some();
        let catalog: Vec<KeyedService> = providers
            .iter()
            .map(|(service, key, base_url)| {
                let model = |m: Modality| {
                    let var = service.model_var(m);
                    models
                        .iter()
                        .find(|(v, _)| *v == var)
                        .and_then(|(_, x)| non_empty(x))
                        .map(str::to_string)
                };
                KeyedService {
                    service: *service,
                    key: key.clone(),
                    base_url: base_url.clone(),
                    image_model: model(Modality::Image),
                    video_model: model(Modality::Video),
                }
            })
            .collect();
        let mut chain_for = |var: &str, value: &Option<String>, modality: Modality| {
            let text = match non_empty(value) {
                Some(text) => text.to_string(),
                None if explicit => return Vec::new(),
                None => Service::ORDER
                    .into_iter()
                    .filter(|s| s.can_serve(modality))
                    .find(|s| catalog.iter().any(|k| k.service == *s && k.key.is_some()))
                    .map(|s| s.name().to_string())
                    .unwrap_or_else(|| "none".into()),
            };
            match select_chain(&catalog, var, &text, modality) {
                Ok(chain) => chain,
                Err(problems) => {
                    p.0.extend(problems);
                    Vec::new()
                }
            }
        };
        let image_chain = chain_for("IMAGE_SERVICE", &self.image_service, Modality::Image);
        let video_chain = chain_for("VIDEO_SERVICE", &self.video_service, Modality::Video);

        let netuid = p.number("BT_NETUID", &self.netuid, 34u16, 0, "a subnet id");
        let port = p.number("BT_AXON_PORT", &self.axon_port, 8091u16, 1, "a TCP port");
        let bind_ip = match non_empty(&self.axon_ip) {
            None => IpAddr::from([0, 0, 0, 0]),
            Some(text) => text.parse().unwrap_or_else(|_| {
                p.0.push(format!(
                    "BT_AXON_IP={text}: not an IP address; use 0.0.0.0 to listen on every interface"
                ));
                IpAddr::from([0, 0, 0, 0])
            }),
        };
        let external_ip = non_empty(&self.axon_external_ip).and_then(|text| {
            text.parse().map_err(|_| p.0.push(format!("BT_AXON_EXTERNAL_IP={text}: not an IP address; give your public IPv4 or IPv6 address"))).ok()
        });
        let max_concurrent_tasks = p.number(
            "MINER_MAX_CONCURRENT_TASKS",
            &self.max_concurrent_tasks,
            5usize,
            1,
            "a task count",
        );
        let task_timeout = p.number(
            "MINER_TASK_TIMEOUT",
            &self.task_timeout,
            300u64,
            1,
            "a number of seconds",
        );
        let video_timeout = p.number(
            "MINER_VIDEO_TIMEOUT",
            &self.video_timeout,
            1800u64,
            1,
            "a number of seconds",
        );
        let webhook_deadline = p.number(
            "MINER_WEBHOOK_DEADLINE",
            &self.webhook_deadline,
            7200u64,
            1,
            "a number of seconds",
        );
        let provider_timeout = p.number(
            "MINER_PROVIDER_TIMEOUT",
            &self.provider_timeout,
            180u64,
            1,
            "a number of seconds",
        );
        let video_poll_interval = non_empty(&self.video_poll_interval).and_then(|text| {
            match text.parse::<f64>() {
                Ok(s) if s.is_finite() && s > 0.0 && s <= 600.0 => Some(Duration::from_secs_f64(s)),
                _ => {
                    p.0.push(format!("MINER_VIDEO_POLL_INTERVAL={text}: not a number of seconds between 0 and 600; unset it to use each provider's pace"));
                    None
                }
            }
        });
        let retention_days = p.number(
            "MINER_RETENTION_DAYS",
            &self.retention_days,
            14u64,
            1,
            "a number of days",
        );
        let metrics_addr = non_empty(&self.metrics_addr).and_then(|text| {
            text.parse()
                .map_err(|_| {
                    p.0.push(format!(
                        "MINER_METRICS_ADDR={text}: not an address:port; use e.g. 127.0.0.1:9108"
                    ))
                })
                .ok()
        });
        let webhook_allow = crate::netguard::parse_allow(
            non_empty(&self.webhook_allow).unwrap_or_default(),
        )
        .unwrap_or_else(|e| {
            p.0.push(format!(
                "MINER_WEBHOOK_ALLOW: {e}; list networks or addresses separated by commas, e.g. 10.0.0.0/8,127.0.0.1"
            ));
            vec![]
        });
        let save_locally = p.flag("MINER_SAVE_LOCALLY", &self.save_locally);
        let no_force = p.flag(
            "MINER_NO_FORCE_VALIDATOR_PERMIT",
            &self.no_force_validator_permit,
        );
        let log_filter = match non_empty(&self.logging_level)
            .map(str::to_ascii_uppercase)
            .as_deref()
        {
            None | Some("INFO") | Some("SUCCESS") => "info",
            Some("DEBUG") => "debug",
            Some("TRACE") => "trace",
            Some("WARNING") | Some("WARN") => "warn",
            Some("ERROR") | Some("CRITICAL") => "error",
            Some(other) => {
                p.0.push(format!(
                    "BT_LOGGING_LEVEL={other}: unknown level; use DEBUG, INFO, WARNING or ERROR"
                ));
                "info"
            }
        };
        let metagraph_file = non_empty(&self.metagraph_file).map(expand_home);
        let chain_endpoint = non_empty(&self.chain_endpoint)
            .unwrap_or("wss://entrypoint-finney.opentensor.ai:443")
            .to_string();
        if !(chain_endpoint.starts_with("ws://") || chain_endpoint.starts_with("wss://")) {
            p.0.push(format!("BT_CHAIN_ENDPOINT={chain_endpoint}: not a WebSocket URL; use wss://entrypoint-finney.opentensor.ai:443 (finney) or ws://127.0.0.1:9944 (a local node)"));
        }
        let external_port = p.number(
            "BT_AXON_EXTERNAL_PORT",
            &self.axon_external_port,
            port,
            1,
            "a TCP port",
        );
        let metagraph_sync = p.number(
            "MINER_METAGRAPH_SYNC",
            &self.metagraph_sync,
            120u64,
            1,
            "a number of seconds",
        );
        if image_chain.is_empty() && video_chain.is_empty() && p.0.is_empty() && !self.demo {
            p.0.push("no generation service is configured: set IMAGE_SERVICE and VIDEO_SERVICE (e.g. openrouter) and the service's API key (e.g. OPEN_ROUTER_API_KEY) in .env.gen_miner".into());
        }
        if !p.0.is_empty() {
            return Err(p.0);
        }
        Ok(Config {
            image_chain,
            video_chain,
            catalog,
            wallet_path: non_empty(&self.wallet_path)
                .map(expand_home)
                .unwrap_or_else(|| home().join(".bittensor/wallets")),
            wallet_name: non_empty(&self.wallet_name)
                .unwrap_or("default")
                .to_string(),
            wallet_hotkey: non_empty(&self.wallet_hotkey)
                .unwrap_or("default")
                .to_string(),
            netuid,
            chain_endpoint,
            bind_ip,
            port,
            external_ip,
            external_port,
            metagraph_sync: Duration::from_secs(metagraph_sync),
            max_concurrent_tasks,
            task_timeout: Duration::from_secs(task_timeout),
            video_timeout: Duration::from_secs(video_timeout),
            output_dir: non_empty(&self.output_dir)
                .map(expand_home)
                .unwrap_or_else(|| PathBuf::from("miner_generated_content")),
            state_dir: state_dir(non_empty(&self.state_dir)),
            trust_anchors: anchors_dir(non_empty(&self.trust_anchors), non_empty(&self.state_dir)),
            admin_socket: crate::admin::socket_path(
                non_empty(&self.admin_socket),
                &state_dir(non_empty(&self.state_dir)),
            ),
            save_locally,
            log_filter,
            metagraph_file,
            force_validator_permit: !no_force,
            webhook_deadline: Duration::from_secs(webhook_deadline),
            provider_timeout: Duration::from_secs(provider_timeout),
            video_poll_interval,
            demo: self.demo,
            retention: Duration::from_secs(retention_days * 86_400),
            metrics_addr,
            webhook_guard: crate::netguard::WebhookGuard::new(webhook_allow),
        })
    }
}

/// Loads `path` into the process environment without overriding what is already set, so
/// the environment wins over the file. A missing default file is fine; a broken one is not.
pub fn load_env_file(path: &Path, required: bool) -> Result<(), String> {
    match dotenvy::from_path(path) {
        Ok(()) => Ok(()),
        Err(dotenvy::Error::Io(e)) if e.kind() == std::io::ErrorKind::NotFound && !required => {
            Ok(())
        }
        Err(e) => Err(format!(
            "env file {}: {e}; fix the line or point --env-file elsewhere",
            path.display()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Settings {
        Settings {
            open_router_api_key: Some("sk-or-test".into()),
            metagraph_file: Some("/tmp/m.json".into()),
            ..Settings::default()
        }
    }

    #[test]
    fn with_no_selection_the_first_keyed_service_serves() {
        let cfg = base().resolve().expect("valid");
        assert_eq!(cfg.image_chain.len(), 1);
        assert_eq!(cfg.image_chain[0].service, Service::OpenRouter);
        assert_eq!(cfg.image_chain[0].base_url, DEFAULT_OPEN_ROUTER_BASE_URL);
        assert_eq!(cfg.video_chain.len(), 1, "OpenRouter makes videos too");
        let both = Settings {
            openai_api_key: Some("sk-openai".into()),
            runwayml_api_key: Some("rw-key".into()),
            ..base()
        };
        let cfg = both.resolve().expect("valid");
        assert_eq!(
            cfg.image_chain[0].service,
            Service::OpenAi,
            "the reference's order"
        );
        assert_eq!(cfg.video_chain.len(), 1);
        assert_eq!(cfg.video_chain[0].service, Service::OpenAi);
    }

    #[test]
    fn a_comma_list_is_a_fallback_chain_with_models_checked() {
        let s = Settings {
            image_service: Some("stabilityai, openrouter".into()),
            video_service: Some("runway,openrouter".into()),
            stability_api_key: Some("sk-stab".into()),
            runwayml_api_key: Some("rw".into()),
            runway_model: Some("seedance2".into()),
            ..base()
        };
        let cfg = s.resolve().expect("valid");
        let names = |c: &[ProviderSettings]| c.iter().map(|p| p.service).collect::<Vec<_>>();
        assert_eq!(
            names(&cfg.image_chain),
            vec![Service::StabilityAi, Service::OpenRouter]
        );
        assert_eq!(
            names(&cfg.video_chain),
            vec![Service::Runway, Service::OpenRouter]
        );
        assert_eq!(cfg.video_chain[0].model.as_deref(), Some("seedance2"));
        assert_eq!(
            cfg.image_chain[0].model, None,
            "RUNWAY_MODEL is Runway's alone"
        );

        let bad = Settings {
            image_service: Some("openai,openai".into()),
            video_service: Some("runway,openrouter".into()),
            openai_api_key: Some("sk-openai".into()),
            openai_image_model: Some("dall-e-3".into()),
            runwayml_api_key: Some("rw".into()),
            runway_model: Some("gen4.5".into()),
            open_router_video_model: Some("kling/kling-2".into()),
            video_poll_interval: Some("-1".into()),
            ..base()
        };
        let text = bad.resolve().expect_err("invalid").join("\n");
        for needle in [
            "OPENAI_IMAGE_MODEL=dall-e-3: only GPT image models",
            "RUNWAY_MODEL=gen4.5: not offered (gen4.5 fails validation",
            "OPEN_ROUTER_VIDEO_MODEL=kling/kling-2: not a video model whose C2PA",
            "MINER_VIDEO_POLL_INTERVAL=-1",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in\n{text}");
        }
    }

    #[test]
    fn every_problem_is_reported_once_with_its_fix() {
        let bad = Settings {
            image_service: Some("stabilityai,bogus".into()),
            video_service: Some("stabilityai".into()),
            axon_port: Some("80a".into()),
            max_concurrent_tasks: Some("0".into()),
            save_locally: Some("maybe".into()),
            ..base()
        };
        let problems = bad.resolve().expect_err("invalid");
        let text = problems.join("\n");
        for needle in [
            "IMAGE_SERVICE=bogus",
            "VIDEO_SERVICE=stabilityai: stabilityai cannot make videos",
            "BT_AXON_PORT=80a",
            "MINER_MAX_CONCURRENT_TASKS=0",
            "MINER_SAVE_LOCALLY=maybe",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in\n{text}");
        }
    }

    #[test]
    fn a_named_service_without_its_key_is_refused() {
        let s = Settings {
            image_service: Some("openrouter".into()),
            open_router_api_key: None,
            ..base()
        };
        let text = s.resolve().expect_err("no key").join("\n");
        assert!(text.contains("OPEN_ROUTER_API_KEY is not set"), "{text}");
        assert!(!text.contains("sk-or"));
    }

    #[test]
    fn none_disables_a_modality_and_keys_never_print() {
        let s = Settings {
            image_service: Some("openrouter".into()),
            video_service: Some("none".into()),
            ..base()
        };
        let cfg = s.resolve().expect("valid");
        assert!(cfg.video_chain.is_empty());
        assert!(!format!("{cfg:?}").contains("sk-or-test"));
    }
}
