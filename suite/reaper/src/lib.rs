//! Leaves nothing behind. A lockcheck run (or a test binary) is an
//! [`Owner`]: its pid plus the start time `/proc` gives it, so a reused pid
//! is never mistaken for it. Everything it starts is marked as its own:
//!
//! - processes through the environment ([`Mark`]: `LOCKCHECK_RUN=<pid>:<start>`
//!   and `LOCKCHECK_CELL=<scope>`), which children inherit and the reference
//!   supervisor passes on to its services;
//! - scratch dirs through a marker file holding the owner ([`Scratch`]).
//!
//! When a scope ends, [`kill_marked`] kills what carries its mark (and reaps
//! what it killed). lockcheck also makes itself a child subreaper
//! ([`become_subreaper`]) so that orphans (services of a crashed supervisor)
//! re-parent to it rather than to init; [`reap_adopted`] and
//! [`kill_adopted`] collect them, which is only safe in a process none of
//! whose own children leads a process group (not in a test binary that runs
//! the process runtime in-process). At start, [`reap_dead_runs`] removes
//! what owners that no longer exist (killed runs) left behind, and only
//! that.

mod kill;
mod owner;
mod procfs;
mod scratch;

pub use kill::{
    become_subreaper, die_with_parent, kill_adopted, kill_marked, reap_adopted, wait_timeout,
    Filter,
};
pub use owner::{Mark, Owner};
pub use scratch::{reap_dead_dirs, reap_if_dead, Scratch};

/// Environment variable naming the owner of a process: `<pid>:<start time>`.
pub const ENV_RUN: &str = "LOCKCHECK_RUN";
/// Environment variable naming the scope (a cell, a test helper) inside the owner.
pub const ENV_SCOPE: &str = "LOCKCHECK_CELL";
/// File in a scratch dir holding its owner.
pub const MARKER: &str = ".lockcheck-owner";
/// Prefix of every scratch dir name.
pub const DIR_PREFIX: &str = "lockcheck-";

/// What [`reap_dead_runs`] removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Reaped {
    /// Processes killed.
    pub processes: usize,
    /// Scratch dirs removed.
    pub dirs: usize,
}

impl Reaped {
    /// Whether nothing was left behind.
    pub fn is_empty(&self) -> bool {
        self.processes == 0 && self.dirs == 0
    }
}

/// Kill the marked processes and remove the marked `lockcheck-*` dirs under
/// `tmp` of every owner that no longer runs (a run killed by SIGKILL, a test
/// binary that was killed). Live owners' things are never touched.
pub fn reap_dead_runs(tmp: &std::path::Path) -> Reaped {
    let processes = kill_marked(&Filter::DeadOwners);
    Reaped {
        processes,
        dirs: reap_dead_dirs(tmp),
    }
}
