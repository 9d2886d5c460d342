//! `gas-miner doctor`: everything that must be right before going live, checked online, one
//! line per check: each configured provider's key (its cheapest authenticated GET), each
//! configured model still offered for its modality (where the provider lists its models), the
//! trust anchors, the chain (endpoint, registration, axon), the subnet's API with our
//! signature, free space in the state directory, and this machine's clock against the
//! providers' `Date` headers (Epistula allows ±15 s). Exit 0 when every check passes, 1
//! otherwise; a configuration that does not resolve is exit 2, as for every command.

use super::CliError;
use crate::chain::AxonInfo;
use crate::chain::subtensor::Subtensor;
use crate::config::{Config, Settings};
use crate::identity::Hotkey;
use crate::providers::registry::{ProviderSettings, Service};
use crate::providers::{google, openai, openrouter, runway, stability, vertex};
use crate::standing::api;
use crate::text::{redact, truncate};
use gas_shared::Modality;
use std::path::Path;
use std::time::{Duration, SystemTime};

/// The longest a provider's answer may take.
const PROVIDER_TIMEOUT: Duration = Duration::from_secs(15);
/// The chain sends its runtime metadata (megabytes) first; the subnet's API may be slow on a
/// cold cache.
const CHAIN_TIMEOUT: Duration = Duration::from_secs(30);
const API_TIMEOUT: Duration = Duration::from_secs(30);
/// What Epistula tolerates between a signature's timestamp and the receiver's clock.
const MAX_SKEW_S: f64 = 15.0;
/// Below this much free space a warning, below `NO_DISK` a failure.
const LOW_DISK: u64 = 1 << 30;
const NO_DISK: u64 = 100 << 20;
/// A provider's body in a message is cut to this many characters.
const BODY_CHARS: usize = 160;
/// The offered alternatives named for a retired model, at the most.
const ALTERNATIVES: usize = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mark {
    Pass,
    Warn,
    Fail,
    Skipped,
}

/// One line of the report: the thing checked and what was found (on failure, the cause and
/// the fix).
#[derive(Debug)]
struct Check {
    mark: Mark,
    thing: String,
    said: String,
}

impl Check {
    fn new(mark: Mark, thing: impl Into<String>, said: impl Into<String>) -> Check {
        Check {
            mark,
            thing: thing.into(),
            said: said.into(),
        }
    }

    fn line(&self) -> String {
        let symbol = match self.mark {
            Mark::Pass => "✓",
            Mark::Warn => "!",
            Mark::Fail => "✗",
            Mark::Skipped => "–",
        };
        format!("{symbol} {}: {}", self.thing, self.said)
    }
}

/// A provider's answer to one GET.
struct Answer {
    status: u16,
    body: String,
    /// How far the provider's `Date` is ahead of our clock, in seconds.
    skew_s: Option<f64>,
}

/// `gas-miner doctor`.
pub fn doctor(settings: &Settings) -> Result<(), CliError> {
    let config = settings.resolve().map_err(CliError::Config)?;
    let key = super::load_hotkey(&config)?;
    let runtime = super::run::runtime()?;
    println!(
        "gas-miner {} doctor  ·  hotkey {}",
        env!("CARGO_PKG_VERSION"),
        key.ss58()
    );
    let checks = runtime.block_on(run_checks(&config, &key));
    for c in &checks {
        println!("{}", c.line());
    }
    let failed = checks.iter().filter(|c| c.mark == Mark::Fail).count();
    if failed == 0 {
        println!("ready: every check passed");
        Ok(())
    } else {
        println!(
            "not ready: {failed} of {} checks failed (✗ above, each with its fix)",
            checks.len()
        );
        Err(CliError::ChecksFailed)
    }
}

