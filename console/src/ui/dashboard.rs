//! The dashboard: the miner and its standing in one line, its queue, its rates (the
//! validators' replies by what they mean: a v5 202 is taken, never passed), its providers
//! (each with its circuit breaker's state and why it is not ok) and its validators; challenges
//! refused before the 201 are on the Rates box where there is room, and on the message line.

use super::Keys;
use super::widgets::{
    BAD, BOLD, DIM, GOOD, VALIDATOR_COLUMNS, WARN, age, bare_table, boxed, clip, compact, flagged,
    gate_style, last_column_width, packed, pct, percent, table, validator_cells, verdicts, waiting,
};
use crate::app::{App, Panel, QUEUE_STATES, ordered_validators, state_word};
use gas_shared::admin::{Rate, ReplyRates, Status};
use gas_shared::standing::status_words;
use gas_shared::{Modality, TaskState};
use ratatui::Frame;
use ratatui::layout::Constraint::{Length, Min};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};

use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Cell, Paragraph, Row};

pub const KEYS: Keys = &[
    ("↑↓←→", "pick"),
    ("Enter", "its tasks"),
    ("o", "order"),
    ("1-6", "screens"),
    ("!", "alerts"),
    ("?", "help"),
    ("q", "quit"),
];

pub fn draw(f: &mut Frame, area: Rect, app: &App) {
    let Some(s) = &app.status else {
        return waiting(f, area, app);
    };
    // Each table as tall as its rows (the validators' at least 4 lines); what is left stays
    // empty rather than a box of blank rows.
    let rows_v = (s.validators.len() as u16 + 3).max(4);
    let rows_p = (s.providers.len() as u16 + 3).clamp(3, 7);
    let standing = standing_lines(s, area.width.saturating_sub(2));
    let [top, mid, prov, vals, _] = Layout::vertical([
        Constraint::Length(4 + standing.len() as u16),
        Constraint::Length(6),
        Constraint::Length(rows_p),
        Constraint::Max(rows_v),
        Constraint::Min(0),
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
    let mut miner = Text::from(vec![
        Line::from(vec![
            Span::styled(hotkey, BOLD),
            Span::raw("  "),
            registered,
            Span::raw(format!(
                "  netuid {}  v{}  up {uptime}  {} trust anchor{}",
                s.netuid,
                s.version,
                s.trust_anchors,
                if s.trust_anchors == 1 { "" } else { "s" }
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
    miner.lines.extend(standing);
    f.render_widget(Paragraph::new(miner).block(boxed("Miner")), top);

    let [queue, rates] = Layout::horizontal([Length(44), Min(30)]).areas(mid);
    let count = |st: TaskState, m: Modality| {
        s.queue
            .iter()
            .find(|q| q.state == st && q.modality == m)
            .map_or(0, |q| q.count)
    };
    let states = QUEUE_STATES.map(|st| (st, state_word(st)));
    let focus = app.dash;
    let qrows: Vec<Row> = [Modality::Image, Modality::Video]
        .into_iter()
        .enumerate()
        .map(|(r, m)| {
            let mut cells = vec![Cell::from(m.as_str())];
            cells.extend(states.iter().enumerate().map(|(c, (st, _))| {
                let cell = Cell::from(compact(count(*st, m)));
                if focus.panel == Panel::Queue && focus.row == r && focus.col == c {
                    cell.style(Style::new().add_modifier(Modifier::REVERSED))
                } else {
                    cell
                }
            }));
            Row::new(cells)
        })
        .collect();
    let columns = [("", Length(5))]
        .into_iter()
        .chain(states.iter().map(|(_, name)| (*name, Length(4))));
    let [qtable, qline] = Layout::vertical([Min(3), Length(1)]).areas(boxed("").inner(queue));
    f.render_widget(boxed("Queue"), queue);
    f.render_widget(bare_table(columns, qrows), qtable);
    let t = &s.throughput;
    f.render_widget(
        Paragraph::new(format!(
            "accepted {}/min {}/h  done {}/h",
            t.accepted_last_minute, t.accepted_last_hour, t.finished_last_hour
        )),
        qline,
    );
    let r = rate_lines(s, rates.width.saturating_sub(2));
    f.render_widget(Paragraph::new(r).block(boxed("Rates")), rates);

    let columns = [
        ("provider", Length(12)),
        ("health", Length(9)),
        ("calls", Length(7)),
        ("errors", Length(7)),
        ("p50", Length(8)),
        ("p95", Length(8)),
        ("spend", Length(9)),
        ("why not ok", Min(10)),
    ];
    let why_width = last_column_width(&columns, prov.width);
    let prows: Vec<Row> = s
        .providers
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let picked = focus.panel == Panel::Providers && focus.row == i;
            Row::new(vec![
                Cell::from(p.name.clone()),
                health(p),
                Cell::from(p.calls.to_string()),
                flagged(p.errors, WARN),
                Cell::from(p.p50_ms.map_or("–".into(), |v| format!("{v}ms"))),
                Cell::from(p.p95_ms.map_or("–".into(), |v| format!("{v}ms"))),
                Cell::from(format!("${:.2}", p.spend_usd)),
                Cell::from(clip(
                    &p.health_reason
                        .clone()
                        .or_else(|| short_tier(p))
                        .unwrap_or_default(),
                    why_width,
                )),
            ])
            .style(if picked {
                Style::new().add_modifier(Modifier::REVERSED)
            } else {
                Style::new()
            })
        })
        .collect();
    let title = format!("Providers · {}", spend_title(&s.budget));
    f.render_widget(table(&title, columns, prows), prov);
    // Where they do not all fit, the rows scroll with the selection and the title says which
    // are shown.
    let room = usize::from(vals.height.saturating_sub(3)).max(1);
    let ordered = ordered_validators(s, app.validator_order);
    let vcolumns: Vec<(&str, Constraint)> = VALIDATOR_COLUMNS
        .into_iter()
        .chain([("last rejection", Min(10))])
        .collect();
    let rejection_width = last_column_width(&vcolumns, vals.width);
    let picked = (focus.panel == Panel::Validators).then_some(focus.row);
    let first = picked.map_or(0, |r| r.saturating_sub(room - 1));
    let vrows: Vec<Row> = ordered
        .iter()
        .enumerate()
        .skip(first)
        .take(room)
        .map(|(i, v)| {
            let mut cells = validator_cells(v.uid, &v.hotkey, v.challenges, v.refused, &v.replies);
            cells.push(Cell::from(clip(
                v.last_rejection.as_deref().unwrap_or_default(),
                rejection_width,
            )));
            let row = Row::new(cells);
            if picked == Some(i) {
                row.style(Style::new().add_modifier(Modifier::REVERSED))
            } else {
                row
            }
        })
        .collect();
    let order = app.validator_order.word();
    let vtitle = if vrows.len() < ordered.len() {
        format!(
            "Validators by {order} · {}–{} of {}",
            first + 1,
            first + vrows.len(),
            ordered.len()
        )
    } else {
        format!("Validators by {order}")
    };
    f.render_widget(table(&vtitle, vcolumns, vrows), vals);
}

/// Spend over the last 24 hours against each budget set (all first), in the Providers box's
/// title: `spent 24h (est.) $3.20/$10 all · $1.10/$2 image`; a scope without a limit shows
/// its spend alone.
fn spend_title(budget: &[gas_shared::admin::BudgetLine]) -> String {
    let parts: Vec<String> = budget
        .iter()
        .filter(|b| b.limit_usd.is_some() || b.scope == "all")
        .map(|b| match b.limit_usd {
            Some(l) => format!("${:.2}/${l:.2} {}", b.spent_usd, b.scope),
            None => format!("${:.2} {} (no budget)", b.spent_usd, b.scope),
        })
        .collect();
    if parts.is_empty() {
        return "spend 24h: not reported by this miner".into();
    }
    format!("spent 24h (est.) {}", parts.join(" · "))
}

/// A plan whose recent results fell short of its tier: `veo-3.1-lite 1080p→720p (3/3 short)`.
fn short_tier(p: &gas_shared::admin::ProviderStats) -> Option<String> {
    let t = p.tiers.iter().find(|t| t.reaches < t.planned)?;
    let model = t.model.rsplit('/').next().unwrap_or(&t.model);
    Some(format!(
        "{model} {}→{} ({}/{} short)",
        t.planned, t.reaches, t.short, t.seen
    ))
}

/// A provider's circuit breaker: ok, OPEN (the fallback chains skip it) or half-open (one
/// probe out); an older miner sends nothing, which is ok.
fn health(p: &gas_shared::admin::ProviderStats) -> Cell<'static> {
    match p.health.as_str() {
        "" | "ok" => Cell::from(Span::styled("ok", GOOD)),
        "open" => Cell::from(Span::styled("OPEN", BAD)),
        other => Cell::from(Span::styled(other.to_string(), WARN)),
    }
}

/// The validators' replies over 1 h and 24 h. Their verdicts (v4.9.x: passed of judged) and
/// what v5 took without a verdict stay apart, each labelled: one line per span where there is
/// room, else the verdicts in one line and the taken in two.
fn rate_lines(s: &Status, width: u16) -> Text<'static> {
    let width = usize::from(width);
    let ReplyRates { hour, day } = &s.replies;
    let judged = |r: &Rate| {
        if r.total == 0 {
            "–".to_string()
        } else {
            verdicts(r)
        }
    };
    let taken = |n: u64| format!("taken {} (v5, verdict unknown)", compact(n));
    let wide = format!(
        "24h  verdicts {} (v4.9)  {}",
        judged(&day.verdicts()),
        taken(day.taken)
    );
    if wide.chars().count() <= width {
        let line = |span: &str, r: &gas_shared::reply::ReplyCounts| {
            Line::raw(format!(
                "{span:<4} verdicts {} (v4.9)  {}",
                judged(&r.verdicts()),
                taken(r.taken)
            ))
        };
        let mut lines = vec![
            Line::raw(format!(
                "pre-flight  {} 1h  {} 24h",
                pct(&s.preflight.hour, true),
                pct(&s.preflight.day, true)
            )),
            line("1h", hour),
            line("24h", day),
        ];
        // The box's fourth line, where there is room: refusals before the 201 (v5: no_answer).
        let r = &s.refusals;
        if r.day_total() > 0 {
            let style = if r.unanswered().is_empty() { WARN } else { BAD };
            lines.push(Line::styled(
                format!(
                    "refused  {} 1h  {} 24h (503, no_answer in v5)",
                    compact(r.hour_total()),
                    compact(r.day_total())
                ),
                style,
            ));
        }
        return Text::from(lines);
    }
    let mut judged_line = format!(
        "verdicts (v4.9)  {} 1h  {} 24h",
        judged(&hour.verdicts()),
        judged(&day.verdicts())
    );
    if judged_line.chars().count() > width {
        judged_line = format!(
            "verdicts (v4.9)  {} 1h  {} 24h",
            pct(&hour.verdicts(), false),
            pct(&day.verdicts(), false)
        );
    }
    Text::from(vec![
        Line::raw(format!(
            "pre-flight  {} 1h  {} 24h",
            pct(&s.preflight.hour, false),
            pct(&s.preflight.day, false)
        )),
        Line::raw(judged_line),
        Line::raw("taken (v5, verdict unknown)"),
        Line::raw(format!(
            "  {} 1h  {} 24h",
            compact(hour.taken),
            compact(day.taken)
        )),
    ])
}

/// The standing in parts: first what it must say (how old it is, or why it is not there,
/// and each modality's gate in the API's words with its fool rate), then what it says when
/// there is room (the `R` estimate, the validators' pass rate at the API).
fn standing_parts(s: &Status) -> (Vec<Vec<Span<'static>>>, Vec<Vec<Span<'static>>>) {
    let not_yet = || {
        vec![
            Span::styled("standing: ", BOLD),
            Span::styled("not read yet", DIM),
        ]
    };
    let Some(st) = &s.standing else {
        return (vec![not_yet()], Vec::new());
    };
    let mut must = Vec::new();
    match st.fetched_ms {
        Some(at) => must.push(vec![Span::styled(
            format!("standing ({} ago)", age(s.now_ms - at)),
            BOLD,
        )]),
        None => must.push(not_yet()),
    }
    if let Some(e) = &st.error {
        let e = if e.chars().count() > 48 {
            format!("{}…", e.chars().take(47).collect::<String>())
        } else {
            e.clone()
        };
        must.push(vec![Span::styled(format!("API failed: {e}"), BAD)]);
    }
    if st.fetched_ms.is_none() {
        return (must, Vec::new());
    }
    for (m, status, fool) in &st.gates {
        let mut part = vec![
            Span::raw(format!("{m} ")),
            Span::styled(status_words(status).to_string(), gate_style(status)),
        ];
        if let Some(x) = fool {
            part.push(Span::raw(format!(" {}", percent(*x))));
        }
        must.push(part);
    }
    let mut extra = vec![vec![Span::raw(match st.r_estimate {
        Some(r) => format!("R {r:.3} (estimate)"),
        None => "R unknown (estimate)".to_string(),
    })]];
    if let Some(p) = st.pass_rate {
        extra.push(vec![Span::raw(format!("API pass {:.0}%", p * 100.0))]);
    }
    (must, extra)
}

/// The standing in one line when what it must say fits (with what else fits), else in two.
fn standing_lines(s: &Status, width: u16) -> Vec<Line<'static>> {
    let (must, extra) = standing_parts(s);
    let needed: usize = must
        .iter()
        .map(|p| p.iter().map(Span::width).sum::<usize>() + 2)
        .sum::<usize>()
        - 2;
    let lines = if needed <= usize::from(width) { 1 } else { 2 };
    packed(must.into_iter().chain(extra).collect(), width, lines)
}
