//! The Docker runtime: each service is a container on a Docker engine
//! (bollard, API version negotiated, so a 20.10 engine's 1.41 works), as
//! the real supervisor runs them. Selected by `refsup --runtime docker`.
//!
//! - **Engine**: `--engine URL` (`unix:///path` or `tcp://host:port`;
//!   default `DOCKER_HOST`, else `unix:///var/run/docker.sock`), pinged at
//!   start: no engine is one line on stderr and exit 2.
//! - **Containers** run `ServiceInstance::image` with `command` as Cmd
//!   (empty: the image's CMD), the target's environment plus the lock
//!   variables (paths as the service sees them) plus refsup's `LOCKCHECK_*`
//!   marks, `User` `uid:uid` when the service has a user, and bind mounts:
//!   the service's lock dir at both `/tmp/balena` and `/tmp/resin`, the app
//!   data dir at `/data` when the profile has one. Host paths are refsup's
//!   paths with `--root` replaced by `--host-root` (where the engine's host
//!   sees refsup's root: differs when refsup itself runs in a container).
//!   The lock dir is created (0755, if missing) before the container.
//!   Network mode `host` (`create_body::NETWORK_MODE`: a network namespace
//!   per container would cost the engine a quarter of a container's life).
//! - **Labels** (`labels`): `io.balena.supervised`, `io.balena.app-id`,
//!   `io.balena.service-name`, the service's own labels, and
//!   `io.lockcheck.{device,run,cell,commit,release-id,spec-hash,seq,spec}`.
//!   The device id (`device`) scopes containers to one refsup: many share
//!   an engine. Names are `refsup-<device>-<app>-<service>-<seq>`.
//! - **Adoption**: `list()` asks the engine for the device's containers
//!   (running or not) and rebuilds the records from their labels, so a
//!   refsup restarted after SIGKILL adopts them, like the real supervisor.
//! - **Relabel** (metadata-only update): an override record in the state
//!   dir, applied by `list()` (`relabels`: Docker cannot relabel).
//! - **Stop** is the engine's stop with the grace as its timeout (SIGTERM,
//!   SIGKILL after it; whole seconds, rounded up); `shutdown` stops all of
//!   the device's containers at once and refuses every start after it.
//! - **Images** (`images`): no registry, so `fetch_image` succeeds only
//!   for an image the engine has, or re-tags one refsup removed itself.
//!
//! - **Cache** (`cache`): the listing and image presence are kept until
//!   the engine's event stream (or refsup's own call) reports a change,
//!   and never used past one second or while the stream is not live.
//!
//! Services' stdout/stderr stay in the engine (`docker logs`); nothing is
//! written to refsup's service log dir. refsup's own records (removed
//! images' ids, relabels) live in `<root>/mnt/state/refsup/runtime/docker`.
//!
//! **refsup in a container** (like the real supervisor): mount the
//! engine's socket and the device root, and say where the host has the
//! root, e.g. `-v /var/run/docker.sock:/var/run/docker.sock -v
//! /srv/dev1:/mnt/root` with `--root /mnt/root --host-root /srv/dev1`.
//! Without `--device-id`, the device id hashes the host root, so refsups
//! in different containers (all with root `/mnt/root`) never share one.

mod cache;
mod connect;
mod create_body;
mod device;
mod errors;
mod images;
pub mod labels;
mod lifecycle;
mod relabels;
mod state_file;
mod stopping;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bollard::Docker;

use super::{Container, Runtime, RuntimeError, RuntimeResult, ServiceInstance};
pub use connect::{connect, engine_url, DEFAULT_ENGINE};
pub use create_body::NETWORK_MODE;
pub use device::device_id;
pub use images::KEEPER_REPO;

/// Where and as whom a `DockerRuntime` runs containers.
#[derive(Debug, Clone)]
pub struct DockerConfig {
    /// `--engine`; `None`: `DOCKER_HOST`, else the local socket.
    pub engine: Option<String>,
    /// refsup's `--root` (canonical).
    pub root: PathBuf,
    /// Where the engine's host sees `root`; `None`: the same path.
    pub host_root: Option<PathBuf>,
    /// `--device-id`; `None`: derived from `host_root` (else `root`).
    pub device_id: Option<String>,
    /// refsup's runtime state dir (created if missing).
    pub state_dir: PathBuf,
}

/// Why a `DockerRuntime` could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The engine is not there or does not answer.
    #[error("no container engine at {url}: {why}")]
    NoEngine {
        /// The engine URL tried.
        url: String,
        /// Why it failed.
        why: String,
    },
    /// A bad flag or an unusable state dir.
    #[error("{0}")]
    Setup(String),
}

/// Runs services as containers; see the module docs.
pub struct DockerRuntime {
    docker: Docker,
    owner: labels::Owner,
    paths: create_body::HostPaths,
    harness: Vec<(String, String)>,
    next_seq: AtomicU64,
    /// `true` once `shutdown` began; starts hold it shared.
    shut_down: tokio::sync::RwLock<bool>,
    images: images::Images,
    relabels: relabels::Relabels,
    /// The listing and image presence as last read (`cache`).
    cache: Arc<cache::EngineCache>,
    /// Follows the engine's events for `cache`; aborted on drop.
    watcher: tokio::task::JoinHandle<()>,
}

