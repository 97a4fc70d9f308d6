//! Fixture services: what a target state names for a service running
//! `fixture-app` (image and command) and how its log is read back. On the
//! process runtime the fixture is the lockcheck executable itself and logs to
//! a file in the cell's scratch dir ([`HostServices`]); in containers it is
//! the fixture image and logs to stdout, read through the engine.

use std::path::{Path, PathBuf};

use anyhow::Result;
use fixture_app::log::Record;

/// The env var every fixture service gets in the target state: `<app>/<service>`.
/// It lets an observer that only sees containers tell which service one is.
pub const SERVICE_ENV: &str = "LOCKCHECK_SERVICE";

/// Image and command of one fixture service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceSpec {
    /// The image the target state names.
    pub image: String,
    /// The command (argv) the service runs.
    pub command: Vec<String>,
}

/// How a device runs and observes fixture services.
pub trait Services: Send + Sync {
    /// `service` of `app` at release generation `generation`, running
    /// fixture-app with `args` (and `--tag generation`).
    fn spec(&self, app: u32, service: &str, generation: &str, args: &[String]) -> ServiceSpec;
    /// Every record the fixture of `service` of `app` logged so far, across
    /// all its instances, in order.
    fn records(&self, app: u32, service: &str) -> Result<Vec<Record>>;
}

/// Fixtures are processes on this host: `exe fixture ...` logging to
/// `logs/<app>-<service>.log`.
#[derive(Debug, Clone)]
pub struct HostServices {
    exe: PathBuf,
    logs: PathBuf,
}

impl HostServices {
    /// Services running `exe fixture`, logging under `logs` (created here).
    pub fn new(exe: &Path, logs: &Path) -> Result<HostServices> {
        std::fs::create_dir_all(logs)?;
        Ok(HostServices {
            exe: exe.to_path_buf(),
            logs: logs.to_path_buf(),
        })
    }

    fn log_path(&self, app: u32, service: &str) -> PathBuf {
        self.logs.join(format!("{app}-{service}.log"))
    }
}

impl Services for HostServices {
    fn spec(&self, app: u32, service: &str, generation: &str, args: &[String]) -> ServiceSpec {
        let mut command = vec![
            self.exe.display().to_string(),
            "fixture".to_string(),
            "--log".to_string(),
            self.log_path(app, service).display().to_string(),
        ];
        command.extend(fixture_args(generation, args));
        ServiceSpec {
            image: format!("fixture-app:{generation}"),
            command,
        }
    }

    fn records(&self, app: u32, service: &str) -> Result<Vec<Record>> {
        fixture_app::log::read(&self.log_path(app, service))
    }
}

/// `--tag generation` and the case's own fixture arguments.
pub fn fixture_args(generation: &str, args: &[String]) -> Vec<String> {
    let mut out = vec!["--tag".to_string(), generation.to_string()];
    out.extend(args.iter().cloned());
    out
}
