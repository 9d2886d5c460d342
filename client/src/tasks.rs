//! The `GET /tasks` path for a query, its values percent-encoded.

use gas_shared::admin::TaskQuery;

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
}
