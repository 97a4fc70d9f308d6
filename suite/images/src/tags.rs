//! Extra tags on built images (a run's own names for the cached images) and
//! their removal. Removing a tag only untags while another tag (the cache
//! tag) still names the image, so clean-up never costs a rebuild.

use std::collections::HashMap;

use anyhow::{Context, Result};
use bollard::errors::Error;
use bollard::query_parameters::{ListImagesOptionsBuilder, TagImageOptionsBuilder};
use bollard::Docker;

use crate::build::IMAGE_LABEL;
use crate::recipe::is_cache_tag;

/// Splits `reference` into repository and tag (`latest` if none).
pub fn split_reference(reference: &str) -> (&str, &str) {
    match reference.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => (repo, tag),
        _ => (reference, "latest"),
    }
}

/// Adds the tag `new_ref` (`repo[:tag]`) to the image `image`.
pub async fn tag(docker: &Docker, image: &str, new_ref: &str) -> Result<()> {
    let (repo, tag) = split_reference(new_ref);
    let options = TagImageOptionsBuilder::default()
        .repo(repo)
        .tag(tag)
        .build();
    docker
        .tag_image(image, Some(options))
        .await
        .with_context(|| format!("cannot tag {image} as {new_ref}"))
}

/// Removes the tag `reference`; `Ok(false)` if there was no such tag. When
/// it was the image's last tag the image goes too.
pub async fn remove(docker: &Docker, reference: &str) -> Result<bool> {
    match docker
        .remove_image(
            reference,
            None::<bollard::query_parameters::RemoveImageOptions>,
            None,
        )
        .await
    {
        Ok(_) => Ok(true),
        Err(Error::DockerResponseServerError {
            status_code: 404, ..
        }) => Ok(false),
        Err(e) => Err(e).with_context(|| format!("cannot remove the tag {reference}")),
    }
}

/// Removes every tag starting with `prefix` from images built by this crate
/// (those with the [`IMAGE_LABEL`] label), sparing the cache tags. Returns
/// the tags removed.
pub async fn remove_with_prefix(docker: &Docker, prefix: &str) -> Result<Vec<String>> {
    let mut removed = Vec::new();
    for reference in ours(docker).await? {
        if reference.starts_with(prefix)
            && !is_cache_tag(&reference)
            && remove(docker, &reference).await?
        {
            removed.push(reference);
        }
    }
    Ok(removed)
}

/// Every tag of every image built by this crate (with the [`IMAGE_LABEL`]
/// label).
pub async fn ours(docker: &Docker) -> Result<Vec<String>> {
    let filters = HashMap::from([("label", vec![IMAGE_LABEL])]);
    let options = ListImagesOptionsBuilder::default()
        .filters(&filters)
        .build();
    let images = docker
        .list_images(Some(options))
        .await
        .context("cannot list the lockcheck images")?;
    Ok(images.into_iter().flat_map(|i| i.repo_tags).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_split_at_the_tag_colon_only() {
        assert_eq!(split_reference("a:b"), ("a", "b"));
        assert_eq!(split_reference("a"), ("a", "latest"));
        assert_eq!(split_reference("host:5000/a"), ("host:5000/a", "latest"));
        assert_eq!(split_reference("host:5000/a:v1"), ("host:5000/a", "v1"));
    }
}
