//! Veo on Vertex AI (the `vertex` video service): `POST …/models/{model}:predictLongRunning`
//! with an OAuth2 token of the service account (`google_auth`) → an operation name,
//! checkpointed at once; `POST …/models/{model}:fetchPredictOperation` until `done`. The
//! finished operation carries the video inline, base64 in `response.videos[0]
//! .bytesBase64Encoded`: the answer is streamed to a file beside the media and decoded from
//! it to the media file in pieces, so a 50 MB video is never held whole in memory, let alone
//! twice. A safety filter (`raiMediaFilteredCount`, no video) or a failed operation ends the
//! attempt with Google's words; a 401 fetches a fresh token once; a per-day quota opens the
//! breaker until midnight Pacific (`google::retry_hint`).

use super::google_auth::{ServiceAccount, TokenSource};
use super::http::Call;
use super::params::{Params, at_least, nearest_ratio, parse_ratio, reaching_resolution};
use super::prices::{Per, Priced};
use super::video::{self, JobStatus, VideoApi};
use super::{Generated, Http, Job, Plan, Provider, ProviderError, Tuning, summary};
use async_trait::async_trait;
use gas_shared::{Modality, Tier};
use serde_json::json;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A Veo model on Vertex and the resolutions it makes (ascending, with the short side).
pub(crate) struct VeoModel {
    pub id: &'static str,
    pub resolutions: &'static [(&'static str, u32)],
}

pub(crate) const MODELS: [VeoModel; 3] = [
    VeoModel {
        id: "veo-3.1-lite-generate-001",
        resolutions: &[("720p", 720), ("1080p", 1080)],
    },
    VeoModel {
        id: "veo-3.1-fast-generate-001",
        resolutions: &[("720p", 720), ("1080p", 1080), ("4k", 2160)],
    },
    VeoModel {
        id: "veo-3.1-generate-001",
        resolutions: &[("720p", 720), ("1080p", 1080), ("4k", 2160)],
    },
];
pub(crate) const DEFAULT_MODEL: &str = MODELS[0].id;
const RATIOS: [&str; 2] = ["16:9", "9:16"];
const DURATIONS: [u32; 3] = [4, 6, 8];
/// An answer larger than this holds the video: it is not parsed as a document.
const SMALL_ANSWER: u64 = 4 * 1024 * 1024;

pub(crate) fn model(id: &str) -> Option<&'static VeoModel> {
    MODELS.iter().find(|m| m.id == id)
}

/// Vertex AI's base for a project and location (`…/publishers/google/models`).
pub(crate) fn models_url(base: &str, project: &str, location: &str) -> String {
    format!(
        "{}/projects/{project}/locations/{location}/publishers/google/models",
        base.trim_end_matches('/')
    )
}

pub(crate) struct Vertex {
    http: Http,
    /// The service account's tokens, or why its key file cannot be used.
    tokens: Result<TokenSource, String>,
    model: &'static VeoModel,
}

impl Vertex {
    /// `base`: the models URL ([`models_url`]); `credentials`: the key file's path.
    pub(crate) fn new(
        base: &str,
        credentials: &str,
        tuning: Tuning,
        model_id: Option<&str>,
    ) -> Vertex {
        let http = Http::new("vertex", "Vertex AI", base, "", tuning);
        let tokens = ServiceAccount::load(Path::new(credentials))
            .map(|account| TokenSource::new(account, http.client()));
        Vertex {
            http,
            tokens,
            model: model_id.and_then(model).unwrap_or(&MODELS[0]),
        }
    }

    /// Resolution: the smallest the model makes whose measured tier reaches the request
    /// (1080p is the validators' top video tier, so 4k is never needed); 16:9 unless the
    /// challenge names 9:16; 1080p at 8 s.
    pub(crate) fn video_plan(
        &self,
        prompt: &str,
        parameters: &serde_json::Value,
        tier: Tier,
    ) -> Plan {
        let p = Params(parameters);
        let m = p.model().and_then(model).unwrap_or(self.model);
        let aspect = nearest_ratio(&RATIOS, p.shape(), "16:9");
        let ratio = parse_ratio(aspect).unwrap_or(16.0 / 9.0);
        let (index, delivers) = reaching_resolution(m.resolutions, ratio, tier);
        let resolution = m.resolutions[index].0;
        let want = p.duration().map(|d| d.ceil() as u32).unwrap_or(0);
        let seconds = if resolution == "720p" {
            at_least(&DURATIONS, want)
        } else {
            8
        };
        let audio = p.flag("generate_audio").unwrap_or(false);
        let mut parameters = json!({
            "aspectRatio": aspect,
            "resolution": resolution,
            "durationSeconds": seconds,
            "sampleCount": 1,
            "generateAudio": audio,
        });
        if let Some(seed) = p.seed() {
            parameters["seed"] = json!(seed as u32);
        }
        if let Some(negative) = p.str("negative_prompt") {
            parameters["negativePrompt"] = json!(negative);
        }
        Plan {
            model: m.id.to_string(),
            delivers,
            cost_usd: self.http.tuning.prices.cost(&Priced {
                provider: "vertex",
                model: m.id,
                tier: delivers,
                option: audio.then_some("audio"),
                per: Per::Second,
                seconds,
            }),
            params: json!({"instances": [{"prompt": prompt}], "parameters": parameters}),
        }
    }

