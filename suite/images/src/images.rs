//! [`Images`]: a connection to the engine that hands out the project's images
//! by tag, building one only when the engine lacks its cache tag.

use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::Result;
use bollard::Docker;
use tokio::sync::Mutex;

use crate::recipe::Recipe;
use crate::recipes::{fixture_recipe, refsup_recipe};
use crate::{build, engine, prune, tags};

/// Builds in this process run one at a time, so that callers asking for the
/// same image at once build it once.
static BUILDING: Mutex<()> = Mutex::const_new(());

/// The project's images on one engine.
///
/// The cache is the engine itself: an image whose context hashes to `H` is
/// tagged `lockcheck-<name>:<H[..16]>`, and while that tag exists nothing is
/// rebuilt. A build removes the older cache tags of the same name (sources
/// changed since), unless a container uses them; nothing else removes cache
/// tags: remove them with `docker rmi` (`docker images --filter
/// label=io.lockcheck.image`) to force a rebuild.
#[derive(Debug)]
pub struct Images {
    docker: Docker,
    url: String,
    builds: AtomicUsize,
}

impl Images {
    /// Connects to the engine at `engine` (`unix://...`, `tcp://...`;
    /// `None`: `DOCKER_HOST`, else the local socket). Fails with "no
    /// container engine at URL: why" if it does not answer.
    pub async fn connect(engine: Option<&str>) -> Result<Images> {
        let (docker, url) = engine::connect(engine).await?;
        Ok(Images {
            docker,
            url,
            builds: AtomicUsize::new(0),
        })
    }

    /// The engine client.
    pub fn docker(&self) -> &Docker {
        &self.docker
    }

    /// The engine address connected to.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// How many images this value has built (cache misses).
    pub fn builds(&self) -> usize {
        self.builds.load(Ordering::SeqCst)
    }

    /// The tag of the `fixture` image (`lockcheck-fixture:<hash>`), built if
    /// the engine lacks it.
    pub async fn fixture(&self) -> Result<String> {
        self.ensure(&fixture_recipe().await?).await
    }

    /// The tag of the `refsup` image (`lockcheck-refsup:<hash>`), built if
    /// the engine lacks it.
    pub async fn refsup(&self) -> Result<String> {
        self.ensure(&refsup_recipe().await?).await
    }

    /// The cache tag of `recipe`, built if the engine lacks it.
    pub async fn ensure(&self, recipe: &Recipe) -> Result<String> {
        let tag = recipe.tag();
        if self.has(&tag).await {
            return Ok(tag);
        }
        let _building = BUILDING.lock().await;
        if !self.has(&tag).await {
            self.build(recipe, false).await?;
        }
        Ok(tag)
    }

    /// Builds `recipe` as its cache tag even if it exists; `no_cache`: also
    /// ignore the engine's layer cache (a cold build).
    pub async fn build(&self, recipe: &Recipe, no_cache: bool) -> Result<String> {
        let tag = recipe.tag();
        self.builds.fetch_add(1, Ordering::SeqCst);
        build::build(&self.docker, recipe, &tag, no_cache).await?;
        // Best effort: the new image is there whatever happens to the old.
        let _ = prune::prune_older(&self.docker, &recipe.repository(), &tag).await;
        Ok(tag)
    }

    /// Adds the tag `new_ref` (`repo[:tag]`, tag `latest` if none) to the
    /// image `image_tag`.
    pub async fn tag_for(&self, image_tag: &str, new_ref: &str) -> Result<()> {
        tags::tag(&self.docker, image_tag, new_ref).await
    }

    /// Removes the tag `reference`; `Ok(false)` if it did not exist.
    pub async fn remove_tag(&self, reference: &str) -> Result<bool> {
        tags::remove(&self.docker, reference).await
    }

    /// Removes every tag starting with `prefix` from the images this crate
    /// built, sparing the cache tags; returns the removed tags.
    pub async fn remove_tags_with_prefix(&self, prefix: &str) -> Result<Vec<String>> {
        tags::remove_with_prefix(&self.docker, prefix).await
    }

    /// Whether the engine has an image tagged `tag`.
    async fn has(&self, tag: &str) -> bool {
        self.docker.inspect_image(tag).await.is_ok()
    }
}
