//! A fresh directory per probe: the lock dir the tool works in, a place for
//! symlink targets outside it, the tool's working dir, and the gate's own
//! files (kept out of what the probes observe).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use lockgates::Profile;

/// One probe's directory tree, removed when dropped.
#[derive(Debug)]
pub struct Sandbox {
    dir: tempfile::TempDir,
    lock_name: &'static str,
}

impl Sandbox {
    /// A new tree under the system temp dir:
    /// `lockdir/` (mode 0777, as the reference supervisor makes it),
    /// `outside/`, `work/` (the tool's cwd and TMPDIR) and `gate/`. The lock
    /// is named as `profile`'s first lock file (`updates.lock`, or
    /// `resin-updates.lock` before 7.22.0).
    pub fn new(profile: &Profile) -> Result<Sandbox> {
        let dir = tempfile::Builder::new()
            .prefix("lockcheck-gate-")
            .tempdir()
            .context("cannot make a temp dir for a gate probe")?;
        let lock_name = profile
            .lock_files()
            .first()
            .map_or("updates.lock", |f| f.name);
        let sandbox = Sandbox { dir, lock_name };
        for sub in [
            sandbox.lock_dir(),
            sandbox.outside(),
            sandbox.work(),
            sandbox.gate(),
        ] {
            std::fs::create_dir(&sub).with_context(|| format!("creating {}", sub.display()))?;
        }
        std::fs::set_permissions(sandbox.lock_dir(), std::fs::Permissions::from_mode(0o777))
            .context("chmod 0777 on the lock dir")?;
        Ok(sandbox)
    }

    /// The top of the tree.
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// The dir the lock lives in (the service's `/tmp/balena`).
    pub fn lock_dir(&self) -> PathBuf {
        self.root().join("lockdir")
    }

    /// The lock path the tool is given (`{path}`).
    pub fn lock_path(&self) -> PathBuf {
        self.lock_dir().join(self.lock_name)
    }

    /// Where symlink targets live, outside the lock dir.
    pub fn outside(&self) -> PathBuf {
        self.root().join("outside")
    }

    /// The tool's working dir and TMPDIR.
    pub fn work(&self) -> PathBuf {
        self.root().join("work")
    }

    /// The gate's scripts, FIFOs, witness and output files.
    pub fn gate(&self) -> PathBuf {
        self.root().join("gate")
    }
}
