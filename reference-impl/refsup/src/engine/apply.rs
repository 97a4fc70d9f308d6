//! One reconcile pass: config, then every app under its lock rules, then a
//! pending reboot.

use std::collections::BTreeSet;

use anyhow::Result;

use crate::fault::Fault;
use crate::locking::HeldLocks;
use crate::runtime::Container;
use crate::target::{App, Strategy, TargetState};

use super::lock_paths::OpKey;
use super::plan::AppPlan;
use super::Engine;

impl Engine {
    /// Bring the device one pass closer to its target.
    pub(crate) async fn reconcile(&self) -> Result<()> {
        let (target, force) = {
            let mut shared = self.shared.lock().unwrap();
            let force = shared.force_pending;
            if !self.cfg.faults.on(Fault::ForceSticks) {
                shared.force_pending = false;
            }
            (shared.target.clone(), force)
        };
        {
            let _device = self.device_op.read().await;
            self.apply_config(&target).await?;
            let containers = self.runtime.list().await?;
            let mut app_ids: BTreeSet<u32> = target.apps().map(|(id, _)| id).collect();
            app_ids.extend(containers.iter().map(|c| c.spec.app_id));
            for app_id in app_ids {
                let op = self.app_op(app_id);
                let _op = op.lock().await;
                let current = self.runtime.list().await?;
                let current: Vec<Container> = current
                    .into_iter()
                    .filter(|c| c.spec.app_id == app_id)
                    .collect();
                if let Err(e) = self.reconcile_app(app_id, &target, &current, force).await {
                    tracing::error!("app {app_id}: {e:#}");
                    self.set_blocked(app_id, Some(format!("{e:#}")));
                }
            }
        }
        if self.layout.reboot_breadcrumb().exists() {
            self.config_reboot(force).await;
        }
        Ok(())
    }

    /// The lock override for one app (O1-O3): config names, then the legacy
    /// app env var, the first one set deciding (or, under the O2 fault, any).
    pub(crate) fn override_on(&self, target: &TargetState, app: Option<&App>) -> bool {
        let profile = &self.cfg.profile;
        let lookup = |name: &lockgates::OverrideName| -> Option<&str> {
            match name.source {
                lockgates::OverrideSource::Config => {
                    target.local.config.get(name.name).map(String::as_str)
                }
                lockgates::OverrideSource::AppEnv => app.and_then(|a| {
                    a.services
                        .values()
                        .find_map(|s| s.environment.get(name.name).map(String::as_str))
                }),
            }
        };
        if self.cfg.faults.on(Fault::OverrideNamesConfused) {
            return profile
                .override_names()
                .iter()
                .filter_map(lookup)
                .any(|v| profile.override_truthy(v));
        }
        profile.override_active(lookup)
    }

    /// Whether HUP breadcrumbs stop updates and reboots now (R4).
    pub(crate) fn hup_blocks(&self, force: bool) -> Option<String> {
        let profile = &self.cfg.profile;
        if !profile.hup_breadcrumbs_block() || (force && profile.hup_breadcrumbs_force()) {
            return None;
        }
        self.layout
            .hup_breadcrumbs()
            .into_iter()
            .find(|b| b.exists())
            .map(|b| format!("HUP breadcrumb {} is present", b.display()))
    }

    async fn reconcile_app(
        &self,
        app_id: u32,
        target: &TargetState,
        current: &[Container],
        force: bool,
    ) -> Result<()> {
        let app = target.app(app_id);
        let plan = self.plan(app_id, app, current);
        if plan.is_noop() {
            self.set_blocked(app_id, None);
            return Ok(());
        }
        if let Some(why) = self.hup_blocks(force) {
            self.set_blocked(app_id, Some(why));
            return Ok(());
        }
        // Download what can be downloaded before anything is killed (U1).
        for start in &plan.start {
            if start.replaces.is_none() || start.strategy.downloads_first() {
                self.runtime.fetch_image(&start.instance.image).await?;
            }
        }
        let profile = &self.cfg.profile;
        let unlocked_kill = self.cfg.faults.on(Fault::KillThenDownloadIgnoresLock)
            && plan.uses(Strategy::KillThenDownload);
        let needs_locks = !unlocked_kill
            && (plan.kills()
                || (!plan.relabel.is_empty() && !profile.metadata_change_without_locks()));
        let ignore_locks = force || self.override_on(target, app);
        if needs_locks && plan.kills() && self.cfg.faults.on(Fault::KillBeforeAllLocks) {
            return self
                .kill_service_by_service(app_id, plan, ignore_locks)
                .await;
        }
        let held = if needs_locks {
            let paths = self.lock_paths(app_id, &plan.lock_services);
            match self.take_locks(OpKey::App(app_id), paths, ignore_locks) {
                Ok(held) => Some(held),
                Err(blocked) => {
                    self.set_blocked(
                        app_id,
                        Some(format!("{}: {}", blocked.path.display(), blocked.reason)),
                    );
                    return Ok(());
                }
            }
        } else {
            None
        };
        if held.is_some() && plan.kills() {
            self.pause_after_lock(&format!("app {app_id}")).await;
        }
        self.execute(app_id, plan, held).await?;
        self.set_blocked(app_id, None);
        Ok(())
    }

