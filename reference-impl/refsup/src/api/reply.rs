//! The JSON error shape every failure answers with.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// `{"status":"failed","message":...}` with `status`.
pub fn error(status: StatusCode, message: impl std::fmt::Display) -> Response {
    (
        status,
        Json(json!({"status": "failed", "message": message.to_string()})),
    )
        .into_response()
}

/// Map an engine refusal to its status code.
pub fn op_error(e: crate::engine::OpError) -> Response {
    use crate::engine::OpError;
    let status = match &e {
        OpError::Locked { status, .. } => {
            StatusCode::from_u16(*status).unwrap_or(StatusCode::LOCKED)
        }
        OpError::Busy(_) => StatusCode::LOCKED,
        OpError::NotFound(_) => StatusCode::NOT_FOUND,
        OpError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    error(status, format!("{e:#}"))
}
