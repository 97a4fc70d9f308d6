//! The container engine side of the suite: one connection to a Docker
//! engine (local socket, `DOCKER_HOST` or `--engine tcp://...`) with its own
//! async runtime, so the synchronous cases can drive it. Through it the suite
//! builds its images, observes fixture services by their container logs,
//! reaches device files from inside a container, and removes whatever a run
//! created.

pub mod cell;
pub mod exec;
pub mod files;
pub mod labels;
pub mod logs;
pub mod reap;
pub mod services;

use std::future::Future;
use std::sync::Arc;

use anyhow::{Context, Result};
use bollard::Docker;

/// A connected engine.
pub struct Engine {
    docker: Docker,
    rt: tokio::runtime::Runtime,
    url: String,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("url", &self.url).finish()
    }
}

impl Engine {
    /// Connect to `url` (`unix://...`, `tcp://...`; `None`: `DOCKER_HOST`,
    /// else the local socket) and check it answers. The error is one line:
    /// "no container engine at URL: why".
    pub fn connect(url: Option<&str>) -> Result<Arc<Engine>> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("lockcheck-engine")
            .enable_all()
            .build()
            .context("cannot start the async runtime for the engine")?;
        let (docker, url) = rt.block_on(lockcheck_images::connect(url))?;
        Ok(Arc::new(Engine { docker, rt, url }))
    }

    /// Its address.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The API client.
    pub fn docker(&self) -> &Docker {
        &self.docker
    }

    /// The fixture image on this engine (`lockcheck-fixture:<content hash>`),
    /// built the first time and found in the engine's cache afterwards.
    pub fn fixture_image(&self) -> Result<String> {
        self.block_on(async {
            let images = lockcheck_images::Images::connect(Some(&self.url)).await?;
            images.fixture().await
        })
        .context("building the fixture image")
    }

    /// Run `f` to completion on the engine's runtime (from sync code).
    pub fn block_on<F: Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    /// Run `f` in the background on the engine's runtime.
    pub fn spawn<F>(&self, f: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.rt.spawn(f)
    }
}
