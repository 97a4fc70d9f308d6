//! refsup's own memory beside the engine, in its state dir (under the
//! root, so it survives a refsup restart and a reboot): small JSON maps,
//! each replaced atomically (temp file, fsync, rename, fsync dir).
//! `images.json` remembers the id of every image tag refsup removed;
//! `relabels.json` holds the release of containers relabelled in place.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::de::DeserializeOwned;
use serde::Serialize;

/// One JSON map file.
#[derive(Debug, Clone)]
pub(super) struct MapFile {
    dir: PathBuf,
    name: &'static str,
}

impl MapFile {
    /// `dir/name` (the dir must exist).
    pub fn new(dir: &Path, name: &'static str) -> MapFile {
        MapFile {
            dir: dir.to_path_buf(),
            name,
        }
    }

    /// The map; a missing file is empty, an unreadable or corrupt one is
    /// empty with a warning (it only ever holds hints).
    pub fn load<V: DeserializeOwned>(&self) -> BTreeMap<String, V> {
        let path = self.dir.join(self.name);
        match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                tracing::warn!(file = %path.display(), error = %e, "ignoring corrupt state file");
                BTreeMap::new()
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => {
                tracing::warn!(file = %path.display(), error = %e, "cannot read state file");
                BTreeMap::new()
            }
        }
    }

    /// Replace the file with `map`, atomically and durably.
    pub fn save<V: Serialize>(&self, map: &BTreeMap<String, V>) -> io::Result<()> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let bytes = serde_json::to_vec_pretty(map).map_err(io::Error::other)?;
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let tmp = self
            .dir
            .join(format!(".tmp-{}-{n}-{}", std::process::id(), self.name));
        let result = (|| {
            let mut file = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
            file.write_all(&bytes)?;
            file.sync_all()?;
            fs::rename(&tmp, self.dir.join(self.name))?;
            File::open(&self.dir)?.sync_all()
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result
    }

    /// Where it lives, for messages.
    pub fn path(&self) -> PathBuf {
        self.dir.join(self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saves_and_loads_and_survives_garbage() {
        let dir = tempfile::tempdir().unwrap();
        let file = MapFile::new(dir.path(), "m.json");
        assert!(file.load::<u64>().is_empty());
        file.save(&BTreeMap::from([("a".to_string(), 1u64)]))
            .unwrap();
        assert_eq!(file.load::<u64>()["a"], 1);
        fs::write(file.path(), b"{not json").unwrap();
        assert!(file.load::<u64>().is_empty());
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temp files left"
        );
    }
}
