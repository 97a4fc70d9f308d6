//! Older builds of an image: each change to the fixture's or refsup's
//! sources gives a new content hash and so a new cache tag, and the old
//! ones would stay on the engine for ever. After a build, the other cache
//! tags of the same repository go, unless a container still uses them.

use anyhow::Result;
use bollard::Docker;

use crate::tags::{self, split_reference};

/// Remove every tag of `repository` but `keep` (`repository:tag`) from the
/// images this crate built; an image a container uses stays (the engine
/// refuses, and that is fine, as is a tag another process removed first).
pub async fn prune_older(docker: &Docker, repository: &str, keep: &str) -> Result<()> {
    for reference in tags::ours(docker).await? {
        if reference != keep && split_reference(&reference).0 == repository {
            let _ = tags::remove(docker, &reference).await;
        }
    }
    Ok(())
}
