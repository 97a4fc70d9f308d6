//! Target and state endpoints (`/v2/...`).

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::body::JsonBody;
use super::{reply, Api};
use crate::target::TargetState;

/// `GET /v2/version`.
pub async fn version(State(api): State<Api>) -> Json<Value> {
    Json(json!({"status": "success", "version": api.engine.profile().supervisor().to_string()}))
}

/// `GET /v2/local/target-state`.
pub async fn get_target(State(api): State<Api>) -> Json<Value> {
    Json(json!({"status": "success", "state": api.engine.target()}))
}

/// The body of `POST /v2/local/target-state`: the state, and from 7.21.0 a
/// one-time `force` beside it (any JSON-truthy value forces, as the real
/// one passes it on unchecked).
#[derive(Debug, serde::Deserialize)]
pub struct TargetPost {
    #[serde(flatten)]
    state: TargetState,
    #[serde(default)]
    force: Option<Value>,
}

fn js_truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

/// `POST /v2/local/target-state`: 200 once durable, 400 on invalid input.
pub async fn post_target(State(api): State<Api>, JsonBody(post): JsonBody<TargetPost>) -> Response {
    let force = post.force.as_ref().is_some_and(js_truthy);
    if post.force.is_some() && !api.engine.profile().local_target_force() {
        return reply::error(
            StatusCode::BAD_REQUEST,
            format!(
                "\"force\" in the local target state is not known to supervisor {} (from 7.21.0)",
                api.engine.profile().supervisor()
            ),
        );
    }
    match api.engine.set_target(post.state) {
        Ok(()) => {
            if force {
                api.engine.trigger_update(true);
            }
            Json(json!({"status": "success", "message": "OK"})).into_response()
        }
        Err(message) if message.starts_with("cannot persist") => {
            reply::error(StatusCode::INTERNAL_SERVER_ERROR, message)
        }
        Err(message) => reply::error(StatusCode::BAD_REQUEST, message),
    }
}

/// `GET /v2/applications/state`: apps by name, services by name.
pub async fn applications(State(api): State<Api>) -> Response {
    let view = match api.engine.device_view().await {
        Ok(v) => v,
        Err(e) => return reply::error(StatusCode::INTERNAL_SERVER_ERROR, format!("{e:#}")),
    };
    let mut out = BTreeMap::new();
    for app in view.apps {
        let services: BTreeMap<_, _> = app
            .services
            .iter()
            .map(|s| {
                (s.service_name.clone(), json!({"status": s.status, "releaseId": s.release_id, "commit": s.commit, "downloadProgress": null}))
            })
            .collect();
        // Keyed by name as the real API does; a name two apps share (or an
        // empty one) gets the app id added so no app hides another.
        let mut name = if app.name.is_empty() {
            app.app_id.to_string()
        } else {
            app.name.clone()
        };
        if out.contains_key(&name) {
            name = format!("{name} (app {})", app.app_id);
        }
        out.insert(
            name,
            json!({"appId": app.app_id, "commit": app.target_commit, "applied": app.applied, "blocked": app.blocked, "services": services}),
        );
    }
    Json(json!(out)).into_response()
}

/// `GET /v2/state/status`.
pub async fn status(State(api): State<Api>) -> Response {
    let view = match api.engine.device_view().await {
        Ok(v) => v,
        Err(e) => return reply::error(StatusCode::INTERNAL_SERVER_ERROR, format!("{e:#}")),
    };
    let containers: Vec<Value> = view
        .apps
        .iter()
        .flat_map(|a| a.services.iter())
        .map(|s| {
            json!({"appId": s.app_id, "serviceName": s.service_name, "status": s.status, "commit": s.commit,
                "releaseId": s.release_id, "imageId": s.image, "containerId": s.container_id, "pid": s.pid})
        })
        .collect();
    Json(json!({
        "status": "success",
        "appState": if view.update_pending { "applying" } else { "applied" },
        "overallDownloadProgress": null,
        "containers": containers,
        "release": view.commit,
    }))
    .into_response()
}
