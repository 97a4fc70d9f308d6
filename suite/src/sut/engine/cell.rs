//! What one cell owns on the engine: its own tag of the fixture image (a
//! supervisor may delete the image it runs, e.g. delete-then-download, and
//! must not take other cells' services with it), the log collector watching
//! that tag, and on drop the removal of every container of the cell and of
//! the tag.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use anyhow::{Context, Result};
use bollard::query_parameters::{
    ListContainersOptionsBuilder, RemoveContainerOptionsBuilder, RemoveImageOptionsBuilder,
    TagImageOptionsBuilder,
};
use lockcheck_reaper::Owner;

use super::labels;
use super::logs::LogCollector;
use super::Engine;

/// A cell's tag of the fixture image; removing it (and the cell's
/// containers) when dropped.
pub struct CellImage {
    engine: Arc<Engine>,
    tag: String,
    scope: String,
}

impl CellImage {
    /// Tag `image` for the cell whose mark scope is `scope`.
    pub fn new(engine: &Arc<Engine>, image: &str, scope: &str) -> Result<CellImage> {
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let owner = Owner::this_process();
        let repo = format!(
            "{}{}-{}-{}",
            labels::CELL_TAG_PREFIX,
            owner.pid,
            owner.start_time,
            SEQ.fetch_add(1, Ordering::Relaxed)
        );
        let opts = TagImageOptionsBuilder::default()
            .repo(&repo)
            .tag("latest")
            .build();
        engine
            .block_on(engine.docker().tag_image(image, Some(opts)))
            .with_context(|| format!("tagging the fixture image {image} as {repo}"))?;
        Ok(CellImage {
            engine: Arc::clone(engine),
            tag: format!("{repo}:latest"),
            scope: scope.to_string(),
        })
    }

    /// The tag target states name.
    pub fn tag(&self) -> &str {
        &self.tag
    }

    /// A log collector for the cell's fixture containers.
    pub fn collector(&self) -> LogCollector {
        LogCollector::start(&self.engine, &self.tag)
    }
}

impl CellImage {
    /// Remove every container of the cell now (created from its tag or
    /// labelled with it).
    pub fn remove_containers(&self) {
        let engine = &self.engine;
        let cell_label = format!("{}={}", labels::CELL, self.scope);
        engine.block_on(async {
            let mut ids = super::logs::created_from(engine, &self.tag).await;
            ids.extend(labelled(engine, &cell_label).await.unwrap_or_default());
            ids.sort();
            ids.dedup();
            remove_containers(engine, &ids).await;
        });
    }
}

impl Drop for CellImage {
    fn drop(&mut self) {
        self.remove_containers();
        let engine = &self.engine;
        engine.block_on(async {
            let opts = RemoveImageOptionsBuilder::default().noprune(true).build();
            let _ = engine
                .docker()
                .remove_image(&self.tag, Some(opts), None)
                .await;
        });
    }
}

/// Every container (running or not) with the label `key=value` given as
/// `label`.
pub async fn labelled(engine: &Engine, label: &str) -> Result<Vec<String>, bollard::errors::Error> {
    let filters = HashMap::from([("label", vec![label])]);
    let opts = ListContainersOptionsBuilder::default()
        .all(true)
        .filters(&filters)
        .build();
    let list = engine.docker().list_containers(Some(opts)).await?;
    Ok(list.into_iter().filter_map(|c| c.id).collect())
}

/// Force-remove containers (and their anonymous volumes), all at once.
pub async fn remove_containers(engine: &Engine, ids: &[String]) {
    let removals = ids.iter().map(|id| async move {
        let opts = RemoveContainerOptionsBuilder::default()
            .force(true)
            .v(true)
            .build();
        let _ = engine.docker().remove_container(id, Some(opts)).await;
    });
    futures_util::future::join_all(removals).await;
}
