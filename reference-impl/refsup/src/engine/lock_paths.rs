//! Which host paths an operation locks, and checks over them.

use std::path::PathBuf;

use crate::locking::{Blocked, HeldLocks, TakeAll};

use super::Engine;

/// What a lock take is for: one app's operation, or a device-wide one
/// (reboot, host config). Keys the remembered blocker of [`Engine::take_locks`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum OpKey {
    /// An operation on one app.
    App(u32),
    /// A device-wide operation.
    Device,
}

impl Engine {
    /// Every lock path of `services` of `app_id` under this profile, in take
    /// order, each once (the `/data` lock, and before 7.0.0 the per-app lock
    /// dir, are shared by every service of the app).
    pub(crate) fn lock_paths<'a>(
        &self,
        app_id: u32,
        services: impl IntoIterator<Item = &'a String>,
    ) -> Vec<PathBuf> {
        let files = self.cfg.profile.lock_files();
        let mut paths: Vec<PathBuf> = Vec::new();
        for service in services {
            for file in &files {
                let path = self.layout.lock_path(app_id, service, file);
                if !paths.contains(&path) {
                    paths.push(path);
                }
            }
        }
        paths
    }

    /// Take every path, all or nothing, by exclusive create; `force` removes
    /// user locks first. `key` names the operation (an app id, or
    /// the device): after a blocked take, later takes under the same key
    /// only re-check the path that blocked it until it is released, so a
    /// blocked update is retried without churning the lock dirs (creating
    /// and rolling back every other lock at each retry).
    pub(crate) fn take_locks(
        &self,
        key: OpKey,
        paths: Vec<PathBuf>,
        force: bool,
    ) -> Result<HeldLocks, Blocked> {
        if let Some(blocked) = self.still_blocked(key, &paths, force) {
            return Err(blocked);
        }
        if let Some(blocked) = self.dangling_link_error(&paths) {
            return Err(blocked);
        }
        for path in &paths {
            if let Some(dir) = path.parent() {
                self.ensure_lock_dir(dir);
            }
        }
        let result = TakeAll::new(paths, self.rules.clone(), force).run();
        let mut shared = self.shared.lock().unwrap();
        match &result {
            Ok(_) => shared.blockers.remove(&key),
            Err(b) => shared.blockers.insert(key, b.path.clone()),
        };
        result
    }

    /// The remembered blocker of `key`, if it is one of `paths` and still
    /// held. `force` overrides it, unless it is a directory this version
    /// cannot remove (then forcing again would only churn the lock dirs).
    pub(crate) fn still_blocked(
        &self,
        key: OpKey,
        paths: &[PathBuf],
        force: bool,
    ) -> Option<Blocked> {
        let remembered = self.shared.lock().unwrap().blockers.get(&key).cloned();
        let path = remembered.filter(|p| paths.contains(p))?;
        if !self.rules.is_held(&path).unwrap_or(true) {
            return None;
        }
        let unremovable_dir =
            !self.rules.directory_removable && path.is_dir() && !path.is_symlink();
        (!force || unremovable_dir).then(|| Blocked {
            path,
            reason: "lock is held".into(),
        })
    }

    /// 16.2.0 - 16.2.8 (L6 hazard): the supervisor's scan of its own locks
    /// `stat`s every lock path, so a dangling symlink fails every take with
    /// ENOENT, forced or not: an error loop until someone removes the link.
    fn dangling_link_error(&self, paths: &[PathBuf]) -> Option<Blocked> {
        if !self.cfg.profile.own_lock_scan_follows_links() {
            return None;
        }
        let confined = self.layout.confined();
        paths
            .iter()
            .find(|p| {
                confined
                    .inspect(p)
                    .ok()
                    .flatten()
                    .is_some_and(|h| h.kind == updatelock::EntryKind::Symlink)
                    && !p.exists()
            })
            .map(|p| Blocked {
                path: p.clone(),
                reason:
                    "ENOENT: no such file or directory, stat (a dangling symlink among the locks)"
                        .into(),
            })
    }

    /// L3 test hook: announce that locks are held and wait for the go-ahead.
    pub(crate) async fn pause_after_lock(&self, what: &str) {
        if let Some(file) = &self.cfg.pause_after_lock {
            self.pause_at(file, &format!("paused after taking locks for {what}"))
                .await;
        }
    }

    /// L1 test hook (7.0.0 - 16.1.x): between two locking steps, when the
    /// first released its locks and the next has not taken them yet. It is
    /// one-shot: it pauses only while `FILE.arm` exists, and removes it.
    pub(crate) async fn pause_between_steps(&self, what: &str) {
        let Some(file) = &self.cfg.pause_between_steps else {
            return;
        };
        let arm = file.with_extension("arm");
        if std::fs::remove_file(&arm).is_ok() {
            self.pause_at(file, &format!("paused between two locking steps of {what}"))
                .await;
        }
    }

    /// Create `file` and wait until it is removed (or refsup stops).
    async fn pause_at(&self, file: &std::path::Path, what: &str) {
        if let Err(e) = std::fs::write(file, what) {
            tracing::warn!("pause hook: cannot create {}: {e}", file.display());
            return;
        }
        tracing::info!("{what}; remove {} to go on", file.display());
        // Woken by inotify on the file's directory, or by a shutdown.
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let watcher = notify::recommended_watcher(move |_: notify::Result<notify::Event>| {
            let _ = tx.send(());
        });
        let _watch = watcher.and_then(|mut w| {
            use notify::Watcher;
            let dir = file.parent().unwrap_or(std::path::Path::new("/"));
            w.watch(dir, notify::RecursiveMode::NonRecursive)
                .map(|()| w)
        });
        if let Err(e) = &_watch {
            tracing::warn!(
                "pause hook: cannot watch {}: {e}; checking every second",
                file.display()
            );
        }
        let stopped = self.stopped.notified();
        tokio::pin!(stopped);
        while file.exists() && !self.stopping.load(std::sync::atomic::Ordering::SeqCst) {
            tokio::select! {
                _ = rx.recv() => {}
                _ = &mut stopped => break,
                _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
            }
        }
    }
}

impl Engine {
    /// Create a lock dir writable by every uid (services may run as any
    /// user, and from 13.1.0 the supervisor itself locks as nobody), without
    /// following links: a lock dir an app replaced by a symlink is logged and
    /// left alone (the take that follows then blocks the app's update). No
    /// sticky bit: with it, fs.protected_regular would refuse opens of other
    /// users' files.
    pub(crate) fn ensure_lock_dir(&self, dir: &std::path::Path) -> bool {
        match self.layout.confined().create_dir_all(dir, 0o777) {
            Ok(()) => true,
            Err(e) => {
                tracing::error!("lock dir: {e}");
                false
            }
        }
    }
}
