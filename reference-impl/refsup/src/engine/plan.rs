//! What it takes to bring one app from its running containers to its target.

use std::collections::BTreeSet;

use crate::runtime::{Container, ServiceInstance};
use crate::target::{App, Strategy};

use super::Engine;

/// One new container to start, with how its predecessor (if any) is replaced.
#[derive(Debug, Clone)]
pub struct Start {
    /// What to run.
    pub instance: ServiceInstance,
    /// The replacement strategy of the new release's service.
    pub strategy: Strategy,
    /// The container it replaces.
    pub replaces: Option<Container>,
}

/// The steps bringing one app to target.
#[derive(Debug, Clone, Default)]
pub struct AppPlan {
    /// Containers to create (changed or added services).
    pub start: Vec<Start>,
    /// Containers to kill that no new container replaces (removed services,
    /// duplicates).
    pub kill: Vec<Container>,
    /// Containers whose release changes without a restart.
    pub relabel: Vec<Container>,
    /// The whole app leaves the device.
    pub removal: bool,
    /// Every service whose locks the operation takes.
    pub lock_services: BTreeSet<String>,
    /// Target commit (None on removal).
    pub commit: Option<String>,
    /// Target release id.
    pub release_id: u64,
}

impl AppPlan {
    /// Nothing to do.
    pub fn is_noop(&self) -> bool {
        self.start.is_empty() && self.kill.is_empty() && self.relabel.is_empty() && !self.removal
    }

    /// Whether any running container gets killed.
    pub fn kills(&self) -> bool {
        !self.kill.is_empty() || self.start.iter().any(|s| s.replaces.is_some())
    }

    /// Every container that gets killed.
    pub fn killed(&self) -> Vec<Container> {
        let mut all: Vec<Container> = self
            .start
            .iter()
            .filter_map(|s| s.replaces.clone())
            .collect();
        all.extend(self.kill.iter().cloned());
        all
    }
}

impl Engine {
    /// Diff `current` (this app's containers) against `target`.
    pub(crate) fn plan(&self, app_id: u32, target: Option<&App>, current: &[Container]) -> AppPlan {
        let mut plan = AppPlan::default();
        let mut claimed: BTreeSet<String> = BTreeSet::new();
        plan.lock_services = current.iter().map(|c| c.spec.service.clone()).collect();
        let Some(app) = target else {
            plan.removal = !current.is_empty();
            plan.kill = current.to_vec();
            return plan;
        };
        plan.commit = Some(app.commit.clone());
        plan.release_id = app.release_id;
        for (name, service) in &app.services {
            plan.lock_services.insert(name.clone());
            let instance = self.instance(app_id, app, name, service);
            let mine: Vec<&Container> =
                current.iter().filter(|c| &c.spec.service == name).collect();
            // Prefer a container already at the target (hand-over leftovers).
            let keep = mine
                .iter()
                .find(|c| c.spec.spec_hash == instance.spec_hash && c.spec.commit == app.commit)
                .or_else(|| mine.iter().find(|c| c.spec.spec_hash == instance.spec_hash))
                .copied();
            match keep {
                Some(c) => {
                    claimed.insert(c.id.clone());
                    if c.spec.commit != app.commit || c.spec.release_id != app.release_id {
                        plan.relabel.push(c.clone());
                    }
                }
                None => {
                    let replaces = mine.first().map(|c| (*c).clone());
                    if let Some(r) = &replaces {
                        claimed.insert(r.id.clone());
                    }
                    plan.start.push(Start {
                        instance,
                        strategy: service.strategy(),
                        replaces,
                    });
                }
            }
        }
        plan.kill = current
            .iter()
            .filter(|c| !claimed.contains(&c.id))
            .cloned()
            .collect();
        plan
    }
}
