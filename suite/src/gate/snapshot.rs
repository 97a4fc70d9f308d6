//! What is on disk: every entry of a probe's tree (lstat, never following
//! links), so a probe can say exactly what a tool created, changed or left.

use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// What kind of entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link.
    Symlink,
    /// A FIFO, socket or device.
    Other,
}

/// One entry as `lstat` sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Its kind.
    pub kind: Kind,
    /// Permission bits.
    pub mode: u32,
    /// Owner uid.
    pub uid: u32,
    /// Size in bytes.
    pub size: u64,
    /// Inode number: a new one means the entry was replaced.
    pub ino: u64,
    /// Modification time, seconds and nanoseconds.
    pub mtime: (i64, i64),
    /// The first bytes of a regular file.
    pub head: Vec<u8>,
    /// A symlink's target.
    pub target: Option<PathBuf>,
}

/// Every entry under a root, by path relative to it.
pub type Snapshot = BTreeMap<PathBuf, Entry>;

/// The entry at `path`, if any.
pub fn entry(path: &Path) -> Option<Entry> {
    let meta = std::fs::symlink_metadata(path).ok()?;
    let ft = meta.file_type();
    let kind = if ft.is_symlink() {
        Kind::Symlink
    } else if ft.is_dir() {
        Kind::Dir
    } else if ft.is_file() {
        Kind::File
    } else {
        Kind::Other
    };
    let mut head = Vec::new();
    if kind == Kind::File {
        if let Ok(f) = std::fs::File::open(path) {
            let _ = f.take(64).read_to_end(&mut head);
        }
    }
    Some(Entry {
        kind,
        mode: meta.mode() & 0o7777,
        uid: meta.uid(),
        size: meta.size(),
        ino: meta.ino(),
        mtime: (meta.mtime(), meta.mtime_nsec()),
        head,
        target: (kind == Kind::Symlink)
            .then(|| std::fs::read_link(path).ok())
            .flatten(),
    })
}

/// Every entry under `root` except those under `skip`.
pub fn take(root: &Path, skip: &Path) -> Snapshot {
    let mut out = Snapshot::new();
    walk(root, root, skip, &mut out);
    out
}

fn walk(root: &Path, dir: &Path, skip: &Path, out: &mut Snapshot) {
    let Ok(read) = std::fs::read_dir(dir) else {
        return;
    };
    for item in read.flatten() {
        let path = item.path();
        if path.starts_with(skip) {
            continue;
        }
        if let Some(e) = entry(&path) {
            let is_dir = e.kind == Kind::Dir;
            let rel = path.strip_prefix(root).unwrap_or(&path).to_path_buf();
            out.insert(rel, e);
            if is_dir {
                walk(root, &path, skip, out);
            }
        }
    }
}

/// One difference between two snapshots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A new entry.
    Created(PathBuf, Entry),
    /// An entry that is gone.
    Removed(PathBuf, Entry),
    /// Same path, a different inode or kind: removed and made again.
    Replaced(PathBuf, Entry, Entry),
    /// Same inode, changed content, mode, owner or (for non-directories) mtime.
    Modified(PathBuf, Entry, Entry),
}

impl Change {
    /// The path it is about.
    pub fn path(&self) -> &Path {
        match self {
            Change::Created(p, _)
            | Change::Removed(p, _)
            | Change::Replaced(p, _, _)
            | Change::Modified(p, _, _) => p,
        }
    }

    /// One line: `created lockdir/x.lock (regular file, 0644, uid 0, 0 bytes)`.
    pub fn describe(&self) -> String {
        match self {
            Change::Created(p, e) => format!("created {}", with_entry(p, e)),
            Change::Removed(p, e) => format!("removed {}", with_entry(p, e)),
            Change::Replaced(p, old, new) => format!(
                "replaced {} ({}) by {}",
                p.display(),
                describe(old),
                describe(new)
            ),
            Change::Modified(p, old, new) => {
                format!("modified {}: {}", p.display(), what_changed(old, new))
            }
        }
    }
}