async fn run_checks(config: &Config, key: &Hotkey) -> Vec<Check> {
    let client = crate::tls::http_client()
        .connect_timeout(PROVIDER_TIMEOUT)
        .timeout(PROVIDER_TIMEOUT)
        .user_agent(concat!("gas-miner/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_default();
    let services = configured(config);
    let used: Vec<(Modality, &ProviderSettings)> = Modality::ALL
        .into_iter()
        .flat_map(|m| config.chain(m).iter().map(move |p| (m, p)))
        .collect();
    let openrouter_base = services
        .iter()
        .find(|p| p.service == Service::OpenRouter)
        .map(|p| p.base_url.clone());
    let wants = |m: Modality| {
        used.iter()
            .any(|(um, p)| *um == m && p.service == Service::OpenRouter)
    };
    let lists = async {
        match &openrouter_base {
            Some(base) => {
                let image = async {
                    if wants(Modality::Image) {
                        Some(get(&client, &format!("{base}/models"), &[]).await)
                    } else {
                        None
                    }
                };
                let video = async {
                    if wants(Modality::Video) {
                        Some(get(&client, &format!("{base}/videos/models"), &[]).await)
                    } else {
                        None
                    }
                };
                tokio::join!(image, video)
            }
            None => (None, None),
        }
    };
    let keys = futures_util::future::join_all(services.iter().map(|p| probe_key(&client, p)));
    let (keys, (image_list, video_list), chain, subnet_api) = tokio::join!(
        keys,
        lists,
        chain_checks(config, key),
        api_check(config, key)
    );

    let mut checks = Vec::new();
    let mut skews: Vec<(String, f64)> = Vec::new();
    // (a) keys
    if services.is_empty() {
        checks.push(Check::new(
            Mark::Skipped,
            "providers",
            "none configured (IMAGE_SERVICE and VIDEO_SERVICE are none): the miner answers every challenge 503",
        ));
    }
    // The models listed by the key's own check (OpenAI's and Google's GET /models).
    let mut listed_models: std::collections::HashMap<Service, Vec<String>> = Default::default();
    for (p, answer) in services.iter().zip(&keys) {
        if let Ok(a) = answer {
            if let Some(s) = a.skew_s {
                skews.push((p.service.name().to_string(), s));
            }
            if p.service == Service::Vertex && a.status == 200 {
                // The model's own page answered.
                let model = p.model.as_deref().unwrap_or(vertex::DEFAULT_MODEL);
                listed_models.insert(p.service, vec![model.to_string()]);
            }
            if matches!(p.service, Service::OpenAi | Service::Google) && a.status == 200 {
                listed_models.insert(
                    p.service,
                    ids(&a.body).into_iter().map(|(id, _)| id).collect(),
                );
            }
        }
        checks.push(key_check(p, answer));
    }
    // (b) models
    for list in [&image_list, &video_list].into_iter().flatten() {
        if let Ok(a) = list
            && let Some(s) = a.skew_s
        {
            skews.push(("openrouter".into(), s));
        }
    }
    for (modality, p) in &used {
        let list = match (p.service, modality) {
            (Service::OpenRouter, Modality::Image) => image_list.as_ref(),
            (Service::OpenRouter, Modality::Video) => video_list.as_ref(),
            _ => None,
        };
        let listed = listed_models.get(&p.service).map(Vec::as_slice);
        checks.push(model_check(*modality, p, list, listed));
    }
    // (c) trust anchors
    checks.push(
        match crate::preflight::Trusted::load(&config.trust_anchors) {
            Ok(t) => Check::new(
                Mark::Pass,
                "trust anchors",
                format!(
                    "{} anchors read from {}",
                    t.anchors.count(),
                    config.trust_anchors.display()
                ),
            ),
            Err(e) => Check::new(Mark::Fail, "trust anchors", e.to_string()),
        },
    );
    // (d) chain, (e) subnet API
    checks.extend(chain);
    checks.push(subnet_api);
    // (f) disk, (g) clock
    checks.push(disk_check(&config.state_dir));
    checks.push(clock_check(&skews));
    checks
}

/// Each configured service once, in the catalogue's order.
fn configured(config: &Config) -> Vec<ProviderSettings> {
    Service::ORDER
        .into_iter()
        .filter_map(|s| {
            config
                .image_chain
                .iter()
                .chain(&config.video_chain)
                .find(|p| p.service == s)
                .cloned()
        })
        .collect()
}

/// The service's cheapest authenticated GET: its path under the base URL.
fn key_path(service: Service) -> &'static str {
    match service {
        Service::OpenAi => "/models",
        Service::OpenRouter => "/key",
        Service::StabilityAi => "/v1/user/balance",
        Service::Runway => "/v1/organization",
        Service::Google => "/models",
        Service::Vertex => "/<model> with a token for the service account",
    }
}

async fn probe_key(client: &reqwest::Client, p: &ProviderSettings) -> Result<Answer, String> {
    if p.service == Service::Vertex {
        return probe_vertex(client, p).await;
    }
    let url = format!(
        "{}{}",
        p.base_url.trim_end_matches('/'),
        key_path(p.service)
    );
    let mut headers = vec![match p.service {
        // Google's key goes in its own header, never in the URL.
        Service::Google => ("x-goog-api-key", p.key.expose().to_string()),
        _ => ("authorization", format!("Bearer {}", p.key.expose())),
    }];
    if p.service == Service::Runway {
        headers.push(("x-runway-version", "2024-11-06".to_string()));
    }
    get(client, &url, &headers)
        .await
        .map(|mut a| {
            a.body = redact(&a.body, p.key.expose());
            a
        })
        .map_err(|e| redact(&e, p.key.expose()))
}

/// Vertex AI: a token for the service account (the key file, the token endpoint), then the
/// model's own page with it. A refused token answers as a 401 would.
async fn probe_vertex(client: &reqwest::Client, p: &ProviderSettings) -> Result<Answer, String> {
    let account = match crate::providers::google_auth::ServiceAccount::load(std::path::Path::new(
        p.key.expose(),
    )) {
        Ok(a) => a,
        Err(e) => {
            return Ok(Answer {
                status: 401,
                body: e,
                skew_s: None,
            });
        }
    };
    let tokens = crate::providers::google_auth::TokenSource::new(account, client.clone());
    let token = match tokens.token().await {
        Ok(t) => t,
        Err(e) if e.unreachable => return Err(e.message),
        Err(e) => {
            return Ok(Answer {
                status: 401,
                body: e.message,
                skew_s: None,
            });
        }
    };
    let model = p.model.as_deref().unwrap_or(vertex::DEFAULT_MODEL);
    let url = format!("{}/{model}", p.base_url.trim_end_matches('/'));
    get(
        client,
        &url,
        &[("authorization", format!("Bearer {}", token.expose()))],
    )
    .await
}

/// One GET, bounded by the client's timeout; the body as one short, scrubbed line.
async fn get(
    client: &reqwest::Client,
    url: &str,
    headers: &[(&str, String)],
) -> Result<Answer, String> {
    let mut request = client.get(url);
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let sent = SystemTime::now();
    let response = request
        .send()
        .await
        .map_err(|e| crate::text::error_chain(&e))?;
    let received = SystemTime::now();
    let ours = sent + received.duration_since(sent).unwrap_or_default() / 2;
    let skew_s = response
        .headers()
        .get("date")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| httpdate::parse_http_date(v).ok())
        .map(|theirs| match theirs.duration_since(ours) {
            Ok(ahead) => ahead.as_secs_f64(),
            Err(behind) => -behind.duration().as_secs_f64(),
        });
    let status = response.status().as_u16();
    let body = response
        .text()
        .await
        .map_err(|e| crate::text::error_chain(&e))?;
    Ok(Answer {
        status,
        body,
        skew_s,
    })
}

