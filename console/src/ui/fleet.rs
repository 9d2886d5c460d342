//! The fleet screen: one row per miner (name, hotkey, uid, its state, queue, pre-flight and
//! validators' rates, the fool-rate gate per modality, incentive, spend today and its most
//! serious alert), totals at the bottom. Each row is that miner's own last word: a miner that
//! is down is said to be, its figures dimmed and aged.

use super::alerts;
use super::widgets::{
    BAD, BOLD, DIM, GOOD, WARN, age, clip, compact, gate_style, last_column_width,
};
use crate::app::Phase;
use crate::app::fleet::Fleet;
use gas_shared::admin::Status;
use ratatui::Frame;
use ratatui::layout::Constraint::{Length, Min};
use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Clear, Paragraph, Row, Wrap};

const KEYS: &[(&str, &str)] = &[
    ("↑↓", "pick"),
    ("Enter", "its screens (F: back here)"),
    ("?", "help"),
    ("q", "quit"),
];

const HELP: &[&str] = &[
    "One row per miner, each from its own connection (each reconnects by itself).",
    "state: live · draining · starting… · silent Ns · stopped (as asked) · DOWN (gone unasked)",
    "queue: tasks waiting or under way · pre 1h: our pre-flight passed/judged, last hour",
    "verd 24h: v4.9.x validators' verdicts passed/judged · taken: v5 202s, verdict unknown",
    "gates i/v: the fool-rate gate per modality as the subnet's API last said (paid, below, few, none)",
    "incent.: the chain's incentive for the uid, when read · spend: estimated, last 24 h",
    "alert: the miner's most serious alert (Enter, then ! for all of them)",
    "Any key closes this.",
];

/// The state of a miner in a word, and how it looks.
fn state(phase: Phase, down_for: Option<i64>) -> (String, Style) {
    match phase {
        Phase::Live => ("live".into(), GOOD),
        Phase::Starting => ("starting…".into(), WARN),
        Phase::Draining => ("draining".into(), WARN),
        Phase::Silent(s) => (format!("silent {s}s"), WARN),
        Phase::Stopped => (
            format!("stopped {}", down_for.map(age).unwrap_or_default()),
            BAD,
        ),
        Phase::Unreachable => (
            format!("DOWN {}", down_for.map(age).unwrap_or_default()),
            BAD.add_modifier(Modifier::BOLD),
        ),
    }
}

fn queue(s: &Status) -> u64 {
    s.queue
        .iter()
        .filter(|q| !q.state.is_final())
        .map(|q| q.count)
        .sum()
}

fn spend(s: &Status) -> Option<f64> {
    s.budget
        .iter()
        .find(|b| b.scope == "all")
        .map(|b| b.spent_usd)
}

fn gate_cell(s: &Status) -> Cell<'static> {
    let Some(st) = &s.standing else {
        return Cell::from("–").style(DIM);
    };
    let word = |status: &str| match status {
        "qualified" => "paid",
        "below_threshold" => "below",
        "insufficient_samples" => "few",
        "no_data" => "none",
        _ => "–",
    };
    let mut spans = Vec::new();
    for (m, status, _) in &st.gates {
        spans.push(Span::raw(format!("{}:", &m.as_str()[..1])));
        spans.push(Span::styled(word(status), gate_style(status)));
        spans.push(Span::raw(" "));
    }
    Cell::from(Line::from(spans))
}

/// A pair of counts in at most 9 characters: `160/171`, `12k/13k`.
fn pair(a: u64, b: u64) -> String {
    format!("{}/{}", compact(a), compact(b))
}

/// The columns: every one from 120 columns on; below, the hotkey, uid, taken and incentive
/// go, and each miner's alert is listed under the table.
fn columns(wide: bool) -> Vec<(&'static str, Constraint, bool)> {
    vec![
        ("name", Length(if wide { 16 } else { 12 }), true),
        ("hotkey", Length(8), wide),
        ("uid", Length(4), wide),
        ("state", Length(if wide { 11 } else { 9 }), true),
        ("queue", Length(5), true),
        ("pre 1h", Length(9), true),
        ("verd 24h", Length(9), true),
        ("taken", Length(5), wide),
        ("gates i/v", Length(14), true),
        ("incent.", Length(7), wide),
        ("spend 24h", Length(9), true),
        ("alert", Min(8), wide),
    ]
}

