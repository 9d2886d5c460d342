//! `gas-miner perf` through the real binary against a fake of the subnet's API
//! (`fakes::gasapi`), which checks the Epistula signature as the server does: today's reply
//! (gate words, fool rates, each validator's pass rate), `--json` passing the body on byte
//! for byte, the older reply without `history`, an error status, a slow answer, a body that
//! is not JSON, a hotkey the API refuses, and a lookback out of range, refused before any
//! request. The chain and the estimate come from a running miner's admin socket, faked here
//! by a Unix socket that answers `/standing`. No secret appears in any output.

use gas_miner::identity::write_plain_hotkey;
use gas_shared::Modality;
use gas_shared::standing::{ChainStanding, Estimate, ModalityEstimate, StandingView};
use gas_tests::fakes::gasapi::{FakeGasApi, Mode, REFUSED_BODY, STATUS_BODY};
use gas_tests::{
    MINER_PHRASE, OPEN_ROUTER_KEY, OUTSIDER_PHRASE, Said, VALIDATOR_PHRASE, key, miner_bin,
};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// An operator's home: the miner's wallet and the settings `perf` needs, pointed at `api`.
struct Home {
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
}

impl Home {
    fn new(api: &FakeGasApi) -> Home {
        let dir = tempfile::tempdir().expect("tempdir");
        let wallets = dir.path().join("wallets");
        write_plain_hotkey(&wallets, "miner", "default", MINER_PHRASE).expect("wallet");
        let p = |x: &Path| x.display().to_string();
        let env = [
            ("BT_WALLET_PATH", p(&wallets)),
            ("BT_WALLET_NAME", "miner".into()),
            ("BT_WALLET_HOTKEY", "default".into()),
            ("MINER_STATE_DIR", p(&dir.path().join("state"))),
            ("IMAGE_SERVICE", "openrouter".into()),
            ("VIDEO_SERVICE", "none".into()),
            ("OPEN_ROUTER_API_KEY", OPEN_ROUTER_KEY.into()),
            ("GAS_API_URL", api.url()),
        ];
        Home {
            env: env.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
            dir,
        }
    }

    fn set(&mut self, name: &str, value: &str) {
        self.env.retain(|(k, _)| k != name);
        self.env.push((name.into(), value.into()));
    }

    fn gas(&self, args: &[&str]) -> Said {
        let out = Command::new(miner_bin())
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .output()
            .expect("gas-miner runs");
        let said = Said::of(&out);
        for secret in [MINER_PHRASE, OPEN_ROUTER_KEY] {
            assert!(
                !said.all().contains(secret),
                "a secret was printed: {said:?}"
            );
        }
        said
    }
}

fn miner_ss58() -> String {
    key(MINER_PHRASE).ss58().to_string()
}

#[test]
fn todays_reply_shows_the_gates_the_fool_rates_and_each_validator() {
    let api = FakeGasApi::start(&miner_ss58());
    let validator = key(VALIDATOR_PHRASE).ss58().to_string();
    api.set_validators(&[&validator]);
    let said = Home::new(&api).gas(&["perf"]);
    assert_eq!(said.code, 0, "{said:?}");
    let out = &said.out;
    for part in [
        "Fool-rate eligible",
        "Below threshold",
        "(gate: fool rate >2.0% and 20 evaluations minimum)",
        "3.1% (5 fooled), above 2.0%",
        "0.8% (1 fooled), not above 1.0%",
        "160, minimum 20: enough",
    ] {
        assert!(out.contains(part), "{part:?} missing: {said:?}");
    }
    assert!(
        out.lines()
            .any(|l| l.contains(&validator) && l.contains("pass rate 90.0%")),
        "the validator's pass rate: {said:?}"
    );
    assert!(out.contains("verified 90"), "{said:?}");
    assert!(out.contains('█') && out.contains("7-day trend"), "{said:?}");
    assert!(out.contains(&miner_ss58()), "names our hotkey: {said:?}");
    assert!(
        out.contains("chain view and estimate: the miner is not running ("),
        "{said:?}"
    );
    let asked = api.asked();
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert_eq!(asked[0].query, "lookback_days=7");
    assert_eq!(asked[0].refused, "", "the signature passed");
}

#[test]
fn json_is_the_apis_body_byte_for_byte() {
    let api = FakeGasApi::start(&miner_ss58());
    let said = Home::new(&api).gas(&[
        "perf",
        "--json",
        "--lookback-days",
        "30",
        "--modality",
        "video",
    ]);
    assert_eq!(said.code, 0, "{said:?}");
    let body = api.last_body().expect("a request");
    assert!(
        body.contains("\"as_of\": "),
        "the fake writes as Python does"
    );
    assert_eq!(said.out, body);
    assert_eq!(api.asked()[0].query, "lookback_days=30&modality=video");
}

