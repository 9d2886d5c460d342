//! Every screen drawn into ratatui's `TestBackend` from a fixed state, compared with the
//! snapshots in `tests/snapshots` (review changes with `cargo insta review`, or accept them
//! with `INSTA_UPDATE=always`). 80×24 is the smallest terminal the console must fit.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use gas_console::app::{App, Screen};
use gas_console::net::{Command, NetEvent};
use gas_shared::admin::*;
use gas_shared::reply::ReplyCounts;
use gas_shared::standing::*;
use gas_shared::verdict::{C2paReport, Freshness, MediaReport, StatusCode, Verdict};
use gas_shared::{Modality, TaskState, Tier};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::path::PathBuf;

const NOW: i64 = 1_764_000_000_000;

fn task(i: usize, state: TaskState, c2pa_failed: bool) -> TaskSummary {
    TaskSummary {
        // Time-ordered like the miner's (UUIDv7): the same start, a different end.
        task_id: format!("019ab1c2-4c1e-7f7a-9d1b-5e2f{i:08x}"),
        modality: if i.is_multiple_of(3) {
            Modality::Video
        } else {
            Modality::Image
        },
        state,
        tier: if i.is_multiple_of(3) {
            Tier::P720
        } else {
            Tier::K2
        },
        prompt: format!("A lighthouse on a cliff at dusk, number {i}"),
        validator: "5EHgWw2Af1pnoc7f1A8bfmM97W3DAYW8xr82RfhLL9oAabAe".into(),
        provider: Some(
            if i.is_multiple_of(3) {
                "runway"
            } else {
                "openrouter"
            }
            .into(),
        ),
        created_ms: NOW - (i as i64) * 47_000,
        finished_ms: None,
        verdict: Some(VerdictBrief {
            passed: !c2pa_failed,
            c2pa_ok: !c2pa_failed,
            reason: c2pa_failed.then(|| "c2pa: Signature validation failed".into()),
        }),
        c2pa_failed,
        deliveries: 1,
        last_status: Some(200),
        error: None,
    }
}

fn status() -> Status {
    Status {
        name: "default-default".into(),
        version: "0.1.0".into(),
        hotkey: "5DfhGyQdFobKM8NsWvEeAKk5EQQgYe9AydgJ7rMB6E1EqRzV".into(),
        uid: Some(2),
        netuid: 34,
        registered: true,
        axon: Some("203.0.113.9:8091".into()),
        metagraph: MetagraphState {
            source: "chain wss://entrypoint-finney.opentensor.ai:443 netuid 34".into(),
            block: Some(5_000_123),
            age_s: 42,
            stale: false,
            neurons: 256,
        },
        started_ms: NOW - 3 * 3_600_000,
        now_ms: NOW,
        queue: vec![
            QueueCount {
                state: TaskState::Queued,
                modality: Modality::Image,
                count: 3,
            },
            QueueCount {
                state: TaskState::Generating,
                modality: Modality::Video,
                count: 2,
            },
            QueueCount {
                state: TaskState::Delivered,
                modality: Modality::Image,
                count: 1204,
            },
            QueueCount {
                state: TaskState::Delivered,
                modality: Modality::Video,
                count: 311,
            },
            QueueCount {
                state: TaskState::Failed,
                modality: Modality::Image,
                count: 17,
            },
        ],
        throughput: Throughput {
            accepted_last_minute: 4,
            accepted_last_hour: 180,
            finished_last_minute: 3,
            finished_last_hour: 171,
        },
        preflight: Rates {
            hour: Rate {
                passed: 160,
                total: 171,
            },
            day: Rate {
                passed: 3800,
                total: 4012,
            },
        },
        replies: ReplyRates {
            hour: ReplyCounts {
                passed: 3,
                taken: 12,
                rejected: 1,
                ignored: 0,
                failures: 2,
            },
            day: ReplyCounts {
                passed: 70,
                taken: 3012,
                rejected: 10,
                ignored: 4,
                failures: 40,
            },
        },
        phase: "live".into(),
        disk_free_bytes: Some(120 * (1 << 30)),
        budget: vec![
            BudgetLine {
                scope: "all".into(),
                var: "MINER_BUDGET_USD_PER_DAY".into(),
                limit_usd: Some(500.0),
                spent_usd: 61.3,
            },
            BudgetLine {
                scope: "image".into(),
                var: "MINER_BUDGET_USD_PER_DAY_IMAGE".into(),
                limit_usd: None,
                spent_usd: 18.5,
            },
            BudgetLine {
                scope: "video".into(),
                var: "MINER_BUDGET_USD_PER_DAY_VIDEO".into(),
                limit_usd: Some(50.0),
                spent_usd: 42.8,
            },
        ],
        providers: vec![
            ProviderStats {
                name: "openrouter".into(),
                calls: 1402,
                errors: 12,
                p50_ms: Some(8400),
                p95_ms: Some(21000),
                spend_usd: 187.22,
                health: "ok".into(),
                tiers: vec![TierDelivery {
                    model: "google/gemini-3-pro-image-preview".into(),
                    planned: Tier::K4,
                    seen: 5,
                    short: 4,
                    reaches: Tier::K1,
                }],
                ..ProviderStats::default()
            },
            ProviderStats {
                name: "runway".into(),
                calls: 5230,
                errors: 3,
                p50_ms: Some(120),
                p95_ms: Some(900),
                spend_usd: 212.4,
                health: "open".into(),
                health_reason: Some(
                    "the API key was refused (HTTP 401): check RUNWAYML_API_KEY (veo3.1_fast)"
                        .into(),
                ),
                open_until_ms: Some(1_700_000_025_000),
                ..ProviderStats::default()
            },
        ],
        validators: vec![
            ValidatorStats {
                hotkey: "5EHgWw2Af1pnoc7f1A8bfmM97W3DAYW8xr82RfhLL9oAabAe".into(),
                uid: Some(0),
                challenges: 812,
                refused: 4,
                replies: ReplyCounts {
                    passed: 740,
                    taken: 0,
                    rejected: 30,
                    ignored: 2,
                    failures: 12,
                },
                last_rejection: Some("Duplicate image detected".into()),
            },
            ValidatorStats {
                hotkey: "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY".into(),
                uid: Some(9),
                challenges: 402,
                refused: 0,
                replies: ReplyCounts {
                    taken: 400,
                    ..ReplyCounts::default()
                },
                last_rejection: None,
            },
        ],
        services: Services {
            image: vec!["openrouter".into(), "stabilityai".into()],
            video: vec!["runway".into()],
            known: vec![
                ServiceInfo {
                    name: "openai".into(),
                    image: true,
                    video: true,
                    key_set: false,
                    local: false,
                },
                ServiceInfo {
                    name: "openrouter".into(),
                    image: true,
                    video: true,
                    key_set: true,
                    local: false,
                },
                ServiceInfo {
                    name: "stabilityai".into(),
                    image: true,
                    video: false,
                    key_set: true,
                    local: false,
                },
                ServiceInfo {
                    name: "runway".into(),
                    image: false,
                    video: true,
                    key_set: true,
                    local: false,
                },
            ],
            overridden: false,
            started_image: vec!["openrouter".into(), "stabilityai".into()],
            started_video: vec!["runway".into()],
        },
        trust_anchors: 9,
        trust_anchors_updated_ms: Some(NOW - 2 * 86_400_000),
        admin_socket: "/root/.local/share/gas-miner/admin.sock".into(),
        demo: false,
        pid: 4242,
        standing: Some(StandingSummary {
            gates: vec![
                (Modality::Image, "below_threshold".into(), Some(0.012)),
                (Modality::Video, "qualified".into(), Some(0.031)),
            ],
            pass_rate: Some(0.92),
            fetched_ms: Some(NOW - 14 * 60_000),
            error: None,
            r_estimate: Some(0.763),
            incentive: None,
        }),
        refusals: Refusals::default(),
    }
}

