//! Provider health: a circuit breaker per provider and model, so that a fallback chain stops
//! asking a service that is down, whose key was refused or whose credit ran out, and asks it
//! again, once, after a pause.
//!
//! A breaker opens after [`OUTAGE_RUN`] attempts in a row ended in an outage (5xx, timeout,
//! connection error; each attempt already retried by `Call`), at once on a refused key (401,
//! 403 that is not a content refusal) or on an exhausted credit (402, a quota answer), and on a
//! 429 whose `Retry-After` is longer than `Call` would wait (open until then). After the pause
//! it is half-open: one task is let through (its billed call tried once), and its result
//! closes the breaker or opens it again for twice the pause, up to [`MAX_PAUSE`]. A content
//! refusal or any other answer from the provider proves it is up; a pre-flight failure is
//! never seen here. The pipeline admits each attempt ([`Health::admit`]) and reports how its
//! generation ended through the [`Permit`]; every state change is one log line.

use super::{ProviderError, registry};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Outage attempts in a row that open a breaker.
pub(crate) const OUTAGE_RUN: u32 = 3;
/// The longest pause between probes.
pub(crate) const MAX_PAUSE: Duration = Duration::from_secs(600);
/// A `Retry-After` longer than this opens the breaker (`Call` waits at most this long).
pub(crate) const LONG_RETRY_AFTER: Duration = Duration::from_secs(60);

/// What one attempt's generation says about its provider's health.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Signal {
    /// It made something (whatever pre-flight later says of it).
    Healthy,
    /// It answered with a refusal of this request (a content refusal, a bad parameter): up.
    Answered,
    /// Nothing learned (a short rate limit, a malformed answer, a failed job).
    Inconclusive,
    /// Down: a 5xx, a timeout, no connection.
    Outage(String),
    /// Open at once: the key was refused, or the credit ran out.
    Refused(String),
    /// Open until the provider said to come back.
    RateLimited { reason: String, wait: Duration },
}

impl Signal {
    /// How a failed generation of `provider` reads.
    pub(crate) fn of(provider: &str, e: &ProviderError) -> Signal {
        let lower = e.message.to_lowercase();
        let said = |words: &[&str]| words.iter().any(|w| lower.contains(w));
        let refusal = said(&["moderation", "flagged", "safety", "policy", "refused by"]);
        let quota = said(&["quota", "credit", "billing", "insufficient"]);
        let key_var = registry::Service::parse(provider).map(|s| s.key_var());
        // Google answers a bad key with 400 INVALID_ARGUMENT.
        let bad_key = said(&["api key not valid", "api_key_invalid"]);
        match e.status {
            Some(400) if bad_key => Signal::Refused(match key_var {
                Some(var) => format!("the API key was refused: check {var}"),
                None => "the API key was refused".to_string(),
            }),
            Some(s @ (401 | 403)) if s == 401 || !refusal => Signal::Refused(match key_var {
                Some(var) => format!("the API key was refused (HTTP {s}): check {var}"),
                None => format!("the API key was refused (HTTP {s})"),
            }),
            Some(402) => Signal::Refused(format!("out of credit (HTTP 402): {}", e.message)),
            // A wait the provider named decides: a short one is a pace to keep (Google's
            // per-minute quotas say "quota" too), a long one keeps the breaker open that long
            // (Google's per-day quota: until midnight Pacific).
            Some(429) => match e.retry_after {
                Some(wait) if wait > LONG_RETRY_AFTER => Signal::RateLimited {
                    reason: if quota {
                        format!(
                            "out of quota for {} h: {}",
                            wait.as_secs().div_ceil(3600),
                            e.message
                        )
                    } else {
                        format!("rate limited: Retry-After {} s", wait.as_secs())
                    },
                    wait,
                },
                Some(_) => Signal::Inconclusive,
                None if quota => Signal::Refused(format!("out of quota: {}", e.message)),
                None => Signal::Inconclusive,
            },
            Some(s) if s == 408 || s >= 500 => Signal::Outage(e.message.clone()),
            Some(s) if (400..500).contains(&s) => Signal::Answered,
            None if e.unreachable => Signal::Outage(e.message.clone()),
            _ => Signal::Inconclusive,
        }
    }
}

/// A breaker's state.
#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    Closed,
    Open {
        until: Instant,
    },
    /// One probe is out; nothing else is let through until it reports.
    HalfOpen,
}

