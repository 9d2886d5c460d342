//! The HTTP side every provider client shares: one logical request ([`Call`]) retried with
//! backoff and jitter on 429 (honouring `Retry-After`), 5xx and transport errors and never
//! on other 4xx; every try recorded as it happens; answers read within a bound, downloads
//! streamed to disk; API keys and signed-link credentials never in an error text.

use super::{Job, ProviderError, Tuning, registry};
use crate::task::CallRecord;
use crate::text::{error_chain, redact, truncate, without_queries};
use bytes::Bytes;
use futures_util::StreamExt;
use rand::Rng;
use std::path::Path;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;

/// Largest media file a provider may hand us; more is refused rather than filling the disk.
pub(crate) const MAX_MEDIA_BYTES: u64 = 1024 * 1024 * 1024;
/// Largest API answer read into memory (a 4K image in base64 is about 40 MB).
const MAX_ANSWER_BYTES: u64 = 256 * 1024 * 1024;

/// The provider's own words from an error body: `error.message`, `message`, `detail`,
/// `failure`, `errors[0]`, else the start of the text.
pub(crate) fn error_text(body: &[u8]) -> String {
    if let Ok(doc) = serde_json::from_slice::<serde_json::Value>(body) {
        let candidates = [
            doc.pointer("/error/message"),
            doc.get("error").filter(|e| e.is_string()),
            doc.get("message"),
            doc.get("detail"),
            doc.get("failure"),
            doc.pointer("/errors/0"),
        ];
        for c in candidates.into_iter().flatten() {
            match c {
                serde_json::Value::String(s) if !s.is_empty() => return truncate(s, 500),
                serde_json::Value::Null => {}
                other => return truncate(&other.to_string(), 500),
            }
        }
    }
    truncate(String::from_utf8_lossy(body).trim(), 500)
}

/// How long to wait before retry `attempt` (0-based): the server's `Retry-After` when it
/// gave one (capped), else exponential backoff with jitter.
fn retry_delay(attempt: u32, retry_after: Option<Duration>) -> Duration {
    if let Some(d) = retry_after {
        return d.min(super::health::LONG_RETRY_AFTER);
    }
    let base = Duration::from_millis(500 * 2u64.pow(attempt.min(6)));
    let jitter = rand::thread_rng().gen_range(0.5..1.0);
    base.mul_f64(jitter).min(Duration::from_secs(30))
}

fn parse_retry_after(value: Option<&reqwest::header::HeaderValue>) -> Option<Duration> {
    let text = value?.to_str().ok()?.trim();
    if let Ok(secs) = text.parse::<f64>() {
        return secs
            .is_finite()
            .then(|| Duration::from_secs_f64(secs.clamp(0.0, 3600.0)));
    }
    let when = httpdate::parse_http_date(text).ok()?;
    Some(
        when.duration_since(std::time::SystemTime::now())
            .unwrap_or_default(),
    )
}

/// The fix for a 401 on an API call, which always carries the key: the setting that holds it
/// (the provider's own words, "No auth credentials found", do not name it).
fn key_refused(service: &str) -> String {
    match registry::Service::parse(service) {
        Some(s) => format!(" (the API key was refused: check {})", s.key_var()),
        None => " (the API key was refused)".to_string(),
    }
}

/// Statuses worth asking again: rate limits, timeouts and server trouble.
fn retryable_status(status: u16) -> bool {
    matches!(status, 408 | 425 | 429) || status >= 500
}

/// Why one try failed, and whether another may succeed.
struct TryError {
    status: Option<u16>,
    message: String,
    retryable: bool,
    retry_after: Option<Duration>,
    /// No answer: a timeout or a connection error.
    unreachable: bool,
}

/// One logical request to a provider, retried as the shared policy says.
pub(crate) struct Call<'a> {
    pub provider: &'static str,
    /// What the call does, in the records: `generate`, `create`, `poll`, `download`.
    pub op: &'static str,
    pub model: &'a str,
    /// What was sent, for the call records (never the key).
    pub summary: serde_json::Value,
    pub key: &'a str,
    pub max_tries: u32,
    /// Recorded on the successful try: the call that is billed.
    pub cost_usd: Option<f64>,
    /// Reads a successful answer for a refusal made with a 2xx (Google's `finishReason`
    /// with no image): its words, recorded as the call's error, unbilled and not retried.
    pub refusal: Option<Refusal>,
}

/// Finds a refusal in a successful answer's body; its words, if it is one.
pub(crate) type Refusal = fn(&[u8]) -> Option<String>;