fn verdict() -> Verdict {
    Verdict {
        passed: false,
        reasons: vec!["c2pa: Signature validation failed: signingCredential.untrusted: signing certificate untrusted".into()],
        media: MediaReport {
            content_type: "image/png".into(),
            bytes: 1_843_221,
            decodes: true,
            width: Some(2048),
            height: Some(2048),
            measured_tier: Some(Tier::K2),
            requested_tier: Some(Tier::K2),
            ..MediaReport::default()
        },
        c2pa: C2paReport {
            manifest_present: true,
            validation_state: Some("Valid".into()),
            statuses: vec![
                StatusCode { code: "claimSignature.validated".into(), explanation: Some("claim signature valid".into()), kind: "success".into(), fatal: false },
                StatusCode { code: "assertion.dataHash.match".into(), explanation: Some("data hash valid".into()), kind: "success".into(), fatal: false },
                StatusCode { code: "signingCredential.untrusted".into(), explanation: Some("signing certificate untrusted".into()), kind: "failure".into(), fatal: true },
            ],
            validation_errors: vec!["signingCredential.untrusted: signing certificate untrusted".into()],
            issuer: Some("Google Gemini".into()),
            cert_issuer: Some("Google LLC".into()),
            common_name: Some("Google LLC Media Signing".into()),
            cert_chain: vec!["CN=Google LLC Media Signing, O=Google LLC".into()],
            signing_time: Some("2025-11-24T15:59:30+00:00".into()),
            signing_time_source: Some("actions".into()),
            ai_generated: true,
            error: Some("Signature validation failed: signingCredential.untrusted".into()),
            ..C2paReport::default()
        },
        freshness: Some(Freshness { signed_at_ms: Some(NOW - 60_000), sent_at_ms: NOW - 30_000, age_s: Some(-30.0), fresh: true }),
        duplicate: None,
        provider: "openrouter".into(),
        checked_at_ms: NOW - 20_000,
        took_ms: 14,
    }
}

fn app() -> App {
    let mut app = App::new("/root/.local/share/gas-miner/admin.sock", NOW);
    app.apply(NetEvent::Connected);
    let tasks = vec![
        task(1, TaskState::Generating, false),
        task(2, TaskState::Delivered, false),
        task(3, TaskState::Failed, true),
        task(4, TaskState::Delivered, false),
        task(5, TaskState::Delivering, false),
    ];
    app.apply(NetEvent::Event(Event::Snapshot {
        status: Box::new(status()),
        tasks,
    }));
    for i in 0..30 {
        app.apply(NetEvent::Event(Event::Log {
            line: format!("2025-11-24T16:00:{i:02}.000000Z  INFO gas_miner::pipeline: media ready task_id={i:08x} provider=\"openrouter\""),
        }));
    }
    app
}

fn draw(app: &App, w: u16, h: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).expect("terminal");
    t.draw(|f| gas_console::ui::draw(f, app)).expect("draw");
    format!("{}", t.backend())
}

fn key(c: KeyCode) -> KeyEvent {
    KeyEvent::new(c, KeyModifiers::NONE)
}

#[test]
fn dashboard() {
    insta::assert_snapshot!(draw(&app(), 80, 24));
}

#[test]
fn a_demo_says_so() {
    let mut app = app();
    if let Some(s) = app.status.as_mut() {
        s.demo = true;
    }
    let screen = draw(&app, 80, 24);
    assert!(
        screen.lines().next().is_some_and(|l| l.contains(" DEMO ")),
        "{screen}"
    );
    assert!(!draw(&self::app(), 80, 24).contains("DEMO"));
}

#[test]
fn refusals_show_on_the_message_line_and_an_unanswered_modality_is_an_alert() {
    let mut a = app();
    if let Some(s) = a.status.as_mut() {
        s.refusals = Refusals {
            hour: vec![("wait".into(), 1)],
            day: vec![("no_provider".into(), 1), ("wait".into(), 3)],
            total: vec![("no_provider".into(), 1), ("wait".into(), 3)],
            day_by_modality: vec![(Modality::Image, 180, 4), (Modality::Video, 0, 0)],
        };
        // No budget near its limit: that would come first.
        s.budget.clear();
    }
    insta::assert_snapshot!("dashboard_refusals", draw(&a, 80, 24));
    insta::assert_snapshot!("dashboard_refusals_large", draw(&a, 120, 36));
    if let Some(s) = a.status.as_mut() {
        s.refusals.day_by_modality[1] = (Modality::Video, 0, 2);
    }
    let screen = draw(&a, 80, 24);
    assert!(
        screen.contains("video: every challenge refused for 24 h; v5 marks the miner unresp"),
        "{screen}"
    );
}

/// The alert line (the row above the key hints) of a 160-column screen.
fn alert_line(a: &App) -> String {
    let screen = draw(a, 160, 48);
    screen.lines().rev().nth(1).unwrap_or_default().to_string()
}

