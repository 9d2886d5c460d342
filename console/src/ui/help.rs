//! The help, drawn over whatever screen is open: the keys, then what every column name and
//! mark means. ↑↓ scroll it; any other key closes it.

use super::widgets::{BOLD, DIM, boxed};
use crate::app::App;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Clear, Paragraph, Wrap};

/// The help's text: (heading?, line).
const TEXT: &[(bool, &str)] = &[
    (true, "Keys"),
    (
        false,
        "Screens: 1 dashboard  2 tasks  3 services  4 logs  5 standing  6 charts  Tab next",
    ),
    (
        false,
        "Anywhere: ! every alert  t reload trust anchors  ? help  q quit  F the fleet (several miners)",
    ),
    (
        false,
        "Dashboard: ↑↓ walk the queue's rows, the providers and the validators  ←→ the queue's states",
    ),
    (
        false,
        "       Enter the tasks behind it (a queue cell, a provider, a validator; Esc back)  o order validators",
    ),
    (
        false,
        "Tasks: ↑↓ move  g/G first/last  Enter open  c failed C2PA  s state  m modality",
    ),
    (
        false,
        "       / search (applies as typed; ←→ Ctrl-U Ctrl-W edit, Esc undoes)  x clear  r reload  o order",
    ),
    (
        false,
        "       e / E write every task the filters match to gas-tasks-<time>.csv / .json here",
    ),
    (
        false,
        "Task: ↑↓ PgUp PgDn g/G scroll  v verify the media again  o media path  Esc back",
    ),
    (
        false,
        "Services: ↑↓ image/video  e edit the chain  r r back to what the miner started with",
    ),
    (
        false,
        "Logs: ↑↓ g/G scroll  f follow  l level  / search  Enter the marked line's task",
    ),
    (
        false,
        "Standing: ↑↓ scroll  r ask the subnet's API now (it may take 2 min)",
    ),
    (true, "Header"),
    (
        false,
        "starting… not heard from yet · live · draining: finishing the work in flight, taking nothing new",
    ),
    (
        false,
        "no news for N s: connected but silent · stopped: gone after draining · unreachable: gone unasked",
    ),
    (
        false,
        "While the miner does not answer, everything shown is its last word, dimmed.",
    ),
    (true, "Queue and task states"),
    (
        false,
        "wait queued · gen generating · chk pre-flight check · send delivering the webhook",
    ),
    (
        false,
        "done delivered · fail failed (a failure webhook was sent) · exp expired before it ran",
    ),
    (
        false,
        "accepted N/min: challenges answered 201 in the last 60 s; /h the last hour; done: tasks finished",
    ),
    (true, "Rates"),
    (
        false,
        "pre-flight: our own check passed, of the results judged (C2PA signer, freshness, tier, duplicates)",
    ),
    (
        false,
        "verdicts (v4.9): validators' replies that judged us, passed of judged; a v4.9.x 200 is a pass",
    ),
    (
        false,
        "taken (v5): a v5 202 took the upload and judges later: the verdict is unknown, never a pass",
    ),
    (
        false,
        "refused: challenges answered 503 before the 201 (v5 records no_answer: not a failure)",
    ),
    (true, "Providers"),
    (
        false,
        "health: ok · OPEN (an outage, a refused key or no credit: skipped) · half-open (one probe out)",
    ),
    (
        false,
        "p50/p95: call latency · spend: since the database was made, at estimated list prices",
    ),
    (
        false,
        "why not ok: the breaker's reason, or a tier its results fall short of (4K→1K (4/5 short))",
    ),
    (
        false,
        "title: spend over the last 24 h against each budget (est.)",
    ),
    (true, "Validators"),
    (
        false,
        "asked: challenges accepted · refused: answered 503 · passed/rejected: v4.9.x verdicts",
    ),
    (
        false,
        "taken: v5 202s, verdict unknown · last rejection: the reason a validator last gave",
    ),
    (true, "Charts"),
    (
        false,
        "d: the last hour (a column a minute) or the last day (a column per several minutes, summed)",
    ),
    (
        false,
        "each title: what a column is, its largest value; blank: a minute with nothing to show",
    ),
    (
        false,
        "p: the latency line shows one provider's attempts, then the next, then every provider's",
    ),
    (true, "Tasks"),
    (
        false,
        "verdict: pass · pass* passed, but an earlier attempt failed C2PA · FAIL and the first reason",
    ),
    (
        false,
        "retrying: an earlier attempt failed and a new one is under way · – not judged yet",
    ),
    (
        false,
        "kind: img/vid and the tier asked · provider: the one that made the result",
    ),
    (
        false,
        "reply: the validator's last answer to the webhook: 202 v5 took it (no verdict), 200 v4.9 passed, 4xx rejected",
    ),
    (
        false,
        "drilled from a provider: its last 50 calls below (call: generate/create/poll/download; answer: HTTP status; took; cost; error)",
    ),
    (
        false,
        "drilled from a validator: its last 20 refusals below (503: no task, costs nothing; reason as in /metrics)",
    ),
];

pub fn draw(f: &mut Frame, app: &App) {
    let area = f.area();
    let w = area.width.min(104);
    let h = area.height.saturating_sub(2).min(TEXT.len() as u16 + 4);
    let r = Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    );
    let mut text: Vec<Line> = TEXT
        .iter()
        .map(|(heading, line)| {
            if *heading {
                Line::styled(*line, BOLD)
            } else {
                Line::raw(format!("  {line}"))
            }
        })
        .collect();
    text.push(Line::raw(""));
    text.push(Line::styled(
        "The console reconnects by itself when the miner restarts. ↑↓ scroll; any other key closes.",
        DIM,
    ));
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(text)
            .wrap(Wrap { trim: false })
            .scroll((app.help_scroll, 0))
            .block(boxed("Help")),
        r,
    );
}
