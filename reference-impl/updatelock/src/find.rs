//! Finding every lock under a directory tree.

use std::ffi::OsStr;
use std::io;
use std::path::{Path, PathBuf};

use walkdir::WalkDir;

use crate::{inspect, Holder, LockError};

/// One lock found by [`find_locks`]: where it is and who holds it.
#[derive(Clone, Debug)]
pub struct FoundLock {
    /// Full path of the entry (under the searched directory).
    pub path: PathBuf,
    /// Its `lstat` facts.
    pub holder: Holder,
}

/// Every entry under `dir` whose file name is one of `names`, sorted by path,
/// so a supervisor or report can list all locks of a service tree at once.
///
/// The walk never follows symlinks: a symlink (to a directory or not) whose
/// name matches is reported as a [`EntryKind::Symlink`](crate::EntryKind)
/// holder, but a symlinked directory is never descended. `dir` itself is
/// resolved normally (it may be a symlink to the tree) and is reported if its
/// own name matches. A missing `dir` (or one under a non-directory) gives an
/// empty list; entries that vanish during the walk are skipped.
pub fn find_locks(dir: &Path, names: &[&str]) -> Result<Vec<FoundLock>, LockError> {
    let mut found = Vec::new();
    for entry in WalkDir::new(dir).follow_links(false) {
        let entry = match entry {
            Ok(entry) => entry,
            Err(err) => {
                let path = err.path().unwrap_or(dir).to_path_buf();
                match err.into_io_error() {
                    Some(io) if vanished(&io) => continue,
                    Some(io) => return Err(LockError::from_io(&path, io)),
                    None => return Err(LockError::from_io(&path, io::Error::other("walk error"))),
                }
            }
        };
        if !names.iter().any(|n| OsStr::new(n) == entry.file_name()) {
            continue;
        }
        if let Some(holder) = inspect(entry.path())? {
            found.push(FoundLock {
                path: entry.into_path(),
                holder,
            });
        }
    }
    found.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(found)
}

/// `ENOENT`/`ENOTDIR`: the entry (or `dir` itself) is not there.
fn vanished(err: &io::Error) -> bool {
    err.kind() == io::ErrorKind::NotFound || err.raw_os_error() == Some(nix::libc::ENOTDIR)
}
