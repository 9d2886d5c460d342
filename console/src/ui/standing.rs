//! The Standing screen: what the subnet really pays us and why (STANDING.md), as the miner's
//! `GET /standing` tells it. Top to bottom: the sources and how old each is (the subnet's
//! API, the chain, a refresh on its way); one card per fool-rate gate with its 7-day line;
//! the validators, our counts of their replies beside the API's pass rate and the weight each
//! sets on us; the chain's incentive over time; the estimate (the validators' formula on our
//! own records, labelled so); the spend per day.
//!
//! Each section is built for the width it gets and knows its height. The sections are laid
//! on a page as tall as they need (one column below 120 columns, two side by side above),
//! and the page is shown from the section the operator scrolled to.

use super::Keys;
use super::widgets::{
    BAD, BOLD, DIM, GOOD, VALIDATOR_COLUMNS, WARN, ago, bare_table, boxed, day_of_month,
    gate_style, month_day, packed, percent, threshold, validator_cells, wrapped,
};
use crate::app::{App, VALIDATORS_PER_SECTION};
use gas_shared::standing::{Gate, StandingView};
use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::Constraint::{Length, Min};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Axis, Bar, BarChart, BarGroup, Cell, Chart, Dataset, GraphType, Paragraph, Row, Scrollbar,
    ScrollbarOrientation, ScrollbarState, Sparkline, Widget,
};
use std::ops::Range;

pub const KEYS: Keys = &[
    ("↑↓", "scroll"),
    ("r", "ask the subnet's API now"),
    ("?", "help"),
    ("q", "quit"),
];

/// From this width the sections sit two by two.
const WIDE: u16 = 120;
const DAY_MS: i64 = 86_400_000;
/// The line of the fool rate, and of the gate's threshold.
const LINE: Style = Style::new().fg(Color::Cyan);
const GATE_LINE: Style = Style::new().fg(Color::Yellow);

/// One section of the page.
#[derive(Clone)]
enum Part<'a> {
    Sources,
    Gate(&'a Gate),
    /// No gate card to show, and why.
    NoGates,
    /// These of the validators.
    Validators(Range<usize>),
    Chain,
    Estimate,
    Spend,
}

/// How a section draws itself into its place on the page.
type Drawing<'a> = Box<dyn FnOnce(Rect, &mut Buffer) + 'a>;

/// A section built for its width: how tall it is and how it draws.
struct Section<'a> {
    height: u16,
    draw: Drawing<'a>,
}

/// What every section reads: the app, the view, and the miner's clock now.
#[derive(Clone, Copy)]
struct Ctx<'a> {
    app: &'a App,
    view: Option<&'a StandingView>,
    now: i64,
}

pub fn draw(f: &mut Frame, area: Rect, app: &App) {
    let view = app.standing.view.as_ref();
    let cx = Ctx {
        app,
        view,
        now: app.standing.miner_now(app.now_ms).unwrap_or(app.now_ms),
    };
    let rows = rows(cx, area.width);
    let (mut page, mut starts) = lay_out(cx, &rows, area.width, 0);
    let overflows = page.area.height > area.height;
    let gate_rows = rows
        .iter()
        .filter(|r| r.iter().any(|(_, p, _)| matches!(p, Part::Gate(_))))
        .count() as u16;
    if overflows {
        // Room for the scroll bar.
        (page, starts) = lay_out(cx, &rows, area.width.saturating_sub(1), 0);
    } else if gate_rows > 0 && page.area.height < area.height {
        // Rows to spare go to the gates' charts.
        let extra = (area.height - page.area.height) / gate_rows;
        (page, starts) = lay_out(cx, &rows, area.width, extra);
    }
    let first = rows
        .iter()
        .position(|r| r.iter().any(|(i, _, _)| *i >= app.standing.scroll))
        .unwrap_or(0);
    let max_top = page.area.height.saturating_sub(area.height);
    let top = starts.get(first).copied().unwrap_or(0).min(max_top);
    let shown = area.height.min(page.area.height);
    for y in 0..shown {
        for x in 0..page.area.width {
            f.buffer_mut()[(area.x + x, area.y + y)] = page[(x, top + y)].clone();
        }
    }
    if overflows {
        let mut state = ScrollbarState::new(usize::from(max_top) + 1)
            .position(usize::from(top))
            .viewport_content_length(usize::from(area.height));
        f.render_stateful_widget(
            Scrollbar::new(ScrollbarOrientation::VerticalRight)
                .begin_symbol(Some("▲"))
                .end_symbol(Some("▼"))
                .track_style(DIM),
            area,
            &mut state,
        );
    }
}