/// A body as one short line for a message, with no registered secret in it.
fn one_line(body: &str) -> String {
    let line = body.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.is_empty() {
        "(empty body)".into()
    } else {
        truncate(&crate::secret::scrub(&line), BODY_CHARS)
    }
}

fn key_check(p: &ProviderSettings, answer: &Result<Answer, String>) -> Check {
    let service = p.service.name();
    let var = p.service.key_var();
    let path = key_path(p.service);
    let thing = format!("{service} key ({var})");
    match answer {
        Ok(a) if a.status == 200 => Check::new(Mark::Pass, thing, format!("accepted (GET {path})")),
        Ok(a) if matches!(a.status, 401 | 403) => Check::new(
            Mark::Fail,
            thing,
            format!(
                "{var} is refused: {service} answered {} to GET {path}: {}; set a valid key in .env.gen_miner",
                a.status,
                one_line(&a.body)
            ),
        ),
        Ok(a) => Check::new(
            Mark::Fail,
            thing,
            format!(
                "{service} answered {} to GET {path}: {}; {}",
                a.status,
                one_line(&a.body),
                status_fix(a.status, p.service)
            ),
        ),
        Err(e) => Check::new(
            Mark::Fail,
            thing,
            format!(
                "{service} could not be reached at {}: {e}; check {} and this machine's network",
                p.base_url,
                p.service.base_url_var()
            ),
        ),
    }
}

