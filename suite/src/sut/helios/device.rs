//! One cell's helios: its process, its runtime dir (the lock dirs), the
//! cell's fixture image tag, and the translation between the suite's target
//! state (apps by id, releases by commit) and helios's v3 API (apps and
//! releases by uuid).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::{ensure, Context, Result};
use bollard::query_parameters::{ListContainersOptionsBuilder, TagImageOptionsBuilder};
use lockgates::Profile;
use serde_json::{json, Map, Value};

use super::ids::uuid;
use super::process::{HeliosDirs, HeliosProcess};
use super::Helios;
use crate::client::Client;
use crate::release;
use crate::sut::engine::cell::CellImage;
use crate::sut::engine::services::EngineServices;
use crate::sut::engine::Engine;
use crate::sut::{ContainerView, Device, DeviceFiles, DeviceOpts, HostFiles, Services};

/// What the driver remembers of what it sent.
#[derive(Default)]
struct Sent {
    /// App uuid → app id.
    apps: HashMap<String, u32>,
    /// Release uuid → commit.
    releases: HashMap<String, String>,
    /// App ids in helios's current target.
    deployed: BTreeSet<u32>,
    /// The last body sent per app id.
    bodies: HashMap<u32, Value>,
}

/// How long a deploy waits for one app's POST to be applied before it
/// posts the next app (a blocked app never is).
const BETWEEN_APPS: std::time::Duration = std::time::Duration::from_secs(5);

/// A helios for one cell.
pub struct HeliosDevice {
    process: Option<HeliosProcess>,
    client: Client,
    files: HostFiles,
    services: EngineServices,
    engine: Arc<Engine>,
    bin: PathBuf,
    dirs: HeliosDirs,
    device_uuid: String,
    cell_key: String,
    retry_ms: u64,
    sent: Mutex<Sent>,
    /// Dropped last: removes the cell's containers and image tag.
    cell: CellImage,
    fixture_image: String,
}

impl HeliosDevice {
    /// Start a fresh helios for the cell in `work`.
    pub fn start(h: &Helios, _profile: &Profile, work: &Path) -> Result<HeliosDevice> {
        let mark = crate::cleanup::cell_mark(work);
        let cell = CellImage::new(&h.engine, &h.fixture_image, &mark.scope)?;
        let dirs = HeliosDirs::create(work)?;
        let cell_key = mark.scope.clone();
        let device_uuid = uuid(&cell_key, "device", "");
        let process =
            HeliosProcess::start(&h.bin, h.engine.url(), &device_uuid, &dirs, h.retry_ms)?;
        Ok(HeliosDevice {
            client: process.client.clone(),
            process: Some(process),
            files: HostFiles::new(&dirs.runtime),
            services: EngineServices::new(cell.tag(), cell.collector()),
            engine: Arc::clone(&h.engine),
            bin: h.bin.clone(),
            dirs,
            device_uuid,
            cell_key,
            retry_ms: h.retry_ms,
            sent: Mutex::new(Sent::default()),
            fixture_image: h.fixture_image.clone(),
            cell,
        })
    }

    fn app_uuid(&self, app: u32) -> String {
        uuid(&self.cell_key, "app", &app.to_string())
    }

    fn sent(&self) -> std::sync::MutexGuard<'_, Sent> {
        self.sent.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// helios deletes an image by tag when no service uses it any more;
    /// there is no registry to pull it back, so the cell's tag is put back
    /// before every deploy.
    fn retag(&self) -> Result<()> {
        let (repo, tag) = self.cell.tag().split_once(':').context("cell tag")?;
        let opts = TagImageOptionsBuilder::default()
            .repo(repo)
            .tag(tag)
            .build();
        self.engine
            .block_on(
                self.engine
                    .docker()
                    .tag_image(&self.fixture_image, Some(opts)),
            )
            .context("re-tagging the cell's fixture image")
    }

