//! One reconcile pass: config, then every app under its lock rules, then a
//! pending reboot. A pass reports why it failed (an update or reboot held
//! back), which the retry schedule counts as a failed apply.

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
    /// Bring the device one pass closer to its target; `Ok(Some(why))` when
    /// something stays pending (a failed apply, retried after the backoff).
    pub(crate) async fn reconcile(&self) -> Result<Option<String>> {
        let (target, force) = {
            let shared = self.shared.lock().unwrap();
            (shared.target.clone(), shared.force_pending)
        };
        let mut failure = None;
        {
            let _device = self.device_op.read().await;
            self.apply_config(&target).await?;
            let containers = self.runtime.list().await?;
            let mut app_ids: BTreeSet<u32> = target.apps().map(|(id, _)| id).collect();
            app_ids.extend(containers.iter().map(|c| c.spec.app_id));
            for app_id in app_ids {
                let op = self.app_op(app_id);
                let _op = op.lock().await;
                let current: Vec<Container> = self
                    .runtime
                    .list()
                    .await?
                    .into_iter()
                    .filter(|c| c.spec.app_id == app_id)
                    .collect();
                match self.reconcile_app(app_id, &target, &current, force).await {
                    Ok(None) => {}
                    Ok(Some(why)) => {
                        failure.get_or_insert(why);
                    }
                    Err(e) => {
                        tracing::error!("app {app_id}: {e:#}");
                        self.set_blocked(app_id, Some(format!("{e:#}")));
                        failure.get_or_insert(format!("app {app_id}: {e:#}"));
                    }
                }
            }
        }
        if self.layout.reboot_breadcrumb().exists() {
            if let Some(why) = self.config_reboot(force).await {
                failure.get_or_insert(why);
            }
        }
        // A one-time force lasts until an apply succeeds (the real one keeps
        // it across its retries).
        if failure.is_none() && force && !self.cfg.faults.on(Fault::ForceSticks) {
            self.shared.lock().unwrap().force_pending = false;
        }
        Ok(failure)
    }

    /// The lock override for one app (O1-O3), read where the profile reads
    /// its names.
    pub(crate) fn override_on(&self, target: &TargetState, app: Option<&App>) -> bool {
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
        self.cfg.profile.override_active(lookup)
    }

    /// Whether HUP breadcrumbs stop a reboot or shutdown now (R4): `force`
    /// gets past them from 12.9.3; the override config var only on the
    /// reboot API 12.9.3 - 14.4.x (`via_override`).
    pub(crate) fn hup_blocks(&self, force: bool, via_override: bool) -> Option<String> {
        let profile = &self.cfg.profile;
        let forced = (force && profile.hup_breadcrumbs_force())
            || (via_override && profile.hup_override_bypass());
        if !profile.hup_breadcrumbs_block() || forced {
            return None;
        }
        self.layout
            .hup_breadcrumbs()
            .into_iter()
            .find(|b| b.exists())
            .map(|_| "Waiting for Host OS update to finish".to_string())
    }

    /// Whether carrying out `plan` needs the app's locks: a kill (except a
    /// hand-over where the profile ignores locks for it), a removal, or a
    /// metadata-only change where the profile locks for it (U4).
    fn plan_needs_locks(&self, plan: &AppPlan) -> bool {
        let profile = &self.cfg.profile;
        let unlocked_kill = |s: &super::plan::Start| {
            (s.strategy == Strategy::HandOver && profile.hand_over_ignores_locks())
                || (s.strategy == Strategy::KillThenDownload
                    && self.cfg.faults.on(Fault::KillThenDownloadIgnoresLock))
        };
        let locked_kill = plan
            .start
            .iter()
            .any(|s| s.replaces.is_some() && !unlocked_kill(s));
        plan.removal
            || !plan.kill.is_empty()
            || locked_kill
            || (!plan.relabel.is_empty() && profile.metadata_update_takes_locks())
    }

    async fn reconcile_app(
        &self,
        app_id: u32,
        target: &TargetState,
        current: &[Container],
        force: bool,
    ) -> Result<Option<String>> {
        let app = target.app(app_id);
        let plan = self.plan(app_id, app, current);
        if plan.is_noop() {
            self.set_blocked(app_id, None);
            self.settle_cleanup(app_id);
            return Ok(None);
        }
        // Download what can be downloaded before anything is killed (U1).
        for start in &plan.start {
            if start.replaces.is_none() || start.strategy.downloads_first() {
                self.runtime.fetch_image(&start.instance.image).await?;
            }
        }
        let profile = &self.cfg.profile;
        let ignore_locks = force || self.override_on(target, app);
        if !self.plan_needs_locks(&plan) || (ignore_locks && profile.force_skips_locks()) {
            // Before 7.0.0 force and override skip the lock files; kill()
            // then unlinks the user's lock after its container stopped.
            let unlink_after_kill = ignore_locks && profile.force_skips_locks();
            return self.finish(app_id, plan, None, unlink_after_kill).await;
        }
        if plan.kills() && self.cfg.faults.on(Fault::KillBeforeAllLocks) {
            return self
                .kill_service_by_service(app_id, plan, ignore_locks)
                .await;
        }
        if profile.locks_per_step() {
            return self.execute_per_step(app_id, plan, ignore_locks).await;
        }
        let paths = self.lock_paths(app_id, &plan.lock_services);
        let held = match self.take_locks(OpKey::App(app_id), paths, ignore_locks) {
            Ok(held) => held,
            Err(blocked) => return Ok(Some(self.note_blocked(app_id, &blocked))),
        };
        if plan.kills() {
            self.pause_after_lock(&format!("app {app_id}")).await;
        }
        self.finish(app_id, plan, Some(held), false).await
    }

    /// Record that `app_id`'s update waits for `blocked`; returns the reason.
    pub(crate) fn note_blocked(&self, app_id: u32, blocked: &crate::locking::Blocked) -> String {
        let why = format!("{}: {}", blocked.path.display(), blocked.reason);
        self.set_blocked(app_id, Some(why.clone()));
        format!("Lockfile exists for {{ appId: {app_id} }}: {why}")
    }

    /// [`Engine::execute`], then the app counts as applied.
    async fn finish(
        &self,
        app_id: u32,
        plan: AppPlan,
        held: Option<HeldLocks>,
        unlink_after_kill: bool,
    ) -> Result<Option<String>> {
        let failed = self.execute(app_id, plan, held, unlink_after_kill).await?;
        self.set_blocked(app_id, failed.clone());
        Ok(failed)
    }

    /// Carry out a plan; `held` are the locks taken for it (released once the
    /// old containers are gone, or left behind on removal where the profile
    /// did). `unlink_after_kill`: remove the lock files of each killed
    /// service once it stopped (the pre-7.0.0 forced `kill()`).
    async fn execute(
        &self,
        app_id: u32,
        plan: AppPlan,
        held: Option<HeldLocks>,
        unlink_after_kill: bool,
    ) -> Result<Option<String>> {
        let grace = self.cfg.stop_grace;
        let mut failed = None;
        // hand-over: the new container starts beside the old one first.
        let mut started = BTreeSet::new();
        for (i, start) in plan.start.iter().enumerate() {
            if start.replaces.is_some() && start.strategy == Strategy::HandOver {
                failed = failed.or(self.start_service(app_id, &start.instance).await);
                started.insert(i);
            }
        }
        for old in plan.killed() {
            self.runtime.stop(&old.id, grace).await?;
            self.runtime.remove(&old.id).await?;
            if unlink_after_kill {
                self.unlink_service_locks(app_id, &old.spec.service);
            }
        }
        self.replace_images(&plan).await?;
        if let Some(held) = held {
            if plan.removal && self.cfg.profile.removal_leaves_lock() {
                held.leave_behind();
            } else {
                held.release()?;
                if plan.removal {
                    self.remove_app_lock_dirs(app_id);
                }
            }
        }
        for (i, start) in plan.start.iter().enumerate() {
            if !started.contains(&i) {
                failed = failed.or(self.start_service(app_id, &start.instance).await);
            }
        }
        self.relabel(&plan).await?;
        Ok(failed)
    }

    /// delete-then-download drops the old image; then every new image is
    /// fetched.
    async fn replace_images(&self, plan: &AppPlan) -> Result<()> {
        for start in &plan.start {
            if start.strategy == Strategy::DeleteThenDownload {
                if let Some(old) = &start.replaces {
                    self.runtime.remove_image(&old.spec.image).await?;
                }
            }
        }
        for start in &plan.start {
            self.runtime.fetch_image(&start.instance.image).await?;
        }
        Ok(())
    }

    async fn relabel(&self, plan: &AppPlan) -> Result<()> {
        if let Some(commit) = &plan.commit {
            for c in &plan.relabel {
                self.runtime.relabel(&c.id, commit, plan.release_id).await?;
            }
        }
        Ok(())
    }

    /// Create the service's dirs and start it. A start that fails is a
    /// failed apply: returns why, and the next pass retries after the
    /// backoff (so a service that can never start costs a few log lines,
    /// not a hot loop).
    async fn start_service(
        &self,
        app_id: u32,
        instance: &crate::runtime::ServiceInstance,
    ) -> Option<String> {
        self.ensure_lock_dir(&instance.lock_dir);
        if let Some(data) = &instance.data_dir {
            if let Err(e) = self.layout.confined().create_dir_all(data, 0o755) {
                return Some(format!("app {app_id}: service {}: {e}", instance.service));
            }
        }
        match self.runtime.create_and_start(instance).await {
            Ok(_) => None,
            Err(e) => Some(format!(
                "app {app_id}: service {} failed to start: {e}",
                instance.service
            )),
        }
    }

    /// The pre-7.0.0 forced kill: unlink the service's lock files (a
    /// directory is left, as `unlink` fails on it).
    fn unlink_service_locks(&self, app_id: u32, service: &str) {
        let confined = self.layout.confined();
        for path in self.lock_paths(app_id, std::iter::once(&service.to_string())) {
            let is_dir = confined
                .inspect(&path)
                .ok()
                .flatten()
                .is_some_and(|h| h.kind == updatelock::EntryKind::Directory);
            if !is_dir {
                let _ = confined.release(&path);
            }
        }
    }

    fn remove_app_lock_dirs(&self, app_id: u32) {
        if let Err(e) = self
            .layout
            .confined()
            .remove_tree(&self.layout.app_lock_dir(app_id))
        {
            tracing::warn!("app {app_id}: removing its lock dirs: {e}");
        }
    }

    /// 7.0.0 - 16.1.x: every locking step takes and releases all of the
    /// app's locks by itself. Starts of services with nothing to replace
    /// need no lock and go first; a step blocked by a lock leaves the steps
    /// before it done (the half-applied release of L1).
    async fn execute_per_step(
        &self,
        app_id: u32,
        plan: AppPlan,
        force: bool,
    ) -> Result<Option<String>> {
        let grace = self.cfg.stop_grace;
        let paths = self.lock_paths(app_id, &plan.lock_services);
        let mut failed = None;
        for start in plan.start.iter().filter(|s| s.replaces.is_none()) {
            failed = failed.or(self.start_service(app_id, &start.instance).await);
        }
        // One locking step per killed container: a replaced one (a hand-over
        // starts its successor inside the step) or a removed one.
        let kills = plan
            .start
            .iter()
            .filter_map(|s| s.replaces.as_ref().map(|old| (old, Some(s))))
            .chain(plan.kill.iter().map(|old| (old, None)));
        for (step, (old, start)) in kills.enumerate() {
            if step > 0 {
                self.pause_between_steps(&format!("app {app_id}")).await;
            }
            let held = match self.take_locks(OpKey::App(app_id), paths.clone(), force) {
                Ok(held) => held,
                Err(blocked) => return Ok(Some(self.note_blocked(app_id, &blocked))),
            };
            self.pause_after_lock(&format!("app {app_id} step {}", step + 1))
                .await;
            if let Some(start) = start.filter(|s| s.strategy == Strategy::HandOver) {
                failed = failed.or(self.start_service(app_id, &start.instance).await);
            }
            self.runtime.stop(&old.id, grace).await?;
            self.runtime.remove(&old.id).await?;
            held.release()?;
        }
        if plan.removal {
            self.remove_app_lock_dirs(app_id);
        }
        self.replace_images(&plan).await?;
        for start in plan.start.iter().filter(|s| s.replaces.is_some()) {
            if start.strategy != Strategy::HandOver {
                failed = failed.or(self.start_service(app_id, &start.instance).await);
            }
        }
        if !plan.relabel.is_empty() {
            let held = match self.take_locks(OpKey::App(app_id), paths, force) {
                Ok(held) => held,
                Err(blocked) => return Ok(Some(self.note_blocked(app_id, &blocked))),
            };
            self.relabel(&plan).await?;
            held.release()?;
        }
        self.set_blocked(app_id, failed.clone());
        Ok(failed)
    }

    /// 16.2.0 - 16.7.7 and from 17.0.2: once an app is at its target, the
    /// uid-65534 lock files left in its dirs (a crashed supervisor's, or a
    /// nobody-owned user lock taken for one) are removed.
    fn settle_cleanup(&self, app_id: u32) {
        if !self.cfg.profile.leftover_cleanup_on_settle() {
            return;
        }
        let confined = self.layout.confined();
        let dir = self.layout.app_lock_dir(app_id);
        let found = match confined.find_locks(&dir, &lockgates::LOCK_NAMES) {
            Ok(found) => found,
            Err(e) => {
                tracing::warn!("app {app_id}: settle clean-up: {e}");
                return;
            }
        };
        for lock in found {
            if lock.holder.uid == lockgates::NOBODY_UID
                && lock.holder.kind == updatelock::EntryKind::File
            {
                tracing::info!("releasing leftover lock {}", lock.path.display());
                let _ = confined.release(&lock.path);
            }
        }
    }

    /// Fault L1/L7: lock and kill one service at a time, so a lock in a later
    /// service is found only after earlier services were killed.
    async fn kill_service_by_service(
        &self,
        app_id: u32,
        plan: AppPlan,
        force: bool,
    ) -> Result<Option<String>> {
        // A retry waits for the lock that stopped the last attempt, as a
        // normal take does, instead of churning the earlier services' locks.
        let all = self.lock_paths(app_id, &plan.lock_services);
        if let Some(blocked) = self.still_blocked(OpKey::App(app_id), &all, force) {
            return Ok(Some(self.note_blocked(app_id, &blocked)));
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
                Err(blocked) => return Ok(Some(self.note_blocked(app_id, &blocked))),
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
        self.finish(app_id, rest, None, false).await
    }
}
