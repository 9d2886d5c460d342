//! Video jobs, as OpenAI, OpenRouter and Runway run them: created with their finished video,
//! polled until done (or failed), then downloaded in chunks; outages and download faults are
//! scripted here for all three.

use super::studio::{Defect, make_video};
use super::{
    Api, Produced, Reply, Shared, arrive, coded_error, cut_short, first_half, lock, made, raw_body,
    scripted,
};
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde_json::json;
use sha2::{Digest, Sha256};

#[derive(Debug, Clone)]
pub(super) struct FakeJob {
    api: Api,
    pub(super) polls_left: u32,
    failure: Option<String>,
    /// The finished video, as it will be downloaded.
    media: Bytes,
    sha256: String,
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
    let (studio, payload, size) = {
        let s = lock(state);
        let size = s.video_size.get(&api).copied().unwrap_or((1920, 1080));
        (s.studio.clone(), s.video_bytes, size)
    };
    let media = tokio::task::spawn_blocking(move || make_video(&studio, payload, size, defect))
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

/// A job's finished video, handed out inline (a Vertex operation carries it), recorded as
/// produced.
pub(super) fn job_media(state: &Shared, id: &str) -> Option<Bytes> {
    let mut s = lock(state);
    let job = s.jobs.get(id)?;
    let (api, media, sha256) = (job.api, job.media.clone(), job.sha256.clone());
    s.produced.push(Produced {
        api,
        sha256,
        len: media.len(),
    });
    Some(media)
}

/// Answers a job-creation request as scripted: a new job (running, or bound to fail), a
/// refusal, or a scripted error.
pub(super) async fn create_job(
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
    Some(coded_error(status, "temporarily unavailable"))
}

/// Where a video job is after one more poll.
pub(super) enum Polled {
    /// Answered before the job was looked at: a wrong key, or a scripted outage.
    Answered(Response),
    /// No job by that id.
    Unknown,
    Running,
    Completed,
    Failed(String),
}

/// A poll of job `id` on `api`: recorded, its key checked (else `unauthorized`'s answer) and
/// any scripted outage answered, else the job moved on by one poll.
pub(super) fn poll(
    state: &Shared,
    api: Api,
    headers: &HeaderMap,
    id: &str,
    unauthorized: impl FnOnce() -> Response,
) -> Polled {
    let (_, ok) = arrive(state, api, "poll", headers, &json!({"id": id}));
    if !ok {
        return Polled::Answered(unauthorized());
    }
    if let Some(down) = outage(state, false) {
        return Polled::Answered(down);
    }
    let mut s = lock(state);
    let Some(job) = s.jobs.get_mut(id) else {
        return Polled::Unknown;
    };
    if job.polls_left > 0 {
        job.polls_left -= 1;
        return Polled::Running;
    }
    match job.failure.clone() {
        None => Polled::Completed,
        Some(why) => Polled::Failed(why),
    }
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
pub(super) fn stream_video(state: &Shared, id: &str) -> Option<Response> {
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

/// `GET …/videos/{id}/content` for OpenAI and OpenRouter: the bearer key is required.
pub(super) async fn video_content(
    State(state): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let api = lock(&state).jobs.get(&id).map(|j| j.api);
    let Some(api) = api else {
        return coded_error(404, "Video not found");
    };
    let (_, ok) = arrive(&state, api, "download", &headers, &json!({"id": id}));
    if !ok {
        return coded_error(401, "No auth credentials found");
    }
    stream_video(&state, &id).unwrap_or_else(|| coded_error(404, "Video is not ready"))
}
