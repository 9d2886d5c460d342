//! `GET /standing`: what the subnet pays us and why, joined with our own counts;
//! `POST /standing/refresh`: read the subnet's API and the chain now (up to two minutes),
//! then answer the new view.

use super::Admin;
use crate::clock::now_ms;
use axum::Json;
use axum::extract::State;
use gas_shared::standing::StandingView;
use std::sync::Arc;

impl Admin {
    /// The standing view; `cached`: with the estimate of the last minute (for metrics).
    pub(crate) fn standing_view(&self, cached: bool) -> StandingView {
        let now = now_ms();
        let (_, _, _, mut validators) = self.stats.snapshot(now);
        let graph = self.metagraph.get();
        for v in &mut validators {
            v.uid = graph.neuron(&v.hotkey).map(|n| n.uid);
        }
        self.standing.view(now, validators, cached)
    }
}

pub(super) async fn standing(State(a): State<Arc<Admin>>) -> Json<StandingView> {
    let a2 = a.clone();
    Json(
        tokio::task::spawn_blocking(move || a2.standing_view(false))
            .await
            .unwrap_or_default(),
    )
}

pub(super) async fn refresh(State(a): State<Arc<Admin>>) -> Json<StandingView> {
    a.standing.read_now().await;
    standing(State(a)).await
}