    /// Carry out a plan; `held` are the locks taken for it (released once the
    /// old containers are gone, or left behind on removal where the profile did).
    async fn execute(&self, app_id: u32, plan: AppPlan, held: Option<HeldLocks>) -> Result<()> {
        let grace = self.cfg.stop_grace;
        // hand-over: the new container starts beside the old one first.
        let mut started = BTreeSet::new();
        for (i, start) in plan.start.iter().enumerate() {
            if start.replaces.is_some() && start.strategy == Strategy::HandOver {
                self.runtime.create_and_start(&start.instance).await?;
                started.insert(i);
            }
        }
        for old in plan.killed() {
            self.runtime.stop(&old.id, grace).await?;
            self.runtime.remove(&old.id).await?;
        }
        for start in &plan.start {
            if start.replaces.is_some() && start.strategy == Strategy::DeleteThenDownload {
                if let Some(old) = &start.replaces {
                    self.runtime.remove_image(&old.spec.image).await?;
                }
            }
        }
        for start in &plan.start {
            self.runtime.fetch_image(&start.instance.image).await?;
        }
        if let Some(held) = held {
            if plan.removal
                && (!self.cfg.profile.removal_leaves_no_lock()
                    || self.cfg.faults.on(Fault::KeepLocksAfterRemoval))
            {
                held.leave_behind();
            } else {
                held.release()?;
                if plan.removal {
                    let app_dir = self.layout.services_lock_root().join(app_id.to_string());
                    if let Err(e) = self.layout.confined().remove_tree(&app_dir) {
                        tracing::warn!("app {app_id}: removing its lock dirs: {e}");
                    }
                }
            }
        }
        for (i, start) in plan.start.iter().enumerate() {
            if !started.contains(&i) {
                self.ensure_lock_dir(&start.instance.lock_dir);
                if let Some(data) = &start.instance.data_dir {
                    self.layout.confined().create_dir_all(data, 0o755)?;
                }
                if let Err(e) = self.runtime.create_and_start(&start.instance).await {
                    tracing::error!("app {app_id}: {e}");
                }
            }
        }
        if let Some(commit) = &plan.commit {
            for c in &plan.relabel {
                self.runtime.relabel(&c.id, commit, plan.release_id).await?;
            }
        }
        Ok(())
    }

    /// Fault L1/L7: lock and kill one service at a time, so a lock in a later
    /// service is found only after earlier services were killed.
    async fn kill_service_by_service(&self, app_id: u32, plan: AppPlan, force: bool) -> Result<()> {
        // A retry waits for the lock that stopped the last attempt, as a
        // normal take does, instead of churning the earlier services' locks.
        let all = self.lock_paths(app_id, &plan.lock_services);
        if let Some(blocked) = self.still_blocked(OpKey::App(app_id), &all, force) {
            self.set_blocked(
                app_id,
                Some(format!("{}: {}", blocked.path.display(), blocked.reason)),
            );
            return Ok(());
        }
        for old in plan.killed() {
            let name = old.spec.service.clone();
            let paths = self.lock_paths(app_id, std::iter::once(&name));
            match self.take_locks(OpKey::App(app_id), paths, force) {
                Ok(held) => {
                    self.pause_after_lock(&format!("app {app_id} service {name}"))
                        .await;
                    self.runtime.stop(&old.id, self.cfg.stop_grace).await?;
                    held.release()?;
                }
                Err(blocked) => {
                    self.set_blocked(
                        app_id,
                        Some(format!("{}: {}", blocked.path.display(), blocked.reason)),
                    );
                    return Ok(());
                }
            }
        }
        let killed: Vec<_> = plan.killed();
        for old in &killed {
            self.runtime.remove(&old.id).await?;
        }
        let rest = AppPlan {
            kill: Vec::new(),
            start: plan
                .start
                .into_iter()
                .map(|mut s| {
                    s.replaces = None;
                    s
                })
                .collect(),
            ..plan
        };
        self.execute(app_id, rest, None).await
    }
}
