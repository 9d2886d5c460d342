//! Spend budgets and the price table, through the real `gas-miner` binary: spend is the
//! estimated cost of the stored call records over a rolling 24 hours, per modality; at the
//! limit no paid call is made and challenges get 503 with the reason, across a restart; the
//! operator sees it in `/status`, `gas-miner status`, `/metrics`, the log and the console.
//! A bad budget or prices file stops the start, naming the line; `gas-miner info` prints the
//! table in force.

use gas_shared::admin::Status;
use gas_tests::*;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(40);
/// The built-in price of one Gemini 3 image below 4K (the fake OpenRouter's default model).
const GEMINI_1K: f64 = 0.134;

async fn challenge(r: &Rig, prompt: &str) -> (u16, Value) {
    let body = json!({"prompt": prompt, "parameters": {"resolution": "1K"}});
    r.v.challenge("/gen_image", &body, &r.validator.url()).await
}

/// Accepts one challenge and waits for its webhook (its call's cost is recorded before).
async fn delivered(r: &Rig, prompt: &str) {
    let (code, reply) = challenge(r, prompt).await;
    assert_eq!(code, 201, "{reply}\n{}", r.miner.log());
    let id = reply["task_id"].as_str().expect("task_id").to_string();
    r.validator
        .wait_for(WAIT, "the webhook", |h| h.iter().any(|w| w.task_id == id))
        .await;
}

