//! What the harness knows about each watched path: the entry there (as
//! `lstat` saw it) and who made it.

use std::ffi::OsStr;
use std::fs::FileType;
use std::os::fd::RawFd;

use nix::errno::Errno;
use nix::fcntl::AtFlags;
use nix::sys::stat::{fstatat, SFlag};

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

/// The type of an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    File,
    Dir,
    Symlink,
    Other,
}

impl Kind {
    pub fn is_file(self) -> bool {
        self == Kind::File
    }

    pub fn is_dir(self) -> bool {
        self == Kind::Dir
    }

    pub fn is_symlink(self) -> bool {
        self == Kind::Symlink
    }

    /// From `st_mode`.
    fn from_mode(mode: u32) -> Kind {
        match SFlag::from_bits_truncate(mode & SFlag::S_IFMT.bits()) {
            SFlag::S_IFREG => Kind::File,
            SFlag::S_IFDIR => Kind::Dir,
            SFlag::S_IFLNK => Kind::Symlink,
            _ => Kind::Other,
        }
    }

    /// From a directory entry's or `lstat`'s type.
    pub fn from_type(t: FileType) -> Kind {
        if t.is_file() {
            Kind::File
        } else if t.is_dir() {
            Kind::Dir
        } else if t.is_symlink() {
            Kind::Symlink
        } else {
            Kind::Other
        }
    }
}

/// What `lstat` says about one entry; `(kind, ino)` is its identity.
#[derive(Clone, Copy, Debug)]
pub(super) struct Entry {
    pub kind: Kind,
    pub ino: u64,
    pub uid: u32,
}

impl Entry {
    pub fn same(&self, other: &Entry) -> bool {
        self.kind == other.kind && self.ino == other.ino
    }

    /// `fstatat(dir, name, AT_SYMLINK_NOFOLLOW)`; `None` when nothing is
    /// there. One lookup, not a walk of the whole path.
    pub fn at(dir: RawFd, name: &OsStr) -> Result<Option<Entry>, String> {
        match fstatat(Some(dir), name, AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(st) => Ok(Some(Entry {
                kind: Kind::from_mode(st.st_mode),
                ino: st.st_ino,
                uid: st.st_uid,
            })),
            Err(Errno::ENOENT) => Ok(None),
            Err(e) => Err(format!("lstat {}: {e}", name.to_string_lossy())),
        }
    }
}

/// A regular file, directory, symlink or special file.
pub(super) fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::File => "regular file",
        Kind::Dir => "directory",
        Kind::Symlink => "symlink",
        Kind::Other => "special file",
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