/// The differences from `before` to `after`. Directory mtimes are ignored
/// (they change whenever an entry inside does, which shows up by itself).
pub fn diff(before: &Snapshot, after: &Snapshot) -> Vec<Change> {
    let mut out = Vec::new();
    for (path, old) in before {
        match after.get(path) {
            None => out.push(Change::Removed(path.clone(), old.clone())),
            Some(new) if new.ino != old.ino || new.kind != old.kind => {
                out.push(Change::Replaced(path.clone(), old.clone(), new.clone()))
            }
            Some(new) => {
                let same_mtime = new.mtime == old.mtime || new.kind == Kind::Dir;
                if new.head != old.head
                    || new.size != old.size
                    || new.mode != old.mode
                    || new.uid != old.uid
                    || !same_mtime
                {
                    out.push(Change::Modified(path.clone(), old.clone(), new.clone()));
                }
            }
        }
    }
    for (path, new) in after {
        if !before.contains_key(path) {
            out.push(Change::Created(path.clone(), new.clone()));
        }
    }
    out
}

/// `path (regular file, 0444, uid 65534, 1 byte "0")`.
pub fn with_entry(path: &Path, e: &Entry) -> String {
    format!("{} ({})", path.display(), describe(e))
}

/// `regular file, 0444, uid 65534, 1 byte "0"`.
pub fn describe(e: &Entry) -> String {
    match e.kind {
        Kind::File => format!(
            "regular file, {:04o}, uid {}, {}",
            e.mode,
            e.uid,
            bytes(e.size, &e.head)
        ),
        Kind::Dir => format!("directory, {:04o}, uid {}", e.mode, e.uid),
        Kind::Symlink => format!(
            "symlink to {}",
            e.target
                .as_deref()
                .map(|t| t.display().to_string())
                .unwrap_or_default()
        ),
        Kind::Other => format!("special file, {:04o}, uid {}", e.mode, e.uid),
    }
}

fn bytes(size: u64, head: &[u8]) -> String {
    let unit = if size == 1 { "byte" } else { "bytes" };
    if size == 0 {
        return "0 bytes".into();
    }
    let text: String = String::from_utf8_lossy(head).escape_debug().collect();
    let more = if size > head.len() as u64 { "..." } else { "" };
    format!("{size} {unit} \"{text}{more}\"")
}

fn what_changed(old: &Entry, new: &Entry) -> String {
    let mut parts = Vec::new();
    if old.head != new.head || old.size != new.size {
        parts.push(format!(
            "content {} -> {}",
            bytes(old.size, &old.head),
            bytes(new.size, &new.head)
        ));
    }
    if old.mode != new.mode {
        parts.push(format!("mode {:04o} -> {:04o}", old.mode, new.mode));
    }
    if old.uid != new.uid {
        parts.push(format!("owner uid {} -> {}", old.uid, new.uid));
    }
    if old.mtime != new.mtime && old.kind != Kind::Dir {
        parts.push("mtime changed".into());
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_sees_create_remove_replace_modify() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let skip = root.join("skip");
        std::fs::create_dir(&skip).unwrap();
        std::fs::write(root.join("keep"), "a").unwrap();
        std::fs::write(root.join("gone"), "").unwrap();
        std::fs::write(root.join("swap"), "").unwrap();
        std::os::unix::fs::symlink("nowhere", root.join("link")).unwrap();
        let before = take(root, &skip);
        assert_eq!(before[Path::new("link")].kind, Kind::Symlink);
        std::fs::write(root.join("keep"), "bb").unwrap();
        std::fs::remove_file(root.join("gone")).unwrap();
        std::fs::remove_file(root.join("swap")).unwrap();
        std::fs::create_dir(root.join("swap")).unwrap();
        std::fs::write(root.join("new"), "").unwrap();
        std::fs::write(skip.join("ignored"), "").unwrap();
        let after = take(root, &skip);
        let text: Vec<String> = diff(&before, &after).iter().map(Change::describe).collect();
        assert_eq!(text.len(), 4, "{text:?}");
        assert!(
            text.iter()
                .any(|t| t.starts_with("modified keep: content 1 byte \"a\" -> 2 bytes \"bb\"")),
            "{text:?}"
        );
        assert!(
            text.iter()
                .any(|t| t.starts_with("removed gone (regular file")),
            "{text:?}"
        );
        assert!(text.iter().any(|t| t.starts_with("replaced swap (regular file") && t.contains("by directory")), "{text:?}");
        assert!(
            text.iter()
                .any(|t| t.starts_with("created new (regular file")),
            "{text:?}"
        );
    }
}
