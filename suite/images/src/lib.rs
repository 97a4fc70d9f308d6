//! Builds lockcheck's container images on the local engine, with nothing to
//! pull: every image is `FROM scratch`, assembled from the host's files and
//! the workspace's own programs built statically.
//!
//! - `lockcheck-fixture:<key>`: `fixture-app`, busybox, and the real lock
//!   tools (`lockfile`, `flock`, and `lockfile-progs`' and `dotlockfile`
//!   when installed) with their shared libraries;
//! - `lockcheck-refsup:<key>`: the reference supervisor as the entrypoint.
//!
//! The key is the first 16 hex digits of a SHA-256 over the image's context
//! (see [`Recipe`]); an engine that has the tag already is not asked to
//! build. The API is async (tokio, any flavour of runtime).
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! let images = lockcheck_images::Images::connect(None).await?;
//! let fixture = images.fixture().await?; // "lockcheck-fixture:0123456789abcdef"
//! images.tag_for(&fixture, "lockcheck-cell-1-2-0:fixture").await?;
//! images.remove_tags_with_prefix("lockcheck-cell-1-2-").await?;
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

mod build;
mod context;
mod digest;
mod elf;
mod engine;
mod images;
mod ldd;
mod prune;
mod recipe;
mod recipes;
mod snapshot;
mod static_bins;
mod tags;
mod tarball;

pub use build::{CONTEXT_LABEL, IMAGE_LABEL};
pub use context::Context;
pub use elf::check_static;
pub use engine::{connect, default_url, engine_available};
pub use images::Images;
pub use recipe::{is_cache_tag, Recipe, REPO_PREFIX};
pub use recipes::fixture::FIXTURE_APP;
pub use recipes::refsup::REFSUP;
pub use recipes::{fixture_recipe, refsup_recipe};
pub use snapshot::{Entry, Kind};
pub use static_bins::{StaticBin, STATIC_BINS_ENV};
