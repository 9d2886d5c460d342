//! Drawing: a pure function of [`App`]. Every screen fits 80×24 and grows with the terminal.

use crate::app::{App, Conn, Screen, Tone, short};
use gas_shared::admin::{Rate, Status, TaskDetail, TaskSummary};
use gas_shared::verdict::Verdict;
use gas_shared::{Modality, TaskState};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Block, Borders, Cell, Clear, Paragraph, Row, Table, Wrap};

const DIM: Style = Style::new().fg(Color::DarkGray);
const BOLD: Style = Style::new().add_modifier(Modifier::BOLD);
const GOOD: Style = Style::new().fg(Color::Green);
const BAD: Style = Style::new().fg(Color::Red);
const WARN: Style = Style::new().fg(Color::Yellow);

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
        Screen::Dashboard => dashboard(f, body, app),
        Screen::Tasks => tasks(f, body, app),
        Screen::Detail => detail(f, body, app),
        Screen::Services => services(f, body, app),
        Screen::Logs => logs(f, body, app),
    }
    message(f, msg, app);
    footer(f, foot, app);
    if app.help {
        help(f, app);
    }
}

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
fn pct(r: &Rate, counts: bool) -> String {
    match r.ratio() {
        Some(x) if counts => format!("{:.0}% ({}/{})", x * 100.0, r.passed, r.total),
        Some(x) => format!("{:.0}%", x * 100.0),
        None => "–".into(),
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
    for s in Screen::TABS {
        let active = s.title() == app.screen.title();
        spans.push(Span::raw(" "));
        spans.push(Span::styled(
            s.title(),
            if active {
                BOLD.add_modifier(Modifier::REVERSED)
            } else {
                DIM
            },
        ));
    }
    spans.push(Span::raw("  "));
    spans.push(match &app.conn {
        Conn::Connecting => Span::styled("connecting…", WARN),
        Conn::Up {
            reconnected,
            since_ms,
        } if *reconnected && app.now_ms - since_ms < 10_000 => Span::styled("reconnected", GOOD),
        Conn::Up { .. } => Span::styled("live", GOOD),
        Conn::Down { since_ms, .. } => Span::styled(
            format!("miner unreachable for {}", age(app.now_ms - since_ms)),
            BAD.add_modifier(Modifier::BOLD),
        ),
    });
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn footer(f: &mut Frame, area: Rect, app: &App) {
    let keys: &[(&str, &str)] = if app.search_input.is_some() {
        &[("type", "search"), ("Enter", "apply"), ("Esc", "cancel")]
    } else if app.services.typing.is_some() {
        &[
            ("type", "e.g. openrouter,stabilityai or none"),
            ("Enter", "apply"),
            ("Esc", "cancel"),
        ]
    } else {
        match app.screen {
            Screen::Dashboard => &[
                ("1-4", "screens"),
                ("t", "reload anchors"),
                ("?", "help"),
                ("q", "quit"),
            ],
            Screen::Tasks => &[
                ("↑↓", "move"),
                ("Enter", "open"),
                ("c", "failed C2PA"),
                ("s", "state"),
                ("m", "modality"),
                ("/", "search"),
                ("x", "clear"),
                ("?", "help"),
            ],
            Screen::Detail => &[
                ("↑↓", "scroll"),
                ("v", "verify again"),
                ("o", "media path"),
                ("Esc", "back"),
                ("?", "help"),
            ],
            Screen::Services => &[
                ("↑↓", "modality"),
                ("e", "edit"),
                ("r", "reset to env"),
                ("?", "help"),
                ("q", "quit"),
            ],
            Screen::Logs => &[
                ("↑↓", "scroll"),
                ("f", "follow"),
                ("?", "help"),
                ("q", "quit"),
            ],
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
    } else if let Conn::Down { error, .. } = &app.conn {
        Line::from(Span::styled(format!(" {error}; retrying…"), BAD))
    } else {
        Line::from(Span::styled(format!(" socket {}", app.socket), DIM))
    };
    f.render_widget(Paragraph::new(line), area);
}

fn boxed(title: &str) -> Block<'_> {
    Block::default()
        .borders(Borders::ALL)
        .border_style(DIM)
        .title(Span::styled(format!(" {title} "), BOLD))
}

fn waiting(f: &mut Frame, area: Rect, app: &App) {
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

fn dashboard(f: &mut Frame, area: Rect, app: &App) {
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
    let mut header = vec![Cell::from("")];
    header.extend(states.iter().map(|(_, n)| Cell::from(*n)));
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
    let widths = [Constraint::Length(5)]
        .into_iter()
        .chain(std::iter::repeat_n(Constraint::Length(4), states.len()));
    f.render_widget(
        Table::new(qrows, widths)
            .header(Row::new(header).style(DIM))
            .block(boxed("Queue")),
        queue,
    );
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
                Cell::from(p.errors.to_string()).style(if p.errors > 0 {
                    WARN
                } else {
                    Style::default()
                }),
                Cell::from(p.p50_ms.map_or("–".into(), |v| format!("{v}ms"))),
                Cell::from(p.p95_ms.map_or("–".into(), |v| format!("{v}ms"))),
                Cell::from(format!("${:.2}", p.spend_usd)),
            ])
        })
        .collect();
    f.render_widget(
        Table::new(
            prows,
            [
                Constraint::Length(12),
                Constraint::Length(7),
                Constraint::Length(7),
                Constraint::Length(9),
                Constraint::Length(9),
                Constraint::Min(8),
            ],
        )
        .header(Row::new(vec!["provider", "calls", "errors", "p50", "p95", "spend"]).style(DIM))
        .block(boxed("Providers")),
        prov,
    );
    let vrows: Vec<Row> = s
        .validators
        .iter()
        .map(|v| {
            Row::new(vec![
                Cell::from(v.uid.map_or("–".into(), |u| u.to_string())),
                Cell::from(short(&v.hotkey).to_string()),
                Cell::from(v.challenges.to_string()),
                Cell::from(v.accepted.to_string()).style(GOOD),
                Cell::from(v.rejected.to_string()).style(if v.rejected > 0 {
                    BAD
                } else {
                    Style::default()
                }),
                Cell::from(v.last_rejection.clone().unwrap_or_default()),
            ])
        })
        .collect();
    f.render_widget(
        Table::new(
            vrows,
            [
                Constraint::Length(4),
                Constraint::Length(9),
                Constraint::Length(6),
                Constraint::Length(6),
                Constraint::Length(6),
                Constraint::Min(10),
            ],
        )
        .header(
            Row::new(vec![
                "uid",
                "hotkey",
                "asked",
                "taken",
                "refused",
                "last refusal",
            ])
            .style(DIM),
        )
        .block(boxed("Validators")),
        vals,
    );
}

