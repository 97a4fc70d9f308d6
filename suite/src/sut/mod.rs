//! The supervisor under test ("sut"): the embedded reference (a fresh
//! `refsup` per case on its own root and a free port, services as processes
//! or containers) or an external supervisor. A [`Device`] is the seam
//! between the cases and a supervisor: how target states are pushed, where
//! lock dirs live, how fixture services are named and observed. Cases only
//! talk to a device through it, so the same cases judge every kind.

mod embedded;
pub mod engine;
mod external;
pub mod files;
pub mod helios;
pub mod services;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use lockgates::{LockFile, LockLocation, Profile};
use serde_json::{json, Value};

use crate::case::Need;
use crate::client::Client;
use crate::release;

pub use embedded::{DockerRuntime, Embedded, EmbeddedRuntime, EMBEDDED_TIME_SCALE};
pub use external::{External, Observe};
pub use files::{DeviceFiles, Entry, EntryKind, HostFiles};
pub use services::{HostServices, ServiceSpec, Services};

/// How a device for one case is started.
#[derive(Debug, Clone, Default)]
pub struct DeviceOpts {
    /// Ask the supervisor to pause after taking locks (creates this file and
    /// waits for its removal).
    pub pause_file: Option<std::path::PathBuf>,
    /// Ask the supervisor to pause between two locking steps (7.0.0 -
    /// 16.1.x take and release the locks per step).
    pub step_pause_file: Option<std::path::PathBuf>,
}

/// One service container (or process) as the device reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerView {
    /// Its app.
    pub app_id: u32,
    /// Its service name.
    pub service: String,
    /// The release commit it belongs to.
    pub commit: String,
    /// Whether its main process runs.
    pub running: bool,
}

/// A supervisor under test, for one case.
pub trait Device: Send {
    /// Its API.
    fn client(&self) -> &Client;
    /// Its files (lock dirs, app data, `mnt/boot`, `mnt/state`).
    fn files(&self) -> &dyn DeviceFiles;
    /// How its fixture services are named and observed.
    fn services(&self) -> &dyn Services;
    /// Kill the supervisor (SIGKILL, as a crash) and start it again with
    /// `opts`; its services keep running.
    fn restart(&mut self, opts: &DeviceOpts) -> Result<()>;

    /// The dir `service` of `app` sees at `/tmp/balena` (as
    /// [`Device::files`] sees it): the profile's host layout by default.
    fn service_lock_dir(&self, profile: &Profile, app: u32, service: &str) -> PathBuf {
        self.files()
            .root()
            .join(profile.service_lock_dir(app, service))
    }

    /// Where `file` of `service` of `app` is, as [`Device::files`] sees it.
    fn lock_path(&self, profile: &Profile, app: u32, service: &str, file: &LockFile) -> PathBuf {
        match file.location {
            LockLocation::ServiceDir => {
                self.service_lock_dir(profile, app, service).join(file.name)
            }
            LockLocation::AppData => self
                .files()
                .root()
                .join(profile.lock_path(app, service, file)),
        }
    }

    /// Push a whole target state (the balena local-mode API by default), with
    /// a one-time `"force": true` beside it when `force`.
    fn deploy(&self, state: &release::Device, force: bool) -> Result<()> {
        let mut body = state.to_json(self.services());
        if force {
            body["force"] = json!(true);
        }
        let (status, reply) = self.client().post("/v2/local/target-state", &body)?;
        anyhow::ensure!(
            status == 200,
            "target state refused: HTTP {status}: {reply}"
        );
        Ok(())
    }

    /// Ask the device to apply its target now, with a one-time lock
    /// override when `force` (`POST /v1/update` by default). The status is
    /// the balena API's: 204 when the request was accepted, so a driver for a
    /// supervisor with another API translates its own acceptance to 204.
    fn update_now(&self, force: bool) -> Result<u16> {
        Ok(self
            .client()
            .post("/v1/update", &json!({"force": force}))?
            .0)
    }

    /// The config vars of the local target state (`/v2/local/target-state`),
    /// or `None` when the device has no config vars at all.
    fn local_config(&self) -> Result<Option<Value>> {
        let target = self.client().get("/v2/local/target-state")?;
        Ok(Some(target["state"]["local"]["config"].clone()))
    }

    /// The service containers the device runs or keeps (`/v2/state/status`).
    fn containers(&self) -> Result<Vec<ContainerView>> {
        let status = self.client().get("/v2/state/status")?;
        Ok(status["containers"]
            .as_array()
            .map(|list| list.iter().filter_map(container_view).collect())
            .unwrap_or_default())
    }

    /// Whether the device still works towards its target (`/v1/device`).
    fn update_pending(&self) -> Result<bool> {
        Ok(self.client().get("/v1/device")?["update_pending"] == true)
    }

    /// Something that changes exactly when the device reboots: the
    /// reference's `boot_count` in `/v1/device` by default; a driver for a
    /// real device reads the kernel's boot id instead.
    fn boot_id(&self) -> Result<String> {
        let dev: Value = self.client().get("/v1/device")?;
        Ok(dev["boot_count"]
            .as_u64()
            .context(
                "/v1/device has no boot_count, and this target has no other way to see a reboot",
            )?
            .to_string())
    }
}

/// A `/v2/state/status` container entry as a [`ContainerView`].
fn container_view(c: &Value) -> Option<ContainerView> {
    Some(ContainerView {
        app_id: u32::try_from(c["appId"].as_u64()?).ok()?,
        service: c["serviceName"].as_str()?.to_string(),
        commit: c["commit"].as_str().unwrap_or_default().to_string(),
        running: c["status"] == "Running",
    })
}

/// Something the suite can get devices from.
pub trait Sut: Send + Sync {
    /// What the report calls it.
    fn describe(&self) -> String;
    /// Whether it offers `need`.
    fn offers(&self, need: Need) -> bool;
    /// A fresh device for one case, in `work` (a scratch dir of the case).
    fn device(&self, profile: &Profile, work: &Path, opts: &DeviceOpts) -> Result<Box<dyn Device>>;
    /// Cells that may run at once on this target.
    fn max_jobs(&self) -> usize;
}
