//! What the harness knows about each watched path: the entry there (as
//! `lstat` saw it) and who made it.

use std::fs::FileType;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Who made an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Origin {
    /// App `n`.
    User(u8),
    /// The live supervisor (a running take or held locks).
    Supervisor,
    /// A supervisor that crashed.
    Orphan,
}

/// What `lstat` says about one entry; `(kind, ino)` is its identity.
#[derive(Clone, Copy, Debug)]
pub(super) struct Entry {
    pub kind: FileType,
    pub ino: u64,
    pub uid: u32,
}

impl Entry {
    pub fn same(&self, other: &Entry) -> bool {
        self.kind == other.kind && self.ino == other.ino
    }

    /// `lstat(path)`; `None` when nothing is there.
    pub fn at(path: &Path) -> Result<Option<Entry>, String> {
        match std::fs::symlink_metadata(path) {
            Ok(meta) => Ok(Some(Entry {
                kind: meta.file_type(),
                ino: meta.ino(),
                uid: meta.uid(),
            })),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("lstat {}: {e}", path.display())),
        }
    }
}

/// A regular file, directory, symlink or special file.
pub(super) fn kind_name(kind: FileType) -> &'static str {
    if kind.is_file() {
        "regular file"
    } else if kind.is_dir() {
        "directory"
    } else if kind.is_symlink() {
        "symlink"
    } else {
        "special file"
    }
}

/// What one op changed, by watched-path index.
#[derive(Default, Debug)]
pub(super) struct Diff {
    pub created: Vec<usize>,
    pub removed: Vec<(usize, Entry, Origin)>,
}

impl Diff {
    pub fn len(&self) -> usize {
        self.created.len() + self.removed.len()
    }
}