#[test]
fn the_alert_line_puts_the_most_serious_first_with_its_key_and_how_many_more() {
    let mut a = app();
    if let Some(s) = a.status.as_mut() {
        s.refusals.day = vec![("budget".into(), 3)];
        s.refusals.hour = vec![("budget".into(), 3)];
    }
    // A provider failing, a budget near its limit, a tier short, the refusals: four.
    let line = alert_line(&a);
    assert!(
        line.contains(
            "runway is failing: the API key was refused (HTTP 401): check RUNWAYML_API_KEY"
        ) && line.contains("→ 1 Dashboard (+3 more: !)"),
        "{line}"
    );
    if let Some(s) = a.status.as_mut() {
        s.providers[1].health = "ok".into();
    }
    let line = alert_line(&a);
    assert!(
        line.contains(" video budget 86%: $42.80 of $50.00 in 24h (est.); 503 once the next would pass it (MINER_BUDGET_USD_PER_DAY_VIDEO)"),
        "{line}"
    );
    let screen = draw(&a, 120, 36);
    assert!(
        screen.contains("Providers · spent 24h (est.) $61.30/$500.00 all · $42.80/$50.00 video"),
        "{screen}"
    );
    if let Some(s) = a.status.as_mut() {
        s.budget[2].spent_usd = 50.02;
    }
    assert!(
        alert_line(&a).contains(" video budget 100%: $50.02 of $50.00 in 24h (est.); reached: challenges get 503, no paid call"),
        "{}",
        alert_line(&a)
    );
    if let Some(s) = a.status.as_mut() {
        s.refusals.day_by_modality = vec![(Modality::Video, 0, 9)];
    }
    assert!(
        alert_line(&a).contains("video: every challenge refused for 24 h"),
        "{}",
        alert_line(&a)
    );
    // Under its limits and with the tier trusted again, the line is the refusals'.
    if let Some(s) = a.status.as_mut() {
        s.refusals.day_by_modality.clear();
        s.budget[2].spent_usd = 10.0;
        s.providers[0].tiers.clear();
    }
    assert!(
        alert_line(&a).contains("refused with 503: 3 in 1h, 3 in 24h (3 budget)"),
        "{}",
        alert_line(&a)
    );
}

#[test]
fn every_alert_is_listed_with_its_key() {
    let mut a = app();
    if let Some(s) = a.status.as_mut() {
        s.services.video.clear();
        s.trust_anchors = 0;
        s.disk_free_bytes = Some(1 << 29);
        s.metagraph.stale = true;
    }
    a.key(key(KeyCode::Char('!')));
    insta::assert_snapshot!("alerts", draw(&a, 80, 24));
    insta::assert_snapshot!("alerts_large", draw(&a, 160, 48));
    let screen = draw(&a, 160, 48);
    for needle in [
        "videos have no service: their challenges get 503",
        "→ 3 Services",
        "no trust anchors: every result fails the C2PA check",
        "0.5 GiB free in the state directory",
        "the metagraph is stale",
        "openrouter google/gemini-3-pro-image-preview delivers 1K when asked 4K (4 of 5 short)",
    ] {
        assert!(screen.contains(needle), "{needle}\n{screen}");
    }
    a.key(key(KeyCode::Char('x')));
    assert!(!draw(&a, 160, 48).contains("Alerts, most serious first"));
}

#[test]
fn a_plan_whose_results_fell_short_says_so_in_the_providers_box() {
    let screen = draw(&app(), 120, 36);
    assert!(
        screen.contains("gemini-3-pro-image-preview 4K→1K (4/5 short)"),
        "{screen}"
    );
}

/// A day of minutes: steady work, a burst of refusals 20 minutes ago, a slow provider 10
/// minutes ago, an hour with nothing judged.
fn with_minutes(mut a: App) -> App {
    let now = a.status.as_ref().map_or(0, |s| s.now_ms).div_euclid(60_000);
    let points: Vec<MinutePoint> = (0..24 * 60)
        .map(|ago| {
            let minute = now - ago;
            let quiet = (120..180).contains(&ago);
            MinutePoint {
                minute,
                accepted: if quiet { 0 } else { 3 + (ago % 4) as u64 },
                refused: if (18..22).contains(&ago) { 5 } else { 0 },
                finished: 3,
                preflight_passed: if quiet { 0 } else { 3 },
                preflight_total: if quiet {
                    0
                } else {
                    3 + u64::from(ago % 7 == 0)
                },
                attempt_p95_ms: Some(if ago == 10 { 65_536 } else { 8_192 }),
                // Runway was the slow one; OpenRouter answers in 4 s.
                provider_p95_ms: [
                    ("openrouter".to_string(), 4_096),
                    ("runway".to_string(), if ago == 10 { 65_536 } else { 8_192 }),
                ]
                .into(),
                spend_usd: 0.4,
            }
        })
        .collect();
    a.apply(NetEvent::Event(Event::Minutes { points }));
    a
}

#[test]
fn charts_show_the_last_hour_and_the_day() {
    let mut a = with_minutes(app());
    a.key(key(KeyCode::Char('6')));
    insta::assert_snapshot!("charts", draw(&a, 80, 24));
    insta::assert_snapshot!("charts_large", draw(&a, 160, 48));
    let hour = draw(&a, 160, 48);
    assert!(
        hour.contains("Refused with 503, per minute · most 5 · total 20"),
        "{hour}"
    );
    assert!(hour.contains("most 66 s"), "{hour}");
    a.key(key(KeyCode::Char('d')));
    let day = draw(&a, 160, 48);
    assert!(day.contains("per 10 minutes"), "{day}");
    assert!(day.contains("total $576.00"), "{day}");
}

#[test]
fn the_latency_chart_shows_one_provider_at_a_time_with_p() {
    let mut a = with_minutes(app());
    a.key(key(KeyCode::Char('6')));
    assert!(draw(&a, 160, 48).contains("Every provider's attempt p95"));
    a.key(key(KeyCode::Char('p')));
    let openrouter = draw(&a, 160, 48);
    assert!(
        openrouter.contains("openrouter attempt p95 · most 4 s · per minute"),
        "{openrouter}"
    );
    insta::assert_snapshot!("charts_one_provider", draw(&a, 80, 24));
    a.key(key(KeyCode::Char('p')));
    let runway = draw(&a, 160, 48);
    assert!(
        runway.contains("runway attempt p95") && runway.contains("most 66 s"),
        "{runway}"
    );
    a.key(key(KeyCode::Char('p')));
    assert!(draw(&a, 160, 48).contains("Every provider's attempt p95"));
}