fn status_fix(status: u16, service: Service) -> String {
    match status {
        402 => "the account is out of credit: add credit with the provider".into(),
        404 => format!(
            "check {} (default {})",
            service.base_url_var(),
            service.default_base_url()
        ),
        429 => "rate-limited: try again in a minute".into(),
        500..=599 => "a problem on the provider's side: try again later".into(),
        _ => format!("check {} and the key", service.base_url_var()),
    }
}

/// The model the client uses for `modality` when the operator names none.
fn default_model(service: Service, modality: Modality) -> &'static str {
    match (service, modality) {
        (Service::OpenAi, Modality::Image) => openai::DEFAULT_IMAGE_MODEL,
        (Service::OpenAi, Modality::Video) => openai::DEFAULT_VIDEO_MODEL,
        (Service::OpenRouter, Modality::Image) => openrouter::DEFAULT_IMAGE_MODEL,
        (Service::OpenRouter, Modality::Video) => openrouter::DEFAULT_VIDEO_MODEL,
        (Service::StabilityAi, _) => stability::DEFAULT_MODEL,
        (Service::Runway, _) => runway::DEFAULT_MODEL,
        (Service::Google, _) => google::DEFAULT_IMAGE_MODEL,
        (Service::Vertex, _) => vertex::DEFAULT_MODEL,
    }
}

/// The ids of a model list (`{"data": [{"id", …}]}`, or a bare array), each with the
/// modalities it outputs when the list says.
fn ids(body: &str) -> Vec<(String, Option<Vec<String>>)> {
    let value: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    // Google lists `{"models": [{"name": "models/<id>"}]}`.
    if let Some(models) = value.get("models").and_then(|m| m.as_array()) {
        return models
            .iter()
            .filter_map(|m| m.get("name").and_then(|n| n.as_str()))
            .map(|n| (n.trim_start_matches("models/").to_string(), None))
            .collect();
    }
    let items = value
        .get("data")
        .or(Some(&value))
        .and_then(|v| v.as_array())
        .cloned()
        .unwrap_or_default();
    items
        .iter()
        .filter_map(|m| {
            let id = m.get("id").and_then(|v| v.as_str())?.to_string();
            let outputs = m
                .pointer("/architecture/output_modalities")
                .and_then(|v| v.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_string))
                        .collect()
                });
            Some((id, outputs))
        })
        .collect()
}

