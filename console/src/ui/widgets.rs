//! What more than one screen draws with: the styles, the boxed block and table, the
//! "waiting for the miner" panel, and the formatting of ages, counts, clocks, rates, dates
//! and the standing's words (gate statuses, fool rates, reply counts).

use crate::app::{App, Conn};
use gas_shared::TaskState;
use gas_shared::admin::Rate;
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Row, Table, Wrap};

pub const DIM: Style = Style::new().fg(Color::DarkGray);
pub const BOLD: Style = Style::new().add_modifier(Modifier::BOLD);
pub const GOOD: Style = Style::new().fg(Color::Green);
pub const BAD: Style = Style::new().fg(Color::Red);
pub const WARN: Style = Style::new().fg(Color::Yellow);

/// `12s`, `5m`, `3h`, `2d`.
pub fn age(ms: i64) -> String {
    let s = (ms / 1000).max(0);
    match s {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86_400 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

/// A count in at most 4 characters: `1204`, `12k`, `627k`, `1.2M`.
pub fn compact(n: u64) -> String {
    match n {
        n if n < 10_000 => n.to_string(),
        n if n < 1_000_000 => format!("{}k", n / 1000),
        n => format!("{:.1}M", n as f64 / 1e6),
    }
}

/// `12 s ago`, `14 min ago`, `3 h ago`, `2 days ago`: how old a snapshot is, in words.
pub fn ago(ms: i64) -> String {
    let s = (ms / 1000).max(0);
    match s {
        s if s < 60 => format!("{s} s ago"),
        s if s < 3600 => format!("{} min ago", s / 60),
        s if s < 2 * 86_400 => format!("{} h ago", s / 3600),
        s => format!("{} days ago", s / 86_400),
    }
}

/// `MM-DD` (UTC) of a time in ms since the epoch.
pub fn month_day(ms: i64) -> String {
    let (_, month, day) = civil_date(ms.div_euclid(86_400_000));
    format!("{month:02}-{day:02}")
}

/// `DD` (UTC) of a time in ms since the epoch.
pub fn day_of_month(ms: i64) -> String {
    format!("{:02}", civil_date(ms.div_euclid(86_400_000)).2)
}

/// The Gregorian (year, month, day) of a day counted from 1970-01-01, walked year by year
/// and month by month: the console only dates the last few weeks.
fn civil_date(mut days: i64) -> (i64, u32, u32) {
    let leap = |y: i64| (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let mut year = 1970;
    loop {
        let len = if leap(year) { 366 } else { 365 };
        if days < 0 {
            year -= 1;
            days += if leap(year) { 366 } else { 365 };
        } else if days >= len {
            days -= len;
            year += 1;
        } else {
            break;
        }
    }
    let lengths = [
        31,
        if leap(year) { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    let mut month = 1;
    for len in lengths {
        if days < len {
            break;
        }
        days -= len;
        month += 1;
    }
    (year, month, days as u32 + 1)
}

/// A share as a percentage with one decimal: `1.2%` (fool rates are small).
pub fn percent(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

/// A threshold as the subnet writes it: `2%`, `1%`, `0.5%`.
pub fn threshold(x: f64) -> String {
    let p = x * 100.0;
    if (p - p.round()).abs() < 1e-9 {
        format!("{p:.0}%")
    } else {
        format!("{p:.1}%")
    }
}

/// How a gate status looks: paid green, failing red, waiting yellow, nothing dim.
pub fn gate_style(status: &str) -> Style {
    match status {
        "qualified" => GOOD,
        "below_threshold" => BAD,
        "insufficient_samples" => WARN,
        _ => DIM,
    }
}

/// `passed/judged` of the validators' Stage A verdicts (v4.9.x only; a 202 is never one).
/// A count, in `alarm`'s colour when it is not zero.
pub fn flagged(n: u64, alarm: Style) -> ratatui::widgets::Cell<'static> {
    ratatui::widgets::Cell::from(n.to_string()).style(if n > 0 { alarm } else { Style::default() })
}

/// The headings and widths of [`validator_cells`]' columns.
pub const VALIDATOR_COLUMNS: [(&str, Constraint); 7] = [
    ("uid", Constraint::Length(4)),
    ("hotkey", Constraint::Length(9)),
    ("asked", Constraint::Length(6)),
    ("refused", Constraint::Length(7)),
    ("passed", Constraint::Length(6)),
    ("taken", Constraint::Length(6)),
    ("rejected", Constraint::Length(8)),
];

/// A validator's row start: uid, hotkey, challenges asked, refused by us, and its replies
/// (passed and rejected in colour; taken plain: a v5 202 is no verdict).
pub fn validator_cells(
    uid: Option<u16>,
    hotkey: &str,
    asked: u64,
    refused: u64,
    replies: &gas_shared::reply::ReplyCounts,
) -> Vec<ratatui::widgets::Cell<'static>> {
    use ratatui::widgets::Cell;
    vec![
        Cell::from(uid.map_or("–".into(), |u| u.to_string())),
        Cell::from(crate::app::short(hotkey).to_string()),
        Cell::from(asked.to_string()),
        flagged(refused, WARN),
        flagged(replies.passed, GOOD),
        Cell::from(replies.taken.to_string()),
        flagged(replies.rejected, BAD),
    ]
}

pub fn verdicts(r: &Rate) -> String {
    format!("{}/{}", compact(r.passed), compact(r.total))
}

/// Cuts plain text into lines of at most `width` characters, at spaces where it can.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let mut word = word;
        loop {
            let used = line.chars().count();
            let need = word.chars().count() + usize::from(used > 0);
            if used + need <= width {
                if used > 0 {
                    line.push(' ');
                }
                line.push_str(word);
                break;
            }
            if used > 0 {
                lines.push(std::mem::take(&mut line));
                continue;
            }
            // A word longer than the line: cut it.
            let cut = word
                .char_indices()
                .nth(width)
                .map_or(word.len(), |(i, _)| i);
            lines.push(word[..cut].to_string());
            word = &word[cut..];
            if word.is_empty() {
                break;
            }
        }
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// Lays parts out in order, two spaces apart, in at most `max` lines of `width`; a part
/// that no longer fits is left out.
pub fn packed(parts: Vec<Vec<Span<'static>>>, width: u16, max: usize) -> Vec<Line<'static>> {
    let width = usize::from(width);
    let mut lines: Vec<Line> = Vec::new();
    let mut used = 0;
    for part in parts {
        let w: usize = part.iter().map(|s| s.width()).sum();
        if let Some(line) = lines.last_mut().filter(|_| used + 2 + w <= width) {
            line.spans.push(Span::raw("  "));
            line.spans.extend(part);
            used += 2 + w;
        } else if lines.len() < max && (w <= width || lines.is_empty()) {
            lines.push(Line::from(part));
            used = w;
        }
    }
    lines
}

/// Plain text wrapped to `width`, every line in one style.
pub fn wrapped(text: &str, style: Style, width: u16) -> Vec<Line<'static>> {
    wrap(text, usize::from(width))
        .into_iter()
        .map(|l| Line::styled(l, style))
        .collect()
}

/// `HH:MM:SS` (UTC) of a time in ms since the epoch.
pub fn clock(ms: i64) -> String {
    let s = (ms / 1000).rem_euclid(86_400);
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// `94%`, with the counts when there is room (`94% (160/171)`).
pub fn pct(r: &Rate, counts: bool) -> String {
    match r.ratio() {
        Some(x) if counts => format!("{:.0}% ({}/{})", x * 100.0, r.passed, r.total),
        Some(x) => format!("{:.0}%", x * 100.0),
        None => "–".into(),
    }
}

/// How a task's state looks wherever it is shown.
pub fn state_style(st: TaskState) -> Style {
    match st {
        TaskState::Delivered => GOOD,
        TaskState::Failed | TaskState::Expired => BAD,
        TaskState::Queued => DIM,
        _ => WARN,
    }
}

/// A panel: a dim border with the title in bold.
pub fn boxed(title: &str) -> Block<'static> {
    Block::default()
        .borders(Borders::ALL)
        .border_style(DIM)
        .title(Span::styled(format!(" {title} "), BOLD))
}

/// A boxed table; each column is its header (drawn dim) and its width.
pub fn table<'a>(
    title: &str,
    columns: impl IntoIterator<Item = (&'static str, Constraint)>,
    rows: Vec<Row<'a>>,
) -> Table<'a> {
    bare_table(columns, rows).block(boxed(title))
}

/// `text` in at most `width` columns; cut text ends in `…`.
pub fn clip(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let kept: String = text.chars().take(width.saturating_sub(1)).collect();
    format!("{kept}…")
}

/// The width left for a boxed table's last (`Min`) column in `outer` columns: the box's two
/// borders, the other columns' lengths and the one-column gaps between columns go first.
pub fn last_column_width(columns: &[(&str, Constraint)], outer: u16) -> usize {
    let fixed: u16 = columns
        .iter()
        .map(|(_, c)| match c {
            Constraint::Length(n) => *n,
            _ => 0,
        })
        .sum();
    let gaps = columns.len().saturating_sub(1) as u16;
    usize::from(outer.saturating_sub(2 + fixed + gaps))
}

/// A table without its box, for a panel that holds more than the table.
pub fn bare_table<'a>(
    columns: impl IntoIterator<Item = (&'static str, Constraint)>,
    rows: Vec<Row<'a>>,
) -> Table<'a> {
    let (header, widths): (Vec<&str>, Vec<Constraint>) = columns.into_iter().unzip();
    Table::new(rows, widths).header(Row::new(header).style(DIM))
}

/// What a screen shows before the miner's first status: why there is none yet.
pub fn waiting(f: &mut Frame, area: Rect, app: &App) {
    let text = match &app.conn {
        Conn::Down { error, .. } => format!(
            "Waiting for the miner…\n\n{error}\n\nIs gas-miner running? Is {} its admin socket (--socket / GAS_ADMIN_SOCKET)?",
            app.socket
        ),
        _ => format!("Connecting to {}…", app.socket),
    };
    f.render_widget(
        Paragraph::new(text)
            .wrap(Wrap { trim: false })
            .block(boxed("gas-miner")),
        area,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cut_text_says_so() {
        assert_eq!(clip("Duplicate image detected", 10), "Duplicate…");
        assert_eq!(clip("short", 10), "short");
        let columns = [("a", Constraint::Length(4)), ("b", Constraint::Min(5))];
        assert_eq!(last_column_width(&columns, 20), 13);
    }

    #[test]
    fn dates_ages_and_thresholds_read_as_written() {
        assert_eq!(month_day(0), "01-01");
        // 2025-11-24T16:00:00Z and 2024-02-29.
        assert_eq!(month_day(1_764_000_000_000), "11-24");
        assert_eq!(month_day(1_709_164_800_000), "02-29");
        assert_eq!(month_day(-86_400_000), "12-31");
        assert_eq!(ago(14 * 60_000 + 5_000), "14 min ago");
        assert_eq!(ago(3 * 86_400_000), "3 days ago");
        assert_eq!(threshold(0.02), "2%");
        assert_eq!(threshold(0.01), "1%");
        assert_eq!(threshold(0.005), "0.5%");
        assert_eq!(percent(0.0123), "1.2%");
    }

    #[test]
    fn wrapping_keeps_words_and_cuts_only_what_must_be() {
        assert_eq!(wrap("a bb ccc dddd", 6), ["a bb", "ccc", "dddd"]);
        assert_eq!(wrap("abcdefgh", 3), ["abc", "def", "gh"]);
        assert_eq!(wrap("", 5), [""]);
    }
}
