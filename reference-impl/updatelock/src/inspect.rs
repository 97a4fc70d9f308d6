//! Looking at a lock without touching it: is it held, and by what.

use std::ffi::OsStr;
use std::os::fd::RawFd;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use nix::errno::Errno;
use nix::fcntl::AtFlags;
use nix::sys::stat::{fstatat, lstat, FileStat, SFlag};

use crate::LockError;

/// The kind of entry holding a lock; every kind counts as held, but the
/// conformance rows treat them differently (`SPEC.md`, L5 directories, L6
/// symlinks).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryKind {
    /// A regular file (what an exclusive create or `touch` makes).
    File,
    /// A directory.
    Directory,
    /// A symbolic link (dangling or not; never followed).
    Symlink,
    /// Anything else: FIFO, socket, device node.
    Other,
}

/// Who holds a lock: the `lstat` facts a supervisor or a report needs
/// (owner for cleanup decisions, mtime for staleness, kind and mode).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Holder {
    /// What kind of entry is at the lock path.
    pub kind: EntryKind,
    /// Owning user id.
    pub uid: u32,
    /// Owning group id.
    pub gid: u32,
    /// Permission bits (`st_mode & 0o7777`, including setuid/setgid/sticky).
    pub mode: u32,
    /// Last modification time of the entry itself (not a link's target).
    pub mtime: SystemTime,
}

/// Whether the lock at `path` is held: true when *any* entry exists there,
/// checked with `lstat` so a symlink (even dangling) counts and is never
/// followed. `ENOENT`, or `ENOTDIR` from a parent that is not a directory,
/// mean nothing can be there: `Ok(false)`.
pub fn is_held(path: &Path) -> Result<bool, LockError> {
    match lstat(path) {
        Ok(_) => Ok(true),
        Err(Errno::ENOENT | Errno::ENOTDIR) => Ok(false),
        Err(e) => Err(LockError::from_errno(path, e)),
    }
}

/// `lstat` the lock path and describe its holder; `Ok(None)` when nothing is
/// there (same rules as [`is_held`]).
pub fn inspect(path: &Path) -> Result<Option<Holder>, LockError> {
    inspect_at(None, path.as_os_str(), path)
}

/// [`inspect`] of `name` relative to the directory `dir` (the current
/// directory when `None`); `path` is what errors name.
pub(crate) fn inspect_at(
    dir: Option<RawFd>,
    name: &OsStr,
    path: &Path,
) -> Result<Option<Holder>, LockError> {
    match fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(st) => Ok(Some(Holder::from_stat(&st))),
        Err(Errno::ENOENT | Errno::ENOTDIR) => Ok(None),
        Err(e) => Err(LockError::from_errno(path, e)),
    }
}

impl Holder {
    fn from_stat(st: &FileStat) -> Self {
        let fmt = SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits());
        let kind = if fmt == SFlag::S_IFREG {
            EntryKind::File
        } else if fmt == SFlag::S_IFDIR {
            EntryKind::Directory
        } else if fmt == SFlag::S_IFLNK {
            EntryKind::Symlink
        } else {
            EntryKind::Other
        };
        Holder {
            kind,
            uid: st.st_uid,
            gid: st.st_gid,
            mode: st.st_mode & 0o7777,
            mtime: system_time(st.st_mtime, st.st_mtime_nsec),
        }
    }
}

/// A `timespec` as `SystemTime`, including times before the epoch.
fn system_time(secs: i64, nsecs: i64) -> SystemTime {
    let nanos = Duration::from_nanos(u64::try_from(nsecs).unwrap_or(0));
    if secs >= 0 {
        UNIX_EPOCH + Duration::from_secs(secs.unsigned_abs()) + nanos
    } else {
        UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs()) + nanos
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_time_handles_both_sides_of_the_epoch() {
        assert_eq!(
            system_time(10, 5),
            UNIX_EPOCH + Duration::from_secs(10) + Duration::from_nanos(5)
        );
        assert_eq!(
            system_time(-10, 5),
            UNIX_EPOCH - Duration::from_secs(10) + Duration::from_nanos(5)
        );
    }
}
