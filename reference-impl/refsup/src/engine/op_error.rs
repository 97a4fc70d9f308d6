//! How an API-triggered operation can be refused.

/// Why an operation did not happen; the API maps each to a status code.
#[derive(Debug, thiserror::Error)]
pub enum OpError {
    /// A lock (or HUP breadcrumb) is in the way: 423, or the profile's
    /// pre-423 status.
    #[error("{message}")]
    Locked {
        /// HTTP status the profile answers with.
        status: u16,
        /// What is in the way.
        message: String,
    },
    /// No such app or service: 404.
    #[error("{0}")]
    NotFound(String),
    /// Another lock operation on the app is running (L9): 423.
    #[error("Locks for app {0} are being held by another supervisor operation")]
    Busy(u32),
    /// The operation cannot run in this state: 503.
    #[error("{0}")]
    Unavailable(String),
    /// Anything else: 500.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}
