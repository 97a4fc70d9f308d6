//! Metadata-only updates. Docker cannot change the labels of an existing
//! container, and recreating it would restart the service, which is exactly
//! what a metadata-only change must not do. Renaming would only carry the
//! release in a name. So refsup keeps an override per container id in its
//! state dir (`relabels.json`): the release a relabelled container now
//! belongs to. `list()` applies it over the labels; `remove()` drops it;
//! entries of containers gone from the engine are dropped at start.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, MutexGuard};

use serde::{Deserialize, Serialize};

use super::super::{RuntimeResult, ServiceInstance};
use super::errors::other;
use super::state_file::MapFile;

/// The release a container was relabelled to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct Release {
    /// Release commit.
    pub commit: String,
    /// Release id.
    pub release_id: u64,
}

/// The overrides, by container id.
pub(super) struct Relabels {
    map: Mutex<BTreeMap<String, Release>>,
    file: MapFile,
}

impl Relabels {
    /// The overrides kept in `file`.
    pub fn new(file: MapFile) -> Relabels {
        Relabels {
            map: Mutex::new(file.load()),
            file,
        }
    }

    fn map(&self) -> MutexGuard<'_, BTreeMap<String, Release>> {
        self.map
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Apply `id`'s override, if any, to `spec`.
    pub fn apply(&self, id: &str, spec: &mut ServiceInstance) {
        if let Some(release) = self.map().get(id) {
            spec.commit.clone_from(&release.commit);
            spec.release_id = release.release_id;
        }
    }

    /// Record that `id` now belongs to `release`.
    pub fn set(&self, id: &str, release: Release) -> RuntimeResult<()> {
        let mut map = self.map();
        let old = map.insert(id.to_string(), release);
        self.file.save(&map).map_err(|e| {
            match old {
                Some(old) => map.insert(id.to_string(), old),
                None => map.remove(id),
            };
            other(format_args!("cannot relabel container {id}"), e)
        })
    }

    /// Forget `id`'s override.
    pub fn forget(&self, id: &str) -> RuntimeResult<()> {
        let mut map = self.map();
        if map.remove(id).is_some() {
            self.file.save(&map).map_err(|e| {
                other(
                    format_args!("cannot update {}", self.file.path().display()),
                    e,
                )
            })?;
        }
        Ok(())
    }

    /// Drop the overrides of containers not in `existing`.
    pub fn retain(&self, existing: &BTreeSet<String>) {
        let mut map = self.map();
        let before = map.len();
        map.retain(|id, _| existing.contains(id));
        if map.len() != before {
            if let Err(e) = self.file.save(&map) {
                tracing::warn!(file = %self.file.path().display(), error = %e, "cannot update");
            }
        }
    }
}