/// A section's place in the scrolling order, what it is, and its share of its row's width
/// in percent.
type Placed<'a> = (usize, Part<'a>, u16);

/// The sections in rows: one a row when narrow; when wide, the gates side by side, the
/// validators beside the chain, the estimate beside the spend.
fn rows<'a>(cx: Ctx<'a>, width: u16) -> Vec<Vec<Placed<'a>>> {
    let Some(view) = cx.view else {
        return vec![vec![(0, Part::Sources, 100)]];
    };
    let mut order = vec![Part::Sources];
    order.extend(view.api.gates.iter().map(Part::Gate));
    if view.api.gates.is_empty() {
        order.push(Part::NoGates);
    }
    let g = order.len() - 1;
    let n = view.validators.len();
    if width >= WIDE {
        // All the validators in one section, numbered as the first of the narrow ones: the
        // scrolling counts sections the same at every width.
        let chunks = n.div_ceil(VALIDATORS_PER_SECTION).max(1);
        let place = |i: usize, p: Part<'a>, share: u16| (i, p, share);
        let gates: Vec<Placed> = order[1..]
            .iter()
            .enumerate()
            .map(|(i, p)| place(1 + i, p.clone(), 100 / g as u16))
            .collect();
        let v = 1 + g;
        let after = v + chunks;
        return vec![
            vec![place(0, Part::Sources, 100)],
            gates,
            vec![
                place(v, Part::Validators(0..n), 64),
                place(after, Part::Chain, 36),
            ],
            vec![
                place(after + 1, Part::Estimate, 50),
                place(after + 2, Part::Spend, 50),
            ],
        ];
    }
    let mut from = 0;
    loop {
        let to = (from + VALIDATORS_PER_SECTION).min(n);
        order.push(Part::Validators(from..to));
        from = to;
        if from >= n {
            break;
        }
    }
    order.extend([Part::Chain, Part::Estimate, Part::Spend]);
    order
        .into_iter()
        .enumerate()
        .map(|(i, p)| vec![(i, p, 100)])
        .collect()
}

/// The widths of a row's sections, the last taking what rounding left.
fn widths(row: &[Placed], width: u16) -> Vec<u16> {
    let mut out: Vec<u16> = row
        .iter()
        .map(|(_, _, share)| (u32::from(width) * u32::from(*share) / 100) as u16)
        .collect();
    let used: u16 = out.iter().sum();
    if let Some(last) = out.last_mut() {
        *last += width.saturating_sub(used);
    }
    out
}

/// Every section drawn on a page of `width`, each row as tall as its tallest section; and
/// where each row starts.
fn lay_out(cx: Ctx, rows: &[Vec<Placed>], width: u16, extra: u16) -> (Buffer, Vec<u16>) {
    let built: Vec<Vec<(u16, Section)>> = rows
        .iter()
        .map(|row| {
            row.iter()
                .zip(widths(row, width))
                .map(|((_, part, _), w)| (w, section(cx, part.clone(), w, extra)))
                .collect()
        })
        .collect();
    let heights: Vec<u16> = built
        .iter()
        .map(|row| row.iter().map(|(_, s)| s.height).max().unwrap_or(0))
        .collect();
    let mut page = Buffer::empty(Rect::new(0, 0, width, heights.iter().sum()));
    let mut starts = Vec::new();
    let mut y = 0;
    for (row, h) in built.into_iter().zip(heights) {
        starts.push(y);
        let mut x = 0;
        for (w, s) in row {
            (s.draw)(Rect::new(x, y, w, h), &mut page);
            x += w;
        }
        y += h;
    }
    (page, starts)
}

