//! The on-disk state of the process runtime: one JSON record per container
//! (`<id>.json`) and the simulated image store (`images.json`), each replaced
//! atomically (temp file in the same dir, fsync, rename, fsync dir).

use std::collections::BTreeSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use super::super::{ContainerStatus, ServiceInstance};

/// File name of the simulated image store inside the state dir.
pub(super) const IMAGES_FILE: &str = "images.json";

/// Prefix of temp files (never read as records; leftovers are deleted).
const TMP_PREFIX: &str = ".tmp-";

/// One container as persisted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct Record {
    /// Runtime-unique id, `<appId>_<service>_<seq>`; also the file stem.
    pub id: String,
    /// Creation sequence number (orders hand-over pairs old-to-new).
    pub seq: u64,
    /// What was asked for (commit/release follow relabels).
    pub spec: ServiceInstance,
    /// Last known status; the truth is re-checked against `/proc`.
    pub status: ContainerStatus,
    /// Main process id (kept after exit for diagnosis).
    pub pid: Option<u32>,
    /// Field 22 of `/proc/<pid>/stat` when it was started.
    pub start_time: Option<u64>,
    /// Boot id it was started in.
    #[serde(default)]
    pub boot_id: Option<String>,
}

impl Record {
    /// File name of this record in the state dir.
    pub fn file_name(&self) -> String {
        format!("{}.json", self.id)
    }
}

/// Write `bytes` to `dir/name` atomically and durably.
pub(super) fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let tmp = dir.join(format!("{TMP_PREFIX}{}-{n}-{name}", std::process::id()));
    let result = (|| {
        let mut file = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, dir.join(name))?;
        sync_dir(dir)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Delete `dir/name` durably; a missing file is fine.
pub(super) fn delete(dir: &Path, name: &str) -> io::Result<()> {
    match fs::remove_file(dir.join(name)) {
        Ok(()) => sync_dir(dir),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Persist one record.
pub(super) fn save(dir: &Path, record: &Record) -> io::Result<()> {
    let bytes = serde_json::to_vec_pretty(record).map_err(io::Error::other)?;
    write_atomic(dir, &record.file_name(), &bytes)
}

/// Every readable record in `dir`. Corrupt or misnamed files are skipped with
/// a warning; leftover temp files are deleted.
pub(super) fn load_all(dir: &Path) -> io::Result<Vec<Record>> {
    let mut records = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if name.starts_with(TMP_PREFIX) {
            let _ = fs::remove_file(&path);
            continue;
        }
        if name == IMAGES_FILE || !name.ends_with(".json") {
            continue;
        }
        match read_record(&path) {
            Ok(record) if record.file_name() == name => records.push(record),
            Ok(record) => tracing::warn!(
                file = %path.display(),
                id = %record.id,
                "skipping container record whose id does not match its file name"
            ),
            Err(e) => tracing::warn!(
                file = %path.display(),
                error = %e,
                "skipping unreadable container record"
            ),
        }
    }
    Ok(records)
}

fn read_record(path: &PathBuf) -> io::Result<Record> {
    let bytes = fs::read(path)?;
    serde_json::from_slice(&bytes).map_err(io::Error::other)
}

/// The image store; a missing file is empty, a corrupt one is empty with a
/// warning.
pub(super) fn load_images(dir: &Path) -> BTreeSet<String> {
    let path = dir.join(IMAGES_FILE);
    match fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            tracing::warn!(file = %path.display(), error = %e, "ignoring corrupt image store");
            BTreeSet::new()
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => BTreeSet::new(),
        Err(e) => {
            tracing::warn!(file = %path.display(), error = %e, "cannot read image store");
            BTreeSet::new()
        }
    }
}

/// Persist the image store.
pub(super) fn save_images(dir: &Path, images: &BTreeSet<String>) -> io::Result<()> {
    let bytes = serde_json::to_vec_pretty(images).map_err(io::Error::other)?;
    write_atomic(dir, IMAGES_FILE, &bytes)
}
