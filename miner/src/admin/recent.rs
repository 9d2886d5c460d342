//! The console's drill-downs beyond tasks: `GET /providers/{name}/calls` (a provider's last
//! calls, with their errors) and `GET /validators/{hotkey}/refusals` (a validator's last
//! challenges refused with 503, which leave no task). Both newest first; a name with none
//! answers an empty list.

use super::Admin;
use axum::Json;
use axum::extract::{Path, State};
use gas_shared::admin::{CallSummary, RefusalSummary};
use std::sync::Arc;

pub(super) async fn calls(
    State(a): State<Arc<Admin>>,
    Path(name): Path<String>,
) -> Json<Vec<CallSummary>> {
    Json(a.store.recent_calls(&name))
}

pub(super) async fn refusals(
    State(a): State<Arc<Admin>>,
    Path(hotkey): Path<String>,
) -> Json<Vec<RefusalSummary>> {
    Json(a.stats.recent_refusals(&hotkey))
}
