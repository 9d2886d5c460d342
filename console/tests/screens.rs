//! Every screen drawn into ratatui's `TestBackend` from a fixed state, compared with the
//! snapshots in `tests/snapshots` (review changes with `cargo insta review`, or accept them
//! with `INSTA_UPDATE=always`). 80×24 is the smallest terminal the console must fit.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use gas_console::app::{App, Screen};
use gas_console::net::{Command, NetEvent};
use gas_shared::admin::*;
use gas_shared::verdict::{C2paReport, Freshness, MediaReport, StatusCode, Verdict};
use gas_shared::{Modality, TaskState, Tier};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

const NOW: i64 = 1_764_000_000_000;

fn task(i: usize, state: TaskState, c2pa_failed: bool) -> TaskSummary {
    TaskSummary {
        task_id: format!("{i:08x}-4c1e-4f7a-9d1b-5e2f6a7b8c9d"),
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
        acceptance: Rates {
            hour: Rate {
                passed: 150,
                total: 160,
            },
            day: Rate {
                passed: 3600,
                total: 3800,
            },
        },
        providers: vec![
            ProviderStats {
                name: "openrouter".into(),
                calls: 1402,
                errors: 12,
                p50_ms: Some(8400),
                p95_ms: Some(21000),
                spend_usd: 187.22,
            },
            ProviderStats {
                name: "runway".into(),
                calls: 5230,
                errors: 3,
                p50_ms: Some(120),
                p95_ms: Some(900),
                spend_usd: 212.4,
            },
        ],
        validators: vec![
            ValidatorStats {
                hotkey: "5EHgWw2Af1pnoc7f1A8bfmM97W3DAYW8xr82RfhLL9oAabAe".into(),
                uid: Some(0),
                challenges: 812,
                accepted: 770,
                rejected: 30,
                last_rejection: Some("Duplicate image detected".into()),
            },
            ValidatorStats {
                hotkey: "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY".into(),
                uid: Some(9),
                challenges: 402,
                accepted: 400,
                rejected: 0,
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
                },
                ServiceInfo {
                    name: "openrouter".into(),
                    image: true,
                    video: true,
                    key_set: true,
                },
                ServiceInfo {
                    name: "stabilityai".into(),
                    image: true,
                    video: false,
                    key_set: true,
                },
                ServiceInfo {
                    name: "runway".into(),
                    image: false,
                    video: true,
                    key_set: true,
                },
            ],
            overridden: false,
        },
        trust_anchors: 9,
        admin_socket: "/root/.local/share/gas-miner/admin.sock".into(),
        demo: false,
        pid: 4242,
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
fn dashboard_large() {
    insta::assert_snapshot!(draw(&app(), 120, 36));
}

#[test]
fn tasks_and_the_failed_c2pa_jump() {
    let mut a = app();
    a.key(key(KeyCode::Char('2')));
    insta::assert_snapshot!("tasks", draw(&a, 80, 24));
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
    a.key(key(KeyCode::Char('?')));
    insta::assert_snapshot!("help", draw(&a, 80, 24));
}

#[test]
fn the_miner_going_away_is_said_and_its_return_too() {
    let mut a = app();
    a.apply(NetEvent::Disconnected(
        "cannot reach the miner at /x/admin.sock: Connection refused".into(),
    ));
    a.tick(NOW + 5_000);
    insta::assert_snapshot!("disconnected", draw(&a, 80, 24));
    a.apply(NetEvent::Connected);
    assert!(draw(&a, 80, 24).contains("reconnected"));
}
