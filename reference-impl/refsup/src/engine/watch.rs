//! inotify on the lock dirs and the state partition: a released lock or a
//! removed breadcrumb wakes the reconciler at once (U2) instead of polling.

use std::sync::Arc;

use anyhow::{Context, Result};
use notify::{RecursiveMode, Watcher};

use super::Engine;

impl Engine {
    /// (Re)arm the watcher; called at every boot since a reboot wipes the
    /// watched lock dirs.
    pub(super) fn watch(&self) -> Result<()> {
        let waker = Arc::clone(&self.waker);
        let mut watcher =
            notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
                // Opens and closes (our own confined lookups open every dir
                // on the way) change nothing: only changes wake the reconciler.
                if event.is_ok_and(|e| !e.kind.is_access()) {
                    waker.notify_one();
                }
            })
            .context("starting inotify")?;
        let layout = &self.layout;
        for (dir, mode) in [
            (layout.services_lock_root(), RecursiveMode::Recursive),
            (layout.data_root(), RecursiveMode::Recursive),
            (layout.state_partition(), RecursiveMode::NonRecursive),
        ] {
            watcher
                .watch(&dir, mode)
                .with_context(|| format!("watching {}", dir.display()))?;
        }
        *self.watcher.lock().unwrap() = Some(watcher);
        Ok(())
    }
}