fn state_style(st: TaskState) -> Style {
    match st {
        TaskState::Delivered => GOOD,
        TaskState::Failed | TaskState::Expired => BAD,
        TaskState::Queued => DIM,
        _ => WARN,
    }
}

fn verdict_cell(t: &TaskSummary) -> Cell<'static> {
    match &t.verdict {
        Some(v) if v.passed && !t.c2pa_failed => Cell::from("pass").style(GOOD),
        Some(v) if v.passed => Cell::from("pass*").style(WARN),
        Some(v) => Cell::from(format!("FAIL {}", v.reason.clone().unwrap_or_default())).style(BAD),
        None => Cell::from("–").style(DIM),
    }
}

fn tasks(f: &mut Frame, area: Rect, app: &App) {
    if app.status.is_none() && app.tasks.is_empty() {
        return waiting(f, area, app);
    }
    let height = area.height.saturating_sub(3) as usize;
    let first = app.selected.saturating_sub(height.saturating_sub(1));
    let rows: Vec<Row> = app
        .tasks
        .iter()
        .enumerate()
        .skip(first)
        .take(height)
        .map(|(i, t)| {
            let row = Row::new(vec![
                Cell::from(age(app.now_ms - t.created_ms)),
                Cell::from(short(&t.task_id).to_string()),
                Cell::from(format!(
                    "{} {}",
                    if t.modality == Modality::Image {
                        "img"
                    } else {
                        "vid"
                    },
                    t.tier
                )),
                Cell::from(t.state.as_str()).style(state_style(t.state)),
                Cell::from(t.provider.clone().unwrap_or_default()),
                verdict_cell(t),
                Cell::from(t.prompt.clone()),
            ]);
            if i == app.selected {
                row.style(Style::new().add_modifier(Modifier::REVERSED))
            } else {
                row
            }
        })
        .collect();
    let title = format!(
        "Tasks: {} ({} shown)",
        app.filter.describe(),
        app.tasks.len()
    );
    f.render_widget(
        Table::new(
            rows,
            [
                Constraint::Length(4),
                Constraint::Length(9),
                Constraint::Length(10),
                Constraint::Length(10),
                Constraint::Length(11),
                Constraint::Length(16),
                Constraint::Min(10),
            ],
        )
        .header(
            Row::new(vec![
                "age", "task", "kind", "state", "provider", "verdict", "prompt",
            ])
            .style(DIM),
        )
        .block(boxed(&title)),
        area,
    );
}