#[test]
fn the_older_reply_says_history_unavailable_and_still_shows_verification() {
    let api = FakeGasApi::start(&miner_ss58());
    api.set_mode(Mode::Old);
    let said = Home::new(&api).gas(&["perf", "--modality", "image"]);
    assert_eq!(said.code, 0, "{said:?}");
    assert!(
        said.out.contains("history unavailable (older API)"),
        "{said:?}"
    );
    assert!(said.out.contains("pass rate 75.0%"), "aggregate: {said:?}");
    assert!(
        said.out.contains("pass rate 90.0%"),
        "per validator: {said:?}"
    );
    assert!(said.out.contains("verified 120"), "{said:?}");
    assert!(!said.out.contains("Fool-rate eligible"), "{said:?}");
    assert_eq!(api.asked()[0].query, "lookback_days=7&modality=image");
}

#[test]
fn an_error_status_exits_1_naming_the_status_and_the_body() {
    let api = FakeGasApi::start(&miner_ss58());
    api.set_mode(Mode::Status(500));
    let said = Home::new(&api).gas(&["perf"]);
    assert_eq!(said.code, 1, "{said:?}");
    assert!(said.err.contains("answered 500"), "{said:?}");
    assert!(said.err.contains(STATUS_BODY), "{said:?}");
    assert!(said.err.contains("try again"), "the fix: {said:?}");
}

#[test]
fn a_slow_answer_is_waited_for() {
    let api = FakeGasApi::start(&miner_ss58());
    api.set_mode(Mode::Slow(Duration::from_secs(3)));
    let started = Instant::now();
    let said = Home::new(&api).gas(&["perf"]);
    assert_eq!(said.code, 0, "{said:?}");
    assert!(started.elapsed() >= Duration::from_secs(3));
    assert!(said.out.contains("Fool-rate eligible"), "{said:?}");
}

#[test]
fn a_body_that_is_not_json_exits_1_and_says_so() {
    let api = FakeGasApi::start(&miner_ss58());
    api.set_mode(Mode::InvalidJson);
    let said = Home::new(&api).gas(&["perf"]);
    assert_eq!(said.code, 1, "{said:?}");
    assert!(said.err.contains("not with valid JSON"), "{said:?}");
    assert!(
        said.err.contains("it starts: {\"verification\""),
        "{said:?}"
    );
    let said = Home::new(&api).gas(&["perf", "--json"]);
    assert_eq!(said.code, 1, "{said:?}");
    assert_eq!(said.out, "", "nothing half-printed: {said:?}");
}

#[test]
fn a_refused_signature_is_a_key_problem_not_missing_data() {
    let api = FakeGasApi::start(key(OUTSIDER_PHRASE).ss58());
    let said = Home::new(&api).gas(&["perf"]);
    assert_eq!(said.code, 1, "{said:?}");
    let all = said.all();
    assert!(all.contains("refused our hotkey's signature"), "{said:?}");
    assert!(all.contains("401"), "{said:?}");
    assert!(all.contains(REFUSED_BODY), "{said:?}");
    assert!(all.contains(&miner_ss58()), "names the hotkey: {said:?}");
    assert!(all.contains("clock"), "{said:?}");
    assert!(!all.to_lowercase().contains("no data"), "{said:?}");
    assert!(!all.contains("No recent data"), "{said:?}");
    assert_ne!(api.asked()[0].refused, "");
}

#[test]
fn a_lookback_out_of_range_is_refused_before_asking() {
    let api = FakeGasApi::start(&miner_ss58());
    let home = Home::new(&api);
    for days in ["0", "91"] {
        let said = home.gas(&["perf", "--lookback-days", days]);
        assert_eq!(said.code, 2, "{said:?}");
        assert!(said.err.contains("--lookback-days"), "{said:?}");
        assert!(said.err.contains("1 to 90"), "{said:?}");
    }
    let said = home.gas(&["perf", "--modality", "audio"]);
    assert_eq!(said.code, 2, "{said:?}");
    assert!(api.asked().is_empty(), "{:?}", api.asked());
}

