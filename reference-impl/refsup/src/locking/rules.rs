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
    /// A symlink is held as such (true) or followed (false) (L6).
    pub symlink_held: bool,
    /// Force/override may rmdir a directory lock (L5).
    pub directory_removable: bool,
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
            symlink_held: profile.symlink_lock_held() && !faults.on(Fault::FollowSymlinks),
            directory_removable: profile.directory_lock_removable(),
            rollback_removes_untaken: faults.on(Fault::RollbackRemovesUserLock),
            root,
        }
    }

    /// Whether `path` counts as held. With symlinks followed, a dangling link
    /// does not count.
    pub fn is_held(&self, path: &Path) -> Result<bool, LockError> {
        match self.root.inspect(path)? {
            None => Ok(false),
            Some(h) if h.kind == EntryKind::Symlink && !self.symlink_held => Ok(path.exists()),
            Some(_) => Ok(true),
        }
    }

    /// Where taking `path` really creates a file: the path itself, or (links
    /// followed) the target of a dangling symlink.
    pub fn create_path(&self, path: &Path) -> PathBuf {
        if self.symlink_held {
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