    fn tokens(&self) -> Result<&TokenSource, ProviderError> {
        self.tokens.as_ref().map_err(|e| ProviderError {
            message: e.clone(),
            // The credentials are refused before any call: the breaker should say so.
            status: Some(401),
            ..ProviderError::default()
        })
    }

    /// Where a poll's answer is kept while it is read.
    fn answer_file(job: &Job<'_>) -> PathBuf {
        job.dest.with_extension("vertex-answer.json")
    }

    /// A POST of `body` to `path` with a fresh token, once more with a new token after a 401;
    /// the answer read whole, or streamed to `to`. `call` says how it is recorded.
    async fn post(
        &self,
        job: &Job<'_>,
        call: &CallShape,
        path: &str,
        body: &serde_json::Value,
        to: Option<&Path>,
    ) -> Result<Option<super::http::Answer>, ProviderError> {
        let tokens = self.tokens()?;
        for attempt in 0..2 {
            let token = tokens.token().await?;
            let call = Call {
                key: token.expose(),
                summary: call.summary.clone(),
                cost_usd: call.cost_usd,
                max_tries: call.max_tries,
                ..self.http.call(call.op, job)
            };
            let build = || {
                self.http
                    .request_as(reqwest::Method::POST, path, token.expose())
                    .json(body)
            };
            let result = match to {
                Some(file) => call.download_to(job, build, file).await.map(|_| None),
                None => call.send(job, build).await.map(Some),
            };
            match result {
                Err(e) if e.status == Some(401) && attempt == 0 => {
                    tracing::info!(task_id = %job.task.task_id, "Vertex AI refused the token; fetching a new one");
                    tokens.forget().await;
                }
                other => return other,
            }
        }
        Err(ProviderError::new("Vertex AI refused two fresh tokens"))
    }
}

/// How one of Vertex's calls is recorded and retried.
struct CallShape {
    op: &'static str,
    summary: serde_json::Value,
    cost_usd: Option<f64>,
    max_tries: u32,
}

#[async_trait]
impl VideoApi for Vertex {
    fn service(&self) -> &'static str {
        "vertex"
    }

    fn poll_every(&self) -> Duration {
        self.http
            .tuning
            .poll_interval
            .unwrap_or(Duration::from_secs(10))
    }

    async fn create(&self, job: &Job<'_>) -> Result<String, ProviderError> {
        let call = CallShape {
            op: "create",
            summary: summary(&job.plan.params),
            cost_usd: Some(job.plan.cost_usd),
            max_tries: 4,
        };
        let path = format!("/{}:predictLongRunning", job.plan.model);
        let answer = self
            .post(job, &call, &path, &job.plan.params, None)
            .await?
            .ok_or_else(|| ProviderError::new("internal: no answer"))?;
        let doc = super::parse_json("Vertex AI", &answer.body)?;
        doc.get("name")
            .and_then(|n| n.as_str())
            .map(str::to_string)
            .ok_or_else(|| {
                ProviderError::new(format!(
                    "Vertex AI accepted the video request but named no operation: {}",
                    crate::text::truncate(&doc.to_string(), 200)
                ))
            })
    }

    async fn status(&self, job: &Job<'_>, id: &str) -> Result<JobStatus, ProviderError> {
        let body = json!({"operationName": id});
        let call = CallShape {
            op: "poll",
            summary: body.clone(),
            cost_usd: None,
            max_tries: 2,
        };
        let path = format!("/{}:fetchPredictOperation", job.plan.model);
        let file = Self::answer_file(job);
        self.post(job, &call, &path, &body, Some(&file)).await?;
        let size = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
        if size > SMALL_ANSWER {
            // Only a finished operation with its video is this large.
            return Ok(JobStatus::Succeeded { url: None });
        }
        let text = std::fs::read(&file).unwrap_or_default();
        let doc = super::parse_json("Vertex AI", &text)?;
        Ok(operation_status(&doc))
    }

    async fn fetch(
        &self,
        job: &Job<'_>,
        _id: &str,
        _url: Option<&str>,
    ) -> Result<u64, ProviderError> {
        let file = Self::answer_file(job);
        let (src, dest) = (file.clone(), job.dest.to_path_buf());
        let decoded = tokio::task::spawn_blocking(move || decode_inline_video(&src, &dest))
            .await
            .map_err(|e| ProviderError::new(format!("decoding the video stopped: {e}")))?;
        let _ = std::fs::remove_file(&file);
        match decoded {
            Ok(Some(n)) => Ok(n),
            Ok(None) => Err(ProviderError::new(
                "Vertex AI's finished operation holds no video (bytesBase64Encoded)",
            )),
            Err(e) => Err(ProviderError::new(format!(
                "the video from Vertex AI could not be written to {}: {e}; check free space in MINER_STATE_DIR",
                job.dest.display()
            ))),
        }
    }
}

