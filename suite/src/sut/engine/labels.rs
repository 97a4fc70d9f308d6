//! The labels and names by which the suite (and refsup's Docker runtime)
//! marks what a run creates on an engine, so that a cell removes its own and
//! a later run reaps what a killed one left.

/// Label: the run (`<pid>:<start time>` of the lockcheck process, as the
/// `LOCKCHECK_RUN` env var).
pub const RUN: &str = "io.lockcheck.run";
/// Label: the cell (the `LOCKCHECK_CELL` scope) inside the run.
pub const CELL: &str = "io.lockcheck.cell";
/// Label: what a container of the suite's own is for (`observer`, ...).
pub const ROLE: &str = "io.lockcheck.role";
/// Prefix of the per-cell image tags: `lockcheck-cell-<pid>-<start>-<n>`.
pub const CELL_TAG_PREFIX: &str = "lockcheck-cell-";