#[test]
fn a_validator_row_drills_down_to_its_tasks_and_esc_comes_back() {
    let mut a = app();
    // Down past the queue's two rows and the two providers: the first validator.
    for _ in 0..4 {
        a.key(key(KeyCode::Down));
    }
    insta::assert_snapshot!("dashboard_validator_picked", draw(&a, 80, 24));
    let cmds = a.key(key(KeyCode::Enter));
    assert_eq!(a.screen, Screen::Tasks);
    let hotkey = "5EHgWw2Af1pnoc7f1A8bfmM97W3DAYW8xr82RfhLL9oAabAe";
    assert_eq!(
        cmds,
        vec![
            Command::LoadTasks(TaskQuery {
                q: Some(hotkey.into()),
                limit: Some(500),
                ..TaskQuery::default()
            }),
            Command::LoadRefusals(hotkey.into())
        ]
    );
    a.apply(NetEvent::Tasks(TaskPage {
        tasks: vec![task(1, TaskState::Delivered, false)],
        next: None,
    }));
    a.apply(NetEvent::Refusals(
        hotkey.into(),
        vec![
            RefusalSummary {
                at_ms: NOW - 90_000,
                modality: Modality::Video,
                reason: "wait".into(),
                detail:
                    "video queue would wait 14 min (over MINER_MAX_WAIT_VIDEO 10 min): try later"
                        .into(),
            },
            RefusalSummary {
                at_ms: NOW - 3_600_000,
                modality: Modality::Image,
                reason: "budget".into(),
                detail:
                    "image budget reached: $4.98 of $5.00 in 24 h (MINER_BUDGET_USD_PER_DAY_IMAGE)"
                        .into(),
            },
        ],
    ));
    insta::assert_snapshot!("tasks_of_a_validator", draw(&a, 80, 24));
    insta::assert_snapshot!("tasks_of_a_validator_large", draw(&a, 160, 48));
    let screen = draw(&a, 160, 48);
    assert!(screen.contains("Tasks: validator=5EHgWw2A…"), "{screen}");
    assert!(
        screen.contains("Its last 2 refusals, newest first")
            && screen.contains("MINER_MAX_WAIT_VIDEO"),
        "{screen}"
    );
    assert!(
        screen.contains(
            "asked 812, refused 4 (503s have no task), replies: 740 passed, 0 taken, 30 rejected"
        ),
        "{screen}"
    );
    a.key(key(KeyCode::Esc));
    assert_eq!(a.screen, Screen::Dashboard);
    assert!(a.filter.is_empty());
    // A queue cell: video, failed.
    a.dash = gas_console::app::DashFocus::default();
    a.key(key(KeyCode::Down));
    for _ in 0..5 {
        a.key(key(KeyCode::Right));
    }
    a.key(key(KeyCode::Enter));
    assert_eq!(a.filter.state, Some(TaskState::Failed));
    assert_eq!(a.filter.modality, Some(Modality::Video));
    // The validators ordered by refusals.
    a.key(key(KeyCode::Esc));
    a.key(key(KeyCode::Char('o')));
    assert!(draw(&a, 160, 48).contains("Validators by refused"));
}

#[test]
fn a_provider_row_drills_down_to_its_tasks_and_its_last_calls() {
    let mut a = app();
    // Past the queue's two rows: the first provider.
    for _ in 0..2 {
        a.key(key(KeyCode::Down));
    }
    let cmds = a.key(key(KeyCode::Enter));
    assert_eq!(a.filter.provider.as_deref(), Some("openrouter"));
    assert!(
        cmds.contains(&Command::LoadCalls("openrouter".into())),
        "{cmds:?}"
    );
    a.apply(NetEvent::Tasks(TaskPage {
        tasks: vec![task(1, TaskState::Delivered, false)],
        next: None,
    }));
    // A reply for another provider (a drill-down left since) is not shown.
    a.apply(NetEvent::Calls(
        "runway".into(),
        vec![CallSummary::default()],
    ));
    assert!(a.calls.is_none());
    a.apply(NetEvent::Calls(
        "openrouter".into(),
        vec![
            CallSummary {
                at_ms: NOW - 30_000,
                task_id: "019ab1c2-4c1e-7f7a-9d1b-5e2f00000001".into(),
                op: "generate".into(),
                model: "google/gemini-3-pro-image-preview".into(),
                status: Some(200),
                error: None,
                latency_ms: 8_420,
                cost_usd: Some(0.134),
            },
            CallSummary {
                at_ms: NOW - 120_000,
                task_id: "019ab1c2-4c1e-7f7a-9d1b-5e2f00000002".into(),
                op: "generate".into(),
                model: "google/gemini-3-pro-image-preview".into(),
                status: Some(429),
                error: Some("rate limited: retry after 20 s".into()),
                latency_ms: 310,
                cost_usd: None,
            },
        ],
    ));
    insta::assert_snapshot!("tasks_of_a_provider", draw(&a, 80, 24));
    insta::assert_snapshot!("tasks_of_a_provider_large", draw(&a, 160, 48));
    let screen = draw(&a, 160, 48);
    assert!(
        screen.contains("Its last 2 calls, newest first (1 failed")
            && screen.contains("rate limited: retry after 20 s")
            && screen.contains("$0.13"),
        "{screen}"
    );
    // While shown, the calls are read again every few seconds (the tasks come live).
    let now = a.now_ms;
    assert!(a.tick(now + 1_000).is_empty());
    assert_eq!(
        a.tick(now + gas_console::app::RECENT_EVERY_MS),
        vec![Command::LoadCalls("openrouter".into())]
    );
    // Esc leaves the drill-down and its calls.
    a.key(key(KeyCode::Esc));
    a.key(key(KeyCode::Char('2')));
    assert!(a.key(key(KeyCode::Char('r'))) == vec![Command::LoadTasks(a.filter.query())]);
    assert!(a.calls.is_none());
}

#[test]
fn the_task_list_is_ordered_with_o() {
    let mut a = app();
    a.key(key(KeyCode::Char('2')));
    a.apply(NetEvent::Tasks(TaskPage {
        tasks: (1..=4)
            .map(|i| task(i, TaskState::Delivered, false))
            .collect(),
        next: None,
    }));
    let newest = a.tasks[0].created_ms;
    a.key(key(KeyCode::Char('o')));
    assert!(draw(&a, 160, 48).contains("(4 shown, oldest first)"));
    assert!(a.tasks[0].created_ms < newest);
    assert!(
        a.tasks
            .windows(2)
            .all(|w| w[0].created_ms <= w[1].created_ms)
    );
}

#[test]
fn dashboard_large() {
    insta::assert_snapshot!(draw(&app(), 120, 36));
    insta::assert_snapshot!("dashboard_160x48", draw(&app(), 160, 48));
}

#[test]
fn trust_anchors_not_updated_for_a_month_are_an_alert() {
    let mut a = app();
    assert!(!alert_line(&a).contains("trust anchors"));
    let mut s = a.status.clone().expect("status");
    s.trust_anchors_updated_ms = Some(NOW - 45 * 86_400_000);
    a.apply(NetEvent::Event(Event::Status(Box::new(s))));
    a.key(key(KeyCode::Char('!')));
    let all = draw(&a, 160, 48);
    assert!(
        all.contains("the trust anchors were last updated 45 days ago")
            && all.contains("trust update, then t"),
        "{all}"
    );
}

#[test]
fn tasks_and_the_failed_c2pa_jump() {
    let mut a = app();
    a.key(key(KeyCode::Char('2')));
    insta::assert_snapshot!("tasks", draw(&a, 80, 24));
    insta::assert_snapshot!("tasks_large", draw(&a, 160, 48));
    let cmds = a.key(key(KeyCode::Char('c')));
    assert_eq!(
        cmds,
        vec![Command::LoadTasks(TaskQuery {
            verdict: Some("c2pa_failed".into()),
            limit: Some(500),
            ..TaskQuery::default()
        })]
    );
    a.apply(NetEvent::Tasks(TaskPage {
        tasks: vec![task(3, TaskState::Failed, true)],
        next: None,
    }));
    insta::assert_snapshot!("tasks_failed_c2pa", draw(&a, 80, 24));
}

