//! Prometheus metrics (text format 0.0.4), served at `/metrics` on the admin socket and, when
//! `MINER_METRICS_ADDR` is set, on that TCP address: tasks by state, provider calls, errors,
//! latency, spend and health, webhook outcomes per validator, pre-flight verdicts.

use gas_shared::admin::Status;
use gas_shared::standing::StandingView;
use std::fmt::Write;
use std::net::SocketAddr;

/// The content type of the text format.
pub(crate) const CONTENT_TYPE: &str = "text/plain; version=0.0.4";

/// `MINER_METRICS_ADDR` could not be listened on.
#[derive(Debug, thiserror::Error)]
#[error("MINER_METRICS_ADDR={addr}: cannot listen ({source}); pick a free address or unset it")]
pub(crate) struct ListenError {
    addr: SocketAddr,
    source: std::io::Error,
}

/// Serves `GET /metrics` on `addr` in the background, each answer made by `render`.
pub(crate) async fn serve_tcp(
    addr: SocketAddr,
    render: impl Fn() -> String + Clone + Send + Sync + 'static,
) -> Result<(), ListenError> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ListenError { addr, source })?;
    tracing::info!(%addr, "Prometheus metrics on http://{addr}/metrics");
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let render = render.clone();
            async move { ([("content-type", CONTENT_TYPE)], render()) }
        }),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(())
}

fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', " ")
}

/// `gas_requests_refused_total{reason}`: requests refused before they were challenges
/// (Epistula checks, body size), by reason, since the miner started.
pub(crate) fn requests_refused(totals: &[(String, u64)]) -> String {
    let mut text = String::from(
        "# HELP gas_requests_refused_total Requests refused before they were challenges (bad or missing signature, unknown signer, stale, replayed, too big), by reason, since the miner started.\n# TYPE gas_requests_refused_total counter\n",
    );
    for (reason, n) in totals {
        let _ = writeln!(
            text,
            "gas_requests_refused_total{{reason=\"{}\"}} {n}",
            label(reason)
        );
    }
    text
}

/// `gas_db_commit_seconds`: how long each group commit (one fsync, which every 201 waits
/// for) took since the miner started, as a Prometheus histogram: `at_most` pairs each bound
/// (ms) with the commits at or under it.
pub(crate) fn commit_times(at_most: &[(u64, u64)], count: u64, sum_ms: f64, max_ms: f64) -> String {
    let mut text = String::from(
        "# HELP gas_db_commit_seconds Group commits of the state database (one fsync each; every 201 waits for one) by time taken, since the miner started.\n# TYPE gas_db_commit_seconds histogram\n",
    );
    for (bound, n) in at_most {
        let _ = writeln!(
            text,
            "gas_db_commit_seconds_bucket{{le=\"{}\"}} {n}",
            *bound as f64 / 1000.0
        );
    }
    let _ = writeln!(
        text,
        "gas_db_commit_seconds_bucket{{le=\"+Inf\"}} {count}\ngas_db_commit_seconds_sum {}\ngas_db_commit_seconds_count {count}",
        sum_ms / 1000.0,
    );
    let _ = writeln!(
        text,
        "# HELP gas_db_commit_max_seconds The slowest group commit since the miner started.\n# TYPE gas_db_commit_max_seconds gauge\ngas_db_commit_max_seconds {}",
        max_ms / 1000.0
    );
    text
}

