//! Drawing: a pure function of [`App`]. Every screen fits 80×24 and grows with the terminal.
//!
//! This module draws the frame: the header with the tabs and the connection, the screen of
//! the moment (one module each), the message line and the key hints, and the help over it
//! all. `widgets` holds what the screens share.

mod dashboard;
mod detail;
mod help;
mod logs;
mod services;
mod standing;
mod tasks;
mod widgets;

pub use detail::detail_text;
pub use widgets::{age, clock, compact};

use crate::app::{App, Conn, Screen, Tone};
use gas_shared::admin::Status;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use widgets::{BAD, BOLD, DIM, GOOD, WARN};

/// Key hints: the key, what it does.
type Keys = &'static [(&'static str, &'static str)];

pub fn draw(f: &mut Frame, app: &App) {
    let [head, body, msg, foot] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(5),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(f.area());
    header(f, head, app);
    match app.screen {
        Screen::Dashboard => dashboard::draw(f, body, app),
        Screen::Tasks => tasks::draw(f, body, app),
        Screen::Detail => detail::draw(f, body, app),
        Screen::Services => services::draw(f, body, app),
        Screen::Logs => logs::draw(f, body, app),
        Screen::Standing => standing::draw(f, body, app),
    }
    message(f, msg, app);
    footer(f, foot, app);
    if app.help {
        help::draw(f, app);
    }
}

fn header(f: &mut Frame, area: Rect, app: &App) {
    let mut spans = vec![Span::styled(
        " gas-console ",
        BOLD.bg(Color::Blue).fg(Color::White),
    )];
    if app.status.as_ref().is_some_and(|s| s.demo) {
        spans.push(Span::styled(
            " DEMO ",
            BOLD.bg(Color::Yellow).fg(Color::Black),
        ));
    }
    let conn = connection(app);
    // The tabs' short titles when the full ones would push the connection off the line.
    let full: usize = spans.iter().map(|s| s.width()).sum::<usize>()
        + Screen::TABS
            .iter()
            .map(|s| s.title().len() + 1)
            .sum::<usize>()
        + 2
        + conn.width();
    let narrow = full > usize::from(area.width);
    for s in Screen::TABS {
        let active = s.title() == app.screen.title();
        spans.push(Span::raw(" "));
        spans.push(Span::styled(
            if narrow { s.short_title() } else { s.title() },
            if active {
                BOLD.add_modifier(Modifier::REVERSED)
            } else {
                DIM
            },
        ));
    }
    spans.push(Span::raw("  "));
    spans.push(conn);
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// The connection to the miner, in a word or a few.
fn connection(app: &App) -> Span<'static> {
    match &app.conn {
        Conn::Connecting => Span::styled("connecting…", WARN),
        Conn::Up {
            reconnected,
            since_ms,
        } if *reconnected && app.now_ms - since_ms < 10_000 => Span::styled("reconnected", GOOD),
        Conn::Up { .. } => Span::styled("live", GOOD),
        Conn::Down { since_ms, .. } => Span::styled(
            format!(
                "miner unreachable for {}",
                widgets::age(app.now_ms - since_ms)
            ),
            BAD.add_modifier(Modifier::BOLD),
        ),
    }
}