#[test]
fn task_detail() {
    let mut a = app();
    a.key(key(KeyCode::Char('2')));
    a.key(key(KeyCode::Down));
    a.key(key(KeyCode::Down));
    let cmds = a.key(key(KeyCode::Enter));
    assert_eq!(
        cmds,
        vec![Command::LoadDetail(
            task(3, TaskState::Failed, true).task_id
        )]
    );
    assert_eq!(a.screen, Screen::Detail);
    a.apply(NetEvent::Detail(Box::new(TaskDetail {
        summary: task(3, TaskState::Failed, true),
        prompt: "A lighthouse on a cliff at dusk, number 3".into(),
        parameters: serde_json::json!({"resolution": "2K"}),
        webhook_url: "http://10.0.0.1:10525/generative_callback".into(),
        timeline: vec![
            TimelineEntry {
                at_ms: NOW - 141_000,
                what: "challenge accepted from 5EHg… (image 2K)".into(),
            },
            TimelineEntry {
                at_ms: NOW - 30_000,
                what: "pre-flight failed (openrouter): c2pa: untrusted".into(),
            },
        ],
        calls: vec![],
        verdicts: vec![verdict()],
        deliveries: vec![DeliveryView {
            attempt: 1,
            kind: "failure".into(),
            status: Some(200),
            reply: "Failure recorded".into(),
            at_ms: NOW - 10_000,
        }],
        media_path: None,
        outcome: Some("openrouter: pre-flight failed: c2pa: Signature validation failed".into()),
    })));
    insta::assert_snapshot!(draw(&a, 80, 24));
    insta::assert_snapshot!("task_detail_large", draw(&a, 160, 48));
    assert_eq!(
        a.key(key(KeyCode::Char('v'))),
        vec![Command::Verify(task(3, TaskState::Failed, true).task_id)]
    );
}

#[test]
fn services_editing() {
    let mut a = app();
    a.key(key(KeyCode::Char('3')));
    insta::assert_snapshot!("services", draw(&a, 80, 24));
    insta::assert_snapshot!("services_large", draw(&a, 160, 48));
    a.key(key(KeyCode::Char('e')));
    for _ in 0.."openrouter,stabilityai".len() {
        a.key(key(KeyCode::Backspace));
    }
    for c in "stabilityai,openrouter".chars() {
        a.key(key(KeyCode::Char(c)));
    }
    insta::assert_snapshot!("services_typing", draw(&a, 80, 24));
    let cmds = a.key(key(KeyCode::Enter));
    assert_eq!(
        cmds,
        vec![Command::SetServices(ServicesUpdate {
            image: Some("stabilityai,openrouter".into()),
            ..ServicesUpdate::default()
        })]
    );
}

#[test]
fn logs_and_help() {
    let mut a = app();
    a.key(key(KeyCode::Char('4')));
    insta::assert_snapshot!("logs", draw(&a, 80, 24));
    insta::assert_snapshot!("logs_large", draw(&a, 160, 48));
    a.key(key(KeyCode::Char('?')));
    insta::assert_snapshot!("help", draw(&a, 80, 24));
    insta::assert_snapshot!("help_large", draw(&a, 160, 48));
}

#[test]
fn the_miner_going_away_is_said_and_its_return_too() {
    let mut a = app();
    a.apply(NetEvent::Disconnected(
        "cannot reach the miner at /x/admin.sock: Connection refused".into(),
    ));
    a.tick(NOW + 5_000);
    insta::assert_snapshot!("disconnected", draw(&a, 80, 24));
    insta::assert_snapshot!("disconnected_large", draw(&a, 160, 48));
    a.apply(NetEvent::Connected);
    assert!(draw(&a, 80, 24).contains("reconnected"));
}

// The Standing screen.

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

/// A 7-day fool-rate line: a point every 6 hours from `start` drifting by `step`, with the
/// API having no value for a day in the middle.
fn points(start: f64, step: f64) -> Vec<(i64, Option<f64>)> {
    (0..28)
        .map(|i| {
            let at = NOW - 7 * DAY + (i as i64) * 6 * HOUR;
            let rate = (!(12..16).contains(&i)).then_some(start + step * i as f64);
            (at, rate)
        })
        .collect()
}

