//! The settings as an operator gives them: the reference's `.env.gen_miner` variable names,
//! each also a clap flag (a flag wins over the environment, the environment over the file).
//! Values stay strings here so that every bad one can be reported at once (`resolve`).

use clap::Args;

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
    /// Google's Gemini API key (the `google` image service)
    #[arg(long, env = "GEMINI_API_KEY", hide_env_values = true)]
    pub gemini_api_key: Option<String>,
    /// The `google` service's image model: gemini-3-pro-image (default) or gemini-3.1-flash-image
    #[arg(long, env = "GOOGLE_IMAGE_MODEL")]
    pub google_image_model: Option<String>,
    #[arg(long, env = "GEMINI_BASE_URL")]
    pub gemini_base_url: Option<String>,
    /// The service account's JSON key file (the `vertex` video service: Veo on Vertex AI)
    #[arg(long, env = "GOOGLE_APPLICATION_CREDENTIALS")]
    pub google_application_credentials: Option<String>,
    /// The Google Cloud project that runs Vertex AI (default: the key file's project_id)
    #[arg(long, env = "GOOGLE_CLOUD_PROJECT")]
    pub google_cloud_project: Option<String>,
    /// Vertex AI's region (default us-central1)
    #[arg(long, env = "GOOGLE_CLOUD_LOCATION")]
    pub google_cloud_location: Option<String>,
    /// The `vertex` service's model: veo-3.1-lite-generate-001 (default), veo-3.1-fast-generate-001 or veo-3.1-generate-001
    #[arg(long, env = "VERTEX_VIDEO_MODEL")]
    pub vertex_video_model: Option<String>,
    #[arg(long, env = "VERTEX_BASE_URL")]
    pub vertex_base_url: Option<String>,
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
    /// Seconds a provider whose breaker opened (outage, refused key, no credit) is skipped before one probe; doubles up to 600 (default 30)
    #[arg(long, env = "MINER_BREAKER_PAUSE")]
    pub breaker_pause: Option<String>,
    /// Seconds: refuse (503) a challenge whose expected wait (queue ahead ÷ last hour's throughput + provider p95) is longer; 0 turns the check off (default 1800)
    #[arg(long, env = "MINER_ADMISSION_MAX_WAIT")]
    pub admission_max_wait: Option<String>,
    /// Tasks of one modality queued or generating at most: a challenge beyond is refused (503, reason queue_full) whatever the wait check says (default 2000)
    #[arg(long, env = "MINER_QUEUE_MAX")]
    pub queue_max: Option<String>,
    /// US$ the miner may spend on provider calls over any 24 hours, all modalities (estimated list prices; default no limit)
    #[arg(long, env = "MINER_BUDGET_USD_PER_DAY")]
    pub budget_usd_per_day: Option<String>,
    /// US$ per rolling 24 hours for image calls (default no limit)
    #[arg(long, env = "MINER_BUDGET_USD_PER_DAY_IMAGE")]
    pub budget_usd_per_day_image: Option<String>,
    /// US$ per rolling 24 hours for video calls (default no limit)
    #[arg(long, env = "MINER_BUDGET_USD_PER_DAY_VIDEO")]
    pub budget_usd_per_day_video: Option<String>,
    /// A price table overriding the built-in list prices, row by row (format: .env.gen_miner.example; `gas-miner info` prints the table in force)
    #[arg(long, env = "MINER_PRICES_FILE")]
    pub prices_file: Option<String>,
    /// Yes: a result that measured below the asked tier is made once more by the next provider whose plan reaches it, and the better one delivered (default no)
    #[arg(long, env = "MINER_TIER_RETRY")]
    pub tier_retry: Option<String>,
    /// Where MINER_SAVE_LOCALLY copies media (default ./miner_generated_content)
    #[arg(long, env = "MINER_OUTPUT_DIR")]
    pub output_dir: Option<String>,
    /// Database, media and admin socket (default ~/.local/share/gas-miner)
    #[arg(long, env = "MINER_STATE_DIR")]
    pub state_dir: Option<String>,
    /// MiB of the database's page cache (default 32; sled's own default, 1 GiB, grows with what is stored)
    #[arg(long, env = "MINER_DB_CACHE_MB")]
    pub db_cache_mb: Option<String>,
    /// This miner's name on the box: its tmux session (gas-miner-NAME), `--name` in the other commands, the console's fleet (default WALLET-HOTKEY)
    #[arg(long, env = "MINER_NAME")]
    pub name: Option<String>,
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
    /// The subnet's API, where validators' verdicts and the fool-rate gate are read (default https://gas.bitmind.ai)
    #[arg(long, env = "GAS_API_URL")]
    pub gas_api_url: Option<String>,
    /// Seconds between reads of our standing from the subnet's API (default 900; 0 = never)
    #[arg(long, env = "MINER_STANDING_POLL")]
    pub standing_poll: Option<String>,
    /// `gas-miner demo` brings its own studios: no service needs configuring.
    #[arg(skip)]
    pub demo: bool,
}