fn image_line(s: &Status) -> gas_shared::admin::BudgetLine {
    s.budget
        .iter()
        .find(|b| b.scope == "image")
        .cloned()
        .expect("an image budget line")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_budget_reached_refuses_the_modality_and_stops_paid_calls_across_a_restart() {
    let mut r = Rig::start(&[("MINER_BUDGET_USD_PER_DAY_IMAGE", "0.30")]).await;
    // Two images fit: 0.134 spent, then 0.268 (89 %: the warning).
    delivered(&r, "a heron at dawn").await;
    delivered(&r, "a heron at dusk").await;
    let paid = r
        .providers
        .seen(Api::OpenRouterImage, Some("generate"))
        .len();
    assert_eq!(paid, 2);
    let s = r.fixture.status().await;
    let line = image_line(&s);
    assert!((line.spent_usd - 2.0 * GEMINI_1K).abs() < 1e-6, "{line:?}");
    assert_eq!(line.limit_usd, Some(0.30));

    // A third would pass the limit: refused before the 201, with the reason.
    let (code, reply) = challenge(&r, "a heron at noon").await;
    assert_eq!(code, 503, "{reply}");
    let why = reply["error"].as_str().expect("a JSON reason");
    assert!(
        why.contains("over budget for modality=image")
            && why.contains("MINER_BUDGET_USD_PER_DAY_IMAGE=0.30"),
        "{why}"
    );
    let s = r.fixture.status().await;
    assert_eq!(s.refusals.day, vec![("budget".to_string(), 1)]);
    assert_eq!(
        r.providers
            .seen(Api::OpenRouterImage, Some("generate"))
            .len(),
        paid,
        "no paid call for the refused challenge"
    );

    // Where the operator looks: the log (the 80 % warning once), /metrics, `gas-miner status`.
    let log = r.miner.log();
    assert_eq!(
        log.matches("image spend is at 89% of MINER_BUDGET_USD_PER_DAY_IMAGE")
            .count(),
        1,
        "{log}"
    );
    let (_, metrics) = gas_client::request(&r.fixture.socket(), "GET", "/metrics", None)
        .await
        .expect("metrics");
    let metrics = String::from_utf8_lossy(&metrics);
    assert!(
        metrics.contains("gas_spend_usd_24h{scope=\"image\"} 0.268")
            && metrics.contains("gas_budget_usd_24h{scope=\"image\"} 0.3")
            && metrics.contains("gas_challenges_refused_by_reason_total{reason=\"budget\"} 1"),
        "{metrics}"
    );
    let (_, text) = r.fixture.cli(&["status"]);
    assert!(
        text.contains("image 0.27 of 0.30 US$")
            && text.contains("WARNING   image spend is 89% of MINER_BUDGET_USD_PER_DAY_IMAGE"),
        "{text}"
    );

    // The console says it on its message line, and counts the refusal in the Rates box.
    if tmux_or_skip() {
        let tmux = Tmux::start_sized(
            &format!(
                "{} --socket {}",
                console_bin().display(),
                r.fixture.socket().display()
            ),
            140,
            36,
        );
        let pane = tmux
            .wait_for("the budget alert", |p| {
                p.contains("image budget 89%: $0.27 of $0.30 in 24h (est.); 503 once the next would pass it (MINER_BUDGET_USD_PER_DAY_IMAGE)")
            })
            .await;
        assert!(pane.contains("$0.27/$0.30 image"), "{pane}");
        assert!(pane.contains("refused  1 1h  1 24h"), "{pane}");
    }

    // kill -9 and start again: the day's spend is still counted, the limit still holds.
    // (Statistics are written behind and committed every half second; a 503 has no
    // durability to wait for.)
    tokio::time::sleep(Duration::from_millis(1500)).await;
    r.miner.kill9();
    r.miner = r.fixture.start();
    let s = r.fixture.status().await;
    assert!(
        (image_line(&s).spent_usd - 2.0 * GEMINI_1K).abs() < 1e-6,
        "{:?}",
        s.budget
    );
    let (code, reply) = challenge(&r, "a heron at midnight").await;
    assert_eq!(code, 503, "{reply}");
    assert_eq!(
        r.providers
            .seen(Api::OpenRouterImage, Some("generate"))
            .len(),
        paid,
        "no paid call after the restart"
    );

    // The console's drill-downs, as it asks for them: the validator's refusals (a 503 leaves
    // no task) and the provider's calls with their costs, both kept across the kill -9.
    let (cmd_tx, cmd_rx) = tokio::sync::mpsc::unbounded_channel();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(gas_console::net::serve_commands(
        r.fixture.socket(),
        cmd_rx,
        tx,
    ));
    let hotkey = key(VALIDATOR_PHRASE).ss58().to_string();
    cmd_tx
        .send(gas_console::net::Command::LoadRefusals(hotkey.clone()))
        .expect("send");
    cmd_tx
        .send(gas_console::net::Command::LoadCalls("openrouter".into()))
        .expect("send");
    let mut seen = (None, None);
    while seen.0.is_none() || seen.1.is_none() {
        match tokio::time::timeout(WAIT, rx.recv()).await {
            Ok(Some(gas_console::net::NetEvent::Refusals(who, list))) => seen.0 = Some((who, list)),
            Ok(Some(gas_console::net::NetEvent::Calls(who, list))) => seen.1 = Some((who, list)),
            other => panic!("the console's drill-downs: {other:?}"),
        }
    }
    let (who, refusals) = seen.0.expect("refusals");
    assert_eq!(who, hotkey);
    assert_eq!(refusals.len(), 2, "{refusals:?}");
    assert!(
        refusals.iter().all(|f| f.reason == "budget"
            && f.modality == gas_shared::Modality::Image
            && f.detail.contains("MINER_BUDGET_USD_PER_DAY_IMAGE=0.30")),
        "{refusals:?}"
    );
    assert!(refusals[0].at_ms >= refusals[1].at_ms, "newest first");
    let (_, calls) = seen.1.expect("calls");
    let billed: Vec<_> = calls.iter().filter(|c| c.cost_usd.is_some()).collect();
    assert_eq!(billed.len(), 2, "{calls:?}");
    assert!(
        billed
            .iter()
            .all(|c| c.op == "generate" && c.error.is_none() && c.cost_usd == Some(GEMINI_1K)),
        "{calls:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_task_accepted_before_the_budget_ran_out_ends_in_a_failure_webhook_without_a_call() {
    let mut r = Rig::start(&[]).await;
    // The provider takes long: the miner dies while the task is generating.
    r.providers.set_delay(Duration::from_secs(60));
    let (code, reply) = challenge(&r, "a slow tortoise").await;
    assert_eq!(code, 201, "{reply}");
    let id = reply["task_id"].as_str().expect("task_id").to_string();
    let start = Instant::now();
    while r
        .providers
        .seen(Api::OpenRouterImage, Some("generate"))
        .is_empty()
    {
        assert!(start.elapsed() < WAIT, "no call\n{}", r.miner.log());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    r.miner.kill9();
    // It comes back with a budget that one more image would pass.
    r.providers.set_delay(Duration::ZERO);
    r.fixture.set("MINER_BUDGET_USD_PER_DAY_IMAGE", "0.10");
    r.miner = r.fixture.start();
    let hooks = r
        .validator
        .wait_for(WAIT, "the failure webhook", |h| {
            h.iter().any(|w| w.task_id == id)
        })
        .await;
    let hook = hooks.iter().find(|w| w.task_id == id).expect("webhook");
    let message = hook.error_message.clone().unwrap_or_default();
    assert!(
        message.contains("not asked (over budget for modality=image")
            && message.contains("MINER_BUDGET_USD_PER_DAY_IMAGE=0.10"),
        "{hook:?}"
    );
    assert_eq!(
        r.providers
            .seen(Api::OpenRouterImage, Some("generate"))
            .len(),
        1,
        "the resumed task made no paid call"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_budget_or_prices_file_stops_the_start_naming_the_line_and_info_prints_the_table() {
    let providers = FakeProviders::start().await;
    let mut f = Fixture::new(&providers);
    let prices = f.dir.path().join("prices.txt");
    std::fs::write(
        &prices,
        "# our negotiated prices\nopenrouter google/gemini-3* * * image 0.10\nrunway veo3 1080p * second forty\n",
    )
    .expect("prices file");
    f.set("MINER_PRICES_FILE", &prices.display().to_string());
    f.set("MINER_BUDGET_USD_PER_DAY_VIDEO", "ten dollars");
    let (code, text) = f.cli(&["run"]);
    assert_eq!(code, Some(2), "{text}");
    assert!(
        text.contains(&format!(
            "MINER_PRICES_FILE: {}:3: price `forty` is not a number of US dollars",
            prices.display()
        )),
        "{text}"
    );
    assert!(
        text.contains("MINER_BUDGET_USD_PER_DAY_VIDEO=ten dollars: not an amount of US dollars"),
        "{text}"
    );

    // Fixed, `info` shows the table with the file's row in force and where it came from.
    std::fs::write(
        &prices,
        "# our negotiated prices\nopenrouter google/gemini-3* * * image 0.10\n",
    )
    .expect("prices file");
    f.set("MINER_BUDGET_USD_PER_DAY_VIDEO", "10");
    let (_, text) = f.cli(&["info"]);
    assert!(
        text.contains("video 10.00 US$") && text.contains("built-in rows overridden by"),
        "{text}"
    );
    let row = text
        .lines()
        .find(|l| l.contains("google/gemini-3*") && l.contains(&format!("{}:2", prices.display())))
        .unwrap_or_else(|| panic!("the file's row in:\n{text}"));
    assert!(row.contains("0.1"), "{row}");

    // And a miner started with it prices its calls from it.
    let r = {
        let validator = FakeValidator::start(&key(VALIDATOR_PHRASE), &key(MINER_PHRASE)).await;
        let miner = f.start();
        let v = Challenger::new(&f.base(), VALIDATOR_PHRASE);
        Rig {
            providers,
            validator,
            fixture: f,
            miner,
            v,
        }
    };
    delivered(&r, "a priced parrot").await;
    let s = r.fixture.status().await;
    assert!(
        (image_line(&s).spent_usd - 0.10).abs() < 1e-9,
        "{:?}",
        s.budget
    );
}