fn standing_view() -> StandingView {
    StandingView {
        now_ms: NOW,
        api: ApiStanding {
            url: "https://gas.bitmind.ai".into(),
            fetched_ms: Some(NOW - 14 * 60_000),
            tried_ms: None,
            error: None,
            signature_refused: false,
            as_of: Some("2025-11-24T15:40:00Z".into()),
            history_available: true,
            gates: vec![
                Gate {
                    modality: Some(Modality::Image),
                    status: "below_threshold".into(),
                    fool_rate: Some(0.012),
                    fooled: 3,
                    evaluations: 250,
                    threshold: 0.02,
                    minimum_samples: 20,
                    last_evaluated_at: Some("2025-11-24T13:05:00Z".into()),
                    points: points(0.026, -0.0005),
                },
                Gate {
                    modality: Some(Modality::Video),
                    status: "qualified".into(),
                    fool_rate: Some(0.031),
                    fooled: 4,
                    evaluations: 41,
                    threshold: 0.01,
                    minimum_samples: 20,
                    last_evaluated_at: Some("2025-11-24T12:50:00Z".into()),
                    points: points(0.018, 0.0005),
                },
            ],
            gates_fetched_ms: Some(NOW - 14 * 60_000),
            pass_rate: Some(0.92),
            total_verified: 1204,
            total_failed: 104,
            validator_count: 7,
            validators: vec![
                ApiValidator {
                    hotkey: "5EHgWw2Af1pnoc7f1A8bfmM97W3DAYW8xr82RfhLL9oAabAe".into(),
                    pass_rate: Some(0.94),
                    total_verified: 122,
                    total_failed: 8,
                    lookback_hours: Some(24.0),
                },
                ApiValidator {
                    hotkey: "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY".into(),
                    pass_rate: Some(0.89),
                    total_verified: 89,
                    total_failed: 11,
                    lookback_hours: Some(24.0),
                },
            ],
            fool_rate: Some(0.019),
            fool_samples: 412,
        },
        chain: ChainStanding {
            available: true,
            reason: None,
            block: Some(5_000_123),
            read_ms: Some(NOW - 2 * 60_000),
            uid: Some(2),
            incentive: Some(0.0123),
            emission_alpha: Some(0.452),
            commit_reveal: Some(false),
            weights: vec![
                WeightOnUs {
                    hotkey: "5EHgWw2Af1pnoc7f1A8bfmM97W3DAYW8xr82RfhLL9oAabAe".into(),
                    uid: 0,
                    stake_tao: 812_000.0,
                    share: 0.041,
                    last_update: 5_000_000,
                    stale: false,
                },
                WeightOnUs {
                    hotkey: "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY".into(),
                    uid: 9,
                    stake_tao: 402_000.0,
                    share: 0.0,
                    last_update: 4_990_000,
                    stale: true,
                },
            ],
            positive: 5,
            permitted: 12,
            incentive_history: (0..30)
                .map(|d| (NOW - (30 - d) * DAY, 0.010 + 0.0001 * ((d * 7) % 30) as f64))
                .collect(),
        },
        estimate: Estimate {
            window_hours: 24,
            modalities: vec![
                ModalityEstimate {
                    modality: Some(Modality::Image),
                    verified: 1100,
                    failed: 104,
                    from_validators: 40,
                    from_preflight: 1164,
                    p: Some(0.91),
                    n: 1204,
                    volume: 1.0,
                    multiplier: 1.4,
                    base: 1.274,
                    qualified: Some(false),
                    weight: 0.3,
                },
                ModalityEstimate {
                    modality: Some(Modality::Video),
                    verified: 274,
                    failed: 37,
                    from_validators: 0,
                    from_preflight: 311,
                    p: Some(0.88),
                    n: 311,
                    volume: 0.62,
                    multiplier: 2.0,
                    base: 1.091,
                    qualified: Some(true),
                    weight: 0.7,
                },
            ],
            r: Some(0.763),
            r_ungated: 1.146,
            spend: vec![
                SpendLine {
                    provider: "openrouter".into(),
                    model: "google/gemini-2.5-flash-image".into(),
                    tier: "2K".into(),
                    spend_usd: 41.8,
                    verified: 1100,
                    per_verified_usd: Some(0.038),
                    multiplier_per_usd: Some(36.8),
                },
                SpendLine {
                    provider: "runway".into(),
                    model: "gen4_turbo".into(),
                    tier: "720p".into(),
                    spend_usd: 93.2,
                    verified: 274,
                    per_verified_usd: Some(0.34),
                    multiplier_per_usd: Some(5.9),
                },
            ],
            spend_per_day: (0..30)
                .map(|d| {
                    (
                        (NOW - (29 - d) * DAY) / DAY * DAY,
                        80.0 + ((d * 37) % 60) as f64,
                    )
                })
                .collect(),
        },
        validators: vec![
            ValidatorStanding {
                hotkey: "5EHgWw2Af1pnoc7f1A8bfmM97W3DAYW8xr82RfhLL9oAabAe".into(),
                uid: Some(0),
                asked: 812,
                refused: 4,
                replies: ReplyCounts {
                    passed: 740,
                    taken: 0,
                    rejected: 30,
                    ignored: 2,
                    failures: 12,
                },
                last_rejection: Some("Duplicate image detected".into()),
                api_pass_rate: Some(0.94),
                api_verified: 122,
                api_failed: 8,
                weight_share: Some(0.041),
            },
            ValidatorStanding {
                hotkey: "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY".into(),
                uid: Some(9),
                asked: 402,
                refused: 0,
                replies: ReplyCounts {
                    taken: 400,
                    ..ReplyCounts::default()
                },
                last_rejection: None,
                api_pass_rate: Some(0.89),
                api_verified: 89,
                api_failed: 11,
                weight_share: Some(0.0),
            },
            ValidatorStanding {
                hotkey: "5FLSigC9HGRKVhB9FiEo4Y3koPsNmBmLJbpXg2mp1hXcS59Y".into(),
                uid: Some(17),
                asked: 57,
                refused: 57,
                replies: ReplyCounts::default(),
                last_rejection: None,
                api_pass_rate: None,
                api_verified: 0,
                api_failed: 0,
                weight_share: None,
            },
        ],
    }
}

/// The app on the Standing screen, the miner having answered `view`.
fn standing_app(view: StandingView) -> App {
    let mut a = app();
    assert_eq!(
        a.key(key(KeyCode::Char('5'))),
        vec![Command::LoadStanding],
        "opening the screen reads /standing"
    );
    a.apply(NetEvent::Standing(Ok(Box::new(view))));
    a
}

#[test]
fn standing() {
    let a = standing_app(standing_view());
    insta::assert_snapshot!("standing", draw(&a, 80, 24));
    insta::assert_snapshot!("standing_large", draw(&a, 160, 48));
}

#[test]
fn standing_scrolls_a_section_at_a_time() {
    let mut a = standing_app(standing_view());
    let top = draw(&a, 80, 24);
    assert!(top.contains("Image gate"), "{top}");
    for _ in 0..3 {
        a.key(key(KeyCode::Down));
    }
    let validators = draw(&a, 80, 24);
    insta::assert_snapshot!("standing_validators", validators);
    a.key(key(KeyCode::End));
    let bottom = draw(&a, 80, 24);
    insta::assert_snapshot!("standing_bottom", bottom);
    a.key(key(KeyCode::Home));
    assert_eq!(draw(&a, 80, 24), top);
}

#[test]
fn standing_is_read_when_shown_and_every_30_s_and_never_twice_at_once() {
    let mut a = app();
    assert!(a.tick(NOW + 60_000).is_empty(), "not shown: not read");
    assert_eq!(a.key(key(KeyCode::Char('5'))), vec![Command::LoadStanding]);
    assert!(a.key(key(KeyCode::Char('5'))).is_empty(), "one on its way");
    assert!(a.tick(NOW + 200_000).is_empty(), "still on its way");
    a.tick(NOW + 201_000);
    a.apply(NetEvent::Standing(Ok(Box::new(standing_view()))));
    assert!(a.tick(NOW + 210_000).is_empty(), "fresh");
    assert_eq!(a.tick(NOW + 231_000), vec![Command::LoadStanding]);
    a.apply(NetEvent::Standing(Err("GET /standing: no route".into())));
    assert!(
        draw(&a, 80, 24).contains("GET /standing: no route"),
        "a failed read is said"
    );
    a.key(key(KeyCode::Char('1')));
    assert!(a.tick(NOW + 400_000).is_empty(), "not shown: not read");
    assert_eq!(a.key(key(KeyCode::Tab)), Vec::<Command>::new());
    a.key(key(KeyCode::Char('4')));
    assert_eq!(
        a.key(key(KeyCode::Tab)),
        vec![Command::LoadStanding],
        "Tab reaches it too"
    );
}

#[test]
fn before_the_miner_answers_the_screen_says_so() {
    let mut a = app();
    a.key(key(KeyCode::Char('5')));
    assert!(draw(&a, 80, 24).contains("reading the standing from the miner…"));
    a.apply(NetEvent::Standing(Err(
        "GET /standing: the miner did not answer within 20 s".into(),
    )));
    let screen = draw(&a, 80, 24);
    assert!(
        screen.contains("cannot read the standing from the miner: GET /standing: the miner"),
        "{screen}"
    );
}