impl Call<'_> {
    /// Sends `build()` until it succeeds, a non-retryable status arrives, or tries run out.
    pub(crate) async fn send(
        &self,
        job: &Job<'_>,
        build: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<Answer, ProviderError> {
        match self.run(job, build, None).await? {
            Got::Answer(a) => Ok(a),
            Got::File(_) => Err(ProviderError::new(
                "internal: a download where an answer was expected",
            )),
        }
    }

    /// Streams a successful response to `job.dest` (never more than one chunk in memory);
    /// a failed or cut transfer is retried from the start. Returns the bytes written.
    pub(crate) async fn download(
        &self,
        job: &Job<'_>,
        build: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<u64, ProviderError> {
        self.download_to(job, build, job.dest).await
    }

    /// [`Call::download`] to `to` (an answer too big to hold: a video inline in JSON).
    pub(crate) async fn download_to(
        &self,
        job: &Job<'_>,
        build: impl Fn() -> reqwest::RequestBuilder,
        to: &Path,
    ) -> Result<u64, ProviderError> {
        match self.run(job, build, Some(to)).await? {
            Got::File(n) => Ok(n),
            Got::Answer(_) => Err(ProviderError::new(
                "internal: an answer where a download was expected",
            )),
        }
    }

    /// The retry loop; a success is read whole, or streamed to `to` when given.
    async fn run(
        &self,
        job: &Job<'_>,
        build: impl Fn() -> reqwest::RequestBuilder,
        to: Option<&Path>,
    ) -> Result<Got, ProviderError> {
        let mut last = String::new();
        let mut last_status = None;
        let mut last_unreachable = false;
        // A half-open breaker's probe asks once: one call, not a burst, tells whether the
        // provider is back.
        let max_tries = if job.probe && matches!(self.op, "generate" | "create") {
            1
        } else {
            self.max_tries
        };
        // A job creation that may have reached the provider is not sent again: a second one
        // would be paid for too. Only a refusal before any work (connect error, 429, 500,
        // 502, 503) is retried.
        let may_repeat = |e: &TryError| match (self.op, e.status) {
            ("create", Some(s)) => matches!(s, 429 | 500 | 502 | 503),
            ("create", None) => e.message.starts_with("could not connect"),
            _ => true,
        };
        for attempt in 0..max_tries {
            let started = Instant::now();
            let outcome = match build().send().await {
                Ok(resp) if resp.status().is_success() => {
                    let status = resp.status().as_u16();
                    take(resp, to)
                        .await
                        .map(|v| (status, v))
                        .map_err(|f| TryError {
                            status: Some(status),
                            message: f.message,
                            retryable: f.retryable,
                            retry_after: None,
                            unreachable: false,
                        })
                }
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let mut retry_after = parse_retry_after(resp.headers().get("retry-after"));
                    let body = read_limited(resp, 64 * 1024).await;
                    let mut message = format!("HTTP {status}: {}", error_text(&body));
                    // Google says how long to wait in the body, not in a header.
                    if retry_after.is_none()
                        && let Some((wait, words)) =
                            super::google::retry_hint(&body, crate::clock::now_ms())
                    {
                        retry_after = Some(wait);
                        if let Some(words) = words {
                            message = format!("HTTP {status}: {words}: {}", error_text(&body));
                        }
                    }
                    if status == 401 && self.op != "download" {
                        message.push_str(&key_refused(self.provider));
                    }
                    Err(TryError {
                        status: Some(status),
                        message,
                        retryable: retryable_status(status),
                        retry_after,
                        unreachable: false,
                    })
                }
                Err(e) => {
                    let f = transport(&e);
                    Err(TryError {
                        status: None,
                        message: f.message,
                        retryable: true,
                        retry_after: None,
                        unreachable: true,
                    })
                }
            };
            let mut record = CallRecord {
                task_id: job.task.task_id.clone(),
                provider: self.provider.to_string(),
                op: self.op.to_string(),
                model: self.model.to_string(),
                request: self.summary.clone(),
                status: None,
                error: None,
                latency_ms: started.elapsed().as_millis() as u64,
                bytes: 0,
                cost_usd: None,
                at_ms: crate::clock::now_ms(),
                modality: None,
            };
            match outcome {
                Ok((status, (Got::Answer(a), bytes)))
                    if let Some(why) = self.refusal.and_then(|refused| refused(&a.body)) =>
                {
                    record.status = Some(status);
                    record.bytes = bytes;
                    record.error = Some(why.clone());
                    job.record(record);
                    return Err(ProviderError {
                        message: why,
                        status: Some(status),
                        ..ProviderError::default()
                    });
                }
                Ok((status, (value, bytes))) => {
                    record.status = Some(status);
                    record.bytes = bytes;
                    record.cost_usd = self.cost_usd;
                    job.record(record);
                    return Ok(value);
                }
                Err(e) => {
                    last = redact(&e.message, self.key);
                    last_status = e.status;
                    last_unreachable = e.unreachable;
                    record.status = e.status;
                    record.error = Some(last.clone());
                    job.record(record);
                    tracing::warn!(task_id = %job.task.task_id, provider = self.provider, op = self.op, attempt = attempt + 1, error = %last, "provider call failed");
                    // A Retry-After longer than we wait is the provider's health to judge
                    // (`health` opens its breaker until then), not a reason to sit here.
                    let long_wait = e
                        .retry_after
                        .is_some_and(|d| d > super::health::LONG_RETRY_AFTER);
                    if !e.retryable || !may_repeat(&e) || long_wait {
                        return Err(ProviderError {
                            message: last,
                            status: e.status,
                            retry_after: e.retry_after,
                            unreachable: e.unreachable,
                        });
                    }
                    if attempt + 1 < max_tries {
                        tokio::time::sleep(retry_delay(attempt, e.retry_after)).await;
                    }
                }
            }
        }
        Err(ProviderError {
            message: if max_tries > 1 {
                format!("{last} (after {max_tries} tries)")
            } else {
                last
            },
            status: last_status,
            retry_after: None,
            unreachable: last_unreachable,
        })
    }
}

