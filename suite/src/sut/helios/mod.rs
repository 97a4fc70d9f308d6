//! balena's helios (the Rust rewrite of the supervisor) as a target:
//! `lockcheck run --target helios --helios-bin PATH --engine URL`. The cases
//! stay the same; what differs is the driver's business:
//! - each cell gets a fresh helios process (own uuid, runtime dir, API
//!   port) on the given engine, unmanaged, retrying every 200 ms; helios
//!   adopts every supervised container of its engine, so cells run one at a
//!   time;
//! - target states go to its v3 API, one `POST /v3/device/apps/<uuid>` per
//!   app (`?cancel=true`, or a blocked update queues the new target forever;
//!   `force=true` for a one-time force), `DELETE` for a removed app;
//! - an app's lock dir is `<runtime>/update-locks/<app-uuid>` (one per app,
//!   at `/tmp/balena` in every service);
//! - containers are read from the engine (`<service>_<release-uuid>`,
//!   labelled `io.balena.app-uuid`), "pending" is `/v3/status` not `done`.
//!
//! What helios has no route for (`/v1/device`, reboot, host-config, service
//! actions, config vars) the cases find missing, and the matrix says so.
//! See `fixtures/helios/README.md` for how this was worked out.

mod device;
mod ids;
mod process;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::{bail, Result};
use lockgates::Profile;

use super::engine::Engine;
use super::{Device, DeviceOpts, Sut};
use crate::case::Need;

/// How helios is started, shared by its cells.
pub struct Helios {
    /// The helios binary.
    pub bin: PathBuf,
    /// The engine it manages (26.x or newer: see fixtures/helios).
    pub engine: Arc<Engine>,
    /// The fixture image built on that engine.
    pub fixture_image: String,
    /// Retry interval for a blocked update, ms (helios's own default is 30 s).
    pub retry_ms: u64,
    busy: Mutex<()>,
}

impl Helios {
    /// A helios target; checks the binary exists and is executable.
    pub fn new(bin: &Path, engine: Arc<Engine>, fixture_image: String) -> Result<Helios> {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(bin)
            .map_err(|e| anyhow::anyhow!("--helios-bin {}: {e}", bin.display()))?;
        if !meta.is_file() || meta.permissions().mode() & 0o111 == 0 {
            bail!("--helios-bin {} is not an executable file", bin.display());
        }
        Ok(Helios {
            bin: bin.to_path_buf(),
            engine,
            fixture_image,
            retry_ms: 200,
            busy: Mutex::new(()),
        })
    }
}

impl Sut for Helios {
    fn describe(&self) -> String {
        format!(
            "helios ({}) on engine {}",
            self.bin.display(),
            self.engine.url()
        )
    }

    fn offers(&self, need: Need) -> bool {
        need == Need::Restart
    }

    fn device(
        &self,
        profile: &Profile,
        work: &Path,
        _opts: &DeviceOpts,
    ) -> Result<Box<dyn Device>> {
        // One helios per engine at a time (it adopts every supervised
        // container); the runner already runs one cell at a time.
        let _guard = self.busy.lock().unwrap_or_else(|e| e.into_inner());
        Ok(Box::new(device::HeliosDevice::start(self, profile, work)?))
    }

    fn max_jobs(&self) -> usize {
        1
    }
}