#[test]
fn a_network_failure_names_the_url_and_the_cause() {
    let api = FakeGasApi::start(&miner_ss58());
    let mut home = Home::new(&api);
    let dead = format!("http://127.0.0.1:{}", gas_tests::free_port());
    home.set("GAS_API_URL", &dead);
    let said = home.gas(&["perf"]);
    assert_eq!(said.code, 1, "{said:?}");
    assert!(said.err.contains(&dead), "{said:?}");
    assert!(said.err.contains("could not be reached"), "{said:?}");
}

/// A running miner's admin socket that answers every request with `view`.
fn standing_socket(path: PathBuf, view: &StandingView) -> std::thread::JoinHandle<()> {
    let body = serde_json::to_vec(view).expect("json");
    let listener = std::os::unix::net::UnixListener::bind(&path).expect("bind socket");
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut request = Vec::new();
            let mut buf = [0u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            let (status, answer) = if request.starts_with(b"GET /standing ") {
                ("200 OK", body.clone())
            } else {
                ("404 Not Found", b"{\"error\":\"no such path\"}".to_vec())
            };
            let head = format!(
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                answer.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&answer);
        }
    })
}

#[test]
fn a_running_miner_adds_the_chain_and_the_estimate() {
    let api = FakeGasApi::start(&miner_ss58());
    let mut home = Home::new(&api);
    let socket = home.dir.path().join("admin.sock");
    let view = StandingView {
        now_ms: 0,
        chain: ChainStanding {
            available: true,
            block: Some(4_200_000),
            uid: Some(2),
            incentive: Some(0.001234),
            emission_alpha: Some(0.05),
            positive: 3,
            permitted: 5,
            ..Default::default()
        },
        estimate: Estimate {
            window_hours: 24,
            modalities: vec![ModalityEstimate {
                modality: Some(Modality::Image),
                verified: 90,
                failed: 10,
                from_validators: 100,
                p: Some(0.9),
                n: 100,
                multiplier: 1.0,
                base: 0.81,
                qualified: Some(true),
                weight: 0.3,
                ..Default::default()
            }],
            r: Some(0.243),
            r_ungated: 0.243,
            ..Default::default()
        },
        ..Default::default()
    };
    let _server = standing_socket(socket.clone(), &view);
    home.set("GAS_ADMIN_SOCKET", &socket.display().to_string());
    let said = home.gas(&["perf"]);
    assert_eq!(said.code, 0, "{said:?}");
    assert!(said.out.contains("incentive 0.001234"), "{said:?}");
    assert!(said.out.contains("block 4200000"), "{said:?}");
    assert!(said.out.contains("3 of 5 permitted validators"), "{said:?}");
    assert!(said.out.contains("estimate"), "{said:?}");
    assert!(said.out.contains("R estimate 0.2430"), "{said:?}");
    assert!(!said.out.contains("not running"), "{said:?}");
}

/// The fake checks what the server checks, so a miner that signed wrongly fails here too.
#[tokio::test]
async fn the_fake_refuses_what_the_server_refuses() {
    use gas_miner::epistula::{sha256_hex, sign_headers};
    gas_tests::install_crypto();
    let miner = key(MINER_PHRASE);
    let api = FakeGasApi::start(miner.ss58());
    let url = format!(
        "{}{}?lookback_days=7",
        api.url(),
        gas_tests::fakes::gasapi::PATH
    );
    let client = reqwest::Client::new();
    let send = |headers: Vec<(&'static str, String)>| {
        let mut request = client.get(&url);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        async move {
            let response = request.send().await.expect("answer");
            (
                response.status().as_u16(),
                response.text().await.expect("body"),
            )
        }
    };
    let now = gas_miner::clock::now_ms();
    let empty = sha256_hex(b"");
    assert_eq!(send(sign_headers(&miner, &empty, None, now)).await.0, 200);
    let cases = [
        (
            sign_headers(&miner, &empty, Some(miner.ss58()), now),
            "Signed-For",
        ),
        (
            sign_headers(&miner, &sha256_hex(b"x"), None, now),
            "Signature Mismatch",
        ),
        (
            sign_headers(&miner, &empty, None, now - 60_000),
            "timestamp",
        ),
        (
            sign_headers(&key(OUTSIDER_PHRASE), &empty, None, now),
            "is not the miner hotkey",
        ),
    ];
    for (headers, why) in cases {
        let (status, body) = send(headers).await;
        assert_eq!(status, 401, "{why}: {body}");
        assert!(
            body.starts_with(REFUSED_BODY) && body.contains(why),
            "{body}"
        );
    }
    let asked = api.asked();
    assert_eq!(asked.len(), 5);
    assert!(asked[0].refused.is_empty());
    assert!(asked[1..].iter().all(|a| a.status == 401));
}