/// A successful answer, read whole (API replies; never video bodies).
pub(crate) struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Bytes,
}

/// A successful response, read.
enum Got {
    Answer(Answer),
    File(u64),
}

/// Reads a successful response whole, or streams it to `to`; returns it and its size.
async fn take(resp: reqwest::Response, to: Option<&Path>) -> Result<(Got, u64), TryFailure> {
    if let Some(dest) = to {
        let n = stream_to_file(resp, dest).await?;
        return Ok((Got::File(n), n));
    }
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    if resp.content_length().is_some_and(|n| n > MAX_ANSWER_BYTES) {
        return Err(TryFailure {
            message: format!("the answer is larger than {} MiB", MAX_ANSWER_BYTES >> 20),
            retryable: false,
        });
    }
    let mut body = Vec::new();
    let mut stream = resp.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| transport(&e))?;
        if (body.len() + chunk.len()) as u64 > MAX_ANSWER_BYTES {
            return Err(TryFailure {
                message: format!("the answer is larger than {} MiB", MAX_ANSWER_BYTES >> 20),
                retryable: false,
            });
        }
        body.extend_from_slice(&chunk);
    }
    let body = Bytes::from(body);
    let n = body.len() as u64;
    Ok((
        Got::Answer(Answer {
            status,
            headers,
            body,
        }),
        n,
    ))
}

/// A failure while reading a successful response.
pub(crate) struct TryFailure {
    message: String,
    retryable: bool,
}

fn transport(e: &reqwest::Error) -> TryFailure {
    let message = if e.is_timeout() {
        "timed out".to_string()
    } else if e.is_connect() {
        format!("could not connect: {}", without_queries(&error_chain(e)))
    } else {
        format!("transport error: {}", without_queries(&error_chain(e)))
    };
    TryFailure {
        message,
        retryable: true,
    }
}

/// Up to `limit` bytes of an error body (a provider's HTML error page can be large).
async fn read_limited(resp: reqwest::Response, limit: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut stream = resp.bytes_stream();
    while let Some(Ok(chunk)) = stream.next().await {
        out.extend_from_slice(&chunk[..chunk.len().min(limit - out.len())]);
        if out.len() >= limit {
            break;
        }
    }
    out
}

