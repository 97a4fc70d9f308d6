//! The container operations on the table: create, start, stop (SIGTERM,
//! grace, SIGKILL), remove, relabel, list.

use std::sync::Arc;
use std::time::Duration;

use nix::sys::signal::Signal;

use super::super::{Container, RuntimeError, RuntimeResult, ServiceInstance};
use super::exit_watch;
use super::inner::{lock, other, Entry, Inner};
use super::record;

/// Grace period `remove` gives a container that is still running.
const REMOVE_GRACE: Duration = Duration::from_secs(10);

/// Why nothing starts after `shutdown`.
const SHUT_DOWN: &str = "the runtime is shut down (refsup is exiting)";

/// How long to wait for a process to go after SIGKILL before giving up.
const KILL_TIMEOUT: Duration = Duration::from_secs(30);

impl Inner {
    /// Every container, sorted by (app id, service, creation order).
    pub(super) fn list(&self) -> Vec<Container> {
        let state = lock(&self.state);
        let mut entries: Vec<&Entry> = state.entries.values().collect();
        entries.sort_by(|a, b| {
            let (a, b) = (&a.record, &b.record);
            (a.spec.app_id, &a.spec.service, a.seq, &a.id).cmp(&(
                b.spec.app_id,
                &b.spec.service,
                b.seq,
                &b.id,
            ))
        });
        entries
            .into_iter()
            .map(|e| self.container(&e.record))
            .collect()
    }

    /// Start `spec` as a new container.
    pub(super) fn create(self: &Arc<Self>, spec: &ServiceInstance) -> RuntimeResult<Container> {
        let mut state = lock(&self.state);
        if state.shut_down {
            return Err(RuntimeError::Start {
                app_id: spec.app_id,
                service: spec.service.clone(),
                reason: SHUT_DOWN.into(),
            });
        }
        let seq = state.next_seq;
        let id = format!("{}_{}_{}", spec.app_id, spec.service, seq);
        let entry = self.launch(id.clone(), seq, spec)?;
        state.next_seq = seq + 1;
        let container = self.container(&entry.record);
        state.entries.insert(id, entry);
        Ok(container)
    }

    /// Start `id` again unless it runs.
    pub(super) fn start(self: &Arc<Self>, id: &str) -> RuntimeResult<()> {
        let mut state = lock(&self.state);
        if state.shut_down {
            return Err(RuntimeError::Other(format!(
                "cannot start {id}: {SHUT_DOWN}"
            )));
        }
        let entry = state
            .entries
            .get_mut(id)
            .ok_or_else(|| RuntimeError::NoSuchContainer(id.to_string()))?;
        if self.is_alive(&entry.record) {
            return Ok(());
        }
        let spec = entry.record.spec.clone();
        *entry = self.launch(id.to_string(), entry.record.seq, &spec)?;
        Ok(())
    }

    /// Stop (if needed) and forget `id`.
    pub(super) async fn remove(&self, id: &str) -> RuntimeResult<()> {
        self.stop(id, REMOVE_GRACE).await?;
        let mut state = lock(&self.state);
        let Some(entry) = state.entries.get(id) else {
            return Ok(());
        };
        if self.is_alive(&entry.record) {
            return Err(RuntimeError::Other(format!(
                "container {id} was started again while being removed"
            )));
        }
        let file = entry.record.file_name();
        record::delete(&self.state_dir, &file)
            .map_err(|e| other(format_args!("cannot delete container {id}"), e))?;
        if let Some(entry) = state.entries.remove(id) {
            if let Some(watcher) = entry.watcher {
                watcher.abort();
            }
        }
        Ok(())
    }

    /// Point `id` at another release, process untouched.
    pub(super) fn relabel(&self, id: &str, commit: &str, release_id: u64) -> RuntimeResult<()> {
        let mut state = lock(&self.state);
        let entry = state
            .entries
            .get_mut(id)
            .ok_or_else(|| RuntimeError::NoSuchContainer(id.to_string()))?;
        let mut record = entry.record.clone();
        record.spec.commit = commit.to_string();
        record.spec.release_id = release_id;
        self.save(&record)?;
        entry.record = record;
        Ok(())
    }

    /// SIGTERM, wait up to `grace`, SIGKILL; returns once the main process
    /// is gone.
    pub(super) async fn stop(&self, id: &str, grace: Duration) -> RuntimeResult<()> {
        let (pid, mut exited) = {
            let state = lock(&self.state);
            let entry = state
                .entries
                .get(id)
                .ok_or_else(|| RuntimeError::NoSuchContainer(id.to_string()))?;
            match entry.record.pid {
                Some(pid) if self.is_alive(&entry.record) && !*entry.exited.borrow() => {
                    (pid, entry.exited.clone())
                }
                _ => return Ok(()),
            }
        };
        tracing::info!(container = %id, pid, ?grace, "stopping service");
        signal_service(pid, Signal::SIGTERM);
        let in_grace = tokio::time::timeout(grace, exited.wait_for(|e| *e))
            .await
            .is_ok();
        if in_grace {
            return self.check_gone(id, pid);
        }
        tracing::info!(container = %id, pid, "grace period over; killing service");
        signal_service(pid, Signal::SIGKILL);
        let killed = tokio::time::timeout(KILL_TIMEOUT, exited.wait_for(|e| *e))
            .await
            .is_ok();
        if killed {
            self.check_gone(id, pid)
        } else {
            Err(RuntimeError::Other(format!(
                "container {id}: pid {pid} still running {KILL_TIMEOUT:?} after SIGKILL"
            )))
        }
    }

    /// After the exit watch ended (or was dropped): is the process gone?
    fn check_gone(&self, id: &str, pid: u32) -> RuntimeResult<()> {
        let state = lock(&self.state);
        match state.entries.get(id) {
            Some(entry) if entry.record.pid == Some(pid) && self.is_alive(&entry.record) => Err(
                RuntimeError::Other(format!("container {id}: lost track of pid {pid}")),
            ),
            _ => Ok(()),
        }
    }
}

/// Signal the service's process group and, in case it left the group, its
/// main process.
fn signal_service(pid: u32, signal: Signal) {
    exit_watch::signal_group(pid, signal);
    if let Ok(raw) = i32::try_from(pid) {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(raw), signal);
    }
}
