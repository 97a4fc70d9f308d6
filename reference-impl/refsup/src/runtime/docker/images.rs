//! Images without a registry. `has_image` asks the engine. Nothing can be
//! pulled, so a "download" is only possible for what is already there, or
//! for a tag refsup itself removed: `remove_image` remembers the tag's image
//! id (in `images.json`) before untagging it, and `fetch_image` re-tags that
//! id, which simulates the download of a delete-then-download update.
//!
//! `remove_image` only ever untags (`noprune`, never `force`): when the tag
//! is the image's last one, refsup first gives the image a keeper tag
//! `refsup-kept:<12 hex of its id>`, so the engine keeps the image (other
//! refsups on the same engine may run it, and the remembered id must stay
//! valid for the fetch). Keeper tags are shared by every refsup and cost
//! nothing but a name; whoever cleans the engine's images removes them.

use std::collections::BTreeMap;
use std::sync::Mutex;

use bollard::query_parameters::{RemoveImageOptionsBuilder, TagImageOptionsBuilder};
use bollard::Docker;

use super::super::{RuntimeError, RuntimeResult};
use super::errors::{engine, is_not_found, not_on_engine, other};
use super::state_file::MapFile;

/// Repository of the keeper tags.
pub const KEEPER_REPO: &str = "refsup-kept";

/// The image side of the Docker runtime.
pub(super) struct Images {
    docker: Docker,
    /// Removed tag -> the image id it named.
    removed: Mutex<BTreeMap<String, String>>,
    file: MapFile,
}

/// `repo:tag` of a reference (`latest` when it has none); `None` for a
/// digest reference, which cannot be tagged.
fn split(reference: &str) -> Option<(&str, &str)> {
    if reference.contains('@') {
        return None;
    }
    let slash = reference.rfind('/').map_or(0, |i| i + 1);
    match reference[slash..].rfind(':') {
        Some(i) => Some((&reference[..slash + i], &reference[slash + i + 1..])),
        None => Some((reference, "latest")),
    }
}

/// How the engine lists `reference` among an image's tags.
fn normalized(reference: &str) -> String {
    match split(reference) {
        Some((repo, tag)) => format!("{repo}:{tag}"),
        None => reference.to_string(),
    }
}

impl Images {
    /// The image store of `docker`, remembering removals in `file`.
    pub fn new(docker: Docker, file: MapFile) -> Images {
        Images {
            docker,
            removed: Mutex::new(file.load()),
            file,
        }
    }

    fn removed(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, String>> {
        self.removed
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether the engine has `image`.
    pub async fn has(&self, image: &str) -> RuntimeResult<bool> {
        match self.docker.inspect_image(image).await {
            Ok(_) => Ok(true),
            Err(e) if is_not_found(&e) => Ok(false),
            Err(e) => Err(engine(format_args!("inspecting image {image}"), &e)),
        }
    }

    /// Make `image` present: it is, or re-tag the id refsup removed it from.
    pub async fn fetch(&self, image: &str) -> RuntimeResult<()> {
        if self.has(image).await? {
            return Ok(());
        }
        let remembered = self.removed().get(image).cloned();
        let Some(id) = remembered else {
            return Err(RuntimeError::Other(not_on_engine(image)));
        };
        let (repo, tag) = split(image).ok_or_else(|| RuntimeError::Other(not_on_engine(image)))?;
        let options = TagImageOptionsBuilder::new().repo(repo).tag(tag).build();
        match self.docker.tag_image(&id, Some(options)).await {
            Ok(()) => {}
            Err(e) if is_not_found(&e) => {
                return Err(RuntimeError::Other(format!(
                    "{} (its image {id} is gone too)",
                    not_on_engine(image)
                )))
            }
            Err(e) => return Err(engine(format_args!("re-tagging {id} as {image}"), &e)),
        }
        tracing::info!(%image, %id, "image re-tagged (simulated download)");
        let mut removed = self.removed();
        if removed.get(image) == Some(&id) {
            removed.remove(image);
            if let Err(e) = self.file.save(&removed) {
                tracing::warn!(file = %self.file.path().display(), error = %e, "cannot update");
            }
        }
        Ok(())
    }

    /// Untag `image`, remembering its id; a missing image is fine.
    pub async fn remove(&self, image: &str) -> RuntimeResult<()> {
        let inspected = match self.docker.inspect_image(image).await {
            Ok(inspected) => inspected,
            Err(e) if is_not_found(&e) => return Ok(()),
            Err(e) => return Err(engine(format_args!("inspecting image {image}"), &e)),
        };
        let id = inspected
            .id
            .ok_or_else(|| other(format_args!("image {image}"), "the engine gave no id"))?;
        {
            let mut removed = self.removed();
            removed.insert(image.to_string(), id.clone());
            self.file
                .save(&removed)
                .map_err(|e| other(format_args!("cannot record image {image}"), e))?;
        }
        let tags = inspected.repo_tags.unwrap_or_default();
        let wanted = normalized(image);
        if tags.iter().all(|t| *t == wanted) {
            self.keep(&id).await?;
        }
        let options = RemoveImageOptionsBuilder::new()
            .noprune(true)
            .force(false)
            .build();
        match self.docker.remove_image(image, Some(options), None).await {
            Ok(_) => {}
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(engine(format_args!("removing image {image}"), &e)),
        }
        tracing::info!(%image, %id, "image tag removed");
        Ok(())
    }

    /// Give image `id` the keeper tag.
    async fn keep(&self, id: &str) -> RuntimeResult<()> {
        let hex = id.trim_start_matches("sha256:");
        let tag = &hex[..hex.len().min(12)];
        let options = TagImageOptionsBuilder::new()
            .repo(KEEPER_REPO)
            .tag(tag)
            .build();
        self.docker
            .tag_image(id, Some(options))
            .await
            .map_err(|e| engine(format_args!("tagging {id} as {KEEPER_REPO}:{tag}"), &e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_split_into_repo_and_tag() {
        assert_eq!(split("busybox"), Some(("busybox", "latest")));
        assert_eq!(split("a/b:1.2"), Some(("a/b", "1.2")));
        assert_eq!(split("host:5000/b"), Some(("host:5000/b", "latest")));
        assert_eq!(split("host:5000/b:t"), Some(("host:5000/b", "t")));
        assert_eq!(split("b@sha256:00"), None);
        assert_eq!(normalized("busybox"), "busybox:latest");
    }
}
