//! Releasing a lock: removing whatever entry is at the lock path.

use std::ffi::OsStr;
use std::os::fd::RawFd;
use std::path::Path;

use nix::errno::Errno;
use nix::unistd::{unlinkat, UnlinkatFlags};

use crate::LockError;

/// Remove whatever entry is at `path` without following links, so that a
/// supervisor (or a force/override) can clear any kind of lock and a symlink's
/// target is never touched (`SPEC.md`, L5, L6).
///
/// A directory is removed with `rmdir` and must be empty (a non-empty one is
/// [`LockError::Io`] with `ENOTEMPTY`); anything else is `unlink`ed - a
/// symlink itself, never its target. Returns `Ok(true)` when an entry was
/// removed and `Ok(false)` when nothing was there (`ENOENT`, or `ENOTDIR`
/// because a parent is not a directory). The common case is one `unlink`.
pub fn release(path: &Path) -> Result<bool, LockError> {
    release_at(None, path.as_os_str(), path)
}

/// [`release`] of `name` relative to the directory `dir` (the current
/// directory when `None`); `path` is what errors name.
pub(crate) fn release_at(dir: Option<RawFd>, name: &OsStr, path: &Path) -> Result<bool, LockError> {
    match unlinkat(dir, name, UnlinkatFlags::NoRemoveDir) {
        Ok(()) => Ok(true),
        Err(Errno::ENOENT | Errno::ENOTDIR) => Ok(false),
        // Linux says EISDIR for unlink(directory), POSIX allows EPERM.
        Err(e @ (Errno::EISDIR | Errno::EPERM)) => remove_dir(dir, name, path, e),
        Err(e) => Err(LockError::from_errno(path, e)),
    }
}

/// `rmdir` after `unlink` refused with `unlink_err`.
fn remove_dir(
    dir: Option<RawFd>,
    name: &OsStr,
    path: &Path,
    unlink_err: Errno,
) -> Result<bool, LockError> {
    match unlinkat(dir, name, UnlinkatFlags::RemoveDir) {
        Ok(()) => Ok(true),
        Err(Errno::ENOENT) => Ok(false),
        // Not a directory after all: unlink's refusal (e.g. EPERM) was real.
        Err(Errno::ENOTDIR) => Err(LockError::from_errno(path, unlink_err)),
        // POSIX allows EEXIST for "not empty"; it must not read as Held.
        Err(e @ (Errno::ENOTEMPTY | Errno::EEXIST)) => Err(LockError::io(path, e)),
        Err(e) => Err(LockError::from_errno(path, e)),
    }
}
