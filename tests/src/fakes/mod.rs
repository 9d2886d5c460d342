//! Fake generation services on 127.0.0.1, one server for all four, each under its own base
//! path and speaking its API's documented shapes: OpenAI images (`b64_json`) and Sora videos,
//! OpenRouter chat images and `/videos` jobs (202, poll, `/content`), Stability AI multipart
//! `stable-image/generate/{sd3,ultra,core}`, Runway `text_to_video` + `tasks` with an output URL
//! on a storage host that must get no API key. Requests are checked against each API's
//! allowed values and answered with its error shape when wrong, so a mapping mistake in the
//! miner fails a test. Replies can be scripted per API: errors, 429 with `Retry-After`,
//! hangs, malformed JSON, refusals, failing video jobs, bodies cut short, bodies of the wrong
//! type; video downloads can be scripted the same way. The account and model-list endpoints
//! (`gas-miner doctor`'s checks) check keys as the real ones do; a model id can be retired from
//! the lists, and every answer's `Date` header skewed. For the validator's side there is the
//! validator's webhook receiver (`FakeValidator`), one with scripted answers in front of it
//! (`FlakyValidator`: 4xx, 5xx, slow) and an HTTPS endpoint whose certificate nobody trusts
//! (`TlsTrap`).
//!
//! This module owns what the parties share: the one server and its route table, the scripting
//! (`Reply`, `Seen`, …) and the answers common to every API. Each API lives in its own file
//! (`openai`, `openrouter`, `stability`, `runway`), as in `gas_miner::providers`; `studio`
//! makes and spoils the media, `jobs` runs video jobs and their downloads.

pub mod gasapi;
pub mod google;
mod jobs;
mod openai;
mod openrouter;
mod runway;
mod stability;
mod studio;
mod tls;
mod validator;
pub mod vertex;

pub use studio::{Defect, Studio};
pub use tls::TlsTrap;
pub use validator::{Answer, FakeValidator, FlakyValidator, Knock, Webhook};

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use jobs::FakeJob;
use serde_json::{Value, json};
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const OPENAI_KEY: &str = "sk-openai-test-key";
pub const OPEN_ROUTER_KEY: &str = "sk-or-test-key";
pub const STABILITY_KEY: &str = "sk-stability-test-key";
pub const RUNWAY_KEY: &str = "key_runway-test-key";
pub const GEMINI_KEY: &str = "AIzaSy-gemini-test-key";
pub const ALL_KEYS: [&str; 5] = [
    OPENAI_KEY,
    OPEN_ROUTER_KEY,
    STABILITY_KEY,
    RUNWAY_KEY,
    GEMINI_KEY,
];

/// Which API a request was for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Api {
    OpenAiImage,
    OpenAiVideo,
    OpenRouterImage,
    OpenRouterVideo,
    Stability,
    Runway,
    /// Gemini images on Google's own API.
    Google,
    /// Veo on Vertex AI (OAuth tokens of a service account).
    Vertex,
}

impl Api {
    /// The key the miner must send (as its bearer token; Google's in `x-goog-api-key`).
    pub fn key(self) -> &'static str {
        match self {
            Api::Google => GEMINI_KEY,
            // Vertex takes tokens the fake issued, checked by `vertex::Auth`.
            Api::Vertex => "",
            Api::OpenAiImage | Api::OpenAiVideo => OPENAI_KEY,
            Api::OpenRouterImage | Api::OpenRouterVideo => OPEN_ROUTER_KEY,
            Api::Stability => STABILITY_KEY,
            Api::Runway => RUNWAY_KEY,
        }
    }
}

/// A scripted answer to the next generation or job-creation request of one API.
#[derive(Debug, Clone)]
pub enum Reply {
    /// Success after `delay`.
    Ok { delay: Duration },
    /// That status with that JSON body.
    Status {
        status: u16,
        body: Value,
        retry_after: Option<u32>,
    },
    /// Success, but only after this long (longer than the miner's timeout, say).
    Hang(Duration),
    /// HTTP 200 with a body that is not JSON.
    Malformed,
    /// The API's own content-policy refusal.
    Refuse,
    /// Video: the job is accepted, then ends failed with this text.
    JobFails(String),
    /// Success, but the media has this defect.
    Flawed(Defect),
    /// 401 whose message repeats the key that was sent (as some APIs do).
    EchoKey,
    /// HTTP 200 announcing the whole answer's Content-Length, but the connection drops half-way
    /// through the body (Stability AI's image, a video download, or a JSON API's answer).
    Truncated,
    /// HTTP 200 with only the first half of the media and a Content-Length that matches it:
    /// nothing at the transport level tells (Stability AI, video downloads).
    ShortMedia,
    /// HTTP 200 with exactly this body and content type (an HTML error page served as success,
    /// say, whatever the header claims).
    Body { content_type: String, body: Vec<u8> },
}

