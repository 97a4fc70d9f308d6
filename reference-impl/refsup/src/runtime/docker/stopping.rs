//! Stopping and removing containers, and the shutdown of them all.

use std::time::{Duration, Instant};

use bollard::query_parameters::{RemoveContainerOptionsBuilder, StopContainerOptionsBuilder};
use bollard::Docker;
use tokio::task::JoinSet;

use super::super::{ContainerStatus, RuntimeError, RuntimeResult};
use super::errors::{engine, is_not_found};
use super::lifecycle::is_running;
use super::DockerRuntime;

/// Why nothing starts after `shutdown`.
pub(super) const SHUT_DOWN: &str = "the runtime is shut down (refsup is exiting)";

/// Grace period `remove` gives a container that is still running.
const REMOVE_GRACE: Duration = Duration::from_secs(10);

/// How much longer than the grace the engine's stop call may take.
const STOP_SLACK: Duration = Duration::from_secs(60);

/// How long a container may still show as running after the engine's stop
/// returned.
const SETTLE: Duration = Duration::from_secs(10);

/// The engine's stop: SIGTERM (or the image's stop signal), SIGKILL after
/// `grace` (whole seconds: the API counts in seconds, so it is rounded up).
/// Returns once the container is not running; stopping a stopped
/// container succeeds.
pub(super) async fn stop(docker: &Docker, id: &str, grace: Duration) -> RuntimeResult<()> {
    let secs = grace.as_secs_f64().ceil().min(f64::from(i32::MAX));
    // In range and whole: the cast is exact.
    let t = secs as i32;
    match docker.inspect_container(id, None).await {
        Ok(c) if !is_running(c.state.as_ref()) => return Ok(()),
        Ok(_) => {}
        Err(e) if is_not_found(&e) => return Err(RuntimeError::NoSuchContainer(id.into())),
        Err(e) => return Err(engine(format_args!("inspecting container {id}"), &e)),
    }
    let client = docker.clone().with_timeout(grace + STOP_SLACK);
    let options = StopContainerOptionsBuilder::new().t(t).build();
    tracing::info!(container = %id, ?grace, "stopping service");
    match client.stop_container(id, Some(options)).await {
        Ok(()) => {}
        Err(e) if is_not_found(&e) => return Err(RuntimeError::NoSuchContainer(id.into())),
        Err(e) => return Err(engine(format_args!("stopping container {id}"), &e)),
    }
    let deadline = Instant::now() + SETTLE;
    loop {
        match docker.inspect_container(id, None).await {
            Ok(c) if !is_running(c.state.as_ref()) => return Ok(()),
            Ok(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Ok(_) => {
                return Err(RuntimeError::Other(format!(
                    "container {id} still runs after the engine stopped it"
                )))
            }
            Err(e) if is_not_found(&e) => return Ok(()),
            Err(e) => return Err(engine(format_args!("inspecting container {id}"), &e)),
        }
    }
}

impl DockerRuntime {
    /// Stop (if needed) and remove `id` with its anonymous volumes; a
    /// container that is already gone is fine.
    pub(super) async fn remove_container(&self, id: &str) -> RuntimeResult<()> {
        match stop(&self.docker, id, REMOVE_GRACE).await {
            Ok(()) => {}
            Err(RuntimeError::NoSuchContainer(_)) => return self.relabels.forget(id),
            Err(e) => return Err(e),
        }
        let options = RemoveContainerOptionsBuilder::new()
            .v(true)
            .force(true)
            .build();
        match self.docker.remove_container(id, Some(options)).await {
            Ok(()) => tracing::info!(container = %id, "container removed"),
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(engine(format_args!("removing container {id}"), &e)),
        }
        self.relabels.forget(id)
    }

    /// Stop every running container of the device concurrently, each with
    /// `grace`. Failures are logged.
    pub(super) async fn stop_all(&self, grace: Duration) {
        let containers = match self.list_with_seq().await {
            Ok(found) => found,
            Err(e) => {
                tracing::error!(error = %e, "cannot list containers to stop them");
                return;
            }
        };
        let mut stops = JoinSet::new();
        for (c, _) in containers {
            if c.status == ContainerStatus::Running {
                let docker = self.docker.clone();
                stops.spawn(async move { (stop(&docker, &c.id, grace).await, c.id) });
            }
        }
        while let Some(joined) = stops.join_next().await {
            match joined {
                Ok((Ok(()), _)) => {}
                Ok((Err(e), id)) => tracing::warn!(container = %id, error = %e, "stop failed"),
                Err(e) => tracing::warn!(error = %e, "stop task failed"),
            }
        }
    }
}
