//! A build context assembled in a temp dir: the `Dockerfile` at its root and
//! the files of the image under `rootfs/`, each with the exact mode it gets
//! (owner and group are always root), so that the Dockerfile only has to
//! `COPY rootfs/ /`.

use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use anyhow::{bail, Context as _, Result};
use tempfile::TempDir;

use crate::ldd::shared_libs;

/// The context directory holding the image's files.
pub const ROOTFS: &str = "rootfs";

/// A build context under construction (removed when dropped).
#[derive(Debug)]
pub struct Context {
    dir: TempDir,
}

impl Context {
    /// An empty context with `dockerfile` as its `Dockerfile`.
    pub fn new(dockerfile: &str) -> Result<Context> {
        let dir = tempfile::Builder::new()
            .prefix("lockcheck-image-")
            .tempdir()
            .context("cannot create a temp dir for an image context")?;
        let ctx = Context { dir };
        std::fs::create_dir(ctx.dir.path().join(ROOTFS))?;
        write_mode(
            &ctx.dir.path().join("Dockerfile"),
            dockerfile.as_bytes(),
            0o644,
        )?;
        Ok(ctx)
    }

    /// The context's root directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Copies the content of host file `src` (symlinks followed) to `dest`,
    /// an absolute path in the image, with permission bits `mode`.
    pub fn copy(&self, src: &Path, dest: &str, mode: u32) -> Result<()> {
        let content =
            std::fs::read(src).with_context(|| format!("cannot read {}", src.display()))?;
        self.write(dest, &content, mode)
    }

    /// Copies host program `src` to the same path in the image, with its
    /// permission bits (set-id bits dropped) and every shared library and the
    /// loader it needs, each at the path the host's loader finds it at.
    pub fn copy_program(&self, src: &Path) -> Result<()> {
        let dest = src.to_str().context("program path is not UTF-8")?;
        let mode = std::fs::metadata(src)
            .with_context(|| format!("cannot stat {}", src.display()))?
            .permissions()
            .mode()
            & 0o777;
        self.copy(src, dest, mode)?;
        for lib in shared_libs(src)? {
            let dest = lib.to_str().context("library path is not UTF-8")?;
            if !self.host_path(dest)?.exists() {
                self.copy(&lib, dest, 0o755)?;
            }
        }
        Ok(())
    }

    /// Writes `content` to `dest`, an absolute path in the image, with
    /// permission bits `mode`; missing parent directories get mode 0755.
    pub fn write(&self, dest: &str, content: &[u8], mode: u32) -> Result<()> {
        let path = self.host_path(dest)?;
        self.parents(&path)?;
        write_mode(&path, content, mode)
    }

    /// Creates directory `dest` in the image with mode `mode` (such as
    /// `0o1777` for `/tmp`).
    pub fn dir(&self, dest: &str, mode: u32) -> Result<()> {
        let path = self.host_path(dest)?;
        self.parents(&path)?;
        if !path.is_dir() {
            std::fs::create_dir(&path)?;
        }
        set_mode(&path, mode)
    }

    /// Creates symlink `dest` in the image pointing at `target`.
    pub fn symlink(&self, dest: &str, target: &str) -> Result<()> {
        let path = self.host_path(dest)?;
        self.parents(&path)?;
        symlink(target, &path).with_context(|| format!("cannot create symlink {dest}"))
    }

    /// Where image path `dest` (absolute, no `..`) lives in the context.
    fn host_path(&self, dest: &str) -> Result<PathBuf> {
        let rel = Path::new(dest)
            .strip_prefix("/")
            .with_context(|| format!("image path {dest} is not absolute"))?;
        if rel.components().any(|c| !matches!(c, Component::Normal(_))) {
            bail!("image path {dest} is not plain");
        }
        Ok(self.dir.path().join(ROOTFS).join(rel))
    }

    /// Creates the missing parents of `path` (inside the rootfs) as 0755.
    fn parents(&self, path: &Path) -> Result<()> {
        let rootfs = self.dir.path().join(ROOTFS);
        let parent = path.parent().unwrap_or(&rootfs);
        let mut missing = Vec::new();
        let mut dir = parent;
        while dir != rootfs && !dir.exists() {
            missing.push(dir.to_path_buf());
            dir = dir.parent().unwrap_or(&rootfs);
        }
        for dir in missing.iter().rev() {
            std::fs::create_dir(dir)?;
            set_mode(dir, 0o755)?;
        }
        Ok(())
    }
}

fn write_mode(path: &Path, content: &[u8], mode: u32) -> Result<()> {
    std::fs::write(path, content).with_context(|| format!("cannot write {}", path.display()))?;
    set_mode(path, mode)
}

fn set_mode(path: &Path, mode: u32) -> Result<()> {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("cannot chmod {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn files_dirs_and_links_land_under_rootfs_with_their_modes() {
        let ctx = Context::new("FROM scratch\n").unwrap();
        ctx.write("/etc/passwd", b"root:x:0:0::/:/bin/sh\n", 0o644)
            .unwrap();
        ctx.dir("/tmp", 0o1777).unwrap();
        ctx.symlink("/bin/sh", "busybox").unwrap();
        let root = ctx.path().join(ROOTFS);
        assert_eq!(
            std::fs::metadata(root.join("etc")).unwrap().mode() & 0o7777,
            0o755
        );
        assert_eq!(
            std::fs::metadata(root.join("tmp")).unwrap().mode() & 0o7777,
            0o1777
        );
        assert_eq!(
            std::fs::read_link(root.join("bin/sh")).unwrap(),
            Path::new("busybox")
        );
        assert!(ctx.path().join("Dockerfile").is_file());
    }

    #[test]
    fn paths_must_be_absolute_and_plain() {
        let ctx = Context::new("FROM scratch\n").unwrap();
        assert!(ctx.write("etc/passwd", b"", 0o644).is_err());
        assert!(ctx.write("/../escape", b"", 0o644).is_err());
    }
}
