//! Lock operations confined to a directory tree: every directory below the
//! root is opened with `openat(O_NOFOLLOW|O_DIRECTORY)`, one component at a
//! time, so a symlink planted anywhere inside the tree (a service's lock dir,
//! the app dir, the supervisor's tmp dir) is refused instead of followed out
//! of the root. The root itself is trusted and resolved normally.
//!
//! A supervisor works on a device root it does not fully control: the apps
//! can write into their lock dirs. With the plain path functions a lock dir
//! replaced by a link to `/etc` would make the supervisor create, chown and
//! delete files there; through [`Beneath`] it gets [`LockError::Escape`].

use std::ffi::{OsStr, OsString};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{openat, OFlag};
use nix::sys::stat::{fchmod, fstat, mkdirat, Mode};
use std::os::unix::ffi::OsStrExt;

use crate::inspect::Holder;
use crate::{FoundLock, Lock, LockError, TakeOptions};

/// A trusted root directory; operations on paths under it never follow a
/// symlink below the root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Beneath {
    root: PathBuf,
}

/// Deepest directory nesting [`Beneath::find_locks`] descends.
const MAX_DEPTH: usize = 16;

impl Beneath {
    /// Confine operations to `root` (an absolute path; it may itself be a
    /// symlink, which is resolved once per operation like any trusted path).
    pub fn new(root: impl Into<PathBuf>) -> Beneath {
        Beneath { root: root.into() }
    }