async fn stream_to_file(resp: reqwest::Response, dest: &Path) -> Result<u64, TryFailure> {
    let disk = |e: std::io::Error| TryFailure {
        message: format!(
            "could not write media to {}: {e}; check free space in MINER_STATE_DIR",
            dest.display()
        ),
        retryable: false,
    };
    if resp.content_length().is_some_and(|n| n > MAX_MEDIA_BYTES) {
        return Err(TryFailure {
            message: format!(
                "the media is larger than {} MiB; refusing to download it",
                MAX_MEDIA_BYTES >> 20
            ),
            retryable: false,
        });
    }
    let mut file = tokio::fs::File::create(dest).await.map_err(disk)?;
    let mut stream = resp.bytes_stream();
    let mut written = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| transport(&e))?;
        written += chunk.len() as u64;
        if written > MAX_MEDIA_BYTES {
            return Err(TryFailure {
                message: format!(
                    "the media is larger than {} MiB; download stopped",
                    MAX_MEDIA_BYTES >> 20
                ),
                retryable: false,
            });
        }
        file.write_all(&chunk).await.map_err(disk)?;
    }
    file.flush().await.map_err(disk)?;
    Ok(written)
}

/// A reqwest client for one provider: a connect timeout, and a read timeout so that a
/// stalled download fails instead of hanging (each API request also gets a total timeout).
pub(crate) fn http_client(tuning: &Tuning) -> reqwest::Client {
    crate::tls::http_client()
        .connect_timeout(Duration::from_secs(10).min(tuning.call_timeout))
        .read_timeout(tuning.call_timeout)
        .user_agent(concat!("gas-miner/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}

/// One service's HTTP side: its base URL, key, client and timeouts, and the request shapes
/// every JSON API here shares (bearer key, total timeout per request, shared retry policy).
#[derive(Clone)]
pub(crate) struct Http {
    pub service: &'static str,
    /// The name used in error texts (`OpenRouter`).
    pub label: &'static str,
    base_url: String,
    key: String,
    client: reqwest::Client,
    pub tuning: Tuning,
    /// Headers every API request carries (Runway's version header).
    headers: &'static [(&'static str, &'static str)],
    /// The header the key goes in, when not `Authorization: Bearer` (Google's
    /// `x-goog-api-key`: a key never goes in a URL).
    key_header: Option<&'static str>,
}

impl Http {
    pub(crate) fn new(
        service: &'static str,
        label: &'static str,
        base: &str,
        key: &str,
        tuning: Tuning,
    ) -> Http {
        Http {
            service,
            label,
            base_url: base.trim_end_matches('/').to_string(),
            key: key.to_string(),
            client: http_client(&tuning),
            tuning,
            headers: &[],
            key_header: None,
        }
    }

    pub(crate) fn with_key_header(mut self, name: &'static str) -> Http {
        self.key_header = Some(name);
        self
    }

    pub(crate) fn with_headers(mut self, headers: &'static [(&'static str, &'static str)]) -> Http {
        self.headers = headers;
        self
    }

    /// A call record template for `op` on this job (4 tries, no cost).
    pub(crate) fn call<'a>(&'a self, op: &'static str, job: &'a Job<'_>) -> Call<'a> {
        Call {
            provider: self.service,
            op,
            model: &job.plan.model,
            summary: serde_json::json!({}),
            key: &self.key,
            max_tries: 4,
            cost_usd: None,
            refusal: None,
        }
    }

    /// An API request to `path` under the base URL, with the key and the request timeout.
    pub(crate) fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let mut req = self
            .client
            .request(method, format!("{}{path}", self.base_url))
            .timeout(self.tuning.call_timeout);
        req = match self.key_header {
            Some(name) => req.header(name, &self.key),
            None => req.bearer_auth(&self.key),
        };
        for (name, value) in self.headers {
            req = req.header(*name, *value);
        }
        req
    }

    /// A request to `path` with `token` as the bearer (a short-lived OAuth token, not a key).
    pub(crate) fn request_as(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
    ) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.base_url))
            .bearer_auth(token)
            .timeout(self.tuning.call_timeout)
    }

    /// The HTTP client (for requests outside the base URL: a token endpoint).
    pub(crate) fn client(&self) -> reqwest::Client {
        self.client.clone()
    }

    /// POSTs `job.plan.params` as JSON: the billed call of a generation or job creation.
    pub(crate) async fn post_plan(
        &self,
        op: &'static str,
        job: &Job<'_>,
        path: &str,
    ) -> Result<Answer, ProviderError> {
        self.post_plan_refusable(op, job, path, None).await
    }

    /// [`Http::post_plan`] for an API that may refuse with a 2xx: `refusal` finds it.
    pub(crate) async fn post_plan_refusable(
        &self,
        op: &'static str,
        job: &Job<'_>,
        path: &str,
        refusal: Option<Refusal>,
    ) -> Result<Answer, ProviderError> {
        let body = &job.plan.params;
        let call = Call {
            summary: summary(body),
            cost_usd: Some(job.plan.cost_usd),
            refusal,
            ..self.call(op, job)
        };
        call.send(job, || self.request(reqwest::Method::POST, path).json(body))
            .await
    }

    /// GETs a JSON document (a job's status), tried twice: the poll loop tries again anyway.
    pub(crate) async fn get_json(
        &self,
        job: &Job<'_>,
        path: &str,
        summary: serde_json::Value,
    ) -> Result<serde_json::Value, ProviderError> {
        let call = Call {
            summary,
            max_tries: 2,
            ..self.call("poll", job)
        };
        let answer = call
            .send(job, || self.request(reqwest::Method::GET, path))
            .await?;
        parse_json(self.label, &answer.body)
    }

    /// Streams `path` under the base URL (with the key) to `job.dest`.
    pub(crate) async fn download(
        &self,
        job: &Job<'_>,
        path: &str,
        summary: serde_json::Value,
    ) -> Result<u64, ProviderError> {
        let url = format!("{}{path}", self.base_url);
        let call = Call {
            summary,
            ..self.call("download", job)
        };
        call.download(job, || self.client.get(&url).bearer_auth(&self.key))
            .await
    }

    /// Streams a foreign URL (a signed storage link) to `job.dest`, without the key.
    pub(crate) async fn download_link(
        &self,
        job: &Job<'_>,
        url: &str,
    ) -> Result<u64, ProviderError> {
        let call = Call {
            summary: serde_json::json!({"url": truncate(url.split('?').next().unwrap_or(url), 200)}),
            ..self.call("download", job)
        };
        call.download(job, || self.client.get(url)).await
    }
}

