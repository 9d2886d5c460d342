//! The task list: the `GET /tasks` path for a query (values percent-encoded), every page of
//! it, and the list as CSV for spreadsheets and scripts.

use gas_shared::admin::{TaskPage, TaskQuery, TaskSummary};

/// `GET /tasks` with the query's filters.
pub fn tasks_path(q: &TaskQuery) -> String {
    let mut parts = Vec::new();
    let mut add = |k: &str, v: String| parts.push(format!("{k}={}", encode(&v)));
    if let Some(s) = q.state {
        add("state", s.as_str().to_string());
    }
    if let Some(m) = q.modality {
        add("modality", m.as_str().to_string());
    }
    if let Some(p) = &q.provider {
        add("provider", p.clone());
    }
    if let Some(v) = &q.verdict {
        add("verdict", v.clone());
    }
    if let Some(t) = &q.q {
        add("q", t.clone());
    }
    if let Some(l) = q.limit {
        add("limit", l.to_string());
    }
    if let Some(b) = &q.before {
        add("before", b.clone());
    }
    if parts.is_empty() {
        "/tasks".into()
    } else {
        format!("/tasks?{}", parts.join("&"))
    }
}

/// The largest page the miner serves.
pub const PAGE: usize = 1000;

/// The task list as a spreadsheet reads it: a header, then one row per task (RFC 4180:
/// every field quoted when it holds a comma, quote or line break; times in unix ms).
pub fn tasks_csv(tasks: &[TaskSummary]) -> String {
    let mut out = String::from(
        "task_id,created_ms,finished_ms,modality,tier,state,provider,verdict,verdict_reason,c2pa_failed,deliveries,last_status,validator,error,prompt\n",
    );
    for t in tasks {
        let verdict = match &t.verdict {
            Some(v) if v.passed => "passed",
            Some(_) => "failed",
            None => "",
        };
        let fields = [
            t.task_id.clone(),
            t.created_ms.to_string(),
            t.finished_ms.map_or(String::new(), |f| f.to_string()),
            t.modality.as_str().to_string(),
            t.tier.as_str().to_string(),
            t.state.as_str().to_string(),
            t.provider.clone().unwrap_or_default(),
            verdict.to_string(),
            t.verdict
                .as_ref()
                .and_then(|v| v.reason.clone())
                .unwrap_or_default(),
            t.c2pa_failed.to_string(),
            t.deliveries.to_string(),
            t.last_status.map_or(String::new(), |s| s.to_string()),
            t.validator.clone(),
            t.error.clone().unwrap_or_default(),
            t.prompt.clone(),
        ];
        let row: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
        out.push_str(&row.join(","));
        out.push('\n');
    }
    out
}

fn csv_field(f: &str) -> String {
    if f.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", f.replace('"', "\"\""))
    } else {
        f.to_string()
    }
}

/// Every task `q` matches (up to `max`), newest first, page by page.
pub async fn all_tasks(
    socket: &std::path::Path,
    q: &TaskQuery,
    max: usize,
) -> Result<Vec<TaskSummary>, crate::ClientError> {
    let mut out = Vec::new();
    let mut q = q.clone();
    loop {
        q.limit = Some((max - out.len()).clamp(1, PAGE));
        let page: TaskPage = crate::get_json(socket, "GET", &tasks_path(&q), None).await?;
        out.extend(page.tasks);
        match page.next {
            Some(next) if out.len() < max => q.before = Some(next),
            _ => return Ok(out),
        }
    }
}

/// Percent-encoding of a query value.
fn encode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_queries_become_escaped_paths() {
        let q = TaskQuery {
            verdict: Some("c2pa_failed".into()),
            q: Some("a heron & co".into()),
            limit: Some(100),
            ..TaskQuery::default()
        };
        assert_eq!(
            tasks_path(&q),
            "/tasks?verdict=c2pa_failed&q=a%20heron%20%26%20co&limit=100"
        );
        assert_eq!(tasks_path(&TaskQuery::default()), "/tasks");
    }

    #[test]
    fn the_csv_quotes_what_needs_it() {
        let t = TaskSummary {
            task_id: "t1".into(),
            modality: gas_shared::Modality::Image,
            state: gas_shared::TaskState::Failed,
            tier: gas_shared::Tier::K1,
            prompt: "a \"quoted\", comma\nand a line".into(),
            validator: "5V".into(),
            provider: Some("openrouter".into()),
            created_ms: 5,
            finished_ms: None,
            verdict: Some(gas_shared::admin::VerdictBrief {
                passed: false,
                c2pa_ok: false,
                reason: Some("C2PA: untrusted".into()),
            }),
            c2pa_failed: true,
            deliveries: 1,
            last_status: Some(200),
            error: None,
        };
        let csv = tasks_csv(&[t]);
        let mut lines = csv.lines();
        assert!(
            lines
                .next()
                .is_some_and(|h| h.starts_with("task_id,created_ms,"))
        );
        assert_eq!(
            csv.split_once('\n').map(|(_, rows)| rows),
            Some(
                "t1,5,,image,1K,failed,openrouter,failed,C2PA: untrusted,true,1,200,5V,,\"a \"\"quoted\"\", comma\nand a line\"\n"
            )
        );
    }
}
