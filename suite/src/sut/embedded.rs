//! The embedded reference: `lockcheck refsup ...` on a fresh root per case.
//! Each refsup carries its cell's mark (and passes it on to its services),
//! and gets SIGTERM if lockcheck dies, so it stops its services. Its services
//! are processes, or containers on an engine (`refsup --runtime docker`):
//! then each cell has its own tag of the fixture image, the fixtures log to
//! stdout and are read through the engine, and the cell's containers and tag
//! are removed when the device is dropped.

use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use lockgates::Profile;

use super::engine::cell::CellImage;
use super::engine::services::EngineServices;
use super::engine::Engine;
use super::{Device, DeviceFiles, DeviceOpts, HostFiles, HostServices, Services, Sut};
use crate::case::Need;
use crate::cleanup::cell_mark;
use crate::client::Client;

/// How long a SIGTERMed refsup gets to stop its services (`--stop-timeout`
/// 3 s each, all at once) and exit before it is killed.
const EXIT_WAIT: Duration = Duration::from_secs(10);

/// The reference supervisor, run from the lockcheck binary itself.
#[derive(Debug, Clone)]
pub struct Embedded {
    /// The lockcheck executable (it embeds refsup and the fixture app).
    pub exe: PathBuf,
    /// Faults to inject (`refsup --fault`).
    pub faults: Vec<refsup::fault::Fault>,
    /// `refsup --time-scale`: the reference's timings (retry backoff, poll
    /// interval, app-lock wait) relative to the real supervisor's.
    pub time_scale: f64,
    /// How refsup runs its services.
    pub runtime: EmbeddedRuntime,
}

/// How the embedded reference runs services.
#[derive(Debug, Clone, Default)]
pub enum EmbeddedRuntime {
    /// Child processes of refsup (no daemon).
    #[default]
    Process,
    /// Containers on an engine, from the fixture image.
    Docker(Arc<DockerRuntime>),
}

/// What the Docker runtime needs: the engine and the fixture image built on it.
#[derive(Debug)]
pub struct DockerRuntime {
    /// The engine.
    pub engine: Arc<Engine>,
    /// The fixture image (content-hash tag); each cell tags it anew.
    pub fixture_image: String,
}

/// The embedded reference's default `--time-scale`: its retry backoff runs
/// 1000 times faster than the real one (a 15-minute cap becomes 0.9 s).
pub const EMBEDDED_TIME_SCALE: f64 = 0.001;

impl Sut for Embedded {
    fn describe(&self) -> String {
        match &self.runtime {
            EmbeddedRuntime::Process => "embedded reference (refsup, process runtime)".into(),
            EmbeddedRuntime::Docker(d) => format!(
                "embedded reference (refsup, docker runtime on {})",
                d.engine.url()
            ),
        }
    }

    fn offers(&self, _need: Need) -> bool {
        true
    }

    fn device(&self, profile: &Profile, work: &Path, opts: &DeviceOpts) -> Result<Box<dyn Device>> {
        let root = work.join("root");
        // Not create_dir_all: a cell whose scratch dir is gone is over.
        std::fs::create_dir(&root).with_context(|| format!("creating {}", root.display()))?;
        let (services, cell): (Box<dyn Services>, _) = match &self.runtime {
            EmbeddedRuntime::Process => (
                Box::new(HostServices::new(&self.exe, &work.join("logs"))?),
                None,
            ),
            EmbeddedRuntime::Docker(d) => {
                let cell = CellImage::new(&d.engine, &d.fixture_image, &cell_mark(work).scope)?;
                (
                    Box::new(EngineServices::new(cell.tag(), cell.collector())),
                    Some(cell),
                )
            }
        };
        let mut device = EmbeddedDevice {
            spec: self.clone(),
            profile: profile.clone(),
            files: HostFiles::new(&root),
            services,
            _cell: cell,
            root,
            child: None,
            client: Client::new("http://0", None),
        };
        device.spawn(opts)?;
        Ok(Box::new(device))
    }

    fn max_jobs(&self) -> usize {
        64
    }
}

struct EmbeddedDevice {
    spec: Embedded,
    profile: Profile,
    root: PathBuf,
    files: HostFiles,
    services: Box<dyn Services>,
    child: Option<Child>,
    client: Client,
    /// Dropped after refsup stopped: removes the cell's containers and tag.
    _cell: Option<CellImage>,
}

impl EmbeddedDevice {
    fn spawn(&mut self, opts: &DeviceOpts) -> Result<()> {
        let mut extra: Vec<String> = vec!["--stop-timeout".into(), "3".into()];
        for fault in &self.spec.faults {
            extra.extend(["--fault".into(), fault.name()]);
        }
        if let Some(pause) = &opts.pause_file {
            extra.extend(["--pause-after-lock".into(), pause.display().to_string()]);
        }
        if let Some(pause) = &opts.step_pause_file {
            extra.extend(["--pause-between-steps".into(), pause.display().to_string()]);
        }
        extra.extend(["--time-scale".into(), self.spec.time_scale.to_string()]);
        if let EmbeddedRuntime::Docker(d) = &self.spec.runtime {
            extra.extend([
                "--runtime".into(),
                "docker".into(),
                "--engine".into(),
                d.engine.url().to_string(),
            ]);
        }
        let work = self.root.parent().unwrap_or(&self.root);
        let launched = refsup::launch::Launch {
            program: vec![self.spec.exe.display().to_string(), "refsup".into()],
            root: self.root.clone(),
            profile: self.profile.to_string(),
            extra,
            log: Some(work.join("refsup.log")),
        }
        .start_with(|cmd| {
            cell_mark(work).apply(cmd);
            lockcheck_reaper::die_with_parent(cmd, nix::sys::signal::Signal::SIGTERM);
        })?;
        let child = launched.child;
        self.client = Client::new(&launched.url, None);
        self.child = Some(child);
        Ok(())
    }
}

impl Device for EmbeddedDevice {
    fn client(&self) -> &Client {
        &self.client
    }

    fn files(&self) -> &dyn DeviceFiles {
        &self.files
    }

    fn services(&self) -> &dyn Services {
        self.services.as_ref()
    }

    fn restart(&mut self, opts: &DeviceOpts) -> Result<()> {
        if let Some(mut child) = self.child.take() {
            child.kill()?;
            child.wait()?;
        }
        self.spawn(opts)
    }
}

impl Drop for EmbeddedDevice {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SIGTERM: refsup stops its services, then exits; one that does
            // not is killed (its cell then kills what it left).
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(child.id() as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
            if !matches!(
                lockcheck_reaper::wait_timeout(&mut child, EXIT_WAIT),
                Ok(Some(_))
            ) {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}
