//! A JSON body extractor whose every rejection is a 400 (413 when too large)
//! with a message, never a panic or an empty 422.

use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::Response;
use serde::de::DeserializeOwned;

use super::reply;

/// A JSON body; an empty body is `T::default()` where `Optional` is used.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| {
                let status = if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    StatusCode::PAYLOAD_TOO_LARGE
                } else {
                    StatusCode::BAD_REQUEST
                };
                reply::error(status, format!("cannot read body: {}", e.body_text()))
            })?;
        let value = decode(&bytes).map_err(|m| reply::error(StatusCode::BAD_REQUEST, m))?;
        Ok(JsonBody(value))
    }
}

/// Decode a body as the extractor does: whitespace only is `{}`, then one
/// JSON value and nothing after it but whitespace. `Err` is the 400 message.
pub(super) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    let text: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        bytes
    };
    let mut de = serde_json::Deserializer::from_slice(text);
    let value = serde_path_to_error::deserialize(&mut de)
        .map_err(|e| format!("invalid JSON body at {}: {}", e.path(), e.inner()))?;
    // One JSON value and nothing after it but whitespace.
    de.end()
        .map_err(|e| format!("invalid JSON body: {e} (trailing data after the JSON value)"))?;
    Ok(value)
}
