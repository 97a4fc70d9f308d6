//! Reboots and shutdowns: refused or deferred while locked (R1, R3, R4); in
//! the process runtime a reboot stops every service, wipes `<root>/tmp`,
//! bumps the boot count and starts them again.

use std::collections::{BTreeMap, BTreeSet};

use crate::fault::Fault;
use crate::locking::HeldLocks;

use super::lock_paths::OpKey;
use super::{Engine, OpError};

/// What a power action does after the services stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Power {
    /// Come back up: new boot.
    Reboot,
    /// Stay down: the refsup process exits.
    Shutdown,
}

impl Engine {
    /// Take every lock of every app (all or nothing), for a power action.
    async fn take_all_app_locks(&self, force: bool) -> Result<Option<HeldLocks>, OpError> {
        if force {
            return Ok(None);
        }
        let containers = self
            .runtime
            .list()
            .await
            .map_err(|e| OpError::Internal(e.into()))?;
        let mut services: BTreeMap<u32, BTreeSet<String>> = BTreeMap::new();
        for c in &containers {
            services
                .entry(c.spec.app_id)
                .or_default()
                .insert(c.spec.service.clone());
        }
        let mut paths = Vec::new();
        for (app_id, names) in &services {
            paths.extend(self.lock_paths(*app_id, names));
        }
        self.take_locks(OpKey::Device, paths, false)
            .map(Some)
            .map_err(|b| OpError::Locked {
                status: self.cfg.profile.locked_reboot_status(),
                message: format!("Updates are locked: {}: {}", b.path.display(), b.reason),
            })
    }

    /// API reboot/shutdown (R3): refused while locked unless `force`; on
    /// success the power action runs in the background.
    pub async fn power(
        self: &std::sync::Arc<Self>,
        power: Power,
        force: bool,
    ) -> Result<(), OpError> {
        if let Some(why) = self.hup_blocks(force) {
            return Err(OpError::Locked {
                status: self.cfg.profile.locked_reboot_status(),
                message: why,
            });
        }
        let device = self.device_op.clone().write_owned().await;
        let held = self.take_all_app_locks(force).await?;
        let engine = self.clone();
        tokio::spawn(async move {
            let _device = device;
            engine.power_cycle(power, held).await;
        });
        Ok(())
    }

    /// A reboot the config asked for: deferred while any lock is held from
    /// 7.1.17 (earlier, or under the R1 fault, it ignores locks).
    pub(super) async fn config_reboot(&self, force: bool) {
        if let Some(why) = self.hup_blocks(force) {
            self.note_reboot_blocked(Some(why));
            return;
        }
        let ignores_locks = force
            || !self.cfg.profile.reboot_deferred_while_locked()
            || self.cfg.faults.on(Fault::RebootIgnoresLocks);
        let _device = self.device_op.write().await;
        match self.take_all_app_locks(ignores_locks).await {
            Ok(held) => {
                self.note_reboot_blocked(None);
                self.power_cycle(Power::Reboot, held).await;
            }
            Err(e) => self.note_reboot_blocked(Some(e.to_string())),
        }
    }

    fn note_reboot_blocked(&self, why: Option<String>) {
        let mut shared = self.shared.lock().unwrap();
        if why.is_some() && shared.reboot_blocked != why {
            tracing::info!("reboot deferred: {}", why.as_deref().unwrap_or_default());
        }
        shared.reboot_blocked = why;
    }

    /// Stop every service at once (SIGTERM, then SIGKILL after the grace
    /// period), as the real supervisor kills an app's containers: services
    /// that ignore SIGTERM cost one grace period together, not one each.
    pub(super) async fn stop_everything(&self) {
        let containers = self.runtime.list().await.unwrap_or_default();
        let mut stops = tokio::task::JoinSet::new();
        for c in containers {
            let (runtime, grace) = (self.runtime.clone(), self.cfg.stop_grace);
            stops.spawn(async move {
                if let Err(e) = runtime.stop(&c.id, grace).await {
                    tracing::warn!("stopping {}: {e}", c.id);
                }
            });
        }
        while stops.join_next().await.is_some() {}
    }

    /// Power off: stop services, lose `/tmp`, then boot again or stay down.
    /// The caller holds the device operation lock.
    async fn power_cycle(&self, power: Power, held: Option<HeldLocks>) {
        tracing::info!("{power:?}: stopping services");
        self.stop_everything().await;
        if let Some(held) = held {
            let _ = held.release();
        }
        *self.watcher.lock().unwrap() = None;
        let tmp = self.layout.tmp();
        if let Err(e) = std::fs::remove_dir_all(&tmp) {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::error!("wiping {}: {e}", tmp.display());
            }
        }
        match power {
            Power::Shutdown => self.powered_off.notify_waiters(),
            Power::Reboot => {
                if let Err(e) = self.boot().await {
                    tracing::error!("boot after reboot: {e:#}");
                }
                self.wake();
            }
        }
    }
}
