//! The `fixture` image: `fixture-app` and the real lock tools apps use, on
//! busybox, `FROM scratch`.

use std::path::Path;

use anyhow::{bail, Result};

use super::base;
use crate::context::Context;
use crate::recipe::Recipe;

/// The image name.
pub const NAME: &str = "fixture";

/// Where `fixture-app` is in the image.
pub const FIXTURE_APP: &str = "/usr/local/bin/fixture-app";

/// Lock tools the image must have, with the Debian package providing each.
const REQUIRED_TOOLS: &[(&str, &str)] = &[
    ("/usr/bin/lockfile", "procmail"),
    ("/usr/bin/flock", "util-linux"),
];

/// Lock tools copied in when the host has them (`lockfile-progs`,
/// `liblockfile-bin`).
const OPTIONAL_TOOLS: &[&str] = &[
    "/usr/bin/lockfile-create",
    "/usr/bin/lockfile-remove",
    "/usr/bin/lockfile-touch",
    "/usr/bin/lockfile-check",
    "/usr/bin/dotlockfile",
];

/// The fixture image's recipe from the static fixture-app `bin` and the host's lock
/// tools (each with its shared libraries and the dynamic loader).
pub fn recipe(bin: &Path) -> Result<Recipe> {
    let dockerfile = format!(
        "FROM scratch\nCOPY rootfs/ /\n{}\n{}\nCMD [\"{FIXTURE_APP}\", \"--help\"]\n",
        base::INSTALL_APPLETS,
        base::PATH_ENV
    );
    let ctx = Context::new(&dockerfile)?;
    base::add(&ctx)?;
    ctx.copy(bin, FIXTURE_APP, 0o755)?;
    for (tool, package) in REQUIRED_TOOLS {
        if !Path::new(tool).is_file() {
            bail!("{tool} not found: install {package} (apt-get install {package})");
        }
        ctx.copy_program(Path::new(tool))?;
    }
    for tool in OPTIONAL_TOOLS.iter().map(Path::new).filter(|t| t.is_file()) {
        ctx.copy_program(tool)?;
    }
    Recipe::new(NAME, &ctx)
}