/// A section built for its width; `extra` rows for the gates' charts, where the screen
/// has them to spare.
fn section<'a>(cx: Ctx<'a>, part: Part<'a>, width: u16, extra: u16) -> Section<'a> {
    let inner = width.saturating_sub(2);
    match part {
        Part::Sources => text_section("Standing: sources", sources(cx, inner)),
        Part::Gate(g) => gate_card(cx, g, inner, extra),
        Part::NoGates => text_section("Fool-rate gates", no_gates(cx, inner)),
        Part::Validators(shown) => validators(cx, shown, inner),
        Part::Chain => chain(cx, inner),
        Part::Estimate => text_section(
            "Estimate: the validators' formula on our own records",
            estimate(cx, inner),
        ),
        Part::Spend => spend(cx, inner),
    }
}

/// A boxed paragraph of lines already cut to its width.
fn text_section<'a>(title: &'a str, lines: Vec<Line<'a>>) -> Section<'a> {
    Section {
        height: lines.len() as u16 + 2,
        draw: Box::new(move |area, buf| {
            Paragraph::new(lines).block(boxed(title)).render(area, buf)
        }),
    }
}

/// The sources: the subnet's API (its age, or why it failed and how old the snapshot
/// shown is), the chain, and whatever is on its way.
fn sources<'a>(cx: Ctx<'a>, width: u16) -> Vec<Line<'a>> {
    let st = &cx.app.standing;
    let mut out = Vec::new();
    if let Some(since) = st.refreshing_since {
        out.extend(wrapped(
            &format!(
                "asking the subnet's API… {} s (it may take two minutes)",
                (cx.app.now_ms - since).max(0) / 1000
            ),
            WARN,
            width,
        ));
    }
    let Some(view) = cx.view else {
        match &st.error {
            Some(e) => {
                out.extend(wrapped(
                    &format!("cannot read the standing from the miner: {e}"),
                    BAD,
                    width,
                ));
                out.extend(wrapped("asked again every 30 s", DIM, width));
            }
            None => out.push(Line::raw("reading the standing from the miner…")),
        }
        return out;
    };
    let api = &view.api;
    let tried = api
        .tried_ms
        .map_or(String::new(), |t| format!(" {}", ago(cx.now - t)));
    if let Some(e) = &api.error {
        if api.signature_refused {
            out.extend(wrapped(
                &format!("the subnet's API refused our signature{tried}: {e}"),
                BAD,
                width,
            ));
            out.extend(wrapped(
                "a key problem, not missing data: the miner signs with its hotkey; check that \
                 it is the registered one and that the clock is right",
                BAD,
                width,
            ));
        } else {
            out.extend(wrapped(
                &format!("the subnet's API failed{tried}: {e}"),
                BAD,
                width,
            ));
        }
    }
    let host = api
        .url
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    match api.fetched_ms {
        Some(at) => {
            let (what, style) = if api.error.is_some() {
                ("showing the last good snapshot,", WARN)
            } else {
                ("subnet API", Style::default())
            };
            let mut parts = vec![vec![Span::styled(
                format!("{what} as of {} ({host})", ago(cx.now - at)),
                style,
            )]];
            if let Some(as_of) = &api.as_of {
                parts.push(vec![Span::styled(format!("server as_of {as_of}"), DIM)]);
            }
            out.extend(packed(parts, width, 1));
            if !api.history_available {
                let text = match api.gates_fetched_ms {
                    Some(g) if !api.gates.is_empty() => format!(
                        "history unavailable in the latest answer (an older API server): the \
                         gates shown are as of {}",
                        ago(cx.now - g)
                    ),
                    _ => "history unavailable (an older API server): no gates, no 7-day lines"
                        .to_string(),
                };
                out.extend(wrapped(&text, WARN, width));
            }
            let pass = api
                .pass_rate
                .map_or("–".into(), |p| format!("{:.0}%", p * 100.0));
            out.extend(wrapped(
                &format!(
                    "validators' pass rate {pass} ({} verified, {} failed, {} validators, ~24 h)",
                    api.total_verified, api.total_failed, api.validator_count
                ),
                Style::default(),
                width,
            ));
        }
        None => out.extend(wrapped(
            &format!(
                "no snapshot from the subnet's API ({host}) yet: the gates, the API's pass \
                 rates and R are unknown"
            ),
            WARN,
            width,
        )),
    }
    let c = &view.chain;
    if c.available {
        let mut text = format!(
            "chain: block {}",
            c.block.map_or("–".into(), |b| b.to_string())
        );
        if let Some(at) = c.read_ms {
            text.push_str(&format!(" read {}", ago(cx.now - at)));
        }
        if let Some(uid) = c.uid {
            text.push_str(&format!(", uid {uid}"));
        }
        if let Some(i) = c.incentive {
            text.push_str(&format!(", incentive {i:.4}"));
        }
        out.extend(wrapped(&text, Style::default(), width));
    } else {
        out.extend(wrapped(
            &format!("chain: {}", c.reason.as_deref().unwrap_or("not read yet")),
            WARN,
            width,
        ));
    }
    if let (Some(e), Some(at)) = (&st.error, st.received_ms) {
        out.extend(wrapped(
            &format!(
                "the miner did not answer the last read ({e}); this is what it said {}",
                ago(cx.app.now_ms - at)
            ),
            BAD,
            width,
        ));
    }
    out
}

