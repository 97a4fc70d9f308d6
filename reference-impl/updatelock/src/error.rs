//! Typed errors, and the single place where an `errno` becomes one of them.

use std::io;
use std::path::{Path, PathBuf};

use nix::errno::Errno;

/// Why a lock operation failed; every variant names the path involved so a
/// report can say *which* lock was the problem.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Something already exists at the lock path (`EEXIST`, or `ELOOP` from
    /// `O_NOFOLLOW` meeting a symlink): the lock is held by someone.
    #[error("{path}: lock is held (an entry already exists)", path = path.display())]
    Held {
        /// The lock path.
        path: PathBuf,
    },
    /// The caller may not create, chown or remove the entry (`EACCES`,
    /// `EPERM`, or any failure of the `fchown` that sets the owner).
    #[error("{path}: permission denied: {source}", path = path.display())]
    Permission {
        /// The lock path.
        path: PathBuf,
        /// The underlying OS error.
        source: io::Error,
    },
    /// A parent component of the path is not a directory (`ENOTDIR`), so no
    /// lock can ever be created there.
    #[error("{path}: not a directory (a parent component of the lock path is not a directory)", path = path.display())]
    NotADirectory {
        /// The lock path.
        path: PathBuf,
    },
    /// The path leaves the confined root: a directory component below it is
    /// a symlink or not a directory, or the path is not under the root at
    /// all ([`crate::Beneath`]). Nothing was followed or touched.
    #[error("{path}: refusing to follow a symlink or non-directory out of the confined root", path = path.display())]
    Escape {
        /// The lock path.
        path: PathBuf,
    },
    /// Any other OS error (missing parent directory, non-empty directory on
    /// release, symlink loop in a parent, I/O error, ...).
    #[error("{path}: {source}", path = path.display())]
    Io {
        /// The lock path.
        path: PathBuf,
        /// The underlying OS error.
        source: io::Error,
    },
}

impl LockError {
    /// The path the failed operation was about.
    pub fn path(&self) -> &Path {
        match self {
            LockError::Held { path }
            | LockError::Permission { path, .. }
            | LockError::NotADirectory { path }
            | LockError::Escape { path }
            | LockError::Io { path, .. } => path,
        }
    }

    /// True when the failure means "someone else holds this lock", the one
    /// error a caller is expected to wait on or report rather than treat as
    /// a fault.
    pub fn is_held(&self) -> bool {
        matches!(self, LockError::Held { .. })
    }

    /// The mapping from `errno` to a typed error, used by every operation.
    pub(crate) fn from_errno(path: &Path, errno: Errno) -> Self {
        let path = path.to_path_buf();
        match errno {
            Errno::EEXIST => LockError::Held { path },
            Errno::EACCES | Errno::EPERM => LockError::Permission {
                path,
                source: errno.into(),
            },
            Errno::ENOTDIR => LockError::NotADirectory { path },
            _ => LockError::Io {
                path,
                source: errno.into(),
            },
        }
    }

    /// Like [`LockError::from_errno`], for errors that arrive as `io::Error`
    /// (from `walkdir`).
    pub(crate) fn from_io(path: &Path, err: io::Error) -> Self {
        match err.raw_os_error() {
            Some(raw) => Self::from_errno(path, Errno::from_raw(raw)),
            None => LockError::Io {
                path: path.to_path_buf(),
                source: err,
            },
        }
    }

    /// An `Io` error whatever the errno (used where the generic mapping would
    /// mislead, e.g. `EEXIST` from `rmdir` meaning "not empty").
    pub(crate) fn io(path: &Path, errno: Errno) -> Self {
        LockError::Io {
            path: path.to_path_buf(),
            source: errno.into(),
        }
    }

    /// A `Permission` error whatever the errno (any failed `fchown`).
    pub(crate) fn permission(path: &Path, errno: Errno) -> Self {
        LockError::Permission {
            path: path.to_path_buf(),
            source: errno.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case(Errno::EEXIST, "Held")]
    #[case(Errno::EACCES, "Permission")]
    #[case(Errno::EPERM, "Permission")]
    #[case(Errno::ENOTDIR, "NotADirectory")]
    #[case(Errno::ENOENT, "Io")]
    #[case(Errno::ELOOP, "Io")]
    #[case(Errno::ENOTEMPTY, "Io")]
    fn errno_maps_to_variant(#[case] errno: Errno, #[case] variant: &str) {
        let err = LockError::from_errno(Path::new("/x/updates.lock"), errno);
        let got = format!("{err:?}");
        assert!(got.starts_with(variant), "{errno:?} -> {got}");
        assert_eq!(err.path(), Path::new("/x/updates.lock"));
        assert_eq!(err.is_held(), variant == "Held");
    }

    #[test]
    fn io_errors_map_by_raw_errno() {
        let err = LockError::from_io(
            Path::new("/p"),
            io::Error::from_raw_os_error(Errno::EACCES as i32),
        );
        assert!(matches!(err, LockError::Permission { .. }), "{err:?}");
        let err = LockError::from_io(Path::new("/p"), io::Error::other("no errno"));
        assert!(matches!(err, LockError::Io { .. }), "{err:?}");
    }

    #[test]
    fn display_names_the_path() {
        let path = Path::new("/tmp/balena/updates.lock");
        for err in [
            LockError::from_errno(path, Errno::EEXIST),
            LockError::from_errno(path, Errno::EACCES),
            LockError::from_errno(path, Errno::ENOTDIR),
            LockError::from_errno(path, Errno::ENOENT),
        ] {
            let text = err.to_string();
            assert!(text.starts_with("/tmp/balena/updates.lock: "), "{text}");
        }
    }
}
