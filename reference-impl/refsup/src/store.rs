//! Crash-safe state under `<root>/mnt/state/refsup/`: every write is an atomic
//! replace (temp file, fsync, rename, fsync of the directory), so a SIGKILL at
//! any instant leaves either the old or the new content, never a torn file.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{de::DeserializeOwned, Deserialize, Serialize};

use crate::target::TargetState;

/// Write `bytes` to `path` atomically and durably.
pub fn atomic_write(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .with_context(|| format!("{} has no parent directory", path.display()))?;
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("state");
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| -> Result<()> {
        let mut file = File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, path)?;
        File::open(dir)?.sync_all()?;
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.with_context(|| format!("writing {}", path.display()))
}

/// Read a JSON file; `Ok(None)` when it does not exist.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<Option<T>> {
    match fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .with_context(|| format!("{} is not valid state", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// Write a JSON file atomically.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let bytes = serde_json::to_vec_pretty(value).context("serialising state")?;
    atomic_write(path, &bytes)
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

/// The supervisor's persistent state.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
}

impl Store {
    /// A store in `dir` (created on first write).
    pub fn new(dir: PathBuf) -> Store {
        Store { dir }
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

    /// Persist an accepted target state; returns once it is durable.
    pub fn save_target(&self, target: &TargetState) -> Result<()> {
        write_json(&self.target_path(), target)
    }

    /// Device facts.
    pub fn load_device(&self) -> Result<DeviceRecord> {
        Ok(read_json(&self.device_path())?.unwrap_or_default())
    }

    /// Persist device facts.
    pub fn save_device(&self, device: &DeviceRecord) -> Result<()> {
        write_json(&self.device_path(), device)
    }
}
