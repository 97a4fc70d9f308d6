//! Turning a target service into what the runtime runs.

use std::collections::BTreeMap;

use crate::runtime::ServiceInstance;
use crate::target::{App, Service};

use super::Engine;

/// FNV-1a over the canonical JSON of what forces a restart when it changes.
fn spec_hash(service: &Service) -> String {
    let canonical = serde_json::to_string(&(
        &service.image,
        &service.command,
        &service.environment,
        &service.labels,
        &service.user,
    ))
    .unwrap_or_default();
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in canonical.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{hash:016x}")
}

impl Engine {
    /// The runtime request for `name` of `app` at its target release.
    pub(crate) fn instance(
        &self,
        app_id: u32,
        app: &App,
        name: &str,
        service: &Service,
    ) -> ServiceInstance {
        let profile = &self.cfg.profile;
        let mut environment: BTreeMap<String, String> = service.environment.clone();
        for (k, v) in [
            ("BALENA_APP_ID", app_id.to_string()),
            ("RESIN_APP_ID", app_id.to_string()),
            ("BALENA_APP_NAME", app.name.clone()),
            ("BALENA_SERVICE_NAME", name.to_string()),
            (
                "BALENA_SUPERVISOR_VERSION",
                profile.supervisor().to_string(),
            ),
            ("BALENA_HOST_OS_VERSION", profile.os().to_string()),
        ] {
            environment.entry(k.to_string()).or_insert(v);
        }
        ServiceInstance {
            app_id,
            service: name.to_string(),
            commit: app.commit.clone(),
            release_id: app.release_id,
            image: service.image.clone(),
            command: service.command.clone(),
            environment,
            lock_env: profile
                .lock_env_vars()
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            labels: service.labels.clone(),
            user: service.uid(),
            spec_hash: spec_hash(service),
            lock_dir: self.layout.service_lock_dir(app_id, name),
            data_dir: profile
                .clears_data_lock_at_start()
                .then(|| self.layout.app_data_dir(app_id)),
        }
    }
}
