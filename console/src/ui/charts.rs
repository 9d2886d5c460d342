//! Charts: the miner's minutes as bars, the last hour (a column a minute) or the last day
//! (`d`; a column per several minutes, summed): challenges answered and refused, the
//! pre-flight pass rate, the providers' attempt p95 (all, or one provider's: `p`) and the
//! estimated spend. Each title says
//! what a column is and its largest value; a blank column is a minute with nothing to show.
//! Now is at the right edge (its minute so far).

use super::Keys;
use super::widgets::{BAD, GOOD, WARN, boxed, waiting};
use crate::app::App;
use gas_shared::admin::MinutePoint;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::widgets::Sparkline;

pub const KEYS: Keys = &[
    ("d", "hour/day"),
    ("p", "latency of one provider/all"),
    ("?", "help"),
    ("q", "quit"),
];

/// One column: the minutes it sums.
#[derive(Default, Clone, Copy)]
struct Column {
    minutes: u64,
    accepted: u64,
    refused: u64,
    passed: u64,
    judged: u64,
    p95_ms: Option<u64>,
    spend: f64,
}

/// The columns for `width`, oldest first, ending at the minute `now`.
fn columns(app: &App, width: usize, now: i64) -> (Vec<Column>, i64) {
    let span: i64 = if app.charts_day { 24 * 60 } else { 60 };
    let width = width.max(1) as i64;
    let per = (span + width - 1) / width;
    let count = (span / per).min(width).max(1);
    let first = now - count * per + 1;
    let mut cols = vec![Column::default(); count as usize];
    for (m, p) in app.minutes.range(first..=now) {
        let c = &mut cols[((m - first) / per) as usize];
        add(c, p, app.chart_provider.as_deref());
    }
    (cols, per)
}

/// Adds a minute to a column; the latency is `provider`'s alone when one is named.
fn add(c: &mut Column, p: &MinutePoint, provider: Option<&str>) {
    c.minutes += 1;
    c.accepted += p.accepted;
    c.refused += p.refused;
    c.passed += p.preflight_passed;
    c.judged += p.preflight_total;
    let p95 = match provider {
        Some(name) => p.provider_p95_ms.get(name).copied(),
        None => p.attempt_p95_ms,
    };
    c.p95_ms = c.p95_ms.max(p95);
    c.spend += p.spend_usd;
}

pub fn draw(f: &mut Frame, area: Rect, app: &App) {
    let Some(s) = &app.status else {
        return waiting(f, area, app);
    };
    let now = s.now_ms.div_euclid(60_000);
    let width = usize::from(area.width.saturating_sub(2));
    let (cols, per) = columns(app, width, now);
    let unit = if per == 1 {
        "minute".to_string()
    } else {
        format!("{per} minutes")
    };
    // Now at the right edge: the columns before the first are blank.
    let pad = width.saturating_sub(cols.len());
    let view = if app.charts_day {
        "last 24 h"
    } else {
        "last hour"
    };
    let areas = Layout::vertical([Constraint::Ratio(1, 5); 5]).split(area);
    let accepted: Vec<u64> = cols.iter().map(|c| c.accepted).collect();
    let refused: Vec<u64> = cols.iter().map(|c| c.refused).collect();
    let rate: Vec<Option<u64>> = cols
        .iter()
        .map(|c| (c.judged > 0).then(|| c.passed * 100 / c.judged))
        .collect();
    let p95: Vec<Option<u64>> = cols.iter().map(|c| c.p95_ms).collect();
    // Cents, so that small spends still draw.
    let spend: Vec<u64> = cols
        .iter()
        .map(|c| (c.spend * 100.0).round() as u64)
        .collect();
    let total_spend: f64 = cols.iter().map(|c| c.spend).sum();
    let max = |v: &[u64]| v.iter().copied().max().unwrap_or(0);
    let max_opt = |v: &[Option<u64>]| v.iter().flatten().copied().max();
    let lowest_rate = rate.iter().flatten().copied().min();
    let spark = |title: String, data: Vec<Option<u64>>, style: Style, top: Option<u64>| {
        let padded: Vec<Option<u64>> = std::iter::repeat_n(None, pad).chain(data).collect();
        let mut s = Sparkline::default()
            .block(boxed(&title))
            .data(padded)
            .style(style)
            .absent_value_symbol(" ");
        if let Some(top) = top {
            s = s.max(top);
        }
        s
    };
    let some = |v: &[u64]| v.iter().map(|x| Some(*x)).collect::<Vec<_>>();
    f.render_widget(
        spark(
            format!(
                "Challenges answered 201, per {unit} · {view} · most {} · total {}",
                max(&accepted),
                accepted.iter().sum::<u64>()
            ),
            some(&accepted),
            GOOD,
            None,
        ),
        areas[0],
    );
    f.render_widget(
        spark(
            format!(
                "Refused with 503, per {unit} · most {} · total {}",
                max(&refused),
                refused.iter().sum::<u64>()
            ),
            some(&refused),
            BAD,
            None,
        ),
        areas[1],
    );
    f.render_widget(
        spark(
            format!(
                "Pre-flight pass rate %, per {unit} (0–100; blank: nothing judged) · lowest {}",
                lowest_rate.map_or("–".into(), |r| format!("{r}%"))
            ),
            rate,
            GOOD,
            Some(100),
        ),
        areas[2],
    );
    f.render_widget(
        spark(
            format!(
                "{} attempt p95 · most {} · per {unit}, an upper bound within 2× · p: {}",
                app.chart_provider.as_deref().unwrap_or("Every provider's"),
                max_opt(&p95).map_or("–".into(), seconds),
                if app.chart_provider.is_some() {
                    "next"
                } else {
                    "one provider"
                },
            ),
            p95,
            WARN,
            None,
        ),
        areas[3],
    );
    f.render_widget(
        spark(
            format!(
                "Spend per {unit} (estimated list prices) · most ${:.2} · total ${total_spend:.2}",
                max(&spend) as f64 / 100.0
            ),
            some(&spend),
            WARN,
            None,
        ),
        areas[4],
    );
}

fn seconds(ms: u64) -> String {
    if ms >= 1000 {
        format!("{:.0} s", ms as f64 / 1000.0)
    } else {
        format!("{ms} ms")
    }
}
