//! API operations that take an app's locks themselves: restarts (with L9's
//! one-operation-per-app rule) and the host-config PATCH (R5).

use std::collections::BTreeSet;
use std::sync::Arc;

use anyhow::Result;
use serde_json::{json, Value};

use crate::locking::HeldLocks;
use crate::store::{read_json, write_json};

use super::lock_paths::OpKey;
use super::{Engine, OpError};

impl Engine {
    /// Lock one app's operation slot (L9): every version serialises
    /// operations per app; from 16.7.8 an API caller waits at most 10 s
    /// (scaled) and then gets 423.
    async fn app_slot(&self, app_id: u32) -> Result<tokio::sync::OwnedMutexGuard<()>, OpError> {
        let op = self.app_op(app_id);
        let profile = &self.cfg.profile;
        if !profile.app_lock_wait_423() {
            return Ok(op.lock_owned().await);
        }
        tokio::time::timeout(self.scaled(profile.app_lock_wait()), op.lock_owned())
            .await
            .map_err(|_| OpError::Busy(app_id))
    }

    /// A lock refusal as this version answers app and service actions
    /// (423 from 12.2.11, 503 before).
    fn locked(&self, b: crate::locking::Blocked) -> OpError {
        OpError::Locked {
            status: self.cfg.profile.locked_action_status(),
            message: format!("Updates are locked: {}: {}", b.path.display(), b.reason),
        }
    }

    /// `POST /v2/applications/:appId/restart[-service]`: take the app's
    /// locks (force: delete user locks), then stop and start the services.
    pub async fn restart(
        self: &Arc<Self>,
        app_id: u32,
        service: Option<&str>,
        force: bool,
    ) -> Result<(), OpError> {
        let _device = self.device_op.read().await;
        let _slot = self.app_slot(app_id).await?;
        let containers: Vec<_> = self
            .runtime
            .list()
            .await
            .map_err(|e| OpError::Internal(e.into()))?
            .into_iter()
            .filter(|c| c.spec.app_id == app_id)
            .collect();
        if containers.is_empty() {
            return Err(OpError::NotFound(format!("app {app_id} is not running")));
        }
        let chosen: Vec<_> = containers
            .iter()
            .filter(|c| service.is_none_or(|s| c.spec.service == s))
            .cloned()
            .collect();
        if chosen.is_empty() {
            return Err(OpError::NotFound(format!(
                "app {app_id} has no service {}",
                service.unwrap_or_default()
            )));
        }
        let names: BTreeSet<String> = containers.iter().map(|c| c.spec.service.clone()).collect();
        let force = force || self.override_on(&self.target(), None);
        let held: HeldLocks = self
            .take_locks(OpKey::App(app_id), self.lock_paths(app_id, &names), force)
            .map_err(|b| self.locked(b))?;
        self.pause_after_lock(&format!("restart of app {app_id}"))
            .await;
        for c in &chosen {
            self.runtime
                .stop(&c.id, self.cfg.stop_grace)
                .await
                .map_err(|e| OpError::Internal(e.into()))?;
        }
        held.release().map_err(|e| OpError::Internal(e.into()))?;
        for c in &chosen {
            self.runtime
                .start(&c.id)
                .await
                .map_err(|e| OpError::Internal(e.into()))?;
        }
        Ok(())
    }

    /// `PATCH /v1/device/host-config` (R5): from 12.11.34 it takes the locks
    /// of every app by exclusive create (423 while locked, 503 with no app
    /// until 14.0.9); 16.4.0 - 16.7.x write the hostname before and outside
    /// the lock (a hazard); before 12.11.34 it applies regardless.
    pub async fn set_hostname(&self, hostname: &str, force: bool) -> Result<(), OpError> {
        let _device = self.device_op.read().await;
        let profile = &self.cfg.profile;
        let containers = self
            .runtime
            .list()
            .await
            .map_err(|e| OpError::Internal(e.into()))?;
        let apps: BTreeSet<u32> = containers.iter().map(|c| c.spec.app_id).collect();
        let mut paths = Vec::new();
        for &app_id in &apps {
            let names: BTreeSet<String> = containers
                .iter()
                .filter(|c| c.spec.app_id == app_id)
                .map(|c| c.spec.service.clone())
                .collect();
            paths.extend(self.lock_paths(app_id, &names));
        }
        let write = || -> Result<()> {
            let path = self.layout.config_json();
            let mut doc: Value = read_json(&path)?.unwrap_or_else(|| json!({}));
            doc["hostname"] = json!(hostname);
            write_json(self.layout.confined(), &path, &doc)
        };
        if !profile.host_config_takes_locks() || profile.hostname_bypasses_locks() {
            return write().map_err(OpError::Internal);
        }
        if apps.is_empty() && profile.host_config_needs_app() {
            return Err(OpError::Unavailable("Could not find an appId".into()));
        }
        let force = force || self.override_on(&self.target(), None);
        let held = self
            .take_locks(OpKey::Device, paths, force)
            .map_err(|b| OpError::Locked {
                status: 423,
                message: format!("Updates are locked: {}: {}", b.path.display(), b.reason),
            })?;
        let result = write();
        held.release().map_err(|e| OpError::Internal(e.into()))?;
        result.map_err(OpError::Internal)
    }
}
