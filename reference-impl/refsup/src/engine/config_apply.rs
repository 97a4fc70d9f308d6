//! Config vars: non-reboot ones apply at once (R2); `HOST_CONFIG_*` ones are
//! written to config.txt and need a reboot, deferred while locked (R1);
//! switching the override on deletes existing user locks (O1).

use std::collections::BTreeMap;

use anyhow::Result;
use serde_json::{json, Value};

use crate::store::{atomic_write, read_json, write_json};
use crate::target::TargetState;

use super::Engine;

/// Marks a config var whose change needs a reboot.
const HOST_CONFIG: &str = "HOST_CONFIG_";

/// config.txt content for these vars: `name=value` lines, sorted.
fn config_txt(config: &BTreeMap<String, String>) -> String {
    config
        .iter()
        .filter_map(|(k, v)| {
            k.split_once(HOST_CONFIG)
                .map(|(_, name)| format!("{name}={v}\n"))
        })
        .collect()
}

impl Engine {
    pub(super) async fn apply_config(&self, target: &TargetState) -> Result<()> {
        let config = &target.local.config;
        // R2: non-reboot vars, at once, whatever the locks.
        let path = self.layout.config_json();
        let mut doc: Value = read_json(&path)?.unwrap_or_else(|| json!({}));
        let wanted: BTreeMap<&String, &String> = config
            .iter()
            .filter(|(k, _)| !k.contains(HOST_CONFIG))
            .collect();
        let wanted = serde_json::to_value(wanted)?;
        if doc.get("config") != Some(&wanted) {
            doc["config"] = wanted;
            write_json(self.layout.confined(), &path, &doc)?;
        }
        // R1: host config goes to config.txt and waits for a reboot.
        let txt = config_txt(config);
        let current = std::fs::read_to_string(self.layout.config_txt()).unwrap_or_default();
        if txt != current {
            let confined = self.layout.confined();
            atomic_write(confined, &self.layout.config_txt(), txt.as_bytes())?;
            atomic_write(confined, &self.layout.reboot_breadcrumb(), b"config")?;
            tracing::info!("host config changed: reboot pending");
        }
        // O1: turning the override on deletes the user locks present now
        // (from 7.0.0; before, force and override skip the lock files and a
        // lock goes only when its service is killed).
        let on = self.override_on(target, None) && !self.cfg.profile.force_skips_locks();
        let was_on = self.shared.lock().unwrap().device.override_was_on;
        if on != was_on {
            if on {
                self.delete_user_locks(target).await;
            }
            let device = {
                let mut shared = self.shared.lock().unwrap();
                shared.device.override_was_on = on;
                shared.device.clone()
            };
            self.store.save_device(&device)?;
        }
        Ok(())
    }

    /// Remove every entry at the honoured lock paths of every app's services.
    async fn delete_user_locks(&self, target: &TargetState) {
        let containers = self.runtime.list().await.unwrap_or_default();
        let mut services: BTreeMap<u32, std::collections::BTreeSet<String>> = BTreeMap::new();
        for c in &containers {
            services
                .entry(c.spec.app_id)
                .or_default()
                .insert(c.spec.service.clone());
        }
        for (id, app) in target.apps() {
            services
                .entry(id)
                .or_default()
                .extend(app.services.keys().cloned());
        }
        for (app_id, names) in services {
            for path in self.lock_paths(app_id, &names) {
                let confined = self.layout.confined();
                let is_dir = confined
                    .inspect(&path)
                    .ok()
                    .flatten()
                    .is_some_and(|h| h.kind == updatelock::EntryKind::Directory);
                if is_dir && !self.cfg.profile.directory_lock_removable() {
                    continue;
                }
                match confined.release(&path) {
                    Ok(true) => tracing::info!("override: deleted lock {}", path.display()),
                    Ok(false) => {}
                    Err(e) => tracing::warn!("override: {e}"),
                }
            }
        }
    }
}
