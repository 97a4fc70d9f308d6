//! What counts as a held lock, and what force may remove, for one profile.

use std::path::{Path, PathBuf};

use lockgates::Profile;
use updatelock::{Beneath, EntryKind, LockError, Owner};

use crate::fault::{Fault, Faults};

/// The lock rules of one profile (plus the faults that bend them).
#[derive(Debug, Clone)]
pub struct LockRules {
    /// Who owns the locks the supervisor creates (L4).
    pub owner: Owner,
    /// Fault L6: the check follows a symlink (a dangling one does not count,
    /// and taking it creates the link's target). No version did this.
    pub follow_symlinks: bool,
    /// Force/override may rmdir a directory lock (L5).
    pub directory_removable: bool,
    /// From 16.2.0 a uid-65534 regular lock file counts as one the
    /// supervisor already holds: it is adopted (released with the others)
    /// instead of blocking (C1, C3).
    pub adopt_nobody: bool,
    /// Fault L8: rollback also unlinks the paths after the blocking one.
    pub rollback_removes_untaken: bool,
    /// The device root every lock operation stays inside.
    pub root: Beneath,
}

impl LockRules {
    /// The rules a profile promises, bent by any enabled faults.
    pub fn new(profile: &Profile, faults: &Faults, root: Beneath) -> LockRules {
        let uid = profile.lock_owner_uid();
        LockRules {
            owner: Owner { uid, gid: uid },
            follow_symlinks: faults.on(Fault::FollowSymlinks),
            directory_removable: profile.directory_lock_removable(),
            adopt_nobody: profile.adopts_leftover_locks(),
            rollback_removes_untaken: faults.on(Fault::RollbackRemovesUserLock),
            root,
        }
    }

    /// Whether `path` counts as held: any entry, never followed (under the
    /// L6 fault a dangling link does not count).
    pub fn is_held(&self, path: &Path) -> Result<bool, LockError> {
        match self.root.inspect(path)? {
            None => Ok(false),
            Some(h) if h.kind == EntryKind::Symlink && self.follow_symlinks => Ok(path.exists()),
            Some(_) => Ok(true),
        }
    }

    /// Whether the entry at `path` is one this supervisor adopts as its own
    /// (a regular file owned by nobody, from 16.2.0).
    pub fn adoptable(&self, path: &Path) -> bool {
        self.adopt_nobody
            && self
                .root
                .inspect(path)
                .ok()
                .flatten()
                .is_some_and(|h| h.kind == EntryKind::File && h.uid == lockgates::NOBODY_UID)
    }

    /// Where taking `path` really creates a file: the path itself, or (L6
    /// fault, links followed) the target of a dangling symlink.
    pub fn create_path(&self, path: &Path) -> PathBuf {
        if !self.follow_symlinks {
            return path.to_path_buf();
        }
        match std::fs::read_link(path) {
            Ok(target) if !path.exists() => {
                path.parent().map(|p| p.join(&target)).unwrap_or(target)
            }
            _ => path.to_path_buf(),
        }
    }
}
