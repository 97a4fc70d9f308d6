//! The `refsup` image: the reference supervisor as the entrypoint, on
//! busybox, `FROM scratch`.

use std::path::Path;

use anyhow::Result;

use super::base;
use crate::context::Context;
use crate::recipe::Recipe;

/// The image name.
pub const NAME: &str = "refsup";

/// Where `refsup` is in the image.
pub const REFSUP: &str = "/usr/local/bin/refsup";

/// The refsup image's recipe from the static refsup `bin`.
pub fn recipe(bin: &Path) -> Result<Recipe> {
    let dockerfile = format!(
        "FROM scratch\nCOPY rootfs/ /\n{}\n{}\nENTRYPOINT [\"{REFSUP}\"]\n",
        base::INSTALL_APPLETS,
        base::PATH_ENV
    );
    let ctx = Context::new(&dockerfile)?;
    base::add(&ctx)?;
    ctx.copy(bin, REFSUP, 0o755)?;
    Recipe::new(NAME, &ctx)
}
