//! `gas-miner tasks`: the running miner's tasks, filtered as the console filters them, as a
//! table, CSV or JSON for scripts (`gas-miner tasks --state failed --json`).

use super::{CliError, Place};
use gas_shared::admin::{TaskQuery, TaskSummary};
use gas_shared::{Modality, TaskState};

/// How the list is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Csv,
    Json,
}

/// A task state by the miner's name (`queued`, `failed`, …).
pub fn parse_state(text: &str) -> Result<TaskState, String> {
    TaskState::ALL
        .into_iter()
        .find(|s| s.as_str() == text.trim().to_ascii_lowercase())
        .ok_or_else(|| {
            let names: Vec<&str> = TaskState::ALL.iter().map(|s| s.as_str()).collect();
            format!("unknown state `{text}`; use one of {}", names.join(", "))
        })
}

/// What `gas-miner tasks` was asked.
pub struct Ask {
    pub state: Option<TaskState>,
    pub modality: Option<Modality>,
    pub provider: Option<String>,
    /// `passed`, `failed` or `c2pa_failed`.
    pub verdict: Option<String>,
    pub search: Option<String>,
    pub limit: usize,
    pub format: Format,
}

pub fn tasks(place: &Place, ask: &Ask) -> Result<(), CliError> {
    if let Some(v) = &ask.verdict
        && !["passed", "failed", "c2pa_failed"].contains(&v.as_str())
    {
        return Err(CliError::Config(vec![format!(
            "--verdict {v}: use passed, failed or c2pa_failed"
        )]));
    }
    let q = TaskQuery {
        state: ask.state,
        modality: ask.modality,
        provider: ask.provider.clone(),
        verdict: ask.verdict.clone(),
        q: ask.search.clone(),
        ..TaskQuery::default()
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Failed(format!("cannot start: {e}")))?;
    let tasks = runtime
        .block_on(gas_client::all_tasks(&place.socket, &q, ask.limit.max(1)))
        .map_err(|e| {
            CliError::Failed(format!(
                "the tasks could not be read from {}: {e}; is the miner running (`gas-miner status`)?",
                place.socket.display()
            ))
        })?;
    match ask.format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&tasks).unwrap_or_else(|_| "[]".into())
        ),
        Format::Csv => print!("{}", gas_client::tasks_csv(&tasks)),
        Format::Table => table(&tasks),
    }
    Ok(())
}

fn table(tasks: &[TaskSummary]) {
    println!(
        "{:<36}  {:<5} {:<5} {:<10} {:<12} {:<7}  prompt",
        "task", "kind", "tier", "state", "provider", "verdict"
    );
    for t in tasks {
        let verdict = match &t.verdict {
            Some(v) if v.passed && t.c2pa_failed => "pass*",
            Some(v) if v.passed => "pass",
            Some(_) => "FAIL",
            None => "–",
        };
        println!(
            "{:<36}  {:<5} {:<5} {:<10} {:<12} {:<7}  {}",
            t.task_id,
            t.modality.as_str(),
            t.tier.as_str(),
            t.state.as_str(),
            t.provider.as_deref().unwrap_or("–"),
            verdict,
            crate::text::truncate(&t.prompt, 60)
        );
    }
    println!("{} tasks, newest first", tasks.len());
}
