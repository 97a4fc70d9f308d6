//! A context directory read once into memory, every entry in path order, so
//! that the hash and the tar sent to the engine see exactly the same bytes.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use anyhow::{bail, Context, Result};
use walkdir::WalkDir;

/// What an entry is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// A regular file and its content.
    File(Vec<u8>),
    /// A directory.
    Dir,
    /// A symlink and its target.
    Symlink(String),
}

/// One entry of a context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Path relative to the context root, `/`-separated.
    pub path: String,
    /// Permission bits including set-id and sticky bits (`0o1777`).
    pub mode: u32,
    /// File, directory or symlink.
    pub kind: Kind,
}

/// Every entry under `root` (not `root` itself), sorted by path.
pub fn read(root: &Path) -> Result<Vec<Entry>> {
    let mut entries = Vec::new();
    for item in WalkDir::new(root).min_depth(1).sort_by_file_name() {
        let item = item.with_context(|| format!("cannot read {}", root.display()))?;
        let rel = item.path().strip_prefix(root)?;
        let path = rel
            .to_str()
            .with_context(|| format!("{} is not UTF-8", rel.display()))?
            .to_string();
        let meta = item.path().symlink_metadata()?;
        let mode = meta.permissions().mode() & 0o7777;
        let kind = if meta.file_type().is_symlink() {
            let target = std::fs::read_link(item.path())?;
            Kind::Symlink(
                target
                    .to_str()
                    .context("symlink target is not UTF-8")?
                    .to_string(),
            )
        } else if meta.is_dir() {
            Kind::Dir
        } else if meta.is_file() {
            Kind::File(std::fs::read(item.path())?)
        } else {
            bail!("{path} in the context is neither a file, a directory nor a symlink");
        };
        entries.push(Entry { path, mode, kind });
    }
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(entries)
}
