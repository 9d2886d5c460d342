//! Prometheus metrics (text format 0.0.4), served at `/metrics` on the admin socket and, when
//! `MINER_METRICS_ADDR` is set, on that TCP address: tasks by state, provider calls, errors,
//! latency and spend, webhook outcomes per validator, pre-flight verdicts.

use gas_shared::admin::Status;
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

/// The metrics text for a status snapshot.
pub(crate) fn render(s: &Status, running: usize) -> String {
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
        "Success webhooks per validator: accepted (2xx) or rejected (4xx).",
        s.validators
            .iter()
            .flat_map(|v| {
                [
                    (
                        format!("validator=\"{}\",outcome=\"accepted\"", label(&v.hotkey)),
                        v.accepted.to_string(),
                    ),
                    (
                        format!("validator=\"{}\",outcome=\"rejected\"", label(&v.hotkey)),
                        v.rejected.to_string(),
                    ),
                ]
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
            }],
            validators: vec![ValidatorStats {
                hotkey: "5V".into(),
                uid: Some(0),
                challenges: 4,
                accepted: 3,
                rejected: 1,
                last_rejection: None,
            }],
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
        let text = render(&s, 2);
        for line in [
            "gas_tasks{state=\"delivered\",modality=\"image\"} 7",
            "gas_generations_running 2",
            "gas_provider_errors_total{provider=\"openrouter\"} 1",
            "gas_provider_latency_ms{provider=\"openrouter\",quantile=\"0.5\"} 80",
            "gas_webhooks_total{validator=\"5V\",outcome=\"rejected\"} 1",
            "gas_preflight_verdicts{window=\"1h\",result=\"failed\"} 1",
            "# TYPE gas_provider_spend_usd_total counter",
        ] {
            assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
        }
    }
}