/// Why there is no gate card.
fn no_gates<'a>(cx: Ctx<'a>, width: u16) -> Vec<Line<'a>> {
    let api = cx.view.map(|v| &v.api);
    let text = match api {
        Some(a) if a.fetched_ms.is_none() => "the gates are unknown until the API answers",
        Some(a) if !a.history_available => {
            "history unavailable: this API server is older and sends no gates"
        }
        _ => "the API sent no gate",
    };
    let mut out = wrapped(text, WARN, width);
    out.extend(wrapped(
        "Gate >2% (image), >1% (video) + 20 evaluations minimum",
        DIM,
        width,
    ));
    out
}

/// One modality's gate: the status in words, the fool rate against the threshold, the
/// evaluations against the minimum, the 7-day line with the threshold, the caption.
fn gate_card<'a>(cx: Ctx<'a>, g: &'a Gate, width: u16, extra: u16) -> Section<'a> {
    let mut title = match g.modality {
        Some(m) => format!("{} gate, 7 days", capitalised(m.as_str())),
        None => "Gate, 7 days".to_string(),
    };
    // The gates are the API's: as old as the snapshot they came in.
    if let Some(at) = cx
        .view
        .and_then(|v| v.api.gates_fetched_ms.or(v.api.fetched_ms))
    {
        title.push_str(&format!(", as of {}", ago(cx.now - at)));
    }
    let th = threshold(g.threshold);
    let fool = g.fool_rate.map_or("–".into(), percent);
    let mut parts = vec![
        vec![Span::styled(
            g.status_words().to_string(),
            gate_style(&g.status).add_modifier(Modifier::BOLD),
        )],
        vec![Span::raw(format!("fool rate {fool} (needs >{th})"))],
        vec![Span::styled(
            format!(
                "{} evaluations (needs {})",
                g.evaluations, g.minimum_samples
            ),
            if g.evaluations < g.minimum_samples {
                WARN
            } else {
                Style::default()
            },
        )],
        vec![Span::raw(format!("{} fooled", g.fooled))],
    ];
    if let Some(at) = &g.last_evaluated_at {
        parts.push(vec![Span::styled(
            format!(
                "last evaluated {}",
                at.get(..16).unwrap_or(at).replace('T', " ")
            ),
            DIM,
        )]);
    }
    let head = packed(parts, width, 3);
    let chart_h = 7 + extra;
    let head_h = head.len() as u16;
    let caption = Line::from(vec![
        Span::styled(
            format!("Gate >{th} + {} evaluations minimum", g.minimum_samples),
            DIM,
        ),
        Span::raw("   "),
        Span::styled("━ fool rate", LINE),
        Span::raw("  "),
        Span::styled(format!("━ gate {th}"), GATE_LINE),
    ]);
    Section {
        height: head_h + chart_h + 1 + 2,
        draw: Box::new(move |area, buf| {
            let block = boxed(&title);
            let inner = block.inner(area);
            block.render(area, buf);
            let [h, c, cap] = Layout::vertical([Length(head_h), Min(3), Length(1)]).areas(inner);
            Paragraph::new(head).render(h, buf);
            fool_chart(cx, g, c, buf);
            Paragraph::new(caption).render(cap, buf);
        }),
    }
}

