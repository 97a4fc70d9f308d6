//! The fault catalogue: supervisor bugs that never shipped as designed
//! behaviour (reported, or plausible regressions), which `refsup --fault
//! NAME` injects in the real code path so the suite can prove it catches
//! them. Behaviour a version really had is a gate of `lockgates`, not a
//! fault (e.g. the override names of 7.0.0 - 9.2.6, removal leaving locks
//! 16.2.0 - 16.12.6, reboots ignoring locks before 7.0.0).

use std::collections::BTreeSet;

/// One historical bug. Each is checked where the real behaviour is decided,
/// never in a separate fake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, clap::ValueEnum)]
pub enum Fault {
    /// L8: rolling back a failed lock take unlinks every lock path of the
    /// operation, not only those it took, removing a user's lock that lies
    /// beyond the blocking one (reported on 4.1.1).
    RollbackRemovesUserLock,
    /// U3: kill-then-download kills without taking locks (reported on 2.8.2;
    /// the 2.8.2 code locks, so it is kept as a regression to catch).
    KillThenDownloadIgnoresLock,
    /// L6: lock checks follow symlinks (a dangling link does not count, and
    /// taking it creates the target); no version did this.
    FollowSymlinks,
    /// O4: `/v1/update` force is not one-time: it sticks for later updates.
    ForceSticks,
    /// L1/L7: each service is killed right after its own lock is taken,
    /// before the other services' locks are.
    KillBeforeAllLocks,
}

impl Fault {
    /// The CLI name (`--fault NAME`).
    pub fn name(self) -> String {
        clap::ValueEnum::to_possible_value(&self)
            .map(|v| v.get_name().to_string())
            .unwrap_or_default()
    }
}

/// The faults enabled for one run.
#[derive(Debug, Clone, Default)]
pub struct Faults(BTreeSet<Fault>);

impl Faults {
    /// From the CLI list.
    pub fn new(list: impl IntoIterator<Item = Fault>) -> Faults {
        Faults(list.into_iter().collect())
    }

    /// Whether `fault` is on.
    pub fn on(&self, fault: Fault) -> bool {
        self.0.contains(&fault)
    }

    /// The enabled faults.
    pub fn iter(&self) -> impl Iterator<Item = Fault> + '_ {
        self.0.iter().copied()
    }
}
