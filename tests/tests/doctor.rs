//! `gas-miner doctor` through the real binary against the fakes: every check green (offline,
//! and with the fake subtensor node when the finney metadata is there) → exit 0; then each
//! failure on its own line with its fix and exit 1: a key the provider refuses (the variable
//! named), a retired model id (named, with the offered alternatives), a chain endpoint nobody
//! answers at, and a clock 30 s off the providers' `Date` headers; a configuration that does
//! not resolve exits 2 before any call. No key or mnemonic is ever printed.

use gas_miner::identity::Hotkey;
use gas_tests::fakes::gasapi::FakeGasApi;
use gas_tests::subtensor::{FakeNeuron, FakeSubtensor, finney_metadata};
use gas_tests::{
    ALL_KEYS, FakeProviders, Fixture, MINER_PHRASE, VALIDATOR_PHRASE, free_port, key, miner_bin,
};
use std::process::{Command, Stdio};
use std::time::Duration;

const EXTERNAL_IP: &str = "203.0.113.9";
const WRONG_KEY: &str = "sk-or-not-the-right-key";

/// What one run said.
struct Said {
    code: i32,
    out: String,
    err: String,
}

impl Said {
    /// The lines that report a failed check.
    fn failures(&self) -> Vec<&str> {
        self.out.lines().filter(|l| l.starts_with('✗')).collect()
    }

    fn line(&self, start: &str) -> &str {
        self.out
            .lines()
            .find(|l| l.starts_with(start))
            .unwrap_or_else(|| panic!("no line starts with {start:?}: {self:?}"))
    }
}

impl std::fmt::Debug for Said {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.out, self.err
        )
    }
}

/// The fakes and a miner's home using every service: images from OpenRouter, OpenAI,
/// Stability AI and Google, videos from OpenRouter, Runway and OpenAI; the subnet's API is a fake too.
async fn world() -> (FakeProviders, FakeGasApi, Fixture) {
    let providers = FakeProviders::start().await;
    let api = FakeGasApi::start(key(MINER_PHRASE).ss58());
    let mut fixture = Fixture::new(&providers);
    fixture.set("IMAGE_SERVICE", "openrouter,openai,stabilityai,google");
    fixture.set("VIDEO_SERVICE", "openrouter,runway,openai,vertex");
    fixture.set("GAS_API_URL", &api.url());
    (providers, api, fixture)
}