/// The fool-rate line of the last 7 days (broken where the API had no value; empty where a
/// snapshot is older than that) and the threshold across.
fn fool_chart(cx: Ctx, g: &Gate, area: Rect, buf: &mut Buffer) {
    let day = |ms: i64| (ms - cx.now) as f64 / DAY_MS as f64;
    let mut runs: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
    for (at, rate) in &g.points {
        match rate {
            Some(r) if day(*at) >= -7.0 => {
                if let Some(run) = runs.last_mut() {
                    run.push((day(*at), *r));
                }
            }
            _ => runs.push(Vec::new()),
        }
    }
    runs.retain(|r| !r.is_empty());
    let highest = runs
        .iter()
        .flatten()
        .map(|(_, r)| *r)
        .fold(0.0_f64, f64::max);
    // Twice the threshold puts it in the middle label; higher rates get whole percents.
    let mut top = g.threshold * 2.0;
    if highest > top {
        let mut pct = (highest * 100.0).ceil();
        if pct % 2.0 != 0.0 {
            pct += 1.0;
        }
        top = pct / 100.0;
    }
    if top <= 0.0 {
        top = 0.02;
    }
    let gate = [(-7.0, g.threshold), (0.0, g.threshold)];
    let mut sets = vec![
        Dataset::default()
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(GATE_LINE)
            .data(&gate),
    ];
    for run in &runs {
        sets.push(
            Dataset::default()
                .marker(Marker::Braille)
                .graph_type(if run.len() > 1 {
                    GraphType::Line
                } else {
                    GraphType::Scatter
                })
                .style(LINE)
                .data(run),
        );
    }
    let x_labels = vec![
        Span::styled(month_day(cx.now - 7 * DAY_MS), DIM),
        Span::styled(month_day(cx.now - 7 * DAY_MS / 2), DIM),
        Span::styled(month_day(cx.now), DIM),
    ];
    let y_labels = vec![
        Span::styled("0%", DIM),
        Span::styled(threshold(top / 2.0), DIM),
        Span::styled(threshold(top), DIM),
    ];
    Chart::new(sets)
        .legend_position(None)
        .x_axis(
            Axis::default()
                .bounds([-7.0, 0.0])
                .labels(x_labels)
                .style(DIM),
        )
        .y_axis(
            Axis::default()
                .bounds([0.0, top])
                .labels(y_labels)
                .style(DIM),
        )
        .render(area, buf);
    if runs.is_empty() {
        let msg = "no fool rate in these 7 days";
        let w = msg.len() as u16;
        if area.width > w + 8 && area.height > 2 {
            let at = Rect::new(
                area.x + (area.width - w) / 2 + 3,
                area.y + area.height / 2 - 1,
                w,
                1,
            );
            Paragraph::new(Span::styled(msg, DIM)).render(at, buf);
        }
    }
}

