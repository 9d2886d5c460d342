//! From settings to a checked [`Config`]: every value parsed and checked, every problem
//! reported together (one line each: the variable, the cause, the fix), the fallback chains
//! read through the service catalogue.

use super::paths::{anchors_dir, expand_home, home, socket_path, state_dir};
use super::{Config, Settings};
use crate::providers::prices::PriceTable;
use crate::providers::registry::{KeyedService, Service, select_chain};
use crate::secret::Secret;
use gas_shared::Modality;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The subnet's API (STANDING.md §1).
pub const DEFAULT_GAS_API_URL: &str = "https://gas.bitmind.ai";

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

    /// A US$ amount (0 or more); unset or empty: `None`.
    fn dollars(&mut self, var: &str, value: &Option<String>) -> Option<f64> {
        let text = non_empty(value)?;
        match text.trim_start_matches('$').parse::<f64>() {
            Ok(n) if n.is_finite() && n >= 0.0 => Some(n),
            _ => {
                self.0.push(format!(
                    "{var}={text}: not an amount of US dollars; set a number of 0 or more (e.g. 25 or 7.50), or unset it for no limit"
                ));
                None
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
            (Service::OpenAi, &self.openai_api_key, &self.openai_base_url),
            (
                Service::OpenRouter,
                &self.open_router_api_key,
                &self.open_router_base_url,
            ),
            (
                Service::StabilityAi,
                &self.stability_api_key,
                &self.stability_base_url,
            ),
            (
                Service::Runway,
                &self.runwayml_api_key,
                &self.runway_base_url,
            ),
            (Service::Google, &self.gemini_api_key, &self.gemini_base_url),
            (
                Service::Vertex,
                &self.google_application_credentials,
                &self.vertex_base_url,
            ),
        ];
        let runway_alias = std::env::var("RUNWAYML_API_SECRET").ok();
        let mut providers = Vec::new();
        let location = non_empty(&self.google_cloud_location).unwrap_or("us-central1");
        for (service, key, base) in keys {
            let default_base = match service {
                Service::Vertex => format!("https://{location}-aiplatform.googleapis.com/v1"),
                _ => service.default_base_url().to_string(),
            };
            let mut base_url = p.url(service.base_url_var(), base, &default_base);
            if service == Service::Vertex {
                // The project: the setting, else the key file's own.
                let project = non_empty(&self.google_cloud_project)
                    .map(str::to_string)
                    .or_else(|| {
                        let path = non_empty(key)?;
                        crate::providers::google_auth::ServiceAccount::load(Path::new(path))
                            .ok()?
                            .project_id
                    })
                    .unwrap_or_default();
                base_url = crate::providers::vertex::models_url(&base_url, &project, location);
            }
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
            ("GOOGLE_IMAGE_MODEL", &self.google_image_model),
            ("VERTEX_VIDEO_MODEL", &self.vertex_video_model),
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
        let breaker_pause = p.number(
            "MINER_BREAKER_PAUSE",
            &self.breaker_pause,
            30u64,
            1,
            "a number of seconds",
        );
        let admission_max_wait = p.number(
            "MINER_ADMISSION_MAX_WAIT",
            &self.admission_max_wait,
            1800u64,
            0,
            "a number of seconds",
        );
        let queue_max = p.number(
            "MINER_QUEUE_MAX",
            &self.queue_max,
            crate::admission::DEFAULT_QUEUE_MAX,
            1,
            "a number of tasks",
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
        let db_cache_mb = p.number(
            "MINER_DB_CACHE_MB",
            &self.db_cache_mb,
            crate::store::DEFAULT_CACHE_MB,
            1,
            "a number of MiB",
        );
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
        let gas_api_url = p.url("GAS_API_URL", &self.gas_api_url, DEFAULT_GAS_API_URL);
        let standing_poll = p.number(
            "MINER_STANDING_POLL",
            &self.standing_poll,
            900u64,
            0,
            "a number of seconds",
        );
        let budget = crate::budget::Limits {
            all: p.dollars("MINER_BUDGET_USD_PER_DAY", &self.budget_usd_per_day),
            image: p.dollars(
                "MINER_BUDGET_USD_PER_DAY_IMAGE",
                &self.budget_usd_per_day_image,
            ),
            video: p.dollars(
                "MINER_BUDGET_USD_PER_DAY_VIDEO",
                &self.budget_usd_per_day_video,
            ),
        };
        let prices_file = non_empty(&self.prices_file).map(expand_home);
        let prices = match &prices_file {
            None => PriceTable::builtin(),
            Some(path) => match std::fs::read_to_string(path) {
                Ok(text) => match PriceTable::parse(&text, &path.display().to_string()) {
                    Ok(file) => PriceTable::builtin().overridden_by(file),
                    Err(problems) => {
                        p.0.extend(
                            problems
                                .into_iter()
                                .map(|line| format!("MINER_PRICES_FILE: {line}")),
                        );
                        PriceTable::builtin()
                    }
                },
                Err(e) => {
                    p.0.push(format!(
                        "MINER_PRICES_FILE={}: cannot be read ({e}); give a readable file or unset it to use the built-in prices",
                        path.display()
                    ));
                    PriceTable::builtin()
                }
            },
        };
        let tier_retry = p.flag("MINER_TIER_RETRY", &self.tier_retry);
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
            name: gas_client::fleet::clean_name(&non_empty(&self.name).map_or_else(
                || {
                    format!(
                        "{}-{}",
                        non_empty(&self.wallet_name).unwrap_or("default"),
                        non_empty(&self.wallet_hotkey).unwrap_or("default")
                    )
                },
                str::to_string,
            )),
            env_file: None,
            db_cache_mb,
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
            breaker_pause: Duration::from_secs(breaker_pause),
            admission_max_wait: Duration::from_secs(admission_max_wait),
            queue_max,
            output_dir: non_empty(&self.output_dir)
                .map(expand_home)
                .unwrap_or_else(|| PathBuf::from("miner_generated_content")),
            state_dir: state_dir(non_empty(&self.state_dir)),
            trust_anchors: anchors_dir(non_empty(&self.trust_anchors), non_empty(&self.state_dir)),
            admin_socket: socket_path(
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
            gas_api_url,
            standing_poll: (standing_poll > 0).then(|| Duration::from_secs(standing_poll)),
            budget,
            prices: std::sync::Arc::new(prices),
            prices_file,
            tier_retry,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::registry::ProviderSettings;

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
        assert_eq!(
            cfg.image_chain[0].base_url,
            Service::OpenRouter.default_base_url()
        );
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
            breaker_pause: Some("0".into()),
            admission_max_wait: Some("-1".into()),
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
            "MINER_BREAKER_PAUSE=0",
            "MINER_ADMISSION_MAX_WAIT=-1",
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
        assert_eq!(
            cfg.breaker_pause,
            Duration::from_secs(30),
            "the default pause"
        );
        assert!(!format!("{cfg:?}").contains("sk-or-test"));
    }
}
