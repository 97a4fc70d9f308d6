//! The process runtime: each service is a child process in its own process
//! group, with its stdout/stderr appended to a log file. No daemon: the
//! container records live as JSON files in the state dir, so a refsup
//! restarted after SIGKILL adopts the services that kept running (they are
//! in their own process groups, so the supervisor's death does not take
//! them down). Image "downloads" are simulated (a set of names on disk).
//!
//! Container ids are `<appId>_<service>_<seq>` (`seq` grows per runtime state
//! dir), so an old and a new instance of a service can run side by side
//! during a hand-over. A record's process counts as running only while its
//! pid is alive with the recorded start time (and boot id), so a reused pid
//! is never taken for the service. Like a container, a service is over when
//! its main process ends: whatever else is left in its process group is then
//! SIGKILLed.

mod exit_watch;
mod inner;
mod ops;
mod procfs;
mod record;
mod spawn;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::task::JoinSet;

use super::{Container, Runtime, RuntimeResult, ServiceInstance};
use inner::{lock, other, Inner, State};

/// Runs services as local processes; see the module docs.
///
/// Must be created and used inside a tokio runtime (with I/O and time
/// enabled). Dropping it stops watching the processes but leaves them
/// running, as a crashed supervisor would; a new `ProcessRuntime` over the
/// same state dir adopts them.
pub struct ProcessRuntime {
    inner: Arc<Inner>,
}

impl ProcessRuntime {
    /// A runtime whose services get `root` as `REFSUP_ROOT`, keeping its
    /// records in `state_dir` and service logs in `log_dir` (both created if
    /// missing, both expected under `root`). Recorded services whose process
    /// still runs are adopted; the others are marked exited. Corrupt record
    /// files are skipped with a warning.
    pub fn new(root: &Path, state_dir: PathBuf, log_dir: PathBuf) -> RuntimeResult<ProcessRuntime> {
        tokio::runtime::Handle::try_current()
            .map_err(|e| other("the process runtime needs a tokio runtime", e))?;
        for dir in [&state_dir, &log_dir] {
            std::fs::create_dir_all(dir)
                .map_err(|e| other(format_args!("cannot create {}", dir.display()), e))?;
        }
        let records = record::load_all(&state_dir)
            .map_err(|e| other(format_args!("cannot read {}", state_dir.display()), e))?;
        let images = record::load_images(&state_dir);
        let inner = Arc::new(Inner {
            root: root.to_path_buf(),
            state_dir,
            log_dir,
            boot_id: procfs::boot_id(),
            state: Mutex::new(State {
                entries: BTreeMap::new(),
                next_seq: 0,
                shut_down: false,
            }),
            images: Mutex::new(images),
        });
        {
            let mut state = lock(&inner.state);
            for record in records {
                state.next_seq = state.next_seq.max(record.seq + 1);
                let entry = inner.adopt(record);
                state.entries.insert(entry.record.id.clone(), entry);
            }
        }
        Ok(ProcessRuntime { inner })
    }

    /// Stop every running container concurrently, each with `grace` (used on
    /// shutdown and simulated reboot). Failures are logged.
    pub async fn stop_all(&self, grace: Duration) {
        let ids: Vec<String> = {
            let state = lock(&self.inner.state);
            state
                .entries
                .values()
                .filter(|e| self.inner.is_alive(&e.record))
                .map(|e| e.record.id.clone())
                .collect()
        };
        let mut tasks = JoinSet::new();
        for id in ids {
            let inner = Arc::clone(&self.inner);
            tasks.spawn(async move {
                let result = inner.stop(&id, grace).await;
                (id, result)
            });
        }
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok((_, Ok(()))) => {}
                Ok((id, Err(e))) => tracing::warn!(container = %id, error = %e, "stop failed"),
                Err(e) => tracing::warn!(error = %e, "stop task failed"),
            }
        }
    }
}

impl Drop for ProcessRuntime {
    fn drop(&mut self) {
        let state = lock(&self.inner.state);
        for entry in state.entries.values() {
            if let Some(watcher) = &entry.watcher {
                watcher.abort();
            }
        }
    }
}

#[async_trait]
impl Runtime for ProcessRuntime {
    fn name(&self) -> &'static str {
        "process"
    }

    async fn fetch_image(&self, image: &str) -> RuntimeResult<()> {
        let mut images = lock(&self.inner.images);
        if images.insert(image.to_string()) {
            if let Err(e) = record::save_images(&self.inner.state_dir, &images) {
                images.remove(image);
                return Err(other(format_args!("cannot record image {image}"), e));
            }
        }
        Ok(())
    }

    async fn has_image(&self, image: &str) -> RuntimeResult<bool> {
        Ok(lock(&self.inner.images).contains(image))
    }

    async fn remove_image(&self, image: &str) -> RuntimeResult<()> {
        let mut images = lock(&self.inner.images);
        if images.remove(image) {
            if let Err(e) = record::save_images(&self.inner.state_dir, &images) {
                images.insert(image.to_string());
                return Err(other(format_args!("cannot forget image {image}"), e));
            }
        }
        Ok(())
    }

    async fn list(&self) -> RuntimeResult<Vec<Container>> {
        Ok(self.inner.list())
    }

    async fn create_and_start(&self, spec: &ServiceInstance) -> RuntimeResult<Container> {
        self.inner.create(spec)
    }

    async fn start(&self, id: &str) -> RuntimeResult<()> {
        self.inner.start(id)
    }

    async fn stop(&self, id: &str, grace: Duration) -> RuntimeResult<()> {
        self.inner.stop(id, grace).await
    }

    async fn remove(&self, id: &str) -> RuntimeResult<()> {
        self.inner.remove(id).await
    }

    async fn relabel(&self, id: &str, commit: &str, release_id: u64) -> RuntimeResult<()> {
        self.inner.relabel(id, commit, release_id)
    }

    async fn shutdown(&self, grace: Duration) {
        // Under the table lock: a launch either finished before (and is
        // stopped below) or sees the flag and refuses.
        lock(&self.inner.state).shut_down = true;
        self.stop_all(grace).await;
    }
}
