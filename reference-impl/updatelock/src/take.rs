//! Taking a lock by exclusive create.

use std::ffi::OsStr;
use std::os::fd::RawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use nix::errno::Errno;
use nix::fcntl::{openat, AtFlags, OFlag};
use nix::sys::stat::{fstatat, Mode};
use nix::unistd::{close, fchown, getegid, geteuid, linkat, unlinkat, Gid, Uid, UnlinkatFlags};

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
/// With no owner to change (`opts.owner` is `None` or the effective
/// uid/gid): `open(path, O_CREAT|O_EXCL|O_NOFOLLOW|O_WRONLY|O_CLOEXEC,
/// mode)` and `close`, nothing more.
///
/// With another owner, the lock must never be seen with the wrong one, not
/// even after a crash between two syscalls: a root-owned lock left by a
/// supervisor that owns its locks as nobody would look like a user's lock
/// and block every later update. So the file is made under a private name
/// in the same directory (`.<name>.take-<pid>-<n>`, exclusive create),
/// `fchown`ed, and hard-linked to `path` (`link` fails on any entry there,
/// a dangling symlink too, and never follows one), then the private name
/// is unlinked. This is how procmail's `lockfile` makes a lock, which the
/// supervisor runs as uid 65534 from 13.1.0 (`src/lib/lockfile.ts`, commit
/// 51e63ea2). A crash leaves at most the private name, never a lock. A
/// lock already there is refused after one `lstat`, making nothing. If
/// `fchown` fails nothing is left and [`LockError::Permission`] is
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
    let other_owner = opts
        .owner
        .filter(|o| o.uid != geteuid().as_raw() || o.gid != getegid().as_raw());
    // A path with no file name (`..`) is always there: the plain create
    // says so.
    match (other_owner, Path::new(name).file_name()) {
        (Some(owner), Some(file)) => take_as(dir, name, file, path, opts.mode, owner)?,
        _ => create(dir, name, path, opts.mode)?,
    }
    Ok(Lock {
        path: path.to_path_buf(),
    })
}

const CREATE_FLAGS: OFlag = OFlag::O_CREAT
    .union(OFlag::O_EXCL)
    .union(OFlag::O_NOFOLLOW)
    .union(OFlag::O_WRONLY)
    .union(OFlag::O_CLOEXEC);

/// Exclusive create of `name` with the creator's ids.
fn create(dir: Option<RawFd>, name: &OsStr, path: &Path, mode: u32) -> Result<(), LockError> {
    let fd = match openat(dir, name, CREATE_FLAGS, Mode::from_bits_truncate(mode)) {
        Ok(fd) => fd,
        Err(Errno::ELOOP) => return Err(loop_error(dir, name, path)),
        Err(e) => return Err(LockError::from_errno(path, e)),
    };
    if let Err(e) = close(fd) {
        let _ = unlinkat(dir, name, UnlinkatFlags::NoRemoveDir);
        return Err(LockError::io(path, e));
    }
    Ok(())
}

/// Numbers the private names of one process's takes.
static STAGED: AtomicU64 = AtomicU64::new(0);

/// `name` (whose last component is `file`) made already owned by `owner`:
/// a private file, `fchown`ed, then linked to `name` (see [`take`]); the
/// private name is always removed.
fn take_as(
    dir: Option<RawFd>,
    name: &OsStr,
    file: &OsStr,
    path: &Path,
    mode: u32,
    owner: Owner,
) -> Result<(), LockError> {
    // A lock already there is the usual refusal: say so without making and
    // removing a private file in the holder's dir on every retry. `link`
    // below still decides any race.
    if fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW).is_ok() {
        return Err(LockError::Held {
            path: path.to_path_buf(),
        });
    }
    // Beside `name`: `name` may be a whole path (unconfined `take`).
    let mut private = std::ffi::OsString::from(".");
    private.push(file);
    private.push(format!(
        ".take-{}-{}",
        std::process::id(),
        STAGED.fetch_add(1, Ordering::Relaxed)
    ));
    let stage = Path::new(name).with_file_name(&private);
    let stage = stage.as_os_str();
    let fd = openat(dir, stage, CREATE_FLAGS, Mode::from_bits_truncate(mode))
        .map_err(|e| LockError::from_errno(path, e))?;
    let chowned = fchown(
        fd,
        Some(Uid::from_raw(owner.uid)),
        Some(Gid::from_raw(owner.gid)),
    );
    let closed = close(fd);
    let owned = match (chowned, closed) {
        (Err(e), _) => Err(LockError::permission(path, e)),
        (Ok(()), Err(e)) => Err(LockError::io(path, e)),
        (Ok(()), Ok(())) => Ok(()),
    };
    let linked = owned.and_then(|()| {
        linkat(dir, stage, dir, name, AtFlags::empty()).map_err(|e| LockError::from_errno(path, e))
    });
    let _ = unlinkat(dir, stage, UnlinkatFlags::NoRemoveDir);
    linked
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