fn capitalised(word: &str) -> String {
    let mut c = word.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// Our counts of each validator's replies (a 202 is taken, never passed) beside the API's
/// pass rate for it and the share of its weight row it gives us.
fn validators<'a>(cx: Ctx<'a>, shown: Range<usize>, width: u16) -> Section<'a> {
    let Some(view) = cx.view else {
        return text_section("Validators", Vec::new());
    };
    let all = view.validators.len();
    let title = if shown.len() < all {
        format!(
            "Validators {}–{} of {all}: our counts, the API's pass rate, their weight on us",
            shown.start + 1,
            shown.end
        )
    } else {
        "Validators: our counts, the API's pass rate, their weight on us".to_string()
    };
    let last = shown.end >= all;
    let roomy = width >= 90;
    let stale = |hotkey: &str| {
        view.chain
            .weights
            .iter()
            .any(|w| w.hotkey == hotkey && w.stale)
    };
    let rows: Vec<Row> = view.validators[shown.clone()]
        .iter()
        .map(|v| {
            let api = match v.api_pass_rate {
                Some(p) if roomy => {
                    format!("{:.0}% of {}", p * 100.0, v.api_verified + v.api_failed)
                }
                Some(p) => format!("{:.0}%", p * 100.0),
                None => "–".into(),
            };
            let weight = match v.weight_share {
                Some(w) if stale(&v.hotkey) => {
                    Cell::from(format!("{} stale", percent(w))).style(WARN)
                }
                Some(w) => Cell::from(percent(w)),
                None => Cell::from("–"),
            };
            let mut cells = validator_cells(v.uid, &v.hotkey, v.asked, v.refused, &v.replies);
            cells.extend([Cell::from(api), weight]);
            if roomy {
                cells.push(Cell::from(v.last_rejection.clone().unwrap_or_default()));
            }
            Row::new(cells)
        })
        .collect();
    let mut columns = VALIDATOR_COLUMNS.to_vec();
    columns.extend([
        ("API pass", Length(if roomy { 10 } else { 8 })),
        ("weight", if roomy { Length(10) } else { Min(6) }),
    ]);
    if roomy {
        columns.push(("last rejection", Min(10)));
    }
    let mut notes = Vec::new();
    if view.validators.is_empty() {
        notes.extend(wrapped(
            "no validator has sent us a challenge yet",
            DIM,
            width,
        ));
    }
    if last {
        notes.extend(wrapped(
            "passed/rejected: v4.9 verdicts; taken: v5 202, verdict unknown. API pass: the \
             validator's own summary of our outcomes (~24 h). weight: our share of its weight \
             row, not incentive.",
            DIM,
            width,
        ));
    }
    let table_h = shown.len() as u16 + 1;
    let notes_h = notes.len() as u16;
    Section {
        height: table_h + notes_h + 2,
        draw: Box::new(move |area, buf| {
            let block = boxed(&title);
            let inner = block.inner(area);
            block.render(area, buf);
            let [t, n] = Layout::vertical([Min(1), Length(notes_h)]).areas(inner);
            Widget::render(bare_table(columns, rows), t, buf);
            Paragraph::new(notes).render(n, buf);
        }),
    }
}