#[test]
fn refresh_asks_the_api_in_the_background_and_says_so_until_it_answers() {
    let mut a = standing_app(standing_view());
    assert_eq!(
        a.key(key(KeyCode::Char('r'))),
        vec![Command::RefreshStanding]
    );
    a.tick(NOW + 20_000);
    let waiting = draw(&a, 80, 24);
    assert!(waiting.contains("asking the subnet's API…"), "{waiting}");
    assert!(
        a.key(key(KeyCode::Char('r'))).is_empty(),
        "one question at a time"
    );
    // Long after messages fade, the wait is still said.
    a.tick(NOW + 100_000);
    assert!(draw(&a, 80, 24).contains("asking the subnet's API…"));
    a.key(key(KeyCode::Char('1')));
    assert!(
        draw(&a, 80, 24).contains("asking the subnet's API…"),
        "on every screen"
    );
    let mut fresh = standing_view();
    fresh.now_ms = NOW + 100_000;
    fresh.api.fetched_ms = Some(NOW + 99_000);
    a.apply(NetEvent::StandingRefreshed(Ok(Box::new(fresh))));
    let done = draw(&a, 80, 24);
    assert!(!done.contains("asking the subnet's API…"), "{done}");
    assert!(done.contains("the subnet's API answered"), "{done}");
}

/// The cells of the table row that starts with `uid` (split on runs of spaces).
fn row_cells(screen: &str, uid: &str) -> Vec<String> {
    screen
        .lines()
        .map(|l| l.trim_matches(|c| c == '"' || c == '│' || c == ' '))
        .find(|l| l.split_whitespace().next() == Some(uid) && l.contains("5"))
        .map(|l| l.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default()
}

#[test]
fn replies_that_are_all_202_never_show_as_passed() {
    let only_taken = ReplyCounts {
        taken: 37,
        ..ReplyCounts::default()
    };
    let mut view = standing_view();
    view.validators.truncate(1);
    view.validators[0].replies = only_taken;
    view.validators[0].last_rejection = None;
    let mut a = standing_app(view);
    if let Some(s) = a.status.as_mut() {
        s.replies = ReplyRates {
            hour: only_taken,
            day: only_taken,
        };
        s.validators.truncate(1);
        s.validators[0].replies = only_taken;
        s.validators[0].last_rejection = None;
    }
    for _ in 0..3 {
        a.key(key(KeyCode::Down));
    }
    for (w, h) in [(80, 24), (160, 48)] {
        let standing = draw(&a, w, h);
        // uid hotkey asked refused passed taken rejected
        let cells = row_cells(&standing, "0");
        assert_eq!(&cells[2..7], ["812", "4", "0", "37", "0"], "{standing}");
    }
    a.key(key(KeyCode::Char('1')));
    for (w, h) in [(80, 24), (120, 36)] {
        let dash = draw(&a, w, h);
        let cells = row_cells(&dash, "0");
        assert_eq!(&cells[2..7], ["812", "4", "0", "37", "0"], "{dash}");
        assert!(!dash.contains("37/"), "a 202 is no verdict:\n{dash}");
        assert!(!dash.contains("100%"), "a 202 is no verdict:\n{dash}");
        assert!(dash.contains("verdict unknown"), "{dash}");
    }
}

#[test]
fn an_api_error_shows_the_reason_and_the_age_of_the_snapshot_shown() {
    let mut view = standing_view();
    view.api.error = Some("HTTP 503: upstream timed out after 120 s".into());
    view.api.tried_ms = Some(NOW - 2 * 60_000);
    view.api.fetched_ms = Some(NOW - 3 * HOUR);
    view.api.gates_fetched_ms = view.api.fetched_ms;
    let a = standing_app(view.clone());
    let screen = draw(&a, 80, 24);
    assert!(screen.contains("HTTP 503: upstream timed out"), "{screen}");
    assert!(
        screen.contains("showing the last good snapshot, as of 3 h ago"),
        "{screen}"
    );
    insta::assert_snapshot!("standing_api_failed", screen);

    view.api.error = Some("401: signature does not verify".into());
    view.api.signature_refused = true;
    let screen = draw(&standing_app(view.clone()), 80, 24);
    assert!(screen.contains("refused our signature"), "{screen}");
    assert!(
        screen.contains("a key problem, not missing data"),
        "{screen}"
    );

    // Never answered: nothing from the API is shown as if known.
    view.api.fetched_ms = None;
    view.api.gates_fetched_ms = None;
    view.api.gates.clear();
    view.estimate.r = None;
    for m in &mut view.estimate.modalities {
        m.qualified = None;
    }
    let mut a = standing_app(view);
    let top = draw(&a, 80, 24);
    assert!(top.contains("no snapshot from the subnet's API"), "{top}");
    assert!(
        top.contains("the gates are unknown until the API answers"),
        "{top}"
    );
    a.key(key(KeyCode::End));
    let bottom = draw(&a, 80, 24);
    assert!(
        bottom.contains("R: unknown until the API answers"),
        "{bottom}"
    );
}

#[test]
fn a_chain_not_read_says_why() {
    let mut view = standing_view();
    view.chain = ChainStanding {
        available: false,
        reason: Some("not available offline (BT_METAGRAPH_FILE)".into()),
        ..ChainStanding::default()
    };
    let screen = draw(&standing_app(view), 160, 48);
    assert!(
        screen.contains("not available offline (BT_METAGRAPH_FILE)"),
        "{screen}"
    );
}

#[test]
fn the_dashboard_sums_the_standing_up_in_a_line() {
    let a = app();
    let wide = draw(&a, 160, 40);
    let line = wide
        .lines()
        .find(|l| l.contains("standing (14m ago)"))
        .unwrap_or_default();
    for part in [
        "standing (14m ago)",
        "image Below threshold 1.2%",
        "video Fool-rate eligible 3.1%",
        "R 0.763 (estimate)",
        "API pass 92%",
    ] {
        assert!(line.contains(part), "{part}: {line}");
    }
    let mut a = app();
    if let Some(s) = a.status.as_mut() {
        s.standing = None;
    }
    assert!(draw(&a, 80, 24).contains("standing: not read yet"));
}

#[test]
fn a_long_list_of_validators_is_all_seen_when_scrolling_at_80x24() {
    let mut view = standing_view();
    view.validators = (0..23)
        .map(|i| ValidatorStanding {
            hotkey: format!("5Val{i:04}Xq9LkR2mHv7tPbWn3cZyE8sDfGhJkL"),
            uid: Some(100 + i as u16),
            asked: 40 + i,
            replies: ReplyCounts {
                taken: 30 + i,
                ..ReplyCounts::default()
            },
            ..ValidatorStanding::default()
        })
        .collect();
    let mut a = standing_app(view);
    let mut seen = String::new();
    for _ in 0..a.standing.sections() + 2 {
        seen.push_str(&draw(&a, 80, 24));
        a.key(key(KeyCode::Down));
    }
    for i in 0..23 {
        assert!(
            seen.contains(&format!("5Val{i:04}")),
            "validator {i}:\n{seen}"
        );
    }
    assert!(seen.contains("Validators 21–23 of 23"), "{seen}");
}

#[test]
fn an_older_api_server_says_history_is_unavailable() {
    let mut view = standing_view();
    view.api.history_available = false;
    view.api.gates_fetched_ms = Some(NOW - 2 * DAY);
    let screen = draw(&standing_app(view.clone()), 80, 24);
    assert!(screen.contains("shown are as of 2 days ago"), "{screen}");
    assert!(
        screen.contains("Image gate, 7 days, as of 2 days ago"),
        "{screen}"
    );
    view.api.gates.clear();
    view.api.gates_fetched_ms = None;
    let screen = draw(&standing_app(view), 80, 24);
    assert!(screen.contains("history unavailable"), "{screen}");
    assert!(
        screen.contains("this API server is older and sends no gates"),
        "{screen}"
    );
}

/// Three miners: two answering (one with a budget reached), one gone unasked.
fn fleet() -> gas_console::app::fleet::Fleet {
    use gas_console::app::fleet::Fleet;
    let mut f = Fleet::new(
        ["alpha-hot1", "beta-hot2", "gamma-hot3"]
            .iter()
            .map(|n| (n.to_string(), PathBuf::from(format!("/srv/{n}/admin.sock"))))
            .collect(),
        NOW,
    );
    let hotkeys = [
        "5DfhGyQdFobKM8NsWvEeAKk5EQQgYe9AydgJ7rMB6E1EqRzV",
        "5HGjWAeFDfFCWPsjFQdVV2Msvz2XtMktvgocEZcCj68kUMaw",
        "5FLSigC9HGRKVhB9FiEo4Y3koPsNmBmLJbpXg2mp1hXcS59Y",
    ];
    for (i, hotkey) in hotkeys.iter().enumerate() {
        let mut s = status();
        s.name = f.members[i].name.clone();
        s.hotkey = hotkey.to_string();
        s.uid = Some(10 + i as u16);
        if i == 1 {
            s.providers.retain(|p| p.health != "open");
        }
        if let Some(st) = &mut s.standing {
            st.incentive = Some(0.0123 * (i + 1) as f64);
        }
        f.apply(i, NetEvent::Connected);
        f.apply(
            i,
            NetEvent::Event(Event::Snapshot {
                status: Box::new(s),
                tasks: Vec::new(),
            }),
        );
    }
    f.tick(NOW + 20_000);
    f.apply(
        2,
        NetEvent::Disconnected(
            "cannot reach the miner at /srv/gamma-hot3/admin.sock: connection refused".into(),
        ),
    );
    // The others keep talking.
    for i in 0..2 {
        let mut s = f.members[i].app.status.clone().expect("status");
        s.now_ms = NOW + 20_000;
        f.apply(i, NetEvent::Event(Event::Status(Box::new(s))));
    }
    f.tick(NOW + 80_000);
    for i in 0..2 {
        let mut s = f.members[i].app.status.clone().expect("status");
        s.now_ms = NOW + 80_000;
        f.apply(i, NetEvent::Event(Event::Status(Box::new(s))));
    }
    f
}

fn draw_fleet(f: &gas_console::app::fleet::Fleet, w: u16, h: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).expect("terminal");
    terminal
        .draw(|frame| match f.open {
            Some(i) => gas_console::ui::draw(frame, &f.members[i].app),
            None => gas_console::ui::fleet::draw(frame, f),
        })
        .expect("draw");
    format!("{}", terminal.backend())
}

