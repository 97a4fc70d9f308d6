//! The runtime seam: how the supervisor runs services. Two runtimes fill it:
//! [`process`] (services are child processes, no daemon; the default) and
//! [`docker`] (services are containers on a Docker engine, as on a device).

pub mod docker;
pub mod process;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// What the supervisor asks a runtime to run: one service of one release.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceInstance {
    /// The app the service belongs to.
    pub app_id: u32,
    /// The service name (validated: no `/`, no `..`, at most 255 bytes).
    pub service: String,
    /// The release commit this instance belongs to.
    pub commit: String,
    /// The release id.
    pub release_id: u64,
    /// Image name (a local image for Docker; a label for the process runtime).
    pub image: String,
    /// argv; the process runtime resolves `command[0]` on PATH and beside the
    /// refsup executable.
    pub command: Vec<String>,
    /// Environment from the target state, plus what the supervisor adds.
    pub environment: BTreeMap<String, String>,
    /// Lock-path variables as (name, path as the service sees it); the runtime
    /// maps the path to what the service really sees (host path for processes).
    pub lock_env: Vec<(String, String)>,
    /// Service labels from the target state.
    pub labels: BTreeMap<String, String>,
    /// Numeric uid to run as (`None`: the runtime's default, root).
    pub user: Option<u32>,
    /// Hash of everything that makes a restart necessary; equal hashes with a
    /// different commit are a metadata-only change.
    pub spec_hash: String,
    /// Host dir mounted at `/tmp/balena` and `/tmp/resin`.
    pub lock_dir: PathBuf,
    /// Host dir mounted at `/data` (OS 1.x app data), when the profile has it.
    pub data_dir: Option<PathBuf>,
}

/// Whether a container's main process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ContainerStatus {
    /// Its process is alive.
    Running,
    /// Its process ended (by itself, or killed, or failed to start).
    Exited,
}

impl ContainerStatus {
    /// The status string the supervisor API reports.
    pub fn api_name(self) -> &'static str {
        match self {
            ContainerStatus::Running => "Running",
            ContainerStatus::Exited => "Exited",
        }
    }
}

/// A service instance as the runtime knows it (the analogue of a container
/// with its labels).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Container {
    /// Runtime-unique id.
    pub id: String,
    /// What was asked for; `commit`/`release_id` follow metadata-only updates.
    pub spec: ServiceInstance,
    /// Process state now.
    pub status: ContainerStatus,
    /// Main process id, when running (process runtime only).
    pub pid: Option<u32>,
}

/// Errors of a runtime, each naming what failed.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// No such container id.
    #[error("no container {0}")]
    NoSuchContainer(String),
    /// The service could not be started.
    #[error("cannot start {service} of app {app_id}: {reason}")]
    Start {
        /// App id.
        app_id: u32,
        /// Service name.
        service: String,
        /// Why.
        reason: String,
    },
    /// Anything else, with context.
    #[error("{0}")]
    Other(String),
}

/// Runtime results.
pub type RuntimeResult<T> = Result<T, RuntimeError>;

/// How the supervisor runs services. Every method is idempotent where that is
/// natural (stopping a stopped container succeeds) so a supervisor restarted
/// after a crash can redo the step it was in.
#[async_trait]
pub trait Runtime: Send + Sync + 'static {
    /// `process` or `docker`, for logs and errors.
    fn name(&self) -> &'static str;
    /// Make `image` available locally (a simulated download for processes).
    async fn fetch_image(&self, image: &str) -> RuntimeResult<()>;
    /// Whether `image` is available locally.
    async fn has_image(&self, image: &str) -> RuntimeResult<bool>;
    /// Delete a local image (delete-then-download).
    async fn remove_image(&self, image: &str) -> RuntimeResult<()>;
    /// Every container this runtime manages under this supervisor, running or
    /// not, sorted by (app id, service). A restarted supervisor adopts these.
    async fn list(&self) -> RuntimeResult<Vec<Container>>;
    /// Create a container for `spec` and start it.
    async fn create_and_start(&self, spec: &ServiceInstance) -> RuntimeResult<Container>;
    /// Start an existing container whose process is not running (at boot).
    async fn start(&self, id: &str) -> RuntimeResult<()>;
    /// SIGTERM the container's processes, SIGKILL them after `grace`; returns
    /// once they are gone. The container record stays.
    async fn stop(&self, id: &str, grace: Duration) -> RuntimeResult<()>;
    /// Forget a stopped container.
    async fn remove(&self, id: &str) -> RuntimeResult<()>;
    /// Point a container at a new release without restarting it
    /// (metadata-only change).
    async fn relabel(&self, id: &str, commit: &str, release_id: u64) -> RuntimeResult<()>;
    /// Stop every container at once (each as `stop` with `grace`) and start
    /// none from now on: for a supervisor that exits, so that nothing it
    /// still had in flight starts a service that would outlive it.
    async fn shutdown(&self, grace: Duration);
}