#[derive(Debug, Clone)]
struct Breaker {
    state: State,
    /// Outage attempts in a row while closed.
    outages: u32,
    /// The pause after the latest opening (doubles on each failed probe).
    pause: Duration,
    /// Why it opened; kept while it is not closed.
    reason: Option<String>,
}

/// How a breaker looks from outside (`/status`, `/metrics`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct BreakerView {
    pub provider: String,
    pub model: String,
    /// `ok`, `open` or `half-open`.
    pub state: &'static str,
    pub reason: Option<String>,
    /// When the next probe may go (wall clock), while open.
    pub open_until_ms: Option<i64>,
}

/// Every provider and model's breaker.
#[derive(Debug)]
pub(crate) struct Health {
    /// The first pause after a breaker opens (`MINER_BREAKER_PAUSE`).
    pause: Duration,
    breakers: Mutex<HashMap<(String, String), Breaker>>,
}

/// Leave to make one attempt; a probe when the breaker was half-open. Report how the
/// generation ended; a probe dropped without a report frees the slot for another.
#[must_use]
pub(crate) struct Permit {
    health: Arc<Health>,
    key: (String, String),
    probe: bool,
    reported: bool,
}

impl Permit {
    /// Whether this attempt is the one probe of a half-open breaker.
    pub(crate) fn probe(&self) -> bool {
        self.probe
    }

    pub(crate) fn report(mut self, signal: Signal) {
        self.reported = true;
        self.health
            .report_at(&self.key, self.probe, signal, Instant::now());
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if self.probe && !self.reported {
            self.health
                .report_at(&self.key, true, Signal::Inconclusive, Instant::now());
        }
    }
}

