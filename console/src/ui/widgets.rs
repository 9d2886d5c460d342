//! What more than one screen draws with: the styles, the boxed block and table, the
//! "waiting for the miner" panel, and the formatting of ages, counts, clocks and rates.

use crate::app::{App, Conn};
use gas_shared::TaskState;
use gas_shared::admin::Rate;
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Span;
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
    let (header, widths): (Vec<&str>, Vec<Constraint>) = columns.into_iter().unzip();
    Table::new(rows, widths)
        .header(Row::new(header).style(DIM))
        .block(boxed(title))
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
