//! What the API reports: views computed from the target, the runtime and the
//! same plan function the reconciler uses, so "applied" means one thing.

use std::collections::BTreeMap;

use anyhow::Result;
use serde::Serialize;

use crate::runtime::Container;

use super::Engine;

/// One service as the state endpoints show it.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceView {
    /// App id.
    pub app_id: u32,
    /// Service name.
    pub service_name: String,
    /// `Running` / `Exited`.
    pub status: String,
    /// Release commit of the container.
    pub commit: String,
    /// Release id.
    pub release_id: u64,
    /// Image.
    pub image: String,
    /// Runtime id.
    pub container_id: String,
    /// Main process id (process runtime).
    pub pid: Option<u32>,
}

/// One app: its target and what runs.
#[derive(Debug, Clone, Serialize)]
pub struct AppView {
    /// App id.
    pub app_id: u32,
    /// App name (target).
    pub name: String,
    /// Target commit, if the app is in the target.
    pub target_commit: Option<String>,
    /// Whether the app is at its target.
    pub applied: bool,
    /// Why not, when an update waits (locks, breadcrumbs).
    pub blocked: Option<String>,
    /// Containers.
    pub services: Vec<ServiceView>,
}

/// The whole device.
#[derive(Debug, Clone, Serialize)]
pub struct DeviceView {
    /// Apps by id.
    pub apps: Vec<AppView>,
    /// Any app (or a reboot) not at target.
    pub update_pending: bool,
    /// Every image the pending target needs is downloaded.
    pub update_downloaded: bool,
    /// Commit of the first app running.
    pub commit: Option<String>,
    /// Boots so far.
    pub boot_count: u64,
    /// A reboot is pending (config), with why it waits.
    pub reboot_pending: Option<String>,
}

fn view(c: &Container) -> ServiceView {
    ServiceView {
        app_id: c.spec.app_id,
        service_name: c.spec.service.clone(),
        status: c.status.api_name().to_string(),
        commit: c.spec.commit.clone(),
        release_id: c.spec.release_id,
        image: c.spec.image.clone(),
        container_id: c.id.clone(),
        pid: c.pid,
    }
}

impl Engine {
    /// A consistent snapshot of the device for the API.
    pub async fn device_view(&self) -> Result<DeviceView> {
        let containers = self.runtime.list().await?;
        let (target, blocked, boot_count, reboot_blocked) = {
            let shared = self.shared.lock().unwrap();
            (
                shared.target.clone(),
                shared.blocked.clone(),
                shared.device.boot_count,
                shared.reboot_blocked.clone(),
            )
        };
        let mut by_app: BTreeMap<u32, Vec<Container>> = BTreeMap::new();
        for c in containers {
            by_app.entry(c.spec.app_id).or_default().push(c);
        }
        for (id, _) in target.apps() {
            by_app.entry(id).or_default();
        }
        let mut apps = Vec::new();
        let mut downloaded = true;
        for (app_id, current) in by_app {
            let app = target.app(app_id);
            let plan = self.plan(app_id, app, &current);
            for start in &plan.start {
                downloaded &= self.runtime.has_image(&start.instance.image).await?;
            }
            apps.push(AppView {
                app_id,
                name: app.map(|a| a.name.clone()).unwrap_or_default(),
                target_commit: app.map(|a| a.commit.clone()),
                applied: plan.is_noop(),
                blocked: blocked.get(&app_id).cloned(),
                services: current.iter().map(view).collect(),
            });
        }
        let reboot_pending = self
            .layout
            .reboot_breadcrumb()
            .exists()
            .then(|| reboot_blocked.unwrap_or_else(|| "reboot pending".into()));
        let update_pending = apps.iter().any(|a| !a.applied) || reboot_pending.is_some();
        let commit = apps
            .iter()
            .find_map(|a| a.services.first().map(|s| s.commit.clone()));
        Ok(DeviceView {
            update_pending,
            update_downloaded: downloaded,
            commit,
            boot_count,
            reboot_pending,
            apps,
        })
    }
}
