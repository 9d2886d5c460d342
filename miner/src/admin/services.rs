//! The service selection per modality: `GET /services`, `PUT /services` (applied to new
//! tasks at once, saved across restarts, `reset` back to what the miner started with: the
//! env file's chains, or the demo's studios) and `POST /trust/reload`.

use super::{Admin, SERVICES_SETTING, SelectionRefused, error, names};
use crate::providers::registry::{self, select_chain};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use gas_shared::Modality;
use gas_shared::admin::*;
use std::sync::Arc;

impl Admin {
    pub(super) fn services(&self) -> Services {
        let started = |m: Modality| -> Vec<String> {
            self.pipeline
                .started_chain(m)
                .iter()
                .map(|p| p.name().to_string())
                .collect()
        };
        let mut known: Vec<ServiceInfo> = self
            .config
            .catalog
            .iter()
            .map(|k| ServiceInfo {
                name: k.service.name().to_string(),
                image: k.service.can_serve(Modality::Image),
                video: k.service.can_serve(Modality::Video),
                key_set: k.key.is_some(),
                local: false,
            })
            .collect();
        // The providers it brought itself (the demo's studios), first: they are in use.
        for (i, p) in self.local_providers().into_iter().enumerate() {
            known.insert(
                i,
                ServiceInfo {
                    name: p.name().to_string(),
                    image: p.supports(Modality::Image),
                    video: p.supports(Modality::Video),
                    key_set: true,
                    local: true,
                },
            );
        }
        Services {
            image: names(self.pipeline.chain_names(Modality::Image)),
            video: names(self.pipeline.chain_names(Modality::Video)),
            started_image: started(Modality::Image),
            started_video: started(Modality::Video),
            known,
            overridden: self
                .store
                .setting(SERVICES_SETTING)
                .ok()
                .flatten()
                .is_some(),
        }
    }

    /// The providers of the starting chains that are not services of the catalog (the demo's
    /// studios), each once.
    fn local_providers(&self) -> Vec<Arc<dyn crate::providers::Provider>> {
        let mut out: Vec<Arc<dyn crate::providers::Provider>> = Vec::new();
        for m in Modality::ALL {
            for p in self.pipeline.started_chain(m) {
                if registry::Service::parse(p.name()).is_none()
                    && !out.iter().any(|o| o.name() == p.name())
                {
                    out.push(p);
                }
            }
        }
        out
    }

    /// A chain of the miner's own providers (`demo-studio,demo-backup`) for `modality`, when
    /// every name in `text` is one.
    fn local_chain(
        &self,
        modality: Modality,
        text: &str,
    ) -> Option<Vec<Arc<dyn crate::providers::Provider>>> {
        let local = self.local_providers();
        let names: Vec<&str> = text
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .collect();
        if names.is_empty() {
            return None;
        }
        names
            .iter()
            .map(|n| {
                local
                    .iter()
                    .find(|p| p.name().eq_ignore_ascii_case(n) && p.supports(modality))
                    .cloned()
            })
            .collect()
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
            if let Some(chain) = self.local_chain(modality, text) {
                chains.push((modality, chain));
                continue;
            }
            match select_chain(&self.config.catalog, var, text, modality) {
                Ok(chain) => chains.push((
                    modality,
                    registry::build_chain(modality, &chain, &self.config.tuning()),
                )),
                Err(mut p) => {
                    let local = self.local_providers();
                    if !local.is_empty() {
                        let names: Vec<&str> = local.iter().map(|p| p.name()).collect();
                        p.push(format!(
                            "{var}: this miner's own providers are {} (they cannot be mixed with services)",
                            names.join(", ")
                        ));
                    }
                    problems.extend(p)
                }
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
        // Back to what the miner started with, whatever it was (the demo's studios too).
        for m in Modality::ALL {
            a.pipeline.set_chain(m, a.pipeline.started_chain(m));
        }
        tracing::info!("service selection reset to the one the miner started with");
        let _ = a.store.set_setting(SERVICES_SETTING, None);
        return Json(a.services()).into_response();
    }
    if let Err(e) = a.apply_services(&update) {
        return error(StatusCode::BAD_REQUEST, format!("selection refused: {e}"));
    }
    // The new chain's clients are checked against their model lists as at start.
    a.pipeline.check_models();
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
