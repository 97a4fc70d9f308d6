//! How the suite reaches the files of the device under test: the lock dirs,
//! the app data dirs, `mnt/boot` and `mnt/state`. On this host they are plain
//! files ([`HostFiles`]); on a device whose files are not here, the same
//! operations run inside a container of the device's engine that has the
//! device root mounted (`sut::engine::EngineFiles`). Cases only use this
//! trait, so every case can observe either kind of device.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// What kind of entry is at a path (never following a symlink).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link (dangling or not).
    Symlink,
    /// Anything else (fifo, socket, device).
    Other,
}

/// An entry at a path, as `lstat` sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    /// Its kind.
    pub kind: EntryKind,
    /// Its owner's uid.
    pub uid: u32,
}

/// File operations on the device root. Paths are as [`DeviceFiles::root`]
/// sees them (join device-relative paths onto it).
pub trait DeviceFiles: Send + Sync {
    /// The device root as these operations see it.
    fn root(&self) -> &Path;
    /// `lstat`: what is at `path`, if anything.
    fn entry(&self, path: &Path) -> Result<Option<Entry>>;
    /// Take a lock as a compliant app does: `open(O_CREAT|O_EXCL)`, creating
    /// missing parent dirs, the file owned by `uid` (root when `None`).
    /// `Ok(false)`: something is already there.
    fn create_excl(&self, path: &Path, uid: Option<u32>) -> Result<bool>;
    /// Remove a file, symlink or empty directory; a missing entry is fine.
    fn remove(&self, path: &Path) -> Result<()>;
    /// Run the real `touch` on `path` (creating parent dirs).
    fn touch(&self, path: &Path) -> Result<()>;
    /// Create a symlink at `link` pointing at `target` (taken literally).
    fn symlink(&self, target: &str, link: &Path) -> Result<()>;
    /// Rename `from` over `to`.
    fn rename(&self, from: &Path, to: &Path) -> Result<()>;
    /// Create or replace a regular file with `content` (parent dirs too).
    fn write(&self, path: &Path, content: &[u8]) -> Result<()>;
    /// A file's content, `None` when it does not exist.
    fn read(&self, path: &Path) -> Result<Option<Vec<u8>>>;
    /// `mkdir -p`.
    fn mkdir_all(&self, path: &Path) -> Result<()>;
    /// Remove every lock entry (any entry named like a lock file) under
    /// `dir`, without following links; a missing dir is fine.
    fn clear_locks(&self, dir: &Path) -> Result<()>;
}

/// The device's files are on this host under `root`.
#[derive(Debug, Clone)]
pub struct HostFiles {
    root: PathBuf,
}

impl HostFiles {
    /// Files under `root`.
    pub fn new(root: &Path) -> HostFiles {
        HostFiles {
            root: root.to_path_buf(),
        }
    }
}

fn parent_dirs(path: &Path) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    Ok(())
}

impl DeviceFiles for HostFiles {
    fn root(&self) -> &Path {
        &self.root
    }

    fn entry(&self, path: &Path) -> Result<Option<Entry>> {
        let meta = match std::fs::symlink_metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("lstat {}", path.display())),
        };
        let kind = if meta.file_type().is_symlink() {
            EntryKind::Symlink
        } else if meta.is_dir() {
            EntryKind::Dir
        } else if meta.is_file() {
            EntryKind::File
        } else {
            EntryKind::Other
        };
        Ok(Some(Entry {
            kind,
            uid: meta.uid(),
        }))
    }

    fn create_excl(&self, path: &Path, uid: Option<u32>) -> Result<bool> {
        parent_dirs(path)?;
        let opts = updatelock::TakeOptions {
            owner: uid.map(|u| updatelock::Owner { uid: u, gid: u }),
            ..updatelock::TakeOptions::default()
        };
        match updatelock::take(path, &opts) {
            // A Lock leaves its file when dropped.
            Ok(lock) => Ok({
                drop(lock);
                true
            }),
            Err(e) if e.is_held() => Ok(false),
            Err(e) => Err(e).with_context(|| format!("taking {}", path.display())),
        }
    }

    fn remove(&self, path: &Path) -> Result<()> {
        updatelock::release(path)
            .map(drop)
            .with_context(|| format!("removing {}", path.display()))
    }

    fn touch(&self, path: &Path) -> Result<()> {
        parent_dirs(path)?;
        let status = std::process::Command::new("touch")
            .arg(path)
            .status()
            .context("running touch")?;
        anyhow::ensure!(status.success(), "touch {} failed", path.display());
        Ok(())
    }

    fn symlink(&self, target: &str, link: &Path) -> Result<()> {
        parent_dirs(link)?;
        std::os::unix::fs::symlink(target, link)
            .with_context(|| format!("symlink {} -> {target}", link.display()))
    }

    fn rename(&self, from: &Path, to: &Path) -> Result<()> {
        std::fs::rename(from, to)
            .with_context(|| format!("rename {} to {}", from.display(), to.display()))
    }

    fn write(&self, path: &Path, content: &[u8]) -> Result<()> {
        parent_dirs(path)?;
        std::fs::write(path, content).with_context(|| format!("writing {}", path.display()))
    }

    fn read(&self, path: &Path) -> Result<Option<Vec<u8>>> {
        match std::fs::read(path) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    fn mkdir_all(&self, path: &Path) -> Result<()> {
        std::fs::create_dir_all(path).with_context(|| format!("creating {}", path.display()))
    }

    fn clear_locks(&self, dir: &Path) -> Result<()> {
        let confined = updatelock::Beneath::new(&self.root);
        for found in confined.find_locks(dir, &lockgates::LOCK_NAMES)? {
            let _ = confined.release(&found.path);
        }
        Ok(())
    }
}
