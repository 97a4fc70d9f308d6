//! Reboots and shutdowns: refused or deferred while locked (R1, R3, R4). A
//! simulated reboot (either runtime) stops every service, wipes
//! `<root>/tmp`, bumps the boot count and starts them again (the Docker
//! runtime starts the same containers again, as a device's engine does).

use std::collections::{BTreeMap, BTreeSet};

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
    /// `Ok(None)`: forced, nothing taken.
    async fn take_all_app_locks(&self, force: bool) -> Result<Option<HeldLocks>, OpError> {
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
        self.take_locks(OpKey::Device, paths, force)
            .map(Some)
            .map_err(|b| OpError::Locked {
                status: 423,
                message: format!("Updates are locked: {}: {}", b.path.display(), b.reason),
            })
    }

    /// API reboot/shutdown (R3, R4): refused with 423 while locked (from
    /// 2.8.0) or during a HUP rollback (from 12.8.10) unless forced; on
    /// success the power action runs in the background.
    pub async fn power(
        self: &std::sync::Arc<Self>,
        power: Power,
        force: bool,
    ) -> Result<(), OpError> {
        let profile = &self.cfg.profile;
        let via_override =
            profile.reboot_api_honours_override() && self.override_on(&self.target(), None);
        if let Some(why) = self.hup_blocks(force, via_override) {
            return Err(OpError::Locked {
                status: 423,
                message: why,
            });
        }
        let device = self.device_op.clone().write_owned().await;
        let held = if profile.reboot_api_checks_locks() {
            self.take_all_app_locks(force || via_override).await?
        } else {
            None
        };
        let engine = self.clone();
        tokio::spawn(async move {
            let _device = device;
            engine.power_cycle(power, held).await;
        });
        Ok(())
    }

    /// A reboot the config asked for: from 7.0.0 it goes through the locks
    /// (a failed apply while they are held); before it reboots regardless.
    /// Returns why it waits, if it does.
    pub(super) async fn config_reboot(&self, force: bool) -> Option<String> {
        if let Some(why) = self.hup_blocks(force, false) {
            self.note_reboot_blocked(Some(why.clone()));
            return Some(why);
        }
        let _device = self.device_op.write().await;
        let held = if self.cfg.profile.config_reboot_waits_for_locks() {
            let force = force || self.override_on(&self.target(), None);
            match self.take_all_app_locks(force).await {
                Ok(held) => held,
                Err(e) => {
                    let why = e.to_string();
                    self.note_reboot_blocked(Some(why.clone()));
                    return Some(why);
                }
            }
        } else {
            None
        };
        self.note_reboot_blocked(None);
        self.power_cycle(Power::Reboot, held).await;
        None
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
