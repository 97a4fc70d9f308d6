//! The `refsup` image: the reference supervisor as the entrypoint, on
//! busybox, `FROM scratch`.

use anyhow::Result;

use super::base;
use crate::context::Context;
use crate::recipe::Recipe;
use crate::static_bins::StaticBins;

/// The image name.
pub const NAME: &str = "refsup";

/// Where `refsup` is in the image.
pub const REFSUP: &str = "/usr/local/bin/refsup";

/// The refsup image's recipe from the static `bins`.
pub fn recipe(bins: &StaticBins) -> Result<Recipe> {
    let dockerfile = format!(
        "FROM scratch\nCOPY rootfs/ /\n{}\n{}\nENTRYPOINT [\"{REFSUP}\"]\n",
        base::INSTALL_APPLETS,
        base::PATH_ENV
    );
    let ctx = Context::new(&dockerfile)?;
    base::add(&ctx)?;
    ctx.copy(&bins.refsup, REFSUP, 0o755)?;
    Recipe::new(NAME, &ctx)
}
