//! Building target states for cases: apps, releases and fixture services.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::sut::services::{Services, SERVICE_ENV};

/// One service of a release.
#[derive(Debug, Clone)]
pub struct Svc {
    /// Extra fixture-app arguments (lock method, paths ...).
    pub fixture_args: Vec<String>,
    /// Environment.
    pub env: BTreeMap<String, String>,
    /// Labels.
    pub labels: BTreeMap<String, String>,
}

impl Svc {
    /// A service that takes no lock and idles until killed.
    pub fn idle() -> Svc {
        Svc {
            fixture_args: vec!["--method".into(), "none".into()],
            env: BTreeMap::new(),
            labels: BTreeMap::new(),
        }
    }

    /// A service running fixture-app with these arguments.
    pub fn fixture(args: &[&str]) -> Svc {
        Svc {
            fixture_args: args.iter().map(|s| s.to_string()).collect(),
            ..Svc::idle()
        }
    }

    /// With an update strategy label.
    pub fn strategy(mut self, strategy: &str) -> Svc {
        self.labels
            .insert("io.balena.update.strategy".into(), strategy.into());
        self
    }

    /// With an environment variable.
    pub fn env(mut self, key: &str, value: &str) -> Svc {
        self.env.insert(key.into(), value.into());
        self
    }
}

/// One app at one release.
#[derive(Debug, Clone)]
pub struct AppRelease {
    /// Release commit.
    pub commit: String,
    /// The version of the service programs: services restart when it
    /// changes; a release with the same generation is metadata-only.
    pub generation: String,
    /// Services by name.
    pub services: BTreeMap<String, Svc>,
}

/// A whole device target.
#[derive(Debug, Clone, Default)]
pub struct Device {
    /// Config vars.
    pub config: BTreeMap<String, String>,
    /// Apps by id.
    pub apps: BTreeMap<u32, AppRelease>,
}

impl Device {
    /// The JSON body of `POST /v2/local/target-state`, each service's image
    /// and command as `services` names them.
    pub fn to_json(&self, services: &dyn Services) -> Value {
        let mut apps = serde_json::Map::new();
        for (id, app) in &self.apps {
            let mut out = serde_json::Map::new();
            for (name, svc) in &app.services {
                let spec = services.spec(*id, name, &app.generation, &svc.fixture_args);
                let mut env = svc.env.clone();
                env.insert(SERVICE_ENV.to_string(), format!("{id}/{name}"));
                let s = json!({
                    "image": spec.image,
                    "command": spec.command,
                    "environment": env,
                    "labels": svc.labels,
                });
                out.insert(name.clone(), s);
            }
            apps.insert(
                id.to_string(),
                json!({"name": format!("app{id}"), "commit": app.commit, "releaseId": 1, "services": out}),
            );
        }
        json!({"local": {"name": "lockcheck", "config": self.config, "apps": apps}})
    }
}