/// One request as the fake saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub api: Api,
    /// `generate`, `create`, `poll`, `download`, `account` or `models`.
    pub op: &'static str,
    pub body: Value,
    pub at: Instant,
    pub authorization: Option<String>,
}

/// Media the fake handed out, by hash (videos can be large).
#[derive(Debug, Clone)]
pub struct Produced {
    pub api: Api,
    pub sha256: String,
    pub len: usize,
}

pub struct FakeState {
    pub seen: Vec<Seen>,
    scripts: HashMap<Api, VecDeque<Reply>>,
    pub produced: Vec<Produced>,
    jobs: HashMap<String, FakeJob>,
    studio: Arc<Studio>,
    last_image: HashMap<Api, Vec<u8>>,
    /// Delay of unscripted successes.
    pub delay: Duration,
    /// Polls a new video job needs before it completes.
    pub polls_to_finish: u32,
    /// Size of each video.
    pub video_bytes: usize,
    /// Pause between 64 KiB chunks of a video download.
    pub chunk_pause: Duration,
    pub in_flight: usize,
    pub max_in_flight: usize,
    /// The next this many video downloads answer 500.
    pub fail_downloads: u32,
    /// The next this many job polls answer 503.
    pub fail_polls: u32,
    /// Video bodies being streamed right now, and the most at once.
    pub downloads: usize,
    pub max_downloads: usize,
    /// Requests that broke a rule of the API (an API key sent to the storage host, say).
    pub violations: Vec<String>,
    /// Scripted answers to the next video downloads (`Truncated`, `ShortMedia`, `Body`).
    downloads_script: VecDeque<Reply>,
    /// How far ahead of ours the fakes' clock runs, as their `Date` headers say.
    clock_skew: Duration,
    /// Model ids the model lists no longer offer.
    retired: Vec<String>,
    /// Per API, the frame size of its videos when not 1920×1080 (a route that ignores the
    /// resolution it is sent).
    video_size: HashMap<Api, (u16, u16)>,
    /// Vertex AI's service account and the tokens issued for it.
    pub vertex: vertex::Auth,
}

#[derive(Clone)]
pub struct FakeProviders {
    pub addr: SocketAddr,
    pub state: Arc<Mutex<FakeState>>,
}

type Shared = Arc<Mutex<FakeState>>;

