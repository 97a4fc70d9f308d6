//! The HTTP API: the real supervisor's paths and shapes (SPEC section 4).

mod auth;
mod body;
mod device;
mod reply;
mod state;

use std::sync::Arc;

use axum::routing::{get, patch, post};
use axum::Router;

use crate::engine::Engine;

/// Largest accepted request body.
pub const MAX_BODY: usize = 1024 * 1024;

/// Shared handler state.
#[derive(Clone)]
pub struct Api {
    engine: Arc<Engine>,
    api_key: Option<Arc<str>>,
}

/// The router: every route behind the API key check when a key is set.
pub fn router(engine: Arc<Engine>, api_key: Option<String>) -> Router {
    let api = Api {
        engine,
        api_key: api_key.map(Arc::from),
    };
    Router::new()
        .route("/ping", get(|| async { "OK" }))
        .route("/v2/version", get(state::version))
        .route(
            "/v2/local/target-state",
            get(state::get_target).post(state::post_target),
        )
        .route("/v2/applications/state", get(state::applications))
        .route("/v2/state/status", get(state::status))
        .route("/v1/device", get(device::device))
        .route("/v1/update", post(device::update))
        .route("/v1/reboot", post(device::reboot))
        .route("/v1/shutdown", post(device::shutdown))
        .route("/v1/device/host-config", patch(device::host_config))
        .route(
            "/v2/applications/{app_id}/restart",
            post(device::restart_app),
        )
        .route(
            "/v2/applications/{app_id}/restart-service",
            post(device::restart_service),
        )
        .fallback(|| async { reply::error(axum::http::StatusCode::NOT_FOUND, "no such endpoint") })
        .layer(axum::middleware::from_fn_with_state(
            api.clone(),
            auth::require_key,
        ))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .with_state(api)
}
