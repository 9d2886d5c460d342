//! The life of a video job, shared by every video service: create it and checkpoint its id
//! durably at once, poll at the provider's pace until it ends, stream the result to disk.
//! A checkpointed job is resumed after a restart (polled, then downloaded), never created
//! twice; the pipeline clears the checkpoint only once the file is safely on disk.

use super::{Generated, Http, Job, ProviderError};
use async_trait::async_trait;
use std::time::Duration;

/// Consecutive "no such job" answers before a job is given up. Other poll failures never end
/// it (a status endpoint's outage is not the job's failure): `MINER_VIDEO_TIMEOUT` bounds it.
const MAX_NOT_FOUND: u32 = 3;

/// Where a provider says its job is.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum JobStatus {
    Running,
    /// Done; `url` is where to fetch it when the provider gives one.
    Succeeded {
        url: Option<String>,
    },
    /// Ended without a video; the provider's own words.
    Failed(String),
}

#[async_trait]
pub(crate) trait VideoApi: Send + Sync {
    fn service(&self) -> &'static str;
    /// Time between polls.
    fn poll_every(&self) -> Duration;
    /// Submits the job; returns the provider's id for it.
    async fn create(&self, job: &Job<'_>) -> Result<String, ProviderError>;
    async fn status(&self, job: &Job<'_>, id: &str) -> Result<JobStatus, ProviderError>;
    /// Streams the finished video to `job.dest`; returns its size.
    async fn fetch(&self, job: &Job<'_>, id: &str, url: Option<&str>)
    -> Result<u64, ProviderError>;
}

/// Runs (or resumes) one video job to a file on disk.
pub(crate) async fn run(api: &dyn VideoApi, job: &Job<'_>) -> Result<Generated, ProviderError> {
    let task_id = job.task.task_id.as_str();
    let service = api.service();
    let (id, mut wait_first) = match &job.resume {
        Some(cp) if cp.provider == service => {
            tracing::info!(task_id, provider = service, job_id = %cp.job_id, "resuming the provider's job instead of creating another");
            (cp.job_id.clone(), false)
        }
        _ => {
            let id = api.create(job).await?;
            job.checkpoint(service, &id, job.plan.params.clone())
                .await?;
            tracing::info!(task_id, provider = service, job_id = %id, model = %job.plan.model, "video job accepted and checkpointed");
            (id, true)
        }
    };
    let mut not_found = 0;
    loop {
        if wait_first {
            tokio::time::sleep(api.poll_every()).await;
        }
        wait_first = true;
        match api.status(job, &id).await {
            Ok(JobStatus::Running) => not_found = 0,
            Ok(JobStatus::Succeeded { url }) => {
                // The video is paid for: keep trying to fetch it rather than pay for another.
                match api.fetch(job, &id, url.as_deref()).await {
                    Ok(bytes) => {
                        tracing::info!(task_id, provider = service, job_id = %id, bytes, "video downloaded");
                        return Ok(Generated {
                            model: job.plan.model.clone(),
                            bytes,
                        });
                    }
                    Err(e)
                        if e.status
                            .is_some_and(|s| (400..500).contains(&s) && s != 429 && s != 408) =>
                    {
                        // Gone or refused for good (an expired link is fetched again via a fresh poll).
                        tracing::warn!(task_id, provider = service, job_id = %id, error = %e.message, "video download refused; asking for the job again");
                        not_found += 1;
                        if not_found >= MAX_NOT_FOUND {
                            return Err(ProviderError::new(format!(
                                "{service} video job {id} finished but its video cannot be downloaded: {}",
                                e.message
                            )));
                        }
                    }
                    Err(e) => {
                        tracing::warn!(task_id, provider = service, job_id = %id, error = %e.message, "video download failed; trying again");
                    }
                }
            }
            Ok(JobStatus::Failed(why)) => {
                return Err(ProviderError::new(format!(
                    "{service} video job {id} failed: {why}"
                )));
            }
            Err(e) if e.status == Some(404) => {
                not_found += 1;
                if not_found >= MAX_NOT_FOUND {
                    return Err(ProviderError::new(format!(
                        "{service} video job {id} is unknown to the provider: {}",
                        e.message
                    )));
                }
            }
            Err(e) => {
                tracing::warn!(task_id, provider = service, job_id = %id, error = %e.message, "job status unavailable; polling on");
            }
        }
    }
}

/// The `/videos` job API that OpenAI (Sora) and OpenRouter share: `POST /videos` → `{id}`,
/// `GET /videos/{id}` → `{status, error}` until `completed` (`failed`, `cancelled` and
/// `expired` end it), then `GET /videos/{id}/content` with the key.
pub(crate) struct VideosApi {
    pub http: Http,
    pub default_poll: Duration,
}

#[async_trait]
impl VideoApi for VideosApi {
    fn service(&self) -> &'static str {
        self.http.service
    }

    fn poll_every(&self) -> Duration {
        self.http.tuning.poll_interval.unwrap_or(self.default_poll)
    }

    async fn create(&self, job: &Job<'_>) -> Result<String, ProviderError> {
        let answer = self.http.post_plan("create", job, "/videos").await?;
        let doc = super::parse_json(self.http.label, &answer.body)?;
        match doc.get("id").and_then(|v| v.as_str()) {
            Some(id) => Ok(id.to_string()),
            None => Err(ProviderError::new(format!(
                "{} answered the video request with HTTP {} but no job id: {}",
                self.http.label,
                answer.status,
                crate::text::truncate(&doc.to_string(), 200)
            ))),
        }
    }

    async fn status(&self, job: &Job<'_>, id: &str) -> Result<JobStatus, ProviderError> {
        let path = format!("/videos/{id}");
        let doc = self
            .http
            .get_json(job, &path, serde_json::json!({"id": id}))
            .await?;
        Ok(match doc.get("status").and_then(|s| s.as_str()) {
            Some("completed") => JobStatus::Succeeded { url: None },
            Some(s @ ("failed" | "cancelled" | "expired")) => {
                // OpenAI sends `error: {code, message}`, OpenRouter a plain string.
                let said = doc.get("error").filter(|e| !e.is_null()).map(|e| {
                    super::error_text(serde_json::json!({ "error": e }).to_string().as_bytes())
                });
                JobStatus::Failed(said.unwrap_or_else(|| format!("status {s}")))
            }
            _ => JobStatus::Running,
        })
    }

    async fn fetch(
        &self,
        job: &Job<'_>,
        id: &str,
        _url: Option<&str>,
    ) -> Result<u64, ProviderError> {
        let path = format!("/videos/{id}/content");
        self.http
            .download(job, &path, serde_json::json!({"id": id}))
            .await
    }
}
