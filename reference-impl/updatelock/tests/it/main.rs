//! The integration tests of `updatelock`: one test binary (one link) whose
//! modules each cover one concern.

/// `Beneath`: lock operations that never follow a link out of their root.
mod beneath;
/// `find_locks`: recursive, sorted, never through symlinks.
mod find;
/// `is_held` and `inspect`: lstat facts, never following links.
mod inspect;
/// `release`: removes any kind of entry, never following links.
mod release;
/// The lock library against a small model (proptest-state-machine).
mod state_machine;
/// `take`: exclusive create, ownership, and every way it must refuse.
mod take;
