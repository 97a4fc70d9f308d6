//! The workspace's own programs that go into the images, built statically so
//! that they run in a `FROM scratch` image: `fixture-app` and `refsup`.
//!
//! They come from `cargo build --release --target x86_64-unknown-linux-gnu`
//! with `-C target-feature=+crt-static`, in the workspace the crate was
//! compiled from, into its own target dir `<workspace>/target/static` (so the
//! normal builds keep their cache). With `LOCKCHECK_STATIC_BINS=<dir>` set
//! they are taken from `<dir>` instead, for an installed lockcheck without
//! sources. Either way each is checked to be really static.
//!
//! Each program is built only when its image is asked for (the fixture
//! image never waits for refsup's build), at most once per process (every
//! caller waits for the first), and once at a time per target dir (an exclusive `flock` on a file in it), and
//! cargo's output is shown only if the build fails.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{anyhow, bail, Context, Result};
use nix::fcntl::{Flock, FlockArg};
use tokio::sync::OnceCell;

use crate::elf::check_static;

/// Env var naming a directory with prebuilt static `fixture-app` and
/// `refsup` to use instead of building them.
pub const STATIC_BINS_ENV: &str = "LOCKCHECK_STATIC_BINS";

/// The target triple the static binaries are built for.
const TARGET: &str = "x86_64-unknown-linux-gnu";

/// How many of cargo's last output lines a failed build reports.
const ERROR_TAIL: usize = 40;

/// A workspace program that goes into an image, built statically.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StaticBin {
    /// The fixture service program (package `fixture-app`), for the
    /// fixture image.
    FixtureApp,
    /// The reference supervisor (package `refsup`), for the refsup image.
    Refsup,
}

/// The outcome of each program's one build in this process; an error is
/// kept as its message so that later callers get it without building again.
static FIXTURE_APP: OnceCell<Result<PathBuf, String>> = OnceCell::const_new();
static REFSUP: OnceCell<Result<PathBuf, String>> = OnceCell::const_new();

impl StaticBin {
    /// The cargo package, which is also the binary's name.
    pub fn package(self) -> &'static str {
        match self {
            StaticBin::FixtureApp => "fixture-app",
            StaticBin::Refsup => "refsup",
        }
    }

    /// The static binary: from [`STATIC_BINS_ENV`] if set, else built, only
    /// this program, so a fixture image never waits for refsup's build (the
    /// first call of a process runs cargo, which is a no-op of about a second
    /// when nothing changed and minutes from cold; later calls return at
    /// once).
    pub async fn get(self) -> Result<PathBuf> {
        let cell = match self {
            StaticBin::FixtureApp => &FIXTURE_APP,
            StaticBin::Refsup => &REFSUP,
        };
        let outcome = cell
            .get_or_init(|| async {
                tokio::task::spawn_blocking(move || locate(self))
                    .await
                    .map_err(|e| anyhow!("the static build task failed: {e}"))
                    .and_then(|r| r)
                    .map_err(|e| format!("{e:#}"))
            })
            .await;
        outcome.clone().map_err(|e| anyhow!("{e}"))
    }
}

/// Finds or builds `bin` and checks it; blocking.
fn locate(bin: StaticBin) -> Result<PathBuf> {
    let prebuilt = std::env::var_os(STATIC_BINS_ENV).filter(|d| !d.is_empty());
    locate_in(bin, prebuilt.as_deref().map(Path::new))
}

/// `bin` in `prebuilt` if given, else built; checked to be static.
fn locate_in(bin: StaticBin, prebuilt: Option<&Path>) -> Result<PathBuf> {
    let path = match prebuilt {
        Some(dir) => dir.join(bin.package()),
        None => build(&workspace_root()?, bin)?,
    };
    if !path.is_file() {
        bail!("{} does not exist", path.display());
    }
    check_static(&path)?;
    Ok(path)
}