/// The metrics text for a status snapshot and the standing.
pub(crate) fn render(s: &Status, running: usize, standing: &StandingView) -> String {
    let mut text = String::new();
    let mut push = |name: &str, kind: &str, help: &str, samples: Vec<(String, String)>| {
        let _ = writeln!(text, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (labels, value) in samples {
            if labels.is_empty() {
                let _ = writeln!(text, "{name} {value}");
            } else {
                let _ = writeln!(text, "{name}{{{labels}}} {value}");
            }
        }
    };
    push(
        "gas_tasks",
        "gauge",
        "Tasks in the store by state and modality.",
        s.queue
            .iter()
            .map(|q| {
                (
                    format!("state=\"{}\",modality=\"{}\"", q.state, q.modality),
                    q.count.to_string(),
                )
            })
            .collect(),
    );
    push(
        "gas_generations_running",
        "gauge",
        "Generations in progress.",
        vec![(String::new(), running.to_string())],
    );
    push(
        "gas_provider_calls_total",
        "counter",
        "Provider API calls.",
        s.providers
            .iter()
            .map(|p| {
                (
                    format!("provider=\"{}\"", label(&p.name)),
                    p.calls.to_string(),
                )
            })
            .collect(),
    );
    push(
        "gas_provider_errors_total",
        "counter",
        "Provider API calls that failed.",
        s.providers
            .iter()
            .map(|p| {
                (
                    format!("provider=\"{}\"", label(&p.name)),
                    p.errors.to_string(),
                )
            })
            .collect(),
    );
    push(
        "gas_provider_latency_ms",
        "gauge",
        "Provider call latency over recent calls, by quantile.",
        s.providers
            .iter()
            .flat_map(|p| {
                [("0.5", p.p50_ms), ("0.95", p.p95_ms)]
                    .into_iter()
                    .filter_map(|(q, v)| {
                        v.map(|v| {
                            (
                                format!("provider=\"{}\",quantile=\"{q}\"", label(&p.name)),
                                v.to_string(),
                            )
                        })
                    })
                    .collect::<Vec<_>>()
            })
            .collect(),
    );
    push(
        "gas_provider_spend_usd_total",
        "counter",
        "Estimated provider spend at list prices.",
        s.providers
            .iter()
            .map(|p| {
                (
                    format!("provider=\"{}\"", label(&p.name)),
                    format!("{:.4}", p.spend_usd),
                )
            })
            .collect(),
    );
    push(
        "gas_provider_health",
        "gauge",
        "Each provider model's circuit breaker: 1 for its state (ok, open: skipped by the fallback chains, half-open: one probe out), 0 for the others.",
        s.providers
            .iter()
            .flat_map(|p| {
                p.models.iter().flat_map(|m| {
                    ["ok", "open", "half-open"].map(|state| {
                        (
                            format!(
                                "provider=\"{}\",model=\"{}\",state=\"{state}\"",
                                label(&p.name),
                                label(&m.model)
                            ),
                            u8::from(m.health == state).to_string(),
                        )
                    })
                })
            })
            .collect(),
    );
    push(
        "gas_validator_challenges_total",
        "counter",
        "Challenges accepted, per validator.",
        s.validators
            .iter()
            .map(|v| {
                (
                    format!("validator=\"{}\"", label(&v.hotkey)),
                    v.challenges.to_string(),
                )
            })
            .collect(),
    );
    push(
        "gas_webhooks_total",
        "counter",
        "Validators' final replies to our webhooks by what they mean: passed (v4.9.x 200, Stage A passed), taken (v5 202, verdict unknown: not a pass), rejected (4xx with a reason), ignored (task unknown or already processed), recorded (a failure report taken).",
        s.validators
            .iter()
            .flat_map(|v| {
                let r = &v.replies;
                [
                    ("passed", r.passed),
                    ("taken", r.taken),
                    ("rejected", r.rejected),
                    ("ignored", r.ignored),
                    ("recorded", r.failures),
                ]
                .map(|(outcome, n)| {
                    (
                        format!("validator=\"{}\",outcome=\"{outcome}\"", label(&v.hotkey)),
                        n.to_string(),
                    )
                })
            })
            .collect(),
    );
    push(
        "gas_challenges_refused_total",
        "counter",
        "Challenges we refused with a 503 before the 201, per validator (v5: no_answer, not a failure).",
        s.validators
            .iter()
            .map(|v| {
                (
                    format!("validator=\"{}\"", label(&v.hotkey)),
                    v.refused.to_string(),
                )
            })
            .collect(),
    );
    push(
        "gas_challenges_refused_by_reason_total",
        "counter",
        "Challenges we refused with a 503 before the 201, by reason (no_service, no_provider, budget, wait), since the database was made.",
        s.refusals
            .total
            .iter()
            .map(|(r, n)| (format!("reason=\"{}\"", label(r)), n.to_string()))
            .collect(),
    );
    push(
        "gas_spend_usd_24h",
        "gauge",
        "Estimated provider spend over the last 24 hours (price table's list prices), by scope: all, image, video.",
        s.budget
            .iter()
            .map(|b| {
                (
                    format!("scope=\"{}\"", label(&b.scope)),
                    b.spent_usd.to_string(),
                )
            })
            .collect(),
    );
    push(
        "gas_budget_usd_24h",
        "gauge",
        "The spend budget per rolling 24 hours, by scope (only those set: MINER_BUDGET_USD_PER_DAY[_IMAGE|_VIDEO]).",
        s.budget
            .iter()
            .filter_map(|b| {
                b.limit_usd
                    .map(|l| (format!("scope=\"{}\"", label(&b.scope)), l.to_string()))
            })
            .collect(),
    );
    push(
        "gas_preflight_verdicts",
        "gauge",
        "Pre-flight verdicts over the last hour and day.",
        [("1h", &s.preflight.hour), ("24h", &s.preflight.day)]
            .into_iter()
            .flat_map(|(w, r)| {
                [
                    (
                        format!("window=\"{w}\",result=\"passed\""),
                        r.passed.to_string(),
                    ),
                    (
                        format!("window=\"{w}\",result=\"failed\""),
                        (r.total - r.passed.min(r.total)).to_string(),
                    ),
                ]
            })
            .collect(),
    );
    push(
        "gas_challenges_accepted_last_hour",
        "gauge",
        "Challenges accepted in the last hour.",
        vec![(String::new(), s.throughput.accepted_last_hour.to_string())],
    );
    push(
        "gas_metagraph_age_seconds",
        "gauge",
        "Age of the metagraph in use.",
        vec![(String::new(), s.metagraph.age_s.to_string())],
    );
    push(
        "gas_metagraph_stale",
        "gauge",
        "1 when the last metagraph sync failed.",
        vec![(String::new(), u8::from(s.metagraph.stale).to_string())],
    );
    push(
        "gas_registered",
        "gauge",
        "1 when our hotkey is registered on the subnet.",
        vec![(String::new(), u8::from(s.registered).to_string())],
    );
    push(
        "gas_demo",
        "gauge",
        "1 when this is `gas-miner demo`: nothing in it is real.",
        vec![(String::new(), u8::from(s.demo).to_string())],
    );
    push(
        "gas_trust_anchors",
        "gauge",
        "Trust anchors loaded.",
        vec![(String::new(), s.trust_anchors.to_string())],
    );
    let v = standing;
    let gates = &v.api.gates;
    let modality =
        |g: &gas_shared::standing::Gate| g.modality.map_or("unknown", |m| m.as_str()).to_string();
    push(
        "gas_standing_fool_rate",
        "gauge",
        "Fool rate per modality over the gate's 7 days, from the subnet's API (see gas_standing_snapshot_age_seconds).",
        gates
            .iter()
            .filter_map(|g| {
                Some((
                    format!("modality=\"{}\"", modality(g)),
                    g.fool_rate?.to_string(),
                ))
            })
            .collect(),
    );
    push(
        "gas_standing_gate_qualified",
        "gauge",
        "1 when the modality's fool-rate gate holds (it pays), from the subnet's API.",
        gates
            .iter()
            .map(|g| {
                (
                    format!(
                        "modality=\"{}\",status=\"{}\"",
                        modality(g),
                        label(&g.status)
                    ),
                    u8::from(g.qualified()).to_string(),
                )
            })
            .collect(),
    );
    push(
        "gas_standing_gate_evaluations",
        "gauge",
        "Discriminator evaluations of our media in the gate's 7 days (20 needed).",
        gates
            .iter()
            .map(|g| {
                (
                    format!("modality=\"{}\"", modality(g)),
                    g.evaluations.to_string(),
                )
            })
            .collect(),
    );
    push(
        "gas_standing_api_pass_rate",
        "gauge",
        "Each validator's pass rate of our outcomes (~24 h) as uploaded to the subnet's API.",
        v.api
            .validators
            .iter()
            .filter_map(|a| {
                Some((
                    format!("validator=\"{}\"", label(&a.hotkey)),
                    a.pass_rate?.to_string(),
                ))
            })
            .collect(),
    );
    push(
        "gas_standing_snapshot_age_seconds",
        "gauge",
        "Age of the last good snapshot from the subnet's API (absent: never read).",
        v.api
            .fetched_ms
            .map(|at| vec![(String::new(), ((v.now_ms - at) / 1000).to_string())])
            .unwrap_or_default(),
    );
    push(
        "gas_standing_api_up",
        "gauge",
        "1 when the last read of the subnet's API succeeded.",
        v.api
            .tried_ms
            .map(|_| vec![(String::new(), u8::from(v.api.error.is_none()).to_string())])
            .unwrap_or_default(),
    );
    push(
        "gas_standing_incentive",
        "gauge",
        "Our incentive on chain (0..1) at the last read of the chain.",
        v.chain
            .incentive
            .map(|i| vec![(String::new(), i.to_string())])
            .unwrap_or_default(),
    );
    push(
        "gas_standing_estimate_base",
        "gauge",
        "ESTIMATE: the validators' base = p × volume × multiplier per modality, on our own outcomes of the last 24 h (p partly from our pre-flight where validators do not say).",
        v.estimate
            .modalities
            .iter()
            .filter_map(|m| Some((format!("modality=\"{}\"", m.modality?), m.base.to_string())))
            .collect(),
    );
    push(
        "gas_standing_estimate_r",
        "gauge",
        "ESTIMATE: v5 R = 0.30·base_image·[image gate] + 0.70·base_video·[video gate] (absent while a gate is unknown).",
        v.estimate
            .r
            .map(|r| vec![(String::new(), r.to_string())])
            .unwrap_or_default(),
    );
    push(
        "gas_standing_spend_per_verified_usd",
        "gauge",
        "Spend per verified outcome over the last 24 h, per provider, model and tier (verified partly estimated).",
        v.estimate
            .spend
            .iter()
            .filter_map(|l| {
                Some((
                    format!(
                        "provider=\"{}\",model=\"{}\",tier=\"{}\"",
                        label(&l.provider),
                        label(&l.model),
                        label(&l.tier)
                    ),
                    l.per_verified_usd?.to_string(),
                ))
            })
            .collect(),
    );
    push(
        "gas_uptime_seconds",
        "gauge",
        "Seconds since the miner started.",
        vec![(
            String::new(),
            ((s.now_ms - s.started_ms) / 1000).to_string(),
        )],
    );
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use gas_shared::admin::*;
    use gas_shared::{Modality, TaskState};

    #[test]
    fn commit_times_are_a_prometheus_histogram_in_seconds() {
        let bounds = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000];
        let at_most: Vec<(u64, u64)> = bounds
            .into_iter()
            .zip([1, 1, 1, 1, 1, 2, 2, 2, 2, 2])
            .collect();
        let text = commit_times(&at_most, 3, 1530.5, 1500.0);
        for line in [
            "# TYPE gas_db_commit_seconds histogram",
            "gas_db_commit_seconds_bucket{le=\"0.001\"} 1",
            "gas_db_commit_seconds_bucket{le=\"0.05\"} 2",
            "gas_db_commit_seconds_bucket{le=\"1\"} 2",
            "gas_db_commit_seconds_bucket{le=\"+Inf\"} 3",
            "gas_db_commit_seconds_sum 1.5305",
            "gas_db_commit_seconds_count 3",
            "gas_db_commit_max_seconds 1.5",
        ] {
            assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
        }
    }

    #[test]
    fn the_text_has_each_family_with_its_samples() {
        let s = Status {
            queue: vec![QueueCount {
                state: TaskState::Delivered,
                modality: Modality::Image,
                count: 7,
            }],
            providers: vec![ProviderStats {
                name: "openrouter".into(),
                calls: 9,
                errors: 1,
                p50_ms: Some(80),
                p95_ms: None,
                spend_usd: 1.5,
                health: "open".into(),
                models: vec![ModelHealth {
                    model: "m/x".into(),
                    health: "open".into(),
                    ..ModelHealth::default()
                }],
                ..ProviderStats::default()
            }],
            validators: vec![ValidatorStats {
                hotkey: "5V".into(),
                uid: Some(0),
                challenges: 4,
                refused: 2,
                replies: gas_shared::reply::ReplyCounts {
                    taken: 3,
                    rejected: 1,
                    ..Default::default()
                },
                last_rejection: None,
            }],
            refusals: Refusals {
                total: vec![("wait".into(), 5)],
                ..Refusals::default()
            },
            preflight: Rates {
                hour: Rate {
                    passed: 3,
                    total: 4,
                },
                day: Rate {
                    passed: 3,
                    total: 4,
                },
            },
            ..Status::default()
        };
        let standing = StandingView {
            now_ms: 10_000,
            api: gas_shared::standing::ApiStanding {
                fetched_ms: Some(4_000),
                tried_ms: Some(4_000),
                gates: vec![gas_shared::standing::Gate {
                    modality: Some(gas_shared::Modality::Video),
                    status: "below_threshold".into(),
                    fool_rate: Some(0.005),
                    evaluations: 40,
                    ..Default::default()
                }],
                ..Default::default()
            },
            ..Default::default()
        };
        let text = render(&s, 2, &standing);
        for line in [
            "gas_tasks{state=\"delivered\",modality=\"image\"} 7",
            "gas_generations_running 2",
            "gas_provider_errors_total{provider=\"openrouter\"} 1",
            "gas_provider_health{provider=\"openrouter\",model=\"m/x\",state=\"open\"} 1",
            "gas_provider_health{provider=\"openrouter\",model=\"m/x\",state=\"ok\"} 0",
            "gas_provider_latency_ms{provider=\"openrouter\",quantile=\"0.5\"} 80",
            "gas_webhooks_total{validator=\"5V\",outcome=\"rejected\"} 1",
            "gas_webhooks_total{validator=\"5V\",outcome=\"taken\"} 3",
            "gas_webhooks_total{validator=\"5V\",outcome=\"passed\"} 0",
            "gas_challenges_refused_total{validator=\"5V\"} 2",
            "gas_challenges_refused_by_reason_total{reason=\"wait\"} 5",
            "gas_preflight_verdicts{window=\"1h\",result=\"failed\"} 1",
            "# TYPE gas_provider_spend_usd_total counter",
            "gas_standing_fool_rate{modality=\"video\"} 0.005",
            "gas_standing_gate_qualified{modality=\"video\",status=\"below_threshold\"} 0",
            "gas_standing_snapshot_age_seconds 6",
            "gas_standing_api_up 1",
        ] {
            assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
        }
    }
}