/// Where an operation is, from its document.
fn operation_status(doc: &serde_json::Value) -> JobStatus {
    if doc.get("done").and_then(|d| d.as_bool()) != Some(true) {
        return JobStatus::Running;
    }
    if let Some(error) = doc.get("error").filter(|e| !e.is_null()) {
        return JobStatus::Failed(format!(
            "{} (code {})",
            error
                .get("message")
                .and_then(|m| m.as_str())
                .unwrap_or("no message"),
            error.get("code").map(|c| c.to_string()).unwrap_or_default()
        ));
    }
    let response = doc.get("response");
    let has_video = response
        .and_then(|r| r.pointer("/videos/0/bytesBase64Encoded"))
        .is_some();
    if has_video {
        return JobStatus::Succeeded { url: None };
    }
    let filtered = response
        .and_then(|r| r.get("raiMediaFilteredCount"))
        .and_then(|c| c.as_u64())
        .unwrap_or(0);
    let reasons = response
        .and_then(|r| r.get("raiMediaFilteredReasons"))
        .and_then(|r| r.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str())
                .collect::<Vec<_>>()
                .join("; ")
        })
        .unwrap_or_default();
    if filtered > 0 {
        JobStatus::Failed(format!(
            "Google's safety filter withheld the video ({filtered} filtered{}); not charged",
            if reasons.is_empty() {
                String::new()
            } else {
                format!(": {reasons}")
            }
        ))
    } else {
        JobStatus::Failed("the operation finished without a video".into())
    }
}

/// Decodes the first `"bytesBase64Encoded"` string of the JSON in `src` into `dest`, a
/// buffer at a time; `None` when there is none.
pub(crate) fn decode_inline_video(src: &Path, dest: &Path) -> std::io::Result<Option<u64>> {
    use base64::Engine;
    const MARKER: &[u8] = b"\"bytesBase64Encoded\"";
    let mut r = std::io::BufReader::with_capacity(256 * 1024, std::fs::File::open(src)?);
    // Find the key.
    let mut matched = 0;
    loop {
        let buf = r.fill_buf()?;
        if buf.is_empty() {
            return Ok(None);
        }
        let mut used = None;
        for (i, &b) in buf.iter().enumerate() {
            if b == MARKER[matched] {
                matched += 1;
                if matched == MARKER.len() {
                    used = Some(i + 1);
                    break;
                }
            } else {
                matched = usize::from(b == MARKER[0]);
            }
        }
        match used {
            Some(n) => {
                r.consume(n);
                break;
            }
            None => {
                let n = buf.len();
                r.consume(n);
            }
        }
    }
    // Then `:` and the opening quote.
    loop {
        let buf = r.fill_buf()?;
        let Some(&b) = buf.first() else {
            return Ok(None);
        };
        r.consume(1);
        match b {
            b'"' => break,
            b':' | b' ' | b'\n' | b'\r' | b'\t' => {}
            _ => return Ok(None),
        }
    }
    let bad = |e: base64::DecodeError| std::io::Error::new(std::io::ErrorKind::InvalidData, e);
    let mut out = std::io::BufWriter::new(std::fs::File::create(dest)?);
    let mut carry: Vec<u8> = Vec::with_capacity(256 * 1024 + 4);
    let mut written = 0u64;
    let engine = &base64::engine::general_purpose::STANDARD;
    loop {
        let buf = r.fill_buf()?;
        if buf.is_empty() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the video's base64 ends before its closing quote",
            ));
        }
        let end = buf.iter().position(|&b| b == b'"');
        let part = &buf[..end.unwrap_or(buf.len())];
        // JSON may escape `/` as `\/`; base64 holds no other backslash.
        carry.extend(part.iter().filter(|b| **b != b'\\'));
        let consumed = part.len() + usize::from(end.is_some());
        r.consume(consumed);
        let whole = if end.is_some() {
            carry.len()
        } else {
            carry.len() / 4 * 4
        };
        let bytes = engine.decode(&carry[..whole]).map_err(bad)?;
        out.write_all(&bytes)?;
        written += bytes.len() as u64;
        carry.drain(..whole);
        if end.is_some() {
            break;
        }
    }
    out.flush()?;
    Ok(Some(written))
}

