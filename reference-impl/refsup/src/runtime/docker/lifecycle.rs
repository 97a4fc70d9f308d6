//! Listing, creating, starting and relabelling the device's containers.

use std::os::unix::fs::DirBuilderExt;
use std::path::Path;
use std::sync::atomic::Ordering;

use bollard::models::{ContainerStateStatusEnum, ContainerSummaryStateEnum};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, ListContainersOptionsBuilder, RemoveContainerOptionsBuilder,
};

use super::super::{Container, ContainerStatus, RuntimeError, RuntimeResult, ServiceInstance};
use super::errors::{self, engine, is_conflict, is_not_found, message, not_on_engine};
use super::relabels::Release;
use super::{create_body, labels, DockerRuntime};

/// How many taken names `create` skips before giving up.
const NAME_ATTEMPTS: u32 = 100;

/// Create `dir` (0755, parents too) unless it exists.
fn ensure_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(dir)
}

fn running(state: Option<&ContainerSummaryStateEnum>) -> ContainerStatus {
    use ContainerSummaryStateEnum::{PAUSED, RESTARTING, RUNNING};
    match state {
        Some(RUNNING | PAUSED | RESTARTING) => ContainerStatus::Running,
        _ => ContainerStatus::Exited,
    }
}

/// Whether an inspected container's process runs.
pub(super) fn is_running(state: Option<&bollard::models::ContainerState>) -> bool {
    use ContainerStateStatusEnum::{PAUSED, RESTARTING, RUNNING};
    state.is_some_and(|s| {
        s.running == Some(true) || matches!(s.status, Some(RUNNING | PAUSED | RESTARTING))
    })
}

impl DockerRuntime {
    /// The device's containers with their sequence numbers, sorted by (app
    /// id, service, seq). Containers whose labels cannot be read are
    /// skipped with a warning.
    pub(super) async fn list_with_seq(&self) -> RuntimeResult<Vec<(Container, u64)>> {
        if let Some(listing) = self.cache.listing() {
            return Ok(listing);
        }
        let generation = self.cache.listing_read_begins();
        let found = self.list_from_engine().await?;
        self.cache.store_listing(generation, &found);
        Ok(found)
    }

    /// How many times the device's containers were listed on the engine
    /// (not from the cache): lets tests and benchmarks see the cache work.
    pub fn engine_lists(&self) -> u64 {
        self.cache.engine_lists()
    }

    /// [`DockerRuntime::list_with_seq`] asking the engine.
    async fn list_from_engine(&self) -> RuntimeResult<Vec<(Container, u64)>> {
        let options = ListContainersOptionsBuilder::new()
            .all(true)
            .filters(&labels::device_filter(&self.owner.device))
            .build();
        let summaries = self
            .docker
            .list_containers(Some(options))
            .await
            .map_err(|e| engine("listing containers", &e))?;
        let mut found = Vec::new();
        for summary in summaries {
            let Some(id) = summary.id else { continue };
            match labels::parse(&summary.labels.unwrap_or_default()) {
                Ok((mut spec, seq)) => {
                    self.relabels.apply(&id, &mut spec);
                    let status = running(summary.state.as_ref());
                    found.push((
                        Container {
                            id,
                            spec,
                            status,
                            pid: None,
                        },
                        seq,
                    ));
                }
                Err(why) => tracing::warn!(container = %id, %why, "skipping container"),
            }
        }
        found.sort_by(|(a, a_seq), (b, b_seq)| {
            (a.spec.app_id, &a.spec.service, a_seq, &a.id).cmp(&(
                b.spec.app_id,
                &b.spec.service,
                b_seq,
                &b.id,
            ))
        });
        Ok(found)
    }