/// The key hints of what is being done: typing, or the screen's own.
fn footer(f: &mut Frame, area: Rect, app: &App) {
    let keys: Keys = if app.search_input.is_some() {
        tasks::SEARCH_KEYS
    } else if app.services.typing.is_some() {
        services::TYPING_KEYS
    } else {
        match app.screen {
            Screen::Dashboard => dashboard::KEYS,
            Screen::Tasks => tasks::KEYS,
            Screen::Detail => detail::KEYS,
            Screen::Services => services::KEYS,
            Screen::Logs => logs::KEYS,
            Screen::Standing => standing::KEYS,
        }
    };
    let mut spans = Vec::new();
    for (k, what) in keys {
        spans.push(Span::styled(
            format!(" {k} "),
            BOLD.add_modifier(Modifier::REVERSED),
        ));
        spans.push(Span::raw(format!(" {what} ")));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// The line above the key hints: what is being typed, else the last message, else that the
/// subnet's API is being asked, else why the miner is unreachable, else the refusals (an
/// unanswered modality, then a budget near its limit, first), else the socket.
fn message(f: &mut Frame, area: Rect, app: &App) {
    let line = if let Some(text) = &app.search_input {
        Line::from(vec![
            Span::styled(" search: ", BOLD),
            Span::raw(format!("{text}▏")),
        ])
    } else if let Some(text) = &app.services.typing {
        let which = if app.services.video { "video" } else { "image" };
        Line::from(vec![
            Span::styled(format!(" {which} chain: "), BOLD),
            Span::raw(format!("{text}▏")),
        ])
    } else if let Some(m) = &app.message {
        let style = match m.tone {
            Tone::Info => Style::default(),
            Tone::Good => GOOD,
            Tone::Bad => BAD,
        };
        Line::from(Span::styled(format!(" {}", m.text), style))
    } else if let Some(since) = app.standing.refreshing_since {
        Line::from(Span::styled(
            format!(
                " asking the subnet's API… ({} s; it may take two minutes)",
                (app.now_ms - since).max(0) / 1000
            ),
            WARN,
        ))
    } else if let Conn::Down { error, .. } = &app.conn {
        Line::from(Span::styled(format!(" {error}; retrying…"), BAD))
    } else if let Some(line) = app.status.as_ref().and_then(alert) {
        line
    } else {
        Line::from(Span::styled(format!(" socket {}", app.socket), DIM))
    };
    f.render_widget(Paragraph::new(line), area);
}

/// What the operator must know first: a modality unanswered for a day, else a budget near or
/// at its limit, else the day's refusals.
fn alert(s: &Status) -> Option<Line<'static>> {
    unanswered_alert(s)
        .or_else(|| budget_alert(s))
        .or_else(|| refusal_alert(s))
}

/// A budget at or past 80 % of its limit (the fullest first): reached, its challenges are
/// refused and no paid call is made.
fn budget_alert(s: &Status) -> Option<Line<'static>> {
    let b = s.budget.iter().filter(|b| b.warns()).max_by(|a, b| {
        a.fraction()
            .unwrap_or(0.0)
            .total_cmp(&b.fraction().unwrap_or(0.0))
    })?;
    let (what, style) = if b.reached() {
        ("reached: challenges get 503, no paid call", BAD)
    } else {
        ("503 once the next would pass it", WARN)
    };
    Some(Line::from(Span::styled(
        format!(
            " {} budget {:.0}%: ${:.2} of ${:.2} in 24h (est.); {what} ({})",
            b.scope,
            b.fraction().unwrap_or(0.0).min(9.99) * 100.0,
            b.spent_usd,
            b.limit_usd.unwrap_or(0.0),
            b.var,
        ),
        style,
    )))
}

/// A modality whose every challenge of the last day was refused: v5 validators mark the
/// miner unresponsive for it.
fn unanswered_alert(s: &Status) -> Option<Line<'static>> {
    let unanswered = s.refusals.unanswered();
    if unanswered.is_empty() {
        return None;
    }
    let names: Vec<&str> = unanswered.iter().map(|m| m.as_str()).collect();
    Some(Line::from(Span::styled(
        format!(
            " {}: every challenge refused for 24 h; v5 marks the miner unresponsive",
            names.join(", ")
        ),
        BAD,
    )))
}

/// The day's refusals by reason, if any.
fn refusal_alert(s: &Status) -> Option<Line<'static>> {
    let r = &s.refusals;
    if r.day_total() == 0 {
        return None;
    }
    let reasons: Vec<String> = r.day.iter().map(|(why, n)| format!("{n} {why}")).collect();
    Some(Line::from(Span::styled(
        format!(
            " refused with 503: {} in 1h, {} in 24h ({})",
            r.hour_total(),
            r.day_total(),
            reasons.join(", ")
        ),
        WARN,
    )))
}

/// Whether the dashboard shows anything yet (for benchmarks and tests).
pub fn ready(status: &Option<Status>) -> bool {
    status.is_some()
}