fn verdict_lines(v: &Verdict, now_ms: i64, out: &mut Vec<Line<'static>>) {
    let c = &v.c2pa;
    out.push(Line::from(vec![
        Span::styled(
            format!(
                "Pre-flight ({}, {} ago): ",
                v.provider,
                age(now_ms - v.checked_at_ms)
            ),
            BOLD,
        ),
        if v.passed {
            Span::styled("PASSED", GOOD)
        } else {
            Span::styled("FAILED", BAD)
        },
    ]));
    for r in &v.reasons {
        out.push(Line::styled(format!("  ✗ {r}"), BAD));
    }
    let m = &v.media;
    out.push(Line::raw(format!(
        "  media {} {} bytes{}  tier {} (asked {}){}",
        m.content_type,
        m.bytes,
        match (m.width, m.height) {
            (Some(w), Some(h)) => format!(" {w}×{h}"),
            _ => String::new(),
        },
        m.measured_tier.map_or("–".into(), |t| t.to_string()),
        m.requested_tier.map_or("–".into(), |t| t.to_string()),
        if m.shortfall > 0 {
            format!("  SHORTFALL {}", m.shortfall)
        } else {
            String::new()
        },
    )));
    if let Some(frames) = m.frames {
        out.push(Line::raw(format!(
            "  frames {frames}{}",
            m.duration_s.map_or(String::new(), |d| format!("  {d:.1}s"))
        )));
    }
    out.push(Line::raw(format!(
        "  C2PA verified {}  signature {}  trusted issuer {}  self-signed {}  state {}",
        c.verified,
        c.signature_valid,
        c.is_trusted_issuer,
        c.is_self_signed,
        c.validation_state.as_deref().unwrap_or("–")
    )));
    out.push(Line::raw(format!(
        "  signer O={}  CN={}",
        c.cert_issuer.as_deref().unwrap_or("–"),
        c.common_name.as_deref().unwrap_or("–")
    )));
    for (i, s) in c.cert_chain.iter().enumerate() {
        out.push(Line::styled(format!("  chain[{i}] {s}"), DIM));
    }
    out.push(Line::raw(format!(
        "  claim generator {}  model {}  ai_generated {}",
        c.issuer.as_deref().unwrap_or("–"),
        c.model_name.as_deref().unwrap_or("–"),
        c.ai_generated
    )));
    let fresh = v.freshness.as_ref();
    out.push(Line::raw(format!(
        "  signed {} (from {})  {}",
        c.signing_time.as_deref().unwrap_or("–"),
        c.signing_time_source.as_deref().unwrap_or("–"),
        match fresh {
            Some(f) if f.fresh => match f.age_s {
                Some(a) if a < 0.0 => format!("fresh (signed {:.0}s after the 201)", -a),
                Some(a) => format!("fresh (signed {a:.0}s before the 201)"),
                None => "fresh".into(),
            },
            Some(f) => format!(
                "NOT FRESH ({})",
                f.age_s
                    .map_or("no time".into(), |a| format!("{a:.0}s before the 201"))
            ),
            None => String::new(),
        }
    )));
    if let Some(e) = &c.error {
        out.push(Line::styled(format!("  error: {e}"), BAD));
    }
    for s in &c.statuses {
        let style = if s.fatal {
            BAD
        } else if s.kind == "success" {
            GOOD
        } else {
            DIM
        };
        out.push(Line::styled(
            format!(
                "  {:<13} {}{}",
                s.kind,
                s.code,
                s.explanation
                    .as_deref()
                    .map(|e| format!(": {e}"))
                    .unwrap_or_default()
            ),
            style,
        ));
    }
    if let Some(d) = &v.duplicate {
        out.push(Line::styled(
            format!(
                "  near-duplicate of {} (distance {})",
                short(&d.of_task),
                d.distance
            ),
            BAD,
        ));
    }
}