    /// Create the service's dirs, then its container (the next free
    /// sequence number), then start it.
    pub(super) async fn create(&self, spec: &ServiceInstance) -> RuntimeResult<Container> {
        for dir in std::iter::once(&spec.lock_dir).chain(&spec.data_dir) {
            ensure_dir(dir).map_err(|e| {
                errors::start(spec, format_args!("cannot create {}: {e}", dir.display()))
            })?;
        }
        let id = self.create_named(spec).await?;
        if let Err(e) = self.docker.start_container(&id, None).await {
            let options = RemoveContainerOptionsBuilder::new()
                .force(true)
                .v(true)
                .build();
            if let Err(e) = self.docker.remove_container(&id, Some(options)).await {
                tracing::warn!(container = %id, error = %message(&e), "cannot remove failed container");
            }
            return Err(errors::start(spec, message(&e)));
        }
        let inspected = self
            .docker
            .inspect_container(&id, None)
            .await
            .map_err(|e| engine(format_args!("inspecting container {id}"), &e))?;
        let status = if is_running(inspected.state.as_ref()) {
            ContainerStatus::Running
        } else {
            ContainerStatus::Exited
        };
        tracing::info!(container = %id, app = spec.app_id, service = %spec.service, ?status, "service started");
        Ok(Container {
            id,
            spec: spec.clone(),
            status,
            pid: None,
        })
    }

    /// Create (not start) a container for `spec`; returns its id.
    async fn create_named(&self, spec: &ServiceInstance) -> RuntimeResult<String> {
        for _ in 0..NAME_ATTEMPTS {
            let seq = self.next_seq.fetch_add(1, Ordering::SeqCst);
            let name = create_body::name(&self.owner.device, spec, seq);
            let body = create_body::body(spec, seq, &self.owner, &self.paths, &self.harness);
            let options = CreateContainerOptionsBuilder::new().name(&name).build();
            match self.docker.create_container(Some(options), body).await {
                Ok(created) => return Ok(created.id),
                Err(e) if is_conflict(&e) => {
                    tracing::debug!(%name, "container name taken; trying the next");
                }
                Err(e) if is_not_found(&e) => {
                    return Err(RuntimeError::Start {
                        app_id: spec.app_id,
                        service: spec.service.clone(),
                        reason: not_on_engine(&spec.image),
                    })
                }
                Err(e) => return Err(errors::start(spec, message(&e))),
            }
        }
        Err(errors::start(
            spec,
            format_args!("{NAME_ATTEMPTS} container names in a row were taken"),
        ))
    }

    /// Start an existing container unless it runs; its lock dir is made
    /// again first (a reboot wipes `<root>/tmp`).
    pub(super) async fn start_existing(&self, id: &str) -> RuntimeResult<()> {
        let inspected = match self.docker.inspect_container(id, None).await {
            Ok(inspected) => inspected,
            Err(e) if is_not_found(&e) => return Err(RuntimeError::NoSuchContainer(id.into())),
            Err(e) => return Err(engine(format_args!("inspecting container {id}"), &e)),
        };
        if is_running(inspected.state.as_ref()) {
            return Ok(());
        }
        let labels = inspected.config.and_then(|c| c.labels).unwrap_or_default();
        let spec = labels::parse(&labels)
            .map(|(spec, _)| spec)
            .map_err(|why| errors::other(format_args!("container {id}"), why))?;
        for dir in std::iter::once(&spec.lock_dir).chain(&spec.data_dir) {
            ensure_dir(dir).map_err(|e| {
                errors::start(&spec, format_args!("cannot create {}: {e}", dir.display()))
            })?;
        }
        match self.docker.start_container(id, None).await {
            Ok(()) => {
                tracing::info!(container = %id, "service started again");
                Ok(())
            }
            Err(e) if is_not_found(&e) => Err(RuntimeError::NoSuchContainer(id.into())),
            Err(e) => Err(errors::start(&spec, message(&e))),
        }
    }

    /// Record that `id` belongs to another release, container untouched.
    pub(super) async fn relabel_container(
        &self,
        id: &str,
        commit: &str,
        release_id: u64,
    ) -> RuntimeResult<()> {
        match self.docker.inspect_container(id, None).await {
            Ok(_) => {}
            Err(e) if is_not_found(&e) => return Err(RuntimeError::NoSuchContainer(id.into())),
            Err(e) => return Err(engine(format_args!("inspecting container {id}"), &e)),
        }
        self.relabels.set(
            id,
            Release {
                commit: commit.to_string(),
                release_id,
            },
        )
    }
}
