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

/// The JSON request bodies the API accepts, for [`check_body`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    /// `POST /v2/local/target-state`: a target state and an optional `force`.
    TargetState,
    /// `{"force"}` of `/v1/update`, `/v1/reboot`, `/v1/shutdown` and
    /// `/v2/applications/:id/restart`.
    Force,
    /// `PATCH /v1/device/host-config`.
    HostConfig,
    /// `POST /v2/applications/:id/restart-service`.
    RestartService,
}

impl Body {
    /// Every body kind.
    pub const ALL: [Body; 4] = [
        Body::TargetState,
        Body::Force,
        Body::HostConfig,
        Body::RestartService,
    ];
}

/// Decode `bytes` as the JSON body of `body`'s endpoints, exactly as their
/// handlers' extractor does, without running a handler: `Err` is the
/// message of the 400 the API answers. For the fuzz targets (`fuzz/`).
pub fn check_body(body: Body, bytes: &[u8]) -> Result<(), String> {
    match body {
        Body::TargetState => body::decode::<state::TargetPost>(bytes).map(drop),
        Body::Force => body::decode::<device::ForceBody>(bytes).map(drop),
        Body::HostConfig => body::decode::<device::HostConfig>(bytes).map(drop),
        Body::RestartService => body::decode::<device::RestartService>(bytes).map(drop),
    }
}

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