    /// Wait (at most [`BETWEEN_APPS`]) until helios reports `release` of
    /// `app` installed and nothing left to do.
    fn wait_installed(&self, app: &str, release: &str) -> bool {
        let deadline = std::time::Instant::now() + BETWEEN_APPS;
        while std::time::Instant::now() < deadline {
            if self.installed(app, release)
                && self
                    .client
                    .get("/v3/status")
                    .is_ok_and(|s| s["status"] == "done")
            {
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        false
    }

    /// Whether helios reports `release` of `app` installed.
    fn installed(&self, app: &str, release: &str) -> bool {
        self.client
            .get(&format!("/v3/device/apps/{app}"))
            .is_ok_and(|a| a["releases"][release]["installed"] == true)
    }

    /// `POST /v3/device/apps/<uuid>` with `query`: the status and reply.
    fn post_app_status(&self, id: u32, query: &str, body: &Value) -> Result<(u16, Value)> {
        let app_uuid = self.app_uuid(id);
        self.client
            .post(&format!("/v3/device/apps/{app_uuid}{query}"), body)
    }

    /// [`HeliosDevice::post_app_status`], an error unless accepted (202).
    fn post_app(&self, id: u32, query: &str, body: &Value) -> Result<()> {
        let (status, reply) = self.post_app_status(id, query, body)?;
        ensure!(
            status == 202,
            "helios refused app {id}: HTTP {status}: {reply}"
        );
        Ok(())
    }

    /// The v3 app target of `app` at `rel`.
    fn app_body(&self, id: u32, rel: &release::AppRelease) -> (String, Value) {
        let release_uuid = uuid(&self.cell_key, "release", &rel.commit);
        let mut services = Map::new();
        for (n, (name, svc)) in rel.services.iter().enumerate() {
            let spec = self
                .services
                .spec(id, name, &rel.generation, &svc.fixture_args);
            let mut env: BTreeMap<String, String> = svc.env.clone();
            env.insert(
                crate::sut::services::SERVICE_ENV.to_string(),
                format!("{id}/{name}"),
            );
            services.insert(
                name.clone(),
                json!({
                    "id": n + 1,
                    "image": spec.image,
                    "composition": {
                        "command": spec.command,
                        "environment": env,
                        "labels": svc.labels,
                        // SIGTERM reaches the fixture; no 10 s engine stop.
                        "init": true,
                    },
                }),
            );
        }
        let body = json!({
            "id": id,
            "name": format!("app{id}"),
            "releases": {release_uuid.clone(): {"services": services, "networks": {}, "volumes": {}}},
        });
        (release_uuid, body)
    }
}

impl Device for HeliosDevice {
    fn client(&self) -> &Client {
        &self.client
    }

    fn files(&self) -> &dyn DeviceFiles {
        &self.files
    }

    fn services(&self) -> &dyn Services {
        &self.services
    }

    fn restart(&mut self, _opts: &DeviceOpts) -> Result<()> {
        if let Some(p) = self.process.take() {
            p.kill();
        }
        let p = HeliosProcess::start(
            &self.bin,
            self.engine.url(),
            &self.device_uuid,
            &self.dirs,
            self.retry_ms,
        )?;
        self.client = p.client.clone();
        self.process = Some(p);
        Ok(())
    }

    /// One dir per app: `<runtime>/update-locks/<app-uuid>`.
    fn service_lock_dir(&self, _profile: &Profile, app: u32, _service: &str) -> PathBuf {
        self.dirs
            .runtime
            .join("update-locks")
            .join(self.app_uuid(app))
    }

    /// helios's local API sets one app at a time, from the *current* state
    /// of the others: only apps whose target changed are posted, one after
    /// the other, each given a moment to apply first (`cancel=true`, or a
    /// blocked update would queue the next target forever). Posting an app
    /// resets every other app's target to its current state, so an app left
    /// blocked is posted again once the apps after it are installed.
    fn deploy(&self, state: &release::Device, force: bool) -> Result<()> {
        self.retag()?;
        let query = format!("?cancel=true&force={force}");
        let mut sent = self.sent();
        let mut changed = Vec::new();
        for (id, rel) in &state.apps {
            let (release_uuid, body) = self.app_body(*id, rel);
            sent.apps.insert(self.app_uuid(*id), *id);
            sent.releases
                .insert(release_uuid.clone(), rel.commit.clone());
            if force || sent.bodies.get(id) != Some(&body) {
                changed.push((*id, release_uuid, body));
            }
        }
        let count = changed.len();
        let mut blocked = Vec::new();
        for (n, (id, release_uuid, body)) in changed.into_iter().enumerate() {
            self.post_app(id, &query, &body)?;
            let last = n + 1 == count;
            if !last {
                if !self.wait_installed(&self.app_uuid(id), &release_uuid) {
                    blocked.push((id, release_uuid));
                }
            } else if !blocked.is_empty() {
                // An earlier app is posted again below: that POST must see
                // this one installed.
                self.wait_installed(&self.app_uuid(id), &release_uuid);
            }
            sent.bodies.insert(id, body);
        }
        // Each later POST reset the blocked apps before it to their current
        // (old) release (helios-api lib.rs:263-271): post those again, now
        // that the later apps are installed, so the whole target is set.
        let last = blocked.len();
        for (n, (id, release_uuid)) in blocked.into_iter().enumerate() {
            self.post_app(id, &query, &sent.bodies[&id])?;
            if n + 1 < last {
                self.wait_installed(&self.app_uuid(id), &release_uuid);
            }
        }
        let gone: Vec<u32> = sent
            .deployed
            .iter()
            .filter(|id| !state.apps.contains_key(id))
            .copied()
            .collect();
        for id in gone {
            let app_uuid = self.app_uuid(id);
            let (status, reply) = self.client.call(
                "DELETE",
                &format!("/v3/device/apps/{app_uuid}{query}"),
                None,
            )?;
            ensure!(
                status == 202 || status == 404,
                "helios refused to remove app {id}: HTTP {status}: {reply}"
            );
        }
        sent.deployed = state.apps.keys().copied().collect();
        Ok(())
    }

    /// From the engine: `<service>_<release-uuid>` labelled with the app uuid.
    fn containers(&self) -> Result<Vec<ContainerView>> {
        let opts = ListContainersOptionsBuilder::default().all(true).build();
        let list = self
            .engine
            .block_on(self.engine.docker().list_containers(Some(opts)))
            .context("listing containers")?;
        let sent = self.sent();
        let mut out = Vec::new();
        for c in list {
            let labels = c.labels.unwrap_or_default();
            let Some(app_id) = labels
                .get("io.balena.app-uuid")
                .and_then(|u| sent.apps.get(u))
            else {
                continue;
            };
            let Some(service) = labels.get("io.balena.service-name") else {
                continue;
            };
            let name = c
                .names
                .unwrap_or_default()
                .first()
                .cloned()
                .unwrap_or_default();
            let release = name.rsplit('_').next().unwrap_or_default();
            out.push(ContainerView {
                app_id: *app_id,
                service: service.clone(),
                commit: sent.releases.get(release).cloned().unwrap_or_default(),
                running: c.state == Some(bollard::models::ContainerSummaryStateEnum::RUNNING),
            });
        }
        Ok(out)
    }

    /// helios's `POST /v1/update` only asks the remote poller to poll (a
    /// no-op unmanaged); its one-time override is `?force=true` on the app
    /// POST, with `cancel=true` so a blocked apply is interrupted rather
    /// than queued behind. Every app in the current target is posted again
    /// that way; all accepted (202) reads as the balena API's 204.
    fn update_now(&self, force: bool) -> Result<u16> {
        self.retag()?;
        let sent = self.sent();
        let query = format!("?cancel=true&force={force}");
        for id in &sent.deployed {
            let Some(body) = sent.bodies.get(id) else {
                continue;
            };
            let (status, _) = self.post_app_status(*id, &query, body)?;
            if status != 202 {
                return Ok(status);
            }
        }
        Ok(204)
    }

    /// helios has no config vars (no `/v2/local/target-state`).
    fn local_config(&self) -> Result<Option<Value>> {
        Ok(None)
    }

    fn update_pending(&self) -> Result<bool> {
        let status = self.client.get("/v3/status")?;
        Ok(status["status"] != "done")
    }

    fn boot_id(&self) -> Result<String> {
        anyhow::bail!("helios has no reboot: no /v1/device boot count, no /v1/reboot")
    }
}

impl Drop for HeliosDevice {
    fn drop(&mut self) {
        // helios first (SIGTERM; it leaves containers), then the cell's
        // containers, networks and tag.
        self.process.take();
        self.cell.remove_containers();
        let apps: Vec<String> = self.sent().apps.keys().cloned().collect();
        let engine = &self.engine;
        engine.block_on(async {
            for app in apps {
                let _ = engine
                    .docker()
                    .remove_network(&format!("default_{app}"))
                    .await;
            }
        });
    }
}