/// The detail screen's text (also used to size scrolling).
pub fn detail_text(d: &TaskDetail, app: &App) -> Vec<Line<'static>> {
    let t = &d.summary;
    let mut out = vec![
        Line::from(vec![
            Span::styled(format!("{}  ", t.task_id), BOLD),
            Span::styled(t.state.as_str().to_string(), state_style(t.state)),
            Span::raw(format!(
                "  {} {}  from {}",
                t.modality,
                t.tier,
                short(&t.validator)
            )),
        ]),
        Line::raw(format!("prompt: {}", d.prompt)),
        Line::raw(format!(
            "parameters: {}  webhook: {}",
            d.parameters, d.webhook_url
        )),
    ];
    if let Some(o) = &d.outcome {
        out.push(Line::styled(
            format!("outcome: {o}"),
            if t.state == TaskState::Failed {
                BAD
            } else {
                Style::default()
            },
        ));
    }
    if let Some(p) = &d.media_path {
        out.push(Line::raw(format!("media: {p}")));
    }
    out.push(Line::raw(""));
    if let Some(v) = &app.replayed {
        out.push(Line::styled("Replayed verification:", BOLD));
        verdict_lines(v, app.now_ms, &mut out);
        out.push(Line::raw(""));
    }
    match d.verdicts.last() {
        Some(v) => verdict_lines(v, app.now_ms, &mut out),
        None => out.push(Line::styled("Pre-flight: not judged yet", DIM)),
    }
    out.push(Line::raw(""));
    out.push(Line::styled("Timeline", BOLD));
    for e in &d.timeline {
        out.push(Line::raw(format!("  {} {}", clock(e.at_ms), e.what)));
    }
    if !d.calls.is_empty() {
        out.push(Line::raw(""));
        out.push(Line::styled("Provider calls", BOLD));
        for c in &d.calls {
            out.push(Line::raw(format!(
                "  {} {} {} {} {}ms {}B{}{}",
                c.provider,
                c.op,
                c.model,
                c.status.map_or("–".into(), |s| s.to_string()),
                c.latency_ms,
                c.bytes,
                c.cost_usd.map_or(String::new(), |x| format!(" ${x:.3}")),
                c.error
                    .as_deref()
                    .map(|e| format!(" {e}"))
                    .unwrap_or_default()
            )));
        }
    }
    if !d.deliveries.is_empty() {
        out.push(Line::raw(""));
        out.push(Line::styled("Webhooks", BOLD));
        for w in &d.deliveries {
            out.push(Line::raw(format!(
                "  #{} {} → {}: {}",
                w.attempt,
                w.kind,
                w.status.map_or("no answer".into(), |s| s.to_string()),
                w.reply
            )));
        }
    }
    out
}

fn detail(f: &mut Frame, area: Rect, app: &App) {
    let Some(d) = &app.detail else {
        let text = app
            .current()
            .map(|t| format!("Loading {}…", t.task_id))
            .unwrap_or_else(|| "No task selected".into());
        f.render_widget(Paragraph::new(text).block(boxed("Task")), area);
        return;
    };
    let lines = detail_text(d, app);
    let title = format!("Task {}", short(&d.summary.task_id));
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((app.detail_scroll, 0))
            .block(boxed(&title)),
        area,
    );
}

