//! One conformance case per SPEC behaviour, one file per SPEC letter (L:
//! `locking`, P: `paths`, U: `update_flow`, R: `reboot_config`, O:
//! `override_lock`, C: `crash`). Each case is a plain `fn` with
//! `#[case(...)]` on it; its doc comment is the SPEC text it checks.

mod crash;
mod locking;
mod override_lock;
mod paths;
mod reboot_config;
mod update_flow;

use anyhow::{ensure, Result};

use crate::ctx::Ctx;

/// The scenario most cases share: with `lock` held, a new release of app 1
/// stays pending with no service killed and the lock untouched; once
/// `release` runs, the release is applied.
pub(crate) fn blocks_until_released(
    ctx: &mut Ctx,
    lock: &std::path::Path,
    release: impl FnOnce(&Ctx) -> Result<()>,
) -> Result<()> {
    let before = ctx.kill_snapshot()?;
    ctx.bump(1);
    ctx.deploy()?;
    ctx.wait_pending()?;
    ctx.ensure_not_killed(&before, 1)?;
    ensure!(
        ctx.held(lock),
        "expected the lock at {} to stay, but it is gone",
        lock.display()
    );
    release(ctx)?;
    ctx.wait_applied()
}

/// Lock the primary path of `main` of app 1, send a new release and wait
/// until it is pending behind the lock; returns the lock's path.
pub(crate) fn pending_behind_lock(ctx: &mut Ctx) -> Result<std::path::PathBuf> {
    let lock = ctx.primary_path("main");
    ctx.user_lock(&lock)?;
    ctx.bump(1);
    ctx.deploy()?;
    ctx.wait_pending()?;
    Ok(lock)
}

/// The config var prefix of the profile's era.
pub(crate) fn config_prefix(ctx: &Ctx) -> &'static str {
    if ctx
        .profile
        .lock_files()
        .contains(&lockgates::LockFile::TMP_BALENA)
    {
        "BALENA_"
    } else {
        "RESIN_"
    }
}

/// The first lock file in the per-service dir, if the profile has one.
pub(crate) fn tmp_lock(profile: &lockgates::Profile) -> Option<lockgates::LockFile> {
    profile
        .lock_files()
        .into_iter()
        .find(|f| f.location == lockgates::LockLocation::ServiceDir)
}