/// The chain's side: our uid, incentive and emission, the block, who weights us, and the
/// incentive over time.
fn chain<'a>(cx: Ctx<'a>, width: u16) -> Section<'a> {
    let title = "Chain: what validators pay us";
    let Some(view) = cx.view else {
        return text_section(title, Vec::new());
    };
    let c = &view.chain;
    if !c.available {
        let mut lines = wrapped(
            &format!("chain: {}", c.reason.as_deref().unwrap_or("not read yet")),
            WARN,
            width,
        );
        lines.extend(wrapped(
            "incentive and weights show once the miner reads the metagraph from a node",
            DIM,
            width,
        ));
        return text_section(title, lines);
    }
    let mut lines = Vec::new();
    let mut facts = vec![format!(
        "uid {}",
        c.uid.map_or("–".into(), |u| u.to_string())
    )];
    if let Some(i) = c.incentive {
        facts.push(format!("incentive {i:.4}"));
    }
    if let Some(e) = c.emission_alpha {
        facts.push(format!("emission {e:.3} α per tempo"));
    }
    lines.extend(wrapped(&facts.join(", "), Style::default(), width));
    let mut at = format!("block {}", c.block.map_or("–".into(), |b| b.to_string()));
    if let Some(read) = c.read_ms {
        at.push_str(&format!(", read {}", ago(cx.now - read)));
    }
    lines.extend(wrapped(&at, Style::default(), width));
    lines.extend(wrapped(
        &format!(
            "{} of {} permitted validators weight us above zero",
            c.positive, c.permitted
        ),
        Style::default(),
        width,
    ));
    if c.commit_reveal == Some(true) {
        lines.extend(wrapped(
            "commit-reveal is on: weights on chain lag by the reveal period (a zero is not \
             \"not paid\")",
            WARN,
            width,
        ));
    }
    let history = &c.incentive_history;
    let label = match (
        history.first(),
        history.iter().map(|(_, i)| *i).reduce(f64::min),
    ) {
        (Some((since, _)), Some(low)) => {
            let high = history.iter().map(|(_, i)| *i).fold(0.0, f64::max);
            format!(
                "incentive since {}: low {low:.4}, high {high:.4}",
                month_day(*since)
            )
        }
        _ => "no incentive history yet".to_string(),
    };
    lines.extend(wrapped(&label, DIM, width));
    let text_h = lines.len() as u16;
    let spark_h: u16 = if history.is_empty() { 0 } else { 3 };
    // The newest that fit, each as wide as the width allows.
    let shown = usize::from(width);
    let each = (shown / history.len().max(1)).max(1);
    let data: Vec<u64> = history
        .iter()
        .skip(history.len().saturating_sub(shown))
        .flat_map(|(_, i)| std::iter::repeat_n((i * 1e9) as u64, each))
        .collect();
    Section {
        height: text_h + spark_h + 2,
        draw: Box::new(move |area, buf| {
            let block = boxed(title);
            let inner = block.inner(area);
            block.render(area, buf);
            let [t, s] = Layout::vertical([Length(text_h), Min(0)]).areas(inner);
            Paragraph::new(lines).render(t, buf);
            if !data.is_empty() {
                let s = Rect::new(s.x, s.y, s.width, s.height.min(spark_h));
                Sparkline::default().data(&data).style(GOOD).render(s, buf);
            }
        }),
    }
}

/// The estimate per modality (each figure an estimate, `p` with what it is made of), `R`,
/// and what `R` would be if both gates held.
fn estimate<'a>(cx: Ctx<'a>, width: u16) -> Vec<Line<'a>> {
    let Some(view) = cx.view else {
        return Vec::new();
    };
    let e = &view.estimate;
    let mut out = vec![Line::styled(
        format!(
            "{:<7}{:>6}{:>7}{:>8}{:>7}{:>7}  {}",
            format!("{} h", e.window_hours),
            "p",
            "n",
            "volume",
            "mult",
            "base",
            "gate"
        ),
        DIM,
    )];
    if e.modalities.is_empty() {
        out.extend(wrapped("no outcomes in the window", DIM, width));
    }
    for m in &e.modalities {
        let (gate, style) = match m.qualified {
            Some(true) => ("eligible", GOOD),
            Some(false) => ("not eligible", BAD),
            None => ("unknown", WARN),
        };
        out.push(Line::from(vec![
            Span::raw(format!(
                "{:<7}{:>6}{:>7}{:>8.2}{:>7.2}{:>7.3}  ",
                m.modality.map_or("–", |m| m.as_str()),
                m.p.map_or("–".into(), |p| format!("{p:.2}")),
                m.n,
                m.volume,
                m.multiplier,
                m.base
            )),
            Span::styled(gate, style),
        ]));
        out.extend(
            wrapped(
                &format!("p from {}", m.p_source()),
                DIM,
                width.saturating_sub(7),
            )
            .into_iter()
            .map(|mut l| {
                l.spans.insert(0, Span::raw("       "));
                l
            }),
        );
    }
    let ungated = format!("{:.3}", e.r_ungated);
    match e.r {
        Some(r) => out.push(Line::from(vec![
            Span::styled(format!("R estimate {r:.3}"), BOLD),
            Span::raw(format!("  (if both gates held: {ungated})")),
        ])),
        None => out.extend(wrapped(
            &format!(
                "R: unknown until the API answers (the estimate if both gates held: {ungated})"
            ),
            WARN,
            width,
        )),
    }
    out.extend(wrapped(
        "R = 0.30·base(image)·[image gate] + 0.70·base(video)·[video gate]",
        DIM,
        width,
    ));
    out
}

