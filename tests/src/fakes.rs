//! Fake generation services on 127.0.0.1, one server for all four, each under its own base
//! path and speaking its API's documented shapes: OpenAI images (`b64_json`) and Sora videos,
//! OpenRouter chat images and `/videos` jobs (202, poll, `/content`), Stability AI multipart
//! `stable-image/generate/{sd3,ultra,core}`, Runway `text_to_video` + `tasks` with an output URL
//! on a storage host that must get no API key. Requests are checked against each API's
//! allowed values and answered with its error shape when wrong, so a mapping mistake in the
//! miner fails a test. Replies can be scripted per API: errors, 429 with `Retry-After`,
//! hangs, malformed JSON, refusals, failing video jobs, bodies cut short, bodies of the wrong
//! type; video downloads can be scripted the same way. For the validator's side of the fault
//! matrix there is a receiver with scripted answers (`FlakyValidator`: 4xx, 5xx, slow) and an
//! HTTPS endpoint whose certificate nobody trusts (`TlsTrap`).

use axum::body::{Body, Bytes};
use axum::extract::{Multipart, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::StreamExt;
use gas_miner::preflight::signer::{Claim, Holder, MediaSigner, TestCa};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const OPENAI_KEY: &str = "sk-openai-test-key";
pub const OPEN_ROUTER_KEY: &str = "sk-or-test-key";
pub const STABILITY_KEY: &str = "sk-stability-test-key";
pub const RUNWAY_KEY: &str = "key_runway-test-key";
pub const ALL_KEYS: [&str; 4] = [OPENAI_KEY, OPEN_ROUTER_KEY, STABILITY_KEY, RUNWAY_KEY];

/// Which API a request was for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Api {
    OpenAiImage,
    OpenAiVideo,
    OpenRouterImage,
    OpenRouterVideo,
    Stability,
    Runway,
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
    /// `generate`, `create`, `poll` or `download`.
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

#[derive(Debug, Clone)]
struct FakeJob {
    api: Api,
    polls_left: u32,
    failure: Option<String>,
    /// The finished video, as it will be downloaded.
    media: Bytes,
    sha256: String,
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
        }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let router = Router::new()
            .route("/openai/v1/images/generations", post(openai_image))
            .route("/openai/v1/videos", post(openai_video_create))
            .route("/openai/v1/videos/{id}", get(openai_video_get))
            .route("/openai/v1/videos/{id}/content", get(video_content))
            .route("/openrouter/api/v1/chat/completions", post(openrouter_chat))
            .route("/openrouter/api/v1/videos", post(openrouter_video_create))
            .route("/openrouter/api/v1/videos/{id}", get(openrouter_video_get))
            .route("/openrouter/api/v1/videos/{id}/content", get(video_content))
            .route(
                "/stability/v2beta/stable-image/generate/{endpoint}",
                post(stability_generate),
            )
            .route("/runway/v1/text_to_video", post(runway_create))
            .route("/runway/v1/tasks/{id}", get(runway_task))
            .route("/storage/{file}", get(storage))
            .with_state(state.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
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
/// bearer key was right.
fn arrive(
    state: &Shared,
    api: Api,
    op: &'static str,
    headers: &HeaderMap,
    body: &Value,
    key: &str,
) -> (Reply, bool) {
    let authorization = header(headers, "authorization");
    let authorized = authorization.as_deref() == Some(&format!("Bearer {key}"));
    let mut s = lock(state);
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

/// How media comes out of the fake: every service's output is C2PA-signed by a "Google LLC"
/// certificate from a CA made at start (its root is what the miner must trust), unless a
/// scripted defect says otherwise.
pub struct Studio {
    pub root_pem: String,
    signer: MediaSigner,
    /// The same organisation, from a CA nobody trusts.
    stranger: MediaSigner,
}

impl Studio {
    fn new() -> Studio {
        let ca = TestCa::new("Fake Provider Root").expect("test CA");
        let stranger = TestCa::new("Stranger Root")
            .and_then(|c| c.signer(&Holder::valid("Google LLC")))
            .expect("stranger CA");
        Studio {
            signer: ca.signer(&Holder::valid("Google LLC")).expect("signer"),
            root_pem: ca.root_pem,
            stranger,
        }
    }

    /// Signs `media` as `defect` says (`None`: properly).
    pub fn sign(&self, media: &[u8], mime: &str, defect: Option<&Defect>) -> Vec<u8> {
        let mut claim = Claim {
            generator: "Google Gemini".into(),
            when: time::OffsetDateTime::now_utc(),
            ai_generated: true,
        };
        let signer = match defect {
            Some(Defect::Unsigned) => return media.to_vec(),
            Some(Defect::Untrusted) => &self.stranger,
            Some(Defect::Stale) => {
                claim.when -= time::Duration::seconds(900);
                &self.signer
            }
            _ => &self.signer,
        };
        let mut signed = signer.sign(media, mime, &claim).expect("c2pa signing");
        if defect == Some(&Defect::Tampered) {
            // Changed after signing: flip a byte in the middle of the media.
            let i = signed.len() / 2;
            signed[i] ^= 0x55;
        }
        if defect == Some(&Defect::Edited) {
            signed = edited(signed);
        }
        signed
    }
}

/// Something wrong with the media a fake hands out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Defect {
    /// No C2PA manifest at all.
    Unsigned,
    /// Signed, then changed.
    Tampered,
    /// Signed 900 s before the challenge.
    Stale,
    /// Signed by a CA the miner does not trust.
    Untrusted,
    /// The very image this API handed out last time.
    Repeat,
    /// Signed, then edited so that it still decodes: a PNG gets a text chunk before `IEND`
    /// (what a metadata editor does); other media get a byte changed, as `Tampered`.
    Edited,
}

/// Media changed after signing in a way every decoder accepts.
fn edited(mut media: Vec<u8>) -> Vec<u8> {
    const IEND: usize = 12;
    if !media.starts_with(b"\x89PNG") || media.len() < 8 + IEND {
        let i = media.len() / 2;
        media[i] ^= 0x55;
        return media;
    }
    let data: &[u8] = b"Comment\0edited after signing";
    let mut chunk = (data.len() as u32).to_be_bytes().to_vec();
    chunk.extend_from_slice(b"tEXt");
    chunk.extend_from_slice(data);
    chunk.extend_from_slice(&crate::fixtures::crc32(&chunk[4..]).to_be_bytes());
    let at = media.len() - IEND;
    media.splice(at..at, chunk);
    media
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
    (
        StatusCode::OK,
        [("content-type", content_type.to_string())],
        body,
    )
        .into_response()
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

/// A noise picture (distinct per call, so perceptual hashes differ), as PNG.
fn noise_png(size: u32) -> Vec<u8> {
    let mut seed = u64::from_le_bytes(
        uuid::Uuid::new_v4().as_bytes()[..8]
            .try_into()
            .unwrap_or([7; 8]),
    ) | 1;
    let img = image::RgbImage::from_fn(size, size, |_, _| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let b = seed.to_le_bytes();
        image::Rgb([b[0], b[1], b[2]])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)
        .expect("png encodes");
    out.into_inner()
}

/// A signed picture for `api` (or a flawed one), recorded as produced.
fn make_png(state: &Shared, api: Api, defect: Option<Defect>) -> Vec<u8> {
    let studio = lock(state).studio.clone();
    let bytes = match defect {
        Some(Defect::Repeat) => {
            let last = lock(state).last_image.get(&api).cloned();
            last.unwrap_or_else(|| studio.sign(&noise_png(128), "image/png", None))
        }
        d => studio.sign(&noise_png(128), "image/png", d.as_ref()),
    };
    let mut s = lock(state);
    s.last_image.insert(api, bytes.clone());
    s.produced.push(Produced {
        api,
        sha256: hex::encode(Sha256::digest(&bytes)),
        len: bytes.len(),
    });
    bytes
}

/// A signed 1920×1080 video of about `payload` bytes (or a flawed one).
fn make_video(studio: &Studio, payload: usize, defect: Option<Defect>) -> Bytes {
    let mp4 = gas_miner::preflight::media::synthetic_mp4(1920, 1080, 96, &vec![0x5a; payload]);
    Bytes::from(studio.sign(&mp4, "video/mp4", defect.as_ref()))
}

/// Registers a new video job with its finished video; returns its id.
async fn new_job(
    state: &Shared,
    api: Api,
    failure: Option<String>,
    prefix: &str,
    defect: Option<Defect>,
) -> String {
    let id = format!("{prefix}{}", uuid::Uuid::new_v4().simple());
    let (studio, payload) = {
        let s = lock(state);
        (s.studio.clone(), s.video_bytes)
    };
    let media = tokio::task::spawn_blocking(move || make_video(&studio, payload, defect))
        .await
        .expect("video made");
    let sha256 = hex::encode(Sha256::digest(&media));
    let mut s = lock(state);
    // A job bound to fail says so at its first poll.
    let polls = if failure.is_some() {
        0
    } else {
        s.polls_to_finish
    };
    s.jobs.insert(
        id.clone(),
        FakeJob {
            api,
            polls_left: polls,
            failure,
            media,
            sha256,
        },
    );
    id
}

/// A scripted outage of the download (`true`) or poll endpoint, if one is due.
fn outage(state: &Shared, download: bool) -> Option<Response> {
    let mut s = lock(state);
    let left = if download {
        &mut s.fail_downloads
    } else {
        &mut s.fail_polls
    };
    if *left == 0 {
        return None;
    }
    *left -= 1;
    let status = if download { 500 } else { 503 };
    Some(json_reply(
        status,
        json!({"error": {"code": status, "message": "temporarily unavailable"}}),
        None,
    ))
}

/// Where a job is after one more poll: `None` unknown, else (done, failure).
fn poll_job(state: &Shared, id: &str) -> Option<(bool, Option<String>)> {
    let mut s = lock(state);
    let job = s.jobs.get_mut(id)?;
    if job.polls_left > 0 {
        job.polls_left -= 1;
        return Some((false, None));
    }
    Some((true, job.failure.clone()))
}

/// Counts a video body in flight for as long as its stream lives.
struct Streaming(Shared);

impl Streaming {
    fn new(state: Shared) -> Streaming {
        {
            let mut s = lock(&state);
            s.downloads += 1;
            s.max_downloads = s.max_downloads.max(s.downloads);
        }
        Streaming(state)
    }
}

impl Drop for Streaming {
    fn drop(&mut self) {
        lock(&self.0).downloads -= 1;
    }
}

/// Streams a finished job's video (64 KiB chunks, paced by `chunk_pause`).
fn stream_video(state: &Shared, id: &str) -> Option<Response> {
    if let Some(down) = outage(state, true) {
        return Some(down);
    }
    let scripted = {
        let mut s = lock(state);
        let ready = s
            .jobs
            .get(id)
            .is_some_and(|j| j.polls_left == 0 && j.failure.is_none());
        if ready {
            s.downloads_script.pop_front()
        } else {
            None
        }
    };
    if let Some(reply) = scripted {
        let media = lock(state).jobs.get(id)?.media.to_vec();
        match reply {
            Reply::Truncated => return Some(cut_short("video/mp4", media)),
            Reply::ShortMedia => return Some(first_half("video/mp4", media)),
            Reply::Body { content_type, body } => return Some(raw_body(&content_type, body)),
            _ => {}
        }
    }
    let (media, sha256, pause, api) = {
        let s = lock(state);
        let job = s.jobs.get(id)?;
        if job.polls_left > 0 || job.failure.is_some() {
            return None;
        }
        (
            job.media.clone(),
            job.sha256.clone(),
            s.chunk_pause,
            job.api,
        )
    };
    {
        let mut s = lock(state);
        if !s.produced.iter().any(|p| p.sha256 == sha256) {
            let len = media.len();
            s.produced.push(Produced { api, sha256, len });
        }
    }
    let len = media.len();
    let chunks: Vec<Bytes> = (0..len)
        .step_by(64 * 1024)
        .map(|i| media.slice(i..(i + 64 * 1024).min(len)))
        .collect();
    let guard = Streaming::new(state.clone());
    let stream = futures_util::stream::iter(chunks).then(move |c| {
        let _alive = &guard;
        async move {
            if !pause.is_zero() {
                tokio::time::sleep(pause).await;
            }
            Ok::<_, std::io::Error>(c)
        }
    });
    Some(
        Response::builder()
            .status(200)
            .header("content-type", "video/mp4")
            .header("content-length", len)
            .body(Body::from_stream(stream))
            .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response()),
    )
}

// ---------------------------------------------------------------- OpenAI

fn openai_error(status: u16, message: &str, param: Option<&str>, code: &str) -> Response {
    json_reply(
        status,
        json!({"error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}}),
        None,
    )
}

fn openai_unauthorized() -> Response {
    openai_error(
        401,
        "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.",
        None,
        "invalid_api_key",
    )
}

async fn openai_image(
    State(state): State<Shared>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let (reply, ok) = arrive(
        &state,
        Api::OpenAiImage,
        "generate",
        &headers,
        &body,
        OPENAI_KEY,
    );
    if !ok {
        return openai_unauthorized();
    }
    let s = |k: &str| body.get(k).and_then(|v| v.as_str()).unwrap_or("");
    if !s("model").starts_with("gpt-image") {
        return openai_error(
            400,
            &format!("The model '{}' does not exist.", s("model")),
            Some("model"),
            "model_not_found",
        );
    }
    if !["1024x1024", "1536x1024", "1024x1536", "auto"].contains(&s("size")) {
        return openai_error(
            400,
            &format!(
                "Invalid value: '{}'. Supported values are: '1024x1024', '1024x1536', '1536x1024', and 'auto'.",
                s("size")
            ),
            Some("size"),
            "invalid_value",
        );
    }
    if !["low", "medium", "high", "auto"].contains(&s("quality")) || body["n"] != 1 {
        return openai_error(
            400,
            "Invalid quality or n",
            Some("quality"),
            "invalid_value",
        );
    }
    match &reply {
        Reply::Ok { .. } | Reply::Hang(_) | Reply::Flawed(_) => {
            let defect = made(&state, &reply).await;
            use base64::Engine;
            let png = make_png(&state, Api::OpenAiImage, defect);
            Json(json!({
                "created": gas_miner::epistula::now_ms() / 1000,
                "data": [{"b64_json": base64::engine::general_purpose::STANDARD.encode(&png)}],
                "output_format": "png", "quality": s("quality"), "size": s("size"),
                "usage": {"input_tokens": 12, "output_tokens": 4160, "total_tokens": 4172},
            }))
            .into_response()
        }
        Reply::Refuse => json_reply(
            400,
            json!({"error": {"message": "Your request was rejected by the safety system. If you believe this is an error, contact us.", "type": "image_generation_user_error", "param": null, "code": "moderation_blocked"}}),
            None,
        ),
        _ => scripted(reply),
    }
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

fn sora_object(id: &str, status: &str, body: &Value, error: Option<&str>) -> Value {
    json!({
        "id": id, "object": "video", "model": body["model"], "status": status,
        "progress": if status == "completed" { 100 } else { 0 },
        "created_at": gas_miner::epistula::now_ms() / 1000, "completed_at": null, "expires_at": null,
        "size": body["size"], "seconds": body["seconds"], "remixed_from_video_id": null,
        "error": error.map(|m| json!({"code": "video_generation_failed", "message": m})),
    })
}

async fn openai_video_create(
    State(state): State<Shared>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let (reply, ok) = arrive(
        &state,
        Api::OpenAiVideo,
        "create",
        &headers,
        &body,
        OPENAI_KEY,
    );
    if !ok {
        return openai_unauthorized();
    }
    let s = |k: &str| body.get(k).and_then(|v| v.as_str()).unwrap_or("");
    let sizes: &[&str] = match s("model") {
        "sora-2" => &["720x1280", "1280x720"],
        "sora-2-pro" => &["720x1280", "1280x720", "1024x1792", "1792x1024"],
        other => {
            return openai_error(
                400,
                &format!("The model '{other}' does not exist."),
                Some("model"),
                "model_not_found",
            );
        }
    };
    if !sizes.contains(&s("size")) {
        return openai_error(
            400,
            &format!("Invalid size '{}' for {}", s("size"), s("model")),
            Some("size"),
            "invalid_value",
        );
    }
    if !["4", "8", "12"].contains(&s("seconds")) {
        return openai_error(
            400,
            "Invalid value for 'seconds': expected one of '4', '8', '12' (a string).",
            Some("seconds"),
            "invalid_value",
        );
    }
    let refused = || {
        openai_error(
            400,
            "Your request was blocked by our moderation system.",
            None,
            "moderation_blocked",
        )
    };
    create_job(&state, Api::OpenAiVideo, reply, "video_", refused, |id| {
        remember_body(&state, &id, &body);
        Json(sora_object(&id, "queued", &body, None)).into_response()
    })
    .await
}

/// Answers a job-creation request as scripted: a new job (running, or bound to fail), a
/// refusal, or a scripted error.
async fn create_job(
    state: &Shared,
    api: Api,
    reply: Reply,
    prefix: &str,
    refused: impl FnOnce() -> Response,
    accepted: impl FnOnce(String) -> Response,
) -> Response {
    match reply {
        Reply::Ok { .. } | Reply::Hang(_) | Reply::Flawed(_) => {
            let defect = made(state, &reply).await;
            accepted(new_job(state, api, None, prefix, defect).await)
        }
        Reply::JobFails(why) => accepted(new_job(state, api, Some(why), prefix, None).await),
        Reply::Refuse => refused(),
        other => scripted(other),
    }
}

/// Keeps a job's request beside it (Sora echoes it on every poll).
fn remember_body(state: &Shared, id: &str, body: &Value) {
    lock(state).seen.push(Seen {
        api: Api::OpenAiVideo,
        op: "job-body",
        body: json!({"id": id, "body": body}),
        at: Instant::now(),
        authorization: None,
    });
}

async fn openai_video_get(
    State(state): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let (_, ok) = arrive(
        &state,
        Api::OpenAiVideo,
        "poll",
        &headers,
        &json!({"id": id}),
        OPENAI_KEY,
    );
    if !ok {
        return openai_unauthorized();
    }
    if let Some(down) = outage(&state, false) {
        return down;
    }
    let body = lock(&state)
        .seen
        .iter()
        .rev()
        .find(|s| s.op == "job-body" && s.body["id"] == id.as_str())
        .map(|s| s.body["body"].clone())
        .unwrap_or_default();
    match poll_job(&state, &id) {
        None => openai_error(
            404,
            &format!("Video with id '{id}' not found."),
            None,
            "not_found",
        ),
        Some((false, _)) => Json(sora_object(&id, "in_progress", &body, None)).into_response(),
        Some((true, None)) => Json(sora_object(&id, "completed", &body, None)).into_response(),
        Some((true, Some(why))) => {
            Json(sora_object(&id, "failed", &body, Some(&why))).into_response()
        }
    }
}

/// `GET …/videos/{id}/content` for OpenAI and OpenRouter: the bearer key is required.
async fn video_content(
    State(state): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let api = lock(&state).jobs.get(&id).map(|j| j.api);
    let Some(api) = api else {
        return json_reply(
            404,
            json!({"error": {"code": 404, "message": "Video not found"}}),
            None,
        );
    };
    let key = if api == Api::OpenAiVideo {
        OPENAI_KEY
    } else {
        OPEN_ROUTER_KEY
    };
    let (_, ok) = arrive(&state, api, "download", &headers, &json!({"id": id}), key);
    if !ok {
        return json_reply(
            401,
            json!({"error": {"code": 401, "message": "No auth credentials found"}}),
            None,
        );
    }
    stream_video(&state, &id).unwrap_or_else(|| {
        json_reply(
            404,
            json!({"error": {"code": 404, "message": "Video is not ready"}}),
            None,
        )
    })
}

// ---------------------------------------------------------------- OpenRouter

fn openrouter_error(status: u16, message: &str) -> Response {
    json_reply(
        status,
        json!({"error": {"code": status, "message": message}}),
        None,
    )
}

async fn openrouter_chat(
    State(state): State<Shared>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let (reply, ok) = arrive(
        &state,
        Api::OpenRouterImage,
        "generate",
        &headers,
        &body,
        OPEN_ROUTER_KEY,
    );
    if !ok {
        return openrouter_error(401, "No auth credentials found");
    }
    let size = body
        .pointer("/image_config/image_size")
        .and_then(|v| v.as_str())
        .unwrap_or("1K")
        .to_string();
    let aspect = body
        .pointer("/image_config/aspect_ratio")
        .and_then(|v| v.as_str())
        .unwrap_or("1:1");
    if !["0.5K", "1K", "2K", "4K"].contains(&size.as_str())
        || ![
            "1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9",
        ]
        .contains(&aspect)
    {
        return openrouter_error(400, "Invalid image_config");
    }
    match &reply {
        Reply::Ok { .. } | Reply::Hang(_) | Reply::Flawed(_) => {
            let defect = made(&state, &reply).await;
            let png = make_png(&state, Api::OpenRouterImage, defect);
            use base64::Engine;
            let url = format!(
                "data:image/png;base64,{}",
                base64::engine::general_purpose::STANDARD.encode(&png)
            );
            Json(json!({"id": "gen-1", "choices": [{"message": {"role": "assistant", "content": "", "images": [{"type": "image_url", "image_url": {"url": url}}]}}]})).into_response()
        }
        Reply::Refuse => openrouter_error(
            403,
            "Your input was flagged by the provider's moderation: violence",
        ),
        _ => scripted(reply),
    }
}

/// The video models OpenRouter serves with verifiable C2PA, as the fake checks them.
fn openrouter_model(
    model: &str,
) -> Option<(
    &'static [u32],
    &'static [&'static str],
    &'static [&'static str],
)> {
    const VEO: &[&str] = &["16:9", "9:16"];
    const SEED: &[&str] = &["1:1", "3:4", "9:16", "4:3", "16:9", "21:9", "9:21"];
    const SEED_S: &[u32] = &[4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
    match model {
        "google/veo-3.1" | "google/veo-3.1-fast" => {
            Some((&[4, 6, 8], VEO, &["720p", "1080p", "4K"]))
        }
        "google/veo-3.1-lite" => Some((&[4, 6, 8], VEO, &["720p", "1080p"])),
        "bytedance/seedance-2.0" => Some((SEED_S, SEED, &["480p", "720p", "1080p"])),
        "bytedance/seedance-2.0-fast" => Some((SEED_S, SEED, &["480p", "720p"])),
        _ => None,
    }
}

async fn openrouter_video_create(
    State(state): State<Shared>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let (reply, ok) = arrive(
        &state,
        Api::OpenRouterVideo,
        "create",
        &headers,
        &body,
        OPEN_ROUTER_KEY,
    );
    if !ok {
        return openrouter_error(401, "No auth credentials found");
    }
    let model = body["model"].as_str().unwrap_or("");
    let Some((durations, ratios, resolutions)) = openrouter_model(model) else {
        return openrouter_error(
            400,
            &format!("Model {model} not found or not a video model"),
        );
    };
    let duration = body["duration"].as_u64().unwrap_or(0) as u32;
    let ratio = body["aspect_ratio"].as_str().unwrap_or("");
    let resolution = body["resolution"].as_str().unwrap_or("");
    if !durations.contains(&duration)
        || !ratios.contains(&ratio)
        || !resolutions.contains(&resolution)
        || body["prompt"].as_str().is_none_or(str::is_empty)
    {
        return openrouter_error(
            400,
            &format!(
                "Unsupported parameters for {model}: duration {duration}, aspect_ratio {ratio}, resolution {resolution}"
            ),
        );
    }
    let accepted = |id: String| {
        (
            StatusCode::ACCEPTED,
            Json(json!({"id": id, "polling_url": format!("/api/v1/videos/{id}"), "status": "pending"})),
        )
            .into_response()
    };
    let refused = || openrouter_error(403, "Prompt flagged by moderation");
    create_job(
        &state,
        Api::OpenRouterVideo,
        reply,
        "job-",
        refused,
        accepted,
    )
    .await
}

async fn openrouter_video_get(
    State(state): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let (_, ok) = arrive(
        &state,
        Api::OpenRouterVideo,
        "poll",
        &headers,
        &json!({"id": id}),
        OPEN_ROUTER_KEY,
    );
    if !ok {
        return openrouter_error(401, "No auth credentials found");
    }
    if let Some(down) = outage(&state, false) {
        return down;
    }
    let polling_url = format!("/api/v1/videos/{id}");
    match poll_job(&state, &id) {
        None => openrouter_error(404, "Video generation job not found"),
        Some((false, _)) => {
            Json(json!({"id": id, "polling_url": polling_url, "status": "in_progress"}))
                .into_response()
        }
        Some((true, None)) => Json(json!({
            "id": id, "polling_url": polling_url, "status": "completed", "generation_id": "gen-xyz",
            "unsigned_urls": [format!("https://storage.example/{id}.mp4")], "usage": {"cost": 0.12, "is_byok": false},
        }))
        .into_response(),
        Some((true, Some(why))) => Json(
            json!({"id": id, "polling_url": polling_url, "status": "failed", "error": why}),
        )
        .into_response(),
    }
}

// ---------------------------------------------------------------- Stability AI

fn stability_error(status: u16, name: &str, error: &str) -> Response {
    json_reply(
        status,
        json!({"id": uuid::Uuid::new_v4().simple().to_string(), "name": name, "errors": [error]}),
        None,
    )
}

async fn stability_generate(
    State(state): State<Shared>,
    Path(endpoint): Path<String>,
    headers: HeaderMap,
    mut form: Multipart,
) -> Response {
    let mut fields = serde_json::Map::new();
    loop {
        match form.next_field().await {
            Ok(Some(field)) => {
                let name = field.name().unwrap_or("").to_string();
                let value = field.text().await.unwrap_or_default();
                fields.insert(name, json!(value));
            }
            Ok(None) => break,
            Err(e) => {
                return stability_error(400, "bad_request", &format!("malformed multipart: {e}"));
            }
        }
    }
    fields.insert("endpoint".into(), json!(endpoint));
    let body = Value::Object(fields);
    let (reply, ok) = arrive(
        &state,
        Api::Stability,
        "generate",
        &headers,
        &body,
        STABILITY_KEY,
    );
    if !ok {
        return stability_error(
            401,
            "unauthorized",
            "authorization: invalid or missing API key",
        );
    }
    let f = |k: &str| body.get(k).and_then(|v| v.as_str()).unwrap_or("");
    let accept = header(&headers, "accept").unwrap_or_default();
    let models_ok = match endpoint.as_str() {
        "sd3" => [
            "sd3.5-large",
            "sd3.5-large-turbo",
            "sd3.5-medium",
            "sd3.5-flash",
            "",
        ]
        .contains(&f("model")),
        "ultra" | "core" => true,
        _ => return stability_error(404, "not_found", "unknown endpoint"),
    };
    let aspect_ok = [
        "16:9", "1:1", "21:9", "2:3", "3:2", "4:5", "5:4", "9:16", "9:21", "",
    ]
    .contains(&f("aspect_ratio"));
    if f("prompt").is_empty()
        || !models_ok
        || !aspect_ok
        || !["png", "jpeg", "webp", ""].contains(&f("output_format"))
    {
        return stability_error(
            400,
            "invalid_parameters",
            "prompt, model, aspect_ratio or output_format: invalid value",
        );
    }
    if !(accept == "image/*" || accept == "application/json") {
        return stability_error(
            400,
            "invalid_accept",
            "accept: must be image/* or application/json",
        );
    }
    match &reply {
        Reply::Ok { .. } | Reply::Hang(_) | Reply::Flawed(_) => {
            let defect = made(&state, &reply).await;
            let png = make_png(&state, Api::Stability, defect);
            (
                StatusCode::OK,
                [
                    ("content-type", "image/png"),
                    ("finish-reason", "SUCCESS"),
                    ("seed", "12345"),
                ],
                png,
            )
                .into_response()
        }
        Reply::Truncated => cut_short("image/png", make_png(&state, Api::Stability, None)),
        Reply::ShortMedia => first_half("image/png", make_png(&state, Api::Stability, None)),
        Reply::Refuse => stability_error(
            403,
            "content_moderation",
            "Your request was flagged by our content moderation system, as a result your request was denied and you were not charged.",
        ),
        _ => scripted(reply),
    }
}

// ---------------------------------------------------------------- Runway

fn runway_error(status: u16, message: &str) -> Response {
    json_reply(status, json!({"error": message}), None)
}

async fn runway_create(
    State(state): State<Shared>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let (reply, ok) = arrive(&state, Api::Runway, "create", &headers, &body, RUNWAY_KEY);
    if !ok {
        return runway_error(401, "Invalid API key");
    }
    if header(&headers, "x-runway-version").as_deref() != Some("2024-11-06") {
        return runway_error(
            400,
            "Missing or invalid X-Runway-Version header; use 2024-11-06",
        );
    }
    const VEO: &[&str] = &["1280:720", "720:1280", "1080:1920", "1920:1080"];
    const SEED: &[&str] = &[
        "1280:720",
        "720:1280",
        "1080:1080",
        "1080:1920",
        "1920:1080",
    ];
    let model = body["model"].as_str().unwrap_or("");
    let (ratios, durations): (&[&str], std::ops::RangeInclusive<u64>) = match model {
        "veo3.1" | "veo3.1_fast" => (VEO, 4..=8),
        "veo3" => (VEO, 8..=8),
        "seedance2" | "seedance2_fast" => (SEED, 4..=15),
        other => return runway_error(400, &format!("Invalid model: {other}")),
    };
    let duration = body["duration"].as_u64().unwrap_or(0);
    let veo_durations_ok = !model.starts_with("veo3.1") || [4, 6, 8].contains(&duration);
    if !ratios.contains(&body["ratio"].as_str().unwrap_or(""))
        || !durations.contains(&duration)
        || !veo_durations_ok
        || body["promptText"]
            .as_str()
            .is_none_or(|p| p.is_empty() || p.chars().count() > 3500)
        || (model.starts_with("veo") && body.get("seed").is_some())
    {
        return runway_error(400, &format!("Validation of body failed for {model}"));
    }
    let refused = || runway_error(400, "Prompt text did not pass content moderation");
    create_job(&state, Api::Runway, reply, "", refused, |id| {
        Json(json!({ "id": id })).into_response()
    })
    .await
}

async fn runway_task(
    State(state): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let (_, ok) = arrive(
        &state,
        Api::Runway,
        "poll",
        &headers,
        &json!({"id": id}),
        RUNWAY_KEY,
    );
    if !ok {
        return runway_error(401, "Invalid API key");
    }
    if let Some(down) = outage(&state, false) {
        return down;
    }
    let created = "2026-11-25T12:00:00.000Z";
    match poll_job(&state, &id) {
        None => runway_error(404, "Task not found"),
        Some((false, _)) => {
            Json(json!({"id": id, "createdAt": created, "status": "RUNNING", "progress": 0.4}))
                .into_response()
        }
        Some((true, None)) => {
            let port = header(&headers, "host").unwrap_or_default();
            Json(json!({
                "id": id, "createdAt": created, "status": "SUCCEEDED",
                "output": [format!("http://{port}/storage/{id}.mp4?_jwt=signed-link")],
            }))
            .into_response()
        }
        Some((true, Some(why))) => Json(json!({
            "id": id, "createdAt": created, "status": "FAILED",
            "failure": why, "failureCode": "SAFETY.INPUT.TEXT",
        }))
        .into_response(),
    }
}

/// Runway's output host: a signed link that must never receive the API key.
async fn storage(
    State(state): State<Shared>,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> Response {
    let id = file.trim_end_matches(".mp4").to_string();
    let authorization = header(&headers, "authorization");
    {
        let mut s = lock(&state);
        if let Some(a) = &authorization {
            s.violations.push(format!(
                "the storage host received an Authorization header: {a}"
            ));
        }
        s.seen.push(Seen {
            api: Api::Runway,
            op: "download",
            body: json!({"id": id}),
            at: Instant::now(),
            authorization,
        });
    }
    stream_video(&state, &id).unwrap_or_else(|| StatusCode::NOT_FOUND.into_response())
}

// ---------------------------------------------------------------- Validator faults

/// How a `FlakyValidator` answers one webhook.
#[derive(Debug, Clone)]
pub enum Answer {
    /// Handed to the real receiver (Epistula checked, recorded), its reply returned.
    Pass,
    /// This status and text; the webhook is read and dropped.
    Status(u16, &'static str),
    /// Handed on only after this pause (a validator under load).
    Slow(Duration),
}

/// One webhook attempt as it reached a `FlakyValidator`.
#[derive(Debug, Clone)]
pub struct Knock {
    pub at: Instant,
    pub task_id: String,
    /// The `task-status` header: `completed` or `failed`.
    pub status_header: String,
    /// What the validator answered (`None`: the forward to the receiver failed).
    pub answered: Option<u16>,
}

/// A validator whose webhook receiver misbehaves as scripted, in front of a `FakeValidator`
/// (`inner`) that judges and records what is passed on. Unscripted webhooks pass.
#[derive(Clone)]
pub struct FlakyValidator {
    pub addr: SocketAddr,
    pub inner: crate::FakeValidator,
    script: Arc<Mutex<VecDeque<Answer>>>,
    knocks: Arc<Mutex<Vec<Knock>>>,
    client: reqwest::Client,
}

impl FlakyValidator {
    pub async fn start(
        validator: &gas_miner::identity::Hotkey,
        miner: &gas_miner::identity::Hotkey,
    ) -> FlakyValidator {
        let inner = crate::FakeValidator::start(validator, miner).await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let v = FlakyValidator {
            addr: listener.local_addr().expect("addr"),
            inner,
            script: Arc::default(),
            knocks: Arc::default(),
            client: reqwest::Client::new(),
        };
        let router = Router::new()
            .route("/generative_callback", post(flaky_callback))
            .with_state(v.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        v
    }

    pub fn url(&self) -> String {
        format!("http://{}/generative_callback", self.addr)
    }

    /// Answers for the next webhooks, in order of arrival.
    pub fn script(&self, answers: impl IntoIterator<Item = Answer>) {
        self.script
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend(answers);
    }

    /// Every attempt that reached this validator, whatever it was answered.
    pub fn knocks(&self) -> Vec<Knock> {
        self.knocks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

async fn flaky_callback(
    State(v): State<FlakyValidator>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let at = Instant::now();
    let answer = v
        .script
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .pop_front()
        .unwrap_or(Answer::Pass);
    let (status, text) = match answer {
        Answer::Status(status, text) => (Some(status), text.to_string()),
        Answer::Pass | Answer::Slow(_) => {
            if let Answer::Slow(pause) = answer {
                tokio::time::sleep(pause).await;
            }
            let mut req = v.client.post(v.inner.url()).body(body);
            for (name, value) in &headers {
                if !matches!(
                    name.as_str(),
                    "host" | "content-length" | "transfer-encoding"
                ) {
                    req = req.header(name, value);
                }
            }
            match req.send().await {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    (Some(status), resp.text().await.unwrap_or_default())
                }
                Err(e) => (None, e.to_string()),
            }
        }
    };
    v.knocks
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(Knock {
            at,
            task_id: header(&headers, "task-id").unwrap_or_default(),
            status_header: header(&headers, "task-status").unwrap_or_default(),
            answered: status,
        });
    let code = status
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::BAD_GATEWAY);
    (code, text).into_response()
}

/// A throwaway self-signed server certificate for 127.0.0.1 (P-256, CA:FALSE, valid from 2000
/// to 2126 whatever the test machine's clock says): no verifier trusts its issuer, the point.
const SELF_SIGNED_CERT: &str = "-----BEGIN CERTIFICATE-----
MIIBgTCCASigAwIBAgIUd1c+d0haniVEtGMubwttWWf7LLEwCgYIKoZIzj0EAwIw
HDEaMBgGA1UEAwwRdmFsaWRhdG9yLmludmFsaWQwIBcNMDAwMTAxMDAwMDAwWhgP
MjEyNjAxMDEwMDAwMDBaMBwxGjAYBgNVBAMMEXZhbGlkYXRvci5pbnZhbGlkMFkw
EwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE6Ehb5VYPYfLoCzx93AT6ebsyMB7Nuljb
cZQSIsERFG/3gJ40v5wwa0DmwLJvuk/IgaVqUKbO46InoaAfp87A2qNGMEQwDwYD
VR0RBAgwBocEfwAAATAMBgNVHRMBAf8EAjAAMA4GA1UdDwEB/wQEAwIHgDATBgNV
HSUEDDAKBggrBgEFBQcDATAKBggqhkjOPQQDAgNHADBEAiAsJMpzSiCP3+he1YNj
GV+vQXv3WrIF/v3jIuXpeeGA3wIgF19IkBrD5yL6vVfF7QN4q9dCFgn+Ux1mJ4vz
gI0vo/g=
-----END CERTIFICATE-----
";
const SELF_SIGNED_KEY: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgTdREl3oeZ7aPom9W
apDdqwRwFNqE9dxHKQhkk+aQgfuhRANCAAToSFvlVg9h8ugLPH3cBPp5uzIwHs26
WNtxlBIiwREUb/eAnjS/nDBrQObAsm+6T8iBpWpQps7joiehoB+nzsDa
-----END PRIVATE KEY-----
";

/// An HTTPS endpoint on 127.0.0.1 with a self-signed certificate: every TLS client that checks
/// certificates gives up during the handshake. Counts the connections it is offered.
pub struct TlsTrap {
    pub addr: SocketAddr,
    connections: Arc<std::sync::atomic::AtomicUsize>,
}

impl TlsTrap {
    pub fn start() -> TlsTrap {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let cert = CertificateDer::from_pem_slice(SELF_SIGNED_CERT.as_bytes()).expect("cert");
        let key = PrivateKeyDer::from_pem_slice(SELF_SIGNED_KEY.as_bytes()).expect("key");
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .expect("TLS config");
        let config = Arc::new(config);
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let connections = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = connections.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut tcp) = stream else { continue };
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let config = config.clone();
                std::thread::spawn(move || {
                    let _ = tcp.set_read_timeout(Some(Duration::from_secs(5)));
                    let Ok(mut tls) = rustls::ServerConnection::new(config) else {
                        return;
                    };
                    // Until the client gives up on our certificate (or, never, succeeds).
                    while tls.is_handshaking() {
                        if tls.complete_io(&mut tcp).is_err() {
                            break;
                        }
                    }
                });
            }
        });
        TlsTrap { addr, connections }
    }

    pub fn url(&self) -> String {
        format!("https://{}/generative_callback", self.addr)
    }

    /// TCP connections offered so far (one per webhook attempt).
    pub fn connections(&self) -> usize {
        self.connections.load(std::sync::atomic::Ordering::SeqCst)
    }
}
