//! Reading the engine's answers: which bollard errors mean "no such
//! object" or "conflict", and turning the rest into `RuntimeError`s that say
//! what was being done.

use bollard::errors::Error;

use super::super::{RuntimeError, ServiceInstance};

/// The engine's status code, when it answered with an error.
fn status(e: &Error) -> Option<u16> {
    match e {
        Error::DockerResponseServerError { status_code, .. } => Some(*status_code),
        _ => None,
    }
}

/// 404: no such container or image.
pub(super) fn is_not_found(e: &Error) -> bool {
    status(e) == Some(404)
}

/// 409: a name already taken, an image in use.
pub(super) fn is_conflict(e: &Error) -> bool {
    status(e) == Some(409)
}

/// The engine's own message (without bollard's "Docker responded with
/// status code" prefix), or the transport error.
pub(super) fn message(e: &Error) -> String {
    match e {
        Error::DockerResponseServerError { message, .. } => message.trim().to_string(),
        other => other.to_string(),
    }
}

/// `RuntimeError::Other`: "`what`: `why`".
pub(super) fn other(what: impl std::fmt::Display, why: impl std::fmt::Display) -> RuntimeError {
    RuntimeError::Other(format!("{what}: {why}"))
}

/// `RuntimeError::Other` for a failed engine call.
pub(super) fn engine(what: impl std::fmt::Display, e: &Error) -> RuntimeError {
    other(what, message(e))
}

/// `RuntimeError::Start` for `spec`, naming its image.
pub(super) fn start(spec: &ServiceInstance, why: impl std::fmt::Display) -> RuntimeError {
    RuntimeError::Start {
        app_id: spec.app_id,
        service: spec.service.clone(),
        reason: format!("image {}: {why}", spec.image),
    }
}

/// Why an image is missing and cannot be had.
pub(super) fn not_on_engine(image: &str) -> String {
    format!(
        "image {image} is not on the engine and refsup cannot pull it (no registry): build or load it first"
    )
}
