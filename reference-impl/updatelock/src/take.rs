//! Taking a lock by exclusive create.

use std::ffi::OsStr;
use std::os::fd::RawFd;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{openat, AtFlags, OFlag};
use nix::sys::stat::{fstatat, Mode};
use nix::unistd::{close, fchown, getegid, geteuid, unlinkat, Gid, Uid, UnlinkatFlags};

use crate::{LockError, Owner};

/// How [`take`] creates the lock file: who owns it and with which mode.
#[derive(Clone, Debug)]
pub struct TakeOptions {
    /// Owner to `fchown` the new file to; `None` keeps the creator's
    /// (effective uid/gid).
    pub owner: Option<Owner>,
    /// Permission bits passed to `open` (the process umask still applies).
    /// Defaults to `0o644`.
    pub mode: u32,
}

impl Default for TakeOptions {
    fn default() -> Self {
        TakeOptions {
            owner: None,
            mode: 0o644,
        }
    }
}

/// A lock this process created.
///
/// Dropping it does **not** remove the file: a supervisor that crashes must
/// leave its locks behind (`SPEC.md`, C1), and callers decide when a lock
/// ends. Call [`Lock::release`].
#[derive(Debug)]
#[must_use = "dropping a Lock leaves the lock file in place; call release()"]
pub struct Lock {
    path: PathBuf,
}

impl Lock {
    /// The path the lock file was created at.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Remove the lock file (see [`release`](crate::release)). An entry that
    /// is already gone is not an error: the lock is released either way.
    pub fn release(self) -> Result<(), LockError> {
        crate::release(&self.path).map(drop)
    }
}

/// Take the lock at `path` by exclusive create: it succeeds only if nothing
/// at all exists there, which is what makes it safe against a concurrent
/// taker (`SPEC.md`, "Exclusive create").
///
/// `open(path, O_CREAT|O_EXCL|O_NOFOLLOW|O_WRONLY|O_CLOEXEC, mode)`, then
/// `fchown` to `opts.owner` if one is given and it differs from the current
/// effective uid/gid (so the common case costs exactly `open` + `close`).
/// If `fchown` fails the new file is unlinked and [`LockError::Permission`]
/// returned. No file descriptor is kept open.
///
/// Errors: [`LockError::Held`] if any entry (file, directory, symlink,
/// dangling or not - its target is never created) is at `path`;
/// [`LockError::NotADirectory`] if a parent is not a directory;
/// [`LockError::Permission`] for `EACCES`/`EPERM`; otherwise
/// [`LockError::Io`] (e.g. `ENOENT` for a missing parent).
///
/// Caveat: the owner is compared with the effective ids, not with the file's
/// actual owner, so in a set-group-ID directory (where the new file takes the
/// directory's group) asking for `gid == getegid()` does not change the group.
pub fn take(path: &Path, opts: &TakeOptions) -> Result<Lock, LockError> {
    take_at(None, path.as_os_str(), path, opts)
}

/// [`take`] of `name` relative to the directory `dir` (the current directory
/// when `None`); `path` is what errors and the returned [`Lock`] name.
pub(crate) fn take_at(
    dir: Option<RawFd>,
    name: &OsStr,
    path: &Path,
    opts: &TakeOptions,
) -> Result<Lock, LockError> {
    let flags =
        OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_WRONLY | OFlag::O_CLOEXEC;
    let fd = match openat(dir, name, flags, Mode::from_bits_truncate(opts.mode)) {
        Ok(fd) => fd,
        Err(Errno::ELOOP) => return Err(loop_error(dir, name, path)),
        Err(e) => return Err(LockError::from_errno(path, e)),
    };
    if let Some(owner) = opts.owner {
        if owner.uid != geteuid().as_raw() || owner.gid != getegid().as_raw() {
            let res = fchown(
                fd,
                Some(Uid::from_raw(owner.uid)),
                Some(Gid::from_raw(owner.gid)),
            );
            if let Err(e) = res {
                let _ = close(fd);
                let _ = unlinkat(dir, name, UnlinkatFlags::NoRemoveDir);
                return Err(LockError::permission(path, e));
            }
        }
    }
    if let Err(e) = close(fd) {
        let _ = unlinkat(dir, name, UnlinkatFlags::NoRemoveDir);
        return Err(LockError::io(path, e));
    }
    Ok(Lock {
        path: path.to_path_buf(),
    })
}

/// `ELOOP` from `open`: `O_NOFOLLOW` met a symlink at the lock path (held),
/// or a parent component is a symlink loop (a plain I/O error). One `lstat`,
/// only on this error path, tells them apart.
fn loop_error(dir: Option<RawFd>, name: &OsStr, path: &Path) -> LockError {
    match fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(_) => LockError::Held {
            path: path.to_path_buf(),
        },
        Err(_) => LockError::io(path, Errno::ELOOP),
    }
}
