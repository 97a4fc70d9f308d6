//! Crash-safe state under `<root>/mnt/state/refsup/`: every write is an atomic
//! replace (a fresh temp file made with `O_EXCL|O_NOFOLLOW`, fsync, rename,
//! fsync of the directory), so a SIGKILL at any instant leaves either the old
//! or the new content, never a torn file; concurrent writers each get their
//! own temp file; and no write follows a symlink out of the device root.

use std::ffi::OsString;
use std::fs::File;
use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result};
use nix::fcntl::{openat, renameat, OFlag};
use nix::sys::stat::Mode;
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use updatelock::Beneath;

use crate::target::TargetState;

/// Temp files made by this process so far (part of each temp file's name).
static TEMP_FILES: AtomicU64 = AtomicU64::new(0);

/// Write `bytes` to `path` (under `root`) atomically and durably. Missing
/// parent dirs are created; a symlink anywhere below the root, or at the temp
/// path, is refused rather than followed.
pub fn atomic_write(root: &Beneath, path: &Path, bytes: &[u8]) -> Result<()> {
    write_confined(root, path, bytes).with_context(|| format!("writing {}", path.display()))
}

fn write_confined(root: &Beneath, path: &Path, bytes: &[u8]) -> Result<()> {
    let parent = path.parent().context("no parent directory")?;
    let name = path.file_name().context("no file name")?;
    let dir = root.open_dir(parent, true)?;
    let (tmp, fd) = create_temp(&dir, name)?;
    // SAFETY: openat just returned this descriptor; File takes sole ownership.
    let mut file = unsafe { File::from_raw_fd(fd) };
    let written = (|| -> Result<()> {
        file.write_all(bytes)?;
        file.sync_all()?;
        renameat(
            Some(dir.as_raw_fd()),
            tmp.as_os_str(),
            Some(dir.as_raw_fd()),
            name,
        )?;
        Ok(())
    })();
    if written.is_err() {
        let _ = nix::unistd::unlinkat(
            Some(dir.as_raw_fd()),
            tmp.as_os_str(),
            nix::unistd::UnlinkatFlags::NoRemoveDir,
        );
        return written;
    }
    sync_dir(&dir)
}

/// How many names [`create_temp`] tries before giving up.
const TEMP_TRIES: u32 = 1000;

/// A new temp file beside `name` in `dir`, made with `O_EXCL|O_NOFOLLOW`:
/// an entry already at a candidate name (a leftover, or a planted link) is
/// skipped, never opened.
fn create_temp(dir: &OwnedFd, name: &std::ffi::OsStr) -> Result<(OsString, i32)> {
    let flags =
        OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_WRONLY | OFlag::O_CLOEXEC;
    for _ in 0..TEMP_TRIES {
        let mut tmp = OsString::from(".");
        tmp.push(name);
        tmp.push(format!(
            ".tmp-{}-{}",
            std::process::id(),
            TEMP_FILES.fetch_add(1, Ordering::Relaxed)
        ));
        let mode = Mode::from_bits_truncate(0o644);
        match openat(Some(dir.as_raw_fd()), tmp.as_os_str(), flags, mode) {
            Ok(fd) => return Ok((tmp, fd)),
            Err(nix::errno::Errno::EEXIST | nix::errno::Errno::ELOOP) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    anyhow::bail!("no free temp file name after {TEMP_TRIES} tries")
}

fn sync_dir(dir: &OwnedFd) -> Result<()> {
    nix::unistd::fsync(dir.as_raw_fd())?;
    Ok(())
}

/// Read a JSON file; `Ok(None)` when it does not exist.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<Option<T>> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .with_context(|| format!("{} is not valid state", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// Write a JSON file atomically (see [`atomic_write`]).
pub fn write_json<T: Serialize>(root: &Beneath, path: &Path, value: &T) -> Result<()> {
    let bytes = serde_json::to_vec_pretty(value).context("serialising state")?;
    atomic_write(root, path, &bytes)
}

/// Device facts that outlive the supervisor process.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DeviceRecord {
    /// Boots seen so far (the first start is boot 1).
    pub boot_count: u64,
    /// Whether the lock override was on at the last config apply, so that
    /// turning it on (not keeping it on) deletes the existing user locks.
    #[serde(default)]
    pub override_was_on: bool,
}

/// The supervisor's persistent state. Saves of one kind are serialised, so
/// what a save returns for is what the file holds and a restart loads.
#[derive(Debug)]
pub struct Store {
    root: Beneath,
    dir: PathBuf,
    saving: std::sync::Mutex<()>,
}

impl Store {
    /// A store in `dir` under the device `root` (created on first write).
    pub fn new(root: Beneath, dir: PathBuf) -> Store {
        Store {
            root,
            dir,
            saving: std::sync::Mutex::new(()),
        }
    }

    /// Run `commit` while holding the store's write lock, after `value` is
    /// durably saved at `path`: a caller publishes its in-memory copy in
    /// `commit`, so concurrent saves publish in the order they hit the disk.
    fn save<T: Serialize>(&self, path: &Path, value: &T, commit: impl FnOnce()) -> Result<()> {
        let _serial = self.saving.lock().unwrap_or_else(|e| e.into_inner());
        write_json(&self.root, path, value)?;
        commit();
        Ok(())
    }

    fn target_path(&self) -> PathBuf {
        self.dir.join("target.json")
    }

    fn device_path(&self) -> PathBuf {
        self.dir.join("device.json")
    }

    /// The last accepted target state (empty before the first).
    pub fn load_target(&self) -> Result<TargetState> {
        Ok(read_json(&self.target_path())?.unwrap_or_default())
    }

    /// Persist an accepted target state, then run `commit` (still in order
    /// with other saves); returns once it is durable.
    pub fn save_target(&self, target: &TargetState, commit: impl FnOnce()) -> Result<()> {
        self.save(&self.target_path(), target, commit)
    }

    /// Device facts.
    pub fn load_device(&self) -> Result<DeviceRecord> {
        Ok(read_json(&self.device_path())?.unwrap_or_default())
    }

    /// Persist device facts.
    pub fn save_device(&self, device: &DeviceRecord) -> Result<()> {
        self.save(&self.device_path(), device, || ())
    }
}