impl FakeProviders {
    pub async fn start() -> FakeProviders {
        let state = Arc::new(Mutex::new(FakeState {
            seen: Vec::new(),
            scripts: HashMap::new(),
            produced: Vec::new(),
            jobs: HashMap::new(),
            studio: Arc::new(Studio::new()),
            last_image: HashMap::new(),
            delay: Duration::ZERO,
            polls_to_finish: 2,
            video_bytes: 256 * 1024,
            chunk_pause: Duration::ZERO,
            in_flight: 0,
            max_in_flight: 0,
            fail_downloads: 0,
            fail_polls: 0,
            downloads: 0,
            max_downloads: 0,
            violations: Vec::new(),
            downloads_script: VecDeque::new(),
            clock_skew: Duration::ZERO,
            retired: Vec::new(),
            video_size: HashMap::new(),
            vertex: vertex::Auth::new(),
        }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let router = Router::new()
            .route("/openai/v1/images/generations", post(openai::image))
            .route("/openai/v1/videos", post(openai::video_create))
            .route("/openai/v1/videos/{id}", get(openai::video_get))
            .route("/openai/v1/videos/{id}/content", get(jobs::video_content))
            .route(
                "/openrouter/api/v1/chat/completions",
                post(openrouter::chat),
            )
            .route("/openrouter/api/v1/videos", post(openrouter::video_create))
            .route("/openrouter/api/v1/videos/{id}", get(openrouter::video_get))
            .route(
                "/openrouter/api/v1/videos/{id}/content",
                get(jobs::video_content),
            )
            .route(
                "/stability/v2beta/stable-image/generate/{endpoint}",
                post(stability::generate),
            )
            .route("/runway/v1/text_to_video", post(runway::create))
            .route("/runway/v1/tasks/{id}", get(runway::task))
            .route("/storage/{file}", get(runway::storage))
            .route("/openai/v1/models", get(openai::models))
            .route("/openrouter/api/v1/models", get(openrouter::models))
            .route(
                "/openrouter/api/v1/videos/models",
                get(openrouter::video_models),
            )
            .route("/openrouter/api/v1/key", get(openrouter::key))
            .route("/stability/v1/user/balance", get(stability::balance))
            .route("/runway/v1/organization", get(runway::organization))
            .route("/google/v1beta/models/{call}", post(google::generate))
            .route("/google/v1beta/models", get(google::models))
            .route("/vertex/token", post(vertex::token))
            .route(
                "/vertex/v1/projects/{project}/locations/{location}/publishers/google/models/{call}",
                post(vertex::call).get(vertex::model),
            )
            .layer(axum::middleware::map_response_with_state(
                state.clone(),
                skewed_date,
            ))
            .with_state(state.clone());
        serve(listener, router);
        FakeProviders { addr, state }
    }

    pub fn openai_url(&self) -> String {
        format!("http://{}/openai/v1", self.addr)
    }
    pub fn openrouter_url(&self) -> String {
        format!("http://{}/openrouter/api/v1", self.addr)
    }
    pub fn stability_url(&self) -> String {
        format!("http://{}/stability", self.addr)
    }
    pub fn runway_url(&self) -> String {
        format!("http://{}/runway", self.addr)
    }
    pub fn google_url(&self) -> String {
        format!("http://{}/google/v1beta", self.addr)
    }
    /// Vertex AI's base (`VERTEX_BASE_URL`): the project and location paths follow it.
    pub fn vertex_url(&self) -> String {
        format!("http://{}/vertex/v1", self.addr)
    }

    /// Writes the service account's key file (its token endpoint this fake) into `dir`.
    pub fn vertex_key_file(&self, dir: &std::path::Path) -> std::path::PathBuf {
        let token_uri = format!("http://{}/vertex/token", self.addr);
        self.lock().vertex.key_file(dir, &token_uri)
    }

    /// Tokens issued from now on live `seconds`.
    pub fn set_vertex_token_life(&self, seconds: u64) {
        self.lock().vertex.life = seconds;
    }

    /// Revokes every token issued so far (they answer 401 from now on).
    pub fn revoke_vertex_tokens(&self) {
        self.lock().vertex.revoke();
    }

    /// Tokens issued so far.
    pub fn vertex_tokens_issued(&self) -> usize {
        self.lock().vertex.issued.len()
    }

    /// The token grants refused so far, and why.
    pub fn lock_refused(&self) -> Vec<String> {
        self.lock().vertex.refused.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, FakeState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn script(&self, api: Api, replies: impl IntoIterator<Item = Reply>) {
        self.lock().scripts.entry(api).or_default().extend(replies);
    }

    pub fn set_delay(&self, delay: Duration) {
        self.lock().delay = delay;
    }

    pub fn set_polls_to_finish(&self, polls: u32) {
        self.lock().polls_to_finish = polls;
    }

    pub fn set_video_bytes(&self, bytes: usize) {
        self.lock().video_bytes = bytes;
    }

    /// Makes every video of `api` this size, whatever resolution was asked.
    pub fn set_video_size(&self, api: Api, width: u16, height: u16) {
        self.lock().video_size.insert(api, (width, height));
    }

    pub fn set_chunk_pause(&self, pause: Duration) {
        self.lock().chunk_pause = pause;
    }

    /// Makes the next `downloads` video downloads and `polls` job polls fail (500 / 503).
    pub fn set_outages(&self, downloads: u32, polls: u32) {
        let mut s = self.lock();
        s.fail_downloads = downloads;
        s.fail_polls = polls;
    }

    /// Scripts the next video downloads (any API): `Reply::Truncated`, `Reply::ShortMedia` or
    /// `Reply::Body`; other replies and unscripted downloads stream the finished video.
    pub fn script_downloads(&self, replies: impl IntoIterator<Item = Reply>) {
        self.lock().downloads_script.extend(replies);
    }

    /// Video downloads streaming right now.
    pub fn downloads_in_progress(&self) -> usize {
        self.lock().downloads
    }

    /// Video jobs created so far (each holds its finished video).
    pub fn jobs_created(&self) -> usize {
        self.lock().jobs.len()
    }

    /// Lets every running video job complete at its next poll.
    pub fn finish_jobs(&self) {
        for job in self.lock().jobs.values_mut() {
            job.polls_left = 0;
        }
    }

    /// Requests for `api` with operation `op` (any when `None`).
    pub fn seen(&self, api: Api, op: Option<&str>) -> Vec<Seen> {
        self.lock()
            .seen
            .iter()
            .filter(|s| s.api == api && op.is_none_or(|o| s.op == o))
            .cloned()
            .collect()
    }

    /// Bodies of the generation (or job-creation) requests made to `api`.
    pub fn requests(&self, api: Api) -> Vec<Value> {
        self.seen(api, None)
            .into_iter()
            .filter(|s| matches!(s.op, "generate" | "create"))
            .map(|s| s.body)
            .collect()
    }

    /// The root certificate the miner must trust to accept this fake's media.
    pub fn anchor_pem(&self) -> String {
        self.lock().studio.root_pem.clone()
    }

    /// Everything the fake handed out, in order.
    pub fn produced(&self) -> Vec<Produced> {
        self.lock().produced.clone()
    }

    pub fn produced_hashes(&self) -> Vec<String> {
        self.lock()
            .produced
            .iter()
            .map(|p| p.sha256.clone())
            .collect()
    }

    pub fn max_in_flight(&self) -> usize {
        self.lock().max_in_flight
    }

    /// The most video downloads that were streaming at the same time.
    pub fn max_downloads(&self) -> usize {
        self.lock().max_downloads
    }

    pub fn violations(&self) -> Vec<String> {
        self.lock().violations.clone()
    }

    /// Makes every answer's `Date` header run `ahead` of this machine's clock (zero: the
    /// server's own, true `Date`).
    pub fn set_clock_skew(&self, ahead: Duration) {
        self.lock().clock_skew = ahead;
    }

    /// Takes `model` off every model list (OpenAI's, OpenRouter's and its video list), as a
    /// provider does when it retires an id.
    pub fn retire_model(&self, model: &str) {
        self.lock().retired.push(model.to_string());
    }
}

/// Whether the model lists still offer `model`.
fn offered(state: &Shared, model: &str) -> bool {
    !lock(state).retired.iter().any(|r| r == model)
}

/// Records an account or model-list request (`op`) and says whether its bearer key was
/// `api`'s.
fn account(state: &Shared, api: Api, op: &'static str, headers: &HeaderMap) -> bool {
    arrive(state, api, op, headers, &Value::Null).1
}

/// Rewrites the `Date` header by the scripted skew (hyper keeps a `Date` it is given).
async fn skewed_date(
    axum::extract::State(state): axum::extract::State<Shared>,
    mut response: Response,
) -> Response {
    let skew = lock(&state).clock_skew;
    if !skew.is_zero()
        && let Ok(format) = time::format_description::parse_borrowed::<2>(
            "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT",
        )
        && let Ok(date) = (time::OffsetDateTime::now_utc() + skew).format(&format)
        && let Ok(value) = date.parse()
    {
        response.headers_mut().insert("date", value);
    }
    response
}

/// Serves `router` on `listener` in the background, for as long as the test runs.
fn serve(listener: tokio::net::TcpListener, router: Router) {
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
}

fn lock(state: &Shared) -> std::sync::MutexGuard<'_, FakeState> {
    state.lock().unwrap_or_else(|p| p.into_inner())
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// Records the request; returns the scripted reply (or a plain success) and whether the
/// bearer key was `api`'s.
fn arrive(
    state: &Shared,
    api: Api,
    op: &'static str,
    headers: &HeaderMap,
    body: &Value,
) -> (Reply, bool) {
    let authorization = match api {
        Api::Google => header(headers, "x-goog-api-key"),
        _ => header(headers, "authorization"),
    };
    let mut s = lock(state);
    let authorized = match api {
        Api::Google => authorization.as_deref() == Some(api.key()),
        Api::Vertex => authorization
            .as_deref()
            .and_then(|a| a.strip_prefix("Bearer "))
            .is_some_and(|t| s.vertex.valid(t)),
        _ => authorization.as_deref() == Some(&format!("Bearer {}", api.key())),
    };
    s.seen.push(Seen {
        api,
        op,
        body: body.clone(),
        at: Instant::now(),
        authorization,
    });
    let delay = s.delay;
    let reply = if matches!(op, "generate" | "create") {
        match s.scripts.get_mut(&api).and_then(VecDeque::pop_front) {
            Some(Reply::EchoKey) => Reply::Status {
                status: 401,
                body: json!({"error": {"message": format!("Invalid credentials: {}", s.seen.last().and_then(|x| x.authorization.clone()).unwrap_or_default())}}),
                retry_after: None,
            },
            Some(r) => r,
            None => Reply::Ok { delay },
        }
    } else {
        Reply::Ok {
            delay: Duration::ZERO,
        }
    };
    (reply, authorized)
}

/// Waits out a success's delay while counting it as in flight.
async fn busy(state: &Shared, delay: Duration) {
    {
        let mut s = lock(state);
        s.in_flight += 1;
        s.max_in_flight = s.max_in_flight.max(s.in_flight);
    }
    tokio::time::sleep(delay).await;
    lock(state).in_flight -= 1;
}

fn json_reply(status: u16, body: Value, retry_after: Option<u32>) -> Response {
    let mut resp = (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        Json(body),
    )
        .into_response();
    if let Some(s) = retry_after
        && let Ok(v) = s.to_string().parse()
    {
        resp.headers_mut().insert("retry-after", v);
    }
    resp
}

fn malformed() -> Response {
    (
        StatusCode::OK,
        [("content-type", "application/json")],
        "{\"data\": [{\"b64_json\": \"AAAA",
    )
        .into_response()
}

/// `{"error": {"code", "message"}}`: OpenRouter's error shape, also what the fake's own
/// endpoints (outages, video downloads) answer with.
fn coded_error(status: u16, message: &str) -> Response {
    json_reply(
        status,
        json!({"error": {"code": status, "message": message}}),
        None,
    )
}

/// HTTP 200 that announces all of `body` but sends only its first half, then drops the
/// connection (the server dies, a proxy times out).
fn cut_short(content_type: &str, body: Vec<u8>) -> Response {
    let len = body.len();
    let half = Bytes::from(body).slice(..len / 2);
    let chunks: Vec<Result<Bytes, std::io::Error>> = vec![
        Ok(half),
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "the fake drops the connection mid-body",
        )),
    ];
    Response::builder()
        .status(200)
        .header("content-type", content_type)
        .header("content-length", len)
        .body(Body::from_stream(futures_util::stream::iter(chunks)))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// HTTP 200 with only the first half of `body`, its length matching what is sent.
fn first_half(content_type: &str, mut body: Vec<u8>) -> Response {
    body.truncate(body.len() / 2);
    raw_body(content_type, body)
}

/// HTTP 200 with exactly this body and content type.
fn raw_body(content_type: &str, body: Vec<u8>) -> Response {
    (
        StatusCode::OK,
        [("content-type", content_type.to_string())],
        body,
    )
        .into_response()
}

/// Waits out a success's delay; returns the defect its media must have, if any.
async fn made(state: &Shared, reply: &Reply) -> Option<Defect> {
    match reply {
        Reply::Ok { delay } | Reply::Hang(delay) => {
            busy(state, *delay).await;
            None
        }
        Reply::Flawed(d) => Some(*d),
        _ => None,
    }
}

/// Status, malformed and job-failure replies, common to every API.
fn scripted(reply: Reply) -> Response {
    match reply {
        Reply::Status {
            status,
            body,
            retry_after,
        } => json_reply(status, body, retry_after),
        Reply::Malformed => malformed(),
        Reply::Truncated => cut_short(
            "application/json",
            format!("{{\"data\": [{{\"b64_json\": \"{}\"}}]}}", "A".repeat(4096)).into_bytes(),
        ),
        Reply::Body { content_type, body } => raw_body(&content_type, body),
        _ => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// Answers an image request as scripted: a picture (after the delay, or with its defect)
/// handed to `deliver` in the API's shape, a refusal, or a scripted error.
async fn image_reply(
    state: &Shared,
    api: Api,
    reply: Reply,
    refused: impl FnOnce() -> Response,
    deliver: impl FnOnce(Vec<u8>) -> Response,
) -> Response {
    match reply {
        Reply::Ok { .. } | Reply::Hang(_) | Reply::Flawed(_) => {
            let defect = made(state, &reply).await;
            deliver(studio::make_png(state, api, defect))
        }
        Reply::Refuse => refused(),
        other => scripted(other),
    }
}