fn model_check(
    modality: Modality,
    p: &ProviderSettings,
    list: Option<&Result<Answer, String>>,
    listed_models: Option<&[String]>,
) -> Check {
    let service = p.service.name();
    let model = p
        .model
        .clone()
        .unwrap_or_else(|| default_model(p.service, modality).to_string());
    let var = p.service.model_var(modality);
    let thing = format!("{service} {modality} model {model}");
    let retired = |offered: Vec<String>| {
        let shown: Vec<&str> = offered
            .iter()
            .take(ALTERNATIVES)
            .map(String::as_str)
            .collect();
        Check::new(
            Mark::Fail,
            thing.clone(),
            format!(
                "{service} no longer offers {model} for {modality}s; offered: {}; set {var} to one of them",
                if shown.is_empty() {
                    "none".to_string()
                } else {
                    shown.join(", ")
                }
            ),
        )
    };
    match p.service {
        Service::OpenRouter => {
            let path = match modality {
                Modality::Image => "/models",
                Modality::Video => "/videos/models",
            };
            let a = match list {
                Some(Ok(a)) if a.status == 200 => a,
                Some(Ok(a)) => {
                    return Check::new(
                        Mark::Fail,
                        thing,
                        format!(
                            "openrouter answered {} to GET {path}: {}; {}",
                            a.status,
                            one_line(&a.body),
                            status_fix(a.status, p.service)
                        ),
                    );
                }
                Some(Err(e)) => {
                    return Check::new(
                        Mark::Fail,
                        thing,
                        format!(
                            "the model list (GET {path}) could not be read: {e}; check {} and this machine's network",
                            p.service.base_url_var()
                        ),
                    );
                }
                None => {
                    return Check::new(Mark::Skipped, thing, "the model list was not read");
                }
            };
            let word = modality.as_str();
            let listed = ids(&a.body);
            let serves = |outputs: &Option<Vec<String>>| {
                modality == Modality::Video
                    || outputs.as_ref().is_none_or(|o| o.iter().any(|x| x == word))
            };
            match listed
                .iter()
                .find(|(id, _)| id.eq_ignore_ascii_case(&model))
            {
                Some((_, outputs)) if serves(outputs) => Check::new(
                    Mark::Pass,
                    thing,
                    format!("offered, outputs {word}s (GET {path})"),
                ),
                Some(_) => Check::new(
                    Mark::Fail,
                    thing.clone(),
                    format!(
                        "offered, but it does not output {word}s; set {var} to a model that does"
                    ),
                ),
                None => retired(
                    listed
                        .iter()
                        .filter(|(id, outputs)| {
                            serves(outputs)
                                && (modality == Modality::Image
                                    || openrouter::video_model(id).is_some())
                        })
                        .map(|(id, _)| id.clone())
                        .collect(),
                ),
            }
        }
        Service::OpenAi | Service::Google => match listed_models {
            Some(offered) if offered.contains(&model) => {
                Check::new(Mark::Pass, thing, "offered to this key (GET /models)")
            }
            Some(offered) => {
                let prefix = match (p.service, modality) {
                    (Service::Google, _) => "gemini",
                    (_, Modality::Image) => "gpt-image",
                    (_, Modality::Video) => "sora",
                };
                retired(
                    offered
                        .iter()
                        .filter(|id| id.starts_with(prefix))
                        .cloned()
                        .collect(),
                )
            }
            None => Check::new(
                Mark::Skipped,
                thing,
                "the model list needs the key, which was not accepted (above)",
            ),
        },
        Service::Vertex => match listed_models {
            Some(_) => Check::new(
                Mark::Pass,
                thing,
                "Vertex AI answers for it with the service account's token",
            ),
            None => Check::new(
                Mark::Skipped,
                thing,
                "the model needs a token, which was not had (above)",
            ),
        },
        Service::StabilityAi | Service::Runway => Check::new(
            Mark::Skipped,
            thing,
            format!("{service} publishes no model list; the id is in the built-in table"),
        ),
    }
}

