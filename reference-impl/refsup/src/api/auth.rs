//! API key check: `Authorization: Bearer KEY` or `?apikey=KEY`, else 401.

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;

use super::{reply, Api};

fn query_key(query: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == "apikey").then(|| v.to_string())
    })
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Refuse requests without the right key when one is configured.
pub async fn require_key(State(api): State<Api>, request: Request, next: Next) -> Response {
    let Some(expected) = &api.api_key else {
        return next.run(request).await;
    };
    let header = request
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_string);
    let given = header.or_else(|| request.uri().query().and_then(query_key));
    match given {
        Some(key) if constant_time_eq(key.as_bytes(), expected.as_bytes()) => {
            next.run(request).await
        }
        _ => reply::error(
            StatusCode::UNAUTHORIZED,
            "Unauthorized: a valid API key is required",
        ),
    }
}