/// A request body for the records, with the prompt shortened.
pub(crate) fn summary(body: &serde_json::Value) -> serde_json::Value {
    let mut s = body.clone();
    for field in ["prompt", "promptText"] {
        if let Some(p) = s.get(field).and_then(|v| v.as_str()) {
            s[field] = serde_json::json!(truncate(p, 200));
        }
    }
    if let Some(messages) = s.get_mut("messages").and_then(|m| m.as_array_mut()) {
        for m in messages {
            if let Some(c) = m.get("content").and_then(|c| c.as_str()) {
                m["content"] = serde_json::json!(truncate(c, 200));
            }
        }
    }
    s
}

/// The JSON of a successful answer, or a clear error naming the provider.
pub(crate) fn parse_json(provider: &str, body: &[u8]) -> Result<serde_json::Value, ProviderError> {
    serde_json::from_slice(body).map_err(|e| {
        ProviderError::new(format!(
            "{provider} answered with malformed JSON ({e}): {}",
            truncate(String::from_utf8_lossy(body).trim(), 200)
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_error_text_is_found_in_the_usual_shapes() {
        assert_eq!(
            error_text(br#"{"error":{"message":"quota exceeded","code":429}}"#),
            "quota exceeded"
        );
        assert_eq!(error_text(br#"{"detail":"bad prompt"}"#), "bad prompt");
        assert_eq!(
            error_text(br#"{"id":"x","name":"content_moderation","errors":["flagged"]}"#),
            "flagged"
        );
        assert_eq!(error_text(b"plain words"), "plain words");
    }

    #[test]
    fn retry_after_seconds_are_honoured_and_capped() {
        let v = reqwest::header::HeaderValue::from_static("2");
        assert_eq!(parse_retry_after(Some(&v)), Some(Duration::from_secs(2)));
        assert_eq!(
            retry_delay(0, Some(Duration::from_secs(600))),
            Duration::from_secs(60)
        );
        let d = retry_delay(1, None);
        assert!(
            d >= Duration::from_millis(500) && d <= Duration::from_millis(1000),
            "{d:?}"
        );
    }

    #[test]
    fn only_rate_limits_timeouts_and_server_errors_are_retried() {
        for s in [408, 429, 500, 502, 503] {
            assert!(retryable_status(s), "{s}");
        }
        for s in [400, 401, 402, 403, 404, 422] {
            assert!(!retryable_status(s), "{s}");
        }
    }

    #[test]
    fn nan_retry_after_is_ignored_not_a_panic() {
        let v = reqwest::header::HeaderValue::from_static("NaN");
        assert_eq!(parse_retry_after(Some(&v)), None);
    }

    #[test]
    fn a_refused_key_names_its_setting() {
        assert_eq!(
            key_refused("openrouter"),
            " (the API key was refused: check OPEN_ROUTER_API_KEY)"
        );
        assert_eq!(key_refused("demo-studio"), " (the API key was refused)");
    }
}
