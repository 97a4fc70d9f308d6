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

/// Map an engine refusal to its status code and the JSON error shape.
pub fn op_error(e: crate::engine::OpError) -> Response {
    error(op_error_status(&e), format!("{e:#}"))
}

/// The status code of an engine refusal.
pub fn op_error_status(e: &crate::engine::OpError) -> StatusCode {
    use crate::engine::OpError;
    match e {
        OpError::Locked { status, .. } => {
            StatusCode::from_u16(*status).unwrap_or(StatusCode::LOCKED)
        }
        OpError::Busy(_) => StatusCode::LOCKED,
        OpError::NotFound(_) => StatusCode::NOT_FOUND,
        OpError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        OpError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}