/// Keeps the cells of the columns shown.
fn shown(cells: Vec<Cell<'static>>, wide: bool) -> Vec<Cell<'static>> {
    cells
        .into_iter()
        .zip(columns(wide))
        .filter(|(_, (_, _, on))| *on)
        .map(|(c, _)| c)
        .collect()
}

pub fn draw(f: &mut Frame, fleet: &Fleet) {
    let [head, body, foot] = Layout::vertical([Length(1), Min(3), Length(1)]).areas(f.area());
    let live = fleet.live();
    f.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled(" gas-console ", BOLD.bg(Color::Blue).fg(Color::White)),
            Span::styled(
                format!(" Fleet: {} miners, {live} answering", fleet.members.len()),
                BOLD,
            ),
        ])),
        head,
    );
    let wide = body.width >= 120;
    let cols: Vec<(&str, Constraint)> = columns(wide)
        .into_iter()
        .filter(|(_, _, on)| *on)
        .map(|(h, c, _)| (h, c))
        .collect();
    let alert_width = last_column_width(&cols, body.width);
    let mut rows: Vec<Row> = Vec::new();
    let mut alert_lines: Vec<Line> = Vec::new();
    let (mut t_queue, mut t_pre, mut t_verd, mut t_taken, mut t_spend) =
        (0u64, (0u64, 0u64), (0u64, 0u64), 0u64, 0.0f64);
    // More miners than fit: the rows scroll with the marked one (totals count them all).
    let room = usize::from(body.height.saturating_sub(5)).max(1);
    let first = fleet.selected.saturating_sub(room - 1);
    for (i, m) in fleet.members.iter().enumerate() {
        let app = &m.app;
        let (down_for, down_error) = match &app.conn {
            crate::app::Conn::Down {
                since_ms,
                error,
                stopped,
            } => (
                Some(fleet.now_ms - since_ms),
                (!stopped).then(|| error.clone()),
            ),
            _ => (None, None),
        };
        let (word, style) = state(app.phase(), down_for);
        let stale = down_for.is_some();
        let mut cells = vec![
            Cell::from(clip(&m.name, if wide { 16 } else { 12 })),
            Cell::from(app.status.as_ref().map_or("–".into(), |s| {
                s.hotkey.chars().take(8).collect::<String>()
            })),
            Cell::from(
                app.status
                    .as_ref()
                    .and_then(|s| s.uid)
                    .map_or("–".into(), |u| u.to_string()),
            ),
            Cell::from(word).style(style),
        ];
        match &app.status {
            Some(s) => {
                let pre = (s.preflight.hour.passed, s.preflight.hour.total);
                let v = s.replies.day.verdicts();
                cells.extend([
                    Cell::from(queue(s).to_string()),
                    Cell::from(pair(pre.0, pre.1)),
                    Cell::from(pair(v.passed, v.total)),
                    Cell::from(compact(s.replies.day.taken)),
                    gate_cell(s),
                    Cell::from(
                        s.standing
                            .as_ref()
                            .and_then(|st| st.incentive)
                            .map_or("–".into(), |x| format!("{x:.4}")),
                    ),
                    Cell::from(spend(s).map_or("–".into(), |u| format!("${u:.2}"))),
                ]);
                if !stale {
                    t_queue += queue(s);
                    t_pre = (t_pre.0 + pre.0, t_pre.1 + pre.1);
                    t_verd = (t_verd.0 + v.passed, t_verd.1 + v.total);
                    t_taken += s.replies.day.taken;
                    t_spend += spend(s).unwrap_or(0.0);
                }
            }
            None => cells.extend((0..7).map(|_| Cell::from("–").style(DIM))),
        }
        // What the operator must know first: why it is down, else its first alert.
        let alert = match down_error {
            Some(e) => Some((format!("unreachable: {e}"), BAD)),
            None => alerts::all(app)
                .into_iter()
                .next()
                .map(|a| (a.text, a.style)),
        };
        cells.push(match &alert {
            Some((text, style)) => Cell::from(clip(text, alert_width)).style(*style),
            None => Cell::from("–").style(DIM),
        });
        if let Some((text, style)) = &alert {
            alert_lines.push(Line::from(vec![
                Span::styled(format!("{}: ", m.name), BOLD),
                Span::styled(text.clone(), *style),
            ]));
        }
        if i < first || i >= first + room {
            continue;
        }
        let mut row = Row::new(shown(cells, wide));
        if stale {
            row = row.style(DIM);
        }
        if i == fleet.selected {
            row = row.style(Style::new().add_modifier(Modifier::REVERSED));
        }
        rows.push(row);
    }
    rows.push(Row::new(vec![Cell::from("")]));
    let totals = vec![
        Cell::from("total"),
        Cell::from(""),
        Cell::from(""),
        Cell::from(format!("{live}/{} up", fleet.members.len())),
        Cell::from(t_queue.to_string()),
        Cell::from(pair(t_pre.0, t_pre.1)),
        Cell::from(pair(t_verd.0, t_verd.1)),
        Cell::from(compact(t_taken)),
        Cell::from(""),
        Cell::from(""),
        Cell::from(format!("${t_spend:.2}")),
        Cell::from("totals: the miners that answer; spend estimated"),
    ];
    rows.push(Row::new(shown(totals, wide)).style(BOLD));
    let table_rows = (rows.len() as u16 + 3).min(body.height);
    // The table as tall as its rows; below it, each miner's alert in full.
    let [top, below] = if alert_lines.is_empty() {
        [body, ratatui::layout::Rect::default()]
    } else {
        Layout::vertical([Length(table_rows), Min(0)]).areas(body)
    };
    f.render_widget(
        super::widgets::table("Miners (each its own connection)", cols, rows),
        top,
    );
    if below.height > 2 {
        f.render_widget(
            Paragraph::new(alert_lines)
                .wrap(Wrap { trim: false })
                .block(super::widgets::boxed("Each miner's most serious alert")),
            below,
        );
    }
    let mut spans = Vec::new();
    for (k, what) in KEYS {
        spans.push(Span::styled(
            format!(" {k} "),
            BOLD.add_modifier(Modifier::REVERSED),
        ));
        spans.push(Span::raw(format!(" {what} ")));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), foot);
    if fleet.help {
        let area = f.area();
        let w = area.width.min(100);
        let h = (HELP.len() as u16 * 2 + 2).min(area.height);
        let r = ratatui::layout::Rect::new(
            area.x + (area.width - w) / 2,
            area.y + (area.height - h) / 2,
            w,
            h,
        );
        f.render_widget(Clear, r);
        f.render_widget(
            Paragraph::new(HELP.iter().map(|l| Line::raw(*l)).collect::<Vec<_>>())
                .wrap(Wrap { trim: false })
                .block(super::widgets::boxed("Fleet: what the columns mean")),
            r,
        );
    }
}
