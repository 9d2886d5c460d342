//! The service selection per modality: `GET /services`, `PUT /services` (applied to new
//! tasks at once, saved across restarts, `reset` back to the env file's) and
//! `POST /trust/reload`.

use super::{Admin, SERVICES_SETTING, SelectionRefused, error, names};
use crate::providers::registry::{self, ProviderSettings, select_chain};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use gas_shared::Modality;
use gas_shared::admin::*;
use std::sync::Arc;

impl Admin {
    pub(super) fn services(&self) -> Services {
        Services {
            image: names(self.pipeline.chain_names(Modality::Image)),
            video: names(self.pipeline.chain_names(Modality::Video)),
            known: self
                .config
                .catalog
                .iter()
                .map(|k| ServiceInfo {
                    name: k.service.name().to_string(),
                    image: k.service.can_serve(Modality::Image),
                    video: k.service.can_serve(Modality::Video),
                    key_set: k.key.is_some(),
                })
                .collect(),
            overridden: self
                .store
                .setting(SERVICES_SETTING)
                .ok()
                .flatten()
                .is_some(),
        }
    }

    /// Applies a selection (`image`/`video` as comma lists) to new tasks; `Err` says why not.
    pub(crate) fn apply_services(&self, update: &ServicesUpdate) -> Result<(), SelectionRefused> {
        let mut chains = Vec::new();
        let mut problems = Vec::new();
        for (modality, text, var) in [
            (Modality::Image, &update.image, "image"),
            (Modality::Video, &update.video, "video"),
        ] {
            let Some(text) = text else {
                continue;
            };
            let text = if text.trim().is_empty() { "none" } else { text };
            match select_chain(&self.config.catalog, var, text, modality) {
                Ok(chain) => chains.push((
                    modality,
                    registry::build_chain(modality, &chain, &self.config.tuning()),
                )),
                Err(p) => problems.extend(p),
            }
        }
        if !problems.is_empty() {
            return Err(SelectionRefused(problems));
        }
        for (modality, chain) in chains {
            let names: Vec<&str> = chain.iter().map(|p| p.name()).collect();
            tracing::info!(
                "service selection for {modality}s: {}",
                if names.is_empty() {
                    "none".to_string()
                } else {
                    names.join(" → ")
                }
            );
            self.pipeline.set_chain(modality, chain);
        }
        Ok(())
    }
}

pub(super) async fn services(State(a): State<Arc<Admin>>) -> Json<Services> {
    Json(a.services())
}

pub(super) async fn set_services(
    State(a): State<Arc<Admin>>,
    Json(update): Json<ServicesUpdate>,
) -> Response {
    if update.reset {
        let env = ServicesUpdate {
            image: Some(names_or_none(&a.config.image_chain)),
            video: Some(names_or_none(&a.config.video_chain)),
            reset: false,
        };
        if let Err(e) = a.apply_services(&env) {
            return error(StatusCode::BAD_REQUEST, e.to_string());
        }
        let _ = a.store.set_setting(SERVICES_SETTING, None);
        return Json(a.services()).into_response();
    }
    if let Err(e) = a.apply_services(&update) {
        return error(StatusCode::BAD_REQUEST, format!("selection refused: {e}"));
    }
    let current = a.services();
    let saved =
        serde_json::json!({"image": current.image.join(","), "video": current.video.join(",")});
    if let Err(e) = a.store.set_setting(SERVICES_SETTING, Some(&saved)) {
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("applied but not saved: {e}"),
        );
    }
    Json(a.services()).into_response()
}

fn names_or_none(chain: &[ProviderSettings]) -> String {
    if chain.is_empty() {
        "none".into()
    } else {
        chain
            .iter()
            .map(|p| p.service.name())
            .collect::<Vec<_>>()
            .join(",")
    }
}

pub(super) async fn reload_trust(State(a): State<Arc<Admin>>) -> Response {
    match a.preflight.reload() {
        Ok(n) => {
            tracing::info!(anchors = n, "trust anchors reloaded from the admin socket");
            Json(TrustReload { anchors: n }).into_response()
        }
        Err(e) => error(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("anchors not reloaded (the previous set stays): {e}"),
        ),
    }
}
