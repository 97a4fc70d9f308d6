//! Scratch dirs that say whose they are: `lockcheck-*` under the temp dir,
//! with a marker file naming the owner, removed when dropped unless kept.

use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::{Owner, DIR_PREFIX, MARKER};

/// A marked scratch dir; removed on drop unless [`Scratch::set_keep`] said
/// to keep it.
#[derive(Debug)]
pub struct Scratch {
    path: PathBuf,
    keep: AtomicBool,
}

impl Scratch {
    /// A new dir `<temp dir>/lockcheck-<name>-XXXXXX` owned by this process.
    pub fn new(name: &str) -> io::Result<Scratch> {
        Scratch::new_in(&std::env::temp_dir(), name)
    }

    /// A new dir `<parent>/lockcheck-<name>-XXXXXX` owned by this process.
    pub fn new_in(parent: &Path, name: &str) -> io::Result<Scratch> {
        let path = tempfile::Builder::new()
            .prefix(&format!("{DIR_PREFIX}{name}-"))
            .tempdir_in(parent)?
            .keep();
        Scratch::mark(path)
    }

    /// Create `path` (it must not exist yet) as a scratch dir owned by this
    /// process.
    pub fn create(path: &Path) -> io::Result<Scratch> {
        fs::create_dir(path)?;
        Scratch::mark(path.to_path_buf())
    }

    fn mark(path: PathBuf) -> io::Result<Scratch> {
        if let Err(e) = fs::write(path.join(MARKER), format!("{}\n", Owner::this_process())) {
            let _ = fs::remove_dir_all(&path);
            return Err(e);
        }
        Ok(Scratch {
            path,
            keep: AtomicBool::new(false),
        })
    }

    /// The dir.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether to leave the dir in place when dropped (a report points at it).
    pub fn set_keep(&self, keep: bool) {
        self.keep.store(keep, Ordering::SeqCst);
    }

    /// Whether the dir is to be kept.
    pub fn kept(&self) -> bool {
        self.keep.load(Ordering::SeqCst)
    }

    /// Make a kept dir an ordinary one: without its marker no reaper ever
    /// removes it.
    pub fn unmark(&self) -> io::Result<()> {
        match fs::remove_file(self.path.join(MARKER)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Remove the dir now, kept or not; a dir already gone is fine.
    pub fn remove(&self) -> io::Result<()> {
        match remove_marked(&self.path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound && !self.path.exists() => Ok(()),
            other => other,
        }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if !self.kept() {
            let _ = self.remove();
        }
    }
}

/// Remove a marked dir, its marker last, so that a removal cut short
/// leaves a dir that is still recognisably ours (a dir whose marker is
/// gone already is removed all the same).
fn remove_marked(dir: &Path) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_name() == MARKER {
            continue;
        }
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            fs::remove_dir_all(&path)?;
        } else {
            fs::remove_file(&path)?;
        }
    }
    match fs::remove_file(dir.join(MARKER)) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    fs::remove_dir(dir)
}

/// The owner a dir's marker names, if it is a real dir of this user with a
/// readable marker.
fn owner_of(dir: &Path) -> Option<Owner> {
    let meta = fs::symlink_metadata(dir).ok()?;
    if !meta.is_dir() || meta.uid() != nix::unistd::geteuid().as_raw() {
        return None;
    }
    let marker = dir.join(MARKER);
    if !fs::symlink_metadata(&marker).ok()?.is_file() {
        return None;
    }
    Owner::parse(&fs::read_to_string(marker).ok()?)
}

/// Remove `dir` if it is a scratch dir whose owner no longer runs; whether
/// it did.
pub fn reap_if_dead(dir: &Path) -> bool {
    owner_of(dir).is_some_and(|owner| !owner.is_alive()) && remove_marked(dir).is_ok()
}

/// Remove every marked `lockcheck-*` dir directly under `tmp` whose owner no
/// longer runs; returns how many. Unmarked dirs and live owners' dirs stay.
pub fn reap_dead_dirs(tmp: &Path) -> usize {
    let Ok(entries) = fs::read_dir(tmp) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let named = entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.starts_with(DIR_PREFIX));
        if !named {
            continue;
        }
        if reap_if_dead(&entry.path()) {
            removed += 1;
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removed_on_drop_unless_kept() {
        let parent = tempfile::tempdir().unwrap();
        let scratch = Scratch::new_in(parent.path(), "t").unwrap();
        let path = scratch.path().to_path_buf();
        assert!(path
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("lockcheck-t-"));
        fs::create_dir_all(path.join("a/b")).unwrap();
        fs::write(path.join("a/b/f"), "x").unwrap();
        drop(scratch);
        assert!(!path.exists());

        let kept = Scratch::new_in(parent.path(), "t").unwrap();
        kept.set_keep(true);
        kept.unmark().unwrap();
        let path = kept.path().to_path_buf();
        drop(kept);
        assert!(path.exists() && !path.join(MARKER).exists());
        assert_eq!(
            reap_dead_dirs(parent.path()),
            0,
            "a kept dir is nobody's scratch"
        );

        let named = Scratch::create(&parent.path().join("cell")).unwrap();
        assert!(named.path().join(MARKER).exists());
        assert!(Scratch::create(named.path()).is_err(), "never reuses a dir");
    }

    #[test]
    fn only_dead_owners_dirs_are_reaped() {
        let parent = tempfile::tempdir().unwrap();
        let live = Scratch::new_in(parent.path(), "live").unwrap();
        live.set_keep(true);
        let dead = parent.path().join("lockcheck-dead-1");
        fs::create_dir_all(dead.join("root/x")).unwrap();
        let me = Owner::this_process();
        let gone = Owner {
            start_time: me.start_time + 1,
            ..me
        };
        fs::write(dead.join(MARKER), gone.to_string()).unwrap();
        let unmarked = parent.path().join("lockcheck-unmarked");
        fs::create_dir(&unmarked).unwrap();
        let foreign = parent.path().join("other-dead");
        fs::create_dir(&foreign).unwrap();
        fs::write(foreign.join(MARKER), gone.to_string()).unwrap();

        assert_eq!(reap_dead_dirs(parent.path()), 1);
        assert!(!dead.exists());
        assert!(live.path().exists() && unmarked.exists() && foreign.exists());
    }
}
