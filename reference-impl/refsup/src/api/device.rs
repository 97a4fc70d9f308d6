//! Device endpoints (`/v1/...`) and the restart endpoints.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::body::JsonBody;
use super::{reply, Api};
use crate::engine::reboot::Power;
use crate::target::parse_app_id;

/// `{"force": bool}`, every field optional.
#[derive(Debug, Default, Deserialize)]
pub struct ForceBody {
    #[serde(default)]
    force: bool,
}

/// `GET /v1/device`.
pub async fn device(State(api): State<Api>) -> Response {
    let (started, finished) = api.engine.passes();
    let profile = api.engine.profile();
    match api.engine.device_view().await {
        Ok(v) => {
            let mut body = json!({
                "reconcile_passes_started": started,
                "reconcile_passes_finished": finished,
                "api_port": null,
                "commit": v.commit,
                "status": if v.update_pending { "Updating" } else { "Idle" },
                "download_progress": null,
                "os_version": format!("balenaOS {}", api.engine.profile().os()),
                "supervisor_version": api.engine.profile().supervisor().to_string(),
                "update_pending": v.update_pending,
                "update_downloaded": v.update_downloaded,
                "boot_count": v.boot_count,
                "reboot_pending": v.reboot_pending,
            });
            if profile.update_failed_field() {
                body["update_failed"] = json!(api.engine.update_failed());
            }
            Json(body).into_response()
        }
        Err(e) => reply::error(StatusCode::INTERNAL_SERVER_ERROR, format!("{e:#}")),
    }
}

/// `POST /v1/update {"force"}`: 204.
pub async fn update(State(api): State<Api>, JsonBody(body): JsonBody<ForceBody>) -> StatusCode {
    api.engine.trigger_update(body.force);
    StatusCode::NO_CONTENT
}

async fn power(api: Api, power: Power, force: bool) -> Response {
    match api.engine.power(power, force).await {
        Ok(()) => (
            StatusCode::ACCEPTED,
            Json(json!({"Data": "OK", "Error": null})),
        )
            .into_response(),
        // The reboot API's own shape: {"Data":"","Error":message}.
        Err(e) => {
            let status = reply::op_error_status(&e);
            (status, Json(json!({"Data": "", "Error": e.to_string()}))).into_response()
        }
    }
}

/// `POST /v1/reboot {"force"}`: 202, or 423 while locked.
pub async fn reboot(State(api): State<Api>, JsonBody(body): JsonBody<ForceBody>) -> Response {
    power(api, Power::Reboot, body.force).await
}

/// `POST /v1/shutdown {"force"}`: 202, or 423 while locked.
pub async fn shutdown(State(api): State<Api>, JsonBody(body): JsonBody<ForceBody>) -> Response {
    power(api, Power::Shutdown, body.force).await
}

/// `PATCH /v1/device/host-config` body.
#[derive(Debug, Default, Deserialize)]
pub struct HostConfig {
    #[serde(default)]
    network: Option<Network>,
    #[serde(default)]
    force: bool,
}

/// The network part of a host-config PATCH.
#[derive(Debug, Default, Deserialize)]
pub struct Network {
    #[serde(default)]
    hostname: Option<String>,
}

fn valid_hostname(h: &str) -> bool {
    !h.is_empty()
        && h.len() <= 253
        && h.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
}

/// `PATCH /v1/device/host-config`: 200, or 423 while locked.
pub async fn host_config(State(api): State<Api>, JsonBody(body): JsonBody<HostConfig>) -> Response {
    let Some(hostname) = body.network.and_then(|n| n.hostname) else {
        return reply::error(
            StatusCode::BAD_REQUEST,
            "nothing to change: expected {\"network\":{\"hostname\":...}}",
        );
    };
    if !valid_hostname(&hostname) {
        return reply::error(
            StatusCode::BAD_REQUEST,
            "hostname must be 1-253 letters, digits, '-' or '.'",
        );
    }
    match api.engine.set_hostname(&hostname, body.force).await {
        Ok(()) => (StatusCode::OK, "OK").into_response(),
        Err(e) => reply::op_error(e),
    }
}

fn app_id(text: &str) -> Result<u32, Box<Response>> {
    parse_app_id(text).map_err(|m| Box::new(reply::error(StatusCode::BAD_REQUEST, m)))
}

/// `POST /v2/applications/:appId/restart {"force"}`.
pub async fn restart_app(
    State(api): State<Api>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<ForceBody>,
) -> Response {
    let id = match app_id(&id) {
        Ok(id) => id,
        Err(r) => return *r,
    };
    match api.engine.restart(id, None, body.force).await {
        Ok(()) => (StatusCode::OK, "OK").into_response(),
        Err(e) => reply::op_error(e),
    }
}

/// restart-service body.
#[derive(Debug, Default, Deserialize)]
pub struct RestartService {
    #[serde(rename = "serviceName", default)]
    service_name: Option<String>,
    #[serde(default)]
    force: bool,
}

/// `POST /v2/applications/:appId/restart-service {"serviceName","force"}`.
pub async fn restart_service(
    State(api): State<Api>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<RestartService>,
) -> Response {
    let id = match app_id(&id) {
        Ok(id) => id,
        Err(r) => return *r,
    };
    let Some(name) = body.service_name else {
        return reply::error(StatusCode::BAD_REQUEST, "serviceName is required");
    };
    if let Err(m) = crate::target::validate_component("serviceName", &name) {
        return reply::error(StatusCode::BAD_REQUEST, m);
    }
    match api.engine.restart(id, Some(&name), body.force).await {
        Ok(()) => (StatusCode::OK, "OK").into_response(),
        Err(e) => reply::op_error(e),
    }
}
