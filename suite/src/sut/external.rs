//! An external supervisor: any implementation the suite is pointed at with
//! `--target-url`, `--api-key` and `--root`. It is one device, so cases run
//! one at a time and each starts by resetting it to an empty target.
//!
//! Its files and services are observed one of two ways: on this host (the
//! supervisor runs fixtures as host commands and `--root` is a local dir), or
//! through its container engine (`--engine`): the suite builds the fixture
//! image on that engine, names it in target states, reads fixture logs from
//! the containers and reaches `--root` (as the engine's host sees it)
//! through an observer container.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use lockgates::Profile;
use serde_json::json;

use super::engine::cell::CellImage;
use super::engine::files::EngineFiles;
use super::engine::services::EngineServices;
use super::engine::Engine;
use super::{Device, DeviceFiles, DeviceOpts, HostFiles, HostServices, Services, Sut};
use crate::case::Need;
use crate::cleanup::cell_mark;
use crate::client::Client;

/// How the suite observes an external supervisor.
#[derive(Debug, Clone)]
pub enum Observe {
    /// Files under a local `--root`; fixtures run `exe fixture` on this host.
    Host {
        /// The lockcheck executable.
        exe: PathBuf,
    },
    /// Through the supervisor's engine.
    Engine {
        /// The engine.
        engine: Arc<Engine>,
        /// The fixture image built on it.
        fixture_image: String,
    },
}

/// A supervisor the suite did not start.
pub struct External {
    client: Client,
    root: PathBuf,
    profile: Profile,
    observe: Observe,
    busy: Mutex<()>,
}

impl External {
    /// Check the target answers (with this key) before any case runs.
    pub fn connect(
        url: &str,
        api_key: Option<&str>,
        root: &Path,
        profile: &Profile,
        observe: Observe,
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
        if let Observe::Host { .. } = observe {
            let meta =
                std::fs::metadata(root).with_context(|| format!("--root {}", root.display()))?;
            if !meta.is_dir() {
                bail!("--root {} is not a directory", root.display());
            }
        }
        Ok(External {
            client,
            root: root.to_path_buf(),
            profile: profile.clone(),
            observe,
            busy: Mutex::new(()),
        })
    }

    /// Empty the device: no apps, no config, no locks, no breadcrumbs.
    fn reset(&self, files: &dyn DeviceFiles) -> Result<()> {
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
        let root = files.root().to_path_buf();
        files.clear_locks(&root.join(self.profile.lock_root()))?;
        files.clear_locks(&root.join("resin-data"))?;
        for crumb in ["rollback-health-breadcrumb", "rollback-altboot-breadcrumb"] {
            let _ = files.remove(&root.join("mnt/state").join(crumb));
        }
        Ok(())
    }
}

impl Sut for External {
    fn describe(&self) -> String {
        match &self.observe {
            Observe::Host { .. } => format!("external supervisor at {}", self.client.base()),
            Observe::Engine { engine, .. } => format!(
                "external supervisor at {} (engine {})",
                self.client.base(),
                engine.url()
            ),
        }
    }

    fn offers(&self, _need: Need) -> bool {
        false
    }

    fn device(
        &self,
        _profile: &Profile,
        work: &Path,
        _opts: &DeviceOpts,
    ) -> Result<Box<dyn Device>> {
        let guard = self.busy.lock().unwrap_or_else(|e| e.into_inner());
        let device = match &self.observe {
            Observe::Host { exe } => ExternalDevice {
                client: self.client.clone(),
                files: Arc::new(HostFiles::new(&self.root)),
                engine_files: None,
                services: Box::new(HostServices::new(exe, &work.join("logs"))?),
                _cell: None,
            },
            Observe::Engine {
                engine,
                fixture_image,
            } => {
                let mark = cell_mark(work);
                let cell = CellImage::new(engine, fixture_image, &mark.scope)?;
                let files = Arc::new(EngineFiles::start(engine, cell.tag(), &self.root, &mark)?);
                ExternalDevice {
                    client: self.client.clone(),
                    files: files.clone(),
                    engine_files: Some(files),
                    services: Box::new(EngineServices::new(cell.tag(), cell.collector())),
                    _cell: Some(cell),
                }
            }
        };
        self.reset(device.files.as_ref())?;
        drop(guard);
        Ok(Box::new(device))
    }

    fn max_jobs(&self) -> usize {
        1
    }
}

struct ExternalDevice {
    client: Client,
    files: Arc<dyn DeviceFiles>,
    /// The same files when they are reached through the engine (the
    /// observer also reads the kernel's boot id).
    engine_files: Option<Arc<EngineFiles>>,
    services: Box<dyn Services>,
    /// Removes the cell's containers and image tag when the device goes.
    _cell: Option<CellImage>,
}

impl Device for ExternalDevice {
    fn client(&self) -> &Client {
        &self.client
    }

    fn files(&self) -> &dyn DeviceFiles {
        self.files.as_ref()
    }

    fn services(&self) -> &dyn Services {
        self.services.as_ref()
    }

    fn restart(&mut self, _opts: &DeviceOpts) -> Result<()> {
        bail!("{}", Need::Restart.missing_reason())
    }

    /// The reference's boot count when it has one; else, through the
    /// engine, the kernel's boot id (a real device really reboots).
    fn boot_id(&self) -> Result<String> {
        let dev = self.client.get("/v1/device")?;
        if let Some(count) = dev["boot_count"].as_u64() {
            return Ok(count.to_string());
        }
        match &self.engine_files {
            Some(files) => files.boot_id(),
            None => bail!("/v1/device has no boot_count; pass --engine so the suite can read the device's boot id"),
        }
    }
}