/// The chain endpoint, our registration and our axon; skipped with an offline metagraph.
async fn chain_checks(config: &Config, key: &Hotkey) -> Vec<Check> {
    if let Some(file) = &config.metagraph_file {
        return vec![Check::new(
            Mark::Skipped,
            "chain",
            format!(
                "skipped, offline: BT_METAGRAPH_FILE={} (unset it to check the endpoint, the registration and the axon)",
                file.display()
            ),
        )];
    }
    let endpoint = &config.chain_endpoint;
    let thing = format!("chain endpoint {endpoint}");
    let chain = Subtensor::new(endpoint, config.netuid);
    let graph = match tokio::time::timeout(CHAIN_TIMEOUT, chain.read_metagraph()).await {
        Ok(Ok((graph, _))) => graph,
        Ok(Err(e)) => {
            return vec![Check::new(
                Mark::Fail,
                thing,
                format!(
                    "{}; check BT_CHAIN_ENDPOINT and this machine's network",
                    crate::secret::scrub(&e.to_string())
                ),
            )];
        }
        Err(_) => {
            return vec![Check::new(
                Mark::Fail,
                thing,
                format!(
                    "no metagraph within {} s; check BT_CHAIN_ENDPOINT and this machine's network",
                    CHAIN_TIMEOUT.as_secs()
                ),
            )];
        }
    };
    let mut checks = vec![Check::new(
        Mark::Pass,
        thing,
        format!(
            "reachable; subnet {} has {} neurons{}",
            config.netuid,
            graph.len(),
            graph
                .block
                .map(|b| format!(" at block {b}"))
                .unwrap_or_default()
        ),
    )];
    let ss58 = key.ss58();
    let Some(neuron) = graph.neuron(ss58) else {
        checks.push(Check::new(
            Mark::Fail,
            format!("hotkey {ss58}"),
            format!(
                "not registered on subnet {}; register it (btcli subnet register --netuid {} --wallet.name {} --wallet.hotkey {}) or check BT_WALLET_NAME / BT_WALLET_HOTKEY",
                config.netuid, config.netuid, config.wallet_name, config.wallet_hotkey
            ),
        ));
        return checks;
    };
    checks.push(Check::new(
        Mark::Pass,
        format!("hotkey {ss58}"),
        format!("registered on subnet {}, uid {}", config.netuid, neuron.uid),
    ));
    checks.push(axon_check(config, neuron.axon.as_ref()));
    checks
}

fn axon_check(config: &Config, on_chain: Option<&AxonInfo>) -> Check {
    let Some(axon) = on_chain.filter(|a| a.ip != 0) else {
        return Check::new(
            Mark::Fail,
            "axon",
            "none on chain, so validators cannot reach this miner; `gas-miner start` publishes it (set BT_AXON_EXTERNAL_IP to this machine's public address)",
        );
    };
    match config.external_ip {
        Some(ip) => {
            let ours = AxonInfo::ours(ip, config.external_port);
            if axon.same_address(&ours) {
                Check::new(
                    Mark::Pass,
                    "axon",
                    format!("on chain at {axon}, as configured"),
                )
            } else {
                Check::new(
                    Mark::Fail,
                    "axon",
                    format!(
                        "on chain at {axon}, but configured as {ours}; `gas-miner restart` publishes the configured address, or correct BT_AXON_EXTERNAL_IP / BT_AXON_EXTERNAL_PORT"
                    ),
                )
            }
        }
        None if axon.port == config.external_port => Check::new(
            Mark::Pass,
            "axon",
            format!(
                "on chain at {axon} (BT_AXON_EXTERNAL_IP not set: the miner finds its public address at start)"
            ),
        ),
        None => Check::new(
            Mark::Fail,
            "axon",
            format!(
                "on chain at {axon}, but this miner publishes port {}; `gas-miner restart` publishes it, or correct BT_AXON_EXTERNAL_PORT",
                config.external_port
            ),
        ),
    }
}

/// The subnet's API, asked for one day of our standing, signed by our hotkey.
async fn api_check(config: &Config, key: &Hotkey) -> Check {
    let thing = format!("subnet API {}", config.gas_api_url);
    let client = api::client();
    match tokio::time::timeout(
        API_TIMEOUT,
        api::fetch(&client, &config.gas_api_url, key, 1, None),
    )
    .await
    {
        Ok(Ok(_)) => Check::new(Mark::Pass, thing, "reachable; our signature accepted"),
        Ok(Err(e)) => Check::new(Mark::Fail, thing, e.to_string()),
        Err(_) => Check::new(
            Mark::Fail,
            thing,
            format!(
                "no answer within {} s; check GAS_API_URL and this machine's network, then try again",
                API_TIMEOUT.as_secs()
            ),
        ),
    }
}