impl Health {
    pub(crate) fn new(pause: Duration) -> Arc<Health> {
        Arc::new(Health {
            pause: pause.min(MAX_PAUSE),
            breakers: Mutex::default(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), Breaker>> {
        self.breakers.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Leave to ask `provider` for `model` now, or why not. `paid`: a job already paid for
    /// (resumed after a restart) is always let through, as no probe.
    pub(crate) fn admit(
        self: &Arc<Self>,
        provider: &str,
        model: &str,
        paid: bool,
    ) -> Result<Permit, String> {
        self.admit_at(provider, model, paid, Instant::now())
    }

    fn admit_at(
        self: &Arc<Self>,
        provider: &str,
        model: &str,
        paid: bool,
        now: Instant,
    ) -> Result<Permit, String> {
        let key = (provider.to_string(), model.to_string());
        let mut probe = false;
        if !paid && let Some(b) = self.lock().get_mut(&key) {
            let why = b.reason.clone().unwrap_or_default();
            match b.state {
                State::Closed => {}
                State::Open { until } if now >= until => {
                    b.state = State::HalfOpen;
                    probe = true;
                    tracing::info!(provider, model, reason = %why, "provider breaker half-open: one probe let through");
                }
                State::Open { .. } => return Err(format!("breaker open: {why}")),
                State::HalfOpen => {
                    return Err(format!("breaker half-open, probe in flight: {why}"));
                }
            }
        }
        Ok(Permit {
            health: self.clone(),
            key,
            probe,
            reported: false,
        })
    }

    fn report_at(&self, key: &(String, String), probe: bool, signal: Signal, now: Instant) {
        let mut breakers = self.lock();
        let b = breakers.entry(key.clone()).or_insert(Breaker {
            state: State::Closed,
            outages: 0,
            pause: self.pause,
            reason: None,
        });
        let (provider, model) = (key.0.as_str(), key.1.as_str());
        let failure = match signal {
            Signal::Healthy | Signal::Answered => {
                b.outages = 0;
                b.pause = self.pause;
                if b.state != State::Closed {
                    b.state = State::Closed;
                    b.reason = None;
                    tracing::info!(provider, model, "provider breaker closed: it answers again");
                }
                return;
            }
            Signal::Inconclusive => {
                if probe && b.state == State::HalfOpen {
                    // Nothing learned: the next task probes.
                    b.state = State::Open { until: now };
                }
                return;
            }
            Signal::Outage(why) if b.state == State::Closed => {
                b.outages += 1;
                if b.outages < OUTAGE_RUN {
                    return;
                }
                (format!("{} outages in a row; last: {why}", b.outages), None)
            }
            Signal::Outage(why) => (format!("the probe failed: {why}"), None),
            Signal::Refused(why) => (why, None),
            Signal::RateLimited { reason, wait } => (reason, Some(wait)),
        };
        let (reason, wait) = failure;
        let pause = match b.state {
            State::Closed => self.pause,
            State::HalfOpen if probe => (b.pause * 2).min(MAX_PAUSE),
            // A late failure of an attempt let in before the breaker opened: already open.
            _ => return,
        };
        // A rate limit says when to come back; anything else waits the pause.
        let wait = wait.unwrap_or(pause);
        b.pause = pause;
        b.state = State::Open { until: now + wait };
        b.reason = Some(reason.clone());
        tracing::warn!(provider, model, reason = %reason, retry_in_s = wait.as_secs(), "provider breaker open: the chain skips it until then");
    }

    /// Whether `provider` may serve a new task now: false only when it has breakers and every
    /// one of them is open with its pause not yet over (half-open counts as able). Breakers are
    /// per model; admission does not plan the task, so one able model is enough.
    pub(crate) fn able(&self, provider: &str) -> bool {
        let now = Instant::now();
        let breakers = self.lock();
        let mut seen = false;
        for ((p, _), b) in breakers.iter() {
            if p != provider {
                continue;
            }
            seen = true;
            match b.state {
                State::Open { until } if now < until => {}
                _ => return true,
            }
        }
        !seen
    }

    /// Every breaker that has seen a report, by provider and model.
    pub(crate) fn views(&self) -> Vec<BreakerView> {
        let now = Instant::now();
        let now_ms = crate::clock::now_ms();
        let mut out: Vec<BreakerView> = self
            .lock()
            .iter()
            .map(|((provider, model), b)| {
                let (state, open_until_ms) = match b.state {
                    State::Closed => ("ok", None),
                    State::Open { until } => (
                        "open",
                        Some(now_ms + until.saturating_duration_since(now).as_millis() as i64),
                    ),
                    State::HalfOpen => ("half-open", None),
                };
                BreakerView {
                    provider: provider.clone(),
                    model: model.clone(),
                    state,
                    reason: b.reason.clone(),
                    open_until_ms,
                }
            })
            .collect();
        out.sort_by(|a, b| (&a.provider, &a.model).cmp(&(&b.provider, &b.model)));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAUSE: Duration = Duration::from_secs(30);

    fn outage() -> Signal {
        Signal::Outage("HTTP 500: down".into())
    }

    fn state(h: &Health) -> State {
        h.lock()[&("openrouter".to_string(), "m".to_string())].state
    }

    fn report(h: &Arc<Health>, signal: Signal, now: Instant) {
        let p = h.admit_at("openrouter", "m", false, now).expect("admitted");
        let key = p.key.clone();
        let probe = p.probe;
        std::mem::forget(p);
        h.report_at(&key, probe, signal, now);
    }

    #[test]
    fn a_provider_is_able_unless_every_breaker_of_it_is_open_and_still_pausing() {
        let h = Health::new(PAUSE);
        assert!(h.able("openrouter"), "never seen: able");
        let t = Instant::now();
        report(&h, Signal::Refused("key".into()), t);
        assert!(!h.able("openrouter"), "its only breaker is open");
        assert!(h.able("openai"), "another provider");
        report_model(&h, "other", Signal::Healthy, t);
        assert!(h.able("openrouter"), "one model still closed");
        let h = Health::new(Duration::ZERO);
        report(&h, Signal::Refused("key".into()), t);
        assert!(h.able("openrouter"), "the pause is over: a probe may go");
    }

    fn report_model(h: &Arc<Health>, model: &str, signal: Signal, now: Instant) {
        let p = h
            .admit_at("openrouter", model, false, now)
            .expect("admitted");
        let key = p.key.clone();
        std::mem::forget(p);
        h.report_at(&key, false, signal, now);
    }

    #[test]
    fn three_outages_in_a_row_open_it_and_an_answer_in_between_resets_the_count() {
        let h = Health::new(PAUSE);
        let t = Instant::now();
        report(&h, outage(), t);
        report(&h, outage(), t);
        report(&h, Signal::Answered, t);
        report(&h, outage(), t);
        report(&h, outage(), t);
        assert_eq!(state(&h), State::Closed);
        report(&h, outage(), t);
        assert_eq!(state(&h), State::Open { until: t + PAUSE });
        let err = h
            .admit_at("openrouter", "m", false, t)
            .err()
            .expect("skipped");
        assert!(err.contains("3 outages in a row; last: HTTP 500"), "{err}");
        assert!(
            h.admit_at("openrouter", "other-model", false, t).is_ok(),
            "per model"
        );
        assert!(
            h.admit_at("openrouter", "m", true, t).is_ok(),
            "paid jobs go on"
        );
    }

    #[test]
    fn after_the_pause_exactly_one_probe_goes_and_its_result_decides() {
        let h = Health::new(PAUSE);
        let t = Instant::now();
        report(&h, Signal::Refused("the API key was refused".into()), t);
        let later = t + PAUSE;
        let probe = h.admit_at("openrouter", "m", false, later).expect("probe");
        assert!(probe.probe());
        assert!(
            h.admit_at("openrouter", "m", false, later).is_err(),
            "only one"
        );
        h.report_at(&probe.key.clone(), true, outage(), later);
        std::mem::forget(probe);
        assert_eq!(
            state(&h),
            State::Open {
                until: later + PAUSE * 2
            },
            "a failed probe doubles the pause"
        );
        let again = later + PAUSE * 2;
        let probe = h.admit_at("openrouter", "m", false, again).expect("probe");
        h.report_at(&probe.key.clone(), true, Signal::Healthy, again);
        std::mem::forget(probe);
        assert_eq!(state(&h), State::Closed);
        assert!(h.views()[0].reason.is_none());
    }

    #[test]
    fn the_pause_doubles_up_to_ten_minutes() {
        let h = Health::new(PAUSE);
        let mut t = Instant::now();
        report(&h, Signal::Refused("no".into()), t);
        for _ in 0..10 {
            let State::Open { until } = state(&h) else {
                panic!("open")
            };
            t = until;
            report(&h, outage(), t);
        }
        assert_eq!(
            state(&h),
            State::Open {
                until: t + MAX_PAUSE
            }
        );
    }

    #[test]
    fn a_dropped_probe_frees_the_slot() {
        let h = Health::new(PAUSE);
        let t = Instant::now();
        report(&h, Signal::Refused("no".into()), t);
        drop(
            h.admit_at("openrouter", "m", false, t + PAUSE)
                .expect("probe"),
        );
        let next = h
            .admit_at("openrouter", "m", false, t + PAUSE)
            .expect("another probe");
        assert!(next.probe());
        std::mem::forget(next);
    }

    #[test]
    fn a_long_retry_after_opens_it_until_then() {
        let h = Health::new(PAUSE);
        let t = Instant::now();
        let e = ProviderError {
            message: "HTTP 429: slow down".into(),
            status: Some(429),
            retry_after: Some(Duration::from_secs(300)),
            ..ProviderError::default()
        };
        report(&h, Signal::of("openrouter", &e), t);
        assert_eq!(
            state(&h),
            State::Open {
                until: t + Duration::from_secs(300)
            }
        );
        let short = ProviderError {
            retry_after: Some(Duration::from_secs(5)),
            ..e
        };
        assert_eq!(Signal::of("openrouter", &short), Signal::Inconclusive);
    }

    #[test]
    fn errors_read_as_their_kind() {
        let e = |status: Option<u16>, message: &str| ProviderError {
            message: message.into(),
            status,
            ..ProviderError::default()
        };
        let Signal::Refused(why) = Signal::of("openrouter", &e(Some(401), "No auth")) else {
            panic!("a refused key")
        };
        assert!(why.contains("OPEN_ROUTER_API_KEY"), "{why}");
        assert!(matches!(
            Signal::of("openai", &e(Some(402), "pay")),
            Signal::Refused(_)
        ));
        assert!(matches!(
            Signal::of("openai", &e(Some(429), "You exceeded your current quota")),
            Signal::Refused(_)
        ));
        assert_eq!(
            Signal::of("stabilityai", &e(Some(403), "Your request was flagged")),
            Signal::Answered,
            "Stability's content refusal is a 403"
        );
        assert_eq!(
            Signal::of("openai", &e(Some(400), "rejected by the safety system")),
            Signal::Answered
        );
        assert!(matches!(
            Signal::of("openai", &e(Some(503), "busy")),
            Signal::Outage(_)
        ));
        let unreachable = ProviderError {
            unreachable: true,
            ..e(None, "timed out")
        };
        assert!(matches!(
            Signal::of("openai", &unreachable),
            Signal::Outage(_)
        ));
        assert_eq!(
            Signal::of("openai", &e(None, "pre-flight failed: unsigned")),
            Signal::Inconclusive
        );
    }
}
