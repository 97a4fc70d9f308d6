//! Exit statuses of `lockcheck`, in one place.

/// Every promised outcome was met (known failures aside).
pub const OK: u8 = 0;
/// At least one case failed that the expectations file does not list.
pub const CASE_FAILED: u8 = 1;
/// Bad usage or environment: unknown profile or case, unreachable target,
/// wrong API key, unwritable output.
pub const USAGE: u8 = 2;
/// SIGINT or SIGTERM stopped the run (128 + SIGINT, as shells report a
/// Ctrl-C); the report shows the cells that finished.
pub const INTERRUPTED: u8 = 130;
/// `lockcheck gate`: a tool is not compatible (or only with caveats).
pub const INCOMPATIBLE: u8 = 1;
