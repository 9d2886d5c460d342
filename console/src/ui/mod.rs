//! Drawing: a pure function of [`App`]. Every screen fits 80×24 and grows with the terminal.
//!
//! This module draws the frame: the header with the tabs and the connection, the screen of
//! the moment (one module each), the message line and the key hints, and the help over it
//! all. `widgets` holds what the screens share.

mod alerts;
mod charts;
mod dashboard;
mod detail;
pub mod fleet;
mod help;
mod logs;
mod services;
mod standing;
mod tasks;
mod widgets;

pub use detail::detail_text;
pub use widgets::{age, clock, compact};

use crate::app::{App, Conn, Phase, Screen, Tone};
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
        Screen::Charts => charts::draw(f, body, app),
    }
    // What is shown while the miner does not answer is its last word, not the present: dimmed.
    if matches!(
        app.phase(),
        Phase::Stopped | Phase::Unreachable | Phase::Silent(_)
    ) {
        f.buffer_mut().set_style(body, DIM);
    }
    message(f, msg, app);
    footer(f, foot, app);
    if app.help {
        help::draw(f, app);
    } else if app.alerts_open {
        alerts::draw(f, app);
    }
}

fn header(f: &mut Frame, area: Rect, app: &App) {
    let mut spans = vec![Span::styled(
        " gas-console ",
        BOLD.bg(Color::Blue).fg(Color::White),
    )];
    if let Some(name) = &app.fleet_name {
        spans.push(Span::styled(
            format!(" {name} "),
            BOLD.bg(Color::Cyan).fg(Color::Black),
        ));
        spans.push(Span::styled(" F fleet", DIM));
    }
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
    let down_for = match &app.conn {
        Conn::Down { since_ms, .. } => widgets::age(app.now_ms - since_ms),
        _ => String::new(),
    };
    match app.phase() {
        Phase::Starting => Span::styled("starting…", WARN),
        Phase::Live => match &app.conn {
            Conn::Up {
                reconnected: true,
                since_ms,
            } if app.now_ms - since_ms < 10_000 => Span::styled("reconnected", GOOD),
            _ => Span::styled("live", GOOD),
        },
        Phase::Draining => Span::styled("draining: finishing, accepting nothing", WARN),
        Phase::Silent(s) => Span::styled(
            format!("no news for {s} s"),
            WARN.add_modifier(Modifier::BOLD),
        ),
        Phase::Stopped => Span::styled(
            format!("stopped {down_for} ago"),
            BAD.add_modifier(Modifier::BOLD),
        ),
        Phase::Unreachable => Span::styled(
            format!("miner unreachable for {down_for}"),
            BAD.add_modifier(Modifier::BOLD),
        ),
    }
}

/// The key hints of what is being done: typing, or the screen's own.
fn footer(f: &mut Frame, area: Rect, app: &App) {
    let keys: Keys = if app.search_input.is_some() || app.log_search.is_some() {
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
            Screen::Charts => charts::KEYS,
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

/// The line above the key hints, on every screen: what is being typed, else the last
/// message, else that the subnet's API is being asked, else why the miner is unreachable,
/// else the most serious alert (`alerts`), else the socket.
fn message(f: &mut Frame, area: Rect, app: &App) {
    let line = if let Some((input, _)) = &app.search_input {
        typing(" search: ", input)
    } else if let Some((input, _)) = &app.log_search {
        typing(" log search: ", input)
    } else if let Some(input) = &app.services.typing {
        let which = if app.services.video { "video" } else { "image" };
        typing(&format!(" {which} chain: "), input)
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
    } else if let Conn::Down {
        error,
        stopped: false,
        ..
    } = &app.conn
    {
        Line::from(Span::styled(format!(" {error}; retrying…"), BAD))
    } else if let Some(line) = alerts::line(app) {
        line
    } else {
        Line::from(Span::styled(format!(" socket {}", app.socket), DIM))
    };
    f.render_widget(Paragraph::new(line), area);
}

/// A line being typed, its cursor shown as a reversed cell.
fn typing(label: &str, input: &crate::app::Input) -> Line<'static> {
    let (before, after) = input.split();
    let mut rest = after.chars();
    let under = rest.next().map_or(" ".to_string(), |c| c.to_string());
    Line::from(vec![
        Span::styled(label.to_string(), BOLD),
        Span::raw(before.to_string()),
        Span::styled(under, Style::default().add_modifier(Modifier::REVERSED)),
        Span::raw(rest.collect::<String>()),
    ])
}

/// Whether the dashboard shows anything yet (for benchmarks and tests).
pub fn ready(status: &Option<Status>) -> bool {
    status.is_some()
}
