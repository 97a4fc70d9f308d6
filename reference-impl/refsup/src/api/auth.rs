//! API key check: `Authorization: Bearer KEY` or `?apikey=KEY`, else 401.

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;

use super::{reply, Api};

fn query_key(query: &str) -> Option<String> {
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "apikey")
        .map(|(_, v)| v.into_owned())
}

/// The token of an `Authorization: Bearer TOKEN` header; the scheme name is
/// case-insensitive (RFC 7235 section 2.1).
fn bearer(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim_start().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
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
        .and_then(bearer)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_keys_are_url_decoded() {
        assert_eq!(query_key("apikey=a%2Bb%20c").as_deref(), Some("a+b c"));
        assert_eq!(query_key("x=1&apikey=k").as_deref(), Some("k"));
        assert_eq!(query_key("apikeyx=k"), None);
    }

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        assert_eq!(bearer("Bearer k"), Some("k"));
        assert_eq!(bearer("bearer k"), Some("k"));
        assert_eq!(bearer("BEARER  k "), Some("k"));
        assert_eq!(bearer("Basic k"), None);
        assert_eq!(bearer("Bearer "), None);
    }
}
