//! The dashboard: the miner, its queue, its rates, its providers and its validators.

use super::Keys;
use super::widgets::{BAD, BOLD, GOOD, WARN, age, boxed, compact, pct, table, waiting};
use crate::app::{App, short};
use gas_shared::{Modality, TaskState};
use ratatui::Frame;
use ratatui::layout::Constraint::{Length, Min};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Cell, Paragraph, Row};

pub const KEYS: Keys = &[
    ("1-4", "screens"),
    ("t", "reload anchors"),
    ("?", "help"),
    ("q", "quit"),
];

pub fn draw(f: &mut Frame, area: Rect, app: &App) {
    let Some(s) = &app.status else {
        return waiting(f, area, app);
    };
    let rows_v = (s.validators.len() as u16 + 3).clamp(3, 8);
    let rows_p = (s.providers.len() as u16 + 3).clamp(3, 7);
    let [top, mid, prov, vals] = Layout::vertical([
        Constraint::Length(4),
        Constraint::Length(5),
        Constraint::Length(rows_p),
        Constraint::Min(rows_v.min(4)),
    ])
    .areas(area);
    let uptime = age(s.now_ms - s.started_ms);
    let mg = &s.metagraph;
    let registered = match s.uid {
        Some(uid) => Span::styled(format!("uid {uid}"), GOOD),
        None => Span::styled("NOT REGISTERED", BAD),
    };
    let hotkey = if area.width >= 100 {
        s.hotkey.clone()
    } else {
        format!("{}…", s.hotkey.get(..12).unwrap_or(&s.hotkey))
    };
    let miner = Text::from(vec![
        Line::from(vec![
            Span::styled(hotkey, BOLD),
            Span::raw("  "),
            registered,
            Span::raw(format!(
                "  netuid {}  v{}  up {uptime}  {} anchors",
                s.netuid, s.version, s.trust_anchors
            )),
        ]),
        Line::from(vec![
            Span::raw(format!(
                "axon {}  metagraph block {} age {} ",
                s.axon.as_deref().unwrap_or("not served"),
                mg.block.map_or("–".to_string(), |b| b.to_string()),
                age(mg.age_s * 1000)
            )),
            if mg.stale {
                Span::styled("STALE", BAD)
            } else {
                Span::styled("fresh", GOOD)
            },
            Span::raw(format!("  {} neurons", mg.neurons)),
        ]),
    ]);
    f.render_widget(Paragraph::new(miner).block(boxed("Miner")), top);

    let [queue, rates] =
        Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(mid);
    let count = |st: TaskState, m: Modality| {
        s.queue
            .iter()
            .find(|q| q.state == st && q.modality == m)
            .map_or(0, |q| q.count)
    };
    let states = [
        (TaskState::Queued, "wait"),
        (TaskState::Generating, "gen"),
        (TaskState::Preflight, "chk"),
        (TaskState::Delivering, "send"),
        (TaskState::Delivered, "done"),
        (TaskState::Failed, "fail"),
        (TaskState::Expired, "exp"),
    ];
    let qrows: Vec<Row> = [Modality::Image, Modality::Video]
        .into_iter()
        .map(|m| {
            let mut cells = vec![Cell::from(m.as_str())];
            cells.extend(
                states
                    .iter()
                    .map(|(st, _)| Cell::from(compact(count(*st, m)))),
            );
            Row::new(cells)
        })
        .collect();
    let columns = [("", Length(5))]
        .into_iter()
        .chain(states.iter().map(|(_, name)| (*name, Length(4))));
    f.render_widget(table("Queue", columns, qrows), queue);
    let t = &s.throughput;
    let counts = rates.width >= 50;
    let r = Text::from(vec![
        Line::raw(format!(
            "accepted {}/min {}/h  done {}/h",
            t.accepted_last_minute, t.accepted_last_hour, t.finished_last_hour
        )),
        Line::raw(format!(
            "pre-flight  {} 1h  {} 24h",
            pct(&s.preflight.hour, counts),
            pct(&s.preflight.day, counts)
        )),
        Line::raw(format!(
            "validators  {} 1h  {} 24h",
            pct(&s.acceptance.hour, counts),
            pct(&s.acceptance.day, counts)
        )),
    ]);
    f.render_widget(Paragraph::new(r).block(boxed("Rates")), rates);

    let prows: Vec<Row> = s
        .providers
        .iter()
        .map(|p| {
            Row::new(vec![
                Cell::from(p.name.clone()),
                Cell::from(p.calls.to_string()),
                flagged(p.errors, WARN),
                Cell::from(p.p50_ms.map_or("–".into(), |v| format!("{v}ms"))),
                Cell::from(p.p95_ms.map_or("–".into(), |v| format!("{v}ms"))),
                Cell::from(format!("${:.2}", p.spend_usd)),
            ])
        })
        .collect();
    let columns = [
        ("provider", Length(12)),
        ("calls", Length(7)),
        ("errors", Length(7)),
        ("p50", Length(9)),
        ("p95", Length(9)),
        ("spend", Min(8)),
    ];
    f.render_widget(table("Providers", columns, prows), prov);
    let vrows: Vec<Row> = s
        .validators
        .iter()
        .map(|v| {
            Row::new(vec![
                Cell::from(v.uid.map_or("–".into(), |u| u.to_string())),
                Cell::from(short(&v.hotkey).to_string()),
                Cell::from(v.challenges.to_string()),
                Cell::from(v.accepted.to_string()).style(GOOD),
                flagged(v.rejected, BAD),
                Cell::from(v.last_rejection.clone().unwrap_or_default()),
            ])
        })
        .collect();
    let columns = [
        ("uid", Length(4)),
        ("hotkey", Length(9)),
        ("asked", Length(6)),
        ("taken", Length(6)),
        ("refused", Length(6)),
        ("last refusal", Min(10)),
    ];
    f.render_widget(table("Validators", columns, vrows), vals);
}

/// A count, in `alarm`'s colour when it is not zero.
fn flagged(n: u64, alarm: Style) -> Cell<'static> {
    Cell::from(n.to_string()).style(if n > 0 { alarm } else { Style::default() })
}
