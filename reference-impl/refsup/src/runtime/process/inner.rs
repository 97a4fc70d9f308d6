//! The runtime's bookkeeping: the container table (records plus exit
//! watches), adoption of recorded processes and launching new ones.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use nix::sys::signal::Signal;
use tokio::sync::watch;
use tokio::task::AbortHandle;

use super::super::{Container, ContainerStatus, RuntimeError, RuntimeResult, ServiceInstance};
use super::exit_watch::{self, Target};
use super::record::{self, Record};
use super::{procfs, spawn};

/// Shared state of a `ProcessRuntime` (also held by its background tasks).
pub(super) struct Inner {
    /// Exported to services as `REFSUP_ROOT`.
    pub(super) root: PathBuf,
    /// Container records and `images.json`.
    pub(super) state_dir: PathBuf,
    /// Service logs.
    pub(super) log_dir: PathBuf,
    /// This boot's id.
    pub(super) boot_id: Option<String>,
    /// The container table.
    pub(super) state: Mutex<State>,
    /// The simulated image store.
    pub(super) images: Mutex<BTreeSet<String>>,
}

/// The container table.
pub(super) struct State {
    /// Containers by id.
    pub(super) entries: BTreeMap<String, Entry>,
    /// Sequence number of the next container created.
    pub(super) next_seq: u64,
    /// Set by `shutdown`: nothing starts any more.
    pub(super) shut_down: bool,
}

/// One container: its record and the watch on its process.
pub(super) struct Entry {
    /// As persisted.
    pub(super) record: Record,
    /// Becomes `true` once the recorded process has exited.
    pub(super) exited: watch::Receiver<bool>,
    /// The exit-watch task, if the process ran under this runtime.
    pub(super) watcher: Option<AbortHandle>,
}

/// `RuntimeError::Other` with context.
pub(super) fn other(what: impl std::fmt::Display, e: impl std::fmt::Display) -> RuntimeError {
    RuntimeError::Other(format!("{what}: {e}"))
}

/// Lock, ignoring poisoning (the data stays consistent: every update is a
/// whole-record replacement).
pub(super) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Inner {
    /// Whether the record's process is alive and is that process.
    pub(super) fn is_alive(&self, record: &Record) -> bool {
        match (record.pid, record.start_time) {
            (Some(pid), Some(start)) => procfs::is_same_alive(
                pid,
                start,
                record.boot_id.as_deref(),
                self.boot_id.as_deref(),
            ),
            _ => false,
        }
    }

    /// Persist `record`.
    pub(super) fn save(&self, record: &Record) -> RuntimeResult<()> {
        record::save(&self.state_dir, record)
            .map_err(|e| other(format_args!("cannot save container {}", record.id), e))
    }

    /// Persist `record`, logging a failure.
    fn save_or_warn(&self, record: &Record) {
        if let Err(e) = self.save(record) {
            tracing::warn!(error = %e, "container record not updated");
        }
    }

    /// An entry for a record found on disk: watched if its process runs.
    pub(super) fn adopt(self: &Arc<Self>, mut record: Record) -> Entry {
        let alive = self.is_alive(&record);
        let status = if alive {
            ContainerStatus::Running
        } else {
            ContainerStatus::Exited
        };
        if record.status != status {
            record.status = status;
            self.save_or_warn(&record);
        }
        match (alive, record.pid, record.start_time) {
            (true, Some(pid), Some(start_time)) => {
                tracing::info!(container = %record.id, pid, "adopting running service");
                let target = Target::Adopted { pid, start_time };
                let (exited, watcher) = self.watch(&record.id, pid, start_time, target);
                Entry {
                    record,
                    exited,
                    watcher: Some(watcher),
                }
            }
            _ => Entry {
                record,
                exited: watch::channel(true).1,
                watcher: None,
            },
        }
    }

    /// Watch `pid` in the background; the receiver turns `true` once it has
    /// exited and its record says so.
    fn watch(
        self: &Arc<Self>,
        id: &str,
        pid: u32,
        start_time: u64,
        target: Target,
    ) -> (watch::Receiver<bool>, AbortHandle) {
        let (tx, rx) = watch::channel(false);
        let weak = Arc::downgrade(self);
        let id = id.to_string();
        let task = tokio::spawn(async move {
            exit_watch::wait_exit(pid, target).await;
            if let Some(inner) = weak.upgrade() {
                inner.mark_exited(&id, pid, start_time);
            }
            let _ = tx.send(true);
        });
        (rx, task.abort_handle())
    }

    /// Record that `pid` (started at `start_time`) of `id` has exited.
    fn mark_exited(&self, id: &str, pid: u32, start_time: u64) {
        let mut state = lock(&self.state);
        if let Some(entry) = state.entries.get_mut(id) {
            let record = &mut entry.record;
            if record.pid == Some(pid)
                && record.start_time == Some(start_time)
                && record.status != ContainerStatus::Exited
            {
                record.status = ContainerStatus::Exited;
                tracing::info!(container = %id, pid, "service exited");
                self.save_or_warn(record);
            }
        }
    }

    /// Spawn `spec` and build the record and watcher for it (caller holds the
    /// state lock and inserts the entry).
    pub(super) fn launch(
        self: &Arc<Self>,
        id: String,
        seq: u64,
        spec: &ServiceInstance,
    ) -> RuntimeResult<Entry> {
        let spawned = spawn::spawn(spec, &self.root, &self.log_dir)?;
        let record = Record {
            id,
            seq,
            spec: spec.clone(),
            status: ContainerStatus::Running,
            pid: Some(spawned.pid),
            start_time: Some(spawned.start_time),
            boot_id: self.boot_id.clone(),
        };
        if let Err(e) = self.save(&record) {
            exit_watch::signal_group(spawned.pid, Signal::SIGKILL);
            return Err(e);
        }
        tracing::info!(container = %record.id, pid = spawned.pid, "service started");
        let target = Target::Child(spawned.child);
        let (exited, watcher) = self.watch(&record.id, spawned.pid, spawned.start_time, target);
        Ok(Entry {
            record,
            exited,
            watcher: Some(watcher),
        })
    }

    /// The API view of `record`, status checked against `/proc`.
    pub(super) fn container(&self, record: &Record) -> Container {
        let running = self.is_alive(record);
        Container {
            id: record.id.clone(),
            spec: record.spec.clone(),
            status: if running {
                ContainerStatus::Running
            } else {
                ContainerStatus::Exited
            },
            pid: record.pid.filter(|_| running),
        }
    }
}
