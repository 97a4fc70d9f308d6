//! An external supervisor: any implementation the suite is pointed at with
//! `--target-url`, `--api-key` and `--root`. It is one device, so cases run
//! one at a time and each starts by resetting it to an empty target.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use lockgates::Profile;
use serde_json::json;

use super::{Device, DeviceOpts, Target};
use crate::case::Need;
use crate::client::Client;

/// A supervisor the suite did not start.
pub struct External {
    client: Client,
    root: PathBuf,
    profile: Profile,
    busy: Mutex<()>,
}

impl External {
    /// Check the target answers (with this key) before any case runs.
    pub fn connect(
        url: &str,
        api_key: Option<&str>,
        root: &Path,
        profile: &Profile,
    ) -> Result<External> {
        let client = Client::new(url, api_key);
        let (status, _) = client
            .call("GET", "/v1/device", None)
            .with_context(|| format!("target {url} is unreachable"))?;
        match status {
            200 => {}
            401 | 403 => bail!("target {url} refused the API key (HTTP {status}); pass the right one with --api-key"),
            s => bail!("target {url} answered GET /v1/device with HTTP {s}"),
        }
        let meta = std::fs::metadata(root).with_context(|| format!("--root {}", root.display()))?;
        if !meta.is_dir() {
            bail!("--root {} is not a directory", root.display());
        }
        Ok(External {
            client,
            root: root.to_path_buf(),
            profile: profile.clone(),
            busy: Mutex::new(()),
        })
    }

    /// Empty the device: no apps, no config, no locks, no breadcrumbs.
    fn reset(&self) -> Result<()> {
        let (status, body) = self.client.post(
            "/v2/local/target-state",
            &json!({"local": {"name": "lockcheck", "config": {}, "apps": {}}}),
        )?;
        if status != 200 {
            bail!("resetting the target: HTTP {status}: {body}");
        }
        let _ = self.client.post("/v1/update", &json!({"force": true}));
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let dev = self.client.get("/v1/device")?;
            if dev["update_pending"] == false {
                break;
            }
            if Instant::now() > deadline {
                bail!("the target did not reach an empty state within 60 s");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let confined = updatelock::Beneath::new(&self.root);
        for dir in [
            self.profile.lock_root(),
            std::path::PathBuf::from("resin-data"),
        ] {
            for found in confined.find_locks(&self.root.join(dir), &lockgates::LOCK_NAMES)? {
                let _ = confined.release(&found.path);
            }
        }
        for crumb in ["rollback-health-breadcrumb", "rollback-altboot-breadcrumb"] {
            let _ = std::fs::remove_file(self.root.join("mnt/state").join(crumb));
        }
        Ok(())
    }
}

impl Target for External {
    fn describe(&self) -> String {
        format!("external supervisor at {}", self.client.base())
    }

    fn offers(&self, _need: Need) -> bool {
        false
    }

    fn device(
        &self,
        _profile: &Profile,
        _work: &Path,
        _opts: &DeviceOpts,
    ) -> Result<Box<dyn Device>> {
        let guard = self.busy.lock().unwrap_or_else(|e| e.into_inner());
        self.reset()?;
        drop(guard);
        Ok(Box::new(ExternalDevice {
            client: self.client.clone(),
            root: self.root.clone(),
        }))
    }

    fn max_jobs(&self) -> usize {
        1
    }
}

struct ExternalDevice {
    client: Client,
    root: PathBuf,
}

impl Device for ExternalDevice {
    fn client(&self) -> &Client {
        &self.client
    }

    fn root(&self) -> &Path {
        &self.root
    }

    fn restart(&mut self, _opts: &DeviceOpts) -> Result<()> {
        bail!("{}", Need::Restart.missing_reason())
    }
}
