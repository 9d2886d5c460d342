//! Reading the miner's log lines: level, time of day and the compact text; the task a line
//! names; which lines the log screen's filters let through.

use super::{App, LogLevel};

/// One log line, read: its level and the compact text.
pub struct LogLine<'a> {
    pub level: LogLevel,
    pub time: &'a str,
    pub text: String,
}

/// Reads `2026-12-01T16:00:11.123456Z  INFO <crate>::pipeline: media ready task_id=…`.
/// A line of another shape is kept whole, as INFO.
/// A demo's lines start with `[DEMO] `: the tag is dropped (the header says DEMO already).
pub fn read(line: &str) -> LogLine<'_> {
    let line = match line.strip_prefix('[').and_then(|l| l.split_once("] ")) {
        Some((_, rest)) => rest,
        None => line,
    };
    let mut parts = line.split_whitespace();
    let (Some(ts), Some(word)) = (parts.next(), parts.next()) else {
        return whole(line);
    };
    let level = match word {
        "ERROR" => LogLevel::Error,
        "WARN" => LogLevel::Warn,
        "INFO" => LogLevel::Info,
        "DEBUG" | "TRACE" => LogLevel::Debug,
        _ => return whole(line),
    };
    let rest = line.split_once(word).map_or("", |(_, r)| r).trim_start();
    // The target's crate name (`<crate>::pipeline: …`) says nothing here: only the module.
    let rest = match rest.split_once(": ") {
        Some((target, _)) if !target.contains(' ') && target.contains("::") => {
            rest.split_once("::").map_or(rest, |(_, r)| r)
        }
        _ => rest,
    };
    LogLine {
        level,
        time: ts.get(11..19).unwrap_or(ts),
        text: rest.to_string(),
    }
}

fn whole(line: &str) -> LogLine<'_> {
    LogLine {
        level: LogLevel::Info,
        time: "",
        text: line.to_string(),
    }
}

/// The task a log line is about (`task_id=…`), if it names one.
pub fn task_of(line: &str) -> Option<&str> {
    let (_, rest) = line.split_once("task_id=")?;
    let id = rest
        .trim_start_matches('"')
        .split(|c: char| c.is_whitespace() || c == '"')
        .next()?;
    (!id.is_empty()).then_some(id)
}

/// The indexes of the lines the filters let through, oldest first.
pub fn shown(app: &App) -> Vec<usize> {
    let needle = app.log_filter.query.to_lowercase();
    app.logs
        .iter()
        .enumerate()
        .filter(|(_, l)| {
            let r = read(l);
            r.level <= app.log_filter.level
                && (needle.is_empty() || l.to_lowercase().contains(&needle))
        })
        .map(|(i, _)| i)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_compacted_and_its_task_found() {
        let line = "2026-12-01T16:00:11.123456Z  WARN gas_x::pipeline: no usable result task_id=ab12cd34-0000 provider=\"openrouter\"";
        let r = read(line);
        assert_eq!(r.level, LogLevel::Warn);
        assert_eq!(r.time, "16:00:11");
        assert!(
            r.text.starts_with("pipeline: no usable result"),
            "{}",
            r.text
        );
        assert_eq!(task_of(line), Some("ab12cd34-0000"));
        let demo = read("[DEMO] 2026-12-01T15:27:04.693621Z  ERROR gas_x::webhook: gone");
        assert_eq!((demo.level, demo.time), (LogLevel::Error, "15:27:04"));
        assert_eq!(demo.text, "webhook: gone");
        let odd = read("not a log line");
        assert_eq!(
            (odd.level, odd.text.as_str()),
            (LogLevel::Info, "not a log line")
        );
    }
}