impl Drop for DockerRuntime {
    fn drop(&mut self) {
        self.watcher.abort();
    }
}

impl DockerRuntime {
    /// Connect to the engine (ping), load refsup's records and number new
    /// containers after the device's existing ones.
    pub async fn connect(cfg: DockerConfig) -> Result<DockerRuntime, ConnectError> {
        let host_root = cfg.host_root.unwrap_or_else(|| cfg.root.clone());
        // Hashing the root as the engine's host sees it: refsups in
        // containers all call their root /mnt/root.
        let device =
            device_id(cfg.device_id.as_deref(), &host_root).map_err(ConnectError::Setup)?;
        let url = engine_url(cfg.engine.as_deref());
        let docker = connect::connect(&url)
            .await
            .map_err(|why| ConnectError::NoEngine {
                url: url.clone(),
                why,
            })?;
        let state_dir = cfg.state_dir.join("docker");
        std::fs::create_dir_all(&state_dir).map_err(|e| {
            ConnectError::Setup(format!("cannot create {}: {e}", state_dir.display()))
        })?;
        let cache = Arc::new(cache::EngineCache::default());
        let watcher = cache.watch(docker.clone(), device.clone());
        let runtime = DockerRuntime {
            images: images::Images::new(
                docker.clone(),
                state_file::MapFile::new(&state_dir, "images.json"),
            ),
            relabels: relabels::Relabels::new(state_file::MapFile::new(
                &state_dir,
                "relabels.json",
            )),
            docker,
            owner: labels::Owner::new(device),
            paths: create_body::HostPaths {
                host_root,
                root: cfg.root,
            },
            harness: create_body::harness_env(),
            next_seq: AtomicU64::new(0),
            shut_down: tokio::sync::RwLock::new(false),
            cache,
            watcher,
        };
        let found = runtime
            .list_with_seq()
            .await
            .map_err(|e| ConnectError::NoEngine {
                url: url.clone(),
                why: e.to_string(),
            })?;
        let next = found.iter().map(|(_, seq)| seq + 1).max().unwrap_or(0);
        runtime
            .next_seq
            .store(next, std::sync::atomic::Ordering::SeqCst);
        let ids: BTreeSet<String> = found.into_iter().map(|(c, _)| c.id).collect();
        runtime.relabels.retain(&ids);
        tracing::info!(engine = %url, device = %runtime.owner.device, containers = ids.len(), "docker runtime ready");
        Ok(runtime)
    }
}

#[async_trait]
impl Runtime for DockerRuntime {
    fn name(&self) -> &'static str {
        "docker"
    }

    async fn fetch_image(&self, image: &str) -> RuntimeResult<()> {
        if self.has_image(image).await? {
            return Ok(());
        }
        let fetched = self.images.fetch(image).await;
        self.cache.images_changed();
        fetched
    }

    async fn has_image(&self, image: &str) -> RuntimeResult<bool> {
        if let Some(known) = self.cache.image(image) {
            return Ok(known);
        }
        let generation = self.cache.image_read_begins();
        let exists = self.images.has(image).await?;
        self.cache.store_image(generation, image, exists);
        Ok(exists)
    }

    async fn remove_image(&self, image: &str) -> RuntimeResult<()> {
        let removed = self.images.remove(image).await;
        self.cache.images_changed();
        removed
    }

    async fn list(&self) -> RuntimeResult<Vec<Container>> {
        Ok(self
            .list_with_seq()
            .await?
            .into_iter()
            .map(|(c, _)| c)
            .collect())
    }

    async fn create_and_start(&self, spec: &ServiceInstance) -> RuntimeResult<Container> {
        let shut_down = self.shut_down.read().await;
        if *shut_down {
            return Err(RuntimeError::Start {
                app_id: spec.app_id,
                service: spec.service.clone(),
                reason: stopping::SHUT_DOWN.into(),
            });
        }
        let created = self.create(spec).await;
        self.cache.containers_changed();
        created
    }

    async fn start(&self, id: &str) -> RuntimeResult<()> {
        let shut_down = self.shut_down.read().await;
        if *shut_down {
            return Err(RuntimeError::Other(format!(
                "cannot start {id}: {}",
                stopping::SHUT_DOWN
            )));
        }
        let started = self.start_existing(id).await;
        self.cache.containers_changed();
        started
    }

    async fn stop(&self, id: &str, grace: Duration) -> RuntimeResult<()> {
        let stopped = stopping::stop(&self.docker, id, grace).await;
        self.cache.containers_changed();
        stopped
    }

    async fn remove(&self, id: &str) -> RuntimeResult<()> {
        let removed = self.remove_container(id).await;
        self.cache.containers_changed();
        removed
    }

    async fn relabel(&self, id: &str, commit: &str, release_id: u64) -> RuntimeResult<()> {
        let relabelled = self.relabel_container(id, commit, release_id).await;
        self.cache.containers_changed();
        relabelled
    }

    async fn shutdown(&self, grace: Duration) {
        // Taken exclusively: starts in flight finish first (and are stopped
        // below), later ones see the flag.
        *self.shut_down.write().await = true;
        self.stop_all(grace).await;
        self.cache.containers_changed();
    }
}