/// Free space where the state directory is (or will be).
fn disk_check(state_dir: &Path) -> Check {
    let thing = format!("disk space in {}", state_dir.display());
    let Some(existing) = state_dir.ancestors().find(|p| p.exists()) else {
        return Check::new(
            Mark::Fail,
            thing,
            "no part of the path exists; check MINER_STATE_DIR",
        );
    };
    let Some(free) = crate::store::free_bytes(existing) else {
        return Check::new(
            Mark::Fail,
            thing,
            format!(
                "cannot read the free space of {}; check the disk is mounted and readable",
                existing.display()
            ),
        );
    };
    let shown = human_bytes(free);
    if free < NO_DISK {
        Check::new(
            Mark::Fail,
            thing,
            format!(
                "only {shown} free: tasks and media cannot be stored; free space, or set MINER_STATE_DIR to a larger disk"
            ),
        )
    } else if free < LOW_DISK {
        Check::new(
            Mark::Warn,
            thing,
            format!(
                "only {shown} free (less than 1 GiB): videos fill it fast; free space, or shorten MINER_RETENTION_DAYS"
            ),
        )
    } else {
        Check::new(Mark::Pass, thing, format!("{shown} free"))
    }
}

fn human_bytes(n: u64) -> String {
    const GIB: f64 = (1u64 << 30) as f64;
    const MIB: f64 = (1u64 << 20) as f64;
    if n as f64 >= GIB {
        format!("{:.1} GiB", n as f64 / GIB)
    } else {
        format!("{:.0} MiB", n as f64 / MIB)
    }
}

/// This machine's clock against the providers' `Date` headers: the worst one decides.
fn clock_check(skews: &[(String, f64)]) -> Check {
    let Some((source, worst)) = skews.iter().max_by(|a, b| a.1.abs().total_cmp(&b.1.abs())) else {
        return Check::new(
            Mark::Skipped,
            "clock",
            "no provider answered with a Date header to compare against",
        );
    };
    let mut sources: Vec<&str> = Vec::new();
    for (s, _) in skews {
        if !sources.contains(&s.as_str()) {
            sources.push(s);
        }
    }
    if worst.abs() > MAX_SKEW_S {
        Check::new(
            Mark::Fail,
            "clock",
            format!(
                "{:.0} s {} {source}'s clock (its HTTP Date); Epistula allows ±15 s, so every webhook would fail and validators' challenges be refused; enable NTP: `timedatectl set-ntp true`",
                worst.abs(),
                if *worst > 0.0 { "behind" } else { "ahead of" }
            ),
        )
    } else {
        Check::new(
            Mark::Pass,
            "clock",
            format!(
                "within {:.0} s of {} (HTTP Date headers; Epistula allows ±15 s)",
                worst.abs().ceil(),
                sources.join(", ")
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worst_skew_decides_and_names_its_source_and_the_fix() {
        let ok = clock_check(&[("openai".into(), -0.4), ("openrouter".into(), 1.0)]);
        assert_eq!(ok.mark, Mark::Pass, "{}", ok.line());
        let bad = clock_check(&[("openai".into(), -0.4), ("openrouter".into(), 30.2)]);
        assert_eq!(bad.mark, Mark::Fail);
        let line = bad.line();
        assert!(line.contains("30 s behind openrouter's clock"), "{line}");
        assert!(line.contains("timedatectl set-ntp true"), "{line}");
        let ahead = clock_check(&[("runway".into(), -20.0)]);
        assert!(
            ahead.line().contains("20 s ahead of runway's"),
            "{}",
            ahead.line()
        );
        assert_eq!(clock_check(&[]).mark, Mark::Skipped);
    }

    #[test]
    fn model_lists_are_read_with_their_output_modalities() {
        let listed = ids(
            r#"{"data": [{"id": "a/img", "architecture": {"output_modalities": ["image", "text"]}}, {"id": "b/vid"}]}"#,
        );
        assert_eq!(listed.len(), 2);
        assert_eq!(
            listed[0].1.as_deref(),
            Some(&["image".to_string(), "text".to_string()][..])
        );
        assert_eq!(listed[1], ("b/vid".to_string(), None));
        assert!(ids("not json").is_empty());
    }

    #[test]
    fn free_space_reads_the_nearest_existing_directory() {
        let dir = std::env::temp_dir()
            .join("gas-doctor-never-made")
            .join("state");
        let c = disk_check(&dir);
        assert_ne!(c.mark, Mark::Fail, "{}", c.line());
        assert_eq!(human_bytes(3 << 30), "3.0 GiB");
        assert_eq!(human_bytes(512 << 20), "512 MiB");
    }
}