fn chain(c: &[String]) -> String {
    if c.is_empty() {
        "none (answers 503)".into()
    } else {
        c.join(" → ")
    }
}

fn services(f: &mut Frame, area: Rect, app: &App) {
    let Some(s) = &app.status else {
        return waiting(f, area, app);
    };
    let sv = &s.services;
    let [sel, known] = Layout::vertical([Constraint::Length(5), Constraint::Min(4)]).areas(area);
    let row = |video: bool, name: &str, c: &[String]| {
        let picked = app.services.video == video;
        Line::from(vec![
            Span::styled(if picked { "▶ " } else { "  " }, BOLD),
            Span::styled(format!("{name:<6}"), BOLD),
            Span::raw(chain(c)),
        ])
    };
    let mut lines = vec![
        row(false, "image", &sv.image),
        row(true, "video", &sv.video),
    ];
    lines.push(Line::styled(
        if sv.overridden {
            "  saved from gas-console (r resets to .env.gen_miner)"
        } else {
            "  from .env.gen_miner"
        },
        DIM,
    ));
    f.render_widget(
        Paragraph::new(lines).block(boxed("Selection (fallback order)")),
        sel,
    );
    let rows: Vec<Row> = sv
        .known
        .iter()
        .map(|k| {
            Row::new(vec![
                Cell::from(k.name.clone()),
                Cell::from(if k.image { "yes" } else { "–" }),
                Cell::from(if k.video { "yes" } else { "–" }),
                if k.key_set {
                    Cell::from("set").style(GOOD)
                } else {
                    Cell::from("missing").style(BAD)
                },
            ])
        })
        .collect();
    f.render_widget(
        Table::new(
            rows,
            [
                Constraint::Length(12),
                Constraint::Length(7),
                Constraint::Length(7),
                Constraint::Min(8),
            ],
        )
        .header(Row::new(vec!["service", "image", "video", "API key"]).style(DIM))
        .block(boxed("Services")),
        known,
    );
}

fn logs(f: &mut Frame, area: Rect, app: &App) {
    let height = area.height.saturating_sub(2) as usize;
    let end = app.logs.len().saturating_sub(app.log_scroll);
    let start = end.saturating_sub(height);
    let lines: Vec<Line> = app
        .logs
        .range(start..end)
        .map(|l| {
            let style = if l.contains(" ERROR ") {
                BAD
            } else if l.contains(" WARN ") {
                WARN
            } else {
                Style::default()
            };
            Line::styled(l.clone(), style)
        })
        .collect();
    let title = if app.log_scroll == 0 {
        "Logs (following)".to_string()
    } else {
        format!("Logs ({} lines up; f follows)", app.log_scroll)
    };
    f.render_widget(Paragraph::new(lines).block(boxed(&title)), area);
}

fn help(f: &mut Frame, _app: &App) {
    let area = f.area();
    let w = area.width.min(68);
    let h = area.height.min(15);
    let r = Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    );
    let text = vec![
        Line::styled(
            "Screens: 1 dashboard  2 tasks  3 services  4 logs  Tab next",
            BOLD,
        ),
        Line::raw(""),
        Line::raw("Tasks:    ↑↓ move  Enter open  c failed C2PA  s state"),
        Line::raw("          m modality  / search  x clear filters  r reload"),
        Line::raw("Task:     ↑↓ scroll  v verify the media again  o media path"),
        Line::raw("          Esc back"),
        Line::raw("Services: ↑↓ image/video  e edit the chain  r reset to env"),
        Line::raw("Logs:     ↑↓ scroll  f follow"),
        Line::raw("Anywhere: t reload trust anchors  ? help  q quit"),
        Line::raw(""),
        Line::styled(
            "The console reconnects by itself when the miner restarts.",
            DIM,
        ),
        Line::styled("Any key closes this help.", DIM),
    ];
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(text)
            .wrap(Wrap { trim: false })
            .block(boxed("Help")),
        r,
    );
}

/// Whether the dashboard shows anything yet (for benchmarks and tests).
pub fn ready(status: &Option<Status>) -> bool {
    status.is_some()
}
