//! The help, drawn over whatever screen is open; any key closes it.

use super::widgets::{BOLD, DIM, boxed};
use crate::app::App;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Clear, Paragraph, Wrap};

pub fn draw(f: &mut Frame, _app: &App) {
    let area = f.area();
    let w = area.width.min(76);
    let h = area.height.min(16);
    let r = Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    );
    let text = vec![
        Line::styled(
            "Screens: 1 dashboard  2 tasks  3 services  4 logs  5 standing  Tab next",
            BOLD,
        ),
        Line::raw(""),
        Line::raw("Tasks:    ↑↓ move  Enter open  c failed C2PA  s state"),
        Line::raw("          m modality  / search  x clear filters  r reload"),
        Line::raw("Task:     ↑↓ scroll  v verify the media again  o media path"),
        Line::raw("          Esc back"),
        Line::raw("Services: ↑↓ image/video  e edit the chain  r reset to env"),
        Line::raw("Logs:     ↑↓ scroll  f follow"),
        Line::raw("Standing: ↑↓ scroll  r ask the subnet's API now (it may take 2 min)"),
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
