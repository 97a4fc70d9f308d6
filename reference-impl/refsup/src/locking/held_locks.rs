//! Locks the supervisor holds for one operation.

use std::path::PathBuf;

use updatelock::{Beneath, LockError};

/// The entries this supervisor created for one operation. Dropping this
/// leaves them in place (as a crash would); call [`HeldLocks::release`].
#[derive(Debug)]
#[must_use = "held locks stay on disk until released"]
pub struct HeldLocks {
    paths: Vec<PathBuf>,
    root: Beneath,
}

impl HeldLocks {
    pub(crate) fn new(paths: Vec<PathBuf>, root: Beneath) -> HeldLocks {
        HeldLocks { paths, root }
    }

    /// What was created, in take order.
    pub fn paths(&self) -> &[PathBuf] {
        &self.paths
    }

    /// Remove every lock, in reverse take order; the first error is returned
    /// after trying them all.
    pub fn release(self) -> Result<(), LockError> {
        let mut first = None;
        for path in self.paths.iter().rev() {
            if let Err(e) = self.root.release(path) {
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), Err)
    }

    /// Leave the locks on disk on purpose (historical behaviours that did).
    pub fn leave_behind(self) {}
}
