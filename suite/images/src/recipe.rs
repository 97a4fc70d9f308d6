//! A recipe: a named, finished build context and its cache key.

use anyhow::Result;

use crate::context::Context;
use crate::digest::{digest, TAG_HEX};
use crate::snapshot::{self, Entry, Kind};

/// Prefix of every image repository this crate builds: image `fixture` is
/// `lockcheck-fixture:<key>`.
pub const REPO_PREFIX: &str = "lockcheck-";

/// An image to build: its name, its context read into memory, and the hash
/// of that context.
#[derive(Debug, Clone)]
pub struct Recipe {
    name: String,
    entries: Vec<Entry>,
    digest: String,
}

impl Recipe {
    /// The recipe for image `name` from the finished context `ctx`.
    pub fn new(name: &str, ctx: &Context) -> Result<Recipe> {
        let entries = snapshot::read(ctx.path())?;
        let digest = digest(&entries);
        Ok(Recipe {
            name: name.to_string(),
            entries,
            digest,
        })
    }

    /// The same context under another image name (so another cache tag).
    pub fn renamed(mut self, name: &str) -> Recipe {
        self.name = name.to_string();
        self
    }

    /// The image name (`fixture`), also the value of the
    /// [`crate::IMAGE_LABEL`] label.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The image repository: `lockcheck-<name>`.
    pub fn repository(&self) -> String {
        format!("{REPO_PREFIX}{}", self.name)
    }

    /// The full hex SHA-256 of the context.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// The cache tag: `lockcheck-<name>:<first 16 hex digits of the hash>`.
    pub fn tag(&self) -> String {
        format!("{}:{}", self.repository(), &self.digest[..TAG_HEX])
    }

    /// The context's entries, in path order.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The paths the image gets from the context (`/usr/bin/flock`, ...),
    /// files and symlinks only.
    pub fn image_files(&self) -> Vec<String> {
        let prefix = format!("{}/", crate::context::ROOTFS);
        self.entries
            .iter()
            .filter(|e| !matches!(e.kind, Kind::Dir))
            .filter_map(|e| e.path.strip_prefix(&prefix).map(|p| format!("/{p}")))
            .collect()
    }
}

/// Whether `reference` (`repo:tag`) has the shape of a cache tag of this
/// crate: repository `lockcheck-<name>`, tag of 16 lowercase hex digits.
pub fn is_cache_tag(reference: &str) -> bool {
    let Some((repo, tag)) = reference.rsplit_once(':') else {
        return false;
    };
    repo.starts_with(REPO_PREFIX)
        && tag.len() == TAG_HEX
        && tag
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_is_repository_and_hash_prefix() {
        let ctx = Context::new("FROM scratch\n").unwrap();
        ctx.write("/etc/hostname", b"x\n", 0o644).unwrap();
        let recipe = Recipe::new("demo", &ctx).unwrap();
        let tag = recipe.tag();
        assert!(tag.starts_with("lockcheck-demo:"), "{tag}");
        assert!(is_cache_tag(&tag));
        assert_eq!(recipe.image_files(), ["/etc/hostname"]);
        assert_eq!(Recipe::new("demo", &ctx).unwrap().tag(), tag);
        assert!(recipe
            .renamed("other")
            .tag()
            .starts_with("lockcheck-other:"));
    }

    #[test]
    fn run_tags_are_not_cache_tags() {
        assert!(!is_cache_tag("lockcheck-cell-12-34-0:latest"));
        assert!(!is_cache_tag("lockcheck-fixture"));
        assert!(!is_cache_tag("other:0123456789abcdef"));
    }
}