#[test]
fn the_fleet_screen_has_a_row_per_miner_a_down_one_said_and_totals() {
    let mut f = fleet();
    insta::assert_snapshot!("fleet", draw_fleet(&f, 80, 24));
    insta::assert_snapshot!("fleet_large", draw_fleet(&f, 160, 48));
    let screen = draw_fleet(&f, 160, 48);
    let row = |name: &str| {
        screen
            .lines()
            .find(|l| l.contains(name))
            .unwrap_or_else(|| panic!("{name} in\n{screen}"))
            .to_string()
    };
    assert!(row("alpha-hot1").contains("live") && row("alpha-hot1").contains("runway is failing"));
    assert!(row("beta-hot2").contains("budget"), "{}", row("beta-hot2"));
    assert!(
        row("gamma-hot3").contains("DOWN 1m"),
        "{}",
        row("gamma-hot3")
    );
    assert!(screen.contains("Fleet: 3 miners, 2 answering"), "{screen}");
    // Totals count the miners that answer: two queues of 5 (3 waiting, 2 generating).
    let total = row("totals: the miners that answer");
    assert!(
        total.contains("2/3 up") && total.contains(" 10 "),
        "{total}"
    );

    // Enter opens a miner's own screens; F comes back; q quits.
    f.key(key(KeyCode::Down));
    f.key(key(KeyCode::Enter));
    assert_eq!(f.open, Some(1));
    let inside = draw_fleet(&f, 120, 36);
    assert!(
        inside.contains(" beta-hot2 ") && inside.contains("F fleet") && inside.contains("Queue"),
        "{inside}"
    );
    // A search being typed takes F as a letter.
    f.key(key(KeyCode::Char('2')));
    f.key(key(KeyCode::Char('/')));
    f.key(key(KeyCode::Char('F')));
    assert_eq!(f.open, Some(1));
    assert_eq!(f.members[1].app.filter.search, "F");
    f.key(key(KeyCode::Enter));
    f.key(key(KeyCode::Char('F')));
    assert_eq!(f.open, None);
    f.key(key(KeyCode::Char('q')));
    assert!(f.quit);
}

#[test]
fn a_task_entering_a_filtered_list_takes_its_place_by_age() {
    let mut a = app();
    a.filter.state = Some(TaskState::Delivered);
    a.apply(NetEvent::Tasks(TaskPage {
        tasks: vec![
            task(2, TaskState::Delivered, false),
            task(4, TaskState::Delivered, false),
        ],
        next: None,
    }));
    // Task 3, younger than 4 and older than 2, is delivered after both.
    a.apply(NetEvent::Event(Event::Task(Box::new(task(
        3,
        TaskState::Delivered,
        false,
    )))));
    // Task 6, the oldest, last.
    a.apply(NetEvent::Event(Event::Task(Box::new(task(
        6,
        TaskState::Delivered,
        false,
    )))));
    let shown: Vec<String> = a.tasks.iter().map(|t| t.task_id.clone()).collect();
    let want: Vec<String> = [2, 3, 4, 6]
        .into_iter()
        .map(|i| task(i, TaskState::Delivered, false).task_id)
        .collect();
    assert_eq!(shown, want, "newest first, by age");
}