    /// The root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The components of `path` below the root; `..`, `.` and paths outside
    /// the root are refused.
    fn components<'p>(&self, path: &'p Path) -> Result<Vec<&'p OsStr>, LockError> {
        let rel = path.strip_prefix(&self.root).map_err(|_| escape(path))?;
        rel.components()
            .map(|c| match c {
                Component::Normal(name) => Ok(name),
                _ => Err(escape(path)),
            })
            .collect()
    }

    fn open_root(&self) -> Result<OwnedFd, LockError> {
        open_dir(None, self.root.as_os_str(), OFlag::empty())
            .map_err(|e| LockError::from_errno(&self.root, e))
    }

    /// Open the directory `dir` (under the root) without following links,
    /// creating missing components with mode 0755 when `create` is set, for
    /// callers that work relative to it (`openat`, `renameat`, `fsync`).
    pub fn open_dir(&self, dir: &Path, create: bool) -> Result<OwnedFd, LockError> {
        self.open(dir, create)
    }

    fn open(&self, dir: &Path, create: bool) -> Result<OwnedFd, LockError> {
        let mut fd = self.open_root()?;
        for name in self.components(dir)? {
            fd = match open_dir(Some(fd.as_raw_fd()), name, OFlag::O_NOFOLLOW) {
                Ok(next) => next,
                Err(Errno::ENOENT) if create => {
                    match mkdirat(Some(fd.as_raw_fd()), name, Mode::from_bits_truncate(0o755)) {
                        Ok(()) | Err(Errno::EEXIST) => {}
                        Err(e) => return Err(LockError::from_errno(dir, e)),
                    }
                    open_dir(Some(fd.as_raw_fd()), name, OFlag::O_NOFOLLOW)
                        .map_err(|e| component_error(dir, e))?
                }
                Err(e) => return Err(component_error(dir, e)),
            };
        }
        Ok(fd)
    }

    /// The parent directory of `path`, opened confined, and its file name.
    fn parent<'p>(&self, path: &'p Path) -> Result<(OwnedFd, &'p OsStr), LockError> {
        let name = path.file_name().ok_or_else(|| escape(path))?;
        let dir = path.parent().ok_or_else(|| escape(path))?;
        Ok((self.open(dir, false)?, name))
    }

    /// Create `dir` and its missing parents under the root without following
    /// links, then set `dir`'s own permission bits to `mode` (through its
    /// descriptor, so a link swapped in meanwhile is never chmodded). A dir
    /// that already has the mode is not touched (no inotify event).
    pub fn create_dir_all(&self, dir: &Path, mode: u32) -> Result<(), LockError> {
        let fd = self.open(dir, true)?;
        let st = fstat(fd.as_raw_fd()).map_err(|e| LockError::from_errno(dir, e))?;
        if st.st_mode & 0o7777 == mode & 0o7777 {
            return Ok(());
        }
        fchmod(fd.as_raw_fd(), Mode::from_bits_truncate(mode))
            .map_err(|e| LockError::from_errno(dir, e))
    }

    /// [`crate::take`], confined.
    pub fn take(&self, path: &Path, opts: &TakeOptions) -> Result<Lock, LockError> {
        let (dir, name) = self.parent(path).map_err(|e| missing_dir(path, e))?;
        crate::take::take_at(Some(dir.as_raw_fd()), name, path, opts)
    }

    /// [`crate::release`], confined.
    pub fn release(&self, path: &Path) -> Result<bool, LockError> {
        match self.parent(path) {
            Ok((dir, name)) => crate::release::release_at(Some(dir.as_raw_fd()), name, path),
            Err(e) if nothing_there(&e) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// [`crate::inspect`], confined.
    pub fn inspect(&self, path: &Path) -> Result<Option<Holder>, LockError> {
        match self.parent(path) {
            Ok((dir, name)) => crate::inspect::inspect_at(Some(dir.as_raw_fd()), name, path),
            Err(e) if nothing_there(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// [`crate::is_held`], confined.
    pub fn is_held(&self, path: &Path) -> Result<bool, LockError> {
        self.inspect(path).map(|h| h.is_some())
    }

    /// Remove `path` and, if it is a directory, everything in it, without
    /// following any link (a link is removed itself). `Ok(false)` when
    /// nothing was there.
    pub fn remove_tree(&self, path: &Path) -> Result<bool, LockError> {
        let (dir, name) = match self.parent(path) {
            Ok(found) => found,
            Err(e) if nothing_there(&e) => return Ok(false),
            Err(e) => return Err(e),
        };
        remove_entry(dir.as_raw_fd(), name, path, 0)
    }

    /// [`crate::find_locks`], confined: the walk opens each directory with
    /// `O_NOFOLLOW`, so it never leaves the root. A missing `dir` gives an
    /// empty list; a `dir` that is a symlink is [`LockError::Escape`].
    pub fn find_locks(&self, dir: &Path, names: &[&str]) -> Result<Vec<FoundLock>, LockError> {
        let fd = match self.open(dir, false) {
            Ok(fd) => fd,
            Err(e) if nothing_there(&e) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut found = Vec::new();
        walk(fd, dir.to_path_buf(), names, 0, &mut found)?;
        found.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(found)
    }
}

fn walk(
    fd: OwnedFd,
    path: PathBuf,
    names: &[&str],
    depth: usize,
    found: &mut Vec<FoundLock>,
) -> Result<(), LockError> {
    let raw = fd.as_raw_fd();
    for name in list(&fd, &path)? {
        let child = path.join(&name);
        let Some(holder) = crate::inspect::inspect_at(Some(raw), &name, &child)? else {
            continue; // vanished during the walk
        };
        if names.iter().any(|n| OsStr::new(n) == name) {
            found.push(FoundLock {
                path: child.clone(),
                holder: holder.clone(),
            });
        }
        if holder.kind == crate::EntryKind::Directory && depth < MAX_DEPTH {
            match open_dir(Some(raw), &name, OFlag::O_NOFOLLOW) {
                Ok(sub) => walk(sub, child, names, depth + 1, found)?,
                // Swapped for a link or removed since the lstat: skip it.
                Err(Errno::ENOENT | Errno::ELOOP | Errno::ENOTDIR) => {}
                Err(e) => return Err(LockError::from_errno(&child, e)),
            }
        }
    }
    Ok(())
}

/// Remove `name` in `dir`, emptying it first if it is a real directory.
fn remove_entry(dir: RawFd, name: &OsStr, path: &Path, depth: usize) -> Result<bool, LockError> {
    match open_dir(Some(dir), name, OFlag::O_NOFOLLOW) {
        Ok(sub) if depth < MAX_DEPTH => {
            for child in list(&sub, path)? {
                remove_entry(sub.as_raw_fd(), &child, &path.join(&child), depth + 1)?;
            }
        }
        Ok(_) => return Err(LockError::io(path, Errno::ELOOP)),
        // Not a directory (or a link to one): plain release below.
        Err(Errno::ELOOP | Errno::ENOTDIR) => {}
        Err(Errno::ENOENT) => return Ok(false),
        Err(e) => return Err(LockError::from_errno(path, e)),
    }
    crate::release::release_at(Some(dir), name, path)
}

/// The names in an open directory, without `.` and `..`.
fn list(fd: &OwnedFd, path: &Path) -> Result<Vec<OsString>, LockError> {
    // `Dir` closes its own duplicate; `fd` stays the caller's.
    let dup = nix::unistd::dup(fd.as_raw_fd()).map_err(|e| LockError::from_errno(path, e))?;
    let mut dir = nix::dir::Dir::from_fd(dup).map_err(|e| LockError::from_errno(path, e))?;
    Ok(dir
        .iter()
        .filter_map(Result::ok)
        .map(|e| OsStr::from_bytes(e.file_name().to_bytes()).to_os_string())
        .filter(|n| n != "." && n != "..")
        .collect())
}

fn open_dir(at: Option<RawFd>, name: &OsStr, extra: OFlag) -> Result<OwnedFd, Errno> {
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC | extra;
    let fd = openat(at, name, flags, Mode::empty())?;
    // SAFETY: openat just returned this descriptor and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn escape(path: &Path) -> LockError {
    LockError::Escape {
        path: path.to_path_buf(),
    }
}

/// A component that cannot be opened as a directory: a symlink (`ELOOP`) or
/// another non-directory (`ENOTDIR`) is an escape attempt, not a missing dir.
fn component_error(path: &Path, errno: Errno) -> LockError {
    match errno {
        Errno::ELOOP | Errno::ENOTDIR => escape(path),
        e => LockError::from_errno(path, e),
    }
}

/// Whether a failed parent lookup means "no entry can be there".
fn nothing_there(e: &LockError) -> bool {
    matches!(e, LockError::Io { source, .. } if source.raw_os_error() == Some(Errno::ENOENT as i32))
}

/// A missing parent directory, reported against the lock path as `take` does.
fn missing_dir(path: &Path, e: LockError) -> LockError {
    match e {
        LockError::Io { source, .. } => LockError::Io {
            path: path.to_path_buf(),
            source,
        },
        other => other,
    }
}