#[async_trait]
impl Provider for Vertex {
    fn name(&self) -> &'static str {
        "vertex"
    }

    fn supports(&self, modality: Modality) -> bool {
        modality == Modality::Video
    }

    fn plan(&self, task: &crate::task::TaskRecord) -> Plan {
        self.video_plan(&task.prompt, &task.parameters, task.tier)
    }

    async fn generate(&self, job: &Job<'_>) -> Result<Generated, ProviderError> {
        let result = video::run(self, job).await;
        let _ = std::fs::remove_file(Self::answer_file(job));
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    fn vertex(model: Option<&str>) -> Vertex {
        Vertex::new("http://x", "/nonexistent.json", Tuning::default(), model)
    }

    #[test]
    fn the_tier_picks_the_resolution_and_high_ones_run_eight_seconds() {
        let cases = [
            (None, Tier::P480, "720p", Tier::P720, 4),
            (None, Tier::P720, "720p", Tier::P720, 4),
            (None, Tier::P1080, "1080p", Tier::P1080, 8),
            (
                Some("veo-3.1-fast-generate-001"),
                Tier::P1080,
                "1080p",
                Tier::P1080,
                8,
            ),
        ];
        for (m, tier, resolution, delivers, seconds) in cases {
            let plan = vertex(m).video_plan("a fox", &json!({}), tier);
            let p = &plan.params["parameters"];
            assert_eq!(
                (
                    p["resolution"].as_str(),
                    plan.delivers,
                    p["durationSeconds"].as_u64()
                ),
                (Some(resolution), delivers, Some(seconds)),
                "{m:?} at {tier}"
            );
            assert_eq!(p["aspectRatio"], "16:9");
            assert_eq!(plan.params["instances"][0]["prompt"], "a fox");
            assert!(plan.cost_usd > 0.0);
        }
        let tall = vertex(None).video_plan(
            "p",
            &json!({"aspect_ratio": "9:16", "duration": 5, "seed": 7, "generate_audio": true}),
            Tier::P720,
        );
        let p = &tall.params["parameters"];
        assert_eq!(
            (p["aspectRatio"].as_str(), p["durationSeconds"].as_u64()),
            (Some("9:16"), Some(6))
        );
        assert_eq!(
            (p["seed"].as_u64(), p["generateAudio"].as_bool()),
            (Some(7), Some(true))
        );
    }

    #[test]
    fn operations_are_read_for_their_end() {
        assert_eq!(operation_status(&json!({"name": "op"})), JobStatus::Running);
        assert_eq!(
            operation_status(
                &json!({"done": true, "response": {"videos": [{"bytesBase64Encoded": "AAAA"}]}})
            ),
            JobStatus::Succeeded { url: None }
        );
        let JobStatus::Failed(why) = operation_status(
            &json!({"done": true, "error": {"code": 3, "message": "Video generation failed"}}),
        ) else {
            panic!("failed")
        };
        assert_eq!(why, "Video generation failed (code 3)");
        let JobStatus::Failed(why) = operation_status(
            &json!({"done": true, "response": {"raiMediaFilteredCount": 1, "raiMediaFilteredReasons": ["The prompt names a celebrity"]}}),
        ) else {
            panic!("filtered")
        };
        assert!(
            why.contains("safety filter") && why.contains("celebrity"),
            "{why}"
        );
    }

    #[test]
    fn an_inline_video_is_decoded_from_the_file_in_pieces() {
        let dir = tempfile::tempdir().expect("tempdir");
        let video: Vec<u8> = (0..1_000_003u32).map(|i| (i * 7 % 251) as u8).collect();
        let b64 = base64::engine::general_purpose::STANDARD.encode(&video);
        // Escaped slashes, as some JSON writers do.
        let escaped = b64.replace('/', "\\/");
        let src = dir.path().join("answer.json");
        std::fs::write(
            &src,
            format!("{{\"name\": \"op\", \"done\": true, \"response\": {{\"videos\": [{{\"mimeType\": \"video/mp4\", \"bytesBase64Encoded\" : \"{escaped}\"}}]}}}}"),
        )
        .expect("write");
        let dest = dir.path().join("video.mp4");
        assert_eq!(
            decode_inline_video(&src, &dest).expect("decodes"),
            Some(video.len() as u64)
        );
        assert_eq!(std::fs::read(&dest).expect("read"), video);
        std::fs::write(&src, "{\"done\": true, \"response\": {}}").expect("write");
        assert_eq!(decode_inline_video(&src, &dest).expect("reads"), None);
    }
}