/// Runs `gas-miner doctor` with the fixture's settings; fails the test if a secret shows.
async fn doctor(fixture: &Fixture) -> Said {
    let env = fixture.env.clone();
    let home = fixture.dir.path().to_path_buf();
    let said = tokio::task::spawn_blocking(move || {
        let out = Command::new(miner_bin())
            .arg("doctor")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", &home)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .current_dir(&home)
            .stdin(Stdio::null())
            .output()
            .expect("gas-miner runs");
        Said {
            code: out.status.code().unwrap_or(-1),
            out: String::from_utf8_lossy(&out.stdout).into_owned(),
            err: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    })
    .await
    .expect("doctor ran");
    println!("{said:?}");
    let all = format!("{}{}", said.out, said.err);
    for secret in ALL_KEYS.iter().chain(&[MINER_PHRASE, WRONG_KEY]) {
        assert!(!all.contains(secret), "a secret was printed: {said:?}");
    }
    said
}

fn assert_green(said: &Said) {
    assert_eq!(said.code, 0, "{said:?}");
    assert!(said.failures().is_empty(), "{said:?}");
    for line in [
        "✓ openai key (OPENAI_API_KEY): accepted (GET /models)",
        "✓ openrouter key (OPEN_ROUTER_API_KEY): accepted (GET /key)",
        "✓ stabilityai key (STABILITY_API_KEY): accepted (GET /v1/user/balance)",
        "✓ runway key (RUNWAYML_API_KEY): accepted (GET /v1/organization)",
        "✓ google key (GEMINI_API_KEY): accepted (GET /models)",
        "✓ google image model gemini-3-pro-image: offered to this key (GET /models)",
        "✓ vertex key (GOOGLE_APPLICATION_CREDENTIALS): accepted (GET /<model> with a token for the service account)",
        "✓ vertex video model veo-3.1-lite-generate-001: Vertex AI answers for it with the service account's token",
        "✓ openrouter image model google/gemini-3-pro-image-preview: offered, outputs images (GET /models)",
        "✓ openrouter video model google/veo-3.1-lite: offered, outputs videos (GET /videos/models)",
        "✓ openai image model gpt-image-1.5: offered to this key (GET /models)",
        "✓ openai video model sora-2: offered to this key (GET /models)",
        "– stabilityai image model sd3.5-medium: stabilityai publishes no model list",
        "– runway video model veo3.1_fast: runway publishes no model list",
        "✓ trust anchors: 1 anchors read from",
        "✓ subnet API http://127.0.0.1:",
        "ready: every check passed",
    ] {
        assert!(
            said.out.lines().any(|l| l.starts_with(line)),
            "{line:?} missing: {said:?}"
        );
    }
    let clock = said.line("✓ clock: within ");
    for source in ["openai", "openrouter", "stabilityai", "runway"] {
        assert!(clock.contains(source), "{clock}");
    }
    assert!(
        said.out
            .lines()
            .any(|l| l.starts_with("✓ disk space in ") || l.starts_with("! disk space in "))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn every_check_passes_against_the_fakes_offline() {
    let (_providers, api, fixture) = world().await;
    let said = doctor(&fixture).await;
    assert_green(&said);
    assert!(
        said.line("– chain: ")
            .contains("skipped, offline: BT_METAGRAPH_FILE="),
        "{said:?}"
    );
    let asked = api.asked();
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert_eq!(asked[0].refused, "", "our signature passed");
}

#[tokio::test(flavor = "multi_thread")]
async fn every_check_passes_with_the_chain() {
    let Some(metadata) = finney_metadata() else {
        println!("SKIPPED: ../shared/chain/finney.scale not found (set GAS_SHARED_DIR)");
        return;
    };
    let (_providers, _api, mut fixture) = world().await;
    let port = fixture.port;
    let ip = u128::from(u32::from(
        EXTERNAL_IP.parse::<std::net::Ipv4Addr>().expect("ip"),
    ));
    let neuron = |uid: u16, who: &Hotkey, permit: bool, axon| FakeNeuron {
        uid,
        hotkey: who.public_key(),
        stake_rao: if permit { 50_000_000_000_000 } else { 0 },
        validator_permit: permit,
        axon,
    };
    let node = FakeSubtensor::start(
        &metadata,
        34,
        vec![
            neuron(
                0,
                &key(VALIDATOR_PHRASE),
                true,
                Some((0x0a00_0001, 10525, 10)),
            ),
            neuron(1, &key(MINER_PHRASE), false, Some((ip, port, 5))),
        ],
    )
    .await;
    fixture.unset("BT_METAGRAPH_FILE");
    fixture.set("BT_CHAIN_ENDPOINT", &node.url());
    fixture.set("BT_NETUID", "34");
    fixture.set("BT_AXON_EXTERNAL_IP", EXTERNAL_IP);
    let said = doctor(&fixture).await;
    assert_green(&said);
    assert!(
        said.line("✓ chain endpoint ws://")
            .contains("reachable; subnet 34 has 2 neurons"),
        "{said:?}"
    );
    assert!(
        said.line("✓ hotkey ")
            .contains("registered on subnet 34, uid 1"),
        "{said:?}"
    );
    assert_eq!(
        said.line("✓ axon: "),
        format!("✓ axon: on chain at {EXTERNAL_IP}:{port}, as configured")
    );

    // The axon moved on chain: named with the fix.
    fixture.set("BT_AXON_EXTERNAL_IP", "203.0.113.10");
    let said = doctor(&fixture).await;
    assert_eq!(said.code, 1, "{said:?}");
    let axon = said.line("✗ axon: ");
    assert!(
        axon.contains(&format!(
            "on chain at {EXTERNAL_IP}:{port}, but configured as 203.0.113.10:{port}"
        )) && axon.contains("gas-miner restart"),
        "{said:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_key_names_its_variable_and_the_fix() {
    let (_providers, _api, mut fixture) = world().await;
    fixture.set("OPEN_ROUTER_API_KEY", WRONG_KEY);
    let said = doctor(&fixture).await;
    assert_eq!(said.code, 1, "{said:?}");
    let failures = said.failures();
    assert_eq!(failures.len(), 1, "only the key fails: {said:?}");
    assert_eq!(
        failures[0],
        "✗ openrouter key (OPEN_ROUTER_API_KEY): OPEN_ROUTER_API_KEY is refused: openrouter answered 401 to GET /key: {\"error\":{\"code\":401,\"message\":\"No auth credentials found\"}}; set a valid key in .env.gen_miner"
    );
    assert!(said.out.contains("not ready: 1 of "), "{said:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_retired_model_is_named_with_the_alternatives() {
    let (providers, _api, fixture) = world().await;
    providers.retire_model("google/gemini-3-pro-image-preview");
    providers.retire_model("sora-2");
    providers.retire_model("gemini-3-pro-image");
    let said = doctor(&fixture).await;
    assert_eq!(said.code, 1, "{said:?}");
    let failures = said.failures();
    assert_eq!(failures.len(), 3, "{said:?}");
    assert_eq!(
        said.line("✗ google image model"),
        "✗ google image model gemini-3-pro-image: google no longer offers gemini-3-pro-image for images; offered: gemini-3.1-flash-image; set GOOGLE_IMAGE_MODEL to one of them"
    );
    assert_eq!(
        said.line("✗ openrouter image model"),
        "✗ openrouter image model google/gemini-3-pro-image-preview: openrouter no longer offers google/gemini-3-pro-image-preview for images; offered: google/gemini-3-pro-image, google/gemini-3.1-flash-image, openai/gpt-5-image; set OPEN_ROUTER_IMAGE_MODEL to one of them"
    );
    assert_eq!(
        said.line("✗ openai video model"),
        "✗ openai video model sora-2: openai no longer offers sora-2 for videos; offered: sora-2-pro; set OPENAI_VIDEO_MODEL to one of them"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_chain_endpoint_fails_with_the_fix() {
    let (_providers, _api, mut fixture) = world().await;
    let endpoint = format!("ws://127.0.0.1:{}", free_port());
    fixture.unset("BT_METAGRAPH_FILE");
    fixture.set("BT_CHAIN_ENDPOINT", &endpoint);
    let said = doctor(&fixture).await;
    assert_eq!(said.code, 1, "{said:?}");
    let failures = said.failures();
    assert_eq!(failures.len(), 1, "{said:?}");
    let line = failures[0];
    assert!(
        line.starts_with(&format!("✗ chain endpoint {endpoint}: "))
            && line.contains("cannot connect to")
            && line.ends_with("check BT_CHAIN_ENDPOINT and this machine's network"),
        "{said:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_clock_30_s_off_fails_with_the_ntp_fix() {
    let (providers, _api, fixture) = world().await;
    providers.set_clock_skew(Duration::from_secs(30));
    let said = doctor(&fixture).await;
    assert_eq!(said.code, 1, "{said:?}");
    let failures = said.failures();
    assert_eq!(failures.len(), 1, "only the clock fails: {said:?}");
    let line = failures[0];
    assert!(
        line.starts_with("✗ clock: ")
            && (line.contains("30 s behind") || line.contains("29 s behind"))
            && line.contains("Epistula allows ±15 s, so every webhook would fail")
            && line.ends_with("enable NTP: `timedatectl set-ntp true`"),
        "{said:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_configuration_that_does_not_resolve_exits_2_before_any_call() {
    let (providers, _api, mut fixture) = world().await;
    fixture.set("VIDEO_SERVICE", "stabilityai");
    let said = doctor(&fixture).await;
    assert_eq!(said.code, 2, "{said:?}");
    assert!(
        said.err
            .contains("VIDEO_SERVICE=stabilityai: stabilityai cannot make videos"),
        "{said:?}"
    );
    assert!(said.out.is_empty(), "no check ran: {said:?}");
    assert!(
        providers
            .seen(gas_tests::Api::OpenRouterImage, None)
            .is_empty(),
        "nothing was asked"
    );
}
