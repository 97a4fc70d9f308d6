//! The project's images, each assembled from the host's files into a
//! [`Recipe`].

pub mod base;
pub mod fixture;
pub mod refsup;

use anyhow::{anyhow, Result};

use crate::recipe::Recipe;
use crate::static_bins::StaticBin;

/// The `fixture` image's recipe (its static binary first, see [`StaticBin`]).
pub async fn fixture_recipe() -> Result<Recipe> {
    let bin = StaticBin::FixtureApp.get().await?;
    blocking(move || fixture::recipe(&bin)).await
}

/// The `refsup` image's recipe (its static binary first, see [`StaticBin`]).
pub async fn refsup_recipe() -> Result<Recipe> {
    let bin = StaticBin::Refsup.get().await?;
    blocking(move || refsup::recipe(&bin)).await
}

/// Runs the file copying and hashing of an assembly off the async workers.
async fn blocking(assemble: impl FnOnce() -> Result<Recipe> + Send + 'static) -> Result<Recipe> {
    tokio::task::spawn_blocking(assemble)
        .await
        .map_err(|e| anyhow!("assembling an image context failed: {e}"))?
}