/// Spend per day (a bar a day, the newest that fit) and per provider, model and tier.
fn spend<'a>(cx: Ctx<'a>, width: u16) -> Section<'a> {
    let title = "Spend per day, USD";
    let Some(view) = cx.view else {
        return text_section(title, Vec::new());
    };
    let e = &view.estimate;
    if e.spend_per_day.is_empty() && e.spend.is_empty() {
        return text_section(
            title,
            wrapped("nothing spent in the last 30 days", DIM, width),
        );
    }
    let bar_w: u16 = if width >= 100 { 4 } else { 3 };
    let fit = usize::from((width + 1) / (bar_w + 1));
    let days = &e.spend_per_day[e.spend_per_day.len().saturating_sub(fit)..];
    let bars: Vec<Bar> = days
        .iter()
        .map(|(at, usd)| {
            Bar::default()
                .value((usd * 100.0).round() as u64)
                .text_value(format!("{usd:.0}"))
                .label(Line::from(day_of_month(*at)))
        })
        .collect();
    let rows: Vec<Row> = e
        .spend
        .iter()
        .map(|s| {
            Row::new(vec![
                Cell::from(s.provider.clone()),
                Cell::from(s.tier.clone()),
                Cell::from(format!("${:.2}", s.spend_usd)),
                Cell::from(s.verified.to_string()),
                Cell::from(
                    s.per_verified_usd
                        .map_or("–".into(), |v| format!("${v:.3}")),
                ),
                Cell::from(
                    s.multiplier_per_usd
                        .map_or("–".into(), |m| format!("{m:.1}")),
                ),
                Cell::from(s.model.clone()),
            ])
        })
        .collect();
    let columns = [
        ("provider", Length(11)),
        ("tier", Length(5)),
        ("spend", Length(8)),
        ("verified", Length(8)),
        ("$/verif", Length(7)),
        ("mult/$", Length(6)),
        ("model", Min(8)),
    ];
    let table_h = if rows.is_empty() {
        0
    } else {
        rows.len() as u16 + 1
    };
    let chart_h: u16 = if days.is_empty() { 0 } else { 6 };
    let range = match (days.first(), days.last()) {
        (Some((a, _)), Some((b, _))) => format!(
            "{} … {} (UTC days; the last is today so far)",
            month_day(*a),
            month_day(*b)
        ),
        _ => String::new(),
    };
    let range = wrapped(&range, DIM, width);
    let range_h = if days.is_empty() {
        0
    } else {
        range.len() as u16
    };
    Section {
        height: chart_h + range_h + table_h + 2,
        draw: Box::new(move |area, buf| {
            let block = boxed(title);
            let inner = block.inner(area);
            block.render(area, buf);
            let [c, r, t] =
                Layout::vertical([Length(chart_h), Length(range_h), Constraint::Fill(1)])
                    .areas(inner);
            if !bars.is_empty() {
                BarChart::default()
                    .data(BarGroup::default().bars(&bars))
                    .bar_width(bar_w)
                    .bar_gap(1)
                    .bar_style(WARN)
                    .value_style(Style::new().fg(Color::Black).bg(Color::Yellow))
                    .label_style(DIM)
                    .render(c, buf);
                Paragraph::new(range).render(r, buf);
            }
            if table_h > 0 {
                Widget::render(bare_table(columns, rows), t, buf);
            }
        }),
    }
}