/// The workspace this crate was compiled from.
fn workspace_root() -> Result<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let manifest = root.join("Cargo.toml");
    let is_workspace = std::fs::read_to_string(&manifest)
        .map(|m| m.contains("[workspace]"))
        .unwrap_or(false);
    if !is_workspace {
        bail!(
            "no lockcheck sources at {} to build fixture-app and refsup from; \
             set {STATIC_BINS_ENV} to a directory holding static builds of both",
            root.display()
        );
    }
    Ok(root.canonicalize().unwrap_or(root))
}

/// Runs the static cargo build of `bin` in `root` under the target dir's
/// lock.
fn build(root: &Path, bin: StaticBin) -> Result<PathBuf> {
    let target_dir = root.join("target").join("static");
    std::fs::create_dir_all(&target_dir)
        .with_context(|| format!("cannot create {}", target_dir.display()))?;
    let _lock = lock_dir(&target_dir)?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(&cargo)
        .current_dir(root)
        .args(["build", "--release", "--target", TARGET, "--target-dir"])
        .arg(&target_dir)
        .args(["-p", bin.package()])
        .env("RUSTFLAGS", "-C target-feature=+crt-static")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_TARGET_DIR")
        .env("CARGO_TERM_COLOR", "never")
        .output()
        .with_context(|| format!("cannot run {}", Path::new(&cargo).display()))?;
    if !output.status.success() {
        let log = String::from_utf8_lossy(&output.stderr);
        let lines: Vec<&str> = log.lines().collect();
        let tail = lines[lines.len().saturating_sub(ERROR_TAIL)..].join("\n");
        bail!(
            "the static build of {} failed ({}) in {}:\n{tail}",
            bin.package(),
            output.status,
            root.display()
        );
    }
    Ok(target_dir.join(TARGET).join("release").join(bin.package()))
}

/// Takes the exclusive lock of `dir`, waiting for whoever holds it.
fn lock_dir(dir: &Path) -> Result<Flock<File>> {
    let path = dir.join(".lockcheck-images.lock");
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    Flock::lock(file, FlockArg::LockExclusive)
        .map_err(|(_, errno)| anyhow!("cannot lock {}: {errno}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir_of(program: &str) -> Option<tempfile::TempDir> {
        let program = Path::new(program);
        if !program.is_file() {
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        for name in ["fixture-app", "refsup"] {
            std::fs::copy(program, dir.path().join(name)).unwrap();
        }
        Some(dir)
    }

    #[test]
    fn prebuilt_static_binaries_are_taken_as_they_are() {
        let Some(dir) = dir_of("/bin/busybox") else {
            return;
        };
        for bin in [StaticBin::FixtureApp, StaticBin::Refsup] {
            let path = locate_in(bin, Some(dir.path())).unwrap();
            assert_eq!(path, dir.path().join(bin.package()));
        }
    }

    #[test]
    fn prebuilt_dynamic_binaries_are_refused() {
        let Some(dir) = dir_of("/usr/bin/flock") else {
            return;
        };
        let err = locate_in(StaticBin::FixtureApp, Some(dir.path()))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("fixture-app is not statically linked"),
            "{err}"
        );
    }

    #[test]
    fn one_program_needs_only_its_own_binary() {
        let Some(dir) = dir_of("/bin/busybox") else {
            return;
        };
        std::fs::remove_file(dir.path().join("refsup")).unwrap();
        let path = locate_in(StaticBin::FixtureApp, Some(dir.path())).unwrap();
        assert_eq!(path, dir.path().join("fixture-app"));
        let err = locate_in(StaticBin::Refsup, Some(dir.path()))
            .unwrap_err()
            .to_string();
        assert!(err.contains("refsup does not exist"), "{err}");
    }

    #[test]
    fn missing_prebuilt_binaries_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let err = locate_in(StaticBin::Refsup, Some(dir.path()))
            .unwrap_err()
            .to_string();
        assert!(err.contains("refsup does not exist"), "{err}");
    }
}
